/**
 * fast-check generators of valid policies, shared by the conformance, CRD and differential
 * tests. They produce the policy model directly (the same shapes the constructs produce after
 * validation), drawing names and values from small pools so that rules collide, overlap and tie.
 */
import fc from 'fast-check';
import type {
  ActionName,
  AddressModel,
  DestinationModel,
  DeviceModel,
  ExternalServiceModel,
  FqdnModel,
  Level,
  PolicyModel,
  PortModel,
  RuleModel,
  SelectorModel,
} from '../../lib/policy/model';
import { WEEKDAYS, ruleKey } from '../../lib/policy/model';
import { formatIp } from '../../lib/policy/ip';

export const NAMESPACES = ['payments', 'web', 'dev', 'ops-1'];
export const SERVICES = ['checkout', 'api', 'worker'];
export const LABEL_KEYS = ['app', 'tier', 'team'];
export const LABEL_VALUES = ['a', 'b', 'c'];
export const FQDNS = ['api.stripe.com', 'sftp.bank.example', 'time.example.net', 'a.svc.example.org', 'b.svc.example.org'];
export const WILDCARDS = ['*.svc.example.org', '*.example.net'];

const ipv4 = fc.tuple(fc.constantFrom(10, 192, 198, 203), fc.nat(255), fc.nat(255), fc.nat(255)).map(([a, b, c, d]) => (BigInt(a) << 24n) | (BigInt(b) << 16n) | (BigInt(c) << 8n) | BigInt(d));
const ipv6 = fc.tuple(fc.nat(0xffff), fc.nat(0xffff), fc.nat(0xffff)).map(([a, b, c]) => (0x20010db8n << 96n) | (BigInt(a) << 80n) | (BigInt(b) << 64n) | BigInt(c));

function cidrOf(family: 4 | 6, value: bigint, len: number): AddressModel {
  const bits = family === 4 ? 32 : 128;
  const host = BigInt(bits - len);
  const net = (value >> host) << host;
  return { kind: 'cidr', text: `${formatIp(family, net)}/${len}`, family };
}

export const addressArb: fc.Arbitrary<AddressModel> = fc.oneof(
  ipv4.map((v) => ({ kind: 'address', text: formatIp(4, v), family: 4 }) as AddressModel),
  ipv6.map((v) => ({ kind: 'address', text: formatIp(6, v), family: 6 }) as AddressModel),
  fc.tuple(ipv4, fc.integer({ min: 0, max: 32 })).map(([v, l]) => cidrOf(4, v, l)),
  fc.tuple(ipv6, fc.integer({ min: 32, max: 128 })).map(([v, l]) => cidrOf(6, v, l)),
  fc.tuple(ipv4, fc.nat(300)).map(([v, n]) => {
    const last = v + BigInt(n) > 0xffffffffn ? 0xffffffffn : v + BigInt(n);
    return { kind: 'range', text: `${formatIp(4, v)}-${formatIp(4, last)}`, family: 4 } as AddressModel;
  }),
);

export const fqdnArb: fc.Arbitrary<FqdnModel> = fc.oneof(
  fc.constantFrom(...FQDNS).map((text) => ({ kind: 'fqdn', text, wildcard: false }) as FqdnModel),
  fc.constantFrom(...WILDCARDS).map((text) => ({ kind: 'fqdn', text, wildcard: true }) as FqdnModel),
);

const portRange = fc.tuple(fc.integer({ min: 1, max: 65535 }), fc.nat(2000)).map(([a, n]) => [a, Math.min(65535, a + n)] as const);

export const portArb: fc.Arbitrary<PortModel> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom('tcp', 'udp', 'sctp'), fc.constantFrom(22, 53, 80, 443, 8443)).map(([protocol, p]) => ({ protocol, fromPort: p, toPort: p })) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom('tcp', 'udp'), portRange).map(([protocol, [a, b]]) => ({ protocol, fromPort: a, toPort: b })) },
  { weight: 1, arbitrary: fc.constantFrom('icmp', 'ipv6-icmp', 'gre', 'tcp', 'udp').map((protocol) => ({ protocol })) },
);

const labels = fc.dictionary(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES), { maxKeys: 2 });

export const selectorArb: fc.Arbitrary<SelectorModel> = fc
  .tuple(
    labels,
    fc.array(
      fc.oneof(
        fc.record({ key: fc.constantFrom(...LABEL_KEYS), operator: fc.constantFrom('In' as const, 'NotIn' as const), values: fc.uniqueArray(fc.constantFrom(...LABEL_VALUES), { minLength: 1, maxLength: 2 }) }),
        fc.record({ key: fc.constantFrom(...LABEL_KEYS), operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const), values: fc.constant([] as string[]) }),
      ),
      { maxLength: 1 },
    ),
  )
  .map(([matchLabels, exprs]) => {
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(matchLabels).sort()) sorted[k] = matchLabels[k];
    return { matchLabels: sorted, matchExpressions: exprs.map((e) => ({ ...e, values: [...e.values].sort() })) };
  });

/** A value one time in five, otherwise undefined. */
function rarely<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
}

const nameArb = fc.constantFrom('allow-a', 'allow-b', 'deny-c', 'r1', 'r2', 'r3', 'r4', 'r5', 'x-y');
const actionArb = fc.constantFrom<ActionName>('DENY', 'REJECT', 'ALLOW', 'ALLOW_FINAL');

export interface PolicyArbOptions {
  readonly maxRules?: number;
  readonly externalServices?: boolean;
}

function ruleArb(level: Level, esNames: readonly string[]): fc.Arbitrary<RuleModel> {
  const dest: fc.Arbitrary<DestinationModel> = esNames.length
    ? fc.oneof(
        { weight: 5, arbitrary: addressArb as fc.Arbitrary<DestinationModel> },
        { weight: 2, arbitrary: fqdnArb as fc.Arbitrary<DestinationModel> },
        { weight: 1, arbitrary: fc.constantFrom(...esNames).map((name) => ({ kind: 'externalService', name }) as DestinationModel) },
      )
    : fc.oneof({ weight: 5, arbitrary: addressArb as fc.Arbitrary<DestinationModel> }, { weight: 2, arbitrary: fqdnArb as fc.Arbitrary<DestinationModel> });
  return fc
    .record({
      name: nameArb,
      namespace: fc.constantFrom(...NAMESPACES),
      service: fc.constantFrom(...SERVICES),
      action: actionArb,
      priority: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 1000 })),
      destinations: fc.array(dest, { minLength: 1, maxLength: 3 }),
      ports: fc.array(portArb, { maxLength: 3 }),
      namespaceSelector: fc.option(selectorArb, { nil: undefined }),
      podSelector: fc.option(selectorArb, { nil: undefined }),
      logging: fc.boolean(),
      audit: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      bandwidth: rarely(fc.record({ maxBandwidth: fc.integer({ min: 1, max: 10000 }), unit: fc.constantFrom('bps' as const, 'Kbps' as const, 'Mbps' as const, 'Gbps' as const) })),
      schedule: rarely(
        fc.record({
          daysOfWeek: fc.uniqueArray(fc.constantFrom(...WEEKDAYS), { minLength: 1, maxLength: 7 }).map((ds) => WEEKDAYS.filter((d) => ds.includes(d))),
          startTime: fc.constantFrom('00:00', '08:00', '12:30'),
          endTime: fc.constantFrom('13:00', '18:00', '24:00'),
          timeZone: fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York'),
        }),
      ),
      expiresAt: rarely(fc.constantFrom('2099-01-01T00:00:00Z', '2098-06-30T12:00:00Z')),
    })
    .map((r) => {
      const namespace = level === 'cluster' ? undefined : r.namespace;
      const source =
        level === 'cluster'
          ? { level, namespaceSelector: r.namespaceSelector, podSelector: r.podSelector }
          : level === 'namespace'
            ? { level, namespace, podSelector: r.podSelector }
            : { level, namespace, service: r.service };
      const dedupe = <T>(xs: readonly T[], key: (x: T) => string) => [...new Map(xs.map((x) => [key(x), x])).values()];
      return {
        level,
        name: r.name,
        namespace,
        path: `test/${level}/${namespace ?? '-'}/${r.name}`,
        action: r.action,
        priority: r.priority,
        source,
        destinations: dedupe(r.destinations, (d) => (d.kind === 'externalService' ? `es:${d.name}` : `${d.kind}:${d.text}`)),
        ports: dedupe(r.ports, (p) => `${p.protocol}/${p.fromPort ?? ''}-${p.toPort ?? ''}`),
        logging: r.logging,
        audit: r.audit,
        bandwidth: r.action === 'ALLOW' || r.action === 'ALLOW_FINAL' ? r.bandwidth : undefined,
        schedule: r.schedule,
        expiresAt: r.expiresAt,
        metadata: {},
      } as RuleModel;
    });
}

export const externalServiceArb: fc.Arbitrary<ExternalServiceModel> = fc
  .tuple(fc.constantFrom('bank', 'stripe', 'ntp-pool'), fc.array(fc.oneof(addressArb, fqdnArb), { minLength: 1, maxLength: 3 }))
  .map(([name, ds]) => ({ name, path: `test/es/${name}`, destinations: [...new Map(ds.map((d) => [`${d.kind}:${d.text}`, d])).values()] }));

export const deviceArb: fc.Arbitrary<DeviceModel> = fc
  .record({
    audit: fc.oneof({ weight: 6, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    logging: fc.record({
      servers: fc.constantFrom([] as { address: string; port: number }[], [{ address: '192.0.2.50', port: 514 }, { address: '2001:db8::50', port: 6514 }]),
      transport: fc.constantFrom('tcp' as const, 'udp' as const),
      localDatabase: fc.boolean(),
      logIpErrors: fc.boolean(),
      logTcpErrors: fc.boolean(),
      logTcpEvents: fc.boolean(),
      logDefaultAction: fc.boolean(),
      fields: fc.constantFrom(['date-time', 'action', 'acl-rule-name', 'src-ip', 'dest-ip'], ['date-time', 'context-name', 'route-domain']),
    }),
    services: fc.boolean(),
    routeDomain: fc.constantFrom(0, 0, 2),
    defaultAction: fc.constantFrom('DENY' as const, 'REJECT' as const, 'ALLOW' as const),
    gateways: fc.constantFrom([] as AddressModel[], [{ kind: 'address', text: '192.0.2.1', family: 4 } as AddressModel]),
    podCidrs: fc.constantFrom([] as AddressModel[], [{ kind: 'cidr', text: '10.244.0.0/16', family: 4 } as AddressModel]),
    snat: fc.constantFrom('AUTOMAP' as const, 'NONE' as const, 'POOL' as const),
  })
  .map((d) => ({
    path: 'test/device',
    cluster: 'test-cluster',
    tenant: 'k8s_test',
    application: 'egress',
    routeDomain: d.routeDomain,
    defaultAction: d.defaultAction,
    podCidrs: d.podCidrs,
    vlans: ['/Common/internal'],
    gateways: d.gateways,
    snat: d.snat,
    snatAddresses: d.snat === 'POOL' ? [{ kind: 'address', text: '192.0.2.200', family: 4 } as AddressModel] : [],
    audit: d.audit,
    logging: d.logging,
    ipIntelligencePolicy: d.services ? '/Common/ip-intelligence' : undefined,
    protocolInspectionProfile: d.services ? '/Common/protocol_inspection' : undefined,
    dnsResolver: '/Common/egress-resolver',
  }));

/** A random valid policy: unique rule keys, external services that exist. */
export function policyArb(options: PolicyArbOptions = {}): fc.Arbitrary<PolicyModel> {
  const maxRules = options.maxRules ?? 12;
  return fc
    .tuple(deviceArb, options.externalServices === false ? fc.constant([] as ExternalServiceModel[]) : fc.array(externalServiceArb, { maxLength: 2 }))
    .chain(([device, esList]) => {
      const externalServices = [...new Map(esList.map((e) => [e.name, e])).values()];
      const names = externalServices.map((e) => e.name);
      const rule = fc.oneof(ruleArb('cluster', names), ruleArb('namespace', names), ruleArb('service', names));
      return fc.array(rule, { minLength: 1, maxLength: maxRules }).map((rules) => ({
        device,
        externalServices,
        rules: [...new Map(rules.map((r) => [ruleKey(r), r])).values()],
      }));
    });
}
