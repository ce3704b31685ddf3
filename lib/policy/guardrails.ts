/**
 * Guardrails: an envelope the security team states once, that namespace and service rules
 * (the teams' rules) must stay inside, and a reservation of the cluster level for the security
 * team. Pure checks; the `EgressGuardrails` aspect applies them to the construct tree at synth.
 */
import { z } from 'zod';
import { isEgressDestination } from './destination';
import { EgressPolicyError, InvalidValueError, PolicyIssue, quote } from './errors';
import { fqdnMatches, parseFqdn } from './fqdn';
import { IpFamily, IpInterval, parseAddressEntry } from './ip';
import type { AddressModel, ExternalServiceModel, FqdnModel, PortModel, RuleModel, SelectorModel } from './model';
import { isEmptySelector } from './model';
import { isEgressPort } from './port';
import { PRIORITY_MAX, PRIORITY_MIN, describeValue, isConstructLike, parseOrThrow, struct, valueObjectArray } from './schema';
import { EXPIRY_WARNING_DAYS_DEFAULT } from './schedule';
import { readStruct } from './struct';

export interface GuardrailSet {
  /** Name used in messages. */
  readonly name: string;
  /** Violations warn instead of failing synth. */
  readonly warnOnly: boolean;
  readonly forbidCatchAll: boolean;
  readonly forbidWildcardFqdns: boolean;
  readonly allowedDestinations?: readonly (AddressModel | FqdnModel)[];
  readonly allowedPorts?: readonly PortModel[];
  readonly maxRulesPerNamespace?: number;
  readonly requireOwner: boolean;
  readonly requireTicket: boolean;
  readonly requireJustification: boolean;
  /** Construct paths under which cluster rules may be declared; undefined: anywhere. */
  readonly clusterRuleScopes?: readonly string[];
  /** Cluster-rule priorities from 0 to this value are reserved for `emergencyRuleScopes`. */
  readonly emergencyPriorityMax?: number;
  /** Construct paths whose cluster rules may use the reserved priorities. */
  readonly emergencyRuleScopes?: readonly string[];
  /** An expired rule fails synth (otherwise it warns; it is never enforced either way). */
  readonly failExpiredRules: boolean;
  /** Days ahead of `expiresAt` from which synth warns. */
  readonly expiryWarningDays: number;
}

export interface GuardrailViolation {
  readonly guardrail: string;
  readonly message: string;
}

const GUARDRAILS_NAME_DEFAULT = 'egress guardrails';
const NAME_MAX = 64;

// ---------------------------------------------------------------------------------------------
// Props: strict, so that a misspelled guardrail (`forbidCatchall`) fails instead of silently
// switching itself off.

/** Text that says something: at least one letter or digit (`'   '` or `'-'` names no one). */
function hasContent(text: string | undefined): boolean {
  return text !== undefined && /[\p{L}\p{N}]/u.test(text);
}

const flag = z.boolean({
  error: (issue) =>
    issue.input === 'true' || issue.input === 'false'
      ? `expected the boolean ${issue.input}, not a string; write ${issue.input} without quotes`
      : 'expected true or false',
});

const nameSchema = z.string({ error: 'expected a string' }).superRefine((v, ctx) => {
  if (v.length > NAME_MAX || !hasContent(v) || /\p{Cc}/u.test(v)) {
    ctx.addIssue({
      code: 'custom',
      message: `must be 1 to ${NAME_MAX} characters with at least one letter or digit and no control characters`,
    });
  }
});

const wholeNumber = (min: number, max: number, message: string) =>
  z.number({ error: message }).superRefine((v, ctx) => {
    if (!Number.isInteger(v) || v < min || v > max) ctx.addIssue({ code: 'custom', message });
  });

const envelopeSchema = valueObjectArray(
  isEgressDestination,
  (d): AddressModel | FqdnModel => {
    // An envelope is the security team's own list; a reference would let a team's
    // ExternalService widen it.
    if (d.externalServiceRef !== undefined) {
      throw new InvalidValueError(describeValue(d), 'list addresses and names directly; an envelope cannot refer to an external service');
    }
    return d._toModel() as AddressModel | FqdnModel;
  },
  'EgressDestination',
  'EgressDestination.cidr("10.0.0.0/8")',
);

const portsSchema = valueObjectArray(isEgressPort, (p) => p._toModel(), 'EgressPort', 'EgressPort.HTTPS');

/** `security`, `platform/security`: a construct path (the app itself has no segment). */
function scopePathProblem(path: string): string | undefined {
  if (path.trim() !== path || path === '' || path.startsWith('/') || path.endsWith('/') || path.includes('//')) {
    return 'must be a construct path such as "security" (a stack) or "platform/security" (a construct in stack platform): node.path of the scope, no leading, trailing or double "/"';
  }
  return undefined;
}

const scopePathsSchema = z.unknown().transform((items, ctx): string[] => {
  const example = '["security"]';
  if (!Array.isArray(items)) {
    ctx.addIssue({
      code: 'custom',
      message: `expected an array of construct paths, such as ${example}`,
      params: { quotedValue: describeValue(items) },
    });
    return [];
  }
  items.forEach((item, i) => {
    if (typeof item === 'string') {
      const problem = scopePathProblem(item);
      if (problem) ctx.addIssue({ code: 'custom', path: [i], message: problem, params: { quotedValue: quote(item) } });
    } else {
      const hint = isConstructLike(item) && item.node.path ? `; pass its node.path, here "${item.node.path}"` : ', such as "security"';
      ctx.addIssue({
        code: 'custom',
        path: [i],
        message: `expected a construct path (a string)${hint}`,
        params: { quotedValue: describeValue(item) },
      });
    }
  });
  return items as string[];
});

const RESERVED_MAX = PRIORITY_MAX - 1;
const EXPIRY_WARNING_DAYS_MAX = 3660;

const PROPS_HINTS = {
  what: 'EgressGuardrails',
  misplaced: {
    destinations: 'the envelope is allowedDestinations',
    ports: 'the allowed ports are allowedPorts',
    warnOnly: 'use mode: GuardrailMode.WARN',
    enforce: 'use mode: GuardrailMode.ENFORCE or GuardrailMode.WARN',
    priority: 'guardrails have no priority; to reserve cluster-rule priorities use emergencyPriorityMax with emergencyRuleScopes',
    owner: 'guardrails require owners with requireOwner: true; the owner is a prop of each rule',
    ticket: 'guardrails require tickets with requireTicket: true; the ticket is a prop of each rule',
    justification: 'guardrails require justifications with requireJustification: true; the justification is a prop of each rule',
  },
};

const guardrailPropsSchema = struct(
  z.strictObject({
    name: nameSchema.optional(),
    mode: z.enum(['ENFORCE', 'WARN'], { error: 'must be GuardrailMode.ENFORCE or GuardrailMode.WARN' }).optional(),
    forbidCatchAll: flag.optional(),
    forbidWildcardFqdns: flag.optional(),
    allowedDestinations: envelopeSchema.optional(),
    allowedPorts: portsSchema.optional(),
    maxRulesPerNamespace: wholeNumber(1, Number.MAX_SAFE_INTEGER, 'must be a whole number of at least 1').optional(),
    requireOwner: flag.optional(),
    requireTicket: flag.optional(),
    requireJustification: flag.optional(),
    clusterRuleScopes: scopePathsSchema.optional(),
    emergencyPriorityMax: wholeNumber(
      PRIORITY_MIN,
      RESERVED_MAX,
      `must be a whole number from ${PRIORITY_MIN} to ${RESERVED_MAX}: cluster-rule priorities ${PRIORITY_MIN} to this value are reserved`,
    ).optional(),
    emergencyRuleScopes: scopePathsSchema.optional(),
    expiredRules: z.enum(['FAIL', 'WARN'], { error: 'must be ExpiredRuleMode.FAIL or ExpiredRuleMode.WARN' }).optional(),
    expiryWarningDays: wholeNumber(
      0,
      EXPIRY_WARNING_DAYS_MAX,
      `must be a whole number of days from 0 to ${EXPIRY_WARNING_DAYS_MAX}`,
    ).optional(),
  }),
  // Read as a struct: own keys only, so a value another program put on Object.prototype (a
  // forbidCatchAll: false, a mode: "WARN") never switches a guardrail off.
  { ...PROPS_HINTS, expected: 'the props of EgressGuardrails, an object such as { name: "security baseline", requireOwner: true }' },
);

/** Where messages about a guardrail set point: its name when it has a usable one. */
export function guardrailSetPath(props: unknown): string {
  const name = typeof props === 'object' && props !== null ? readStruct(props, '').data?.name : undefined;
  if (name === undefined) return `guardrails "${GUARDRAILS_NAME_DEFAULT}"`;
  return typeof name === 'string' && !nameSchema.safeParse(name).error ? `guardrails "${name}"` : 'guardrails';
}

/**
 * Validates EgressGuardrails props as plain JS and jsii callers may pass them (unknown keys,
 * strings for booleans or arrays, null) and builds the guardrail set; throws one
 * {@link EgressPolicyError} naming every problem.
 */
export function buildGuardrailSet(props: unknown): GuardrailSet {
  const path = guardrailSetPath(props);
  const p = parseOrThrow(guardrailPropsSchema, props as object, path, PROPS_HINTS);
  const set: GuardrailSet = {
    name: p.name ?? GUARDRAILS_NAME_DEFAULT,
    warnOnly: p.mode === 'WARN',
    forbidCatchAll: p.forbidCatchAll ?? true,
    forbidWildcardFqdns: p.forbidWildcardFqdns ?? false,
    allowedDestinations: p.allowedDestinations,
    allowedPorts: p.allowedPorts,
    maxRulesPerNamespace: p.maxRulesPerNamespace,
    requireOwner: p.requireOwner ?? false,
    requireTicket: p.requireTicket ?? false,
    requireJustification: p.requireJustification ?? false,
    clusterRuleScopes: p.clusterRuleScopes,
    emergencyPriorityMax: p.emergencyPriorityMax,
    emergencyRuleScopes: p.emergencyRuleScopes,
    failExpiredRules: p.expiredRules === 'FAIL',
    expiryWarningDays: p.expiryWarningDays ?? EXPIRY_WARNING_DAYS_DEFAULT,
  };
  validateGuardrailSet(set, path);
  return set;
}

/** Checks a valid guardrail set for contradictions; throws one issue per contradiction. */
function validateGuardrailSet(set: GuardrailSet, path: string): void {
  const issues: PolicyIssue[] = [];
  const envelope = set.allowedDestinations ?? [];
  if (set.forbidCatchAll) {
    for (const family of [4, 6] as const) {
      const witness = coveringSubset(
        envelope.filter((d): d is AddressModel => d.kind !== 'fqdn').map((d) => ({ ...interval(d), owner: d.text })),
        family,
      );
      if (witness) {
        issues.push({
          path,
          field: 'allowedDestinations',
          value: quote(listed(witness.map((w) => w.owner))),
          message: `contradicts forbidCatchAll: ${witness.length > 1 ? 'together these cover' : 'this covers'} every address, so the envelope would allow what the guardrail forbids; narrow the envelope or allow catch-alls`,
        });
      }
    }
  }
  for (const d of envelope) {
    if (set.forbidWildcardFqdns && d.kind === 'fqdn' && d.wildcard) {
      issues.push({
        path,
        field: 'allowedDestinations',
        value: quote(d.text),
        message: 'contradicts forbidWildcardFqdns: remove the wildcard from the envelope or allow wildcards',
      });
    }
  }
  if (set.allowedPorts && set.allowedPorts.length === 0) {
    issues.push({
      path,
      field: 'allowedPorts',
      value: '[]',
      message: 'an empty port set forbids every team rule; list the allowed ports or leave allowedPorts out',
    });
  }
  if (set.allowedDestinations && set.allowedDestinations.length === 0) {
    issues.push({
      path,
      field: 'allowedDestinations',
      value: '[]',
      message: 'an empty envelope forbids every team rule; list the allowed destinations or leave allowedDestinations out',
    });
  }
  if (set.clusterRuleScopes && set.clusterRuleScopes.length === 0) {
    issues.push({
      path,
      field: 'clusterRuleScopes',
      value: '[]',
      message:
        'an empty list forbids every cluster rule; list the construct paths that may declare cluster rules, or leave clusterRuleScopes out',
    });
  }
  if (set.emergencyPriorityMax !== undefined && !set.emergencyRuleScopes?.length) {
    issues.push({
      path,
      field: 'emergencyPriorityMax',
      value: quote(set.emergencyPriorityMax),
      message: `reserves cluster-rule priorities ${PRIORITY_MIN} to ${set.emergencyPriorityMax}, but no emergencyRuleScopes may use them; list the construct paths of the emergency rules in emergencyRuleScopes`,
    });
  }
  if (set.emergencyRuleScopes !== undefined && set.emergencyPriorityMax === undefined) {
    issues.push({
      path,
      field: 'emergencyRuleScopes',
      value: quote(set.emergencyRuleScopes),
      message: 'names who may use the reserved priorities, but none are reserved; set emergencyPriorityMax (the last reserved priority)',
    });
  }
  if (issues.length) throw new EgressPolicyError(issues);
}

// ---------------------------------------------------------------------------------------------
// Interval arithmetic

const FULL: Record<IpFamily, bigint> = { 4: (1n << 32n) - 1n, 6: (1n << 128n) - 1n };

function interval(a: AddressModel): IpInterval {
  return parseAddressEntry(a.text);
}

/** An address interval and what it came from (a rule, a destination text). */
interface OwnedInterval<T> extends IpInterval {
  readonly owner: T;
}

/**
 * A smallest set of the given intervals that together cover every address of `family`, or
 * undefined when their union leaves a gap. Greedy sweep over the intervals sorted by first
 * address, always taking the one that reaches furthest: O(n log n), and the result has the
 * fewest intervals any cover can have. Ties keep the input order, so the result is stable.
 */
function coveringSubset<T>(intervals: readonly OwnedInterval<T>[], family: IpFamily): OwnedInterval<T>[] | undefined {
  const sorted = intervals
    .map((iv, index) => ({ iv, index }))
    .filter(({ iv }) => iv.family === family)
    .sort((x, y) => (x.iv.first < y.iv.first ? -1 : x.iv.first > y.iv.first ? 1 : x.index - y.index))
    .map(({ iv }) => iv);
  const chosen: OwnedInterval<T>[] = [];
  let next = 0n;
  let i = 0;
  while (next <= FULL[family]) {
    let best: OwnedInterval<T> | undefined;
    for (; i < sorted.length && sorted[i].first <= next; i++) if (!best || sorted[i].last > best.last) best = sorted[i];
    if (!best || best.last < next) return undefined;
    chosen.push(best);
    next = best.last + 1n;
  }
  return chosen;
}

/** Merged, sorted intervals of one family. */
function merge(intervals: readonly IpInterval[]): IpInterval[] {
  const sorted = [...intervals].sort((x, y) => (x.first < y.first ? -1 : x.first > y.first ? 1 : 0));
  const out: IpInterval[] = [];
  for (const i of sorted) {
    const last = out[out.length - 1];
    if (last && i.first <= last.last + 1n) out[out.length - 1] = { ...last, last: i.last > last.last ? i.last : last.last };
    else out.push(i);
  }
  return out;
}

/** Whether `i` lies inside one of the merged, sorted `envelope` intervals (binary search). */
function insideMerged(i: IpInterval, envelope: readonly IpInterval[]): boolean {
  let lo = 0;
  let hi = envelope.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (envelope[mid].last < i.first) lo = mid + 1;
    else if (envelope[mid].first > i.first) hi = mid - 1;
    else return i.last <= envelope[mid].last;
  }
  return false;
}

function fqdnInside(f: FqdnModel, envelope: readonly FqdnModel[]): boolean {
  return envelope.some((e) =>
    f.wildcard ? e.text === f.text : e.text === f.text || (e.wildcard && fqdnMatches(parseFqdn(e.text), f.text)),
  );
}

function portInside(p: PortModel, allowed: readonly PortModel[]): boolean {
  if (allowed.some((a) => a.protocol === 'any')) return true;
  if (p.protocol === 'any') return false;
  if (allowed.some((a) => a.protocol === p.protocol && a.fromPort === undefined)) return true;
  if (p.fromPort === undefined) return false;
  const ranges = allowed
    .filter((a) => a.protocol === p.protocol)
    .map((a) => [a.fromPort as number, a.toPort as number])
    .sort((x, y) => x[0] - y[0]);
  // Walk the sorted ranges to see that [fromPort, toPort] is covered without a gap.
  let next = p.fromPort;
  for (const [from, to] of ranges) {
    if (from > next) break;
    if (to >= next) next = to + 1;
    if (next > (p.toPort as number)) return true;
  }
  return false;
}

function listed(items: readonly string[], max = 4): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

// ---------------------------------------------------------------------------------------------
// Catch-all: the union of what team rules allow one source

const PORT_MIN = 1;
const PORT_MAX = 65535;

/** A slice of the port space in which every rule either allows every port or none. */
interface PortSegment {
  /** undefined: the protocols no rule of the group names (only any-protocol rules reach them). */
  readonly protocol?: string;
  readonly from: number;
  readonly to: number;
}

function allowsSegment(rule: RuleModel, s: PortSegment): boolean {
  if (rule.ports.length === 0) return true;
  return rule.ports.some(
    (p) =>
      p.protocol === 'any' ||
      (s.protocol !== undefined &&
        p.protocol === s.protocol &&
        (p.fromPort === undefined || (p.fromPort <= s.from && s.to <= (p.toPort as number)))),
  );
}

/**
 * The elementary port segments of a group: cut at every range boundary of every rule, so that
 * each rule allows a segment entirely or not at all. The any-protocol segment comes first, so
 * that a cover made of any-port rules is reported without a port.
 */
function portSegments(rules: readonly RuleModel[]): PortSegment[] {
  const cuts = new Map<string, Set<number>>();
  for (const r of rules) {
    for (const p of r.ports) {
      if (p.protocol === 'any') continue;
      const set = cuts.get(p.protocol) ?? new Set([PORT_MIN, PORT_MAX + 1]);
      cuts.set(p.protocol, set);
      if (p.fromPort !== undefined) set.add(p.fromPort).add((p.toPort as number) + 1);
    }
  }
  const segments: PortSegment[] = [{ from: PORT_MIN, to: PORT_MAX }];
  for (const protocol of [...cuts.keys()].sort()) {
    const points = [...(cuts.get(protocol) as Set<number>)].sort((a, b) => a - b);
    for (let i = 0; i + 1 < points.length; i++) segments.push({ protocol, from: points[i], to: points[i + 1] - 1 });
  }
  return segments;
}

function segmentText(s: PortSegment): string {
  if (s.protocol === undefined) return '';
  if (s.from === PORT_MIN && s.to === PORT_MAX) return ` on ${s.protocol}`;
  return ` on ${s.protocol}/${s.from}${s.to !== s.from ? `-${s.to}` : ''}`;
}

function selectorText(s: SelectorModel): string {
  const parts = Object.entries(s.matchLabels).map(([k, v]) => `${k}=${v}`);
  for (const e of s.matchExpressions) {
    if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
    else parts.push(`${e.key} ${e.operator.toLowerCase()} (${e.values.join(', ')})`);
  }
  return parts.join(', ');
}

/** The requirements of a selector, each as a comparable string; a pod must meet all of them. */
function requirements(s: SelectorModel | undefined): string[] {
  if (!s) return [];
  return [
    ...Object.entries(s.matchLabels).map(([k, v]) => `L${JSON.stringify([k, v])}`),
    ...s.matchExpressions.map((e) => `E${JSON.stringify([e.key, e.operator, e.values])}`),
  ].sort();
}

/** Pods one or more team rules certainly apply to, and those rules. */
interface SourceGroup {
  /** `pods of namespace "web" with app=x`, for messages. */
  readonly source: string;
  /**
   * The namespace's rules without a pod selector, which apply to every source of the
   * namespace; the same array for every group of one namespace.
   */
  readonly shared: readonly RuleModel[];
  /** The other rules of the source. */
  readonly own: readonly RuleModel[];
}

/** Every non-empty subset of `items`, each in the order of `items`. */
function nonEmptySubsets<T>(items: readonly T[]): T[][] {
  const out: T[][] = [[]];
  for (const item of items) for (let i = out.length - 1; i >= 0; i--) out.push([...out[i], item]);
  return out.slice(1);
}

/**
 * The sources of the catch-all union. One source is:
 * - the pods of a namespace selected by one pod selector S (selectors compared after
 *   normalization): the namespace rules of that namespace whose selector is S, or whose
 *   requirements are a subset of S's (no selector at all, or fewer labels), because those
 *   certainly apply to the same pods;
 * - the pods of one Service: its service rules and the namespace rules of its namespace
 *   without a pod selector.
 * Rules whose pod sets may overlap but need not (different labels, a Service's selector
 * against a pod selector) are not combined: that would depend on labels only known at run time.
 */
function sourceGroups(rules: readonly RuleModel[]): SourceGroup[] {
  const byNamespace = new Map<string, Map<string, { reqs: string[]; selector?: SelectorModel; rules: RuleModel[] }>>();
  const byService = new Map<string, RuleModel[]>();
  for (const rule of rules) {
    const ns = rule.namespace as string;
    if (rule.level === 'namespace') {
      const selectors = byNamespace.get(ns) ?? new Map();
      byNamespace.set(ns, selectors);
      const reqs = requirements(rule.source.podSelector);
      const key = reqs.join('\n');
      const entry = selectors.get(key) ?? { reqs, selector: rule.source.podSelector, rules: [] };
      selectors.set(key, entry);
      entry.rules.push(rule);
    } else if (rule.level === 'service') {
      const key = JSON.stringify([ns, rule.source.service]);
      const list = byService.get(key) ?? [];
      byService.set(key, list);
      list.push(rule);
    }
  }
  const groups: SourceGroup[] = [];
  const sharedOf = (ns: string) => byNamespace.get(ns)?.get('')?.rules ?? [];
  for (const [ns, selectors] of byNamespace) {
    const shared = sharedOf(ns);
    // Broader sources first: a cover found there is reported with the broader description.
    for (const { reqs, selector } of [...selectors.values()].sort((a, b) => a.reqs.length - b.reqs.length)) {
      // The selectors whose requirements are a subset of these: by lookup of each subset
      // while there are fewer subsets than selectors, else by comparing with every selector.
      const have = new Set(reqs);
      const subsets =
        2 ** reqs.length <= selectors.size
          ? nonEmptySubsets(reqs).map((sub) => selectors.get(sub.join('\n')))
          : [...selectors.values()].filter((t) => t.reqs.length > 0 && t.reqs.every((r) => have.has(r)));
      const own = subsets.flatMap((t) => t?.rules ?? []);
      const source = isEmptySelector(selector)
        ? `pods of namespace "${ns}"`
        : `pods of namespace "${ns}" with ${selectorText(selector as SelectorModel)}`;
      groups.push({ source, shared, own });
    }
  }
  for (const [key, serviceRules] of byService) {
    const [ns, service] = JSON.parse(key) as [string, string];
    groups.push({ source: `pods of service "${service}" in namespace "${ns}"`, shared: sharedOf(ns), own: serviceRules });
  }
  return groups;
}

/** Whether the merged `base` and the `extra` intervals together cover the family: each gap of `extra` must lie in `base`. */
function coversWith(base: readonly IpInterval[], extra: readonly IpInterval[], family: IpFamily): boolean {
  let next = 0n;
  for (const i of merge(extra)) {
    if (i.first > next && !insideMerged({ family, first: next, last: i.first - 1n }, base)) return false;
    next = i.last + 1n;
  }
  return next > FULL[family] || insideMerged({ family, first: next, last: FULL[family] }, base);
}

/** A set of team rules that together allow one source every address of one family. */
export interface CatchAll {
  readonly family: IpFamily;
  /** The rules of a smallest cover (one rule when it allows everything on its own). */
  readonly rules: readonly RuleModel[];
  /** The cover's destination texts, in address order. */
  readonly destinations: readonly string[];
  /** Empty, or ` on tcp/443`: the ports on which the rules together allow everything. */
  readonly ports: string;
  /** undefined for a single rule; else the source, as in {@link SourceGroup}. */
  readonly source?: string;
}

type Owned = OwnedInterval<{ rule: RuleModel; text: string }>;

/**
 * Every way the given team rules allow every address of a family: first each rule on its own
 * (the union of its destinations, external services included), then each source's rules
 * together (see {@link sourceGroups}), leaving out the rules already reported on their own.
 *
 * Only ALLOW and ALLOW_FINAL rules count. A team DENY does not make a catch-all acceptable
 * (a rule that allows everything but a few networks still opens the egress), and audit rules,
 * time windows and expiry count like enforced, permanent rules: the guardrail judges what the
 * rules declare. Per source the check is port-aware: two rules that together cover every
 * address, but on different ports, are no catch-all.
 *
 * Cost: O(n log n) in the number of intervals for the rules on their own; per source, the
 * namespace-wide rules are merged once and each source adds O(k log k) for its k other
 * intervals. Only a source whose union covers the family over all ports is cut into port
 * segments, each tested again; once a namespace's rules without pod selector form a cover,
 * its narrower sources are not searched for more.
 */
export function catchAlls(rules: readonly RuleModel[], externalServices: readonly ExternalServiceModel[]): CatchAll[] {
  const byName = new Map(externalServices.map((es) => [es.name, es]));
  const allowing = rules.filter((r) => r.level !== 'cluster' && (r.action === 'ALLOW' || r.action === 'ALLOW_FINAL'));
  const intervals = new Map<RuleModel, Owned[]>();
  for (const rule of allowing) {
    const addresses = rule.destinations.flatMap((d): AddressModel[] =>
      d.kind === 'externalService'
        ? (byName.get(d.name)?.destinations ?? []).filter((x): x is AddressModel => x.kind !== 'fqdn')
        : d.kind === 'fqdn'
          ? []
          : [d],
    );
    intervals.set(
      rule,
      addresses.map((a) => ({ ...interval(a), owner: { rule, text: a.text } })),
    );
  }
  const groups = sourceGroups(allowing);
  const out: CatchAll[] = [];
  const texts = (cover: Owned[]) => cover.map((c) => c.owner.text);
  for (const family of [4, 6] as const) {
    const of = (r: RuleModel) => (intervals.get(r) as Owned[]).filter((i) => i.family === family);
    const alone = new Set<RuleModel>();
    for (const rule of allowing) {
      const cover = coveringSubset(of(rule), family);
      if (!cover) continue;
      alone.add(rule);
      out.push({ family, rules: [rule], destinations: texts(cover), ports: '' });
    }
    const usable = (r: RuleModel) => !alone.has(r) && of(r).length > 0;
    const sharedOnce = new Map<readonly RuleModel[], { rules: RuleModel[]; merged: IpInterval[]; covered: boolean }>();
    const seen = new Set<string>();
    for (const group of groups) {
      let shared = sharedOnce.get(group.shared);
      if (!shared) {
        const sharedRules = group.shared.filter(usable);
        shared = { rules: sharedRules, merged: merge(sharedRules.flatMap(of)), covered: false };
        sharedOnce.set(group.shared, shared);
      } else if (shared.covered) {
        continue;
      }
      const own = group.own.filter(usable);
      if (shared.rules.length + own.length < 2 || !coversWith(shared.merged, own.flatMap(of), family)) continue;
      const members = [...shared.rules, ...own];
      for (const segment of portSegments(members)) {
        const cover = coveringSubset(members.filter((r) => allowsSegment(r, segment)).flatMap(of), family);
        if (!cover) continue;
        const coverRules = [...new Set(cover.map((c) => c.owner.rule))];
        if (own.length === 0) shared.covered = true;
        const key = JSON.stringify(coverRules.map((r) => r.path).sort());
        if (seen.has(key)) continue;
        seen.add(key);
        const anyPort = coverRules.every((r) => allowsSegment(r, { from: PORT_MIN, to: PORT_MAX }));
        out.push({
          family,
          rules: coverRules,
          destinations: texts(cover),
          ports: anyPort ? '' : segmentText(segment),
          source: group.source,
        });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Cluster-level reservation

/** Whether construct `path` is `scope` or lies below it (whole segments: `a/b` is not in `a/b-c`). */
function insideScope(path: string, scope: string): boolean {
  return path === scope || path.startsWith(`${scope}/`);
}

function clusterRuleViolations(set: GuardrailSet, rule: RuleModel): GuardrailViolation[] {
  const out: GuardrailViolation[] = [];
  const emergency = set.emergencyRuleScopes ?? [];
  const scopes = set.clusterRuleScopes && [...set.clusterRuleScopes, ...emergency];
  if (scopes && !scopes.some((s) => insideScope(rule.path, s))) {
    out.push({
      guardrail: 'clusterRuleScopes',
      message: `cluster rules may be declared only under ${listed(
        scopes.map((s) => quote(s)),
        8,
      )}; write a namespace or service rule, or ask the security team to add the rule there`,
    });
  }
  const reserved = set.emergencyPriorityMax;
  if (reserved !== undefined && rule.priority <= reserved && !emergency.some((s) => insideScope(rule.path, s))) {
    out.push({
      guardrail: 'emergencyPriorityMax',
      message: `priority ${rule.priority} is in the band ${PRIORITY_MIN}-${reserved} reserved for the emergency rules under ${listed(
        emergency.map((s) => quote(s)),
        8,
      )}, which must sort first; use a priority above ${reserved}`,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// All checks

/**
 * Violations of the rules one guardrail set governs on one device, by rule path. `rules` are in
 * declaration order (the per-namespace cap reports the rules beyond it).
 */
export function guardrailViolations(
  set: GuardrailSet,
  rules: readonly RuleModel[],
  externalServices: readonly ExternalServiceModel[],
): Map<string, GuardrailViolation[]> {
  const out = new Map<string, GuardrailViolation[]>();
  const v = (rule: RuleModel, guardrail: string, message: string) => {
    const list = out.get(rule.path) ?? [];
    out.set(rule.path, list);
    list.push({ guardrail, message });
  };
  const byName = new Map(externalServices.map((es) => [es.name, es]));
  const envelope = set.allowedDestinations;
  const envelopeIntervals: Record<IpFamily, IpInterval[]> = { 4: [], 6: [] };
  for (const family of [4, 6] as const) {
    envelopeIntervals[family] = merge(
      (envelope ?? []).filter((e): e is AddressModel => e.kind !== 'fqdn' && e.family === family).map(interval),
    );
  }
  const envelopeNames = (envelope ?? []).filter((e): e is FqdnModel => e.kind === 'fqdn');
  const perNamespace = new Map<string, number>();

  for (const rule of rules) {
    const { owner, ticket, justification } = rule.metadata;
    const blank = (text: string | undefined) => (text === undefined ? '' : `, and ${quote(text)} has no letter or digit`);
    if (set.requireOwner && !hasContent(owner))
      v(rule, 'requireOwner', `every rule needs an owner${blank(owner)}; set owner to the team or person responsible`);
    if (set.requireTicket && !hasContent(ticket))
      v(rule, 'requireTicket', `every rule needs a ticket${blank(ticket)}; set ticket to the change or request reference`);
    if (set.requireJustification && !hasContent(justification))
      v(
        rule,
        'requireJustification',
        `every rule needs a justification${blank(justification)}; set justification to why the egress is needed`,
      );

    if (rule.level === 'cluster') {
      for (const c of clusterRuleViolations(set, rule)) v(rule, c.guardrail, c.message);
      continue;
    }
    const position = (perNamespace.get(rule.namespace as string) ?? 0) + 1;
    perNamespace.set(rule.namespace as string, position);
    if (set.maxRulesPerNamespace !== undefined && position > set.maxRulesPerNamespace) {
      v(
        rule,
        'maxRulesPerNamespace',
        `namespace "${rule.namespace}" has more than ${set.maxRulesPerNamespace} rules; merge rules or ask the security team to raise the cap`,
      );
    }
    if (rule.action !== 'ALLOW' && rule.action !== 'ALLOW_FINAL') continue;

    const destinations = rule.destinations.flatMap((d) =>
      d.kind === 'externalService' ? [...(byName.get(d.name)?.destinations ?? [])] : [d],
    );
    for (const d of destinations) {
      if (d.kind === 'fqdn' && d.wildcard && set.forbidWildcardFqdns) {
        v(rule, 'forbidWildcardFqdns', `allows the wildcard ${d.text}; list the exact names the workload needs`);
      } else if (
        envelope &&
        (d.kind === 'fqdn' ? !fqdnInside(d, envelopeNames) : !insideMerged(interval(d), envelopeIntervals[d.family]))
      ) {
        v(
          rule,
          'allowedDestinations',
          `allows ${d.text}, outside the security envelope; ask the security team to extend the envelope or narrow the rule`,
        );
      }
    }
    if (set.allowedPorts) {
      const ports = rule.ports.length ? rule.ports : [{ protocol: 'any' } as PortModel];
      for (const p of ports) {
        if (!portInside(p, set.allowedPorts)) {
          const text =
            p.fromPort === undefined
              ? p.protocol === 'any'
                ? 'every protocol and port'
                : `every ${p.protocol} port`
              : `${p.protocol}/${p.fromPort}${p.toPort !== p.fromPort ? `-${p.toPort}` : ''}`;
          v(rule, 'allowedPorts', `allows ${text}, outside the allowed port set; use an allowed port or ask the security team`);
        }
      }
    }
  }

  if (set.forbidCatchAll) {
    const fix = 'only cluster rules may; name the networks the workload needs';
    for (const c of catchAlls(rules, externalServices)) {
      const every = `every address${c.ports} (${listed([...c.destinations])})`;
      if (!c.source) {
        v(c.rules[0], 'forbidCatchAll', `allows ${every}; ${fix}`);
        continue;
      }
      for (const rule of c.rules) {
        const others = listed(
          c.rules.filter((r) => r !== rule).map((r) => r.path),
          3,
        );
        v(rule, 'forbidCatchAll', `together with ${others} allows ${c.source} ${every}; ${fix}`);
      }
    }
  }
  return out;
}
