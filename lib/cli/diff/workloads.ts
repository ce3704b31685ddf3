/**
 * Workloads of a diff: groups of pods that the two policies' sources cannot tell apart, each
 * with a representative pod that the comparison evaluates.
 *
 * With cluster state, the workloads are the real pods (those that can send: see
 * `podEligible`), grouped per namespace by the source lists of both policies that hold them.
 * Without it they are hypothetical, built from what the rules' sources name: per namespace a
 * rule names, a pod selected by each Service a rule names and one selected by none; and, for
 * every other namespace, a pod of a namespace no rule names. Pod and namespace labels range
 * over an exact partition of what the selectors test (for each key: absent, each value a
 * selector names, some other value); label sets that no selector tells apart are one workload.
 */
import { HYPOTHETICAL_SERVICE_LABEL } from '../../analysis/engine';
import {
  ClusterSnapshot,
  NamespaceInfo,
  PodInfo,
  ServiceInfo,
  podEligible,
  selectorMatches,
  serviceSelects,
  sourceIncludesPod,
} from '../../policy/membership';
import { formatIp, parseAddressEntry } from '../../policy/ip';
import type { PolicyModel, SelectorModel } from '../../policy/model';
import { isEmptySelector } from '../../policy/model';
import type { SyncPlan } from '../../policy/plan';

export interface Workload {
  /** Sort key. */
  readonly order: string;
  /** `payments/svc checkout`, `payments/other pods [app=web]`, `other namespaces`. */
  readonly label: string;
  readonly namespace?: string;
  /** The pod evaluated for the workload. */
  readonly pod: PodInfo;
  /** Real pods of the workload (cluster state only). */
  readonly members?: readonly string[];
}

export interface Workloads {
  readonly snapshot: ClusterSnapshot;
  readonly workloads: readonly Workload[];
  /** Assumptions and limits, for the report. */
  readonly notes: readonly string[];
}

const NAME_LABEL = 'kubernetes.io/metadata.name';
/** Label sets enumerated per namespace before falling back to one per selector. */
const LABEL_SET_LIMIT = 4096;
const DEFAULT_CIDRS = ['10.254.0.0/16', 'fd00:cdf:ce5::/64'];

interface LabelClass {
  readonly labels: Readonly<Record<string, string>>;
  /** `app=web,tier=(other)`; empty for no labels. */
  readonly text: string;
}

function selectorKeys(s: SelectorModel): string[] {
  return [...Object.keys(s.matchLabels), ...s.matchExpressions.map((e) => e.key)];
}

function selectorValues(s: SelectorModel, key: string): string[] {
  const out: string[] = [];
  if (s.matchLabels[key] !== undefined) out.push(s.matchLabels[key]);
  for (const e of s.matchExpressions) if (e.key === key) out.push(...e.values);
  return out;
}

function labelText(labels: Readonly<Record<string, string>>, others: ReadonlyMap<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k] === others.get(k) ? '(other)' : labels[k]}`)
    .join(',');
}

/**
 * Label sets that fall on every side of every selector: one per combination of what the
 * selectors test, merged when no selector tells them apart (fewest labels first).
 */
export function labelClasses(
  selectors: readonly SelectorModel[],
  exclude: readonly string[] = [],
): { classes: LabelClass[]; exact: boolean } {
  const unique = [...new Map(selectors.filter((s) => !isEmptySelector(s)).map((s) => [JSON.stringify(s), s])).entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, s]) => s);
  const keys = [...new Set(unique.flatMap(selectorKeys))].filter((k) => !exclude.includes(k)).sort();
  const others = new Map<string, string>();
  const choices = keys.map((key) => {
    const values = [...new Set(unique.flatMap((s) => selectorValues(s, key)))].sort();
    let other = 'other';
    for (let i = 1; values.includes(other); i++) other = `other-${i}`;
    others.set(key, other);
    return [undefined, ...values, other] as (string | undefined)[];
  });
  const total = choices.reduce((n, c) => n * c.length, 1);
  let candidates: Record<string, string>[] = [];
  let exact = true;
  if (total <= LABEL_SET_LIMIT) {
    const index = keys.map(() => 0);
    for (let n = 0; n < total; n++) {
      const labels: Record<string, string> = {};
      keys.forEach((k, i) => {
        const v = choices[i][index[i]];
        if (v !== undefined) labels[k] = v;
      });
      candidates.push(labels);
      for (let i = keys.length - 1; i >= 0; i--) {
        index[i]++;
        if (index[i] < choices[i].length) break;
        index[i] = 0;
      }
    }
    candidates.sort((a, b) => Object.keys(a).length - Object.keys(b).length);
  } else {
    // Too many combinations: no labels, plus the smallest label set each selector selects.
    exact = false;
    candidates = [{}];
    for (const s of unique) {
      const labels: Record<string, string> = { ...s.matchLabels };
      for (const e of s.matchExpressions) {
        if (e.operator === 'In' && labels[e.key] === undefined) labels[e.key] = e.values[0];
        if (e.operator === 'Exists' && labels[e.key] === undefined) labels[e.key] = others.get(e.key) ?? 'other';
      }
      candidates.push(labels);
    }
  }
  const seen = new Set<string>();
  const classes: LabelClass[] = [];
  for (const labels of candidates) {
    const signature = unique.map((s) => (selectorMatches(s, labels) ? '1' : '0')).join('');
    if (seen.has(signature)) continue;
    seen.add(signature);
    classes.push({ labels, text: labelText(labels, others) });
  }
  return { classes, exact };
}

/** Source addresses for hypothetical pods: inside the pod CIDRs both devices accept. */
function addressPool(models: readonly PolicyModel[]): { next(family: 4 | 6): string | undefined; note?: string } {
  const lists = models.map((m) => m.device.podCidrs.map((c) => c.text));
  const nonEmpty = lists.filter((l) => l.length > 0);
  let cidrs: string[];
  let note: string | undefined;
  if (nonEmpty.length === 0) {
    cidrs = DEFAULT_CIDRS;
  } else {
    const common = nonEmpty[0].filter((c) => nonEmpty.every((l) => l.includes(c))).sort();
    if (common.length) {
      cidrs = common;
    } else {
      cidrs = [...new Set(nonEmpty.flat())].sort();
      note = `the devices accept different pod CIDRs (${lists.map((l) => l.join(', ') || 'any').join(' / ')}); hypothetical pods use addresses of ${cidrs.join(', ')}`;
    }
  }
  const counters = new Map<string, bigint>();
  return {
    next(family) {
      const cidr = cidrs.find((c) => parseAddressEntry(c).family === family);
      if (!cidr) return undefined;
      const e = parseAddressEntry(cidr);
      const n = counters.get(cidr) ?? e.first + 10n;
      if (n >= e.last) return undefined;
      counters.set(cidr, n + 1n);
      return formatIp(family, n);
    },
    ...(note ? { note } : {}),
  };
}

/** The source lists of a plan that hold the pod, whatever the time (windows aside). */
export function listsHolding(
  plan: SyncPlan,
  pod: PodInfo,
  nsLabels: Readonly<Record<string, string>> | undefined,
  services: ReadonlyMap<string, ServiceInfo>,
): SyncPlan['lists'] {
  return plan.lists.filter((l) =>
    sourceIncludesPod(
      l.source,
      pod,
      nsLabels,
      l.source.level === 'service' ? services.get(`${l.source.namespace}/${l.source.service}`) : undefined,
    ),
  );
}

/** Which source lists of both plans hold the pod: what the policies can tell about it. */
function signature(
  plans: readonly SyncPlan[],
  pod: PodInfo,
  nsLabels: Readonly<Record<string, string>> | undefined,
  services: ReadonlyMap<string, ServiceInfo>,
): string {
  return plans
    .map((plan, side) =>
      listsHolding(plan, pod, nsLabels, services)
        .map((l) => `${side}:${l.path}`)
        .join(' '),
    )
    .join('|');
}

/** Hypothetical workloads from the rules' selectors. */
export function workloadsFromSelectors(models: readonly PolicyModel[], plans: readonly SyncPlan[]): Workloads {
  const rules = models.flatMap((m) => m.rules);
  const clusterRules = rules.filter((r) => r.level === 'cluster');
  const nsSelectors = clusterRules.map((r) => r.source.namespaceSelector).filter((s): s is SelectorModel => !!s && !isEmptySelector(s));
  const named = new Set<string>();
  for (const r of rules) if (r.level !== 'cluster' && r.namespace) named.add(r.namespace);
  for (const s of nsSelectors) for (const v of selectorValues(s, NAME_LABEL)) named.add(v);
  const clusterPodSelectors = clusterRules.map((r) => r.source.podSelector).filter((s): s is SelectorModel => !!s);
  const notes: string[] = [];
  const pool = addressPool(models);
  if (pool.note) notes.push(pool.note);
  const namespaces: NamespaceInfo[] = [];
  const services: ServiceInfo[] = [];
  const pods: PodInfo[] = [];
  const workloads: Workload[] = [];
  const candidates: { order: string; label: string; namespace: string; group: string; labels: Record<string, string> }[] = [];
  let inexact = false;

  for (const ns of [...named].sort()) {
    namespaces.push({ name: ns, labels: { [NAME_LABEL]: ns } });
    const svcs = [
      ...new Set(rules.filter((r) => r.level === 'service' && r.namespace === ns).map((r) => r.source.service as string)),
    ].sort();
    for (const svc of svcs) services.push({ namespace: ns, name: svc, selector: { [HYPOTHETICAL_SERVICE_LABEL]: svc } });
    const selectors = [
      ...clusterPodSelectors,
      ...rules
        .filter((r) => r.level === 'namespace' && r.namespace === ns)
        .map((r) => r.source.podSelector)
        .filter((s): s is SelectorModel => !!s),
    ];
    const { classes, exact } = labelClasses(selectors);
    inexact ||= !exact;
    [undefined, ...svcs].forEach((svc, si) => {
      classes.forEach((c, ci) => {
        const base = svc ? `${ns}/svc ${svc}` : `${ns}/other pods`;
        candidates.push({
          order: `0|${ns}|${svc ? 0 : 1}|${String(si).padStart(4, '0')}|${String(ci).padStart(5, '0')}`,
          label: c.text ? `${base} [${c.text}]` : base,
          namespace: ns,
          group: ns,
          labels: { ...c.labels, ...(svc ? { [HYPOTHETICAL_SERVICE_LABEL]: svc } : {}) },
        });
      });
    });
  }
  // Every other namespace: its labels range over what the namespace selectors test.
  const nsClasses = labelClasses(nsSelectors, [NAME_LABEL]);
  const podClasses = labelClasses(clusterPodSelectors);
  inexact ||= !nsClasses.exact || !podClasses.exact;
  nsClasses.classes.forEach((nc, ni) => {
    let name = ni === 0 ? 'other-namespace' : `other-namespace-${ni}`;
    while (named.has(name)) name = `${name}-x`;
    namespaces.push({ name, labels: { ...nc.labels, [NAME_LABEL]: name } });
    podClasses.classes.forEach((pc, pi) => {
      const parts = [nc.text ? `namespace ${nc.text}` : '', pc.text].filter(Boolean);
      candidates.push({
        order: `1|${String(ni).padStart(5, '0')}|${String(pi).padStart(5, '0')}`,
        label: `other namespaces${parts.length ? ` [${parts.join('; ')}]` : ''}`,
        namespace: name,
        group: '(other)',
        labels: pc.labels,
      });
    });
  });
  if (inexact)
    notes.push(
      `the selectors test too many label combinations to enumerate (more than ${LABEL_SET_LIMIT} per namespace); hypothetical pods carry no labels or the labels of one selector each, so pods matching several selectors at once are not shown: give --state for the real pods`,
    );

  const nsLabels = new Map(namespaces.map((n) => [n.name, n.labels]));
  const serviceIndex = new Map(services.map((s) => [`${s.namespace}/${s.name}`, s]));
  const seen = new Set<string>();
  let n = 0;
  for (const c of candidates) {
    const ips = [pool.next(4), pool.next(6)].filter((ip): ip is string => ip !== undefined);
    const pod: PodInfo = { namespace: c.namespace, name: `workload-${n++}`, labels: c.labels, ips, phase: 'Running' };
    const sig = `${c.group}#${signature(plans, pod, nsLabels.get(c.namespace), serviceIndex)}`;
    if (seen.has(sig)) continue;
    seen.add(sig);
    pods.push(pod);
    workloads.push({ order: c.order, label: c.label, namespace: c.group === '(other)' ? undefined : c.namespace, pod });
  }
  notes.push(
    'workloads are hypothetical pods (give --state for the real ones): per namespace a rule names, one selected by each Service a rule names and one selected by none, and one in a namespace no rule names' +
      (named.size ? '; a named namespace is assumed to carry no labels that a namespace selector tests' : ''),
  );
  return { snapshot: { pods, namespaces, services }, workloads, notes };
}

/** Workloads of the real pods of a cluster state. */
export function workloadsFromState(
  snapshot: ClusterSnapshot,
  models: readonly PolicyModel[],
  plans: readonly SyncPlan[],
  source: string,
): Workloads {
  const nsLabels = new Map(snapshot.namespaces.map((n) => [n.name, n.labels]));
  const serviceIndex = new Map(snapshot.services.map((s) => [`${s.namespace}/${s.name}`, s]));
  const namedServices = new Set(
    models.flatMap((m) => m.rules.filter((r) => r.level === 'service').map((r) => `${r.namespace}/${r.source.service}`)),
  );
  // Whether each device's egress virtual server accepts the pod's traffic (its podCidrs).
  const cidrs = models.map((m) => m.device.podCidrs.map((c) => parseAddressEntry(c.text)));
  const inside = (pod: PodInfo) =>
    cidrs
      .map((list) => {
        if (list.length === 0) return '1';
        const ips = pod.ips.map((ip) => parseAddressEntry(ip));
        return ips.some((p) => list.some((e) => p.family === e.family && p.first >= e.first && p.first <= e.last)) ? '1' : '0';
      })
      .join('');
  const groups = new Map<string, PodInfo[]>();
  let skipped = 0;
  for (const pod of [...snapshot.pods].sort((a, b) =>
    a.namespace === b.namespace ? (a.name < b.name ? -1 : 1) : a.namespace < b.namespace ? -1 : 1,
  )) {
    if (!podEligible(pod)) {
      skipped++;
      continue;
    }
    const key = `${pod.namespace}#${signature(plans, pod, nsLabels.get(pod.namespace), serviceIndex)}#${inside(pod)}`;
    groups.set(key, [...(groups.get(key) ?? []), pod]);
  }
  const raw = [...groups.values()].map((members) => {
    const ns = members[0].namespace;
    const svcs = snapshot.services
      .filter((s) => s.namespace === ns && namedServices.has(`${ns}/${s.name}`) && members.every((p) => serviceSelects(s, p)))
      .map((s) => s.name)
      .sort();
    return { members, base: svcs.length ? `${ns}/svc ${svcs.join(',')}` : `${ns}/pods` };
  });
  const counts = new Map<string, number>();
  for (const r of raw) counts.set(r.base, (counts.get(r.base) ?? 0) + 1);
  const workloads: Workload[] = raw.map(({ members, base }) => ({
    order: `${base}|${members[0].name}`,
    label: (counts.get(base) ?? 0) > 1 ? `${base} [${members[0].name}${members.length > 1 ? ` +${members.length - 1}` : ''}]` : base,
    namespace: members[0].namespace,
    pod: members[0],
    members: members.map((p) => p.name),
  }));
  const notes = [`workloads are the pods of ${source}, grouped by the rules that can apply to them`];
  if (skipped)
    notes.push(
      `${skipped} pod${skipped === 1 ? '' : 's'} of ${source} cannot send (terminating, finished, on the host network or without an address) and ${skipped === 1 ? 'is' : 'are'} left out`,
    );
  return { snapshot, workloads, notes };
}
