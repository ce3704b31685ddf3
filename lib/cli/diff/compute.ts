/**
 * The policy diff: for every workload, destination class, port class and time state, the AFM
 * evaluator's verdict over the old output and over the new one (what the firewall will do), and
 * the changes between them, merged into lines a reviewer reads.
 *
 * A workload's classes come from the rules that can apply to it (those whose source lists hold
 * its pod, in either output): no other rule matches its flows, so the comparison stays exact
 * while a namespace's rules do not multiply the work of every other namespace.
 */
import type { AfmChainResult, AfmEvaluation, AfmListState } from '../../afm/evaluator';
import { desiredMembers } from '../../policy/membership';
import { deviceMember, routeDomainOfPod } from '../../policy/route-domains';
import type { ClusterSnapshot } from '../../policy/membership';
import type { PolicyView } from '../../analysis/engine';
import type { PolicyModel } from '../../policy/model';
import { ruleKey } from '../../policy/model';
import { OBJECT } from '../../policy/object-names';
import { NextHop, describeNextHop, nameRedirect } from '../../policy/redirect';
import { DestinationClass, PortClass, destinationClasses, intervalText, portClasses, portSetText } from './partition';
import { TimeGate, TimeState, timeStates } from './times';
import { Workload, Workloads, listsHolding, workloadsFromSelectors, workloadsFromState } from './workloads';

export type Verdict = 'allow' | 'deny' | 'reject';

export interface DiffInput {
  readonly old: PolicyView;
  readonly new: PolicyView;
  /** Start of the week scanned for time windows, or the one instant with `fixedTime`. */
  readonly at: Date;
  readonly fixedTime: boolean;
  /** Real pods to compare (cluster state); hypothetical workloads from the selectors otherwise. */
  readonly cluster?: { readonly snapshot: ClusterSnapshot; readonly source: string };
  /** DNS answers: host name → addresses. */
  readonly dns: ReadonlyMap<string, readonly string[]>;
}

/** What decided a flow: a rule (`ServiceEgressRule payments/checkout-to-stripe`), the device default, or no virtual server. */
export interface Decider {
  readonly verdict: Verdict;
  readonly by: string;
  /** Rule key, when a rule of the device decided. */
  readonly rule?: string;
}

export interface ChangeLine {
  /**
   * `gained`: now allowed; `lost`: no longer allowed; `changed`: denied both times, but dropped ↔
   * rejected; `rerouted`: allowed both times, to other next hops (a redirect came or went).
   */
  readonly change: 'gained' | 'lost' | 'changed' | 'rerouted';
  /** A change of the would-be verdict (audit rules enforced) that the enforced verdict does not show. */
  readonly audit: boolean;
  readonly destination: string;
  /** A host name's change that holds for one address family only. */
  readonly onlyFamily?: 4 | 6;
  /** `tcp`, `icmp`, `other` (protocols no rule names) or `any` (every protocol and port). */
  readonly protocol: string;
  /** `443`, `22,989-990`, `*`, `all but 443`; absent for protocols without ports and `any`. */
  readonly ports?: string;
  readonly old: Decider;
  readonly new: Decider;
  /** Labels of the time states in which the change holds; absent when it holds in all. */
  readonly when?: readonly string[];
  /** Sort key. */
  readonly order: string;
}

export interface WorkloadDiff {
  readonly workload: Workload;
  readonly changes: readonly ChangeLine[];
}

export interface DiffResult {
  readonly tenant: string;
  readonly cluster: string;
  readonly oldLabel: string;
  readonly newLabel: string;
  readonly at: Date;
  readonly fixedTime: boolean;
  readonly gates: readonly TimeGate[];
  readonly states: readonly TimeState[];
  readonly basis: 'selectors' | 'state';
  readonly notes: readonly string[];
  /** Workloads compared, and flows evaluated per output (each workload against its classes, in each time state). */
  readonly counts: { readonly workloads: number; readonly flows: number };
  /** Workloads with changes, sorted. */
  readonly workloads: readonly WorkloadDiff[];
}

const KINDS = { cluster: 'ClusterEgressRule', namespace: 'NamespaceEgressRule', service: 'ServiceEgressRule' } as const;

function decider(view: PolicyView, chain: AfmChainResult): Decider {
  const hit = chain.decidedBy;
  if (hit) {
    const owner = view.owners.ownerOf(hit);
    if (owner)
      return {
        verdict: chain.verdict,
        by: `${KINDS[owner.level]} ${owner.namespace !== undefined ? `${owner.namespace}/` : ''}${owner.name}${owner.audit ? ' (audit)' : ''}`,
        rule: owner.key,
      };
    if (hit.rule === 'default' && !hit.ruleList) return { verdict: chain.verdict, by: 'device default' };
    return { verdict: chain.verdict, by: `AFM rule ${hit.rule}${hit.ruleList ? ` of ${hit.ruleList}` : ''}` };
  }
  if (chain.ending === 'no-virtual-server') return { verdict: chain.verdict, by: 'no egress virtual server (source outside podCidrs)' };
  return { verdict: chain.verdict, by: 'virtual-server default' };
}

/** Old and new next hop of a flow allowed by both outputs whose next hops differ (see redirect.ts). */
function rerouted(a: PolicyView, ea: AfmEvaluation, b: PolicyView, eb: AfmEvaluation): { old: Decider; new: Decider } | undefined {
  if (!ea.nextHop || !eb.nextHop) return undefined;
  const hop = (view: PolicyView, h: NextHop) => {
    const { device } = view.model;
    return describeNextHop({
      ...nameRedirect(view.model, h, `/${device.tenant}/${device.application}/${OBJECT.virtualServer}`),
      virtualServer: undefined,
    });
  };
  const old = hop(a, ea.nextHop);
  const now = hop(b, eb.nextHop);
  return old === now ? undefined : { old: { verdict: 'allow', by: old }, new: { verdict: 'allow', by: now } };
}

function listStateAt(view: PolicyView, snapshot: ClusterSnapshot, at: Date, dns: ReadonlyMap<string, readonly string[]>): AfmListState {
  const rd = view.model.device.routeDomain;
  const members = new Map([...desiredMembers(view.plan, snapshot, at)].map(([path, ips]) => [path, ips.map((ip) => deviceMember(ip, rd))]));
  return view.firewall.listState(members, dns);
}

function changeOf(a: Verdict, b: Verdict): ChangeLine['change'] | undefined {
  if (a === b) return undefined;
  if (b === 'allow') return 'gained';
  if (a === 'allow') return 'lost';
  return 'changed';
}

interface Raw {
  readonly workload: number;
  readonly audit: boolean;
  readonly change: ChangeLine['change'];
  readonly dest: DestinationClass;
  readonly port: PortClass;
  readonly state: number;
  readonly old: Decider;
  readonly new: Decider;
}

/** Compares what two outputs of one device let each workload reach. */
export function diffPolicies(input: DiffInput): DiffResult {
  const { old: a, new: b } = input;
  const models = [a.model, b.model];
  const plans = [a.plan, b.plan];
  const w: Workloads = input.cluster
    ? workloadsFromState(input.cluster.snapshot, models, plans, input.cluster.source)
    : workloadsFromSelectors(models, plans);
  const { gates, states } = timeStates(models, input.at, input.fixedTime);
  // Each workload is compared over the classes of the rules that can apply to it (the rules
  // whose source lists hold its pod, on either side): other rules never match its flows.
  const nsLabels = new Map(w.snapshot.namespaces.map((n) => [n.name, n.labels]));
  const services = new Map(w.snapshot.services.map((s) => [`${s.namespace}/${s.name}`, s]));
  const classCache = new Map<string, { destinations: DestinationClass[]; ports: PortClass[] }>();
  // Rules that match the pod CIDRs directly have no list and apply to every workload.
  const everyPod = plans.map((plan) => plan.rules.filter((r) => r.memberLists?.length === 0).map((r) => r.key));
  const classesOf = w.workloads.map((workload) => {
    const relevant = plans.map(
      (plan, side) =>
        new Set([
          ...everyPod[side],
          ...listsHolding(plan, workload.pod, nsLabels.get(workload.pod.namespace), services).flatMap((l) => l.rules),
        ]),
    );
    const key = relevant.map((set) => [...set].sort().join(',')).join('|');
    let classes = classCache.get(key);
    if (!classes) {
      const scoped = models.map((m, side) => restrictTo(m, relevant[side]));
      classes = { destinations: destinationClasses(scoped, dnsFor(scoped, input.dns)), ports: portClasses(scoped) };
      classCache.set(key, classes);
    }
    return classes;
  });
  const raws: Raw[] = [];
  let flows = 0;
  // Next hops are compared where a redirect can make them differ; elsewhere every allowed flow
  // leaves through the device's gateways in both outputs.
  const redirects = models.some((m) => m.rules.some((r) => r.redirect));
  states.forEach((state, si) => {
    const stateA = listStateAt(a, w.snapshot, state.at, input.dns);
    const stateB = listStateAt(b, w.snapshot, state.at, input.dns);
    w.workloads.forEach((workload, wi) => {
      const { destinations, ports } = classesOf[wi];
      for (const dest of destinations) {
        const sourceIp = workload.pod.ips.find((ip) => ip.includes(':') === (dest.family === 6));
        if (!sourceIp) continue;
        for (const port of ports) {
          flows++;
          const flow = {
            sourceIp,
            ...(dest.ip !== undefined ? { destinationIp: dest.ip } : {}),
            ...(dest.host !== undefined ? { host: dest.host } : {}),
            protocol: port.protocol,
            ...(port.port !== undefined ? { port: port.port } : {}),
          };
          const pod = workload.pod;
          const ea: AfmEvaluation = a.firewall.evaluate({ ...flow, routeDomain: routeDomainOfPod(a.model.device, pod) }, stateA);
          const eb: AfmEvaluation = b.firewall.evaluate({ ...flow, routeDomain: routeDomainOfPod(b.model.device, pod) }, stateB);
          const enforced = changeOf(ea.verdict, eb.verdict);
          if (enforced)
            raws.push({
              workload: wi,
              audit: false,
              change: enforced,
              dest,
              port,
              state: si,
              old: decider(a, ea.enforced),
              new: decider(b, eb.enforced),
            });
          const reroute = redirects ? rerouted(a, ea, b, eb) : undefined;
          if (reroute) raws.push({ workload: wi, audit: false, change: 'rerouted', dest, port, state: si, ...reroute });
          const wouldBe = changeOf(ea.wouldBe, eb.wouldBe);
          if (wouldBe && (ea.wouldBe !== ea.verdict || eb.wouldBe !== eb.verdict)) {
            raws.push({
              workload: wi,
              audit: true,
              change: wouldBe,
              dest,
              port,
              state: si,
              old: decider(a, ea.staged),
              new: decider(b, eb.staged),
            });
          }
        }
      }
    });
  });
  const byWorkload = new Map<number, ChangeLine[]>();
  const dualStack = w.workloads.map(
    (workload) => workload.pod.ips.some((ip) => ip.includes(':')) && workload.pod.ips.some((ip) => !ip.includes(':')),
  );
  for (const [wi, lines] of mergeLines(withoutRedundantNames(raws), classesOf, dualStack, states, gates)) byWorkload.set(wi, lines);
  const workloads = w.workloads
    .map((workload, wi) => ({ workload, changes: byWorkload.get(wi) ?? [] }))
    .filter((x) => x.changes.length > 0)
    .sort((x, y) => (x.workload.order < y.workload.order ? -1 : x.workload.order > y.workload.order ? 1 : 0));
  return {
    tenant: b.model.device.tenant,
    cluster: b.model.device.cluster,
    oldLabel: a.label,
    newLabel: b.label,
    at: input.at,
    fixedTime: input.fixedTime,
    gates,
    states,
    basis: input.cluster ? 'state' : 'selectors',
    notes: w.notes,
    counts: { workloads: w.workloads.length, flows },
    workloads,
  };
}

/**
 * A host name's change that its address alone explains (the flow to the same address without
 * the name changes alike) says nothing the address line does not: left out.
 */
function withoutRedundantNames(raws: readonly Raw[]): Raw[] {
  const key = (r: Raw, ip: string) =>
    [r.workload, r.state, r.port.index, r.audit ? 1 : 0, ip, r.change, deciderKey(r.old), deciderKey(r.new)].join('|');
  const byAddress = new Set(
    raws.filter((r) => r.dest.name === undefined && r.dest.ip !== undefined).map((r) => key(r, r.dest.ip as string)),
  );
  return raws.filter((r) => r.dest.name === undefined || r.dest.ip === undefined || !byAddress.has(key(r, r.dest.ip)));
}

/** The policy with only the rules of `keys` (and the ExternalServices they use). */
function restrictTo(model: PolicyModel, keys: ReadonlySet<string>): PolicyModel {
  const rules = model.rules.filter((r) => keys.has(ruleKey(r)));
  const used = new Set(rules.flatMap((r) => r.destinations.flatMap((d) => (d.kind === 'externalService' ? [d.name] : []))));
  return { ...model, rules, externalServices: model.externalServices.filter((es) => used.has(es.name)) };
}

/** The DNS answers for names the (restricted) policies use. */
function dnsFor(models: readonly PolicyModel[], dns: ReadonlyMap<string, readonly string[]>): ReadonlyMap<string, readonly string[]> {
  if (dns.size === 0) return dns;
  const entries = models
    .flatMap((m) => [...m.rules.flatMap((r) => r.destinations), ...m.externalServices.flatMap((es) => es.destinations)])
    .filter((d) => d.kind === 'fqdn');
  const matches = (name: string) =>
    entries.some(
      (e) =>
        e.kind === 'fqdn' &&
        (e.wildcard ? name.endsWith(e.text.slice(1)) && !name.slice(0, name.length - e.text.length + 1).includes('.') : name === e.text),
    );
  return new Map([...dns].filter(([name]) => matches(name)));
}

function deciderKey(d: Decider): string {
  return `${d.verdict}|${d.by}`;
}

const FAMILY_ORDER = (d: DestinationClass) => `${d.order[0]}|${d.order[1].toString(16).padStart(32, '0')}|${d.order[2]}`;

/**
 * The time states of `chosen`, described by as few gates as select exactly them (`W1 open`), or
 * listed one by one when no combination of gate values does.
 */
export function describeStates(chosen: readonly number[], states: readonly TimeState[], gates: readonly TimeGate[]): string[] {
  const set = new Set(chosen);
  const value = (g: number, open: boolean) =>
    `${gates[g].id} ${gates[g].schedule ? (open ? 'open' : 'closed') : open ? 'not passed' : 'passed'}`;
  const constant = gates.map((_, g) => g).filter((g) => chosen.every((i) => states[i].open[g] === states[chosen[0]].open[g]));
  const selects = (gs: readonly number[]) =>
    states.every((st, i) => gs.every((g) => st.open[g] === states[chosen[0]].open[g]) === set.has(i));
  if (!selects(constant)) return chosen.map((i) => states[i].label);
  let used = [...constant];
  for (const g of constant) {
    const without = used.filter((x) => x !== g);
    if (selects(without)) used = without;
  }
  return [used.map((g) => value(g, states[chosen[0]].open[g])).join(', ')];
}

type Line = ChangeLine & { readonly family: 4 | 6; readonly name?: string; readonly intervals?: readonly (readonly [bigint, bigint])[] };

/**
 * Raw changes → lines: one per workload, destination, deciders and set of time states, with the
 * ports merged per protocol (or "any" when every port class changes alike); address classes
 * whose lines agree and together make one interval become one line; a host name whose IPv4 and
 * IPv6 changes agree is one line.
 */
function mergeLines(
  raws: readonly Raw[],
  classesOf: readonly { readonly ports: readonly PortClass[] }[],
  dualStack: readonly boolean[],
  states: readonly TimeState[],
  gates: readonly TimeGate[],
): Map<number, ChangeLine[]> {
  // (workload, audit, dest, change, deciders) → port index → states
  const groups = new Map<string, { raw: Raw; ports: Map<number, Set<number>> }>();
  for (const r of raws) {
    const key = [r.workload, r.audit ? 1 : 0, r.dest.id, r.change, deciderKey(r.old), deciderKey(r.new)].join('\u0000');
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { raw: r, ports: new Map() }));
    let set = g.ports.get(r.port.index);
    if (!set) g.ports.set(r.port.index, (set = new Set()));
    set.add(r.state);
  }
  const lines = new Map<number, Line[]>();
  for (const { raw, ports: byPort } of groups.values()) {
    const byStates = new Map<string, number[]>();
    for (const [pi, set] of byPort) {
      const key = [...set].sort((x, y) => x - y).join(',');
      byStates.set(key, [...(byStates.get(key) ?? []), pi]);
    }
    for (const [stateKey, pis] of byStates) {
      const chosen = stateKey.split(',').map(Number);
      const when = chosen.length === states.length ? undefined : describeStates(chosen, states, gates);
      const out = lines.get(raw.workload) ?? [];
      lines.set(raw.workload, out);
      const base = {
        change: raw.change,
        audit: raw.audit,
        destination: raw.dest.label,
        old: raw.old,
        new: raw.new,
        ...(when ? { when } : {}),
        family: raw.dest.family,
        ...(raw.dest.name !== undefined ? { name: raw.dest.name } : {}),
        ...(raw.dest.intervals ? { intervals: raw.dest.intervals } : {}),
        order: FAMILY_ORDER(raw.dest),
      };
      const ports = classesOf[raw.workload].ports;
      if (pis.length === ports.length) {
        out.push({ ...base, protocol: 'any' });
        continue;
      }
      const byProtocol = new Map<string, PortClass[]>();
      for (const pi of pis) byProtocol.set(ports[pi].protocolLabel, [...(byProtocol.get(ports[pi].protocolLabel) ?? []), ports[pi]]);
      for (const [protocol, classes] of byProtocol) {
        const intervals = classes.flatMap((c) => c.intervals ?? []);
        out.push({ ...base, protocol, ...(intervals.length ? { ports: portSetText(intervals) } : {}) });
      }
    }
  }
  const result = new Map<number, ChangeLine[]>();
  for (const [wi, ls] of lines) {
    const rest = (x: Line) => JSON.stringify([x.change, x.audit, x.protocol, x.ports, x.old, x.new, x.when]);
    const merged: Line[] = [];
    // Address classes: lines that agree and together cover one interval become one line.
    const addressGroups = new Map<string, Line[]>();
    for (const l of ls) {
      if (l.name !== undefined || !l.intervals) {
        merged.push(l);
        continue;
      }
      const key = `${l.family}|${rest(l)}`;
      addressGroups.set(key, [...(addressGroups.get(key) ?? []), l]);
    }
    for (const group of addressGroups.values()) {
      const intervals = group.flatMap((l) => l.intervals ?? []).sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
      const contiguous = intervals.every((iv, i) => i === 0 || iv[0] === intervals[i - 1][1] + 1n);
      if (group.length > 1 && contiguous) {
        const first = group.reduce((m, l) => (l.order < m.order ? l : m));
        merged.push({ ...first, destination: intervalText(first.family, intervals[0][0], intervals[intervals.length - 1][1]) });
      } else {
        merged.push(...group);
      }
    }
    // Host names: one line when IPv4 and IPv6 agree.
    const out: ChangeLine[] = [];
    const used = new Set<Line>();
    for (const l of merged) {
      if (used.has(l)) continue;
      used.add(l);
      const { family, name, intervals: _i, ...line } = l;
      if (name === undefined) {
        out.push(line);
        continue;
      }
      const twin = merged.find((o) => !used.has(o) && o.name === name && o.family !== family && rest(o) === rest(l));
      if (twin) used.add(twin);
      // "IPv4 only" when the pod has both families and the other one did not change alike.
      out.push(twin || !dualStack[wi] ? line : { ...line, onlyFamily: family });
    }
    const sortKey = (c: ChangeLine) =>
      [c.order, c.protocol === 'any' ? '' : c.protocol, c.ports ?? '', c.audit ? 1 : 0, c.change, (c.when ?? []).join(';')].join('|');
    out.sort((x, y) => (sortKey(x) < sortKey(y) ? -1 : sortKey(x) > sortKey(y) ? 1 : 0));
    result.set(wi, out);
  }
  return result;
}
