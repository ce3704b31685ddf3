/** The Ready condition of a rule that matches the pod CIDRs themselves: no list to wait for. */
import { StatusReporter } from '../../lib/controller/status';
import type { PlanRule, SyncPlan } from '../../lib/policy/plan';
import { PLAN_FORMAT } from '../../lib/policy/plan';

const byCidr: PlanRule = {
  key: 'cluster/emergency',
  kind: 'ClusterEgressRule',
  name: 'emergency',
  sourceList: '/Common/Shared/k8s_src_pod_cidrs',
  memberLists: [],
  specDigest: 'd1',
};
const byList: PlanRule = {
  key: 'cluster/ntp',
  kind: 'ClusterEgressRule',
  name: 'ntp',
  sourceList: '/Common/Shared/k8s_src_cluster',
  memberLists: ['/Common/Shared/k8s_src_cluster'],
  specDigest: 'd2',
};
const plan: SyncPlan = {
  format: PLAN_FORMAT,
  cluster: 'c',
  tenant: 'k8s',
  application: 'egress',
  routeDomain: 0,
  lists: [
    {
      path: '/Common/Shared/k8s_src_cluster',
      taskId: '~Common~Shared~k8s_src_cluster',
      source: { level: 'cluster' },
      rules: ['cluster/ntp'],
    },
  ],
  rules: [byCidr, byList],
};

test('a rule over the pod CIDRs is in force without a list; a rule over a list waits for its push', () => {
  const log = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} } as never;
  const reporter = new StatusReporter({
    plan,
    listState: () => undefined,
    ruleObject: () => undefined,
    writer: { patchStatus: async () => {} },
    log,
    synced: () => true,
    clock: { now: () => 0, schedule: () => () => {}, sleep: async () => {} },
  });
  expect(reporter.desired(byCidr).conditions[0]).toMatchObject({
    type: 'Ready',
    status: 'True',
    reason: 'PodCidrs',
    message: 'in force: the rule matches the pod CIDRs themselves, with no list to sync',
  });
  expect(reporter.desired(byCidr).members).toBeUndefined();
  expect(reporter.desired(byList).conditions[0]).toMatchObject({ type: 'Ready', status: 'False', reason: 'NotInPlan' });
});

test('a hand-edited rule over the pod CIDRs is reported as not deployed, like any other rule', () => {
  const log = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} } as never;
  const edited = { kind: 'ClusterEgressRule', name: 'emergency', generation: 2, uid: 'u1', specDigest: 'edited' } as never;
  const reporter = new StatusReporter({
    plan,
    listState: () => undefined,
    ruleObject: () => edited,
    writer: { patchStatus: async () => {} },
    log,
    synced: () => true,
    clock: { now: () => 0, schedule: () => () => {}, sleep: async () => {} },
  });
  expect(reporter.desired(byCidr).conditions[0]).toMatchObject({ type: 'Ready', status: 'False', reason: 'SpecNotDeployed' });
});
