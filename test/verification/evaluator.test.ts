/**
 * The AFM evaluator on hand-written declarations: pointer resolution, route domains, lists,
 * context semantics, virtual-server selection, staged policies, and what it refuses.
 */
import { AfmFirewall, AfmFlow, AfmModelError, AfmRuleIndex } from '../../lib/afm/evaluator';
import type { PolicyModel } from '../../lib/policy/model';
import { testDevice } from '../support/device';

type Obj = Record<string, unknown>;

/** A declaration with `/Common/Shared` items, one tenant `T` (route domain `rd`) with application `A`. */
function declaration(shared: Obj, app: Obj, rd = 0): Obj {
  return {
    class: 'AS3',
    declaration: {
      class: 'ADC',
      Common: { class: 'Tenant', Shared: { class: 'Application', template: 'shared', ...shared } },
      T: { class: 'Tenant', defaultRouteDomain: rd, A: { class: 'Application', ...app } },
    },
  };
}

const list = (addresses: unknown[], extra: Obj = {}) => ({ class: 'Firewall_Address_List', addresses, ...extra });
const rule = (name: string, action: string, extra: Obj = {}) => ({ name, action, ...extra });
const policy = (rules: unknown[], extra: Obj = {}) => ({ class: 'Firewall_Policy', rules, ...extra });
const wildcardVs = (extra: Obj = {}) => ({
  class: 'Service_L4',
  virtualAddresses: ['0.0.0.0/0', '::/0'],
  virtualPort: 0,
  layer4: 'any',
  policyFirewallEnforced: { use: 'vs_policy' },
  ...extra,
});

const GLOBAL = 'modify security firewall global-rules enforced-policy /Common/Shared/global';

function flow(extra: Partial<AfmFlow> = {}): AfmFlow {
  return { sourceIp: '10.244.0.5', routeDomain: 0, destinationIp: '198.51.100.7', protocol: 'tcp', port: 443, ...extra };
}

function evaluate(
  fw: AfmFirewall,
  f: Partial<AfmFlow> = {},
  members: Record<string, string[]> = {},
  resolved: Record<string, string[]> = {},
) {
  return fw.evaluate(flow(f), fw.listState(new Map(Object.entries(members)), new Map(Object.entries(resolved))));
}

describe('context semantics', () => {
  const fw = (globalAction: string, vsAction = 'drop') =>
    AfmFirewall.load(
      declaration(
        { dst: list(['198.51.100.0/24']), global: policy([rule('g', globalAction, { destination: { addressLists: [{ use: 'dst' }] } })]) },
        { vs_policy: policy([rule('v', vsAction)]), vs: wildcardVs() },
      ),
      [GLOBAL],
    );

  test('accept passes the packet on to the next context', () => {
    const r = evaluate(fw('accept'));
    expect(r.verdict).toBe('deny');
    expect(r.enforced.decidedBy).toMatchObject({ context: 'virtual-server', rule: 'v', action: 'drop', policy: '/T/A/vs_policy' });
    expect(r.enforced.steps.map((s) => s.outcome)).toEqual(['match', 'no-policy', 'match']);
  });

  test('accept-decisively skips the later contexts', () => {
    const r = evaluate(fw('accept-decisively'));
    expect(r.verdict).toBe('allow');
    expect(r.enforced.steps.map((s) => s.outcome)).toEqual(['match', 'not-reached', 'not-reached']);
    expect(r.enforced.decidedBy?.rule).toBe('g');
  });

  test.each([
    ['drop', 'deny'],
    ['reject', 'reject'],
  ])('%s ends the evaluation', (action, verdict) => {
    expect(evaluate(fw(action, 'accept')).verdict).toBe(verdict);
  });

  test('a virtual server whose policy matches nothing falls to the virtual-server default (accept in ADC mode, configurable)', () => {
    const decl = declaration({}, { vs_policy: policy([rule('v', 'drop', { protocol: 'udp' })]), vs: wildcardVs() });
    const adc = evaluate(AfmFirewall.load(decl, []));
    expect([adc.verdict, adc.enforced.ending]).toEqual(['allow', 'virtual-server-default']);
    expect(evaluate(AfmFirewall.load(decl, [], { virtualServerDefault: 'drop' })).verdict).toBe('deny');
  });

  test('a packet no virtual server listens for is dropped, even after accept-decisively', () => {
    const decl = declaration(
      { global: policy([rule('g', 'accept-decisively')]) },
      { vs_policy: policy([rule('v', 'accept')]), vs: wildcardVs({ virtualAddresses: [['0.0.0.0/0', '10.244.0.0/16']] }) },
    );
    const outside = evaluate(AfmFirewall.load(decl, [GLOBAL]), { sourceIp: '192.168.0.1' });
    expect([outside.verdict, outside.enforced.ending]).toEqual(['deny', 'no-virtual-server']);
    expect(evaluate(AfmFirewall.load(decl, [GLOBAL])).verdict).toBe('allow');
  });
});

describe('pointers and lists', () => {
  test('bare names resolve in the referring application, absolute paths and @ anywhere; nested lists expand', () => {
    const decl = declaration(
      { inner: list(['192.0.2.0/28']), outer: list([], { addressLists: [{ use: 'inner' }] }) },
      {
        local: list(['203.0.113.1']),
        rules: {
          class: 'Firewall_Rule_List',
          rules: [
            rule('by-shared', 'drop', { destination: { addressLists: [{ use: '/Common/Shared/outer' }] } }),
            rule('by-local', 'reject', { destination: { addressLists: [{ use: '/@/@/local' }] } }),
          ],
        },
        vs_policy: policy([{ use: 'rules' }, rule('rest', 'accept')]),
        vs: wildcardVs(),
      },
    );
    const fw = AfmFirewall.load(decl, []);
    expect(evaluate(fw, { destinationIp: '192.0.2.15' }).enforced.decidedBy).toMatchObject({ rule: 'by-shared', ruleList: '/T/A/rules' });
    expect(evaluate(fw, { destinationIp: '203.0.113.1' }).verdict).toBe('reject');
    expect(evaluate(fw, { destinationIp: '192.0.2.16' }).enforced.decidedBy?.rule).toBe('rest');
  });

  test.each([
    [{ use: 'missing' }, /resolves to \/T\/A\/missing, which the declaration does not define/],
    [{ use: 'vs' }, /a Service_L4, not a Firewall_Address_List/],
    [{ bigip: '/Common/foreign' }, /outside the declaration/],
    [{ use: 'a/b' }, /neither a bare name nor \/Tenant\/Application\/name/],
  ])('a bad pointer %j is refused', (pointer, message) => {
    const decl = declaration(
      {},
      { vs_policy: policy([rule('r', 'drop', { destination: { addressLists: [pointer] } })]), vs: wildcardVs() },
    );
    expect(() => AfmFirewall.load(decl, [])).toThrow(message);
  });

  test('address lists that refer to each other in a cycle are refused', () => {
    const decl = declaration(
      { a: list([], { addressLists: [{ use: 'b' }] }), b: list([], { addressLists: [{ use: 'a' }] }) },
      { vs_policy: policy([rule('r', 'drop', { destination: { addressLists: [{ use: '/Common/Shared/a' }] } })]), vs: wildcardVs() },
    );
    expect(() => AfmFirewall.load(decl, [])).toThrow(/cycle/);
  });

  test('port lists take numbers and inclusive "a-b" ranges, nested; a ported rule does not match a packet without a port', () => {
    const decl = declaration(
      {
        web: { class: 'Firewall_Port_List', ports: [80, '8000-8010'] },
        all: { class: 'Firewall_Port_List', ports: [443], portLists: [{ use: 'web' }] },
      },
      { vs_policy: policy([rule('p', 'drop', { destination: { portLists: [{ use: '/Common/Shared/all' }] } })]), vs: wildcardVs() },
    );
    const fw = AfmFirewall.load(decl, []);
    expect([80, 443, 8000, 8010].map((port) => evaluate(fw, { port }).verdict)).toEqual(['deny', 'deny', 'deny', 'deny']);
    expect([81, 8011].map((port) => evaluate(fw, { port }).verdict)).toEqual(['allow', 'allow']);
    expect(evaluate(fw, { protocol: 'icmp', port: undefined }).verdict).toBe('allow');
  });
});

describe('route domains', () => {
  const decl = declaration(
    { c: list(['10.0.0.0%2/8']), r: list(['192.0.2.10%2-192.0.2.20%2']), plain: list(['198.51.100.0/24']) },
    {
      here: list(['203.0.113.0/24']),
      vs_policy: policy([
        rule('cidr', 'drop', { destination: { addressLists: [{ use: '/Common/Shared/c' }] } }),
        rule('range', 'reject', { destination: { addressLists: [{ use: '/Common/Shared/r' }] } }),
        rule('common-default', 'drop', { destination: { addressLists: [{ use: '/Common/Shared/plain' }] } }),
        rule('tenant-default', 'reject', { destination: { addressLists: [{ use: 'here' }] } }),
        rule('rest', 'accept'),
      ]),
      vs: wildcardVs({ virtualAddresses: ['0.0.0.0%2/0'] }),
    },
    2,
  );
  const fw = AfmFirewall.load(decl, []);
  test('entries carry route domains; an entry without one is in its partition default (/Common: 0, a tenant: its defaultRouteDomain)', () => {
    const rd2 = (destinationIp: string) => evaluate(fw, { routeDomain: 2, destinationIp }).enforced.decidedBy?.rule;
    expect(rd2('10.1.2.3')).toBe('cidr');
    expect([rd2('192.0.2.10'), rd2('192.0.2.20'), rd2('192.0.2.21')]).toEqual(['range', 'range', 'rest']);
    expect(rd2('198.51.100.1')).toBe('rest');
    expect(rd2('203.0.113.1')).toBe('tenant-default');
  });
  test('a packet of another route domain reaches no virtual server of this one', () => {
    expect(evaluate(fw, { routeDomain: 0, destinationIp: '10.1.2.3' }).enforced.ending).toBe('no-virtual-server');
  });
  test('event-driven members are pushed as ip or ip%rd; a list without members matches nothing', () => {
    const d = declaration(
      { pods: list([{ addressDiscovery: 'event' }]) },
      {
        vs_policy: policy([
          rule('from-pods', 'reject', { source: { addressLists: [{ use: '/Common/Shared/pods' }] } }),
          rule('rest', 'accept'),
        ]),
        vs: wildcardVs({ virtualAddresses: ['0.0.0.0%2/0'] }),
      },
      2,
    );
    const f = AfmFirewall.load(d, []);
    expect(f.eventLists).toEqual(['/Common/Shared/pods']);
    expect(evaluate(f, { routeDomain: 2 }, { '/Common/Shared/pods': ['10.244.0.5%2'] }).verdict).toBe('reject');
    expect(evaluate(f, { routeDomain: 2 }, { '/Common/Shared/pods': ['10.244.0.5'] }).verdict).toBe('allow'); // route domain 0
    expect(evaluate(f, { routeDomain: 2 }).verdict).toBe('allow');
    expect(() => evaluate(f, {}, { '/Common/Shared/other': ['10.0.0.1'] })).toThrow(/not an event-driven address list/);
  });
  test('route-domain policies come from routeDomainEnforcement and tmsh fw-enforced-policy / fw-staged-policy', () => {
    const d = declaration(
      {
        rd_policy: policy([rule('rd-drop', 'drop')], { routeDomainEnforcement: [{ bigip: '/Common/2' }] }),
        rd_staged: policy([rule('rd-reject', 'reject')]),
      },
      { vs_policy: policy([rule('rest', 'accept')]), vs: wildcardVs({ virtualAddresses: ['0.0.0.0%2/0'] }) },
      2,
    );
    const r = evaluate(AfmFirewall.load(d, ['modify net route-domain /Common/2 fw-staged-policy /Common/Shared/rd_staged']), {
      routeDomain: 2,
    });
    expect([r.verdict, r.wouldBe, r.hasStaged]).toEqual(['deny', 'reject', true]);
    expect(r.enforced.steps[1]).toMatchObject({ context: 'route-domain', outcome: 'match', policy: '/Common/Shared/rd_policy' });
  });
});

describe('FQDN entries', () => {
  const fw = AfmFirewall.load(
    declaration(
      { names: list([], { fqdns: ['api.stripe.com', '*.svc.example.org'] }) },
      {
        vs_policy: policy([
          rule('names', 'drop', { destination: { addressLists: [{ use: '/Common/Shared/names' }] } }),
          rule('rest', 'accept'),
        ]),
        vs: wildcardVs(),
      },
    ),
    [],
  );
  test.each([
    [{ destinationIp: undefined, host: 'api.stripe.com' }, {}, 'deny'],
    [{ destinationIp: undefined, host: 'a.svc.example.org' }, {}, 'deny'],
    [{ destinationIp: undefined, host: 'a.b.svc.example.org' }, {}, 'allow'],
    [{ destinationIp: '203.0.113.10' }, { 'api.stripe.com': ['203.0.113.10'] }, 'deny'],
    [{ destinationIp: '203.0.113.10' }, { 'x.svc.example.org': ['203.0.113.10'] }, 'deny'],
    [{ destinationIp: '203.0.113.10' }, { 'other.example.com': ['203.0.113.10'] }, 'allow'],
  ])('%j with resolved %j → %s', (f, resolved, verdict) => {
    expect(evaluate(fw, f as Partial<AfmFlow>, {}, resolved).verdict).toBe(verdict);
  });
});

describe('virtual servers', () => {
  test('the most specific listening virtual server handles the packet; Service_L4 listens for tcp unless layer4 says otherwise', () => {
    const decl = declaration(
      {},
      {
        wide_policy: policy([rule('wide', 'drop')]),
        narrow_policy: policy([rule('narrow', 'reject')]),
        wide: { class: 'Service_L4', virtualAddresses: ['0.0.0.0/0'], virtualPort: 0, policyFirewallEnforced: { use: 'wide_policy' } },
        narrow: {
          class: 'Service_L4',
          virtualAddresses: [['198.51.100.0/24', '10.244.0.0/16']],
          virtualPort: 443,
          policyFirewallEnforced: { use: 'narrow_policy' },
        },
      },
    );
    const fw = AfmFirewall.load(decl, []);
    expect(evaluate(fw).enforced.virtualServer).toBe('/T/A/narrow');
    expect(evaluate(fw, { port: 80 }).enforced.virtualServer).toBe('/T/A/wide');
    expect(evaluate(fw, { protocol: 'udp', port: 53 }).enforced.ending).toBe('no-virtual-server');
  });

  test('a host-only flow is caught only by a wildcard virtual of the source family', () => {
    const decl = declaration({}, { vs_policy: policy([rule('v', 'accept')]), vs: wildcardVs({ virtualAddresses: ['198.51.100.0/24'] }) });
    expect(evaluate(AfmFirewall.load(decl, []), { destinationIp: undefined, host: 'api.stripe.com' }).enforced.ending).toBe(
      'no-virtual-server',
    );
  });
});

describe('staged policies', () => {
  test('staged policies give the would-be verdict context by context, enforced ones where none is staged', () => {
    const decl = declaration(
      { global: policy([]), global_staged: policy([rule('trial', 'drop')]) },
      {
        vs_policy: policy([rule('v', 'accept')]),
        vs_staged: policy([rule('v-staged', 'reject')]),
        vs: wildcardVs({ policyFirewallStaged: { use: 'vs_staged' } }),
      },
    );
    const onlyVs = evaluate(AfmFirewall.load(decl, [GLOBAL]));
    expect([onlyVs.verdict, onlyVs.wouldBe, onlyVs.staged.decidedBy?.rule]).toEqual(['allow', 'reject', 'v-staged']);
    const withGlobal = evaluate(
      AfmFirewall.load(decl, [GLOBAL, 'modify security firewall global-rules staged-policy /Common/Shared/global_staged']),
    );
    expect([withGlobal.verdict, withGlobal.wouldBe, withGlobal.staged.decidedBy?.rule]).toEqual(['allow', 'deny', 'trial']);
  });

  test('without staged policies the would-be verdict is the enforced one', () => {
    const r = evaluate(AfmFirewall.load(declaration({}, { vs_policy: policy([rule('v', 'drop')]), vs: wildcardVs() }), []));
    expect([r.hasStaged, r.wouldBe]).toEqual([false, 'deny']);
    expect(r.staged).toBe(r.enforced);
  });

  test('a staged policy that holds exactly its enforced rules stages nothing', () => {
    const decl = declaration(
      { nothing: { class: 'Firewall_Rule_List', rules: [] } },
      {
        v_rules: { class: 'Firewall_Rule_List', rules: [rule('v', 'drop')] },
        vs_policy: policy([{ use: 'v_rules' }, rule('default', 'accept')]),
        vs_staged: policy([{ use: 'v_rules' }, rule('default', 'accept')]),
        vs: wildcardVs({ policyFirewallStaged: { use: 'vs_staged' } }),
      },
    );
    const r = evaluate(AfmFirewall.load(decl, []));
    expect([r.hasStaged, r.verdict, r.wouldBe]).toEqual([false, 'deny', 'deny']);
    expect(r.staged).toBe(r.enforced);
  });
});

describe('several declarations and tmsh commands', () => {
  const shared = {
    class: 'AS3',
    declaration: {
      class: 'ADC',
      Common: { class: 'Tenant', Shared: { class: 'Application', template: 'shared', global: policy([rule('g', 'reject')]) } },
    },
  };
  const tenant = {
    class: 'AS3',
    declaration: {
      class: 'ADC',
      T: { class: 'Tenant', A: { class: 'Application', vs_policy: policy([rule('v', 'accept')]), vs: wildcardVs() } },
    },
  };

  test('tenants of several declarations sit side by side', () => {
    expect(evaluate(AfmFirewall.load([tenant, shared], [GLOBAL])).verdict).toBe('reject');
    expect(
      evaluate(AfmFirewall.load([tenant, shared], [GLOBAL, 'modify security firewall global-rules enforced-policy none'])).verdict,
    ).toBe('allow');
  });

  test('a tenant or shared item declared twice is refused', () => {
    expect(() => AfmFirewall.load([tenant, tenant], [])).toThrow(/tenant T is declared by AS3 inputs 1 and 2/);
    expect(() => AfmFirewall.load([shared, shared], [])).toThrow(/\/Common\/Shared\/global is declared by more than one AS3 input/);
  });

  test.each([
    ['modify sys db tm.fw.defaultaction value drop', /not modelled/],
    ['modify security firewall global-rules enforced-policy /Common/Shared/nothing', /not a Firewall_Policy of the declaration/],
    ['modify security firewall global-rules enforced-policy', /attribute\/value pairs/],
  ])('command %j is refused', (command, message) => {
    expect(() => AfmFirewall.load([tenant, shared], [command])).toThrow(message);
  });

  test('the FQDN resolver command is understood and changes no verdict', () => {
    expect(() => AfmFirewall.load([tenant, shared], ['modify security firewall global-fqdn-policy dns-resolver /Common/r'])).not.toThrow();
  });

  test('reading and saving change nothing', () => {
    const commands = ['list security firewall global-rules', 'list net route-domain /Common/rd-blue', GLOBAL, 'save sys config'];
    expect(evaluate(AfmFirewall.load([tenant, shared], commands)).verdict).toBe('reject');
  });

  test('a flow of a route domain whose policies are attached by a name of unknown id fails, rather than skip them', () => {
    const fw = AfmFirewall.load([tenant, shared], ['modify net route-domain /Common/rd-blue fw-staged-policy /Common/Shared/global']);
    expect(() => evaluate(fw)).toThrow(
      /route domain 0 has no policy by id, and policies are attached to route domains \/Common\/rd-blue, whose ids are not known: give them in the routeDomainIds option/,
    );
  });

  test('a route domain named otherwise than its id is found through routeDomainIds', () => {
    const fw = AfmFirewall.load([tenant, shared], ['modify net route-domain /Common/rd-blue fw-staged-policy /Common/Shared/global'], {
      routeDomainIds: { '/Common/rd-blue': 0 },
    });
    expect(evaluate(fw)).toMatchObject({ verdict: 'allow', wouldBe: 'reject', hasStaged: true });
  });

  test('a bigip reference to an object of another loaded declaration is that object; one outside them is refused', () => {
    const pointing = {
      class: 'AS3',
      declaration: {
        class: 'ADC',
        T: { class: 'Tenant', A: { class: 'Application', vs: wildcardVs({ policyFirewallEnforced: { bigip: '/Common/Shared/global' } }) } },
      },
    };
    expect(evaluate(AfmFirewall.load([pointing, shared], [])).enforced.decidedBy).toMatchObject({
      context: 'virtual-server',
      policy: '/Common/Shared/global',
      rule: 'g',
    });
    expect(() => AfmFirewall.load([pointing], [])).toThrow(/refers to \/Common\/Shared\/global outside the declarations/);
  });
});

describe('what is not modelled is refused, not ignored', () => {
  test.each([
    [
      { vs_policy: policy([rule('r', 'drop', { source: { vlans: [{ bigip: '/Common/v' }] } })]), vs: wildcardVs() },
      /source.vlans is not modelled/,
    ],
    [{ vs_policy: policy([rule('r', 'drop', { schedule: 'x' })]), vs: wildcardVs() }, /rule property "schedule" is not modelled/],
    [{ vs_policy: policy([rule('r', 'allow')]), vs: wildcardVs() }, /is not accept, accept-decisively, drop or reject/],
    [
      {
        geo: list([], { geo: ['US'] }),
        vs_policy: policy([rule('r', 'drop', { destination: { addressLists: [{ use: 'geo' }] } })]),
        vs: wildcardVs(),
      },
      /address-list property "geo" is not modelled/,
    ],
    [{ web: { class: 'Service_HTTP', virtualAddresses: ['192.0.2.1'] } }, /Service_HTTP are not modelled/],
  ])('%#', (app, message) => {
    expect(() => AfmFirewall.load(declaration({}, app as Obj), [])).toThrow(message);
  });

  test('errors are AfmModelErrors', () => {
    expect(() => AfmFirewall.load({ class: 'Tenant' }, [])).toThrow(AfmModelError);
  });
});

describe('AfmRuleIndex', () => {
  const model: PolicyModel = {
    device: testDevice({ tenant: 'k8s_a' }),
    externalServices: [],
    rules: [
      {
        level: 'namespace',
        name: 'sftp',
        namespace: 'pay',
        path: 'app/Sftp',
        action: 'ALLOW',
        priority: 5,
        source: { level: 'namespace', namespace: 'pay' },
        destinations: [],
        ports: [{ protocol: 'tcp', fromPort: 22, toPort: 22 }, { protocol: 'a/n' }],
        logging: false,
        audit: false,
        metadata: {},
      },
    ],
  };
  const index = new AfmRuleIndex(model);
  test('maps AFM rule names (one per protocol) back to their rule when the hit is from this device', () => {
    expect(index.ownerOf({ rule: 'n_pay_sftp_tcp', ruleList: '/Common/Shared/k8s_a_namespace_rules' })).toMatchObject({
      key: 'namespace/pay/sftp',
      kind: 'NamespaceEgressRule',
      path: 'app/Sftp',
    });
    expect(index.ownerOf({ rule: 'n_pay_sftp_a_n', ruleList: '/Common/Shared/k8s_a_carried_allow' })?.key).toBe('namespace/pay/sftp');
  });
  test("another device's rule of the same name on a shared BIG-IP, and inline rules, belong to no rule", () => {
    expect(index.ownerOf({ rule: 'n_pay_sftp_tcp', ruleList: '/Common/Shared/k8s_b_namespace_rules' })).toBeUndefined();
    expect(index.ownerOf({ rule: 'default' })).toBeUndefined();
  });
});
