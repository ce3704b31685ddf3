/**
 * The emulated BIG-IP pair (test/emulators/bigip/ha.ts): what config sync carries and what it
 * does not (service-discovery tasks, AS3 #238/#385), auto-sync with its delay and
 * "Changes Pending", manual sync, failover status, and the cm endpoints of a standalone device.
 */
import { BigipClient } from '../../../lib/clients/bigip';
import { readDeviceGroups, readFailoverStatus, readSyncStatus } from '../../../lib/clients/bigip/failover';
import { BigipEmulator } from '../../emulators/bigip/emulator';
import { BigipPair } from '../../emulators/bigip/ha';
import { clientFor, egressDeclaration, taskIdOf } from './support';

const LIST = '/Common/Shared/k8s_prod_src_cluster';

async function waitFor(check: () => boolean, what: string, limitMs = 5000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('a standalone device', () => {
  let device: BigipEmulator;
  let client: BigipClient;
  beforeAll(async () => {
    device = await BigipEmulator.start();
    client = clientFor(device);
  });
  afterAll(async () => {
    await client.close();
    await device.stop();
  });

  test('is active, Standalone, in no device group of its own', async () => {
    expect(await readFailoverStatus(client)).toMatchObject({ status: 'ACTIVE' });
    expect(await readSyncStatus(client)).toMatchObject({ status: 'Standalone' });
    expect(await readDeviceGroups(client)).toEqual([
      { path: '/Common/device_trust_group', type: 'sync-only', autoSync: true, saveOnAutoSync: false },
    ]);
  });
});

describe('a pair with auto-sync', () => {
  let pair: BigipPair;
  let clients: BigipClient[];
  beforeEach(async () => {
    pair = await BigipPair.start({ syncDelayMs: 100 });
    clients = pair.units.map((u) => clientFor(u));
  });
  afterEach(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await pair.stop();
  });

  test('a declaration posted to one unit: the peer gets the address lists, not the service-discovery tasks (#238)', async () => {
    await clients[0].declare(egressDeclaration(), { pollIntervalMs: 5 });
    expect(await readSyncStatus(clients[1])).toMatchObject({ status: 'Changes Pending' });
    await waitFor(() => pair.syncStatus === 'In Sync', 'the sync');
    expect(await readSyncStatus(clients[1])).toMatchObject({ status: 'In Sync', color: 'green' });
    expect(pair.units[1].listMembers(LIST)).toEqual(['::1:5ee:bad:c0de']);
    expect(pair.units[1].declaration()).toEqual(pair.units[0].declaration());
    expect(pair.units[1].discoveredNodes(LIST)).toBeUndefined();
    await expect(clients[1].replaceListMembers(taskIdOf(LIST), ['10.0.0.1'])).rejects.toMatchObject({ reason: 'ListNotFound' });
    // The same declaration posted to the peer creates its tasks.
    await clients[1].declare(egressDeclaration(), { pollIntervalMs: 5 });
    expect(pair.units[1].discoveredNodes(LIST)).toEqual([]);
    await clients[1].replaceListMembers(taskIdOf(LIST), ['10.0.0.1']);
    expect(pair.units[1].listMembers(LIST)).toEqual(['10.0.0.1']);
  });

  test('a list push reaches the peer after the sync delay, and the peer saved it (save-on-auto-sync)', async () => {
    for (const c of clients) await c.declare(egressDeclaration(), { pollIntervalMs: 5 });
    await waitFor(() => pair.syncStatus === 'In Sync', 'the deploy sync');
    await clients[0].replaceListMembers(taskIdOf(LIST), ['10.0.0.1', '10.0.0.2']);
    expect(pair.units[1].listMembers(LIST)).toEqual(['::1:5ee:bad:c0de']);
    expect(pair.syncStatus).toBe('Changes Pending');
    await waitFor(() => pair.syncStatus === 'In Sync', 'the push sync');
    expect(pair.units[1].listMembers(LIST)).toEqual(['10.0.0.1', '10.0.0.2']);
    // The peer's own task did not hear of it: its REST state is its own.
    expect(pair.units[1].discoveredNodes(LIST)).toEqual([]);
    pair.units[1].reboot();
    expect(pair.units[1].listMembers(LIST)).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  test('a write to the standby reaches the active unit, and the later arrival wins', async () => {
    for (const c of clients) await c.declare(egressDeclaration(), { pollIntervalMs: 5 });
    await waitFor(() => pair.syncStatus === 'In Sync', 'the deploy sync');
    await clients[1].replaceListMembers(taskIdOf(LIST), ['10.0.0.9']);
    await clients[0].replaceListMembers(taskIdOf(LIST), ['10.0.0.1']);
    await waitFor(() => pair.syncStatus === 'In Sync', 'both syncs');
    // Each unit ends with the other's write: the stale write to the standby overwrote the active unit.
    expect(pair.units[0].listMembers(LIST)).toEqual(['10.0.0.9']);
    expect(pair.units[1].listMembers(LIST)).toEqual(['10.0.0.1']);
  });

  test('failover status per unit, failover, split brain and a powered-off unit', async () => {
    const status = async () => Promise.all(clients.map(async (c) => (await readFailoverStatus(c, { retry: false })).status));
    expect(await status()).toEqual(['ACTIVE', 'STANDBY']);
    pair.failOver();
    expect(await status()).toEqual(['STANDBY', 'ACTIVE']);
    pair.setFailoverStatus(0, 'ACTIVE');
    expect(await status()).toEqual(['ACTIVE', 'ACTIVE']);
    pair.powerOff(0);
    await expect(readFailoverStatus(clients[0], { retry: false })).rejects.toMatchObject({ reason: 'Unreachable' });
    expect(await readDeviceGroups(clients[1])).toContainEqual({
      path: '/Common/failover-group',
      type: 'sync-failover',
      autoSync: true,
      saveOnAutoSync: true,
    });
  });
});

describe('a pair without auto-sync', () => {
  test('changes wait for a manual config sync, which copies the whole configuration', async () => {
    const pair = await BigipPair.start({ autoSync: false, syncDelayMs: 10 });
    const clients = pair.units.map((u) => clientFor(u));
    try {
      await clients[0].declare(egressDeclaration(), { pollIntervalMs: 5 });
      await new Promise((r) => setTimeout(r, 100));
      expect(pair.units[1].listMembers(LIST)).toBeUndefined();
      expect(await readSyncStatus(clients[1])).toMatchObject({ status: 'Changes Pending' });
      expect(await readDeviceGroups(clients[0])).toContainEqual({
        path: '/Common/failover-group',
        type: 'sync-failover',
        autoSync: false,
        saveOnAutoSync: true,
      });
      pair.configSync(0);
      expect(pair.units[1].listMembers(LIST)).toEqual(['::1:5ee:bad:c0de']);
      expect(await readSyncStatus(clients[1])).toMatchObject({ status: 'In Sync' });
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await pair.stop();
    }
  });
});
