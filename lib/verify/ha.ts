/**
 * `verify` of a device that is a BIG-IP pair (AfmDevice `highAvailability`): every unit is read.
 *
 * - The device group, on every unit (`GET /mgmt/tm/cm/device-group`): it exists, is
 *   `sync-failover`, and (unless the device opted into `ConfigSyncMode.EXPLICIT`) has auto-sync
 *   and save-on-auto-sync on: the controller's list pushes are configuration changes that only
 *   auto-sync carries to the peer without a second writer, and only a saved sync survives the
 *   peer's restart.
 * - The sync status of every unit (`GET /mgmt/tm/cm/sync-status`) is `In Sync`.
 * - Exactly one unit is `ACTIVE` (`GET /mgmt/tm/cm/failover-status`): the lists, declaration
 *   and attachments are checked on it (they are what passes traffic); with none or two, on the
 *   leader, and the pair is reported.
 * - Every other unit has the service-discovery task of every event-driven list: tasks live in
 *   each unit's REST store and are not synced (f5-appsvcs-extension issues #238, #385), so a unit
 *   without them cannot take the controller's pushes after a failover.
 */
import { BigipClient } from '../clients/bigip';
import {
  ClusterStatus,
  DeviceGroupState,
  isActive,
  isInSync,
  readDeviceGroups,
  readFailoverStatus,
  readSyncStatus,
} from '../clients/bigip/failover';
import { UsageError } from '../files/usage-error';
import { quote } from '../files/text';
import type { VerifyProblem } from './checks';
import type { ExpectedDevice } from './expected';
import { bigipDeviceReader } from './reader';
import { DeviceVerification, VerifyOptions, verifyDevice } from './verify';

/** The pair as the synth output's policy artifact describes it. */
export interface HaExpectation {
  readonly deviceGroup: string;
  readonly configSync: 'auto' | 'explicit';
  /** Management URLs, leader first. */
  readonly units: readonly string[];
}

/** What was read from one unit; an Error where the read failed. */
export interface UnitObservation {
  readonly url: string;
  readonly failover: ClusterStatus | Error;
  readonly sync: ClusterStatus | Error;
  readonly groups: readonly DeviceGroupState[] | Error;
  /** Event-driven lists whose service-discovery task the unit lacks (not read on the unit checked in full). */
  readonly missingTasks?: readonly string[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `artifact.ha`, checked; undefined for one BIG-IP. */
export function haExpectationOf(value: unknown, file: string): HaExpectation | undefined {
  if (value === undefined) return undefined;
  const ok =
    isObj(value) &&
    typeof value.deviceGroup === 'string' &&
    (value.configSync === 'auto' || value.configSync === 'explicit') &&
    Array.isArray(value.units) &&
    value.units.length >= 2 &&
    value.units.every((u) => typeof u === 'string' && /^https:\/\/[^/\s]+$/.test(u));
  if (!ok) throw new UsageError(`${file}: "ha" of the policy artifact is damaged`, quote(value), 'run "cdktf synth" again');
  return value as unknown as HaExpectation;
}

/** The problems of the pair itself, from what was read of each unit. */
export function checkHaPair(label: string, ha: HaExpectation, units: readonly UnitObservation[]): VerifyProblem[] {
  const problems: VerifyProblem[] = [];
  const add = (where: string, expected: string, found: string, fix: string) =>
    problems.push({ severity: 'error', check: 'ha-pair', device: label, where, expected, found, fix });
  const explicit = ha.configSync === 'explicit';
  for (const u of units) {
    if (u.groups instanceof Error)
      add(`${u.url}: device group ${ha.deviceGroup}`, 'an answer', u.groups.message, 'verify again; check the user may read /mgmt/tm/cm');
    else {
      const group = u.groups.find((g) => g.path === ha.deviceGroup);
      if (!group)
        add(
          `${u.url}: device group ${ha.deviceGroup}`,
          'the sync-failover device group of the pair',
          `no such device group (${u.groups.map((g) => g.path).join(', ') || 'none'})`,
          'create the device group with both units (Declarative Onboarding, or bigip_cm_devicegroup), or fix highAvailability.deviceGroup',
        );
      else {
        if (group.type !== 'sync-failover')
          add(
            `${u.url}: device group ${ha.deviceGroup}`,
            'type sync-failover',
            `type ${group.type}`,
            'use the sync-failover group of the pair, not a sync-only one',
          );
        if (!explicit && !group.autoSync)
          add(
            `${u.url}: device group ${ha.deviceGroup}`,
            'auto-sync enabled',
            "auto-sync disabled: the controller's list pushes would not reach the other unit until someone syncs",
            'tmsh modify cm device-group <group> auto-sync enabled save-on-auto-sync true; or, knowingly, highAvailability.configSync: ConfigSyncMode.EXPLICIT',
          );
        if (!explicit && group.autoSync && !group.saveOnAutoSync)
          add(
            `${u.url}: device group ${ha.deviceGroup}`,
            'save-on-auto-sync true',
            "save-on-auto-sync false: what the sync brings is lost at the unit's next restart",
            'tmsh modify cm device-group <group> save-on-auto-sync true',
          );
      }
    }
    if (u.sync instanceof Error) add(`${u.url}: sync status`, 'an answer', u.sync.message, 'verify again');
    else if (!isInSync(u.sync))
      add(
        `${u.url}: sync status`,
        'In Sync',
        `${u.sync.status}${u.sync.summary && u.sync.summary.trim() ? ` (${u.sync.summary.trim()})` : ''}`,
        explicit
          ? `run "tmsh run cm config-sync to-group ${ha.deviceGroup}" on the leader (or deploy again), then verify again`
          : 'wait a moment and verify again; if it stays, check the config-sync connection between the units',
      );
  }
  const active = units.filter((u) => !(u.failover instanceof Error) && isActive(u.failover));
  const statuses = units
    .map((u) => `${u.url}: ${u.failover instanceof Error ? `unreadable (${u.failover.message})` : u.failover.status}`)
    .join(', ');
  if (active.length !== 1)
    add(
      'failover status',
      'exactly one ACTIVE unit',
      `${active.length} (${statuses})`,
      active.length === 0
        ? 'bring a unit to ACTIVE; the controller writes nothing until one is'
        : 'split brain: restore the failover network between the units; the controller writes nothing until one unit is active',
    );
  for (const u of units)
    if (u.missingTasks?.length)
      add(
        `${u.url}: service-discovery tasks`,
        `the task of each of the ${u.missingTasks.length} event-driven list(s) (tasks are per unit and not synced)`,
        `missing: ${u.missingTasks.slice(0, 3).join(', ')}${u.missingTasks.length > 3 ? ', ...' : ''}; after a failover the controller could not write these lists`,
        'deploy again ("cdktf deploy" posts the declaration to every unit); never fill the lists on that unit by hand',
      );
  return problems;
}

async function attempt<T>(work: () => Promise<T>): Promise<T | Error> {
  try {
    return await work();
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

/**
 * Verifies a device that is a pair: the full checks on the active unit (the leader when no one
 * unit is active), the pair checks on every unit. `clientFor` gives a client per unit URL.
 */
export async function verifyHaDevice(
  expected: ExpectedDevice,
  ha: HaExpectation,
  clientFor: (url: string) => BigipClient,
  options: VerifyOptions = {},
): Promise<DeviceVerification> {
  const read = await Promise.all(
    ha.units.map(async (url) => {
      const client = clientFor(url);
      const [failover, sync, groups] = await Promise.all([
        attempt(() => readFailoverStatus(client)),
        attempt(() => readSyncStatus(client)),
        attempt(() => readDeviceGroups(client)),
      ]);
      return { url, failover, sync, groups };
    }),
  );
  const actives = read.filter((u) => !(u.failover instanceof Error) && isActive(u.failover));
  const checked = actives.length === 1 ? actives[0].url : ha.units[0];
  const result = await verifyDevice(expected, bigipDeviceReader(clientFor(checked)), options);
  const units: UnitObservation[] = [];
  for (const u of read) {
    if (u.url === checked) {
      units.push(u);
      continue;
    }
    const reader = bigipDeviceReader(clientFor(u.url));
    const missing: string[] = [];
    for (const list of expected.plan.lists) {
      const nodes = await attempt(() => reader.listNodes(list.taskId));
      // A read that failed is reported by the other reads of the unit; only a clear "no task" counts here.
      if (nodes === undefined) missing.push(list.path);
    }
    units.push({ ...u, missingTasks: missing });
  }
  return { ...result, url: checked, problems: [...result.problems, ...checkHaPair(expected.label, ha, units)] };
}
