/**
 * Object names: 64-bit content digests, names that always fit AS3's limits, and every reuse of
 * a name compared with the content behind it, so that no collision (accidental or forced) can
 * make one rule match another's sources, destinations or ports.
 */
import { renderAs3, renderSharedAs3, renderTenantAs3 } from '../../lib/afm/as3';
import { contentDigest, fitName, nameBudget } from '../../lib/policy/object-names';
import { CompileOptions, compilePolicy } from '../../lib/policy/compile';
import { EgressDestination as D } from '../../lib/policy/destination';
import { EgressPolicyError } from '../../lib/policy/errors';
import type { DeviceModel, ExternalServiceModel, PolicyModel, RuleModel } from '../../lib/policy/model';
import { EgressPort as P } from '../../lib/policy/port';
import { buildExternalService, buildRule, RuleInput } from '../../lib/policy/schema';
import { testDevice } from '../support/device';

const rule = (path: string, r: Partial<RuleInput> & Pick<RuleInput, 'level' | 'name'>): RuleModel =>
  buildRule({ path, action: 'ALLOW', destinations: [D.anyIpv4()], ...r });

const policy = (rules: RuleModel[], device: DeviceModel = testDevice(), externalServices: ExternalServiceModel[] = []): PolicyModel => ({
  device,
  externalServices,
  rules,
});

/** A digest that collides on everything: what an attacker with unlimited compute would have. */
const COLLIDING: CompileOptions = { digest: () => '0123456789abcdef' };

function issuesOf(fn: () => unknown): EgressPolicyError {
  try {
    fn();
  } catch (e) {
    if (e instanceof EgressPolicyError) return e;
    throw e;
  }
  throw new Error('expected an EgressPolicyError');
}

describe('content digests', () => {
  test('are 64 bits of SHA-256', () => {
    expect(contentDigest('{"a":["10.96.0.10"],"f":[]}')).toBe('c82ed2766f42c218');
    expect(contentDigest('')).toBe('e3b0c44298fc1c14');
  });

  test('name destination lists, selector source lists and long port lists', () => {
    const compiled = compilePolicy(
      policy([
        rule('app/Dns', {
          level: 'cluster',
          name: 'dns',
          destinations: [D.address('10.96.0.10')],
          podSelector: { matchLabels: { app: 'web' } },
          ports: [
            P.tcp(1),
            P.tcp(2),
            P.tcp(3),
            P.tcp(4),
            P.tcp(5),
            P.tcp(6),
            P.tcp(7),
            P.tcp(8),
            P.tcp(9),
            P.tcp(10),
            P.tcp(11),
            P.tcp(12),
            P.tcp(13),
            P.tcp(14),
            P.tcp(15),
            P.tcp(16),
            P.tcp(17),
          ],
        }),
      ]),
    );
    const [dns] = compiled.levels.cluster;
    expect(dns.destinationLists).toEqual(['/Common/Shared/k8s_prod_dst_C82ED2766F42C218']);
    expect(dns.sourceList).toMatch(/^\/Common\/Shared\/k8s_prod_src_cluster_[0-9a-f]{16}$/);
    expect(dns.entries[0].portList).toMatch(/^\/Common\/Shared\/k8s_prod_ports_[0-9A-F]{16}$/);
  });

  test('names of lists the declaration fills hold nothing cdktf reads as a number; lists the controller fills keep theirs', () => {
    // cdktf's pattern for an encoded number (NUMBER_TOKEN_REGEX, cdktf/lib/tokens/private/encoding.js):
    // each match in the declaration string is split out and joined back on every resolution.
    const cdktfNumber = /[-|\d|.+]+(e[-|\d|.|e|E|+]+)/;
    // 300 destination sets: in lowercase hex about a third of the digests hold a match.
    const rules = Array.from({ length: 300 }, (_, i) =>
      rule(`app/R${i}`, {
        level: 'namespace',
        name: `r${i}`,
        namespace: 'payments',
        podSelector: { matchLabels: { app: `a${i}` } },
        destinations: [D.cidr(`10.${i >> 8}.${i & 255}.0/24`)],
        ports: Array.from({ length: 12 }, (_, p) => P.tcp(8000 + i + p)),
      }),
    );
    const compiled = compilePolicy(policy(rules));
    const declared = [...compiled.destinationLists.map((l) => l.name), ...compiled.portLists.map((l) => l.name)];
    expect(declared).toHaveLength(600);
    expect(declared.filter((name) => cdktfNumber.test(name))).toEqual([]);
    // Source lists keep lowercase digests: a renamed list is empty until the controller pushes.
    const sources = compiled.sourceLists.map((l) => l.name);
    expect(sources).toHaveLength(300);
    for (const name of sources) expect(name).toMatch(/^src_ns_payments_[0-9a-f]{16}$/);
  });
});

describe('names at the longest inputs fit AS3', () => {
  // 48-character tenant and application, 63-character namespace, service and rule names.
  const device = testDevice({ tenant: `t${'x'.repeat(47)}`, application: `a${'p'.repeat(47)}`, cluster: 'c'.repeat(40) });
  const long = rule('app/stack/Long', {
    level: 'service',
    name: 'r'.repeat(63),
    namespace: 'n'.repeat(63),
    service: 's'.repeat(63),
    destinations: [D.cidr('192.0.2.0/24')],
    ports: [P.HTTPS, P.protocol('rsvp-e2e-ignore')],
    bandwidthLimit: { maxBandwidth: 10 },
  });

  test('the budget is what AS3 leaves after the tenant (and application)', () => {
    expect(nameBudget(device.tenant, device.application, 'shared')).toBe(131);
    expect(nameBudget(device.tenant, device.application, 'tenant')).toBe(96);
    expect(nameBudget('k8s_prod', 'egress', 'shared')).toBe(171);
    expect(nameBudget('k8s_prod', 'egress', 'tenant')).toBe(178);
  });

  test('a name that fits stays readable; a longer one keeps a readable head and ends in the digest of the whole', () => {
    expect(fitName('src_ns_web', 20, contentDigest)).toBe('src_ns_web');
    expect(fitName(`src_svc_${'a'.repeat(20)}_${'b'.repeat(20)}`, 40, contentDigest)).toBe(
      `src_svc_${'a'.repeat(15)}_${contentDigest(`src_svc_${'a'.repeat(20)}_${'b'.repeat(20)}`)}`,
    );
    // No separator is left dangling before the digest.
    expect(fitName(`src_svc_${'a'.repeat(14)}-_bbbbbbbbbbbbbbbbbbbbb`, 40, () => 'd'.repeat(16))).toBe(
      `src_svc_${'a'.repeat(14)}_${'d'.repeat(16)}`,
    );
  });

  test('every object and AFM rule name of the longest service rule fits, readable where it can be', () => {
    const compiled = compilePolicy(policy([long], device));
    const [r] = compiled.levels.service;
    const n = 'n'.repeat(63);
    expect(r.sourceList).toBe(`/Common/Shared/${device.tenant}_src_svc_${n}_${'s'.repeat(42)}_da6487cb32f62517`);
    expect(r.sourceList).toHaveLength(195);
    // The protocol stays readable; the rule part gives way to the digest of `s_<namespace>_<name>`.
    expect(r.entries.map((e) => e.name)).toEqual([
      `s_${n.slice(2)}_f15f3dc3d5e34edd_rsvp-e2e-ignore`,
      `s_${n}_${'r'.repeat(9)}_f15f3dc3d5e34edd_tcp`,
    ]);
    expect(r.entries.map((e) => `/${device.tenant}/${device.application}/${e.name}`.length)).toEqual([195, 195]);
    // Bandwidth objects live in /Common/Shared, beside the rule lists that reference them.
    expect(r.bandwidth).toMatchObject({
      placement: 'shared',
      policyName: `bwc_s_${n}_${'r'.repeat(37)}_02b5a4701be2538b`,
      iRuleName: `bwc_s_${n}_${'r'.repeat(37)}_02b5a4701be2538b_attach`,
    });
    expect(r.bandwidth?.iRule).toHaveLength(195);
  });

  test('the AFM evaluator names AFM rules the way the compiler does', () => {
    const { AfmRuleIndex } = jest.requireActual('../../lib/afm/evaluator') as typeof import('../../lib/afm/evaluator');
    const model = policy([long], device);
    const index = new AfmRuleIndex(model);
    const [r] = compilePolicy(model).levels.service;
    for (const e of r.entries)
      expect(index.ownerOf({ rule: e.name, ruleList: `/Common/Shared/${device.tenant}_service_rules` })?.key).toBe(r.key);
  });
});

describe('a reused name is compared with its content', () => {
  // The field-audit scenario: a namespace team's DENY rule whose destination list name equals
  // the security team's DNS list. Before content checks, the cluster ALLOW_FINAL DNS rule
  // rendered with the team's 0.0.0.0/0 (or the team's DENY with the DNS server only).
  const securityDns = rule('app/security/AllowDns', {
    level: 'cluster',
    name: 'allow-dns',
    action: 'ALLOW_FINAL',
    priority: 100,
    destinations: [D.address('10.96.0.10')],
    ports: [P.DNS_UDP],
  });
  const teamDeny = rule('app/team-a/Block', {
    level: 'namespace',
    name: 'block',
    namespace: 'team-a',
    action: 'DENY',
    priority: 0,
    destinations: [D.anyIpv4()],
    ports: [P.DNS_UDP],
  });

  test('two destination lists with one name fail synth, naming both rules', () => {
    const e = issuesOf(() => compilePolicy(policy([securityDns, teamDeny]), COLLIDING));
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0]).toMatchObject({
      path: 'app/security/AllowDns',
      field: 'destinations',
      value: '"/Common/Shared/k8s_prod_dst_0123456789ABCDEF"',
    });
    expect(e.message).toContain(
      'would stand both for the destination list of rule namespace/team-a/block of app/team-a/Block and for the destination list of rule cluster/allow-dns of app/security/AllowDns',
    );
  });

  test('equal content still shares one object under a colliding digest', () => {
    const other = rule('app/team-b/Dns', {
      level: 'namespace',
      name: 'dns',
      namespace: 'team-b',
      destinations: [D.address('10.96.0.10')],
      ports: [P.DNS_UDP],
    });
    const compiled = compilePolicy(policy([securityDns, other]), COLLIDING);
    expect(compiled.destinationLists.map((l) => l.name)).toEqual(['dst_0123456789ABCDEF']);
  });

  test('source lists: different selectors, and different time windows on one source', () => {
    const a = rule('app/A', { level: 'cluster', name: 'a', podSelector: { matchLabels: { app: 'a' } } });
    const b = rule('app/B', { level: 'cluster', name: 'b', podSelector: { matchLabels: { app: 'b' } } });
    expect(issuesOf(() => compilePolicy(policy([a, b]), COLLIDING)).message).toMatch(
      /\[app\/B\] namespaceSelector, podSelector: BIG-IP object "\/Common\/Shared\/k8s_prod_src_cluster_0123456789abcdef" would stand both for the source list of rule cluster\/a of app\/A and for the source list of rule cluster\/b of app\/B/,
    );
    const day = rule('app/Day', { level: 'namespace', name: 'day', namespace: 'ops', schedule: { startTime: '08:00', endTime: '18:00' } });
    const night = rule('app/Night', {
      level: 'namespace',
      name: 'night',
      namespace: 'ops',
      schedule: { startTime: '18:00', endTime: '24:00' },
    });
    expect(issuesOf(() => compilePolicy(policy([day, night]), COLLIDING)).message).toMatch(
      /\[app\/Night\] .*the source list of rule namespace\/ops\/day of app\/Day and for the source list of rule namespace\/ops\/night of app\/Night/,
    );
    // The same window on the same source fills the list with the same pods at the same times.
    const again = rule('app/Again', {
      level: 'namespace',
      name: 'again',
      namespace: 'ops',
      schedule: { startTime: '08:00', endTime: '18:00' },
    });
    expect(compilePolicy(policy([day, again]), COLLIDING).sourceLists.map((l) => l.rules)).toEqual([
      ['namespace/ops/again', 'namespace/ops/day'],
    ]);
  });

  test('an empty selector and no selector are one source', () => {
    const a = rule('app/A', { level: 'namespace', name: 'a', namespace: 'web', podSelector: {} });
    const b = rule('app/B', { level: 'namespace', name: 'b', namespace: 'web' });
    expect(compilePolicy(policy([a, b])).sourceLists.map((l) => [l.name, l.rules])).toEqual([
      ['src_ns_web', ['namespace/web/a', 'namespace/web/b']],
    ]);
  });

  test('long port lists', () => {
    const ports = (from: number) => Array.from({ length: 12 }, (_, i) => P.tcp(from + i));
    const a = rule('app/A', { level: 'cluster', name: 'a', ports: ports(1000) });
    const b = rule('app/B', { level: 'cluster', name: 'b', ports: ports(2000) });
    expect(issuesOf(() => compilePolicy(policy([a, b]), COLLIDING)).message).toMatch(
      /\[app\/B\] ports: BIG-IP object "\/Common\/Shared\/k8s_prod_ports_0123456789ABCDEF" would stand both for the tcp port list of rule cluster\/a of app\/A and for the tcp port list of rule cluster\/b of app\/B/,
    );
  });

  test('AFM rule names and bandwidth objects shortened to a digest', () => {
    const device = testDevice({ tenant: `t${'x'.repeat(47)}`, application: `a${'p'.repeat(47)}` });
    const name = (suffix: string) => `${'r'.repeat(60)}${suffix}`;
    const a = rule('app/A', {
      level: 'service',
      name: name('-aa'),
      namespace: 'n'.repeat(63),
      service: 'svc',
      bandwidthLimit: { maxBandwidth: 10 },
    });
    const b = rule('app/B', {
      level: 'service',
      name: name('-bb'),
      namespace: 'n'.repeat(63),
      service: 'svc',
      bandwidthLimit: { maxBandwidth: 10 },
    });
    const e = issuesOf(() => compilePolicy(policy([a, b], device), COLLIDING));
    expect(e.issues.map((i) => [i.path, i.field])).toEqual([
      ['app/B', 'name'],
      ['app/B', 'bandwidthLimit'],
      ['app/B', 'bandwidthLimit'],
    ]);
    expect(e.message).toMatch(
      /AFM rule name "s_n{63}_r{9}_0123456789abcdef_any" would stand both for the any AFM rule of rule service\/n{63}\/r{60}-aa of app\/A and for the any AFM rule of rule service\/n{63}\/r{60}-bb of app\/B/,
    );
    // With the real digest the two names differ.
    expect(() => compilePolicy(policy([a, b], device))).not.toThrow();
  });

  test('external service lists', () => {
    const bank = buildExternalService({ path: 'app/Bank', name: 'bank', destinations: [D.fqdn('sftp.bank.example')] });
    const compiled = compilePolicy(
      policy([rule('app/A', { level: 'cluster', name: 'a', destinations: [D.externalService({ serviceName: 'bank' })] })], testDevice(), [
        bank,
      ]),
      COLLIDING,
    );
    expect(compiled.destinationLists.map((l) => [l.name, l.externalService])).toEqual([['exsvc_bank', 'bank']]);
  });
});

describe('several clusters on one BIG-IP', () => {
  test('tenant names that run into each other\u2019s object names fail instead of replacing an object', () => {
    // Tenant k8s's service rule for src/cluster and tenant k8s_src_svc's cluster source list
    // are both /Common/Shared/k8s_src_svc_src_cluster.
    const a = testDevice({
      path: 'app/east/Bigip',
      tenant: 'k8s',
      cluster: 'east',
      podCidrs: [{ kind: 'cidr', text: '10.1.0.0/16', family: 4 }],
    });
    const b = testDevice({
      path: 'app/west/Bigip',
      tenant: 'k8s_src_svc',
      cluster: 'west',
      podCidrs: [{ kind: 'cidr', text: '10.2.0.0/16', family: 4 }],
    });
    const east = compilePolicy(policy([rule('app/east/S', { level: 'service', name: 's', namespace: 'src', service: 'cluster' })], a));
    const west = compilePolicy(policy([rule('app/west/C', { level: 'cluster', name: 'c' })], b));
    expect(east.sourceLists[0].path).toBe(west.sourceLists[0].path);
    const e = issuesOf(() => renderSharedAs3('dc1', [east, west]));
    expect(e.issues).toEqual([
      {
        path: 'app/west/Bigip',
        field: 'tenant',
        value: '"k8s_src_svc_src_cluster"',
        message: `/Common/Shared/k8s_src_svc_src_cluster would be declared both by app/east/Bigip and by app/west/Bigip, whose tenant names run into each other's object names; give one of the clusters a tenant that is not the other's followed by "_"`,
      },
    ]);
    // Each cluster on its own renders fine.
    expect(() => renderTenantAs3(east)).not.toThrow();
    expect(() => renderAs3(west)).not.toThrow();
  });
});
