import { Lazy, TerraformResource, TerraformStack, Testing } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { Manifest } from '@cdktf/provider-kubernetes/lib/manifest';
import { EgressAction, EgressDestination, ExternalService, NamespaceEgressRule } from '../../lib';
import { KubernetesManifest, KubernetesManifestConfig } from '../../lib/constructs/kubernetes-manifest';
import { deviceStack } from '../support/app';

const configMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'plan', namespace: 'egress' }, data: { 'a.json': '{}' } };

/** Every kind of input the constructs give a kubernetes_manifest, one resource each. */
const CONFIGS: Record<string, (stack: TerraformStack, earlier: TerraformResource[]) => KubernetesManifestConfig> = {
  plain: () => ({ manifest: configMap }),
  forceConflicts: () => ({ manifest: configMap, fieldManager: { forceConflicts: true } }),
  established: () => ({
    manifest: { apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'x.example.io' } },
    wait: { condition: [{ type: 'Established', status: 'True' }] },
    fieldManager: { forceConflicts: true },
  }),
  rollout: (_stack, earlier) => ({
    manifest: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'c', namespace: 'egress' } },
    wait: { rollout: true },
    dependsOn: earlier.slice(0, 2),
  }),
  createFirst: (_stack, earlier) => ({
    manifest: Lazy.anyValue({ produce: () => configMap }) as unknown as Record<string, unknown>,
    lifecycle: { createBeforeDestroy: true },
    dependsOn: [earlier[0]],
  }),
};

function stackOf(make: (stack: TerraformStack, id: string, config: KubernetesManifestConfig) => TerraformResource): TerraformStack {
  const stack = new TerraformStack(Testing.app(), 'egress');
  new KubernetesProvider(stack, 'k8s', {});
  const created: TerraformResource[] = [];
  for (const [id, config] of Object.entries(CONFIGS)) created.push(make(stack, id, config(stack, created)));
  return stack;
}

describe('KubernetesManifest', () => {
  const lean = () => stackOf((stack, id, config) => new KubernetesManifest(stack, id, config));
  const binding = () => stackOf((stack, id, config) => new Manifest(stack, id, config));

  test('synthesizes the Terraform JSON of the provider binding, byte for byte', () => {
    const json = Testing.synth(lean());
    expect(json).toBe(Testing.synth(binding()));
    // The inputs reach the output (a comparison of two empty documents would also be equal).
    const resources = JSON.parse(json).resource.kubernetes_manifest;
    expect(resources.established.wait).toEqual({ condition: [{ status: 'True', type: 'Established' }] });
    expect(resources.established.field_manager).toEqual({ force_conflicts: true });
    expect(resources.rollout.wait).toEqual({ rollout: true });
    expect(resources.rollout.depends_on).toEqual(['kubernetes_manifest.plain', 'kubernetes_manifest.forceConflicts']);
    expect(resources.createFirst.lifecycle).toEqual({ create_before_destroy: true });
    expect(resources.createFirst.manifest).toEqual(configMap);
  });

  test('synthesizes the HCL of the provider binding', () => {
    const hcl = Testing.synthHcl(lean());
    expect(hcl).toBe(Testing.synthHcl(binding()));
    expect(hcl).toContain('force_conflicts = true');
    expect(hcl).toContain('rollout = true');
  });

  test('a rule and an external service keep no creation stack traces (the binding keeps five per resource)', () => {
    const { stack, device } = deviceStack();
    const spy = jest.spyOn(Error, 'captureStackTrace');
    try {
      new Manifest(stack, 'Binding', { manifest: configMap });
      const byBinding = spy.mock.calls.length;
      spy.mockClear();
      const api = new ExternalService(stack, 'Api', { device, name: 'api', destinations: [EgressDestination.fqdn('api.example.com')] });
      new NamespaceEgressRule(stack, 'Web', {
        device,
        namespace: 'web',
        action: EgressAction.ALLOW,
        destinations: [EgressDestination.externalService(api)],
      });
      expect(byBinding).toBe(5);
      expect(spy.mock.calls).toHaveLength(0);
    } finally {
      spy.mockRestore();
    }
  });
});
