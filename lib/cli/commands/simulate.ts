import { ExplainQuery, Verdict, explain, expiredRuleText, parseDestination, parseLabels, parseSource, parseTime } from '../engine';
import { decidedByText } from '../format';
import { readYamlFile, yamlDocumentError } from '../input-files';
import { CLUSTER_OPTIONS, OUTPUT_OPTIONS, loadCluster, loadPolicy } from '../inputs';
import { CliCommand, CliUsageError } from '../registry';
import { quote } from '../text';

const FIELDS = ['from', 'to', 'expect', 'at', 'labels', 'namespaceLabels'];

interface Row {
  readonly query: ExplainQuery;
  readonly from: string;
  readonly to: string;
  readonly at?: string;
  readonly expect: 'allow' | 'deny' | 'reject';
}

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function labelsField(v: unknown, where: string): Record<string, string> {
  if (typeof v === 'string') return parseLabels(v, where);
  if (isMapping(v) && Object.values(v).every((x) => typeof x === 'string')) {
    return parseLabels(Object.entries(v as Record<string, string>).map(([k, x]) => `${k}=${x}`).join(','), where);
  }
  throw new CliUsageError(where, quote(v), 'write labels as a map (app: checkout) or as "app=checkout,tier=web"');
}

/** Reads and checks every row of a flows file before anything is evaluated. */
export function readFlows(file: string, cwd: string, now: Date): Row[] {
  const docs = readYamlFile({ file, role: 'the flows file', howTo: 'pass the path of a YAML list of {from, to, expect}' }, cwd).filter((d) => d.error || d.value !== null);
  if (docs.length > 1) throw new CliUsageError(`${file} must hold one YAML document`, `${docs.length} documents`, 'write one list of flows');
  const doc = docs[0];
  if (doc?.error) throw yamlDocumentError(file, { ...doc, error: doc.error });
  const value = doc?.value;
  if (isMapping(value) && 'flows' in value) {
    const extra = Object.keys(value).find((k) => k !== 'flows');
    if (extra !== undefined) {
      throw new CliUsageError(
        `${file}: unknown top-level field`,
        quote(extra),
        'remove it: the file is a list of flows, or a mapping with the one field "flows" (YAML merge keys "<<" are not read either: write each flow\'s fields out)',
      );
    }
  }
  const list = Array.isArray(value) ? value : isMapping(value) && Array.isArray(value.flows) ? (value.flows as unknown[]) : undefined;
  if (!list || list.length === 0) {
    throw new CliUsageError(`${file} holds no flows`, quote(value ?? null), 'write a YAML list of rows {from, to, expect: allow|deny, at?, labels?}, or a mapping whose "flows" is that list');
  }
  return list.map((raw, i): Row => {
    const where = `${file} row ${i + 1}`;
    if (!isMapping(raw)) throw new CliUsageError(`${where} is not a mapping`, quote(raw), 'write each row as {from: ns/name, to: host:port, expect: allow|deny}');
    const r = raw;
    for (const key of Object.keys(r)) {
      if (key === '<<') throw new CliUsageError(`${where}: a YAML merge key`, quote(key), 'merge keys are not read (YAML 1.2 has none): write the fields of the row out');
      if (!FIELDS.includes(key)) throw new CliUsageError(`${where}: unknown field`, quote(key), `fields are ${FIELDS.join(', ')}`);
    }
    for (const key of ['from', 'to', 'expect']) {
      if (typeof r[key] !== 'string') throw new CliUsageError(`${where}: field "${key}" is missing or not text`, quote(r[key] ?? null), key === 'expect' ? 'write expect: allow or expect: deny' : `write ${key}: ${key === 'from' ? 'payments/checkout' : 'api.stripe.com:443'}`);
    }
    const expect = r.expect as string;
    if (!['allow', 'deny', 'reject'].includes(expect)) throw new CliUsageError(`${where}: field "expect"`, quote(expect), 'write allow, deny (drop or reject) or reject');
    const at = r.at instanceof Date ? r.at.toISOString() : r.at;
    if (at !== undefined && typeof at !== 'string') throw new CliUsageError(`${where}: field "at"`, quote(at), 'write an ISO 8601 time such as 2026-03-02T09:30:00Z');
    return {
      from: r.from as string,
      to: r.to as string,
      ...(at !== undefined ? { at } : {}),
      expect: expect as Row['expect'],
      query: {
        from: {
          ...parseSource(r.from as string, `${where} field "from"`),
          ...(r.labels !== undefined ? { labels: labelsField(r.labels, `${where} field "labels"`) } : {}),
          ...(r.namespaceLabels !== undefined ? { namespaceLabels: labelsField(r.namespaceLabels, `${where} field "namespaceLabels"`) } : {}),
        },
        to: parseDestination(r.to as string, `${where} field "to"`),
        at: at !== undefined ? parseTime(at, `${where} field "at"`) : now,
      },
    };
  });
}

function meets(expect: Row['expect'], actual: Verdict | 'mixed'): boolean {
  if (expect === 'allow') return actual === 'allow';
  if (expect === 'reject') return actual === 'reject';
  return actual === 'deny' || actual === 'reject';
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd()).join('\n');
}

export const simulateCommand: CliCommand = {
  name: 'simulate',
  summary:
    'Checks expected verdicts: every row {from, to, expect: allow|deny, at?, labels?} of the YAML flows file is explained like "explain" and compared. "deny" accepts drop and reject; "reject" only reject. Exit code 1 when any row differs.',
  usage: 'simulate <flows.yaml> [options]',
  maxPositionals: 1,
  options: [{ name: 'at', type: 'string', arg: '<ISO time>', help: 'time for rows without "at"; default now' }, ...OUTPUT_OPTIONS, ...CLUSTER_OPTIONS],
  async run(args, io) {
    const file = args.positionals[0];
    if (file === undefined) throw new CliUsageError('simulate needs a flows file', 'nothing', 'usage: cdktf-ces simulate <flows.yaml>');
    const now = args.string('at') !== undefined ? parseTime(args.string('at') as string) : new Date();
    const rows = readFlows(file, io.cwd, now);
    const view = loadPolicy(args, io);
    const { cluster, dns } = await loadCluster(args, io);
    const out: string[][] = [['#', 'from', 'to', 'expected', 'actual', 'decided by', '']];
    let failures = 0;
    rows.forEach((row, i) => {
      let e;
      try {
        e = explain(view, cluster, dns, row.query);
      } catch (err) {
        if (err instanceof CliUsageError) throw new CliUsageError(`${file} row ${i + 1}: ${err.what}`, err.value, err.fix);
        throw err;
      }
      const ok = meets(row.expect, e.verdict);
      if (!ok) failures++;
      const decided = [...new Set(e.flows.map((f) => decidedByText(f.enforced)))].join('; ');
      const actual = e.verdict === 'deny' ? 'deny (drop)' : e.verdict === 'mixed' ? `mixed (${e.flows.map((f) => `${f.destinationIp}: ${f.evaluation.verdict}`).join(', ')})` : e.verdict;
      out.push([String(i + 1), row.from, `${row.to}${row.at ? ` @${row.at}` : ''}`, row.expect, actual + (e.wouldBe !== e.verdict ? ` [would be ${e.wouldBe}]` : ''), decided, ok ? 'ok' : 'MISMATCH']);
    });
    const expired = view.expired.map((r) => `note: ${expiredRuleText(r)}\n`).join('');
    io.stdout(`${table(out)}\n\n${expired}${rows.length - failures} of ${rows.length} flows as expected${failures ? `; ${failures} mismatch${failures > 1 ? 'es' : ''}` : ''} (device ${view.label})\n`);
    return failures ? 1 : 0;
  },
};
