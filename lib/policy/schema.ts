/**
 * Internal validation of construct props with zod, and conversion into the policy model.
 *
 * zod never appears in a public signature: constructs hand over their props as `unknown`
 * fields, and every zod issue is turned into a {@link PolicyIssue} that names the construct
 * path, the field, the value and the fix.
 */
import { z } from 'zod';
import { EgressDestination } from './destination';
import { EgressPolicyError, InvalidValueError, PolicyIssue, quote } from './errors';
import type {
  AddressModel,
  ActionName,
  DestinationModel,
  ExternalServiceModel,
  FqdnModel,
  Level,
  PortModel,
  RuleModel,
  ScheduleModel,
  SelectorModel,
  SourceModel,
  Weekday,
} from './model';
import { WEEKDAYS } from './model';
import { REMARK_MAX, dnsLabelProblem, labelKeyProblem, labelValueProblem, remarkProblem } from './names';
import { EgressPort } from './port';

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

const dnsLabel = z.string({ error: 'expected a string' }).superRefine(check(dnsLabelProblem));

const actionSchema = z.enum(['DENY', 'REJECT', 'ALLOW', 'ALLOW_FINAL'], {
  error: 'must be one of EgressAction.DENY, REJECT, ALLOW or ALLOW_FINAL',
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

const freeText = (max: number) => z.string({ error: 'expected a string' }).superRefine(check((v: string) => remarkProblem(v, max)));

const selectorSchema = z
  .object(
    {
      matchLabels: z
        .record(z.string(), z.string({ error: 'label values must be strings' }))
        .optional()
        .superRefine((labels, ctx) => {
          for (const [k, v] of Object.entries(labels ?? {})) {
            const p = labelKeyProblem(k) ?? labelValueProblem(v);
            if (p) ctx.addIssue({ code: 'custom', message: `label "${k}": ${p}`, path: [k] });
          }
        }),
      matchExpressions: z
        .array(
          z
            .object({
              key: z.string().superRefine(check(labelKeyProblem)),
              operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist'], {
                error: 'must be a LabelSelectorOperator (In, NotIn, Exists or DoesNotExist)',
              }),
              values: z.array(z.string().superRefine(check(labelValueProblem))).optional(),
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
        )
        .optional(),
    },
    { error: 'expected a LabelSelector ({ matchLabels, matchExpressions })' },
  )
  .strict();

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

const scheduleSchema = z
  .object(
    {
      daysOfWeek: z
        .array(z.enum(WEEKDAYS as [Weekday, ...Weekday[]], { error: 'must be a Weekday (monday … sunday)' }))
        .min(1, { error: 'list at least one day, or leave daysOfWeek out for every day' })
        .optional(),
      startTime: z.string().regex(HHMM, { error: 'must be HH:MM on a 24-hour clock, such as "08:30"' }),
      endTime: z.string().regex(HHMM, { error: 'must be HH:MM on a 24-hour clock, or "24:00" for the end of the day' }),
      timeZone: z.string().superRefine(check(timeZoneProblem)).optional(),
    },
    { error: 'expected an EgressSchedule ({ startTime, endTime, daysOfWeek?, timeZone? })' },
  )
  .strict()
  .superRefine((s, ctx) => {
    if (HHMM.test(s.startTime) && HHMM.test(s.endTime) && minutes(s.endTime) <= minutes(s.startTime)) {
      ctx.addIssue({
        code: 'custom',
        path: ['endTime'],
        message: `must be after startTime ${s.startTime}; a window that crosses midnight is two rules (…-24:00 and 00:00-…)`,
      });
    }
  });

const bandwidthSchema = z
  .object(
    {
      maxBandwidth: z
        .number({ error: 'must be a whole number of at least 1' })
        .superRefine(check((v: number) => (Number.isInteger(v) && v >= 1 && v <= 4294967295 ? undefined : 'must be a whole number from 1 to 4294967295'))),
      unit: z.enum(['bps', 'Kbps', 'Mbps', 'Gbps'], { error: 'must be a BandwidthUnit (bps, Kbps, Mbps or Gbps)' }).optional(),
    },
    { error: 'expected an EgressBandwidthLimit ({ maxBandwidth, unit? })' },
  )
  .strict();

const isoInstant = z
  .string({ error: 'expected an ISO-8601 instant such as "2027-01-31T00:00:00Z"' })
  .superRefine(
    check((v: string) =>
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v) && !Number.isNaN(Date.parse(v))
        ? undefined
        : 'must be an ISO-8601 instant with a zone, such as "2027-01-31T00:00:00Z"',
    ),
  );

/** Converts a value-object array with `_toModel()`, reporting each bad element on its index. */
function valueObjects<T, M>(isInstance: (v: unknown) => v is T, toModel: (v: T) => M, expected: string) {
  return z.array(z.unknown(), { error: `expected an array of ${expected}` }).transform((items, ctx) => {
    const out: M[] = [];
    items.forEach((item, i) => {
      if (!isInstance(item)) {
        ctx.addIssue({ code: 'custom', path: [i], message: `expected ${expected}, made with its static factories` });
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

const isDestination = (v: unknown): v is EgressDestination => v instanceof EgressDestination;
const isPort = (v: unknown): v is EgressPort => v instanceof EgressPort;

const destinationsSchema = valueObjects(isDestination, (d) => d._toModel(), 'EgressDestination');
const portsSchema = valueObjects(isPort, (p) => p._toModel(), 'EgressPort');

/** Rule props as constructs hand them over (types unchecked: JS and jsii callers can pass anything). */
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
  readonly schedule?: unknown;
  readonly expiresAt?: unknown;
  readonly owner?: unknown;
  readonly ticket?: unknown;
  readonly justification?: unknown;
}

const ruleSchema = z.object({
  name: dnsLabel,
  namespace: dnsLabel.optional(),
  service: dnsLabel.optional(),
  action: actionSchema,
  priority: prioritySchema.optional(),
  destinations: destinationsSchema.pipe(
    z.array(z.any()).min(1, { error: 'a rule needs at least one destination; use EgressDestination.anyIpv4() to mean everywhere' }),
  ),
  ports: portsSchema.optional(),
  namespaceSelector: selectorSchema.optional(),
  podSelector: selectorSchema.optional(),
  logging: z.boolean({ error: 'expected true or false' }).optional(),
  audit: z.boolean({ error: 'expected true or false' }).optional(),
  description: freeText(DESCRIPTION_MAX).optional(),
  bandwidthLimit: bandwidthSchema.optional(),
  schedule: scheduleSchema.optional(),
  expiresAt: isoInstant.optional(),
  owner: freeText(METADATA_MAX).optional(),
  ticket: freeText(METADATA_MAX).optional(),
  justification: freeText(METADATA_MAX).optional(),
});

/** Renders a zod path the way a TypeScript user writes it: `destinations[2]`, `schedule.endTime`. */
function fieldName(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out || '(props)';
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

function describeValue(v: unknown): string {
  if (v instanceof EgressDestination || v instanceof EgressPort) return quote(v.toString());
  return quote(v);
}

/** How {@link parseOrThrow} explains a key that a strict object schema does not know. */
export interface UnknownKeyHints {
  /** What the object is, for messages: `a ClusterEgressRule`, `the logging options`. */
  readonly what: string;
  /** Keys that are valid elsewhere, with the fix (`namespace` on a cluster rule → use a NamespaceEgressRule). */
  readonly misplaced?: Readonly<Record<string, string>>;
}

/** Edit distance, for "did you mean" hints on misspelled keys. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/**
 * Why an unknown key is refused: a dropped key would silently widen a rule (a misspelled
 * `podSelecter` selects every pod), so every unknown key fails with a hint at the intended one.
 */
export function unknownKeyMessage(key: string, known: readonly string[], hints?: UnknownKeyHints): string {
  const what = hints?.what ?? 'this object';
  const misplaced = hints?.misplaced && Object.prototype.hasOwnProperty.call(hints.misplaced, key) ? hints.misplaced[key] : undefined;
  if (misplaced) return `is not a prop of ${what}: ${misplaced}`;
  const near = known
    .map((k) => ({ k, d: editDistance(key, k) }))
    .filter(({ d }) => d <= Math.max(1, Math.floor(key.length / 4)))
    .sort((x, y) => x.d - y.d)[0];
  const fix = near ? `did you mean "${near.k}"?` : `remove it; the props of ${what} are ${known.join(', ')}`;
  return `is not a prop of ${what}, and an unknown prop is never ignored: ${fix}`;
}

/** Keys a zod object schema accepts (for unknown-key hints). */
function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: unknown = schema;
  for (const seg of path) {
    const shape = (s as { shape?: Record<string, unknown> }).shape;
    s = shape?.[String(seg)];
    while (s && (s as { unwrap?: () => unknown }).unwrap) s = (s as { unwrap: () => unknown }).unwrap();
  }
  const shape = (s as { shape?: Record<string, unknown> } | undefined)?.shape;
  return shape ? Object.keys(shape) : [];
}

/**
 * Parses `input` with `schema` or throws an {@link EgressPolicyError} listing every issue.
 * Strict object schemas report each unknown key on its own line, with `hints` for the
 * top-level object.
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: object, path: string, hints?: UnknownKeyHints): z.output<S> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const issues: PolicyIssue[] = result.error.issues.flatMap((issue): PolicyIssue[] => {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(schema, issue.path);
      return issue.keys.map((key) => ({
        path,
        field: fieldName([...issue.path, key]),
        value: describeValue(valueAt(input, [...issue.path, key])),
        message: unknownKeyMessage(key, known, issue.path.length === 0 ? hints : undefined),
      }));
    }
    const quotedValue = issue.code === 'custom' ? (issue.params as { quotedValue?: string } | undefined)?.quotedValue : undefined;
    const value = quotedValue ?? describeValue(valueAt(input, issue.path));
    return [{ path, field: fieldName(issue.path), value, message: issue.message }];
  });
  throw new EgressPolicyError(issues);
}

function selectorModel(s: z.output<typeof selectorSchema> | undefined): SelectorModel | undefined {
  if (!s) return undefined;
  const matchLabels: Record<string, string> = {};
  for (const k of Object.keys(s.matchLabels ?? {}).sort()) matchLabels[k] = (s.matchLabels ?? {})[k];
  return {
    matchLabels,
    matchExpressions: (s.matchExpressions ?? []).map((e) => ({
      key: e.key,
      operator: e.operator,
      values: [...(e.values ?? [])].sort(),
    })),
  };
}

/** Validates rule props and builds the rule model. */
export function buildRule(input: RuleInput): RuleModel {
  const { level, path } = input;
  const p = parseOrThrow(ruleSchema, input, path);
  const levelIssues: PolicyIssue[] = [];
  const forbid = (field: keyof RuleInput, why: string) => {
    if (input[field] !== undefined) levelIssues.push({ path, field, value: quote(input[field]), message: why });
  };
  if (level !== 'cluster') {
    if (p.namespace === undefined) levelIssues.push({ path, field: 'namespace', value: 'nothing', message: 'is required' });
    forbid('namespaceSelector', 'only cluster rules select namespaces; this rule applies to its own namespace');
  }
  if (level === 'service') {
    if (p.service === undefined) levelIssues.push({ path, field: 'service', value: 'nothing', message: 'is required' });
    forbid('podSelector', "a service rule's pods are those its Service selects; use a NamespaceEgressRule with podSelector instead");
  }
  if (p.bandwidthLimit && (p.action === 'DENY' || p.action === 'REJECT')) {
    levelIssues.push({
      path,
      field: 'bandwidthLimit',
      value: quote(input.bandwidthLimit),
      message: `a ${p.action} rule lets nothing through, so it cannot limit bandwidth; remove bandwidthLimit or make the rule ALLOW or ALLOW_FINAL`,
    });
  }
  const remark = ruleRemark({ description: p.description, metadata: { owner: p.owner, ticket: p.ticket, justification: p.justification } });
  if (remark.length > REMARK_MAX) {
    levelIssues.push({
      path,
      field: 'owner, ticket, justification',
      value: quote(remark),
      message: `together they make a ${remark.length}-character AS3 rule remark and AS3 allows ${REMARK_MAX}; shorten them (the full text stays in the custom resource's annotations)`,
    });
  }
  if (levelIssues.length) throw new EgressPolicyError(levelIssues);

  const source: SourceModel =
    level === 'cluster'
      ? { level, namespaceSelector: selectorModel(p.namespaceSelector), podSelector: selectorModel(p.podSelector) }
      : level === 'namespace'
        ? { level, namespace: p.namespace, podSelector: selectorModel(p.podSelector) }
        : { level, namespace: p.namespace, service: p.service };

  const schedule: ScheduleModel | undefined = p.schedule && {
    daysOfWeek: p.schedule.daysOfWeek ? WEEKDAYS.filter((d) => p.schedule!.daysOfWeek!.includes(d)) : [...WEEKDAYS],
    startTime: p.schedule.startTime,
    endTime: p.schedule.endTime,
    timeZone: p.schedule.timeZone ?? 'UTC',
  };

  return {
    level,
    name: p.name,
    namespace: level === 'cluster' ? undefined : p.namespace,
    path,
    action: p.action as ActionName,
    priority: p.priority ?? PRIORITY_DEFAULT,
    source,
    destinations: dedupeDestinations(p.destinations as DestinationModel[]),
    ports: dedupePorts((p.ports ?? []) as PortModel[]),
    logging: p.logging ?? false,
    audit: p.audit ?? false,
    description: p.description,
    bandwidth: p.bandwidthLimit && { maxBandwidth: p.bandwidthLimit.maxBandwidth, unit: p.bandwidthLimit.unit ?? 'Mbps' },
    schedule,
    expiresAt: p.expiresAt,
    metadata: { owner: p.owner, ticket: p.ticket, justification: p.justification },
  };
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

const externalServiceSchema = z.object({
  name: dnsLabel,
  destinations: destinationsSchema.pipe(
    z.array(z.any()).min(1, { error: 'an external service needs at least one destination' }),
  ),
  description: freeText(DESCRIPTION_MAX).optional(),
});

export function buildExternalService(input: ExternalServiceInput): ExternalServiceModel {
  const p = parseOrThrow(externalServiceSchema, input, input.path);
  const issues: PolicyIssue[] = [];
  (p.destinations as DestinationModel[]).forEach((d, i) => {
    if (d.kind === 'externalService') {
      issues.push({
        path: input.path,
        field: `destinations[${i}]`,
        value: quote(`externalService:${d.name}`),
        message: 'an external service cannot contain another one; list its addresses and names directly',
      });
    }
  });
  if (issues.length) throw new EgressPolicyError(issues);
  return {
    name: p.name,
    path: input.path,
    destinations: dedupeDestinations(p.destinations as DestinationModel[]) as (AddressModel | FqdnModel)[],
    description: p.description,
  };
}

/** Rejects a rule whose `expiresAt` has passed, naming the rule, the date and the fix. */
export function expiryProblem(rule: RuleModel, now: Date): PolicyIssue | undefined {
  if (!rule.expiresAt || Date.parse(rule.expiresAt) > now.getTime()) return undefined;
  return {
    path: rule.path,
    field: 'expiresAt',
    value: quote(rule.expiresAt),
    message: `the rule expired before now (${now.toISOString()}); delete the rule, or set a later expiresAt if the exception was renewed`,
  };
}
