/**
 * What the controller reports: rule CR status (Ready condition with reason, message and
 * observedGeneration; members; lastSyncTime; windowOpen), time-window and expiry gating on the
 * device, a list AS3 does not have (terminal 404), and the HTTP endpoints (/metrics, /healthz,
 * /readyz).
 */
import { Weekday } from '../../../lib';
import { EMPTY_LIST_PLACEHOLDER } from '../../../lib/clients/bigip/client';
import {
  InProcessController,
  World,
  clusterSnapshot,
  deviceLists,
  eventually,
  expectedLists,
  listPath,
  makeListStatic,
  metricValue,
  parseMetrics,
  pod,
  readyCondition,
  ruleCr,
  service,
  startInProcess,
  startWorld,
} from './support';

const WEEKDAYS = [Weekday.SUNDAY, Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY, Weekday.SATURDAY];
/** Lead time of the expiring rule: synth, deploy and the first sync happen well within it. */
const EXPIRY_LEAD_MS = 20_000;

describe('rule status, gating and endpoints', () => {
  let world: World;
  let controller: InProcessController;
  let expiresAt: string;
  let started: number;

  beforeAll(async () => {
    started = Date.now();
    expiresAt = new Date(Date.now() + EXPIRY_LEAD_MS).toISOString();
    // A window that is open all day every day, one open only on a day three days away (closed
    // now, whatever the time), and a rule that expires during the test.
    const closedDay = WEEKDAYS[(new Date().getUTCDay() + 3) % 7];
    world = await startWorld({
      policy: {
        extraRules: [
          { namespace: 'payments', name: 'always-open', schedule: { startTime: '00:00', endTime: '24:00', timeZone: 'UTC' } },
          {
            namespace: 'payments',
            name: 'closed-now',
            schedule: { daysOfWeek: [closedDay], startTime: '00:00', endTime: '24:00', timeZone: 'UTC' },
          },
          { namespace: 'payments', name: 'expiring', expiresAt },
          { namespace: 'shop', name: 'legacy' },
        ],
      },
      // The shop namespace list exists on the device only as a static list: its nodes task 404s.
      beforeDeploy: (outdir) => makeListStatic(outdir, 'k8s_e2e_src_ns_shop'),
    });
    const kube = world.emulators.kube;
    kube.apply(service('payments', 'checkout', { app: 'checkout' }));
    kube.apply(pod('payments', 'checkout-1', { labels: { app: 'checkout' }, ips: ['10.1.0.11'] }));
    kube.apply(pod('payments', 'checkout-2', { labels: { app: 'checkout' }, ips: ['10.1.0.12', 'fd00::12'] }));
    kube.apply(pod('payments', 'ledger-1', { labels: { app: 'ledger' }, ips: ['10.1.0.13'] }));
    kube.apply(pod('shop', 'cart-1', { labels: { app: 'cart' }, ips: ['10.2.0.21'] }));
    controller = await startInProcess(world);
  });
  afterAll(async () => {
    await controller?.stop();
    await world?.stop();
  });

  const byName = (name: string) => world.plan.rules.find((r) => r.name === name)!;
  const listOf = (name: string) => world.plan.lists.find((l) => l.path === byName(name).sourceList)!;
  const statusOf = (name: string) => {
    const r = byName(name);
    return ruleCr(world, r.kind, r.name, r.namespace)?.status;
  };

  test('an expiring rule is in force before its expiresAt', async () => {
    const list = listOf('expiring');
    // The rule was synthesized EXPIRY_LEAD_MS ahead; startup takes a small part of that.
    await eventually(
      () => statusOf('expiring')?.members === 4,
      'the expiring rule to be in force',
      Math.max(0, Date.parse(expiresAt) - Date.now()),
    );
    expect(Date.now()).toBeLessThan(Date.parse(expiresAt));
    expect(world.emulators.bigip.listMembers(list.taskId)).toHaveLength(4);
    expect(readyCondition({ status: statusOf('expiring') })).toMatchObject({ status: 'True', reason: 'Synced' });
  });

  test('a synced rule is Ready=True/Synced with members, observedGeneration and lastSyncTime', async () => {
    await eventually(() => readyCondition({ status: statusOf('payments-partner') })?.reason === 'Synced', 'payments-partner to be Synced');
    const status = statusOf('payments-partner');
    const cr = ruleCr(world, 'NamespaceEgressRule', 'payments-partner', 'payments');
    expect(status.members).toBe(4); // 10.1.0.11, 10.1.0.12, fd00::12, 10.1.0.13
    expect(world.emulators.bigip.listMembers(listPath(world.plan, 'src_ns_payments'))).toHaveLength(4);
    expect(status.observedGeneration).toBe(cr.metadata.generation);
    const ready = readyCondition({ status });
    expect(ready).toMatchObject({
      type: 'Ready',
      status: 'True',
      reason: 'Synced',
      message: 'in force with 4 pod addresses',
      observedGeneration: cr.metadata.generation,
    });
    expect(ready.lastTransitionTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(status.lastSyncTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // lastSyncTime has second precision: it is not earlier than the second the test started.
    expect(Date.parse(status.lastSyncTime)).toBeGreaterThanOrEqual(Math.floor(started / 1000) * 1000);
    expect(Date.parse(status.lastSyncTime)).toBeLessThanOrEqual(Date.now());
    expect(status.windowOpen).toBeUndefined(); // only windowed rules report it

    await eventually(
      () => statusOf('checkout-psp')?.members === 3 && statusOf('prod-https')?.members === 4,
      'the service and cluster rules to report members',
    );
    expect(readyCondition({ status: statusOf('checkout-psp') })).toMatchObject({
      status: 'True',
      reason: 'Synced',
      message: 'in force with 3 pod addresses',
    });

    // A hand edit moves the generation, not the firewall: the status says the spec is not
    // deployed and observedGeneration stays at the generation the firewall enforces.
    const edited = ruleCr(world, 'NamespaceEgressRule', 'payments-partner', 'payments');
    const priority = edited.spec.priority as number;
    edited.spec.priority = priority + 1;
    const stored = world.emulators.kube.apply(edited);
    expect(stored.metadata.generation).toBe(cr.metadata.generation + 1);
    await eventually(
      () => readyCondition({ status: statusOf('payments-partner') })?.reason === 'SpecNotDeployed',
      'the edited rule to be reported as not deployed',
    );
    expect(readyCondition({ status: statusOf('payments-partner') })).toMatchObject({
      status: 'False',
      observedGeneration: cr.metadata.generation + 1,
      message: `the spec of generation ${cr.metadata.generation + 1} differs from the deployed plan; the firewall enforces generation ${cr.metadata.generation}. Run cdktf deploy, or undo the edit`,
    });
    expect(statusOf('payments-partner')).toMatchObject({ observedGeneration: cr.metadata.generation, members: 4 });

    // Undoing the edit is a new generation with the plan's spec: in force again, at that generation.
    const undone = ruleCr(world, 'NamespaceEgressRule', 'payments-partner', 'payments');
    undone.spec.priority = priority;
    expect(world.emulators.kube.apply(undone).metadata.generation).toBe(cr.metadata.generation + 2);
    await eventually(
      () => statusOf('payments-partner')?.observedGeneration === cr.metadata.generation + 2,
      'observedGeneration to follow the undone edit',
    );
    expect(readyCondition({ status: statusOf('payments-partner') })).toMatchObject({
      status: 'True',
      reason: 'Synced',
      observedGeneration: cr.metadata.generation + 2,
    });
  });

  test('time windows: an open window fills its list and says windowOpen: true; a closed one keeps it empty', async () => {
    await eventually(
      () => statusOf('always-open')?.members === 4 && statusOf('closed-now')?.windowOpen === false,
      'the windowed rules to report',
    );
    expect(statusOf('always-open')).toMatchObject({ windowOpen: true, members: 4 });
    expect(readyCondition({ status: statusOf('always-open') })).toMatchObject({ status: 'True', reason: 'Synced' });
    expect(world.emulators.bigip.listMembers(listOf('always-open').taskId)).toHaveLength(4);

    expect(statusOf('closed-now')).toMatchObject({ windowOpen: false, members: 0 });
    expect(readyCondition({ status: statusOf('closed-now') })).toMatchObject({ status: 'True', reason: 'WindowClosed' });
    expect(world.emulators.bigip.listMembers(listOf('closed-now').taskId)).toEqual([EMPTY_LIST_PLACEHOLDER]);
    // The payments pods would be members of the closed list if it were open.
    expect(listOf('closed-now').source).toEqual(listOf('always-open').source);
  });

  test('a list AS3 does not have (terminal 404) shows as Ready=False/BigipRejected; the others are unaffected', async () => {
    await eventually(
      () => readyCondition({ status: statusOf('legacy') })?.reason === 'BigipRejected',
      'the rule on the static list to be rejected',
    );
    const ready = readyCondition({ status: statusOf('legacy') });
    expect(ready.status).toBe('False');
    expect(ready.message).toContain('the BIG-IP refused the update');
    expect(ready.message).toContain('ListNotFound');
    expect(ready.message).toContain('is a Firewall_Address_List without addresses');
    expect(statusOf('legacy').members).toBeUndefined(); // never pushed
    // Every other list is in place.
    const expected = expectedLists(world.plan, clusterSnapshot(world.emulators));
    const actual = deviceLists(world.emulators, world.plan);
    const legacyList = listOf('legacy').path;
    for (const list of world.plan.lists)
      if (list.path !== legacyList && list.path !== listOf('expiring').path) expect(actual[list.path]).toEqual(expected[list.path]);
    expect(actual[legacyList]).toBeUndefined(); // not an event-driven list on the device
  });

  test('/metrics, /healthz and /readyz', async () => {
    const health = await controller.get('/healthz');
    expect(health).toEqual({ status: 200, body: '{"status":"ok"}' });
    const ready = await controller.get('/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'ready', leader: true, pods: 4 });
    expect((await controller.get('/nope')).status).toBe(404);

    // Gauges are read at scrape time.
    await eventually(
      async () => metricValue(parseMetrics((await controller.get('/metrics')).body), 'cdktf_ces_pods') === 4,
      'the pod gauge',
    );
    const fetchedBefore = Date.now();
    const res = await controller.get('/metrics');
    const fetchedAfter = Date.now();
    expect(res.status).toBe(200);
    const samples = parseMetrics(res.body);
    expect(metricValue(samples, 'cdktf_ces_sync_lag_seconds_count')).toBeGreaterThanOrEqual(world.plan.lists.length - 1);
    expect(samples.filter((s) => s.name === 'cdktf_ces_sync_lag_seconds_bucket').map((s) => s.labels.le)).toEqual([
      '0.05',
      '0.1',
      '0.25',
      '0.5',
      '1',
      '2',
      '5',
      '10',
      '20',
      '30',
      '60',
      '+Inf',
    ]);
    expect(metricValue(samples, 'cdktf_ces_pushes_total', { result: 'ok' })).toBeGreaterThanOrEqual(world.plan.lists.length - 1);
    expect(metricValue(samples, 'cdktf_ces_pushes_total', { result: 'error' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(samples, 'cdktf_ces_push_errors_total', { reason: 'ListNotFound' })).toBeGreaterThanOrEqual(1);
    // Member gauges equal what the device holds, list by list.
    const legacyList = listOf('legacy').path;
    for (const list of world.plan.lists) {
      if (list.path === legacyList) expect(metricValue(samples, 'cdktf_ces_list_members', { list: list.path })).toBeUndefined();
      else
        expect(metricValue(samples, 'cdktf_ces_list_members', { list: list.path })).toBe(
          world.emulators.bigip.listMembers(list.taskId)!.filter((a) => a !== EMPTY_LIST_PLACEHOLDER).length,
        );
    }
    // The closed window, plus the expired rule once expiresAt has passed (requeued at expiresAt).
    if (fetchedAfter < Date.parse(expiresAt)) expect(metricValue(samples, 'cdktf_ces_lists_gated')).toBe(1);
    else if (fetchedBefore > Date.parse(expiresAt) + 3000) expect(metricValue(samples, 'cdktf_ces_lists_gated')).toBe(2);
    else expect([1, 2]).toContain(metricValue(samples, 'cdktf_ces_lists_gated'));
    expect(metricValue(samples, 'cdktf_ces_leader')).toBe(1);
    expect(metricValue(samples, 'cdktf_ces_lists_pending')).toBeGreaterThanOrEqual(0);
    expect(metricValue(samples, 'cdktf_ces_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  test('at expiresAt the list is emptied and the status says Expired', async () => {
    const list = listOf('expiring');
    const bigip = world.emulators.bigip;
    const emptyList = () => bigip.listMembers(list.taskId)?.join() === EMPTY_LIST_PLACEHOLDER;
    await eventually(emptyList, 'the list to be emptied at expiry', EXPIRY_LEAD_MS + 10_000);
    // One push emptied it, after expiresAt, with AS3's placeholder.
    const emptied = bigip.firstPushWithout(list.path, '10.1.0.11', 0)!;
    expect(emptied.ips).toEqual([EMPTY_LIST_PLACEHOLDER]);
    expect(emptied.at).toBeGreaterThanOrEqual(Date.parse(expiresAt));
    await eventually(() => readyCondition({ status: statusOf('expiring') })?.reason === 'Expired', 'the status to say Expired');
    expect(statusOf('expiring').members).toBe(0);
    expect(readyCondition({ status: statusOf('expiring') })).toMatchObject({
      status: 'True',
      message: `the rule expired at ${expiresAt}; its source list is empty. Delete the rule or renew its expiresAt`,
    });
    // A pod that starts after expiry does not reach the expired list, only the ordinary one.
    world.emulators.kube.apply(pod('payments', 'late-1', { ips: ['10.1.0.99'] }));
    await eventually(
      () => bigip.listMembers(listPath(world.plan, 'src_ns_payments'))?.includes('10.1.0.99'),
      'the ordinary payments list to gain the pod',
    );
    expect(bigip.listMembers(list.taskId)).toEqual([EMPTY_LIST_PLACEHOLDER]);
    await eventually(
      async () => metricValue(parseMetrics((await controller.get('/metrics')).body), 'cdktf_ces_lists_gated') === 2,
      'two gated lists',
    );
    const samples = parseMetrics((await controller.get('/metrics')).body);
    expect(metricValue(samples, 'cdktf_ces_list_members', { list: list.path })).toBe(0);
  });
});
