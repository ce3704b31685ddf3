/**
 * What mcpd does with the virtual servers AS3 gives traffic-matching criteria (the redirect
 * listeners of lib/afm/redirect.ts): a Service_* whose `virtualAddresses`, `sourceAddress` or
 * `virtualPort` points at an address or port list.
 *
 * - AS3 creates `ltm traffic-matching-criteria <app>/<vs>_VS_TMC_OBJ` with `route-domain`
 *   `/Common/<defaultRouteDomain>` for a tenant with a non-zero default route domain and `any`
 *   otherwise (AS3 `src/lib/map_as3.js:2909-2936`, the route domain at `:2924`). mcpd has been
 *   seen to refuse the partition then: "The requested name_idx (/Common/1) was not found" (AS3
 *   issue #917, open). The issue does not say whether a route domain named by its id avoids it,
 *   so the emulator refuses every non-zero default route domain (the stricter reading). The code
 *   before the text is not in the issue; the emulator's is a placeholder.
 * - No virtual address is created for a virtual with a destination list (`:2844-2850`):
 *   partition-index.ts counts only array `virtualAddresses`, which is already that behaviour.
 * - The lists it points at are `use` pointers, so the reference check of device.ts keeps them
 *   from being deleted while the virtual exists (AS3's pointer handling for
 *   `Pointer_Address_List` and `Pointer_Port_List`, AS3 schema).
 */
import type { Json } from './json';

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether an AS3 item is a virtual server with traffic-matching criteria. */
export function hasTrafficMatching(item: Json): boolean {
  return (
    typeof item.class === 'string' &&
    item.class.startsWith('Service_') &&
    (isObject(item.virtualAddresses) || isObject(item.sourceAddress) || isObject(item.virtualPort))
  );
}

/** mcpd's refusal of a partition with traffic-matching criteria in a non-zero route domain (see above). */
export function trafficMatchingProblem(tenant: Json): string | undefined {
  const rd = typeof tenant.defaultRouteDomain === 'number' ? tenant.defaultRouteDomain : 0;
  if (rd === 0) return undefined;
  for (const app of Object.values(tenant)) {
    if (!isObject(app) || app.class !== 'Application') continue;
    for (const item of Object.values(app)) {
      if (isObject(item) && hasTrafficMatching(item)) return `01020036:3: The requested name_idx (/Common/${rd}) was not found.`;
    }
  }
  return undefined;
}
