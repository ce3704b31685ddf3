/**
 * What one partition's configuration holds, as the emulated mcpd sees it: its objects and their
 * classes, the `use` pointers between them, event-driven and static address lists, route-domain
 * enforcement, virtual addresses and the route domains it names; and the pointer helpers the AS3
 * parser checks use.
 */
import * as net from 'node:net';
import { Json, isApplication, isObject } from './json';

/** What one partition holds, derived from the configuration AS3 applied to it. */
export interface PartitionIndex {
  /** Objects by path, with their AS3 class. */
  readonly objects: ReadonlyMap<string, string>;
  /** `use` pointers: from object path, to object path, and the property that holds the pointer. */
  readonly references: ReadonlyArray<readonly [string, string, string]>;
  /** Event-driven address lists: task id → path and the list's literal addresses. */
  readonly eventLists: ReadonlyMap<string, EventList>;
  /** Address lists without event discovery: task id → path. */
  readonly staticLists: ReadonlyMap<string, string>;
  /** Route-domain path → policy path (a policy's `routeDomainEnforcement`). */
  readonly routeDomainEnforcement: ReadonlyMap<string, string>;
  /** Virtual addresses in the partition: `address%id` → the address as declared. */
  readonly virtualAddresses: ReadonlyMap<string, string>;
  /** Virtual addresses of services with `shareAddresses`, which live in /Common: `address%id` → as declared. */
  readonly sharedVirtualAddresses: ReadonlyMap<string, string>;
  /** Address lists with FQDN entries: path → the first FQDN. */
  readonly fqdnLists: ReadonlyMap<string, string>;
  /** Route-domain ids named by addresses and by `defaultRouteDomain`. */
  readonly routeDomainIds: ReadonlySet<number>;
}

export interface EventList {
  readonly path: string;
  readonly addresses: readonly string[];
  /** The partition's `defaultRouteDomain` (the service-discovery task reports it). */
  readonly routeDomain: number;
}

/** An address with a route-domain id, alone or as the end of a range or before a prefix length. */
const ADDRESS_ROUTE_DOMAIN = /(?:^|-)[0-9A-Fa-f:.]+%(\d{1,5})(?=$|\/|-)/g;

/** Calls `visit` for every `{ "use": "<pointer>" }` in an item, with the property holding it. */
export function forEachUse(value: unknown, visit: (pointer: string, property: string) => void, property = ''): void {
  if (Array.isArray(value)) {
    for (const v of value) forEachUse(v, visit, property);
  } else if (isObject(value)) {
    if (typeof value.use === 'string') visit(value.use, property);
    for (const [k, v] of Object.entries(value)) if (k !== 'use' && v && typeof v === 'object') forEachUse(v, visit, k);
  }
}

/**
 * Calls `visit` for every `{ "bigip": "<path>" }` in a value, with the keys that lead to it
 * (array indices included), as AS3 finds them with the schema's `bigComponent` tag.
 */
export function forEachBigip(value: unknown, visit: (pointer: string, at: readonly string[]) => void, at: readonly string[] = []): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => forEachBigip(v, visit, [...at, String(i)]));
  } else if (isObject(value)) {
    if (typeof value.bigip === 'string') visit(value.bigip, at);
    for (const [k, v] of Object.entries(value)) if (k !== 'bigip' && v && typeof v === 'object') forEachBigip(v, visit, [...at, k]);
  }
}

/** The path a pointer names from `/tenant/app` (relative names stay in the application; `@` is "same"). */
function resolveUse(pointer: string, tenant: string, app: string): string {
  if (!pointer.startsWith('/')) return `/${tenant}/${app}/${pointer}`;
  const parts = pointer.slice(1).split('/');
  if (parts[0] === '@') parts[0] = tenant;
  if (parts[1] === '@') parts[1] = app;
  return `/${parts.join('/')}`;
}

/**
 * Why a pointer does not resolve in a declaration, as AS3 words it: pointers stay in their
 * application or point into /<same tenant>/Shared or /Common/Shared, and must name an object
 * of the declaration (AS3 `src/lib/util/extractUtil.js:155-211`).
 */
export function pointerProblem(decl: Json, pointer: string, tenant: string, app: string): string | undefined {
  const target = resolveUse(pointer, tenant, app).slice(1).split('/');
  if (target.length !== 3) return undefined;
  const [t, a, item] = target;
  if ((t !== tenant && t !== 'Common') || (a !== app && a !== 'Shared')) {
    return 'must contain path pointing into same Application (or /same-Tenant/Shared or /Common/Shared)';
  }
  const tenantObj = decl[t];
  if (!isObject(tenantObj)) return `contains path to non-existent object ${t}`;
  const appObj = tenantObj[a];
  if (!isObject(appObj)) return `contains path to non-existent object ${a}`;
  if (!isObject(appObj[item])) return `contains path to non-existent object ${item}`;
  return undefined;
}

/** `address%id` of a virtual address and the address as declared, or undefined for anything else. */
function virtualAddressKey(text: string, defaultRouteDomain: number): [string, string] | undefined {
  const m = /^([^%/]+)(?:%(\d{1,5}))?(?:\/\d{1,3})?$/.exec(text);
  if (!m || net.isIP(m[1]) === 0) return undefined;
  const address = net.isIPv6(m[1]) ? new URL(`http://[${m[1]}]`).hostname.slice(1, -1) : m[1];
  const rd = m[2] !== undefined ? Number(m[2]) : defaultRouteDomain;
  return [`${address}%${rd}`, m[2] !== undefined ? `${m[1]}%${m[2]}` : m[1]];
}

function collectRouteDomainIds(value: unknown, into: Set<number>): void {
  if (typeof value === 'string') {
    if (value.includes('%')) for (const m of value.matchAll(ADDRESS_ROUTE_DOMAIN)) into.add(Number(m[1]));
  } else if (Array.isArray(value)) {
    for (const v of value) collectRouteDomainIds(v, into);
  } else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) if (k !== 'remark' && k !== 'label') collectRouteDomainIds(v, into);
  }
}

/** The objects, references, lists, attachments and addresses of one partition's configuration. */
export function indexPartition(name: string, tenant: Json): PartitionIndex {
  const objects = new Map<string, string>();
  const references: Array<readonly [string, string, string]> = [];
  const eventLists = new Map<string, EventList>();
  const staticLists = new Map<string, string>();
  const routeDomainEnforcement = new Map<string, string>();
  const virtualAddresses = new Map<string, string>();
  const sharedVirtualAddresses = new Map<string, string>();
  const fqdnLists = new Map<string, string>();
  const routeDomainIds = new Set<number>();
  const defaultRouteDomain = typeof tenant.defaultRouteDomain === 'number' ? tenant.defaultRouteDomain : 0;
  if (typeof tenant.defaultRouteDomain === 'number') routeDomainIds.add(defaultRouteDomain);
  const addVirtual = (text: unknown, shared = false) => {
    // A shared address is created in /Common, so an address without `%id` takes Common's
    // default route domain, 0 (AS3 `src/lib/map_as3.js:2400-2417`).
    const key = typeof text === 'string' ? virtualAddressKey(text, shared ? 0 : defaultRouteDomain) : undefined;
    if (key) (shared ? sharedVirtualAddresses : virtualAddresses).set(key[0], key[1]);
  };
  for (const [appName, app] of Object.entries(tenant)) {
    if (!isApplication(app)) continue;
    for (const [itemName, item] of Object.entries(app)) {
      if (!isObject(item) || typeof item.class !== 'string') continue;
      const itemPath = `/${name}/${appName}/${itemName}`;
      objects.set(itemPath, item.class);
      forEachUse(item, (pointer, property) => references.push([itemPath, resolveUse(pointer, name, appName), property]));
      // A `bigip` pointer to an object AS3 made in another partition holds on to it as a `use` does.
      forEachBigip(item, (pointer, at) => {
        if (/^\/[^/]+\/[^/]+\/[^/]+$/.test(pointer))
          references.push([itemPath, pointer, [...at].reverse().find((k) => !/^\d+$/.test(k)) ?? '']);
      });
      collectRouteDomainIds(item, routeDomainIds);
      if (item.class === 'Firewall_Policy') {
        for (const rd of Array.isArray(item.routeDomainEnforcement) ? item.routeDomainEnforcement : []) {
          if (isObject(rd) && typeof rd.bigip === 'string') routeDomainEnforcement.set(rd.bigip, itemPath);
        }
      } else if (item.class === 'Firewall_Address_List') {
        // A list of other lists (`addressLists`, F5 "Network Firewall: Policies and
        // Implementations", Firewall address lists) has no members of its own and no
        // service-discovery task: it matches what its lists hold, so pushes go to those lists,
        // and its `use` pointers keep them from being deleted while it exists (references above).
        const taskId = itemPath.replace(/\//g, '~');
        const entries = Array.isArray(item.addresses) ? item.addresses : [];
        if (Array.isArray(item.fqdns) && item.fqdns.length > 0) fqdnLists.set(itemPath, String(item.fqdns[0]));
        if (entries.some((a) => isObject(a) && a.addressDiscovery === 'event')) {
          eventLists.set(taskId, {
            path: itemPath,
            addresses: entries.filter((a): a is string => typeof a === 'string'),
            routeDomain: defaultRouteDomain,
          });
        } else {
          staticLists.set(taskId, itemPath);
        }
      } else if (item.class === 'Service_Address') {
        addVirtual(item.virtualAddress);
      } else if (item.class.startsWith('Service_') && Array.isArray(item.virtualAddresses)) {
        // A virtual address is a destination: a string, or the first of [destination, source].
        for (const entry of item.virtualAddresses) addVirtual(Array.isArray(entry) ? entry[0] : entry, item.shareAddresses === true);
      }
    }
  }
  return {
    objects,
    references,
    eventLists,
    staticLists,
    routeDomainEnforcement,
    virtualAddresses,
    sharedVirtualAddresses,
    fqdnLists,
    routeDomainIds,
  };
}
