import { InvalidValueError, quote } from './errors';
import type { PortModel } from './model';
import { UnknownKeyHints, describe, readStruct, unknownKeyMessage } from './struct';

/**
 * Every IP protocol name AFM accepts in a firewall rule (AS3 3.56 `Firewall_Rule.protocol`).
 * Lower case only: AFM rejects `TCP`.
 */
export const AFM_PROTOCOLS: ReadonlySet<string> = new Set([
  '3pc',
  'a/n',
  'ah',
  'any',
  'argus',
  'aris',
  'ax.25',
  'bbn-rcc',
  'bna',
  'br-sat-mon',
  'cbt',
  'cftp',
  'chaos',
  'compaq-peer',
  'cphb',
  'cpnx',
  'crdup',
  'crtp',
  'dccp',
  'dcn',
  'ddp',
  'ddx',
  'dgp',
  'dsr',
  'egp',
  'eigrp',
  'emcon',
  'encap',
  'esp',
  'etherip',
  'fc',
  'fire',
  'ggp',
  'gmtp',
  'gre',
  'hip',
  'hmp',
  'hopopt',
  'i-nlsp',
  'iatp',
  'icmp',
  'idpr',
  'idpr-cmtp',
  'idrp',
  'ifmp',
  'igmp',
  'igp',
  'il',
  'ip',
  'ipcomp',
  'ipcv',
  'ipip',
  'iplt',
  'ippc',
  'ipv4',
  'ipv6',
  'ipv6-auth',
  'ipv6-crypt',
  'ipv6-frag',
  'ipv6-icmp',
  'ipv6-nonxt',
  'ipv6-opts',
  'ipv6-route',
  'ipx-in-ip',
  'irtp',
  'isis',
  'iso-ip',
  'iso-tp4',
  'kryptolan',
  'l2tp',
  'larp',
  'leaf-1',
  'leaf-2',
  'manet',
  'merit-inp',
  'mfe-nsp',
  'micp',
  'mobile',
  'mobility-header',
  'mpls-in-ip',
  'mtp',
  'mux',
  'narp',
  'netblt',
  'nsfnet-igp',
  'nvp',
  'ospf',
  'pgm',
  'pim',
  'pipe',
  'pnni',
  'prm',
  'ptp',
  'pup',
  'pvp',
  'qnx',
  'rdp',
  'rohc',
  'rsvp',
  'rsvp-e2e-ignore',
  'rvd',
  'sat-expak',
  'sat-mon',
  'scc-sp',
  'scps',
  'sctp',
  'sdrp',
  'secure-vmtp',
  'shim6',
  'skip',
  'sm',
  'smp',
  'snp',
  'sprite-rpc',
  'sps',
  'srp',
  'sscopmce',
  'st',
  'stp',
  'sun-nd',
  'swipe',
  'tcf',
  'tcp',
  'tlsp',
  'tp++',
  'trunk-1',
  'trunk-2',
  'ttp',
  'udp',
  'udplite',
  'uti',
  'vines',
  'visa',
  'vmtp',
  'vrrp',
  'wb-expak',
  'wb-mon',
  'wesp',
  'wsn',
  'xnet',
  'xns-idp',
  'xtp',
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

Object.freeze(EgressProtocol);

/** Properties for {@link EgressPort.of}. */
export interface EgressPortProps {
  /**
   * Lower-case AFM protocol name, such as `tcp`, `udp`, `sctp`, `icmp` or `gre`.
   */
  readonly protocol: string;
  /**
   * First destination port (1–65535). Required for tcp, udp, sctp, udplite and dccp: for
   * every port of one of them say so with `EgressPort.protocol()`. Not allowed for other
   * protocols.
   * @default - none: only for protocols without ports
   */
  readonly fromPort?: number;
  /**
   * Last destination port, inclusive.
   * @default - same as `fromPort`
   */
  readonly toPort?: number;
}

const PORT_PROPS_KEYS = ['protocol', 'fromPort', 'toPort'];
const PORT_PROPS_HINTS: UnknownKeyHints = { what: 'EgressPortProps', misplaced: { port: 'write fromPort (and toPort for a range)' } };

/**
 * What a factory was given, kept as given: it is checked when a rule receives the port, so
 * that the error names the rule.
 */
interface PortArguments {
  /** How the port was made, for messages: `EgressPort.tcp(undefined)`. */
  readonly call: string;
  /**
   * `numbered`: a factory that takes port numbers, so leaving them out never means every port;
   * `every`: a factory that says every port; `props`: `EgressPort.of()`.
   */
  readonly kind: 'numbered' | 'every' | 'props';
  readonly protocol: unknown;
  readonly fromPort: unknown;
  readonly toPort: unknown;
  /** A problem found reading the arguments (a props object that is not one). */
  readonly problem?: string;
}

function argumentText(v: unknown): string {
  return v === undefined ? 'undefined' : describe(v);
}

/**
 * What each port was made from, kept outside the object: only the factories make a port
 * (`Object.create(EgressPort.prototype)` has no entry), and nothing reachable from a port can
 * change what it says after a rule has read it.
 */
const ARGUMENTS = new WeakMap<object, PortArguments>();

/** Whether `x` is a port made by a factory of this class. */
export function isEgressPort(x: unknown): x is EgressPort {
  return typeof x === 'object' && x !== null && ARGUMENTS.has(x);
}

/**
 * A protocol and destination port (or port range) that an egress rule matches.
 *
 * Values are checked when a rule receives them, so an error names the rule's construct path.
 * A factory that takes a port number never means every port when the number is missing: every
 * port is said explicitly, with `allTcp()`, `allUdp()`, `allTraffic()` or `protocol()`.
 * Ports are immutable, so the shared constants such as `EgressPort.HTTPS` cannot be changed.
 */
export class EgressPort {
  /** TCP to one port. */
  public static tcp(port: number): EgressPort {
    return EgressPort.numbered('tcp', 'tcp', [port]);
  }
  /** TCP to an inclusive port range. */
  public static tcpRange(fromPort: number, toPort: number): EgressPort {
    return EgressPort.numbered('tcpRange', 'tcp', [fromPort, toPort]);
  }
  /** TCP to every port. */
  public static allTcp(): EgressPort {
    return EgressPort.every('allTcp()', 'tcp');
  }
  /** UDP to one port. */
  public static udp(port: number): EgressPort {
    return EgressPort.numbered('udp', 'udp', [port]);
  }
  /** UDP to an inclusive port range. */
  public static udpRange(fromPort: number, toPort: number): EgressPort {
    return EgressPort.numbered('udpRange', 'udp', [fromPort, toPort]);
  }
  /** UDP to every port. */
  public static allUdp(): EgressPort {
    return EgressPort.every('allUdp()', 'udp');
  }
  /** SCTP to one port. */
  public static sctp(port: number): EgressPort {
    return EgressPort.numbered('sctp', 'sctp', [port]);
  }
  /** SCTP to an inclusive port range. */
  public static sctpRange(fromPort: number, toPort: number): EgressPort {
    return EgressPort.numbered('sctpRange', 'sctp', [fromPort, toPort]);
  }
  /** ICMP (IPv4), every type. */
  public static icmp(): EgressPort {
    return EgressPort.every('icmp()', 'icmp');
  }
  /** ICMPv6, every type. */
  public static icmpv6(): EgressPort {
    return EgressPort.every('icmpv6()', 'ipv6-icmp');
  }
  /** Any protocol, any port. */
  public static allTraffic(): EgressPort {
    return EgressPort.every('allTraffic()', 'any');
  }
  /** Every packet of one AFM protocol, by its lower-case name (`gre`, `esp`, …; `tcp` means every TCP port). */
  public static protocol(name: string): EgressPort {
    return EgressPort.every(`protocol(${argumentText(name)})`, name);
  }
  /**
   * Escape hatch: any protocol with a port range. `fromPort` is required for the protocols
   * that have ports.
   */
  public static of(props: EgressPortProps): EgressPort {
    const call = `EgressPort.of(${argumentText(props)})`;
    const read = readStruct(props, 'an EgressPortProps object ({ protocol, fromPort?, toPort? })');
    if (!read.data) {
      const problem =
        props === undefined
          ? 'EgressPort.of() needs an EgressPortProps object: pass one, such as EgressPort.of({ protocol: "udplite", fromPort: 5000 })'
          : read.problems.map((p) => (p.key === undefined ? p.message : `${String(p.key)}: ${p.message}`)).join('; ');
      return new EgressPort({ call, kind: 'props', protocol: undefined, fromPort: undefined, toPort: undefined, problem });
    }
    const { protocol, fromPort, toPort } = read.data;
    const unknown = Object.keys(read.data).filter((k) => !PORT_PROPS_KEYS.includes(k));
    const problem = unknown.length
      ? unknown.map((k) => `${k}: ${unknownKeyMessage(k, PORT_PROPS_KEYS, PORT_PROPS_HINTS)}`).join('; ')
      : undefined;
    return new EgressPort({ call, kind: 'props', protocol, fromPort, toPort: toPort === undefined ? fromPort : toPort, problem });
  }

  private static numbered(factory: string, protocol: string, ports: readonly unknown[]): EgressPort {
    return new EgressPort({
      call: `EgressPort.${factory}(${ports.map(argumentText).join(', ')})`,
      kind: 'numbered',
      protocol,
      fromPort: ports[0],
      toPort: ports.length > 1 ? ports[1] : ports[0],
    });
  }

  private static every(factory: string, protocol: unknown): EgressPort {
    return new EgressPort({ call: `EgressPort.${factory}`, kind: 'every', protocol, fromPort: undefined, toPort: undefined });
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

  /** Lower-case AFM protocol name, as given. */
  public readonly protocolName: string;
  /** First port, as given, if the factory took one. */
  public readonly fromPort?: number;
  /** Last port, inclusive, as given. */
  public readonly toPort?: number;

  private constructor(args: PortArguments) {
    ARGUMENTS.set(this, Object.freeze(args));
    this.protocolName = args.protocol as string;
    this.fromPort = args.fromPort as number | undefined;
    this.toPort = args.toPort as number | undefined;
    Object.freeze(this);
  }

  /** `tcp/443`, `udp/8000-8100`, `icmp`; for a port that is not valid, the call that made it. */
  public toString(): string {
    const args = ARGUMENTS.get(this);
    if (!args) return 'an EgressPort not made by its static factories';
    try {
      return portText(portModel(args));
    } catch (e) {
      if (e instanceof InvalidValueError) return args.call;
      throw e;
    }
  }

  /**
   * Validates and converts to the policy model.
   * @internal
   */
  public _toModel(): PortModel {
    const args = ARGUMENTS.get(this);
    if (!args) throw new InvalidValueError(quote(this.toString()), 'make ports with the static factories, such as EgressPort.tcp(443)');
    return portModel(args);
  }
}
Object.freeze(EgressPort);
Object.freeze(EgressPort.prototype);

function portText(p: PortModel): string {
  if (p.fromPort === undefined) return p.protocol;
  return p.fromPort === p.toPort ? `${p.protocol}/${p.fromPort}` : `${p.protocol}/${p.fromPort}-${p.toPort}`;
}

/** How to say every port of a protocol explicitly. */
function everyPortFactory(protocol: string): string {
  if (protocol === 'tcp') return 'EgressPort.allTcp()';
  if (protocol === 'udp') return 'EgressPort.allUdp()';
  return `EgressPort.protocol("${protocol}")`;
}

/** Validates one protocol/port-range as a factory received it; throws {@link InvalidValueError}. */
function portModel(args: PortArguments): PortModel {
  const { call, kind, protocol, fromPort, toPort } = args;
  const asCalled = quote(call);
  if (args.problem) throw new InvalidValueError(asCalled, args.problem);
  if (typeof protocol !== 'string' || !AFM_PROTOCOLS.has(protocol)) {
    const lower = typeof protocol === 'string' ? protocol.toLowerCase() : '';
    const hint = AFM_PROTOCOLS.has(lower)
      ? `AFM protocol names are lower case; write "${lower}"`
      : 'use a lower-case AFM protocol name such as "tcp", "udp", "sctp", "icmp", "ipv6-icmp", "gre" or "any"';
    const what =
      typeof protocol === 'string' ? `unknown protocol ${quote(protocol)}` : `the protocol must be a string, not ${describe(protocol)}`;
    throw new InvalidValueError(asCalled, `${what}: ${hint}`);
  }
  if (fromPort === undefined && toPort === undefined) {
    if (kind === 'numbered') {
      throw new InvalidValueError(
        asCalled,
        `the port number is missing, and a missing port never means every port: give the port (the first and last port of a range), or for every ${protocol} port write ${everyPortFactory(protocol)}`,
      );
    }
    if (kind === 'props' && PORTED_PROTOCOLS.has(protocol)) {
      throw new InvalidValueError(
        asCalled,
        `fromPort is missing, and a missing port never means every port: give fromPort (and toPort for a range), or for every ${protocol} port write ${everyPortFactory(protocol)}`,
      );
    }
    return { protocol };
  }
  if (!PORTED_PROTOCOLS.has(protocol)) {
    throw new InvalidValueError(
      asCalled,
      `protocol "${protocol}" has no ports; leave the port out or use one of ${[...PORTED_PROTOCOLS].join(', ')}`,
    );
  }
  if (fromPort === undefined) {
    throw new InvalidValueError(asCalled, 'toPort is given without fromPort: give fromPort too (the same number for one port)');
  }
  for (const p of [fromPort, toPort]) {
    // Only the range factories (tcpRange, udpRange, sctpRange) take a second number.
    if (p === undefined) {
      throw new InvalidValueError(
        asCalled,
        `a port range needs two port numbers, the first and the last port: give both, or for the one port ${describe(fromPort)} write EgressPort.${protocol}(${describe(fromPort)})`,
      );
    }
    if (typeof p !== 'number') {
      const fix =
        typeof p === 'string' && /^\d+$/.test(p) ? `pass the number ${Number(p)}, not a string` : 'use a whole number from 1 to 65535';
      throw new InvalidValueError(asCalled, `port ${describe(p)} is not a number: ${fix}`);
    }
  }
  const [first, last] = [fromPort as number, toPort as number];
  const shown = quote(Object.is(first, last) ? `${protocol}/${first}` : `${protocol}/${first}-${last}`);
  for (const p of [first, last]) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) {
      throw new InvalidValueError(shown, `port ${describe(p)} is out of range: use a whole number from 1 to 65535`);
    }
  }
  if (first > last) {
    throw new InvalidValueError(shown, `the port range is reversed; write ${protocol}/${last}-${first}`);
  }
  return { protocol, fromPort: first, toPort: last };
}
