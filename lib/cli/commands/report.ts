import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FlowRecord } from '../../flowlog/enrich';
import { deciderOf, destinationOf, readFlowRecords, RecordStats, workloadOf } from '../../flowlog/records';
import { parseTime } from '../../analysis/engine';
import { writeOutputFile } from '../../files/input-files';
import { OUTPUT_OPTIONS, loadPolicy } from '../inputs';
import { CliCommand, CliIo, ParsedArgs } from '../registry';
import { UsageError } from '../../files/usage-error';
import { printable, quote } from '../../files/text';

/** Most distinct flows kept; more are counted, not listed. */
const MAX_FLOWS = 100_000;
/** Most edges drawn in the picture (the most frequent ones). */
const MAX_EDGES = 200;

/** One aggregated flow: a workload to a destination with one verdict and decider. */
export interface FlowAggregate {
  readonly namespace?: string;
  readonly workload: string;
  readonly destination: string;
  readonly verdict: string;
  readonly staged: boolean;
  readonly decider: string;
  readonly ruleKey?: string;
  readonly audit: boolean;
  count: number;
  first: string;
  last: string;
}

export interface FlowSummary {
  readonly flows: Map<string, FlowAggregate>;
  /** Events past MAX_FLOWS distinct flows. */
  dropped: number;
  events: number;
  first?: string;
  last?: string;
}

export function emptySummary(): FlowSummary {
  return { flows: new Map(), dropped: 0, events: 0 };
}

export function addRecord(summary: FlowSummary, r: FlowRecord): void {
  summary.events++;
  if (summary.first === undefined || r.time < summary.first) summary.first = r.time;
  if (summary.last === undefined || r.time > summary.last) summary.last = r.time;
  const workload = workloadOf(r);
  const destination = destinationOf(r);
  const decider = deciderOf(r);
  const key = JSON.stringify([workload, destination, r.verdict, r.staged, decider]);
  const agg = summary.flows.get(key);
  if (agg) {
    agg.count++;
    if (r.time < agg.first) agg.first = r.time;
    if (r.time > agg.last) agg.last = r.time;
    return;
  }
  if (summary.flows.size >= MAX_FLOWS) {
    summary.dropped++;
    return;
  }
  summary.flows.set(key, {
    ...(r.source.namespace !== undefined ? { namespace: r.source.namespace } : {}),
    workload,
    destination,
    verdict: r.verdict,
    staged: r.staged,
    decider,
    ...(r.rule ? { ruleKey: r.rule.key } : {}),
    audit: r.rule?.mode === 'audit',
    count: 1,
    first: r.time,
    last: r.time,
  });
}

/** Reads every input (files, `-` for standard input) into a summary. */
export async function readInputs(
  args: ParsedArgs,
  io: CliIo,
  take: (r: FlowRecord) => void,
): Promise<{ stats: RecordStats; window: { since?: number; until?: number } }> {
  const since = args.string('since') !== undefined ? parseTime(args.string('since') as string, '--since').getTime() : undefined;
  const until = args.string('until') !== undefined ? parseTime(args.string('until') as string, '--until').getTime() : undefined;
  if (since !== undefined && until !== undefined && until <= since)
    throw new UsageError(
      '--until is not after --since',
      `${args.string('since')} to ${args.string('until')}`,
      'give a time range that ends after it starts',
    );
  const inputs = args.positionals.length ? args.positionals : ['-'];
  const stats: RecordStats = { read: 0, skipped: 0 };
  for (const input of inputs) {
    if (input === '-') {
      await readFlowRecords(process.stdin, 'standard input', stats, { since, until }, take);
      continue;
    }
    const file = path.resolve(io.cwd, input);
    if (!fs.existsSync(file) || !fs.statSync(file).isFile())
      throw new UsageError(
        'flow log file not found',
        quote(input),
        'name files of JSON lines written by the flow-log receiver, or - for standard input',
      );
    await readFlowRecords(fs.createReadStream(file), input, stats, { since, until }, take);
  }
  return { stats, window: { since, until } };
}

export const TIME_OPTIONS = [
  { name: 'since', type: 'string' as const, arg: '<ISO time>', help: 'only events at or after this time' },
  { name: 'until', type: 'string' as const, arg: '<ISO time>', help: 'only events before this time' },
];

export function skippedNote(stats: RecordStats): string {
  if (stats.skipped === 0) return '';
  const f = stats.firstSkipped as { input: string; line: number };
  return `${stats.skipped} line${stats.skipped === 1 ? '' : 's'} skipped: not flow records of the receiver (first: ${f.input} line ${f.line})\n`;
}

const byCount = (a: FlowAggregate, b: FlowAggregate) =>
  b.count - a.count ||
  (a.workload < b.workload ? -1 : a.workload > b.workload ? 1 : a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0);

function table(rows: readonly FlowAggregate[], indent: string): string[] {
  const countW = Math.max(...rows.map((r) => String(r.count).length));
  const fromW = Math.max(...rows.map((r) => r.workload.length));
  const toW = Math.max(...rows.map((r) => r.destination.length));
  const verdictW = Math.max(...rows.map((r) => r.verdict.length));
  return rows.map(
    (r) =>
      `${indent}${String(r.count).padStart(countW)}  ${r.workload.padEnd(fromW)} -> ${r.destination.padEnd(toW)}  ${r.verdict.padEnd(verdictW)}  ${r.decider}`,
  );
}

/** The text report. */
export function formatReport(
  label: string,
  summary: FlowSummary,
  rules: ReturnType<typeof ruleFacts>,
  top: number,
  window: { since?: number; until?: number },
): string {
  const flows = [...summary.flows.values()];
  const enforced = flows.filter((f) => !f.staged);
  const from = window.since !== undefined ? new Date(window.since).toISOString() : (summary.first ?? '-');
  const to = window.until !== undefined ? new Date(window.until).toISOString() : (summary.last ?? '-');
  const out = [
    `Flows of ${label}, ${from} to ${to}: ${summary.events} event${summary.events === 1 ? '' : 's'} in ${flows.length} flow${flows.length === 1 ? '' : 's'}`,
  ];
  if (summary.dropped) out.push(`(${summary.dropped} events of flows past the first ${MAX_FLOWS} distinct ones are not listed)`);
  const namespaces = [...new Set(enforced.map((f) => f.namespace ?? ''))].sort((a, b) => (a === '' ? 1 : b === '' ? -1 : a < b ? -1 : 1));
  for (const ns of namespaces) {
    out.push('', ns === '' ? 'no pod held the source address' : `namespace ${ns}`);
    const mine = enforced.filter((f) => (f.namespace ?? '') === ns);
    const denied = mine.filter((f) => f.verdict !== 'allow').sort(byCount);
    const allowed = mine.filter((f) => f.verdict === 'allow').sort(byCount);
    out.push(`  top denied (${Math.min(top, denied.length)} of ${denied.length}):`);
    out.push(...(denied.length ? table(denied.slice(0, top), '    ') : ['    none']));
    out.push(`  top allowed (${Math.min(top, allowed.length)} of ${allowed.length}):`);
    out.push(...(allowed.length ? table(allowed.slice(0, top), '    ') : ['    none']));
  }
  const matched = new Set(flows.map((f) => f.ruleKey).filter((k) => k !== undefined));
  const never = rules.filter((r) => r.logging && !matched.has(r.key));
  out.push('', `Rules that never matched (${never.length} of ${rules.filter((r) => r.logging).length} rules that log):`);
  out.push(...(never.length ? never.map((r) => `  ${r.text}`) : ['  none']));
  const silent = rules.filter((r) => !r.logging);
  if (silent.length) out.push(`  not logged, so not seen either way: ${silent.map((r) => r.short).join(', ')}`);
  const auditBlocks = flows.filter((f) => f.staged && f.audit && f.verdict !== 'allow').sort(byCount);
  const byRule = new Map<string, FlowAggregate[]>();
  for (const f of auditBlocks) byRule.set(f.ruleKey as string, [...(byRule.get(f.ruleKey as string) ?? []), f]);
  out.push('', `Audit rules that would have blocked live traffic (${byRule.size}):`);
  if (byRule.size === 0) out.push('  none');
  for (const [key, list] of byRule) {
    const fact = rules.find((r) => r.key === key);
    out.push(
      `  ${fact?.text ?? key}: ${list.reduce((n, f) => n + f.count, 0)} events in ${list.length} flow${list.length === 1 ? '' : 's'}`,
    );
    out.push(...table(list.slice(0, top), '    '));
  }
  return `${out.join('\n')}\n`;
}

/** What the report says about each rule of the policy. */
export function ruleFacts(model: ReturnType<typeof loadPolicy>['model']) {
  return model.rules.map((r) => {
    const key = r.level === 'cluster' ? `cluster/${r.name}` : `${r.level}/${r.namespace}/${r.name}`;
    const kind = { cluster: 'ClusterEgressRule', namespace: 'NamespaceEgressRule', service: 'ServiceEgressRule' }[r.level];
    const short = `${kind} ${r.namespace !== undefined ? `${r.namespace}/` : ''}${r.name}`;
    const meta = [
      r.metadata.owner !== undefined ? `owner ${r.metadata.owner}` : '',
      r.metadata.ticket !== undefined ? `ticket ${r.metadata.ticket}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    return {
      key,
      logging: r.logging,
      short,
      text: `${short} (${r.action}${r.audit ? ', audit' : ''}${meta ? `; ${meta}` : ''}) at ${r.path}`,
    };
  });
}

const COLOUR: Readonly<Record<string, string>> = { allow: '#2e7d32', deny: '#c62828', reject: '#ef6c00' };
const dotText = (lines: readonly string[]) => `"${lines.map((l) => l.replace(/\\/g, '\\\\').replace(/"/g, '\\"')).join('\\n')}"`;

/** Workloads → destinations, coloured by verdict (dashed: a staged, would-be verdict), with counts and deciders. */
export function flowDot(title: string, summary: FlowSummary): string {
  const flows = [...summary.flows.values()].sort(byCount);
  const drawn = flows.slice(0, MAX_EDGES);
  const ids = new Map<string, string>();
  const id = (kind: string, name: string) => {
    const k = `${kind} ${name}`;
    if (!ids.has(k)) ids.set(k, `${kind}${ids.size}`);
    return ids.get(k) as string;
  };
  const lines = [
    'digraph flows {',
    `  label=${dotText([flows.length > drawn.length ? `${title} (the ${drawn.length} most frequent of ${flows.length} flows)` : title])}; labelloc=t; rankdir=LR; fontname="Helvetica";`,
    '  node [fontname="Helvetica", fontsize=10]; edge [fontname="Helvetica", fontsize=9];',
  ];
  const nodes: string[] = [];
  const edges: string[] = [];
  for (const f of drawn) {
    const from = id('w', f.workload);
    const to = id('d', f.destination);
    edges.push(
      `  ${from} -> ${to} [color="${COLOUR[f.verdict]}", fontcolor="${COLOUR[f.verdict]}"${f.staged ? ', style=dashed' : ''}, label=${dotText([`${f.count}× ${f.staged ? 'would ' : ''}${f.verdict}`, f.decider])}];`,
    );
  }
  for (const [k, v] of ids) {
    const [kind, ...rest] = k.split(' ');
    const name = rest.join(' ');
    // A workload without a slash is a bare address: no pod held it at the event's time.
    nodes.push(
      `  ${v} [shape=${kind === 'w' ? 'ellipse' : 'box'}, label=${dotText(kind === 'w' && !name.includes('/') ? [name, '(no pod)'] : [name])}];`,
    );
  }
  return `${[...lines, ...nodes, ...edges, '}'].join('\n')}\n`;
}

export async function dotToSvg(dot: string): Promise<string> {
  const viz = await import('@viz-js/viz');
  return (await viz.instance()).renderString(dot, { format: 'svg' });
}

const html = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export const reportCommand: CliCommand = {
  name: 'report',
  summary:
    'What egress did: reads flow logs (JSON lines of the flow-log receiver; files, or - for standard input) and the synth output, and prints per namespace the top denied and allowed flows with the rules that decided, the rules that never matched, and the audit rules that would have blocked live traffic. --svg/--html draw workloads → destinations coloured by verdict, with counts and deciding rules.',
  usage: 'report [<flows.jsonl>...] [--since <ISO time>] [--until <ISO time>] [--top <n>] [--svg <file>] [--html <file>] [options]',
  maxPositionals: 64,
  options: [
    ...TIME_OPTIONS,
    { name: 'top', type: 'string', arg: '<n>', help: 'flows listed per namespace and verdict (default 10)' },
    { name: 'svg', type: 'string', arg: '<file>', help: 'also write the data-flow picture as SVG' },
    { name: 'html', type: 'string', arg: '<file>', help: 'also write an HTML page with the picture and the report' },
    ...OUTPUT_OPTIONS,
  ],
  async run(args, io) {
    const topText = args.string('top') ?? '10';
    if (!/^[1-9]\d{0,3}$/.test(topText)) throw new UsageError('--top', quote(topText), 'give a whole number from 1 to 9999');
    for (const opt of ['svg', 'html']) {
      const file = args.string(opt);
      if (file !== undefined && !fs.existsSync(path.dirname(path.resolve(io.cwd, file))))
        throw new UsageError(
          `--${opt} names a file in a folder that does not exist`,
          quote(file),
          'create the folder first, or write elsewhere',
        );
    }
    const view = loadPolicy(args, io);
    const summary = emptySummary();
    const { stats, window } = await readInputs(args, io, (r) => addRecord(summary, r));
    const text = formatReport(view.label, summary, ruleFacts(view.model), Number(topText), window);
    io.stdout(text);
    io.stderr(skippedNote(stats));
    const svgFile = args.string('svg');
    const htmlFile = args.string('html');
    if (svgFile !== undefined || htmlFile !== undefined) {
      const svg = printable(await dotToSvg(flowDot(`egress flows of ${view.label}`, summary)), true);
      if (svgFile !== undefined) {
        writeOutputFile(svgFile, io.cwd, svg);
        io.stderr(`wrote the flow picture to ${svgFile}\n`);
      }
      if (htmlFile !== undefined) {
        const page = `<!doctype html>\n<html><head><meta charset="utf-8"><title>${html(`egress flows of ${view.label}`)}</title></head>\n<body>\n${svg.replace(/^<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?/, '')}\n<pre>${html(printable(text, true))}</pre>\n</body></html>\n`;
        writeOutputFile(htmlFile, io.cwd, page);
        io.stderr(`wrote the flow report to ${htmlFile}\n`);
      }
    }
    return 0;
  },
};
