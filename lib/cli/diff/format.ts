/**
 * Diff reports: text (one line per change, naming every workload it holds for; `#` lines for
 * context), markdown for a pull-request comment, JSON for tools. All sorted, and without the
 * current time unless an instant was asked for, so the same outputs always give the same report.
 */
import type { ChangeLine, DiffResult, Verdict } from './compute';

export const DIFF_FORMAT = 'cdktf-ces.dev/policy-diff/v1';

const SIGN = { gained: '+', lost: '-', changed: '~', rerouted: '>' } as const;
const VERB: Readonly<Record<Verdict, string>> = { allow: 'allowed', deny: 'dropped', reject: 'rejected' };

function destinationText(line: ChangeLine): string {
  const d = line.destination;
  const dest = d.includes(' ') ? `(${d})` : d.includes(':') ? `[${d}]` : d;
  if (line.protocol === 'any') return `${d} (any protocol)`;
  if (line.protocol === 'other') return `${d} (any other protocol)`;
  if (line.ports === undefined) return `${dest}/${line.protocol}`;
  const ports = line.ports.includes(' ') ? `(${line.ports})` : line.ports;
  return `${dest}:${ports}/${line.protocol}`;
}

function attribution(line: ChangeLine): string {
  const { old: a, new: b } = line;
  if (line.change === 'gained') return a.by === 'device default' ? b.by : `${b.by}; was ${VERB[a.verdict]} by ${a.by}`;
  if (line.change === 'lost') return `${VERB[b.verdict]} by ${b.by}; was ${a.by}`;
  if (line.change === 'rerouted') return `now through ${b.by}; was through ${a.by}`;
  return `now ${VERB[b.verdict]} by ${b.by}; was ${VERB[a.verdict]} by ${a.by}`;
}

/** `+ api.stripe.com:443/tcp (ServiceEgressRule payments/checkout-to-stripe)` */
export function changeText(line: ChangeLine): string {
  const tags = [
    line.onlyFamily ? `IPv${line.onlyFamily} only` : '',
    line.audit ? 'would be, with audit rules enforced' : '',
    line.when ? `when ${line.when.join(' | ')}` : '',
  ].filter(Boolean);
  return `${SIGN[line.change]} ${destinationText(line)} (${attribution(line)})${tags.map((t) => ` [${t}]`).join('')}`;
}

function changeCount(r: DiffResult): number {
  return r.workloads.reduce((n, w) => n + w.changes.length, 0);
}

function context(r: DiffResult): string[] {
  // The instants evaluated are shown only when the user chose one (--at): a report of the same
  // two outputs is then the same text whenever it is made.
  const lines = [
    r.fixedTime
      ? `evaluated at ${r.at.toISOString()}${r.gates.length ? ` only (${r.states[0].label})` : ''}`
      : r.gates.length === 0
        ? 'no time windows or expiry dates: the verdicts do not depend on the time'
        : `evaluated in ${r.states.length} time states that occur in the coming week (${r.states.map((s) => s.label).join('; ')})`,
  ];
  for (const g of r.gates) lines.push(`${g.id} = ${g.text} (${g.rules.join(', ')})`);
  lines.push(...r.notes);
  lines.push(
    `${r.counts.flows} flows per output through the AFM evaluator over each output's declaration: each of ${r.counts.workloads} workload${r.counts.workloads === 1 ? '' : 's'} against every class of destination and port that the rules able to apply to it tell apart`,
  );
  return lines;
}

/** One change and every workload it holds for, in the order of their first appearance. */
export interface GroupedChange {
  readonly line: ChangeLine;
  readonly text: string;
  readonly workloads: readonly string[];
}

export function groupChanges(r: DiffResult): GroupedChange[] {
  const groups = new Map<string, { line: ChangeLine; text: string; workloads: string[] }>();
  for (const w of r.workloads) {
    for (const c of w.changes) {
      const text = changeText(c);
      const g = groups.get(text);
      if (g) g.workloads.push(w.workload.label);
      else groups.set(text, { line: c, text, workloads: [w.workload.label] });
    }
  }
  return [...groups.values()];
}

/** Whether what the firewall enforces changes (would-be changes of audit rules aside). */
export function enforcedChanges(results: readonly DiffResult[]): boolean {
  return results.some((r) => r.workloads.some((w) => w.changes.some((c) => !c.audit)));
}

function summary(r: DiffResult): string {
  const n = groupChanges(r).length;
  return n === 0
    ? 'no change in what any workload may reach'
    : `${n} change${n === 1 ? '' : 's'} for ${r.workloads.length} of ${r.counts.workloads} workloads`;
}

export function formatText(results: readonly DiffResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    out.push(`# device ${r.tenant} (cluster ${r.cluster}): ${r.oldLabel} -> ${r.newLabel}`);
    for (const c of context(r)) out.push(`# ${c}`);
    for (const g of groupChanges(r)) out.push(`${g.workloads.join(', ')}: ${g.text}`);
    out.push(`# ${summary(r)}`);
  }
  return `${out.join('\n')}\n`;
}

function code(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``;
}

export function formatMarkdown(results: readonly DiffResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    out.push(`### Egress policy diff: ${code(r.tenant)} (cluster ${code(r.cluster)})`, '');
    out.push(`${code(r.oldLabel)} → ${code(r.newLabel)}: **${summary(r)}**.`, '');
    // Each change once, with the workloads it holds for on the line below (context in a diff block).
    const groups = groupChanges(r);
    if (groups.length) {
      const members = new Map(r.workloads.map((w) => [w.workload.label, w.workload.members?.length]));
      const head = (label: string) =>
        `${label}${members.get(label) !== undefined ? ` (${members.get(label)} pod${members.get(label) === 1 ? '' : 's'})` : ''}`;
      out.push('```diff');
      for (const g of groups) out.push(g.text, `    ${g.workloads.map(head).join(', ').replace(/`/g, "'")}`);
      out.push('```', '');
    }
    out.push('<details><summary>How this diff was computed</summary>', '');
    for (const c of context(r)) out.push(`- ${c.replace(/[<>]/g, (ch) => (ch === '<' ? '&lt;' : '&gt;'))}`);
    out.push(
      '- `+` now allowed, `-` no longer allowed, `~` still denied but dropped and rejected swapped; each line names the rule that now decides and the one that decided before.',
      '',
      '</details>',
      '',
    );
  }
  return `${out.join('\n')}`;
}

export function formatJson(results: readonly DiffResult[]): string {
  const devices = results.map((r) => ({
    tenant: r.tenant,
    cluster: r.cluster,
    old: r.oldLabel,
    new: r.newLabel,
    ...(r.fixedTime ? { at: r.at.toISOString() } : {}),
    fixedTime: r.fixedTime,
    windows: r.gates.map((g) => ({ id: g.id, text: g.text, rules: g.rules })),
    timeStates: r.states.map((s) => ({ label: s.label, ...(r.fixedTime ? { at: s.at.toISOString() } : {}) })),
    workloadBasis: r.basis,
    notes: r.notes,
    counts: { ...r.counts, changes: changeCount(r), distinctChanges: groupChanges(r).length },
    changes: groupChanges(r).map(({ line: { order: _o, ...c }, workloads }) => ({ ...c, workloads })),
    workloads: r.workloads.map((w) => ({
      workload: w.workload.label,
      ...(w.workload.namespace !== undefined ? { namespace: w.workload.namespace } : {}),
      ...(w.workload.members ? { members: w.workload.members } : {}),
      changes: w.changes.map(({ order: _o, ...c }) => c),
    })),
  }));
  return `${JSON.stringify({ format: DIFF_FORMAT, devices }, null, 2)}\n`;
}
