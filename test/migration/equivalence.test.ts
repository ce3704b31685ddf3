/**
 * The imported module is real code: it type-checks under the repository's compiler options,
 * synthesizes with an AfmDevice, and its policy gives every probe flow the verdict CES gives it,
 * both as the intent evaluator reads the model and as the AFM evaluator reads the synth output.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Testing } from 'cdktf';
import { cli } from '../cli/support';
import { cesObjects, cesVerdict, probeAddresses, probePorts } from './ces-oracle';
import {
  afmEvaluator,
  generatedDir,
  intentVerdict,
  libraryFrom,
  loadGenerated,
  migratedApp,
  probeCluster,
  probeFlows,
  typeErrors,
} from './support';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'ces');

let dir: string;
let outRoot: string;
beforeAll(() => {
  dir = generatedDir();
  outRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-import-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(outRoot, { recursive: true, force: true });
});

const CASES = [
  {
    fixture: 'egress-policy.yaml',
    cluster: 'prod-east',
    namespaces: { payments: ['checkout', 'comments'], web: [], 'kube-system': [], other: [] },
    counts: { externalServices: 9, rules: 11 },
  },
  {
    fixture: 'exported-list.yaml',
    cluster: undefined,
    namespaces: { analytics: ['ingest'], other: [] },
    counts: { externalServices: 3, rules: 3 },
  },
] as const;

describe.each(CASES)('import of $fixture', ({ fixture, cluster, namespaces, counts }) => {
  let moduleFile: string;
  let source: string;
  let outdir: string;

  beforeAll(async () => {
    moduleFile = path.join(dir, fixture.replace(/\.yaml$/, '.ts'));
    const r = await cli(
      dir,
      'import',
      path.join(FIXTURES, fixture),
      '-o',
      path.basename(moduleFile),
      '--allow-partial',
      '--library',
      libraryFrom(dir),
      ...(cluster ? ['--cluster', cluster] : []),
    );
    expect(r.code).toBe(0);
    source = fs.readFileSync(moduleFile, 'utf8');
    outdir = path.join(outRoot, fixture);
  });

  test('the generated module type-checks under the repository compiler options (strict, no unused locals)', () => {
    expect(typeErrors(moduleFile)).toEqual([]);
  });

  test('it synthesizes with an AfmDevice: the CRs and the AS3 declaration hold the imported objects', () => {
    const app = new App({ outdir });
    const fn = loadGenerated(source, libraryFrom(dir));
    const { device } = migratedApp(fn, { clusterName: cluster ?? 'prod' }, app);
    app.synth();
    const model = device._policyModel();
    expect(model.externalServices).toHaveLength(counts.externalServices);
    expect(model.rules).toHaveLength(counts.rules);
    const tf = JSON.parse(fs.readFileSync(path.join(outdir, 'stacks', 'egress', 'cdk.tf.json'), 'utf8'));
    const manifests = Object.values(tf.resource.kubernetes_manifest as Record<string, { manifest: { kind: string } }>).map(
      (m) => m.manifest.kind,
    );
    expect(manifests.filter((k) => k === 'ExternalService')).toHaveLength(counts.externalServices);
    expect(manifests.filter((k) => k.endsWith('EgressRule'))).toHaveLength(counts.rules);
  });

  test('every probe flow gets the verdict CES gives it (intent evaluator and AFM evaluator over the synth output)', () => {
    const objects = cesObjects(fs.readFileSync(path.join(FIXTURES, fixture), 'utf8'));
    const { snapshot, pods } = probeCluster(namespaces);
    const fn = loadGenerated(source, libraryFrom(dir));
    const { device } = migratedApp(fn, { clusterName: cluster ?? 'prod' }, Testing.app());
    const model = device._policyModel();
    const afm = afmEvaluator(outdir, snapshot);
    const flows = probeFlows(pods, probeAddresses(objects), probePorts(objects));
    const mismatches: string[] = [];
    const verdicts = new Set<string>();
    for (const { probe, flow, sourceIp } of flows) {
      const expected = cesVerdict(objects, flow);
      verdicts.add(expected);
      const intent = intentVerdict(model, snapshot, probe.pod, flow);
      const onFirewall = afm.firewall.evaluate(
        {
          sourceIp,
          routeDomain: afm.routeDomain,
          destinationIp: flow.ip,
          protocol: flow.protocol,
          ...(flow.port !== undefined ? { port: flow.port } : {}),
        },
        afm.state,
      ).verdict;
      if (intent !== expected || onFirewall !== expected) {
        mismatches.push(
          `${probe.pod.namespace}/${probe.pod.name} → ${flow.ip}:${flow.port ?? ''}/${flow.protocol}: CES ${expected}, intent ${intent}, AFM ${onFirewall}`,
        );
      }
    }
    expect(mismatches.slice(0, 10)).toEqual([]);
    expect(flows.length).toBeGreaterThan(1000);
    // The fixtures exercise allows and drops (and, for the first, rejects).
    expect(verdicts.has('allow') && verdicts.has('deny')).toBe(true);
  });
});

describe('what the fixtures mean, flow by flow', () => {
  const objects = cesObjects(fs.readFileSync(path.join(FIXTURES, 'egress-policy.yaml'), 'utf8'));
  const pod = (namespace: string, ...services: string[]) => ({ namespace, services });

  test.each([
    [
      'a cluster accept alone allows nothing in CES: the proxy stays closed to a pod without a service rule',
      pod('web'),
      '192.0.2.80',
      'tcp',
      3128,
      'deny',
    ],
    ['the service rule of checkout opens the proxy port it lists', pod('payments', 'checkout'), '192.0.2.80', 'tcp', 3128, 'allow'],
    ['... but not the one only the cluster accept lists', pod('payments', 'checkout'), '192.0.2.80', 'tcp', 8080, 'deny'],
    ['DNS is decided at the cluster level', pod('other'), '10.96.0.10', 'udp', 53, 'allow'],
    ['the C2 drop covers every protocol', pod('payments', 'checkout'), '203.0.113.66', 'icmp', undefined, 'deny'],
    ['bank-sftp on its own port', pod('payments'), '198.51.100.10', 'tcp', 22, 'allow'],
    ["bank-sftp not on settlement's ports", pod('payments'), '198.51.100.10', 'tcp', 990, 'deny'],
    ['settlement on its own ports', pod('payments'), '198.51.100.20', 'udp', 4500, 'allow'],
    [
      'the namespace decides before the service level: comments still reaches the bank',
      pod('payments', 'comments'),
      '198.51.100.10',
      'tcp',
      22,
      'allow',
    ],
    ['comments is refused stripe', pod('payments', 'comments'), '203.0.113.10', 'tcp', 443, 'reject'],
    ['a drop and an accept-decisively of one level: the drop wins', pod('web'), '198.51.100.40', 'tcp', 443, 'deny'],
  ])('%s', (_what, p, ip, protocol, port, verdict) => {
    expect(cesVerdict(objects, { pod: p, ip, protocol, ...(port !== undefined ? { port } : {}) })).toBe(verdict);
  });
});

test('the module refuses a device of another cluster than --cluster', async () => {
  const r = await cli(
    dir,
    'import',
    path.join(FIXTURES, 'egress-policy.yaml'),
    '--cluster',
    'prod-east',
    '--allow-partial',
    '--library',
    libraryFrom(dir),
  );
  const fn = loadGenerated(r.stdout, libraryFrom(dir));
  expect(() => migratedApp(fn, { clusterName: 'staging' }, Testing.app())).toThrow(
    /imported for cluster prod-east; device egress\/Bigip is for cluster staging/,
  );
});
