/**
 * Rule status describes what the firewall enforces (the deployed plan), not what the CR says:
 * an edited CR is Ready=False/SpecNotDeployed and observedGeneration stays at the generation
 * whose spec equals the plan's.
 */
import { silentLogger } from '../../lib/controller/log';
import { RuleObject, RuleStatus, StatusReporter } from '../../lib/controller/status';
import type { ListState } from '../../lib/controller/sync/list-reconciler';
import { FakeClock } from './support/fake-clock';
import { PLAN_FORMAT, PlanRule, SyncPlan, ruleSpecDigest } from '../../lib/policy/plan';

const SPEC = { action: 'Allow', priority: 100, destinations: [{ cidr: '198.51.100.0/24' }] };
const LIST = '/Common/Shared/k8s_c_src_ns_payments';
const PLAN: SyncPlan = {
  format: PLAN_FORMAT,
  cluster: 'c',
  tenant: 't',
  application: 'egress',
  routeDomain: 0,
  lists: [
    {
      path: LIST,
      taskId: '~Common~Shared~k8s_c_src_ns_payments',
      source: { level: 'namespace', namespace: 'payments' } as never,
      rules: ['namespace/payments/partner'],
    },
  ],
  rules: [
    {
      key: 'namespace/payments/partner',
      kind: 'NamespaceEgressRule',
      name: 'partner',
      namespace: 'payments',
      sourceList: LIST,
      specDigest: ruleSpecDigest(SPEC),
    },
  ],
};
const RULE = PLAN.rules[0] as PlanRule;
const SYNCED: ListState = {
  path: LIST,
  active: true,
  desired: 3,
  pushed: 3,
  lastSyncAt: Date.parse('2026-01-05T10:00:00Z'),
  pending: false,
};

function cr(generation: number, spec: unknown, uid = 'uid-1'): RuleObject {
  return { kind: 'NamespaceEgressRule', namespace: 'payments', name: 'partner', uid, generation, specDigest: ruleSpecDigest(spec) };
}

function reporter() {
  let object: RuleObject | undefined;
  const written: RuleStatus[] = [];
  const status = new StatusReporter({
    plan: PLAN,
    listState: () => SYNCED,
    ruleObject: () => object,
    synced: () => true,
    log: silentLogger,
    clock: new FakeClock('2026-01-05T10:00:01Z'),
    writer: { patchStatus: async (_rule, s) => void written.push(s) },
  });
  /** What the informer delivers: the reporter is told, and the cache holds it. */
  const deliver = (o: RuleObject) => {
    object = o;
    status.observe(o);
  };
  return { status, deliver, written };
}

describe('rule status against the deployed plan', () => {
  test('the spec of the plan: Synced at the CR generation', () => {
    const { status, deliver } = reporter();
    deliver(cr(1, { ...SPEC }));
    expect(status.desired(RULE)).toEqual({
      observedGeneration: 1,
      members: 3,
      lastSyncTime: '2026-01-05T10:00:00Z',
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Synced',
          message: 'in force with 3 pod addresses',
          observedGeneration: 1,
          lastTransitionTime: '2026-01-05T10:00:01Z',
        },
      ],
    });
  });

  test('a key order other than the plan compares equal (the API server does not keep key order)', () => {
    const { status, deliver } = reporter();
    deliver(cr(1, { destinations: [{ cidr: '198.51.100.0/24' }], priority: 100, action: 'Allow' }));
    expect(status.desired(RULE).conditions[0]).toMatchObject({ status: 'True', reason: 'Synced' });
  });

  test('an edited CR: SpecNotDeployed, observedGeneration stays at the enforced generation; undoing the edit is Synced again', () => {
    const { status, deliver } = reporter();
    deliver(cr(1, SPEC));
    deliver(cr(2, { ...SPEC, priority: 101 }));
    const edited = status.desired(RULE);
    expect(edited.observedGeneration).toBe(1);
    expect(edited.members).toBe(3); // the firewall still enforces the deployed rule with its members
    expect(edited.conditions[0]).toEqual({
      type: 'Ready',
      status: 'False',
      reason: 'SpecNotDeployed',
      message:
        'the spec of generation 2 differs from the deployed plan; the firewall enforces generation 1. Run cdktf deploy, or undo the edit',
      observedGeneration: 2,
      lastTransitionTime: '2026-01-05T10:00:01Z',
    });
    deliver(cr(3, SPEC));
    expect(status.desired(RULE)).toMatchObject({ observedGeneration: 3, conditions: [{ reason: 'Synced', observedGeneration: 3 }] });
  });

  test('an edit seen before any matching generation (a restart after the edit): observedGeneration is left out, so the merge patch keeps the stored one', () => {
    const { status, deliver } = reporter();
    deliver(cr(4, { ...SPEC, destinations: [] }));
    const s = status.desired(RULE);
    expect(s).not.toHaveProperty('observedGeneration');
    expect(s.conditions[0]).toMatchObject({
      status: 'False',
      reason: 'SpecNotDeployed',
      observedGeneration: 4,
      message:
        'the spec of generation 4 differs from the deployed plan; the firewall enforces the spec of the last deploy. Run cdktf deploy, or undo the edit',
    });
  });

  test("a CR deleted and created again with another spec: the old object's generation is not reported as enforced", () => {
    const { status, deliver } = reporter();
    deliver(cr(5, SPEC, 'uid-1'));
    deliver(cr(1, { ...SPEC, action: 'Deny' }, 'uid-2'));
    const s = status.desired(RULE);
    expect(s).not.toHaveProperty('observedGeneration');
    expect(s.conditions[0]).toMatchObject({ reason: 'SpecNotDeployed', observedGeneration: 1 });
  });

  test('flush writes the changed status once', async () => {
    const { status, deliver, written } = reporter();
    deliver(cr(1, SPEC));
    status.start();
    await status.stop();
    deliver(cr(2, { ...SPEC, priority: 7 }));
    status.start();
    await status.stop();
    expect(written.map((s) => s.conditions[0].reason)).toEqual(['Synced', 'SpecNotDeployed']);
  });
});
