/**
 * The CRD stack and the rule CRs deployed as the kubernetes provider deploys them: the rule
 * stack is planned right after the CRD stack is applied (field audit K1), and a rule CR edited
 * with kubectl is taken back by the next deploy (K13). Each behaviour of the replay that these
 * rest on is checked with what an older construct synthesized.
 */
import { API_GROUP } from '../../lib/k8s/crds';
import { DeployError, Emulators, controllerContainerRunner, deploySynthOutput } from '../emulators/deploy';
import { WorkloadEmulator } from '../emulators/kube/workloads';
import { createPrerequisites, editResource, emptyCluster, removeSynthDirs, synthApp as synthAppWith } from './deploy-support';

// Generous bounds: under a fully loaded CI machine the controller pods can take long to start.
jest.setTimeout(360_000);

/** The rollout wait of the controller's Deployment bounded below the test's timeout (the provider's default is 10 min). */
const FAST = { waitPollMs: 20, waitTimeoutMs: 300_000 };
/** One controller replica: the deploy waits for its rollout, and these tests are about the CRDs and rules. */
const synthApp = () => synthAppWith({ replicas: 1 });
const isCrd = (c: Record<string, any>) => c.manifest.kind === 'CustomResourceDefinition';
const isRule = (c: Record<string, any>) => String(c.manifest.apiVersion).startsWith(`${API_GROUP}/`);
const RULE = { apiVersion: `${API_GROUP}/v1alpha1`, kind: 'NamespaceEgressRule', namespace: 'payments', name: 'payments-partner' };

let emulators: Emulators | undefined;
let workloads: WorkloadEmulator | undefined;
afterEach(async () => {
  await workloads?.stop();
  await emulators?.stop();
  workloads = undefined;
  emulators = undefined;
});
afterAll(removeSynthDirs);

/** An empty cluster with the README's prerequisites, whose pods run (the deploy waits for the controller's rollout). */
async function start(): Promise<Emulators> {
  emulators = await emptyCluster(1000);
  createPrerequisites(emulators);
  workloads = new WorkloadEmulator(emulators.kube, { runner: controllerContainerRunner(emulators), intervalMs: 50 }).start();
  return emulators;
}

describe('K1: the rule stack right after the CRD stack', () => {
  test('the CRD stack waits until every CRD is Established, so the rule stack plans and applies', async () => {
    const e = await start();
    const outdir = synthApp();
    const result = await deploySynthOutput(outdir, e, FAST);
    const crds = result.kubernetesOperations.filter((o) => o.startsWith('create CustomResourceDefinition'));
    expect(crds).toHaveLength(4);
    // Every CRD before any rule, and the rules are there.
    const firstRule = result.kubernetesOperations.findIndex((o) => /EgressRule /.test(o));
    expect(firstRule).toBeGreaterThan(result.kubernetesOperations.lastIndexOf(crds[3]));
    expect(e.kube.get(RULE)?.spec).toMatchObject({ action: 'Allow' });
  });

  test('synthesized: every CRD waits for Established and forces its field ownership', () => {
    const outdir = synthApp();
    const seen: unknown[] = [];
    editResource(outdir, 'crds', 'kubernetes_manifest', isCrd, (c) => seen.push({ wait: c.wait, field_manager: c.field_manager }));
    expect(seen).toEqual(
      Array(4).fill({ wait: { condition: [{ type: 'Established', status: 'True' }] }, field_manager: { force_conflicts: true } }),
    );
  });

  test('without the wait (the old CRD stack) the rule stack plan fails as the provider does: discovery does not list the kind yet', async () => {
    const e = await start();
    const outdir = synthApp();
    editResource(outdir, 'crds', 'kubernetes_manifest', isCrd, (c) => delete c.wait);
    const failure = await deploySynthOutput(outdir, e, FAST).catch((x: unknown) => x);
    expect(failure).toBeInstanceOf(DeployError);
    expect((failure as DeployError).message).toMatch(
      /^egress:kubernetes_manifest\.\S+: API did not recognize GroupVersionKind from manifest \(CRD may not be installed\): no matches for kind "(Cluster|Namespace)EgressRule" in group "egress\.cdktf-ces\.io"$/,
    );
    // The plan failed: nothing of the rule stack was applied.
    expect(Object.keys((failure as DeployError).state.resources).every((k) => k.startsWith('crds:'))).toBe(true);
  });

  test("a wait that never holds ends with the provider's timeout", async () => {
    const e = await start();
    const outdir = synthApp();
    editResource(
      outdir,
      'crds',
      'kubernetes_manifest',
      isCrd,
      (c) => (c.wait = { condition: [{ type: 'Established', status: 'Unknown' }] }),
    );
    await expect(deploySynthOutput(outdir, e, { ...FAST, waitTimeoutMs: 300 })).rejects.toThrow(
      /^crds:kubernetes_manifest\.\S+: Operation timed out: timed out waiting on conditions$/,
    );
  });
});

describe('K13: a rule CR edited with kubectl', () => {
  const edit = (e: Emulators) => e.kube.mergePatch(RULE, { spec: { action: 'Deny' } });

  test('the next deploy takes the spec back (field_manager force_conflicts)', async () => {
    const e = await start();
    const outdir = synthApp();
    const first = await deploySynthOutput(outdir, e, FAST);
    edit(e);
    expect(e.kube.get(RULE)?.spec).toMatchObject({ action: 'Deny' });
    const second = await deploySynthOutput(outdir, e, { ...FAST, previous: first.state });
    // Only the drifted CR is applied again; Terraform owns its spec once more.
    expect(second.kubernetesOperations).toEqual(['update NamespaceEgressRule payments/payments-partner']);
    const rule = e.kube.get(RULE);
    expect(rule?.spec).toMatchObject({ action: 'Allow' });
    const managers = (rule?.metadata.managedFields ?? []) as { manager: string; operation: string; fieldsV1?: any }[];
    expect(managers.find((m) => m.manager === 'Terraform')?.fieldsV1?.['f:spec']?.['f:action']).toEqual({});
    expect(managers.find((m) => m.manager === 'kubectl-edit')?.fieldsV1?.['f:spec']?.['f:action']).toBeUndefined();
  });

  test('without force_conflicts (the old rule CRs) the deploy stops at the conflict, worded as the provider words it', async () => {
    const e = await start();
    const outdir = synthApp();
    editResource(outdir, 'egress', 'kubernetes_manifest', isRule, (c) => delete c.field_manager);
    const first = await deploySynthOutput(outdir, e, FAST);
    edit(e);
    const failure = await deploySynthOutput(outdir, e, { ...FAST, previous: first.state }).catch((x: unknown) => x);
    expect(failure).toBeInstanceOf(DeployError);
    expect((failure as Error).message).toBe(
      'egress:kubernetes_manifest.Payments_130453D3: There was a field manager conflict when trying to apply the manifest for "payments/payments-partner": ' +
        'The API returned the following conflict: "Apply failed with 1 conflict: conflict with \\"kubectl-edit\\" using egress.cdktf-ces.io/v1alpha1: .spec.action"\n\n' +
        'You can override this conflict by setting "force_conflicts" to true in the "field_manager" block.',
    );
    expect(e.kube.get(RULE)?.spec).toMatchObject({ action: 'Deny' });
  });
});
