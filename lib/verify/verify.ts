/**
 * `verify`: reads a BIG-IP through a {@link DeviceReader} and runs every check of
 * `./checks` for one device of a synth output.
 */
import { BigipApiError } from '../clients/bigip';
import {
  ObservedDevice,
  VerifyCluster,
  VerifyProblem,
  checkAs3Tasks,
  checkAttachments,
  checkDeclaration,
  checkFqdnResolver,
  checkLists,
  checkRouteDomains,
  checkSaved,
} from './checks';
import type { ExpectedDevice } from './expected';
import type { DeviceReader } from './reader';

export interface VerifyOptions {
  /** Cluster state: lists are then compared with the pods they select. */
  readonly cluster?: VerifyCluster;
  /**
   * Time for schedules and expiry of lists.
   * @default now
   */
  readonly at?: Date;
}

export interface DeviceVerification {
  readonly device: string;
  readonly url: string;
  readonly problems: readonly VerifyProblem[];
  /** What was read, for evaluating flows over the device's state. */
  readonly observed: ObservedDevice;
  /** Names of the checks that ran to the end. */
  readonly checked: readonly string[];
}

/** Failures after which no further read can work: one problem, not one per read. */
const FATAL = new Set(['Unauthorized', 'TokenLimit', 'TlsVerificationFailed', 'Unreachable', 'Timeout', 'ClientClosed']);

const FIXES: Readonly<Record<string, string>> = {
  Unauthorized: 'check BIGIP_USER and BIGIP_PASSWORD; the user needs read access to AS3 and iControl REST and may run tmsh list',
  TokenLimit: 'the user holds the maximum number of tokens; delete unused tokens or use another user',
  TlsVerificationFailed:
    'give the CA that signed the management certificate with --ca-file or BIGIP_CA_FILE (its SAN must match the address)',
  Unreachable:
    "check the address (the provider's address in the synth output, or --bigip-url) and that this machine reaches the management interface",
  Timeout: 'the device did not answer in time; check that it is up and reachable, then verify again',
};

function readProblem(device: string, what: string, error: unknown): VerifyProblem {
  const reason = error instanceof BigipApiError ? error.reason : undefined;
  return {
    check: 'device',
    device,
    severity: 'error',
    where: what,
    expected: 'an answer',
    found: error instanceof Error ? error.message : String(error),
    fix: (reason && FIXES[reason]) ?? "verify again; if it persists, check the device (restjavad, AS3) and the user's permissions",
  };
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function pooled<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

/** Reads what the checks of one device need; failed reads become problems. */
export async function observeDevice(
  expected: ExpectedDevice,
  reader: DeviceReader,
): Promise<{ observed: ObservedDevice; problems: VerifyProblem[] }> {
  const problems: VerifyProblem[] = [];
  const lists = new Map<string, readonly string[] | undefined>();
  let fatal = false;
  const read = async <T>(what: string, work: () => Promise<T>): Promise<T | undefined> => {
    if (fatal) return undefined;
    try {
      return await work();
    } catch (e) {
      if (e instanceof BigipApiError && FATAL.has(e.reason)) fatal = true;
      problems.push(readProblem(expected.label, `${reader.url}: ${what}`, e));
      return undefined;
    }
  };
  const declaration = await read('GET /mgmt/shared/appsvcs/declare', async () => (await reader.storedDeclaration()) ?? null);
  const tasks = await read('GET /mgmt/shared/appsvcs/task', () => reader.as3Tasks());
  const globalRules = await read('GET /mgmt/tm/security/firewall/global-rules', () => reader.globalRules());
  const routeDomains = await read('tmsh list net route-domain', () => reader.routeDomains());
  const fqdnResolver = expected.usesFqdns
    ? await read('GET /mgmt/tm/security/firewall/global-fqdn-policy', async () => ({ value: await reader.fqdnResolver() }))
    : undefined;
  await pooled(expected.plan.lists, 8, async (list) => {
    const nodes = await read(`GET /mgmt/shared/service-discovery/task/${list.taskId}/nodes`, async () => ({
      nodes: await reader.listNodes(list.taskId),
    }));
    if (nodes) lists.set(list.path, nodes.nodes);
  });
  return {
    observed: {
      ...(declaration !== undefined ? { declaration } : {}),
      ...(tasks ? { tasks } : {}),
      ...(globalRules ? { globalRules } : {}),
      ...(routeDomains ? { routeDomains } : {}),
      ...(fqdnResolver ? { fqdnResolver } : {}),
      lists,
    },
    problems,
  };
}

/** Verifies one device: reads the device, runs every check, returns the problems. */
export async function verifyDevice(
  expected: ExpectedDevice,
  reader: DeviceReader,
  options: VerifyOptions = {},
): Promise<DeviceVerification> {
  const at = options.at ?? new Date();
  const { observed, problems } = await observeDevice(expected, reader);
  const checked: string[] = [];
  const run = (name: string, ready: boolean, check: () => VerifyProblem[], complete = true) => {
    if (!ready) return;
    problems.push(...check());
    if (complete) checked.push(name);
  };
  run('AS3 task results', observed.tasks !== undefined, () => checkAs3Tasks(expected, observed.tasks ?? []));
  run('stored declaration', observed.declaration !== undefined, () => checkDeclaration(expected, observed.declaration ?? null));
  run('context attachments', observed.globalRules !== undefined && observed.routeDomains !== undefined, () =>
    checkAttachments(expected, observed.globalRules ?? {}, observed.routeDomains ?? []),
  );
  run('route domains', observed.routeDomains !== undefined, () => checkRouteDomains(expected, observed.routeDomains ?? []));
  if (expected.usesFqdns)
    run('FQDN resolver', observed.fqdnResolver !== undefined, () => checkFqdnResolver(expected, observed.fqdnResolver?.value));
  // Lists that were read are checked even when others could not be.
  run(
    `${expected.plan.lists.length} event-driven lists`,
    true,
    () => checkLists(expected, observed.lists, options.cluster, at),
    observed.lists.size === expected.plan.lists.length,
  );
  run('saved tmsh changes', true, () => checkSaved(expected));
  return { device: expected.label, url: reader.url, problems, observed, checked };
}

/** The problems of several devices with duplicates (one shared context seen from each device) removed. */
export function distinctProblems(results: readonly DeviceVerification[]): VerifyProblem[] {
  const seen = new Set<string>();
  const out: VerifyProblem[] = [];
  for (const r of results) {
    for (const p of r.problems) {
      // A problem of the shared context is the same from every device on the BIG-IP.
      const key = JSON.stringify([r.url, p.check, p.where, p.expected, p.found]);
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(p);
    }
  }
  return out;
}
