/**
 * The AFM evaluator's reading of virtual servers with traffic-matching criteria (the redirect
 * listeners of `redirect.ts`) and of where a virtual server sends what it accepts.
 *
 * What is modelled, and on what grounds:
 * - A Service_L4 whose `virtualAddresses` points at an address list gets a traffic-matching
 *   criteria with that destination list, its `sourceAddress` list (any source without one),
 *   its `virtualPort` port list (every port when the port is 0) and its `layer4` protocol
 *   (AS3 `src/lib/map_as3.js:2673-2688, 2909-2936`).
 * - AS3 replaces the destination with `0.0.0.0` (`:2683-2685`), so the criteria is IPv4: an
 *   IPv6 flow never matches it. Its route domain is `any` in the default route domain and
 *   `/Common/<id>` otherwise (`:2924`): the lists' entries carry the route domain they match.
 * - Which virtual server takes a flow that several match: BIG-IP picks the most specific
 *   (destination, then source, then port: BIG-IP's order of precedence for virtual server
 *   matching, 11.3 and later, as reproduced in
 *   https://network-maven.com/2016/11/23/virtual-server-order-of-precedence/; F5's own article
 *   was not at hand). For lists no source here gives a rule; read here as the most specific
 *   entry of each list that matches the flow (an event-driven member is a host address). This
 *   is unverified on a device, so synth only renders redirect listeners whose ranking this
 *   reading cannot get wrong: never a whole-family destination, never two listeners with
 *   different next hops for one flow (lib/policy/redirect.ts, redirectIssues).
 */
import { tryParseIp } from '../policy/ip';
import type { NextHop } from '../policy/redirect';

interface NetLike {
  readonly rd: number;
  readonly entry: { readonly family: 4 | 6; readonly first: bigint; readonly last: bigint };
}

/** The evaluator's prepared address set, as far as ranking needs it. */
export interface AddressSetLike {
  readonly nets: readonly NetLike[];
  readonly eventLists: readonly string[];
}

type PortRange = readonly [number, number];

export interface TrafficMatching {
  readonly destination: AddressSetLike;
  readonly source?: AddressSetLike;
  /** Destination ports; absent = every port. */
  readonly ports?: readonly PortRange[];
  /** Route domain of the criteria; absent = any. */
  readonly routeDomain?: number;
}

interface ItemLike {
  readonly path: string;
  readonly obj: Record<string, unknown>;
}

interface FlowKeyLike {
  readonly rd: number;
  readonly family: 4 | 6;
  readonly value: bigint;
}

type ErrorClass = new (message: string) => Error;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The traffic-matching criteria of a virtual server, or undefined when it has plain addresses.
 * `load` resolves a pointer to a prepared address set or port ranges.
 */
export function prepareMatching(
  item: ItemLike,
  defaultRouteDomain: number,
  load: (
    pointer: unknown,
    expected: 'Firewall_Address_List' | 'Firewall_Port_List',
    where: string,
  ) => AddressSetLike | readonly PortRange[],
  Err: ErrorClass,
): TrafficMatching | undefined {
  const o = item.obj;
  const listed = (key: string) => isObject(o[key]);
  if (!listed('virtualAddresses')) {
    if (listed('sourceAddress') || listed('virtualPort')) {
      throw new Err(`${item.path}: a source address list or port list with plain virtualAddresses is not modelled`);
    }
    return undefined;
  }
  if (o.sourceAddress !== undefined && !listed('sourceAddress')) {
    throw new Err(`${item.path}: a plain sourceAddress with an address-list destination is not modelled`);
  }
  if (o.virtualPort !== undefined && !listed('virtualPort') && o.virtualPort !== 0) {
    throw new Err(`${item.path}: a single virtualPort with an address-list destination is not modelled (only 0 or a port list)`);
  }
  const destination = load(o.virtualAddresses, 'Firewall_Address_List', `${item.path} virtualAddresses`) as AddressSetLike;
  const source = listed('sourceAddress')
    ? (load(o.sourceAddress, 'Firewall_Address_List', `${item.path} sourceAddress`) as AddressSetLike)
    : undefined;
  const ports = listed('virtualPort')
    ? (load(o.virtualPort, 'Firewall_Port_List', `${item.path} virtualPort`) as readonly PortRange[])
    : undefined;
  return {
    destination,
    ...(source ? { source } : {}),
    ...(ports ? { ports } : {}),
    ...(defaultRouteDomain !== 0 ? { routeDomain: defaultRouteDomain } : {}),
  };
}

const HOST = 0n;
const ANY_SOURCE = 1n << 128n;

/** Span of the most specific entry of `set` that holds `ip` (0 for a host or event member), or undefined. */
function entrySpan(set: AddressSetLike, ip: FlowKeyLike, inEventList: (set: AddressSetLike) => boolean): bigint | undefined {
  let best: bigint | undefined;
  for (const net of set.nets) {
    if (net.rd !== ip.rd || net.entry.family !== ip.family || ip.value < net.entry.first || ip.value > net.entry.last) continue;
    const span = net.entry.last - net.entry.first;
    if (best === undefined || span < best) best = span;
  }
  if (best === undefined && set.eventLists.length && inEventList(set)) best = HOST;
  return best;
}

/**
 * The rank of a traffic-matching virtual for a flow, as [destination span, source span, port
 * wildcard] (lower is more specific), or undefined when the criteria do not match the flow.
 * `matches` tells whether a set holds the address through its event-driven members.
 */
export function matchingScore<S extends AddressSetLike, K extends FlowKeyLike>(
  m: TrafficMatching,
  flow: { readonly routeDomain: number; readonly port?: number },
  source: K,
  destination: K | undefined,
  _state: unknown,
  matches: (set: S, ip: K, host: undefined) => boolean,
): [bigint, bigint, number] | undefined {
  if (!destination || source.family !== 4) return undefined;
  if (m.routeDomain !== undefined && m.routeDomain !== flow.routeDomain) return undefined;
  const members = (ip: K) => (set: AddressSetLike) => matches(set as S, ip, undefined);
  const dst = entrySpan(m.destination, destination, members(destination));
  if (dst === undefined) return undefined;
  let src = ANY_SOURCE;
  if (m.source) {
    const s = entrySpan(m.source, source, members(source));
    if (s === undefined) return undefined;
    src = s;
  }
  if (m.ports) {
    if (flow.port === undefined || !m.ports.some(([a, b]) => flow.port! >= a && flow.port! <= b)) return undefined;
    return [dst, src, 0];
  }
  return [dst, src, 1];
}

/** Where a virtual server sends what it accepts: its pool's members (route domains dropped), or the routing table. */
export function nextHopOf(item: ItemLike, resolvePool: (pointer: unknown, where: string) => ItemLike, Err: ErrorClass): NextHop {
  const pool = item.obj.pool;
  if (pool === undefined) return { via: 'routing-table', gateways: [], virtualServer: item.path };
  const poolItem = resolvePool(typeof pool === 'string' ? { use: pool } : pool, `${item.path} pool`);
  const gateways = new Set<string>();
  const members = poolItem.obj.members;
  if (!Array.isArray(members)) throw new Err(`${poolItem.path}: a gateway pool needs members`);
  for (const m of members) {
    const addresses = isObject(m) ? m.serverAddresses : undefined;
    if (!Array.isArray(addresses)) throw new Err(`${poolItem.path}: only members with serverAddresses are modelled`);
    for (const a of addresses) {
      const ip = typeof a === 'string' ? tryParseIp(a.replace(/%\d+$/, '')) : undefined;
      if (!ip) throw new Err(`${poolItem.path}: member address ${JSON.stringify(a)} is not an IP address`);
      gateways.add(ip.text);
    }
  }
  return { via: 'gateways', gateways: [...gateways].sort(), virtualServer: item.path };
}
