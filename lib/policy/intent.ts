/**
 * The intent evaluator: the policy semantics of the README ("Policy semantics"), evaluated
 * directly over the policy model.
 *
 * It deliberately shares no code with the compiler, the AS3 renderer or the AFM evaluator, so
 * that the differential tests, which check it against the AFM evaluator over the rendered
 * declaration, compare two independent readings of the contract. What it does share is the
 * vocabulary both sides are defined in: pod membership (`membership.ts`), time windows
 * (`schedule.ts`) and address parsing (`ip.ts`).
 */
import { ClusterSnapshot, PodInfo, ServiceInfo, podEligible, sourceIncludesPod } from './membership';
import { InvalidValueError, quote } from './errors';
import { AddressEntry, ParsedIp, intervalContains, parseAddressEntry, tryParseIp } from './ip';
import {
  ActionName,
  DefaultActionName,
  DestinationModel,
  LEVELS,
  Level,
  PolicyModel,
  PortModel,
  RuleModel,
  SnatModeName,
  ruleKey,
} from './model';
import { ruleActive } from './schedule';
import { podCidrsOfPod } from './route-domains';
import type { NextHop } from './redirect';
import { iRuleLabel } from './irule';

/** What happens to a flow: let through, dropped silently, or refused (reset / ICMP unreachable). */
export type Verdict = 'allow' | 'deny' | 'reject';

/** DNS answers: host name → addresses it resolves to. */
export type DnsTable = ReadonlyMap<string, readonly string[]>;

/** One connection attempt from a pod. */
export interface IntentFlow {
  /** The source pod, as it appears in the snapshot. */
  readonly pod: PodInfo;
  /**
   * The address the packet leaves from (one of the pod's IPs, or its node's for a
   * host-network pod). With the device's `podCidrs` set, traffic from outside them reaches no
   * egress virtual server.
   * @default - inside podCidrs
   */
  readonly sourceIp?: string;
  /** Destination address; at least one of `destinationIp` and `host` is needed. */
  readonly destinationIp?: string;
  /** Destination host name (lower case), for FQDN destinations. */
  readonly host?: string;
  /** Lower-case AFM protocol name of the packet (`tcp`, `udp`, `icmp`, …; not `any`). */
  readonly protocol: string;
  /** Destination port, for protocols that have ports. */
  readonly port?: number;
}

export interface IntentInput {
  readonly model: PolicyModel;
  readonly snapshot: ClusterSnapshot;
  readonly dns: DnsTable;
  readonly flow: IntentFlow;
  readonly at: Date;
}

export type RuleKind = 'ClusterEgressRule' | 'NamespaceEgressRule' | 'ServiceEgressRule';

export const RULE_KIND: Readonly<Record<Level, RuleKind>> = {
  cluster: 'ClusterEgressRule',
  namespace: 'NamespaceEgressRule',
  service: 'ServiceEgressRule',
};

/** A rule, as tools name it. */
export interface RuleRef {
  /** `cluster/<name>` or `<level>/<namespace>/<name>`. */
  readonly key: string;
  readonly level: Level;
  readonly kind: RuleKind;
  readonly name: string;
  readonly namespace?: string;
  /** Construct path. */
  readonly path: string;
  readonly action: ActionName;
  readonly audit: boolean;
  /**
   * The rule's onMatch iRule, described (`file tag.tcl, sha256 …`): it runs when the rule
   * matches. It cannot change the verdict (verdict commands are refused at synth), so the
   * evaluation does not run it.
   */
  readonly onMatch?: string;
}

/** What one level did with the flow. */
export type LevelStep =
  | { readonly level: Level; readonly outcome: 'match'; readonly rule: RuleRef }
  | { readonly level: Level; readonly outcome: 'no-match' }
  /** A higher level gave a final verdict, so this level was not consulted. */
  | { readonly level: Level; readonly outcome: 'not-consulted' };

export interface IntentDecision {
  readonly verdict: Verdict;
  /**
   * `rule`: a final rule (DENY, REJECT, ALLOW_FINAL) or an ALLOW decided; `default`: no level
   * allowed or denied it, so the device default applies; `no-listener`: the source is outside
   * the device's podCidrs, so no egress virtual server takes the packet and the BIG-IP drops
   * it unless a cluster or namespace rule denied or rejected it first.
   */
  readonly basis: 'rule' | 'default' | 'no-listener';
  /**
   * The deciding rule. For a final rule, that rule. For an ALLOW that no lower level overrode:
   * the service level's ALLOW if it said ALLOW, else the ALLOW of the first level that did.
   * (That is the rule the virtual server's log line names, so explain and the firewall logs agree.)
   */
  readonly decidedBy?: RuleRef;
  /** Cluster, namespace and service level, in that order. */
  readonly levels: readonly LevelStep[];
  /** The default that applied (`basis: default`), as a verdict. */
  readonly defaultVerdict: Verdict;
}

/**
 * The source address an allowed flow leaves with (docs/nat.md): the `snat` of
 * the first rule with one that matches the flow, taking cluster, namespace and service rules
 * each in rule order (whichever rule decided the verdict), else the device's `snat`.
 */
export type TranslatedSource =
  | { readonly by: 'rule'; readonly rule: RuleRef; readonly addresses: readonly string[] }
  | { readonly by: 'device'; readonly snat: SnatModeName; readonly addresses: readonly string[] };

export interface IntentResult {
  /** How the flow's source is translated, when the enforced verdict lets it through. */
  readonly translatedSource?: TranslatedSource;
  readonly verdict: Verdict;
  /** The verdict if audit rules were enforced (and, in device audit mode, everything). */
  readonly wouldBe: Verdict;
  readonly enforced: IntentDecision;
  readonly wouldBeDecision: IntentDecision;
  /**
   * Where an allowed flow goes (absent unless `verdict` is allow): the next hops of the redirect
   * of a rule that matches the flow (docs/redirection.md), else the device's gateways, else
   * the routing table.
   */
  readonly nextHop?: NextHop;
}

const DEFAULT_VERDICT: Readonly<Record<DefaultActionName, Verdict>> = { DENY: 'deny', REJECT: 'reject', ALLOW: 'allow' };

interface PreparedDestination {
  readonly intervals: readonly AddressEntry[];
  /** Exact names and `*.` wildcards. */
  readonly fqdns: readonly { readonly text: string; readonly wildcard: boolean; readonly base: string }[];
}

interface PreparedRule {
  readonly ref: RuleRef;
  readonly model: RuleModel;
  readonly destination: PreparedDestination;
}

interface PreparedPolicy {
  readonly levels: Readonly<Record<Level, readonly PreparedRule[]>>;
}

const prepared = new WeakMap<PolicyModel, PreparedPolicy>();

/** Evaluation order within a level: priority, then namespace, then name (code-point order). */
function ruleOrder(a: RuleModel, b: RuleModel): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  const na = a.namespace ?? '';
  const nb = b.namespace ?? '';
  if (na !== nb) return na < nb ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function prepare(model: PolicyModel): PreparedPolicy {
  const cached = prepared.get(model);
  if (cached) return cached;
  const services = new Map(model.externalServices.map((es) => [es.name, es]));
  const prepareDestinations = (rule: RuleModel): PreparedDestination => {
    const intervals: AddressEntry[] = [];
    const fqdns: { text: string; wildcard: boolean; base: string }[] = [];
    const add = (d: DestinationModel) => {
      if (d.kind === 'externalService') {
        const es = services.get(d.name);
        if (!es) {
          throw new InvalidValueError(quote(d.name), `rule ${rule.path} names an ExternalService that the policy does not define`);
        }
        es.destinations.forEach(add);
      } else if (d.kind === 'fqdn') {
        fqdns.push({ text: d.text, wildcard: d.wildcard, base: d.wildcard ? d.text.slice(2) : d.text });
      } else {
        intervals.push(parseAddressEntry(d.text));
      }
    };
    rule.destinations.forEach(add);
    return { intervals, fqdns };
  };
  const levels: Record<Level, PreparedRule[]> = { cluster: [], namespace: [], service: [] };
  for (const rule of model.rules) {
    levels[rule.level].push({
      model: rule,
      destination: prepareDestinations(rule),
      ref: {
        key: ruleKey(rule),
        level: rule.level,
        kind: RULE_KIND[rule.level],
        name: rule.name,
        ...(rule.namespace !== undefined ? { namespace: rule.namespace } : {}),
        path: rule.path,
        action: rule.action,
        audit: rule.audit,
        ...(rule.onMatch ? { onMatch: iRuleLabel(rule.onMatch) } : {}),
      },
    });
  }
  for (const level of LEVELS) levels[level].sort((a, b) => ruleOrder(a.model, b.model));
  const result = { levels };
  prepared.set(model, result);
  return result;
}

/** A one-label wildcard `*.base` matches `x.base` for exactly one extra label `x`. */
function nameMatches(entry: { text: string; wildcard: boolean; base: string }, host: string): boolean {
  if (!entry.wildcard) return host === entry.text;
  const suffix = `.${entry.base}`;
  if (host.length <= suffix.length || !host.endsWith(suffix)) return false;
  return !host.slice(0, host.length - suffix.length).includes('.');
}

interface NormalizedFlow {
  readonly ip?: ParsedIp;
  readonly host?: string;
  readonly protocol: string;
  readonly port?: number;
}

function normalizeFlow(flow: IntentFlow): NormalizedFlow {
  if (flow.destinationIp === undefined && flow.host === undefined) {
    throw new InvalidValueError('nothing', 'a flow needs a destination address, a host name, or both');
  }
  let ip: ParsedIp | undefined;
  if (flow.destinationIp !== undefined) {
    ip = tryParseIp(flow.destinationIp);
    if (!ip) throw new InvalidValueError(quote(flow.destinationIp), 'the destination is not a valid IPv4 or IPv6 address');
  }
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(flow.protocol) || flow.protocol === 'any') {
    throw new InvalidValueError(quote(flow.protocol), 'a flow has one concrete lower-case protocol such as "tcp", "udp" or "icmp"');
  }
  if (flow.port !== undefined && (!Number.isInteger(flow.port) || flow.port < 0 || flow.port > 65535)) {
    throw new InvalidValueError(quote(flow.port), 'a port is a whole number from 0 to 65535');
  }
  return { ip, host: flow.host, protocol: flow.protocol, port: flow.port };
}

const normalizedDns = new WeakMap<DnsTable, Map<string, Set<string>>>();

/** DNS answers in canonical form, so `2001:DB8::1` and `2001:db8::1` agree. */
function normalizeDns(dns: DnsTable): Map<string, Set<string>> {
  const cached = normalizedDns.get(dns);
  if (cached) return cached;
  const out = new Map<string, Set<string>>();
  for (const [name, ips] of dns) {
    const set = new Set<string>();
    for (const ip of ips) {
      const parsed = tryParseIp(ip);
      if (!parsed) throw new InvalidValueError(quote(ip), `the DNS answer for ${quote(name)} is not an IP address`);
      set.add(parsed.text);
    }
    out.set(name, set);
  }
  normalizedDns.set(dns, out);
  return out;
}

interface SnapshotIndex {
  readonly namespaceLabels: ReadonlyMap<string, Readonly<Record<string, string>>>;
  readonly services: ReadonlyMap<string, ServiceInfo>;
}

const snapshotIndexes = new WeakMap<ClusterSnapshot, SnapshotIndex>();

function indexSnapshot(snapshot: ClusterSnapshot): SnapshotIndex {
  let index = snapshotIndexes.get(snapshot);
  if (!index) {
    index = {
      namespaceLabels: new Map(snapshot.namespaces.map((n) => [n.name, n.labels])),
      services: new Map(snapshot.services.map((s) => [`${s.namespace}/${s.name}`, s])),
    };
    snapshotIndexes.set(snapshot, index);
  }
  return index;
}

function destinationMatches(d: PreparedDestination, flow: NormalizedFlow, dns: Map<string, Set<string>>): boolean {
  if (flow.ip) {
    for (const interval of d.intervals) if (intervalContains(interval, flow.ip)) return true;
  }
  for (const f of d.fqdns) {
    if (flow.host !== undefined && nameMatches(f, flow.host)) return true;
    if (!flow.ip) continue;
    // The firewall learns a name's addresses from DNS; a wildcard covers every name under it.
    if (f.wildcard) {
      for (const [name, ips] of dns) if (nameMatches(f, name) && ips.has(flow.ip.text)) return true;
    } else if (dns.get(f.text)?.has(flow.ip.text)) {
      return true;
    }
  }
  return false;
}

function portMatches(ports: readonly PortModel[], flow: NormalizedFlow): boolean {
  if (ports.length === 0) return true;
  return ports.some((p) => {
    if (p.protocol !== 'any' && p.protocol !== flow.protocol) return false;
    if (p.fromPort === undefined) return true;
    return flow.port !== undefined && flow.port >= p.fromPort && flow.port <= (p.toPort ?? p.fromPort);
  });
}

/**
 * Evaluates one flow. `verdict` counts only enforced rules (none in device audit mode);
 * `wouldBe` counts audit rules too.
 */
function insideCidr(cidr: string, ip: string): boolean {
  const parsed = tryParseIp(ip);
  return !!parsed && intervalContains(parseAddressEntry(cidr), parsed);
}

/**
 * README "Sources": a cluster rule without selectors whose action is DENY, REJECT or ALLOW_FINAL
 * and that has no time window or expiry matches by address every source inside the device's
 * `podCidrs` (when it declares them), whether or not a pod in a source holds the address.
 */
function everyPodByAddress(rule: RuleModel, podCidrsDeclared: boolean): boolean {
  if (
    rule.level !== 'cluster' ||
    rule.action === 'ALLOW' ||
    rule.schedule !== undefined ||
    rule.expiresAt !== undefined ||
    !podCidrsDeclared
  )
    return false;
  const empty = (s: RuleModel['source']['podSelector']) =>
    !s || (Object.keys(s.matchLabels).length === 0 && s.matchExpressions.length === 0);
  return empty(rule.source.namespaceSelector) && empty(rule.source.podSelector);
}

export function evaluateIntent(input: IntentInput): IntentResult {
  const { model, snapshot, flow, at } = input;
  const policy = prepare(model);
  const normalized = normalizeFlow(flow);
  const dns = normalizeDns(input.dns);
  const pod = flow.pod;
  const index = indexSnapshot(snapshot);
  const namespaceLabels = index.namespaceLabels.get(pod.namespace);
  const eligible = podEligible(pod);

  const device = model.device;
  // The pod networks of the flow's route domain: a namespace with a route domain of its own has its own.
  const podCidrs = podCidrsOfPod(device, pod);
  const fromPodNetwork = podCidrs.length > 0 && (!flow.sourceIp || podCidrs.some((c) => insideCidr(c.text, flow.sourceIp as string)));
  const matches = (rule: PreparedRule): boolean => {
    const m = rule.model;
    if (!portMatches(m.ports, normalized) || !destinationMatches(rule.destination, normalized, dns) || !ruleActive(m, at)) return false;
    // "Every pod" of a cluster DENY, REJECT or ALLOW_FINAL is every address of the pod networks.
    if (everyPodByAddress(m, device.podCidrs.length > 0)) return fromPodNetwork;
    if (!eligible) return false;
    const service = m.source.level === 'service' ? index.services.get(`${m.source.namespace}/${m.source.service}`) : undefined;
    return sourceIncludesPod(m.source, pod, namespaceLabels, service);
  };

  const decide = (considered: (r: PreparedRule) => boolean, defaultVerdict: Verdict): IntentDecision => {
    const levels: LevelStep[] = [];
    const allowedAt: RuleRef[] = [];
    let final: { verdict: Verdict; rule: RuleRef } | undefined;
    for (const level of LEVELS) {
      if (final) {
        levels.push({ level, outcome: 'not-consulted' });
        continue;
      }
      const hit = policy.levels[level].find((r) => considered(r) && matches(r));
      if (!hit) {
        levels.push({ level, outcome: 'no-match' });
        continue;
      }
      levels.push({ level, outcome: 'match', rule: hit.ref });
      switch (hit.ref.action) {
        case 'DENY':
          final = { verdict: 'deny', rule: hit.ref };
          break;
        case 'REJECT':
          final = { verdict: 'reject', rule: hit.ref };
          break;
        case 'ALLOW_FINAL':
          final = { verdict: 'allow', rule: hit.ref };
          break;
        case 'ALLOW':
          allowedAt.push(hit.ref);
          break;
      }
    }
    if (final) return { verdict: final.verdict, basis: 'rule', decidedBy: final.rule, levels, defaultVerdict };
    if (allowedAt.length) {
      const serviceAllow = allowedAt.find((r) => r.level === 'service');
      return { verdict: 'allow', basis: 'rule', decidedBy: serviceAllow ?? allowedAt[0], levels, defaultVerdict };
    }
    return { verdict: defaultVerdict, basis: 'default', levels, defaultVerdict };
  };

  const configuredDefault = DEFAULT_VERDICT[device.defaultAction];
  // A rule's redirect takes every flow the rule itself matches (its sources, destinations and
  // ports, in its window), whichever rule then decides; its listener accepts those sources
  // whether or not they are inside podCidrs.
  const redirectedBy = LEVELS.flatMap((l) => policy.levels[l]).find((r) => r.model.redirect !== undefined && matches(r));
  const listened =
    redirectedBy !== undefined ||
    !flow.sourceIp ||
    podCidrs.length === 0 ||
    podCidrs.some((c) => insideCidr(c.text, flow.sourceIp as string));
  // Outside podCidrs only a deny or reject of the upper levels decides; anything else ends at
  // the BIG-IP, which forwards nothing no virtual server takes.
  const listening = (d: IntentDecision): IntentDecision =>
    listened || (d.basis === 'rule' && d.verdict !== 'allow' && d.decidedBy?.level !== 'service')
      ? d
      : {
          verdict: 'deny',
          basis: 'no-listener',
          levels: d.levels.map((l): LevelStep => (l.level === 'service' ? { level: 'service', outcome: 'not-consulted' } : l)),
          defaultVerdict: d.defaultVerdict,
        };
  // Device audit mode enforces nothing: every rule is staged and the enforced default is accept.
  const enforced = listening(device.audit ? decide(() => false, 'allow') : decide((r) => !r.ref.audit, configuredDefault));
  const hasAudit = device.audit || model.rules.some((r) => r.audit);
  const wouldBeDecision = hasAudit ? listening(decide(() => true, configuredDefault)) : enforced;
  let translatedSource: TranslatedSource | undefined;
  if (enforced.verdict === 'allow') {
    const by = LEVELS.flatMap((level) => policy.levels[level]).find((r) => r.model.snat && matches(r));
    translatedSource = by?.model.snat
      ? { by: 'rule', rule: by.ref, addresses: by.model.snat.addresses.map((a) => a.text) }
      : { by: 'device', snat: device.snat, addresses: device.snatAddresses.map((a) => a.text) };
  }
  const sorted = (gateways: readonly { text: string }[]) => gateways.map((g) => g.text).sort();
  const redirect = redirectedBy?.model.redirect;
  const nextHop: NextHop | undefined =
    enforced.verdict !== 'allow'
      ? undefined
      : redirect
        ? { via: 'gateways', gateways: sorted(redirect.gateways), redirect: redirect.name }
        : device.gateways.length
          ? { via: 'gateways', gateways: sorted(device.gateways) }
          : { via: 'routing-table', gateways: [] };
  return {
    ...(translatedSource ? { translatedSource } : {}),
    ...(nextHop ? { nextHop } : {}),
    verdict: enforced.verdict,
    wouldBe: wouldBeDecision.verdict,
    enforced,
    wouldBeDecision,
  };
}
