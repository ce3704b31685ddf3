/**
 * Cluster rules over every pod without a copy of every pod: a DENY, REJECT or ALLOW_FINAL over
 * every pod matches the pod CIDRs (a static list rendered at synth, no list the controller
 * fills); every other cluster source stays a list the controller fills.
 */
import { renderAs3 } from '../../lib/afm/as3';
import { compilePolicy, matchesPodCidrs } from '../../lib/policy/compile';
import { EgressDestination as D } from '../../lib/policy/destination';
import type { AddressModel, PolicyModel, RuleModel } from '../../lib/policy/model';
import { buildSyncPlan } from '../../lib/k8s/sync-plan';
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

describe('cluster sources', () => {
  test('DENY, REJECT and ALLOW_FINAL over every pod match the pod CIDRs; ALLOW, narrowed and expiring sources are lists the controller fills', () => {
    const compiled = compilePolicy(policy());
    const src = Object.fromEntries(compiled.levels.cluster.map((r) => [r.model.name, [r.sourceList, r.memberLists]]));
    const prod = compiled.levels.cluster.find((r) => r.model.name === 'prod')?.sourceList as string;
    const until = compiled.levels.cluster.find((r) => r.model.name === 'until')?.sourceList as string;
    expect(prod).toMatch(/^\/Common\/Shared\/k8s_prod_src_cluster_[0-9a-f]{16}$/);
    expect(until).toMatch(/^\/Common\/Shared\/k8s_prod_src_cluster_w[0-9a-f]{16}$/);
    expect(src).toEqual({
      emergency: ['/Common/Shared/k8s_prod_src_pod_cidrs', []],
      'no-smtp': ['/Common/Shared/k8s_prod_src_pod_cidrs', []],
      dns: ['/Common/Shared/k8s_prod_src_pod_cidrs', []],
      ntp: ['/Common/Shared/k8s_prod_src_cluster', ['/Common/Shared/k8s_prod_src_cluster']],
      prod: [prod, [prod]],
      until: [until, [until]],
    });
    expect(compiled.podCidrList).toEqual({
      path: '/Common/Shared/k8s_prod_src_pod_cidrs',
      name: 'src_pod_cidrs',
      placement: 'shared',
      addresses: [V4, V6],
      rules: ['cluster/emergency', 'cluster/no-smtp', 'cluster/dns'],
    });
    // The controller fills the other cluster lists and the namespace list; nothing for the pod CIDRs.
    const plan = buildSyncPlan(compiled);
    expect(plan.lists.map((l) => l.path).sort()).toEqual(
      ['/Common/Shared/k8s_prod_src_cluster', prod, until, '/Common/Shared/k8s_prod_src_ns_web'].sort(),
    );
    expect(plan.rules.find((r) => r.key === 'cluster/dns')).toEqual({
      key: 'cluster/dns',
      kind: 'ClusterEgressRule',
      name: 'dns',
      sourceList: '/Common/Shared/k8s_prod_src_pod_cidrs',
      memberLists: [],
      specDigest: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
    expect(plan.rules.find((r) => r.key === 'namespace/web/web')?.memberLists).toEqual(['/Common/Shared/k8s_prod_src_ns_web']);
  });

  test('the declaration: the pod CIDRs as addresses with the route domain', () => {
    const shared = (renderAs3(compilePolicy(policy(testDevice({ podCidrs: [V4, V6], routeDomain: 2 })))) as any).declaration.Common.Shared;
    expect(shared.k8s_prod_src_pod_cidrs).toEqual({
      class: 'Firewall_Address_List',
      remark: 'pod CIDRs of cluster prod',
      addresses: ['10.244.0.0%2/16', 'fd00:10:244::%2/56'],
    });
    expect(shared.k8s_prod_src_cluster).toEqual({
      class: 'Firewall_Address_List',
      remark: 'pods of cluster prod',
      addresses: [{ addressDiscovery: 'event' }],
    });
    expect(shared.k8s_prod_cluster_rules.rules.map((r: any) => [r.name, r.source.addressLists[0].use])).toEqual([
      ['c_emergency_any', 'k8s_prod_src_pod_cidrs'],
      ['c_no-smtp_any', 'k8s_prod_src_pod_cidrs'],
      ['c_dns_any', 'k8s_prod_src_pod_cidrs'],
      ['c_ntp_any', 'k8s_prod_src_cluster'],
      ['c_prod_any', expect.stringMatching(/^k8s_prod_src_cluster_[0-9a-f]{16}$/)],
      ['c_until_any', expect.stringMatching(/^k8s_prod_src_cluster_w[0-9a-f]{16}$/)],
    ]);
  });

  test('without podCidrs there is no pod network to match: every cluster source is a list the controller fills', () => {
    const compiled = compilePolicy(policy(testDevice({ podCidrs: [] })));
    expect(compiled.podCidrList).toBeUndefined();
    expect(compiled.levels.cluster.every((r) => r.memberLists.length === 1)).toBe(true);
    expect(RULES.filter((r) => matchesPodCidrs(r, DEVICE)).map((r) => r.name)).toEqual(['emergency', 'no-smtp', 'dns']);
  });
});
