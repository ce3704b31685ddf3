/**
 * The explain engine shared by `explain`, `simulate` and the Jest matchers: turns "pod X to
 * host:port" into packets, list members and DNS answers, runs the AFM evaluator over what the
 * device receives, and names the policy rules behind the AFM rules that decided.
 */
import {
  AfmChainResult,
  AfmContext,
  AfmEvaluation,
  AfmFirewall,
  AfmListState,
  AfmRuleHit,
  AfmRuleIndex,
  AfmRuleOwner,
} from '../afm/evaluator';
import {
  ClusterSnapshot,
  NamespaceInfo,
  PodInfo,
  ServiceInfo,
  desiredMembers,
  listActive,
  podEligible,
  sourceIncludesPod,
} from '../policy/membership';
import { formatIp, parseAddressEntry, tryParseIp } from '../policy/ip';
import { LEVELS, Level, PolicyModel } from '../policy/model';
import {
  deviceMember,
  planRouteDomains,
  podCidrsOfNamespace,
  qualifiedMember,
  routeDomainIdsByPath,
  routeDomainOfNamespace,
  routeDomainOfPod,
} from '../policy/route-domains';
import type { ExpiredRule, SyncPlan } from '../policy/plan';
import { AFM_PROTOCOLS, PORTED_PROTOCOLS } from '../policy/port';
import { NextHop, nameRedirect } from '../policy/redirect';
import { OBJECT } from '../policy/object-names';
import { INSTANT_FORMAT, instantProblem } from '../policy/schema';
import type { ClusterState } from './cluster-state';
import { UsageError } from '../files/usage-error';
import { TranslationView, translationView } from './translation';

export type Verdict = 'allow' | 'deny' | 'reject';

/** One device's policy as the tools evaluate it. */
export interface PolicyView {
  /** Names the device in messages (`<stack>/<tenant>` or a construct path). */
  readonly label: string;
  readonly model: PolicyModel;
  readonly plan: SyncPlan;
  readonly firewall: AfmFirewall;
  readonly owners: AfmRuleIndex;
  /** Rules not enforced because their `expiresAt` had come at synth. */
  readonly expired: readonly ExpiredRule[];
}

/**
 * The decision with the flow's next hop, on a device with redirect rules (elsewhere every allowed
 * flow takes the device's gateways, and the reports stay as they were).
 */
function withNextHop(view: PolicyView, d: DecisionView, hop: NextHop | undefined): DecisionView {
  if (!hop || !view.model.rules.some((r) => r.redirect)) return d;
  const { device } = view.model;
  return { ...d, nextHop: nameRedirect(view.model, hop, `/${device.tenant}/${device.application}/${OBJECT.virtualServer}`) };
}

/** `as3`: the declarations the BIG-IP holds (the device's own; on a shared BIG-IP also the shared one). */
export function policyView(input: {
  label: string;
  model: PolicyModel;
  plan: SyncPlan;
  as3: readonly unknown[];
  commands: readonly string[];
  expired?: readonly ExpiredRule[];
}): PolicyView {
  return {
    label: input.label,
    model: input.model,
    plan: input.plan,
    // Route domains named by path (the device's, its mapped namespaces') are found by their ids.
    firewall: AfmFirewall.load(input.as3, input.commands, { routeDomainIds: routeDomainIdsByPath(input.model.device) }),
    owners: new AfmRuleIndex(input.model),
    expired: input.expired ?? [],
  };
}

/** How the tools name a rule that expired: it is in the code and the CRs, but not enforced. */
export function expiredRuleText(r: ExpiredRule): string {
  return `rule ${r.key} (${r.action}, ${r.path}) expired at ${r.expiresAt} and is not enforced`;
}

/** `--from <namespace>/<pod-or-service>`. */
export interface SourceSpec {
  readonly namespace: string;
  readonly name: string;
  /** Labels of a hypothetical pod. */
  readonly labels?: Readonly<Record<string, string>>;
  /** Labels of a hypothetical namespace (no cluster state). */
  readonly namespaceLabels?: Readonly<Record<string, string>>;
}

/** `--to <host-or-ip>:<port>[/<protocol>]`. */
export interface DestinationSpec {
  readonly text: string;
  readonly host?: string;
  readonly ip?: string;
  readonly port?: number;
  readonly protocol: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const OBJECT_NAME = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const HOST = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** Dotted numbers (`999.999.999.999`, `256.1.1.1`): meant as an IPv4 address, never a host name. */
export const DOTTED_NUMBERS = /^[0-9]+(\.[0-9]+)+$/;

/** Why `name` (lower case) is not a host name, or undefined. */
export function hostNameProblem(name: string): string | undefined {
  if (DOTTED_NUMBERS.test(name))
    return 'dotted numbers are an IPv4 address, and this is none: write four numbers from 0 to 255, such as 203.0.113.10';
  if (!HOST.test(name)) return 'the destination must be a host name (such as api.stripe.com) or an IP address';
  return undefined;
}
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export function parseSource(text: string, option = '--from'): { namespace: string; name: string } {
  const slash = text.indexOf('/');
  const namespace = text.slice(0, slash);
  const name = text.slice(slash + 1);
  if (slash < 0 || !DNS_LABEL.test(namespace) || !OBJECT_NAME.test(name)) {
    throw new UsageError(option, JSON.stringify(text), 'write <namespace>/<pod-or-service>, such as payments/checkout');
  }
  return { namespace, name };
}

/** `k=v,k2=v2`. */
export function parseLabels(text: string, option = '--labels'): Record<string, string> {
  const labels: Record<string, string> = {};
  if (text.trim() === '') return labels;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (eq <= 0 || !LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) {
      throw new UsageError(
        `${option} entry`,
        JSON.stringify(part),
        'write Kubernetes labels as key=value pairs separated by commas, such as app=checkout,tier=web',
      );
    }
    labels[key] = value;
  }
  return labels;
}

export function parseTime(text: string, option = '--at'): Date {
  const form = 'write an ISO 8601 time with a zone, such as 2026-03-02T09:30:00Z or 2026-03-02T10:30:00+01:00';
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text))
    throw new UsageError(option, JSON.stringify(text), form);
  // Field by field: Date rolls 2026-02-30 over to March 2 instead of refusing it.
  const problem = instantProblem(text);
  if (problem) throw new UsageError(option, JSON.stringify(text), problem === INSTANT_FORMAT ? form : problem);
  return new Date(text);
}

/** Parses `host:port`, `ip:port`, `[v6]:port`, each with an optional `/protocol` (default tcp). */
export function parseDestination(text: string, option = '--to'): DestinationSpec {
  const bad = (fix: string): never => {
    throw new UsageError(option, JSON.stringify(text), fix);
  };
  let rest = text.trim();
  let protocol = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    protocol = rest.slice(slash + 1);
    rest = rest.slice(0, slash);
    if (!AFM_PROTOCOLS.has(protocol) || protocol === 'any') {
      if (/^\d/.test(protocol) || rest.includes('/'))
        bad('a destination is one host or address, not a CIDR; name one address of the range, such as 203.0.113.5:25');
      bad(`"${protocol}" is not an AFM protocol name; use a lower-case name such as tcp, udp, sctp or icmp`);
    }
  }
  let hostText: string;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) bad('close the bracket of the IPv6 address, such as [2001:db8::10]:443');
    hostText = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) bad('write [<IPv6 address>]:<port>, such as [2001:db8::10]:443');
    portText = after === '' ? undefined : after.slice(1);
    if (!tryParseIp(hostText) || !hostText.includes(':')) bad('brackets hold an IPv6 address, such as [2001:db8::10]:443');
  } else {
    const colons = rest.split(':').length - 1;
    if (colons > 1) bad('write an IPv6 address in brackets, such as [2001:db8::10]:443');
    [hostText, portText] = colons === 1 ? [rest.slice(0, rest.indexOf(':')), rest.slice(rest.indexOf(':') + 1)] : [rest, undefined];
  }
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535)
      bad('the port must be a whole number from 1 to 65535');
    port = Number(portText);
  }
  if (PORTED_PROTOCOLS.has(protocol) && port === undefined)
    bad(`a ${protocol} destination needs a port, such as ${hostText || 'api.example.com'}:443${protocol === 'tcp' ? '' : `/${protocol}`}`);
  if (!PORTED_PROTOCOLS.has(protocol) && port !== undefined) bad(`${protocol} has no ports; write ${hostText}/${protocol}`);
  const ip = tryParseIp(hostText);
  if (ip) return { text, ip: ip.text, ...(port !== undefined ? { port } : {}), protocol };
  const host = hostText.toLowerCase();
  const problem = hostNameProblem(host);
  if (problem) bad(problem);
  return { text, host, ...(port !== undefined ? { port } : {}), protocol };
}

/** The pod a query is about, and the cluster it is evaluated in. */
export interface ResolvedSource {
  readonly pod: PodInfo;
  /** Human description: which pod, and why this one. */
  readonly description: string;
  readonly hypothetical: boolean;
  /** The cluster without the hypothetical objects (cached members are computed on it). */
  readonly base: ClusterSnapshot;
  /** Objects added for a hypothetical pod. */
  readonly added?: { readonly namespace?: NamespaceInfo; readonly service?: ServiceInfo };
}

/** The label a hypothetical pod carries so that the hypothetical Service of `--from` selects it. */
export const HYPOTHETICAL_SERVICE_LABEL = 'explain.cdktf-ces.dev/service';

const EMPTY_SNAPSHOT: ClusterSnapshot = { pods: [], namespaces: [], services: [] };

/** Addresses for a hypothetical pod: inside the device's pod CIDRs, unused by the cluster. */
function hypotheticalIps(model: PolicyModel, cluster: ClusterSnapshot, namespace: string): string[] {
  // An address of the pod networks of the namespace's route domain that no pod of that route domain holds.
  const { device } = model;
  const rd = routeDomainOfNamespace(device, namespace);
  const sameRd = cluster.pods.filter((p) => routeDomainOfPod(device, p) === rd);
  const used = new Set(sameRd.flatMap((p) => p.ips.map((ip) => tryParseIp(ip)?.text)));
  const podCidrs = podCidrsOfNamespace(device, namespace);
  const cidrs = podCidrs.length ? podCidrs.map((c) => c.text) : ['10.254.0.0/16', 'fd00:cdf:ce5::/64'];
  const out: string[] = [];
  for (const family of [4, 6] as const) {
    const cidr = cidrs.find((c) => parseAddressEntry(c).family === family);
    if (!cidr) continue;
    const e = parseAddressEntry(cidr);
    for (let v = e.first + 10n; v < e.last; v++) {
      const ip = formatIp(family, v);
      if (!used.has(ip)) {
        out.push(ip);
        break;
      }
    }
  }
  return out;
}

function describePod(pod: PodInfo): string {
  const state = pod.terminating ? 'terminating' : pod.hostNetwork ? 'host network' : (pod.phase ?? 'unknown phase');
  return `pod ${pod.namespace}/${pod.name} (${pod.ips.join(', ') || 'no address'}; ${state})`;
}

/** Finds the pod `--from` means; see the CLI help for the rules. */
export function resolveSource(model: PolicyModel, cluster: ClusterState | undefined, spec: SourceSpec): ResolvedSource {
  const { namespace, name } = spec;
  const fromText = `${namespace}/${name}`;
  if (!cluster) {
    const labels = { ...(spec.labels ?? {}), [HYPOTHETICAL_SERVICE_LABEL]: name };
    const pod: PodInfo = {
      namespace,
      name: `${name}-hypothetical`,
      labels,
      ips: hypotheticalIps(model, EMPTY_SNAPSHOT, namespace),
      phase: 'Running',
    };
    const labelText =
      spec.labels && Object.keys(spec.labels).length
        ? ` with labels ${Object.entries(spec.labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(',')}`
        : '';
    return {
      pod,
      description: `a pod of namespace ${namespace} selected by Service ${name}${labelText} (hypothetical: no cluster state given), ${pod.ips.join(', ')}`,
      hypothetical: true,
      base: EMPTY_SNAPSHOT,
      added: {
        namespace: { name: namespace, labels: { 'kubernetes.io/metadata.name': namespace, ...(spec.namespaceLabels ?? {}) } },
        service: { namespace, name, selector: { [HYPOTHETICAL_SERVICE_LABEL]: name } },
      },
    };
  }
  const snap = cluster.snapshot;
  if (spec.namespaceLabels) {
    throw new UsageError(
      '--namespace-labels',
      JSON.stringify(
        Object.entries(spec.namespaceLabels)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      ),
      `namespace labels come from the state file ${cluster.source}; drop the option`,
    );
  }
  const known = new Set([
    ...snap.namespaces.map((n) => n.name),
    ...snap.pods.map((p) => p.namespace),
    ...snap.services.map((s) => s.namespace),
  ]);
  if (!known.has(namespace)) {
    throw new UsageError(
      `--from names a namespace that the state file ${cluster.source} does not have`,
      JSON.stringify(fromText),
      `known namespaces: ${[...known].sort().join(', ') || 'none'}`,
    );
  }
  const pod = snap.pods.find((p) => p.namespace === namespace && p.name === name);
  if (pod) {
    if (spec.labels)
      throw new UsageError(
        '--labels describes a hypothetical pod, but --from names a pod of the state file',
        JSON.stringify(fromText),
        'drop --labels, or name a Service',
      );
    if (pod.ips.length === 0)
      throw new UsageError(
        `--from names a pod without an address (status.podIPs is empty in ${cluster.source})`,
        JSON.stringify(fromText),
        'a pod sends nothing before it has an address; pick another pod',
      );
    return { pod, description: describePod(pod), hypothetical: false, base: snap };
  }
  const service = snap.services.find((s) => s.namespace === namespace && s.name === name);
  if (!service) {
    throw new UsageError(
      `--from names no Pod or Service of namespace ${namespace} in ${cluster.source}`,
      JSON.stringify(fromText),
      'check the name, or leave out --state to ask about a hypothetical pod',
    );
  }
  if (!service.selector || Object.keys(service.selector).length === 0) {
    throw new UsageError(
      `Service ${fromText} has no selector, so it selects no pods`,
      JSON.stringify(fromText),
      'name one of its pods instead, or a Service with a selector',
    );
  }
  const selector = service.selector;
  const selects = (p: PodInfo) => p.namespace === namespace && Object.entries(selector).every(([k, v]) => p.labels[k] === v);
  if (!spec.labels) {
    const selected = snap.pods.filter((p) => selects(p) && p.ips.length > 0).sort((a, b) => (a.name < b.name ? -1 : 1));
    const chosen = selected.find(podEligible) ?? selected[0];
    if (chosen) {
      return {
        pod: chosen,
        description: `${describePod(chosen)}, ${selected.length === 1 ? 'the pod' : `one of ${selected.length} pods`} Service ${name} selects`,
        hypothetical: false,
        base: snap,
      };
    }
  }
  const labels = { ...selector, ...(spec.labels ?? {}) };
  if (!selects({ namespace, name: '', labels, ips: [] })) {
    throw new UsageError(
      `--labels contradict the selector of Service ${fromText}`,
      JSON.stringify(spec.labels),
      `the Service selects ${Object.entries(selector)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')}`,
    );
  }
  const hypothetical: PodInfo = {
    namespace,
    name: `${name}-hypothetical`,
    labels,
    ips: hypotheticalIps(model, snap, namespace),
    phase: 'Running',
  };
  return {
    pod: hypothetical,
    description: `a pod with labels ${Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(
        ',',
      )} selected by Service ${fromText} (hypothetical${spec.labels ? '' : ': the Service selects no pod with an address'}), ${hypothetical.ips.join(', ')}`,
    hypothetical: true,
    base: snap,
  };
}

/** What one level (AFM context) did. */
export interface LevelView {
  readonly level: Level;
  readonly context: AfmContext;
  readonly policy?: string;
  /** As the AFM evaluator reports the context. */
  readonly outcome: AfmChainResult['steps'][number]['outcome'];
  /** The level's own rule that matched. */
  readonly rule?: AfmRuleOwner;
  readonly hit?: AfmRuleHit;
  /**
   * In the virtual-server context when no service rule matched: the carried ALLOW of an upper
   * level or the device default that took the packet.
   */
  readonly fallThrough?:
    | { readonly kind: 'carried'; readonly rule?: AfmRuleOwner; readonly hit: AfmRuleHit }
    | { readonly kind: 'default'; readonly hit?: AfmRuleHit };
}

export interface DecisionView {
  readonly verdict: Verdict;
  readonly levels: readonly LevelView[];
  /** The policy rule that decided; undefined when the default decided. */
  readonly decidedBy?: AfmRuleOwner;
  /** The AFM rule that decided. */
  readonly hit?: AfmRuleHit;
  readonly ending: AfmChainResult['ending'];
  readonly virtualServer?: string;
  /** Where the flow goes, when allowed; set only on devices with redirect rules (see redirect.ts). */
  readonly nextHop?: NextHop;
}

export interface FlowExplanation {
  readonly sourceIp: string;
  readonly destinationIp?: string;
  /** The destination address stands for an unresolved host: an address no rule lists. */
  readonly unlisted?: boolean;
  readonly host?: string;
  readonly protocol: string;
  readonly port?: number;
  readonly evaluation: AfmEvaluation;
  /** The source address the flow leaves with, when it is let through. */
  readonly translation?: TranslationView;
  readonly enforced: DecisionView;
  /** The staged (would-be) decision, when any staged policy applies. */
  readonly staged?: DecisionView;
}

export interface Explanation {
  readonly device: string;
  readonly source: ResolvedSource;
  readonly destination: DestinationSpec;
  readonly at: Date;
  /** Addresses the host resolved to, and where from. */
  readonly resolved?: { readonly addresses: readonly string[]; readonly from: string };
  readonly flows: readonly FlowExplanation[];
  readonly verdict: Verdict | 'mixed';
  readonly wouldBe: Verdict | 'mixed';
  readonly notes: readonly string[];
}

export interface ExplainQuery {
  readonly from: SourceSpec;
  readonly to: DestinationSpec;
  readonly at: Date;
}

/** DNS answers with where they came from. */
export interface DnsAnswers {
  readonly table: ReadonlyMap<string, readonly string[]>;
  /** Host name → description of the source (`--resolve`, the state file). */
  readonly origin: ReadonlyMap<string, string>;
}

interface CachedState {
  readonly at: number;
  readonly dns: ReadonlyMap<string, readonly string[]>;
  readonly state: AfmListState;
}

const stateCache = new WeakMap<ClusterSnapshot, WeakMap<PolicyView, CachedState>>();

/** The controller pushes addresses of a non-default route domain as `ip%rd`. */
function pushed(view: PolicyView, ips: readonly string[]): string[] {
  const rd = view.model.device.routeDomain;
  return ips.map((ip) => deviceMember(ip, rd));
}

/**
 * The list state for the cluster at `at` (cached: many questions share it), plus a
 * hypothetical pod's addresses in the lists whose sources include it.
 */
function listState(view: PolicyView, source: ResolvedSource, dns: DnsAnswers, at: Date): AfmListState {
  let perView = stateCache.get(source.base);
  if (!perView) stateCache.set(source.base, (perView = new WeakMap()));
  let cached = perView.get(view);
  if (!cached || cached.at !== at.getTime() || cached.dns !== dns.table) {
    const members = new Map([...desiredMembers(view.plan, source.base, at)].map(([path, ips]) => [path, pushed(view, ips)]));
    cached = { at: at.getTime(), dns: dns.table, state: view.firewall.listState(members, dns.table) };
    perView.set(view, cached);
  }
  if (!source.hypothetical || !podEligible(source.pod)) return cached.state;
  const namespaces = source.added?.namespace ? [...source.base.namespaces, source.added.namespace] : source.base.namespaces;
  const nsLabels = namespaces.find((n) => n.name === source.pod.namespace)?.labels;
  const services = source.added?.service ? [...source.base.services, source.added.service] : source.base.services;
  const added = new Map<string, string[]>();
  for (const list of view.plan.lists) {
    if (!listActive(list, at)) continue;
    const service =
      list.source.level === 'service'
        ? services.find((s) => s.namespace === list.source.namespace && s.name === list.source.service)
        : undefined;
    // A pod of a mapped namespace is a member with its route domain, as the controller pushes it.
    const ips = source.pod.ips.map((ip) => qualifiedMember(planRouteDomains(view.plan), source.pod.namespace, ip));
    if (sourceIncludesPod(list.source, source.pod, nsLabels, service)) added.set(list.path, pushed(view, ips));
  }
  return view.firewall.withMembers(cached.state, added);
}

function decisionView(view: PolicyView, chain: AfmChainResult): DecisionView {
  const levels = chain.steps.map((step, i): LevelView => {
    const level = LEVELS[i];
    const base = { level, context: step.context, ...(step.policy ? { policy: step.policy } : {}), outcome: step.outcome };
    const owner = step.hit ? view.owners.ownerOf(step.hit) : undefined;
    if (step.context !== 'virtual-server') return { ...base, ...(step.hit ? { hit: step.hit, rule: owner } : {}) };
    if (step.outcome === 'match' && step.hit) {
      if (owner?.level === 'service') return { ...base, hit: step.hit, rule: owner };
      if (owner) return { ...base, fallThrough: { kind: 'carried', rule: owner, hit: step.hit } };
      return { ...base, fallThrough: { kind: 'default', hit: step.hit } };
    }
    if (step.outcome === 'no-match' || step.outcome === 'no-policy') return { ...base, fallThrough: { kind: 'default' } };
    return base;
  });
  const hit = chain.decidedBy;
  return {
    verdict: chain.verdict,
    levels,
    ...(hit ? { hit } : {}),
    ...(hit && view.owners.ownerOf(hit) ? { decidedBy: view.owners.ownerOf(hit) } : {}),
    ending: chain.ending,
    ...(chain.virtualServer ? { virtualServer: chain.virtualServer } : {}),
  };
}

function combine(verdicts: readonly Verdict[]): Verdict | 'mixed' {
  return verdicts.every((v) => v === verdicts[0]) ? verdicts[0] : 'mixed';
}

const familyOf = (ip: string) => (ip.includes(':') ? 6 : 4);

/** Where the search for an unlisted address starts: benchmarking (RFC 2544) and discard-only (RFC 6666) space. */
const UNLISTED_START = { 4: '198.18.0.1', 6: '100::1' } as const;

/**
 * An address of `family` that no address entry of the policy lists (entries that cover the
 * whole family, such as 0.0.0.0/0, aside) and no DNS answer names: what an unresolved host
 * stands for. Undefined when the policy's entries cover the whole family.
 */
export function unlistedAddress(model: PolicyModel, family: 4 | 6, dns: ReadonlyMap<string, readonly string[]>): string | undefined {
  const max = family === 4 ? (1n << 32n) - 1n : (1n << 128n) - 1n;
  const taken: { first: bigint; last: bigint }[] = [];
  const add = (text: string) => {
    const e = parseAddressEntry(text);
    if (e.family === family && !(e.first === 0n && e.last === max)) taken.push(e);
  };
  for (const r of model.rules) for (const d of r.destinations) if (d.kind !== 'fqdn' && d.kind !== 'externalService') add(d.text);
  for (const es of model.externalServices) for (const d of es.destinations) if (d.kind !== 'fqdn') add(d.text);
  for (const ips of dns.values()) for (const ip of ips) if (familyOf(ip) === family) add(ip);
  let candidate = (tryParseIp(UNLISTED_START[family]) as { value: bigint }).value;
  for (let wrapped = false, steps = 0; steps <= taken.length + 1; steps++) {
    const covering = taken.filter((t) => candidate >= t.first && candidate <= t.last);
    if (covering.length === 0) return formatIp(family, candidate);
    const next = covering.reduce((m, t) => (t.last > m ? t.last : m), 0n) + 1n;
    if (next > max) {
      if (wrapped) return undefined;
      wrapped = true;
      candidate = 0n;
    } else {
      candidate = next;
    }
  }
  return undefined;
}

/** Answers one query. */
export function explain(view: PolicyView, cluster: ClusterState | undefined, dns: DnsAnswers, query: ExplainQuery): Explanation {
  const source = resolveSource(view.model, cluster, query.from);
  const { to, at } = query;
  const notes: string[] = view.expired.map(expiredRuleText);
  if (!podEligible(source.pod)) {
    // Rules that match the pod CIDRs themselves match any address of the pod networks.
    const byCidr = !source.pod.hostNetwork && view.model.device.podCidrs.length > 0;
    const covered = byCidr
      ? 'so only cluster rules that match the pod CIDRs themselves (DENY, REJECT and ALLOW_FINAL over every pod) cover it'
      : 'so no rule covers it';
    notes.push(
      `${source.pod.namespace}/${source.pod.name} is ${source.pod.hostNetwork ? 'on the host network' : source.pod.terminating ? 'terminating' : `in phase ${source.pod.phase}`}: its addresses are in no source list, ${covered}`,
    );
  }
  const podIps = source.pod.ips.map((ip) => tryParseIp(ip)?.text as string);
  let destinations: { ip?: string; unlisted?: boolean }[];
  let resolved: Explanation['resolved'];
  if (to.ip) {
    destinations = [{ ip: to.ip }];
  } else {
    const host = to.host as string;
    const answers = dns.table.get(host) ?? [];
    if (answers.length) resolved = { addresses: answers, from: dns.origin.get(host) ?? 'DNS answers' };
    const reachable = answers.filter((ip) => podIps.some((p) => familyOf(p) === familyOf(ip)));
    for (const ip of answers) if (!reachable.includes(ip)) notes.push(`${host} → ${ip} skipped: the pod has no IPv${familyOf(ip)} address`);
    destinations = reachable.map((ip) => ({ ip }));
    if (reachable.length === 0) {
      // The packet will carry some address of the host. Stand for it with one that no rule
      // lists: FQDN entries still match by name, and entries covering every address (such as
      // 0.0.0.0/0) still apply, as they would to whatever address the name has.
      const families = [...new Set(podIps.map(familyOf))].sort();
      for (const family of families) {
        const ip = unlistedAddress(view.model, family, dns.table);
        destinations.push(ip ? { ip, unlisted: true } : {});
      }
      const stand = destinations.filter((d) => d.ip).map((d) => d.ip);
      notes.push(
        `${host} is not resolved${answers.length ? ' to an address the pod can reach' : ''} (give --resolve ${host}=<ip>): evaluated for ${stand.length ? `${stand.join(' and ')}, an address no rule lists` : 'the name alone'}, so FQDN entries match by name and only address entries that cover every address (such as 0.0.0.0/0) apply`,
      );
    }
  }
  const state = listState(view, source, dns, at);
  const flows = destinations.map(({ ip: destinationIp, unlisted }): FlowExplanation => {
    const family = destinationIp ? familyOf(destinationIp) : undefined;
    const sourceIp = family ? podIps.find((ip) => familyOf(ip) === family) : podIps[0];
    if (!sourceIp) {
      throw new UsageError(
        `${source.pod.namespace}/${source.pod.name} has no IPv${family} address to reach ${destinationIp}`,
        JSON.stringify(to.text),
        `give an IPv${family === 4 ? 6 : 4} destination${source.hypothetical ? '' : ', or pick a dual-stack pod'}`,
      );
    }
    const evaluation = view.firewall.evaluate(
      {
        sourceIp,
        // A pod of a namespace with a route domain of its own sends in that route domain.
        routeDomain: routeDomainOfPod(view.model.device, source.pod),
        ...(destinationIp ? { destinationIp } : {}),
        ...(to.host ? { host: to.host } : {}),
        protocol: to.protocol,
        ...(to.port !== undefined ? { port: to.port } : {}),
      },
      state,
    );
    return {
      sourceIp,
      ...(destinationIp ? { destinationIp } : {}),
      ...(unlisted ? { unlisted } : {}),
      ...(to.host ? { host: to.host } : {}),
      protocol: to.protocol,
      ...(to.port !== undefined ? { port: to.port } : {}),
      evaluation,
      // Shown where rules translate: elsewhere every allowed flow leaves as the device's snat says.
      ...(evaluation.translatedSource && view.model.rules.some((r) => r.snat)
        ? { translation: translationView(evaluation, view.owners) }
        : {}),
      enforced: withNextHop(view, decisionView(view, evaluation.enforced), evaluation.nextHop),
      ...(evaluation.hasStaged ? { staged: decisionView(view, evaluation.staged) } : {}),
    };
  });
  return {
    device: view.label,
    source,
    destination: to,
    at,
    ...(resolved ? { resolved } : {}),
    flows,
    verdict: combine(flows.map((f) => f.evaluation.verdict)),
    wouldBe: combine(flows.map((f) => f.evaluation.wouldBe)),
    notes,
  };
}
