/**
 * AS3 objects of namespaces with route domains of their own (see policy/route-domains.ts).
 *
 * Per mapped route domain the declaration holds:
 * - `<tenant>_namespace_rules_rd<id>` (and its staged list when a rule of it is in audit):
 *   the namespace rules of the namespace, referenced by the route domain's context policy
 *   `<owner>_rd<id>_policy`, whose `routeDomainEnforcement` names the route domain by path
 *   (AS3 3.56 schema, `Firewall_Policy.routeDomainEnforcement`; AS3 maps it to `net
 *   route-domain <path> fw-enforced-policy`, `map_as3.js:3724-3727`);
 * - `egress_vs_rd<id>` in the tenant's application: the egress virtual server of the route
 *   domain, listening on `0.0.0.0%<id>/0` (and `::%<id>/0`) for the namespace's pod CIDRs
 *   (`addr%id/len`: AS3's `f5ip` format takes an optional `%RD`, `adcParserFormats.js:39-43`)
 *   on the namespace's VLANs only. Its addresses carry `%id` explicitly: AS3 appends the
 *   tenant's `defaultRouteDomain` only to addresses without one (`map_as3.js:223-231`).
 *   It shares the device's virtual-server policies, log profile and security services; it has
 *   no gateway pool (the device's gateways are addresses of the device's route domain, and a
 *   strict route domain does not forward into another), so it forwards by its route domain's
 *   routing table.
 * - every destination address list holds each address once per route domain of the device
 *   (`198.51.100.0/24`, `198.51.100.0%11/24`, …): AFM compares a destination together with the
 *   route domain of the flow, and whether an entry without `%id` matches flows of other route
 *   domains is not documented, so each route domain gets its entry explicitly. The source
 *   lists keep every rule to its own pods; a cluster rule's destinations apply in every
 *   route domain, a mapped namespace's only reach flows of its route domain anyway.
 * - the pod CIDR list holds the namespace's pod CIDRs as `addr%id/len` beside the device's
 *   (`Firewall_Address_List.addresses` are plain strings that AS3 copies as they are,
 *   `map_as3.js:3735-3778`; tmsh takes `addr%rd/len`).
 */
import type { CompiledRule } from '../policy/compile';
import { withRouteDomain } from '../policy/ip';
import type { DeviceModel } from '../policy/model';
import { OBJECT } from '../policy/object-names';
import { inRouteDomain, namespaceRouteDomains, routeDomainIds } from '../policy/route-domains';

type As3Object = Record<string, unknown>;

/** Item name of the namespace-rule list of a route domain of the device. */
export function namespaceListName(device: Pick<DeviceModel, 'routeDomain'>, rd: number): string {
  return rd === device.routeDomain ? OBJECT.namespaceRules : `${OBJECT.namespaceRules}_rd${rd}`;
}

/** Item name of the egress virtual server of a mapped route domain. */
export function mappedVirtualServerName(rd: number): string {
  return `${OBJECT.virtualServer}_rd${rd}`;
}

/** The namespace rules enforced in route domain `rd`'s context: those of namespaces in it. */
export function namespaceRulesIn(rules: readonly CompiledRule[], device: DeviceModel, rd: number): readonly CompiledRule[] {
  if (namespaceRouteDomains(device).length === 0) return rules;
  return rules.filter((r) => inRouteDomain(device, r.model.namespace, rd));
}

/** A destination address (address, CIDR or range) as list entries: one per route domain of the device. */
export function destinationEntries(device: DeviceModel, text: string): string[] {
  return routeDomainIds(device).map((rd) => withRouteDomain(text, rd));
}

/** The pod CIDR list's entries of the mapped namespaces: `addr%id/len`. */
export function mappedPodCidrEntries(device: DeviceModel): string[] {
  return namespaceRouteDomains(device).flatMap((m) => m.podCidrs.map((c) => withRouteDomain(c.text, m.routeDomain)));
}

/**
 * The egress virtual servers of the mapped route domains, made from the device's own (`vs`):
 * the same policies, profiles and translation; their own addresses and VLANs; no gateway pool.
 */
export function mappedVirtualServers(device: DeviceModel, vs: As3Object): [string, As3Object][] {
  return namespaceRouteDomains(device).map((m) => {
    const wildcard = (family: 4 | 6) => withRouteDomain(family === 4 ? '0.0.0.0/0' : '::/0', m.routeDomain);
    const shared: As3Object = { ...vs };
    delete shared.pool;
    delete shared.allowVlans;
    return [
      mappedVirtualServerName(m.routeDomain),
      {
        ...shared,
        remark: clip(`egress of namespace ${m.namespace} of cluster ${device.cluster}`),
        virtualAddresses: m.podCidrs.map((c) => [wildcard(c.family), withRouteDomain(c.text, m.routeDomain)]),
        allowVlans: m.vlans.map((bigip) => ({ bigip })),
      },
    ];
  });
}

function clip(text: string): string {
  return text.length <= 64 ? text : `${text.slice(0, 61)}...`;
}
