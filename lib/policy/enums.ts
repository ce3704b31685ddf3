// Enum objects are frozen: they are shared by every user of the library, and a changed
// member (EgressAction.ALLOW = 'DENY') would change every rule that uses it.

/**
 * What a rule does with matching traffic. See the README's policy semantics.
 */
export enum EgressAction {
  /** Silently drop (AFM `drop`). Final. */
  DENY = 'DENY',
  /** Refuse with a TCP reset or ICMP unreachable (AFM `reject`). Final. */
  REJECT = 'REJECT',
  /** Allow unless a lower level denies (AFM `accept`). */
  ALLOW = 'ALLOW',
  /** Allow and skip every lower level (AFM `accept-decisively`). Final. */
  ALLOW_FINAL = 'ALLOW_FINAL',
}
Object.freeze(EgressAction);

/** What happens to traffic that no rule allows. */
export enum DefaultAction {
  /** Drop it (AFM `drop`). */
  DENY = 'DENY',
  /** Refuse it with a reset or ICMP unreachable (AFM `reject`). */
  REJECT = 'REJECT',
  /** Let it through (AFM `accept`). Only for migrations: egress is then open by default. */
  ALLOW = 'ALLOW',
}
Object.freeze(DefaultAction);

/** Label-selector operators, as in Kubernetes. */
export enum LabelSelectorOperator {
  /** The label's value is one of `values`. */
  IN = 'In',
  /** The label is absent or its value is none of `values`. */
  NOT_IN = 'NotIn',
  /** The label is present. */
  EXISTS = 'Exists',
  /** The label is absent. */
  DOES_NOT_EXIST = 'DoesNotExist',
}
Object.freeze(LabelSelectorOperator);

/** One label-selector requirement. */
export interface LabelSelectorRequirement {
  /** Label key. */
  readonly key: string;
  /** How the key relates to the values. */
  readonly operator: LabelSelectorOperator;
  /**
   * Values for `IN` and `NOT_IN`; must be empty for `EXISTS` and `DOES_NOT_EXIST`.
   * @default []
   */
  readonly values?: string[];
}

/** A Kubernetes label selector. An empty selector selects everything. */
export interface LabelSelector {
  /**
   * Labels that must all be present with these values.
   * @default {}
   */
  readonly matchLabels?: { [key: string]: string };
  /**
   * Further requirements, all of which must hold.
   * @default []
   */
  readonly matchExpressions?: LabelSelectorRequirement[];
}

/** Day of the week, for rule time windows. */
export enum Weekday {
  MONDAY = 'monday',
  TUESDAY = 'tuesday',
  WEDNESDAY = 'wednesday',
  THURSDAY = 'thursday',
  FRIDAY = 'friday',
  SATURDAY = 'saturday',
  SUNDAY = 'sunday',
}
Object.freeze(Weekday);

/** Unit of a bandwidth limit. */
export enum BandwidthUnit {
  BPS = 'bps',
  KBPS = 'Kbps',
  MBPS = 'Mbps',
  GBPS = 'Gbps',
}
Object.freeze(BandwidthUnit);

/** A recurring time window during which a rule applies. */
export interface EgressSchedule {
  /**
   * Days on which the window opens.
   * @default - every day
   */
  readonly daysOfWeek?: Weekday[];
  /** Start, `HH:MM` (24-hour clock), inclusive. */
  readonly startTime: string;
  /** End, `HH:MM`, exclusive; `24:00` for the end of the day. Must be after `startTime`. */
  readonly endTime: string;
  /**
   * IANA time zone of the times, such as `Europe/Berlin`.
   * @default "UTC"
   */
  readonly timeZone?: string;
}

/** A bandwidth cap for the traffic a rule allows. */
export interface EgressBandwidthLimit {
  /** Maximum rate: a whole number, from 1 Mbps to 320 Gbps (the range of a BIG-IP bandwidth policy). */
  readonly maxBandwidth: number;
  /**
   * Unit of `maxBandwidth`.
   * @default BandwidthUnit.MBPS
   */
  readonly unit?: BandwidthUnit;
}

/** Transport to remote syslog servers. */
export enum SyslogTransport {
  /** TCP: no silent loss while the servers are up. */
  TCP = 'tcp',
  /** UDP. */
  UDP = 'udp',
}
Object.freeze(SyslogTransport);

/** Where the device logs AFM firewall events, and which. */
export interface EgressLoggingOptions {
  /**
   * Remote syslog servers as `address:port` (`[v6-address]:port` for IPv6), reached through
   * BIG-IP high-speed logging and formatted as RFC 5424.
   * @default - none
   */
  readonly syslogServers?: string[];
  /**
   * Transport to the syslog servers.
   * @default SyslogTransport.TCP
   */
  readonly syslogTransport?: SyslogTransport;
  /**
   * Also keep events in the BIG-IP's local database (`/Common/local-db`).
   * @default - true when no syslog servers are given, false otherwise
   */
  readonly localDatabase?: boolean;
  /**
   * Log IP errors (malformed packets).
   * @default true
   */
  readonly logIpErrors?: boolean;
  /**
   * Log TCP errors.
   * @default true
   */
  readonly logTcpErrors?: boolean;
  /**
   * Log TCP session open and close.
   * @default false
   */
  readonly logTcpEvents?: boolean;
  /**
   * Log flows refused (or, with DefaultAction.ALLOW, let through) by the device default.
   * @default true
   */
  readonly logDefaultAction?: boolean;
  /**
   * Fields of each log line, from AS3's storage-format list (`date-time`, `action`,
   * `acl-rule-name`, `src-ip`, `dest-ip`, `dest-port`, `route-domain`, …).
   * @default - date-time, action, context-type, context-name, acl-policy-name, acl-rule-name, src-ip, src-port, dest-ip, dest-port, protocol, route-domain
   */
  readonly fields?: string[];
}
