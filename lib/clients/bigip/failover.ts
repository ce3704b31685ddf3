/**
 * Reads of a BIG-IP's device-service-clustering state: which unit of a pair is active, whether
 * the device group's configuration is in sync, and how the device group syncs.
 *
 * - `GET /mgmt/tm/cm/failover-status`: `entries["https://localhost/mgmt/tm/cm/failover-status/0"]
 *   .nestedStats.entries.status.description` is `ACTIVE`, `STANDBY`, `OFFLINE`, `FORCED OFFLINE`
 *   ... (the stats shape every iControl REST `stats` answer has; AS3's integration tests poll it
 *   until `ACTIVE`: f5-appsvcs-extension `test/integration/bigip/property/propertiesCommon.js`,
 *   `checkServices()`; the F5-LTM PowerShell module and
 *   F5's Ansible modules read the same `status` and `color`).
 * - `GET /mgmt/tm/cm/sync-status`: the same shape, `status` (`In Sync`, `Changes Pending`,
 *   `Awaiting Initial Sync`, `Disconnected`, `Standalone` ...), `color` and `summary` (F5's
 *   Python SDK reads `entries["https://localhost/mgmt/tm/cm/sync-status/0"].nestedStats.entries
 *   .status.description` and waits for `In Sync`).
 * - `GET /mgmt/tm/cm/device-group`: `items[]` with `name`, `type` (`sync-failover`,
 *   `sync-only`), `autoSync` (`enabled`/`disabled`), `saveOnAutoSync` (`true`/`false`): the
 *   attributes terraform-provider-bigip's `bigip_cm_devicegroup` manages
 *   (`bigip/resource_bigip_cm_devicegroup.go:29-105`: `auto_sync` defaults to `disabled`).
 *
 * Anything else in place of these fields fails with `DeviceError`: a status the controller
 * cannot read is never taken for `ACTIVE`.
 */
import { BigipApiError } from './errors';

/** What `GET /mgmt/tm/cm/failover-status` or `.../sync-status` says. */
export interface ClusterStatus {
  /** `ACTIVE`, `STANDBY` ...; `In Sync`, `Changes Pending` ... */
  readonly status: string;
  readonly color?: string;
  readonly summary?: string;
}

/** A device group as `GET /mgmt/tm/cm/device-group` lists it. */
export interface DeviceGroupState {
  /** Full path, `/Common/<name>`. */
  readonly path: string;
  readonly type: string;
  readonly autoSync: boolean;
  readonly saveOnAutoSync: boolean;
}

/** The reads this module needs from a client (BigipClient has it). */
export interface ManagementReader {
  readonly url: string;
  /** `retry: false`: one attempt (a poll that runs again soon must not wait on a dead unit). */
  getJson(path: string, options?: { readonly retry?: boolean }): Promise<unknown>;
}

/** Options of the reads below. */
export interface ClusterReadOptions {
  /** @default true */
  readonly retry?: boolean;
}

export const FAILOVER_STATUS_PATH = '/mgmt/tm/cm/failover-status';
export const SYNC_STATUS_PATH = '/mgmt/tm/cm/sync-status';
export const DEVICE_GROUP_PATH = '/mgmt/tm/cm/device-group';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function answerError(path: string, what: string): BigipApiError {
  return new BigipApiError({ reason: 'DeviceError', terminal: false, method: 'GET', path, deviceMessage: `unexpected answer: ${what}` });
}

/** The `description` of each entry of a `stats` answer's first (only) record. */
function statsEntries(path: string, body: unknown): Record<string, string> {
  const entries = isObj(body) && isObj(body.entries) ? body.entries : undefined;
  const first = entries ? entries[`https://localhost${path}/0`] : undefined;
  const inner = isObj(first) && isObj(first.nestedStats) && isObj(first.nestedStats.entries) ? first.nestedStats.entries : undefined;
  if (!inner) throw answerError(path, `expected {"entries": {"https://localhost${path}/0": {"nestedStats": {"entries": ...}}}}`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(inner)) if (isObj(v) && typeof v.description === 'string') out[k] = v.description;
  return out;
}

/** Parses a failover-status or sync-status answer. */
export function clusterStatusOf(path: typeof FAILOVER_STATUS_PATH | typeof SYNC_STATUS_PATH, body: unknown): ClusterStatus {
  const e = statsEntries(path, body);
  if (e.status === undefined || e.status.trim() === '') throw answerError(path, 'no "status" description');
  return {
    status: e.status.trim(),
    ...(e.color !== undefined ? { color: e.color } : {}),
    ...(e.summary !== undefined ? { summary: e.summary } : {}),
  };
}

/** Parses `GET /mgmt/tm/cm/device-group`. */
export function deviceGroupsOf(body: unknown): DeviceGroupState[] {
  const items = isObj(body) ? body.items : undefined;
  // A device without device groups answers without `items`.
  if (items === undefined) return [];
  if (!Array.isArray(items)) throw answerError(DEVICE_GROUP_PATH, '"items" is not an array');
  return items.map((item, i) => {
    if (!isObj(item) || typeof item.name !== 'string' || typeof item.type !== 'string')
      throw answerError(DEVICE_GROUP_PATH, `items[${i}] has no "name" and "type"`);
    const partition = typeof item.partition === 'string' ? item.partition : 'Common';
    return {
      path: typeof item.fullPath === 'string' && item.fullPath.startsWith('/') ? item.fullPath : `/${partition}/${item.name}`,
      type: item.type,
      autoSync: item.autoSync === 'enabled',
      saveOnAutoSync: item.saveOnAutoSync === 'true' || item.saveOnAutoSync === true,
    };
  });
}

export async function readFailoverStatus(client: ManagementReader, options: ClusterReadOptions = {}): Promise<ClusterStatus> {
  return clusterStatusOf(FAILOVER_STATUS_PATH, await client.getJson(FAILOVER_STATUS_PATH, options));
}

export async function readSyncStatus(client: ManagementReader, options: ClusterReadOptions = {}): Promise<ClusterStatus> {
  return clusterStatusOf(SYNC_STATUS_PATH, await client.getJson(SYNC_STATUS_PATH, options));
}

export async function readDeviceGroups(client: ManagementReader, options: ClusterReadOptions = {}): Promise<DeviceGroupState[]> {
  return deviceGroupsOf(await client.getJson(DEVICE_GROUP_PATH, options));
}

/** Whether a failover status means the unit passes traffic (and so holds the lists that count). */
export function isActive(status: ClusterStatus): boolean {
  return status.status.toUpperCase() === 'ACTIVE';
}

/** Whether a sync status means no configuration change waits to reach the group. */
export function isInSync(status: ClusterStatus): boolean {
  return status.status === 'In Sync';
}
