/**
 * Device settings: validation and the value objects of AfmDevice props.
 */
import { z } from 'zod';
import { EgressPolicyError, InvalidValueError, quote } from './errors';
import { addressEntry, parseCidr } from './ip';
import type { AddressModel, DeviceModel, SnatModeName } from './model';
import { DNS_LABEL, TENANT_NAME, tenantProblem } from './names';
import { parseOrThrow } from './schema';

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
    return new EgressSnat('POOL', addresses);
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
  ) {}

  /**
   * @internal
   */
  public _toModel(): { mode: SnatModeName; addresses: AddressModel[] } {
    if (this.mode === 'POOL' && this.addresses.length === 0) {
      throw new InvalidValueError('[]', 'a SNAT pool needs at least one address');
    }
    const addresses = this.addresses.map((a) => {
      try {
        const e = addressEntry(a);
        return { kind: e.kind, text: e.text, family: e.family } as AddressModel;
      } catch (err) {
        if (err instanceof InvalidValueError) {
          throw new InvalidValueError(quote(a), `SNAT pool address: ${err.problem}`);
        }
        throw err;
      }
    });
    return { mode: this.mode as SnatModeName, addresses };
  }
}

export interface DeviceInput {
  readonly path: string;
  readonly clusterName: unknown;
  readonly tenant?: unknown;
  readonly application?: unknown;
  readonly routeDomain?: unknown;
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
}

export const LOG_FIELDS = [
  'acl-policy-name', 'acl-policy-type', 'acl-rule-name', 'action', 'bigip-hostname', 'context-name', 'context-type',
  'date-time', 'dest-ip', 'dest-port', 'drop-reason', 'management-ip-address', 'protocol', 'route-domain',
  'sa-translation-pool', 'sa-translation-type', 'src-ip', 'src-port', 'translated-dest-ip', 'translated-dest-port',
  'translated-ip-protocol', 'translated-route-domain', 'translated-src-ip', 'translated-src-port', 'translated-vlan', 'vlan',
] as const;

export const DEFAULT_LOG_FIELDS = [
  'date-time', 'action', 'context-type', 'context-name', 'acl-policy-name', 'acl-rule-name',
  'src-ip', 'src-port', 'dest-ip', 'dest-port', 'protocol', 'route-domain',
];

/** `192.0.2.50:514` or `[2001:db8::50]:514` → canonical address and port. */
export function parseHostPort(text: string): { address: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:\[\]]+):(\d{1,5})$/.exec(text);
  if (!m) {
    throw new InvalidValueError(quote(text), 'write a syslog server as "address:port", or "[IPv6-address]:port"');
  }
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new InvalidValueError(quote(text), 'the port must be from 1 to 65535');
  const ip = addressEntry(m[1]);
  return { address: ip.text, port };
}

const booleanField = z.boolean({ error: 'expected true or false' }).optional();

const loggingSchema = z
  .object(
    {
      syslogServers: z
        .array(z.string({ error: 'expected "address:port" strings' }))
        .transform((items, ctx) =>
          items.flatMap((item, i) => {
            try {
              return [parseHostPort(item)];
            } catch (e) {
              if (!(e instanceof InvalidValueError)) throw e;
              ctx.addIssue({ code: 'custom', path: [i], message: e.problem, params: { quotedValue: e.value } });
              return [];
            }
          }),
        )
        .optional(),
      syslogTransport: z.enum(['tcp', 'udp'], { error: 'must be SyslogTransport.TCP or UDP' }).optional(),
      localDatabase: booleanField,
      logIpErrors: booleanField,
      logTcpErrors: booleanField,
      logTcpEvents: booleanField,
      logDefaultAction: booleanField,
      fields: z
        .array(z.enum(LOG_FIELDS, { error: `must be one of ${LOG_FIELDS.join(', ')}` }))
        .min(1, { error: 'list at least one field, or leave fields out for the default set' })
        .optional(),
    },
    { error: 'expected EgressLoggingOptions' },
  )
  .strict();

const bigipPathField = (what: string) =>
  z.string({ error: 'expected a BIG-IP path' }).regex(BIGIP_PATH, { error: `must be the BIG-IP path of ${what}, such as "/Common/${what.replace(/ /g, '-')}"` }).optional();

export const CLUSTER_NAME_MAX = 40;
const BIGIP_PATH = /^\/[A-Za-z][0-9A-Za-z_.-]*(\/[A-Za-z0-9][0-9A-Za-z_.-]*)+$/;

const addressArray = (parse: (s: string) => AddressModel, what: string) =>
  z.array(z.string({ error: `expected ${what} strings` }), { error: `expected an array of ${what}s` }).transform((items, ctx) =>
    items.flatMap((item, i) => {
      try {
        return [parse(item)];
      } catch (e) {
        if (!(e instanceof InvalidValueError)) throw e;
        ctx.addIssue({ code: 'custom', path: [i], message: e.problem, params: { quotedValue: e.value } });
        return [];
      }
    }),
  );

const toModel = (e: { kind: AddressModel['kind']; text: string; family: 4 | 6 }): AddressModel => ({ kind: e.kind, text: e.text, family: e.family });

const deviceSchema = z.object({
  clusterName: z
    .string({ error: 'expected a string' })
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
    .refine((v) => v !== 'Shared', { error: '"Shared" is reserved by AS3' })
    .optional(),
  routeDomain: z
    .number({ error: 'expected a route-domain id' })
    .refine((v) => Number.isInteger(v) && v >= 0 && v <= 65534, { error: 'must be a whole number from 0 to 65534' })
    .optional(),
  defaultAction: z.enum(['DENY', 'REJECT', 'ALLOW'], { error: 'must be DefaultAction.DENY, REJECT or ALLOW' }).optional(),
  podCidrs: addressArray((s) => toModel(parseCidr(s)), 'CIDR').optional(),
  vlans: z
    .array(z.string().regex(BIGIP_PATH, { error: 'must be a BIG-IP path such as "/Common/internal"' }))
    .optional(),
  gateways: addressArray((s) => toModel(addressEntry(s)), 'address').optional(),
  snat: z.custom<EgressSnat>((v) => v instanceof EgressSnat, { error: 'expected EgressSnat.automap(), pool([...]) or none()' }).optional(),
  auditMode: z.boolean({ error: 'expected true or false' }).optional(),
  logging: loggingSchema.optional(),
  ipIntelligencePolicy: bigipPathField('an IP Intelligence policy'),
  protocolInspectionProfile: bigipPathField('a protocol inspection profile'),
  dnsResolver: bigipPathField('a DNS resolver'),
});

/** `prod-east` → `k8s_prod_east`: the default tenant of a cluster. */
export function defaultTenant(clusterName: string): string {
  return `k8s_${clusterName.replace(/-/g, '_')}`;
}

export function buildDevice(input: DeviceInput): DeviceModel {
  const p = parseOrThrow(deviceSchema, input, input.path);
  let snat: { mode: SnatModeName; addresses: AddressModel[] } = { mode: 'AUTOMAP', addresses: [] };
  if (p.snat) {
    try {
      snat = p.snat._toModel();
    } catch (e) {
      if (!(e instanceof InvalidValueError)) throw e;
      throw new EgressPolicyError([{ path: input.path, field: 'snat', value: e.value, message: e.problem }]);
    }
  }
  return {
    path: input.path,
    cluster: p.clusterName,
    tenant: p.tenant ?? defaultTenant(p.clusterName),
    application: p.application ?? 'egress',
    routeDomain: p.routeDomain ?? 0,
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
      localDatabase: p.logging?.localDatabase ?? !(p.logging?.syslogServers?.length),
      logIpErrors: p.logging?.logIpErrors ?? true,
      logTcpErrors: p.logging?.logTcpErrors ?? true,
      logTcpEvents: p.logging?.logTcpEvents ?? false,
      logDefaultAction: p.logging?.logDefaultAction ?? true,
      fields: p.logging?.fields ?? DEFAULT_LOG_FIELDS,
    },
    ipIntelligencePolicy: p.ipIntelligencePolicy,
    protocolInspectionProfile: p.protocolInspectionProfile,
    dnsResolver: p.dnsResolver,
  };
}
