/**
 * The self-check that runs on every render: corrupted declarations (as a name collision, a stale
 * cache or a rendering bug would leave them) fail with the rule's construct path and what
 * differs; correct ones pass.
 */
import fc from 'fast-check';
import { As3Object, renderAs3, renderSharedAs3, renderTenantAs3 } from '../../lib/afm/as3';
import { checkRendering } from '../../lib/afm/rendering-check';
import { CompiledPolicy, compilePolicy } from '../../lib/policy/compile';
import { EgressDestination as D } from '../../lib/policy/destination';
import { EgressPolicyError } from '../../lib/policy/errors';
import type { RuleModel } from '../../lib/policy/model';
import { EgressPort as P } from '../../lib/policy/port';
import { buildRule, RuleInput } from '../../lib/policy/schema';
import { limitPolicyArb, limitSharedArb, policyArb } from '../support/arbitraries';
import { testDevice } from '../support/device';

const rule = (path: string, r: Partial<RuleInput> & Pick<RuleInput, 'level' | 'name'>): RuleModel =>
  buildRule({ path, action: 'ALLOW', destinations: [D.anyIpv4()], ...r });

const RULES = [
  rule('app/security/AllowDns', {
    level: 'cluster',
    name: 'dns',
    action: 'ALLOW_FINAL',
    priority: 10,
    destinations: [D.address('10.96.0.10')],
    ports: [P.DNS_UDP],
  }),
  rule('app/security/BlockBad', {
    level: 'cluster',
    name: 'block-bad',
    action: 'DENY',
    priority: 20,
    destinations: [D.cidr('203.0.113.0/24')],
  }),
  rule('app/security/AllowWeb', { level: 'cluster', name: 'web', priority: 30, destinations: [D.cidr('192.0.2.0/24')], ports: [P.HTTPS] }),
  rule('app/web/Stripe', {
    level: 'namespace',
    name: 'stripe',
    namespace: 'web',
    destinations: [D.fqdn('api.stripe.com')],
    ports: [P.HTTPS],
    bandwidthLimit: { maxBandwidth: 5 },
  }),
  rule('app/payments/Deny', { level: 'namespace', name: 'deny-all', namespace: 'payments', action: 'DENY', priority: 900 }),
  rule('app/payments/Bank', {
    level: 'service',
    name: 'bank',
    namespace: 'payments',
    service: 'checkout',
    destinations: [D.address('198.51.100.7')],
    ports: [P.HTTPS],
  }),
  rule('app/payments/Trial', {
    level: 'service',
    name: 'trial',
    namespace: 'payments',
    service: 'checkout',
    audit: true,
    destinations: [D.address('198.51.100.8')],
  }),
];

const COMPILED = compilePolicy({
  device: testDevice({ podCidrs: [{ kind: 'cidr', text: '10.244.0.0/16', family: 4 }] }),
  externalServices: [],
  rules: RULES,
});
const SHARED = (decl: As3Object) => (decl.Common as any).Shared;
const APP = (decl: As3Object) => (decl.k8s_prod as any).egress;

/** The declaration of COMPILED after `mutate`, checked: the issues, or [] when it passes. */
function check(mutate: (decl: any) => void, compiled: CompiledPolicy = COMPILED): string[] {
  const decl = structuredClone((renderAs3(compiled) as any).declaration);
  mutate(decl);
  try {
    checkRendering({ adc: decl, devices: [compiled], contextOwner: compiled.model.device.tenant });
    return [];
  } catch (e) {
    if (e instanceof EgressPolicyError) return e.issues.map((i) => `[${i.path}] ${i.field}: ${i.message} (got ${i.value})`);
    throw e;
  }
}

const BUG = 'the declaration would not enforce this rule as written, so synth stops (this is a bug, please report it)';

describe('the rendering self-check', () => {
  test('passes the declaration as rendered', () => {
    expect(check(() => {})).toEqual([]);
  });

  test('a destination list holding more than its rules list', () => {
    expect(check((d) => SHARED(d).k8s_prod_dst_C82ED2766F42C218.addresses.push('0.0.0.0/0'))).toEqual([
      `[app/security/AllowDns] rendering: the AFM rule at position 1 of /Common/Shared/k8s_prod_cluster_rules (the cluster rules of app/stack/Bigip) matches destinations the rule does not list (0.0.0.0/0); ${BUG} (got "c_dns_udp")`,
    ]);
  });

  test('a destination list holding less, or other names', () => {
    const issues = check((d) => {
      SHARED(d).k8s_prod_dst_CE91CA348A13EDCB.fqdns = ['api.evil.example'];
    });
    // The Stripe rule is in the namespace list; its ALLOW is carried to the virtual server too.
    expect(issues).toHaveLength(2);
    expect(issues[0]).toMatch(
      /^\[app\/web\/Stripe\] rendering: the AFM rule at position 2 of \/Common\/Shared\/k8s_prod_carried_allow \(the carried ALLOW rules of app\/stack\/Bigip\) matches destinations the rule does not list \(api.evil.example\) and misses destinations the rule lists \(api.stripe.com\)/,
    );
  });

  test('a port-list pointer swapped with another rule\u2019s', () => {
    expect(check((d) => (SHARED(d).k8s_prod_cluster_rules.rules[0].destination.portLists = [{ use: 'k8s_prod_ports_443' }]))).toEqual([
      `[app/security/AllowDns] rendering: the AFM rule at position 1 of /Common/Shared/k8s_prod_cluster_rules (the cluster rules of app/stack/Bigip) matches udp ports 443-443 where the rule lists 53-53; ${BUG} (got "c_dns_udp")`,
    ]);
  });

  test('a port list dropped (every port) or added (some ports)', () => {
    expect(check((d) => delete SHARED(d).k8s_prod_cluster_rules.rules[0].destination.portLists)[0]).toMatch(
      /matches every udp port where the rule lists 53-53/,
    );
    expect(check((d) => (SHARED(d).k8s_prod_cluster_rules.rules[1].destination.portLists = [{ use: 'k8s_prod_ports_53' }]))[0]).toMatch(
      /^\[app\/security\/BlockBad\] .* matches only some ports where the rule means every any port/,
    );
  });

  test('a source pointer to another source\u2019s list', () => {
    expect(check((d) => (SHARED(d).k8s_prod_namespace_rules.rules[1].source.addressLists = [{ use: 'k8s_prod_src_ns_web' }]))).toEqual([
      `[app/payments/Deny] rendering: the AFM rule at position 2 of /Common/Shared/k8s_prod_namespace_rules (the namespace rules of app/stack/Bigip) takes its source from /Common/Shared/k8s_prod_src_ns_web, which the controller fills with the pods of namespace web (with its pod selector), not those of this rule; ${BUG} (got "n_payments_deny-all_any")`,
    ]);
  });

  test('a source list with addresses instead of the controller\u2019s members', () => {
    expect(check((d) => (SHARED(d).k8s_prod_src_cluster.addresses = ['0.0.0.0/0']))[0]).toMatch(
      /takes its source from \/Common\/Shared\/k8s_prod_src_cluster, which is not a list the controller fills with pods/,
    );
  });

  test('a cluster ALLOW over every pod taking its source from the pod CIDRs would widen it', () => {
    expect(check((d) => (SHARED(d).k8s_prod_carried_allow.rules[0].source.addressLists = [{ use: 'k8s_prod_src_pod_cidrs' }]))[0]).toMatch(
      /^\[app\/security\/AllowWeb\] .* takes its source from \/Common\/Shared\/k8s_prod_src_pod_cidrs, which is not a list the controller fills with pods/,
    );
  });

  test('a rule over every pod matching other networks than the pod CIDRs', () => {
    expect(check((d) => SHARED(d).k8s_prod_src_pod_cidrs.addresses.push('0.0.0.0/0'))).toEqual([
      `[app/security/AllowDns] rendering: the AFM rule at position 1 of /Common/Shared/k8s_prod_cluster_rules (the cluster rules of app/stack/Bigip) takes its source from /Common/Shared/k8s_prod_src_pod_cidrs, which is not the list of the pod CIDRs (10.244.0.0/16); ${BUG} (got "c_dns_udp")`,
    ]);
    expect(check((d) => (SHARED(d).k8s_prod_cluster_rules.rules[1].source.addressLists = [{ use: 'k8s_prod_src_cluster' }]))[0]).toMatch(
      /^\[app\/security\/BlockBad\] .* which is not the list of the pod CIDRs/,
    );
    expect(
      check((d) => (SHARED(d).k8s_prod_src_pod_cidrs = { class: 'Firewall_Address_List', addresses: [{ addressDiscovery: 'event' }] }))[0],
    ).toMatch(/^\[app\/security\/AllowDns\] .* which is not the list of the pod CIDRs/);
  });

  test('rules out of order, a changed action, protocol or logging', () => {
    const swapped = check((d) => SHARED(d).k8s_prod_cluster_rules.rules.reverse());
    expect(swapped[0]).toMatch(
      /^\[app\/security\/AllowDns\] rendering: the AFM rule at position 1 of \/Common\/Shared\/k8s_prod_cluster_rules .* is named "c_web_tcp", not "c_dns_udp"/,
    );
    expect(check((d) => (SHARED(d).k8s_prod_cluster_rules.rules[1].action = 'accept'))[0]).toMatch(
      /^\[app\/security\/BlockBad\] .* has action "accept" where the rule's DENY needs "drop"/,
    );
    expect(check((d) => (SHARED(d).k8s_prod_cluster_rules.rules[0].protocol = 'tcp'))[0]).toMatch(/matches protocol "tcp", not "udp"/);
    expect(check((d) => (SHARED(d).k8s_prod_cluster_rules.rules[0].loggingEnabled = true))[0]).toMatch(
      /has loggingEnabled true where the rule has logging false/,
    );
    // A carried copy of an ALLOW rule does not log: the match logged at the rule's own context.
    expect(check((d) => (SHARED(d).k8s_prod_carried_allow.rules[0].loggingEnabled = true))[0]).toMatch(
      /k8s_prod_carried_allow .* has loggingEnabled true where a carried copy of the rule must not log/,
    );
  });

  test('an AFM rule no policy rule stands for, or a missing one', () => {
    expect(
      check((d) => SHARED(d).k8s_prod_cluster_rules.rules.push({ ...SHARED(d).k8s_prod_cluster_rules.rules[1], name: 'c_extra_any' })),
    ).toEqual([
      '[app/stack/Bigip] rendering: the list holds 1 AFM rule(s) that no cluster rules stands for (c_extra_any); the declaration would not enforce the policy as written, so synth stops (this is a bug, please report it) (got "/Common/Shared/k8s_prod_cluster_rules")',
    ]);
    expect(check((d) => SHARED(d).k8s_prod_cluster_rules.rules.pop())[0]).toMatch(
      /^\[app\/security\/AllowWeb\] .* \/Common\/Shared\/k8s_prod_cluster_rules ends before this rule's tcp AFM rule/,
    );
  });

  test('a rule matching every destination, or matching by more than lists', () => {
    expect(
      check((d) => (SHARED(d).k8s_prod_cluster_rules.rules[0].destination = { portLists: [{ use: 'k8s_prod_ports_53' }] }))[0],
    ).toMatch(/must match its destinations by address lists/);
    expect(check((d) => (SHARED(d).k8s_prod_cluster_rules.rules[0].destination.addresses = ['0.0.0.0/0']))[0]).toMatch(
      /must match its destinations by address lists/,
    );
    expect(check((d) => (SHARED(d).k8s_prod_cluster_rules.rules[0].source.vlans = [{ bigip: '/Common/x' }]))[0]).toMatch(
      /must match its source by exactly one address list/,
    );
  });

  test('the policies of the three contexts', () => {
    // The global policy pointing at the namespace rules.
    expect(check((d) => (SHARED(d).k8s_prod_global_policy.rules = [{ use: 'k8s_prod_namespace_rules' }]))[0]).toMatch(
      /^\[app\/security\/AllowDns\] .* of \/Common\/Shared\/k8s_prod_namespace_rules \(the cluster rules of app\/stack\/Bigip\) is named "n_web_stripe_tcp", not "c_dns_udp"/,
    );
    expect(check((d) => delete SHARED(d).k8s_prod_rd0_policy.routeDomainEnforcement)[0]).toMatch(
      /the route-domain policy is not enforced on its route domain/,
    );
    // The staged virtual-server policy losing the audit rule, and the default turned into accept.
    expect(check((d) => (SHARED(d).k8s_prod_vs_policy_staged.rules[0] = { use: 'k8s_prod_service_rules' }))[0]).toMatch(
      /^\[app\/stack\/Bigip\] rendering: the list holds 1 AFM rule\(s\) that no staged service rules stands for|^\[app\/payments\/Trial\] .* ends before/,
    );
    expect(check((d) => (SHARED(d).k8s_prod_vs_policy.rules[2].action = 'accept'))[0]).toMatch(
      /the policy must hold the service rules, the carried ALLOW rules and a final drop of everything/,
    );
    expect(check((d) => delete APP(d).egress_vs.policyFirewallStaged)[0]).toMatch(/the virtual server's staged policy is missing/);
    // The staged policies exist whether or not a rule is in audit.
    expect(check((d) => delete SHARED(d).k8s_prod_global_policy_staged)[0]).toMatch(
      /the policy is missing.*\(got "\/Common\/Shared\/k8s_prod_global_policy_staged"\)/,
    );
    expect(check((d) => (SHARED(d).k8s_prod_rd0_policy.routeDomainEnforcement = [{ bigip: '/Common/7' }]))[0]).toMatch(
      /the route-domain policy is not enforced on its route domain \/Common\/0/,
    );
  });

  test('the bandwidth limit a rule attaches', () => {
    expect(check((d) => (SHARED(d).k8s_prod_bwc_n_web_stripe.maxBandwidth = 500))[0]).toMatch(
      /^\[app\/web\/Stripe\] .* attaches \/Common\/Shared\/k8s_prod_bwc_n_web_stripe, which limits to 500 Mbps where the rule says 5 Mbps/,
    );
    expect(check((d) => delete SHARED(d).k8s_prod_namespace_rules.rules[0].iRule)[0]).toMatch(
      /must attach the rule's bandwidth limit through an iRule/,
    );
  });

  test('a shared BIG-IP: the shared declaration and each tenant\u2019s, as they render', () => {
    const east = compilePolicy({
      device: testDevice({
        path: 'app/east/Bigip',
        tenant: 'k8s_east',
        cluster: 'east',
        podCidrs: [{ kind: 'cidr', text: '10.1.0.0/16', family: 4 }],
      }),
      externalServices: [],
      rules: RULES,
    });
    const west = compilePolicy({
      device: testDevice({
        path: 'app/west/Bigip',
        tenant: 'k8s_west',
        cluster: 'west',
        routeDomain: 2,
        podCidrs: [{ kind: 'cidr', text: '10.2.0.0/16', family: 4 }],
      }),
      externalServices: [],
      rules: RULES.slice(0, 3),
    });
    const shared = (renderSharedAs3('dc1', [east, west]) as any).declaration;
    const view = {
      ...shared,
      k8s_east: (renderTenantAs3(east) as any).declaration.k8s_east,
      k8s_west: (renderTenantAs3(west) as any).declaration.k8s_west,
    };
    expect(() => checkRendering({ adc: view, devices: [east, west], contextOwner: 'dc1' })).not.toThrow();
    // One cluster's rule pointing at the other cluster's pods.
    const broken = structuredClone(view);
    broken.Common.Shared.k8s_west_cluster_rules.rules[0].source.addressLists = [{ use: 'k8s_east_src_pod_cidrs' }];
    expect(() => checkRendering({ adc: broken, devices: [east, west], contextOwner: 'dc1' })).toThrow(
      /\[app\/security\/AllowDns\] rendering: the AFM rule at position 1 of \/Common\/Shared\/k8s_west_cluster_rules \(the cluster rules of app\/west\/Bigip\) takes its source from \/Common\/Shared\/k8s_east_src_pod_cidrs, which is not the list of the pod CIDRs \(10.2.0.0\/16\)/,
    );
    // The global policy listing one cluster only.
    const missing = structuredClone(view);
    missing.Common.Shared.dc1_global_policy.rules.pop();
    expect(() => checkRendering({ adc: missing, devices: [east, west], contextOwner: 'dc1' })).toThrow(
      /the policy references 1 rule lists for 2 clusters/,
    );
  });

  test('renderAs3 refuses a compiled policy whose rules share a list by a name collision', () => {
    // What the compiler did with 32-bit names that collided: the second rule reused the first
    // rule's list. Here the security team's ALLOW_FINAL DNS rule gets a team's 0.0.0.0/0 list.
    const dns = rule('app/security/AllowDns', {
      level: 'cluster',
      name: 'dns',
      action: 'ALLOW_FINAL',
      priority: 100,
      destinations: [D.address('10.96.0.10')],
      ports: [P.DNS_UDP],
    });
    const block = rule('app/team-a/Block', {
      level: 'namespace',
      name: 'block',
      namespace: 'team-a',
      action: 'DENY',
      priority: 0,
      ports: [P.DNS_UDP],
    });
    const compiled = compilePolicy({ device: testDevice(), externalServices: [], rules: [dns, block] });
    const teamList = compiled.levels.namespace[0].destinationLists;
    const collided: CompiledPolicy = {
      ...compiled,
      levels: { ...compiled.levels, cluster: [{ ...compiled.levels.cluster[0], destinationLists: teamList }] },
    };
    expect(() => renderAs3(collided)).toThrow(
      /\[app\/security\/AllowDns\] rendering: the AFM rule at position 1 of \/Common\/Shared\/k8s_prod_cluster_rules \(the cluster rules of app\/stack\/Bigip\) matches destinations the rule does not list \(0.0.0.0\/0\) and misses destinations the rule lists \(10.96.0.10\)/,
    );
    expect(() => renderTenantAs3(collided)).not.toThrow(); // the tenant holds no cluster rule ...
    expect(() => renderSharedAs3('dc1', [collided])).toThrow(/\[app\/security\/AllowDns\] rendering/); // ... the shared declaration does
  });

  test('every render of a random policy passes (the check runs inside renderAs3)', () => {
    fc.assert(
      fc.property(fc.oneof(policyArb({ maxRules: 12 }), limitPolicyArb({ maxRules: 8 })), (p) => {
        renderAs3(compilePolicy(p));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(limitSharedArb(4), (ps) => {
        const compiled = ps.map((p) => compilePolicy(p));
        renderSharedAs3('dc1', compiled);
        for (const c of compiled) renderTenantAs3(c);
      }),
      { numRuns: 50 },
    );
  });
});
