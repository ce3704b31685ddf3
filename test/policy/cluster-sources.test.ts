/**
 * Cluster sources without a copy of every pod: a DENY, REJECT or ALLOW_FINAL over every pod
 * matches the pod CIDRs (a static list); every other cluster source is a static list of shards
 * the controller fills, each with the pods of its shard only.
 */
import fc from 'fast-check';
import { renderAs3 } from '../../lib/afm/as3';
import { ClusterSnapshot, PodInfo, desiredMembers, shardOfPod } from '../../lib/k8s/membership';
import { CLUSTER_SOURCE_SHARDS, compilePolicy, matchesPodCidrs } from '../../lib/policy/compile';
import { EgressDestination as D } from '../../lib/policy/destination';
import type { AddressModel, PolicyModel, RuleModel } from '../../lib/policy/model';
import { buildSyncPlan } from '../../lib/policy/plan';
import { buildRule, RuleInput } from '../../lib/policy/schema';
import { testDevice } from '../support/device';

const V4: AddressModel = { kind: 'cidr', text: '10.244.0.0/16', family: 4 };
const V6: AddressModel = { kind: 'cidr', text: 'fd00:10:244::/56', family: 6 };
const DEVICE = testDevice({ podCidrs: [V4, V6] });

const rule = (r: Partial<RuleInput> & Pick<RuleInput, 'level' | 'name'>): RuleModel =>
  buildRule({ path: `app/security/${r.name}`, action: 'ALLOW', destinations: [D.cidr('203.0.113.0/24')], ...r });

const RULES = [
  rule({ level: 'cluster', name: 'emergency', action: 'DENY', priority: 0 }),
  rule({ level: 'cluster', name: 'no-smtp', action: 'REJECT', priority: 1, namespaceSelector: { matchLabels: {} } }),
  rule({ level: 'cluster', name: 'dns', action: 'ALLOW_FINAL', priority: 2 }),
  rule({ level: 'cluster', name: 'ntp', action: 'ALLOW', priority: 3 }),
  rule({ level: 'cluster', name: 'prod', action: 'ALLOW_FINAL', priority: 4, namespaceSelector: { matchLabels: { tier: 'prod' } } }),
  rule({ level: 'cluster', name: 'until', action: 'DENY', priority: 5, expiresAt: '2099-01-01T00:00:00Z' }),
  rule({ level: 'namespace', name: 'web', namespace: 'web' }),
];

const policy = (device = DEVICE, rules = RULES): PolicyModel => ({ device, externalServices: [], rules });
const shards = (base: string) => Array.from({ length: CLUSTER_SOURCE_SHARDS }, (_, i) => `/Common/Shared/k8s_prod_${base}_s${i}`);

describe('cluster sources', () => {
  test('DENY, REJECT and ALLOW_FINAL over every pod match the pod CIDRs; ALLOW, narrowed and expiring sources are shards', () => {
    const compiled = compilePolicy(policy());
    const src = Object.fromEntries(compiled.levels.cluster.map((r) => [r.model.name, [r.sourceList, r.memberLists.length]]));
    const prod = compiled.levels.cluster.find((r) => r.model.name === 'prod')?.sourceList as string;
    const until = compiled.levels.cluster.find((r) => r.model.name === 'until')?.sourceList as string;
    expect(prod).toMatch(/^\/Common\/Shared\/k8s_prod_src_cluster_[0-9a-f]{16}$/);
    expect(until).toMatch(/^\/Common\/Shared\/k8s_prod_src_cluster_w[0-9a-f]{16}$/);
    expect(src).toEqual({
      emergency: ['/Common/Shared/k8s_prod_src_pod_cidrs', 0],
      'no-smtp': ['/Common/Shared/k8s_prod_src_pod_cidrs', 0],
      dns: ['/Common/Shared/k8s_prod_src_pod_cidrs', 0],
      ntp: ['/Common/Shared/k8s_prod_src_cluster', 16],
      prod: [prod, 16],
      until: [until, 16],
    });
    expect(compiled.sourceGroups.map((g) => [g.name, g.rules, g.addresses?.map((a) => a.text), g.lists?.length])).toEqual([
      ['src_cluster', ['cluster/ntp'], undefined, 16],
      [prod.slice('/Common/Shared/k8s_prod_'.length), ['cluster/prod'], undefined, 16],
      [until.slice('/Common/Shared/k8s_prod_'.length), ['cluster/until'], undefined, 16],
      ['src_pod_cidrs', ['cluster/emergency', 'cluster/no-smtp', 'cluster/dns'], ['10.244.0.0/16', 'fd00:10:244::/56'], undefined],
    ]);
    // The controller fills the shards and the namespace list; nothing for the pod CIDRs.
    const plan = buildSyncPlan(compiled);
    expect(plan.lists.length).toBe(3 * CLUSTER_SOURCE_SHARDS + 1);
    expect(plan.lists.filter((l) => l.path.startsWith('/Common/Shared/k8s_prod_src_cluster_s')).map((l) => [l.path, l.shard])).toEqual(
      shards('src_cluster').sort().map((path) => [path, { index: Number(path.slice(path.lastIndexOf('_s') + 2)), count: 16 }]),
    );
    expect(plan.rules.find((r) => r.key === 'cluster/dns')).toEqual({ key: 'cluster/dns', kind: 'ClusterEgressRule', name: 'dns', sourceList: '/Common/Shared/k8s_prod_src_pod_cidrs', memberLists: [] });
    expect(plan.rules.find((r) => r.key === 'cluster/ntp')?.memberLists).toEqual(shards('src_cluster'));
    expect(plan.rules.find((r) => r.key === 'namespace/web/web')?.memberLists).toEqual(['/Common/Shared/k8s_prod_src_ns_web']);
  });

  test('the declaration: the pod CIDRs as addresses, a cluster source as a list of its shards', () => {
    const shared = (renderAs3(compilePolicy(policy(testDevice({ podCidrs: [V4, V6], routeDomain: 2 })))) as any).declaration.Common.Shared;
    expect(shared.k8s_prod_src_pod_cidrs).toEqual({ class: 'Firewall_Address_List', remark: 'pod CIDRs of cluster prod', addresses: ['10.244.0.0%2/16', 'fd00:10:244::%2/56'] });
    expect(shared.k8s_prod_src_cluster).toEqual({
      class: 'Firewall_Address_List',
      remark: 'pods of cluster prod, in 16 shards',
      addressLists: Array.from({ length: 16 }, (_, i) => ({ use: `k8s_prod_src_cluster_s${i}` })),
    });
    expect(shared.k8s_prod_src_cluster_s15).toEqual({ class: 'Firewall_Address_List', remark: 'pods of cluster prod (shard 16/16)', addresses: [{ addressDiscovery: 'event' }] });
    expect(shared.k8s_prod_cluster_rules.rules.map((r: any) => [r.name, r.source])).toEqual([
      ['c_emergency_any', { addressLists: [{ use: 'k8s_prod_src_pod_cidrs' }] }],
      ['c_no-smtp_any', { addressLists: [{ use: 'k8s_prod_src_pod_cidrs' }] }],
      ['c_dns_any', { addressLists: [{ use: 'k8s_prod_src_pod_cidrs' }] }],
      ['c_ntp_any', { addressLists: [{ use: 'k8s_prod_src_cluster' }] }],
      ['c_prod_any', { addressLists: [{ use: shared.k8s_prod_cluster_rules.rules[4].source.addressLists[0].use }] }],
      ['c_until_any', { addressLists: [{ use: shared.k8s_prod_cluster_rules.rules[5].source.addressLists[0].use }] }],
    ]);
  });

  test('without podCidrs there is no pod network to match: every cluster source is shards', () => {
    const compiled = compilePolicy(policy(testDevice({ podCidrs: [] })));
    expect(compiled.sourceGroups.some((g) => g.addresses)).toBe(false);
    expect(compiled.levels.cluster.every((r) => r.memberLists.length === CLUSTER_SOURCE_SHARDS)).toBe(true);
    expect(RULES.filter((r) => matchesPodCidrs(r, DEVICE)).map((r) => r.name)).toEqual(['emergency', 'no-smtp', 'dns']);
  });

  test('a pod is in exactly one shard of each cluster source that selects it, and the shards together are the source', () => {
    const plan = buildSyncPlan(compilePolicy(policy()));
    const podArb = fc.record({ namespace: fc.constantFrom('web', 'payments', 'kube-system'), name: fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), tier: fc.boolean() });
    fc.assert(
      fc.property(fc.uniqueArray(podArb, { minLength: 1, maxLength: 40, selector: (p) => `${p.namespace}/${p.name}` }), (drawn) => {
        const pods: PodInfo[] = drawn.map((p, i) => ({ namespace: p.namespace, name: p.name, labels: {}, ips: [`10.244.${i >> 8}.${(i & 255) + 1}`], phase: 'Running' }));
        const snapshot: ClusterSnapshot = { pods, namespaces: [{ name: 'web', labels: { tier: 'prod' } }, { name: 'payments', labels: {} }], services: [] };
        const members = desiredMembers(plan, snapshot, new Date('2030-01-01T00:00:00Z'));
        const everyPod = shards('src_cluster');
        for (const pod of pods) {
          const holding = everyPod.filter((path) => members.get(path)?.includes(pod.ips[0]));
          expect(holding).toEqual([everyPod[shardOfPod(pod, CLUSTER_SOURCE_SHARDS)]]);
        }
        const union = everyPod.flatMap((path) => members.get(path) ?? []).sort();
        expect(union).toEqual(pods.map((p) => p.ips[0]).sort());
      }),
      { numRuns: 100 },
    );
  });

  test('the shard of a pod depends on its namespace and name only', () => {
    expect(shardOfPod({ namespace: 'web', name: 'web-1' }, 16)).toBe(shardOfPod({ namespace: 'web', name: 'web-1' }, 16));
    // FNV-1a of "web/web-1" and of "a/b", modulo 16.
    expect([shardOfPod({ namespace: 'web', name: 'web-1' }, 16), shardOfPod({ namespace: 'a', name: 'b' }, 16)]).toEqual([fnv('web/web-1') % 16, fnv('a/b') % 16]);
  });
});

/** FNV-1a, 32 bits, written out from its definition (offset basis 2166136261, prime 16777619). */
function fnv(text: string): number {
  let h = 2166136261n;
  for (const c of text) h = ((h ^ BigInt(c.charCodeAt(0))) * 16777619n) % 4294967296n;
  return Number(h);
}
