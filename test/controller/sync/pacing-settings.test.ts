/**
 * The pacing settings from the construct to the controller: EgressController props (checked
 * strictly), the Deployment's environment, the controller's configuration, and the metrics that
 * show the pacing.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TerraformStack } from 'cdktf';
import { ClusterEgressRule, EgressAction, EgressController, EgressDestination } from '../../../lib';
import { ConfigError, loadConfig } from '../../../lib/controller/config';
import { ControllerMetrics } from '../../../lib/controller/metrics';
import { PacingState } from '../../../lib/controller/sync/workqueue';
import { PLAN_FORMAT } from '../../../lib/policy/plan';
import { deviceStack, synthJson } from '../../support/app';
import { issuesOf } from '../../support/issues';

function controllerEnv(props: Record<string, unknown>): Record<string, string> {
  const { stack, device } = deviceStack();
  new ClusterEgressRule(stack, 'Dns', {
    device,
    action: EgressAction.ALLOW_FINAL,
    destinations: [EgressDestination.address('10.96.0.10')],
  });
  new EgressController(stack, 'Controller', {
    device,
    credentialsSecret: 'bigip-login',
    caBundleConfigMap: 'bigip-ca',
    image: 'registry.example/cdktf-ces:1',
    ...props,
  } as any);
  return envOf(stack);
}

function envOf(stack: TerraformStack): Record<string, string> {
  const deployment = (Object.values(synthJson(stack).resource.kubernetes_manifest) as any[])
    .map((r) => r.manifest)
    .find((m) => m.kind === 'Deployment');
  return Object.fromEntries(
    (deployment.spec.template.spec.containers[0].env as { name: string; value?: string }[])
      .filter((e) => e.value !== undefined)
      .map((e) => [e.name, e.value as string]),
  );
}

const pacingEnv = (env: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(env).filter(([k]) =>
      ['COALESCE_MS', 'MAX_PUSHES_IN_FLIGHT', 'MAX_DEVICE_BUSY_PERCENT', 'MAX_PUSHES_PER_SECOND'].includes(k),
    ),
  );

describe('EgressController pacing props', () => {
  test('defaults: pacing by the device, no fixed pushes-per-second ceiling', () => {
    expect(pacingEnv(controllerEnv({}))).toEqual({ COALESCE_MS: '250', MAX_PUSHES_IN_FLIGHT: '2', MAX_DEVICE_BUSY_PERCENT: '80' });
  });

  test('given values reach the Deployment; the deprecated ceiling only when set', () => {
    expect(pacingEnv(controllerEnv({ coalesceMs: 100, maxPushesInFlight: 4, maxDeviceBusyPercent: 50, maxPushesPerSecond: 30 }))).toEqual({
      COALESCE_MS: '100',
      MAX_PUSHES_IN_FLIGHT: '4',
      MAX_DEVICE_BUSY_PERCENT: '50',
      MAX_PUSHES_PER_SECOND: '30',
    });
  });

  // A refused controller records its problems and renders nothing (they are reported at synth).
  const refusedController = (props: Record<string, unknown>) => {
    const { stack, device } = deviceStack();
    return new EgressController(stack, 'Controller', {
      device,
      credentialsSecret: 'bigip-login',
      caBundleConfigMap: 'bigip-ca',
      image: 'registry.example/cdktf-ces:1',
      ...props,
    } as any);
  };

  test('bad values are refused together, each with the field, the value and the range', () => {
    const issues = issuesOf(() => refusedController({ maxPushesInFlight: 0, maxDeviceBusyPercent: 100.5 }));
    expect(issues.map((i) => [i.path, i.field, i.value, i.message])).toEqual([
      ['egress/Controller', 'maxPushesInFlight', '0', 'must be a whole number from 1 to 16'],
      ['egress/Controller', 'maxDeviceBusyPercent', '100.5', 'must be a whole number from 1 to 100'],
    ]);
    for (const [field, value] of [
      ['maxPushesInFlight', 17],
      ['maxPushesInFlight', '2'],
      ['maxDeviceBusyPercent', 0],
      ['maxDeviceBusyPercent', NaN],
    ] as const) {
      expect(issuesOf(() => refusedController({ [field]: value })).map((i) => i.field)).toEqual([field]);
    }
  });
});

describe('controller configuration of the pacing', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-pacing-'));
    fs.mkdirSync(path.join(dir, 'bigip'));
    fs.writeFileSync(path.join(dir, 'bigip', 'username'), 'egress');
    fs.writeFileSync(path.join(dir, 'bigip', 'password'), 'secret');
    fs.writeFileSync(
      path.join(dir, 'plan.json'),
      JSON.stringify({
        format: PLAN_FORMAT,
        cluster: 'prod',
        tenant: 'k8s_prod',
        application: 'egress',
        routeDomain: 0,
        lists: [],
        rules: [],
      }),
    );
    env = {
      BIGIP_URL: 'https://bigip.example.net',
      BIGIP_INSECURE_SKIP_TLS_VERIFY: 'true',
      BIGIP_CREDENTIALS_DIR: path.join(dir, 'bigip'),
      CES_PLAN_FILE: path.join(dir, 'plan.json'),
      LEADER_ELECTION: 'false',
    };
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('defaults', () => {
    const c = loadConfig(env);
    expect([c.coalesceMs, c.maxPushesInFlight, c.maxDeviceBusyPercent, c.maxPushesPerSecond]).toEqual([250, 2, 80, undefined]);
  });

  test('values from the environment', () => {
    const c = loadConfig({
      ...env,
      COALESCE_MS: '0',
      MAX_PUSHES_IN_FLIGHT: '16',
      MAX_DEVICE_BUSY_PERCENT: '100',
      MAX_PUSHES_PER_SECOND: '5',
    });
    expect([c.coalesceMs, c.maxPushesInFlight, c.maxDeviceBusyPercent, c.maxPushesPerSecond]).toEqual([0, 16, 100, 5]);
  });

  test.each([
    ['MAX_PUSHES_IN_FLIGHT', '0', 'MAX_PUSHES_IN_FLIGHT: "0" is not a whole number from 1 to 16'],
    ['MAX_DEVICE_BUSY_PERCENT', '101', 'MAX_DEVICE_BUSY_PERCENT: "101" is not a whole number from 1 to 100'],
    ['MAX_DEVICE_BUSY_PERCENT', '0.5', 'MAX_DEVICE_BUSY_PERCENT: "0.5" is not a whole number from 1 to 100'],
    // Number() reads these as 75, 16 and 0: a typo must not pass as a value.
    ['MAX_DEVICE_BUSY_PERCENT', '7.5e1', 'MAX_DEVICE_BUSY_PERCENT: "7.5e1" is not a whole number from 1 to 100'],
    ['MAX_PUSHES_IN_FLIGHT', '0x10', 'MAX_PUSHES_IN_FLIGHT: "0x10" is not a whole number from 1 to 16'],
    ['COALESCE_MS', ' ', 'COALESCE_MS: " " is not a whole number from 0 to 60000'],
  ])('%s=%p is refused', (name, value, message) => {
    expect(() => loadConfig({ ...env, [name]: value })).toThrow(new ConfigError(message));
  });
});

describe('pacing metrics', () => {
  test('the pacing state is read at every scrape', async () => {
    const metrics = new ControllerMetrics({ defaultMetrics: false });
    let state: PacingState = {
      window: 1.5,
      inFlight: 1,
      share: 0.375,
      busy: 0.25,
      lastDeviceMs: 120,
      decreases: { latency: 1, overload: 0 },
    };
    metrics.bindPacing(() => state);
    const value = async (name: string) => {
      const text = await metrics.registry.metrics();
      return text
        .split('\n')
        .filter((l) => l.startsWith(name))
        .map((l) => l.slice(name.length));
    };
    expect(await value('cdktf_ces_push_window')).toEqual([' 1.5']);
    expect(await value('cdktf_ces_pushes_in_flight')).toEqual([' 1']);
    expect(await value('cdktf_ces_device_share_allowed_ratio')).toEqual([' 0.375']);
    expect(await value('cdktf_ces_device_busy_ratio')).toEqual([' 0.25']);
    expect(await value('cdktf_ces_push_device_seconds')).toEqual([' 0.12']);
    expect(await value('cdktf_ces_pace_decreases_total')).toEqual(['{cause="latency"} 1']);
    state = { ...state, decreases: { latency: 3, overload: 2 } };
    expect(await value('cdktf_ces_pace_decreases_total')).toEqual(['{cause="latency"} 3', '{cause="overload"} 2']);
  });
});
