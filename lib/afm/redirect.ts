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
import { EgressPolicyError, PolicyIssue, quote } from '../policy/errors';
import { withRouteDomain } from '../policy/ip';
import type { AddressModel } from '../policy/model';
import { OBJECT } from '../policy/object-names';
import { namespaceRouteDomains } from '../policy/route-domains';
import { mappedVirtualServerName } from './route-domains';
import { PORTED_PROTOCOLS } from '../policy/port';

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

/**
 * The self-check of the redirect listeners (as `rendering-check.ts` is of the rules): reads the
 * rendered declaration and proves, from the policy model, that each redirect rule has exactly one
 * listener per protocol that matches the rule's sources (the compiled source list, the one fact
 * the controller fills), destinations (external services resolved) and ports, sends to the
 * redirect's gateways and is the egress virtual server in everything else (above all its
 * firewall policies), and that no other listener exists. Names only lead the way.
 */
export function checkRedirectRendering(adc: As3Object, compiled: CompiledPolicy): void {
  const { device } = compiled.model;
  const app = ((adc[device.tenant] as As3Object | undefined)?.[device.application] ?? {}) as As3Object;
  const shared = ((adc.Common as As3Object | undefined)?.Shared ?? {}) as As3Object;
  const issues: PolicyIssue[] = [];
  const obj = (v: unknown): As3Object | undefined =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as As3Object) : undefined;
  const resolve = (pointer: unknown): As3Object | undefined => {
    const use = typeof pointer === 'string' ? pointer : obj(pointer)?.use;
    if (typeof use !== 'string') return undefined;
    if (!use.includes('/')) return obj(app[use]);
    const prefix = '/Common/Shared/';
    return use.startsWith(prefix) ? obj(shared[use.slice(prefix.length)]) : undefined;
  };
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const sorted = (xs: readonly (string | number)[]) => [...xs].map(String).sort();
  const address = (a: { text: string }) => withRouteDomain(a.text, device.routeDomain);
  const egress = obj(app[OBJECT.virtualServer]) ?? {};
  const rest = (o: As3Object, drop: readonly string[]) => Object.fromEntries(Object.entries(o).filter(([k]) => !drop.includes(k)));
  const common = rest(egress, ['remark', 'virtualAddresses', 'virtualPort', 'layer4', 'pool', 'shareAddresses']);
  const services = new Map(compiled.model.externalServices.map((es) => [es.name, es]));
  const expectedListeners = new Set<string>();
  const { cluster, namespace, service } = compiled.levels;
  for (const rule of [...cluster, ...namespace, ...service]) {
    const target = rule.model.redirect;
    if (!target) continue;
    const problem = (what: string) =>
      issues.push({
        path: rule.model.path,
        field: 'redirect',
        value: quote(target.name),
        message: `the rendered redirect listener ${what}; this is a bug, please report it`,
      });
    const destinations = rule.model.destinations.flatMap((d) =>
      d.kind === 'externalService' ? (services.get(d.name)?.destinations ?? []) : [d],
    );
    const wantAddresses = sorted([...new Set(destinations.filter((d) => d.kind !== 'fqdn').map((d) => address(d as { text: string })))]);
    const protocols = rule.model.ports.length ? [...new Set(rule.model.ports.map((p) => p.protocol))] : ['any'];
    const names = rule.redirect?.virtuals ?? [];
    for (const protocol of protocols) {
      const named = names.find((v) => v.protocol === protocol);
      const listener = named && obj(app[named.name]);
      if (!named || !listener || listener.class !== 'Service_L4') {
        problem(`for ${protocol} is missing`);
        continue;
      }
      expectedListeners.add(named.name);
      if (listener.layer4 !== protocol) problem(`${named.name} listens for ${String(listener.layer4)}, not ${protocol}`);
      if (!same(obj(listener.sourceAddress), { use: rule.sourceList })) problem(`${named.name} does not match the rule's source list`);
      const dst = resolve(listener.virtualAddresses);
      if (!dst || dst.class !== 'Firewall_Address_List' || !same(sorted((dst.addresses as string[]) ?? []), wantAddresses))
        problem(`${named.name} does not match exactly the rule's destinations`);
      const ports = rule.model.ports.filter((p) => p.protocol === protocol);
      const numbered = PORTED_PROTOCOLS.has(protocol) && ports.length > 0 && ports.every((p) => p.fromPort !== undefined);
      const wantPorts = sorted(ports.map((p) => (p.fromPort === p.toPort ? p.fromPort! : `${p.fromPort}-${p.toPort}`)));
      const portList = resolve(listener.virtualPort);
      if (numbered ? !portList || !same(sorted((portList.ports as (string | number)[]) ?? []), wantPorts) : listener.virtualPort !== 0)
        problem(`${named.name} does not match exactly the rule's ${protocol} ports`);
      const pool = resolve(listener.pool);
      if (!pool || pool.class !== 'Pool' || !same(pool.members, [{ servicePort: 0, serverAddresses: target.gateways.map(address) }]))
        problem(`${named.name} does not send to the gateways of redirect ${target.name}`);
      if (!same(rest(listener, ['remark', 'virtualAddresses', 'sourceAddress', 'virtualPort', 'layer4', 'pool']), common))
        problem(`${named.name} differs from the egress virtual server in its policies, SNAT, VLANs, logging or security services`);
    }
  }
  // The mapped namespaces' egress virtual servers are the route-domain rendering's (route-domains.ts checks them).
  const egressServers = new Set([
    OBJECT.virtualServer,
    ...namespaceRouteDomains(device).map((m) => mappedVirtualServerName(m.routeDomain)),
  ]);
  for (const [name, o] of Object.entries(app)) {
    if (obj(o)?.class === 'Service_L4' && !egressServers.has(name) && !expectedListeners.has(name)) {
      issues.push({
        path: device.path,
        field: 'redirect',
        value: quote(name),
        message: 'a virtual server no redirect rule asks for was rendered; this is a bug, please report it',
      });
    }
  }
  if (issues.length) throw new EgressPolicyError(issues);
}
