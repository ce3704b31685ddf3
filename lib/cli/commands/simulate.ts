import { checkDnsAnswer } from '../../analysis/cluster-state';
import {
  DnsAnswers,
  Explanation,
  ExplainQuery,
  PolicyView,
  Verdict,
  explain,
  expiredRuleText,
  parseDestination,
  parseLabels,
  parseSource,
  parseTime,
} from '../../analysis/engine';
import { decidedByMatches, decidedByText, ruleName } from '../../analysis/format';
import { translationText } from '../../analysis/translation';
import { readYamlFile, yamlDocumentError } from '../../files/input-files';
import { CLUSTER_OPTIONS, OUTPUT_OPTIONS, loadCluster, loadPolicy } from '../inputs';
import { CliCommand, ParsedArgs } from '../registry';
import { UsageError } from '../../files/usage-error';
import { quote } from '../../files/text';

const FIELDS = ['from', 'to', 'expect', 'at', 'labels', 'namespaceLabels', 'resolve', 'device', 'decidedBy', 'wouldBe'];
const VERDICTS = ['allow', 'deny', 'reject'];
const FORMATS = ['text', 'json', 'junit'];

/** Format marker of `simulate --format json`. */
export const SIMULATE_FORMAT = 'cdktf-ces.dev/simulate/v1';

interface Row {
  readonly query: ExplainQuery;
  readonly from: string;
  readonly to: string;
  readonly at?: string;
  readonly expect: Expectation;
  /** DNS answers for the row's host name. */
  readonly resolve?: readonly string[];
  /** The AfmDevice (as --device names it) the row is about. */
  readonly device?: string;
  /** The rule expected to decide (as toBeDecidedBy names it). */
  readonly decidedBy?: string;
  /** The expected verdict with audit rules enforced. */
  readonly wouldBe?: Expectation;
}

type Expectation = 'allow' | 'deny' | 'reject';

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function labelsField(v: unknown, where: string): Record<string, string> {
  if (typeof v === 'string') return parseLabels(v, where);
  if (isMapping(v) && Object.values(v).every((x) => typeof x === 'string')) {
    return parseLabels(
      Object.entries(v as Record<string, string>)
        .map(([k, x]) => `${k}=${x}`)
        .join(','),
      where,
    );
  }
  throw new UsageError(where, quote(v), 'write labels as a map (app: checkout) or as "app=checkout,tier=web"');
}

/** Reads and checks every row of a flows file before anything is evaluated. */
export function readFlows(file: string, cwd: string, now: Date): Row[] {
  const docs = readYamlFile({ file, role: 'the flows file', howTo: 'pass the path of a YAML list of {from, to, expect}' }, cwd).filter(
    (d) => d.error || d.value !== null,
  );
  if (docs.length > 1) throw new UsageError(`${file} must hold one YAML document`, `${docs.length} documents`, 'write one list of flows');
  const doc = docs[0];
  if (doc?.error) throw yamlDocumentError(file, { ...doc, error: doc.error });
  const value = doc?.value;
  if (isMapping(value) && 'flows' in value) {
    const extra = Object.keys(value).find((k) => k !== 'flows');
    if (extra !== undefined) {
      throw new UsageError(
        `${file}: unknown top-level field`,
        quote(extra),
        'remove it: the file is a list of flows, or a mapping with the one field "flows" (YAML merge keys "<<" are not read either: write each flow\'s fields out)',
      );
    }
  }
  const list = Array.isArray(value) ? value : isMapping(value) && Array.isArray(value.flows) ? (value.flows as unknown[]) : undefined;
  if (!list || list.length === 0) {
    throw new UsageError(
      `${file} holds no flows`,
      quote(value ?? null),
      'write a YAML list of rows {from, to, expect: allow|deny, at?, labels?}, or a mapping whose "flows" is that list',
    );
  }
  return list.map((raw, i): Row => {
    const where = `${file} row ${i + 1}`;
    if (!isMapping(raw))
      throw new UsageError(`${where} is not a mapping`, quote(raw), 'write each row as {from: ns/name, to: host:port, expect: allow|deny}');
    const r = raw;
    for (const key of Object.keys(r)) {
      if (key === '<<')
        throw new UsageError(
          `${where}: a YAML merge key`,
          quote(key),
          'merge keys are not read (YAML 1.2 has none): write the fields of the row out',
        );
      if (!FIELDS.includes(key)) throw new UsageError(`${where}: unknown field`, quote(key), `fields are ${FIELDS.join(', ')}`);
    }
    for (const key of ['from', 'to', 'expect']) {
      if (typeof r[key] !== 'string')
        throw new UsageError(
          `${where}: field "${key}" is missing or not text`,
          quote(r[key] ?? null),
          key === 'expect'
            ? 'write expect: allow or expect: deny'
            : `write ${key}: ${key === 'from' ? 'payments/checkout' : 'api.stripe.com:443'}`,
        );
    }
    const expect = r.expect as string;
    if (!VERDICTS.includes(expect))
      throw new UsageError(`${where}: field "expect"`, quote(expect), 'write allow, deny (drop or reject) or reject');
    if (r.wouldBe !== undefined && (typeof r.wouldBe !== 'string' || !VERDICTS.includes(r.wouldBe))) {
      throw new UsageError(
        `${where}: field "wouldBe"`,
        quote(r.wouldBe),
        'write the verdict with audit rules enforced: allow, deny (drop or reject) or reject',
      );
    }
    for (const key of ['device', 'decidedBy']) {
      if (r[key] !== undefined && (typeof r[key] !== 'string' || (r[key] as string).trim() === '')) {
        throw new UsageError(
          `${where}: field "${key}"`,
          quote(r[key]),
          key === 'device'
            ? 'write the AS3 tenant of the device, as --device takes it'
            : 'write the rule, such as "ServiceEgressRule payments/checkout-to-stripe", "payments/checkout-to-stripe" or "device default"',
        );
      }
    }
    const to = parseDestination(r.to as string, `${where} field "to"`);
    let resolve: string[] | undefined;
    if (r.resolve !== undefined) {
      if (to.host === undefined)
        throw new UsageError(
          `${where}: field "resolve" for an address`,
          quote(r.resolve),
          `"resolve" gives the DNS answers of a host name; ${to.text} is an address already: drop the field`,
        );
      const ips =
        typeof r.resolve === 'string' ? r.resolve.split(',').map((x) => x.trim()) : Array.isArray(r.resolve) ? r.resolve : undefined;
      if (!ips)
        throw new UsageError(
          `${where}: field "resolve"`,
          quote(r.resolve),
          `write the addresses of ${to.host} as a list, such as resolve: [203.0.113.10, 2001:db8::10]`,
        );
      resolve = checkDnsAnswer(to.host, ips, `${where} field "resolve"`);
    }
    const at = r.at instanceof Date ? r.at.toISOString() : r.at;
    if (at !== undefined && typeof at !== 'string')
      throw new UsageError(`${where}: field "at"`, quote(at), 'write an ISO 8601 time such as 2026-03-02T09:30:00Z');
    return {
      from: r.from as string,
      to: r.to as string,
      ...(at !== undefined ? { at } : {}),
      expect: expect as Expectation,
      ...(resolve ? { resolve } : {}),
      ...(r.device !== undefined ? { device: (r.device as string).trim() } : {}),
      ...(r.decidedBy !== undefined ? { decidedBy: (r.decidedBy as string).trim() } : {}),
      ...(r.wouldBe !== undefined ? { wouldBe: r.wouldBe as Expectation } : {}),
      query: {
        from: {
          ...parseSource(r.from as string, `${where} field "from"`),
          ...(r.labels !== undefined ? { labels: labelsField(r.labels, `${where} field "labels"`) } : {}),
          ...(r.namespaceLabels !== undefined
            ? { namespaceLabels: labelsField(r.namespaceLabels, `${where} field "namespaceLabels"`) }
            : {}),
        },
        to,
        at: at !== undefined ? parseTime(at, `${where} field "at"`) : now,
      },
    };
  });
}

function meets(expect: Expectation, actual: Verdict | 'mixed'): boolean {
  if (expect === 'allow') return actual === 'allow';
  if (expect === 'reject') return actual === 'reject';
  return actual === 'deny' || actual === 'reject';
}

function verdictCell(v: Verdict | 'mixed', e: Explanation, audit: boolean): string {
  if (v === 'deny') return 'deny (drop)';
  if (v !== 'mixed') return v;
  return `mixed (${e.flows.map((f) => `${f.destinationIp}: ${audit ? f.evaluation.wouldBe : f.evaluation.verdict}`).join(', ')})`;
}

/** One row's result. */
interface Outcome {
  readonly row: Row;
  readonly index: number;
  readonly device: string;
  readonly actual: string;
  readonly wouldBe: string;
  readonly decidedBy: readonly string[];
  /** The source addresses the flows leave with, where rules translate (rule `snat`). */
  readonly leavesFrom: readonly string[];
  /** What differs from the row's expectations; empty when the row holds. */
  readonly problems: readonly string[];
}

function evaluate(row: Row, index: number, view: PolicyView, e: Explanation): Outcome {
  const actual = verdictCell(e.verdict, e, false);
  const wouldBe = verdictCell(e.wouldBe, e, true);
  const decidedBy = [...new Set(e.flows.map((f) => decidedByText(f.enforced)))];
  const problems: string[] = [];
  if (!meets(row.expect, e.verdict)) problems.push(`expected ${row.expect}, got ${actual}`);
  if (row.wouldBe !== undefined && !meets(row.wouldBe, e.wouldBe))
    problems.push(`expected ${row.wouldBe} with audit rules enforced, got ${wouldBe}`);
  if (row.decidedBy !== undefined && !e.flows.every((f) => decidedByMatches(f.enforced, row.decidedBy as string)))
    problems.push(`expected decided by ${row.decidedBy}, got ${decidedBy.join('; ')}`);
  const leavesFrom = [...new Set(e.flows.flatMap((f) => (f.translation ? [translationText(f.translation, ruleName)] : [])))];
  return { row, index, device: view.label, actual, wouldBe, decidedBy, leavesFrom, problems };
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function summaryLine(outcomes: readonly Outcome[]): string {
  const failures = outcomes.filter((o) => o.problems.length).length;
  const devices = [...new Set(outcomes.map((o) => o.device))];
  return `${outcomes.length - failures} of ${outcomes.length} flows as expected${failures ? `; ${failures} mismatch${failures > 1 ? 'es' : ''}` : ''} (device${devices.length > 1 ? 's' : ''} ${devices.join(', ')})`;
}

function formatText(outcomes: readonly Outcome[], notes: readonly string[]): string {
  const perRowDevice = outcomes.some((o) => o.row.device !== undefined);
  const translates = outcomes.some((o) => o.leavesFrom.length);
  const out: string[][] = [
    [
      '#',
      ...(perRowDevice ? ['device'] : []),
      'from',
      'to',
      'expected',
      'actual',
      'decided by',
      ...(translates ? ['leaves from'] : []),
      '',
    ],
  ];
  for (const o of outcomes) {
    const { row } = o;
    const expected = `${row.expect}${row.wouldBe !== undefined ? ` [would be ${row.wouldBe}]` : ''}`;
    const actual = o.actual + (o.wouldBe !== o.actual || row.wouldBe !== undefined ? ` [would be ${o.wouldBe}]` : '');
    out.push([
      String(o.index + 1),
      ...(perRowDevice ? [row.device ?? '-'] : []),
      row.from,
      `${row.to}${row.at ? ` @${row.at}` : ''}`,
      expected,
      actual,
      o.decidedBy.join('; '),
      ...(translates ? [o.leavesFrom.join('; ') || '-'] : []),
      o.problems.length ? 'MISMATCH' : 'ok',
    ]);
  }
  const problems = outcomes.flatMap((o) => o.problems.map((p) => `row ${o.index + 1}: ${p}`));
  return `${table(out)}\n\n${problems.length ? `${problems.join('\n')}\n\n` : ''}${notes.map((n) => `${n}\n`).join('')}${summaryLine(outcomes)}\n`;
}

function formatJson(file: string, outcomes: readonly Outcome[]): string {
  const failures = outcomes.filter((o) => o.problems.length).length;
  const rows = outcomes.map((o) => ({
    row: o.index + 1,
    device: o.device,
    from: o.row.from,
    to: o.row.to,
    ...(o.row.at !== undefined ? { at: o.row.at } : {}),
    ...(o.row.resolve ? { resolve: o.row.resolve } : {}),
    expect: o.row.expect,
    ...(o.row.wouldBe !== undefined ? { expectWouldBe: o.row.wouldBe } : {}),
    ...(o.row.decidedBy !== undefined ? { expectDecidedBy: o.row.decidedBy } : {}),
    actual: o.actual,
    wouldBe: o.wouldBe,
    decidedBy: o.decidedBy,
    ...(o.leavesFrom.length ? { translatedSource: o.leavesFrom } : {}),
    ok: o.problems.length === 0,
    problems: o.problems,
  }));
  return `${JSON.stringify({ format: SIMULATE_FORMAT, file, passed: outcomes.length - failures, failed: failures, rows }, null, 2)}\n`;
}

/**
 * Text for XML 1.0 character data and attribute values: the five special characters as entities,
 * and characters XML 1.0 cannot hold at all (most C0 controls, lone surrogates, U+FFFE/U+FFFF)
 * as a visible \uXXXX, so that no input makes the report unreadable for a CI system.
 */
export function xmlText(text: string): string {
  return text.replace(
    /[&<>"']|[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (c) => {
      switch (c) {
        case '&':
          return '&amp;';
        case '<':
          return '&lt;';
        case '>':
          return '&gt;';
        case '"':
          return '&quot;';
        case "'":
          return '&apos;';
        default:
          return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
      }
    },
  );
}

/** JUnit XML as CI systems read it: one testsuite per flows file, one testcase per row. */
function formatJunit(file: string, outcomes: readonly Outcome[]): string {
  const failures = outcomes.filter((o) => o.problems.length).length;
  const a = (t: string) => xmlText(t);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="cdktf-ces simulate" tests="${outcomes.length}" failures="${failures}" errors="0">`,
    `  <testsuite name="${a(file)}" tests="${outcomes.length}" failures="${failures}" errors="0" skipped="0">`,
  ];
  for (const o of outcomes) {
    const { row } = o;
    const name = `${o.index + 1}: ${row.from} -> ${row.to}${row.at ? ` @${row.at}` : ''} expect ${row.expect}`;
    const head = `    <testcase classname="${a(o.device)}" name="${a(name)}"`;
    if (!o.problems.length) {
      lines.push(`${head}/>`);
      continue;
    }
    const detail = [...o.problems, `decided by ${o.decidedBy.join('; ')}`, `would be with audit rules enforced: ${o.wouldBe}`];
    lines.push(
      `${head}>`,
      `      <failure type="mismatch" message="${a(o.problems.join('; '))}">${a(detail.join('\n'))}</failure>`,
      '    </testcase>',
    );
  }
  lines.push('  </testsuite>', '</testsuites>');
  return `${lines.join('\n')}\n`;
}

/** The arguments with another `--device`: each row's device goes through the same loading as the option. */
function withDevice(args: ParsedArgs, device: string): ParsedArgs {
  return {
    ...args,
    string: (name) => (name === 'device' ? device : args.string(name)),
    strings: (name) => (name === 'device' ? [device] : args.strings(name)),
    flag: args.flag,
    positionals: args.positionals,
  };
}

/** The DNS answers plus a row's own. */
function rowDns(dns: DnsAnswers, row: Row): DnsAnswers {
  if (!row.resolve || row.query.to.host === undefined) return dns;
  const host = row.query.to.host;
  return { table: new Map([...dns.table, [host, row.resolve]]), origin: new Map([...dns.origin, [host, 'the row\'s "resolve"']]) };
}

export const simulateCommand: CliCommand = {
  name: 'simulate',
  summary:
    'Checks expected verdicts: every row {from, to, expect: allow|deny|reject, at?, labels?, namespaceLabels?, resolve?, device?, decidedBy?, wouldBe?} of the YAML flows file is explained like "explain" and compared. "deny" accepts drop and reject; "reject" only reject. "resolve" lists the DNS answers of the row\'s host name; "device" picks the AfmDevice of the row; "decidedBy" names the rule that must decide (ServiceEgressRule payments/checkout-to-stripe, payments/checkout-to-stripe, a cluster rule\'s name, a construct path, or device default); "wouldBe" is the verdict expected with audit rules enforced. Exit code 1 when any row differs.\n\n' +
    '--format junit writes JUnit XML (one testcase per row) for CI test reports; --format json one object per row.',
  usage: 'simulate <flows.yaml> [--format text|json|junit] [options]',
  maxPositionals: 1,
  options: [
    { name: 'at', type: 'string', arg: '<ISO time>', help: 'time for rows without "at"; default now' },
    { name: 'format', type: 'string', arg: '<text|json|junit>', help: 'report format (default text; junit for CI test reports)' },
    ...OUTPUT_OPTIONS,
    ...CLUSTER_OPTIONS,
  ],
  async run(args, io) {
    const file = args.positionals[0];
    if (file === undefined) throw new UsageError('simulate needs a flows file', 'nothing', 'usage: cdktf-ces simulate <flows.yaml>');
    const format = args.string('format') ?? 'text';
    if (!FORMATS.includes(format)) throw new UsageError('--format', quote(format), `use one of ${FORMATS.join(', ')}`);
    const now = args.string('at') !== undefined ? parseTime(args.string('at') as string) : new Date();
    const rows = readFlows(file, io.cwd, now);
    const views = new Map<string | undefined, PolicyView>();
    const viewFor = (row: Row, i: number): PolicyView => {
      let view = views.get(row.device);
      if (!view) {
        try {
          view = loadPolicy(row.device === undefined ? args : withDevice(args, row.device), io);
        } catch (err) {
          if (err instanceof UsageError && row.device !== undefined)
            throw new UsageError(`${file} row ${i + 1} field "device": ${err.what}`, err.value, err.fix);
          throw err;
        }
        views.set(row.device, view);
      }
      return view;
    };
    // Rows without a device use --device (or the only device); checked before any row runs.
    const first = rows.findIndex((r) => r.device === undefined);
    if (first >= 0) viewFor(rows[first], first);
    const { cluster, dns } = await loadCluster(args, io);
    const used: PolicyView[] = [];
    const outcomes = rows.map((row, i) => {
      const view = viewFor(row, i);
      used.push(view);
      try {
        return evaluate(row, i, view, explain(view, cluster, rowDns(dns, row), row.query));
      } catch (err) {
        if (err instanceof UsageError) throw new UsageError(`${file} row ${i + 1}: ${err.what}`, err.value, err.fix);
        throw err;
      }
    });
    // Rules past their expiry are not enforced; say so once per device the rows used.
    const notes = [...new Set(used)].flatMap((v) => v.expired.map((r) => `note: ${expiredRuleText(r)}`));
    io.stdout(
      format === 'json' ? formatJson(file, outcomes) : format === 'junit' ? formatJunit(file, outcomes) : formatText(outcomes, notes),
    );
    return outcomes.some((o) => o.problems.length) ? 1 : 0;
  },
};
