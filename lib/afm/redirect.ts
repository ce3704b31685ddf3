/**
 * AS3 objects of redirect rules (see `lib/policy/redirect.ts` and docs/redirection.md).
 *
 * Each redirect rule gets, in the tenant's application, one `Service_L4` per protocol whose
 * `virtualAddresses`, `sourceAddress` and `virtualPort` point at address and port lists. AS3
 * turns such a virtual into an `ltm traffic-matching-criteria` with those lists (AS3
 * `src/lib/map_as3.js:2673-2688, 2909-2936`; F5 example
 * `examples/declarations/example-service-tcp-with-source-destination-lists.json`). The virtual
 * is a copy of the egress virtual server (SNAT, VLANs, log profile, IP Intelligence, protocol
 * inspection and, above all, the same enforced and staged firewall policies, so the traffic it
 * takes is decided by the whole policy) with the redirect's gateway pool instead of the
 * device's. `Service_Forwarding` cannot carry a pool or a source list (AS3 schema,
 * Service_Forwarding `not.anyOf`), hence Service_L4.
 */
import type { CompiledPolicy } from '../policy/compile';
import { EgressPolicyError } from '../policy/errors';
import { withRouteDomain } from '../policy/ip';
import type { AddressModel } from '../policy/model';

type As3Object = Record<string, unknown>;

function clip(text: string): string {
  return text.length <= 64 ? text : `${text.slice(0, 61)}...`;
}

/** Whether any rule of the device redirects. */
export function hasRedirects(compiled: CompiledPolicy): boolean {
  const { cluster, namespace, service } = compiled.levels;
  return [...cluster, ...namespace, ...service].some((r) => r.redirect);
}

/**
 * Adds the redirect listeners, their destination lists and gateway pools to the tenant's
 * application. `egress` is the egress virtual server as rendered: each listener copies it.
 */
export function addRedirectServices(compiled: CompiledPolicy, egress: As3Object, put: (name: string, obj: As3Object) => void): void {
  const { device } = compiled.model;
  const address = (a: AddressModel) => withRouteDomain(a.text, device.routeDomain);
  const pools = new Set<string>();
  const { cluster, namespace, service } = compiled.levels;
  for (const rule of [...cluster, ...namespace, ...service]) {
    const r = rule.redirect;
    if (!r) continue;
    if (!pools.has(r.poolName)) {
      pools.add(r.poolName);
      put(r.poolName, {
        class: 'Pool',
        remark: clip(`next hops of redirect ${r.target.name}`),
        members: [{ servicePort: 0, serverAddresses: r.target.gateways.map(address) }],
      });
    }
    put(r.destinationListName, {
      class: 'Firewall_Address_List',
      remark: clip(`destinations redirected by ${rule.key}`),
      addresses: r.addresses.map(address),
    });
    for (const v of r.virtuals) {
      const { shareAddresses: _shared, ...copy } = egress;
      put(v.name, {
        ...copy,
        remark: clip(`redirect of ${rule.key} to ${r.target.name}`),
        virtualAddresses: { use: r.destinationListName },
        sourceAddress: { use: rule.sourceList },
        virtualPort: v.portList ? { use: v.portList } : 0,
        layer4: v.protocol,
        pool: r.poolName,
      });
    }
  }
}

/**
 * A redirect listener points at the rule's source and port lists in /Common/Shared. On a BIG-IP
 * shared by several clusters that list belongs to another declaration, which may delete it
 * while the tenant still uses it (the tenant's other references are the two virtual-server
 * policies that exist as long as the device does). So redirection needs a device that owns
 * its BIG-IP.
 */
export function refuseRedirectsOnSharedBigip(compiled: CompiledPolicy): void {
  if (!hasRedirects(compiled)) return;
  const { cluster, namespace, service } = compiled.levels;
  const rule = [...cluster, ...namespace, ...service].find((r) => r.redirect)!;
  throw new EgressPolicyError([
    {
      path: rule.model.path,
      field: 'redirect',
      value: `"${rule.redirect!.target.name}"`,
      message:
        "a redirect listener uses the rule's lists in /Common/Shared, which another cluster's deploy of the shared BIG-IP may remove while this tenant still needs them; redirection works on an AfmDevice that owns its BIG-IP: remove redirect or give the cluster its own BIG-IP",
    },
  ]);
}
