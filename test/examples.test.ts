import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'cdktf';
import { mergeAs3 } from '../lib/afm/as3';
import { buildPayments } from '../examples/payments/main';
import { buildPlatform } from '../examples/platform-module/main';
import { buildSecurityBaseline } from '../examples/security-baseline/main';
import { buildF5Capabilities } from '../examples/f5-capabilities/main';
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
  ['F5 capabilities on a BIG-IP pair and on tenant route domains (d)', buildF5Capabilities, 3],
] as const;

describe('examples', () => {
  test.each(EXAMPLES)(
    '%s synthesizes one declaration per device (and one per shared BIG-IP and per further unit of a pair)',
    (_name, build, declarations) => {
      expect(synthExample(build).as3).toHaveLength(declarations);
    },
  );

  test('the platform module gives each cluster its own tenant and CRD stack, and one owner to /Common/Shared', () => {
    const { dir, as3 } = synthExample(buildPlatform);
    const tenants = (d: Record<string, any>) => Object.keys(d.declaration).filter((k) => d.declaration[k]?.class === 'Tenant');
    expect(as3.map(tenants)).toEqual([['Common'], ['k8s_east'], ['k8s_west']]);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    expect(manifest.stacks['east-egress'].dependencies).toEqual(['east-crds', 'bigip-dc1']);
    expect(manifest.stacks['west-egress'].dependencies).toEqual(['west-crds', 'bigip-dc1']);
  });
});

describe('example (d)', () => {
  test('every capability reaches the declaration of the pair: an iRule on match, redirect listeners, a NAT policy; the tenants get virtual servers in their route domains', () => {
    const { as3 } = synthExample(buildF5Capabilities);
    const classes = (d: Record<string, any>) =>
      Object.values(d.declaration as Record<string, any>)
        .filter((t) => t?.class === 'Tenant')
        .flatMap((t) => Object.values(t as Record<string, any>).filter((a) => a?.class === 'Application'))
        .flatMap((a) => Object.entries(a as Record<string, any>).map(([name, o]) => [name, o?.class]));
    // The pair's declaration twice (leader, then peer: each unit's service-discovery tasks are its own).
    expect(as3[1]).toEqual(as3[0]);
    const [edge, , tenants] = as3.map(classes);
    expect(edge.filter(([, c]) => c === 'iRule').map(([n]) => n)).toEqual(expect.arrayContaining([expect.stringMatching(/_irule_/)]));
    expect(edge.filter(([, c]) => c === 'NAT_Policy')).toHaveLength(1);
    expect(edge.filter(([, c]) => c === 'Service_L4').length).toBeGreaterThan(1);
    expect(tenants.filter(([, c]) => c === 'Service_L4').map(([n]) => n)).toEqual(['egress_vs', 'egress_vs_rd11', 'egress_vs_rd12']);
  });
});

describeWithAs3Schema('examples against the AS3 schema', () => {
  test.each(EXAMPLES)('%s validates, as the BIG-IP holds it after every declaration is deployed', (_name, build) => {
    const { as3 } = synthExample(build);
    // Declarations for one BIG-IP are validated together: tenants refer to /Common/Shared.
    const byDevice = build === buildPlatform ? [mergeAs3(as3)] : as3;
    for (const decl of byDevice) expect(as3Validator()!.validate(decl).errors).toEqual([]);
  });
});
