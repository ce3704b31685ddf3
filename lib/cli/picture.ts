/**
 * A picture of a policy: the three levels (AFM contexts) with their rules in evaluation order,
 * each rule linked from its source and to its destinations (edges labelled with protocols and
 * ports). Rendered as Mermaid or Graphviz DOT; SVG goes through Graphviz (`@viz-js/viz`).
 */
import { compareRules } from '../policy/compile';
import {
  DestinationModel,
  LEVELS,
  Level,
  PolicyModel,
  PortModel,
  RuleModel,
  SelectorModel,
  SourceModel,
  isEmptySelector,
} from '../policy/model';

interface Node {
  readonly id: string;
  readonly lines: readonly string[];
}

interface RuleNode extends Node {
  readonly action: RuleModel['action'];
  readonly audit: boolean;
}

export interface PolicyPicture {
  readonly title: string;
  readonly levels: readonly { readonly level: Level; readonly title: string; readonly rules: readonly RuleNode[] }[];
  readonly sources: readonly Node[];
  readonly destinations: readonly Node[];
  readonly edges: readonly { readonly from: string; readonly to: string; readonly label?: string }[];
  readonly defaultNode: Node;
}

const LEVEL_TITLE: Readonly<Record<Level, string>> = {
  cluster: '1 · cluster rules (AFM global context)',
  namespace: '2 · namespace rules (AFM route-domain context)',
  service: '3 · service rules (AFM virtual-server context)',
};

function selectorText(s: SelectorModel | undefined): string | undefined {
  if (!s || isEmptySelector(s)) return undefined;
  const parts = Object.entries(s.matchLabels).map(([k, v]) => `${k}=${v}`);
  for (const e of s.matchExpressions) {
    parts.push(
      e.operator === 'Exists'
        ? e.key
        : e.operator === 'DoesNotExist'
          ? `!${e.key}`
          : `${e.key} ${e.operator === 'In' ? 'in' : 'notin'} (${e.values.join(',')})`,
    );
  }
  return parts.join(', ');
}

function sourceLines(s: SourceModel): string[] {
  if (s.level === 'service') return [`pods of Service ${s.namespace}/${s.service}`];
  const pods = selectorText(s.podSelector);
  if (s.level === 'namespace') return [`pods of namespace ${s.namespace}`, ...(pods ? [`with ${pods}`] : [])];
  const ns = selectorText(s.namespaceSelector);
  return [
    ns || pods ? 'pods of the cluster' : 'all pods of the cluster',
    ...(ns ? [`namespaces: ${ns}`] : []),
    ...(pods ? [`pods: ${pods}`] : []),
  ];
}

function portsText(ports: readonly PortModel[]): string {
  if (ports.length === 0) return 'any';
  return ports
    .map((p) =>
      p.fromPort === undefined
        ? p.protocol
        : `${p.protocol}/${p.fromPort}${p.toPort !== undefined && p.toPort !== p.fromPort ? `-${p.toPort}` : ''}`,
    )
    .join(', ');
}

function ruleLines(rule: RuleModel, position: number): string[] {
  const flags = [
    rule.audit ? 'audit' : '',
    rule.logging ? 'logged' : '',
    rule.schedule ? `window ${rule.schedule.startTime}-${rule.schedule.endTime} ${rule.schedule.timeZone}` : '',
    rule.expiresAt ? `expires ${rule.expiresAt}` : '',
    rule.bandwidth ? `≤ ${rule.bandwidth.maxBandwidth} ${rule.bandwidth.unit}` : '',
    rule.redirect ? `via ${rule.redirect.name} (${rule.redirect.gateways.map((g) => g.text).join(', ')})` : '',
  ].filter(Boolean);
  return [
    `${position}. ${rule.namespace ? `${rule.namespace}/` : ''}${rule.name}`,
    `${rule.action} · priority ${rule.priority}`,
    ...(flags.length ? [flags.join(' · ')] : []),
  ];
}

/** Builds the picture of a policy model. */
export function policyPicture(model: PolicyModel, title: string): PolicyPicture {
  const sources = new Map<string, Node>();
  const destinations = new Map<string, Node>();
  const edges: { from: string; to: string; label?: string }[] = [];
  const externals = new Map(model.externalServices.map((es) => [es.name, es]));
  const sourceId = (s: SourceModel) => {
    const lines = sourceLines(s);
    const key = lines.join('\n');
    if (!sources.has(key)) sources.set(key, { id: `s${sources.size}`, lines });
    return (sources.get(key) as Node).id;
  };
  const destinationId = (d: DestinationModel) => {
    const lines =
      d.kind === 'externalService'
        ? [`ExternalService ${d.name}`, ...(externals.get(d.name)?.destinations.map((x) => x.text) ?? [])]
        : [d.text];
    const key = `${d.kind}:${lines.join('\n')}`;
    if (!destinations.has(key)) destinations.set(key, { id: `d${destinations.size}`, lines });
    return (destinations.get(key) as Node).id;
  };
  let n = 0;
  const levels = LEVELS.map((level) => ({
    level,
    title: LEVEL_TITLE[level],
    rules: model.rules
      .filter((r) => r.level === level)
      .sort(compareRules)
      .map((rule, i): RuleNode => {
        const id = `r${n++}`;
        edges.push({ from: sourceId(rule.source), to: id });
        for (const d of rule.destinations) edges.push({ from: id, to: destinationId(d), label: portsText(rule.ports) });
        return { id, lines: ruleLines(rule, i + 1), action: rule.action, audit: rule.audit || model.device.audit };
      }),
  }));
  const d = model.device;
  const defaultNode = {
    id: 'device_default',
    lines: [`otherwise: ${d.defaultAction}`, d.audit ? 'device in audit mode: nothing enforced' : 'unless an upper level said ALLOW'],
  };
  return { title, levels, sources: [...sources.values()], destinations: [...destinations.values()], edges, defaultNode };
}

const mermaidText = (lines: readonly string[]) =>
  `"${lines.map((l) => l.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;')).join('<br/>')}"`;

export function toMermaid(p: PolicyPicture): string {
  const out = ['flowchart LR', `  %% ${p.title}`];
  for (const l of p.levels) {
    out.push(`  subgraph ${l.level}[${mermaidText([l.title])}]`, '    direction TB');
    if (l.rules.length === 0) out.push(`    ${l.level}_none[${mermaidText(['no rules'])}]`);
    for (const r of l.rules) out.push(`    ${r.id}[${mermaidText(r.lines)}]`);
    if (l.level === 'service') out.push(`    ${p.defaultNode.id}{{${mermaidText(p.defaultNode.lines)}}}`);
    out.push('  end');
  }
  for (const s of p.sources) out.push(`  ${s.id}([${mermaidText(s.lines)}])`);
  for (const d of p.destinations) out.push(`  ${d.id}[/${mermaidText(d.lines)}/]`);
  for (const e of p.edges) out.push(e.label ? `  ${e.from} -->|${mermaidText([e.label])}| ${e.to}` : `  ${e.from} --> ${e.to}`);
  out.push(
    '  classDef deny fill:#fde2e1,stroke:#b42318',
    '  classDef allow fill:#e3f5e1,stroke:#2f7d32',
    '  classDef allowFinal fill:#c8ecc4,stroke:#1b5e20,stroke-width:2px',
    '  classDef audit stroke-dasharray:4 3',
  );
  const by = (f: (r: RuleNode) => boolean) => p.levels.flatMap((l) => l.rules.filter(f).map((r) => r.id));
  const cls = (ids: string[], name: string) => (ids.length ? [`  class ${ids.join(',')} ${name}`] : []);
  out.push(
    ...cls(
      by((r) => r.action === 'DENY' || r.action === 'REJECT'),
      'deny',
    ),
    ...cls(
      by((r) => r.action === 'ALLOW'),
      'allow',
    ),
    ...cls(
      by((r) => r.action === 'ALLOW_FINAL'),
      'allowFinal',
    ),
    ...cls(
      by((r) => r.audit),
      'audit',
    ),
  );
  return `${out.join('\n')}\n`;
}

const dotText = (lines: readonly string[]) => `"${lines.map((l) => l.replace(/\\/g, '\\\\').replace(/"/g, '\\"')).join('\\n')}"`;
const FILL: Readonly<Record<RuleModel['action'], string>> = {
  DENY: '#fde2e1',
  REJECT: '#fde2e1',
  ALLOW: '#e3f5e1',
  ALLOW_FINAL: '#c8ecc4',
};

export function toDot(p: PolicyPicture): string {
  const out = [
    'digraph egress {',
    `  label=${dotText([p.title])}; labelloc=t; rankdir=LR;`,
    '  node [fontname="Helvetica", fontsize=10]; edge [fontname="Helvetica", fontsize=9];',
  ];
  p.levels.forEach((l, i) => {
    out.push(`  subgraph cluster_${i} {`, `    label=${dotText([l.title])}; style=rounded; color="#888888";`);
    if (l.rules.length === 0) out.push(`    ${l.level}_none [shape=plaintext, label="no rules"];`);
    for (const r of l.rules)
      out.push(
        `    ${r.id} [shape=box, style="rounded,filled${r.audit ? ',dashed' : ''}", fillcolor="${FILL[r.action]}", label=${dotText(r.lines)}];`,
      );
    if (l.level === 'service') out.push(`    ${p.defaultNode.id} [shape=hexagon, label=${dotText(p.defaultNode.lines)}];`);
    out.push('  }');
  });
  for (const s of p.sources) out.push(`  ${s.id} [shape=ellipse, label=${dotText(s.lines)}];`);
  for (const d of p.destinations) out.push(`  ${d.id} [shape=parallelogram, label=${dotText(d.lines)}];`);
  for (const e of p.edges) out.push(`  ${e.from} -> ${e.to}${e.label ? ` [label=${dotText([e.label])}]` : ''};`);
  out.push('}');
  return `${out.join('\n')}\n`;
}

/** SVG through Graphviz compiled to WebAssembly. */
export async function toSvg(p: PolicyPicture): Promise<string> {
  // An ES module: loaded with import(), which Node runs from CommonJS.
  const viz = await import('@viz-js/viz');
  return (await viz.instance()).renderString(toDot(p), { format: 'svg' });
}
