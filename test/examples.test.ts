import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'cdktf';
import { mergeAs3 } from '../lib/afm/as3';
import { buildPayments } from '../examples/payments/main';
import { buildPlatform } from '../examples/platform-module/main';
import { buildSecurityBaseline } from '../examples/security-baseline/main';
import { as3Validator, describeWithAs3Schema } from './support/as3-schema';

function synthExample(build: (app: App) => unknown): { dir: string; as3: Record<string, any>[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-example-'));
  const app = new App({ outdir: dir });
  build(app);
  app.synth();
  const as3: Record<string, any>[] = [];
  for (const stack of fs.readdirSync(path.join(dir, 'stacks'))) {
    const tf = JSON.parse(fs.readFileSync(path.join(dir, 'stacks', stack, 'cdk.tf.json'), 'utf8'));
    for (const r of Object.values((tf.resource?.bigip_as3 ?? {}) as Record<string, { as3_json: string }>)) as3.push(JSON.parse(r.as3_json));
  }
  return { dir, as3 };
}

const EXAMPLES = [
  ['security baseline (a)', buildSecurityBaseline, 1],
  ['payments (b)', buildPayments, 1],
  ['platform module for two clusters on one BIG-IP (c)', buildPlatform, 3],
] as const;

describe('examples', () => {
  test.each(EXAMPLES)('%s synthesizes one declaration per device (and one per shared BIG-IP)', (_name, build, declarations) => {
    expect(synthExample(build).as3).toHaveLength(declarations);
  });

  test('the platform module gives each cluster its own tenant and CRD stack, and one owner to /Common/Shared', () => {
    const { dir, as3 } = synthExample(buildPlatform);
    const tenants = (d: Record<string, any>) => Object.keys(d.declaration).filter((k) => d.declaration[k]?.class === 'Tenant');
    expect(as3.map(tenants)).toEqual([['Common'], ['k8s_east'], ['k8s_west']]);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.stacks['east-egress'].dependencies).toEqual(['east-crds', 'bigip-dc1']);
    expect(manifest.stacks['west-egress'].dependencies).toEqual(['west-crds', 'bigip-dc1']);
  });
});

describeWithAs3Schema('examples against the AS3 schema', () => {
  test.each(EXAMPLES)('%s validates, as the BIG-IP holds it after every declaration is deployed', (_name, build) => {
    const { as3 } = synthExample(build);
    // Declarations for one BIG-IP are validated together: tenants refer to /Common/Shared.
    const byDevice = as3.length === 3 ? [mergeAs3(as3)] : as3;
    for (const decl of byDevice) expect(as3Validator()!.validate(decl).errors).toEqual([]);
  });
});
