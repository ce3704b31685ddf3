/**
 * Redirection: a rule's allowed traffic sent to its own next hops. Props → model → AS3 (literal
 * JSON, F5's schema) → both evaluators → explain, and every refusal with its issue.
 */
import fc from 'fast-check';
import { TerraformStack, Testing } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import {
  AfmDevice,
  ClusterEgressRule,
  EgressAction,
  EgressCrdStack,
  EgressDestination,
  EgressPort,
  NamespaceEgressRule,
  SharedBigip,
} from '../../lib';
import { as3Of, deviceStack } from '../support/app';
import { renderAs3, renderTenantAs3, deviceCommands } from '../../lib/afm/as3';
import { AfmFirewall } from '../../lib/afm/evaluator';
import { checkRedirectRendering } from '../../lib/afm/redirect';
import { explain, policyView } from '../../lib/analysis/engine';
import { formatExplanation } from '../../lib/analysis/format';
import { policyPicture } from '../../lib/cli/picture';
import { diffPolicies } from '../../lib/cli/diff/compute';
import { changeText } from '../../lib/cli/diff/format';
import { openApiSchema } from '../../lib/k8s/crds';
import { ruleResource } from '../../lib/k8s/resources';
import { buildSyncPlan } from '../../lib/k8s/sync-plan';
import { compilePolicy } from '../../lib/policy/compile';
import { EgressDestination as D } from '../../lib/policy/destination';
import { evaluateIntent } from '../../lib/policy/intent';
import type { DeviceModel, ExternalServiceModel, PolicyModel, RuleModel } from '../../lib/policy/model';
import { EgressPort as P } from '../../lib/policy/port';
import { EgressRedirect } from '../../lib/policy/redirect';
import { buildRule, RuleInput } from '../../lib/policy/schema';
import { as3Validator, describeWithAs3Schema } from '../support/as3-schema';
import { CrdValidator } from '../support/crd-validate';
import { testDevice } from '../support/device';
import { issuesOf } from '../support/issues';

const PROXY = EgressRedirect.viaGateways('inspection', ['192.0.2.10', '192.0.2.11']);
const PARTNER = EgressRedirect.viaGateways('partner', ['198.51.100.1']);

const rule = (r: Partial<RuleInput> & Pick<RuleInput, 'level' | 'name'>): RuleModel =>
  buildRule({ path: `app/stack/${r.name}`, action: 'ALLOW', destinations: [D.cidr('203.0.113.0/24')], ...r });

const web = (extra: Partial<RuleInput> = {}) =>
  rule({ level: 'namespace', namespace: 'shop', name: 'web', ports: [P.HTTP, P.HTTPS], redirect: PROXY, ...extra });

const policy = (rules: RuleModel[], device: DeviceModel = testDevice(), externalServices: ExternalServiceModel[] = []): PolicyModel => ({
  device,
  externalServices,
  rules,
});

const messages = (fn: () => unknown) => issuesOf(fn).map((i) => `${i.field}: ${i.message} (got ${i.value})`);

describe('EgressRedirect and the redirect prop', () => {
  test('the model keeps the name and the canonical gateways in their order', () => {
    expect(web().redirect).toEqual({
      name: 'inspection',
      gateways: [
        { kind: 'address', text: '192.0.2.10', family: 4 },
        { kind: 'address', text: '192.0.2.11', family: 4 },
      ],
    });
    expect(String(PROXY)).toBe('EgressRedirect.viaGateways("inspection", ["192.0.2.10","192.0.2.11"])');
  });

  test('a redirect is immutable: changing the array it was made from changes nothing', () => {
    const gateways = ['192.0.2.10'];
    const r = EgressRedirect.viaGateways('x', gateways);
    gateways.push('2001:db8::1');
    expect(web({ redirect: r }).redirect?.gateways.map((g) => g.text)).toEqual(['192.0.2.10']);
    expect(Object.isFrozen(r)).toBe(true);
  });

  test.each([
    ['DENY', 'a DENY rule lets nothing through, so it has nothing to redirect'],
    ['REJECT', 'a REJECT rule lets nothing through, so it has nothing to redirect'],
  ] as const)('a %s rule cannot redirect', (action, message) => {
    expect(messages(() => web({ action }))).toEqual([
      `redirect: ${message}; remove redirect or make the rule ALLOW or ALLOW_FINAL (got "inspection")`,
    ]);
  });

  test('every problem of a redirect rule at once: audit, FQDN, IPv6, the whole IPv4 space, an unlistenable protocol', () => {
    const got = messages(() =>
      web({
        audit: true,
        destinations: [D.fqdn('api.example.com'), D.cidr('2001:db8::/32'), D.anyIpv4(), D.cidr('203.0.113.0/24')],
        ports: [P.HTTPS, P.protocol('rohc')],
      }),
    );
    expect(got).toEqual([
      'redirect: an audit rule only reports what it would do, but a redirect would move live traffic to other next hops; remove redirect while the rule is in audit, or remove audit (got "inspection")',
      'ports[1]: a virtual server cannot listen for protocol "rohc" (not a Service_L4 layer4 of AS3), so it cannot be redirected; split the rule and redirect the other protocols (got "rohc")',
      'destinations[0]: a redirect rule matches its destinations in a traffic-matching criteria, where FQDN entries are not known to work; give the addresses (or CIDRs) of the host instead, or drop redirect (got "api.example.com")',
      'destinations[1]: redirection is IPv4 only (AS3 builds the redirect listener on an IPv4 wildcard); list IPv4 destinations only (got "2001:db8::/32")',
      'destinations[2]: a redirect listener for every IPv4 address would be exactly as specific as the egress virtual server, and BIG-IP does not document which of the two then takes the traffic; list the networks to redirect (got "0.0.0.0/0")',
    ]);
  });

  test.each([
    [EgressRedirect.viaGateways('Inspection', ['192.0.2.1']), 'redirect: the redirect name must be a DNS label'],
    [EgressRedirect.viaGateways('a'.repeat(41), ['192.0.2.1']), 'redirect: the redirect name has 41 characters'],
    [EgressRedirect.viaGateways('x', []), 'redirect: a redirect needs at least one next-hop gateway address'],
    [
      EgressRedirect.viaGateways('x', ['192.0.2.0/24']),
      'redirect: gateways[0] is not one IP address (a next hop is an address, not a CIDR or range)',
    ],
    [EgressRedirect.viaGateways('x', ['2001:db8::1']), 'redirect: gateways[0] is IPv6 and redirection is IPv4 only'],
    [EgressRedirect.viaGateways('x', ['192.0.2.1', '192.0.2.01']), 'redirect: gateways[1]'],
    [EgressRedirect.viaGateways('x', ['192.0.2.1', '192.0.2.1']), 'redirect: gateways[1] repeats gateways[0]; list each next hop once'],
    [EgressRedirect.viaGateways(7 as unknown as string, ['192.0.2.1']), 'redirect: the redirect name must be a string'],
    [
      EgressRedirect.viaGateways('x', '192.0.2.1' as unknown as string[]),
      'redirect: a redirect needs at least one next-hop gateway address',
    ],
    [
      EgressRedirect.viaGateways(
        'x',
        Array.from({ length: 17 }, (_, i) => `192.0.2.${i + 1}`),
      ),
      'redirect: a redirect has at most 16 gateways',
    ],
    [
      { name: 'x', gateways: ['192.0.2.1'] } as unknown as EgressRedirect,
      'redirect: expected an EgressRedirect made with its static factories',
    ],
    [Object.create(EgressRedirect.prototype) as EgressRedirect, 'redirect: expected an EgressRedirect made with its static factories'],
  ])('a bad redirect is refused with its own issue (%s)', (redirect, start) => {
    const got = messages(() => web({ redirect }));
    expect(got).toHaveLength(1);
    expect(got[0].startsWith(start)).toBe(true);
  });

  test('a redirect made hostile (getters, a proxy for gateways) is refused, never a TypeError', () => {
    const gateways = new Proxy(['192.0.2.1'], {
      get: () => {
        throw new Error('boom');
      },
    });
    const redirect = EgressRedirect.viaGateways('x', gateways);
    expect(messages(() => web({ redirect }))).toEqual([
      'redirect: the gateways could not be read (an element or the array threw); pass a plain array of IPv4 address strings (got an unreadable array)',
    ]);
  });
});

describe('synth checks that need the whole policy', () => {
  test('one name stands for one set of gateways', () => {
    const other = rule({
      level: 'cluster',
      name: 'c',
      destinations: [D.cidr('10.0.0.0/8')],
      redirect: EgressRedirect.viaGateways('inspection', ['192.0.2.99']),
    });
    expect(messages(() => compilePolicy(policy([web(), other])))).toEqual([
      'redirect: redirect "inspection" goes to 192.0.2.10, 192.0.2.11 in app/stack/web but to 192.0.2.99 here; one redirect name stands for one set of gateways: use the same EgressRedirect, or another name (got "inspection")',
    ]);
  });

  test('two redirects with different targets that can claim one flow are refused; disjoint ports, namespaces or the same target are not', () => {
    const partnerAll = rule({ level: 'cluster', name: 'partner', destinations: [D.cidr('203.0.113.128/25')], redirect: PARTNER });
    expect(messages(() => compilePolicy(policy([partnerAll, web()])))).toEqual([
      'redirect: rule namespace/shop/web redirects to "inspection" and rule cluster/partner (app/stack/partner) to "partner", and a flow can match both (their sources, destinations and ports overlap); BIG-IP does not document which of two such listeners takes the flow, so give them disjoint destinations or ports, or the same redirect (got "inspection")',
    ]);
    const otherPorts = rule({
      level: 'cluster',
      name: 'partner',
      destinations: [D.cidr('203.0.113.0/24')],
      ports: [P.SSH],
      redirect: PARTNER,
    });
    const otherNamespace = rule({ level: 'namespace', namespace: 'ops', name: 'partner', redirect: PARTNER });
    const sameTarget = rule({ level: 'cluster', name: 'partner', redirect: PROXY });
    for (const r of [otherPorts, otherNamespace, sameTarget]) expect(() => compilePolicy(policy([web(), r]))).not.toThrow();
  });

  test('external services of a redirect rule hold IPv4 addresses only', () => {
    const es: ExternalServiceModel = {
      name: 'bank',
      path: 'app/stack/bank',
      destinations: [
        { kind: 'cidr', text: '198.51.100.0/24', family: 4 },
        { kind: 'fqdn', text: 'sftp.bank.example', wildcard: false },
      ],
    };
    const r: RuleModel = {
      ...rule({ level: 'cluster', name: 'bank', redirect: PARTNER }),
      destinations: [{ kind: 'externalService', name: 'bank' }],
    };
    const device = { ...testDevice(), dnsResolver: '/Common/egress-resolver' };
    expect(messages(() => compilePolicy(policy([r], device, [es])))[0]).toMatch(
      /^destinations: external service "bank": a redirect rule matches its destinations in a traffic-matching criteria, where FQDN entries are not known to work/,
    );
  });

  test('a device outside route domain 0, and IPv6-only pod networks, are refused (AS3 issue #917; IPv4 listeners)', () => {
    for (const rd of [testDevice({ routeDomain: 2 }), testDevice({ routeDomain: 2, routeDomainPath: '/Common/rd_prod' })]) {
      expect(messages(() => compilePolicy(policy([web()], rd)))).toEqual([
        'redirect: AS3 writes route domain "/Common/2" into a redirect listener\'s traffic-matching criteria, and BIG-IP has been seen to refuse that ("The requested name_idx (/Common/1) was not found", AS3 issue #917, open; whether a route domain named by its id avoids it is not known); redirection needs routeDomain 0: remove redirect, or use route domain 0 (got "inspection")',
      ]);
    }
    const v6 = testDevice({ podCidrs: [{ kind: 'cidr', text: 'fd00::/56', family: 6 }] });
    expect(messages(() => compilePolicy(policy([web()], v6)))[0]).toMatch(/podCidrs \(fd00::\/56\) hold no IPv4 network/);
  });

  test('a device that maps namespaces to route domains of their own cannot redirect: listeners are in route domain 0', () => {
    const mapped = testDevice({
      namespaceRouteDomains: [
        {
          namespace: 'tenant-a',
          routeDomain: 11,
          vlans: ['/Common/vlan-a'],
          podCidrs: [{ kind: 'cidr', text: '10.16.0.0/16', family: 4 }],
        },
      ],
    });
    expect(messages(() => compilePolicy(policy([web()], mapped)))).toEqual([
      'redirect: device app/stack/Bigip maps namespaces to route domains of their own (namespaceRouteDomains), and redirect listeners live in route domain 0 only; remove redirect, or the namespaceRouteDomains from the device (got "inspection")',
    ]);
  });

  test('a device on a shared BIG-IP cannot redirect: its listener would use lists another declaration owns', () => {
    expect(messages(() => renderTenantAs3(compilePolicy(policy([web()]))))).toEqual([
      'redirect: a redirect listener uses the rule\'s lists in /Common/Shared, which another cluster\'s deploy of the shared BIG-IP may remove while this tenant still needs them; redirection works on an AfmDevice that owns its BIG-IP: remove redirect or give the cluster its own BIG-IP (got "inspection")',
    ]);
  });

  test('the CR carries the redirect and the CRD accepts it', () => {
    const cr = ruleResource(web(), 'prod') as any;
    expect(cr.spec.redirect).toEqual({ name: 'inspection', gateways: ['192.0.2.10', '192.0.2.11'] });
    expect(new CrdValidator(openApiSchema('NamespaceEgressRule')).validate(cr)).toEqual([]);
  });
});

describeWithAs3Schema('rendering', () => {
  const declaration = (p: PolicyModel) => (renderAs3(compilePolicy(p)) as any).declaration;

  test("one Service_L4 per protocol with the rule's lists, the gateway pool and the egress virtual's policies", () => {
    const udp = rule({
      level: 'cluster',
      name: 'dns',
      destinations: [D.address('198.51.100.53')],
      ports: [P.DNS_UDP, P.DNS_TCP],
      redirect: PARTNER,
    });
    const d = testDevice({ gateways: [{ kind: 'address', text: '192.0.2.1', family: 4 }] });
    const decl = declaration(policy([web(), udp], d));
    const app = decl.k8s_prod.egress;
    const common = {
      translateServerAddress: false,
      translateServerPort: false,
      persistenceMethods: [],
      policyFirewallEnforced: { use: '/Common/Shared/k8s_prod_vs_policy' },
      policyFirewallStaged: { use: '/Common/Shared/k8s_prod_vs_policy_staged' },
      securityLogProfiles: [{ use: 'log_profile' }],
      snat: 'auto',
    };
    expect(app.rdr_inspection).toEqual({
      class: 'Pool',
      remark: 'next hops of redirect inspection',
      members: [{ servicePort: 0, serverAddresses: ['192.0.2.10', '192.0.2.11'] }],
    });
    expect(app.rdr_n_shop_web_dst).toEqual({
      class: 'Firewall_Address_List',
      remark: 'destinations redirected by namespace/shop/web',
      addresses: ['203.0.113.0/24'],
    });
    expect(app.rdr_n_shop_web_tcp).toEqual({
      class: 'Service_L4',
      remark: 'redirect of namespace/shop/web to inspection',
      virtualAddresses: { use: 'rdr_n_shop_web_dst' },
      sourceAddress: { use: '/Common/Shared/k8s_prod_src_ns_shop' },
      virtualPort: { use: '/Common/Shared/k8s_prod_ports_80_443' },
      layer4: 'tcp',
      pool: 'rdr_inspection',
      ...common,
    });
    expect(app.rdr_c_dns_udp).toMatchObject({
      layer4: 'udp',
      virtualPort: { use: '/Common/Shared/k8s_prod_ports_53' },
      pool: 'rdr_partner',
    });
    expect(app.rdr_c_dns_tcp).toMatchObject({
      layer4: 'tcp',
      virtualPort: { use: '/Common/Shared/k8s_prod_ports_53' },
      pool: 'rdr_partner',
    });
    // The egress virtual server keeps the device's gateways.
    expect(app.egress_vs.pool).toBe('gateway_pool');
    expect(as3Validator()!.validate({ class: 'AS3', declaration: decl })).toEqual({ valid: true, errors: [] });
  });

  test('a rule without ports listens on every port and protocol', () => {
    const any = rule({ level: 'cluster', name: 'partner', destinations: [D.cidr('198.51.100.0/24')], redirect: PARTNER });
    const app = declaration(policy([any])).k8s_prod.egress;
    expect(app.rdr_c_partner_any).toMatchObject({ layer4: 'any', virtualPort: 0, virtualAddresses: { use: 'rdr_c_partner_dst' } });
    expect(app.rdr_c_partner_dst.addresses).toEqual(['198.51.100.0/24']);
    expect(app.rdr_partner.members[0].serverAddresses).toEqual(['198.51.100.1']);
  });

  test('random redirect policies render schema-valid AS3', () => {
    const validator = as3Validator()!;
    const targets = [PROXY, PARTNER];
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            level: fc.constantFrom('cluster' as const, 'namespace' as const, 'service' as const),
            target: fc.nat(1),
            net: fc.nat(200),
            ports: fc.subarray([P.HTTPS, P.DNS_UDP, P.icmp(), P.tcpRange(8000, 8100)]),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        (draws) => {
          const rules = draws.map((d, i) =>
            rule({
              level: d.level,
              name: `r${i}`,
              ...(d.level !== 'cluster' ? { namespace: `ns${i}` } : {}),
              ...(d.level === 'service' ? { service: 'api' } : {}),
              destinations: [D.cidr(`10.${d.net}.${i}.0/24`)],
              ...(d.ports.length ? { ports: d.ports } : {}),
              redirect: targets[d.target],
            }),
          );
          const out = renderAs3(compilePolicy(policy(rules)));
          expect(validator.validate(out)).toEqual({ valid: true, errors: [] });
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('evaluation and explain', () => {
  const pod = { namespace: 'shop', name: 'web-1', labels: {}, ips: ['10.244.1.5'], phase: 'Running' };
  const snapshot = { pods: [pod], namespaces: [{ name: 'shop', labels: {} }], services: [] };
  const at = new Date('2026-03-02T10:00:00Z');

  function both(p: PolicyModel, destinationIp: string, port: number) {
    const compiled = compilePolicy(p);
    const as3 = JSON.parse(JSON.stringify(renderAs3(compiled)));
    const firewall = AfmFirewall.load(as3, deviceCommands(compiled).apply);
    const members = new Map<string, string[]>();
    for (const l of compiled.sourceLists)
      if (l.source.namespace === 'shop' || l.source.level === 'cluster') members.set(l.path, ['10.244.1.5']);
    const afm = firewall.evaluate(
      { sourceIp: '10.244.1.5', routeDomain: 0, destinationIp, protocol: 'tcp', port },
      firewall.listState(members),
    );
    const intent = evaluateIntent({
      model: p,
      snapshot,
      dns: new Map(),
      flow: { pod, sourceIp: '10.244.1.5', destinationIp, protocol: 'tcp', port },
      at,
    });
    return { afm, intent };
  }

  test("the rule's flows go to the redirect's gateways; its other flows keep the device's", () => {
    const d = testDevice({ gateways: [{ kind: 'address', text: '192.0.2.1', family: 4 }] });
    const other = rule({ level: 'namespace', namespace: 'shop', name: 'ssh', ports: [P.SSH] });
    const p = policy([web(), other], d);
    const redirected = both(p, '203.0.113.7', 443);
    expect(redirected.afm.nextHop).toEqual({
      via: 'gateways',
      gateways: ['192.0.2.10', '192.0.2.11'],
      virtualServer: '/k8s_prod/egress/rdr_n_shop_web_tcp',
    });
    expect(redirected.intent.nextHop).toEqual({ via: 'gateways', gateways: ['192.0.2.10', '192.0.2.11'], redirect: 'inspection' });
    const plain = both(p, '203.0.113.7', 22);
    expect(plain.afm.nextHop).toEqual({ via: 'gateways', gateways: ['192.0.2.1'], virtualServer: '/k8s_prod/egress/egress_vs' });
    expect(plain.intent.nextHop).toEqual({ via: 'gateways', gateways: ['192.0.2.1'] });
  });

  test('a higher-priority cluster DENY still denies a flow the redirect listener takes: the global context runs first', () => {
    const deny = rule({ level: 'cluster', name: 'no-bad-net', action: 'DENY', priority: 0, destinations: [D.cidr('203.0.113.0/28')] });
    const { afm, intent } = both(policy([web(), deny]), '203.0.113.7', 443);
    expect(afm.enforced.virtualServer).toBe('/k8s_prod/egress/rdr_n_shop_web_tcp');
    expect(afm.verdict).toBe('deny');
    expect(afm.enforced.decidedBy).toMatchObject({ context: 'global', rule: 'c_no-bad-net_any', action: 'drop' });
    expect(intent.verdict).toBe('deny');
    expect(afm.nextHop).toBeUndefined();
    expect(intent.nextHop).toBeUndefined();
  });

  test('explain names the next hop and the redirect; simulate\'s "decided by" says where the flow went', () => {
    const p = policy([web()]);
    const compiled = compilePolicy(p);
    const view = policyView({
      label: 'egress/k8s_prod',
      model: p,
      plan: buildSyncPlan(compiled),
      as3: [JSON.parse(JSON.stringify(renderAs3(compiled)))],
      commands: deviceCommands(compiled).apply,
    });
    const e = explain(
      view,
      { snapshot, dns: new Map(), source: 'test' },
      { table: new Map(), origin: new Map() },
      {
        from: { namespace: 'shop', name: 'web-1' },
        to: { text: '203.0.113.7:443/tcp', ip: '203.0.113.7', port: 443, protocol: 'tcp' },
        at,
      },
    );
    const text = formatExplanation(e);
    expect(text).toContain(
      '  next hop: gateways 192.0.2.10, 192.0.2.11 (redirect "inspection", virtual server /k8s_prod/egress/rdr_n_shop_web_tcp)',
    );
  });
});

describe('the redirect listener outranks the egress virtual server under any reading', () => {
  test('a cluster rule over every pod that matches by the pod CIDRs needs ports (or a selector)', () => {
    const d = testDevice({ podCidrs: [{ kind: 'cidr', text: '10.244.0.0/16', family: 4 }] });
    const every = (extra: Partial<RuleInput> = {}) =>
      rule({
        level: 'cluster',
        name: 'partner',
        action: 'ALLOW_FINAL',
        destinations: [D.cidr('198.51.100.0/24')],
        redirect: PARTNER,
        ...extra,
      });
    expect(messages(() => compilePolicy(policy([every()], d)))).toEqual([
      'redirect: this rule matches every pod by the pod CIDRs, as the egress virtual server does, on every port; whether BIG-IP then ranks the redirect listener first rests on how it ranks address lists, which F5 does not document; give the rule ports, or a namespace or pod selector (got "partner")',
    ]);
    expect(() => compilePolicy(policy([every({ ports: [P.HTTPS] })], d))).not.toThrow();
    expect(() => compilePolicy(policy([every({ action: 'ALLOW' })], d))).not.toThrow();
    expect(() => compilePolicy(policy([every()], testDevice()))).not.toThrow();
  });
});

describe('graph', () => {
  test("a redirect rule's box names the redirect and its gateways", () => {
    const picture = policyPicture(policy([web()]), 'egress policy');
    const box = picture.levels.flatMap((l) => l.rules).find((r) => r.lines[0] === '1. shop/web');
    expect(box?.lines).toEqual(['1. shop/web', 'ALLOW · priority 500', 'via inspection (192.0.2.10, 192.0.2.11)']);
  });
});

describe('constructs', () => {
  test('synth of a device on a SharedBigip with a redirect rule stops with the issue naming the rule', () => {
    const app = Testing.app();
    const crds = new EgressCrdStack(app, 'crds');
    const sharedStack = new TerraformStack(app, 'bigip');
    const stack = new TerraformStack(app, 'clusters');
    new KubernetesProvider(stack, 'k8s', {});
    const bigip = new SharedBigip(sharedStack, 'Dc1', {
      address: 'bigip.example.net',
      tlsCaBundlePath: '/ca.pem',
      dnsResolver: '/Common/r',
    });
    const device = new AfmDevice(stack, 'East', { clusterName: 'east', sharedBigip: bigip, crdStack: crds });
    new NamespaceEgressRule(stack, 'Web', {
      device,
      namespace: 'shop',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.cidr('203.0.113.0/24')],
      ports: [EgressPort.HTTPS],
      redirect: PROXY,
    });
    expect(() => app.synth()).toThrow(
      /\[clusters\/Web\] redirect: a redirect listener uses the rule's lists in \/Common\/Shared, which another cluster's deploy of the shared BIG-IP may remove/,
    );
  });

  test('a ClusterEgressRule with a redirect synthesizes its listener', () => {
    const { stack, device } = deviceStack();
    new ClusterEgressRule(stack, 'Partner', {
      device,
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.cidr('198.51.100.0/24')],
      ports: [EgressPort.SSH],
      redirect: PARTNER,
    });
    expect(as3Of(stack).declaration.k8s_prod.egress.rdr_c_partner_tcp).toMatchObject({ pool: 'rdr_partner', layer4: 'tcp' });
  });
});

describe('the self-check of the rendered listeners', () => {
  const rendered = () => {
    const compiled = compilePolicy(
      policy([
        web(),
        rule({ level: 'cluster', name: 'dns', destinations: [D.address('198.51.100.53')], ports: [P.DNS_UDP], redirect: PARTNER }),
      ]),
    );
    return { compiled, adc: JSON.parse(JSON.stringify((renderAs3(compiled) as any).declaration)) };
  };
  const problems = (tamper: (app: any, adc: any) => void) => {
    const { compiled, adc } = rendered();
    tamper(adc.k8s_prod.egress, adc);
    return messages(() => checkRedirectRendering(adc, compiled)).map((m) => m.replace(/; this is a bug, please report it.*$/, ''));
  };

  test('a faithful rendering passes', () => {
    const { compiled, adc } = rendered();
    expect(() => checkRedirectRendering(adc, compiled)).not.toThrow();
  });

  test.each([
    [
      'other gateways',
      (app: any) => (app.rdr_inspection.members[0].serverAddresses = ['192.0.2.99']),
      'redirect: the rendered redirect listener rdr_n_shop_web_tcp does not send to the gateways of redirect inspection',
    ],
    [
      'no enforced policy',
      (app: any) => delete app.rdr_n_shop_web_tcp.policyFirewallEnforced,
      'redirect: the rendered redirect listener rdr_n_shop_web_tcp differs from the egress virtual server in its policies, SNAT, VLANs, logging or security services',
    ],
    [
      'another source list',
      (app: any) => (app.rdr_n_shop_web_tcp.sourceAddress = { use: '/Common/Shared/k8s_prod_src_cluster' }),
      "redirect: the rendered redirect listener rdr_n_shop_web_tcp does not match the rule's source list",
    ],
    [
      'a wider destination',
      (app: any) => app.rdr_n_shop_web_dst.addresses.push('0.0.0.0/1'),
      "redirect: the rendered redirect listener rdr_n_shop_web_tcp does not match exactly the rule's destinations",
    ],
    [
      'every port',
      (app: any) => (app.rdr_c_dns_udp.virtualPort = 0),
      "redirect: the rendered redirect listener rdr_c_dns_udp does not match exactly the rule's udp ports",
    ],
    [
      'another protocol',
      (app: any) => (app.rdr_c_dns_udp.layer4 = 'tcp'),
      'redirect: the rendered redirect listener rdr_c_dns_udp listens for tcp, not udp',
    ],
    ['a missing listener', (app: any) => delete app.rdr_c_dns_udp, 'redirect: the rendered redirect listener for udp is missing'],
    [
      'a stray listener',
      (app: any) => (app.extra_vs = { ...app.rdr_c_dns_udp }),
      'redirect: a virtual server no redirect rule asks for was rendered',
    ],
  ])('%s is caught', (_, tamper, message) => {
    expect(problems(tamper)).toEqual([expect.stringContaining(message)]);
  });
});

describe('diff', () => {
  const view = (p: PolicyModel, label: string) => {
    const compiled = compilePolicy(p);
    return policyView({
      label,
      model: p,
      plan: buildSyncPlan(compiled),
      as3: [JSON.parse(JSON.stringify(renderAs3(compiled)))],
      commands: deviceCommands(compiled).apply,
    });
  };

  test('a redirect that comes shows as rerouted flows (">"), with the old and new next hops; nothing else changes', () => {
    const snapshot = {
      pods: [{ namespace: 'shop', name: 'web-1', labels: {}, ips: ['10.244.1.5'], phase: 'Running' }],
      namespaces: [{ name: 'shop', labels: {} }],
      services: [],
    };
    const r = diffPolicies({
      old: view(policy([web({ redirect: undefined })]), 'old'),
      new: view(policy([web()]), 'new'),
      at: new Date('2026-03-02T10:00:00Z'),
      fixedTime: true,
      cluster: { snapshot, source: 'test' },
      dns: new Map(),
    });
    const lines = r.workloads.flatMap((w) => w.changes.map(changeText));
    expect(lines).toEqual([
      '> 203.0.113.0/24:80,443/tcp (now through gateways 192.0.2.10, 192.0.2.11 (redirect "inspection"); was through the routing table)',
    ]);
  });
});

describe('two listeners with the same criteria', () => {
  test('are refused: two rules with the same sources, destinations and ports cannot both redirect', () => {
    const twin = web({ name: 'web-2', priority: 10 });
    expect(messages(() => compilePolicy(policy([web(), twin])))).toEqual([
      'redirect: its tcp listener would match exactly the sources, destinations and ports of rule namespace/shop/web-2\'s; BIG-IP does not document two virtual servers with the same traffic-matching criteria: merge the two rules, or tell them apart by destinations or ports (got "inspection")',
    ]);
    expect(() => compilePolicy(policy([web(), web({ name: 'web-2', ports: [P.HTTPS] })]))).not.toThrow();
  });
});
