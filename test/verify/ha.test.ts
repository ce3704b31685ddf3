/**
 * `verify` of a device that is a BIG-IP pair (lib/verify/ha.ts): the pair checks on literal
 * unit states, then the whole verify against the emulated pair, deployed as Terraform would,
 * before and after a failover, with the peer's tasks missing, and without auto-sync.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BigipClient } from '../../lib/clients/bigip';
import type { ClusterStatus, DeviceGroupState } from '../../lib/clients/bigip/failover';
import { ExpectedDevice, HaExpectation, UnitObservation, checkHaPair, expectedDevices, verifyHaDevice } from '../../lib/verify';
import { BigipEmulator } from '../emulators/bigip/emulator';
import { BigipPair } from '../emulators/bigip/ha';
import { World, eventually, startWorld } from '../controller/e2e/support';

jest.setTimeout(60_000);

const HA: HaExpectation = { deviceGroup: '/Common/failover-group', configSync: 'auto', units: ['https://a', 'https://b'] };
const group = (g: Partial<DeviceGroupState> = {}): DeviceGroupState[] => [
  { path: '/Common/failover-group', type: 'sync-failover', autoSync: true, saveOnAutoSync: true, ...g },
];
const st = (status: string): ClusterStatus => ({ status });
const unit = (url: string, failover: string, u: Partial<UnitObservation> = {}): UnitObservation => ({
  url,
  failover: st(failover),
  sync: st('In Sync'),
  groups: group(),
  ...u,
});

describe('checkHaPair', () => {
  test('a healthy pair has no problem', () => {
    expect(checkHaPair('egress/k8s_e2e', HA, [unit('https://a', 'ACTIVE'), unit('https://b', 'STANDBY', { missingTasks: [] })])).toEqual(
      [],
    );
  });

  test('auto-sync off, save-on-auto-sync off, a sync-only group, a missing group', () => {
    const problems = checkHaPair('d', HA, [
      unit('https://a', 'ACTIVE', { groups: group({ autoSync: false }) }),
      unit('https://b', 'STANDBY', { groups: group({ saveOnAutoSync: false, type: 'sync-only' }) }),
    ]);
    expect(problems.map((p) => [p.where, p.expected])).toEqual([
      ['https://a: device group /Common/failover-group', 'auto-sync enabled'],
      ['https://b: device group /Common/failover-group', 'type sync-failover'],
      ['https://b: device group /Common/failover-group', 'save-on-auto-sync true'],
    ]);
    expect(checkHaPair('d', HA, [unit('https://a', 'ACTIVE', { groups: [] }), unit('https://b', 'STANDBY')])).toEqual([
      {
        severity: 'error',
        check: 'ha-pair',
        device: 'd',
        where: 'https://a: device group /Common/failover-group',
        expected: 'the sync-failover device group of the pair',
        found: 'no such device group (none)',
        fix: 'create the device group with both units (Declarative Onboarding, or bigip_cm_devicegroup), or fix highAvailability.deviceGroup',
      },
    ]);
  });

  test('explicit sync accepts a group without auto-sync, but not Changes Pending', () => {
    const explicit: HaExpectation = { ...HA, configSync: 'explicit' };
    const problems = checkHaPair('d', explicit, [
      unit('https://a', 'ACTIVE', { groups: group({ autoSync: false }), sync: { status: 'Changes Pending', summary: 'a has changes' } }),
      unit('https://b', 'STANDBY', { groups: group({ autoSync: false }) }),
    ]);
    expect(problems.map((p) => [p.where, p.found, p.fix])).toEqual([
      [
        'https://a: sync status',
        'Changes Pending (a has changes)',
        'run "tmsh run cm config-sync to-group /Common/failover-group" on the leader (or deploy again), then verify again',
      ],
    ]);
  });

  test.each([
    ['none', ['STANDBY', 'STANDBY'], /^0 \(/],
    ['two', ['ACTIVE', 'ACTIVE'], /^2 \(/],
  ])('%s active: one problem naming every unit', (_what, statuses, found) => {
    const problems = checkHaPair('d', HA, [unit('https://a', statuses[0]), unit('https://b', statuses[1])]);
    expect(problems).toEqual([
      expect.objectContaining({ where: 'failover status', expected: 'exactly one ACTIVE unit', found: expect.stringMatching(found) }),
    ]);
    expect(problems[0].found).toContain(`https://a: ${statuses[0]}, https://b: ${statuses[1]}`);
  });

  test('tasks missing on a unit', () => {
    const problems = checkHaPair('d', HA, [
      unit('https://a', 'ACTIVE'),
      unit('https://b', 'STANDBY', { missingTasks: ['/Common/Shared/x', '/Common/Shared/y'] }),
    ]);
    expect(problems).toEqual([
      expect.objectContaining({
        where: 'https://b: service-discovery tasks',
        found: expect.stringMatching(/^missing: \/Common\/Shared\/x, \/Common\/Shared\/y;/),
      }),
    ]);
  });
});

describe('verify against an emulated pair', () => {
  let pair: BigipPair;
  let world: World;
  let clients: Map<string, BigipClient>;
  let device: ExpectedDevice;
  const clientFor = (url: string) => {
    let c = clients.get(url);
    if (!c)
      clients.set(
        url,
        (c = new BigipClient({
          url,
          username: 'admin',
          password: 'admin',
          caBundle: BigipEmulator.caCertificate(),
          retry: { maxAttempts: 1 },
        })),
      );
    return c;
  };
  const haOf = (p: BigipPair): HaExpectation => ({ ...(device.ha as HaExpectation), units: p.units.map((u) => u.url) });
  const errors = (r: { problems: readonly { severity: string; check: string; where: string; expected: string }[] }) =>
    r.problems.filter((p) => p.severity === 'error').map((p) => `${p.check} ${p.where}: ${p.expected}`);

  beforeAll(async () => {
    clients = new Map();
    // Sync (sub-second on a device) faster than an AS3 apply (seconds on a device, 20 ms here): see docs/ha.md on the race.
    pair = await BigipPair.start({ syncDelayMs: 5 });
    world = await startWorld({
      policy: { highAvailability: { deviceGroup: 'failover-group', peerAddresses: ['127.0.0.2'] } },
      deploy: () => ({
        bigipUnits: {
          'bigip.k8s_e2e': { bigip: pair.units[0], client: clientFor(pair.units[0].url) },
          'bigip.k8s_e2e_unit1': { bigip: pair.units[1], client: clientFor(pair.units[1].url) },
        },
      }),
    });
    await eventually(() => pair.syncStatus === 'In Sync', 'the sync');
    [device] = expectedDevices(world.outdir, '/');
  });
  afterAll(async () => {
    await Promise.all([...clients.values()].map((c) => c.close()));
    await pair?.stop();
    await world?.stop();
  });

  test('the synth output names the pair; verify reads the active unit in full and passes', async () => {
    expect(device.ha).toEqual({
      deviceGroup: '/Common/failover-group',
      configSync: 'auto',
      units: ['https://127.0.0.1', 'https://127.0.0.2'],
    });
    const r = await verifyHaDevice(device, haOf(pair), clientFor);
    expect(errors(r)).toEqual([]);
    expect(r.url).toBe(pair.units[0].url);
    expect(r.checked).toContain(`${world.plan.lists.length} event-driven lists`);
  });

  test('after a failover verify reads the new active unit and passes', async () => {
    pair.failOver(1);
    const r = await verifyHaDevice(device, haOf(pair), clientFor);
    expect(r.url).toBe(pair.units[1].url);
    expect(errors(r)).toEqual([]);
    pair.failOver(0);
  });

  test('split brain is an error; the leader is checked in full', async () => {
    pair.setFailoverStatus(1, 'ACTIVE');
    const r = await verifyHaDevice(device, haOf(pair), clientFor);
    expect(r.url).toBe(pair.units[0].url);
    expect(errors(r)).toEqual(['ha-pair failover status: exactly one ACTIVE unit']);
    pair.setFailoverStatus(1, 'STANDBY');
  });

  test('a peer that never got the declaration lacks the tasks: an error naming it', async () => {
    const other = await BigipPair.start({ syncDelayMs: 20 });
    try {
      const tf = JSON.parse(fs.readFileSync(path.join(world.outdir, 'stacks', 'egress', 'cdk.tf.json'), 'utf8'));
      const [request] = Object.values(tf.resource.bigip_as3 as Record<string, { as3_json: string }>).map((r) => JSON.parse(r.as3_json));
      await clientFor(other.units[0].url).declare(request, { pollIntervalMs: 5 });
      await eventually(() => other.syncStatus === 'In Sync', 'the sync');
      // (The leader lacks the attachments too: only the declaration was posted.)
      const r = await verifyHaDevice(device, haOf(other), clientFor);
      expect(errors(r).filter((e) => e.startsWith('ha-pair'))).toEqual([
        `ha-pair ${other.units[1].url}: service-discovery tasks: the task of each of the ${world.plan.lists.length} event-driven list(s) (tasks are per unit and not synced)`,
      ]);
    } finally {
      await other.stop();
    }
  });

  test('a group without auto-sync is refused unless the device opted into explicit sync', async () => {
    const other = await BigipPair.start({ autoSync: false });
    try {
      const r = await verifyHaDevice(device, haOf(other), clientFor);
      const missingTasks = `ha-pair ${other.units[1].url}: service-discovery tasks: the task of each of the ${world.plan.lists.length} event-driven list(s) (tasks are per unit and not synced)`;
      expect(errors(r).filter((e) => e.startsWith('ha-pair'))).toEqual([
        `ha-pair ${other.units[0].url}: device group /Common/failover-group: auto-sync enabled`,
        `ha-pair ${other.units[1].url}: device group /Common/failover-group: auto-sync enabled`,
        missingTasks,
      ]);
      const explicit = await verifyHaDevice(device, { ...haOf(other), configSync: 'explicit' }, clientFor);
      expect(errors(explicit).filter((e) => e.startsWith('ha-pair'))).toEqual([missingTasks]);
    } finally {
      await other.stop();
    }
  });
});
