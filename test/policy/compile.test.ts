import fc from 'fast-check';
import { compilePolicy } from '../../lib/policy/compile';
import { EgressDestination as D } from '../../lib/policy/destination';
import { EgressPolicyError } from '../../lib/policy/errors';
import type { DeviceModel, PolicyModel, RuleModel } from '../../lib/policy/model';
import { EgressPort as P } from '../../lib/policy/port';
import { testDevice } from '../support/device';
import { buildExternalService, buildRule, RuleInput } from '../../lib/policy/schema';
import { policyArb } from '../support/arbitraries';

export const DEVICE: DeviceModel = testDevice();

const rule = (r: Partial<RuleInput> & Pick<RuleInput, 'level' | 'name'>): RuleModel =>
  buildRule({ path: `app/stack/${r.name}`, action: 'ALLOW', destinations: [D.anyIpv4()], ...r });

const policy = (...rules: RuleModel[]): PolicyModel => ({ device: DEVICE, externalServices: [], rules });

describe('expired rules', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const old = rule({ level: 'cluster', name: 'old', action: 'DENY', expiresAt: '2025-12-31T23:59:59Z' });
  const current = rule({ level: 'cluster', name: 'current', expiresAt: '2026-01-01T00:00:01Z' });
  const plain = rule({ level: 'namespace', name: 'plain', namespace: 'web' });

  test('are left out of the enforced model and the rendering, and listed', () => {
    const compiled = compilePolicy(policy(old, current, plain), { now });
    expect(compiled.expired).toEqual([old]);
    expect(compiled.model.rules).toEqual([current, plain]);
    expect(compiled.levels.cluster.map((r) => r.key)).toEqual(['cluster/current']);
    expect(compiled.sourceLists.flatMap((l) => l.rules)).not.toContain('cluster/old');
  });

  test('expire at expiresAt exactly; the enforced model recompiles to the same objects at any later time', () => {
    expect(compilePolicy(policy(current), { now: new Date('2026-01-01T00:00:01Z') }).expired).toEqual([current]);
    const compiled = compilePolicy(policy(old, current, plain), { now });
    const again = compilePolicy(compiled.model, { now: new Date(0) });
    expect(again.levels).toEqual(compiled.levels);
    expect(again.sourceLists).toEqual(compiled.sourceLists);
  });
});

describe('compilePolicy', () => {
  test('orders each level by priority, then name', () => {
    const compiled = compilePolicy(
      policy(
        rule({ level: 'cluster', name: 'b', priority: 10 }),
        rule({ level: 'cluster', name: 'a', priority: 10 }),
        rule({ level: 'cluster', name: 'z', priority: 1 }),
        rule({ level: 'namespace', name: 'n', namespace: 'web' }),
      ),
    );
    expect(compiled.levels.cluster.map((r) => r.key)).toEqual(['cluster/z', 'cluster/a', 'cluster/b']);
    expect(compiled.levels.namespace.map((r) => r.key)).toEqual(['namespace/web/n']);
    expect(compiled.levels.service).toEqual([]);
  });

  test('names objects by what they are and shares lists between rules', () => {
    const compiled = compilePolicy(
      policy(
        rule({ level: 'namespace', name: 'a', namespace: 'payments', destinations: [D.cidr('10.0.0.0/8')], ports: [P.HTTPS, P.DNS_UDP] }),
        rule({ level: 'namespace', name: 'b', namespace: 'payments', destinations: [D.cidr('10.0.0.0/8')], ports: [P.tcp(443)] }),
        rule({ level: 'service', name: 'c', namespace: 'payments', service: 'checkout' }),
      ),
    );
    expect(compiled.sourceLists.map((l) => [l.name, l.rules])).toEqual([
      ['src_ns_payments', ['namespace/payments/a', 'namespace/payments/b']],
      ['src_svc_payments_checkout', ['service/payments/c']],
    ]);
    expect(compiled.sourceLists[0]).toMatchObject({
      path: '/Common/Shared/k8s_prod_src_ns_payments',
      taskId: '~Common~Shared~k8s_prod_src_ns_payments',
    });
    const [a, b] = compiled.levels.namespace;
    expect(a.destinationLists).toEqual(b.destinationLists);
    expect(a.entries.map((e) => [e.name, e.protocol, e.portList])).toEqual([
      ['n_payments_a_tcp', 'tcp', '/Common/Shared/k8s_prod_ports_443'],
      ['n_payments_a_udp', 'udp', '/Common/Shared/k8s_prod_ports_53'],
    ]);
    expect(compiled.portLists.map((p) => [p.name, p.ports])).toEqual([
      ['ports_443', [443]],
      ['ports_53', [53]],
    ]);
  });

  test('merges ports of one protocol into one sorted port list', () => {
    const compiled = compilePolicy(policy(rule({ level: 'cluster', name: 'w', ports: [P.tcp(8443), P.tcpRange(8000, 8080), P.HTTP] })));
    expect(compiled.portLists.map((p) => p.ports)).toEqual([[80, '8000-8080', 8443]]);
  });

  test('a rule without ports is one AFM rule for protocol any', () => {
    const compiled = compilePolicy(policy(rule({ level: 'cluster', name: 'all' })));
    expect(compiled.levels.cluster[0].entries).toEqual([{ name: 'c_all_any', protocol: 'any', portList: undefined }]);
  });

  test('adding an unrelated rule renames nothing', () => {
    fc.assert(
      fc.property(policyArb({ maxRules: 8 }), policyArb({ maxRules: 3 }), (p, extra) => {
        const keys = new Set(p.rules.map((r) => `${r.level}/${r.namespace}/${r.name}`));
        const added = extra.rules.filter(
          (r) => !keys.has(`${r.level}/${r.namespace}/${r.name}`) && r.destinations.every((d) => d.kind !== 'externalService'),
        );
        const before = compilePolicy(p);
        const after = compilePolicy({ ...p, rules: [...p.rules, ...added] });
        const names = (c: typeof before) =>
          new Map(
            [...c.levels.cluster, ...c.levels.namespace, ...c.levels.service].map((r) => [
              r.key,
              [r.sourceList, r.destinationLists, r.entries],
            ]),
          );
        const afterNames = names(after);
        for (const [key, value] of names(before)) expect(afterNames.get(key)).toEqual(value);
      }),
      { numRuns: 100 },
    );
  });

  test('is deterministic: rule input order does not matter', () => {
    fc.assert(
      fc.property(policyArb(), fc.integer(), (p, seed) => {
        const shuffled = [...p.rules].reverse().sort((x, y) => ((x.name.length * 31 + seed) % 7) - ((y.name.length * 31 + seed) % 7));
        const { model: _m1, ...a } = compilePolicy({ ...p, rules: shuffled });
        const { model: _m2, ...b } = compilePolicy(p);
        expect(JSON.stringify(a)).toEqual(JSON.stringify(b));
      }),
      { numRuns: 50 },
    );
  });

  test('reports duplicate names and unknown external services together (an expired rule is no problem)', () => {
    const es = buildExternalService({ path: 'app/stack/Bank', name: 'bank', destinations: [D.fqdn('sftp.bank.example')] });
    const model: PolicyModel = {
      device: DEVICE,
      externalServices: [es],
      rules: [
        rule({ level: 'namespace', name: 'a', namespace: 'web' }),
        { ...rule({ level: 'namespace', name: 'a', namespace: 'web' }), path: 'app/stack/Other' },
        rule({ level: 'namespace', name: 'a', namespace: 'dev' }),
        rule({ level: 'cluster', name: 'c', destinations: [D.externalService({ serviceName: 'nope' })] }),
        rule({ level: 'cluster', name: 'old', expiresAt: '2020-01-01T00:00:00Z' }),
      ],
    };
    try {
      compilePolicy(model, { now: new Date('2026-01-01T00:00:00Z') });
      throw new Error('expected failure');
    } catch (e) {
      expect(e).toBeInstanceOf(EgressPolicyError);
      expect((e as EgressPolicyError).issues.map((i) => [i.path, i.field])).toEqual([
        ['app/stack/Other', 'name'],
        ['app/stack/c', 'destinations[0]'],
      ]);
      expect((e as Error).message).toMatch(/another namespace rule in namespace "web" has this name \(app\/stack\/a\)/);
    }
  });

  test('names at the longest tenant, namespace, service and rule names fit AS3 instead of failing', () => {
    // 48-character tenant + 63-character namespace and service names: 199 characters when spelled out.
    const long = { ...DEVICE, tenant: `t${'x'.repeat(47)}` };
    const model: PolicyModel = {
      device: long,
      externalServices: [],
      rules: [rule({ level: 'service', name: 'r'.repeat(63), namespace: 'n'.repeat(63), service: 's'.repeat(63) })],
    };
    const compiled = compilePolicy(model);
    expect(compiled.sourceLists.map((l) => l.path)).toEqual([
      expect.stringMatching(/^\/Common\/Shared\/tx+_src_svc_n{63}_s{42}_[0-9a-f]{16}$/),
    ]);
    expect(compiled.sourceLists[0].path).toHaveLength(195);
  });
});
