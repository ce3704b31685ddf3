/**
 * The emulator's model of what AS3 does to iRule text (test/emulators/bigip/irule.ts cites the
 * upstream lines): backquote expansion of string values unless `expand: false`, and
 * createIRule's rewriting of the text mcpd stores.
 */
import { renderAs3 } from '../../../lib/afm/as3';
import { compilePolicy } from '../../../lib/policy/compile';
import { EgressDestination as D } from '../../../lib/policy/destination';
import { EgressIRule, onMatchIRuleText } from '../../../lib/policy/irule';
import { buildRule } from '../../../lib/policy/schema';
import { BigipEmulator } from '../../emulators/bigip/emulator';
import { testDevice } from '../../support/device';
import { loginRaw, raw } from './support';

type Json = Record<string, any>;
const DECLARE = '/mgmt/shared/appsvcs/declare';
const adc = (shared: Json): Json => ({
  class: 'AS3',
  action: 'deploy',
  declaration: {
    class: 'ADC',
    schemaVersion: '3.50.0',
    id: 'test',
    Common: { class: 'Tenant', Shared: { class: 'Application', template: 'shared', ...shared } },
  },
});

describe('AS3 iRule text on the emulator', () => {
  let device: BigipEmulator;
  let token: string;
  beforeEach(async () => {
    device = await BigipEmulator.start({ as3OperationMs: 0 });
    token = await loginRaw(device);
  });
  afterEach(() => device.stop());
  const post = (shared: Json) => raw(device, 'POST', DECLARE, { token, body: adc(shared) });

  test('a string with a backquote escape AS3 does not know fails the declaration when expand is on (its default)', async () => {
    const answer = await post({ r: { class: 'iRule', iRule: 'when FLOW_INIT {\n    log local0. "`x`"\n}' } });
    expect(answer.status).toBe(422);
    expect(answer.json.errors).toEqual(['/Common/Shared/r/iRule  unrecognized escape `x` at 34']);
    const open = await post({ r: { class: 'iRule', iRule: 'when FLOW_INIT {\n    log local0. "`T"\n}' } });
    expect(open.json.errors).toEqual(['/Common/Shared/r/iRule `T` at 34missing second backquote']);
  });

  test('expand: false, or a base64 value, keeps backquotes as they are', async () => {
    const code = 'when FLOW_INIT {\n    log local0. "`x` ${y}"\n}';
    expect((await post({ a: { class: 'iRule', expand: false, iRule: code } })).status).toBe(200);
    expect(device.iRuleText('/Common/Shared/a')).toBe(code);
    expect((await post({ b: { class: 'iRule', iRule: { base64: Buffer.from(code).toString('base64') } } })).status).toBe(200);
    expect(device.iRuleText('/Common/Shared/b')).toBe(code);
  });

  test('createIRule trims, turns CRLF into LF, strips blanks before line ends and deletes continuations with their indentation', async () => {
    const text = '\r\n  when FLOW_INIT { \r\n    log local0. a\\\n        b\t\r\n}\r\n\r\n';
    expect((await post({ r: { class: 'iRule', expand: false, iRule: text } })).status).toBe(200);
    // Tcl would read "a b" out of the continuation; the device holds "ab".
    expect(device.iRuleText('/Common/Shared/r')).toBe('when FLOW_INIT {\n    log local0. ab\n}');
  });

  test('a rendered onMatch iRule beside a bandwidth limit: the device holds exactly the checked text, and finds the policy', async () => {
    const code = 'when FLOW_INIT {\n    # `backquotes`, ${vars} and %{directives} stay as written\n    log local0. "`A` ${x}"\n}';
    const rule = buildRule({
      level: 'namespace',
      path: 'app/stack/tag',
      name: 'tag',
      namespace: 'ops',
      action: 'ALLOW',
      destinations: [D.cidr('192.0.2.0/24')],
      bandwidthLimit: { maxBandwidth: 10 },
      onMatch: EgressIRule.fromString(code),
    });
    const request = renderAs3(compilePolicy({ device: testDevice(), externalServices: [], rules: [rule] })) as Json;
    expect((await raw(device, 'POST', DECLARE, { token, body: request })).status).toBe(200);
    expect(device.iRuleText('/Common/Shared/k8s_prod_irule_n_ops_tag')).toBe(onMatchIRuleText(code, 'k8s_prod_bwc_n_ops_tag'));
    expect(device.bandwidthPolicyAttachedBy('/Common/Shared/k8s_prod_irule_n_ops_tag')).toBe('/Common/Shared/k8s_prod_bwc_n_ops_tag');
  });
});
