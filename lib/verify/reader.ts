/**
 * What `verify` reads from a BIG-IP, behind a small interface so that the checks can be tested
 * against a scripted device, and its implementation over the controller's BIG-IP client (token
 * auth, TLS verification, retries).
 *
 * Every read is one the device answers without changing anything:
 * - `GET /mgmt/shared/appsvcs/declare`: the declaration AS3 stored, as it was posted (AS3
 *   stores the posted tenants, `src/lib/declarationHandler.js:734-790`, and GET shows them by
 *   default, `show=base`); 204 when no tenant is stored.
 * - `GET /mgmt/shared/appsvcs/task`: AS3's task records, newest first (AS3
 *   `src/lib/asyncHandler.js`: records are `unshift`ed and sorted by time, at most 25 kept
 *   for a week), each with the per-tenant results and the declaration AS3 answered.
 * - `GET /mgmt/tm/security/firewall/global-rules` and `.../global-fqdn-policy`: the global
 *   context's policies and the FQDN resolver.
 * - `tmsh list net route-domain` through `POST /mgmt/tm/util/bash` (the one way the
 *   emulator also serves; a real device also has `GET /mgmt/tm/net/route-domain`).
 * - `GET /mgmt/shared/service-discovery/task/<list>/nodes`: an event-driven list's nodes.
 */
import { BigipApiError, BigipClient } from '../clients/bigip';

type Json = Record<string, unknown>;

/** Policies attached to a firewall context (undefined: none). */
export interface ContextAttachment {
  readonly enforcedPolicy?: string;
  readonly stagedPolicy?: string;
}

/** A route domain as `tmsh list net route-domain` shows it. */
export interface RouteDomainState extends ContextAttachment {
  /** Full path, such as `/Common/0` or `/Common/rd_prod`. */
  readonly path: string;
  readonly id: number;
}

/** One tenant's result in an AS3 task. */
export interface As3TaskResult {
  readonly code: number;
  readonly message: string;
  /** The tenant (a list of tenants when a whole request failed; absent on some failures). */
  readonly tenant?: string | readonly string[];
  readonly response?: string;
  readonly errors?: readonly string[];
  readonly dryRun?: boolean;
  /** `id` of the declaration the task deployed. */
  readonly declarationId?: string;
}

/** An AS3 task record (`GET /mgmt/shared/appsvcs/task`). */
export interface As3TaskRecord {
  readonly id: string;
  readonly results: readonly As3TaskResult[];
  /**
   * When AS3 finished the task: `controls.archiveTimestamp` of the declaration it answered
   * (set on every completed deploy, `src/lib/declarationHandler.js:787-790`); undefined for a
   * task that is running or failed as a whole.
   */
  readonly finishedAt?: string;
}

/** The reads `verify` makes. Methods throw on a device error; the caller reports it. */
export interface DeviceReader {
  /** Where the device is, for messages. */
  readonly url: string;
  /** The declaration AS3 stored; undefined when it stores no tenant. */
  storedDeclaration(): Promise<Json | undefined>;
  /** AS3's task records, in the order the device lists them. */
  as3Tasks(): Promise<As3TaskRecord[]>;
  globalRules(): Promise<ContextAttachment>;
  routeDomains(): Promise<RouteDomainState[]>;
  /** The global FQDN policy's DNS resolver; undefined when none is set. */
  fqdnResolver(): Promise<string | undefined>;
  /**
   * Node addresses of an event-driven list's service-discovery task (AS3's placeholder
   * `::1:5ee:bad:c0de` included when that is all it holds); undefined when the device has no
   * such list.
   */
  listNodes(taskId: string): Promise<string[] | undefined>;
}

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A device answer that is not what the protocol promises. */
export class DeviceAnswerError extends Error {
  constructor(what: string) {
    super(what);
    this.name = 'DeviceAnswerError';
  }
}

/** A tmsh path: relative names live in `/Common` (tmsh lists /Common objects by bare name). */
function tmshPath(name: string): string {
  return name.startsWith('/') ? name : `/Common/${name}`;
}

/**
 * Route domains from `tmsh list net route-domain`: one block per route domain,
 * `net route-domain <name> { ... }`, with `id`, `fw-enforced-policy` and `fw-staged-policy`
 * among its properties (nested blocks such as `vlans { ... }` are skipped). Throws on text
 * that is not such a listing (a tmsh error printed into the output, for example).
 */
export function parseRouteDomainListing(text: string): RouteDomainState[] {
  const out: RouteDomainState[] = [];
  let current: { path: string; props: Map<string, string> } | undefined;
  let depth = 0;
  const lines = text.split('\n');
  for (const [i, raw] of lines.entries()) {
    const line = raw.trimEnd();
    if (line.trim() === '') continue;
    if (depth === 0) {
      const head = /^net route-domain (\S+) \{( \})?$/.exec(line);
      if (!head)
        throw new DeviceAnswerError(
          `line ${i + 1} of "tmsh list net route-domain" is not a route-domain block: ${JSON.stringify(line.slice(0, 200))}`,
        );
      current = { path: tmshPath(head[1]), props: new Map() };
      if (head[2]) {
        out.push(routeDomain(current));
        current = undefined;
      } else {
        depth = 1;
      }
      continue;
    }
    const trimmed = line.trim();
    if (trimmed === '}') {
      depth--;
      if (depth === 0 && current) {
        out.push(routeDomain(current));
        current = undefined;
      }
      continue;
    }
    if (trimmed.endsWith('{')) {
      depth++;
      continue;
    }
    if (depth === 1 && current) {
      const m = /^(\S+)\s+(.+)$/.exec(trimmed);
      if (m) current.props.set(m[1], m[2]);
    }
  }
  if (depth !== 0) throw new DeviceAnswerError('"tmsh list net route-domain" ended inside a block');
  return out;
}

function routeDomain(block: { path: string; props: Map<string, string> }): RouteDomainState {
  const idText = block.props.get('id');
  const id = idText !== undefined && /^\d{1,5}$/.test(idText) ? Number(idText) : NaN;
  if (!Number.isInteger(id) || id > 65534)
    throw new DeviceAnswerError(
      `route domain ${block.path} has no id from 0 to 65534 in "tmsh list net route-domain" (got ${JSON.stringify(idText)})`,
    );
  const policy = (key: string) => {
    const v = block.props.get(key);
    return v === undefined || v === 'none' ? undefined : tmshPath(v);
  };
  const enforcedPolicy = policy('fw-enforced-policy');
  const stagedPolicy = policy('fw-staged-policy');
  return { path: block.path, id, ...(enforcedPolicy ? { enforcedPolicy } : {}), ...(stagedPolicy ? { stagedPolicy } : {}) };
}

/**
 * tmsh prints its errors into the command output and the device answers 200 (F5's Ansible
 * modules look for them there): `Syntax Error: ...`, or mcpd's `01020036:3: ...`.
 */
export function tmshErrorOf(output: string): string | undefined {
  const line = output.split('\n').find((l) => /^(Syntax Error:|Data Input Error:|\d{8}:\d+:)/.test(l.trim()));
  return line?.trim();
}

function taskRecord(item: unknown, index: number): As3TaskRecord {
  if (!isObj(item) || typeof item.id !== 'string' || !Array.isArray(item.results)) {
    throw new DeviceAnswerError(`item ${index} of GET /mgmt/shared/appsvcs/task is not a task record with "id" and "results"`);
  }
  const results: As3TaskResult[] = item.results.map((r: unknown, j: number) => {
    if (!isObj(r) || typeof r.code !== 'number') throw new DeviceAnswerError(`task ${item.id} result ${j} has no numeric "code"`);
    const tenant =
      typeof r.tenant === 'string' || (Array.isArray(r.tenant) && r.tenant.every((t) => typeof t === 'string'))
        ? (r.tenant as string | string[])
        : undefined;
    return {
      code: r.code,
      message: typeof r.message === 'string' ? r.message : '',
      ...(tenant !== undefined ? { tenant } : {}),
      ...(typeof r.response === 'string' ? { response: r.response } : {}),
      ...(Array.isArray(r.errors) ? { errors: r.errors.map(String) } : {}),
      ...(r.dryRun === true ? { dryRun: true } : {}),
      ...(typeof r.declarationId === 'string' ? { declarationId: r.declarationId } : {}),
    };
  });
  const controls = isObj(item.declaration) && isObj(item.declaration.controls) ? item.declaration.controls : undefined;
  const finishedAt = typeof controls?.archiveTimestamp === 'string' ? controls.archiveTimestamp : undefined;
  return { id: item.id, results, ...(finishedAt ? { finishedAt } : {}) };
}

/** The device behind a BIG-IP client. */
export function bigipDeviceReader(client: BigipClient): DeviceReader {
  const list = async (command: string): Promise<string> => {
    const output = await client.runTmsh(command);
    const error = tmshErrorOf(output);
    if (error) throw new DeviceAnswerError(`"tmsh ${command}" failed on the device: ${error}`);
    return output;
  };
  return {
    url: client.url,
    async storedDeclaration() {
      const body = await client.getJson('/mgmt/shared/appsvcs/declare');
      if (body === undefined) return undefined;
      if (!isObj(body) || body.class !== 'ADC')
        throw new DeviceAnswerError('GET /mgmt/shared/appsvcs/declare answered something other than an ADC declaration');
      return body;
    },
    async as3Tasks() {
      const body = await client.getJson('/mgmt/shared/appsvcs/task');
      if (!isObj(body) || !Array.isArray(body.items)) throw new DeviceAnswerError('GET /mgmt/shared/appsvcs/task answered without "items"');
      return body.items.map(taskRecord);
    },
    globalRules: () => client.getGlobalRules(),
    async routeDomains() {
      return parseRouteDomainListing(await list('list net route-domain'));
    },
    async fqdnResolver() {
      const body = await client.getJson('/mgmt/tm/security/firewall/global-fqdn-policy');
      const resolver = isObj(body) ? body.dnsResolver : undefined;
      return typeof resolver === 'string' && resolver !== '' && resolver !== 'none' ? resolver : undefined;
    },
    async listNodes(taskId) {
      try {
        const body = await client.getJson(`/mgmt/shared/service-discovery/task/${encodeURIComponent(taskId)}/nodes`);
        const nodes =
          isObj(body) && isObj(body.result) && isObj(body.result.providerOptions) ? body.result.providerOptions.nodeList : undefined;
        if (!Array.isArray(nodes))
          throw new DeviceAnswerError(`GET .../task/${taskId}/nodes answered without result.providerOptions.nodeList`);
        return nodes.map((n, i) => {
          if (!isObj(n) || typeof n.ip !== 'string') throw new DeviceAnswerError(`node ${i} of list ${taskId} has no "ip"`);
          return n.ip;
        });
      } catch (e) {
        if (e instanceof BigipApiError && e.status === 404) return undefined;
        throw e;
      }
    },
  };
}
