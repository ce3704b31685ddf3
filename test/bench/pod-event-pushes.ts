/**
 * What one pod event costs the BIG-IP in list pushes: how many source lists it changes (each
 * change is a push of that list's full membership) and how many addresses those pushes carry.
 * Pure and in-process: the compiler, the sync plan and the controller's membership index over
 * 20,000 pods in 100 namespaces (the workload of controller.ts: a namespace rule per namespace,
 * a service rule in all but two, a cluster rule over the `tier: prod` namespaces and one over
 * pods labelled `egress: internet`, 200 lists), plus the three cluster rules over every pod a
 * security team writes (an emergency DENY, DNS as ALLOW_FINAL, NTP as ALLOW).
 *
 *   npx tsx test/bench/pod-event-pushes.ts [<root of the library to measure>]
 *
 * The root defaults to this checkout; pass an export of another commit to compare. Each pod
 * event is counted before coalescing (the controller's 250 ms window merges events of one list,
 * which only lowers the counts of both).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..'));
const { compilePolicy } = require(path.join(root, 'lib/policy/compile')) as typeof import('../../lib/policy/compile');
// buildSyncPlan lives in lib/k8s/sync-plan; roots of older commits have it in lib/policy/plan.
const syncPlanModule = fs.existsSync(path.join(root, 'lib/k8s/sync-plan.ts')) ? 'lib/k8s/sync-plan' : 'lib/policy/plan';
const { buildSyncPlan } = require(path.join(root, syncPlanModule)) as typeof import('../../lib/k8s/sync-plan');
const { buildRule } = require(path.join(root, 'lib/policy/schema')) as typeof import('../../lib/policy/schema');
const { buildDevice } = require(path.join(root, 'lib/policy/device')) as typeof import('../../lib/policy/device');
const { MembershipIndex } = require(
  path.join(root, 'lib/controller/sync/membership-index'),
) as typeof import('../../lib/controller/sync/membership-index');
const { seededRandom } = require(path.join(root, 'lib/util')) as typeof import('../../lib/util');
const { EgressDestination } = require(path.join(root, 'lib/policy/destination')) as typeof import('../../lib/policy/destination');
import type { PodInfo } from '../../lib/policy/membership';
import type { RuleModel } from '../../lib/policy/model';

const PODS = 20_000;
const NAMESPACES = 100;
const EVENTS = 20_000;

const to = [EgressDestination.cidr('198.51.100.0/24')];
const rule = (path: string, input: Record<string, unknown>): RuleModel =>
  buildRule({ path, destinations: to, ...input } as Parameters<typeof buildRule>[0]);
const ns = (i: number) => `team-${String(i).padStart(3, '0')}`;

type EveryPod = 'none' | 'deny-allow-final' | 'deny-allow-final-allow';

function policy(everyPod: EveryPod) {
  const rules: RuleModel[] = [
    rule('bench/Prod', { level: 'cluster', name: 'prod', action: 'ALLOW', namespaceSelector: { matchLabels: { tier: 'prod' } } }),
    rule('bench/Internet', { level: 'cluster', name: 'internet', action: 'ALLOW', podSelector: { matchLabels: { egress: 'internet' } } }),
  ];
  if (everyPod !== 'none') {
    rules.push(
      rule('bench/Emergency', {
        level: 'cluster',
        name: 'emergency',
        action: 'DENY',
        priority: 0,
        destinations: [EgressDestination.cidr('203.0.113.0/24')],
      }),
      rule('bench/Dns', {
        level: 'cluster',
        name: 'dns',
        action: 'ALLOW_FINAL',
        priority: 100,
        destinations: [EgressDestination.address('10.96.0.10')],
      }),
    );
  }
  if (everyPod === 'deny-allow-final-allow')
    rules.push(
      rule('bench/Ntp', {
        level: 'cluster',
        name: 'ntp',
        action: 'ALLOW',
        priority: 110,
        destinations: [EgressDestination.address('192.0.2.123')],
      }),
    );
  for (let i = 0; i < NAMESPACES; i++) {
    rules.push(rule(`bench/Ns${i}`, { level: 'namespace', namespace: ns(i), name: 'team', action: 'ALLOW' }));
    if (i < NAMESPACES - 2)
      rules.push(rule(`bench/Svc${i}`, { level: 'service', namespace: ns(i), service: 'svc-0', name: 'svc-0', action: 'ALLOW' }));
  }
  const device = buildDevice({ path: 'bench/Bigip', clusterName: 'bench', podCidrs: ['10.0.0.0/8'] });
  return { device, externalServices: [], rules };
}

function measure(everyPod: EveryPod) {
  const plan = buildSyncPlan(compilePolicy(policy(everyPod)));
  // The controller's pod informer cache, which the index reads pods from.
  const pods = new Map<string, PodInfo>();
  const index = new MembershipIndex(plan, {
    get: (key) => pods.get(key),
    keysInNamespace: (namespace) => [...pods.keys()].filter((k) => k.startsWith(`${namespace}/`)),
  });
  const upsert = (pod: PodInfo) => {
    pods.set(`${pod.namespace}/${pod.name}`, pod);
    return index.upsertPod(pod);
  };
  const random = seededRandom(7);
  for (let i = 0; i < NAMESPACES; i++)
    index.upsertNamespace(ns(i), { 'kubernetes.io/metadata.name': ns(i), ...(i % 10 === 0 ? { tier: 'prod' } : {}) });
  for (let i = 0; i < NAMESPACES; i++)
    for (let s = 0; s < 5; s++) index.upsertService({ namespace: ns(i), name: `svc-${s}`, selector: { app: `svc-${s}` } });
  let serial = 0;
  const live: PodInfo[] = [];
  const newPod = (): PodInfo => {
    const n = serial++;
    const labels: Record<string, string> = { app: `svc-${n % 5}`, ...(random() < 0.1 ? { egress: 'internet' } : {}) };
    return {
      namespace: ns(Math.floor(random() * NAMESPACES)),
      name: `pod-${n}`,
      labels,
      ips: [`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`],
      phase: 'Running',
    };
  };
  for (let i = 0; i < PODS; i++) {
    const pod = newPod();
    upsert(pod);
    live.push(pod);
  }
  // Churn: a new pod gets its address, then an old one starts terminating (one event each).
  let pushes = 0;
  let entries = 0;
  let largest = 0;
  const count = (changes: Map<string, unknown>) => {
    for (const list of changes.keys()) {
      pushes++;
      const size = index.memberCount(list);
      entries += size;
      largest = Math.max(largest, size);
    }
  };
  for (let e = 0; e < EVENTS; e += 2) {
    const pod = newPod();
    count(upsert(pod));
    live.push(pod);
    const old = live.splice(Math.floor(random() * live.length), 1)[0];
    count(upsert({ ...old, terminating: true }));
  }
  return { lists: plan.lists.length, pushesPerEvent: pushes / EVENTS, entriesPerEvent: entries / EVENTS, largestPush: largest };
}

const LABEL: Record<EveryPod, string> = {
  none: 'controller.ts workload',
  'deny-allow-final': '+ every-pod DENY, ALLOW_FINAL',
  'deny-allow-final-allow': '+ every-pod DENY, ALLOW_FINAL, ALLOW',
};
for (const everyPod of ['none', 'deny-allow-final', 'deny-allow-final-allow'] as const) {
  const r = measure(everyPod);
  process.stdout.write(
    `${LABEL[everyPod].padEnd(38)}: ${r.lists} lists, ${r.pushesPerEvent.toFixed(2)} pushes and ${Math.round(r.entriesPerEvent)} addresses per pod event, largest push ${r.largestPush}\n`,
  );
}
