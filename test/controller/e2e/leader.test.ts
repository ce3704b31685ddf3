/**
 * Two replicas on one Lease: exactly one pushes (the standby never even logs in to the
 * BIG-IP); a graceful stop of the leader releases the Lease, so the standby takes over well
 * before the Lease would have expired, pushes every list again, and the lists are correct.
 */
import {
  InProcessController,
  World,
  clusterSnapshot,
  deviceLists,
  eventually,
  expectedLists,
  listsConverged,
  metricValue,
  parseMetrics,
  pod,
  podRef,
  service,
  sleep,
  startInProcess,
  startWorld,
} from './support';

const LEASE_DURATION_MS = 15_000; // the controller's default leaseDurationSeconds
const NODES = 'POST /mgmt/shared/service-discovery/task/{taskId}/nodes';

describe('leader election between two in-process replicas', () => {
  let world: World;
  const replicas: InProcessController[] = [];

  beforeAll(async () => {
    world = await startWorld();
    const kube = world.emulators.kube;
    kube.apply(service('payments', 'checkout', { app: 'checkout' }));
    for (let i = 1; i <= 6; i++) kube.apply(pod('payments', `checkout-${i}`, { labels: { app: 'checkout' }, ips: [`10.1.0.${i}`] }));
    for (let i = 1; i <= 3; i++) kube.apply(pod('shop', `cart-${i}`, { labels: { app: 'cart' }, ips: [`10.2.0.${i}`] }));
  });
  afterAll(async () => {
    for (const r of replicas) await r.stop();
    await world?.stop();
  });

  const lease = () =>
    world.emulators.kube.get({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      namespace: world.deployment.namespace,
      name: world.deployment.env.LEASE_NAME,
    }) as any;
  /** Push outcomes a replica counted, by result (ok, error, unchanged). */
  const pushesOf = async (r: InProcessController) => {
    const samples = parseMetrics((await r.get('/metrics')).body);
    const count = (result: string) => metricValue(samples, 'cdktf_ces_pushes_total', { result }) ?? 0;
    return {
      ok: count('ok'),
      error: count('error'),
      unchanged: count('unchanged'),
      all: count('ok') + count('error') + count('unchanged'),
    };
  };

  test('started together, exactly one replica leads and pushes; the standby never touches the BIG-IP', async () => {
    const [a, b] = await Promise.all([
      startInProcess(world, { podName: 'controller-a', user: 'egress-a' }),
      startInProcess(world, { podName: 'controller-b', user: 'egress-b' }),
    ]);
    replicas.push(a, b);
    await eventually(() => a.running.isLeading() !== b.running.isLeading() && listsConverged(world), 'one leader and converged lists');
    const leader = a.running.isLeading() ? a : b;
    const standby = leader === a ? b : a;
    // Churn for a few lease renewals; the standby stays out of it.
    const kube = world.emulators.kube;
    kube.apply(pod('payments', 'checkout-7', { labels: { app: 'checkout' }, ips: ['10.1.0.7'] }));
    kube.delete(podRef('payments', 'checkout-1'));
    await sleep(2500);
    kube.apply(pod('shop', 'cart-4', { labels: { app: 'cart' }, ips: ['10.2.0.4'] }));
    await sleep(2500);
    await eventually(() => listsConverged(world), 'the leader to follow the churn');

    expect(leader.running.isLeading()).toBe(true);
    expect(standby.running.isLeading()).toBe(false);
    expect(lease().spec.holderIdentity).toBe(leader.config.identity);
    const leaderPushes = await pushesOf(leader);
    expect(leaderPushes.ok).toBeGreaterThanOrEqual(world.plan.lists.length);
    expect((await pushesOf(standby)).all).toBe(0);
    // The device's view: one user holds a token, and every list write it received is one the leader counted.
    expect(world.emulators.bigip.activeTokenCount(leader === a ? 'egress-a' : 'egress-b')).toBe(1);
    expect(world.emulators.bigip.activeTokenCount(standby === a ? 'egress-a' : 'egress-b')).toBe(0);
    expect(world.emulators.bigip.requestCount(NODES)).toBe(leaderPushes.ok + leaderPushes.error);
    const standbyReady = JSON.parse((await standby.get('/readyz')).body);
    expect(standbyReady).toMatchObject({ status: 'ready', leader: false });
    // The standby's cache is warm: it has every pod.
    expect(standbyReady.pods).toBe(clusterSnapshot(world.emulators).pods.length);
  });

  test('a graceful stop of the leader releases the Lease; the standby takes over and the lists stay correct', async () => {
    const [a, b] = replicas;
    const leader = a.running.isLeading() ? a : b;
    const standby = leader === a ? b : a;
    const leaderUser = leader === a ? 'egress-a' : 'egress-b';
    const standbyUser = leader === a ? 'egress-b' : 'egress-a';
    const bigip = world.emulators.bigip;

    const stopAt = Date.now();
    await leader.stop();
    // Released: no holder (unless the standby already took it), and the leader's token is gone.
    const holder = lease().spec.holderIdentity;
    expect(['', standby.config.identity]).toContain(holder);
    expect(bigip.activeTokenCount(leaderUser)).toBe(0);

    // Changes while nobody leads.
    const kube = world.emulators.kube;
    kube.delete(podRef('payments', 'checkout-2'));
    kube.apply(pod('payments', 'checkout-8', { labels: { app: 'checkout' }, ips: ['10.1.0.8'] }));
    kube.apply(pod('shop', 'cart-1', { labels: { app: 'other' }, ips: ['10.2.0.1'] }));

    const tookOver = await eventually(
      () => (standby.running.isLeading() ? Date.now() : false),
      'the standby to lead',
      LEASE_DURATION_MS * 2,
    );
    const firstPush = await eventually(
      () => bigip.nodePushes({ since: stopAt })[0] ?? false,
      'the new leader to push',
      LEASE_DURATION_MS * 2,
    );
    await eventually(() => listsConverged(world), 'the lists to converge under the new leader');
    // A released Lease is taken at the standby's next retry (2 s and jitter), not after expiry.
    expect(tookOver - stopAt).toBeLessThan(LEASE_DURATION_MS);
    expect(firstPush.at - stopAt).toBeLessThan(LEASE_DURATION_MS);
    expect(lease().spec.holderIdentity).toBe(standby.config.identity);
    expect(bigip.activeTokenCount(standbyUser)).toBe(1);
    // The new leader pushed every list once on taking over, then followed the changes.
    for (const list of world.plan.lists) expect(bigip.nodePushes({ list: list.path, since: stopAt }).length).toBeGreaterThanOrEqual(1);
    expect(deviceLists(world.emulators, world.plan)).toEqual(expectedLists(world.plan, clusterSnapshot(world.emulators)));
    process.stdout.write(
      `leader handover: standby leading ${tookOver - stopAt} ms and first push ${firstPush.at - stopAt} ms after the leader's graceful stop began\n`,
    );
  });
});
