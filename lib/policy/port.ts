import { InvalidValueError, quote } from './errors';
import type { PortModel } from './model';

/**
 * Every IP protocol name AFM accepts in a firewall rule (AS3 3.56 `Firewall_Rule.protocol`).
 * Lower case only: AFM rejects `TCP`.
 */
export const AFM_PROTOCOLS: ReadonlySet<string> = new Set([
  '3pc', 'a/n', 'ah', 'any', 'argus', 'aris', 'ax.25', 'bbn-rcc', 'bna', 'br-sat-mon', 'cbt', 'cftp', 'chaos',
  'compaq-peer', 'cphb', 'cpnx', 'crdup', 'crtp', 'dccp', 'dcn', 'ddp', 'ddx', 'dgp', 'dsr', 'egp', 'eigrp', 'emcon',
  'encap', 'esp', 'etherip', 'fc', 'fire', 'ggp', 'gmtp', 'gre', 'hip', 'hmp', 'hopopt', 'i-nlsp', 'iatp', 'icmp',
  'idpr', 'idpr-cmtp', 'idrp', 'ifmp', 'igmp', 'igp', 'il', 'ip', 'ipcomp', 'ipcv', 'ipip', 'iplt', 'ippc', 'ipv4',
  'ipv6', 'ipv6-auth', 'ipv6-crypt', 'ipv6-frag', 'ipv6-icmp', 'ipv6-nonxt', 'ipv6-opts', 'ipv6-route', 'ipx-in-ip',
  'irtp', 'isis', 'iso-ip', 'iso-tp4', 'kryptolan', 'l2tp', 'larp', 'leaf-1', 'leaf-2', 'manet', 'merit-inp',
  'mfe-nsp', 'micp', 'mobile', 'mobility-header', 'mpls-in-ip', 'mtp', 'mux', 'narp', 'netblt', 'nsfnet-igp', 'nvp',
  'ospf', 'pgm', 'pim', 'pipe', 'pnni', 'prm', 'ptp', 'pup', 'pvp', 'qnx', 'rdp', 'rohc', 'rsvp', 'rsvp-e2e-ignore',
  'rvd', 'sat-expak', 'sat-mon', 'scc-sp', 'scps', 'sctp', 'sdrp', 'secure-vmtp', 'shim6', 'skip', 'sm', 'smp', 'snp',
  'sprite-rpc', 'sps', 'srp', 'sscopmce', 'st', 'stp', 'sun-nd', 'swipe', 'tcf', 'tcp', 'tlsp', 'tp++', 'trunk-1',
  'trunk-2', 'ttp', 'udp', 'udplite', 'uti', 'vines', 'visa', 'vmtp', 'vrrp', 'wb-expak', 'wb-mon', 'wesp', 'wsn',
  'xnet', 'xns-idp', 'xtp',
]);

/** Protocols whose rules can match destination ports. */
export const PORTED_PROTOCOLS: ReadonlySet<string> = new Set(['tcp', 'udp', 'sctp', 'udplite', 'dccp']);

/**
 * Common IP protocols. Any other AFM protocol name can be used through `EgressPort.protocol()`.
 */
export enum EgressProtocol {
  /** TCP. */
  TCP = 'tcp',
  /** UDP. */
  UDP = 'udp',
  /** SCTP. */
  SCTP = 'sctp',
  /** ICMP (IPv4). */
  ICMP = 'icmp',
  /** ICMPv6; AFM calls it `ipv6-icmp`. */
  ICMPV6 = 'ipv6-icmp',
  /** Any IP protocol. */
  ANY = 'any',
}

/** Properties for {@link EgressPort.of}. */
export interface EgressPortProps {
  /**
   * Lower-case AFM protocol name, such as `tcp`, `udp`, `sctp`, `icmp` or `gre`.
   */
  readonly protocol: string;
  /**
   * First destination port (1–65535). Only for tcp, udp, sctp, udplite and dccp.
   * @default - every port
   */
  readonly fromPort?: number;
  /**
   * Last destination port, inclusive.
   * @default - same as `fromPort`
   */
  readonly toPort?: number;
}

/**
 * A protocol and destination port (or port range) that an egress rule matches.
 *
 * Values are checked when a rule receives them, so an error names the rule's construct path.
 */
export class EgressPort {
  /** TCP to one port. */
  public static tcp(port: number): EgressPort {
    return new EgressPort('tcp', port, port);
  }
  /** TCP to an inclusive port range. */
  public static tcpRange(fromPort: number, toPort: number): EgressPort {
    return new EgressPort('tcp', fromPort, toPort);
  }
  /** TCP to every port. */
  public static allTcp(): EgressPort {
    return new EgressPort('tcp');
  }
  /** UDP to one port. */
  public static udp(port: number): EgressPort {
    return new EgressPort('udp', port, port);
  }
  /** UDP to an inclusive port range. */
  public static udpRange(fromPort: number, toPort: number): EgressPort {
    return new EgressPort('udp', fromPort, toPort);
  }
  /** UDP to every port. */
  public static allUdp(): EgressPort {
    return new EgressPort('udp');
  }
  /** SCTP to one port. */
  public static sctp(port: number): EgressPort {
    return new EgressPort('sctp', port, port);
  }
  /** SCTP to an inclusive port range. */
  public static sctpRange(fromPort: number, toPort: number): EgressPort {
    return new EgressPort('sctp', fromPort, toPort);
  }
  /** ICMP (IPv4), every type. */
  public static icmp(): EgressPort {
    return new EgressPort('icmp');
  }
  /** ICMPv6, every type. */
  public static icmpv6(): EgressPort {
    return new EgressPort('ipv6-icmp');
  }
  /** Any protocol, any port. */
  public static allTraffic(): EgressPort {
    return new EgressPort('any');
  }
  /** Every packet of one AFM protocol, by its lower-case name (`gre`, `esp`, …). */
  public static protocol(name: string): EgressPort {
    return new EgressPort(name);
  }
  /** Escape hatch: any protocol with an optional port range. */
  public static of(props: EgressPortProps): EgressPort {
    return new EgressPort(props.protocol, props.fromPort, props.toPort ?? props.fromPort);
  }

  /** HTTPS, TCP 443. */
  public static readonly HTTPS = EgressPort.tcp(443);
  /** HTTP, TCP 80. */
  public static readonly HTTP = EgressPort.tcp(80);
  /** DNS over UDP 53. */
  public static readonly DNS_UDP = EgressPort.udp(53);
  /** DNS over TCP 53. */
  public static readonly DNS_TCP = EgressPort.tcp(53);
  /** NTP, UDP 123. */
  public static readonly NTP = EgressPort.udp(123);
  /** SSH and SFTP, TCP 22. */
  public static readonly SSH = EgressPort.tcp(22);
  /** SMTP, TCP 25. */
  public static readonly SMTP = EgressPort.tcp(25);
  /** SMTP submission, TCP 587. */
  public static readonly SMTP_SUBMISSION = EgressPort.tcp(587);
  /** LDAPS, TCP 636. */
  public static readonly LDAPS = EgressPort.tcp(636);
  /** PostgreSQL, TCP 5432. */
  public static readonly POSTGRES = EgressPort.tcp(5432);
  /** MySQL, TCP 3306. */
  public static readonly MYSQL = EgressPort.tcp(3306);

  /** Lower-case AFM protocol name. */
  public readonly protocolName: string;
  /** First port, if the rule is limited to ports. */
  public readonly fromPort?: number;
  /** Last port, inclusive. */
  public readonly toPort?: number;

  private constructor(protocolName: string, fromPort?: number, toPort?: number) {
    this.protocolName = protocolName;
    this.fromPort = fromPort;
    this.toPort = toPort;
  }

  /** `tcp/443`, `udp/8000-8100`, `icmp`. */
  public toString(): string {
    if (this.fromPort === undefined) return this.protocolName;
    return this.fromPort === this.toPort
      ? `${this.protocolName}/${this.fromPort}`
      : `${this.protocolName}/${this.fromPort}-${this.toPort}`;
  }

  /**
   * Validates and converts to the policy model.
   * @internal
   */
  public _toModel(): PortModel {
    return portModel(this.protocolName, this.fromPort, this.toPort);
  }
}

/** Validates one protocol/port-range; throws {@link InvalidValueError}. */
export function portModel(protocol: string, fromPort: number | undefined, toPort: number | undefined): PortModel {
  const shown = quote(fromPort === undefined ? protocol : `${protocol}/${fromPort}${toPort !== fromPort ? `-${toPort}` : ''}`);
  if (typeof protocol !== 'string' || !AFM_PROTOCOLS.has(protocol)) {
    const lower = typeof protocol === 'string' ? protocol.toLowerCase() : '';
    const hint = AFM_PROTOCOLS.has(lower)
      ? `AFM protocol names are lower case; write "${lower}"`
      : 'use a lower-case AFM protocol name such as "tcp", "udp", "sctp", "icmp", "ipv6-icmp", "gre" or "any"';
    throw new InvalidValueError(shown, `unknown protocol ${quote(protocol)}: ${hint}`);
  }
  if (fromPort === undefined && toPort === undefined) return { protocol };
  if (!PORTED_PROTOCOLS.has(protocol)) {
    throw new InvalidValueError(
      shown,
      `protocol "${protocol}" has no ports; leave the port out or use one of ${[...PORTED_PROTOCOLS].join(', ')}`,
    );
  }
  for (const p of [fromPort, toPort]) {
    if (p === undefined || !Number.isInteger(p) || p < 1 || p > 65535) {
      throw new InvalidValueError(shown, `port ${quote(p)} is out of range: use a whole number from 1 to 65535`);
    }
  }
  if ((fromPort as number) > (toPort as number)) {
    throw new InvalidValueError(shown, `the port range is reversed; write ${protocol}/${toPort}-${fromPort}`);
  }
  return { protocol, fromPort, toPort };
}
