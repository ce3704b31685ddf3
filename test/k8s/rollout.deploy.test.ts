/**
 * The deployment controller and kubelet model the deploy tests rely on: pods wait for their
 * volumes, are Ready only while their readiness probe answers 2xx/3xx, and a rolling update
 * with maxSurge 1 / maxUnavailable 0 never has more than replicas + 1 pods nor fewer than
 * `replicas` available ones; kubectl's rollout status follows.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EmulatedObject, KubeApiEmulator } from '../emulators/kube/emulator';
import { RunningContainer, WorkloadEmulator, rolloutStatus } from '../emulators/kube/workloads';
import { eventually } from './deploy-support';

jest.setTimeout(60_000);

const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'default', name: 'web' };

function deployment(version: string): object {
  const labels = { app: 'web' };
  return {
    ...DEPLOYMENT,
    metadata: { namespace: 'default', name: 'web' },
    spec: {
      replicas: 2,
      selector: { matchLabels: labels },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels, annotations: { version } },
        spec: {
          containers: [
            {
              name: 'web',
              image: 'registry.example/web:1',
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/ready', port: 'http' } },
            },
          ],
          volumes: [{ name: 'config', configMap: { name: 'web-config' } }],
        },
      },
    },
  };
}

let kube: KubeApiEmulator;
let workloads: WorkloadEmulator;
/** What the containers' readiness endpoints answer. */
let readyCode = 503;
const servers: http.Server[] = [];

async function runner(): Promise<RunningContainer> {
  const server = http.createServer((req, res) => res.writeHead(req.url === '/ready' ? readyCode : 404).end());
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    ports: { 8080: (server.address() as AddressInfo).port },
    exited: () => false,
    stop: () => new Promise((r) => server.close(() => r())),
  };
}

const pods = () => kube.list({ apiVersion: 'v1', kind: 'Pod', namespace: 'default' });
const ready = (p: EmulatedObject) => ((p.status as any)?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
const status = () => rolloutStatus(kube.get(DEPLOYMENT) as EmulatedObject);

beforeAll(async () => {
  kube = await KubeApiEmulator.start({ namespaces: ['default'] });
  kube.apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { namespace: 'default', name: 'default' } });
  workloads = new WorkloadEmulator(kube, { runner, intervalMs: 20 }).start();
});
afterAll(async () => {
  await workloads.stop();
  await kube.stop();
});

test('pods wait for their ConfigMap, then run, and are Ready only once the readiness probe passes', async () => {
  kube.apply(deployment('1'));
  await eventually(
    () =>
      workloads
        .events()
        .some((e) =>
          /^FailedMount default\/web-\w+-\w+: MountVolume.SetUp failed for volume "config" : configmap "web-config" not found$/.test(e),
        ),
    'a FailedMount event',
  );
  expect(pods()).toHaveLength(2);
  expect(pods().map((p) => (p.status as any).containerStatuses[0].state)).toEqual([
    { waiting: { reason: 'ContainerCreating' } },
    { waiting: { reason: 'ContainerCreating' } },
  ]);
  expect(status()).toEqual({
    message: 'Waiting for deployment "web" rollout to finish: 0 of 2 updated replicas are available...',
    done: false,
  });

  kube.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'default', name: 'web-config' }, data: { a: '1' } });
  await eventually(() => pods().every((p) => (p.status as any).phase === 'Running'), 'running pods');
  // Running, probed, answered 503: not Ready, and the rollout is not done.
  await eventually(() => servers.length === 2, 'two containers');
  expect(pods().some(ready)).toBe(false);
  expect(status().done).toBe(false);

  readyCode = 200;
  await eventually(() => status().done, 'the rollout');
  expect(pods().every(ready)).toBe(true);
  expect((kube.get(DEPLOYMENT)?.status as any)?.conditions).toEqual([
    { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' },
    { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' },
  ]);
});

test('a template change rolls one surge pod at a time and never lets availability drop below the replicas', async () => {
  const before = pods().map((p) => p.metadata.name);
  let maxPods = 0;
  let minAvailable = Infinity;
  const sampler = setInterval(() => {
    const now = pods();
    maxPods = Math.max(maxPods, now.length);
    minAvailable = Math.min(minAvailable, now.filter(ready).length);
  }, 5);
  try {
    kube.apply(deployment('2'));
    expect(status()).toEqual({ message: 'Waiting for deployment spec update to be observed...', done: false });
    await eventually(() => status().done, 'the second rollout');
  } finally {
    clearInterval(sampler);
  }
  expect(pods().filter((p) => before.includes(p.metadata.name))).toEqual([]);
  expect(pods()).toHaveLength(2);
  expect(maxPods).toBeLessThanOrEqual(3);
  expect(minAvailable).toBe(2);
});

test('a pod whose readiness probe starts failing is no longer Ready; the Deployment says so', async () => {
  readyCode = 500;
  await eventually(() => pods().every((p) => !ready(p)), 'unready pods');
  expect(kube.get(DEPLOYMENT)?.status as any).toMatchObject({ readyReplicas: 0, availableReplicas: 0, unavailableReplicas: 2 });
  expect(status()).toEqual({
    message: 'Waiting for deployment "web" rollout to finish: 0 of 2 updated replicas are available...',
    done: false,
  });
  readyCode = 200;
});
