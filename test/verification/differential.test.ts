/**
 * The rendering proof of the README: on random valid policies, clusters, DNS answers, flows
 * and times, the AFM evaluator over what the device receives (AS3 JSON + tmsh commands + the
 * controller's list members) gives the same verdict, would-be verdict, deciding rule and
 * per-level path as the intent evaluator over the policy model.
 */
import fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import { NO_POD, POD_CIDR_V6, Scenario, insidePodCidrs, scenarioArb, sharedWorldArb } from './scenarios';
import { describeDivergence, evaluateBoth, evaluateShared, renderSharedWorld, renderWorld } from './harness';
import { testDevice } from '../support/device';
import { PolicyModel, RuleModel, isEmptySelector } from '../../lib/policy/model';

const POLICIES = Number(process.env.DIFFERENTIAL_RUNS ?? 2000);

function checkScenario(scenario: Scenario): number {
  const world = renderWorld(scenario.model);
  for (const flow of scenario.flows) {
    const outcome = evaluateBoth(world, scenario, flow);
    try {
      expect(outcome.afmReading).toEqual(outcome.intentReading);
    } catch {
      throw new Error(describeDivergence(scenario, flow, outcome));
    }
  }
  return scenario.flows.length;
}

describe('differential: intent evaluator vs AFM evaluator over the rendering', () => {
  test(`${POLICIES} random policies agree on every flow`, () => {
    let policies = 0;
    let flows = 0;
    const started = performance.now();
    fc.assert(
      fc.property(scenarioArb(12), (scenario) => {
        flows += checkScenario(scenario);
        policies++;
      }),
      { numRuns: POLICIES },
    );
    const seconds = (performance.now() - started) / 1000;
    // Figures for the README (not an assertion on time).
    process.stdout.write(`differential: ${policies} policies (incl. shrinking), ${flows} flows, ${seconds.toFixed(1)} s\n`);
    expect(policies).toBeGreaterThanOrEqual(POLICIES);
  });

  test('the generated worlds reach every kind of outcome (so agreement is not vacuous)', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(scenarioArb(12), (scenario) => {
        const world = renderWorld(scenario.model);
        for (const flow of scenario.flows) {
          const { intent, afm } = evaluateBoth(world, scenario, flow);
          seen.add(`verdict:${intent.verdict}`);
          seen.add(`would-be:${intent.wouldBe}`);
          if (intent.verdict !== intent.wouldBe) seen.add('audit changes the verdict');
          for (const s of intent.enforced.levels) if (s.outcome === 'match') seen.add(`${s.level}:${s.rule.action}`);
          if (afm.enforced.decidedBy?.ruleList?.endsWith('_carried_allow')) seen.add('carried ALLOW decides');
          for (const s of intent.enforced.levels) if (s.outcome === 'match' && s.rule.onMatch) seen.add(`${s.level} onMatch iRule runs`);
          if (intent.enforced.basis === 'default') seen.add('default decides');
          if (flow.host && !flow.destinationIp) seen.add('host-only flow');
          if (flow.sourceIp.includes(':')) seen.add('IPv6 flow');
          const cluster = intent.enforced.levels[0];
          if (cluster.outcome === 'match') {
            const rule = scenario.model.rules.find((r) => r.level === 'cluster' && r.name === cluster.rule.name) as RuleModel;
            const everyPod = isEmptySelector(rule.source.namespaceSelector) && isEmptySelector(rule.source.podSelector);
            if (everyPod && world.plan.rules.find((r) => r.key === cluster.rule.key)?.memberLists?.length === 0) {
              seen.add(`pod CIDRs ${rule.action}${flow.pod === NO_POD ? ' for an address no pod holds' : ''}`);
            }
            if (everyPod && rule.action === 'ALLOW') seen.add('every pod by a list: ALLOW');
            if (!isEmptySelector(rule.source.namespaceSelector)) seen.add('namespace-narrowed cluster rule');
          }
          if (scenario.model.device.podCidrs.length === 2) seen.add('dual-stack pod CIDRs');
        }
      }),
      // A fixed seed: the kinds below are a property of the generators, not of one lucky run
      // (some combinations are rare enough that an unseeded run of 300 can miss one).
      { numRuns: 300, seed: 20261201 },
    );
    for (const kind of [
      'verdict:allow',
      'verdict:deny',
      'verdict:reject',
      'would-be:deny',
      'audit changes the verdict',
      'cluster:DENY',
      'cluster:ALLOW_FINAL',
      'cluster:ALLOW',
      'namespace:ALLOW',
      'namespace:REJECT',
      'service:ALLOW',
      'service:DENY',
      'carried ALLOW decides',
      'default decides',
      'host-only flow',
      'IPv6 flow',
      'pod CIDRs DENY',
      'pod CIDRs REJECT',
      'pod CIDRs ALLOW_FINAL',
      'pod CIDRs DENY for an address no pod holds',
      'pod CIDRs ALLOW_FINAL for an address no pod holds',
      'every pod by a list: ALLOW',
      'namespace-narrowed cluster rule',
      'dual-stack pod CIDRs',
      'cluster onMatch iRule runs',
      'namespace onMatch iRule runs',
      'service onMatch iRule runs',
    ]) {
      expect(seen).toContain(kind);
    }
  });
});

describe('differential: two clusters on a shared BIG-IP', () => {
  const RUNS = Math.max(200, Math.floor(POLICIES / 4));
  test(`${RUNS} random pairs of policies: each cluster's flows agree with its own policy`, () => {
    let flows = 0;
    fc.assert(
      fc.property(sharedWorldArb, ({ a, b }) => {
        const world = renderSharedWorld(a.model, b.model);
        (
          [
            [a, 0],
            [b, 1],
          ] as const
        ).forEach(([scenario, which]) => {
          for (const flow of scenario.flows) {
            const outcome = evaluateShared(world, [a, b], which, flow);
            flows++;
            try {
              expect(outcome.afmReading).toEqual(outcome.intentReading);
            } catch {
              const other = which === 0 ? b : a;
              throw new Error(
                `${describeDivergence(scenario, flow, outcome)}\nOTHER CLUSTER on the BIG-IP: tenant ${other.model.device.tenant}, route domain ${other.model.device.routeDomain}, podCidrs ${JSON.stringify(other.model.device.podCidrs.map((c) => c.text))}`,
              );
            }
          }
        });
      }),
      { numRuns: RUNS },
    );
    process.stdout.write(`differential (shared BIG-IP): ${RUNS} pairs, ${flows} flows\n`);
  });
});

describe('differential: cases the contract spells out', () => {
  /**
   * With `podCidrs` set, the egress virtual server only listens for pod-CIDR sources. A
   * host-network pod sends from its node's address, so its traffic reaches no virtual server
   * and BIG-IP drops it, whatever the device default says; the contract says so too.
   */
  test('a host-network pod under defaultAction ALLOW with podCidrs set is dropped: its traffic reaches no egress virtual server', () => {
    const model: PolicyModel = {
      device: testDevice({ defaultAction: 'ALLOW', podCidrs: [{ kind: 'cidr', text: '10.244.0.0/16', family: 4 }, POD_CIDR_V6] }),
      externalServices: [],
      rules: [],
    };
    const pod = { namespace: 'kube-system', name: 'node-exporter', labels: {}, ips: ['192.168.0.1'], phase: 'Running', hostNetwork: true };
    const scenario: Scenario = {
      model,
      snapshot: { pods: [pod], namespaces: [{ name: 'kube-system', labels: {} }], services: [] },
      dns: new Map(),
      flows: [
        { pod, sourceIp: '192.168.0.1', destinationIp: '198.51.100.7', protocol: 'tcp', port: 443, at: new Date('2026-03-02T10:00:00Z') },
      ],
    };
    expect(insidePodCidrs(model, '192.168.0.1')).toBe(false);
    checkScenario(scenario);
  });

  /**
   * Two cluster rules whose sources differ only in an absent versus a present-but-empty
   * namespaceSelector share one source list; both select every namespace, including one the
   * controller's cache does not know.
   */
  test('rules with an absent and an empty namespaceSelector select the same pods', () => {
    const rule = (name: string, action: RuleModel['action'], priority: number, empty: boolean): RuleModel => ({
      level: 'cluster',
      name,
      path: `test/${name}`,
      action,
      priority,
      source: { level: 'cluster', ...(empty ? { namespaceSelector: { matchLabels: {}, matchExpressions: [] } } : {}) },
      destinations: [{ kind: 'cidr', text: '198.51.100.0/24', family: 4 }],
      ports: [],
      logging: false,
      audit: false,
      metadata: {},
    });
    const model: PolicyModel = {
      device: testDevice(),
      externalServices: [],
      rules: [rule('deny-all-namespaces', 'DENY', 0, true), rule('allow-every-pod', 'ALLOW_FINAL', 1, false)],
    };
    const pod = { namespace: 'web', name: 'web-1', labels: {}, ips: ['10.244.0.5'], phase: 'Running' };
    const scenario: Scenario = {
      model,
      snapshot: { pods: [pod], namespaces: [], services: [] },
      dns: new Map(),
      flows: [
        { pod, sourceIp: '10.244.0.5', destinationIp: '198.51.100.7', protocol: 'tcp', port: 443, at: new Date('2026-03-02T10:00:00Z') },
      ],
    };
    checkScenario(scenario);
  });
});
