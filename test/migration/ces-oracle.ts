/**
 * What CES itself does with a flow, read straight from the raw manifests (no code of the
 * import): the model the equivalence tests hold the imported policy against.
 *
 * CES (release 0.5) renders each rule as one AFM rule per ExternalService and protocol
 * (destination = the service's addresses, ports = the entries of that protocol that have a port;
 * no such entry = protocol any), ClusterEgressRules in the global context (any source, services
 * of kube-system), NamespaceEgressRules in the route-domain context (the namespace's pods, its own
 * services), ServiceEgressRules in the virtual-server context (the Service's pods, its own
 * services), and ends the virtual-server policy with a drop-all. AFM: first match per context;
 * accept passes to the next context, accept-decisively allows, drop and reject end it.
 *
 * CES has no order within a context; the oracle resolves overlaps as the import documents:
 * drop before reject before accept-decisively before accept.
 */
import { parseAllDocuments } from 'yaml';
import { tryParseIp } from '../../lib/policy/ip';

export type CesVerdict = 'allow' | 'deny' | 'reject';

export interface OraclePod {
  readonly namespace: string;
  /** Services of its namespace that select it. */
  readonly services: readonly string[];
}

export interface OracleFlow {
  readonly pod: OraclePod;
  readonly ip: string;
  /** Host name, for DNS-name entries of ExternalServices. */
  readonly host?: string;
  readonly protocol: string;
  readonly port?: number;
}

type Obj = Record<string, any>;

/** The objects of a manifest file, with `kind: List` items flattened. */
export function cesObjects(text: string): Obj[] {
  const out: Obj[] = [];
  for (const doc of parseAllDocuments(text) as any[]) {
    const v = doc.toJS();
    if (!v) continue;
    if (v.kind === 'List') out.push(...v.items);
    else out.push(v);
  }
  return out;
}

interface AfmRule {
  readonly protocol: string;
  readonly ranges?: readonly (readonly [number, number])[];
  readonly addresses: readonly string[];
  readonly names: readonly string[];
}

function afmRules(rule: Obj, objects: readonly Obj[]): AfmRule[] {
  const ns = rule.kind === 'ClusterEgressRule' ? 'kube-system' : rule.metadata.namespace;
  const out: AfmRule[] = [];
  for (const name of rule.spec.externalServices ?? []) {
    const es = objects.find((o) => o.kind === 'ExternalService' && o.metadata.name === name && o.metadata.namespace === ns);
    if (!es) continue;
    const addresses: string[] = [];
    const names: string[] = [];
    for (const a of es.spec.addresses) {
      const ip = tryParseIp(a);
      if (ip) addresses.push(ip.text);
      else names.push(a);
    }
    const byProtocol = new Map<string, [number, number][]>();
    for (const p of es.spec.ports ?? []) {
      if (!p.port) continue;
      const protocol = String(p.protocol ?? '').toLowerCase();
      const ranges = String(p.port)
        .split(',')
        .map((part) => part.split('-').map(Number))
        .map(([a, b]) => [a, b ?? a] as [number, number]);
      byProtocol.set(protocol, [...(byProtocol.get(protocol) ?? []), ...ranges]);
    }
    if (byProtocol.size === 0) out.push({ protocol: 'any', addresses, names });
    for (const [protocol, ranges] of byProtocol) out.push({ protocol, ranges, addresses, names });
  }
  return out;
}

function matches(r: AfmRule, flow: OracleFlow): boolean {
  if (r.protocol !== 'any' && r.protocol !== flow.protocol) return false;
  if (r.ranges && (flow.port === undefined || !r.ranges.some(([a, b]) => flow.port! >= a && flow.port! <= b))) return false;
  const ip = tryParseIp(flow.ip)?.text;
  return r.addresses.includes(ip as string) || (flow.host !== undefined && r.names.includes(flow.host));
}

const PRECEDENCE = ['drop', 'reject', 'accept-decisively', 'accept'];

/** The action that decides a context: the first of the matching rules in the documented order. */
function decide(rules: readonly Obj[], objects: readonly Obj[], flow: OracleFlow): string | undefined {
  const actions = rules.filter((r) => afmRules(r, objects).some((a) => matches(a, flow))).map((r) => r.spec.action as string);
  return PRECEDENCE.find((a) => actions.includes(a));
}

/** The CES verdict of a flow. */
export function cesVerdict(objects: readonly Obj[], flow: OracleFlow): CesVerdict {
  const { pod } = flow;
  const contexts = [
    objects.filter((o) => o.kind === 'ClusterEgressRule'),
    objects.filter((o) => o.kind === 'NamespaceEgressRule' && o.metadata.namespace === pod.namespace),
  ];
  for (const rules of contexts) {
    const action = decide(rules, objects, flow);
    if (action === 'drop') return 'deny';
    if (action === 'reject') return 'reject';
    if (action === 'accept-decisively') return 'allow';
  }
  const serviceRules = objects.filter(
    (o) => o.kind === 'ServiceEgressRule' && o.metadata.namespace === pod.namespace && pod.services.includes(o.spec.service),
  );
  const action = decide(serviceRules, objects, flow);
  if (action === 'drop') return 'deny';
  if (action === 'reject') return 'reject';
  if (action === 'accept' || action === 'accept-decisively') return 'allow';
  return 'deny';
}

/** Ports worth probing: every boundary of every port range (and its neighbours), plus the extremes. */
export function probePorts(objects: readonly Obj[]): number[] {
  const ports = new Set([1, 65535]);
  for (const o of objects) {
    if (o.kind !== 'ExternalService') continue;
    for (const p of o.spec.ports ?? []) {
      if (typeof p.port !== 'string') continue;
      for (const part of p.port.split(',')) {
        for (const n of part.split('-').map(Number)) for (const q of [n - 1, n, n + 1]) if (q >= 1 && q <= 65535) ports.add(q);
      }
    }
  }
  return [...ports].sort((a, b) => a - b);
}

/** Addresses worth probing: each listed address and its neighbours, plus two that nothing lists. */
export function probeAddresses(objects: readonly Obj[]): string[] {
  const out = new Set(['100.64.0.1', '2001:db8:ffff::1']);
  for (const o of objects) {
    if (o.kind !== 'ExternalService') continue;
    for (const a of o.spec.addresses ?? []) {
      const ip = tryParseIp(a);
      if (!ip) continue;
      out.add(ip.text);
      if (ip.family === 4) {
        const parts = ip.text.split('.').map(Number);
        if (parts[3] > 0) out.add([...parts.slice(0, 3), parts[3] - 1].join('.'));
        if (parts[3] < 255) out.add([...parts.slice(0, 3), parts[3] + 1].join('.'));
      }
    }
  }
  return [...out].sort();
}
