/**
 * Which pods belong to which source list. Pure: the controller applies it event by event,
 * the simulator and the tests apply it to a whole snapshot.
 */
import type { SelectorModel, SourceModel } from './model';
import { isEmptySelector } from './model';
import type { PlanList, SyncPlan } from './plan';
import { tryParseIp } from './ip';
import { ruleActive } from './schedule';
import { planRouteDomains, qualifiedMember } from './route-domains';

export interface PodInfo {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** `status.podIPs` (IPv4 and IPv6). */
  readonly ips: readonly string[];
  readonly phase?: string;
  /** `metadata.deletionTimestamp` is set. */
  readonly terminating?: boolean;
  readonly hostNetwork?: boolean;
  /** `spec.nodeName`: where the pod runs (flow-log enrichment). */
  readonly node?: string;
}

export interface NamespaceInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ServiceInfo {
  readonly namespace: string;
  readonly name: string;
  /** `spec.selector`; undefined for a Service without selector (it selects no pods). */
  readonly selector?: Readonly<Record<string, string>>;
}

export interface ClusterSnapshot {
  readonly pods: readonly PodInfo[];
  readonly namespaces: readonly NamespaceInfo[];
  readonly services: readonly ServiceInfo[];
}

/**
 * A pod's addresses belong in source lists while it can send traffic: not terminating, not
 * finished, and not on the host network (its address is the node's, shared with everything
 * else on the node). Pending pods with an IP count: a starting pod needs egress too.
 */
export function podEligible(pod: PodInfo): boolean {
  return !pod.terminating && pod.phase !== 'Succeeded' && pod.phase !== 'Failed' && !pod.hostNetwork && pod.ips.length > 0;
}

/** Kubernetes label-selector semantics; an absent or empty selector matches everything. */
export function selectorMatches(selector: SelectorModel | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels)) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    switch (e.operator) {
      case 'In':
        if (!has || !e.values.includes(labels[e.key])) return false;
        break;
      case 'NotIn':
        if (has && e.values.includes(labels[e.key])) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** Service `spec.selector` semantics: a missing or empty selector selects no pods. */
export function serviceSelects(service: ServiceInfo, pod: PodInfo): boolean {
  if (!service.selector || Object.keys(service.selector).length === 0 || service.namespace !== pod.namespace) return false;
  for (const [k, v] of Object.entries(service.selector)) if (pod.labels[k] !== v) return false;
  return true;
}

/**
 * Whether a pod is a source of `source`. `namespaceLabels` are the labels of the pod's
 * namespace (undefined if the namespace is not known, which matches no namespace selector),
 * `service` the Service a service rule names (undefined if it does not exist).
 */
export function sourceIncludesPod(
  source: SourceModel,
  pod: PodInfo,
  namespaceLabels: Readonly<Record<string, string>> | undefined,
  service: ServiceInfo | undefined,
): boolean {
  switch (source.level) {
    case 'cluster':
      // An empty selector selects every namespace, known or not, as an absent one does.
      if (!isEmptySelector(source.namespaceSelector) && (!namespaceLabels || !selectorMatches(source.namespaceSelector, namespaceLabels)))
        return false;
      return selectorMatches(source.podSelector, pod.labels);
    case 'namespace':
      return pod.namespace === source.namespace && selectorMatches(source.podSelector, pod.labels);
    case 'service':
      return pod.namespace === source.namespace && !!service && service.name === source.service && serviceSelects(service, pod);
  }
}

/** Whether the controller fills the list at `at` (windowed and expiring lists close). */
export function listActive(list: PlanList, at: Date): boolean {
  return ruleActive(list, at);
}

/** Canonical text of a pod IP (RFC 5952 for IPv6), or undefined when it is not an IP. */
export function canonicalIp(ip: string): string | undefined {
  return tryParseIp(ip)?.text;
}

/**
 * Desired members of every list of the plan for a snapshot at `at`: sorted, deduplicated. A pod
 * of a namespace with a route domain of its own is `ip%id` (the same address in two such
 * namespaces is two members); other members have no suffix.
 */
export function desiredMembers(plan: SyncPlan, snapshot: ClusterSnapshot, at: Date): Map<string, string[]> {
  const nsLabels = new Map(snapshot.namespaces.map((n) => [n.name, n.labels]));
  const services = new Map(snapshot.services.map((s) => [`${s.namespace}/${s.name}`, s]));
  const routeDomains = planRouteDomains(plan);
  const out = new Map<string, string[]>();
  for (const list of plan.lists) {
    const members = new Set<string>();
    if (listActive(list, at)) {
      const service = list.source.level === 'service' ? services.get(`${list.source.namespace}/${list.source.service}`) : undefined;
      for (const pod of snapshot.pods) {
        if (!podEligible(pod) || !sourceIncludesPod(list.source, pod, nsLabels.get(pod.namespace), service)) continue;
        for (const ip of pod.ips) {
          const c = canonicalIp(ip);
          if (c) members.add(qualifiedMember(routeDomains, pod.namespace, c));
        }
      }
    }
    out.set(list.path, [...members].sort());
  }
  return out;
}
