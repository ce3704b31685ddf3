/**
 * The README's first-deploy story on an empty cluster, replayed as `cdktf deploy '*'` runs it
 * (one stack after another, each planned then applied, as the kubernetes provider applies its
 * manifests) with pods run as the deployment controller and the kubelet run them: the init
 * container unpacks the bundle, the real controller process runs with its service account's
 * in-cluster config, and a pod is Ready only once its `/readyz` answers 200.
 *
 * Before the deploy only what the README asks for exists: the team namespaces and, in the
 * `bigip-credentials` namespace, the BIG-IP login Secret and the CA ConfigMap. The deploy
 * creates the controller's namespace and returns once the rollout is done. Then: an update whose
 * new plan renames the content-hashed ConfigMap, a `kubectl edit` of a rule CR followed by a
 * deploy, and a first deploy before the login Secret exists.
 */
import * as http from 'node:http';
import { API_GROUP_VERSION } from '../../lib/k8s/crds';
import { DeployError, DeployResult, Emulators, controllerContainerRunner, deploySynthOutput } from '../emulators/deploy';
import type { EmulatedObject } from '../emulators/kube/emulator';
import { ContainerRunner, WorkloadEmulator, rolloutStatus } from '../emulators/kube/workloads';
import {
  CONTROLLER_NAMESPACE,
  CREDENTIALS_NAMESPACE,
  createLoginSecret,
  createPrerequisites,
  emptyCluster,
  eventually,
  removeSynthDirs,
  synthApp,
} from './deploy-support';

// Generous bounds: under a fully loaded CI machine two controller processes can take long to start.
jest.setTimeout(360_000);

/** Bounds a deploy's rollout wait below the test's own timeout (the provider's default is 10 min). */
const FAST = { waitPollMs: 20, waitTimeoutMs: 300_000 };
const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: CONTROLLER_NAMESPACE, name: 'cdktf-ces-controller-east' };
const RULE = { apiVersion: API_GROUP_VERSION, kind: 'NamespaceEgressRule', namespace: 'payments', name: 'payments-partner' };

/** Operations without the content hashes of ConfigMap names. */
const shapes = (ops: readonly string[]) => ops.map((o) => o.replace(/-(plan|code)-[0-9a-f]{10}$/, '-$1-<hash>'));
const planConfigMapOf = (podSpec: any) => (podSpec.volumes as any[]).find((v) => v.name === 'plan').configMap.name as string;
const controllerPods = (e: Emulators) => e.kube.list({ apiVersion: 'v1', kind: 'Pod', namespace: CONTROLLER_NAMESPACE });
const isReady = (p: EmulatedObject) => ((p.status as any)?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
const readyCondition = (o: EmulatedObject | undefined) => ((o?.status as any)?.conditions ?? []).find((c: any) => c.type === 'Ready');

/** GET on a pod's local port: status and body. */
function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

interface Cluster {
  readonly emulators: Emulators;
  readonly workloads: WorkloadEmulator;
  /** The local port of each pod's `http` port, by pod name (the latest start). */
  readonly httpPorts: Map<string, number>;
}

async function startCluster(options: { loginSecret?: boolean; teamNamespaces?: boolean } = {}): Promise<Cluster> {
  const emulators = await emptyCluster(1000);
  createPrerequisites(emulators, options);
  const httpPorts = new Map<string, number>();
  const kubelet = controllerContainerRunner(emulators, { env: { COALESCE_MS: '50' } });
  const runner: ContainerRunner = async (pod) => {
    const running = await kubelet(pod);
    httpPorts.set(pod.metadata.name as string, running.ports[8080]);
    return running;
  };
  const workloads = new WorkloadEmulator(emulators.kube, { runner, intervalMs: 50 }).start();
  return { emulators, workloads, httpPorts };
}

afterAll(removeSynthDirs);

describe("one cdktf deploy on an empty cluster with the README's prerequisites, then updates", () => {
  let cluster: Cluster;
  let emulators: Emulators;
  const deploys: DeployResult[] = [];
  beforeAll(async () => {
    cluster = await startCluster();
    emulators = cluster.emulators;
  });
  afterAll(async () => {
    await cluster.workloads.stop();
    await emulators.stop();
  });

  test('1 first deploy: CRDs (Established), the controller namespace, RBAC, ConfigMaps, the Deployment and the rule CRs; it returns once the pods are Ready', async () => {
    expect(emulators.kube.get({ apiVersion: 'v1', kind: 'Namespace', name: CONTROLLER_NAMESPACE })).toBeUndefined();
    const first = await deploySynthOutput(synthApp(), emulators, FAST);
    deploys.push(first);
    // The deploy waited for the rollout (wait { rollout = true }): done when it returns.
    expect(rolloutStatus(emulators.kube.get(DEPLOYMENT) as EmulatedObject)).toEqual({
      message: 'deployment "cdktf-ces-controller-east" successfully rolled out',
      done: true,
    });
    const pods = controllerPods(emulators);
    expect(pods).toHaveLength(2);
    expect(pods.every(isReady)).toBe(true);
    const ops = shapes(first.kubernetesOperations);
    // Terraform applies independent resources in any order; these are the orders it guarantees.
    expect([...ops].sort()).toEqual([
      'create ClusterEgressRule /allow-dns',
      'create ClusterRole /cdktf-ces-controller-east',
      'create ClusterRoleBinding /cdktf-ces-controller-east',
      'create ConfigMap cdktf-ces-system/cdktf-ces-controller-east-code-<hash>',
      'create ConfigMap cdktf-ces-system/cdktf-ces-controller-east-plan-<hash>',
      'create CustomResourceDefinition /clusteregressrules.egress.cdktf-ces.io',
      'create CustomResourceDefinition /externalservices.egress.cdktf-ces.io',
      'create CustomResourceDefinition /namespaceegressrules.egress.cdktf-ces.io',
      'create CustomResourceDefinition /serviceegressrules.egress.cdktf-ces.io',
      'create Deployment cdktf-ces-system/cdktf-ces-controller-east',
      'create Namespace /cdktf-ces-system',
      'create NamespaceEgressRule payments/payments-partner',
      'create PodDisruptionBudget cdktf-ces-system/cdktf-ces-controller-east',
      'create Role bigip-credentials/cdktf-ces-controller-east-bigip-config',
      'create Role cdktf-ces-system/cdktf-ces-controller-east-leader',
      'create RoleBinding bigip-credentials/cdktf-ces-controller-east-bigip-config',
      'create RoleBinding cdktf-ces-system/cdktf-ces-controller-east-leader',
      'create Service cdktf-ces-system/cdktf-ces-controller-east-metrics',
      'create ServiceAccount cdktf-ces-system/cdktf-ces-controller-east',
    ]);
    // The CRD stack is done (every CRD Established) before the rule stack is planned.
    expect(ops.slice(0, 4).every((o) => o.startsWith('create CustomResourceDefinition '))).toBe(true);
    // The namespace before anything in it; the Deployment after what it mounts and runs as.
    const namespace = ops.indexOf('create Namespace /cdktf-ces-system');
    for (const o of ops.filter((x) => x.includes(' cdktf-ces-system/'))) expect(ops.indexOf(o)).toBeGreaterThan(namespace);
    const deployment = ops.indexOf('create Deployment cdktf-ces-system/cdktf-ces-controller-east');
    for (const o of ops.filter((x) => /^create (ConfigMap|ServiceAccount|Role|RoleBinding|ClusterRole|ClusterRoleBinding) /.test(x)))
      expect(ops.indexOf(o)).toBeLessThan(deployment);
    expect(first.declarations).toBe(1);
    // Each pod ran its init container (the bundle is unpacked into /app) and was started before it was Ready.
    for (const p of pods) {
      expect((p.spec as any).initContainers.map((c: any) => c.name)).toEqual(['unpack']);
      expect(cluster.workloads.events()).toContain(`Started ${CONTROLLER_NAMESPACE}/${p.metadata.name}: Started container controller`);
      expect(await get(cluster.httpPorts.get(p.metadata.name as string) as number, '/readyz')).toMatchObject({ status: 200 });
    }
  });

  test('2 a new rule renames the plan ConfigMap: the new one is created first, the Deployment rolls to it, then the old one is deleted', async () => {
    const oldPlan = planConfigMapOf((emulators.kube.get(DEPLOYMENT)?.spec as any).template.spec);
    const oldPods = controllerPods(emulators).map((p) => p.metadata.name);
    const second = await deploySynthOutput(synthApp({ shopRule: true }), emulators, { ...FAST, previous: deploys[0].state });
    deploys.push(second);
    const newPlan = planConfigMapOf((emulators.kube.get(DEPLOYMENT)?.spec as any).template.spec);
    expect(newPlan).not.toBe(oldPlan);
    expect(second.kubernetesOperations).toEqual([
      `create ConfigMap ${CONTROLLER_NAMESPACE}/${newPlan}`,
      `update Deployment ${CONTROLLER_NAMESPACE}/cdktf-ces-controller-east`,
      'create NamespaceEgressRule shop/shop-partner',
      // The deposed ConfigMap goes last, once what used it is updated (and rolled out).
      `delete ConfigMap ${CONTROLLER_NAMESPACE}/${oldPlan}`,
    ]);
    expect(emulators.kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: CONTROLLER_NAMESPACE, name: oldPlan })).toBeUndefined();
    // The deploy returned after the rollout: only new pods, on the new plan, all Ready.
    expect(rolloutStatus(emulators.kube.get(DEPLOYMENT) as EmulatedObject).done).toBe(true);
    const pods = controllerPods(emulators);
    expect(pods).toHaveLength(2);
    expect(pods.filter((p) => oldPods.includes(p.metadata.name))).toEqual([]);
    expect(pods.map((p) => [planConfigMapOf(p.spec), isReady(p)])).toEqual([
      [newPlan, true],
      [newPlan, true],
    ]);
  });

  test('3 kubectl edit of a rule CR: the controller reports it Ready=False/SpecNotDeployed; the next deploy applies only that CR and takes its spec back', async () => {
    emulators.kube.mergePatch(RULE, { spec: { action: 'Deny' } });
    await eventually(
      () => expect(readyCondition(emulators.kube.get(RULE))).toMatchObject({ status: 'False', reason: 'SpecNotDeployed' }),
      'the controller to report the edit',
    );
    const third = await deploySynthOutput(synthApp({ shopRule: true }), emulators, { ...FAST, previous: deploys[1].state });
    expect(third.kubernetesOperations).toEqual(['update NamespaceEgressRule payments/payments-partner']);
    expect(third.applied).toEqual([]);
    expect(emulators.kube.get(RULE)?.spec).toMatchObject({ action: 'Allow' });
    await eventually(() => readyCondition(emulators.kube.get(RULE))?.status === 'True', 'the controller to report the CR Ready again');
  });
});

describe('a first deploy before the BIG-IP login Secret exists', () => {
  test("the deploy fails with the provider's rollout timeout; the pods are live, not Ready, and say what they wait for; the Secret makes them Ready without a restart", async () => {
    const { emulators, workloads, httpPorts } = await startCluster({ loginSecret: false });
    try {
      const failure = await deploySynthOutput(synthApp(), emulators, { ...FAST, waitTimeoutMs: 3000 }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(DeployError);
      expect((failure as Error).message).toMatch(
        /^egress:kubernetes_manifest\.Controller_Deployment_\w+: Operation timed out: timed out waiting on rollout to complete$/,
      );
      const pods = controllerPods(emulators);
      expect(pods.map((p) => [(p.status as any).phase, isReady(p)])).toEqual([
        ['Running', false],
        ['Running', false],
      ]);
      const waitingFor = `Secret ${CREDENTIALS_NAMESPACE}/bigip-egress-login: not found`;
      for (const p of pods) {
        const port = httpPorts.get(p.metadata.name as string) as number;
        expect(await get(port, '/healthz')).toMatchObject({ status: 200 });
        const readyz = await get(port, '/readyz');
        expect(readyz.status).toBe(503);
        expect(JSON.parse(readyz.body).waitingFor).toMatch(new RegExp(`^${waitingFor.replace(/[/.]/g, '\\$&')}; `));
        expect((await get(port, '/metrics')).body).toMatch(/^cdktf_ces_waiting_for_configuration 1$/m);
      }
      createLoginSecret(emulators);
      await eventually(() => rolloutStatus(emulators.kube.get(DEPLOYMENT) as EmulatedObject).done, 'the rollout once the Secret exists');
      const after = controllerPods(emulators);
      expect(after.map((p) => p.metadata.name).sort()).toEqual(pods.map((p) => p.metadata.name).sort());
      expect(after.map((p) => [isReady(p), (p.status as any).containerStatuses[0].restartCount])).toEqual([
        [true, 0],
        [true, 0],
      ]);
    } finally {
      await workloads.stop();
      await emulators.stop();
    }
  });

  test('what must exist before the first deploy: the team namespaces; without them the rule CRs cannot be created', async () => {
    const { emulators, workloads } = await startCluster({ teamNamespaces: false });
    try {
      const failure = await deploySynthOutput(synthApp(), emulators, FAST).catch((e: Error) => e.message);
      expect(failure).toMatch(
        /^egress:kubernetes_manifest\.Payments_\w+: API response status: Failure: namespaces "payments" not found\nKubernetes API Error: NotFound namespaces \[payments\]$/,
      );
    } finally {
      await workloads.stop();
      await emulators.stop();
    }
  });
});
