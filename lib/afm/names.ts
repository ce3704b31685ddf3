/**
 * BIG-IP object names and paths.
 *
 * Names are derived from what an object *is* (its selector, its content, its rule key), never
 * from its position, so adding an unrelated rule renames nothing. Objects that a policy in
 * `/Common/Shared` must reference (global and route-domain contexts) live there, prefixed
 * with the tenant so that several clusters can share one BIG-IP.
 */
import { createHash } from 'node:crypto';
import { AS3_ITEM_NAME, AS3_PATH_MAX } from '../policy/names';

export const COMMON = 'Common';
export const SHARED = 'Shared';

/** First 8 hex digits of SHA-256: short, stable content address. */
export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

/** Protocol names as they may appear inside object names (`a/n` → `a_n`, `tp++` → `tppp`). */
export function protocolToken(protocol: string): string {
  return protocol.replace(/\//g, '_').replace(/\+/g, 'p');
}

/** Where an object lives in the declaration. */
export type Placement = 'shared' | 'tenant';

/** `/Common/Shared/<tenant>_<name>` or `/<tenant>/<app>/<name>`. */
export function objectPath(tenant: string, application: string, placement: Placement, name: string): string {
  return placement === 'shared' ? `/${COMMON}/${SHARED}/${sharedItemName(tenant, name)}` : `/${tenant}/${application}/${name}`;
}

export function sharedItemName(tenant: string, name: string): string {
  return `${tenant}_${name}`;
}

/** AS3 service-discovery task id of an event-driven list: `~Common~Shared~name`. */
export function serviceDiscoveryTaskId(path: string): string {
  return path.replace(/\//g, '~');
}

/** Why an AS3 item name or its full path breaks AS3's rules, or undefined when it is fine. */
export function itemNameProblem(path: string): string | undefined {
  const item = path.slice(path.lastIndexOf('/') + 1);
  if (!AS3_ITEM_NAME.test(item)) {
    return `BIG-IP object name "${item}" is not a valid AS3 item name (letters, digits, "_", ".", "-"; at most 190)`;
  }
  if (path.length > AS3_PATH_MAX) {
    return `BIG-IP object path "${path}" is ${path.length} characters; AS3 allows at most ${AS3_PATH_MAX}`;
  }
  return undefined;
}
