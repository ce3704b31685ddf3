/**
 * The onMatch example synthesized in a stack: its AS3 validates, the iRule text reaches
 * cdk.tf.json only base64-encoded (Terraform reads `as3_json` as a template, so a plain `${pod}`
 * would be an interpolation), and the device holds exactly the code of the example.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Testing } from 'cdktf';
import { addIRule } from '../../examples/f5-capabilities/irule';
import { decodeIRule } from '../../lib/policy/irule';
import { as3Validator, describeWithAs3Schema } from '../support/as3-schema';
import { deviceStack } from '../support/app';

function synthesized() {
  const { stack, device } = deviceStack();
  addIRule(stack, device);
  const tf = Testing.synth(stack);
  const as3Json = Object.values(JSON.parse(tf).resource.bigip_as3 as Record<string, { as3_json: string }>)[0].as3_json;
  return { tf, as3: JSON.parse(as3Json) };
}

test('the iRules reach cdk.tf.json base64-encoded, with no Terraform template sequence', () => {
  const { tf, as3 } = synthesized();
  expect(tf).not.toMatch(/\$\{pod\}|%\{/);
  const shared = as3.declaration.Common.Shared;
  expect(decodeIRule(shared['k8s_prod_irule_n_payments_partner-api-logged'].iRule)).toBe(
    'when FLOW_INIT {\n    set pod [IP::client_addr]\n    log local0.info "partner-api flow from ${pod} to [IP::local_addr]"\n}',
  );
  const file = fs.readFileSync(path.join(__dirname, '../../examples/f5-capabilities/irules/mark-backup.tcl'), 'utf8').trim();
  expect(decodeIRule(shared['k8s_prod_irule_n_ops_backup-upload'].iRule)).toBe(
    `when FLOW_INIT priority 1 {\n    BWC::policy attach k8s_prod_bwc_n_ops_backup-upload\n}\n${file}`,
  );
  expect(shared.k8s_prod_namespace_rules.rules.map((r: any) => [r.name, r.iRule])).toEqual([
    ['n_ops_backup-upload_tcp', { use: 'k8s_prod_irule_n_ops_backup-upload' }],
    ['n_payments_partner-api-logged_tcp', { use: 'k8s_prod_irule_n_payments_partner-api-logged' }],
  ]);
});

test('a device in audit mode refuses the example at synth, naming each rule', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'irule-'));
  const { app, stack, device } = deviceStack({ auditMode: true }, Testing.app({ outdir: dir }));
  addIRule(stack, device);
  let message = '';
  try {
    app.synth();
  } catch (e) {
    message = (e as Error).message;
  }
  expect(
    message
      .split('\n')
      .filter((l) => l.includes('onMatch:'))
      .map((l) => l.trim()),
  ).toEqual([
    '[egress/BackupUpload] onMatch: the device egress/Bigip is in audit mode, which must not change traffic, and whether AFM runs the iRule of a staged rule is not documented; remove onMatch until the device enforces, or turn its audit mode off (got "file examples/f5-capabilities/irules/mark-backup.tcl")',
    '[egress/PartnerApiLogged] onMatch: the device egress/Bigip is in audit mode, which must not change traffic, and whether AFM runs the iRule of a staged rule is not documented; remove onMatch until the device enforces, or turn its audit mode off (got "string")',
  ]);
});

describeWithAs3Schema('the onMatch example against the AS3 schema', () => {
  test('validates', () => {
    expect(as3Validator()!.validate(synthesized().as3).errors).toEqual([]);
  });
});
