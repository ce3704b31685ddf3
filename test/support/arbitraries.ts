/**
 * fast-check generators of valid policies, shared by the conformance, CRD and differential
 * tests. They produce the policy model directly (the same shapes the constructs produce after
 * validation), drawing names and values from small pools so that rules collide, overlap and tie.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type {
  IRuleModel,
  ActionName,
  AddressModel,
  DestinationModel,
  DeviceModel,
  ExternalServiceModel,
  FqdnModel,
  Level,
  PolicyModel,
  PortModel,
  RedirectModel,
  RuleMetadataModel,
  RuleModel,
  SelectorModel,
  SourceModel,
} from '../../lib/policy/model';
import { WEEKDAYS, ruleKey } from '../../lib/policy/model';
import { formatIp } from '../../lib/policy/ip';
import { AFM_PROTOCOLS, PORTED_PROTOCOLS } from '../../lib/policy/port';
import { TENANT_PROPERTIES } from '../../lib/policy/device';
import { LOG_FIELDS } from '../../lib/policy/log-fields';
import { tenantProblem } from '../../lib/policy/names';
import { ruleRemark } from '../../lib/policy/schema';
import { redirectIssues } from '../../lib/policy/redirect';
import { compilePolicy } from '../../lib/policy/compile';
import { EgressPolicyError } from '../../lib/policy/errors';

export const NAMESPACES = ['payments', 'web', 'dev', 'ops-1'];
export const SERVICES = ['checkout', 'api', 'worker'];
export const LABEL_KEYS = ['app', 'tier', 'team'];
export const LABEL_VALUES = ['a', 'b', 'c'];
export const FQDNS = ['api.stripe.com', 'sftp.bank.example', 'time.example.net', 'a.svc.example.org', 'b.svc.example.org'];
export const WILDCARDS = ['*.svc.example.org', '*.example.net'];

const ipv4 = fc
  .tuple(fc.constantFrom(10, 192, 198, 203), fc.nat(255), fc.nat(255), fc.nat(255))
  .map(([a, b, c, d]) => (BigInt(a) << 24n) | (BigInt(b) << 16n) | (BigInt(c) << 8n) | BigInt(d));
const ipv6 = fc
  .tuple(fc.nat(0xffff), fc.nat(0xffff), fc.nat(0xffff))
  .map(([a, b, c]) => (0x20010db8n << 96n) | (BigInt(a) << 80n) | (BigInt(b) << 64n) | BigInt(c));

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
  {
    weight: 6,
    arbitrary: fc
      .tuple(fc.constantFrom('tcp', 'udp', 'sctp'), fc.constantFrom(22, 53, 80, 443, 8443))
      .map(([protocol, p]) => ({ protocol, fromPort: p, toPort: p })),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.constantFrom('tcp', 'udp'), portRange).map(([protocol, [a, b]]) => ({ protocol, fromPort: a, toPort: b })),
  },
  { weight: 1, arbitrary: fc.constantFrom('icmp', 'ipv6-icmp', 'gre', 'tcp', 'udp').map((protocol) => ({ protocol })) },
);

const labels = fc.dictionary(fc.constantFrom(...LABEL_KEYS), fc.constantFrom(...LABEL_VALUES), { maxKeys: 2 });

export const selectorArb: fc.Arbitrary<SelectorModel> = fc
  .tuple(
    labels,
    fc.array(
      fc.oneof(
        fc.record({
          key: fc.constantFrom(...LABEL_KEYS),
          operator: fc.constantFrom('In' as const, 'NotIn' as const),
          values: fc.uniqueArray(fc.constantFrom(...LABEL_VALUES), { minLength: 1, maxLength: 2 }),
        }),
        fc.record({
          key: fc.constantFrom(...LABEL_KEYS),
          operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const),
          values: fc.constant([] as string[]),
        }),
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
/** onMatch iRules as a rule's props would give them (the checks at synth accept both). */
const ON_MATCH_MODELS: readonly IRuleModel[] = [
  'when FLOW_INIT {\n    log local0. "flow [IP::client_addr]"\n}',
  'when FLOW_INIT {\n    IP::tos 32\n}',
].map((code) => ({ code, source: 'string', sha256: createHash('sha256').update(code).digest('hex') }));

function rarely<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
}

const nameArb = fc.constantFrom('allow-a', 'allow-b', 'deny-c', 'r1', 'r2', 'r3', 'r4', 'r5', 'x-y');
const actionArb = fc.constantFrom<ActionName>('DENY', 'REJECT', 'ALLOW', 'ALLOW_FINAL');

export interface PolicyArbOptions {
  readonly maxRules?: number;
  readonly externalServices?: boolean;
}

/** The source model of a drawn rule, as the builders make it for its level. */
function sourceOf(
  level: Level,
  namespace: string | undefined,
  r: { readonly namespaceSelector?: SelectorModel; readonly podSelector?: SelectorModel; readonly service: string },
): SourceModel {
  return level === 'cluster'
    ? { level, namespaceSelector: r.namespaceSelector, podSelector: r.podSelector }
    : level === 'namespace'
      ? { level, namespace: namespace as string, podSelector: r.podSelector }
      : { level, namespace: namespace as string, service: r.service };
}

/** The last item of each key, in first-seen order (as the builders deduplicate). */
function dedupe<T>(xs: readonly T[], key: (x: T) => string): T[] {
  return [...new Map(xs.map((x) => [key(x), x])).values()];
}

function ruleArb(level: Level, esNames: readonly string[]): fc.Arbitrary<RuleModel> {
  const dest: fc.Arbitrary<DestinationModel> = esNames.length
    ? fc.oneof(
        { weight: 5, arbitrary: addressArb as fc.Arbitrary<DestinationModel> },
        { weight: 2, arbitrary: fqdnArb as fc.Arbitrary<DestinationModel> },
        { weight: 1, arbitrary: fc.constantFrom(...esNames).map((name) => ({ kind: 'externalService', name }) as DestinationModel) },
      )
    : fc.oneof(
        { weight: 5, arbitrary: addressArb as fc.Arbitrary<DestinationModel> },
        { weight: 2, arbitrary: fqdnArb as fc.Arbitrary<DestinationModel> },
      );
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
      // Cluster rules over every pod (no selector, or empty ones) match the pod CIDRs or a list,
      // depending on their action: drawn often, not only by chance.
      everyPod: fc.oneof(
        { weight: 2, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom('absent' as const, 'empty' as const) },
      ),
      logging: fc.boolean(),
      audit: fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      bandwidth: rarely(
        fc.record({
          maxBandwidth: fc.integer({ min: 1, max: 10000 }),
          unit: fc.constantFrom('bps' as const, 'Kbps' as const, 'Mbps' as const, 'Gbps' as const),
        }),
      ),
      schedule: rarely(
        fc.record({
          daysOfWeek: fc
            .uniqueArray(fc.constantFrom(...WEEKDAYS), { minLength: 1, maxLength: 7 })
            .map((ds) => WEEKDAYS.filter((d) => ds.includes(d))),
          startTime: fc.constantFrom('00:00', '08:00', '12:30'),
          endTime: fc.constantFrom('13:00', '18:00', '24:00'),
          timeZone: fc.constantFrom('UTC', 'Europe/Berlin', 'America/New_York'),
        }),
      ),
      expiresAt: rarely(fc.constantFrom('2099-01-01T00:00:00Z', '2098-06-30T12:00:00Z')),
      onMatch: rarely(fc.constantFrom(...ON_MATCH_MODELS)),
    })
    .map((r) => {
      const namespace = level === 'cluster' ? undefined : r.namespace;
      const empty: SelectorModel = { matchLabels: {}, matchExpressions: [] };
      const selectors =
        r.everyPod === undefined
          ? r
          : r.everyPod === 'absent'
            ? { ...r, namespaceSelector: undefined, podSelector: undefined }
            : { ...r, namespaceSelector: empty, podSelector: empty };
      const source = sourceOf(level, namespace, selectors);
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
        ...(r.onMatch && !r.audit && (r.action === 'ALLOW' || r.action === 'ALLOW_FINAL') ? { onMatch: r.onMatch } : {}),
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
      servers: fc.constantFrom([] as { address: string; port: number }[], [
        { address: '192.0.2.50', port: 514 },
        { address: '2001:db8::50', port: 6514 },
      ]),
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
    .tuple(
      deviceArb,
      options.externalServices === false ? fc.constant([] as ExternalServiceModel[]) : fc.array(externalServiceArb, { maxLength: 2 }),
    )
    .chain(([device, esList]) => {
      const externalServices = [...new Map(esList.map((e) => [e.name, e])).values()];
      const names = externalServices.map((e) => e.name);
      const rule = fc.oneof(ruleArb('cluster', names), ruleArb('namespace', names), ruleArb('service', names));
      return fc.array(rule, { minLength: 1, maxLength: maxRules }).map((rules) => ({
        device,
        externalServices,
        // A device in audit mode refuses onMatch code (it must not change traffic).
        rules: [...new Map(rules.map((r) => [ruleKey(r), device.audit ? { ...r, onMatch: undefined } : r])).values()],
      }));
    });
}

// ---------------------------------------------------------------------------------------------
// Generators that push every limit: names at their maximum lengths, hostile-but-legal free
// text, many ports and protocols, audit everywhere, dual stack, route domains, several devices
// on one BIG-IP. Names are drawn per policy from small pools of long names, so lists are still
// shared between rules.

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '0123456789';

/** A string of `length` characters: `first` for the first, `last` for the last, `middle` between. */
function stringOf(length: number, first: string, middle: string, last: string): fc.Arbitrary<string> {
  if (length === 1) return fc.constantFrom(...first.split('').filter((c) => last.includes(c)));
  return fc
    .tuple(
      fc.constantFrom(...first.split('')),
      fc.array(fc.constantFrom(...middle.split('')), { minLength: length - 2, maxLength: length - 2 }),
      fc.constantFrom(...last.split('')),
    )
    .map(([a, m, z]) => a + m.join('') + z);
}

/** A length: `max` most of the time, otherwise anything from `min`. */
function lengthUpTo(max: number, min = 1): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant(max) },
    { weight: 1, arbitrary: fc.constantFrom(max - 1, max - 2) },
    { weight: 2, arbitrary: fc.integer({ min, max }) },
  );
}

/** An RFC 1123 label of at most `max` characters, usually exactly `max`. */
export function dnsLabelArb(max: number): fc.Arbitrary<string> {
  const alnum = LOWER + DIGITS;
  return lengthUpTo(max).chain((n) => stringOf(n, alnum, `${alnum}-`, alnum));
}

/** An AS3 tenant or application name (letter first, then letters, digits, `_`), usually 48 characters. */
export function tenantNameArb(max = 48): fc.Arbitrary<string> {
  const letters = LOWER + LOWER.toUpperCase();
  const rest = `${letters}${DIGITS}_`;
  return (
    lengthUpTo(max, 2)
      .chain((n) => stringOf(n, letters, rest, rest))
      // Valid names only: the builders refuse AS3's reserved names (`Common`, `id`, `remark`, …).
      // Valid as a tenant and as an application: the builders refuse AS3's reserved names.
      .filter((t) => tenantProblem(t) === undefined && !TENANT_PROPERTIES.has(t))
  );
}

/** Every character free text may hold (remarks, tmsh descriptions, iRule comments alike). */
export const FREE_TEXT_CHARS = `${LOWER}${LOWER.toUpperCase()}${DIGITS} _.,:;@#()/+=-`;
/** Legal strings that look like attacks on tmsh, iRules, JSON or Terraform. */
const HOSTILE_TEXT = [
  '; delete sys config #',
  '# when FLOW_INIT: drop;',
  '#(( /Common/Shared ))',
  'a=b; c=d',
  ' leading and trailing ',
  '@@@',
  '---',
  '/Common/Shared/k8s_prod_dst_0',
  'x'.repeat(64),
];

/** Free text of at most `max` characters, from the allowed character set, often at `max`. */
export function freeTextArb(max = 64): fc.Arbitrary<string> {
  return fc.oneof(
    {
      weight: 3,
      arbitrary: lengthUpTo(max).chain((n) =>
        fc.array(fc.constantFrom(...FREE_TEXT_CHARS.split('')), { minLength: n, maxLength: n }).map((cs) => cs.join('')),
      ),
    },
    { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_TEXT.filter((t) => t.length <= max)) },
  );
}

/** A Kubernetes label key: an optional DNS-subdomain prefix and a name of up to 63 characters. */
const longLabelKeyArb: fc.Arbitrary<string> = fc
  .tuple(
    fc.option(fc.constantFrom('app.kubernetes.io', `${'p'.repeat(63)}.example.com`), { nil: undefined }),
    lengthUpTo(63).chain((n) => stringOf(n, LOWER + DIGITS, `${LOWER}${DIGITS}-_.`, LOWER + DIGITS)),
  )
  .map(([prefix, name]) => (prefix ? `${prefix}/${name}` : name));
const longLabelValueArb: fc.Arbitrary<string> = fc.oneof(
  fc.constant(''),
  lengthUpTo(63).chain((n) => stringOf(n, LOWER + DIGITS, `${LOWER}${DIGITS}-_.`, LOWER + DIGITS)),
);

const longSelectorArb: fc.Arbitrary<SelectorModel> = fc
  .tuple(
    fc.dictionary(longLabelKeyArb, longLabelValueArb, { maxKeys: 3 }),
    fc.array(
      fc.oneof(
        fc.record({
          key: longLabelKeyArb,
          operator: fc.constantFrom('In' as const, 'NotIn' as const),
          values: fc.uniqueArray(longLabelValueArb, { minLength: 1, maxLength: 3 }),
        }),
        fc.record({
          key: longLabelKeyArb,
          operator: fc.constantFrom('Exists' as const, 'DoesNotExist' as const),
          values: fc.constant([] as string[]),
        }),
      ),
      { maxLength: 2 },
    ),
  )
  .map(([matchLabels, exprs]) => {
    const sorted: Record<string, string> = {};
    for (const k of Object.keys(matchLabels).sort()) sorted[k] = matchLabels[k];
    return { matchLabels: sorted, matchExpressions: exprs.map((e) => ({ ...e, values: [...e.values].sort() })) };
  });

/** A DNS name of up to 253 characters, exact or a one-label wildcard under a private domain. */
const longFqdnArb: fc.Arbitrary<FqdnModel> = fc
  .tuple(fc.boolean(), fc.array(dnsLabelArb(63), { minLength: 1, maxLength: 3 }), fc.constantFrom('example.com', 'corp.example.org'))
  .map(([wildcard, labels, domain]) => {
    let base = [...labels, domain].join('.');
    while (base.length > 253 - 2) base = base.slice(base.indexOf('.') + 1);
    return { kind: 'fqdn', text: wildcard ? `*.${base}` : base, wildcard } as FqdnModel;
  });

const PORTLESS_PROTOCOLS = [...AFM_PROTOCOLS].filter((p) => !PORTED_PROTOCOLS.has(p));

/** Many ports over many protocols: ported protocols with ports or ranges, every other AFM protocol without. */
const manyPortsArb: fc.Arbitrary<PortModel[]> = fc
  .array(
    fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .tuple(fc.constantFrom(...PORTED_PROTOCOLS), fc.integer({ min: 1, max: 65535 }))
          .map(([protocol, p]) => ({ protocol, fromPort: p, toPort: p })),
      },
      {
        weight: 2,
        arbitrary: fc
          .tuple(fc.constantFrom(...PORTED_PROTOCOLS), portRange)
          .map(([protocol, [a, b]]) => ({ protocol, fromPort: a, toPort: b })),
      },
      { weight: 1, arbitrary: fc.constantFrom(...PORTED_PROTOCOLS).map((protocol) => ({ protocol })) },
      { weight: 2, arbitrary: fc.constantFrom(...PORTLESS_PROTOCOLS).map((protocol) => ({ protocol })) },
    ),
    { maxLength: 40 },
  )
  .map((ps: PortModel[]) => [...new Map(ps.map((p) => [`${p.protocol}/${p.fromPort ?? ''}-${p.toPort ?? ''}`, p] as const)).values()]);

/** Rule metadata whose combined remark fits AS3's 64 characters, as buildRule requires. */
const metadataArb = fc
  .record({
    description: fc.option(freeTextArb(), { nil: undefined }),
    owner: fc.option(freeTextArb(), { nil: undefined }),
    ticket: fc.option(freeTextArb(), { nil: undefined }),
    justification: fc.option(freeTextArb(), { nil: undefined }),
  })
  .map(({ description, owner, ticket, justification }) => {
    const fits = (m: RuleMetadataModel, d?: string) => ruleRemark({ description: d, metadata: m }).length <= 64;
    for (const m of [{ owner, ticket, justification }, { owner, justification }, { ticket }, { owner }, {}] as RuleMetadataModel[]) {
      if (fits(m, description)) return { description, metadata: m };
    }
    return { description: undefined, metadata: {} as RuleMetadataModel };
  });

export interface LimitPolicyArbOptions {
  readonly maxRules?: number;
  /** Device tenant; drawn at random (usually 48 characters) when absent. */
  readonly tenant?: string;
  readonly routeDomain?: number;
  /** Pod CIDRs of the device; drawn (dual stack or not) when absent. */
  readonly podCidrs?: readonly AddressModel[];
}

const address = (text: string, family: 4 | 6): AddressModel => ({ kind: 'address', text, family });
const cidr = (text: string, family: 4 | 6): AddressModel => ({ kind: 'cidr', text, family });

/** `drawn`, or `both` (one address of each family) when `drawn` lacks a family of the pods. */
function coverFamilies(
  drawn: readonly AddressModel[],
  pods: readonly AddressModel[],
  both: readonly AddressModel[],
): readonly AddressModel[] {
  return drawn.length === 0 || pods.every((p) => drawn.some((a) => a.family === p.family)) ? drawn : both;
}

/** A device at its limits: long names, audit mode, dual stack, route domains, SNAT pools. */
export function limitDeviceArb(options: LimitPolicyArbOptions = {}): fc.Arbitrary<DeviceModel> {
  return fc
    .record({
      cluster: dnsLabelArb(40),
      tenant: options.tenant ? fc.constant(options.tenant) : tenantNameArb(),
      application: tenantNameArb(),
      routeDomain:
        options.routeDomain !== undefined
          ? fc.constant(options.routeDomain)
          : fc.oneof(fc.constantFrom(0, 1, 65534), fc.integer({ min: 0, max: 65534 })),
      audit: fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      defaultAction: fc.constantFrom('DENY' as const, 'REJECT' as const, 'ALLOW' as const),
      podCidrs: options.podCidrs
        ? fc.constant([...options.podCidrs])
        : fc.constantFrom(
            [] as AddressModel[],
            [cidr('10.244.0.0/16', 4)],
            [cidr('10.244.0.0/16', 4), cidr('fd00:10:244::/56', 6)],
            [cidr('fd00:10:244::/56', 6)],
          ),
      gateways: fc.constantFrom([] as AddressModel[], [address('192.0.2.1', 4)], [address('192.0.2.1', 4), address('2001:db8::1', 6)]),
      snat: fc.constantFrom('AUTOMAP' as const, 'NONE' as const, 'POOL' as const),
      snatAddresses: fc.constantFrom(
        [address('192.0.2.200', 4)],
        [address('192.0.2.200', 4), address('2001:db8::200', 6)],
        [address('2001:db8::200', 6)],
      ),
      servers: fc.constantFrom([] as { address: string; port: number }[], [
        { address: '192.0.2.50', port: 514 },
        { address: '2001:db8::50', port: 6514 },
        { address: '198.51.100.9', port: 514 },
      ]),
      transport: fc.constantFrom('tcp' as const, 'udp' as const),
      flags: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
      fields: fc.uniqueArray(fc.constantFrom(...LOG_FIELDS), { minLength: 1, maxLength: LOG_FIELDS.length }),
      vlans: fc.constantFrom([] as string[], ['/Common/internal'], [`/Common/${'v'.repeat(60)}`, '/Common/k8s-nodes']),
      services: fc.boolean(),
    })
    .map((d) => ({
      path: `test/${d.cluster}/Bigip`,
      cluster: d.cluster,
      tenant: d.tenant,
      application: d.application,
      routeDomain: d.routeDomain,
      defaultAction: d.defaultAction,
      podCidrs: d.podCidrs,
      vlans: d.vlans,
      // Gateways and SNAT pools serve every pod family (the device refuses them otherwise).
      gateways: coverFamilies(d.gateways, d.podCidrs, [address('192.0.2.1', 4), address('2001:db8::1', 6)]),
      snat: d.snat,
      snatAddresses:
        d.snat === 'POOL' ? coverFamilies(d.snatAddresses, d.podCidrs, [address('192.0.2.200', 4), address('2001:db8::200', 6)]) : [],
      audit: d.audit,
      logging: {
        servers: d.servers,
        transport: d.transport,
        localDatabase: d.flags[0],
        logIpErrors: d.flags[1],
        logTcpErrors: d.flags[2],
        logTcpEvents: d.flags[3],
        logDefaultAction: d.flags[4],
        fields: d.fields,
      },
      ipIntelligencePolicy: d.services ? `/Common/${'i'.repeat(40)}` : undefined,
      protocolInspectionProfile: d.services ? '/Common/protocol_inspection' : undefined,
      dnsResolver: '/Common/egress-resolver',
    }));
}

function limitRuleArb(
  level: Level,
  pools: { namespaces: string[]; services: string[]; names: string[]; es: string[] },
  devicePath: string,
): fc.Arbitrary<RuleModel> {
  const dest: fc.Arbitrary<DestinationModel> = fc.oneof(
    { weight: 5, arbitrary: addressArb as fc.Arbitrary<DestinationModel> },
    { weight: 1, arbitrary: fc.constantFrom(cidr('0.0.0.0/0', 4), cidr('::/0', 6)) as fc.Arbitrary<DestinationModel> },
    { weight: 2, arbitrary: fc.oneof(fqdnArb, longFqdnArb) as fc.Arbitrary<DestinationModel> },
    ...(pools.es.length
      ? [{ weight: 2, arbitrary: fc.constantFrom(...pools.es).map((name) => ({ kind: 'externalService', name }) as DestinationModel) }]
      : []),
  );
  return fc
    .record({
      name: fc.constantFrom(...pools.names),
      namespace: fc.constantFrom(...pools.namespaces),
      service: fc.constantFrom(...pools.services),
      action: actionArb,
      priority: fc.oneof(fc.constantFrom(0, 1000), fc.integer({ min: 0, max: 1000 })),
      destinations: fc.array(dest, { minLength: 1, maxLength: 6 }),
      ports: fc.oneof({ weight: 1, arbitrary: fc.constant([] as PortModel[]) }, { weight: 3, arbitrary: manyPortsArb }),
      namespaceSelector: fc.option(longSelectorArb, { nil: undefined }),
      podSelector: fc.option(longSelectorArb, { nil: undefined }),
      logging: fc.boolean(),
      audit: fc.oneof({ weight: 2, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      bandwidth: rarely(
        fc.record({ maxBandwidth: fc.integer({ min: 1, max: 320 }), unit: fc.constantFrom('Mbps' as const, 'Gbps' as const) }),
      ),
      schedule: rarely(
        fc.record({
          daysOfWeek: fc
            .uniqueArray(fc.constantFrom(...WEEKDAYS), { minLength: 1, maxLength: 7 })
            .map((ds) => WEEKDAYS.filter((d) => ds.includes(d))),
          startTime: fc.constantFrom('00:00', '08:00'),
          endTime: fc.constantFrom('18:00', '24:00'),
          timeZone: fc.constantFrom('UTC', 'America/Argentina/ComodRivadavia'),
        }),
      ),
      expiresAt: rarely(fc.constant('2099-12-31T23:59:59.999+14:00')),
      text: metadataArb,
    })
    .map((r) => {
      const namespace = level === 'cluster' ? undefined : r.namespace;
      const source = sourceOf(level, namespace, r);
      return {
        level,
        name: r.name,
        namespace,
        path: `${devicePath}/${level}/${namespace ?? '-'}/${r.name}`,
        action: r.action,
        priority: r.priority,
        source,
        destinations: dedupe(r.destinations, (d) => (d.kind === 'externalService' ? `es:${d.name}` : `${d.kind}:${d.text}`)),
        ports: r.ports,
        logging: r.logging,
        audit: r.audit,
        description: r.text.description,
        bandwidth: r.action === 'ALLOW' || r.action === 'ALLOW_FINAL' ? r.bandwidth : undefined,
        schedule: r.schedule,
        expiresAt: r.expiresAt,
        metadata: r.text.metadata,
      } as RuleModel;
    });
}

/** A random valid policy at the limits of every name, text, port and device setting. */
export function limitPolicyArb(options: LimitPolicyArbOptions = {}): fc.Arbitrary<PolicyModel> {
  const maxRules = options.maxRules ?? 10;
  return fc
    .record({
      device: limitDeviceArb(options),
      namespaces: fc.uniqueArray(dnsLabelArb(63), { minLength: 1, maxLength: 3 }),
      services: fc.uniqueArray(dnsLabelArb(63), { minLength: 1, maxLength: 2 }),
      names: fc.uniqueArray(fc.oneof(dnsLabelArb(63), nameArb), { minLength: 1, maxLength: 4 }),
      es: fc.uniqueArray(
        fc.record({
          name: dnsLabelArb(63),
          destinations: fc.array(fc.oneof(addressArb, longFqdnArb, fqdnArb), { minLength: 1, maxLength: 4 }),
          description: fc.option(freeTextArb(), { nil: undefined }),
        }),
        { maxLength: 2, selector: (e) => e.name },
      ),
    })
    .chain(({ device, namespaces, services, names, es }) => {
      const externalServices: ExternalServiceModel[] = es.map((e) => ({
        name: e.name,
        path: `${device.path}/es/${e.name}`,
        destinations: [...new Map(e.destinations.map((d) => [`${d.kind}:${d.text}`, d])).values()],
        description: e.description,
      }));
      const pools = { namespaces, services, names, es: es.map((e) => e.name) };
      const rule = fc.oneof(
        limitRuleArb('cluster', pools, device.path),
        limitRuleArb('namespace', pools, device.path),
        limitRuleArb('service', pools, device.path),
      );
      return fc
        .array(rule, { minLength: 1, maxLength: maxRules })
        .map((rules) => ({ device, externalServices, rules: [...new Map(rules.map((r) => [ruleKey(r), r])).values()] }));
    });
}

/**
 * Two to four clusters on one shared BIG-IP: distinct tenants of up to 48 characters (each a
 * prefix of the others), route domains shared or not, and pod CIDRs that never overlap.
 */
export function limitSharedArb(maxRules = 6): fc.Arbitrary<PolicyModel[]> {
  return fc
    .tuple(tenantNameArb(46), fc.integer({ min: 2, max: 4 }), fc.array(fc.constantFrom(0, 7), { minLength: 4, maxLength: 4 }))
    .chain(([base, n, routeDomains]) =>
      fc.tuple(
        ...Array.from({ length: n }, (_, i) => {
          const tenant = i === 0 ? base : `${base}_${i}`;
          const podCidrs = [cidr(`10.${i}.0.0/16`, 4), cidr(`fd00:${i}::/56`, 6)];
          return limitPolicyArb({ maxRules, tenant, routeDomain: routeDomains[i], podCidrs });
        }),
      ),
    );
}

// ---------------------------------------------------------------------------------------------
// Per-rule source translation (rule `snat`): a policy of another generator, with translation
// pools on some of its ALLOW and ALLOW_FINAL rules and a device translation a NAT policy can carry.

/** Translation pools: IPv4, IPv6 and dual stack, two sharing an address with another. */
export const TRANSLATION_POOLS: readonly (readonly AddressModel[])[] = [
  [{ kind: 'address', text: '192.0.2.210', family: 4 }],
  [
    { kind: 'address', text: '192.0.2.211', family: 4 },
    { kind: 'address', text: '192.0.2.212', family: 4 },
  ],
  [{ kind: 'address', text: '2001:db8:ffff::210', family: 6 }],
  [
    { kind: 'address', text: '192.0.2.210', family: 4 },
    { kind: 'address', text: '2001:db8:ffff::210', family: 6 },
  ],
];

/** Whether a rule may have `snat` on its own (action, audit, protocols). */
export function snatEligible(rule: RuleModel): boolean {
  return (
    (rule.action === 'ALLOW' || rule.action === 'ALLOW_FINAL') &&
    !rule.audit &&
    rule.ports.every((p) => p.protocol === 'tcp' || p.protocol === 'udp')
  );
}

/**
 * `model` with a pool on about half of its eligible rules and the device translating to a pool
 * (IPv4 or dual stack) or to nothing. `keep` drops the pools a check refuses (a family of the
 * rule's traffic the pool or the gateways lack), so that every model is valid.
 */
export function ruleSnatArb(model: PolicyModel, keep: (m: PolicyModel) => PolicyModel): fc.Arbitrary<PolicyModel> {
  return fc
    .tuple(
      fc.array(fc.option(fc.nat(TRANSLATION_POOLS.length - 1), { nil: undefined, freq: 4 }), {
        minLength: model.rules.length,
        maxLength: model.rules.length,
      }),
      fc.constantFrom('POOL-4' as const, 'POOL-46' as const, 'NONE' as const),
      // A twin of a rule with a pool: same destinations and ports, another pool, at the cluster
      // or the namespace level, so that two rules with pools often match one flow.
      fc.option(
        fc.record({
          of: fc.nat(),
          level: fc.constantFrom('cluster' as const, 'namespace' as const, 'same' as const),
          action: fc.constantFrom('ALLOW' as const, 'ALLOW_FINAL' as const),
          priority: fc.constantFrom(0, 500, 1000),
          pool: fc.nat(TRANSLATION_POOLS.length - 1),
        }),
        { nil: undefined, freq: 2 },
      ),
    )
    .map(([pools, snat, twin]) => {
      const device: DeviceModel = {
        ...model.device,
        snat: snat === 'NONE' ? 'NONE' : 'POOL',
        snatAddresses:
          snat === 'NONE'
            ? []
            : [
                { kind: 'address', text: '192.0.2.200', family: 4 } as AddressModel,
                ...(snat === 'POOL-46' ? [{ kind: 'address', text: '2001:db8:ffff::200', family: 6 } as AddressModel] : []),
              ],
      };
      const rules = model.rules.map((r, i) => {
        const pool = pools[i];
        return pool === undefined || !snatEligible(r) ? r : { ...r, snat: { addresses: TRANSLATION_POOLS[pool] } };
      });
      const withPool = rules.filter((r) => r.snat);
      if (twin && withPool.length) {
        const of = withPool[twin.of % withPool.length];
        const level = twin.level === 'same' ? of.level : twin.level;
        const namespace = level === 'cluster' ? undefined : (of.namespace ?? NAMESPACES[0]);
        rules.push({
          ...of,
          level,
          name: 'snat-twin',
          namespace,
          path: `test/${level}/${namespace ?? '-'}/snat-twin`,
          action: twin.action,
          priority: twin.priority,
          source:
            twin.level === 'same'
              ? of.source
              : level === 'cluster'
                ? { level: 'cluster' }
                : { level: 'namespace', namespace: namespace as string },
          schedule: undefined,
          expiresAt: undefined,
          bandwidth: undefined,
          snat: { addresses: TRANSLATION_POOLS[twin.pool] },
        });
      }
      return keep({ ...model, device, rules });
    });
}

// Redirection: policies whose allowing rules send their traffic to other next hops.

/** Redirect targets the generators draw from: distinct gateways, so a next hop names its target. */
export const REDIRECT_TARGETS: readonly RedirectModel[] = [
  {
    name: 'inspection',
    gateways: [
      { kind: 'address', text: '192.0.2.10', family: 4 },
      { kind: 'address', text: '192.0.2.11', family: 4 },
    ],
  },
  { name: 'partner', gateways: [{ kind: 'address', text: '198.51.100.1', family: 4 }] },
  { name: 'lab', gateways: [{ kind: 'address', text: '203.0.113.254', family: 4 }] },
];

/** IPv4 destinations a redirect may match: networks and addresses, never the whole family. */
const redirectDestinationArb: fc.Arbitrary<AddressModel> = fc.oneof(
  fc.tuple(ipv4, fc.integer({ min: 1, max: 32 })).map(([v, l]) => cidrOf(4, v, l)),
  ipv4.map((v) => ({ kind: 'address', text: formatIp(4, v), family: 4 }) as AddressModel),
  fc.constantFrom(cidrOf(4, 0xcb007100n, 24), cidrOf(4, 0xc6336400n, 24), cidrOf(4, 0x0a000000n, 8)),
);

/**
 * A rule that can carry a redirect, drawn like any rule of its level: allowing, not in audit,
 * IPv4 destinations that are not the whole family, protocols a virtual server can listen for.
 */
function redirectRuleArb(level: Level): fc.Arbitrary<RuleModel> {
  return fc
    .tuple(
      ruleArb(level, []),
      fc.constantFrom<ActionName>('ALLOW', 'ALLOW_FINAL'),
      fc.array(redirectDestinationArb, { minLength: 1, maxLength: 3 }),
      fc.constantFrom(...REDIRECT_TARGETS),
      fc.constantFrom('rdr-1', 'rdr-2', 'rdr-3'),
    )
    .map(([r, action, destinations, redirect, name]) => ({
      ...r,
      name,
      path: `test/${level}/${r.namespace ?? '-'}/${name}`,
      action,
      audit: false,
      destinations: dedupe(destinations, (d) => d.text),
      ports: r.ports.filter((p) => !['ipv4', 'mobility-header', 'rohc'].includes(p.protocol)),
      bandwidth: undefined,
      redirect,
    }));
}

/**
 * A valid policy with redirect rules added to `policies`' draws (its device moved to route
 * domain 0): up to four redirect rules of any level and target, kept only where synth accepts them (a redirect that overlaps another
 * target's flows, or a device without IPv4 pod CIDRs, loses its redirect, not its rule).
 */
export function redirectPolicyArb(policies: fc.Arbitrary<PolicyModel>): fc.Arbitrary<PolicyModel> {
  const rule = fc.oneof(redirectRuleArb('cluster'), redirectRuleArb('namespace'), redirectRuleArb('service'));
  // Redirection needs route domain 0 (AS3 issue #917): the devices are moved there.
  return policies.chain((drawn) =>
    fc.array(rule, { minLength: 1, maxLength: 4 }).map((extra) => {
      const model = { ...drawn, device: { ...drawn.device, routeDomain: 0 } };
      // A device in audit mode refuses iRules on match (irule.ts): the drawn rules keep theirs only when it enforces.
      const fit = (r: RuleModel): RuleModel => (model.device.audit && r.onMatch ? { ...r, onMatch: undefined } : r);
      let rules = [...new Map([...model.rules, ...extra].map((r) => [ruleKey(r), fit(r)])).values()];
      const drop = (i: number) => {
        const { redirect: _dropped, ...plain } = rules[i];
        rules = [...rules.slice(0, i), plain as RuleModel, ...rules.slice(i + 1)];
      };
      for (let i = 0; i < rules.length; i++) if (rules[i].redirect && redirectIssues({ ...model, rules }).length) drop(i);
      // What only the compiler sees (two listeners with the same criteria) loses its redirect too.
      for (;;) {
        try {
          compilePolicy({ ...model, rules });
          return { ...model, rules };
        } catch (e) {
          const refused = e instanceof EgressPolicyError ? e.issues.find((x) => x.field === 'redirect') : undefined;
          const i = refused ? rules.findIndex((r) => r.redirect && r.path === refused.path) : -1;
          if (i < 0) return { ...model, rules };
          drop(i);
        }
      }
    }),
  );
}
