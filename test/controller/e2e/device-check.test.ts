/**
 * The leader reads the device back every check interval: a source list that no longer holds
 * what was pushed (reset to AS3's placeholder, or a restart that dropped the unsaved pushes) is
 * pushed again; a context attachment or a route domain removed by hand, and a tenant that failed
 * in the newest AS3 task, are reported on every rule CR and in the metrics, and left alone
 * (Terraform owns them).
 */
import * as fs from 'node:fs';
import { BigipClient, EMPTY_LIST_PLACEHOLDER } from '../../../lib/clients/bigip/client';
import {
  InProcessController,
  World,
  eventually,
  listPath,
  listsConverged,
  metricValue,
  parseMetrics,
  pod,
  ruleCr,
  service,
  sleep,
  startInProcess,
  startWorld,
} from './support';

/** Check interval of these tests; the bounds below are a few intervals. */
const CHECK_MS = 1000;
const RULES: readonly [string, string, string?][] = [
  ['ClusterEgressRule', 'prod-https'],
  ['ClusterEgressRule', 'web-tier'],
  ['NamespaceEgressRule', 'payments-partner', 'payments'],
  ['NamespaceEgressRule', 'shop-cart', 'shop'],
  ['ServiceEgressRule', 'checkout-psp', 'payments'],
];

function deviceVerified(world: World, kind: string, name: string, ns?: string): any {
  return ruleCr(world, kind, name, ns)?.status?.conditions?.find((c: { type: string }) => c.type === 'DeviceVerified');
}

describe('device read-back', () => {
  let world: World;
  let controller: InProcessController;
  let admin: BigipClient;
  let payments: string;

  beforeAll(async () => {
    world = await startWorld();
    const kube = world.emulators.kube;
    kube.apply(service('payments', 'checkout', { app: 'checkout' }));
    for (let i = 1; i <= 3; i++) kube.apply(pod('payments', `api-${i}`, { labels: { app: 'checkout' }, ips: [`10.1.0.${i}`] }));
    controller = await startInProcess(world, { env: { DEVICE_CHECK_INTERVAL_MS: String(CHECK_MS) } });
    payments = listPath(world.plan, 'src_ns_payments');
    admin = new BigipClient({
      url: world.emulators.bigip.url,
      username: 'admin',
      password: 'admin',
      caBundle: fs.readFileSync(world.emulators.caFile, 'utf8'),
    });
    await eventually(() => listsConverged(world) && world.emulators.bigip.listMembers(payments)?.length === 3, 'the first push');
    for (const [kind, name, ns] of RULES)
      await eventually(() => deviceVerified(world, kind, name, ns)?.status === 'True', `${kind} ${name} DeviceVerified`);
  }, 60_000);
  afterAll(async () => {
    await admin?.close();
    await controller?.stop();
    await world?.stop();
  });

  test('the plan carries the context the deploy attaches', () => {
    expect(world.plan.context?.global.enforcedPolicy).toBe(world.emulators.bigip.globalRules().enforcedPolicy);
    expect(world.plan.context?.routeDomains.map((rd) => rd.path)).toEqual(['/Common/0']);
  });

  test('a list reset to the placeholder is pushed again within a few check intervals', async () => {
    const { bigip } = world.emulators;
    const taskId = world.plan.lists.find((l) => l.path === payments)?.taskId as string;
    const before = bigip.nodePushes({ list: payments }).length;
    await admin.replaceListMembers(taskId, []);
    expect(bigip.listMembers(payments)).toEqual([EMPTY_LIST_PLACEHOLDER]);
    await eventually(() => bigip.listMembers(payments)?.length === 3, 'the list to be repaired', 5 * CHECK_MS);
    expect(bigip.listMembers(payments)?.sort()).toEqual(['10.1.0.1', '10.1.0.2', '10.1.0.3']);
    expect(bigip.nodePushes({ list: payments }).length).toBeGreaterThan(before + 1);
    const metrics = parseMetrics((await controller.get('/metrics')).body);
    expect(metricValue(metrics, 'cdktf_ces_device_repairs_total', { reason: 'list-drift' })).toBeGreaterThanOrEqual(1);
    expect(controller.logs.some((l) => l.msg === 'device differs from the plan' && l.kind === 'address-list' && l.where === payments)).toBe(
      true,
    );
    expect(listsConverged(world)).toBe(true);
  }, 30_000);

  test('after a restart that lost the unsaved pushes, every list is pushed again', async () => {
    const { bigip } = world.emulators;
    bigip.reboot();
    // The restart restores the saved configuration: the lists as AS3 created them.
    expect(bigip.listMembers(payments)).toEqual([EMPTY_LIST_PLACEHOLDER]);
    await eventually(
      () => listsConverged(world) && bigip.listMembers(payments)?.length === 3,
      'every list to be pushed again',
      5 * CHECK_MS,
    );
    const metrics = parseMetrics((await controller.get('/metrics')).body);
    expect(metricValue(metrics, 'cdktf_ces_device_repairs_total', { reason: 'relogin' })).toBeGreaterThanOrEqual(world.plan.lists.length);
  }, 30_000);

  test('an attachment removed by hand is reported on every rule and in the metric, and not repaired', async () => {
    const { bigip } = world.emulators;
    const enforced = bigip.globalRules().enforcedPolicy as string;
    expect(enforced).toBeDefined();
    await admin.runTmsh('modify security firewall global-rules enforced-policy none');
    expect(bigip.globalRules().enforcedPolicy).toBeUndefined();
    for (const [kind, name, ns] of RULES) {
      const c = await eventually(
        () => {
          const v = deviceVerified(world, kind, name, ns);
          return v?.status === 'False' ? v : false;
        },
        `${kind} ${name} DeviceVerified=False`,
        5 * CHECK_MS,
      );
      expect(c.reason).toBe('ContextDrift');
      expect(c.message).toContain(`global context enforced-policy: expected ${enforced}; found none`);
    }
    const metrics = parseMetrics((await controller.get('/metrics')).body);
    expect(metricValue(metrics, 'cdktf_ces_device_problems', { kind: 'attachment' })).toBe(1);
    expect(controller.logs.filter((l) => l.msg === 'device differs from the plan' && l.kind === 'attachment')).toHaveLength(1);
    // Several more checks: reported, never repaired.
    await sleep(3 * CHECK_MS);
    expect(bigip.globalRules().enforcedPolicy).toBeUndefined();
    expect(controller.logs.filter((l) => l.msg === 'device differs from the plan' && l.kind === 'attachment')).toHaveLength(1);

    await admin.runTmsh(`modify security firewall global-rules enforced-policy ${enforced}`);
    for (const [kind, name, ns] of RULES)
      await eventually(
        () => deviceVerified(world, kind, name, ns)?.status === 'True',
        `${kind} ${name} DeviceVerified=True again`,
        5 * CHECK_MS,
      );
    expect(metricValue(parseMetrics((await controller.get('/metrics')).body), 'cdktf_ces_device_problems', { kind: 'attachment' })).toBe(0);
    expect(controller.logs.some((l) => l.msg === 'device difference resolved' && l.kind === 'attachment')).toBe(true);
  }, 30_000);

  test('a route domain deleted by hand is reported on every rule and in the metric, and not repaired', async () => {
    const { bigip } = world.emulators;
    // The emulator's tmsh has no "delete net route-domain": remove it from the running
    // configuration, as a deletion by hand would.
    const routeDomains = (bigip as unknown as { device: { running: { routeDomains: Map<string, unknown> } } }).device.running.routeDomains;
    const state = routeDomains.get('/Common/0');
    expect(state).toBeDefined();
    routeDomains.delete('/Common/0');
    expect(bigip.routeDomain('/Common/0')).toBeUndefined();
    for (const [kind, name, ns] of RULES) {
      const c = await eventually(
        () => {
          const v = deviceVerified(world, kind, name, ns);
          return v?.status === 'False' ? v : false;
        },
        `${kind} ${name} DeviceVerified=False`,
        5 * CHECK_MS,
      );
      expect(c.reason).toBe('ContextDrift');
      expect(c.message).toContain('route domain /Common/0: expected exists (the deploy attaches policies to it); found not on the device');
    }
    const metrics = parseMetrics((await controller.get('/metrics')).body);
    expect(metricValue(metrics, 'cdktf_ces_device_problems', { kind: 'route-domain' })).toBe(1);
    expect(metricValue(metrics, 'cdktf_ces_device_problems', { kind: 'attachment' })).toBe(0);
    await sleep(3 * CHECK_MS);
    expect(bigip.routeDomain('/Common/0')).toBeUndefined();
    expect(controller.logs.filter((l) => l.msg === 'device differs from the plan' && l.kind === 'route-domain')).toHaveLength(1);

    routeDomains.set('/Common/0', state);
    for (const [kind, name, ns] of RULES)
      await eventually(
        () => deviceVerified(world, kind, name, ns)?.status === 'True',
        `${kind} ${name} DeviceVerified=True again`,
        5 * CHECK_MS,
      );
    expect(metricValue(parseMetrics((await controller.get('/metrics')).body), 'cdktf_ces_device_problems', { kind: 'route-domain' })).toBe(
      0,
    );
    expect(controller.logs.some((l) => l.msg === 'device difference resolved' && l.kind === 'route-domain')).toBe(true);
  }, 30_000);

  test('a tenant that failed in the newest AS3 task is reported on every rule and in the metric', async () => {
    const { bigip } = world.emulators;
    const tenant = world.plan.tenant;
    const deployed = bigip.declaration() as Record<string, any>;
    expect(deployed[tenant]).toBeDefined();
    // A route domain that does not exist: mcpd refuses the tenant, AS3 keeps the previous one.
    const failing = { ...deployed, [tenant]: { ...deployed[tenant], defaultRouteDomain: 4094 } };
    await expect(admin.declare(failing, { tenants: [tenant], pollIntervalMs: 100 })).rejects.toThrow();
    for (const [kind, name, ns] of RULES) {
      const c = await eventually(
        () => {
          const v = deviceVerified(world, kind, name, ns);
          return v?.status === 'False' ? v : false;
        },
        `${kind} ${name} DeviceVerified=False`,
        5 * CHECK_MS,
      );
      expect(c.reason).toBe('DeployFailed');
      expect(c.message).toMatch(
        new RegExp(
          `^AS3 task \\S+ of \\S+, tenant ${tenant}: expected 200 success or no change; found .*route domain \\(id 4094\\) was not found`,
        ),
      );
    }
    const metrics = parseMetrics((await controller.get('/metrics')).body);
    expect(metricValue(metrics, 'cdktf_ces_device_problems', { kind: 'as3-task' })).toBe(1);
    expect(controller.logs.filter((l) => l.msg === 'device differs from the plan' && l.kind === 'as3-task')).toHaveLength(1);

    // A newer task that deploys the tenant again settles it.
    await admin.declare(deployed, { tenants: [tenant], pollIntervalMs: 100 });
    for (const [kind, name, ns] of RULES)
      await eventually(
        () => deviceVerified(world, kind, name, ns)?.status === 'True',
        `${kind} ${name} DeviceVerified=True again`,
        5 * CHECK_MS,
      );
    expect(metricValue(parseMetrics((await controller.get('/metrics')).body), 'cdktf_ces_device_problems', { kind: 'as3-task' })).toBe(0);
    expect(controller.logs.some((l) => l.msg === 'device difference resolved' && l.kind === 'as3-task')).toBe(true);
  }, 30_000);
});
