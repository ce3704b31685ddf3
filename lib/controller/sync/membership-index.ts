/**
 * Incremental membership of the source lists.
 *
 * Each event updates the lists one pod (or one namespace's or service's pods) can affect, so
 * the cost of an event does not grow with the cluster. A list's members are counted per IP
 * (two pods can briefly hold one IP: the old one terminating, the new one starting), and
 * every change reports whether an IP left the list, because removals are pushed first.
 *
 * The pods themselves live in the pod informer's cache only: the index keeps what each pod
 * contributes (derived from the cache, to tell what a change removes) and reads the cache when a
 * namespace or service change re-evaluates the pods of a namespace.
 */
import { PodInfo, ServiceInfo, canonicalIp, podEligible, sourceIncludesPod } from '../../policy/membership';
import type { PlanList, SyncPlan } from '../../policy/plan';
import { planRouteDomains, qualifiedMember } from '../../policy/route-domains';

/** The lists a change touched, and whether any lost an address. */
export type ListChanges = Map<string, { removed: boolean }>;

/** The pods as the informer cache holds them. */
export interface PodCache {
  /** By `namespace/name`. */
  get(key: string): PodInfo | undefined;
  /** Keys of the cached pods of a namespace. */
  keysInNamespace(namespace: string): Iterable<string>;
}

/** What one pod adds to the lists: its canonical addresses, in these lists. */
interface Contribution {
  readonly ips: readonly string[];
  readonly lists: readonly string[];
}

export class MembershipIndex {
  /** By pod key; only pods that are members of some list. */
  private readonly contributions = new Map<string, Contribution>();
  private readonly namespaceLabels = new Map<string, Readonly<Record<string, string>>>();
  private readonly services = new Map<string, ServiceInfo>();
  private readonly members = new Map<string, Map<string, number>>();
  private readonly clusterLists: PlanList[] = [];
  private readonly listsByNamespace = new Map<string, PlanList[]>();
  /** Namespaces with route domains of their own: their pods' members are `ip%id`. */
  private readonly routeDomains: ReadonlyMap<string, number>;

  constructor(
    public readonly plan: SyncPlan,
    private readonly pods: PodCache,
  ) {
    this.routeDomains = planRouteDomains(plan);
    for (const list of plan.lists) {
      this.members.set(list.path, new Map());
      if (list.source.level === 'cluster') this.clusterLists.push(list);
      else {
        const ns = list.source.namespace as string;
        this.listsByNamespace.set(ns, [...(this.listsByNamespace.get(ns) ?? []), list]);
      }
    }
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
    const old = this.contributions.get(key);
    let next: Contribution | undefined;
    if (pod) {
      const ips = podEligible(pod) ? uniqueIps(pod.ips).map((ip) => qualifiedMember(this.routeDomains, pod.namespace, ip)) : [];
      const lists = ips.length ? this.listsFor(pod) : [];
      if (lists.length) next = { ips, lists };
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
      this.contributions.set(key, next);
    } else if (old) {
      this.contributions.delete(key);
    }
  }

  private reevaluateNamespace(name: string): ListChanges {
    const changes: ListChanges = new Map();
    for (const key of this.pods.keysInNamespace(name)) this.apply(key, this.pods.get(key), changes);
    return changes;
  }

  private reevaluateServiceLists(namespace: string, service: string): ListChanges {
    const changes: ListChanges = new Map();
    if (!(this.listsByNamespace.get(namespace) ?? []).some((l) => l.source.service === service)) return changes;
    for (const key of this.pods.keysInNamespace(namespace)) this.apply(key, this.pods.get(key), changes);
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
