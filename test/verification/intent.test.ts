/**
 * The intent evaluator against the README's policy semantics, one clause at a time.
 */
import type { ClusterSnapshot, PodInfo } from '../../lib/policy/membership';
import { IntentFlow, evaluateIntent } from '../../lib/policy/intent';
import type { DestinationModel, ExternalServiceModel, PolicyModel, PortModel, RuleModel, SourceModel } from '../../lib/policy/model';
import { testDevice } from '../support/device';

const AT = new Date('2026-03-04T10:00:00Z'); // a Wednesday

const cidr = (text: string): DestinationModel => ({ kind: 'cidr', text, family: text.includes(':') ? 6 : 4 });
const address = (text: string): DestinationModel => ({ kind: 'address', text, family: text.includes(':') ? 6 : 4 });
const fqdn = (text: string): DestinationModel => ({ kind: 'fqdn', text, wildcard: text.startsWith('*.') });
const tcp = (from: number, to = from): PortModel => ({ protocol: 'tcp', fromPort: from, toPort: to });

const ANYWHERE = [cidr('0.0.0.0/0'), cidr('::/0')];

function rule(key: string, action: RuleModel['action'], extra: Partial<RuleModel> = {}): RuleModel {
  const [level, a, b] = key.split('/') as [RuleModel['level'], string, string?];
  const namespace = level === 'cluster' ? undefined : a;
  const name = level === 'cluster' ? a : (b as string);
  const source: SourceModel =
    level === 'cluster' ? { level } : level === 'namespace' ? { level, namespace } : { level, namespace, service: 'checkout' };
  return {
    level,
    name,
    ...(namespace ? { namespace } : {}),
    path: `app/${key}`,
    action,
    priority: 500,
    source,
    destinations: ANYWHERE,
    ports: [],
    logging: false,
    audit: false,
    metadata: {},
    ...extra,
  };
}

function model(
  rules: RuleModel[],
  device: Partial<PolicyModel['device']> = {},
  externalServices: ExternalServiceModel[] = [],
): PolicyModel {
  return { device: testDevice(device), externalServices, rules };
}

const checkoutPod: PodInfo = {
  namespace: 'payments',
  name: 'checkout-1',
  labels: { app: 'checkout', tier: 'web' },
  ips: ['10.244.1.7', 'fd00::7'],
  phase: 'Running',
};

const cluster: ClusterSnapshot = {
  pods: [checkoutPod],
  namespaces: [{ name: 'payments', labels: { 'kubernetes.io/metadata.name': 'payments', team: 'pay' } }],
  services: [{ namespace: 'payments', name: 'checkout', selector: { app: 'checkout' } }],
};

function verdictOf(
  m: PolicyModel,
  flow: Partial<IntentFlow> = {},
  opts: { snapshot?: ClusterSnapshot; dns?: Record<string, string[]>; at?: Date } = {},
) {
  return evaluateIntent({
    model: m,
    snapshot: opts.snapshot ?? cluster,
    dns: new Map(Object.entries(opts.dns ?? {})),
    flow: { pod: checkoutPod, destinationIp: '198.51.100.7', protocol: 'tcp', port: 443, ...flow },
    at: opts.at ?? AT,
  });
}

describe('levels and actions', () => {
  test('a cluster DENY is final: lower levels are not consulted', () => {
    const r = verdictOf(
      model([rule('cluster/block', 'DENY'), rule('namespace/payments/open', 'ALLOW_FINAL'), rule('service/payments/open', 'ALLOW_FINAL')]),
    );
    expect(r.verdict).toBe('deny');
    expect(r.enforced.decidedBy?.key).toBe('cluster/block');
    expect(r.enforced.levels.map((l) => l.outcome)).toEqual(['match', 'not-consulted', 'not-consulted']);
  });

  test('REJECT is final and gives reject', () => {
    expect(verdictOf(model([rule('namespace/payments/refuse', 'REJECT'), rule('service/payments/open', 'ALLOW')])).verdict).toBe('reject');
  });

  test('ALLOW is overridden by a DENY at a lower level', () => {
    const r = verdictOf(model([rule('cluster/open', 'ALLOW'), rule('service/payments/no', 'DENY')]));
    expect(r.verdict).toBe('deny');
    expect(r.enforced.decidedBy?.key).toBe('service/payments/no');
    expect(r.enforced.levels.map((l) => l.outcome)).toEqual(['match', 'no-match', 'match']);
  });

  test('ALLOW_FINAL skips lower levels', () => {
    const r = verdictOf(model([rule('namespace/payments/final', 'ALLOW_FINAL'), rule('service/payments/no', 'DENY')]));
    expect(r.verdict).toBe('allow');
    expect(r.enforced.levels[2].outcome).toBe('not-consulted');
  });

  test('an ALLOW that no lower level overrides allows; the service level ALLOW names the decision, else the first level that allowed', () => {
    expect(verdictOf(model([rule('cluster/a', 'ALLOW'), rule('namespace/payments/b', 'ALLOW')])).enforced.decidedBy?.key).toBe('cluster/a');
    expect(
      verdictOf(model([rule('cluster/a', 'ALLOW'), rule('namespace/payments/b', 'ALLOW'), rule('service/payments/c', 'ALLOW')])).enforced
        .decidedBy?.key,
    ).toBe('service/payments/c');
    expect(verdictOf(model([rule('namespace/payments/b', 'ALLOW')])).enforced.basis).toBe('rule');
  });

  test.each([
    ['DENY', 'deny'],
    ['REJECT', 'reject'],
    ['ALLOW', 'allow'],
  ] as const)('no matching rule: the device default %s', (defaultAction, verdict) => {
    const r = verdictOf(model([rule('cluster/elsewhere', 'ALLOW_FINAL', { destinations: [cidr('192.0.2.0/24')] })], { defaultAction }));
    expect(r.verdict).toBe(verdict);
    expect(r.enforced.basis).toBe('default');
    expect(r.enforced.decidedBy).toBeUndefined();
    expect(r.enforced.levels.map((l) => l.outcome)).toEqual(['no-match', 'no-match', 'no-match']);
  });

  test('within a level: lower priority first, then name in code-point order', () => {
    const byPriority = model([rule('cluster/zz-allow', 'ALLOW_FINAL', { priority: 1 }), rule('cluster/aa-deny', 'DENY', { priority: 2 })]);
    expect(verdictOf(byPriority).enforced.decidedBy?.key).toBe('cluster/zz-allow');
    const byName = model([rule('cluster/b-allow', 'ALLOW_FINAL', { priority: 7 }), rule('cluster/a-deny', 'DENY', { priority: 7 })]);
    expect(verdictOf(byName).enforced.decidedBy?.key).toBe('cluster/a-deny');
  });
});

describe('audit', () => {
  test('an audit rule never changes the verdict but decides the would-be verdict', () => {
    const r = verdictOf(model([rule('cluster/trial-block', 'DENY', { audit: true }), rule('namespace/payments/open', 'ALLOW')]));
    expect(r.verdict).toBe('allow');
    expect(r.enforced.decidedBy?.key).toBe('namespace/payments/open');
    expect(r.wouldBe).toBe('deny');
    expect(r.wouldBeDecision.decidedBy?.key).toBe('cluster/trial-block');
  });

  test('device audit mode enforces nothing; the would-be verdict uses every rule and the configured default', () => {
    const m = model([rule('cluster/block', 'DENY', { destinations: [cidr('198.51.100.0/24')] })], { audit: true, defaultAction: 'REJECT' });
    const hit = verdictOf(m);
    expect([hit.verdict, hit.wouldBe]).toEqual(['allow', 'deny']);
    expect(hit.enforced.levels.map((l) => l.outcome)).toEqual(['no-match', 'no-match', 'no-match']);
    const miss = verdictOf(m, { destinationIp: '192.0.2.1' });
    expect([miss.verdict, miss.wouldBe]).toEqual(['allow', 'reject']);
  });
});

describe('time windows and expiry', () => {
  const windowed = rule('cluster/office-hours', 'DENY', {
    schedule: { daysOfWeek: ['wednesday'], startTime: '09:00', endTime: '17:00', timeZone: 'Europe/Berlin' },
  });
  test('a windowed rule applies inside its window only (in its time zone)', () => {
    expect(verdictOf(model([windowed], { defaultAction: 'ALLOW' }), {}, { at: new Date('2026-03-04T08:00:00Z') }).verdict).toBe('deny'); // 09:00 Berlin
    expect(verdictOf(model([windowed], { defaultAction: 'ALLOW' }), {}, { at: new Date('2026-03-04T07:59:00Z') }).verdict).toBe('allow');
    expect(verdictOf(model([windowed], { defaultAction: 'ALLOW' }), {}, { at: new Date('2026-03-04T16:00:00Z') }).verdict).toBe('allow'); // 17:00 is outside
  });
  test('an expiring rule applies before its expiry only', () => {
    const expiring = rule('cluster/temp', 'DENY', { expiresAt: '2026-03-04T10:00:00Z' });
    expect(verdictOf(model([expiring], { defaultAction: 'ALLOW' }), {}, { at: new Date('2026-03-04T09:59:59Z') }).verdict).toBe('deny');
    expect(verdictOf(model([expiring], { defaultAction: 'ALLOW' }), {}, { at: new Date('2026-03-04T10:00:00Z') }).verdict).toBe('allow');
  });
});

describe('destinations', () => {
  const only = (d: DestinationModel[], es: ExternalServiceModel[] = []) =>
    model([rule('service/payments/r', 'ALLOW', { destinations: d })], {}, es);
  test.each([
    ['CIDR', [cidr('198.51.100.0/24')], '198.51.100.255', 'allow'],
    ['CIDR edge', [cidr('198.51.100.0/24')], '198.51.101.0', 'deny'],
    ['IPv6 CIDR', [cidr('2001:db8::/32')], '2001:db8:ffff::1', 'allow'],
    ['range first', [{ kind: 'range', text: '192.0.2.10-192.0.2.20', family: 4 } as DestinationModel], '192.0.2.10', 'allow'],
    ['range last', [{ kind: 'range', text: '192.0.2.10-192.0.2.20', family: 4 } as DestinationModel], '192.0.2.20', 'allow'],
    ['past the range', [{ kind: 'range', text: '192.0.2.10-192.0.2.20', family: 4 } as DestinationModel], '192.0.2.21', 'deny'],
    ['address', [address('192.0.2.5')], '192.0.2.5', 'allow'],
    ['IPv4 rule, IPv6 flow', [cidr('0.0.0.0/0')], '2001:db8::1', 'deny'],
  ])('%s', (_name, destinations, ip, verdict) => {
    expect(verdictOf(only(destinations as DestinationModel[]), { destinationIp: ip as string }).verdict).toBe(verdict);
  });

  test('an FQDN matches the host name, a one-label wildcard one label only, and the addresses the name resolves to', () => {
    const exact = only([fqdn('api.stripe.com')]);
    expect(verdictOf(exact, { destinationIp: undefined, host: 'api.stripe.com' }).verdict).toBe('allow');
    expect(verdictOf(exact, { destinationIp: undefined, host: 'x.api.stripe.com' }).verdict).toBe('deny');
    expect(verdictOf(exact, { destinationIp: '203.0.113.10' }, { dns: { 'api.stripe.com': ['203.0.113.10'] } }).verdict).toBe('allow');
    expect(verdictOf(exact, { destinationIp: '203.0.113.11' }, { dns: { 'api.stripe.com': ['203.0.113.10'] } }).verdict).toBe('deny');
    const wildcard = only([fqdn('*.svc.example.org')]);
    expect(verdictOf(wildcard, { destinationIp: undefined, host: 'a.svc.example.org' }).verdict).toBe('allow');
    expect(verdictOf(wildcard, { destinationIp: undefined, host: 'a.b.svc.example.org' }).verdict).toBe('deny');
    expect(verdictOf(wildcard, { destinationIp: undefined, host: 'svc.example.org' }).verdict).toBe('deny');
    expect(verdictOf(wildcard, { destinationIp: '2001:db8::9' }, { dns: { 'c.svc.example.org': ['2001:DB8::9'] } }).verdict).toBe('allow');
    expect(verdictOf(wildcard, { destinationIp: '2001:db8::9' }, { dns: { 'c.d.svc.example.org': ['2001:db8::9'] } }).verdict).toBe('deny');
  });

  test('an ExternalService expands to its destinations', () => {
    const m = only(
      [{ kind: 'externalService', name: 'bank' }],
      [
        {
          name: 'bank',
          path: 'app/bank',
          destinations: [
            { kind: 'cidr', text: '192.0.2.0/28', family: 4 },
            { kind: 'fqdn', text: 'sftp.bank.example', wildcard: false },
          ],
        },
      ],
    );
    expect(verdictOf(m, { destinationIp: '192.0.2.15' }).verdict).toBe('allow');
    expect(verdictOf(m, { destinationIp: undefined, host: 'sftp.bank.example' }).verdict).toBe('allow');
    expect(verdictOf(m, { destinationIp: '192.0.2.16' }).verdict).toBe('deny');
  });
});

describe('protocols and ports', () => {
  const withPorts = (ports: PortModel[]) => model([rule('service/payments/r', 'ALLOW', { ports })]);
  test.each([
    ['no ports: any protocol', [], { protocol: 'gre', port: undefined }, 'allow'],
    ['tcp 443', [tcp(443)], { protocol: 'tcp', port: 443 }, 'allow'],
    ['tcp rule, udp flow', [tcp(443)], { protocol: 'udp', port: 443 }, 'deny'],
    ['range start', [tcp(8000, 8010)], { protocol: 'tcp', port: 8000 }, 'allow'],
    ['range end', [tcp(8000, 8010)], { protocol: 'tcp', port: 8010 }, 'allow'],
    ['past the range', [tcp(8000, 8010)], { protocol: 'tcp', port: 8011 }, 'deny'],
    ['protocol without ports', [{ protocol: 'udp' }], { protocol: 'udp', port: 5353 }, 'allow'],
    ['icmp', [{ protocol: 'icmp' }], { protocol: 'icmp', port: undefined }, 'allow'],
    ['protocol any', [{ protocol: 'any' }], { protocol: 'sctp', port: 9 }, 'allow'],
  ] as const)('%s', (_name, ports, flow, verdict) => {
    expect(verdictOf(withPorts([...ports]), flow).verdict).toBe(verdict);
  });
});

describe('sources', () => {
  test('a namespace rule covers its namespace only, narrowed by pod labels', () => {
    const ns = (podSelector?: RuleModel['source']['podSelector'], namespace = 'payments') =>
      model([
        {
          ...rule(`namespace/${namespace}/r`, 'ALLOW'),
          source: { level: 'namespace', namespace, ...(podSelector ? { podSelector } : {}) },
        },
      ]);
    expect(verdictOf(ns()).verdict).toBe('allow');
    expect(verdictOf(ns(undefined, 'web')).verdict).toBe('deny');
    expect(verdictOf(ns({ matchLabels: { tier: 'web' }, matchExpressions: [] })).verdict).toBe('allow');
    expect(verdictOf(ns({ matchLabels: {}, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['web'] }] })).verdict).toBe(
      'deny',
    );
  });

  test('a cluster rule narrowed by namespace labels', () => {
    const c = (team: string) =>
      model([
        { ...rule('cluster/r', 'ALLOW'), source: { level: 'cluster', namespaceSelector: { matchLabels: { team }, matchExpressions: [] } } },
      ]);
    expect(verdictOf(c('pay')).verdict).toBe('allow');
    expect(verdictOf(c('web')).verdict).toBe('deny');
  });

  test('a service rule covers the pods its Service selects; none when the Service is missing', () => {
    const m = model([rule('service/payments/r', 'ALLOW')]);
    expect(verdictOf(m).verdict).toBe('allow');
    expect(verdictOf(m, {}, { snapshot: { ...cluster, services: [] } }).verdict).toBe('deny');
  });

  test.each([
    ['terminating', { terminating: true }],
    ['on the host network', { hostNetwork: true }],
    ['finished', { phase: 'Succeeded' }],
  ])('a pod %s is in no source', (_name, change) => {
    const pod = { ...checkoutPod, ...change };
    const r = verdictOf(model([rule('cluster/open', 'ALLOW_FINAL')]), { pod }, { snapshot: { ...cluster, pods: [pod] } });
    expect(r.enforced.basis).toBe('default');
  });
});

describe('bad flows', () => {
  test.each([
    [{ destinationIp: undefined, host: undefined }, /destination address, a host name, or both/],
    [{ destinationIp: '10.0.0.256' }, /not a valid IPv4 or IPv6 address/],
    [{ protocol: 'any' }, /one concrete lower-case protocol/],
    [{ port: 70000 }, /whole number from 0 to 65535/],
  ])('%j is refused', (flow, message) => {
    expect(() => verdictOf(model([]), flow as Partial<IntentFlow>)).toThrow(message);
  });
});
