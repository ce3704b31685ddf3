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
import { App } from 'cdktf';
import { buildPayments } from '../../examples/payments/main';
import { buildPlatform } from '../../examples/platform-module/main';
import { buildSecurityBaseline } from '../../examples/security-baseline/main';
import { buildBenchPolicy } from './bench-policy';

/** The synth benchmark's workload (synth-worker.ts) at a size a unit test affords. */
function buildBenchShape(app: App): void {
  buildBenchPolicy(app, 2000, 200);
}

/** The text without the checkout's path: cdktf writes absolute local-backend paths under the working directory. */
function portable(text: string): string {
  return text.split(process.cwd()).join('<cwd>');
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
        else
          out[child] = createHash('sha256')
            .update(portable(fs.readFileSync(path.join(dir, child), 'utf8')))
            .digest('hex');
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
        'stacks/egress-crds/cdk.tf.json': 'cbd84b45741037e0b2e531f58aaf303b46f3656f8929b28541d72cd220dc248c',
        'stacks/security-baseline/cdk.tf.json': '9fa34ed3a1eeab9564c9b808d027cad47947b7848f10cedfa16146df676a4c36',
        'stacks/security-baseline/cdktf-ces/k8s_prod_east.json': 'c55a66fcb0ea59f51ef2e6cdf4431db87846c3ea27d7f97bdb9bb4ee10cd89b3',
      },
      payments: {
        'manifest.json': '9ab7866c0cbf5a21f4ebbb97b4513819f4e4284738a18966518cbbe9c3aa29dd',
        'stacks/egress-crds/cdk.tf.json': 'cbd84b45741037e0b2e531f58aaf303b46f3656f8929b28541d72cd220dc248c',
        'stacks/payments/cdk.tf.json': 'bba6d8588b92d40c00701b334d2fa177fa52750dcdfc6adfff6461c5ea177b2f',
        'stacks/payments/cdktf-ces/k8s_payments_prod.json': '22fd9ba31f5f9eae76561a49c65643d13dac140da03007de770e6d0f91cd04fc',
      },
      platform: {
        'manifest.json': '95a5f5803024417927fdf5f00ce2b3d8d328e70544459d1ae73e10b660e4d0f8',
        'stacks/bigip-dc1/cdk.tf.json': 'a92eae90abfe24196357a5acc826f752824c5356c71a1adad5a8c767a15396a3',
        'stacks/east-crds/cdk.tf.json': '1d64a4c2e54ab82f98751387ce9a25f0e597f9fcbae67e4aaa26c01901191b27',
        'stacks/east-egress/cdk.tf.json': 'e857873b95064dbb453ed5bb41263c33d460085abf70ad066fcaf83ed24d4c38',
        'stacks/east-egress/cdktf-ces/k8s_east.json': '208ffe1e1367360f9be618b01643323c116fbc9e745e5ecb8e15c195dc17c26e',
        'stacks/west-crds/cdk.tf.json': 'c8f4bbbbde2f947c4e9f0863ba0fd19d938d2f840e7ec822f66f7b43f9bd1257',
        'stacks/west-egress/cdk.tf.json': '56b4231fa2fe2b752b71f3e2fbffa07ebe579c5a402d84b89417d5e650eb12aa',
        'stacks/west-egress/cdktf-ces/k8s_west.json': '4d8e8fa89c9333dbca60df2b905c20c0c00eef7a85c30bcc94bc0422e2380f98',
      },
      benchShape: {
        'manifest.json': '353002e32b007715571c09ffc4a21e0ba194979a54a510277804d750187c3a15',
        'stacks/crds/cdk.tf.json': 'b7f5869ed8a797137377ea6b2639add1aee77a8923e231a280460e206f8b0115',
        'stacks/egress/cdk.tf.json': 'fa30fc208891a34d9cf7da20434e5a5396891b62c26c6b629b228f13744b0fd5',
        'stacks/egress/cdktf-ces/k8s_bench.json': 'bebdfc200b8c934e78a79a9a695940857c16c78b767c3d58d8bf1f6c8eba38dd',
      },
    });
  });
});
