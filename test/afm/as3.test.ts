import { renderAs3 } from '../../lib/afm/as3';
import { compilePolicy } from '../../lib/policy/compile';
import { EgressDestination as D } from '../../lib/policy/destination';
import type { DeviceModel, RuleModel } from '../../lib/policy/model';
import { EgressPort as P } from '../../lib/policy/port';
import { testDevice } from '../support/device';
import { buildExternalService, buildRule, RuleInput } from '../../lib/policy/schema';

const DEVICE: DeviceModel = testDevice();

const rule = (r: Partial<RuleInput> & Pick<RuleInput, 'level' | 'name'>): RuleModel =>
  buildRule({ path: `app/stack/${r.name}`, action: 'ALLOW', destinations: [D.anyIpv4()], ...r });

type Decl = { declaration: Record<string, any> };
const render = (rules: RuleModel[], device: Partial<DeviceModel> = {}, es = [] as ReturnType<typeof buildExternalService>[]) =>
  renderAs3(compilePolicy({ device: { ...DEVICE, ...device }, externalServices: es, rules })) as unknown as Decl;

describe('renderAs3', () => {
  test('wraps an ADC declaration in an AS3 deploy request with a fixed id', () => {
    const out = render([rule({ level: 'cluster', name: 'a' })]);
    expect(out).toMatchObject({ class: 'AS3', action: 'deploy', persist: true });
    expect(out.declaration).toMatchObject({ class: 'ADC', schemaVersion: '3.50.0', id: 'cdktf-ces-k8s_prod' });
    expect(Object.keys(out.declaration)).toEqual(['class', 'schemaVersion', 'id', 'remark', 'Common', 'k8s_prod']);
  });

  test('source lists are event-driven lists in /Common/Shared', () => {
    const shared = render([rule({ level: 'namespace', name: 'a', namespace: 'payments' })]).declaration.Common.Shared;
    expect(shared.k8s_prod_src_ns_payments).toEqual({
      class: 'Firewall_Address_List',
      remark: 'pods of namespace payments',
      addresses: [{ addressDiscovery: 'event' }],
    });
  });

  test('maps each level to its AFM context', () => {
    const decl = render([
      rule({ level: 'cluster', name: 'dns', action: 'ALLOW_FINAL', ports: [P.DNS_UDP] }),
      rule({ level: 'namespace', name: 'sftp', namespace: 'payments', action: 'DENY', logging: true }),
      rule({ level: 'service', name: 'stripe', namespace: 'payments', service: 'checkout', action: 'REJECT' }),
    ]).declaration;
    const shared = decl.Common.Shared;
    expect(shared.k8s_prod_global_policy.rules).toEqual([{ use: 'k8s_prod_cluster_rules' }]);
    expect(shared.k8s_prod_rd0_policy).toMatchObject({
      rules: [{ use: 'k8s_prod_namespace_rules' }],
      routeDomainEnforcement: [{ bigip: '/Common/0' }],
    });
    expect(shared.k8s_prod_cluster_rules.rules[0]).toMatchObject({ name: 'c_dns_udp', action: 'accept-decisively', protocol: 'udp' });
    expect(shared.k8s_prod_namespace_rules.rules[0]).toMatchObject({ name: 'n_payments_sftp_any', action: 'drop', loggingEnabled: true });
    expect(shared.k8s_prod_service_rules.rules[0]).toMatchObject({
      name: 's_payments_stripe_any',
      action: 'reject',
      source: { addressLists: [{ use: 'k8s_prod_src_svc_payments_checkout' }] },
    });
    // The tenant holds only the virtual server, which points at its two policies in /Common/Shared.
    expect(decl.k8s_prod.egress.egress_vs).toMatchObject({
      policyFirewallEnforced: { use: '/Common/Shared/k8s_prod_vs_policy' },
      policyFirewallStaged: { use: '/Common/Shared/k8s_prod_vs_policy_staged' },
    });
    expect(Object.keys(decl.k8s_prod.egress).filter((k) => /rules|policy/.test(k))).toEqual([]);
  });

  test('the virtual-server policy ends with the upper levels\u2019 ALLOW rules, then the default', () => {
    const decl = render(
      [
        rule({ level: 'cluster', name: 'web', action: 'ALLOW' }),
        rule({ level: 'cluster', name: 'final', action: 'ALLOW_FINAL' }),
        rule({ level: 'namespace', name: 'ns', namespace: 'web', action: 'ALLOW' }),
        rule({ level: 'namespace', name: 'deny', namespace: 'web', action: 'DENY' }),
        rule({ level: 'service', name: 's', namespace: 'web', service: 'api' }),
      ],
      { defaultAction: 'REJECT' },
    ).declaration;
    expect(decl.Common.Shared.k8s_prod_carried_allow.rules.map((r: { name: string }) => r.name)).toEqual(['c_web_any', 'n_web_ns_any']);
    expect(decl.Common.Shared.k8s_prod_vs_policy.rules).toEqual([
      { use: 'k8s_prod_service_rules' },
      { use: 'k8s_prod_carried_allow' },
      { name: 'default', action: 'reject', protocol: 'any', loggingEnabled: true },
    ]);
  });

  test('a level without rules keeps an empty rule list, so no reference ever dangles', () => {
    const decl = render([rule({ level: 'service', name: 's', namespace: 'web', service: 'api' })]).declaration;
    expect(decl.Common.Shared.k8s_prod_cluster_rules.rules).toEqual([]);
    expect(decl.Common.Shared.k8s_prod_global_policy.rules).toEqual([{ use: 'k8s_prod_cluster_rules' }]);
    expect(decl.Common.Shared.k8s_prod_carried_allow.rules).toEqual([]);
    expect(decl.Common.Shared.k8s_prod_vs_policy.rules).toEqual([
      { use: 'k8s_prod_service_rules' },
      { use: 'k8s_prod_carried_allow' },
      { name: 'default', action: 'drop', protocol: 'any', loggingEnabled: true },
    ]);
  });

  test('route domains suffix every address and the virtual server', () => {
    const decl = render([rule({ level: 'cluster', name: 'r', destinations: [D.cidr('10.1.0.0/16'), D.range('10.2.0.1', '10.2.0.9')] })], {
      routeDomain: 3,
      podCidrs: [{ kind: 'cidr', text: '10.244.0.0/16', family: 4 }],
      gateways: [{ kind: 'address', text: '192.0.2.1', family: 4 }],
    }).declaration;
    const dst = Object.values(decl.Common.Shared).find(
      (o: any) => o?.class === 'Firewall_Address_List' && o.addresses?.[0] !== undefined && typeof o.addresses[0] === 'string',
    ) as any;
    expect(dst.addresses).toEqual(['10.1.0.0%3/16', '10.2.0.1%3-10.2.0.9%3']);
    expect(decl.Common.Shared.k8s_prod_rd3_policy.routeDomainEnforcement).toEqual([{ bigip: '/Common/3' }]);
    expect(decl.k8s_prod.defaultRouteDomain).toBe(3);
    expect(decl.k8s_prod.egress.egress_vs.virtualAddresses).toEqual([['0.0.0.0%3/0', '10.244.0.0%3/16']]);
    expect(decl.k8s_prod.egress.gateway_pool.members).toEqual([{ servicePort: 0, serverAddresses: ['192.0.2.1%3'] }]);
    expect(decl.k8s_prod.egress.egress_vs.pool).toBe('gateway_pool');
  });

  test('SNAT modes', () => {
    const vs = (snat: DeviceModel['snat'], snatAddresses: DeviceModel['snatAddresses'] = []) =>
      render([rule({ level: 'cluster', name: 'r' })], { snat, snatAddresses }).declaration.k8s_prod.egress;
    expect(vs('AUTOMAP').egress_vs.snat).toBe('auto');
    expect(vs('NONE').egress_vs.snat).toBe('none');
    const pool = vs('POOL', [{ kind: 'address', text: '192.0.2.200', family: 4 }]);
    expect(pool.egress_vs.snat).toEqual({ use: 'snat_pool' });
    expect(pool.snat_pool).toEqual({ class: 'SNAT_Pool', snatAddresses: ['192.0.2.200'] });
  });

  test('every remark fits AS3\u2019s 64 characters at the longest cluster name, with audit rules at every level', () => {
    const cluster = 'c'.repeat(40);
    const decl = render(
      [
        rule({ level: 'cluster', name: 'a', audit: true }),
        rule({ level: 'namespace', name: 'b', namespace: 'n'.repeat(63), audit: true }),
        rule({ level: 'service', name: 'c', namespace: 'web', service: 's'.repeat(63), audit: true }),
        rule({ level: 'cluster', name: 'd', description: 'x'.repeat(64) }),
      ],
      { cluster, tenant: `t${'x'.repeat(47)}` },
    ).declaration;
    const shared = decl.Common.Shared;
    const tenant = `t${'x'.repeat(47)}`;
    expect(shared[`${tenant}_cluster_rules_staged`].remark).toBe(`staged cluster rules of ${cluster}`);
    expect(shared[`${tenant}_namespace_rules_staged`].remark).toBe(`staged namespace rules of ${cluster}`.slice(0, 61) + '...');
    expect(shared[`${tenant}_service_rules_staged`].remark).toBe(`staged service rules of ${cluster}`);
    const remarks: string[] = [];
    const collect = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(collect);
      else if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) {
          if (k === 'remark') remarks.push(x as string);
          else collect(x);
        }
    };
    collect(decl);
    expect(remarks.length).toBeGreaterThan(15);
    expect(remarks.filter((r) => r.length > 64)).toEqual([]);
  });

  test('external services become one named list shared by every rule that uses them', () => {
    const bank = buildExternalService({ path: 'p', name: 'bank', destinations: [D.fqdn('sftp.bank.example'), D.address('192.0.2.7')] });
    const decl = render(
      [
        rule({ level: 'namespace', name: 'a', namespace: 'payments', destinations: [D.externalService({ serviceName: 'bank' })] }),
        rule({
          level: 'namespace',
          name: 'b',
          namespace: 'web',
          destinations: [D.externalService({ serviceName: 'bank' }), D.fqdn('api.stripe.com')],
        }),
      ],
      {},
      [bank],
    ).declaration;
    const shared = decl.Common.Shared;
    expect(shared.k8s_prod_exsvc_bank).toEqual({
      class: 'Firewall_Address_List',
      remark: 'external service bank',
      addresses: ['192.0.2.7'],
      fqdns: ['sftp.bank.example'],
    });
    const [a, b] = shared.k8s_prod_namespace_rules.rules;
    // Inside /Common/Shared, pointers are bare item names (AS3 resolves them in the same application).
    expect(a.destination.addressLists).toEqual([{ use: 'k8s_prod_exsvc_bank' }]);
    expect(b.destination.addressLists).toHaveLength(2);
    expect(b.destination.addressLists[1]).toEqual({ use: 'k8s_prod_exsvc_bank' });
  });
});
