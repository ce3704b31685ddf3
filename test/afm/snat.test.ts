/**
 * Per-rule source translation: validation of a rule's `snat`, its AS3 rendering (NAT policy,
 * source translations, NAT log profile, the virtual server's policyNAT), schema conformance and
 * the AFM evaluator's reading of it.
 */
import fc from 'fast-check';
import { App, Testing } from 'cdktf';
import { AfmFirewall } from '../../lib/afm/evaluator';
import { renderAs3 } from '../../lib/afm/as3';
import { NAT_LOG_FIELDS } from '../../lib/afm/nat';
import { compilePolicy } from '../../lib/policy/compile';
import { EgressDestination } from '../../lib/policy/destination';
import { EgressSnat } from '../../lib/policy/device';
import { AddressModel, PolicyModel, RuleModel } from '../../lib/policy/model';
import { EgressPort } from '../../lib/policy/port';
import { buildRule, RuleInput } from '../../lib/policy/schema';
import { snatIssues } from '../../lib/policy/snat';
import { AfmDevice, EgressSnat as PublicEgressSnat } from '../../lib';
import { addSnat } from '../../examples/f5-capabilities/snat';
import { as3Of, deviceStack } from '../support/app';
import { as3Validator, describeWithAs3Schema } from '../support/as3-schema';
import { testDevice } from '../support/device';
import { issuesOf } from '../support/issues';
import { CrdValidator } from '../support/crd-validate';
import { ALL_KINDS, openApiSchema } from '../../lib/k8s/crds';
import { ruleResource } from '../../lib/k8s/resources';
import { policyArb, ruleSnatArb } from '../support/arbitraries';

const v4 = (text: string): AddressModel => ({ kind: 'address', text, family: 4 });

const partner = (over: Partial<RuleInput> = {}): RuleModel =>
  buildRule({
    level: 'namespace',
    path: 'app/egress/PaymentsToPartner',
    name: 'to-partner',
    namespace: 'payments',
    action: 'ALLOW',
    destinations: [EgressDestination.cidr('203.0.113.0/28')],
    ports: [EgressPort.tcp(22)],
    snat: EgressSnat.pool(['192.0.2.221', '192.0.2.220']),
    logging: true,
    ...over,
  });

const tenantOf = (model: PolicyModel) => {
  const out = renderAs3(compilePolicy(model)) as { declaration: Record<string, Record<string, Record<string, unknown>>> };
  return out.declaration[model.device.tenant].egress;
};

describe('rendering', () => {
  const device = testDevice({
    routeDomain: 2,
    podCidrs: [{ kind: 'cidr', text: '10.244.0.0/16', family: 4 }],
    snat: 'POOL',
    snatAddresses: [v4('192.0.2.200')],
  });
  const model: PolicyModel = {
    device,
    externalServices: [],
    rules: [
      partner(),
      buildRule({
        level: 'cluster',
        path: 'app/egress/Ntp',
        name: 'ntp',
        action: 'ALLOW_FINAL',
        priority: 10,
        destinations: [EgressDestination.cidr('198.51.100.0/24')],
        snat: EgressSnat.pool(['192.0.2.230']),
      }),
      buildRule({
        level: 'namespace',
        path: 'app/egress/Web',
        name: 'web',
        namespace: 'web',
        action: 'ALLOW',
        destinations: [EgressDestination.cidr('198.51.100.0/24')],
      }),
    ],
  };

  test('one NAT rule per AFM rule of each rule with snat, in level order, then the device pool; the virtual server snat is none', () => {
    const app = tenantOf(model);
    expect(app.nat_policy).toEqual({
      class: 'NAT_Policy',
      remark: 'source translation per rule of prod',
      rules: [
        {
          name: 'c_ntp_any',
          protocol: 'any',
          source: { addressLists: [{ use: '/Common/Shared/k8s_prod_src_pod_cidrs' }] },
          destination: { addressLists: [{ use: expect.stringMatching(/^\/Common\/Shared\/k8s_prod_dst_[0-9A-F]{16}$/) }] },
          sourceTranslation: { use: 'nat_src_ae121235779df269' },
        },
        {
          name: 'n_payments_to-partner_tcp',
          protocol: 'tcp',
          source: { addressLists: [{ use: '/Common/Shared/k8s_prod_src_ns_payments' }] },
          destination: {
            addressLists: [{ use: expect.stringMatching(/^\/Common\/Shared\/k8s_prod_dst_[0-9A-F]{16}$/) }],
            portLists: [{ use: '/Common/Shared/k8s_prod_ports_22' }],
          },
          sourceTranslation: { use: 'nat_src_a29a6412df16c987' },
          securityLogProfile: { use: 'nat_log_profile' },
        },
        { name: 'default', protocol: 'any', sourceTranslation: { use: 'nat_src_8819ee3094b439d1' } },
      ],
    });
    // Addresses carry the route domain, sorted; one translation per distinct address set.
    expect(app.nat_src_a29a6412df16c987).toEqual({
      class: 'NAT_Source_Translation',
      remark: 'translation to 192.0.2.220, 192.0.2.221',
      type: 'dynamic-pat',
      patMode: 'napt',
      addresses: ['192.0.2.220%2', '192.0.2.221%2'],
    });
    expect(app.nat_src_8819ee3094b439d1).toMatchObject({ addresses: ['192.0.2.200%2'] });
    expect(app.egress_vs).toMatchObject({ policyNAT: { use: 'nat_policy' }, snat: 'none' });
    expect(app.snat_pool).toBeUndefined();
  });

  test('a rule with snat and logging gets the NAT log profile: outbound sessions, errors and quotas through the device publisher', () => {
    const format = { fields: [...NAT_LOG_FIELDS], delimiter: ',' };
    expect(tenantOf(model).nat_log_profile).toEqual({
      class: 'Security_Log_Profile',
      remark: 'NAT events of the rules with snat and logging',
      nat: {
        publisher: { use: 'log_publisher' },
        logErrors: true,
        logQuotaExceeded: true,
        logStartOutboundSession: true,
        logEndOutboundSession: true,
        formatErrors: format,
        formatQuotaExceeded: format,
        formatStartOutboundSession: format,
        formatEndOutboundSession: format,
      },
    });
    // The virtual server's own profile is unchanged.
    expect(tenantOf(model).egress_vs).toMatchObject({ securityLogProfiles: [{ use: 'log_profile' }] });
    expect(tenantOf({ ...model, rules: [partner({ logging: false })] }).nat_log_profile).toBeUndefined();
  });

  test('device snat none: no last rule, the pod address for every other flow', () => {
    const app = tenantOf({ ...model, device: { ...device, snat: 'NONE', snatAddresses: [] } });
    expect((app.nat_policy as { rules: { name: string }[] }).rules.map((r) => r.name)).toEqual(['c_ntp_any', 'n_payments_to-partner_tcp']);
    expect(app.egress_vs).toMatchObject({ snat: 'none' });
  });

  test('without a rule with snat nothing changes: the virtual server keeps the device snat', () => {
    const app = tenantOf({ ...model, rules: [model.rules[2]] });
    expect(app.nat_policy).toBeUndefined();
    expect(app.egress_vs).toMatchObject({ snat: { use: 'snat_pool' } });
    expect((app.egress_vs as { policyNAT?: unknown }).policyNAT).toBeUndefined();
  });

  test('the AFM evaluator reads the translation: a rule pool, the device pool, nothing for a dropped flow', () => {
    const fw = AfmFirewall.load(JSON.parse(JSON.stringify(renderAs3(compilePolicy(model)))), []);
    const state = fw.listState(
      new Map([
        ['/Common/Shared/k8s_prod_src_ns_payments', ['10.244.1.5%2']],
        ['/Common/Shared/k8s_prod_src_ns_web', ['10.244.2.5%2']],
      ]),
    );
    const flow = (sourceIp: string, destinationIp: string, port: number) =>
      fw.evaluate({ sourceIp, routeDomain: 2, destinationIp, protocol: 'tcp', port }, state);
    expect(flow('10.244.1.5', '203.0.113.3', 22).translatedSource).toEqual({
      by: 'nat-rule',
      policy: '/k8s_prod/egress/nat_policy',
      rule: 'n_payments_to-partner_tcp',
      addresses: ['192.0.2.220', '192.0.2.221'],
    });
    // The web pod's allowed flow to 198.51.100.0/24 takes the cluster NTP rule's pool (first NAT match).
    expect(flow('10.244.2.5', '198.51.100.9', 123).translatedSource).toMatchObject({ rule: 'c_ntp_any', addresses: ['192.0.2.230'] });
    expect(flow('10.244.2.5', '203.0.113.3', 22).verdict).toBe('deny');
    expect(flow('10.244.2.5', '203.0.113.3', 22).translatedSource).toBeUndefined();
  });
});

describe('refusals', () => {
  const input = (over: Partial<RuleInput>): RuleInput => ({
    level: 'namespace',
    path: 'app/egress/R',
    name: 'r',
    namespace: 'payments',
    action: 'ALLOW',
    destinations: [EgressDestination.cidr('203.0.113.0/28')],
    snat: EgressSnat.pool(['192.0.2.220']),
    ...over,
  });

  test.each([
    [
      'automap',
      { snat: EgressSnat.automap() },
      'EgressSnat.automap()',
      'a rule cannot translate to automap: an AFM NAT rule has no automap translation (AS3 NAT_Rule, F5Networks/f5-appsvcs-extension#894); list the addresses with EgressSnat.pool([...]), or leave snat out for the translation of the device',
    ],
    ['none', { snat: EgressSnat.none() }, 'EgressSnat.none()', expect.stringContaining('a rule cannot opt out of translation')],
    [
      'an empty pool',
      { snat: EgressSnat.pool([]) },
      '[]',
      'a translation pool needs at least one address, such as EgressSnat.pool(["192.0.2.210"])',
    ],
    ['a bad address', { snat: EgressSnat.pool(['192.0.2.300']) }, '"192.0.2.300"', expect.stringContaining('SNAT pool address:')],
    [
      'a forged value',
      { snat: { mode: 'POOL', addresses: ['192.0.2.1'] } },
      expect.any(String),
      expect.stringContaining('expected EgressSnat.pool'),
    ],
    [
      'a DENY rule',
      { action: 'DENY' },
      'EgressSnat.pool(["192.0.2.220"])',
      'a DENY rule lets nothing through, so nothing leaves with its translation; remove snat or make the rule ALLOW or ALLOW_FINAL',
    ],
    ['an audit rule', { audit: true }, 'EgressSnat.pool(["192.0.2.220"])', expect.stringContaining('an audit rule changes no verdict')],
    [
      'icmp ports',
      { ports: [EgressPort.tcp(443), EgressPort.icmp()] },
      'EgressSnat.pool(["192.0.2.220"])',
      "the rule's ports include icmp, and an AFM NAT rule matches only tcp, udp or every protocol (AS3 NAT_Rule.protocol); put the icmp ports into a rule without snat",
    ],
  ])('%s', (_, over, value, message) => {
    expect(issuesOf(() => buildRule(input(over as Partial<RuleInput>)))).toEqual([{ path: 'app/egress/R', field: 'snat', value, message }]);
  });

  const rule = (addresses: string[], destination = '203.0.113.0/28') =>
    buildRule(input({ snat: EgressSnat.pool(addresses), destinations: [EgressDestination.cidr(destination)] }));

  test('device automap (the default) beside a rule with snat: one issue on the device naming the rules', () => {
    expect(snatIssues({ device: testDevice(), externalServices: [], rules: [rule(['192.0.2.220'])] })).toEqual([
      {
        path: 'app/stack/Bigip',
        field: 'snat',
        value: 'EgressSnat.automap() (set, or the default)',
        message:
          "rule app/egress/R translates with its own addresses, which puts an AFM NAT policy on the egress virtual server; the traffic of the other rules then takes the NAT policy's last rule, which cannot translate to automap (F5Networks/f5-appsvcs-extension#894). Set the device's snat to EgressSnat.pool([...]) or EgressSnat.none()",
      },
    ]);
  });

  test('families: an IPv6 destination of dual-stack pods needs an IPv6 translation address (no NAT64), and a gateway of its family', () => {
    const device = testDevice({
      snat: 'NONE',
      podCidrs: [
        { kind: 'cidr', text: '10.244.0.0/16', family: 4 },
        { kind: 'cidr', text: 'fd00:10:244::/56', family: 6 },
      ],
      gateways: [v4('192.0.2.1')],
    });
    const issues = snatIssues({ device, externalServices: [], rules: [rule(['192.0.2.220'], '2001:db8:5::/48')] });
    expect(issues.map((i) => [i.field, i.value, i.message])).toEqual([
      [
        'snat',
        'EgressSnat.pool(["192.0.2.220"])',
        'the rule can carry IPv6 traffic (its pods and destinations have IPv6 addresses) and the pool has no IPv6 address; translating to the other family would be NAT64, which is not supported: add an IPv6 address to the pool, or narrow the destinations to one family',
      ],
      [
        'snat',
        'EgressSnat.pool(["192.0.2.220"])',
        "the rule can carry IPv6 traffic and the device's gateways have no IPv6 address, so the translated traffic would have no next hop; add an IPv6 gateway to the device, or narrow the destinations to one family",
      ],
    ]);
    // IPv4-only pods never send to an IPv6 destination: nothing to translate, nothing refused.
    expect(
      snatIssues({
        device: { ...device, podCidrs: [device.podCidrs[0]] },
        externalServices: [],
        rules: [rule(['192.0.2.220'], '2001:db8:5::/48')],
      }),
    ).toEqual([]);
    expect(
      snatIssues({
        device: { ...device, gateways: [] },
        externalServices: [],
        rules: [rule(['192.0.2.220', '2001:db8::220'], '2001:db8:5::/48')],
      }),
    ).toEqual([]);
  });

  test('a device that maps namespaces to route domains: per-rule SNAT is refused on the rule', () => {
    const device = testDevice({
      snat: 'NONE',
      namespaceRouteDomains: [
        {
          namespace: 'tenant-a',
          routeDomain: 11,
          vlans: ['/Common/vlan-a'],
          podCidrs: [{ kind: 'cidr', text: '10.16.0.0/16', family: 4 }],
        },
      ],
    });
    expect(snatIssues({ device, externalServices: [], rules: [rule(['192.0.2.220'])] })).toEqual([
      {
        path: 'app/egress/R',
        field: 'snat',
        value: 'EgressSnat.pool(["192.0.2.220"])',
        message:
          'device app/stack/Bigip maps namespaces to route domains of their own (namespaceRouteDomains), whose egress virtual servers carry no NAT policy, and translation addresses are in one route domain: per-rule SNAT is not available there; remove snat from the rule, or the namespaceRouteDomains from the device',
      },
    ]);
  });

  test('the compiler refuses what snatIssues finds', () => {
    expect(
      issuesOf(() => compilePolicy({ device: testDevice(), externalServices: [], rules: [rule(['192.0.2.220'])] })).map((i) => i.field),
    ).toEqual(['snat']);
  });
});

test('at synth: a device left at automap beside a rule with snat is refused, naming both', () => {
  const { stack, device } = deviceStack({}, new App());
  addSnat(stack, device);
  expect(() => Testing.synth(stack, true)).toThrow(
    "[egress/Bigip] snat: rule egress/PaymentsToPartner translates with its own addresses, which puts an AFM NAT policy on the egress virtual server; the traffic of the other rules then takes the NAT policy's last rule, which cannot translate to automap (F5Networks/f5-appsvcs-extension#894). Set the device's snat to EgressSnat.pool([...]) or EgressSnat.none() (got EgressSnat.automap() (set, or the default))",
  );
});

describe('the AFM evaluator refuses what it cannot model', () => {
  const base = () => {
    const model: PolicyModel = { device: testDevice({ snat: 'NONE', snatAddresses: [] }), externalServices: [], rules: [partner()] };
    return JSON.parse(JSON.stringify(renderAs3(compilePolicy(model)))) as { declaration: Record<string, any> };
  };
  test('a NAT policy beside a virtual-server snat other than none (precedence undocumented)', () => {
    const as3 = base();
    as3.declaration.k8s_prod.egress.egress_vs.snat = 'auto';
    expect(() => AfmFirewall.load(as3, [])).toThrow('a NAT policy with the virtual server\'s snat other than "none" is not modelled');
  });
  test('a NAT rule without a translation, with a bigip translation, or of another protocol', () => {
    const a = base();
    delete a.declaration.k8s_prod.egress.nat_policy.rules[0].sourceTranslation;
    expect(() => AfmFirewall.load(a, [])).toThrow('a NAT rule without sourceTranslation is not modelled');
    const c = base();
    c.declaration.k8s_prod.egress.nat_policy.rules[0].sourceTranslation = { bigip: '/Common/nat-pool' };
    expect(() => AfmFirewall.load(c, [])).toThrow(
      'a sourceTranslation by "bigip" is dropped by AS3 (it maps only "use"); it is not modelled',
    );
    const b = base();
    b.declaration.k8s_prod.egress.nat_policy.rules[0].protocol = 'icmp';
    expect(() => AfmFirewall.load(b, [])).toThrow('NAT rule protocol "icmp" is not any, tcp or udp');
  });
});

describe('rule custom resources', () => {
  test('a rule with snat carries its pool in the CR spec, and every such CR passes its CRD', () => {
    expect((ruleResource(partner(), 'prod').spec as { snat?: unknown }).snat).toEqual({ addresses: ['192.0.2.221', '192.0.2.220'] });
    const validators = Object.fromEntries(ALL_KINDS.map((k) => [k, new CrdValidator(openApiSchema(k))]));
    fc.assert(
      fc.property(
        policyArb().chain((m) => ruleSnatArb(m, (x) => x)),
        (model) => {
          for (const rule of model.rules) {
            const cr = ruleResource(rule, 'prod');
            expect((cr.spec as { snat?: unknown }).snat).toEqual(
              rule.snat ? { addresses: rule.snat.addresses.map((a) => a.text) } : undefined,
            );
            expect(validators[cr.kind].validate(cr)).toEqual([]);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describeWithAs3Schema('AS3 schema', () => {
  test('random policies with rule pools validate against the AS3 3.56 schema', () => {
    const validator = as3Validator()!;
    const keep = (m: PolicyModel) => {
      const refused = new Set(snatIssues(m).map((i) => i.path));
      return { ...m, rules: m.rules.map((r) => (refused.has(r.path) ? { ...r, snat: undefined } : r)) };
    };
    fc.assert(
      fc.property(
        policyArb().chain((m) => ruleSnatArb(m, keep)),
        (model) => {
          const result = validator.validate(renderAs3(compilePolicy(model)));
          if (!result.valid) throw new Error(result.errors.join('\n'));
        },
      ),
      { numRuns: 150 },
    );
  });

  test('a NAT rule pointer to an object of another class is refused, as AS3 checks enum-typed pointers too', () => {
    const model: PolicyModel = { device: testDevice({ snat: 'NONE', snatAddresses: [] }), externalServices: [], rules: [partner()] };
    const as3 = JSON.parse(JSON.stringify(renderAs3(compilePolicy(model))));
    as3.declaration.k8s_prod.egress.nat_policy.rules[0].sourceTranslation = { use: 'nat_log_profile' };
    expect(as3Validator()!.validate(as3).errors).toEqual([
      '/declaration/k8s_prod/egress/nat_policy/rules/0/sourceTranslation/use: pointer "nat_log_profile" resolves to a Security_Log_Profile, expected NAT_Source_Translation',
    ]);
  });

  test('the example: payments leaves through its own pool; the synthesized declaration validates', () => {
    const { stack, device } = deviceStack({ snat: PublicEgressSnat.pool(['192.0.2.200']), podCidrs: ['10.244.0.0/16'] }, new App());
    addSnat(stack, device as AfmDevice);
    const as3 = as3Of(stack);
    const result = as3Validator()!.validate(as3);
    if (!result.valid) throw new Error(result.errors.join('\n'));
    const app = as3.declaration.k8s_prod.egress;
    expect(app.nat_policy.rules.map((r: { name: string }) => r.name)).toEqual(['n_payments_payments-to-partner_tcp', 'default']);
    expect(
      Object.values(app)
        .filter((o: any) => o?.class === 'NAT_Source_Translation')
        .map((o: any) => o.addresses),
    ).toEqual([['192.0.2.200'], ['192.0.2.220', '192.0.2.221']]);
  });
});
