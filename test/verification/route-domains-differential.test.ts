/**
 * The rendering proof with namespaces in route domains of their own: random policies and
 * clusters in which one or two namespaces are mapped to route domains, and pods of different
 * route domains hold the same addresses (a mapped namespace's pods are copied, addresses and
 * all, into another mapped namespace or into a namespace of the device's route domain). The
 * AFM evaluator over what the device receives must agree with the intent evaluator on every
 * flow: a rule of one namespace never decides for a pod of another that has the same address.
 */
import fc from 'fast-check';
import type { ClusterSnapshot, PodInfo } from '../../lib/policy/membership';
import type { AddressModel, NamespaceRouteDomainModel, PolicyModel } from '../../lib/policy/model';
import { podAtAddress, routeDomainOfPod } from '../../lib/policy/route-domains';
import { NAMESPACES } from '../support/arbitraries';
import { describeDivergence, evaluateBoth, renderWorld } from './harness';
import { POD_CIDR_V6, Scenario, scenarioArb } from './scenarios';

const POLICIES = Number(process.env.DIFFERENTIAL_RUNS ?? 2000) / 4;
const POD_CIDR_V4: AddressModel = { kind: 'cidr', text: '10.244.0.0/16', family: 4 };
/** The lower half of the generated pods' networks: pods on subnets from 128 up are outside. */
const HALVES: AddressModel[] = [
  { kind: 'cidr', text: '10.244.0.0/17', family: 4 },
  { kind: 'cidr', text: 'fd00:10:244::/57', family: 6 },
];

interface MappingDraw {
  /** Indexes into NAMESPACES of the mapped namespaces (one or two). */
  readonly namespaces: readonly number[];
  /** Route-domain ids to give them (never the device's). */
  readonly ids: readonly number[];
  /** Whether the second mapping is named by path. */
  readonly named: boolean;
  /** Per mapping: the device's pod networks, or only their lower half (some pods are then outside). */
  readonly halves: readonly boolean[];
  /** For each pod of a mapped namespace: copy it into another namespace (index), or not. */
  readonly twins: readonly (number | undefined)[];
}

const mappingDrawArb: fc.Arbitrary<MappingDraw> = fc.record({
  namespaces: fc.uniqueArray(fc.nat(NAMESPACES.length - 1), { minLength: 1, maxLength: 2 }),
  ids: fc.uniqueArray(fc.constantFrom(1, 11, 12, 65534), { minLength: 2, maxLength: 2 }),
  named: fc.boolean(),
  halves: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
  twins: fc.array(fc.option(fc.nat(NAMESPACES.length - 1), { nil: undefined, freq: 2 }), { minLength: 16, maxLength: 16 }),
});

/**
 * A scenario with mapped namespaces. The mappings' pod CIDRs are the device's own (or the
 * generated pods' networks when the device has none): every mapped namespace overlaps the
 * device's route domain and the other mapped namespace. A mapping may also take only the lower half of the pod networks, so some of its
 * namespace's pods send from outside its pod CIDRs. Twins hold exactly their original's
 * addresses, in another namespace.
 */
function withMappings(scenario: Scenario, draw: MappingDraw): Scenario {
  const { model, snapshot } = scenario;
  const device = model.device;
  const cidrs = device.podCidrs.length ? device.podCidrs : [POD_CIDR_V4, POD_CIDR_V6];
  const ids = draw.ids.filter((id) => id !== device.routeDomain);
  if (ids.length < draw.namespaces.length) ids.push(...[13, 14].filter((id) => id !== device.routeDomain));
  const mappings: NamespaceRouteDomainModel[] = draw.namespaces.map((n, i) => ({
    namespace: NAMESPACES[n],
    routeDomain: ids[i],
    ...(draw.named && i === 1 ? { routeDomainPath: `/Common/rd-${NAMESPACES[n]}` } : {}),
    vlans: [`/Common/vlan-${NAMESPACES[n]}`],
    podCidrs: draw.halves[i] ? HALVES : cidrs,
  }));
  const mapped = new Set(mappings.map((m) => m.namespace));
  const twins: PodInfo[] = [];
  snapshot.pods.forEach((pod, i) => {
    const to = draw.twins[i % draw.twins.length];
    if (!mapped.has(pod.namespace) || to === undefined || NAMESPACES[to] === pod.namespace) return;
    twins.push({ ...pod, namespace: NAMESPACES[to], name: `${pod.name}-twin` });
  });
  // Two pods of one route domain never share an address: a twin lands in another route domain.
  const twinsApart = twins.filter((t) => {
    const rd = routeDomainOfPod({ ...device, namespaceRouteDomains: mappings }, t);
    return !snapshot.pods.some(
      (p) => p.ips.some((ip) => t.ips.includes(ip)) && routeDomainOfPod({ ...device, namespaceRouteDomains: mappings }, p) === rd,
    );
  });
  const mappedModel: PolicyModel = {
    ...model,
    // A SNAT pool's addresses are in the device's route domain: mappings need automap or none.
    device: { ...device, namespaceRouteDomains: mappings, ...(device.snat === 'POOL' ? { snat: 'AUTOMAP', snatAddresses: [] } : {}) },
  };
  const mappedSnapshot: ClusterSnapshot = { ...snapshot, pods: [...snapshot.pods, ...twinsApart] };
  // The generated flows again from each twin: the same addresses, another route domain.
  const twinFlows = scenario.flows.flatMap((f) => {
    const twin = twinsApart.find((t) => t.name === `${f.pod.name}-twin`);
    return twin ? [{ ...f, pod: twin }] : [];
  });
  return { ...scenario, model: mappedModel, snapshot: mappedSnapshot, flows: [...scenario.flows, ...twinFlows] };
}

const mappedScenarioArb = fc.tuple(scenarioArb(10), mappingDrawArb).map(([s, d]) => withMappings(s, d));

function check(scenario: Scenario): { flows: number; kinds: Set<string> } {
  const world = renderWorld(scenario.model);
  const kinds = new Set<string>();
  const device = scenario.model.device;
  for (const flow of scenario.flows) {
    const outcome = evaluateBoth(world, scenario, flow);
    try {
      expect(outcome.afmReading).toEqual(outcome.intentReading);
    } catch {
      throw new Error(describeDivergence(scenario, flow, outcome));
    }
    const rd = routeDomainOfPod(device, flow.pod);
    // The packet's (address, route domain) leads back to its pod, twins included.
    if (flow.pod.ips.includes(flow.sourceIp) && !flow.pod.hostNetwork && !flow.pod.terminating && flow.pod.phase === 'Running')
      expect(podAtAddress(scenario.snapshot, device, flow.sourceIp, rd)).toBe(flow.pod);
    if (rd !== device.routeDomain) kinds.add('flow in a mapped route domain');
    if (flow.pod.name.endsWith('-twin')) kinds.add('flow from an address another route domain holds too');
    const level = outcome.intent.enforced.levels.find((l) => l.outcome === 'match');
    if (rd !== device.routeDomain && level?.outcome === 'match') kinds.add(`${level.level} rule matches in a mapped route domain`);
    if (rd !== device.routeDomain && outcome.intent.enforced.basis === 'no-listener') kinds.add("outside its mapping's pod CIDRs");
    if (outcome.afm.enforced.steps[1]?.outcome === 'match' && rd !== device.routeDomain) kinds.add('mapped route-domain context decides');
  }
  return { flows: scenario.flows.length, kinds };
}

describe('differential with namespaces in route domains of their own (overlapping pod addresses)', () => {
  test(`${POLICIES} random policies agree on every flow`, () => {
    let flows = 0;
    fc.assert(
      fc.property(mappedScenarioArb, (scenario) => {
        flows += check(scenario).flows;
      }),
      { numRuns: POLICIES },
    );
    expect(flows).toBeGreaterThan(POLICIES);
  });

  test('the generated worlds reach the interesting cases (so agreement is not vacuous)', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(mappedScenarioArb, (scenario) => {
        for (const k of check(scenario).kinds) seen.add(k);
      }),
      { numRuns: 200, seed: 20261201 },
    );
    expect([...seen].sort()).toEqual([
      'cluster rule matches in a mapped route domain',
      'flow from an address another route domain holds too',
      'flow in a mapped route domain',
      'mapped route-domain context decides',
      'namespace rule matches in a mapped route domain',
      "outside its mapping's pod CIDRs",
      'service rule matches in a mapped route domain',
    ]);
  });
});
