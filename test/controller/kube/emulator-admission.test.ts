/**
 * Admission and validation of the Kubernetes API emulator: Pod Security on labelled
 * namespaces, name rules, ConfigMap/Secret immutability and size, the etcd request limit,
 * quantity canonicalisation, and Lease updates without a resourceVersion.
 */
import fc from 'fast-check';
import { LEASES, PODS, ResourceType, SERVICES } from '../../../lib/clients/kube/resources';
import { KubeEmulatorError } from '../../emulators/kube/emulator';
import { Harness, errorOf, rawRequest, startHarness } from './helpers';

const CONFIGMAPS: ResourceType = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };
const DEPLOYMENTS: ResourceType = { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true };

/** The pod template of a workload that meets the restricted profile. */
const restrictedSpec = () => ({
  securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
  containers: [
    { name: 'app', image: 'registry.example/app:1', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } },
  ],
  volumes: [{ name: 'plan', configMap: { name: 'plan' } }],
});

describe('Pod Security admission', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ namespaces: ['default'] });
    h.emulator.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'locked', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    });
  });
  afterEach(() => h.close());

  test('a pod that misses the restricted controls is refused with every violation, in upstream order and words', async () => {
    const err = await errorOf(
      h.client.create(PODS, {
        metadata: { namespace: 'locked', name: 'loose' },
        spec: {
          hostNetwork: true,
          containers: [{ name: 'app', image: 'x', ports: [{ containerPort: 80, hostPort: 8080 }] }],
          volumes: [{ name: 'host', hostPath: { path: '/' } }],
        },
      }),
    );
    expect(err.statusCode).toBe(403);
    expect(err.reason).toBe('Forbidden');
    expect(err.status?.message).toBe(
      'pods "loose" is forbidden: violates PodSecurity "restricted:latest": host namespaces (hostNetwork=true), hostPort (container "app" uses hostPort 8080), ' +
        'allowPrivilegeEscalation != false (container "app" must set securityContext.allowPrivilegeEscalation=false), ' +
        'unrestricted capabilities (container "app" must set securityContext.capabilities.drop=["ALL"]), ' +
        'restricted volume types (volume "host" uses restricted volume type "hostPath"), ' +
        'runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), ' +
        'seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    );
    expect(h.emulator.get({ apiVersion: 'v1', kind: 'Pod', namespace: 'locked', name: 'loose' })).toBeUndefined();
  });

  test('explicit bad values are named as such', async () => {
    const spec = restrictedSpec();
    spec.securityContext = { runAsNonRoot: false, seccompProfile: { type: 'Unconfined' } } as never;
    (spec.containers[0].securityContext as Record<string, unknown>).runAsUser = 0;
    const err = await errorOf(h.client.create(PODS, { metadata: { namespace: 'locked', name: 'p' }, spec }));
    expect(err.status?.message).toBe(
      'pods "p" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false), ' +
        'runAsUser=0 (container "app" must not set runAsUser=0), seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")',
    );
  });

  test('a pod that meets the restricted profile is admitted; unlabelled namespaces admit anything', async () => {
    await h.client.create(PODS, { metadata: { namespace: 'locked', name: 'ok' }, spec: restrictedSpec() });
    await h.client.create(PODS, {
      metadata: { namespace: 'default', name: 'anything' },
      spec: { hostNetwork: true, containers: [{ name: 'c', image: 'x' }] },
    });
  });

  test('a Deployment with a non-compliant template is stored, with a Warning header (pod controllers are only warned)', async () => {
    const res = await rawRequest(h, 'POST', '/apis/apps/v1/namespaces/locked/deployments', {
      body: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web' },
        spec: {
          selector: { matchLabels: { a: 'b' } },
          template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'x' }] } },
        },
      },
    });
    expect(res.status).toBe(201);
    expect(String(res.headers.warning)).toMatch(
      /^299 - "would violate PodSecurity \\"restricted:latest\\": allowPrivilegeEscalation != false \(container \\"c\\" must set/,
    );
    const ok = await rawRequest(h, 'POST', '/apis/apps/v1/namespaces/locked/deployments', {
      body: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'ok' },
        spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: restrictedSpec() } },
      },
    });
    expect(ok.status).toBe(201);
    expect(ok.headers.warning).toBeUndefined();
  });

  test('updates are checked only when they touch the containers; status writes never', async () => {
    h.emulator.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'later' } });
    await h.client.create(PODS, { metadata: { namespace: 'later', name: 'old' }, spec: { containers: [{ name: 'c', image: 'x:1' }] } });
    h.emulator.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'later', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    });
    await h.client.mergePatch(PODS, 'old', { metadata: { labels: { touched: 'yes' } } }, 'later');
    await h.client.mergePatchStatus(PODS, 'old', { status: { phase: 'Running' } }, 'later');
    const err = await errorOf(h.client.mergePatch(PODS, 'old', { spec: { containers: [{ name: 'c', image: 'x:2' }] } }, 'later'));
    expect(err.status?.message).toContain('violates PodSecurity "restricted:latest"');
  });

  test('baseline refuses host namespaces and privileged containers but not the restricted-only controls', async () => {
    h.emulator.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'base', labels: { 'pod-security.kubernetes.io/enforce': 'baseline' } },
    });
    await h.client.create(PODS, { metadata: { namespace: 'base', name: 'plain' }, spec: { containers: [{ name: 'c', image: 'x' }] } });
    const err = await errorOf(
      h.client.create(PODS, {
        metadata: { namespace: 'base', name: 'priv' },
        spec: { containers: [{ name: 'c', image: 'x', securityContext: { privileged: true } }] },
      }),
    );
    expect(err.status?.message).toBe(
      'pods "priv" is forbidden: violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)',
    );
  });
});

describe('validation of built-in objects', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness({ namespaces: ['default'] });
  });
  afterEach(() => h.close());

  test('Service names are DNS-1035 labels: a leading digit or 64 characters are refused', async () => {
    const digit = await errorOf(h.client.create(SERVICES, { metadata: { namespace: 'default', name: '1-metrics' }, spec: {} }));
    expect(digit.statusCode).toBe(422);
    expect(digit.status?.message).toBe(
      `Service "1-metrics" is invalid: metadata.name: Invalid value: "1-metrics": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
    );
    const long = `m${'a'.repeat(63)}`;
    const tooLong = await errorOf(h.client.create(SERVICES, { metadata: { namespace: 'default', name: long }, spec: {} }));
    expect(tooLong.status?.message).toBe(
      `Service "${long}" is invalid: metadata.name: Invalid value: "${long}": must be no more than 63 characters`,
    );
    // A pod may start with a digit: its name is a DNS-1123 subdomain.
    await h.client.create(PODS, { metadata: { namespace: 'default', name: '1-pod' }, spec: { containers: [{ name: 'c', image: 'x' }] } });
  });

  test('an immutable ConfigMap refuses data changes and cannot be made mutable; labels may change', async () => {
    const cm = await h.client.create(CONFIGMAPS, {
      metadata: { namespace: 'default', name: 'plan' },
      immutable: true,
      data: { 'plan.json': '{}' },
    } as never);
    const err = await errorOf(h.client.replace(CONFIGMAPS, { ...cm, data: { 'plan.json': '{"x":1}' } } as never));
    expect(err.statusCode).toBe(422);
    expect(err.status?.message).toBe('ConfigMap "plan" is invalid: data: Forbidden: field is immutable when `immutable` is set');
    const unlock = await errorOf(h.client.mergePatch(CONFIGMAPS, 'plan', { immutable: false }, 'default'));
    expect(unlock.status?.message).toBe('ConfigMap "plan" is invalid: immutable: Forbidden: field is immutable when `immutable` is set');
    await h.client.mergePatch(CONFIGMAPS, 'plan', { metadata: { labels: { seen: 'yes' } } }, 'default');
  });

  test('ConfigMap data over 1 MiB, annotations over 256 KiB and request bodies over 3 MiB are refused', async () => {
    const big = 'x'.repeat(1024 * 1024);
    const err = await errorOf(
      h.client.create(CONFIGMAPS, { metadata: { namespace: 'default', name: 'big' }, data: { a: big, b: 'y' } } as never),
    );
    expect(err.status?.message).toBe('ConfigMap "big" is invalid: []: Too long: may not be more than 1048576 bytes');
    // Exactly 1 MiB of data passes validation.
    await h.client.create(CONFIGMAPS, { metadata: { namespace: 'default', name: 'full' }, data: { a: big } } as never);
    // Annotations have their own 256 KiB limit.
    const notes = await errorOf(
      h.client.create(CONFIGMAPS, {
        metadata: { namespace: 'default', name: 'notes', annotations: { a: 'z'.repeat(256 * 1024) } },
      } as never),
    );
    expect(notes.status?.message).toBe('ConfigMap "notes" is invalid: metadata.annotations: Too long: may not be more than 262144 bytes');
    // Over 3 MiB the request body itself is refused.
    const body = await rawRequest(h, 'POST', '/api/v1/namespaces/default/configmaps', {
      body: { metadata: { name: 'body' }, data: { a: 'q'.repeat(3 * 1024 * 1024) } },
    });
    expect(body.status).toBe(413);
    expect(body.json.message).toBe('Request entity too large: limit is 3145728');
  });

  test('Secret stringData is written into data and never stored', async () => {
    const s = h.emulator.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { namespace: 'default', name: 'login' },
      stringData: { username: 'egress' },
    });
    expect(s.data).toEqual({ username: Buffer.from('egress').toString('base64') });
    expect(s.stringData).toBeUndefined();
  });

  test('resource quantities are stored in canonical form', async () => {
    const d = await h.client.create(DEPLOYMENTS, {
      metadata: { namespace: 'default', name: 'q' },
      spec: {
        selector: { matchLabels: { a: 'b' } },
        template: {
          metadata: { labels: { a: 'b' } },
          spec: {
            containers: [
              { name: 'c', image: 'x', resources: { requests: { cpu: '1000m', memory: '1024Mi' }, limits: { cpu: 0.5, memory: '1.5Gi' } } },
            ],
          },
        },
      },
    } as never);
    expect((d as any).spec.template.spec.containers[0].resources).toEqual({
      requests: { cpu: '1', memory: '1Gi' },
      limits: { cpu: '500m', memory: '1536Mi' },
    });
    const bad = await errorOf(
      h.client.create(PODS, {
        metadata: { namespace: 'default', name: 'bad' },
        spec: { containers: [{ name: 'c', image: 'x', resources: { limits: { cpu: 'lots' } } }] },
      }),
    );
    expect(bad.statusCode).toBe(400);
    expect(bad.status?.message).toBe(
      `Pod in version "v1" cannot be handled as a Pod: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
    );
  });

  test('canonical quantities match upstream examples and are fixed points', () => {
    // Upstream examples from quantity.go and quantity_test.go.
    const cases: [string, string][] = [
      ['1000m', '1'],
      ['0.5', '500m'],
      ['1024Mi', '1Gi'],
      ['1.5Gi', '1536Mi'],
      ['1.5', '1500m'],
      ['1000M', '1G'],
      ['.001Ki', '1024m'],
      ['.000000000001Ki', '2n'],
      ['2000', '2k'],
      ['1e3', '1e3'],
      ['0.1m', '100u'],
    ];
    const canonical = (q: string) => {
      const pod = h.emulator.apply({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { namespace: 'default', name: 'q' },
        spec: { containers: [{ name: 'c', image: 'x', resources: { limits: { x: q } } }] },
      });
      return (pod.spec as any).containers[0].resources.limits.x as string;
    };
    for (const [input, out] of cases) expect([input, canonical(input)]).toEqual([input, out]);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 15n }), fc.constantFrom('', 'm', 'k', 'M', 'Ki', 'Mi', 'Gi'), (n, suffix) => {
        const once = canonical(`${n}${suffix}`);
        expect(canonical(once)).toBe(once);
      }),
      { numRuns: 60 },
    );
  });

  test('a Lease (or PodDisruptionBudget) update without resourceVersion is 422; with a stale one 409', async () => {
    const lease = await h.client.create(LEASES, { metadata: { namespace: 'default', name: 'l' }, spec: { holderIdentity: 'a' } });
    const missing = await errorOf(
      h.client.replace(LEASES, { metadata: { namespace: 'default', name: 'l' }, spec: { holderIdentity: 'b' } }),
    );
    expect(missing.statusCode).toBe(422);
    expect(missing.status?.message).toBe(
      'leases.coordination.k8s.io "l" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
    );
    await h.client.replace(LEASES, { ...lease, spec: { holderIdentity: 'b' } });
    expect((await errorOf(h.client.replace(LEASES, { ...lease, spec: { holderIdentity: 'c' } }))).statusCode).toBe(409);
    // Most built-in kinds allow an unconditional PUT (their strategies say so); PodDisruptionBudgets do not.
    const cm = await h.client.create(CONFIGMAPS, { metadata: { namespace: 'default', name: 'free' }, data: { a: '1' } } as never);
    await h.client.replace(CONFIGMAPS, { ...cm, metadata: { namespace: 'default', name: 'free' }, data: { a: '2' } } as never);
    const pdb = {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'p' },
      spec: { maxUnavailable: 1, selector: { matchLabels: { a: 'b' } } },
    };
    expect((await rawRequest(h, 'POST', '/apis/policy/v1/namespaces/default/poddisruptionbudgets', { body: pdb })).status).toBe(201);
    const put = await rawRequest(h, 'PUT', '/apis/policy/v1/namespaces/default/poddisruptionbudgets/p', { body: pdb });
    expect(put.json.message).toBe(
      'poddisruptionbudgets.policy "p" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
    );
  });

  test('the programmatic API raises the same Status as HTTP', () => {
    expect(() => h.emulator.apply({ apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name: '9x' }, spec: {} })).toThrow(
      KubeEmulatorError,
    );
  });
});
