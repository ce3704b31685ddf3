/**
 * Rules learned from observed flows: what a namespace's (or a Service's) pods tried to reach
 * that no rule allowed, turned into ALLOW rules in the library's own API.
 *
 * Stated aggregation, so that a rule covers exactly what its comment says:
 * - Destinations: a DNS name the device logged for the destination stands for it (an FQDN
 *   destination); otherwise its address. Four or more observed addresses of one IPv4 /24 (IPv6
 *   /64) become that whole /24 (/64); fewer stay single addresses.
 * - Ports: per protocol, observed ports that are consecutive merge into one range; gaps stay
 *   gaps. A protocol without ports (ICMP) allows that protocol.
 * - Destinations with the same ports share one rule.
 *
 * "Needed" flows are those of the target that the enforced policy did not allow by a rule: a
 * deny or reject, or an allow by the device default (a device or namespace in audit posture).
 * Staged (audit-rule) events say what an audit rule would do, not what the pod needed, and are
 * left out.
 */
import { deviceCommands, renderAs3 } from '../afm/as3';
import { commentSafe } from '../migration/emit';
import { compilePolicy } from '../policy/compile';
import { formatIp, tryParseIp } from '../policy/ip';
import type { AddressModel, DestinationModel, FqdnModel, PolicyModel, PortModel, RuleModel } from '../policy/model';
import { buildSyncPlan } from '../k8s/sync-plan';
import { PRIORITY_DEFAULT } from '../policy/schema';
import type { FlowRecord } from './enrich';

/** Who the rules are for: a namespace, or one Service of it. */
export interface SuggestTarget {
  readonly namespace: string;
  readonly service?: string;
}

/** One needed flow, aggregated over its events. */
export interface NeededFlow {
  readonly workload: string;
  /** First Service of the source pod, if any (the hypothetical pod `simulate` uses). */
  readonly service?: string;
  readonly ip: string;
  readonly fqdn?: string;
  readonly protocol: string;
  readonly port?: number;
  readonly before: string;
  events: number;
  first: string;
  last: string;
}

export interface SuggestedRule {
  readonly model: RuleModel;
  /** What it covers, in words: destinations, protocols and ports. */
  readonly covers: string;
  /** Why each destination is there (the aggregation rule that made it). */
  readonly reasons: readonly string[];
  readonly flows: readonly NeededFlow[];
}

export interface Suggestion {
  readonly target: SuggestTarget;
  readonly rules: readonly SuggestedRule[];
  readonly flows: readonly NeededFlow[];
  /** DNS answers seen in the logs: FQDN → addresses. */
  readonly dns: ReadonlyMap<string, readonly string[]>;
}

const SPAN = { 4: 24, 6: 64 } as const;
/** Distinct addresses of one /24 (/64) that make the suggestion the whole prefix. */
export const AGGREGATE_AT = 4;
const PORTED = new Set(['tcp', 'udp', 'sctp']);

function isNeeded(r: FlowRecord, target: SuggestTarget): boolean {
  if (r.staged || r.source.namespace !== target.namespace) return false;
  if (target.service !== undefined && !(r.source.services ?? []).includes(target.service)) return false;
  return r.verdict !== 'allow' || r.defaultRule === true;
}

/** The needed flows of `records` for `target`, aggregated per workload, destination, protocol and port. */
export function neededFlows(records: Iterable<FlowRecord>, target: SuggestTarget): NeededFlow[] {
  const flows = new Map<string, NeededFlow>();
  for (const r of records) {
    if (!isNeeded(r, target)) continue;
    const workload = `${target.namespace}/${r.source.services?.[0] ?? r.source.pod ?? r.source.ip}`;
    const port = PORTED.has(r.protocol) ? r.destination.port : undefined;
    const key = JSON.stringify([workload, r.destination.ip, r.destination.fqdn, r.protocol, port]);
    const f = flows.get(key);
    if (f) {
      f.events++;
      if (r.time < f.first) f.first = r.time;
      if (r.time > f.last) f.last = r.time;
      continue;
    }
    const before = r.rule
      ? `${r.rule.kind} ${r.rule.namespace !== undefined ? `${r.rule.namespace}/` : ''}${r.rule.name}`
      : r.defaultRule
        ? 'device default'
        : `AFM rule ${r.afm.rule ?? '(none logged)'}`;
    flows.set(key, {
      workload,
      ...(r.source.services?.[0] !== undefined ? { service: r.source.services[0] } : {}),
      ip: r.destination.ip,
      ...(r.destination.fqdn !== undefined ? { fqdn: r.destination.fqdn } : {}),
      protocol: r.protocol,
      ...(port !== undefined ? { port } : {}),
      before: `${r.verdict} by ${before}`,
      events: 1,
      first: r.time,
      last: r.time,
    });
  }
  return [...flows.values()].sort((a, b) =>
    a.workload + a.ip + a.protocol + (a.port ?? '') < b.workload + b.ip + b.protocol + (b.port ?? '') ? -1 : 1,
  );
}

/** Per protocol, consecutive ports as ranges. */
export function mergePorts(pairs: readonly { protocol: string; port?: number }[]): PortModel[] {
  const byProtocol = new Map<string, Set<number>>();
  const bare = new Set<string>();
  for (const p of pairs) {
    if (p.port === undefined || !PORTED.has(p.protocol)) bare.add(p.protocol);
    else byProtocol.set(p.protocol, (byProtocol.get(p.protocol) ?? new Set()).add(p.port));
  }
  const out: PortModel[] = [];
  for (const protocol of [...byProtocol.keys()].sort()) {
    const ports = [...(byProtocol.get(protocol) as Set<number>)].sort((a, b) => a - b);
    let start = ports[0];
    for (let i = 1; i <= ports.length; i++) {
      if (i < ports.length && ports[i] === ports[i - 1] + 1) continue;
      out.push({ protocol, fromPort: start, toPort: ports[i - 1] });
      start = ports[i];
    }
  }
  for (const protocol of [...bare].sort()) out.push({ protocol });
  return out;
}

function portText(p: PortModel): string {
  if (p.fromPort === undefined) return p.protocol;
  return `${p.protocol} ${p.fromPort === p.toPort ? p.fromPort : `${p.fromPort}-${p.toPort}`}`;
}

interface Target {
  readonly destination: AddressModel | FqdnModel;
  readonly reason: string;
  readonly flows: NeededFlow[];
}

/** Destinations: FQDNs where logged, else addresses, aggregated to /24 (/64) at AGGREGATE_AT addresses. */
function destinations(flows: readonly NeededFlow[]): Target[] {
  const out: Target[] = [];
  const byFqdn = new Map<string, NeededFlow[]>();
  const byPrefix = new Map<string, { family: 4 | 6; prefix: bigint; ips: Map<string, NeededFlow[]> }>();
  for (const f of flows) {
    if (f.fqdn !== undefined) {
      byFqdn.set(f.fqdn, [...(byFqdn.get(f.fqdn) ?? []), f]);
      continue;
    }
    const ip = tryParseIp(f.ip) as NonNullable<ReturnType<typeof tryParseIp>>;
    const bits = ip.family === 4 ? 32 : 128;
    const prefix = ip.value >> BigInt(bits - SPAN[ip.family]);
    const key = `${ip.family}/${prefix}`;
    const entry = byPrefix.get(key) ?? { family: ip.family, prefix, ips: new Map() };
    entry.ips.set(ip.text, [...(entry.ips.get(ip.text) ?? []), f]);
    byPrefix.set(key, entry);
  }
  for (const [fqdn, fs] of [...byFqdn].sort(([a], [b]) => (a < b ? -1 : 1))) {
    out.push({ destination: { kind: 'fqdn', text: fqdn, wildcard: false }, reason: `${fqdn}: the DNS name the device logged`, flows: fs });
  }
  for (const e of [...byPrefix.values()].sort((a, b) => a.family - b.family || (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0))) {
    const bits = e.family === 4 ? 32 : 128;
    if (e.ips.size >= AGGREGATE_AT) {
      const cidr = `${formatIp(e.family, e.prefix << BigInt(bits - SPAN[e.family]))}/${SPAN[e.family]}`;
      out.push({
        destination: { kind: 'cidr', text: cidr, family: e.family },
        reason: `${cidr}: ${e.ips.size} observed addresses of this /${SPAN[e.family]} (${AGGREGATE_AT} or more become the /${SPAN[e.family]})`,
        flows: [...e.ips.values()].flat(),
      });
      continue;
    }
    for (const [ip, fs] of [...e.ips].sort(([a], [b]) => ((tryParseIp(a)?.value ?? 0n) < (tryParseIp(b)?.value ?? 0n) ? -1 : 1))) {
      out.push({
        destination: { kind: 'address', text: ip, family: e.family },
        reason: `${ip}: observed address (fewer than ${AGGREGATE_AT} of its /${SPAN[e.family]})`,
        flows: fs,
      });
    }
  }
  return out;
}

/**
 * Proposed rules for `target` from `records`. `model`: the current policy (rule names must be
 * new); `prefix`: rule names are `<prefix>-<n>`.
 */
export function suggestRules(model: PolicyModel, records: Iterable<FlowRecord>, target: SuggestTarget, prefix = 'observed'): Suggestion {
  const flows = neededFlows(records, target);
  const dns = new Map<string, string[]>();
  for (const f of flows)
    if (f.fqdn !== undefined && !(dns.get(f.fqdn) ?? []).includes(f.ip)) dns.set(f.fqdn, [...(dns.get(f.fqdn) ?? []), f.ip]);
  const groups = new Map<string, { ports: PortModel[]; targets: Target[] }>();
  for (const t of destinations(flows)) {
    const ports = mergePorts(t.flows);
    const key = JSON.stringify(ports);
    const g = groups.get(key) ?? { ports, targets: [] };
    g.targets.push(t);
    groups.set(key, g);
  }
  const level = target.service !== undefined ? 'service' : 'namespace';
  const taken = new Set(model.rules.filter((r) => r.level === level && r.namespace === target.namespace).map((r) => r.name));
  let n = 0;
  const nextName = () => {
    let name: string;
    do name = `${prefix}-${++n}`;
    while (taken.has(name));
    return name;
  };
  const rules: SuggestedRule[] = [];
  for (const g of groups.values()) {
    const name = nextName();
    const ruleFlows = g.targets.flatMap((t) => t.flows);
    const events = ruleFlows.reduce((s, f) => s + f.events, 0);
    const first = ruleFlows.reduce((m, f) => (f.first < m ? f.first : m), ruleFlows[0].first);
    const last = ruleFlows.reduce((m, f) => (f.last > m ? f.last : m), ruleFlows[0].last);
    const ruleModel: RuleModel = {
      level,
      name,
      namespace: target.namespace,
      path: `suggested/${name}`,
      action: 'ALLOW',
      priority: PRIORITY_DEFAULT,
      source: { level, namespace: target.namespace, ...(target.service !== undefined ? { service: target.service } : {}) },
      destinations: g.targets.map((t) => t.destination),
      ports: g.ports,
      logging: true,
      audit: false,
      description: `learned from ${events} observed event${events === 1 ? '' : 's'}, ${first} to ${last}`,
      metadata: {},
    };
    rules.push({
      model: ruleModel,
      covers: `${g.targets.map((t) => t.destination.text).join(', ')} on ${g.ports.map(portText).join(', ')}`,
      reasons: g.targets.map((t) => t.reason),
      flows: ruleFlows,
    });
  }
  return { target, rules, flows, dns };
}

/** The policy with the suggested rules added. */
export function withSuggestion(model: PolicyModel, s: Suggestion): PolicyModel {
  return { ...model, rules: [...model.rules, ...s.rules.map((r) => r.model)] };
}

/** What `policyView` needs for a model: compiled, rendered, with its plan. */
export function renderedPolicy(
  model: PolicyModel,
  now: Date,
): { model: PolicyModel; plan: ReturnType<typeof buildSyncPlan>; as3: unknown[]; commands: string[] } {
  const compiled = compilePolicy(model, { now });
  return {
    model,
    plan: buildSyncPlan(compiled),
    as3: [JSON.parse(JSON.stringify(renderAs3(compiled)))],
    commands: deviceCommands(compiled).apply,
  };
}

/** A string literal with single quotes; anything outside printable ASCII escaped. */
function lit(text: string): string {
  return `'${text
    .replace(/\\/g, '\\\\')
    .replace(/'/g, "\\'")
    .replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}'`;
}

function portCode(p: PortModel): string {
  if (p.fromPort === undefined) return `EgressPort.protocol(${lit(p.protocol)})`;
  return p.fromPort === p.toPort ? `EgressPort.${p.protocol}(${p.fromPort})` : `EgressPort.${p.protocol}Range(${p.fromPort}, ${p.toPort})`;
}

function destinationCode(d: DestinationModel): string {
  if (d.kind === 'fqdn') return `EgressDestination.fqdn(${lit(d.text)})`;
  if (d.kind === 'cidr') return `EgressDestination.cidr(${lit(d.text)})`;
  if (d.kind === 'externalService') throw new Error('suggested rules name no ExternalService');
  return `EgressDestination.address(${lit(d.text)})`;
}

/** Observed flows listed per rule. */
const MAX_LISTED = 10;

export const SUGGESTED_FUNCTION = 'addSuggestedEgressRules';

/** The TypeScript module: `addSuggestedEgressRules(scope, device)` creating the rules, each with what it covers. */
export function emitSuggestion(s: Suggestion, header: readonly string[], library = 'cdktf-ces'): string {
  const cls = s.target.service !== undefined ? 'ServiceEgressRule' : 'NamespaceEgressRule';
  const symbols = [
    'AfmDevice',
    'EgressAction',
    'EgressDestination',
    cls,
    ...(s.rules.some((r) => r.model.ports.length) ? ['EgressPort'] : []),
  ].sort();
  const out: string[] = header.map((l) => `// ${commentSafe(l)}`.trimEnd());
  out.push(`import { Construct } from 'constructs';`);
  out.push(`import { ${symbols.join(', ')} } from ${lit(library)};`);
  out.push('');
  out.push(
    `/** Rules for the flows of ${commentSafe(s.target.service !== undefined ? `Service ${s.target.namespace}/${s.target.service}` : `namespace ${s.target.namespace}`)} that no rule allowed. */`,
  );
  out.push(`export function ${SUGGESTED_FUNCTION}(scope: Construct, device: AfmDevice): Construct[] {`);
  out.push(s.rules.length ? '  return [' : '  return [];');
  for (const r of s.rules) {
    const m = r.model;
    out.push(`    // Covers ${commentSafe(r.covers)}; nothing else.`);
    for (const reason of r.reasons) out.push(`    //   ${commentSafe(reason)}`);
    const shown = r.flows
      .slice(0, MAX_LISTED)
      .map(
        (f) => `${f.workload} -> ${f.fqdn ?? f.ip}${f.port !== undefined ? `:${f.port}` : ''}/${f.protocol} (${f.events}x, ${f.before})`,
      );
    if (r.flows.length > MAX_LISTED) shown.push(`and ${r.flows.length - MAX_LISTED} more`);
    out.push(`    // Observed: ${commentSafe(shown.join('; '))}`);
    out.push(`    new ${cls}(scope, ${lit(m.name)}, {`);
    out.push('      device,');
    out.push(`      name: ${lit(m.name)},`);
    out.push(`      namespace: ${lit(m.namespace as string)},`);
    if (s.target.service !== undefined) out.push(`      service: ${lit(s.target.service)},`);
    out.push('      action: EgressAction.ALLOW,');
    out.push(`      destinations: [${m.destinations.map(destinationCode).join(', ')}],`);
    if (m.ports.length) out.push(`      ports: [${m.ports.map(portCode).join(', ')}],`);
    out.push('      logging: true,');
    out.push(`      description: ${lit(m.description as string)},`);
    out.push('    }),');
  }
  if (s.rules.length) out.push('  ];');
  out.push('}');
  return `${out.join('\n')}\n`;
}
