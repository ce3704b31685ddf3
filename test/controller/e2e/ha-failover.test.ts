/**
 * The controller against a BIG-IP pair (test/emulators/bigip/ha.ts): two units in a
 * sync-failover group with auto-sync, the declaration deployed as a device with HA units
 * deploys it (to the leader, then the same declaration to the peer so that its
 * service-discovery tasks exist), and pods churning while the active unit fails.
 *
 * The bound: the lists on the unit that is active must equal the pods within
 * SYNC_BOUND_MS of the last change, failover or not. A failover adds at most one HA poll
 * (BIGIP_HA_POLL_MS) and the wait for the group's sync before the full resync; both are inside
 * the bound with the settings below. The figures are printed for the report.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
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
  sleep,
  startInProcess,
  startWorld,
} from './support';

/** The controller's convergence bound after the last change (the one the other e2e tests hold it to). */
const SYNC_BOUND_MS = 5_000;
const HA_POLL_MS = 500;
const SYNC_DELAY_MS = 200;

/** Deploys the synthesized declaration and tmsh commands to the pair in Terraform's order. */
async function deployToPair(world: World, pair: BigipPair): Promise<void> {
  const tf = JSON.parse(fs.readFileSync(path.join(world.outdir, 'stacks', 'egress', 'cdk.tf.json'), 'utf8'));
  const clients = pair.units.map(
    (u) => new BigipClient({ url: u.url, username: 'admin', password: 'admin', caBundle: BigipEmulator.caCertificate() }),
  );
  try {
    const [as3] = Object.values(tf.resource.bigip_as3) as { as3_json: string }[];
    const request = JSON.parse(as3.as3_json);
    const tenants = Object.keys(request.declaration).filter((k) => request.declaration[k]?.class === 'Tenant');
    await clients[0].declare(request, { tenants, pollIntervalMs: 10 });
    const contexts = Object.entries(tf.resource.bigip_command as Record<string, { commands: string[]; when?: string }>).find(([k]) =>
      /^Bigip_Contexts_/.test(k),
    )?.[1];
    for (const c of contexts?.commands ?? []) await clients[0].runTmsh(c);
    // The peer's declaration: mcpd has (or will have) it all through the sync; AS3 creates the
    // peer's own service-discovery tasks.
    await clients[1].declare(request, { tenants, pollIntervalMs: 10 });
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  await eventually(() => pair.syncStatus === 'In Sync', 'the deploy to reach both units');
}

function convergedOn(world: World, unit: BigipEmulator): boolean {
  const expected = expectedLists(world.plan, clusterSnapshot(world.emulators));
  return world.plan.lists.every((l) => {
    const actual = unit.listMembers(l.taskId)?.sort();
    return !!actual && actual.join(',') === expected[l.path].join(',');
  });
}

describe('a BIG-IP pair fails over while pods churn', () => {
  let world: World;
  let pair: BigipPair;
  let controller: InProcessController;

  beforeAll(async () => {
    world = await startWorld();
    pair = await BigipPair.start({ unit: { users: BIGIP_USERS }, syncDelayMs: SYNC_DELAY_MS });
    await deployToPair(world, pair);
    for (let i = 1; i <= 6; i++) world.emulators.kube.apply(pod('payments', `api-${i}`, { ips: [`10.1.0.${i}`] }));
    controller = await startInProcess(world, {
      env: { BIGIP_URL: pair.units[0].url, BIGIP_HA_PEER_URLS: pair.units[1].url, BIGIP_HA_POLL_MS: String(HA_POLL_MS) },
    });
    await eventually(() => convergedOn(world, pair.units[0]), 'the first push to the active unit');
  });
  afterAll(async () => {
    await controller?.stop();
    await pair?.stop();
    await world?.stop();
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
    // Unit 0 goes standby: unit 1 stays active and gets the change.
    pair.setFailoverStatus(0, 'STANDBY');
    const resolvedAt = Date.now();
    await eventually(() => convergedOn(world, pair.units[1]), 'the lists after the split brain', 30_000, 10);
    expect(Date.now() - resolvedAt).toBeLessThanOrEqual(SYNC_BOUND_MS);
    expect(pair.units[1].listMembers(world.plan.lists.find((l) => /src_ns_payments/.test(l.path))!.taskId)).toContain('10.3.0.1');
  });
});
