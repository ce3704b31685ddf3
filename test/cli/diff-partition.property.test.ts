/**
 * The diff's classes are a partition that no entry splits: any address (or port) matches exactly
 * the entries its class's representative matches, so one evaluation per class is exact.
 */
import fc from 'fast-check';
import { destinationClasses, portClasses, portSetText } from '../../lib/cli/diff/partition';
import { formatIp, parseAddressEntry } from '../../lib/policy/ip';
import type { PolicyModel } from '../../lib/policy/model';
import { policyArb } from '../support/arbitraries';

function addressEntries(m: PolicyModel): string[] {
  return [
    ...m.rules.flatMap((r) =>
      r.destinations.flatMap((d) => (d.kind === 'address' || d.kind === 'cidr' || d.kind === 'range' ? [d.text] : [])),
    ),
    ...m.externalServices.flatMap((es) => es.destinations.flatMap((d) => (d.kind === 'fqdn' ? [] : [d.text]))),
  ];
}

/** Addresses near every boundary of every entry, and a few anywhere. */
function probes(entries: readonly string[], family: 4 | 6, extra: readonly bigint[]): bigint[] {
  const max = family === 4 ? (1n << 32n) - 1n : (1n << 128n) - 1n;
  const out = new Set<bigint>([0n, max, ...extra.map((x) => x & max)]);
  for (const t of entries) {
    const e = parseAddressEntry(t);
    if (e.family !== family) continue;
    for (const v of [e.first - 1n, e.first, e.last, e.last + 1n]) if (v >= 0n && v <= max) out.add(v);
  }
  return [...out];
}

test('every address matches the same entries as the representative of its class', () => {
  fc.assert(
    fc.property(
      policyArb({ maxRules: 6 }),
      policyArb({ maxRules: 6 }),
      fc.array(fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }), { maxLength: 5 }),
      (a, b, extra) => {
        const entries = [...addressEntries(a), ...addressEntries(b)].map((t) => parseAddressEntry(t));
        const classes = destinationClasses([a, b], new Map()).filter((c) => c.intervals);
        for (const family of [4, 6] as const) {
          const mine = classes.filter((c) => c.family === family);
          // The classes cover the family without overlap.
          const intervals = mine.flatMap((c) => c.intervals ?? []).sort((x, y) => (x[0] < y[0] ? -1 : 1));
          expect(intervals[0][0]).toBe(0n);
          intervals.forEach((iv, i) => i > 0 && expect(iv[0]).toBe(intervals[i - 1][1] + 1n));
          for (const v of probes(
            entries.map((e) => e.text),
            family,
            extra,
          )) {
            const cls = mine.find((c) => (c.intervals ?? []).some(([lo, hi]) => v >= lo && v <= hi));
            expect(cls).toBeDefined();
            const rep = parseAddressEntry(cls!.ip as string).first;
            const matches = (x: bigint) =>
              entries
                .filter((e) => e.family === family && x >= e.first && x <= e.last)
                .map((e) => e.text)
                .sort();
            expect(matches(v)).toEqual(matches(rep));
          }
          expect(mine.some((c) => formatIp(family, parseAddressEntry(c.ip as string).first) === c.ip)).toBe(true);
        }
      },
    ),
    { numRuns: 60 },
  );
});

test('every port matches the same port entries as the representative of its class', () => {
  fc.assert(
    fc.property(
      policyArb({ maxRules: 6 }),
      policyArb({ maxRules: 6 }),
      fc.array(fc.integer({ min: 1, max: 65535 }), { maxLength: 5 }),
      (a, b, extra) => {
        const ports = [...a.rules, ...b.rules].flatMap((r) => r.ports);
        const classes = portClasses([a, b]);
        for (const protocol of new Set(ports.map((p) => p.protocol).filter((p) => ['tcp', 'udp', 'sctp'].includes(p)))) {
          const mine = classes.filter((c) => c.protocol === protocol);
          const probesList = new Set([
            1,
            65535,
            ...extra,
            ...ports
              .filter((p) => p.protocol === protocol && p.fromPort !== undefined)
              .flatMap((p) => [p.fromPort! - 1, p.fromPort!, p.toPort!, p.toPort! + 1]),
          ]);
          for (const port of [...probesList].filter((p) => p >= 1 && p <= 65535)) {
            const cls = mine.find((c) => (c.intervals ?? []).some(([lo, hi]) => port >= lo && port <= hi));
            expect(cls).toBeDefined();
            const matching = (x: number) =>
              ports
                .filter((p) => p.protocol === protocol && (p.fromPort === undefined || (x >= p.fromPort && x <= (p.toPort ?? p.fromPort))))
                .map((p) => `${p.fromPort}-${p.toPort}`)
                .sort();
            expect(matching(port)).toEqual(matching(cls!.port as number));
          }
        }
        expect(classes.filter((c) => c.protocolLabel === 'other')).toHaveLength(1);
      },
    ),
    { numRuns: 60 },
  );
});

test('port sets are written the short way', () => {
  expect(portSetText([[443, 443]])).toBe('443');
  expect(portSetText([[1, 65535]])).toBe('*');
  expect(
    portSetText([
      [1, 442],
      [444, 65535],
    ]),
  ).toBe('all but 443');
  expect(
    portSetText([
      [22, 22],
      [989, 990],
    ]),
  ).toBe('22,989-990');
});
