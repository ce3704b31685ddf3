/**
 * IP address, CIDR and range parsing for firewall entries.
 *
 * Validation is strict (Node's `net.isIP`: no leading zeros, no shorthand IPv4, no zone IDs);
 * byte parsing and RFC 5952 formatting come from ipaddr.js. Addresses are kept as bigints so
 * the evaluators can test membership of CIDRs and ranges of both families uniformly.
 */
import * as net from 'node:net';
import * as ipaddr from 'ipaddr.js';
import { InvalidValueError, quote } from './errors';

export type IpFamily = 4 | 6;

export interface ParsedIp {
  readonly family: IpFamily;
  readonly value: bigint;
  /** Canonical text: dotted decimal, or RFC 5952 lower-case compressed IPv6. */
  readonly text: string;
}

/** An inclusive interval of addresses of one family: what CIDRs, ranges and addresses denote. */
export interface IpInterval {
  readonly family: IpFamily;
  readonly first: bigint;
  readonly last: bigint;
}

/** A parsed firewall address entry, with the canonical text AFM receives. */
export interface AddressEntry extends IpInterval {
  readonly kind: 'address' | 'cidr' | 'range';
  readonly text: string;
}

function bitsOf(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

function toBigInt(bytes: number[]): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** Parses one IP address; returns undefined when it is not a strictly valid IPv4/IPv6 address. */
export function tryParseIp(text: string): ParsedIp | undefined {
  if (typeof text !== 'string') return undefined;
  const family = net.isIP(text);
  if (family === 0 || text.includes('%')) return undefined;
  const addr = ipaddr.parse(text);
  return { family: family as IpFamily, value: toBigInt(addr.toByteArray()), text: addr.toString() };
}

/** Refuses what is not a string, for callers whose types are not checked. */
function requireText(text: unknown, example: string): asserts text is string {
  if (typeof text !== 'string') throw new InvalidValueError(quote(text), `expected a string such as ${example}`);
}

export function parseIp(text: string): ParsedIp {
  requireText(text, '"192.0.2.10"');
  const ip = tryParseIp(text);
  if (!ip) {
    throw new InvalidValueError(
      quote(text),
      text.includes('%')
        ? 'an address must not carry a zone or route-domain suffix; the route domain is set on the AfmDevice'
        : 'not a valid IPv4 or IPv6 address; write it like "192.0.2.10" or "2001:db8::10"',
    );
  }
  return ip;
}

export function formatIp(family: IpFamily, value: bigint): string {
  const bytes: number[] = [];
  const count = family === 4 ? 4 : 16;
  for (let i = count - 1; i >= 0; i--) bytes.push(Number((value >> BigInt(i * 8)) & 0xffn));
  return ipaddr.fromByteArray(bytes).toString();
}

/** Parses `a.b.c.d/len` or `x::/len`. Host bits must be zero: the fix is suggested, not applied. */
export function parseCidr(text: string): AddressEntry {
  requireText(text, '"198.51.100.0/24"');
  const slash = text.indexOf('/');
  if (slash < 0) {
    const ip = tryParseIp(text);
    const hint = ip ? ` Did you mean "${ip.text}/${bitsOf(ip.family)}"?` : '';
    throw new InvalidValueError(quote(text), `a CIDR needs a prefix length after "/".${hint}`);
  }
  const ip = tryParseIp(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!ip) {
    throw new InvalidValueError(
      quote(text),
      'the CIDR does not start with a valid IPv4 or IPv6 address; write it like "198.51.100.0/24" or "2001:db8::/32"',
    );
  }
  const bits = bitsOf(ip.family);
  // No leading zeros: some tools read "/010" as octal.
  if (!/^(0|[1-9]\d{0,2})$/.test(lenText) || Number(lenText) > bits) {
    throw new InvalidValueError(quote(text), `the prefix length must be a whole number from 0 to ${bits}, without leading zeros`);
  }
  const len = Number(lenText);
  const hostBits = BigInt(bits - len);
  const mask = ((1n << BigInt(bits)) - 1n) ^ ((1n << hostBits) - 1n);
  const network = ip.value & mask;
  if (network !== ip.value) {
    throw new InvalidValueError(
      quote(text),
      `host bits are set after the /${len} prefix. Did you mean "${formatIp(ip.family, network)}/${len}"?`,
    );
  }
  return {
    kind: 'cidr',
    family: ip.family,
    first: network,
    last: network | ((1n << hostBits) - 1n),
    text: `${ip.text}/${len}`,
  };
}

/** Parses an inclusive range `first-last` of one family. */
export function parseRange(first: string, last: string): AddressEntry {
  const a = parseIp(first);
  const b = parseIp(last);
  const text = `${first}-${last}`;
  if (a.family !== b.family) {
    throw new InvalidValueError(quote(text), 'both ends of a range must be of the same family (IPv4 or IPv6)');
  }
  if (a.value > b.value) {
    throw new InvalidValueError(quote(text), `the range is reversed. Did you mean "${b.text}-${a.text}"?`);
  }
  return { kind: 'range', family: a.family, first: a.value, last: b.value, text: `${a.text}-${b.text}` };
}

export function addressEntry(text: string): AddressEntry {
  const ip = parseIp(text);
  return { kind: 'address', family: ip.family, first: ip.value, last: ip.value, text: ip.text };
}

/** Parses any firewall address form: address, CIDR or `a-b` range. */
export function parseAddressEntry(text: string): AddressEntry {
  requireText(text, '"192.0.2.10", "198.51.100.0/24" or "10.0.0.1-10.0.0.9"');
  if (text.includes('/')) return parseCidr(text);
  const dash = text.indexOf('-');
  if (dash > 0) return parseRange(text.slice(0, dash), text.slice(dash + 1));
  return addressEntry(text);
}

export function intervalContains(interval: IpInterval, ip: ParsedIp): boolean {
  return interval.family === ip.family && ip.value >= interval.first && ip.value <= interval.last;
}

/** Appends a route-domain suffix (`10.0.0.0%2/24`) as AFM expects for non-default route domains. */
export function withRouteDomain(text: string, routeDomain: number): string {
  if (routeDomain === 0) return text;
  const slash = text.indexOf('/');
  if (slash >= 0) return `${text.slice(0, slash)}%${routeDomain}${text.slice(slash)}`;
  const dash = text.indexOf('-');
  if (dash > 0) return `${text.slice(0, dash)}%${routeDomain}-${text.slice(dash + 1)}%${routeDomain}`;
  return `${text}%${routeDomain}`;
}
