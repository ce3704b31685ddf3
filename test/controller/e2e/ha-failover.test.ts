/**
 * The controller against a BIG-IP pair (test/emulators/bigip/ha.ts): two units in a
 * sync-failover group with auto-sync, an AfmDevice with `highAvailability` deployed as
 * Terraform would (the declaration and tmsh commands to the leader, then the same declaration to
 * the peer so that its service-discovery tasks exist), and pods churning while the active unit
 * fails.
 *
 * The bound: the lists on the unit that is active must equal the pods within
 * SYNC_BOUND_MS of the last change, failover or not. A failover adds at most one HA poll
 * (BIGIP_HA_POLL_MS) and the wait for the group's sync before the full resync; both are inside
 * the bound with the settings below. The figures are printed for the report.
 */
import { BigipClient } from '../../../lib/clients/bigip';
import { BigipEmulator } from '../../emulators/bigip/emulator';
import { BigipPair } from '../../emulators/bigip/ha';
import {
  BIGIP_USERS,
  InProcessController,
  World,
  clusterSnapshot,
  eventually,
  expectedLists,
  parseMetrics,
  pod,
  podRef,
  readyCondition,
  ruleCr,
  sleep,
  startInProcess,
  startWorld,
} from './support';

/** The controller's convergence bound after the last change (the one the other e2e tests hold it to). */
const SYNC_BOUND_MS = 5_000;
const HA_POLL_MS = 500;
const SYNC_DELAY_MS = 200;

function convergedOn(world: World, unit: BigipEmulator): boolean {
  const expected = expectedLists(world.plan, clusterSnapshot(world.emulators));
  return world.plan.lists.every((l) => {
    const actual = unit.listMembers(l.taskId)?.sort();
    return !!actual && actual.join(',') === expected[l.path].join(',');
  });
}

/** A pair, a client per unit, and the world deployed to both units, in sync. */
async function deployToPair(): Promise<{ pair: BigipPair; clients: BigipClient[]; world: World }> {
  const pair = await BigipPair.start({ unit: { users: BIGIP_USERS }, syncDelayMs: SYNC_DELAY_MS });
  const clients = pair.units.map(
    (u) => new BigipClient({ url: u.url, username: 'admin', password: 'admin', caBundle: BigipEmulator.caCertificate() }),
  );
  const world = await startWorld({
    policy: { highAvailability: { deviceGroup: pair.deviceGroup, peerAddresses: ['127.0.0.2'] } },
    deploy: () => ({
      bigipUnits: {
        'bigip.k8s_e2e': { bigip: pair.units[0], client: clients[0] },
        'bigip.k8s_e2e_unit1': { bigip: pair.units[1], client: clients[1] },
      },
    }),
  });
  await eventually(() => pair.syncStatus === 'In Sync', 'the deploy to reach both units');
  return { pair, clients, world };
}

describe('a BIG-IP pair fails over while pods churn', () => {
  let world: World;
  let pair: BigipPair;
  let controller: InProcessController;
  let clients: BigipClient[];

  beforeAll(async () => {
    ({ pair, clients, world } = await deployToPair());
    for (let i = 1; i <= 6; i++) world.emulators.kube.apply(pod('payments', `api-${i}`, { ips: [`10.1.0.${i}`] }));
    controller = await startInProcess(world, {
      env: { BIGIP_URL: pair.units[0].url, BIGIP_HA_PEER_URLS: pair.units[1].url, BIGIP_HA_POLL_MS: String(HA_POLL_MS) },
    });
    await eventually(() => convergedOn(world, pair.units[0]), 'the first push to the active unit');
  });
  afterAll(async () => {
    await controller?.stop();
    await Promise.all((clients ?? []).map((c) => c.close()));
    await pair?.stop();
    await world?.stop();
  });

  test('the deploy reached both units, each with its own service-discovery tasks, and the controller learns of the peer', async () => {
    expect(world.deployment.env.BIGIP_HA_PEER_URLS).toBe('https://127.0.0.2');
    for (const unit of pair.units) {
      expect(unit.requestCount('POST /mgmt/shared/appsvcs/declare/{tenants}')).toBe(1);
      for (const list of world.plan.lists) expect(unit.discoveredNodes(list.taskId)).toBeDefined();
    }
    // The tmsh attachments ran on the leader only; the sync carried them.
    expect(pair.units[1].requestCount('POST /mgmt/tm/util/bash')).toBe(0);
    expect(pair.units[1].globalRules()).toEqual(pair.units[0].globalRules());
    expect(pair.units[1].globalRules().enforcedPolicy).toBe('/Common/Shared/k8s_e2e_global_policy');
  });

  test('the lists on the new active unit converge within the sync bound', async () => {
    const { kube } = world.emulators;
    const before = pair.units.map((u) => u.requestCount('POST /mgmt/shared/service-discovery/task/{taskId}/nodes'));
    // Nothing went to the standby so far: the controller writes to the active unit only.
    expect(before[1]).toBe(0);
    let failedAt = 0;
    let n = 0;
    const churnStart = Date.now();
    for (let step = 0; step < 60; step++) {
      n++;
      kube.apply(pod('payments', `churn-${n}`, { ips: [`10.2.${Math.floor(n / 250)}.${n % 250}`] }));
      if (n > 3) kube.delete(podRef('payments', `churn-${n - 3}`), { gracePeriodSeconds: 0 });
      if (step % 7 === 0) kube.delete(podRef('payments', `api-${(step % 6) + 1}`), { gracePeriodSeconds: 0 });
      if (step % 7 === 3) kube.apply(pod('payments', `api-${(step % 6) + 1}`, { ips: [`10.1.0.${(step % 6) + 1}`] }));
      if (step === 20) {
        // The active unit dies; the standby's failover daemon makes it active.
        pair.powerOff(0);
        pair.failOver(1);
        failedAt = Date.now();
      }
      await sleep(40);
    }
    const lastChangeAt = Date.now();
    await eventually(() => convergedOn(world, pair.units[1]), 'the lists on the new active unit', 30_000, 10);
    const convergedAt = Date.now();
    const sinceLastChange = convergedAt - lastChangeAt;
    const firstPush = pair.units[1].nodePushes({ since: failedAt })[0]?.at ?? NaN;
    process.stdout.write(
      `HA failover during churn: churn ${lastChangeAt - churnStart} ms, failover at +${failedAt - churnStart} ms; ` +
        `first push to the new active ${firstPush - failedAt} ms after the failover; ` +
        `new active converged ${sinceLastChange} ms after the last change\n`,
    );
    // The switch (one HA poll, the wait for the sync, the resync) fits in the bound by itself.
    expect(firstPush - failedAt).toBeLessThanOrEqual(SYNC_BOUND_MS);
    expect(sinceLastChange).toBeLessThanOrEqual(SYNC_BOUND_MS);
    // The controller saw the switch and resynced: readiness, metrics.
    const ready = JSON.parse((await controller.get('/readyz')).body);
    expect(ready.ha).toMatchObject({ ready: true, active: pair.units[1].url, switches: 2 });
    const samples = parseMetrics((await controller.get('/metrics')).body);
    expect(samples.find((s) => s.name === 'cdktf_ces_ha_switches_total')?.value).toBe(2);
    expect(samples.find((s) => s.name === 'cdktf_ces_ha_unit_status' && s.labels.unit === pair.units[1].url)?.labels.status).toBe('ACTIVE');
  });

  test('two active units: nothing is written until one is; then the lists converge', async () => {
    const { kube } = world.emulators;
    const nodes = () => pair.units[1].requestCount('POST /mgmt/shared/service-discovery/task/{taskId}/nodes');
    // Unit 0 comes back claiming active too (it missed the failover): split brain.
    pair.setFailoverStatus(0, 'ACTIVE');
    pair.units[0].clearFaults();
    await eventually(async () => (await controller.get('/readyz')).status === 503, 'readiness to drop');
    const during = nodes();
    kube.apply(pod('payments', 'split-1', { ips: ['10.3.0.1'] }));
    await sleep(4 * HA_POLL_MS);
    expect(nodes()).toBe(during);
    const ready = JSON.parse((await controller.get('/readyz')).body);
    expect(ready.ha.problem).toMatch(/2 units of the BIG-IP pair say they are active/);
    // The rule whose list waits says why.
    await eventually(() => {
      const c = readyCondition(ruleCr(world, 'NamespaceEgressRule', 'payments-partner', 'payments'));
      return c?.reason === 'BigipRetrying' && /say they are active/.test(c.message);
    }, 'the rule status to report the split brain');
    // Unit 0 goes standby: unit 1 stays active and gets the change.
    pair.setFailoverStatus(0, 'STANDBY');
    const resolvedAt = Date.now();
    await eventually(() => convergedOn(world, pair.units[1]), 'the lists after the split brain', 30_000, 10);
    expect(Date.now() - resolvedAt).toBeLessThanOrEqual(SYNC_BOUND_MS);
    expect(pair.units[1].listMembers(world.plan.lists.find((l) => /src_ns_payments/.test(l.path))!.taskId)).toContain('10.3.0.1');
  });
});

describe('graceful failovers back and forth while pods churn (both units up)', () => {
  let world: World;
  let pair: BigipPair;
  let controller: InProcessController;
  let clients: BigipClient[];

  beforeAll(async () => {
    ({ pair, clients, world } = await deployToPair());
    controller = await startInProcess(world, {
      env: { BIGIP_URL: pair.units[0].url, BIGIP_HA_PEER_URLS: pair.units[1].url, BIGIP_HA_POLL_MS: String(HA_POLL_MS) },
    });
    await eventually(() => convergedOn(world, pair.units[0]), 'the first push to the active unit');
  });
  afterAll(async () => {
    await controller?.stop();
    await Promise.all((clients ?? []).map((c) => c.close()));
    await pair?.stop();
    await world?.stop();
  });

  test('each time, the new active unit converges within the bound, and the standby follows through the sync', async () => {
    const { kube } = world.emulators;
    const figures: string[] = [];
    let n = 0;
    for (let round = 1; round <= 3; round++) {
      const to = round % 2;
      let failedAt = 0;
      for (let step = 0; step < 30; step++) {
        n++;
        kube.apply(pod('shop', `cart-${n}`, { labels: { app: 'cart' }, ips: [`10.4.${Math.floor(n / 250)}.${n % 250}`] }));
        if (n > 4) kube.delete(podRef('shop', `cart-${n - 4}`), { gracePeriodSeconds: 0 });
        if (step === 10) {
          pair.failOver(to);
          failedAt = Date.now();
        }
        await sleep(30);
      }
      const lastChangeAt = Date.now();
      await eventually(() => convergedOn(world, pair.units[to]), `round ${round}: the new active unit`, 30_000, 10);
      const convergedMs = Date.now() - lastChangeAt;
      await eventually(() => convergedOn(world, pair.units[1 - to]), `round ${round}: the standby through the sync`, 30_000, 10);
      const standbyMs = Date.now() - lastChangeAt;
      const firstPush = pair.units[to].nodePushes({ since: failedAt })[0]?.at ?? NaN;
      figures.push(
        `round ${round}: first push ${firstPush - failedAt} ms after the failover, active converged +${convergedMs} ms, standby +${standbyMs} ms`,
      );
      expect(convergedMs).toBeLessThanOrEqual(SYNC_BOUND_MS);
      expect(firstPush - failedAt).toBeLessThanOrEqual(SYNC_BOUND_MS);
    }
    process.stdout.write(`HA graceful failovers: ${figures.join('; ')}\n`);
    const ready = JSON.parse((await controller.get('/readyz')).body);
    expect(ready.ha).toMatchObject({ ready: true, active: pair.units[1].url, switches: 4 });
  });
});
