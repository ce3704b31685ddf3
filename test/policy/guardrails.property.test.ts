/**
 * forbidCatchAll against an independent oracle: random sets of IPv4 and IPv6 pieces (CIDRs,
 * ranges, single addresses, some through an external service) spread over team rules of
 * several sources, on several ports, with noise that must not count (DENY rules, cluster
 * rules, other namespaces, other pod selectors). The guardrail fires for a family exactly when
 * some pod, on some port, is allowed every address of that family by the team rules that
 * apply to it. The oracle enumerates the pods and ports and tests coverage by recursive
 * halving of the address space, not by the sorted sweep the guardrail uses.
 */
import fc from 'fast-check';
import { buildGuardrailSet, catchAlls, guardrailViolations } from '../../lib/policy/guardrails';
import { formatIp, IpFamily } from '../../lib/policy/ip';
import type { ActionName, AddressModel, DestinationModel, ExternalServiceModel, Level, PortModel, RuleModel } from '../../lib/policy/model';

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };
const FULL: Record<IpFamily, bigint> = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n };

interface Piece {
  readonly family: IpFamily;
  readonly first: bigint;
  readonly last: bigint;
}

/** Cut points in 1..FULL, biased to the limits: the ends, the middle, powers of two and their neighbours. */
function cutArb(family: IpFamily): fc.Arbitrary<bigint> {
  const bits = BITS[family];
  const edge = fc.tuple(fc.integer({ min: 0, max: bits - 1 }), fc.constantFrom(-1n, 0n, 1n)).map(([k, d]) => (1n << BigInt(k)) + d);
  return fc
    .oneof(fc.bigInt({ min: 1n, max: FULL[family] }), edge, fc.constantFrom(1n, FULL[family]))
    .filter((c) => c >= 1n && c <= FULL[family]);
}

/** Pieces that tile the family, then maybe one piece dropped or trimmed by one address, plus random extras. */
function piecesArb(family: IpFamily): fc.Arbitrary<Piece[]> {
  return fc
    .tuple(
      fc.uniqueArray(cutArb(family), { maxLength: 6, selector: (c) => c.toString() }),
      fc.constantFrom('whole', 'drop', 'trimStart', 'trimEnd'),
      fc.nat(),
      fc.array(fc.tuple(cutArb(family), cutArb(family)), { maxLength: 2 }),
    )
    .map(([cuts, mutation, at, extras]) => {
      const points = [0n, ...[...cuts].sort((a, b) => (a < b ? -1 : 1)), FULL[family] + 1n];
      const pieces: Piece[] = [];
      for (let i = 0; i + 1 < points.length; i++) pieces.push({ family, first: points[i], last: points[i + 1] - 1n });
      const i = at % pieces.length;
      const p = pieces[i];
      if (mutation === 'drop') pieces.splice(i, 1);
      else if (mutation === 'trimStart' && p.first < p.last) pieces[i] = { ...p, first: p.first + 1n };
      else if (mutation === 'trimEnd' && p.first < p.last) pieces[i] = { ...p, last: p.last - 1n };
      for (const [a, b] of extras) pieces.push({ family, first: a < b ? a : b, last: a < b ? b : a });
      return pieces;
    });
}

/** CIDR texts that together make exactly [first, last]. */
function cidrs(p: Piece): string[] {
  const bits = BigInt(BITS[p.family]);
  const out: string[] = [];
  let at = p.first;
  while (at <= p.last) {
    let size = 0n;
    while (size < bits && at % (1n << (size + 1n)) === 0n && at + (1n << (size + 1n)) - 1n <= p.last) size++;
    out.push(`${formatIp(p.family, at)}/${bits - size}`);
    at += 1n << size;
  }
  return out;
}

function addressModels(p: Piece, asCidrs: boolean): AddressModel[] {
  if (asCidrs) return cidrs(p).map((text) => ({ kind: 'cidr', text, family: p.family }));
  if (p.first === p.last) return [{ kind: 'address', text: formatIp(p.family, p.first), family: p.family }];
  return [{ kind: 'range', text: `${formatIp(p.family, p.first)}-${formatIp(p.family, p.last)}`, family: p.family }];
}

/** Where a piece can land: team sources that combine, team sources that do not, and noise. */
interface Slot {
  readonly level: Level;
  readonly namespace?: string;
  readonly service?: string;
  readonly labels?: Record<string, string>;
  readonly action: ActionName;
}
const SLOTS: readonly Slot[] = [
  { level: 'namespace', namespace: 'a', labels: { app: 'x' }, action: 'ALLOW' },
  { level: 'namespace', namespace: 'a', labels: { app: 'x' }, action: 'ALLOW_FINAL' },
  { level: 'namespace', namespace: 'a', action: 'ALLOW' },
  { level: 'namespace', namespace: 'a', labels: { app: 'y' }, action: 'ALLOW' },
  { level: 'namespace', namespace: 'a', labels: { app: 'x', tier: 'web' }, action: 'ALLOW' },
  { level: 'service', namespace: 'a', service: 's', action: 'ALLOW' },
  { level: 'namespace', namespace: 'a', labels: { app: 'x' }, action: 'DENY' },
  { level: 'service', namespace: 'a', service: 's', action: 'REJECT' },
  { level: 'namespace', namespace: 'b', labels: { app: 'x' }, action: 'ALLOW' },
  { level: 'cluster', action: 'ALLOW' },
];

const PORT_SETS: readonly PortModel[][] = [
  [],
  [{ protocol: 'tcp', fromPort: 443, toPort: 443 }],
  [{ protocol: 'tcp', fromPort: 80, toPort: 443 }],
  [{ protocol: 'udp', fromPort: 53, toPort: 53 }],
  [{ protocol: 'tcp' }],
  [
    { protocol: 'tcp', fromPort: 443, toPort: 443 },
    { protocol: 'udp', fromPort: 53, toPort: 53 },
  ],
  [{ protocol: 'any' }],
];
/** One port in each segment the port sets above cut the port space into, and one other protocol. */
const PROBES: readonly { protocol: string; port?: number }[] = [
  ...[1, 79, 80, 81, 442, 443, 444, 65535].map((port) => ({ protocol: 'tcp', port })),
  ...[1, 52, 53, 54, 65535].map((port) => ({ protocol: 'udp', port })),
  { protocol: 'icmp' },
];

function allowsProbe(ports: readonly PortModel[], probe: { protocol: string; port?: number }): boolean {
  if (ports.length === 0) return true;
  return ports.some(
    (p) =>
      p.protocol === 'any' ||
      (p.protocol === probe.protocol &&
        (p.fromPort === undefined || (probe.port !== undefined && p.fromPort <= probe.port && probe.port <= (p.toPort as number)))),
  );
}

/** Recursive halving: is every address in [lo, hi] in one of the intervals? */
function covered(intervals: readonly Piece[], lo: bigint, hi: bigint): boolean {
  const touching = intervals.filter((i) => i.first <= hi && i.last >= lo);
  if (touching.length === 0) return false;
  if (touching.some((i) => i.first <= lo && hi <= i.last)) return true;
  if (lo === hi) return false;
  const mid = lo + (hi - lo) / 2n;
  return covered(touching, lo, mid) && covered(touching, mid + 1n, hi);
}

interface Scenario {
  readonly rules: RuleModel[];
  readonly externalServices: ExternalServiceModel[];
  /** Per rule: its pieces (external services included), for the oracle. */
  readonly pieces: Map<RuleModel, Piece[]>;
}

const placedArb = fc.array(fc.tuple(fc.nat(SLOTS.length - 1), fc.boolean()), { minLength: 30, maxLength: 30 });

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    v4: piecesArb(4),
    v6: piecesArb(6),
    placement: placedArb,
    // Group sources get more pieces than noise, so that covers form often.
    bias: fc.array(fc.nat(5), { minLength: 30, maxLength: 30 }),
    ports: fc.array(fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 4, arbitrary: fc.nat(PORT_SETS.length - 1) }), {
      minLength: SLOTS.length,
      maxLength: SLOTS.length,
    }),
    viaService: fc.boolean(),
  })
  .map(({ v4, v6, placement, bias, ports, viaService }) => {
    const bySlot = new Map<number, { models: AddressModel[]; pieces: Piece[] }>();
    [...v4, ...v6].forEach((piece, i) => {
      const [slot, asCidrs] = placement[i % placement.length];
      const target = bias[i % bias.length] < 4 ? slot % 6 : slot;
      const entry = bySlot.get(target) ?? { models: [], pieces: [] };
      bySlot.set(target, entry);
      entry.models.push(...addressModels(piece, asCidrs));
      entry.pieces.push(piece);
    });
    const rules: RuleModel[] = [];
    const externalServices: ExternalServiceModel[] = [];
    const pieces = new Map<RuleModel, Piece[]>();
    for (const [index, { models, pieces: ps }] of [...bySlot.entries()].sort((a, b) => a[0] - b[0])) {
      const slot = SLOTS[index];
      let destinations: DestinationModel[] = models;
      if (viaService && index === 0) {
        externalServices.push({ name: 'es0', path: 'test/es0', destinations: models });
        destinations = [
          { kind: 'externalService', name: 'es0' },
          { kind: 'fqdn', text: 'api.example.com', wildcard: false },
        ];
      }
      const rule: RuleModel = {
        level: slot.level,
        name: `r${index}`,
        namespace: slot.namespace,
        path: `test/r${index}`,
        action: slot.action,
        priority: 500,
        source:
          slot.level === 'cluster'
            ? { level: 'cluster' }
            : slot.level === 'namespace'
              ? {
                  level: 'namespace',
                  namespace: slot.namespace,
                  podSelector: slot.labels && { matchLabels: slot.labels, matchExpressions: [] },
                }
              : { level: 'service', namespace: slot.namespace, service: slot.service },
        destinations,
        ports: PORT_SETS[ports[index]],
        logging: false,
        audit: false,
        metadata: {},
      };
      rules.push(rule);
      pieces.set(rule, ps);
    }
    return { rules, externalServices, pieces };
  });

/** Pods the scenario's team rules certainly apply to: one per pod label set used, one per Service. */
function pods(rules: readonly RuleModel[]): { namespace: string; labels?: Record<string, string>; service?: string }[] {
  const out = new Map<string, { namespace: string; labels?: Record<string, string>; service?: string }>();
  for (const r of rules) {
    if (r.level === 'namespace') {
      const labels = r.source.podSelector?.matchLabels ?? {};
      out.set(JSON.stringify([r.namespace, labels]), { namespace: r.namespace as string, labels });
    } else if (r.level === 'service') {
      out.set(JSON.stringify([r.namespace, r.source.service]), { namespace: r.namespace as string, service: r.source.service });
    }
  }
  return [...out.values()];
}

/** The families some pod may reach entirely, on some port, through team ALLOW/ALLOW_FINAL rules. */
function oracle(s: Scenario): Set<IpFamily> {
  const out = new Set<IpFamily>();
  for (const pod of pods(s.rules)) {
    const applying = s.rules.filter((r) => {
      if (r.action !== 'ALLOW' && r.action !== 'ALLOW_FINAL') return false;
      if (r.level === 'service') return pod.service !== undefined && r.namespace === pod.namespace && r.source.service === pod.service;
      if (r.level !== 'namespace' || r.namespace !== pod.namespace) return false;
      const wanted = r.source.podSelector?.matchLabels ?? {};
      const has = pod.labels ?? {};
      return Object.entries(wanted).every(([k, v]) => has[k] === v);
    });
    for (const probe of PROBES) {
      const reach = applying.filter((r) => allowsProbe(r.ports, probe)).flatMap((r) => s.pieces.get(r) as Piece[]);
      for (const family of [4, 6] as const) {
        if (
          covered(
            reach.filter((p) => p.family === family),
            0n,
            FULL[family],
          )
        )
          out.add(family);
      }
    }
  }
  return out;
}

test('forbidCatchAll fires for a family exactly when some source is allowed every address of it on some port', () => {
  const set = buildGuardrailSet({});
  let fired = 0;
  let quiet = 0;
  fc.assert(
    fc.property(scenarioArb, (s) => {
      const found = catchAlls(s.rules, s.externalServices);
      const expected = oracle(s);
      expect(new Set(found.map((c) => c.family))).toEqual(expected);
      if (expected.size) fired++;
      else quiet++;
      // Each reported cover is real: allowing team rules whose pieces cover the family.
      for (const c of found) {
        for (const r of c.rules) {
          expect(r.level).not.toBe('cluster');
          expect(['ALLOW', 'ALLOW_FINAL']).toContain(r.action);
        }
        const union = c.rules.flatMap((r) => (s.pieces.get(r) as Piece[]).filter((p) => p.family === c.family));
        expect(covered(union, 0n, FULL[c.family])).toBe(true);
        if (c.source) expect(c.rules.length).toBeGreaterThan(1);
      }
      // …and every rule of a cover carries the violation.
      const violations = guardrailViolations(set, s.rules, s.externalServices);
      const blamed = [...violations].filter(([, vs]) => vs.some((v) => v.guardrail === 'forbidCatchAll')).map(([path]) => path);
      expect(blamed.sort()).toEqual([...new Set(found.flatMap((c) => c.rules.map((r) => r.path)))].sort());
    }),
    { numRuns: 300 },
  );
  // The generator reaches both outcomes often enough for the property to mean something.
  expect(fired).toBeGreaterThan(30);
  expect(quiet).toBeGreaterThan(30);
});

test('the CIDR decomposition the property relies on is exact', () => {
  expect(cidrs({ family: 4, first: 0n, last: FULL[4] })).toEqual(['0.0.0.0/0']);
  expect(cidrs({ family: 4, first: 1n, last: 6n })).toEqual(['0.0.0.1/32', '0.0.0.2/31', '0.0.0.4/31', '0.0.0.6/32']);
  expect(cidrs({ family: 6, first: 1n << 127n, last: FULL[6] })).toEqual(['8000::/1']);
});
