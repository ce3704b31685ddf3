/**
 * Performance work must not change what synth writes: every file of the synth output of the
 * examples and of a 2,000-rule app of the synth benchmark's shape, byte for byte, against the
 * digests of the output before that work. A change of the output on purpose (a new field, a
 * fixed rendering) updates the digests here: the failure prints the new ones.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, TerraformStack } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { buildPayments } from '../../examples/payments/main';
import { buildPlatform } from '../../examples/platform-module/main';
import { buildSecurityBaseline } from '../../examples/security-baseline/main';
import { AfmDevice, BigipCredentials, EgressAction, EgressCrdStack, EgressDestination, EgressPort, NamespaceEgressRule, ServiceEgressRule } from '../../lib';

/** The synth benchmark's workload (synth-worker.ts) at a size a unit test affords. */
function buildBenchShape(app: App): void {
  const rules = 2000;
  const namespaces = 200;
  const crds = new EgressCrdStack(app, 'crds');
  const stack = new TerraformStack(app, 'egress');
  new KubernetesProvider(stack, 'k8s', {});
  const device = new AfmDevice(stack, 'Bigip', { clusterName: 'bench', address: '192.0.2.1', credentials: BigipCredentials.fromEnvironment(), tlsCaBundlePath: '/ca.pem', crdStack: crds, dnsResolver: '/Common/egress-resolver' });
  for (let i = 0; i < rules; i++) {
    const destinations = [EgressDestination.fqdn(`api-${i % 50}.partner.example`), EgressDestination.cidr(`10.${(i >> 8) & 255}.${i & 255}.0/24`)];
    const ports = [i % 3 === 0 ? EgressPort.HTTPS : EgressPort.tcpRange(8000, 8000 + (i % 100))];
    const common = { device, name: `rule-${i}`, namespace: `team-${i % namespaces}`, action: EgressAction.ALLOW, priority: i % 1000, destinations, ports };
    if (i % 5 === 4) new ServiceEgressRule(stack, `R${i}`, { ...common, service: `svc-${i % 7}` });
    else new NamespaceEgressRule(stack, `R${i}`, common);
  }
}

/** sha256 of every file under `dir`, by relative path. */
function digests(build: (app: App) => unknown): Record<string, string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-synth-output-'));
  try {
    const app = new App({ outdir: dir });
    build(app);
    app.synth();
    const out: Record<string, string> = {};
    const walk = (rel: string) => {
      for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const child = path.posix.join(rel, entry.name);
        if (entry.isDirectory()) walk(child);
        else out[child] = createHash('sha256').update(fs.readFileSync(path.join(dir, child))).digest('hex');
      }
    };
    walk('');
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('synth output is unchanged by performance work', () => {
  test('examples and the benchmark shape, every file byte for byte', () => {
    expect({
      securityBaseline: digests(buildSecurityBaseline),
      payments: digests(buildPayments),
      platform: digests(buildPlatform),
      benchShape: digests(buildBenchShape),
    }).toEqual({
      securityBaseline: {
        'manifest.json': 'eb934d9dc49a9a36e3337dc8b0fccfe27448238a58ab5d9498119aad88c40af6',
        'stacks/egress-crds/cdk.tf.json': '861aab5ee29009a60617962402a898371326edfc90521fea6e512dfc05341b74',
        'stacks/security-baseline/cdk.tf.json': 'f14f60a61c3fd4942ea78afdc70b5d1592fcb244367635c03247a7a64c0cfb1e',
        'stacks/security-baseline/cdktf-ces/k8s_prod_east.json': '9748661267e2306eeb84bc6b299846d1f082ea8be4be109c8f2ce606763b22e2',
      },
      payments: {
        'manifest.json': '9ab7866c0cbf5a21f4ebbb97b4513819f4e4284738a18966518cbbe9c3aa29dd',
        'stacks/egress-crds/cdk.tf.json': '861aab5ee29009a60617962402a898371326edfc90521fea6e512dfc05341b74',
        'stacks/payments/cdk.tf.json': 'e5b3557a86639ebdada3b25ea361c79d61b6749c217c4885fd5be5ba74629916',
        'stacks/payments/cdktf-ces/k8s_payments_prod.json': '60e71346c8258100a6910b470b5513f97f7e5eb3ced9b918f0ad0158018a5109',
      },
      platform: {
        'manifest.json': '95a5f5803024417927fdf5f00ce2b3d8d328e70544459d1ae73e10b660e4d0f8',
        'stacks/bigip-dc1/cdk.tf.json': 'd8da174751a6d56a10976618ea5076ed1a598531f3d59cb2742e6e3159793695',
        'stacks/east-crds/cdk.tf.json': '14571e8c8d4f4d8f95c99527556d20dfa50071f3e6796b4eed5ad3ea8f94a70a',
        'stacks/east-egress/cdk.tf.json': 'f8d5157723c5e3b01216e00c894cd18e1ec925e52a47f85627db072e470fb14e',
        'stacks/east-egress/cdktf-ces/k8s_east.json': '10111172264d1a9b819adcc5ed6299877a136ed88458b5b3d32905b5e451f534',
        'stacks/west-crds/cdk.tf.json': '8ef1cfafbee917bb59e5319b4eccfd3e6fbf61785a9727d92ad627526f250b7c',
        'stacks/west-egress/cdk.tf.json': '3206041044194d54bde041182861483717054178e0cd479ef9870171790ef1da',
        'stacks/west-egress/cdktf-ces/k8s_west.json': 'c1c2465459953c8733311e8e4936d0b806f4b24c65a9a039319fe6d3ca803512',
      },
      benchShape: {
        'manifest.json': '353002e32b007715571c09ffc4a21e0ba194979a54a510277804d750187c3a15',
        'stacks/crds/cdk.tf.json': 'd037c6d0814e27012e4dcc8094e741fdc9ca7d2d768e5287464841078efd235f',
        'stacks/egress/cdk.tf.json': '2acadd1cdd2cb3dcc7a9b51604597e9727bc78b01d4de7ee58bddcf9db48a391',
        'stacks/egress/cdktf-ces/k8s_bench.json': '625666a954ab7df21f845600a545ce76be10a0655886c5b0f8c20be730ff8848',
      },
    });
  });
});
