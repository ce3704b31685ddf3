/**
 * Namespaces with route domains of their own (AfmDevice `namespaceRouteDomains`): validation,
 * the AS3 and tmsh they render, the sync plan and list members, and the example.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'cdktf';
import { contextCommands, deviceCommands, renderAs3, renderSharedAs3, renderTenantAs3 } from '../../lib/afm/as3';
import { AfmFirewall } from '../../lib/afm/evaluator';
import { compilePolicy } from '../../lib/policy/compile';
import { buildDevice, EgressSnat } from '../../lib/policy/device';
import { EgressDestination as D } from '../../lib/policy/destination';
import { EgressPolicyError, PolicyIssue } from '../../lib/policy/errors';
import { desiredMembers } from '../../lib/policy/membership';
import type { DeviceModel, PolicyModel, RuleModel } from '../../lib/policy/model';
import { EgressPort as P } from '../../lib/policy/port';
import { buildRule, RuleInput } from '../../lib/policy/schema';
import { buildSyncPlan } from '../../lib/k8s/sync-plan';
import { MembershipIndex } from '../../lib/controller/sync/membership-index';
import { deviceMembers } from '../../lib/controller/sync/list-reconciler';
import { checkLists } from '../../lib/verify/checks';
import { routeDomainIdsByPath } from '../../lib/policy/route-domains';
import { explain, parseDestination, policyView } from '../../lib/analysis/engine';
import type { PodInfo } from '../../lib/policy/membership';
import { buildRouteDomainsExample } from '../../examples/f5-capabilities/route-domains';
import { as3Validator, describeWithAs3Schema } from '../support/as3-schema';

const TENANTS = [
  { namespace: 'tenant-a', routeDomain: 11, vlans: ['/Common/vlan-a'], podCidrs: ['10.16.0.0/16'] },
  { namespace: 'tenant-b', routeDomain: 12, routeDomainName: '/Common/rd_b', vlans: ['/Common/vlan-b'], podCidrs: ['10.16.0.0/16'] },
];

const device = (props: Record<string, unknown> = {}): DeviceModel =>
  buildDevice({ path: 'app/stack/Bigip', clusterName: 'prod', podCidrs: ['10.244.0.0/16'], namespaceRouteDomains: TENANTS, ...props });

function issues(props: Record<string, unknown>): PolicyIssue[] {
  try {
    device(props);
  } catch (e) {
    if (e instanceof EgressPolicyError) return [...e.issues];
    throw e;
  }
  throw new Error('expected an EgressPolicyError');
}

const rule = (r: Partial<RuleInput> & Pick<RuleInput, 'level' | 'name'>): RuleModel =>
  buildRule({ path: `app/stack/${r.name}`, action: 'ALLOW', destinations: [D.cidr('198.51.100.0/24')], ...r });

const RULES: RuleModel[] = [
  rule({ level: 'cluster', name: 'no-smtp', action: 'DENY', destinations: [D.anyIpv4()], ports: [P.tcp(25)] }),
  rule({ level: 'namespace', name: 'partner', namespace: 'tenant-a', ports: [P.HTTPS] }),
  rule({ level: 'namespace', name: 'nothing', namespace: 'tenant-b', action: 'DENY', audit: true, destinations: [D.anyIpv4()] }),
  rule({ level: 'namespace', name: 'web', namespace: 'payments' }),
  rule({ level: 'service', name: 'billing', namespace: 'tenant-b', service: 'billing' }),
];

const policy = (d: DeviceModel = device(), rules = RULES): PolicyModel => ({ device: d, externalServices: [], rules });
const json = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

describe('namespaceRouteDomains: validation', () => {
  test('a mapping becomes the device model, its route domain named by path only when it is not /Common/<id>', () => {
    expect(device().namespaceRouteDomains).toEqual([
      { namespace: 'tenant-a', routeDomain: 11, vlans: ['/Common/vlan-a'], podCidrs: [{ kind: 'cidr', text: '10.16.0.0/16', family: 4 }] },
      {
        namespace: 'tenant-b',
        routeDomain: 12,
        routeDomainPath: '/Common/rd_b',
        vlans: ['/Common/vlan-b'],
        podCidrs: [{ kind: 'cidr', text: '10.16.0.0/16', family: 4 }],
      },
    ]);
    // Without mappings the model has no such field, so existing outputs stay as they were.
    expect('namespaceRouteDomains' in buildDevice({ path: 'p', clusterName: 'prod' })).toBe(false);
  });

  test("each mapping's own fields: every problem at once, on its index", () => {
    const found = issues({
      namespaceRouteDomains: [
        { namespace: 'Tenant_A', routeDomain: 0, vlans: [], podCidrs: ['10.0.0.0/8', '10.1.0.0/16'], vlan: ['/Common/x'] },
        { namespace: 'b', routeDomain: 65535, vlans: ['vlan-b', '/Common/b', '/Common/b'], podCidrs: [] },
        { namespace: 'c', routeDomain: 1.5, routeDomainName: 'rd', vlans: ['/Common/c'], podCidrs: ['0.0.0.0/0'] },
        'tenant-d',
      ],
    });
    expect(found.map((i) => [i.field, i.value])).toEqual([
      ['namespaceRouteDomains[0].namespace', '"Tenant_A"'],
      ['namespaceRouteDomains[0].routeDomain', '0'],
      ['namespaceRouteDomains[0].vlans', '[]'],
      ['namespaceRouteDomains[0].podCidrs[1]', '"10.1.0.0/16"'],
      ['namespaceRouteDomains[0].vlan', '["/Common/x"]'],
      ['namespaceRouteDomains[1].routeDomain', '65535'],
      ['namespaceRouteDomains[1].vlans[0]', '"vlan-b"'],
      ['namespaceRouteDomains[1].vlans[2]', '"/Common/b"'],
      ['namespaceRouteDomains[1].podCidrs', '[]'],
      ['namespaceRouteDomains[2].routeDomain', '1.5'],
      ['namespaceRouteDomains[2].routeDomainName', '"rd"'],
      ['namespaceRouteDomains[2].podCidrs[0]', '"0.0.0.0/0"'],
      ['namespaceRouteDomains[3]', '"tenant-d"'],
    ]);
    expect(found.every((i) => i.path === 'app/stack/Bigip')).toBe(true);
    expect(found[0].message).toMatch(/not a namespace name/);
    expect(found[3].message).toBe('lies inside podCidrs[0] (10.0.0.0/8); list each pod CIDR once');
    expect(found[4].message).toMatch(/did you mean "vlans"|vlans/);
    expect(found[5].message).toBe('must be a whole number from 1 to 65534');
  });

  test('mappings are 1:1: one route domain, one namespace, VLANs of their own, not the device route domain', () => {
    const found = issues({
      routeDomain: 3,
      routeDomainName: '/Common/rd_prod',
      vlans: ['/Common/nodes'],
      namespaceRouteDomains: [
        { namespace: 'a', routeDomain: 3, vlans: ['/Common/nodes'], podCidrs: ['10.16.0.0/16'] },
        { namespace: 'b', routeDomain: 11, routeDomainName: '/Common/12', vlans: ['/Common/vlan-b'], podCidrs: ['10.16.0.0/16'] },
        { namespace: 'b', routeDomain: 11, routeDomainName: '/Common/rd_prod', vlans: ['/Common/vlan-b'], podCidrs: ['10.16.0.0/16'] },
      ],
    });
    expect(found.map((i) => [i.field, i.value])).toEqual([
      ['namespaceRouteDomains[0].routeDomain', '3'],
      ['namespaceRouteDomains[0].vlans[0]', '"/Common/nodes"'],
      ['namespaceRouteDomains[1].routeDomainName', '"/Common/12"'],
      ['namespaceRouteDomains[2].routeDomain', '11'],
      ['namespaceRouteDomains[2].routeDomainName', '"/Common/rd_prod"'],
      ['namespaceRouteDomains[2].namespace', '"b"'],
      ['namespaceRouteDomains[2].vlans[0]', '"/Common/vlan-b"'],
    ]);
    expect(found[0].message).toMatch(/^is the device's own routeDomain/);
    expect(found[2].message).toMatch(/names route domain 12 by its id, not route domain 11/);
    expect(found[3].message).toMatch(/one route domain holds one namespace/);
    expect(found[5].message).toMatch(/list each namespace once/);
    expect(found[6].message).toMatch(/a VLAN belongs to one route domain/);
  });

  test("a SNAT pool (addresses of the device's route domain) is refused with mappings; automap and none are fine", () => {
    const found = issues({ snat: EgressSnat.pool(['192.0.2.200']) });
    expect(found.map((i) => [i.field, i.value])).toEqual([['snat', 'EgressSnat.pool([...])']]);
    expect(found[0].message).toMatch(/use EgressSnat.automap\(\).*or EgressSnat.none\(\)/);
    expect(device({ snat: EgressSnat.none() }).snat).toBe('NONE');
  });
});

describe('namespaceRouteDomains: rendering', () => {
  const compiled = compilePolicy(policy());
  const decl = json(renderAs3(compiled)).declaration as Record<string, any>;
  const shared = decl.Common.Shared;

  test("each mapped namespace's rules are a list of their own, enforced on its route domain; the others stay on the device's", () => {
    expect(shared.k8s_prod_namespace_rules.rules.map((r: any) => r.name)).toEqual(['n_payments_web_any']);
    expect(shared.k8s_prod_namespace_rules_rd11.rules.map((r: any) => r.name)).toEqual(['n_tenant-a_partner_tcp']);
    // tenant-b's only rule is in audit: the enforced list is empty, the staged one holds it.
    expect(shared.k8s_prod_namespace_rules_rd12).toEqual({
      class: 'Firewall_Rule_List',
      remark: 'namespace rules of tenant-b (route domain 12)',
      rules: [],
    });
    expect(shared.k8s_prod_namespace_rules_rd12_staged.rules.map((r: any) => r.name)).toEqual(['n_tenant-b_nothing_any']);
    expect(shared.k8s_prod_rd0_policy).toEqual({
      class: 'Firewall_Policy',
      remark: 'route domain 0 (/Common/0)',
      rules: [{ use: 'k8s_prod_namespace_rules' }],
      routeDomainEnforcement: [{ bigip: '/Common/0' }],
    });
    expect(shared.k8s_prod_rd11_policy).toEqual({
      class: 'Firewall_Policy',
      remark: 'route domain 11 (/Common/11)',
      rules: [{ use: 'k8s_prod_namespace_rules_rd11' }],
      routeDomainEnforcement: [{ bigip: '/Common/11' }],
    });
    expect(shared.k8s_prod_rd12_policy).toEqual({
      class: 'Firewall_Policy',
      remark: 'route domain 12 (/Common/rd_b)',
      rules: [{ use: 'k8s_prod_namespace_rules_rd12' }],
      routeDomainEnforcement: [{ bigip: '/Common/rd_b' }],
    });
    expect(shared.k8s_prod_rd12_policy_staged).toEqual({
      class: 'Firewall_Policy',
      remark: 'staged route domain 12 (/Common/rd_b)',
      rules: [{ use: 'k8s_prod_namespace_rules_rd12_staged' }],
    });
    // Cluster rules stay in the one global policy, which AFM runs for every route domain.
    expect(shared.k8s_prod_global_policy.rules).toEqual([{ use: 'k8s_prod_cluster_rules' }]);
  });

  test("the pod CIDR list holds each mapped namespace's CIDRs with its route domain", () => {
    expect(shared.k8s_prod_src_pod_cidrs).toEqual({
      class: 'Firewall_Address_List',
      remark: 'pod CIDRs of cluster prod',
      addresses: ['10.244.0.0/16', '10.16.0.0%11/16', '10.16.0.0%12/16'],
    });
  });

  test("a virtual server per mapped route domain: its addresses %id, its VLANs, the device's policies, no gateway pool", () => {
    const withGateways = json(renderAs3(compilePolicy(policy(device({ gateways: ['192.0.2.1'], vlans: ['/Common/nodes'] })))))
      .declaration as Record<string, any>;
    const app = withGateways.k8s_prod.egress;
    expect(app.egress_vs.pool).toBe('gateway_pool');
    expect(app.egress_vs_rd11).toEqual({
      class: 'Service_L4',
      remark: 'egress of namespace tenant-a of cluster prod',
      virtualAddresses: [['0.0.0.0%11/0', '10.16.0.0%11/16']],
      virtualPort: 0,
      layer4: 'any',
      translateServerAddress: false,
      translateServerPort: false,
      persistenceMethods: [],
      policyFirewallEnforced: { use: '/Common/Shared/k8s_prod_vs_policy' },
      policyFirewallStaged: { use: '/Common/Shared/k8s_prod_vs_policy_staged' },
      securityLogProfiles: [{ use: 'log_profile' }],
      snat: 'auto',
      allowVlans: [{ bigip: '/Common/vlan-a' }],
    });
    expect(app.egress_vs_rd12.virtualAddresses).toEqual([['0.0.0.0%12/0', '10.16.0.0%12/16']]);
    expect(app.egress_vs_rd12.allowVlans).toEqual([{ bigip: '/Common/vlan-b' }]);
    expect(withGateways.k8s_prod.defaultRouteDomain).toBe(0);
  });

  test("destination addresses are listed in every route domain of the device: AFM compares them with the flow's", () => {
    const lists = Object.values(shared).filter((o: any) => o.class === 'Firewall_Address_List' && Array.isArray(o.addresses));
    expect(lists.map((o: any) => o.addresses)).toContainEqual(['198.51.100.0/24', '198.51.100.0%11/24', '198.51.100.0%12/24']);
    expect(lists.map((o: any) => o.addresses)).toContainEqual(['0.0.0.0/0', '0.0.0.0%11/0', '0.0.0.0%12/0']);
  });

  test('tmsh attaches and releases the staged policy of every mapped route domain, by its path', () => {
    expect(deviceCommands(compiled)).toEqual({
      apply: [
        'modify security firewall global-rules enforced-policy /Common/Shared/k8s_prod_global_policy staged-policy /Common/Shared/k8s_prod_global_policy_staged',
        'modify net route-domain /Common/0 fw-staged-policy /Common/Shared/k8s_prod_rd0_policy_staged',
        'modify net route-domain /Common/11 fw-staged-policy /Common/Shared/k8s_prod_rd11_policy_staged',
        'modify net route-domain /Common/rd_b fw-staged-policy /Common/Shared/k8s_prod_rd12_policy_staged',
        'save sys config',
      ],
      destroy: [
        'modify net route-domain /Common/0 fw-staged-policy none',
        'modify net route-domain /Common/11 fw-staged-policy none',
        'modify net route-domain /Common/rd_b fw-staged-policy none',
        'modify security firewall global-rules enforced-policy none staged-policy none',
        'save sys config',
      ],
    });
  });

  test('on a shared BIG-IP, a mapped route domain is its namespace\u2019s alone', () => {
    const east = compilePolicy(policy(device()));
    const west = compilePolicy(
      policy(buildDevice({ path: 'app/west/Bigip', clusterName: 'west', routeDomain: 11, podCidrs: ['10.245.0.0/16'] }), []),
    );
    let thrown: unknown;
    try {
      renderSharedAs3('dc1', [east, west]);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(EgressPolicyError);
    expect((thrown as EgressPolicyError).issues.map((i) => [i.path, i.field, i.value])).toEqual([
      ['app/stack/Bigip', 'namespaceRouteDomains[0].routeDomain', '11'],
    ]);
    // Apart, the two share the BIG-IP: the shared declaration and the tenants validate against each other.
    const apart = compilePolicy(
      policy(buildDevice({ path: 'app/west/Bigip', clusterName: 'west', routeDomain: 5, podCidrs: ['10.245.0.0/16'] }), []),
    );
    expect(() => [renderSharedAs3('dc1', [east, apart]), renderTenantAs3(east), renderTenantAs3(apart)]).not.toThrow();
    expect(contextCommands('dc1', [east, apart]).apply).toContain(
      'modify net route-domain /Common/rd_b fw-staged-policy /Common/Shared/dc1_rd12_policy_staged',
    );
  });
});

describe('namespaceRouteDomains: sync plan and members', () => {
  const compiled = compilePolicy(policy());
  const plan = buildSyncPlan(compiled);
  const pod = (namespace: string, name: string, ip: string, labels: Record<string, string> = {}): PodInfo => ({
    namespace,
    name,
    labels,
    ips: [ip],
    phase: 'Running',
  });
  // The same address in both tenants, and in the device's own route domain.
  const pods = [
    pod('tenant-a', 'a', '10.16.0.5'),
    pod('tenant-b', 'b', '10.16.0.5', { app: 'billing' }),
    pod('payments', 'p', '10.244.1.7'),
  ];
  const snapshot = {
    pods,
    namespaces: ['tenant-a', 'tenant-b', 'payments'].map((name) => ({ name, labels: {} })),
    services: [{ namespace: 'tenant-b', name: 'billing', selector: { app: 'billing' } }],
  };

  test('the plan names the mapped namespaces and the route domain of their lists', () => {
    expect(plan.namespaceRouteDomains).toEqual([
      { namespace: 'tenant-a', routeDomain: 11 },
      { namespace: 'tenant-b', routeDomain: 12 },
    ]);
    // The cluster DENY matches every pod by the pod CIDR list, which the controller never fills.
    expect(plan.lists.map((l) => [l.path, l.routeDomain])).toEqual([
      ['/Common/Shared/k8s_prod_src_ns_payments', undefined],
      ['/Common/Shared/k8s_prod_src_ns_tenant-a', 11],
      ['/Common/Shared/k8s_prod_src_ns_tenant-b', 12],
      ['/Common/Shared/k8s_prod_src_svc_tenant-b_billing', 12],
    ]);
    expect('namespaceRouteDomains' in buildSyncPlan(compilePolicy(policy(buildDevice({ path: 'p', clusterName: 'prod' }))))).toBe(false);
  });

  test('members carry their pod\u2019s route domain: one address in two tenants is two members', () => {
    const members = Object.fromEntries(desiredMembers(plan, snapshot, new Date()));
    expect(members).toEqual({
      '/Common/Shared/k8s_prod_src_ns_payments': ['10.244.1.7'],
      '/Common/Shared/k8s_prod_src_ns_tenant-a': ['10.16.0.5%11'],
      '/Common/Shared/k8s_prod_src_ns_tenant-b': ['10.16.0.5%12'],
      '/Common/Shared/k8s_prod_src_svc_tenant-b_billing': ['10.16.0.5%12'],
    });
  });

  test("the controller's index gives the same members, and pushes keep each member's route domain", () => {
    const cache = new Map(pods.map((p) => [`${p.namespace}/${p.name}`, p]));
    const index = new MembershipIndex(plan, {
      get: (key) => cache.get(key),
      keysInNamespace: (ns) => [...cache.keys()].filter((k) => k.startsWith(`${ns}/`)),
    });
    for (const ns of snapshot.namespaces) index.upsertNamespace(ns.name, ns.labels);
    index.upsertService(snapshot.services[0]);
    for (const p of pods) index.upsertPod(p);
    expect(index.desired('/Common/Shared/k8s_prod_src_ns_tenant-a')).toEqual(['10.16.0.5%11']);
    expect(index.desired('/Common/Shared/k8s_prod_src_svc_tenant-b_billing')).toEqual(['10.16.0.5%12']);
    // A device in route domain 2 suffixes its own pods, never a member that carries its own.
    expect(deviceMembers(['10.16.0.5%11', '10.244.1.7'], 2)).toEqual(['10.16.0.5%11', '10.244.1.7%2']);
  });

  test('verify compares the route domain of the members read back: a member without its %id is a difference', () => {
    const expected = { label: 'prod', plan } as Parameters<typeof checkLists>[0];
    const path = '/Common/Shared/k8s_prod_src_ns_tenant-a';
    const read = (members: string[]) => new Map([[path, members]]);
    const at = new Date();
    const good = checkLists(expected, read(['10.16.0.5%11']), { snapshot } as unknown as Parameters<typeof checkLists>[2], at);
    expect(good).toEqual([]);
    const stripped = checkLists(expected, read(['10.16.0.5']), { snapshot } as unknown as Parameters<typeof checkLists>[2], at);
    expect(stripped.map((p) => [p.where, p.severity])).toEqual([[path, 'warning']]);
    expect(JSON.stringify(stripped)).toMatch(/10\.16\.0\.5%11/);
  });

  test('the AFM evaluator over the rendering keeps the two tenants apart', () => {
    const firewall = AfmFirewall.load(json(renderAs3(compiled)), deviceCommands(compiled).apply, {
      routeDomainIds: routeDomainIdsByPath(compiled.model.device),
    });
    const state = firewall.listState(desiredMembers(plan, snapshot, new Date()));
    const flow = (routeDomain: number, port = 443) =>
      firewall.evaluate({ sourceIp: '10.16.0.5', routeDomain, destinationIp: '198.51.100.7', protocol: 'tcp', port }, state);
    expect(flow(11).verdict).toBe('allow');
    // tenant-a's namespace ALLOW matched in route domain 11's context, and its carried copy lets it through.
    expect(flow(11).enforced.steps[1]).toMatchObject({
      context: 'route-domain',
      outcome: 'match',
      hit: { rule: 'n_tenant-a_partner_tcp' },
    });
    expect(flow(11).enforced.decidedBy).toMatchObject({ context: 'virtual-server', rule: 'n_tenant-a_partner_tcp' });
    expect(flow(11).enforced.virtualServer).toBe('/k8s_prod/egress/egress_vs_rd11');
    // tenant-b's billing pod: the service rule allows it in route domain 12 (its audit DENY only stages).
    expect(flow(12).verdict).toBe('allow');
    expect(flow(12).wouldBe).toBe('deny');
    expect(flow(12).enforced.virtualServer).toBe('/k8s_prod/egress/egress_vs_rd12');
    // The global cluster rule applies in every route domain.
    expect(flow(11, 25).enforced.decidedBy).toMatchObject({ context: 'global', rule: 'c_no-smtp_tcp' });
    expect(flow(12, 25).verdict).toBe('deny');
    // Route domain 0 has no pod at 10.16.0.5: nothing listens for that source there.
    expect(flow(0).enforced.ending).toBe('no-virtual-server');
  });
});

describe('namespaceRouteDomains: explain', () => {
  const compiled = compilePolicy(policy());
  const view = policyView({
    label: 'prod',
    model: compiled.model,
    plan: buildSyncPlan(compiled),
    as3: [json(renderAs3(compiled))],
    commands: deviceCommands(compiled).apply,
  });
  const pod = (namespace: string, name: string, ip: string): PodInfo => ({ namespace, name, labels: {}, ips: [ip], phase: 'Running' });
  const snapshot = {
    pods: [pod('tenant-a', 'a', '10.16.0.5'), pod('tenant-b', 'b', '10.16.0.5')],
    namespaces: ['tenant-a', 'tenant-b'].map((name) => ({ name, labels: {} })),
    services: [],
  };
  const dns = { table: new Map(), origin: new Map() };
  const ask = (namespace: string, name: string, cluster = true) =>
    explain(view, cluster ? { snapshot, dns: new Map(), source: 'test' } : undefined, dns, {
      from: { namespace, name },
      to: parseDestination('198.51.100.7:443'),
      at: new Date(),
    });

  test("each pod's flows are evaluated in its namespace's route domain, with the same address", () => {
    const a = ask('tenant-a', 'a');
    expect(a.flows.map((f) => [f.sourceIp, f.evaluation.verdict])).toEqual([['10.16.0.5', 'allow']]);
    const b = ask('tenant-b', 'b');
    // tenant-b's only namespace rule is in audit, and no rule allows: the default denies.
    expect(b.flows.map((f) => [f.sourceIp, f.evaluation.verdict, f.evaluation.wouldBe])).toEqual([['10.16.0.5', 'deny', 'deny']]);
  });

  test("a hypothetical pod of a mapped namespace gets an address of its mapping's pod CIDRs", () => {
    const a = ask('tenant-a', 'web', false);
    expect(a.source.pod.ips).toEqual(['10.16.0.10']);
    expect(a.verdict).toBe('allow');
  });
});

describe('namespaceRouteDomains: example', () => {
  function synth(): Record<string, any> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-rd-'));
    const app = new App({ outdir: dir });
    buildRouteDomainsExample(app);
    app.synth();
    const tf = JSON.parse(fs.readFileSync(path.join(dir, 'stacks', 'tenants-egress', 'cdk.tf.json'), 'utf8'));
    return JSON.parse((Object.values(tf.resource.bigip_as3)[0] as { as3_json: string }).as3_json);
  }

  test('the example renders both tenants on the same pod CIDR in route domains 11 and 12', () => {
    const as3 = synth();
    const app = as3.declaration.k8s_tenants.egress;
    expect(app.egress_vs_rd11.virtualAddresses).toEqual([['0.0.0.0%11/0', '10.16.0.0%11/16']]);
    expect(app.egress_vs_rd12.virtualAddresses).toEqual([['0.0.0.0%12/0', '10.16.0.0%12/16']]);
    expect(as3.declaration.Common.Shared.k8s_tenants_rd12_policy.routeDomainEnforcement).toEqual([{ bigip: '/Common/rd-tenant-b' }]);
  });

  describeWithAs3Schema('against the AS3 schema', () => {
    test('the example and a rendering with every kind of rule validate', () => {
      expect(as3Validator()!.validate(synth()).errors).toEqual([]);
      expect(as3Validator()!.validate(json(renderAs3(compilePolicy(policy())))).errors).toEqual([]);
    });
  });
});
