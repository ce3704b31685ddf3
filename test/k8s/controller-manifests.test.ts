import { TerraformStack } from 'cdktf';
import { ClusterEgressRule, EgressAction, EgressController, EgressDestination as D, EgressControllerProps } from '../../lib';
import { controllerManifests, ControllerSettings } from '../../lib/k8s/controller-manifests';
import { PLAN_FORMAT } from '../../lib/policy/plan';
import { restrictedProfileViolations } from '../../lib/testing/pod-security';
import { deviceStack, synthJson } from '../support/app';
import { refusal } from '../constructs/synthesized';

function controllerObjects(props: Partial<EgressControllerProps> = {}) {
  const { stack, device } = deviceStack();
  new ClusterEgressRule(stack, 'Dns', { device, action: EgressAction.ALLOW_FINAL, destinations: [D.address('10.96.0.10')] });
  new EgressController(stack, 'Controller', {
    device,
    credentialsSecret: 'bigip-login',
    caBundleConfigMap: 'bigip-ca',
    image: 'registry.example/cdktf-ces:1',
    ...props,
  });
  return { stack, objects: manifests(stack) };
}

function manifests(stack: TerraformStack): any[] {
  return Object.values(synthJson(stack).resource.kubernetes_manifest as Record<string, any>)
    .map((r) => r.manifest)
    .filter((m) => m.metadata?.labels?.['app.kubernetes.io/name'] === 'cdktf-ces-controller' || m.kind === 'Namespace');
}

const byKind = (objects: any[], kind: string) => objects.filter((o) => o.kind === kind);

describe('EgressController', () => {
  test('RBAC is least privilege: read the cluster, patch only rule status, its own Lease, get only its BIG-IP login and CA', () => {
    const { objects } = controllerObjects();
    // The controller lists and watches these (lib/controller/main.ts) and merge-patches rule
    // status (kube.mergePatchStatus); it never reads ExternalServices (the plan holds them).
    expect(byKind(objects, 'ClusterRole')[0].rules).toEqual([
      { apiGroups: [''], resources: ['pods', 'namespaces', 'services'], verbs: ['get', 'list', 'watch'] },
      {
        apiGroups: ['egress.cdktf-ces.io'],
        resources: ['clusteregressrules', 'namespaceegressrules', 'serviceegressrules'],
        verbs: ['get', 'list', 'watch'],
      },
      {
        apiGroups: ['egress.cdktf-ces.io'],
        resources: ['clusteregressrules/status', 'namespaceegressrules/status', 'serviceegressrules/status'],
        verbs: ['patch'],
      },
    ]);
    // Cluster-scoped objects carry no namespace.
    expect([...byKind(objects, 'ClusterRole'), ...byKind(objects, 'ClusterRoleBinding')].map((o) => o.metadata.namespace)).toEqual([
      undefined,
      undefined,
    ]);
    const byName = (a: any, b: any) => a.metadata.name.localeCompare(b.metadata.name);
    expect(
      byKind(objects, 'Role')
        .sort(byName)
        .map((r) => [r.metadata.namespace, r.metadata.name, r.rules]),
    ).toEqual([
      [
        'cdktf-ces-system',
        'cdktf-ces-controller-prod-bigip-config',
        [
          { apiGroups: [''], resources: ['secrets'], resourceNames: ['bigip-login'], verbs: ['get'] },
          { apiGroups: [''], resources: ['configmaps'], resourceNames: ['bigip-ca'], verbs: ['get'] },
        ],
      ],
      [
        'cdktf-ces-system',
        'cdktf-ces-controller-prod-leader',
        [
          { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
          {
            apiGroups: ['coordination.k8s.io'],
            resources: ['leases'],
            resourceNames: ['cdktf-ces-controller-prod'],
            verbs: ['get', 'update'],
          },
        ],
      ],
    ]);
    expect(
      byKind(objects, 'RoleBinding')
        .sort(byName)
        .map((b) => [b.metadata.name, b.roleRef.name, b.subjects]),
    ).toEqual([
      [
        'cdktf-ces-controller-prod-bigip-config',
        'cdktf-ces-controller-prod-bigip-config',
        [{ kind: 'ServiceAccount', name: 'cdktf-ces-controller-prod', namespace: 'cdktf-ces-system' }],
      ],
      [
        'cdktf-ces-controller-prod-leader',
        'cdktf-ces-controller-prod-leader',
        [{ kind: 'ServiceAccount', name: 'cdktf-ces-controller-prod', namespace: 'cdktf-ces-system' }],
      ],
    ]);
    const verbs = objects.flatMap((o) => (o.rules ?? []).flatMap((r: any) => r.verbs));
    expect(verbs).not.toContain('delete');
    expect(verbs).not.toContain('*');
  });

  test('the Deployment passes the Pod Security "restricted" profile', () => {
    const { objects } = controllerObjects();
    const deployment = byKind(objects, 'Deployment')[0];
    expect(restrictedProfileViolations(deployment.spec.template.spec)).toEqual([]);
    expect(byKind(objects, 'Namespace')[0].metadata.labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  test('two replicas with probes, resources and a disruption budget', () => {
    const { objects } = controllerObjects();
    const deployment = byKind(objects, 'Deployment')[0];
    const container = deployment.spec.template.spec.containers[0];
    expect(deployment.spec.replicas).toBe(2);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(container.resources).toEqual({ requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '256Mi' } });
    expect(container.terminationMessagePolicy).toBe('FallbackToLogsOnError');
    // AlwaysAllow: an unready replica (crash loop, missing Secret) never blocks a node drain.
    expect(byKind(objects, 'PodDisruptionBudget')[0].spec).toEqual({
      minAvailable: 1,
      selector: {
        matchLabels: { 'app.kubernetes.io/name': 'cdktf-ces-controller', 'app.kubernetes.io/instance': 'cdktf-ces-controller-prod' },
      },
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    });
    expect(byKind(controllerObjects({ replicas: 1 }).objects, 'PodDisruptionBudget')).toEqual([]);
  });

  test('credentials only by reference: the controller reads the Secret through the API; nothing mounts or copies it', () => {
    const { stack, objects } = controllerObjects();
    const spec = byKind(objects, 'Deployment')[0].spec.template.spec;
    // A Secret or ConfigMap volume would hold the pod in ContainerCreating while it is missing.
    expect(spec.volumes.filter((v: any) => v.secret || (v.configMap && !v.configMap.name.includes('-plan-')))).toEqual([]);
    expect(spec.containers[0].env).toEqual(
      expect.arrayContaining([
        { name: 'BIGIP_CREDENTIALS_SECRET', value: 'cdktf-ces-system/bigip-login' },
        { name: 'BIGIP_CA_CONFIGMAP', value: 'cdktf-ces-system/bigip-ca' },
        { name: 'BIGIP_CA_KEY', value: 'ca.crt' },
      ]),
    );
    expect(byKind(objects, 'Secret')).toEqual([]);
    expect(JSON.stringify(synthJson(stack))).not.toMatch(/password"\s*:\s*"[^$]/);
  });

  test('the plan is an immutable ConfigMap named after its content, rendered with rules added later', () => {
    const { stack, device } = deviceStack();
    new EgressController(stack, 'Controller', { device, credentialsSecret: 's', caBundleConfigMap: 'ca', image: 'x:1' });
    new ClusterEgressRule(stack, 'Later', { device, action: EgressAction.DENY, destinations: [D.cidr('203.0.113.0/24')] });
    const cm = byKind(manifests(stack), 'ConfigMap')[0];
    expect(cm.immutable).toBe(true);
    expect(cm.metadata.name).toMatch(/^cdktf-ces-controller-prod-plan-[0-9a-f]{10}$/);
    const plan = JSON.parse(cm.data['plan.json']);
    expect(plan.rules.map((r: { key: string }) => r.key)).toEqual(['cluster/later']);
    const mounted = byKind(manifests(stack), 'Deployment')[0].spec.template.spec.volumes.find((v: any) => v.name === 'plan');
    expect(mounted.configMap.name).toBe(cm.metadata.name);
  });

  test('bad props name the field, the value and the fix', () => {
    const { stack, device } = deviceStack();
    expect(() =>
      refusal(
        () =>
          new EgressController(stack, 'C', {
            device,
            credentialsSecret: 'Bad Secret',
            replicas: 9,
            memoryLimit: '256MB',
            image: 'x:1',
            insecureSkipTlsVerify: true,
            caBundleConfigMap: 'ca',
          }),
      ),
    ).toThrow(
      /\[egress\/C\] credentialsSecret: must name an existing Secret .* \(got "Bad Secret"\)\n\[egress\/C\] insecureSkipTlsVerify: contradicts caBundleConfigMap; set only one \(got true\)\n\[egress\/C\] replicas: must be a whole number from 1 to 5 \(got 9\)\n\[egress\/C\] memoryLimit: must be a Kubernetes quantity/,
    );
    expect(() => refusal(() => new EgressController(stack, 'D', { device, credentialsSecret: 's', image: 'x:1' }))).toThrow(
      /caBundleConfigMap: TLS verification is on by default/,
    );
  });
});

describe('restrictedProfileViolations', () => {
  test('reports each restricted control a pod breaks', () => {
    const violations = restrictedProfileViolations({
      hostNetwork: true,
      securityContext: { seccompProfile: { type: 'Unconfined' } },
      volumes: [{ name: 'h', hostPath: { path: '/' } }],
      containers: [
        {
          name: 'c',
          ports: [{ containerPort: 80, hostPort: 80 }],
          securityContext: { privileged: true, capabilities: { add: ['NET_ADMIN'] } },
        },
      ],
    });
    expect(violations).toEqual([
      'host namespaces: hostNetwork, hostPID and hostIPC must be unset or false',
      'volume h: hostPath volumes are forbidden',
      'pod seccompProfile Unconfined must be RuntimeDefault or Localhost',
      'container c: privileged must be false',
      'container c: hostPort 80 is forbidden',
      'container c: capability NET_ADMIN may not be added',
      'container c: allowPrivilegeEscalation must be false',
      'container c: capabilities must drop ALL',
      'container c: runAsNonRoot must be true (on the pod or the container)',
      'container c: seccompProfile must be RuntimeDefault or Localhost (on the pod or the container)',
    ]);
  });
});

describe('controllerManifests', () => {
  const settings: ControllerSettings = {
    namespace: 'cdktf-ces-system',
    createNamespace: true,
    plan: { format: PLAN_FORMAT, cluster: 'prod', tenant: 'k8s_prod', application: 'egress', routeDomain: 0, lists: [], rules: [] },
    bigipUrl: 'https://bigip.example.net',
    credentialsSecret: { namespace: 'cdktf-ces-system', name: 'bigip-login' },
    usernameKey: 'username',
    passwordKey: 'password',
    caKey: 'ca.crt',
    insecureSkipTlsVerify: false,
    image: 'registry.example/cdktf-ces:1',
    nodeImage: 'node:22-alpine',
    replicas: 2,
    cpuRequest: '50m',
    memoryRequest: '128Mi',
    memoryLimit: '256Mi',
    coalesceMs: 250,
    maxPushesPerSecond: 20,
    logLevel: 'info',
  };
  const env = (s: ControllerSettings) =>
    (controllerManifests(s).find((m) => m.kind === 'Deployment') as any).spec.template.spec.containers[0].env.map(
      (e: { name: string }) => e.name,
    );

  test('only a real true turns TLS verification off, never a truthy string', () => {
    expect(env({ ...settings, insecureSkipTlsVerify: true })).toContain('BIGIP_INSECURE_SKIP_TLS_VERIFY');
    for (const value of ['false', 'no', 1])
      expect(env({ ...settings, insecureSkipTlsVerify: value as unknown as boolean })).not.toContain('BIGIP_INSECURE_SKIP_TLS_VERIFY');
  });
});
