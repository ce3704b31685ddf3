/**
 * A leader that stops while a push is in flight on a slow BIG-IP: it releases its Lease only
 * after that push ended, so the new leader's pushes land after it and its late write cannot
 * overwrite the new leader's list. Both replicas run as the synthesized ServiceAccount.
 */
import { BigipFault } from '../../emulators/bigip/emulator';
import {
  World,
  deviceLists,
  eventually,
  expectedLists,
  clusterSnapshot,
  listPath,
  pod,
  podRef,
  startInProcess,
  startWorld,
  InProcessController,
} from './support';

const PUSH_LATENCY_MS = 6000;

describe('leader hand-over with a push in flight', () => {
  let world: World;
  const replicas: InProcessController[] = [];

  beforeEach(async () => {
    world = await startWorld();
    // The shop rule selects app=cart pods in shop, and no other rule does: one list changes.
    for (let i = 1; i <= 3; i++) world.emulators.kube.apply(pod('shop', `cart-${i}`, { labels: { app: 'cart' }, ips: [`10.2.0.${i}`] }));
  });
  afterEach(async () => {
    for (const r of replicas.splice(0)) await r.stop();
    await world?.stop();
  });

  test("the old leader's late push cannot overwrite the new leader's list", async () => {
    const { kube, bigip } = world.emulators;
    const list = listPath(world.plan, 'ns_shop');
    const a = await startInProcess(world, { podName: 'controller-a', user: 'egress-a' });
    replicas.push(a);
    // Every list pushed, not only this one: a push of the first round still under way would take
    // the slow answer below instead of the push of the new pod (the test's old flakiness).
    await eventually(
      () =>
        a.running.isLeading() &&
        world.plan.lists.every((l) => a.running.reconciler.listState(l.path)?.pending === false) &&
        deviceLists(world.emulators, world.plan)[list]?.length === 3,
      'a leading with every list pushed',
    );
    const b = await startInProcess(world, { podName: 'controller-b', user: 'egress-b' });
    replicas.push(b);

    // The next write of the shop list takes a while on the device.
    const taskId = world.plan.lists.find((l) => l.path === list)!.taskId;
    bigip.injectFault({
      fault: BigipFault.LATENCY,
      pathPrefix: `/mgmt/shared/service-discovery/task/${taskId}/`,
      method: 'POST',
      count: 1,
      latencyMs: PUSH_LATENCY_MS,
    });
    kube.apply(pod('shop', 'short-lived', { labels: { app: 'cart' }, ips: ['10.2.0.99'] }));
    await eventually(() => bigip.faultCount(BigipFault.LATENCY) === 1, "a's push of the new pod to be in flight");
    // The pod is gone again and the leader stops, its push still on the way.
    kube.delete(podRef('shop', 'short-lived'));
    const stopAt = Date.now();
    await a.stop();

    await eventually(() => b.running.isLeading(), 'b to lead', 30_000);
    await eventually(
      () => {
        const landed = bigip.nodePushes({ list, since: stopAt });
        if (landed.length < 2)
          throw new Error(`pushes so far: ${JSON.stringify(landed.map((p) => p.ips))}; b leading: ${b.running.isLeading()}`);
      },
      'both pushes to land',
      60_000,
    );
    // Whatever order the replicas ran in, the device ends with what the cluster has now.
    await new Promise((r) => setTimeout(r, 500));
    const pushes = bigip.nodePushes({ list, since: stopAt });
    expect(pushes[pushes.length - 1].ips.some((ip) => ip.startsWith('10.2.0.99'))).toBe(false);
    expect(deviceLists(world.emulators, world.plan)[list]).toEqual(expectedLists(world.plan, clusterSnapshot(world.emulators))[list]);
    // The hand-over waited for the push: the new leader wrote only after the old one's write landed.
    expect(pushes[0].ips.some((ip) => ip.startsWith('10.2.0.99'))).toBe(true);

    // Both replicas did all of this with the synthesized RBAC and nothing more.
    expect(kube.counters().forbidden).toBe(0);
    const users = new Set(kube.requestLog().map((r) => r.user));
    expect([...users].some((u) => u.startsWith(`system:serviceaccount:${world.deployment.namespace}:`))).toBe(true);
  }, 150_000);
});
