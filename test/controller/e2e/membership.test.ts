/**
 * The controller keeps every source list on the (emulated) BIG-IP equal to the desired members
 * of the membership model, over real HTTPS against both emulators: IPv4 and IPv6 pod
 * addresses, namespace labels, Service selectors, set-based pod selectors, excluded pods
 * (terminating, Succeeded, Failed, hostNetwork, no IP yet), route-domain suffixes; and it
 * pushes nothing before every informer has listed (fail closed).
 */
import { EMPTY_LIST_PLACEHOLDER } from '../../../lib/clients/bigip/client';
import {
  InProcessController,
  World,
  clusterSnapshot,
  deviceLists,
  eventually,
  expectedLists,
  listPath,
  listsConverged,
  namespace,
  pod,
  podRef,
  service,
  startInProcess,
  startWorld,
} from './support';

const ROUTE_DOMAIN = 2;

describe('source lists follow the cluster (route domain 2, in-process controller)', () => {
  let world: World;
  let controller: InProcessController | undefined;

  beforeAll(async () => {
    world = await startWorld({ policy: { routeDomain: ROUTE_DOMAIN }, kube: { podGracefulDeletion: {} } });
  });
  afterAll(async () => {
    await controller?.stop();
    await world?.stop();
  });

  test('every list equals desiredMembers, with %2 on every member; excluded pods never appear', async () => {
    const kube = world.emulators.kube;
    kube.apply(namespace('payments', { env: 'prod' }));
    kube.apply(namespace('shop', { env: 'dev' }));
    kube.apply(namespace('web', { env: 'prod' }));
    kube.apply(namespace('lab'));
    kube.apply(service('payments', 'checkout', { app: 'checkout' }));
    kube.apply(service('payments', 'headless'));
    // Eligible pods: dual-stack, IPv6-only, pending with an address.
    kube.apply(pod('payments', 'checkout-1', { labels: { app: 'checkout' }, ips: ['10.1.0.11', 'fd00::1:11'] }));
    kube.apply(pod('payments', 'checkout-2', { labels: { app: 'checkout' }, ips: ['10.1.0.12'], phase: 'Pending' }));
    kube.apply(pod('payments', 'ledger-1', { labels: { app: 'ledger' }, ips: ['10.1.0.13'] }));
    kube.apply(pod('shop', 'cart-1', { labels: { app: 'cart' }, ips: ['10.2.0.21'] }));
    kube.apply(pod('shop', 'search-1', { labels: { app: 'search', tier: 'web' }, ips: ['fd00::2:22'] }));
    kube.apply(pod('web', 'front-1', { labels: { app: 'front', tier: 'web' }, ips: ['10.3.0.31', 'fd00::3:31'] }));
    kube.apply(pod('lab', 'tool-1', { labels: { app: 'tool' }, ips: ['10.4.0.41'] }));
    // Excluded pods, each in lists it would otherwise be in.
    const excluded = {
      succeeded: '10.1.0.91',
      failed: '10.1.0.92',
      hostNetwork: '10.1.0.93',
      terminating: '10.1.0.94',
    };
    kube.apply(pod('payments', 'job-done', { labels: { app: 'checkout' }, ips: [excluded.succeeded], phase: 'Succeeded' }));
    kube.apply(pod('payments', 'job-failed', { labels: { app: 'checkout' }, ips: [excluded.failed], phase: 'Failed' }));
    kube.apply(pod('payments', 'node-agent', { labels: { app: 'checkout', tier: 'web' }, ips: [excluded.hostNetwork], hostNetwork: true }));
    kube.apply(pod('payments', 'leaving', { labels: { app: 'checkout', tier: 'web' }, ips: [excluded.terminating] }));
    kube.delete(podRef('payments', 'leaving')); // graceful: stays, terminating, until finishPodTermination
    kube.apply(pod('payments', 'unscheduled', { labels: { app: 'checkout' } }));

    controller = await startInProcess(world);
    await eventually(() => listsConverged(world), 'the lists to converge');

    const expected = expectedLists(world.plan, clusterSnapshot(world.emulators));
    expect(deviceLists(world.emulators, world.plan)).toEqual(expected);
    // The expectation is not vacuous: each kind of list has members, as written out here.
    const rd = (ip: string) => `${ip}%${ROUTE_DOMAIN}`;
    expect(expected[listPath(world.plan, 'src_svc_payments_checkout')]).toEqual(['10.1.0.11', '10.1.0.12', 'fd00::1:11'].map(rd).sort());
    expect(expected[listPath(world.plan, 'src_ns_payments')]).toEqual(['10.1.0.11', '10.1.0.12', '10.1.0.13', 'fd00::1:11'].map(rd).sort());
    expect(expected[listPath(world.plan, 'src_ns_shop')]).toEqual([rd('10.2.0.21')]);
    const clusterLists = world.plan.lists.filter((l) => l.source.level === 'cluster');
    const prod = clusterLists.find((l) => l.source.namespaceSelector?.matchLabels.env === 'prod')!;
    const webTier = clusterLists.find((l) => l.source.podSelector?.matchLabels.tier === 'web')!;
    expect(expected[prod.path]).toEqual(['10.1.0.11', '10.1.0.12', '10.1.0.13', 'fd00::1:11', '10.3.0.31', 'fd00::3:31'].map(rd).sort());
    expect(expected[webTier.path]).toEqual(['fd00::2:22', '10.3.0.31', 'fd00::3:31'].map(rd).sort());

    const everything = Object.values(deviceLists(world.emulators, world.plan)).flatMap((m) => m ?? []);
    for (const member of everything) expect(member).toMatch(new RegExp(`%${ROUTE_DOMAIN}$`));
    for (const ip of Object.values(excluded)) expect(everything).not.toContain(rd(ip));
    expect(everything).not.toContain(rd('10.4.0.41')); // lab matches no rule
  });

  test('changes of pods, namespace labels and Service selectors are followed', async () => {
    const kube = world.emulators.kube;
    kube.apply(namespace('shop', { env: 'prod' })); // shop joins the prod cluster rule
    kube.apply(namespace('web', { env: 'staging' })); // web leaves it
    kube.apply(service('payments', 'checkout', { app: 'ledger' })); // the Service now selects ledger pods
    kube.apply(pod('payments', 'checkout-2', { labels: { app: 'checkout' }, ips: ['10.1.0.112'] })); // new address
    kube.apply(pod('shop', 'cart-1', { labels: { app: 'search' }, ips: ['10.2.0.21'] })); // leaves shop-cart's selector
    kube.apply(pod('shop', 'checkout-9', { labels: { app: 'checkout' }, ips: ['fd00::2:99'] })); // joins it
    kube.delete(podRef('payments', 'checkout-1')); // terminating: leaves every list at once
    kube.apply(pod('lab', 'web-2', { labels: { tier: 'web' }, ips: ['10.4.0.42'] }));
    kube.delete(podRef('payments', 'job-done'), { gracePeriodSeconds: 0 });

    await eventually(() => listsConverged(world), 'the lists to follow the changes');
    const expected = expectedLists(world.plan, clusterSnapshot(world.emulators));
    expect(deviceLists(world.emulators, world.plan)).toEqual(expected);
    const rd = (ip: string) => `${ip}%${ROUTE_DOMAIN}`;
    expect(expected[listPath(world.plan, 'src_svc_payments_checkout')]).toEqual([rd('10.1.0.13')]);
    expect(expected[listPath(world.plan, 'src_ns_shop')]).toEqual([rd('fd00::2:99')]);
    const everything = Object.values(deviceLists(world.emulators, world.plan)).flatMap((m) => m ?? []);
    expect(everything).not.toContain(rd('10.1.0.11'));
    expect(everything).not.toContain(rd('fd00::1:11'));
    expect(everything).not.toContain(rd('10.1.0.12'));

    // The terminating pod going away for good changes nothing more.
    kube.finishPodTermination('payments', 'checkout-1');
    kube.finishPodTermination('payments', 'leaving');
    await eventually(() => listsConverged(world), 'the lists after termination');
    expect(deviceLists(world.emulators, world.plan)).toEqual(expectedLists(world.plan, clusterSnapshot(world.emulators)));
  });
});

describe('fail closed: nothing is pushed before every informer has listed', () => {
  let world: World;
  let controller: InProcessController | undefined;

  beforeAll(async () => {
    world = await startWorld();
  });
  afterAll(async () => {
    await controller?.stop();
    await world?.stop();
  });

  test('with a slow, failing pod list the lists stay empty and /readyz says 503 until the caches are complete', async () => {
    const { kube, bigip } = world.emulators;
    kube.apply(namespace('payments', { env: 'prod' }));
    kube.apply(service('payments', 'checkout', { app: 'checkout' }));
    for (let i = 0; i < 30; i++) kube.apply(pod('payments', `checkout-${i}`, { labels: { app: 'checkout' }, ips: [`10.1.1.${i + 1}`] }));
    // Every request is slow; the pod list fails twice (each followed by a backoff) while the
    // namespace, service and rule lists succeed: a controller that pushed on partial caches
    // would push now.
    kube.setLatency(150);
    kube.failNext({ pathPrefix: '/api/v1/pods', method: 'GET', status: 500, count: 2 });
    // AS3 created the lists with its placeholder as their only address.
    for (const list of world.plan.lists) expect(bigip.listMembers(list.taskId)).toEqual([EMPTY_LIST_PLACEHOLDER]);
    const before = bigip.requestCount('POST /mgmt/shared/service-discovery/task/{taskId}/nodes');
    expect(before).toBe(0);

    controller = await startInProcess(world);
    let samplesWhileUnsynced = 0;
    for (;;) {
      const ready = await controller.get('/readyz');
      if (ready.status === 200) break;
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body)).toMatchObject({ status: 'not ready' });
      // While the caches are incomplete: no push and every list still empty on the device.
      expect(bigip.requestCount('POST /mgmt/shared/service-discovery/task/{taskId}/nodes')).toBe(0);
      for (const list of world.plan.lists) expect(bigip.listMembers(list.taskId)).toEqual([EMPTY_LIST_PLACEHOLDER]);
      samplesWhileUnsynced++;
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(samplesWhileUnsynced).toBeGreaterThan(0);
    expect(kube.counters().injectedFailures).toBe(2);
    kube.setLatency(0);

    // An empty list already equals its desired content (the placeholder) before its push.
    await eventually(
      () => listsConverged(world) && world.plan.lists.every((l) => bigip.nodePushes({ list: l.path }).length > 0),
      'every list pushed after the caches listed',
    );
    const listed = controller.logs.find((l) => l.msg === 'caches listed');
    expect(listed).toBeDefined();
    expect(listed!.pods).toBe(30);
    // Every push the device received came after the caches were complete.
    const listedAt = Date.parse(listed!.time);
    const pushes = bigip.nodePushes();
    expect(pushes.length).toBeGreaterThanOrEqual(world.plan.lists.length);
    for (const p of pushes) expect(p.at).toBeGreaterThanOrEqual(listedAt);
    // The first push of each list is already the complete list (never a partial view).
    const desired = expectedLists(world.plan, clusterSnapshot(world.emulators));
    for (const list of world.plan.lists) expect([...bigip.nodePushes({ list: list.path })[0].ips].sort()).toEqual(desired[list.path]);
  });
});
