/**
 * Text output of the tools: the explain report, verdict names and rule names.
 */
import type { AfmRuleHit, AfmRuleOwner } from '../afm/evaluator';
import type { DecisionView, Explanation, FlowExplanation, LevelView, Verdict } from './engine';
import { translationText } from './translation';
import { describeNextHop } from '../policy/redirect';

export function verdictText(v: Verdict | 'mixed'): string {
  return v === 'allow' ? 'ALLOW' : v === 'deny' ? 'DENY (drop)' : v === 'reject' ? 'REJECT' : 'MIXED (depends on the address)';
}

/** `ServiceEgressRule payments/checkout-to-stripe`. */
export function ruleName(rule: AfmRuleOwner): string {
  return `${rule.kind} ${rule.namespace ? `${rule.namespace}/` : ''}${rule.name}`;
}

export function ruleDetail(rule: AfmRuleOwner): string {
  return `${ruleName(rule)} (${rule.action}${rule.audit ? ', audit' : ''}) at ${rule.path}`;
}

function afmHitText(hit: AfmRuleHit): string {
  return `rule ${hit.rule}${hit.ruleList ? ` of rule list ${hit.ruleList}` : ''} in policy ${hit.policy} → ${hit.action}`;
}

const CONTEXT_NAME = {
  global: 'global context',
  'route-domain': 'route-domain context',
  'virtual-server': 'virtual-server context',
} as const;

function levelLine(l: LevelView, index: number): string {
  const head = `  ${index + 1} ${l.level.padEnd(10)}${CONTEXT_NAME[l.context].padEnd(24)}`;
  let what: string;
  switch (l.outcome) {
    case 'match':
      if (l.rule) what = `${ruleName(l.rule)} → ${l.rule.action}  [${l.hit?.rule}]`;
      else if (l.fallThrough?.kind === 'carried')
        what = `no service rule matched → carried ALLOW of ${l.fallThrough.rule ? ruleName(l.fallThrough.rule) : l.fallThrough.hit.rule} accepts  [${l.fallThrough.hit.rule}]`;
      else if (l.fallThrough?.kind === 'default')
        what = `no service rule matched → device default: ${l.fallThrough.hit?.action ?? 'virtual-server default'}  [${l.fallThrough.hit?.rule ?? '-'}]`;
      else what = `AFM rule ${l.hit?.rule} (no policy rule of this device) → ${l.hit?.action}`;
      break;
    case 'no-match':
      what = l.context === 'virtual-server' ? 'no rule matched → BIG-IP virtual-server default' : 'no match';
      break;
    case 'no-policy':
      what = l.context === 'virtual-server' ? 'no policy on the virtual server → BIG-IP virtual-server default' : 'no policy attached';
      break;
    case 'not-reached':
      what = 'not consulted (an earlier level decided)';
      break;
    case 'no-virtual-server':
      what = 'no virtual server listens for this packet: BIG-IP drops it';
      break;
  }
  return `${head}${what}`;
}

function decisionLines(d: DecisionView, label: string): string[] {
  const lines = [`${label}: ${verdictText(d.verdict)}`, ...d.levels.map(levelLine)];
  if (d.decidedBy) lines.push(`  decided by ${ruleDetail(d.decidedBy)}`);
  else if (d.ending === 'no-virtual-server')
    lines.push('  decided by the BIG-IP: no egress virtual server accepts this source (outside the device podCidrs?)');
  else lines.push('  decided by the device default');
  if (d.hit) lines.push(`  AFM: ${CONTEXT_NAME[d.hit.context]}, ${afmHitText(d.hit)}`);
  if (d.nextHop) lines.push(`  next hop: ${describeNextHop(d.nextHop)}`);
  lines.push(...iRuleLines(d));
  return lines;
}

/** The onMatch iRules that ran (a rule's iRule runs wherever the rule matched, deciding or not). */
function iRuleLines(d: DecisionView): string[] {
  return d.levels.flatMap((l) => {
    if (!l.hit?.iRule) return [];
    const what = l.rule ? `${ruleName(l.rule)}${l.rule.onMatch ? ` (${l.rule.onMatch})` : ''}` : `AFM rule ${l.hit.rule}`;
    return [`  iRule: ${l.hit.iRule} runs at FLOW_INIT on ${what}; it cannot change the verdict (verdict commands are refused at synth)`];
  });
}

function flowHeader(f: FlowExplanation): string {
  const to = f.destinationIp ? (f.destinationIp.includes(':') ? `[${f.destinationIp}]` : f.destinationIp) : f.host;
  const host = f.host && f.destinationIp ? ` (host ${f.host}${f.unlisted ? ', unresolved: an address no rule lists' : ''})` : '';
  return `packet ${f.sourceIp} → ${to}${f.port !== undefined ? `:${f.port}` : ''}/${f.protocol}${host}`;
}

/** The explain report. */
export function formatExplanation(e: Explanation): string {
  const lines = [
    `device:      ${e.device}`,
    `from:        ${e.source.description}`,
    `to:          ${e.destination.text}${e.resolved ? ` (resolves to ${e.resolved.addresses.join(', ')}: ${e.resolved.from})` : ''}`,
    `at:          ${e.at.toISOString()}`,
  ];
  for (const n of e.notes) lines.push(`note:        ${n}`);
  lines.push('');
  lines.push(`verdict: ${verdictText(e.verdict)}`);
  // An audit rule that matches is news even when it would not change the verdict: it is what the
  // logs will show, and what decides once it is enforced.
  const auditMatch = (f: FlowExplanation) => (f.staged?.decidedBy?.audit ? f.staged.decidedBy : undefined);
  const auditRules = [
    ...new Set(
      e.flows
        .map(auditMatch)
        .filter((r) => r !== undefined)
        .map(ruleName),
    ),
  ];
  if (e.wouldBe !== e.verdict) lines.push(`would be with audit rules enforced: ${verdictText(e.wouldBe)}`);
  else if (auditRules.length)
    lines.push(`would be with audit rules enforced: ${verdictText(e.wouldBe)} (unchanged; decided by audit rule ${auditRules.join(', ')})`);
  for (const f of e.flows) {
    lines.push('');
    if (e.flows.length > 1 || f.destinationIp !== e.destination.ip) lines.push(flowHeader(f));
    lines.push(...decisionLines(f.enforced, 'enforced'));
    if (f.translation) lines.push(`  leaves from ${translationText(f.translation, ruleName)}`);
    if (f.staged && (f.evaluation.wouldBe !== f.evaluation.verdict || auditMatch(f)))
      lines.push(...decisionLines(f.staged, 'would be (staged policies, audit rules enforced)'));
  }
  return `${lines.join('\n')}\n`;
}

/** One line naming what decided a flow, for tables. */
export function decidedByText(d: DecisionView): string {
  if (d.decidedBy) {
    const iRule = d.decidedBy.onMatch ? ', runs an iRule on match' : '';
    // Redirected flows say where they went: simulate's tables and JSON show it.
    const via = d.nextHop?.redirect ? ` via redirect "${d.nextHop.redirect}"` : '';
    return `${ruleName(d.decidedBy)} (${d.decidedBy.action}, ${d.decidedBy.level}${iRule})${via}`;
  }
  if (d.ending === 'no-virtual-server') return 'no virtual server (BIG-IP drop)';
  return 'device default';
}

/**
 * Whether a decision was made by the rule `wanted` names: `ServiceEgressRule payments/x`,
 * `payments/x` (namespace or service rule), `x` (cluster rule), its construct path, or
 * `device default` for the device's default action.
 */
export function decidedByMatches(d: DecisionView, wanted: string): boolean {
  const text = wanted.trim();
  const rule = d.decidedBy;
  if (!rule) return text === 'device default' && d.ending !== 'no-virtual-server';
  const qualified = `${rule.namespace !== undefined ? `${rule.namespace}/` : ''}${rule.name}`;
  return text === ruleName(rule) || text === qualified || text === rule.path;
}
