/**
 * The pair logic of the controller (lib/controller/ha.ts) and the cm answers it reads
 * (lib/clients/bigip/failover.ts), against scripted units: pushes go to the one ACTIVE unit,
 * nothing is written with none or two, and a change of active unit waits for the in-flight
 * pushes and `In Sync`, then asks for the full resync once.
 */
import { Registry } from 'prom-client';
import { BigipApiError } from '../../lib/clients/bigip/errors';
import { FAILOVER_STATUS_PATH, SYNC_STATUS_PATH, clusterStatusOf, deviceGroupsOf } from '../../lib/clients/bigip/failover';
import { ConfigError } from '../../lib/controller/config';
import { HaPair, HaUnitClient, loadHaConfig } from '../../lib/controller/ha';
import { silentLogger } from '../../lib/controller/log';
import { deviceGroupAnswer, statsAnswer } from '../emulators/bigip/cluster-status';
import { FakeClock } from './support/fake-clock';

class ScriptedUnit implements HaUnitClient {
  failover: string | Error = 'STANDBY';
  sync = 'In Sync';
  pushes: string[] = [];
  /** Set to hold the next pushes until released. */
  hold?: Promise<void>;
  pushError?: Error;
  constructor(readonly url: string) {}
  async getJson(path: string): Promise<unknown> {
    if (path === FAILOVER_STATUS_PATH) {
      if (this.failover instanceof Error) throw this.failover;
      return statsAnswer(path, { color: 'green', status: this.failover });
    }
    if (path === SYNC_STATUS_PATH) return statsAnswer(path, { color: 'green', status: this.sync });
    throw new Error(`unexpected read ${path}`);
  }
  async replaceListMembers(taskId: string, ips: readonly string[]): Promise<unknown> {
    await this.hold;
    if (this.pushError) throw this.pushError;
    this.pushes.push(`${taskId}=${ips.join(',')}`);
    return undefined;
  }
}

function pairOf(n = 2) {
  const clock = new FakeClock(0);
  const units = Array.from({ length: n }, (_, i) => new ScriptedUnit(`https://unit-${i}`));
  const switched: string[] = [];
  const registry = new Registry();
  const pair = new HaPair({
    units: units.map((client) => ({ name: client.url, client })),
    pollIntervalMs: 1000,
    settleTimeoutMs: 5000,
    onSwitched: (u) => switched.push(u),
    log: silentLogger,
    registry,
    clock,
  });
  return { clock, units, pair, switched, registry };
}

const push = (pair: HaPair, ips: string[] = ['10.0.0.1']) => pair.replaceListMembers('~Common~Shared~l', ips, 0, { retry: false });

describe('cm answers', () => {
  test('failover-status and sync-status: status, color, summary', () => {
    expect(
      clusterStatusOf(FAILOVER_STATUS_PATH, statsAnswer(FAILOVER_STATUS_PATH, { color: 'green', status: 'ACTIVE', summary: '1/2 active' })),
    ).toEqual({
      status: 'ACTIVE',
      color: 'green',
      summary: '1/2 active',
    });
    expect(clusterStatusOf(SYNC_STATUS_PATH, statsAnswer(SYNC_STATUS_PATH, { status: 'Changes Pending' }))).toEqual({
      status: 'Changes Pending',
    });
  });

  test.each([
    ['no entries', {}],
    ['the entry of another endpoint', statsAnswer(SYNC_STATUS_PATH, { status: 'ACTIVE' })],
    ['no status', statsAnswer(FAILOVER_STATUS_PATH, { color: 'green' })],
    ['an empty status', statsAnswer(FAILOVER_STATUS_PATH, { status: ' ' })],
  ])('an answer with %s is a DeviceError, never ACTIVE', (_what, body) => {
    expect(() => clusterStatusOf(FAILOVER_STATUS_PATH, body)).toThrow(BigipApiError);
  });

  test('device groups: path, type, auto-sync and save-on-auto-sync', () => {
    expect(deviceGroupsOf(deviceGroupAnswer([{ name: 'dg', type: 'sync-failover', autoSync: true, saveOnAutoSync: false }]))).toEqual([
      { path: '/Common/device_trust_group', type: 'sync-only', autoSync: true, saveOnAutoSync: false },
      { path: '/Common/dg', type: 'sync-failover', autoSync: true, saveOnAutoSync: false },
    ]);
    expect(deviceGroupsOf({ kind: 'tm:cm:device-group:device-groupcollectionstate' })).toEqual([]);
    expect(() => deviceGroupsOf({ items: [{ name: 'x' }] })).toThrow(/items\[0\]/);
  });
});

describe('HaPair', () => {
  test('nothing is written before the first poll, then pushes go to the one active unit', async () => {
    const { units, pair, switched } = pairOf();
    units[1].failover = 'ACTIVE';
    await expect(push(pair)).rejects.toMatchObject({ reason: 'NoActiveUnit', terminal: false });
    await pair.poll();
    expect(switched).toEqual(['https://unit-1']);
    await push(pair);
    expect(units[0].pushes).toEqual([]);
    expect(units[1].pushes).toEqual(['~Common~Shared~l=10.0.0.1']);
    expect(pair.state).toMatchObject({ ready: true, active: 'https://unit-1', switches: 1 });
  });

  test.each([
    ['no unit is active', ['STANDBY', 'STANDBY'], /no unit of the BIG-IP pair is active/],
    ['two units are active (split brain)', ['ACTIVE', 'ACTIVE'], /2 units of the BIG-IP pair say they are active.*split brain/],
    [
      'the only active-looking unit cannot be read',
      [new Error('ECONNREFUSED'), 'STANDBY'],
      /no unit of the BIG-IP pair is active.*unreadable/,
    ],
  ])('%s: nothing is written (fail closed), and it is reported', async (_what, statuses, problem) => {
    const { units, pair, registry } = pairOf();
    units[0].failover = 'ACTIVE';
    await pair.poll();
    await push(pair);
    statuses.forEach((s, i) => (units[i].failover = s as string | Error));
    await pair.poll();
    const error = await push(pair).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: 'NoActiveUnit' });
    expect((error as BigipApiError).message).toMatch(problem);
    expect(pair.state.ready).toBe(false);
    expect(pair.state.problem).toMatch(problem);
    expect(units[0].pushes).toHaveLength(1);
    expect(units[1].pushes).toEqual([]);
    expect(await registry.getSingleMetricAsString('cdktf_ces_ha_ready')).toMatch(/cdktf_ces_ha_ready 0/);
  });

  test('an unreadable standby does not stop the pushes to the active unit', async () => {
    const { units, pair } = pairOf();
    units[0].failover = 'ACTIVE';
    units[1].failover = new Error('ECONNREFUSED');
    await pair.poll();
    await push(pair);
    expect(units[0].pushes).toHaveLength(1);
    expect(pair.state.units['https://unit-1']).toMatch(/^unreadable/);
  });

  test('a failover: the switch waits for the push in flight to the old unit and for In Sync, then resyncs once', async () => {
    const { clock, units, pair, switched } = pairOf();
    units[0].failover = 'ACTIVE';
    await pair.poll();
    let release!: () => void;
    units[0].hold = new Promise<void>((r) => (release = r));
    const inFlight = push(pair, ['10.0.0.2']);
    units[0].failover = 'STANDBY';
    units[1].failover = 'ACTIVE';
    units[1].sync = 'Changes Pending';
    await pair.poll();
    // Not ready while the old unit's push is in flight.
    expect(pair.state).toMatchObject({ ready: false, active: 'https://unit-1' });
    await expect(push(pair)).rejects.toMatchObject({ reason: 'NoActiveUnit' });
    release();
    await inFlight;
    await pair.poll();
    // The old unit's change has not reached the group yet.
    expect(pair.state.ready).toBe(false);
    expect(pair.state.problem).toMatch(/Changes Pending.*waiting for "In Sync"/);
    units[1].sync = 'In Sync';
    await clock.advance(100);
    await pair.poll();
    expect(pair.state.ready).toBe(true);
    expect(switched).toEqual(['https://unit-0', 'https://unit-1']);
    await push(pair, ['10.0.0.3']);
    expect(units[1].pushes).toEqual(['~Common~Shared~l=10.0.0.3']);
    // Another poll with the same active unit resyncs nothing.
    await pair.poll();
    expect(switched).toHaveLength(2);
  });

  test('a group that never shows In Sync is resynced once settleTimeoutMs passed', async () => {
    const { clock, units, pair, switched } = pairOf();
    units[0].failover = 'ACTIVE';
    units[0].sync = 'Changes Pending';
    await pair.poll();
    expect(pair.state.ready).toBe(false);
    await clock.advance(4999);
    await pair.poll();
    expect(pair.state.ready).toBe(false);
    await clock.advance(1);
    await pair.poll();
    expect(pair.state.ready).toBe(true);
    expect(switched).toEqual(['https://unit-0']);
  });

  test('the same unit active again after no unit was: a full resync again', async () => {
    const { units, pair, switched } = pairOf();
    units[0].failover = 'ACTIVE';
    await pair.poll();
    units[0].failover = 'OFFLINE';
    await pair.poll();
    units[0].failover = 'ACTIVE';
    await pair.poll();
    expect(switched).toEqual(['https://unit-0', 'https://unit-0']);
    expect(pair.state.switches).toBe(2);
  });

  test('a list whose task is missing on the active unit names the unit and the fix', async () => {
    const { units, pair } = pairOf();
    units[0].failover = 'ACTIVE';
    await pair.poll();
    units[0].pushError = new BigipApiError({ reason: 'ListNotFound', terminal: true, method: 'POST', path: '/x', status: 404 });
    const error = (await push(pair).catch((e: unknown) => e)) as BigipApiError;
    expect(error.reason).toBe('ListNotFound');
    expect(error.message).toMatch(/on unit https:\/\/unit-0/);
    expect(error.message).toMatch(/missing on https:\/\/unit-0 .*deploy the declaration to that unit too/);
  });
});

describe('BIGIP_HA_* settings', () => {
  const base = 'https://bigip-a.example.net';
  test('peers, poll and settle times', () => {
    expect(loadHaConfig({}, base)).toBeUndefined();
    expect(loadHaConfig({ BIGIP_HA_PEER_URLS: 'https://bigip-b.example.net:8443', BIGIP_HA_POLL_MS: '500' }, base)).toEqual({
      peerUrls: ['https://bigip-b.example.net:8443'],
      pollIntervalMs: 500,
      settleTimeoutMs: 10_000,
    });
  });
  test.each([
    [{ BIGIP_HA_PEER_URLS: 'http://bigip-b' }, /BIGIP_HA_PEER_URLS: "http:\/\/bigip-b" must use https/],
    [{ BIGIP_HA_PEER_URLS: 'bigip-b' }, /is not a URL/],
    [{ BIGIP_HA_PEER_URLS: `${base}:443` }, /given twice \(or is BIGIP_URL\)/],
    [{ BIGIP_HA_PEER_URLS: 'https://b', BIGIP_HA_POLL_MS: '10' }, /BIGIP_HA_POLL_MS: "10" is not a whole number from 100 to 60000/],
    [{ BIGIP_HA_POLL_MS: '500' }, /BIGIP_HA_POLL_MS is set but BIGIP_HA_PEER_URLS is not/],
  ])('%j is refused', (env, message) => {
    expect(() => loadHaConfig(env, base)).toThrow(ConfigError);
    expect(() => loadHaConfig(env, base)).toThrow(message);
  });
});

describe('HaPair: a switch that does not settle', () => {
  test('a push hanging on the old unit holds the switch up for settleTimeoutMs at most', async () => {
    const { clock, units, pair, switched } = pairOf();
    units[0].failover = 'ACTIVE';
    await pair.poll();
    units[0].hold = new Promise<void>(() => undefined);
    void push(pair);
    units[0].failover = 'STANDBY';
    units[1].failover = 'ACTIVE';
    await pair.poll();
    await clock.advance(4999);
    await pair.poll();
    expect(pair.state.ready).toBe(false);
    await clock.advance(1);
    await pair.poll();
    expect(pair.state).toMatchObject({ ready: true, active: 'https://unit-1' });
    expect(switched).toEqual(['https://unit-0', 'https://unit-1']);
  });

  test('an unreadable sync status is waited for like "Changes Pending"', async () => {
    const { clock, units, pair } = pairOf();
    units[0].failover = 'ACTIVE';
    const getJson = units[0].getJson.bind(units[0]);
    units[0].getJson = async (path: string) => {
      if (path === SYNC_STATUS_PATH) throw new Error('ECONNRESET');
      return getJson(path);
    };
    await pair.poll();
    expect(pair.state.ready).toBe(false);
    expect(pair.state.problem).toMatch(/sync status is unreadable \(ECONNRESET\)/);
    await clock.advance(5000);
    await pair.poll();
    expect(pair.state.ready).toBe(true);
  });
});
