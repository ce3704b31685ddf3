/**
 * Destination and port classes of two policies: a finite partition of every (address or host
 * name, protocol, port) such that all members of a class match exactly the same address, FQDN
 * and port entries of both policies, so one representative per class stands for all of it.
 *
 * Addresses: the entries (addresses, CIDRs, ranges, and addresses of DNS answers) cut each
 * family into intervals; intervals covered by the same entries form one class. Host names: each
 * FQDN entry is a class (a wildcard by a name only it matches), evaluated per family with the
 * name's DNS answer or an address of the "covered by no specific entry" class, as `explain` does
 * for an unresolved name. Ports: per protocol the same interval cut over the port ranges; every
 * protocol that no rule names is one class.
 */
import { AddressEntry, formatIp, parseAddressEntry } from '../../policy/ip';
import type { PolicyModel, PortModel } from '../../policy/model';
import { PORTED_PROTOCOLS } from '../../policy/port';

export interface DestinationClass {
  /** Stable identity: `a4:<first>`, `f4:<name>`. */
  readonly id: string;
  readonly family: 4 | 6;
  /** What the class is: `198.51.100.0/24`, `0.0.0.0/0 except 203.0.113.0/24`, `api.stripe.com`. */
  readonly label: string;
  /** FQDN classes: the host name they stand for (without the family). */
  readonly name?: string;
  /** Representative address; absent for a host name when every address is covered by a specific entry. */
  readonly ip?: string;
  /** Representative host name (FQDN classes). */
  readonly host?: string;
  /** Addresses of an address class. */
  readonly intervals?: readonly (readonly [bigint, bigint])[];
  /** Sort order: addresses by family and value, then names. */
  readonly order: readonly [number, bigint, string];
}

export interface PortClass {
  readonly index: number;
  /** Representative protocol of a flow. */
  readonly protocol: string;
  /** `tcp`, or `other` for the class of every protocol no rule names. */
  readonly protocolLabel: string;
  readonly port?: number;
  /** Ports of the class (ported protocols). */
  readonly intervals?: readonly (readonly [number, number])[];
}

const MAX = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n } as const;

function addressTexts(model: PolicyModel): string[] {
  const out: string[] = [];
  for (const r of model.rules)
    for (const d of r.destinations) if (d.kind === 'address' || d.kind === 'cidr' || d.kind === 'range') out.push(d.text);
  for (const es of model.externalServices) for (const d of es.destinations) if (d.kind !== 'fqdn') out.push(d.text);
  return out;
}

function fqdnEntries(model: PolicyModel): { text: string; wildcard: boolean }[] {
  const out: { text: string; wildcard: boolean }[] = [];
  for (const r of model.rules) for (const d of r.destinations) if (d.kind === 'fqdn') out.push({ text: d.text, wildcard: d.wildcard });
  for (const es of model.externalServices)
    for (const d of es.destinations) if (d.kind === 'fqdn') out.push({ text: d.text, wildcard: d.wildcard });
  return out;
}

/** `a.b.c.d/n` when the interval is one CIDR, else `first-last` (or one address). */
export function intervalText(family: 4 | 6, first: bigint, last: bigint): string {
  if (first === last) return formatIp(family, first);
  const size = last - first + 1n;
  if ((size & (size - 1n)) === 0n && first % size === 0n) {
    const bits = family === 4 ? 32 : 128;
    let len = bits;
    for (let s = size; s > 1n; s >>= 1n) len--;
    return `${formatIp(family, first)}/${len}`;
  }
  return `${formatIp(family, first)}-${formatIp(family, last)}`;
}

/** The address classes of one family, and the representative of the class no specific entry covers. */
function addressClasses(
  family: 4 | 6,
  texts: readonly string[],
  dns: ReadonlyMap<string, readonly string[]>,
): { classes: DestinationClass[]; unlisted?: string } {
  // Addresses of DNS answers are entries too: FQDN entries match them.
  const byText = new Map<string, AddressEntry>();
  for (const text of [...texts, ...[...dns.values()].flat()]) {
    const e = parseAddressEntry(text);
    if (e.family === family && !byText.has(e.text)) byText.set(e.text, e);
  }
  const entries = [...byText.values()];
  const cuts = new Set<bigint>([0n, MAX[family] + 1n]);
  for (const e of entries) {
    cuts.add(e.first);
    cuts.add(e.last + 1n);
  }
  const points = [...cuts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const groups = new Map<string, { covering: AddressEntry[]; intervals: [bigint, bigint][] }>();
  for (let i = 0; i + 1 < points.length; i++) {
    const first = points[i];
    const last = points[i + 1] - 1n;
    const covering = entries.filter((e) => e.first <= first && e.last >= last);
    const key = covering
      .map((e) => e.text)
      .sort()
      .join(' ');
    const g = groups.get(key) ?? { covering, intervals: [] };
    g.intervals.push([first, last]);
    groups.set(key, g);
  }
  const classes: DestinationClass[] = [];
  let unlisted: string | undefined;
  for (const { covering, intervals } of groups.values()) {
    const [first] = intervals[0];
    // Prefer an address that is not the network address of the whole family.
    const rep = first === 0n && intervals[0][1] > 0n ? 1n : first;
    const ip = formatIp(family, rep);
    const specific = covering.filter((e) => !(e.first === 0n && e.last === MAX[family]));
    if (specific.length === 0 && unlisted === undefined) unlisted = ip;
    let label: string;
    if (covering.length === 0) {
      label = `other IPv${family} addresses`;
    } else {
      const lo = covering.reduce((m, e) => (e.first > m ? e.first : m), 0n);
      const hi = covering.reduce((m, e) => (e.last < m ? e.last : m), MAX[family]);
      const exact = covering.find((e) => e.first === lo && e.last === hi);
      const base = exact ? exact.text : intervalText(family, lo, hi);
      const inside = entries.filter((e) => !covering.includes(e) && e.last >= lo && e.first <= hi);
      const maximal = inside.filter(
        (e) => !inside.some((o) => o !== e && o.first <= e.first && o.last >= e.last && (o.first < e.first || o.last > e.last)),
      );
      maximal.sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
      const shown = maximal.slice(0, 3).map((e) => e.text);
      label = `${base}${maximal.length ? ` except ${shown.join(', ')}${maximal.length > 3 ? ` and ${maximal.length - 3} more` : ''}` : ''}`;
    }
    classes.push({ id: `a${family}:${first}`, family, label, ip, intervals, order: [family, first, ''] });
  }
  return { classes, ...(unlisted !== undefined ? { unlisted } : {}) };
}

/** Every destination class of two policies (and the DNS answers the comparison uses). */
export function destinationClasses(models: readonly PolicyModel[], dns: ReadonlyMap<string, readonly string[]>): DestinationClass[] {
  const texts = models.flatMap(addressTexts);
  const out: DestinationClass[] = [];
  const unlisted: Partial<Record<4 | 6, string>> = {};
  for (const family of [4, 6] as const) {
    const { classes, unlisted: u } = addressClasses(family, texts, dns);
    out.push(...classes);
    if (u !== undefined) unlisted[family] = u;
  }
  const fqdns = new Map<string, { text: string; wildcard: boolean }>();
  for (const f of models.flatMap(fqdnEntries)) fqdns.set(f.text, f);
  const exact = new Set([...fqdns.values()].filter((f) => !f.wildcard).map((f) => f.text));
  for (const f of [...fqdns.values()].sort((a, b) => (a.text < b.text ? -1 : 1))) {
    let host = f.text;
    if (f.wildcard) {
      const base = f.text.slice(2);
      host = ['any', 'other', 'x'].map((l) => `${l}.${base}`).find((h) => !exact.has(h)) ?? `x0.${base}`;
      for (let i = 1; exact.has(host); i++) host = `x${i}.${base}`;
    }
    for (const family of [4, 6] as const) {
      const answers = (dns.get(host) ?? []).filter((ip) => ip.includes(':') === (family === 6)).sort();
      const ip = answers[0] ?? unlisted[family];
      out.push({
        id: `f${family}:${f.text}`,
        family,
        label: f.text,
        name: f.text,
        host,
        ...(ip !== undefined ? { ip } : {}),
        order: [family === 4 ? 7 : 8, 0n, f.text],
      });
    }
  }
  return out;
}

/** Protocols that represent "a protocol no rule names", in order of preference. */
const OTHER_PROTOCOLS = ['gre', 'esp', 'ah', 'ospf', 'pim', 'vrrp', 'igmp', 'l2tp'];

/** Every port class of two policies. */
export function portClasses(models: readonly PolicyModel[]): PortClass[] {
  const ports: PortModel[] = models.flatMap((m) => m.rules.flatMap((r) => r.ports));
  const protocols = [...new Set(ports.map((p) => p.protocol).filter((p) => p !== 'any'))].sort();
  const out: PortClass[] = [];
  for (const protocol of protocols) {
    if (!PORTED_PROTOCOLS.has(protocol)) {
      out.push({ index: out.length, protocol, protocolLabel: protocol });
      continue;
    }
    const ranges = ports
      .filter((p) => p.protocol === protocol && p.fromPort !== undefined)
      .map((p) => [p.fromPort as number, (p.toPort ?? p.fromPort) as number] as const);
    const cuts = new Set([1, 65536]);
    for (const [a, b] of ranges) {
      cuts.add(a);
      cuts.add(b + 1);
    }
    const points = [...cuts].sort((a, b) => a - b);
    const groups = new Map<string, [number, number][]>();
    for (let i = 0; i + 1 < points.length; i++) {
      const a = points[i];
      const b = points[i + 1] - 1;
      const key = ranges
        .filter(([x, y]) => x <= a && y >= b)
        .map(([x, y]) => `${x}-${y}`)
        .sort()
        .join(' ');
      groups.set(key, [...(groups.get(key) ?? []), [a, b]]);
    }
    for (const intervals of groups.values())
      out.push({ index: out.length, protocol, protocolLabel: protocol, port: intervals[0][0], intervals });
  }
  const other = OTHER_PROTOCOLS.find((p) => !protocols.includes(p)) ?? 'xtp';
  out.push({ index: out.length, protocol: other, protocolLabel: 'other' });
  return out;
}

/** `443`, `22,989-990`, `*` (every port), `all but 443`: whichever is shorter. */
export function portSetText(intervals: readonly (readonly [number, number])[]): string {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [a, b] of sorted) {
    const last = merged[merged.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else merged.push([a, b]);
  }
  if (merged.length === 1 && merged[0][0] === 1 && merged[0][1] === 65535) return '*';
  const text = (xs: readonly (readonly [number, number])[]) => xs.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(',');
  const complement: [number, number][] = [];
  let next = 1;
  for (const [a, b] of merged) {
    if (a > next) complement.push([next, a - 1]);
    next = b + 1;
  }
  if (next <= 65535) complement.push([next, 65535]);
  return complement.length < merged.length || (complement.length === merged.length && text(complement).length < text(merged).length)
    ? `all but ${text(complement)}`
    : text(merged);
}
