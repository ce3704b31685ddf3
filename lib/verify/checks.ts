/**
 * The checks of `verify`, as pure functions of the expected state (from the synth output) and
 * what was read from the device. Each problem says what is wrong, where, what was expected and
 * found, and how to fix it.
 */
import { EMPTY_LIST_PLACEHOLDER } from '../clients/bigip/client';
import { ClusterSnapshot, desiredMembers, listActive } from '../policy/membership';
import { deviceMember } from '../policy/route-domains';
import { sha256 } from '../policy/plan';
import type { ExpectedDevice } from './expected';
import type { As3TaskRecord, As3TaskResult, ContextAttachment, RouteDomainState } from './reader';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export type VerifySeverity = 'error' | 'warning';

/** Which check found a problem. */
export type VerifyCheck =
  | 'device'
  | 'as3-task'
  | 'declaration'
  | 'attachment'
  | 'fqdn-resolver'
  | 'address-list'
  | 'route-domain'
  | 'saved-config'
  /** The units of a BIG-IP pair: device group, sync status, one active unit, tasks on every unit. */
  | 'ha-pair';

export interface VerifyProblem {
  readonly severity: VerifySeverity;
  readonly check: VerifyCheck;
  /** The device, `<stack>/<tenant>`. */
  readonly device: string;
  /** What on the BIG-IP: an object path, a firewall context, an AS3 task and tenant. */
  readonly where: string;
  readonly expected: string;
  readonly found: string;
  readonly fix: string;
}

/** What was read from the device; a field is undefined when its read failed. */
export interface ObservedDevice {
  /** The stored declaration; `null` when AS3 stores none. */
  readonly declaration?: Json | null;
  readonly tasks?: readonly As3TaskRecord[];
  readonly globalRules?: ContextAttachment;
  readonly routeDomains?: readonly RouteDomainState[];
  readonly fqdnResolver?: { readonly value?: string };
  /** Nodes of the event-driven lists by list path (undefined: no such list); lists not read are absent. */
  readonly lists: ReadonlyMap<string, readonly string[] | undefined>;
}

/** Cluster state for the list check. */
export interface VerifyCluster {
  readonly snapshot: ClusterSnapshot;
  /** Where it came from, for messages. */
  readonly source: string;
}

/** At most `max` names, then "and N more". */
function some(names: readonly string[], max = 4): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

/** JSON with sorted keys, so that two declarations compare by content. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObj(value))
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

/** Digest of a declaration part as verify reports it: 12 hex digits of SHA-256 of its canonical JSON. */
export function declarationDigest(value: unknown): string {
  return sha256(canonicalJson(value)).slice(0, 12);
}

/** The JSON pointer of the first place two values differ, or undefined when they are equal. */
export function firstDifference(a: unknown, b: unknown, at = ''): string | undefined {
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (i >= a.length || i >= b.length) return `${at}/${i}`;
      const d = firstDifference(a[i], b[i], `${at}/${i}`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (isObj(a) && isObj(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const p = `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      if (!(k in a) || !(k in b)) return p;
      const d = firstDifference(a[k], b[k], p);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  return a === b ? undefined : at || '/';
}

const OK_MESSAGES = /^(success|no change)/;

function tenantsOf(r: As3TaskResult): readonly string[] {
  return r.tenant === undefined ? [] : typeof r.tenant === 'string' ? [r.tenant] : r.tenant;
}

function resultText(r: As3TaskResult): string {
  const details = r.response ?? (r.errors?.length ? r.errors.slice(0, 3).join('; ') : undefined);
  return `${r.code} ${r.message}${details ? `: ${details}` : ''}`;
}

function taskFix(r: As3TaskResult): string {
  const text = `${r.response ?? ''} ${(r.errors ?? []).join(' ')}`;
  if (/in use|cannot be deleted/.test(text)) {
    return 'AS3 could not delete an object that something still uses (another tenant, or a firewall context attachment). Remove the use first (see the other problems), then run "cdktf deploy" again; terraform apply does not report this failure (the bigip provider reads only as many results as the declaration has tenants, not AS3\'s final Common pass)';
  }
  if (/route domain/.test(text))
    return 'create the route domain on the BIG-IP (or fix routeDomain of the AfmDevice), then run "cdktf deploy" again';
  return 'fix the cause AS3 names, then run "cdktf deploy" again; terraform apply may not have reported this failure (the bigip provider reads only as many results as the declaration has tenants, and a tenant-only declaration also runs Common)';
}

/**
 * What the task, attachment, route-domain and resolver checks read of a device: the controller
 * builds it from its sync plan (it has no synth output), `verify` passes the whole
 * {@link ExpectedDevice}.
 */
export type DeviceContextExpectation = Pick<
  ExpectedDevice,
  'label' | 'tenant' | 'sharedPrefixes' | 'usesFqdns' | 'declarationIds' | 'routeDomainIds'
> & {
  readonly context: Pick<ExpectedDevice['context'], 'global' | 'routeDomains' | 'dnsResolver'>;
};

/**
 * (a) The newest completed AS3 task that deployed each tenant of the device (its own and
 * Common) from the device's declarations, all of its results for those tenants: a failure in
 * any of them, AS3's final Common pass included, means that part of the deploy did not take
 * effect. A task counts for a tenant when a result names the tenant and carries the id of the
 * declaration that owns it: a tenant-only POST also runs Common (AS3 adds the stored Common
 * when the declaration points into /Common/Shared), which says nothing of the Common the
 * shared declaration sent. Tasks are ordered by the time AS3 finished them; a task still
 * running is a warning.
 */
export function checkAs3Tasks(expected: DeviceContextExpectation, tasks: readonly As3TaskRecord[]): VerifyProblem[] {
  const tenants = [expected.tenant, 'Common'];
  const problems: VerifyProblem[] = [];
  const base = { check: 'as3-task' as const, device: expected.label };
  const running = tasks.filter((t) => t.results.some((r) => r.code === 0));
  for (const t of running) {
    problems.push({
      ...base,
      severity: 'warning',
      where: `AS3 task ${t.id}`,
      expected: 'no AS3 task running',
      found: 'a task still running',
      fix: 'a deploy is under way: verify again when it has finished',
    });
  }
  const done = tasks
    .map((t, order) => ({ t, order }))
    .filter(({ t }) => t.finishedAt !== undefined && t.results.every((r) => r.code !== 0))
    .sort((a, b) => (b.t.finishedAt as string).localeCompare(a.t.finishedAt as string) || a.order - b.order)
    .map(({ t }) => t);
  const deploys = (r: As3TaskResult, tenant: string) => {
    const id = expected.declarationIds[tenant];
    return !r.dryRun && tenantsOf(r).includes(tenant) && (id === undefined || r.declarationId === undefined || r.declarationId === id);
  };
  const newest = new Set<As3TaskRecord>();
  for (const tenant of tenants) {
    const task = done.find((t) => t.results.some((r) => deploys(r, tenant)));
    if (task) newest.add(task);
  }
  for (const task of newest) {
    const passes = new Map<string, number>();
    for (const r of task.results) for (const t of tenantsOf(r)) passes.set(t, (passes.get(t) ?? 0) + 1);
    const seen = new Map<string, number>();
    for (const r of task.results) {
      const names = tenantsOf(r).filter((t) => tenants.includes(t) && deploys(r, t));
      if (names.length === 0) continue;
      for (const t of names) seen.set(t, (seen.get(t) ?? 0) + 1);
      if (r.code === 200 || (r.code >= 200 && r.code < 300 && OK_MESSAGES.test(r.message))) continue;
      const name = names[0];
      const pass = (passes.get(name) ?? 1) > 1 ? (seen.get(name) === 1 ? ' (first pass)' : ' (final pass)') : '';
      problems.push({
        ...base,
        severity: 'error',
        where: `AS3 task ${task.id}${task.finishedAt ? ` of ${task.finishedAt}` : ''}, tenant ${names.join(',')}${pass}`,
        expected: '200 success or no change',
        found: resultText(r),
        fix: taskFix(r),
      });
    }
  }
  return problems;
}

/**
 * (b) The declaration AS3 stores equals the synthesized one: the device's tenant by digest of
 * its canonical JSON, and every `/Common/Shared` object the deploy owns; an object of ours that
 * the synth output no longer has is stale (a failed deletion).
 */
export function checkDeclaration(expected: ExpectedDevice, stored: Json | null): VerifyProblem[] {
  const base = { check: 'declaration' as const, device: expected.label, severity: 'error' as const };
  const redeploy =
    'run "cdktf deploy" again and check the AS3 task problems; if it persists, compare GET /mgmt/shared/appsvcs/declare with the bigip_as3 JSON of the synth output';
  if (stored === null) {
    return [
      {
        ...base,
        where: `AS3 tenant ${expected.tenant}`,
        expected: `the tenant deployed (sha256 ${declarationDigest(expected.tenantDeclaration)})`,
        found: 'AS3 stores no declaration',
        fix: 'deploy it: cdktf deploy',
      },
    ];
  }
  const problems: VerifyProblem[] = [];
  const tenant = stored[expected.tenant];
  if (!isObj(tenant) || tenant.class !== 'Tenant') {
    problems.push({
      ...base,
      where: `AS3 tenant ${expected.tenant}`,
      expected: `the tenant deployed (sha256 ${declarationDigest(expected.tenantDeclaration)})`,
      found: 'no such tenant in the stored declaration',
      fix: 'deploy it: cdktf deploy (if it was deployed, an AS3 task problem says why it failed)',
    });
  } else {
    const diff = firstDifference(expected.tenantDeclaration, tenant);
    if (diff !== undefined) {
      problems.push({
        ...base,
        where: `AS3 tenant ${expected.tenant}`,
        expected: `sha256 ${declarationDigest(expected.tenantDeclaration)} (the synthesized tenant)`,
        found: `sha256 ${declarationDigest(tenant)}, first difference at ${diff}`,
        fix: redeploy,
      });
    }
  }
  const common = stored.Common;
  const shared = isObj(common) && isObj(common.Shared) ? common.Shared : {};
  const missing: string[] = [];
  const changed: string[] = [];
  for (const [name, item] of Object.entries(expected.sharedItems)) {
    if (!(name in shared)) missing.push(name);
    else if (firstDifference(item, shared[name]) !== undefined) changed.push(name);
  }
  const stale = Object.keys(shared).filter(
    (name) => !(name in expected.sharedItems) && expected.sharedPrefixes.some((p) => name.startsWith(p)),
  );
  const where = (names: string[]) => `/Common/Shared: ${some(names.sort())}`;
  if (missing.length)
    problems.push({
      ...base,
      where: where(missing),
      expected: `${missing.length} object(s) of the synth output`,
      found: 'not in the stored declaration',
      fix: redeploy,
    });
  for (const name of changed.sort().slice(0, 4)) {
    problems.push({
      ...base,
      where: `/Common/Shared/${name}`,
      expected: `sha256 ${declarationDigest(expected.sharedItems[name])} (the synthesized object)`,
      found: `sha256 ${declarationDigest(shared[name])}, first difference at ${firstDifference(expected.sharedItems[name], shared[name])}`,
      fix: redeploy,
    });
  }
  if (changed.length > 4)
    problems.push({
      ...base,
      where: where(changed.slice(4)),
      expected: 'the synthesized objects',
      found: `${changed.length - 4} more differ`,
      fix: redeploy,
    });
  if (stale.length) {
    problems.push({
      ...base,
      where: where(stale),
      expected: 'gone (the synth output no longer has them)',
      found: `${stale.length} stale object(s) of this deploy still stored`,
      fix: 'AS3 failed to delete them (see the AS3 task problems, usually "in use"); remove what still uses them, then run "cdktf deploy" again',
    });
  }
  return problems;
}

/** Whether a policy path belongs to this deploy (its tenant, or a `/Common/Shared` item it owns). */
function isOurs(expected: DeviceContextExpectation, policy: string): boolean {
  if (policy.startsWith(`/${expected.tenant}/`)) return true;
  if (!policy.startsWith('/Common/Shared/')) return false;
  const name = policy.slice('/Common/Shared/'.length);
  return expected.sharedPrefixes.some((p) => name.startsWith(p));
}

function attachmentProblem(
  expected: DeviceContextExpectation,
  where: string,
  want: string | undefined,
  found: string | undefined,
  command: (value: string) => string,
): VerifyProblem | undefined {
  const base = { check: 'attachment' as const, device: expected.label, severity: 'error' as const, where };
  if (want !== undefined) {
    if (found === want) return undefined;
    if (found !== undefined && !isOurs(expected, found)) {
      return {
        ...base,
        expected: want,
        found: `${found}, a policy this deploy does not own`,
        fix: `another owner's policy is attached; agree on who owns this context, then detach it (tmsh ${command('none')}) and run "cdktf deploy" again`,
      };
    }
    return {
      ...base,
      expected: want,
      found: found ?? 'none',
      fix: `it was changed on the device after the deploy (or changed by hand without tmsh save sys config, and lost at a reboot); "cdktf deploy" does not set it again (its tmsh commands run only when they change): on the device tmsh ${command(want)} and tmsh save sys config`,
    };
  }
  if (found === undefined || !isOurs(expected, found)) return undefined;
  return {
    ...base,
    expected: "none of this deploy's policies",
    found: `${found} (stale)`,
    fix: `the synth output no longer attaches it; detach it (tmsh ${command('none')}, then tmsh save sys config) so that AS3 can delete the policy, and run "cdktf deploy" again`,
  };
}

/**
 * (c) The global context and every route domain the owner uses hold its enforced and staged
 * policies ({@link ExpectedDevice.context}: every context always has both); none of ours is
 * attached to a route domain the owner no longer uses.
 */
export function checkAttachments(
  expected: DeviceContextExpectation,
  global: ContextAttachment,
  routeDomains: readonly RouteDomainState[],
): VerifyProblem[] {
  const out: (VerifyProblem | undefined)[] = [
    attachmentProblem(
      expected,
      'global context enforced-policy',
      expected.context.global.enforcedPolicy,
      global.enforcedPolicy,
      (v) => `modify security firewall global-rules enforced-policy ${v}`,
    ),
    attachmentProblem(
      expected,
      'global context staged-policy',
      expected.context.global.stagedPolicy,
      global.stagedPolicy,
      (v) => `modify security firewall global-rules staged-policy ${v}`,
    ),
  ];
  for (const rd of routeDomains) {
    const want: Partial<ContextAttachment> = expected.context.routeDomains.find((r) => r.path === rd.path) ?? {};
    out.push(
      attachmentProblem(
        expected,
        `route domain ${rd.path} fw-enforced-policy`,
        want.enforcedPolicy,
        rd.enforcedPolicy,
        (v) => `modify net route-domain ${rd.path} fw-enforced-policy ${v}`,
      ),
      attachmentProblem(
        expected,
        `route domain ${rd.path} fw-staged-policy`,
        want.stagedPolicy,
        rd.stagedPolicy,
        (v) => `modify net route-domain ${rd.path} fw-staged-policy ${v}`,
      ),
    );
  }
  return out.filter((p): p is VerifyProblem => p !== undefined);
}

/** (g) Every route domain the deploy names exists: by path (attachments) and by id (addresses, `defaultRouteDomain`). */
export function checkRouteDomains(expected: DeviceContextExpectation, routeDomains: readonly RouteDomainState[]): VerifyProblem[] {
  const base = { check: 'route-domain' as const, device: expected.label, severity: 'error' as const };
  const problems: VerifyProblem[] = [];
  const paths = new Set(routeDomains.map((r) => r.path));
  const ids = new Set(routeDomains.map((r) => r.id));
  const onDevice = some(routeDomains.map((r) => `${r.path} (id ${r.id})`)) || 'none';
  for (const path of expected.context.routeDomains.map((r) => r.path).sort()) {
    if (!paths.has(path))
      problems.push({
        ...base,
        where: `route domain ${path}`,
        expected: 'exists (the deploy attaches policies to it)',
        found: `not on the device; it has ${onDevice}`,
        fix: 'create the route domain on the BIG-IP, or set the AfmDevice\'s routeDomain to one that exists, then run "cdktf deploy" again',
      });
  }
  for (const id of expected.routeDomainIds) {
    if (!ids.has(id))
      problems.push({
        ...base,
        where: `route domain id ${id}`,
        expected: 'exists (addresses of the declaration name it)',
        found: `not on the device; it has ${onDevice}`,
        fix: 'create the route domain on the BIG-IP, or set the AfmDevice\'s routeDomain to one that exists, then run "cdktf deploy" again',
      });
  }
  return problems;
}

/** (d) When any address list names an FQDN, the global FQDN policy has the synthesized resolver. */
export function checkFqdnResolver(expected: DeviceContextExpectation, found: string | undefined): VerifyProblem[] {
  if (!expected.usesFqdns) return [];
  const want = expected.context.dnsResolver;
  if (found !== undefined && (want === undefined || found === want)) return [];
  return [
    {
      check: 'fqdn-resolver',
      device: expected.label,
      severity: 'error',
      where: 'global FQDN policy dns-resolver',
      expected: want ?? 'a DNS resolver (address lists name FQDNs)',
      found: found ?? 'none: FQDN entries resolve to nothing, so rules naming them match no address',
      fix: want
        ? `it was changed on the device after the deploy; "cdktf deploy" does not set it again (its tmsh commands run only when they change): on the device tmsh modify security firewall global-fqdn-policy dns-resolver ${want} and tmsh save sys config`
        : 'set dnsResolver on the AfmDevice (or SharedBigip) and deploy',
    },
  ];
}

/** Members as the controller pushes them: `ip%rd` outside route domain 0. */
function pushed(ips: readonly string[], routeDomain: number): string[] {
  // Members of namespaces with route domains of their own carry theirs: the suffix read back is compared too.
  return ips.map((ip) => deviceMember(ip, routeDomain));
}

/**
 * (e) Every event-driven list of the device exists. With cluster state, a list still at AS3's
 * placeholder while pods belong in it is an error (those pods are denied), other differences
 * from the pods are warnings (the controller may be catching up); without it, an active list
 * that holds only the placeholder is a warning.
 */
export function checkLists(
  expected: ExpectedDevice,
  lists: ReadonlyMap<string, readonly string[] | undefined>,
  cluster: VerifyCluster | undefined,
  at: Date,
): VerifyProblem[] {
  const base = { check: 'address-list' as const, device: expected.label };
  const problems: VerifyProblem[] = [];
  const desired = cluster ? desiredMembers(expected.plan, cluster.snapshot, at) : undefined;
  for (const list of expected.plan.lists) {
    if (!lists.has(list.path)) continue;
    const nodes = lists.get(list.path);
    if (nodes === undefined) {
      problems.push({
        ...base,
        severity: 'error',
        where: list.path,
        expected: 'an event-driven address list with its service-discovery task',
        found: 'no such list on the device',
        fix: 'the declaration that defines it did not take effect (see the declaration and AS3 task problems); run "cdktf deploy" again',
      });
      continue;
    }
    const members = nodes.filter((n) => n !== EMPTY_LIST_PLACEHOLDER);
    const want = desired ? pushed(desired.get(list.path) ?? [], expected.plan.routeDomain) : undefined;
    if (want === undefined) {
      if (members.length === 0 && listActive(list, at)) {
        problems.push({
          ...base,
          severity: 'warning',
          where: list.path,
          expected: 'the addresses of the pods the list selects',
          found: `only AS3's placeholder ${EMPTY_LIST_PLACEHOLDER} (matches no pod)`,
          fix: 'fine if no pod is selected; otherwise check that the controller runs (its rule status) or verify with --state/--kubeconfig',
        });
      }
      continue;
    }
    if (members.length === 0 && want.length > 0) {
      problems.push({
        ...base,
        severity: 'error',
        where: list.path,
        expected: `${want.length} pod address(es) (${some(want, 3)}) from ${cluster?.source}`,
        found: `only AS3's placeholder ${EMPTY_LIST_PLACEHOLDER}: those pods are denied`,
        fix: 'the controller has not pushed this list since AS3 (re)created it: check that it runs and is leader (kubectl get afmcgr,afmngr,afmsgr -A shows its status); restarting it pushes every list',
      });
      continue;
    }
    const have = new Set(members);
    const missing = want.filter((ip) => !have.has(ip));
    const extra = members.filter((ip) => !want.includes(ip));
    if (missing.length || extra.length) {
      problems.push({
        ...base,
        severity: 'warning',
        where: list.path,
        expected: `${want.length} pod address(es) from ${cluster?.source}`,
        found: [
          missing.length ? `${missing.length} missing (${some(missing, 3)})` : '',
          extra.length ? `${extra.length} not selected (${some(extra, 3)})` : '',
        ]
          .filter(Boolean)
          .join(', '),
        fix: "the controller may still be catching up; verify again in a minute, and if it persists check the controller's logs and rule status",
      });
    }
  }
  return problems;
}

/**
 * (f) tmsh changes are saved. Neither iControl REST nor tmsh shows the saved configuration
 * (only bash can read /config/bigip.conf), so this checks the synthesized commands: a tmsh
 * change without a later `save sys config` is lost on the next reboot or config load.
 */
export function checkSaved(expected: ExpectedDevice): VerifyProblem[] {
  if (expected.savedAfterChanges) return [];
  return [
    {
      check: 'saved-config',
      device: expected.label,
      severity: 'warning',
      where: `bigip_command of ${expected.commandsFile}`,
      expected: 'tmsh save sys config after the tmsh changes',
      found: 'the context commands are not saved: a reboot or config load detaches the policies',
      fix: 'the synth output is from a version that does not save: synthesize it again (cdktf synth) and deploy; until then, on the device tmsh save sys config after every deploy',
    },
  ];
}
