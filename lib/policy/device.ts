/**
 * Device settings: validation and the value objects of AfmDevice props.
 */
import { z } from 'zod';
import { EgressPolicyError, InvalidValueError, PolicyIssue, quote } from './errors';
import { addressEntry, parseCidr } from './ip';
import type { AddressModel, DeviceModel, SnatModeName } from './model';
import { DEFAULT_LOG_FIELDS, LOG_FIELDS } from './log-fields';
import { DNS_LABEL, TENANT_NAME, dnsLabelProblem, tenantProblem } from './names';
import { UnknownKeyHints, parseOrThrow, struct } from './schema';
import { readStruct } from './struct';
import { namespaceRouteDomainIssues } from './route-domains';
import { egressSnatValues } from './snat';

/**
 * Source address translation of the egress virtual server.
 */
export class EgressSnat {
  /** Translate to a self IP of the egress VLAN (BIG-IP automap). */
  public static automap(): EgressSnat {
    return new EgressSnat('AUTOMAP', []);
  }
  /** Translate to addresses of a SNAT pool created in the tenant. */
  public static pool(addresses: string[]): EgressSnat {
    // A copy: later changes to the caller's array must not change a validated pool.
    return new EgressSnat('POOL', Array.isArray(addresses) ? [...addresses] : addresses);
  }
  /** Keep pod addresses (the upstream network must route pod CIDRs back to the BIG-IP). */
  public static none(): EgressSnat {
    return new EgressSnat('NONE', []);
  }

  private constructor(
    /** SNAT mode. */
    public readonly mode: string,
    /** SNAT pool addresses (POOL only). */
    public readonly addresses: string[],
  ) {
    SNATS.add(this);
  }
}

/** The SNAT settings made by the factories: `Object.create(EgressSnat.prototype)` is none of them. */
const SNATS = new WeakSet<object>();

/** Whether `v` was made by an EgressSnat factory. */
export function isEgressSnat(v: unknown): v is EgressSnat {
  return typeof v === 'object' && v !== null && SNATS.has(v);
}

/** One problem of a value checked outside zod, relative to the field that holds it. */
export interface ValueProblem {
  readonly value: string;
  readonly message: string;
}

/** The SNAT mode and canonical pool addresses, or every problem of the pool. */
export function snatModel(snat: EgressSnat): { mode: SnatModeName; addresses: AddressModel[] } | ValueProblem[] {
  if (snat.mode !== 'POOL') return { mode: snat.mode as SnatModeName, addresses: [] };
  const raw: unknown = snat.addresses;
  if (!Array.isArray(raw)) {
    return [{ value: quote(raw), message: 'EgressSnat.pool() takes an array of addresses, such as ["192.0.2.200", "192.0.2.201"]' }];
  }
  if (raw.length === 0)
    return [
      {
        value: '[]',
        message:
          'a SNAT pool needs at least one address: list the translation addresses, such as EgressSnat.pool(["192.0.2.200"]), or use EgressSnat.automap()',
      },
    ];
  const problems: ValueProblem[] = [];
  const addresses: AddressModel[] = [];
  const seen = new Map<string, number>();
  raw.forEach((a: unknown, i) => {
    if (typeof a !== 'string') {
      problems.push({ value: quote(a), message: `SNAT pool address ${i + 1} must be an address string such as "192.0.2.200"` });
      return;
    }
    try {
      const e = addressEntry(a);
      const first = seen.get(e.text);
      if (first !== undefined) {
        problems.push({
          value: quote(a),
          message: `SNAT pool address ${i + 1} is address ${first + 1} again (${e.text}); list each address once`,
        });
        return;
      }
      seen.set(e.text, i);
      addresses.push(toModel(e));
    } catch (err) {
      if (!(err instanceof InvalidValueError)) throw err;
      problems.push({ value: quote(a), message: `SNAT pool address: ${err.problem}` });
    }
  });
  return problems.length ? problems : { mode: 'POOL', addresses };
}

// Rules take an EgressSnat too (their `snat`); the rule schema reads it through this.
egressSnatValues.is = isEgressSnat;
egressSnatValues.read = snatModel;

export interface DeviceInput {
  readonly path: string;
  readonly clusterName: unknown;
  readonly tenant?: unknown;
  readonly application?: unknown;
  readonly routeDomain?: unknown;
  readonly routeDomainName?: unknown;
  readonly defaultAction?: unknown;
  readonly podCidrs?: unknown;
  readonly vlans?: unknown;
  readonly gateways?: unknown;
  readonly snat?: unknown;
  readonly auditMode?: unknown;
  readonly logging?: unknown;
  readonly ipIntelligencePolicy?: unknown;
  readonly protocolInspectionProfile?: unknown;
  readonly dnsResolver?: unknown;
  readonly namespaceRouteDomains?: unknown;
}

/** `192.0.2.50:514` or `[2001:db8::50]:514` → canonical address and port. */
export function parseHostPort(text: string): { address: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (!m) {
    throw new InvalidValueError(quote(text), 'write a syslog server as "address:port", or "[IPv6-address]:port"');
  }
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new InvalidValueError(quote(text), 'the port must be from 1 to 65535');
  const ip = addressEntry(m[1]);
  return { address: ip.text, port };
}

/**
 * Why a value is not a boolean. Props are never read by truthiness: `"false"` from an
 * environment variable is a non-empty string, so JavaScript treats it as true.
 */
function booleanProblem(value: unknown): string {
  if (typeof value === 'string') {
    return 'expected true or false, not a string: every non-empty string, "false" and "no" included, is true in JavaScript; convert it yourself, such as process.env.X === "true"';
  }
  if (typeof value === 'number') return 'expected true or false, not a number';
  if (value === null) return 'expected true or false; leave the prop out for its default';
  return 'expected true or false';
}

/** A boolean prop: only `true` and `false` (or leaving it out). */
export const booleanProp = () => z.boolean({ error: (issue) => booleanProblem(issue.input) }).optional();

/** A whole number in `[min, max]`; NaN, infinities and fractions are refused. */
export const wholeNumber = (min: number, max: number, unit = '') =>
  z
    .number({ error: `expected a whole number${unit} from ${min} to ${max}` })
    .refine((v) => Number.isInteger(v) && v >= min && v <= max, { error: `must be a whole number${unit} from ${min} to ${max}` });

/** The first earlier entry a new one collides with, and how (for podCidrs: repeats, lies inside, contains). */
type Collision<T> = (earlier: T, later: T) => string | undefined;

/** Two entries collide when their canonical keys are equal. */
const sameKey =
  <T>(key: (item: T) => string): Collision<T> =>
  (a, b) =>
    key(a) === key(b) ? 'repeats' : undefined;

/**
 * Parses each string of an array with `parse`, reporting each bad one on its index, and each
 * entry that collides with an earlier one (after canonical form) naming both indexes.
 */
function parsedArray<T>(parse: (s: string) => T, what: string, field: string, collides: Collision<T>, describe: (item: T) => string) {
  return z
    .array(z.string({ error: `expected ${what} strings` }), { error: `expected an array of ${what} strings` })
    .transform((items, ctx) => {
      const parsed: { index: number; item: T }[] = [];
      items.forEach((text, index) => {
        let item: T;
        try {
          item = parse(text);
        } catch (e) {
          if (!(e instanceof InvalidValueError)) throw e;
          ctx.addIssue({ code: 'custom', path: [index], message: e.problem, params: { quotedValue: e.value } });
          return;
        }
        for (const earlier of parsed) {
          const how = collides(earlier.item, item);
          if (how) {
            ctx.addIssue({
              code: 'custom',
              path: [index],
              message: `${how} ${field}[${earlier.index}] (${describe(earlier.item)}); list each ${what} once`,
            });
            return;
          }
        }
        parsed.push({ index, item });
      });
      return parsed.map((p) => p.item);
    });
}

/** Reports each repeated string of an already validated array. */
function refuseRepeats(field: string, what: string) {
  return (items: readonly string[], ctx: z.RefinementCtx) => {
    items.forEach((item, i) => {
      const first = items.indexOf(item);
      if (first < i) ctx.addIssue({ code: 'custom', path: [i], message: `repeats ${field}[${first}] (${item}); list each ${what} once` });
    });
  };
}

const hostPortText = (s: { address: string; port: number }) =>
  s.address.includes(':') ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`;

const loggingObject = z.strictObject(
  {
    syslogServers: parsedArray(parseHostPort, 'syslog server', 'logging.syslogServers', sameKey(hostPortText), hostPortText).optional(),
    syslogTransport: z.enum(['tcp', 'udp'], { error: 'must be SyslogTransport.TCP or UDP' }).optional(),
    localDatabase: booleanProp(),
    logIpErrors: booleanProp(),
    logTcpErrors: booleanProp(),
    logTcpEvents: booleanProp(),
    logDefaultAction: booleanProp(),
    fields: z
      .array(z.enum(LOG_FIELDS, { error: `must be one of ${LOG_FIELDS.join(', ')}` }), { error: 'expected an array of log field names' })
      .min(1, { error: 'list at least one field, or leave fields out for the default set' })
      .superRefine(refuseRepeats('logging.fields', 'field'))
      .optional(),
  },
  {
    error: (issue) =>
      typeof issue.input === 'boolean'
        ? "expected EgressLoggingOptions ({ syslogServers, localDatabase, ... }); logging of rule matches is switched on per rule, with the rule's logging: true"
        : 'expected EgressLoggingOptions ({ syslogServers, syslogTransport, localDatabase, logIpErrors, logTcpErrors, logTcpEvents, logDefaultAction, fields })',
  },
);
const LOGGING_EXPECTED =
  'EgressLoggingOptions ({ syslogServers, syslogTransport, localDatabase, logIpErrors, logTcpErrors, logTcpEvents, logDefaultAction, fields })';
/**
 * Read as a struct (own keys of an object literal): a Date, a Map or a boxed `false` is not
 * logging options. A boolean gets its own hint first: rule-match logging is a rule prop.
 */
const loggingSchema = z.preprocess(
  (value, ctx) => {
    if (typeof value === 'boolean') {
      ctx.addIssue({
        code: 'custom',
        input: value,
        message:
          "expected EgressLoggingOptions ({ syslogServers, localDatabase, ... }); logging of rule matches is switched on per rule, with the rule's logging: true",
      });
    }
    return value;
  },
  struct(loggingObject, { what: 'EgressLoggingOptions', expected: LOGGING_EXPECTED }),
);

/** The props of EgressLoggingOptions (for hints on keys put on the device itself). */
export const LOGGING_PROPS: readonly string[] = Object.keys(loggingObject.shape);

const bigipPathField = (what: string) =>
  z
    .string({ error: 'expected a BIG-IP path' })
    .regex(BIGIP_PATH, { error: `must be the BIG-IP path of ${what}, such as "/Common/${what.replace(/ /g, '-')}"` })
    .optional();

export const CLUSTER_NAME_MAX = 40;
/** A BIG-IP object path: a partition, optional folders, a name; nothing Terraform or tmsh would interpret. */
export const BIGIP_PATH = /^\/[A-Za-z][0-9A-Za-z_.-]*(\/[A-Za-z0-9][0-9A-Za-z_.-]*)+$/;

const toModel = (e: { kind: AddressModel['kind']; text: string; family: 4 | 6 }): AddressModel => ({
  kind: e.kind,
  text: e.text,
  family: e.family,
});

/** `schema`, refusing an empty array before its items are read. */
function nonEmpty<T extends z.ZodType>(message: string, schema: T) {
  return z.preprocess((v, ctx) => {
    if (Array.isArray(v) && v.length === 0) ctx.addIssue({ code: 'custom', message, input: v });
    return v;
  }, schema);
}

/** A pod CIDR: not the whole address space, which is no cluster's pods (and AS3 refuses it). */
function podCidr(text: string): AddressModel {
  const cidr = parseCidr(text);
  if (cidr.text.endsWith('/0')) {
    throw new InvalidValueError(
      quote(text),
      `is every ${cidr.family === 4 ? 'IPv4' : 'IPv6'} address, not the cluster's pods: every source behind the BIG-IP would count as a pod, and AS3 refuses the declaration (its virtual address pair [${cidr.text}, ${cidr.text}] repeats itself); list the cluster's pod CIDRs (the nodes' spec.podCIDRs, such as "${cidr.family === 4 ? '10.244.0.0/16' : 'fd00:10:244::/56'}")`,
    );
  }
  return toModel(cidr);
}

/** Pod CIDRs may not repeat or contain one another: each is one listener of the egress virtual server. */
function cidrCollision(a: AddressModel, b: AddressModel): string | undefined {
  const x = parseCidr(a.text);
  const y = parseCidr(b.text);
  if (x.family !== y.family || x.last < y.first || y.last < x.first) return undefined;
  return x.text === y.text ? 'repeats' : x.first <= y.first && y.last <= x.last ? 'lies inside' : 'contains';
}

const NAMESPACE_ROUTE_DOMAIN_EXPECTED = 'a NamespaceRouteDomain ({ namespace, routeDomain, routeDomainName, vlans, podCidrs })';

/** One namespace's route domain (see route-domains.ts); checks between mappings come after. */
const namespaceRouteDomainSchema = struct(
  z.strictObject({
    namespace: z
      .string({ error: (issue) => (issue.input === undefined ? 'is required: the Kubernetes namespace' : 'expected a string') })
      .superRefine((v, ctx) => {
        const p = dnsLabelProblem(v);
        if (p) ctx.addIssue({ code: 'custom', message: `is not a namespace name: ${p}` });
      }),
    routeDomain: wholeNumber(1, 65534),
    routeDomainName: z
      .string({ error: 'expected the BIG-IP path of a route domain' })
      .regex(BIGIP_PATH, {
        error: 'must be the BIG-IP path of the route domain, such as "/Common/rd_tenant_a" (tmsh list net route-domain)',
      })
      .optional(),
    vlans: z
      .array(
        z
          .string({ error: 'expected a BIG-IP path string' })
          .regex(BIGIP_PATH, { error: 'must be a BIG-IP path such as "/Common/tenant-a"' }),
        { error: "expected an array of BIG-IP VLAN paths: the VLANs the namespace's egress arrives on" },
      )
      .min(1, {
        error:
          "list the VLANs the namespace's egress arrives on: its virtual server listens only there (on every VLAN it would also take other route domains' sources)",
      })
      .superRefine(refuseRepeats('vlans', 'VLAN')),
    podCidrs: nonEmpty(
      "list the namespace's pod CIDRs: its virtual server takes only these sources in its route domain",
      parsedArray(podCidr, 'pod CIDR', 'podCidrs', cidrCollision, (c) => c.text),
    ),
  }),
  { what: 'NamespaceRouteDomain', expected: NAMESPACE_ROUTE_DOMAIN_EXPECTED },
);

/** The props of an AfmDevice that describe the device (not the connection or references), as zod fields. */
export const DEVICE_PROPS = {
  clusterName: z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? `is required: the Kubernetes cluster's name, a DNS label of at most ${CLUSTER_NAME_MAX} characters`
          : 'expected a string',
    })
    .superRefine((v, ctx) => {
      if (!DNS_LABEL.test(v) || v.length > CLUSTER_NAME_MAX) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a DNS label of at most ${CLUSTER_NAME_MAX} characters (lower-case letters, digits, "-")`,
        });
      }
    }),
  tenant: z
    .string({ error: 'expected a string' })
    .superRefine((v, ctx) => {
      const p = tenantProblem(v);
      if (p) ctx.addIssue({ code: 'custom', message: p });
    })
    .optional(),
  application: z
    .string({ error: 'expected a string' })
    .regex(TENANT_NAME, { error: 'must start with a letter and contain only letters, digits and "_"' })
    .max(48, { error: 'must be at most 48 characters' })
    .refine((v) => !TENANT_PROPERTIES.has(v), {
      error: (issue) =>
        `"${String(issue.input)}" is reserved by AS3 (an application is a property of its tenant, beside its ${[...TENANT_PROPERTIES].join(', ')}); choose another name, such as "egress"`,
    })
    .optional(),
  routeDomain: wholeNumber(0, 65534).optional(),
  routeDomainName: z
    .string({ error: 'expected the BIG-IP path of a route domain' })
    .regex(BIGIP_PATH, { error: 'must be the BIG-IP path of the route domain, such as "/Common/rd_prod" (tmsh list net route-domain)' })
    .optional(),
  defaultAction: z.enum(['DENY', 'REJECT', 'ALLOW'], { error: 'must be DefaultAction.DENY, REJECT or ALLOW' }).optional(),
  // An explicit empty list is refused, never read as the default it renders as (every source).
  podCidrs: nonEmpty(
    'an empty list is never read as "any source": list the pod CIDRs, or leave podCidrs out for the default (the virtual server then takes traffic from any source on its VLANs)',
    parsedArray(podCidr, 'pod CIDR', 'podCidrs', cidrCollision, (c) => c.text),
  ).optional(),
  vlans: z
    .array(
      z.string({ error: 'expected a BIG-IP path string' }).regex(BIGIP_PATH, { error: 'must be a BIG-IP path such as "/Common/internal"' }),
      {
        error: 'expected an array of BIG-IP VLAN paths',
      },
    )
    .min(1, {
      error:
        'an empty list is never read as "every VLAN": list the VLANs, or leave vlans out for the default (the virtual server then listens on every VLAN)',
    })
    .superRefine(refuseRepeats('vlans', 'VLAN'))
    .optional(),
  gateways: parsedArray(
    (s) => toModel(addressEntry(s)),
    'gateway address',
    'gateways',
    sameKey((g) => g.text),
    (g) => g.text,
  ).optional(),
  snat: z
    .custom<EgressSnat>((v) => typeof v === 'object' && v !== null && SNATS.has(v), {
      error: 'expected EgressSnat.automap(), pool([...]) or none()',
    })
    .transform((snat, ctx) => {
      const model = snatModel(snat);
      if (!Array.isArray(model)) return model;
      for (const p of model) ctx.addIssue({ code: 'custom', message: p.message, params: { quotedValue: p.value } });
      return z.NEVER;
    })
    .optional(),
  auditMode: booleanProp(),
  logging: loggingSchema.optional(),
  ipIntelligencePolicy: bigipPathField('an IP Intelligence policy'),
  protocolInspectionProfile: bigipPathField('a protocol inspection profile'),
  dnsResolver: bigipPathField('a DNS resolver'),
  namespaceRouteDomains: z
    .array(namespaceRouteDomainSchema, {
      error: `expected an array of NamespaceRouteDomain (${NAMESPACE_ROUTE_DOMAIN_EXPECTED.slice(22)})`,
    })
    .optional(),
};

/** Properties of AS3's Tenant class (AS3 3.56 schema, `Tenant`): an application named so would replace one. */
export const TENANT_PROPERTIES: ReadonlySet<string> = new Set([
  'class',
  'label',
  'remark',
  'verifiers',
  'enable',
  'defaultRouteDomain',
  'useCommonRouteDomainTenant',
  'Shared',
  'constants',
  'controls',
  'optimisticLockKey',
]);

const deviceSchema = z.strictObject(DEVICE_PROPS);

/** Device props after validation. */
export type DeviceProps = z.output<typeof deviceSchema>;

/** `prod-east` → `k8s_prod_east`: the default tenant of a cluster. */
export function defaultTenant(clusterName: string): string {
  return `k8s_${clusterName.replace(/-/g, '_')}`;
}

/** Validates device props (and nothing else: an unknown key is refused) and builds the device model. */
export function buildDevice(input: DeviceInput): DeviceModel {
  const { path, ...props } = input;
  const valid: DeviceProps = Object.assign(Object.create(null), parseOrThrow(deviceSchema, props, path, { what: 'an AfmDevice' }));
  const issues = deviceIssues(path, valid);
  if (issues.length) throw new EgressPolicyError(issues);
  return deviceModel(path, valid);
}

const FAMILY = { 4: 'IPv4', 6: 'IPv6' } as const;

/**
 * Problems between device props that each are valid alone: a route-domain name without its id,
 * and pods of an address family that the SNAT pool or the gateways cannot serve (the BIG-IP has
 * no translation address or next hop of that family, so those pods' egress would fail).
 */
export function deviceIssues(path: string, p: DeviceProps): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  if (p.routeDomainName !== undefined) {
    if (p.routeDomain === undefined) {
      issues.push({
        path,
        field: 'routeDomainName',
        value: quote(p.routeDomainName),
        message:
          'needs routeDomain, the id of that route domain (addresses name a route domain by id: 10.0.0.1%2); find it with tmsh list net route-domain ' +
          p.routeDomainName +
          ' id',
      });
    } else if (p.routeDomain === 0 && p.routeDomainName !== '/Common/0') {
      issues.push({
        path,
        field: 'routeDomainName',
        value: quote(p.routeDomainName),
        message: 'route domain 0 is /Common/0 on every BIG-IP; leave routeDomainName out, or give routeDomain the id of this route domain',
      });
    }
  }
  const podFamilies = [...new Set((p.podCidrs ?? []).map((c) => c.family))].sort();
  const snat = p.snat?.mode === 'POOL' ? p.snat.addresses : [];
  const covers = (field: string, what: string, fix: (family: string) => string, addresses: readonly AddressModel[]) => {
    if (addresses.length === 0) return;
    for (const family of podFamilies) {
      if (addresses.some((a) => a.family === family)) continue;
      const pods = (p.podCidrs ?? []).filter((c) => c.family === family).map((c) => c.text);
      issues.push({
        path,
        field,
        value: quote(addresses.map((a) => a.text)),
        message: `has no ${FAMILY[family]} address, but podCidrs has ${FAMILY[family]} pods (${pods.join(', ')}): their egress would have no ${what}; ${fix(FAMILY[family])}`,
      });
    }
  };
  covers('snat', 'translation address', (f) => `add an ${f} address to EgressSnat.pool([...]), or use EgressSnat.automap()`, snat);
  covers('gateways', 'next hop', (f) => `add an ${f} gateway, or leave gateways out to forward by the routing table`, p.gateways ?? []);
  issues.push(...namespaceRouteDomainIssues(path, p));
  return issues;
}

/** The device model of validated props. */
export function deviceModel(path: string, p: DeviceProps): DeviceModel {
  const snat = p.snat ?? { mode: 'AUTOMAP', addresses: [] };
  return {
    path,
    cluster: p.clusterName,
    tenant: p.tenant ?? defaultTenant(p.clusterName),
    application: p.application ?? 'egress',
    routeDomain: p.routeDomain ?? 0,
    ...(p.routeDomainName !== undefined && p.routeDomainName !== `/Common/${p.routeDomain ?? 0}`
      ? { routeDomainPath: p.routeDomainName }
      : {}),
    defaultAction: p.defaultAction ?? 'DENY',
    podCidrs: p.podCidrs ?? [],
    vlans: p.vlans ?? [],
    gateways: p.gateways ?? [],
    snat: snat.mode,
    snatAddresses: snat.addresses,
    audit: p.auditMode ?? false,
    logging: {
      servers: p.logging?.syslogServers ?? [],
      transport: p.logging?.syslogTransport ?? 'tcp',
      localDatabase: p.logging?.localDatabase ?? !p.logging?.syslogServers?.length,
      logIpErrors: p.logging?.logIpErrors ?? true,
      logTcpErrors: p.logging?.logTcpErrors ?? true,
      logTcpEvents: p.logging?.logTcpEvents ?? false,
      logDefaultAction: p.logging?.logDefaultAction ?? true,
      fields: p.logging?.fields ?? DEFAULT_LOG_FIELDS,
    },
    ipIntelligencePolicy: p.ipIntelligencePolicy,
    protocolInspectionProfile: p.protocolInspectionProfile,
    dnsResolver: p.dnsResolver,
    ...(p.namespaceRouteDomains?.length
      ? {
          namespaceRouteDomains: p.namespaceRouteDomains.map((m) => ({
            namespace: m.namespace,
            routeDomain: m.routeDomain,
            ...(m.routeDomainName !== undefined && m.routeDomainName !== `/Common/${m.routeDomain}`
              ? { routeDomainPath: m.routeDomainName }
              : {}),
            vlans: m.vlans,
            podCidrs: m.podCidrs,
          })),
        }
      : {}),
  };
}

/** How {@link parseProps} explains a props object. */
export interface PropsHints extends UnknownKeyHints {
  /** The shape of the props, for a props argument that is not an object: `{ clusterName, crdStack, ... }`. */
  readonly expected: string;
  /** Names of nested option objects, for their unknown keys: `{ logging: 'EgressLoggingOptions' }`. */
  readonly nested?: Readonly<Record<string, string>>;
}

/** Unknown keys whose values may be secrets: their values are not repeated in errors (which reach CI logs). */
const SECRET_LIKE = /pass|secret|token|auth|cred|key/i;

/**
 * Validates the props object of a construct with a strict schema. A missing or non-object
 * props argument (possible from JavaScript) is one named issue, not a TypeError; every other
 * problem, unknown keys included, is one issue each. Issues come in the order of the props
 * interface (the schema's keys), unknown keys last.
 */
export function parseProps<S extends z.ZodObject>(
  schema: S,
  props: unknown,
  path: string,
  hints: PropsHints,
): { value?: z.output<S>; issues: PolicyIssue[] } {
  if (typeof props !== 'object' || props === null || Array.isArray(props)) {
    return {
      issues: [{ path, field: '(props)', value: quote(props), message: `expected the props object of ${hints.what}: ${hints.expected}` }],
    };
  }
  try {
    // Own keys only, in and out: a value other code put on Object.prototype (an auditMode:
    // true) is never read as a prop, and a prop left out stays at its default.
    const value = parseOrThrow(schema, readStruct(props, '').data ?? props, path, hints);
    return { value: Object.assign(Object.create(null), value) as z.output<S>, issues: [] };
  } catch (e) {
    if (!(e instanceof EgressPolicyError)) throw e;
    const known = Object.keys(schema.shape);
    const raw = props as Record<string, unknown>;
    return {
      issues: e.issues.map((issue) => {
        if (!known.includes(rootField(issue.field)) && SECRET_LIKE.test(issue.field)) return { ...issue, value: '(value not shown)' };
        const nested = hints.nested?.[rootField(issue.field)];
        if (nested && issue.field.includes('.')) return { ...issue, message: issue.message.split('this object').join(nested) };
        // JSON has no NaN or Infinity: show them as JavaScript does, not as null.
        const v = raw[issue.field];
        if (typeof v === 'number' && !Number.isFinite(v)) return { ...issue, value: String(v) };
        return issue;
      }),
    };
  }
}

function rootField(field: string): string {
  return field.split(/[.[]/)[0];
}

/** Throws every issue at once, in the order of `fields` (the props interface), others last. */
export function throwIssues(issues: readonly PolicyIssue[], fields: readonly string[]): void {
  if (issues.length === 0) return;
  const rank = (i: PolicyIssue) => {
    const r = fields.indexOf(rootField(i.field));
    return r < 0 ? fields.length : r;
  };
  throw new EgressPolicyError(
    issues
      .map((issue, n) => ({ issue, n }))
      .sort((a, b) => rank(a.issue) - rank(b.issue) || a.n - b.n)
      .map((x) => x.issue),
  );
}
