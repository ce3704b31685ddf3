/**
 * Namespaces with route domains of their own.
 *
 * Some CNIs give a namespace its own network (kube-ovn VPCs, per-namespace egress gateways):
 * its pods may hold the same addresses as another namespace's, and its egress reaches the
 * BIG-IP on VLANs of its own. On the BIG-IP each such VLAN belongs to a route domain, and an
 * address is only an address together with its route domain (`10.1.0.5%11`). A mapping
 * (`namespaceRouteDomains` of AfmDevice) says which namespace arrives in which route domain:
 *
 * - every address of the namespace's pods is `addr%id`: the controller posts its pods' list
 *   members so, the pod CIDR list holds its CIDRs so, its egress virtual server listens on
 *   `0.0.0.0%id/0` with its pod CIDRs as sources and only on its VLANs;
 * - its namespace rules sit in the context of its route domain (`rd<id>_policy`, attached by
 *   AS3's `routeDomainEnforcement` and, staged, by tmsh); the other namespaces' rules stay in
 *   the device's route domain;
 * - cluster rules stay in the global context, which AFM runs for every route domain (F5
 *   "BIG-IP Network Firewall: Policies and Implementations" 14.1, "About AFM Network Firewall
 *   contexts": Global "Applies to all traffic being processed", Route Domain "Applies to a
 *   specific route domain"); their source lists hold each pod with its own route domain, so a
 *   cluster rule matches the same pods as before and no other;
 * - the virtual servers of all route domains share the device's virtual-server policy: its
 *   service and carried ALLOW rules match sources by lists whose members carry their route
 *   domain, so a rule of one namespace never matches a flow of another route domain.
 *
 * The route domains and their VLANs are the platform's (Declarative Onboarding or tmsh): AS3
 * cannot create a route domain (AS3 3.56 schema, `Tenant.defaultRouteDomain`: "this option
 * cannot create one"; there is no route-domain class), and the library neither creates nor
 * deletes them. The deploy checks that each exists with its id (the same `tmsh list net
 * route-domain` check as the device's own route domain).
 *
 * Unverified, so stated and checked instead of assumed: AS3's service-discovery worker
 * receives a list's members as `{"id", "ip"}` nodes, and whether it keeps a `%id` suffix of
 * `ip` in the address-list entry it writes is not in AS3's sources (the worker is a separate
 * package). Until a lab confirms it, `verify` reads each list back and compares its members
 * with their suffixes: a member written without `%id` would be in route domain 0 and is
 * reported as a difference.
 */
import { PolicyIssue, quote } from './errors';
import type { AddressModel, DeviceModel, NamespaceRouteDomainModel, SourceModel } from './model';
import type { PlanNamespaceRouteDomain, SyncPlan } from './plan';
import type { ClusterSnapshot, PodInfo } from './membership';
import { tryParseIp } from './ip';

/**
 * A namespace whose pods reach the BIG-IP in a route domain of their own, on VLANs of their
 * own (a CNI that gives namespaces their own networks). Its pods may hold the same addresses
 * as another namespace's; the route domain tells them apart.
 */
export interface NamespaceRouteDomain {
  /** The Kubernetes namespace. */
  readonly namespace: string;
  /**
   * Id of the route domain the namespace's egress arrives in (1 to 65534; not the device's own
   * `routeDomain`). The route domain must exist on the BIG-IP: AS3 cannot create one.
   */
  readonly routeDomain: number;
  /**
   * BIG-IP path of that route domain, when it is not named after its id.
   * @default - `/Common/<routeDomain>`
   */
  readonly routeDomainName?: string;
  /**
   * VLANs (BIG-IP paths) the namespace's egress arrives on; they belong to the route domain.
   * The namespace's egress virtual server listens on these only.
   */
  readonly vlans: string[];
  /** The namespace's pod CIDRs; they may overlap other namespaces' (each is in its own route domain). */
  readonly podCidrs: string[];
}

/** A mapping after validation of its own fields. */
export interface ParsedNamespaceRouteDomain {
  readonly namespace: string;
  readonly routeDomain: number;
  readonly routeDomainName?: string;
  readonly vlans: readonly string[];
  readonly podCidrs: readonly AddressModel[];
}

/** The device props the mappings are checked against. */
export interface RouteDomainDeviceProps {
  readonly routeDomain?: number;
  readonly routeDomainName?: string;
  readonly vlans?: readonly string[];
  readonly snat?: { readonly mode: string };
  readonly namespaceRouteDomains?: readonly ParsedNamespaceRouteDomain[];
}

const FIELD = 'namespaceRouteDomains';

/** `/Common/12`: a path that names a route domain by an id. */
const ID_PATH = /^\/Common\/(\d+)$/;

/**
 * Problems between mappings, and between a mapping and the device: each is checked alone by
 * the schema. One route domain, one namespace, one VLAN set: a mapping that is not 1:1 would
 * let two namespaces' pods (with overlapping addresses) be read as one.
 */
export function namespaceRouteDomainIssues(path: string, p: RouteDomainDeviceProps): PolicyIssue[] {
  const mappings = p.namespaceRouteDomains ?? [];
  if (mappings.length === 0) return [];
  const issues: PolicyIssue[] = [];
  const issue = (field: string, value: string, message: string) => issues.push({ path, field, value, message });
  const deviceRd = p.routeDomain ?? 0;
  const devicePath = p.routeDomainName ?? `/Common/${deviceRd}`;
  const byId = new Map<number, number>();
  const byPath = new Map<string, number>();
  const byNamespace = new Map<string, number>();
  const byVlan = new Map<string, number>();
  mappings.forEach((m, i) => {
    const at = `${FIELD}[${i}]`;
    const rdPath = m.routeDomainName ?? `/Common/${m.routeDomain}`;
    if (m.routeDomain === deviceRd) {
      issue(
        `${at}.routeDomain`,
        String(m.routeDomain),
        `is the device's own routeDomain: the namespace would share it with the other namespaces, whose pod addresses may be the same; give the namespace the id of its own route domain`,
      );
    }
    const sameId = byId.get(m.routeDomain);
    if (sameId !== undefined) {
      issue(
        `${at}.routeDomain`,
        String(m.routeDomain),
        `is ${FIELD}[${sameId}].routeDomain again (namespace "${mappings[sameId].namespace}"): one route domain holds one namespace, or their pods' addresses could not be told apart; give each namespace its own route domain`,
      );
    } else byId.set(m.routeDomain, i);
    const idOfPath = ID_PATH.exec(rdPath);
    if (idOfPath && Number(idOfPath[1]) !== m.routeDomain) {
      issue(
        `${at}.routeDomainName`,
        quote(rdPath),
        `names route domain ${idOfPath[1]} by its id, not route domain ${m.routeDomain}; leave routeDomainName out, or give the path of the route domain whose id is ${m.routeDomain}`,
      );
    }
    const samePath = byPath.get(rdPath);
    if (rdPath === devicePath) {
      issue(
        `${at}.routeDomainName`,
        quote(rdPath),
        `is the device's own route domain (${devicePath}); give the namespace's own route domain`,
      );
    } else if (samePath !== undefined && sameId === undefined) {
      issue(
        `${at}.routeDomainName`,
        quote(rdPath),
        `is the route domain of ${FIELD}[${samePath}] (id ${mappings[samePath].routeDomain}) again, and one route domain has one id; give the path of route domain ${m.routeDomain}`,
      );
    } else byPath.set(rdPath, i);
    const sameNamespace = byNamespace.get(m.namespace);
    if (sameNamespace !== undefined) {
      issue(
        `${at}.namespace`,
        quote(m.namespace),
        `is mapped by ${FIELD}[${sameNamespace}] already: a namespace's egress arrives in one route domain; list each namespace once`,
      );
    } else byNamespace.set(m.namespace, i);
    m.vlans.forEach((vlan, j) => {
      if ((p.vlans ?? []).includes(vlan)) {
        issue(
          `${at}.vlans[${j}]`,
          quote(vlan),
          `is one of the device's vlans: a VLAN belongs to one route domain, and the device's virtual server takes the other namespaces' egress on it; give the namespace's own VLANs`,
        );
      }
      const sameVlan = byVlan.get(vlan);
      if (sameVlan !== undefined) {
        issue(
          `${at}.vlans[${j}]`,
          quote(vlan),
          `is a VLAN of ${FIELD}[${sameVlan}] (namespace "${mappings[sameVlan].namespace}") too: a VLAN belongs to one route domain; give each namespace its own VLANs`,
        );
      } else byVlan.set(vlan, i);
    });
  });
  if (p.snat?.mode === 'POOL') {
    issue(
      'snat',
      'EgressSnat.pool([...])',
      `a SNAT pool's addresses are in the device's route domain ${deviceRd}, and a route domain's traffic does not leave through another's addresses (strict isolation); with ${FIELD} use EgressSnat.automap() (each virtual server translates to a self IP of its own VLANs) or EgressSnat.none()`,
    );
  }
  return issues;
}

/** The device's mappings (none when it has none). */
export function namespaceRouteDomains(device: Pick<DeviceModel, 'namespaceRouteDomains'>): readonly NamespaceRouteDomainModel[] {
  return device.namespaceRouteDomains ?? [];
}

/** The mapping of a namespace, if it has one. */
export function mappingOf(
  device: Pick<DeviceModel, 'namespaceRouteDomains'>,
  namespace: string | undefined,
): NamespaceRouteDomainModel | undefined {
  if (namespace === undefined) return undefined;
  return namespaceRouteDomains(device).find((m) => m.namespace === namespace);
}

/** The route domain a namespace's pods reach the BIG-IP in. */
export function routeDomainOfNamespace(device: Pick<DeviceModel, 'routeDomain' | 'namespaceRouteDomains'>, namespace: string): number {
  return mappingOf(device, namespace)?.routeDomain ?? device.routeDomain;
}

/**
 * The route domain a pod's egress arrives in: its namespace's, except for a host-network pod,
 * which sends from its node's address on the node network (the device's route domain).
 */
export function routeDomainOfPod(
  device: Pick<DeviceModel, 'routeDomain' | 'namespaceRouteDomains'>,
  pod: { readonly namespace: string; readonly hostNetwork?: boolean },
): number {
  return pod.hostNetwork ? device.routeDomain : routeDomainOfNamespace(device, pod.namespace);
}

/** The pod CIDRs of the route domain a pod's egress arrives in (see {@link routeDomainOfPod}). */
export function podCidrsOfPod(
  device: Pick<DeviceModel, 'podCidrs' | 'namespaceRouteDomains'>,
  pod: { readonly namespace: string; readonly hostNetwork?: boolean },
): readonly AddressModel[] {
  return pod.hostNetwork ? device.podCidrs : podCidrsOfNamespace(device, pod.namespace);
}

/** The pod CIDRs the virtual server of a namespace's route domain takes traffic from (empty: any source). */
export function podCidrsOfNamespace(
  device: Pick<DeviceModel, 'podCidrs' | 'namespaceRouteDomains'>,
  namespace: string,
): readonly AddressModel[] {
  return mappingOf(device, namespace)?.podCidrs ?? device.podCidrs;
}

/** Route-domain ids of the device: its own, then its mappings' in the order given. */
export function routeDomainIds(device: Pick<DeviceModel, 'routeDomain' | 'namespaceRouteDomains'>): number[] {
  return [device.routeDomain, ...namespaceRouteDomains(device).map((m) => m.routeDomain)];
}

/**
 * Ids of the device's route domains that are not named after their id, by path: what the AFM
 * evaluator needs to find their context policies (tmsh and AS3 name route domains by path).
 */
export function routeDomainIdsByPath(
  device: Pick<DeviceModel, 'routeDomain' | 'routeDomainPath' | 'namespaceRouteDomains'>,
): Record<string, number> {
  const out: Record<string, number> = {};
  if (device.routeDomainPath !== undefined) out[device.routeDomainPath] = device.routeDomain;
  for (const m of namespaceRouteDomains(device)) if (m.routeDomainPath !== undefined) out[m.routeDomainPath] = m.routeDomain;
  return out;
}

/** Whether a rule of `namespace` (undefined: a cluster rule) belongs to route domain `rd`'s context. */
export function inRouteDomain(
  device: Pick<DeviceModel, 'routeDomain' | 'namespaceRouteDomains'>,
  namespace: string | undefined,
  rd: number,
): boolean {
  return (namespace === undefined ? device.routeDomain : routeDomainOfNamespace(device, namespace)) === rd;
}

/** `10.1.0.5` of a pod of `namespace` as the device holds it: `10.1.0.5%11` in a mapped namespace. */
export function qualifiedMember(routeDomains: ReadonlyMap<string, number>, namespace: string, ip: string): string {
  const rd = routeDomains.get(namespace);
  return rd === undefined ? ip : `${ip}%${rd}`;
}

/**
 * A list member as the device holds it: members of mapped namespaces carry their route domain
 * already; the others get the device's (none in route domain 0).
 */
export function deviceMember(member: string, deviceRouteDomain: number): string {
  return deviceRouteDomain === 0 || member.includes('%') ? member : `${member}%${deviceRouteDomain}`;
}

/** The plan's mappings (absent when none, so plans without mappings stay as they were). */
export function planNamespaceRouteDomains(device: DeviceModel): { namespaceRouteDomains?: PlanNamespaceRouteDomain[] } {
  const mappings = namespaceRouteDomains(device);
  return mappings.length ? { namespaceRouteDomains: mappings.map((m) => ({ namespace: m.namespace, routeDomain: m.routeDomain })) } : {};
}

/** The route domain of a namespace or service list of a mapped namespace (absent for others). */
export function listRouteDomain(device: DeviceModel, source: SourceModel): { routeDomain?: number } {
  const m = source.level === 'cluster' ? undefined : mappingOf(device, source.namespace);
  return m ? { routeDomain: m.routeDomain } : {};
}

const planMaps = new WeakMap<object, ReadonlyMap<string, number>>();

/** Namespace → route domain of the plan's mapped namespaces. */
export function planRouteDomains(plan: Pick<SyncPlan, 'namespaceRouteDomains'>): ReadonlyMap<string, number> {
  let map = planMaps.get(plan);
  if (!map) {
    map = new Map((plan.namespaceRouteDomains ?? []).map((m) => [m.namespace, m.routeDomain]));
    planMaps.set(plan, map);
  }
  return map;
}

/**
 * The pod a packet comes from: the one holding `ip` in `routeDomain` (the same address in two
 * route domains is two pods). A running pod is preferred over one that is terminating or done,
 * whose address may already be another pod's.
 */
export function podAtAddress(
  snapshot: Pick<ClusterSnapshot, 'pods'>,
  device: Pick<DeviceModel, 'routeDomain' | 'namespaceRouteDomains'>,
  ip: string,
  routeDomain: number,
): PodInfo | undefined {
  const wanted = tryParseIp(ip)?.text;
  if (wanted === undefined) return undefined;
  const holders = snapshot.pods.filter(
    (p) => routeDomainOfPod(device, p) === routeDomain && p.ips.some((a) => tryParseIp(a)?.text === wanted),
  );
  return holders.find((p) => !p.terminating && p.phase === 'Running') ?? holders[0];
}
