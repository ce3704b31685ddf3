/**
 * Internal validation of construct props with zod, and conversion into the policy model.
 *
 * zod never appears in a public signature: constructs hand over their props as `unknown`
 * values, and every zod issue is turned into a {@link PolicyIssue} that names the construct
 * path, the field, the value and the fix.
 *
 * Every props struct is strict: it is read from its own keys (see ./struct) and each key it
 * does not know is refused, because a dropped key would widen the rule it was meant to narrow.
 */
import { z } from 'zod';
import { EgressDestination, isEgressDestination } from './destination';
import { EgressPolicyError, InvalidValueError, PolicyIssue, quote } from './errors';
import { CR_LIMITS } from './limits';
import { onMatchSchema } from './irule';
import type {
  AddressModel,
  ActionName,
  BandwidthUnit,
  DestinationModel,
  ExternalServiceModel,
  FqdnModel,
  Level,
  PortModel,
  RedirectModel,
  RuleModel,
  ScheduleModel,
  SelectorModel,
  SourceModel,
  Weekday,
} from './model';
import { WEEKDAYS } from './model';
import { DNS_LABEL_MAX, REMARK_MAX, dnsLabelProblem, kebabCase, labelKeyProblem, labelValueProblem, remarkProblem } from './names';
import { EgressPort, isEgressPort } from './port';
import { ruleSnatIssues, ruleSnatSchema } from './snat';
import { isEgressRedirect, ruleRedirectIssues } from './redirect';
import { StructProblem, UnknownKeyHints, describe, readStruct, unknownKeyMessage } from './struct';

export { UnknownKeyHints, unknownKeyMessage } from './struct';

export const PRIORITY_MIN = 0;
export const PRIORITY_MAX = 1000;
export const PRIORITY_DEFAULT = 500;
export const DESCRIPTION_MAX = 64;
export const METADATA_MAX = 64;

/** Adds a custom issue whose message is ours, not zod's. */
function check<T>(problem: (v: T) => string | undefined) {
  return (v: T, ctx: z.RefinementCtx) => {
    const p = problem(v);
    if (p) ctx.addIssue({ code: 'custom', message: p });
  };
}

/** A zod error message that says "is required" when the value is missing, `message` otherwise. */
function expecting(required: string, message: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? `is required: ${required}` : message);
}

const dnsLabel = (what: string, example: string) =>
  z
    .string({ error: expecting(`${what}, a DNS label such as "${example}"`, `expected ${what}: a DNS label string such as "${example}"`) })
    .superRefine(check(dnsLabelProblem));

const ACTIONS = 'EgressAction.DENY, REJECT, ALLOW or ALLOW_FINAL';
const actionSchema = z.enum(['DENY', 'REJECT', 'ALLOW', 'ALLOW_FINAL'], {
  error: expecting(`one of ${ACTIONS}`, `must be one of ${ACTIONS}`),
});

const prioritySchema = z
  .number({ error: `must be a whole number from ${PRIORITY_MIN} to ${PRIORITY_MAX}` })
  .superRefine(
    check((v: number) =>
      Number.isInteger(v) && v >= PRIORITY_MIN && v <= PRIORITY_MAX
        ? undefined
        : `is out of range: use a whole number from ${PRIORITY_MIN} (evaluated first) to ${PRIORITY_MAX}`,
    ),
  );

const flag = z.boolean({ error: 'expected true or false (a boolean, not a string or number)' });

const freeText = (max: number) =>
  z.string({ error: `expected a string of at most ${max} characters` }).superRefine(check((v: string) => remarkProblem(v, max)));

/** A struct: what it is, for messages, and how its unknown keys are explained. */
export interface StructSpec extends UnknownKeyHints {
  /** What was expected, with its keys: `an EgressSchedule ({ startTime, endTime, … })`. */
  readonly expected: string;
}

/** The unknown-key hints of each struct schema, found again by {@link parseOrThrow}. */
const structSpecs = new WeakMap<z.ZodType, StructSpec>();

function addStructProblems(problems: readonly StructProblem[], ctx: z.RefinementCtx): void {
  for (const p of problems) {
    ctx.addIssue({ code: 'custom', path: p.key === undefined ? [] : [p.key], message: p.message, params: { quotedValue: p.value } });
  }
}

/**
 * A strict struct schema: the value must be an object literal (see {@link readStruct}), read
 * from its own keys, and every key `object` does not know is refused. A misplaced key (one
 * of `spec.misplaced`) set to `undefined` is absent, as TypeScript reads an optional prop set
 * to undefined; any other value of it is refused.
 *
 * The parsed struct has no prototype: a prop left out reads as undefined even when other code
 * has set that name on `Object.prototype`.
 */
export function struct<O extends z.ZodObject>(object: O, spec: StructSpec) {
  structSpecs.set(object, spec);
  return z
    .preprocess((value, ctx) => {
      const read = readStruct(value, spec.expected);
      addStructProblems(read.problems, ctx);
      if (!read.data) return value;
      for (const key of Object.keys(spec.misplaced ?? {})) {
        if (Object.prototype.hasOwnProperty.call(read.data, key) && read.data[key] === undefined) delete read.data[key];
      }
      return read.data;
    }, object)
    .transform((parsed) => Object.assign(Object.create(null) as z.output<O>, parsed));
}

/**
 * Label maps are read from their own keys: `z.record` drops an own `__proto__` key, and a
 * dropped label widens a selector.
 */
const matchLabelsSchema = z.unknown().transform((value, ctx) => {
  const read = readStruct(value, 'a map of label keys to values, such as { app: "web" }');
  addStructProblems(read.problems, ctx);
  if (!read.data) return z.NEVER;
  const labels: Record<string, string> = {};
  for (const [key, v] of Object.entries(read.data)) {
    let problem: string | undefined;
    if (key === '__proto__') problem = '"__proto__" is not a label key (a label name starts with a letter or digit); remove it';
    else if (typeof v !== 'string') problem = `label "${key}": label values must be strings (use "" for an empty value)`;
    else {
      const labelProblem = labelKeyProblem(key) ?? labelValueProblem(v);
      if (labelProblem) problem = `label "${key}": ${labelProblem}`;
    }
    if (problem) ctx.addIssue({ code: 'custom', path: [key], message: problem, params: { quotedValue: describe(v) } });
    else Object.defineProperty(labels, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
  const count = Object.keys(read.data).length;
  if (count > CR_LIMITS.matchLabels) {
    ctx.addIssue({
      code: 'custom',
      message: `a selector has at most ${CR_LIMITS.matchLabels} labels (the custom resource holds no more); select on fewer labels`,
      params: { quotedValue: `${count} labels` },
    });
  }
  return labels;
});

/** An array of at most `max` items, the bound of its custom-resource field; `what` names the items. */
const bounded = (max: number, what: string, fix: string) =>
  check((items: readonly unknown[]) =>
    items.length > max ? `has ${items.length} ${what}, and the custom resource holds at most ${max}; ${fix}` : undefined,
  );

const selectorRequirementSchema = struct(
  z
    .strictObject({
      key: z
        .string({ error: expecting('a label key such as "app"', 'expected a label key string such as "app" or "app.kubernetes.io/name"') })
        .superRefine(check(labelKeyProblem)),
      operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist'], {
        error: 'must be a LabelSelectorOperator (In, NotIn, Exists or DoesNotExist)',
      }),
      values: z
        .array(z.string({ error: 'label values must be strings' }).superRefine(check(labelValueProblem)), {
          error: 'expected an array of label values, such as ["web", "api"]',
        })
        .superRefine(bounded(CR_LIMITS.values, 'values', 'split the requirement over several rules'))
        .optional(),
    })
    .superRefine((req, ctx) => {
      const n = req.values?.length ?? 0;
      if ((req.operator === 'In' || req.operator === 'NotIn') && n === 0) {
        ctx.addIssue({ code: 'custom', message: `operator ${req.operator} needs at least one value`, path: ['values'] });
      }
      if ((req.operator === 'Exists' || req.operator === 'DoesNotExist') && n > 0) {
        ctx.addIssue({ code: 'custom', message: `operator ${req.operator} takes no values`, path: ['values'] });
      }
    }),
  { what: 'a LabelSelectorRequirement', expected: 'a LabelSelectorRequirement ({ key, operator, values? })' },
);

const selectorSchema = struct(
  z.strictObject({
    matchLabels: matchLabelsSchema.optional(),
    matchExpressions: z
      .array(selectorRequirementSchema, { error: 'expected an array of LabelSelectorRequirement ({ key, operator, values? })' })
      .superRefine(bounded(CR_LIMITS.matchExpressions, 'requirements', 'select with fewer requirements'))
      .optional(),
  }),
  {
    what: 'a LabelSelector',
    expected: 'a LabelSelector ({ matchLabels?, matchExpressions? })',
    otherwise: 'labels go inside matchLabels, such as { matchLabels: { app: "web" } }',
  },
);

const HHMM = /^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$/;
function minutes(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

export function timeZoneProblem(tz: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return undefined;
  } catch {
    return 'is not an IANA time zone; use a name such as "UTC", "Europe/Berlin" or "America/New_York"';
  }
}

const clockTime = (field: string, format: string) =>
  z
    .string({ error: expecting(`set ${field} to a time, ${format}`, `expected a string, ${format}`) })
    .regex(HHMM, { error: `must be ${format}` });

const scheduleSchema = struct(
  z
    .strictObject({
      daysOfWeek: z
        .array(z.enum(WEEKDAYS as [Weekday, ...Weekday[]], { error: 'must be a Weekday (monday … sunday)' }), {
          error: 'expected an array of Weekday, or leave daysOfWeek out for every day',
        })
        .min(1, { error: 'list at least one day, or leave daysOfWeek out for every day' })
        .optional(),
      startTime: clockTime('startTime', 'HH:MM on a 24-hour clock, such as "08:30"'),
      endTime: clockTime('endTime', 'HH:MM on a 24-hour clock, such as "17:00", or "24:00" for the end of the day'),
      timeZone: z
        .string({ error: 'expected an IANA time zone name such as "UTC" or "Europe/Berlin"' })
        .superRefine(check(timeZoneProblem))
        .optional(),
    })
    .superRefine((s, ctx) => {
      if (HHMM.test(s.startTime) && HHMM.test(s.endTime) && minutes(s.endTime) <= minutes(s.startTime)) {
        ctx.addIssue({
          code: 'custom',
          path: ['endTime'],
          message: `must be after startTime ${s.startTime}; a window that crosses midnight is two rules (…-24:00 and 00:00-…)`,
        });
      }
    }),
  { what: 'an EgressSchedule', expected: 'an EgressSchedule ({ startTime, endTime, daysOfWeek?, timeZone? })' },
);

/**
 * The range of a Bandwidth_Control_Policy's maxBandwidth, per unit: "from 1 Mbps to 320 Gbps
 * (between 1000000 bps and 320000000000 bps)" (AS3 schema, Bandwidth_Control_Policy).
 */
const BANDWIDTH_RANGE: Readonly<Record<BandwidthUnit, readonly [number, number]>> = {
  bps: [1_000_000, 320_000_000_000],
  Kbps: [1_000, 320_000_000],
  Mbps: [1, 320_000],
  Gbps: [1, 320],
};

const bandwidthSchema = struct(
  z
    .strictObject({
      maxBandwidth: z
        .number({
          error: expecting(
            'set maxBandwidth to a whole number, from 1 Mbps to 320 Gbps in its unit, such as { maxBandwidth: 100, unit: BandwidthUnit.MBPS }',
            'write a whole number, from 1 Mbps to 320 Gbps in its unit, such as 100',
          ),
        })
        .superRefine(
          check((v: number) =>
            Number.isInteger(v) ? undefined : 'write a whole number, from 1 Mbps to 320 Gbps in its unit, such as 100',
          ),
        ),
      unit: z.enum(['bps', 'Kbps', 'Mbps', 'Gbps'], { error: 'must be a BandwidthUnit (bps, Kbps, Mbps or Gbps)' }).optional(),
    })
    .superRefine((b, ctx) => {
      const unit = b.unit ?? 'Mbps';
      const [min, max] = BANDWIDTH_RANGE[unit];
      if (!Number.isInteger(b.maxBandwidth) || (b.maxBandwidth >= min && b.maxBandwidth <= max)) return;
      ctx.addIssue({
        code: 'custom',
        path: ['maxBandwidth'],
        message: `a BIG-IP bandwidth policy limits to 1 Mbps at least and 320 Gbps at most: write a whole number from ${min} to ${max} in ${unit}${b.unit ? '' : ' (the default unit)'}, or choose another unit`,
      });
    }),
  { what: 'an EgressBandwidthLimit', expected: 'an EgressBandwidthLimit ({ maxBandwidth, unit? })' },
);

const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):(\d{2}))$/;
export const INSTANT_FORMAT = 'must be an ISO-8601 instant with a zone, such as "2027-01-31T00:00:00Z"';

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

/**
 * Why `text` is not an instant that exists. Field by field, because `Date.parse` rolls
 * `2099-02-30` over to March 2 instead of refusing it.
 */
export function instantProblem(text: string): string | undefined {
  const m = ISO_INSTANT.exec(text);
  if (!m) return INSTANT_FORMAT;
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = m.slice(1).map((f) => (f === undefined ? 0 : Number(f)));
  if (month < 1 || month > 12) return `there is no month ${m[2]}: ${INSTANT_FORMAT}`;
  const days = daysInMonth(year, month);
  if (day < 1 || day > days) return `${m[1]}-${m[2]} has no day ${m[3]}: use a day from 01 to ${days}`;
  if (hour > 23) return `there is no hour ${m[4]}: use 00 to 23 (write midnight at the end of a day as 00:00 of the next day)`;
  if (minute > 59) return `there is no minute ${m[5]}: use 00 to 59`;
  if (second > 59) return `there is no second ${m[6]}: use 00 to 59`;
  if (offsetHours > 23 || offsetMinutes > 59) return `the zone offset is not a time offset: use Z or +HH:MM, such as +01:00`;
  if (Number.isNaN(Date.parse(text))) return INSTANT_FORMAT;
  return undefined;
}

const isoInstant = z.string({ error: `expected a string: ${INSTANT_FORMAT}` }).superRefine(check(instantProblem));

/**
 * An array of value objects (EgressDestination, EgressPort) converted to models; every bad
 * element is reported on its index. `required` is the fix when the array is missing (leave it
 * out for an optional array, which is then wrapped in `.optional()`).
 */
export function valueObjectArray<T, M>(
  isInstance: (v: unknown) => v is T,
  toModel: (v: T) => M,
  expected: string,
  example: string,
  required?: string,
) {
  return z.unknown().transform((items, ctx): M[] => {
    if (!Array.isArray(items)) {
      const message =
        items === undefined && required
          ? `is required: ${required}`
          : isInstance(items)
            ? `expected an array of ${expected}; wrap the single value in [ ]`
            : `expected an array of ${expected}, such as [${example}]`;
      ctx.addIssue({ code: 'custom', message, params: { quotedValue: describeValue(items) } });
      return [];
    }
    const out: M[] = [];
    items.forEach((item, i) => {
      if (!isInstance(item)) {
        ctx.addIssue({
          code: 'custom',
          path: [i],
          message: `expected an ${expected} made with its static factories, such as ${example}`,
          params: { quotedValue: describeValue(item) },
        });
        return;
      }
      try {
        out.push(toModel(item));
      } catch (e) {
        if (!(e instanceof InvalidValueError)) throw e;
        ctx.addIssue({ code: 'custom', path: [i], message: e.problem, params: { quotedValue: e.value } });
      }
    });
    return out;
  });
}

const isDestination = isEgressDestination;
const isPort = isEgressPort;

const destinationsSchema = (required: string, empty: string) =>
  valueObjectArray(isDestination, (d) => d._toModel(), 'EgressDestination', 'EgressDestination.cidr("10.0.0.0/8")', required).pipe(
    z.array(z.any()).min(1, { error: empty }),
  );
const portsSchema = valueObjectArray(isPort, (p) => p._toModel(), 'EgressPort', 'EgressPort.HTTPS').pipe(
  z.array(z.any()).min(1, {
    error: 'an empty port list is never read as every port; leave ports out or use EgressPort.allTraffic() for every protocol and port',
  }),
);

const redirectSchema = z.unknown().transform((v, ctx): RedirectModel => {
  const example = 'EgressRedirect.viaGateways("inspection", ["192.0.2.1"])';
  if (!isEgressRedirect(v)) {
    ctx.addIssue({
      code: 'custom',
      message: `expected an EgressRedirect made with its static factories, such as ${example}`,
      params: { quotedValue: describeValue(v) },
    });
    return z.NEVER;
  }
  try {
    return v._toModel();
  } catch (e) {
    if (!(e instanceof InvalidValueError)) throw e;
    ctx.addIssue({ code: 'custom', message: e.problem, params: { quotedValue: e.value } });
    return z.NEVER;
  }
});

/** Rule props as tests and tools hand them over (types unchecked: JS and jsii callers can pass anything). */
export interface RuleInput {
  readonly level: Level;
  readonly path: string;
  readonly name: unknown;
  readonly namespace?: unknown;
  readonly service?: unknown;
  readonly action: unknown;
  readonly priority?: unknown;
  readonly destinations: unknown;
  readonly ports?: unknown;
  readonly namespaceSelector?: unknown;
  readonly podSelector?: unknown;
  readonly logging?: unknown;
  readonly audit?: unknown;
  readonly description?: unknown;
  readonly bandwidthLimit?: unknown;
  readonly onMatch?: unknown;
  readonly schedule?: unknown;
  readonly expiresAt?: unknown;
  readonly owner?: unknown;
  readonly ticket?: unknown;
  readonly justification?: unknown;
  readonly snat?: unknown;
  readonly redirect?: unknown;
}

const ruleShape = {
  /** Checked by the construct (it needs cdktf); known here so that it is not an unknown key. */
  device: z.unknown().optional(),
  name: dnsLabel('the rule name', 'allow-dns').optional(),
  action: actionSchema,
  priority: prioritySchema.optional(),
  destinations: destinationsSchema(
    'at least one EgressDestination; use EgressDestination.anyIpv4() to mean everywhere',
    'a rule needs at least one destination; use EgressDestination.anyIpv4() to mean everywhere',
  ),
  ports: portsSchema.optional(),
  logging: flag.optional(),
  audit: flag.optional(),
  description: freeText(DESCRIPTION_MAX).optional(),
  bandwidthLimit: bandwidthSchema.optional(),
  onMatch: onMatchSchema.optional(),
  schedule: scheduleSchema.optional(),
  expiresAt: isoInstant.optional(),
  owner: freeText(METADATA_MAX).optional(),
  ticket: freeText(METADATA_MAX).optional(),
  justification: freeText(METADATA_MAX).optional(),
  snat: ruleSnatSchema.optional(),
  redirect: redirectSchema.optional(),
};

const ruleNamespace = dnsLabel('the namespace whose pods the rule applies to', 'payments');
const ONLY_CLUSTER_SELECTS_NAMESPACES = 'only cluster rules select namespaces; this rule applies to its own namespace';
const RULE_PROPS = 'device, action, destinations, …';

const RULE_SPECS: Readonly<Record<Level, StructSpec>> = {
  cluster: {
    what: 'a ClusterEgressRule',
    expected: `ClusterEgressRuleProps ({ ${RULE_PROPS} })`,
    misplaced: {
      namespace:
        'a cluster rule applies to every namespace; use a NamespaceEgressRule for one namespace, or namespaceSelector to narrow this rule',
      service: 'a cluster rule applies to every namespace; use a ServiceEgressRule for the pods of one Service',
    },
  },
  namespace: {
    what: 'a NamespaceEgressRule',
    expected: `NamespaceEgressRuleProps ({ ${RULE_PROPS}, namespace })`,
    misplaced: {
      service:
        'a namespace rule applies to its namespace; use a ServiceEgressRule for the pods of one Service, or podSelector to narrow this rule',
      namespaceSelector: ONLY_CLUSTER_SELECTS_NAMESPACES,
    },
  },
  service: {
    what: 'a ServiceEgressRule',
    expected: `ServiceEgressRuleProps ({ ${RULE_PROPS}, namespace, service })`,
    misplaced: {
      podSelector: "a service rule's pods are those its Service selects; use a NamespaceEgressRule with podSelector instead",
      namespaceSelector: ONLY_CLUSTER_SELECTS_NAMESPACES,
    },
  },
};

/** One strict schema per level: a key of another level is refused, with the rule to use instead. */
const ruleSchemas = {
  cluster: struct(
    z.strictObject({ ...ruleShape, namespaceSelector: selectorSchema.optional(), podSelector: selectorSchema.optional() }),
    RULE_SPECS.cluster,
  ),
  namespace: struct(
    z.strictObject({ ...ruleShape, namespace: ruleNamespace, podSelector: selectorSchema.optional() }),
    RULE_SPECS.namespace,
  ),
  service: struct(
    z.strictObject({
      ...ruleShape,
      namespace: dnsLabel('the namespace of the Service', 'payments'),
      service: dnsLabel('the Service whose pods the rule applies to', 'checkout'),
    }),
    RULE_SPECS.service,
  ),
} as const;

/** The parsed props of any level; the level's schema has refused the keys it does not have. */
type ParsedRule = z.output<z.ZodObject<typeof ruleShape>> & {
  namespace?: string;
  service?: string;
  namespaceSelector?: z.output<typeof selectorSchema>;
  podSelector?: z.output<typeof selectorSchema>;
};

/** Renders a zod path the way a TypeScript user writes it: `destinations[2]`, `schedule.endTime`. */
function fieldName(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out || '(props)';
}

/** The value at `path` of a user's input, for messages; never throws (getters may). */
function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  try {
    for (const seg of path) {
      if (v === null || typeof v !== 'object') return undefined;
      v = (v as Record<PropertyKey, unknown>)[seg];
    }
    return v;
  } catch {
    return undefined;
  }
}

export function isConstructLike(v: unknown): v is { node: { path: string } } {
  try {
    return typeof v === 'object' && v !== null && typeof (v as { node?: { path?: unknown } }).node?.path === 'string';
  } catch {
    return false;
  }
}

/**
 * Quotes a value for a message without calling into objects that may be broken (JavaScript
 * callers): ports and destinations as written (`"tcp/443"`), constructs by their path.
 */
export function describeValue(v: unknown): string {
  if (v instanceof EgressDestination || v instanceof EgressPort) return quote(v.toString());
  if (isConstructLike(v)) return `a construct at ${quote(v.node.path)}`;
  if (Array.isArray(v) && v.some((x) => x instanceof EgressDestination || x instanceof EgressPort)) {
    return describe(v.map((x) => (x instanceof EgressDestination || x instanceof EgressPort ? x.toString() : x)));
  }
  return describe(v);
}

/** Looks through optional, pipe and array wrappers to the schema that parses a value. */
function unwrap(s: unknown): unknown {
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault) s = s.unwrap();
    else if (s instanceof z.ZodPipe) s = s.out instanceof z.ZodTransform ? s.in : s.out;
    else return s;
  }
}

/** The object schema that parses the value at `path`, if any. */
function objectSchemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodObject | undefined {
  let s = unwrap(schema);
  for (const seg of path) {
    if (s instanceof z.ZodArray && typeof seg === 'number') s = unwrap(s.element);
    else if (s instanceof z.ZodObject) s = unwrap((s.shape as Record<PropertyKey, unknown>)[seg]);
    else return undefined;
  }
  return s instanceof z.ZodObject ? s : undefined;
}

/**
 * Parses `input` with `schema` or throws an {@link EgressPolicyError} listing every issue.
 * Strict object schemas report each unknown key on its own line, explained by the struct's
 * hints or, for the top-level object, by `hints`.
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, path: string, hints?: UnknownKeyHints): z.output<S> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const issues: PolicyIssue[] = result.error.issues.flatMap((issue): PolicyIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      const object = objectSchemaAt(schema, issue.path);
      const known = object ? Object.keys(object.shape) : [];
      const keyHints = (issue.path.length === 0 ? hints : undefined) ?? (object && structSpecs.get(object));
      return issue.keys.map((key) => ({
        path,
        field: fieldName([...issue.path, key]),
        value: describeValue(valueAt(input, [...issue.path, key])),
        message: unknownKeyMessage(key, known, keyHints),
      }));
    }
    const quotedValue = issue.code === 'custom' ? (issue.params as { quotedValue?: string } | undefined)?.quotedValue : undefined;
    const value = quotedValue ?? describeValue(valueAt(input, issue.path));
    return [{ path, field: fieldName(issue.path), value, message: issue.message }];
  });
  throw new EgressPolicyError(issues);
}

/** Runs `parse`, adding `extra` issues to the ones it throws; throws `extra` alone if it succeeds. */
function parseWith<T>(parse: () => T, extra: readonly PolicyIssue[]): T {
  let parsed: T;
  try {
    parsed = parse();
  } catch (e) {
    if (e instanceof EgressPolicyError && extra.length) throw new EgressPolicyError([...e.issues, ...extra]);
    throw e;
  }
  if (extra.length) throw new EgressPolicyError(extra);
  return parsed;
}

/**
 * Reads the props object a construct received as a struct, for the checks the construct makes
 * itself (its device, its references); throws when it is not one.
 */
function readProps(props: unknown, path: string, expected: string): Record<string, unknown> {
  const read = readStruct(props, expected);
  if (!read.data) {
    throw new EgressPolicyError(
      read.problems.map((p) => ({ path, field: fieldName(p.key === undefined ? [] : [p.key]), value: p.value, message: p.message })),
    );
  }
  return read.data;
}

/** The props of a rule construct, read as a struct. */
export function readRuleProps(level: Level, path: string, props: unknown): Record<string, unknown> {
  return readProps(props, path, RULE_SPECS[level].expected);
}

/** The props of an ExternalService construct, read as a struct. */
export function readExternalServiceProps(path: string, props: unknown): Record<string, unknown> {
  return readProps(props, path, EXTERNAL_SERVICE_SPEC.expected);
}

/**
 * The issue with a construct's name when `name` is not set: none when the construct id gives a
 * valid name (`AllowDns` → `allow-dns`), else why not and what to set. Without a construct id
 * (tests and tools), `name` is required.
 */
function defaultNameIssue(props: unknown, path: string, what: string, constructId: string | undefined): PolicyIssue | undefined {
  const data = readStruct(props, '').data;
  if (!data || data.name !== undefined) return undefined;
  if (constructId === undefined) return { path, field: 'name', value: 'nothing', message: `is required: the name of ${what}, a DNS label` };
  const name = kebabCase(constructId);
  const problem = dnsLabelProblem(name);
  if (!problem) return undefined;
  const suggestion = name
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+/, '')
    .slice(0, DNS_LABEL_MAX)
    .replace(/-+$/, '');
  const fix = suggestion ? `set name, such as name: "${suggestion}"` : 'set name to a DNS label';
  return {
    path,
    field: 'name',
    value: quote(name),
    message: `is not set, and the construct id ${quote(constructId)} gives ${quote(name)}, which cannot be a name: it ${problem}; ${fix}`,
  };
}

/** The given name, or the construct id's (checked by {@link defaultNameIssue}). */
function nameOf(given: string | undefined, constructId: string | undefined): string {
  return given ?? kebabCase(constructId as string);
}

function selectorModel(s: z.output<typeof selectorSchema> | undefined): SelectorModel | undefined {
  if (!s) return undefined;
  const labels = s.matchLabels ?? {};
  const matchLabels: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) matchLabels[k] = labels[k];
  return {
    matchLabels,
    matchExpressions: (s.matchExpressions ?? []).map((e) => ({
      key: e.key,
      operator: e.operator,
      values: [...(e.values ?? [])].sort(),
    })),
  };
}

/**
 * Validates the props of a rule construct (`props` exactly as the caller passed them) and
 * builds the rule model. `constructId` gives the name when `name` is not set.
 */
export function ruleFromProps(level: Level, path: string, props: unknown, constructId?: string): RuleModel {
  const nameIssue = defaultNameIssue(props, path, 'the rule', constructId);
  const p = parseWith(() => parseOrThrow(ruleSchemas[level], props, path) as ParsedRule, nameIssue ? [nameIssue] : []);
  const destinations = dedupeDestinations(p.destinations as DestinationModel[]);
  const ports = dedupePorts((p.ports ?? []) as PortModel[]);
  const issues: PolicyIssue[] = [];
  if (destinations.length > CR_LIMITS.destinations) {
    issues.push({
      path,
      field: 'destinations',
      value: `${destinations.length} destinations`,
      message: `a rule has at most ${CR_LIMITS.destinations} destinations (its custom resource holds no more); put them into ExternalServices of up to ${CR_LIMITS.destinations} each and list those with EgressDestination.externalService()`,
    });
  }
  if (ports.length > CR_LIMITS.ports) {
    issues.push({
      path,
      field: 'ports',
      value: `${ports.length} ports`,
      message: `a rule has at most ${CR_LIMITS.ports} ports (its custom resource holds no more); use port ranges such as EgressPort.tcpRange(8000, 8100), or split the rule`,
    });
  }
  if (p.bandwidthLimit && (p.action === 'DENY' || p.action === 'REJECT')) {
    issues.push({
      path,
      field: 'bandwidthLimit',
      value: describe(p.bandwidthLimit),
      message: `a ${p.action} rule lets nothing through, so it cannot limit bandwidth; remove bandwidthLimit or make the rule ALLOW or ALLOW_FINAL`,
    });
  }
  if (p.onMatch && p.audit) {
    issues.push({
      path,
      field: 'onMatch',
      value: quote(p.onMatch.source),
      message:
        'an audit rule must not change traffic, and whether AFM runs the iRule of a staged rule is not documented; remove onMatch until the rule is enforced, or set audit: false',
    });
  }
  if (p.onMatch && (p.action === 'DENY' || p.action === 'REJECT')) {
    issues.push({
      path,
      field: 'onMatch',
      value: quote(p.onMatch.source),
      message: `whether AFM runs an iRule for a flow a ${p.action} rule ends is not documented; remove onMatch (set logging: true to log the flows it ends) or make the rule ALLOW or ALLOW_FINAL`,
    });
  }
  const remark = ruleRemark({ description: p.description, metadata: { owner: p.owner, ticket: p.ticket, justification: p.justification } });
  if (remark.length > REMARK_MAX) {
    issues.push({
      path,
      field: 'owner, ticket, justification',
      value: quote(remark),
      message: `together they make a ${remark.length}-character AS3 rule remark and AS3 allows ${REMARK_MAX}; shorten them (the full text stays in the custom resource's annotations)`,
    });
  }
  issues.push(...ruleSnatIssues(path, { action: p.action as ActionName, audit: p.audit ?? false, ports, snat: p.snat }));
  if (p.redirect) issues.push(...ruleRedirectIssues(path, { action: p.action, audit: p.audit, destinations, ports }, p.redirect.name));
  if (issues.length) throw new EgressPolicyError(issues);

  // Every field of the source is set (undefined when the level has none), so that no reader
  // picks up a value another program put on Object.prototype.
  const source: SourceModel = {
    level,
    namespace: level === 'cluster' ? undefined : p.namespace,
    service: level === 'service' ? p.service : undefined,
    namespaceSelector: level === 'cluster' ? selectorModel(p.namespaceSelector) : undefined,
    podSelector: level === 'service' ? undefined : selectorModel(p.podSelector),
  };

  const schedule: ScheduleModel | undefined = p.schedule && {
    daysOfWeek: p.schedule.daysOfWeek ? WEEKDAYS.filter((d) => p.schedule!.daysOfWeek!.includes(d)) : [...WEEKDAYS],
    startTime: p.schedule.startTime,
    endTime: p.schedule.endTime,
    timeZone: p.schedule.timeZone ?? 'UTC',
  };

  return {
    level,
    name: nameOf(p.name, constructId),
    namespace: level === 'cluster' ? undefined : p.namespace,
    path,
    action: p.action as ActionName,
    priority: p.priority ?? PRIORITY_DEFAULT,
    source,
    destinations,
    ports,
    logging: p.logging ?? false,
    audit: p.audit ?? false,
    description: p.description,
    bandwidth: p.bandwidthLimit && { maxBandwidth: p.bandwidthLimit.maxBandwidth, unit: p.bandwidthLimit.unit ?? 'Mbps' },
    ...(p.onMatch ? { onMatch: p.onMatch } : {}),
    schedule,
    expiresAt: p.expiresAt,
    metadata: { owner: p.owner, ticket: p.ticket, justification: p.justification },
    ...(p.snat ? { snat: p.snat } : {}),
    ...(p.redirect ? { redirect: p.redirect } : {}),
  };
}

/** Validates rule props given with their level and path (tests and tools) and builds the rule model. */
export function buildRule(input: RuleInput): RuleModel {
  return ruleFromProps(input.level, input.path, withoutKeys(input, ['level', 'path']));
}

/**
 * `input` without the given keys, read as a struct (no spread: a spread runs getters and
 * drops symbol keys); `input` itself when it is not a struct, for the parser to refuse.
 */
function withoutKeys(input: unknown, keys: readonly string[]): unknown {
  const data = readStruct(input, '').data;
  if (!data) return input;
  for (const key of keys) delete data[key];
  return data;
}

/**
 * The AFM rule remark (also the tmsh description): `<ticket> <owner>: <justification>` when
 * the rule carries ownership metadata, else its description. Reviewers see who asked for a
 * rule, and why, right on the firewall.
 */
export function ruleRemark(rule: Pick<RuleModel, 'description' | 'metadata'>): string {
  const { owner, ticket, justification } = rule.metadata;
  if (!owner && !ticket && !justification) return rule.description ?? '';
  const who = [ticket, owner].filter(Boolean).join(' ');
  const why = justification ?? rule.description;
  return who && why ? `${who}: ${why}` : who || why || '';
}

function destinationKey(d: DestinationModel): string {
  return d.kind === 'externalService' ? `es:${d.name}` : `${d.kind}:${d.text}`;
}

function dedupeDestinations(ds: readonly DestinationModel[]): DestinationModel[] {
  const seen = new Map<string, DestinationModel>();
  for (const d of ds) seen.set(destinationKey(d), d);
  return [...seen.values()];
}

function dedupePorts(ps: readonly PortModel[]): PortModel[] {
  const seen = new Map<string, PortModel>();
  for (const p of ps) seen.set(`${p.protocol}/${p.fromPort ?? ''}-${p.toPort ?? ''}`, p);
  return [...seen.values()];
}

export interface ExternalServiceInput {
  readonly path: string;
  readonly name: unknown;
  readonly destinations: unknown;
  readonly description?: unknown;
}

const EXTERNAL_SERVICE_SPEC: StructSpec = {
  what: 'an ExternalService',
  expected: 'ExternalServiceProps ({ device, destinations, name?, description? })',
  misplaced: {
    ports: 'an external service is a set of destinations; put ports on the rules that use it',
    action: 'an external service is a set of destinations; put the action on the rules that use it',
  },
};

const externalServiceSchema = struct(
  z.strictObject({
    /** Checked by the construct. */
    device: z.unknown().optional(),
    name: dnsLabel('the external service name', 'bank-sftp').optional(),
    destinations: destinationsSchema(
      'list at least one EgressDestination, such as [EgressDestination.fqdn("sftp.bank.example")]',
      'an external service needs at least one destination; list its addresses and names',
    ),
    description: freeText(DESCRIPTION_MAX).optional(),
  }),
  EXTERNAL_SERVICE_SPEC,
);

/**
 * Validates the props of an ExternalService construct (exactly as the caller passed them) and
 * builds its model. `constructId` gives the name when `name` is not set.
 */
export function externalServiceFromProps(path: string, props: unknown, constructId?: string): ExternalServiceModel {
  const nameIssue = defaultNameIssue(props, path, 'the external service', constructId);
  const p = parseWith(() => parseOrThrow(externalServiceSchema, props, path), nameIssue ? [nameIssue] : []);
  const destinations = dedupeDestinations(p.destinations as DestinationModel[]) as (AddressModel | FqdnModel)[];
  const issues: PolicyIssue[] = [];
  if (destinations.length > CR_LIMITS.destinations) {
    issues.push({
      path,
      field: 'destinations',
      value: `${destinations.length} destinations`,
      message: `an ExternalService has at most ${CR_LIMITS.destinations} destinations (its custom resource holds no more); split them over several ExternalServices and list each in the rules that use them`,
    });
  }
  (p.destinations as DestinationModel[]).forEach((d, i) => {
    if (d.kind === 'externalService') {
      issues.push({
        path,
        field: `destinations[${i}]`,
        value: quote(`externalService:${d.name}`),
        message: 'an external service cannot contain another one; list its addresses and names directly',
      });
    }
  });
  if (issues.length) throw new EgressPolicyError(issues);
  return {
    name: nameOf(p.name, constructId),
    path,
    destinations,
    description: p.description,
  };
}

/** Validates external-service props given with their path (tests and tools) and builds the model. */
export function buildExternalService(input: ExternalServiceInput): ExternalServiceModel {
  return externalServiceFromProps(input.path, withoutKeys(input, ['path']));
}
