/**
 * The normalized policy model: plain data, no constructs, no cdktf.
 *
 * Constructs turn their props into these shapes (after validation); the compiler orders and
 * names them; the AS3 renderer, the CR renderer, the controller's sync plan, the evaluators
 * and the tools all read the result. Everything here is JSON-serializable.
 */

export type Level = 'cluster' | 'namespace' | 'service';
export const LEVELS: readonly Level[] = Object.freeze(['cluster', 'namespace', 'service']);

export type ActionName = 'DENY' | 'REJECT' | 'ALLOW' | 'ALLOW_FINAL';
export type AfmAction = 'drop' | 'reject' | 'accept' | 'accept-decisively';

export const AFM_ACTION: Readonly<Record<ActionName, AfmAction>> = Object.freeze({
  DENY: 'drop',
  REJECT: 'reject',
  ALLOW: 'accept',
  ALLOW_FINAL: 'accept-decisively',
});

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface SelectorRequirementModel {
  readonly key: string;
  readonly operator: SelectorOperator;
  readonly values: readonly string[];
}

/** A Kubernetes label selector; an empty one selects everything. */
export interface SelectorModel {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: readonly SelectorRequirementModel[];
}

/** Which pods a rule's traffic comes from. */
export interface SourceModel {
  readonly level: Level;
  /** Namespace of a namespace or service rule. */
  readonly namespace?: string;
  /** Service whose selector picks the pods (service rules). */
  readonly service?: string;
  /** Cluster rules: narrows to namespaces with these labels. */
  readonly namespaceSelector?: SelectorModel;
  /** Cluster and namespace rules: narrows to pods with these labels. */
  readonly podSelector?: SelectorModel;
}

export interface AddressModel {
  readonly kind: 'address' | 'cidr' | 'range';
  /** Canonical text without route domain: `10.0.0.1`, `10.0.0.0/8`, `10.0.0.1-10.0.0.9`. */
  readonly text: string;
  readonly family: 4 | 6;
}

export interface FqdnModel {
  readonly kind: 'fqdn';
  readonly text: string;
  readonly wildcard: boolean;
}

export interface ExternalServiceRefModel {
  readonly kind: 'externalService';
  readonly name: string;
}

export type DestinationModel = AddressModel | FqdnModel | ExternalServiceRefModel;

/** One protocol with an optional inclusive port range (no range = every port). */
export interface PortModel {
  readonly protocol: string;
  readonly fromPort?: number;
  readonly toPort?: number;
}

export type Weekday = 'monday' | 'tuesday' | 'wednesday' | 'thursday' | 'friday' | 'saturday' | 'sunday';
export const WEEKDAYS: readonly Weekday[] = Object.freeze(['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday']);

/** A recurring window in a time zone; the rule applies only inside it. */
export interface ScheduleModel {
  readonly daysOfWeek: readonly Weekday[];
  /** `HH:MM`, inclusive. */
  readonly startTime: string;
  /** `HH:MM`, exclusive; `24:00` means end of day. */
  readonly endTime: string;
  /** IANA time zone name. */
  readonly timeZone: string;
}

export type BandwidthUnit = 'bps' | 'Kbps' | 'Mbps' | 'Gbps';

export interface BandwidthModel {
  readonly maxBandwidth: number;
  readonly unit: BandwidthUnit;
}

/** Where an allowing rule sends its traffic instead of the device's gateways (see `redirect.ts`). */
export interface RedirectModel {
  /** DNS label; names the redirect's gateway pool. */
  readonly name: string;
  /** Next hops (IPv4 addresses), canonical, in the order given. */
  readonly gateways: readonly AddressModel[];
}

/** A rule's user iRule, as the device will hold it (see irule.ts). */
export interface IRuleModel {
  /** The code, with CRLF line ends turned into LF and the blanks around the whole text removed. */
  readonly code: string;
  /** Where it came from: `file <path>` or `string`. */
  readonly source: string;
  /** SHA-256 of `code`, hex. */
  readonly sha256: string;
}

export interface RuleMetadataModel {
  readonly owner?: string;
  readonly ticket?: string;
  readonly justification?: string;
}

export interface RuleModel {
  readonly level: Level;
  /** Rule name: unique per level (per namespace for namespace and service rules). */
  readonly name: string;
  readonly namespace?: string;
  /** Construct path, used in messages. */
  readonly path: string;
  readonly action: ActionName;
  readonly priority: number;
  readonly source: SourceModel;
  readonly destinations: readonly DestinationModel[];
  /** Empty = any protocol, any port. */
  readonly ports: readonly PortModel[];
  readonly logging: boolean;
  /** Audit mode: rendered into the staged policy only; never changes a verdict. */
  readonly audit: boolean;
  readonly description?: string;
  readonly bandwidth?: BandwidthModel;
  /** User iRule code run when the rule matches (AFM FLOW_INIT). */
  readonly onMatch?: IRuleModel;
  readonly schedule?: ScheduleModel;
  /** ISO-8601 instant after which the rule no longer applies. */
  readonly expiresAt?: string;
  readonly metadata: RuleMetadataModel;
  /** Source translation of the traffic the rule allows (an AFM NAT rule); absent = the device's. */
  readonly snat?: RuleSnatModel;
  /** ALLOW and ALLOW_FINAL rules: the next hops of the traffic the rule matches. */
  readonly redirect?: RedirectModel;
}

/** A rule's own translation addresses (`EgressSnat.pool`), rendered as an AFM NAT source translation. */
export interface RuleSnatModel {
  readonly addresses: readonly AddressModel[];
}

export interface ExternalServiceModel {
  readonly name: string;
  readonly path: string;
  readonly destinations: readonly (AddressModel | FqdnModel)[];
  readonly description?: string;
}

export type DefaultActionName = 'DENY' | 'REJECT' | 'ALLOW';
export type SnatModeName = 'AUTOMAP' | 'POOL' | 'NONE';

/** Where and what the device logs (AFM network firewall events). */
export interface LoggingModel {
  /** Remote syslog servers (RFC 5424 over high-speed logging). */
  readonly servers: readonly { readonly address: string; readonly port: number }[];
  readonly transport: 'tcp' | 'udp';
  /** Also store events in the BIG-IP local database (`/Common/local-db`). */
  readonly localDatabase: boolean;
  readonly logIpErrors: boolean;
  readonly logTcpErrors: boolean;
  readonly logTcpEvents: boolean;
  /** Log flows refused by the device default (the virtual server's final rule). */
  readonly logDefaultAction: boolean;
  /** Fields of each log line, from AS3's storage-format field list. */
  readonly fields: readonly string[];
}

export interface DeviceModel {
  readonly path: string;
  /** Cluster name: used in object remarks and the sync plan. */
  readonly cluster: string;
  /** AS3 tenant (BIG-IP partition) owned by this device's declaration. */
  readonly tenant: string;
  /** Application (folder) inside the tenant. */
  readonly application: string;
  /** Route-domain id: addresses are rendered `addr%id`. */
  readonly routeDomain: number;
  /**
   * BIG-IP path of the route domain (tmsh and AS3 name route domains by path); absent when it is
   * named after its id (`/Common/<id>`).
   */
  readonly routeDomainPath?: string;
  readonly defaultAction: DefaultActionName;
  /** Pod CIDRs the egress virtual server accepts traffic from; empty = any source. */
  readonly podCidrs: readonly AddressModel[];
  /** VLANs the egress virtual server listens on (BIG-IP paths); empty = all. */
  readonly vlans: readonly string[];
  /** Next-hop gateways; when empty the virtual server forwards by the routing table. */
  readonly gateways: readonly AddressModel[];
  readonly snat: SnatModeName;
  readonly snatAddresses: readonly AddressModel[];
  /**
   * Device audit mode: nothing is enforced (the enforced default becomes accept) and every rule
   * and the configured default are staged, so the logs show what the policy would do.
   */
  readonly audit: boolean;
  readonly logging: LoggingModel;
  /** BIG-IP path of an IP Intelligence policy for the egress virtual server. */
  readonly ipIntelligencePolicy?: string;
  /** BIG-IP path of a Protocol Inspection profile for the egress virtual server. */
  readonly protocolInspectionProfile?: string;
  /** BIG-IP path of the DNS resolver AFM uses to resolve FQDN destinations. */
  readonly dnsResolver?: string;
  /**
   * Namespaces whose pods reach the BIG-IP in route domains of their own (see
   * `route-domains.ts`); absent when none is mapped.
   */
  readonly namespaceRouteDomains?: readonly NamespaceRouteDomainModel[];
}

/** A namespace with its own network: its pods' egress arrives in its own route domain, on its own VLANs. */
export interface NamespaceRouteDomainModel {
  readonly namespace: string;
  /** Route-domain id: the namespace's addresses are rendered `addr%id`. */
  readonly routeDomain: number;
  /** BIG-IP path of the route domain; absent when it is `/Common/<id>`. */
  readonly routeDomainPath?: string;
  /** VLANs (BIG-IP paths) the namespace's egress arrives on: its virtual server listens on these only. */
  readonly vlans: readonly string[];
  /** The namespace's pod CIDRs (in its route domain; they may overlap other namespaces'). */
  readonly podCidrs: readonly AddressModel[];
}

export interface PolicyModel {
  readonly device: DeviceModel;
  readonly externalServices: readonly ExternalServiceModel[];
  readonly rules: readonly RuleModel[];
}

/** `cluster/<name>` or `<level>/<namespace>/<name>`: unique key of a rule. */
export function ruleKey(rule: Pick<RuleModel, 'level' | 'namespace' | 'name'>): string {
  return rule.level === 'cluster' ? `cluster/${rule.name}` : `${rule.level}/${rule.namespace}/${rule.name}`;
}

export function isEmptySelector(s: SelectorModel | undefined): boolean {
  return !s || (Object.keys(s.matchLabels).length === 0 && s.matchExpressions.length === 0);
}
