import { refusal } from './synthesized';
/**
 * EgressController objects as the API server and the kubernetes provider judge them: object
 * names within their kind's rule for every cluster name, quantities in canonical form, the
 * replacement order of content-named ConfigMaps, the rollout wait, the 1 MiB ConfigMap limit,
 * and the two ways the controller's code reaches the pod.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fc from 'fast-check';
import {
  ClusterEgressRule,
  EgressAction,
  EgressController,
  EgressControllerProps,
  EgressDestination as D,
  NamespaceEgressRule,
} from '../../lib';
import { CONTROLLER_BUNDLE } from '../../lib/constructs/egress-controller';
import { boundedName } from '../../lib/k8s/controller-manifests';
import { CLUSTER_NAME_MAX } from '../../lib/policy/device';
import { canonicalQuantity } from '../../lib/k8s/quantity';
import { restrictedProfileViolations } from '../../lib/testing/pod-security';
import { packageRoot } from '../../lib/util';
import { deviceStack, synthJson } from '../support/app';
import { issuesOf } from '../support/issues';

type Loose = Partial<Record<keyof EgressControllerProps, unknown>>;

function synthController(props: Loose = {}, clusterName = 'prod') {
  const { stack, device } = deviceStack({ clusterName });
  new ClusterEgressRule(stack, 'Dns', { device, action: EgressAction.ALLOW_FINAL, destinations: [D.address('10.96.0.10')] });
  refusal(
    () =>
      new EgressController(stack, 'Controller', {
        device,
        credentialsSecret: 'bigip-login',
        caBundleConfigMap: 'bigip-ca',
        ...props,
      } as EgressControllerProps),
  );
  const resources = synthJson(stack).resource.kubernetes_manifest as Record<string, any>;
  return { stack, resources, manifests: Object.values(resources).map((r) => r.manifest) };
}

const ofKind = (manifests: any[], kind: string) => manifests.filter((m) => m.kind === kind);
const podSpec = (manifests: any[]) => ofKind(manifests, 'Deployment')[0].spec.template.spec;

// The upstream rules, written out here independently of the library:
// apimachinery pkg/util/validation/validation.go IsDNS1035Label, IsDNS1123Label, IsDNS1123Subdomain.
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function nameProblems(m: any): string[] {
  const problems: string[] = [];
  const name: string = m.metadata.name;
  if (m.kind === 'Service') {
    if (name.length > 63 || !DNS_1035_LABEL.test(name)) problems.push(`Service ${name}: not a DNS-1035 label`);
  } else if (name.length > 253 || !DNS_1123_SUBDOMAIN.test(name)) problems.push(`${m.kind} ${name}: not a DNS-1123 subdomain`);
  for (const [key, value] of Object.entries({ ...(m.metadata.labels ?? {}), ...(m.spec?.template?.metadata?.labels ?? {}) }) as [
    string,
    string,
  ][]) {
    if (value.length > 63 || !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(value))
      problems.push(`${m.kind} ${name}: label ${key}=${value} is not a label value`);
  }
  return problems;
}

const clusterNames = fc
  .tuple(fc.integer({ min: 1, max: CLUSTER_NAME_MAX }), fc.stringMatching(/^[a-z0-9-]*$/), fc.constantFrom('a', 'z', '0', '9'))
  .map(([length, body, edge]) => `${edge}${body.padEnd(length, 'x')}`.slice(0, length - 1) + edge)
  .filter((n) => DNS_1123_LABEL.test(n) && n.length <= CLUSTER_NAME_MAX);

describe('object names derived from the cluster name (K2)', () => {
  test('a 40-character cluster name is accepted; its metrics Service keeps a readable head and ends in a digest of the full name', () => {
    const cluster = 'c'.repeat(CLUSTER_NAME_MAX);
    const { manifests } = synthController({ image: 'x:1' }, cluster);
    const service = ofKind(manifests, 'Service')[0];
    expect(service.metadata.name).toBe('cdktf-ces-controller-ccccccccccccccccccccccccccccccccc-e0edbcd2');
    expect(service.metadata.name).toHaveLength(63);
    expect(service.metadata.name).toBe(boundedName(`cdktf-ces-controller-${cluster}-metrics`, 63));
    expect(manifests.flatMap(nameProblems)).toEqual([]);
  });

  test('every generated object name and label value meets its upstream rule, for every cluster name up to the limit', () => {
    fc.assert(
      fc.property(clusterNames, (cluster) => {
        const { manifests } = synthController({ image: 'x:1' }, cluster);
        expect(manifests.flatMap(nameProblems)).toEqual([]);
      }),
      { numRuns: 40, examples: [['a'.repeat(CLUSTER_NAME_MAX)], ['a'.repeat(34)], ['a'.repeat(35)], ['0'], ['a-b']] },
    );
  });

  test('bounded names are deterministic, within the limit, keep their head, and differ for different names', () => {
    const names = fc.stringMatching(/^[a-z][-a-z0-9]{0,120}[a-z0-9]$/);
    fc.assert(
      fc.property(names, names, fc.integer({ min: 20, max: 63 }), (a, b, max) => {
        const x = boundedName(a, max);
        expect(boundedName(a, max)).toBe(x);
        expect(x.length).toBeLessThanOrEqual(max);
        expect(DNS_1035_LABEL.test(x)).toBe(true);
        if (a.length <= max) expect(x).toBe(a);
        else expect(x.slice(0, max - 9).replace(/-+$/, '')).toBe(a.slice(0, max - 9).replace(/-+$/, ''));
        if (a !== b) expect(boundedName(b, max)).not.toBe(x);
      }),
      { numRuns: 300 },
    );
  });
});

describe('resource quantities (K4)', () => {
  test.each([
    ['cpuRequest', '0.5', '500m'],
    ['cpuRequest', '1000m', '1'],
    ['cpuRequest', '1000', '1k'],
    ['memoryRequest', '1024Mi', '1Gi'],
    ['memoryLimit', '1E3', '1e3'],
    ['memoryLimit', '0.5Gi', '512Mi'],
    ['memoryLimit', '100.0Mi', '100Mi'],
  ])('%s %p is refused with the form the API server would store: %p', (field, value, canonical) => {
    const issues = issuesOf(() => synthController({ image: 'x:1', [field]: value }));
    expect(issues).toEqual([
      {
        path: 'egress/Controller',
        field,
        value: JSON.stringify(value),
        message: `the API server stores it as "${canonical}" and Terraform then reports an inconsistent result after apply: write "${canonical}"`,
      },
    ]);
  });

  test.each([
    ['cpuRequest', '-1', /must be more than zero/],
    ['cpuRequest', '0', /must be more than zero/],
    ['memoryLimit', '256MB', /must be a Kubernetes quantity such as "100m" or "256Mi"/],
    ['memoryLimit', '', /must be a Kubernetes quantity/],
  ])('%s %p is refused', (field, value, message) => {
    const issues = issuesOf(() => synthController({ image: 'x:1', [field]: value }));
    expect(issues.map((i) => [i.field, i.message])).toEqual([[field, expect.stringMatching(message)]]);
  });

  test('every canonical quantity is accepted and reaches the Deployment as written', () => {
    const canonical = fc
      .tuple(fc.integer({ min: 1, max: 4096 }), fc.constantFrom('m', '', 'k', 'M', 'G', 'Ki', 'Mi', 'Gi'))
      .map(([n, suffix]) => canonicalQuantity(`${n}${suffix}`))
      .filter((q) => !q.startsWith('-'));
    fc.assert(
      fc.property(canonical, canonical, (cpu, memory) => {
        const { manifests } = synthController({ image: 'x:1', cpuRequest: cpu, memoryRequest: memory, memoryLimit: memory });
        expect(podSpec(manifests).containers[0].resources).toEqual({ requests: { cpu, memory }, limits: { memory } });
      }),
      { numRuns: 25 },
    );
  });

  test('the memory request is compared with the limit as amounts', () => {
    const issues = issuesOf(() => synthController({ image: 'x:1', memoryRequest: '1Gi', memoryLimit: '1000Mi' }));
    expect(issues.map((i) => i.field)).toEqual(['memoryRequest']);
    expect(() => synthController({ image: 'x:1', memoryRequest: '1000Mi', memoryLimit: '1Gi' })).not.toThrow();
  });
});

describe('Terraform lifecycle of the objects (K5, K9)', () => {
  test('content-named ConfigMaps are created before the old ones are destroyed; nothing else is', () => {
    const { resources } = synthController();
    const lifecycles = Object.fromEntries(
      Object.entries(resources).map(([id, r]) => [`${r.manifest.kind}:${id.replace(/_[0-9A-F]{8}$/, '')}`, r.lifecycle]),
    );
    expect(Object.entries(lifecycles).filter(([, l]) => l !== undefined)).toEqual([
      ['ConfigMap:Controller_CodeConfigMap', { create_before_destroy: true }],
      ['ConfigMap:Controller_PlanConfigMap', { create_before_destroy: true }],
    ]);
  });

  test('the Deployment waits for its rollout, after everything it runs as and reads and after the AS3 declaration of its lists', () => {
    const { resources } = synthController();
    const [id, deployment] = Object.entries(resources).find(([, r]) => r.manifest.kind === 'Deployment') as [string, any];
    expect(deployment.wait).toEqual({ rollout: true });
    const refs = deployment.depends_on as string[];
    // The declaration that creates the lists the controller pushes to comes first: a pod
    // started before it gets 404 for its lists.
    expect(refs.filter((ref) => !ref.startsWith('kubernetes_manifest.'))).toEqual([expect.stringMatching(/^bigip_as3\./)]);
    const kinds = refs
      .filter((ref) => ref.startsWith('kubernetes_manifest.'))
      .map((ref) => {
        const target = resources[ref.replace(/^kubernetes_manifest\./, '')].manifest;
        return `${target.kind} ${target.metadata.name}`;
      });
    expect(id).toMatch(/^Controller_Deployment_/);
    expect(kinds.sort()).toEqual([
      'ClusterRole cdktf-ces-controller-prod',
      'ClusterRoleBinding cdktf-ces-controller-prod',
      expect.stringMatching(/^ConfigMap cdktf-ces-controller-prod-code-[0-9a-f]{10}$/),
      expect.stringMatching(/^ConfigMap cdktf-ces-controller-prod-plan-[0-9a-f]{10}$/),
      'Namespace cdktf-ces-system',
      'Role cdktf-ces-controller-prod-bigip-config',
      'Role cdktf-ces-controller-prod-leader',
      'RoleBinding cdktf-ces-controller-prod-bigip-config',
      'RoleBinding cdktf-ces-controller-prod-leader',
      'ServiceAccount cdktf-ces-controller-prod',
    ]);
  });

  test('a Secret in a namespace of its own gets a Role there that reads only that Secret', () => {
    const { manifests } = synthController({
      credentialsSecret: 'bigip-secrets/login',
      caBundleConfigMap: 'bigip-secrets/bigip-ca',
      image: 'x:1',
    });
    const roles = ofKind(manifests, 'Role').filter((r) => r.metadata.name.endsWith('-bigip-config'));
    expect(roles.map((r) => [r.metadata.namespace, r.rules])).toEqual([
      [
        'bigip-secrets',
        [
          { apiGroups: [''], resources: ['secrets'], resourceNames: ['login'], verbs: ['get'] },
          { apiGroups: [''], resources: ['configmaps'], resourceNames: ['bigip-ca'], verbs: ['get'] },
        ],
      ],
    ]);
    const binding = ofKind(manifests, 'RoleBinding').find((b) => b.metadata.namespace === 'bigip-secrets');
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'cdktf-ces-controller-prod', namespace: 'cdktf-ces-system' }]);
    expect(podSpec(manifests).containers[0].env).toEqual(
      expect.arrayContaining([{ name: 'BIGIP_CREDENTIALS_SECRET', value: 'bigip-secrets/login' }]),
    );
  });

  test('a Secret and a CA ConfigMap in two namespaces: one Role in each, reading only its object', () => {
    const { resources } = synthController({ credentialsSecret: 'bigip-secrets/login', caBundleConfigMap: 'bigip-ca', image: 'x:1' });
    const roles = Object.entries(resources)
      .filter(([, r]) => r.manifest.kind === 'Role' && r.manifest.metadata.name.endsWith('-bigip-config'))
      .map(([id, r]) => [
        id.replace(/_[0-9A-F]{8}$/, ''),
        r.manifest.metadata.namespace,
        r.manifest.rules.map((rule: any) => `${rule.resources}/${rule.resourceNames}`),
      ]);
    expect(roles.sort()).toEqual([
      ['Controller_BigipConfigRole', 'cdktf-ces-system', ['configmaps/bigip-ca']],
      ['Controller_BigipConfigRole-bigip-secrets', 'bigip-secrets', ['secrets/login']],
    ]);
  });

  test.each([
    ['credentialsSecret', 'a/b/c', /"name" \(in the controller's namespace\) or "namespace\/name"/],
    ['credentialsSecret', 'Bigip/login', /"Bigip" is not a namespace name/],
    ['caBundleConfigMap', 'ns/', /with a name that is a DNS subdomain/],
  ])('%s %p is refused', (field, value, message) => {
    const issues = issuesOf(() => synthController({ image: 'x:1', [field]: value }));
    expect(issues.map((i) => [i.field, i.value, i.message])).toEqual([[field, JSON.stringify(value), expect.stringMatching(message)]]);
  });
});

describe('the 1 MiB ConfigMap limit', () => {
  test('a sync plan over 1 MiB is refused at synth, naming its size and what to do', () => {
    const { stack, device } = deviceStack();
    const labels = (i: number) =>
      Object.fromEntries(Array.from({ length: 10 }, (_, k) => [`label-${k}-${'k'.repeat(40)}`, `${'v'.repeat(58)}${i}`.slice(0, 63)]));
    for (let i = 0; i < 700; i++) {
      new NamespaceEgressRule(stack, `R${i}`, {
        device,
        namespace: `team-${i}`,
        name: `rule-${i}`,
        action: EgressAction.ALLOW,
        podSelector: { matchLabels: labels(i) },
        destinations: [D.address('10.96.0.10')],
      });
    }
    refusal(() => new EgressController(stack, 'Controller', { device, credentialsSecret: 's', caBundleConfigMap: 'ca', image: 'x:1' }));
    const issues = issuesOf(() => synthJson(stack));
    expect(issues).toEqual([
      {
        path: 'egress/Controller',
        field: 'device',
        value: expect.stringMatching(/^"cdktf-ces-controller-prod-plan-[0-9a-f]{10}"$/),
        message: expect.stringMatching(
          /^ConfigMap cdktf-ces-controller-prod-plan-[0-9a-f]{10} holds the sync plan \(every rule and source list of the device\) in 1[0-9]{6} bytes, and the API server refuses a ConfigMap over 1048576 bytes \(1 MiB\): split the rules/,
        ),
      },
    ]);
  });
});

describe('how the controller code reaches the pod', () => {
  test('without image: an init container of the same image unpacks the bundle into an emptyDir; the controller runs plain node /app/controller.js', () => {
    const { manifests } = synthController({ nodeImage: 'node:24-alpine' });
    const spec = podSpec(manifests);
    const code = ofKind(manifests, 'ConfigMap').find((c) => c.binaryData);
    expect(Object.keys(code.binaryData)).toEqual(['controller.js.gz']);
    expect(code.data).toBeUndefined();
    expect(code.immutable).toBe(true);
    expect(spec.initContainers).toHaveLength(1);
    const [unpack] = spec.initContainers;
    expect(unpack.image).toBe('node:24-alpine');
    expect(unpack.command.slice(-2)).toEqual(['/opt/cdktf-ces/controller.js.gz', '/app/controller.js']);
    expect(unpack.volumeMounts).toEqual([
      { name: 'code', mountPath: '/opt/cdktf-ces', readOnly: true },
      { name: 'app', mountPath: '/app' },
    ]);
    const [controller] = spec.containers;
    expect(controller.image).toBe('node:24-alpine');
    expect(controller.command).toEqual(['node', '/app/controller.js']);
    expect(controller.volumeMounts).toContainEqual({ name: 'app', mountPath: '/app', readOnly: true });
    expect(spec.volumes).toEqual(
      expect.arrayContaining([
        { name: 'code', configMap: { name: code.metadata.name } },
        { name: 'app', emptyDir: { sizeLimit: '16Mi' } },
      ]),
    );
    // No private Node.js API: nothing compiles source handed to it at run time.
    expect(JSON.stringify(manifests)).not.toMatch(/_compile|_nodeModulePaths|loader\.js/);
    for (const c of [unpack, controller]) expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(restrictedProfileViolations(spec)).toEqual([]);
  });

  test('with image: no init container, no code ConfigMap, the image runs its own entry point', () => {
    const { manifests } = synthController({ image: 'registry.example/cdktf-ces-controller:1.2.0' });
    const spec = podSpec(manifests);
    expect(spec.initContainers).toBeUndefined();
    expect(ofKind(manifests, 'ConfigMap').map((c) => Object.keys(c.data ?? c.binaryData))).toEqual([['plan.json']]);
    expect(spec.containers[0].image).toBe('registry.example/cdktf-ces-controller:1.2.0');
    expect(spec.containers[0].command).toBeUndefined();
    expect(spec.volumes.map((v: any) => v.name)).toEqual(['plan', 'tmp']);
    expect(restrictedProfileViolations(spec)).toEqual([]);
  });

  test('the init container, run as the kubelet would, writes the controller that the main container then starts', () => {
    const { manifests } = synthController();
    const spec = podSpec(manifests);
    const code = ofKind(manifests, 'ConfigMap').find((c) => c.binaryData);
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'cdktf-ces-pod-'));
    try {
      // The volumes as the kubelet lays them out: the ConfigMap's keys as files, the emptyDir empty.
      const local = (p: string) => (p.startsWith('/') ? path.join(root, p) : p);
      fs.mkdirSync(local('/opt/cdktf-ces'), { recursive: true });
      fs.mkdirSync(local('/app'), { recursive: true });
      for (const [key, value] of Object.entries(code.binaryData as Record<string, string>))
        fs.writeFileSync(path.join(local('/opt/cdktf-ces'), key), Buffer.from(value, 'base64'));
      const run = (command: string[], env: NodeJS.ProcessEnv = {}) => {
        const [program, ...args] = command.map(local);
        expect(program).toBe('node');
        return spawnSync(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 30_000 });
      };
      const unpacked = run(spec.initContainers[0].command);
      expect([unpacked.status, unpacked.stderr]).toEqual([0, '']);
      const built = fs.readFileSync(path.join(packageRoot(), CONTROLLER_BUNDLE.replace(/\.gz$/, '')));
      expect(fs.readFileSync(local('/app/controller.js')).equals(built)).toBe(true);
      // The controller itself starts from there: without its environment it says so in one line.
      const started = run(spec.containers[0].command);
      expect(started.status).toBe(1);
      expect(started.stderr).toMatch(/^cdktf-ces-controller: configuration error: BIGIP_URL: not set/);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('anti-entropy interval', () => {
  test('deviceCheckIntervalSeconds reaches the controller as DEVICE_CHECK_INTERVAL_MS; absent, the controller keeps its default', () => {
    const env = (props: Loose) =>
      (podSpec(synthController({ image: 'x:1', ...props }).manifests).containers[0].env as { name: string; value?: string }[]).find(
        (e) => e.name === 'DEVICE_CHECK_INTERVAL_MS',
      );
    expect(env({ deviceCheckIntervalSeconds: 15 })).toEqual({ name: 'DEVICE_CHECK_INTERVAL_MS', value: '15000' });
    expect(env({})).toBeUndefined();
  });

  test.each([0, 86_401, 1.5])('deviceCheckIntervalSeconds %p is refused', (value) => {
    expect(issuesOf(() => synthController({ image: 'x:1', deviceCheckIntervalSeconds: value })).map((i) => i.field)).toEqual([
      'deviceCheckIntervalSeconds',
    ]);
  });
});

describe('Node.js options of the controller container', () => {
  test('the container runs with small semi-spaces, an option Node.js takes from NODE_OPTIONS', () => {
    const env = podSpec(synthController({}).manifests).containers[0].env as { name: string; value?: string }[];
    expect(env.filter((e) => e.name === 'NODE_OPTIONS')).toEqual([{ name: 'NODE_OPTIONS', value: '--max-semi-space-size=4' }]);
    // Node.js refuses options it does not allow in NODE_OPTIONS (exit 9) before running anything.
    const run = spawnSync(process.execPath, ['-e', 'process.stdout.write("started")'], {
      env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: env.find((e) => e.name === 'NODE_OPTIONS')?.value },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect([run.status, run.stdout, run.stderr]).toEqual([0, 'started', '']);
  });
});
