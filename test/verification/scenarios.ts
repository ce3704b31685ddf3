/**
 * Random worlds for the differential tests: a valid policy (from the shared `policyArb`), a
 * cluster snapshot consistent with the device, DNS answers and flows aimed at the interesting
 * points of the policy (CIDR edges, range ends, resolved names, wildcard neighbours, port-range
 * edges, window boundaries, expiry).
 */
import fc from 'fast-check';
import { ClusterSnapshot, NamespaceInfo, PodInfo, ServiceInfo, podEligible, sourceIncludesPod } from '../../lib/policy/membership';
import { formatIp, parseAddressEntry } from '../../lib/policy/ip';
import { AddressModel, DestinationModel, PolicyModel, RuleModel, ScheduleModel, SelectorModel } from '../../lib/policy/model';
import { windowOpen } from '../../lib/policy/schedule';
import { FQDNS, LABEL_KEYS, LABEL_VALUES, NAMESPACES, SERVICES, policyArb } from '../support/arbitraries';

export const POD_CIDR_V6: AddressModel = { kind: 'cidr', text: 'fd00:10:244::/56', family: 6 };
/** Node addresses: what host-network pods send from (outside every pod CIDR). */
export const NODE_IPS = ['192.168.0.1', '192.168.0.2'];

/** Host names the flows ask for: the policy's names, names under its wildcards, and near misses. */
export const HOSTS = [
  ...FQDNS,
  'x.svc.example.org',
  'c.example.net',
  'deep.a.svc.example.org',
  'svc.example.org',
  'example.net',
  'api.stripe.com.evil.example',
  'other.example.com',
];

export interface ScenarioFlow {
  readonly pod: PodInfo;
  readonly sourceIp: string;
  readonly destinationIp?: string;
  readonly host?: string;
  readonly protocol: string;
  readonly port?: number;
  readonly at: Date;
}

export interface Scenario {
  readonly model: PolicyModel;
  readonly snapshot: ClusterSnapshot;
  readonly dns: ReadonlyMap<string, readonly string[]>;
  readonly flows: readonly ScenarioFlow[];
}

const labelsArb = fc.dictionary(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES), { maxKeys: 3 }).map((l) => ({ ...l }));

/** A valid policy whose devices with pod CIDRs are IPv4, dual stack or IPv6 only. */
export const worldPolicyArb: fc.Arbitrary<PolicyModel> = fc
  .tuple(policyArb({ maxRules: 12 }), fc.constantFrom('v4' as const, 'dual' as const, 'v6' as const))
  .map(([model, stack]) => {
    if (!model.device.podCidrs.length || stack === 'v4') return model;
    return { ...model, device: { ...model.device, podCidrs: stack === 'dual' ? [...model.device.podCidrs, POD_CIDR_V6] : [POD_CIDR_V6] } };
  });

/**
 * An address of the device's pod network of a family that no pod of the snapshots holds: the
 * generated pods get `10.<network>.<subnet>.<i + 1>`, never `.0`, and the same in IPv6.
 */
export function unheldPodAddress(model: PolicyModel, family: 4 | 6): string {
  const cidr = model.device.podCidrs.find((c) => c.family === family);
  if (!cidr) return family === 4 ? '10.244.7.0' : 'fd00:10:244:7::';
  return formatIp(family, parseAddressEntry(cidr.text).first + (family === 4 ? 7n << 8n : 7n << 64n));
}

/** The sender of a flow from an address no pod holds: in no source, as the contract reads it. */
export const NO_POD: PodInfo = { namespace: 'kube-system', name: '(no pod)', labels: {}, ips: [], phase: 'Pending' };

type PodState = 'Running' | 'Pending' | 'Succeeded' | 'Failed' | 'terminating' | 'hostNetwork' | 'no-ip';

const podStateArb: fc.Arbitrary<PodState> = fc.oneof(
  { weight: 12, arbitrary: fc.constant('Running' as const) },
  { weight: 2, arbitrary: fc.constant('Pending' as const) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('Succeeded' as const, 'Failed' as const, 'terminating' as const, 'hostNetwork' as const, 'no-ip' as const),
  },
);

/** Labels that satisfy `selector`, starting from `base` (the generator aims pods at rules). */
export function satisfying(selector: SelectorModel | undefined, base: Readonly<Record<string, string>>): Record<string, string> {
  const labels: Record<string, string> = { ...base };
  if (!selector) return labels;
  Object.assign(labels, selector.matchLabels);
  for (const e of selector.matchExpressions) {
    if (e.operator === 'In') labels[e.key] = e.values[0];
    else if (e.operator === 'Exists') labels[e.key] = labels[e.key] ?? LABEL_VALUES[0];
    else if (e.operator === 'DoesNotExist') delete labels[e.key];
    else if (labels[e.key] !== undefined && e.values.includes(labels[e.key]))
      labels[e.key] = LABEL_VALUES.find((v) => !e.values.includes(v)) as string;
  }
  return labels;
}

/**
 * Pods, namespaces and services. Pod addresses are unique and inside the device's pod CIDRs
 * (the firewall sees addresses, the contract sees pods: the two only coincide while no address
 * is shared, which Kubernetes guarantees for pods that are not on the host network). IPv6
 * addresses appear only where the device accepts IPv6 pod traffic. Most pods and namespaces
 * are shaped after a random rule's source, so that rules have pods to match.
 */
export function snapshotArb(model: PolicyModel, network = 244): fc.Arbitrary<ClusterSnapshot> {
  const cidrs = model.device.podCidrs;
  const v4 = cidrs.length === 0 || cidrs.some((c) => c.family === 4);
  const v6 = cidrs.length === 0 || cidrs.some((c) => c.family === 6);
  const namespaces = [...NAMESPACES, 'kube-system'];
  const rules = model.rules;
  const podArb = fc.record({
    namespace: fc.constantFrom(...namespaces),
    labels: labelsArb,
    aim: fc.option(fc.nat(), { nil: undefined, freq: 6 }),
    state: podStateArb,
    stack: v4 && v6 ? fc.constantFrom('v4', 'v4', 'dual', 'v6') : fc.constant(v4 ? 'v4' : 'v6'),
    subnet: fc.nat(255),
    node: fc.nat(NODE_IPS.length - 1),
  });
  const selectorArb = fc.dictionary(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES), { minKeys: 1, maxKeys: 2 });
  return fc
    .record({
      pods: fc.array(podArb, { minLength: 1, maxLength: 16 }),
      namespaces: fc.array(
        fc.tuple(
          fc.oneof({ weight: 12, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
          labelsArb,
          fc.option(fc.nat(), { nil: undefined, freq: 3 }),
        ),
        {
          minLength: namespaces.length,
          maxLength: namespaces.length,
        },
      ),
      services: fc.array(
        fc.oneof(
          { weight: 8, arbitrary: selectorArb as fc.Arbitrary<Record<string, string> | undefined> },
          { weight: 1, arbitrary: fc.constant({}) },
          { weight: 1, arbitrary: fc.constant(undefined) },
        ),
        { minLength: NAMESPACES.length * SERVICES.length, maxLength: NAMESPACES.length * SERVICES.length },
      ),
    })
    .map((r) => {
      const services: ServiceInfo[] = [];
      NAMESPACES.forEach((namespace, i) =>
        SERVICES.forEach((name, j) => {
          const selector = r.services[i * SERVICES.length + j];
          services.push({ namespace, name, ...(selector !== undefined ? { selector } : {}) });
        }),
      );
      const clusterRules = rules.filter((x) => x.source.namespaceSelector);
      const nsInfos: NamespaceInfo[] = [];
      namespaces.forEach((name, i) => {
        const [present, labels, aim] = r.namespaces[i];
        const target =
          aim !== undefined && clusterRules.length ? clusterRules[aim % clusterRules.length].source.namespaceSelector : undefined;
        // A namespace object can be missing from a snapshot (a cache that has not caught up).
        if (present) nsInfos.push({ name, labels: { ...satisfying(target, labels), 'kubernetes.io/metadata.name': name } });
      });
      const pods: PodInfo[] = r.pods.map((p, i) => {
        let namespace = p.namespace;
        let labels: Record<string, string> = p.labels;
        if (p.aim !== undefined && rules.length) {
          const src = rules[p.aim % rules.length].source;
          if (src.namespace) namespace = src.namespace;
          if (src.level === 'service') {
            labels = { ...labels, ...(services.find((s) => s.namespace === src.namespace && s.name === src.service)?.selector ?? {}) };
          } else {
            labels = satisfying(src.podSelector, labels);
          }
        }
        // The first pod always runs, so every world has a source to send from.
        const state: PodState = i === 0 ? 'Running' : p.state;
        const ips: string[] = [];
        if (state === 'hostNetwork') {
          ips.push(NODE_IPS[p.node]);
        } else if (state !== 'no-ip') {
          if (p.stack !== 'v6') ips.push(`10.${network}.${p.subnet}.${i + 1}`);
          if (p.stack !== 'v4') ips.push(`fd00:10:${network}:${p.subnet.toString(16)}::${(i + 1).toString(16)}`);
        }
        return {
          namespace,
          name: `pod-${i}`,
          labels,
          ips,
          phase: state === 'no-ip' ? 'Pending' : state === 'terminating' || state === 'hostNetwork' ? 'Running' : state,
          ...(state === 'terminating' ? { terminating: true } : {}),
          ...(state === 'hostNetwork' ? { hostNetwork: true } : {}),
        };
      });
      return { pods, namespaces: nsInfos, services };
    });
}

function addressesOf(model: PolicyModel): AddressModel[] {
  const out: AddressModel[] = [];
  const add = (d: DestinationModel) => {
    if (d.kind === 'address' || d.kind === 'cidr' || d.kind === 'range') out.push(d);
  };
  model.rules.forEach((r) => r.destinations.forEach(add));
  model.externalServices.forEach((es) => es.destinations.forEach(add));
  return out;
}

/** Addresses on and just beside the edges of every address destination of the policy. */
export function interestingAddresses(model: PolicyModel): string[] {
  const out = new Set<string>();
  for (const a of addressesOf(model)) {
    const e = parseAddressEntry(a.text);
    const max = e.family === 4 ? (1n << 32n) - 1n : (1n << 128n) - 1n;
    for (const v of [e.first, e.last, (e.first + e.last) / 2n, e.first - 1n, e.last + 1n])
      if (v >= 0n && v <= max) out.add(formatIp(e.family, v));
  }
  return [...out];
}

const randomV4 = fc.tuple(fc.constantFrom(10, 192, 198, 203), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const randomV6 = fc.tuple(fc.nat(0xffff), fc.nat(0xffff)).map(([a, b]) => `2001:db8::${a.toString(16)}:${b.toString(16)}`);

/** DNS answers for some of the host names, drawn partly from the policy's own addresses. */
export function dnsArb(model: PolicyModel): fc.Arbitrary<Map<string, string[]>> {
  const interesting = interestingAddresses(model);
  const ip = interesting.length ? fc.oneof(fc.constantFrom(...interesting), randomV4, randomV6) : fc.oneof(randomV4, randomV6);
  return fc
    .array(fc.option(fc.uniqueArray(ip, { minLength: 1, maxLength: 3 }), { nil: undefined, freq: 2 }), {
      minLength: HOSTS.length,
      maxLength: HOSTS.length,
    })
    .map((answers) => {
      const dns = new Map<string, string[]>();
      HOSTS.forEach((h, i) => {
        if (answers[i]) dns.set(h, answers[i] as string[]);
      });
      return dns;
    });
}

const WEEK_START = Date.parse('2026-03-02T00:00:00Z'); // a Monday; US daylight saving starts on the 8th
/** Times: half-hour marks (every window edge in the generated zones is one) and a minute before them, plus instants past the generated expiries. */
export const timeArb: fc.Arbitrary<Date> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.tuple(fc.nat(7 * 48 - 1), fc.constantFrom(0, -60_000, 60_000)).map(([k, d]) => new Date(WEEK_START + k * 1_800_000 + d)),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('2098-06-30T11:59:59Z', '2098-06-30T12:00:00Z', '2098-12-31T23:59:59Z', '2099-01-01T00:00:00Z', '2099-06-01T10:00:00Z')
      .map((t) => new Date(t)),
  },
);

const PROTOCOLS = ['tcp', 'tcp', 'tcp', 'udp', 'udp', 'sctp', 'icmp', 'ipv6-icmp', 'gre'];
const PORTED = new Set(['tcp', 'udp', 'sctp']);

function interestingPorts(model: PolicyModel): number[] {
  const out = new Set([22, 53, 80, 443, 8443]);
  for (const r of model.rules) {
    for (const p of r.ports) {
      if (p.fromPort === undefined) continue;
      for (const v of [p.fromPort, p.toPort ?? p.fromPort, p.fromPort - 1, (p.toPort ?? p.fromPort) + 1])
        if (v >= 1 && v <= 65535) out.add(v);
    }
  }
  return [...out];
}

/** Whether the device's virtual server accepts traffic from this address. */
export function insidePodCidrs(model: PolicyModel, ip: string): boolean {
  const cidrs = model.device.podCidrs;
  if (cidrs.length === 0) return true;
  return cidrs.some((c) => {
    const e = parseAddressEntry(c.text);
    const a = parseAddressEntry(ip);
    return e.family === a.family && a.first >= e.first && a.first <= e.last;
  });
}

interface FlowDraw {
  /** Aim at this rule (index modulo the rule count): a source it covers, its destinations and ports. */
  readonly aim?: number;
  readonly pod: number;
  readonly ip: number;
  readonly form: 'ip' | 'host' | 'both';
  readonly target: number;
  readonly randomDestination: number;
  readonly host: number;
  readonly protocol: string;
  readonly port: number;
  readonly randomPort: boolean;
  readonly at: Date;
  /** For a flow aimed at a windowed rule: pick a time inside the window (index into its open half-hours). */
  readonly inWindow?: number;
}

const flowDrawArb: fc.Arbitrary<FlowDraw> = fc.record({
  aim: fc.option(fc.nat(), { nil: undefined, freq: 5 }),
  pod: fc.nat(),
  ip: fc.nat(),
  form: fc.oneof(
    { weight: 3, arbitrary: fc.constant('ip' as const) },
    { weight: 1, arbitrary: fc.constant('host' as const) },
    { weight: 2, arbitrary: fc.constant('both' as const) },
  ),
  target: fc.nat(),
  randomDestination: fc.nat(0xffffff),
  host: fc.nat(HOSTS.length - 1),
  protocol: fc.constantFrom(...PROTOCOLS),
  port: fc.nat(),
  randomPort: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  at: timeArb,
  inWindow: fc.option(fc.nat(), { nil: undefined, freq: 6 }),
});

const openTimes = new Map<string, Date[]>();
/** Half-hour marks of the generated week at which the window is open (and a minute either side of its edges). */
function timesInside(schedule: ScheduleModel): Date[] {
  const key = JSON.stringify(schedule);
  let out = openTimes.get(key);
  if (!out) {
    out = [];
    for (let k = 0; k < 7 * 48; k++) {
      for (const d of [0, -60_000]) {
        const t = new Date(WEEK_START + k * 1_800_000 + d);
        if (windowOpen(schedule, t)) out.push(t);
      }
    }
    openTimes.set(key, out);
  }
  return out;
}

interface Target {
  readonly ip?: string;
  readonly host?: string;
}

const familyOf = (ip: string): 4 | 6 => (ip.includes(':') ? 6 : 4);

/** Points inside an address entry (weighted up) and just outside it. */
function edgePoints(text: string): string[] {
  const e = parseAddressEntry(text);
  const max = e.family === 4 ? (1n << 32n) - 1n : (1n << 128n) - 1n;
  const mid = (e.first + e.last) / 2n;
  return [e.first, e.last, mid, e.first, e.last, mid, e.first - 1n, e.last + 1n]
    .filter((v) => v >= 0n && v <= max)
    .map((v) => formatIp(e.family, v));
}

/** Destinations of one rule: its addresses' edges, its names (and names under its wildcards) and their answers. */
function ruleTargets(model: PolicyModel, rule: RuleModel, dns: ReadonlyMap<string, readonly string[]>): Target[] {
  const out: Target[] = [];
  const add = (d: DestinationModel) => {
    if (d.kind === 'externalService') {
      model.externalServices.find((es) => es.name === d.name)?.destinations.forEach(add);
    } else if (d.kind === 'fqdn') {
      const base = d.wildcard ? d.text.slice(2) : d.text;
      const hosts = d.wildcard ? [`x.${base}`, `y.${base}`, `a.b.${base}`, base] : [d.text];
      const under = (n: string) => n.endsWith(`.${base}`) && !n.slice(0, -base.length - 1).includes('.');
      const answered = [...dns].filter(([n]) => (d.wildcard ? under(n) : n === d.text));
      for (const host of hosts) out.push({ host });
      for (const [host, ips] of answered) for (const ip of ips) out.push({ ip }, { host, ip });
    } else {
      for (const ip of edgePoints(d.text)) out.push({ ip });
    }
  };
  rule.destinations.forEach(add);
  return out;
}

/** Any destination: the policy's address edges, resolved names, near-miss names. */
function worldTargets(model: PolicyModel, dns: ReadonlyMap<string, readonly string[]>, d: FlowDraw): Target[] {
  const host = HOSTS[d.host];
  if (d.form === 'host') return [{ host }];
  if (d.form === 'both') {
    // A pod connects to an address its resolver gave it for the name (or, unresolved, anywhere).
    const answers = dns.get(host) ?? interestingAddresses(model);
    return answers.map((ip) => ({ host, ip }));
  }
  return [...interestingAddresses(model), ...[...dns.values()].flat()].map((ip) => ({ ip }));
}

/**
 * Turns a draw into a flow of the world. `sources` says which pod addresses may send (the
 * differential property: every address the device's virtual server accepts).
 */
export function materializeFlow(
  model: PolicyModel,
  snapshot: ClusterSnapshot,
  dns: ReadonlyMap<string, readonly string[]>,
  d: FlowDraw,
  sources: (p: PodInfo, ip: string) => boolean,
): ScenarioFlow | undefined {
  const senders = snapshot.pods.filter((p) => p.ips.some((ip) => sources(p, ip)));
  if (senders.length === 0) return undefined;
  const rule = d.aim !== undefined && model.rules.length ? model.rules[d.aim % model.rules.length] : undefined;
  let candidates = senders;
  if (rule) {
    const service = snapshot.services.find((s) => s.namespace === rule.source.namespace && s.name === rule.source.service);
    const namespaceLabels = (p: PodInfo) => snapshot.namespaces.find((n) => n.name === p.namespace)?.labels;
    const covered = senders.filter((p) => podEligible(p) && sourceIncludesPod(rule.source, p, namespaceLabels(p), service));
    if (covered.length) candidates = covered;
  }
  const pod = candidates[d.pod % candidates.length];
  const podIps = pod.ips.filter((ip) => sources(pod, ip));
  const families = new Set(podIps.map(familyOf));
  const randomIp = (family: 4 | 6) =>
    family === 4
      ? `198.${(d.randomDestination >> 16) & 255}.${(d.randomDestination >> 8) & 255}.${d.randomDestination & 255}`
      : `2001:db8::${(d.randomDestination & 0xffff).toString(16)}`;
  const all = rule ? ruleTargets(model, rule, dns) : worldTargets(model, dns, d);
  const usable = all.filter((t) => !t.ip || families.has(familyOf(t.ip)));
  const target: Target = usable.length ? usable[d.target % usable.length] : { ip: randomIp(familyOf(podIps[0])) };
  const sameFamily = target.ip ? podIps.filter((ip) => familyOf(ip) === familyOf(target.ip as string)) : podIps;
  const sourceIp = sameFamily[d.ip % sameFamily.length];

  let protocol = d.protocol;
  let port: number | undefined;
  const portModel = rule && rule.ports.length ? rule.ports[d.port % rule.ports.length] : undefined;
  if (portModel) protocol = portModel.protocol;
  if (PORTED.has(protocol)) {
    if (portModel?.fromPort !== undefined) {
      const to = portModel.toPort ?? portModel.fromPort;
      const mid = Math.floor((portModel.fromPort + to) / 2);
      const options = [portModel.fromPort, to, mid, portModel.fromPort, to, mid, portModel.fromPort - 1, to + 1].filter(
        (v) => v >= 1 && v <= 65535,
      );
      port = options[(d.port >> 4) % options.length];
    } else {
      const ports = interestingPorts(model);
      port = d.randomPort ? 1 + (d.port % 65535) : ports[d.port % ports.length];
    }
  }
  let at = d.at;
  if (rule?.schedule && d.inWindow !== undefined) {
    const inside = timesInside(rule.schedule);
    if (inside.length) at = inside[d.inWindow % inside.length];
  }
  return {
    pod,
    sourceIp,
    ...(target.ip ? { destinationIp: target.ip } : {}),
    ...(target.host ? { host: target.host } : {}),
    protocol,
    ...(port !== undefined ? { port } : {}),
    at,
  };
}

/**
 * A whole world with up to `maxFlows` flows, from any pod address (inside or outside the
 * device's pod CIDRs).
 */
export function scenarioArb(maxFlows = 12, policies: fc.Arbitrary<PolicyModel> = worldPolicyArb): fc.Arbitrary<Scenario> {
  return policies.chain((model) =>
    fc
      .tuple(snapshotArb(model), dnsArb(model), fc.array(flowDrawArb, { minLength: 1, maxLength: maxFlows }))
      .map(([snapshot, dns, draws]) => world(model, snapshot, dns, draws)),
  );
}

function world(model: PolicyModel, snapshot: ClusterSnapshot, dns: Map<string, string[]>, draws: readonly FlowDraw[]): Scenario {
  const flows = draws.map((d) => materializeFlow(model, snapshot, dns, d, () => true)).filter((f): f is ScenarioFlow => f !== undefined);
  // The first flows again, sent from an address of the pod networks that no pod holds: only a
  // rule that matches the pod CIDRs themselves can match them.
  const unheld = flows
    .slice(0, 3)
    .map((f) => ({ ...f, pod: NO_POD, sourceIp: unheldPodAddress(model, familyOf(f.destinationIp ?? f.sourceIp)) }));
  return { model, snapshot, dns, flows: [...flows, ...unheld] };
}

const podCidrsOf = (network: number): AddressModel[] => [
  { kind: 'cidr', text: `10.${network}.0.0/16`, family: 4 },
  { kind: 'cidr', text: `fd00:10:${network}::/56`, family: 6 },
];

/**
 * Two clusters on one BIG-IP (a SharedBigip): tenants `k8s_a` and `k8s_b`, each in route
 * domain 0, 2 or 3, one DNS. Clusters that share a route domain get disjoint pod CIDRs
 * (SharedBigip requires it); clusters in different route domains reuse the same pod addresses.
 */
export const sharedWorldArb: fc.Arbitrary<{ a: Scenario; b: Scenario }> = fc
  .tuple(worldPolicyArb, worldPolicyArb, fc.constantFrom(0, 2, 3), fc.constantFrom(0, 2, 3))
  .chain(([pa, pb, rdA, rdB]) => {
    const same = rdA === rdB;
    const a: PolicyModel = {
      ...pa,
      device: { ...pa.device, tenant: 'k8s_a', cluster: 'a', routeDomain: rdA, ...(same ? { podCidrs: podCidrsOf(244) } : {}) },
    };
    const b: PolicyModel = {
      ...pb,
      device: { ...pb.device, tenant: 'k8s_b', cluster: 'b', routeDomain: rdB, ...(same ? { podCidrs: podCidrsOf(245) } : {}) },
    };
    const both: PolicyModel = { ...a, rules: [...a.rules, ...b.rules], externalServices: [...a.externalServices, ...b.externalServices] };
    const draws = fc.array(flowDrawArb, { minLength: 1, maxLength: 6 });
    return fc
      .tuple(snapshotArb(a, 244), snapshotArb(b, same ? 245 : 244), dnsArb(both), draws, draws)
      .map(([sa, sb, dns, da, db]) => ({ a: world(a, sa, dns, da), b: world(b, sb, dns, db) }));
  });
