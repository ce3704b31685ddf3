/**
 * An evaluator of BIG-IP AFM network-firewall semantics over a rendered AS3 request.
 *
 * It reads only what the device would hold: the AS3 declaration (`bigip_as3`'s JSON), the
 * tmsh commands that attach what AS3 cannot (`bigip_command`), the members of the event-driven
 * address lists (pushed by the controller) and the addresses the device resolved for FQDN
 * entries. It knows nothing of the policy model, so the differential tests can hold it against
 * the intent evaluator.
 *
 * Modelled AFM behaviour (F5 "Network Firewall: Policies and Implementations"):
 * - Contexts run in order global → route domain → virtual server. In each, the enforced
 *   policy's rules are tried in order (rule-list references expand in place) and the first
 *   match decides for that context: `accept` passes the packet to the next context,
 *   `accept-decisively` skips every later context, `drop` and `reject` end it.
 * - A packet that no virtual server listens for is dropped (BIG-IP is default-deny), even
 *   after an `accept-decisively`: nothing forwards it.
 * - A virtual server's policy that matches nothing falls to the virtual-server default, which
 *   is accept on a BIG-IP in ADC mode (configurable here).
 * - Staged policies are evaluated the same way, context by context, with each context's
 *   staged policy in place of its enforced one where one is attached; the result is the
 *   "would-be" verdict and never changes the real one.
 * - An address list may hold other address lists ("An address list is simply a collection of
 *   addresses ... and other (nested) address lists", F5 "Network Firewall: Policies and
 *   Implementations" 12.1, Firewall address lists): it matches every entry of every list it
 *   holds, at any depth, event-driven members included; a cycle is refused (the evaluator
 *   gives it no meaning). No depth limit is documented.
 * - Addresses carry route domains (`10.0.0.1%2`, `10.0.0.0%2/24`, `a%2-b%2`); an address
 *   without one is in the default route domain of its partition (`/Common`: 0; a tenant:
 *   its `defaultRouteDomain`). FQDN entries match a flow's host name (exactly, or `*.` for one
 *   label) or an address the device resolved for the name.
 *
 * - A `bigip` reference names an object on the device: one that a loaded declaration creates
 *   (a tenant pointing into the /Common/Shared of another declaration) is that object.
 * - tmsh names route domains by path, addresses by id: a route domain is `/Common/<id>` unless
 *   `routeDomainIds` says otherwise. `list` commands read and `save sys config` persists; neither
 *   changes what is enforced.
 *
 * Not modelled (and refused loudly if a declaration uses them): VLAN, geo and source-port
 * criteria, rule schedules, address lists discovered other than by events, `bigip` references
 * to objects outside the declarations, and virtual servers other than Service_L4 and
 * Service_Forwarding. VLANs a virtual listens on (`allowVlans`) are assumed to be the ones the
 * flow arrives on. A packet no virtual server takes is reported as dropped; a BIG-IP with the
 * db key `tm.rejectunmatched` on (its default) answers it with a reset or ICMP unreachable.
 */
import { AddressEntry, addressEntry, parseCidr, parseRange, tryParseIp } from '../policy/ip';
import type { ActionName, Level, PolicyModel } from '../policy/model';
import { afmRuleName } from '../policy/object-names';
import type { NextHop } from '../policy/redirect';
import { TrafficMatching, matchingScore, nextHopOf, prepareMatching } from './redirect-evaluator';
import { iRuleLabel } from '../policy/irule';

/** A problem with the inputs of the evaluator: the declaration, the commands, the list state or a flow. */
export class AfmModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AfmModelError';
  }
}

export type AfmVerdict = 'allow' | 'deny' | 'reject';
export type AfmRuleAction = 'accept' | 'accept-decisively' | 'drop' | 'reject';
export type AfmContext = 'global' | 'route-domain' | 'virtual-server';

/** One packet (the first of a flow) as the BIG-IP sees it. */
export interface AfmFlow {
  readonly sourceIp: string;
  /** Route domain the packet arrives in. */
  readonly routeDomain: number;
  /** Destination address; without one, only FQDN entries can match the destination. */
  readonly destinationIp?: string;
  /** Host name the flow is for (lower case). */
  readonly host?: string;
  /** Lower-case IP protocol name (`tcp`, `udp`, `icmp`, …). */
  readonly protocol: string;
  readonly port?: number;
}

export interface AfmFirewallOptions {
  /**
   * What a virtual server does with a packet its policy does not match (or when it has no
   * policy). BIG-IP in ADC mode accepts; in firewall mode drops.
   * @default 'accept'
   */
  readonly virtualServerDefault?: 'accept' | 'drop' | 'reject';
  /**
   * Ids of route domains that are not named after their id, by path, such as
   * `{ '/Common/rd_prod': 2 }`.
   * @default - every route domain is `/Common/<id>`
   */
  readonly routeDomainIds?: Readonly<Record<string, number>>;
}

/** The AFM rule that matched. */
export interface AfmRuleHit {
  readonly context: AfmContext;
  /** Path of the policy. */
  readonly policy: string;
  /** AFM rule name. */
  readonly rule: string;
  /** Path of the rule list the rule came from, when it came from one. */
  readonly ruleList?: string;
  readonly action: AfmRuleAction;
  /**
   * Path of the iRule the rule runs on match (FLOW_INIT). The evaluator runs no Tcl: the
   * verdict is the rule's action, which holds for our rules since their iRules may not use a
   * command that changes it (see policy/irule.ts).
   */
  readonly iRule?: string;
}

export interface AfmContextStep {
  readonly context: AfmContext;
  /**
   * `match`: a rule matched (`hit`); `no-match`: the policy matched nothing; `no-policy`: no
   * policy is attached; `not-reached`: an earlier context ended the evaluation;
   * `no-virtual-server`: no virtual server listens for the packet.
   */
  readonly outcome: 'match' | 'no-match' | 'no-policy' | 'not-reached' | 'no-virtual-server';
  readonly policy?: string;
  readonly hit?: AfmRuleHit;
}

export interface AfmChainResult {
  readonly verdict: AfmVerdict;
  /** How the evaluation ended. */
  readonly ending: 'rule' | 'no-virtual-server' | 'virtual-server-default';
  /** The rule that ended the evaluation (or, for an accept at the last context, that accepted). */
  readonly decidedBy?: AfmRuleHit;
  /** Global, route domain, virtual server. */
  readonly steps: readonly AfmContextStep[];
  /** Path of the virtual server that handles the packet. */
  readonly virtualServer?: string;
}

/**
 * The source address an allowed flow leaves with: the translation of the first NAT rule of the
 * virtual server's NAT policy that matches it, else the virtual server's own `snat`.
 */
export type AfmTranslation =
  | { readonly by: 'nat-rule'; readonly policy: string; readonly rule: string; readonly addresses: readonly string[] }
  | { readonly by: 'virtual-server'; readonly snat: 'none' | 'auto' | 'self' }
  | { readonly by: 'virtual-server'; readonly snat: 'pool'; readonly pool: string; readonly addresses?: readonly string[] };

export interface AfmEvaluation {
  /** How the flow's source is translated, when the enforced verdict lets it through. */
  readonly translatedSource?: AfmTranslation;
  readonly verdict: AfmVerdict;
  readonly wouldBe: AfmVerdict;
  readonly enforced: AfmChainResult;
  /** The staged evaluation; the enforced one when no staged policy applies to the flow. */
  readonly staged: AfmChainResult;
  /** Whether a staged policy that differs from its context's enforced one applies to the flow. */
  readonly hasStaged: boolean;
  /** Where an allowed flow goes: the pool of the virtual server that took it, or the routing table. */
  readonly nextHop?: NextHop;
}

/** Members of event-driven lists and resolved FQDN addresses, prepared for lookups. */
export interface AfmListState {
  /** List path → `rd/canonical-ip` keys. */
  readonly members: ReadonlyMap<string, ReadonlySet<string>>;
  /** Host name → canonical addresses. */
  readonly resolved: ReadonlyMap<string, ReadonlySet<string>>;
}

interface Net {
  readonly rd: number;
  readonly entry: AddressEntry;
}

interface FqdnEntry {
  readonly text: string;
  readonly wildcard: boolean;
  readonly base: string;
}

interface AddressSet {
  readonly nets: readonly Net[];
  readonly fqdns: readonly FqdnEntry[];
  /** Paths of event-driven lists whose members belong to the set. */
  readonly eventLists: readonly string[];
}

type PortRange = readonly [number, number];

interface PreparedRule {
  readonly name: string;
  readonly action: AfmRuleAction;
  readonly protocol: string;
  readonly source?: readonly AddressSet[];
  readonly destination?: readonly AddressSet[];
  readonly ports?: readonly PortRange[];
  readonly ruleList?: string;
  readonly iRule?: string;
}

interface PreparedPolicy {
  readonly path: string;
  readonly rules: readonly PreparedRule[];
}

interface VirtualAddress {
  readonly destination: Net;
  readonly source?: Net;
}

interface VirtualServer {
  readonly path: string;
  readonly addresses: readonly VirtualAddress[];
  readonly port: number;
  readonly layer4: string;
  readonly enforced?: PreparedPolicy;
  readonly staged?: PreparedPolicy;
  /** NAT policy (`policyNAT`): its rules in order, each with its translation. */
  readonly nat?: {
    readonly path: string;
    readonly rules: readonly { readonly rule: PreparedRule; readonly addresses: readonly string[] }[];
  };
  readonly snat: Exclude<AfmTranslation, { by: 'nat-rule' }>;
  /** Traffic-matching criteria: address and port lists in place of `addresses` and `port` (redirect.ts). */
  readonly matching?: TrafficMatching;
  /** Where the virtual sends what it accepts: its pool's members, or the routing table. */
  readonly nextHop: NextHop;
}

interface Item {
  readonly path: string;
  readonly tenant: string;
  readonly app: string;
  readonly obj: Record<string, unknown>;
}

const ACTIONS: ReadonlySet<string> = new Set(['accept', 'accept-decisively', 'drop', 'reject']);
const RULE_KEYS: ReadonlySet<string> = new Set([
  'name',
  'action',
  'protocol',
  'source',
  'destination',
  'loggingEnabled',
  'iRule',
  'iRuleSampleRate',
  'remark',
  'label',
]);
const VIRTUAL_CLASSES: ReadonlySet<string> = new Set(['Service_L4', 'Service_Forwarding']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `10.0.0.1%2` → address and route domain (undefined when there is no suffix). */
function splitRouteDomain(text: string, where: string): { address: string; rd?: number } {
  const at = text.indexOf('%');
  if (at < 0) return { address: text };
  const rdText = text.slice(at + 1);
  if (!/^\d{1,5}$/.test(rdText) || Number(rdText) > 65534) {
    throw new AfmModelError(`${where}: route domain of "${text}" must be a number from 0 to 65534`);
  }
  return { address: text.slice(0, at), rd: Number(rdText) };
}

/** Parses an AFM address entry: address, CIDR or range, each with optional `%rd`. */
export function parseAfmAddress(text: string, defaultRouteDomain: number, where: string): Net {
  try {
    const slash = text.indexOf('/');
    if (slash >= 0) {
      const { address, rd } = splitRouteDomain(text.slice(0, slash), where);
      return { rd: rd ?? defaultRouteDomain, entry: parseCidr(`${address}${text.slice(slash)}`) };
    }
    const dash = text.indexOf('-');
    if (dash > 0) {
      const a = splitRouteDomain(text.slice(0, dash), where);
      const b = splitRouteDomain(text.slice(dash + 1), where);
      if (a.rd !== b.rd) throw new AfmModelError(`${where}: both ends of range "${text}" must be in the same route domain`);
      return { rd: a.rd ?? defaultRouteDomain, entry: parseRange(a.address, b.address) };
    }
    const { address, rd } = splitRouteDomain(text, where);
    return { rd: rd ?? defaultRouteDomain, entry: addressEntry(address) };
  } catch (e) {
    if (e instanceof AfmModelError) throw e;
    throw new AfmModelError(`${where}: "${text}" is not an AFM address, CIDR or range (${(e as Error).message})`);
  }
}

function netContains(net: Net, rd: number, family: 4 | 6, value: bigint): boolean {
  return net.rd === rd && net.entry.family === family && value >= net.entry.first && value <= net.entry.last;
}

function wildcardMatches(entry: FqdnEntry, host: string): boolean {
  if (!entry.wildcard) return host === entry.text;
  const suffix = `.${entry.base}`;
  if (host.length <= suffix.length || !host.endsWith(suffix)) return false;
  return !host.slice(0, host.length - suffix.length).includes('.');
}

interface FlowKey {
  readonly rd: number;
  readonly family: 4 | 6;
  readonly value: bigint;
  /** `rd/canonical-ip`, the key of event-list members. */
  readonly key: string;
  readonly text: string;
}

function flowKey(ip: string, rd: number, what: string): FlowKey {
  const parsed = tryParseIp(ip);
  if (!parsed) throw new AfmModelError(`flow ${what} "${ip}" is not an IPv4 or IPv6 address`);
  return { rd, family: parsed.family, value: parsed.value, key: `${rd}/${parsed.text}`, text: parsed.text };
}

function setMatches(set: AddressSet, ip: FlowKey | undefined, host: string | undefined, state: AfmListState): boolean {
  if (ip) {
    for (const net of set.nets) if (netContains(net, ip.rd, ip.family, ip.value)) return true;
    for (const list of set.eventLists) if (state.members.get(list)?.has(ip.key)) return true;
  }
  for (const f of set.fqdns) {
    if (host !== undefined && wildcardMatches(f, host)) return true;
    if (!ip) continue;
    if (f.wildcard) {
      for (const [name, ips] of state.resolved) if (wildcardMatches(f, name) && ips.has(ip.text)) return true;
    } else if (state.resolved.get(f.text)?.has(ip.text)) {
      return true;
    }
  }
  return false;
}

/**
 * A BIG-IP's firewall configuration as far as one declaration and its commands define it.
 * Build once with {@link AfmFirewall.load}; evaluate many flows.
 */
export class AfmFirewall {
  /**
   * Reads what the device holds: one AS3 request (`class: AS3` with a `declaration`, or the ADC
   * declaration itself), or several whose tenants sit side by side on the device (a shared
   * BIG-IP gets `/Common/Shared` from one declaration and each cluster's tenant from another),
   * and the tmsh commands applied after them, in order. Throws {@link AfmModelError} on
   * anything it cannot model faithfully.
   */
  public static load(as3: unknown, commands: readonly string[], options: AfmFirewallOptions = {}): AfmFirewall {
    return new AfmFirewall(Array.isArray(as3) ? as3 : [as3], commands, options);
  }

  /** Paths of the event-driven address lists the controller fills. */
  public readonly eventLists: readonly string[];
  /** Paths of the virtual servers. */
  public readonly virtualServerPaths: readonly string[];

  private readonly eventListSet: ReadonlySet<string>;
  private readonly items = new Map<string, Item>();
  private readonly tenantRouteDomain = new Map<string, number>();
  private readonly addressSets = new Map<string, AddressSet>();
  private readonly portSets = new Map<string, readonly PortRange[]>();
  private readonly policies = new Map<string, PreparedPolicy>();
  private readonly virtualServers: VirtualServer[] = [];
  /** {@link samePolicy} of each staged policy and enforced one met so far: they never change after load. */
  private readonly samePolicies = new Map<PreparedPolicy, Map<PreparedPolicy | undefined, boolean>>();
  private globalEnforced?: PreparedPolicy;
  private globalStaged?: PreparedPolicy;
  /** Route-domain contexts by id, or by path where the id is not known. */
  private readonly routeDomainPolicies = new Map<number | string, { enforced?: PreparedPolicy; staged?: PreparedPolicy }>();
  private readonly virtualServerDefault: 'accept' | 'drop' | 'reject';
  private readonly routeDomainIds: ReadonlyMap<string, number>;

  private constructor(declarations: readonly unknown[], commands: readonly string[], options: AfmFirewallOptions) {
    this.virtualServerDefault = options.virtualServerDefault ?? 'accept';
    this.routeDomainIds = new Map(Object.entries(options.routeDomainIds ?? {}));
    if (declarations.length === 0) throw new AfmModelError('no AS3 declaration given');
    declarations.forEach((as3, i) => {
      const declaration = isObject(as3) && as3.class === 'AS3' ? as3.declaration : as3;
      if (!isObject(declaration) || declaration.class !== 'ADC') {
        throw new AfmModelError(
          `AS3 input ${i + 1} is neither an AS3 request (class "AS3" with a "declaration") nor an ADC declaration (class "ADC")`,
        );
      }
      this.indexItems(declaration, i + 1);
    });
    const eventLists: string[] = [];
    for (const item of this.items.values()) {
      const cls = item.obj.class;
      if (cls === 'Firewall_Address_List' && Array.isArray(item.obj.addresses) && item.obj.addresses.some(isObject))
        eventLists.push(item.path);
      if (typeof cls === 'string' && cls.startsWith('Service_') && cls !== 'Service_Address' && !VIRTUAL_CLASSES.has(cls)) {
        throw new AfmModelError(`${item.path}: virtual servers of class ${cls} are not modelled (only Service_L4 and Service_Forwarding)`);
      }
      if (typeof cls === 'string' && VIRTUAL_CLASSES.has(cls)) this.virtualServers.push(this.prepareVirtualServer(item));
      if (cls === 'Firewall_Policy' && item.obj.routeDomainEnforcement !== undefined) this.attachRouteDomains(item);
    }
    commands.forEach((c, i) => this.applyCommand(c, i));
    this.eventLists = eventLists.sort();
    this.eventListSet = new Set(eventLists);
    this.virtualServerPaths = this.virtualServers.map((v) => v.path);
  }

  /**
   * Prepares the list state: `members` maps an event-driven list's path to the addresses the
   * controller pushed (`10.0.0.1`, or `10.0.0.1%2` in route domain 2); a list without an entry
   * is empty (the controller fails closed). `resolved` maps host names to the addresses the
   * device resolved for them.
   */
  public listState(
    members: ReadonlyMap<string, readonly string[]>,
    resolved: ReadonlyMap<string, readonly string[]> = new Map(),
  ): AfmListState {
    const out = new Map<string, Set<string>>();
    for (const [path, addresses] of members) out.set(path, new Set(this.memberKeys(path, addresses)));
    const names = new Map<string, Set<string>>();
    for (const [name, ips] of resolved) {
      const set = new Set<string>();
      for (const ip of ips) {
        const parsed = tryParseIp(ip);
        if (!parsed) throw new AfmModelError(`resolved address "${ip}" of ${name} is not an IP address`);
        set.add(parsed.text);
      }
      names.set(name, set);
    }
    return { members: out, resolved: names };
  }

  /**
   * `state` with more members in some lists (the unchanged lists are shared, not copied): for
   * asking about one more pod without rebuilding the state of the whole cluster.
   */
  public withMembers(state: AfmListState, added: ReadonlyMap<string, readonly string[]>): AfmListState {
    if (added.size === 0) return state;
    const members = new Map(state.members);
    for (const [path, addresses] of added)
      members.set(path, new Set([...(state.members.get(path) ?? []), ...this.memberKeys(path, addresses)]));
    return { members, resolved: state.resolved };
  }

  private memberKeys(path: string, addresses: readonly string[]): string[] {
    const item = this.items.get(path);
    if (!item || !this.eventListSet.has(path)) {
      throw new AfmModelError(`list state names ${path}, which is not an event-driven address list of the declaration (stale members?)`);
    }
    const defaultRd = this.tenantRouteDomain.get(item.tenant) ?? 0;
    return addresses.map((a) => {
      const { address, rd } = splitRouteDomain(a, `member of ${path}`);
      const ip = tryParseIp(address);
      if (!ip) throw new AfmModelError(`member "${a}" of ${path} is not an IP address`);
      return `${rd ?? defaultRd}/${ip.text}`;
    });
  }

  /** Evaluates the first packet of a flow. */
  public evaluate(flow: AfmFlow, state: AfmListState): AfmEvaluation {
    if (!Number.isInteger(flow.routeDomain) || flow.routeDomain < 0 || flow.routeDomain > 65534) {
      throw new AfmModelError(`flow route domain ${flow.routeDomain} must be a number from 0 to 65534`);
    }
    const source = flowKey(flow.sourceIp, flow.routeDomain, 'source');
    const destination = flow.destinationIp !== undefined ? flowKey(flow.destinationIp, flow.routeDomain, 'destination') : undefined;
    if (destination && destination.family !== source.family) {
      throw new AfmModelError(`flow source ${source.text} and destination ${destination.text} are of different address families`);
    }
    if (!destination && flow.host === undefined) throw new AfmModelError('a flow needs a destination address or a host name');
    const vs = this.virtualServerFor(flow, source, destination, state);
    const rd = this.routeDomainPolicies.get(flow.routeDomain);
    if (!rd) {
      const unknown = [...this.routeDomainPolicies.keys()].filter((k): k is string => typeof k === 'string');
      if (unknown.length) {
        throw new AfmModelError(
          `route domain ${flow.routeDomain} has no policy by id, and policies are attached to route domains ${unknown.join(', ')}, whose ids are not known: give them in the routeDomainIds option`,
        );
      }
    }
    const enforced = this.chain([this.globalEnforced, rd?.enforced, vs?.enforced], vs, flow, source, destination, state);
    // A staged policy with exactly its context's enforced rules stages nothing.
    const hasStaged =
      !this.samePolicy(this.globalStaged, this.globalEnforced) ||
      !this.samePolicy(rd?.staged, rd?.enforced) ||
      !this.samePolicy(vs?.staged, vs?.enforced);
    const staged = hasStaged
      ? this.chain(
          [this.globalStaged ?? this.globalEnforced, rd?.staged ?? rd?.enforced, vs?.staged ?? vs?.enforced],
          vs,
          flow,
          source,
          destination,
          state,
        )
      : enforced;
    const translatedSource = enforced.verdict === 'allow' && vs ? this.translation(vs, flow, source, destination, state) : undefined;
    const nextHop = enforced.verdict === 'allow' && vs ? vs.nextHop : undefined;
    return {
      ...(translatedSource ? { translatedSource } : {}),
      ...(nextHop ? { nextHop } : {}),
      verdict: enforced.verdict,
      wouldBe: staged.verdict,
      enforced,
      staged,
      hasStaged,
    };
  }

  /**
   * The translation of an allowed flow: a NAT policy's rules are tried in order and the first
   * match translates (F5 "Network Firewall: Policies and Implementations", firewall NAT); a flow
   * none matches keeps the virtual server's snat, which the loader requires to be none beside a
   * NAT policy.
   */
  private translation(
    vs: VirtualServer,
    flow: AfmFlow,
    source: FlowKey,
    destination: FlowKey | undefined,
    state: AfmListState,
  ): AfmTranslation {
    const hit = vs.nat?.rules.find((r) => this.ruleMatches(r.rule, flow, source, destination, state));
    if (hit && vs.nat) return { by: 'nat-rule', policy: vs.nat.path, rule: hit.rule.name, addresses: hit.addresses };
    return vs.snat;
  }

  /** {@link samePolicy}, compared once per pair: a comparison walks every rule of both. */
  private samePolicy(staged: PreparedPolicy | undefined, enforced: PreparedPolicy | undefined): boolean {
    if (!staged || staged === enforced) return true;
    let byEnforced = this.samePolicies.get(staged);
    if (!byEnforced) {
      byEnforced = new Map();
      this.samePolicies.set(staged, byEnforced);
    }
    let same = byEnforced.get(enforced);
    if (same === undefined) {
      same = samePolicy(staged, enforced);
      byEnforced.set(enforced, same);
    }
    return same;
  }

  private chain(
    policies: readonly (PreparedPolicy | undefined)[],
    vs: VirtualServer | undefined,
    flow: AfmFlow,
    source: FlowKey,
    destination: FlowKey | undefined,
    state: AfmListState,
  ): AfmChainResult {
    const contexts: AfmContext[] = ['global', 'route-domain', 'virtual-server'];
    const steps: AfmContextStep[] = [];
    const virtualServer = vs?.path;
    const finish = (verdict: AfmVerdict, ending: AfmChainResult['ending'], decidedBy?: AfmRuleHit): AfmChainResult => {
      while (steps.length < contexts.length) steps.push({ context: contexts[steps.length], outcome: 'not-reached' });
      return { verdict, ending, decidedBy, steps, virtualServer };
    };
    for (let i = 0; i < contexts.length; i++) {
      const context = contexts[i];
      if (context === 'virtual-server' && !vs) {
        steps.push({ context, outcome: 'no-virtual-server' });
        return finish('deny', 'no-virtual-server');
      }
      const policy = policies[i];
      if (!policy) {
        steps.push({ context, outcome: 'no-policy' });
        continue;
      }
      const rule = policy.rules.find((r) => this.ruleMatches(r, flow, source, destination, state));
      if (!rule) {
        steps.push({ context, outcome: 'no-match', policy: policy.path });
        continue;
      }
      const hit: AfmRuleHit = {
        context,
        policy: policy.path,
        rule: rule.name,
        ...(rule.ruleList ? { ruleList: rule.ruleList } : {}),
        action: rule.action,
        ...(rule.iRule ? { iRule: rule.iRule } : {}),
      };
      steps.push({ context, outcome: 'match', policy: policy.path, hit });
      if (rule.action === 'drop') return finish('deny', 'rule', hit);
      if (rule.action === 'reject') return finish('reject', 'rule', hit);
      if (rule.action === 'accept-decisively' || context === 'virtual-server') {
        if (!vs) {
          steps.push({ context: 'virtual-server', outcome: 'no-virtual-server' });
          return finish('deny', 'no-virtual-server');
        }
        return finish('allow', 'rule', hit);
      }
    }
    const d = this.virtualServerDefault;
    return finish(d === 'accept' ? 'allow' : d === 'drop' ? 'deny' : 'reject', 'virtual-server-default');
  }

  private ruleMatches(rule: PreparedRule, flow: AfmFlow, source: FlowKey, destination: FlowKey | undefined, state: AfmListState): boolean {
    if (rule.protocol !== 'any' && rule.protocol !== flow.protocol) return false;
    if (rule.ports && (flow.port === undefined || !rule.ports.some(([a, b]) => flow.port! >= a && flow.port! <= b))) return false;
    if (rule.source && !rule.source.some((s) => setMatches(s, source, undefined, state))) return false;
    if (rule.destination && !rule.destination.some((s) => setMatches(s, destination, flow.host, state))) return false;
    return true;
  }

  /** The most specific enabled virtual server listening for the packet. */
  private virtualServerFor(
    flow: AfmFlow,
    source: FlowKey,
    destination: FlowKey | undefined,
    state: AfmListState,
  ): VirtualServer | undefined {
    let best: { vs: VirtualServer; score: [bigint, bigint, number] } | undefined;
    const better = (score: [bigint, bigint, number]) =>
      !best ||
      score[0] < best.score[0] ||
      (score[0] === best.score[0] && (score[1] < best.score[1] || (score[1] === best.score[1] && score[2] < best.score[2])));
    for (const vs of this.virtualServers) {
      if (vs.layer4 !== 'any' && vs.layer4 !== flow.protocol) continue;
      if (vs.matching) {
        const score = matchingScore<AddressSet, FlowKey>(vs.matching, flow, source, destination, state, (set, ip, host) =>
          setMatches(set, ip, host, state),
        );
        if (score && better(score)) best = { vs, score };
        continue;
      }
      if (vs.port !== 0 && vs.port !== flow.port) continue;
      for (const va of vs.addresses) {
        const d = va.destination;
        if (d.rd !== flow.routeDomain || d.entry.family !== source.family) continue;
        // Without a destination address only a wildcard virtual can be said to catch the flow.
        const span = d.entry.last - d.entry.first;
        if (destination) {
          if (!netContains(d, destination.rd, destination.family, destination.value)) continue;
        } else if (d.entry.first !== 0n || d.entry.last !== (source.family === 4 ? (1n << 32n) - 1n : (1n << 128n) - 1n)) {
          continue;
        }
        if (va.source && !netContains(va.source, source.rd, source.family, source.value)) continue;
        const sourceSpan = va.source ? va.source.entry.last - va.source.entry.first : 1n << 128n;
        const score: [bigint, bigint, number] = [span, sourceSpan, vs.port === 0 ? 1 : 0];
        if (
          !best ||
          score[0] < best.score[0] ||
          (score[0] === best.score[0] && (score[1] < best.score[1] || (score[1] === best.score[1] && score[2] < best.score[2])))
        ) {
          best = { vs, score };
        }
      }
    }
    return best?.vs;
  }

  private readonly tenantOwner = new Map<string, number>();

  private indexItems(declaration: Record<string, unknown>, index: number): void {
    for (const [tenant, t] of Object.entries(declaration)) {
      if (!isObject(t) || t.class !== 'Tenant') continue;
      // Each declaration replaces the tenants it names; only /Common/Shared items of several
      // declarations can coexist, and then no item may be declared twice.
      const owner = this.tenantOwner.get(tenant);
      if (owner !== undefined && tenant !== 'Common')
        throw new AfmModelError(`tenant ${tenant} is declared by AS3 inputs ${owner} and ${index}; a tenant has one declaration`);
      this.tenantOwner.set(tenant, index);
      const rd = t.defaultRouteDomain;
      this.tenantRouteDomain.set(tenant, typeof rd === 'number' ? rd : 0);
      for (const [app, a] of Object.entries(t)) {
        if (!isObject(a) || a.class !== 'Application') continue;
        for (const [name, obj] of Object.entries(a)) {
          if (!isObject(obj) || typeof obj.class !== 'string') continue;
          const path = `/${tenant}/${app}/${name}`;
          if (this.items.has(path)) throw new AfmModelError(`${path} is declared by more than one AS3 input`);
          this.items.set(path, { path, tenant, app, obj });
        }
      }
    }
  }

  /**
   * Resolves an AS3 pointer from `from`: `{use}` (bare names are relative to its application), or
   * `{bigip}` naming an object a loaded declaration creates.
   */
  private resolve(pointer: unknown, from: Item, expected: string, where: string): Item {
    if (!isObject(pointer)) throw new AfmModelError(`${where}: expected a pointer {"use": ...}, got ${JSON.stringify(pointer)}`);
    if (typeof pointer.bigip === 'string') {
      const item = this.items.get(pointer.bigip);
      if (!item)
        throw new AfmModelError(
          `${where}: refers to ${pointer.bigip} outside the declarations ({"bigip": ...}), which the evaluator cannot see`,
        );
      if (item.obj.class !== expected)
        throw new AfmModelError(`${where}: ${pointer.bigip} is a ${String(item.obj.class)}, not a ${expected}`);
      return item;
    }
    const use = pointer.use;
    if (typeof use !== 'string' || use.length === 0)
      throw new AfmModelError(`${where}: expected a pointer {"use": ...}, got ${JSON.stringify(pointer)}`);
    let path: string;
    if (!use.includes('/')) {
      path = `/${from.tenant}/${from.app}/${use}`;
    } else {
      const parts = use.split('/');
      if (parts.length !== 4 || parts[0] !== '')
        throw new AfmModelError(`${where}: pointer "${use}" is neither a bare name nor /Tenant/Application/name`);
      path = `/${parts[1] === '@' ? from.tenant : parts[1]}/${parts[2] === '@' ? from.app : parts[2]}/${parts[3]}`;
    }
    const item = this.items.get(path);
    if (!item) throw new AfmModelError(`${where}: pointer "${use}" resolves to ${path}, which the declaration does not define`);
    if (item.obj.class !== expected)
      throw new AfmModelError(`${where}: pointer "${use}" resolves to ${path}, a ${String(item.obj.class)}, not a ${expected}`);
    return item;
  }

  private addressSet(item: Item, trail: readonly string[] = []): AddressSet {
    const cached = this.addressSets.get(item.path);
    if (cached) return cached;
    if (trail.includes(item.path))
      throw new AfmModelError(`${item.path}: address lists refer to each other in a cycle (${[...trail, item.path].join(' → ')})`);
    const defaultRd = this.tenantRouteDomain.get(item.tenant) ?? 0;
    const nets: Net[] = [];
    const fqdns: FqdnEntry[] = [];
    const eventLists: string[] = [];
    const o = item.obj;
    for (const key of Object.keys(o)) {
      if (!['class', 'remark', 'label', 'addresses', 'fqdns', 'addressLists'].includes(key)) {
        throw new AfmModelError(`${item.path}: address-list property "${key}" is not modelled`);
      }
    }
    for (const a of (o.addresses as unknown[] | undefined) ?? []) {
      if (typeof a === 'string') {
        nets.push(parseAfmAddress(a, defaultRd, item.path));
      } else if (isObject(a) && a.addressDiscovery === 'event') {
        if (!eventLists.includes(item.path)) eventLists.push(item.path);
      } else {
        throw new AfmModelError(
          `${item.path}: address entry ${JSON.stringify(a)} is not modelled (only addresses and event-driven discovery)`,
        );
      }
    }
    for (const f of (o.fqdns as unknown[] | undefined) ?? []) {
      if (typeof f !== 'string' || f.length === 0) throw new AfmModelError(`${item.path}: FQDN entry ${JSON.stringify(f)} is not a name`);
      const wildcard = f.startsWith('*.');
      fqdns.push({ text: f.toLowerCase(), wildcard, base: wildcard ? f.slice(2).toLowerCase() : f.toLowerCase() });
    }
    ((o.addressLists as unknown[] | undefined) ?? []).forEach((p, i) => {
      const nested = this.addressSet(this.resolve(p, item, 'Firewall_Address_List', `${item.path} addressLists[${i}]`), [
        ...trail,
        item.path,
      ]);
      nets.push(...nested.nets);
      fqdns.push(...nested.fqdns);
      for (const l of nested.eventLists) if (!eventLists.includes(l)) eventLists.push(l);
    });
    const set = { nets, fqdns, eventLists };
    this.addressSets.set(item.path, set);
    return set;
  }

  private portSet(item: Item, trail: readonly string[] = []): readonly PortRange[] {
    const cached = this.portSets.get(item.path);
    if (cached) return cached;
    if (trail.includes(item.path)) throw new AfmModelError(`${item.path}: port lists refer to each other in a cycle`);
    const ranges: PortRange[] = [];
    for (const p of (item.obj.ports as unknown[] | undefined) ?? []) ranges.push(parsePort(p, item.path));
    ((item.obj.portLists as unknown[] | undefined) ?? []).forEach((p, i) => {
      ranges.push(...this.portSet(this.resolve(p, item, 'Firewall_Port_List', `${item.path} portLists[${i}]`), [...trail, item.path]));
    });
    this.portSets.set(item.path, ranges);
    return ranges;
  }

  private prepareRule(rule: unknown, owner: Item, where: string, ruleList?: string): PreparedRule {
    if (!isObject(rule)) throw new AfmModelError(`${where}: a firewall rule must be an object`);
    for (const key of Object.keys(rule))
      if (!RULE_KEYS.has(key)) throw new AfmModelError(`${where}: rule property "${key}" is not modelled`);
    const name = rule.name;
    if (typeof name !== 'string' || !name) throw new AfmModelError(`${where}: a firewall rule needs a name`);
    const at = `${where} (rule ${name})`;
    if (typeof rule.action !== 'string' || !ACTIONS.has(rule.action))
      throw new AfmModelError(`${at}: action ${JSON.stringify(rule.action)} is not accept, accept-decisively, drop or reject`);
    const protocol = rule.protocol === undefined ? 'any' : rule.protocol;
    if (typeof protocol !== 'string') throw new AfmModelError(`${at}: protocol must be a string`);
    const sets = (side: 'source' | 'destination'): AddressSet[] | undefined => {
      const s = rule[side];
      if (s === undefined) return undefined;
      if (!isObject(s)) throw new AfmModelError(`${at}: ${side} must be an object`);
      const allowed = side === 'source' ? ['addressLists', 'addresses'] : ['addressLists', 'addresses', 'portLists', 'ports'];
      for (const key of Object.keys(s)) if (!allowed.includes(key)) throw new AfmModelError(`${at}: ${side}.${key} is not modelled`);
      const out: AddressSet[] = [];
      ((s.addressLists as unknown[] | undefined) ?? []).forEach((p, i) =>
        out.push(this.addressSet(this.resolve(p, owner, 'Firewall_Address_List', `${at} ${side}.addressLists[${i}]`))),
      );
      if (Array.isArray(s.addresses)) {
        const defaultRd = this.tenantRouteDomain.get(owner.tenant) ?? 0;
        out.push({
          nets: s.addresses.map((a) => parseAfmAddress(String(a), defaultRd, `${at} ${side}.addresses`)),
          fqdns: [],
          eventLists: [],
        });
      }
      return out.length ? out : undefined;
    };
    let ports: PortRange[] | undefined;
    if (isObject(rule.destination)) {
      const d = rule.destination;
      if (d.portLists !== undefined || d.ports !== undefined) {
        ports = [];
        ((d.portLists as unknown[] | undefined) ?? []).forEach((p, i) =>
          ports!.push(...this.portSet(this.resolve(p, owner, 'Firewall_Port_List', `${at} destination.portLists[${i}]`))),
        );
        for (const p of (d.ports as unknown[] | undefined) ?? []) ports.push(parsePort(p, at));
      }
    }
    return {
      name,
      action: rule.action as AfmRuleAction,
      protocol,
      source: sets('source'),
      destination: sets('destination'),
      ports,
      ...(ruleList ? { ruleList } : {}),
      ...(rule.iRule !== undefined ? { iRule: this.resolve(rule.iRule, owner, 'iRule', `${at} iRule`).path } : {}),
    };
  }

  private policy(item: Item): PreparedPolicy {
    const cached = this.policies.get(item.path);
    if (cached) return cached;
    const rules: PreparedRule[] = [];
    const list = item.obj.rules;
    if (!Array.isArray(list)) throw new AfmModelError(`${item.path}: a Firewall_Policy needs a rules array`);
    list.forEach((entry, i) => {
      const where = `${item.path} rules[${i}]`;
      if (isObject(entry) && (entry.use !== undefined || entry.bigip !== undefined)) {
        const ruleList = this.resolve(entry, item, 'Firewall_Rule_List', where);
        const inner = ruleList.obj.rules;
        if (!Array.isArray(inner)) throw new AfmModelError(`${ruleList.path}: a Firewall_Rule_List needs a rules array`);
        inner.forEach((r, j) => rules.push(this.prepareRule(r, ruleList, `${ruleList.path} rules[${j}]`, ruleList.path)));
      } else {
        rules.push(this.prepareRule(entry, item, where));
      }
    });
    const prepared = { path: item.path, rules };
    this.policies.set(item.path, prepared);
    return prepared;
  }

  private policyAt(path: string, where: string): PreparedPolicy {
    const item = this.items.get(path);
    if (!item || item.obj.class !== 'Firewall_Policy') {
      throw new AfmModelError(`${where} names ${path}, which is not a Firewall_Policy of the declaration`);
    }
    return this.policy(item);
  }

  private prepareVirtualServer(item: Item): VirtualServer {
    const o = item.obj;
    const defaultRd = this.tenantRouteDomain.get(item.tenant) ?? 0;
    const nextHop = nextHopOf(item, (p, where) => this.resolve(p, item, 'Pool', where), AfmModelError);
    const matching = prepareMatching(
      item,
      defaultRd,
      (p, expected, where) => {
        const found = this.resolve(p, item, expected, where);
        return expected === 'Firewall_Address_List' ? this.addressSet(found) : this.portSet(found);
      },
      AfmModelError,
    );
    const snat = this.virtualSnat(item);
    const nat =
      o.policyNAT === undefined ? undefined : this.natPolicy(this.resolve(o.policyNAT, item, 'NAT_Policy', `${item.path} policyNAT`));
    // Whether a virtual server's own snat applies beside a NAT policy is not documented; F5's
    // example sets it to none (AS3 examples/declarations/example-using-firewall-nat-features.json).
    if (nat && !(snat.by === 'virtual-server' && snat.snat === 'none'))
      throw new AfmModelError(
        `${item.path}: a NAT policy with the virtual server's snat other than "none" is not modelled (their precedence is not documented)`,
      );
    if (matching) {
      const layer4 = typeof o.layer4 === 'string' ? o.layer4 : 'tcp';
      const policyOf = (key: string) =>
        o[key] === undefined ? undefined : this.policy(this.resolve(o[key], item, 'Firewall_Policy', `${item.path} ${key}`));
      return {
        nat,
        snat,
        path: item.path,
        addresses: [],
        port: 0,
        layer4,
        enforced: policyOf('policyFirewallEnforced'),
        staged: policyOf('policyFirewallStaged'),
        ...(o.enable === false ? {} : { matching }),
        nextHop,
      };
    }
    if (!Array.isArray(o.virtualAddresses))
      throw new AfmModelError(`${item.path}: virtualAddresses must be an array of addresses (Address_List references are not modelled)`);
    const addresses = o.virtualAddresses.map((va, i): VirtualAddress => {
      const where = `${item.path} virtualAddresses[${i}]`;
      if (typeof va === 'string') return { destination: parseAfmAddress(va, defaultRd, where) };
      if (Array.isArray(va) && va.length === 2 && typeof va[0] === 'string' && typeof va[1] === 'string') {
        return { destination: parseAfmAddress(va[0], defaultRd, where), source: parseAfmAddress(va[1], defaultRd, where) };
      }
      throw new AfmModelError(`${where}: ${JSON.stringify(va)} is not modelled (an address or an [address, source] pair)`);
    });
    if (o.virtualPort !== undefined && typeof o.virtualPort !== 'number')
      throw new AfmModelError(`${item.path}: virtualPort port lists are not modelled`);
    const layer4 = typeof o.layer4 === 'string' ? o.layer4 : o.class === 'Service_L4' ? 'tcp' : 'any';
    const pointer = (key: string) =>
      o[key] === undefined ? undefined : this.policy(this.resolve(o[key], item, 'Firewall_Policy', `${item.path} ${key}`));
    return {
      nat,
      snat,
      path: item.path,
      addresses: o.enable === false ? [] : addresses,
      port: (o.virtualPort as number | undefined) ?? 0,
      layer4,
      enforced: pointer('policyFirewallEnforced'),
      staged: pointer('policyFirewallStaged'),
      nextHop,
    };
  }

  /** A virtual server's `snat` (AS3 Service_L4 default `auto`); a pool outside the declarations has unknown addresses. */
  private virtualSnat(item: Item): Exclude<AfmTranslation, { by: 'nat-rule' }> {
    const v = item.obj.snat;
    if (v === undefined || v === 'auto' || v === 'none' || v === 'self') return { by: 'virtual-server', snat: v ?? 'auto' };
    if (isObject(v) && typeof v.bigip === 'string' && !this.items.has(v.bigip))
      return { by: 'virtual-server', snat: 'pool', pool: v.bigip };
    const pool = this.resolve(v, item, 'SNAT_Pool', `${item.path} snat`);
    const defaultRd = this.tenantRouteDomain.get(pool.tenant) ?? 0;
    const addresses = ((pool.obj.snatAddresses as unknown[] | undefined) ?? []).map((a) =>
      translationAddress(a, defaultRd, `${pool.path} snatAddresses`),
    );
    return { by: 'virtual-server', snat: 'pool', pool: pool.path, addresses };
  }

  /**
   * A NAT policy: each rule matches like a firewall rule (source and destination lists, port
   * lists, protocol `any`, `tcp` or `udp`, AS3 NAT_Rule) and translates with its
   * `dynamic-pat` source translation. A rule without a translation is refused: what it does is
   * not documented.
   */
  private natPolicy(item: Item): NonNullable<VirtualServer['nat']> {
    const list = item.obj.rules;
    if (!Array.isArray(list)) throw new AfmModelError(`${item.path}: a NAT_Policy without a rules array is not modelled`);
    const rules = list.map((r, i) => {
      const where = `${item.path} rules[${i}]`;
      if (!isObject(r)) throw new AfmModelError(`${where}: a NAT rule must be an object`);
      for (const key of Object.keys(r))
        if (!NAT_RULE_KEYS.has(key)) throw new AfmModelError(`${where}: NAT rule property "${key}" is not modelled`);
      if (r.protocol !== undefined && r.protocol !== 'any' && r.protocol !== 'tcp' && r.protocol !== 'udp')
        throw new AfmModelError(`${where}: NAT rule protocol ${JSON.stringify(r.protocol)} is not any, tcp or udp`);
      // AS3's NAT_Policy mapper sets `translation.source` from `sourceTranslation.use` only
      // (map_as3.js NAT_Policy), so a `bigip` pointer reaches the device as no translation.
      if (isObject(r.sourceTranslation) && r.sourceTranslation.bigip !== undefined)
        throw new AfmModelError(`${where}: a sourceTranslation by "bigip" is dropped by AS3 (it maps only "use"); it is not modelled`);
      if (r.sourceTranslation === undefined)
        throw new AfmModelError(`${where}: a NAT rule without sourceTranslation is not modelled (what it does is not documented)`);
      const translation = this.resolve(r.sourceTranslation, item, 'NAT_Source_Translation', `${where} sourceTranslation`);
      if (translation.obj.type !== 'dynamic-pat')
        throw new AfmModelError(
          `${translation.path}: source translation type ${JSON.stringify(translation.obj.type)} is not modelled (only dynamic-pat)`,
        );
      if (r.securityLogProfile !== undefined)
        this.resolve(r.securityLogProfile, item, 'Security_Log_Profile', `${where} securityLogProfile`);
      const defaultRd = this.tenantRouteDomain.get(translation.tenant) ?? 0;
      const addresses = ((translation.obj.addresses as unknown[] | undefined) ?? []).map((a) =>
        translationAddress(a, defaultRd, `${translation.path} addresses`),
      );
      const { sourceTranslation: _t, securityLogProfile: _l, ...match } = r;
      return { rule: this.prepareRule({ ...match, action: 'accept' }, item, where), addresses };
    });
    return { path: item.path, rules };
  }

  private attachRouteDomains(item: Item): void {
    const list = item.obj.routeDomainEnforcement;
    if (!Array.isArray(list)) throw new AfmModelError(`${item.path}: routeDomainEnforcement must be an array`);
    list.forEach((p, i) => {
      const where = `${item.path} routeDomainEnforcement[${i}]`;
      if (!isObject(p) || typeof p.bigip !== 'string') throw new AfmModelError(`${where}: expected {"bigip": "<route-domain path>"}`);
      const rd = this.routeDomainKey(p.bigip);
      const slot = this.routeDomainPolicies.get(rd) ?? {};
      if (slot.enforced && slot.enforced.path !== item.path) {
        throw new AfmModelError(
          `${where}: route domain ${String(rd)} already enforces ${slot.enforced.path}; a route domain has one enforced policy`,
        );
      }
      this.routeDomainPolicies.set(rd, { ...slot, enforced: this.policy(item) });
    });
  }

  /**
   * The id of a route domain named by path (tmsh, `routeDomainEnforcement`), or its path when
   * the id is not known: a flow of that route domain then fails rather than skip its policy.
   */
  private routeDomainKey(text: string): number | string {
    const path = text.startsWith('/') ? text : `/Common/${text}`;
    const given = this.routeDomainIds.get(path);
    if (given !== undefined) return given;
    const m = /^\/Common\/(\d{1,5})$/.exec(path);
    return m && Number(m[1]) <= 65534 ? Number(m[1]) : path;
  }

  private applyCommand(command: string, index: number): void {
    const where = `command ${index + 1} ("${command}")`;
    const t = command.trim().split(/\s+/);
    // Reading and saving change nothing that is enforced.
    if (t[0] === 'list' || command.trim() === 'save sys config') return;
    const pairs = (from: number): [string, string][] => {
      if ((t.length - from) % 2 !== 0 || t.length === from) throw new AfmModelError(`${where}: expected attribute/value pairs`);
      const out: [string, string][] = [];
      for (let i = from; i < t.length; i += 2) out.push([t[i], t[i + 1]]);
      return out;
    };
    const policyOrNone = (value: string, attr: string) => (value === 'none' ? undefined : this.policyAt(value, `${where} ${attr}`));
    if (t[0] === 'modify' && t[1] === 'security' && t[2] === 'firewall' && t[3] === 'global-rules') {
      for (const [attr, value] of pairs(4)) {
        if (attr === 'enforced-policy') this.globalEnforced = policyOrNone(value, attr);
        else if (attr === 'staged-policy') this.globalStaged = policyOrNone(value, attr);
        else throw new AfmModelError(`${where}: global-rules attribute "${attr}" is not modelled`);
      }
    } else if (t[0] === 'modify' && t[1] === 'net' && t[2] === 'route-domain' && t.length > 3) {
      const rd = this.routeDomainKey(t[3]);
      const slot = { ...(this.routeDomainPolicies.get(rd) ?? {}) };
      for (const [attr, value] of pairs(4)) {
        if (attr === 'fw-enforced-policy') slot.enforced = policyOrNone(value, attr);
        else if (attr === 'fw-staged-policy') slot.staged = policyOrNone(value, attr);
        else throw new AfmModelError(`${where}: route-domain attribute "${attr}" is not modelled`);
      }
      this.routeDomainPolicies.set(rd, slot);
    } else if (t[0] === 'modify' && t[1] === 'security' && t[2] === 'firewall' && t[3] === 'global-fqdn-policy') {
      // The resolver decides which addresses a name has; those are an input of evaluate().
      for (const [attr] of pairs(4))
        if (attr !== 'dns-resolver') throw new AfmModelError(`${where}: global-fqdn-policy attribute "${attr}" is not modelled`);
    } else {
      throw new AfmModelError(`${where}: this tmsh command is not modelled`);
    }
  }
}

/** Whether a staged policy holds its context's enforced rules, in order (by rule list and name, or inline). */
function samePolicy(staged: PreparedPolicy | undefined, enforced: PreparedPolicy | undefined): boolean {
  // Without a staged policy the context's enforced one stands in for it.
  if (!staged || staged === enforced) return true;
  const a = staged;
  const b = enforced;
  if (!b || a.rules.length !== b.rules.length) return false;
  // Inline rules count as equal only without match criteria (such as the final default rule).
  const key = (r: PreparedRule) =>
    r.ruleList
      ? `${r.ruleList}#${r.name}`
      : r.source || r.destination || r.ports
        ? undefined
        : `inline ${r.name} ${r.action} ${r.protocol}`;
  return a.rules.every((r, i) => key(r) !== undefined && key(r) === key(b.rules[i]));
}

const NAT_RULE_KEYS: ReadonlySet<string> = new Set([
  'name',
  'label',
  'remark',
  'protocol',
  'source',
  'destination',
  'sourceTranslation',
  'securityLogProfile',
]);

/** A translation address in canonical form with its route domain (`192.0.2.10%2`) when not the default one. */
function translationAddress(a: unknown, defaultRd: number, where: string): string {
  if (typeof a !== 'string') throw new AfmModelError(`${where}: ${JSON.stringify(a)} is not an address`);
  const net = parseAfmAddress(a, defaultRd, where);
  return net.rd === defaultRd ? net.entry.text : `${net.entry.text}%${net.rd}`;
}

function parsePort(p: unknown, where: string): PortRange {
  const text = typeof p === 'number' ? String(p) : typeof p === 'string' ? p : '';
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  const a = m ? Number(m[1]) : NaN;
  const b = m ? Number(m[2] ?? m[1]) : NaN;
  if (!m || a > 65535 || b > 65535 || a > b)
    throw new AfmModelError(`${where}: port entry ${JSON.stringify(p)} is not a port or a range "a-b"`);
  return [a, b];
}

const KINDS = { cluster: 'ClusterEgressRule', namespace: 'NamespaceEgressRule', service: 'ServiceEgressRule' } as const;

/** The policy rule an AFM rule was rendered from. */
export interface AfmRuleOwner {
  readonly key: string;
  readonly level: Level;
  readonly kind: (typeof KINDS)[Level];
  readonly name: string;
  readonly namespace?: string;
  readonly path: string;
  readonly action: ActionName;
  readonly audit: boolean;
  /** The rule's onMatch iRule, described (`file tag.tcl, sha256 …`). */
  readonly onMatch?: string;
}

/**
 * The policy rules behind AFM rules. AFM rule names encode their rule: `c_<name>_<protocol>`,
 * `n_<namespace>_<name>_<protocol>`, `s_<namespace>_<name>_<protocol>` (one AFM rule per
 * protocol of the rule, `any` when it has no ports; a name too long for AS3 ends its rule part
 * in a digest, see `afmRuleName`). Names are unique per device, not per
 * BIG-IP: on a shared BIG-IP the global policy holds every cluster's rule lists, so a hit is
 * attributed only when its rule list is this device's (`/Common/Shared/<tenant>_…` or
 * `/<tenant>/…`).
 */
export class AfmRuleIndex {
  private readonly byName = new Map<string, AfmRuleOwner>();
  private readonly tenant: string;

  constructor(model: PolicyModel) {
    this.tenant = model.device.tenant;
    for (const rule of model.rules) {
      const key = rule.level === 'cluster' ? `cluster/${rule.name}` : `${rule.level}/${rule.namespace}/${rule.name}`;
      const owner: AfmRuleOwner = {
        key,
        level: rule.level,
        kind: KINDS[rule.level],
        name: rule.name,
        ...(rule.namespace !== undefined ? { namespace: rule.namespace } : {}),
        path: rule.path,
        action: rule.action,
        audit: rule.audit,
        ...(rule.onMatch ? { onMatch: iRuleLabel(rule.onMatch) } : {}),
      };
      const protocols = rule.ports.length ? [...new Set(rule.ports.map((p) => p.protocol))] : ['any'];
      for (const protocol of protocols) {
        const name = afmRuleName(model.device, rule, protocol);
        const other = this.byName.get(name);
        if (other && other.key !== key) throw new AfmModelError(`AFM rule name ${name} would belong to both ${other.key} and ${key}`);
        this.byName.set(name, owner);
      }
    }
  }

  /** The rule behind a hit; undefined for rules of other devices and inline rules (such as the default). */
  public ownerOf(hit: Pick<AfmRuleHit, 'rule' | 'ruleList'>): AfmRuleOwner | undefined {
    const list = hit.ruleList;
    if (!list || !(list.startsWith(`/Common/Shared/${this.tenant}_`) || list.startsWith(`/${this.tenant}/`))) return undefined;
    return this.byName.get(hit.rule);
  }
}
