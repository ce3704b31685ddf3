/**
 * Incremental membership of the source lists.
 *
 * Each event updates the lists one pod (or one namespace's or service's pods) can affect, so
 * the cost of an event does not grow with the cluster. A list's members are counted per IP
 * (two pods can briefly hold one IP: the old one terminating, the new one starting), and
 * every change reports whether an IP left the list, because removals are pushed first.
 */
import { PodInfo, ServiceInfo, canonicalIp, podEligible, sourceIncludesPod } from '../../k8s/membership';
import type { PlanList, SyncPlan } from '../../policy/plan';

/** The lists a change touched, and whether any lost an address. */
export type ListChanges = Map<string, { removed: boolean }>;

interface PodRecord {
  readonly pod: PodInfo;
  /** Canonical addresses counted in lists (empty when the pod is not eligible). */
  readonly ips: readonly string[];
  readonly lists: readonly string[];
}

export class MembershipIndex {
  private readonly pods = new Map<string, PodRecord>();
  private readonly podsByNamespace = new Map<string, Set<string>>();
  private readonly namespaceLabels = new Map<string, Readonly<Record<string, string>>>();
  private readonly services = new Map<string, ServiceInfo>();
  private readonly members = new Map<string, Map<string, number>>();
  private readonly clusterLists: PlanList[] = [];
  private readonly listsByNamespace = new Map<string, PlanList[]>();

  constructor(public readonly plan: SyncPlan) {
    for (const list of plan.lists) {
      this.members.set(list.path, new Map());
      if (list.source.level === 'cluster') this.clusterLists.push(list);
      else {
        const ns = list.source.namespace as string;
        this.listsByNamespace.set(ns, [...(this.listsByNamespace.get(ns) ?? []), list]);
      }
    }
  }

  get podCount(): number {
    return this.pods.size;
  }

  /** Sorted members of a list (its desired content when the list is active). */
  desired(path: string): string[] {
    return [...(this.members.get(path)?.keys() ?? [])].sort();
  }

  memberCount(path: string): number {
    return this.members.get(path)?.size ?? 0;
  }

  upsertPod(pod: PodInfo): ListChanges {
    const changes: ListChanges = new Map();
    this.apply(podKey(pod), pod, changes);
    return changes;
  }

  deletePod(namespace: string, name: string): ListChanges {
    const changes: ListChanges = new Map();
    this.apply(`${namespace}/${name}`, undefined, changes);
    return changes;
  }

  upsertNamespace(name: string, labels: Readonly<Record<string, string>>): ListChanges {
    const before = this.namespaceLabels.get(name);
    this.namespaceLabels.set(name, labels);
    // Only cluster lists select by namespace labels.
    if (sameLabels(before, labels) || !this.clusterLists.some((l) => l.source.namespaceSelector)) return new Map();
    return this.reevaluateNamespace(name);
  }

  deleteNamespace(name: string): ListChanges {
    if (!this.namespaceLabels.delete(name)) return new Map();
    return this.reevaluateNamespace(name);
  }

  upsertService(service: ServiceInfo): ListChanges {
    const key = `${service.namespace}/${service.name}`;
    const before = this.services.get(key);
    this.services.set(key, service);
    if (before && sameLabels(before.selector, service.selector)) return new Map();
    return this.reevaluateServiceLists(service.namespace, service.name);
  }

  deleteService(namespace: string, name: string): ListChanges {
    if (!this.services.delete(`${namespace}/${name}`)) return new Map();
    return this.reevaluateServiceLists(namespace, name);
  }

  /** Lists the pod belongs to now, from the current namespace and service view. */
  private listsFor(pod: PodInfo): string[] {
    const nsLabels = this.namespaceLabels.get(pod.namespace);
    const out: string[] = [];
    for (const list of this.clusterLists) if (sourceIncludesPod(list.source, pod, nsLabels, undefined)) out.push(list.path);
    for (const list of this.listsByNamespace.get(pod.namespace) ?? []) {
      const service = list.source.level === 'service' ? this.services.get(`${pod.namespace}/${list.source.service}`) : undefined;
      if (sourceIncludesPod(list.source, pod, nsLabels, service)) out.push(list.path);
    }
    return out;
  }

  private apply(key: string, pod: PodInfo | undefined, changes: ListChanges): void {
    const old = this.pods.get(key);
    let next: PodRecord | undefined;
    if (pod) {
      const ips = podEligible(pod) ? uniqueIps(pod.ips) : [];
      next = { pod, ips, lists: ips.length ? this.listsFor(pod) : [] };
    }
    // Remove what the old record contributed and is not contributed again, then add the new.
    if (old) {
      for (const list of old.lists) {
        for (const ip of old.ips) {
          if (next && next.ips.includes(ip) && next.lists.includes(list)) continue;
          if (this.decrement(list, ip)) mark(changes, list, true);
        }
      }
    }
    if (next) {
      for (const list of next.lists) {
        for (const ip of next.ips) {
          if (old && old.ips.includes(ip) && old.lists.includes(list)) continue;
          if (this.increment(list, ip)) mark(changes, list, false);
        }
      }
      this.pods.set(key, next);
      if (!old) {
        let set = this.podsByNamespace.get(next.pod.namespace);
        if (!set) this.podsByNamespace.set(next.pod.namespace, (set = new Set()));
        set.add(key);
      }
    } else if (old) {
      this.pods.delete(key);
      this.podsByNamespace.get(old.pod.namespace)?.delete(key);
    }
  }

  private reevaluateNamespace(name: string): ListChanges {
    const changes: ListChanges = new Map();
    for (const key of this.podsByNamespace.get(name) ?? []) this.apply(key, this.pods.get(key)?.pod, changes);
    return changes;
  }

  private reevaluateServiceLists(namespace: string, service: string): ListChanges {
    const changes: ListChanges = new Map();
    if (!(this.listsByNamespace.get(namespace) ?? []).some((l) => l.source.service === service)) return changes;
    for (const key of this.podsByNamespace.get(namespace) ?? []) this.apply(key, this.pods.get(key)?.pod, changes);
    return changes;
  }

  /** Returns true when the IP newly entered the list. */
  private increment(list: string, ip: string): boolean {
    const m = this.members.get(list) as Map<string, number>;
    const n = m.get(ip) ?? 0;
    m.set(ip, n + 1);
    return n === 0;
  }

  /** Returns true when the IP left the list. */
  private decrement(list: string, ip: string): boolean {
    const m = this.members.get(list) as Map<string, number>;
    const n = m.get(ip) ?? 0;
    if (n <= 1) {
      m.delete(ip);
      return n === 1;
    }
    m.set(ip, n - 1);
    return false;
  }
}

function podKey(pod: PodInfo): string {
  return `${pod.namespace}/${pod.name}`;
}

function mark(changes: ListChanges, list: string, removed: boolean): void {
  const c = changes.get(list);
  if (c) c.removed ||= removed;
  else changes.set(list, { removed });
}

function uniqueIps(ips: readonly string[]): string[] {
  const out: string[] = [];
  for (const ip of ips) {
    const c = canonicalIp(ip);
    if (c && !out.includes(c)) out.push(c);
  }
  return out;
}

function sameLabels(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
