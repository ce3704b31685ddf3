/**
 * The BIG-IP emulator with redirect listeners (virtual servers with traffic-matching
 * criteria): it takes them as AS3 and mcpd do, and refuses them where they do
 * (test/emulators/bigip/redirect.ts cites the sources).
 */
import { renderAs3 } from '../../../lib/afm/as3';
import { compilePolicy } from '../../../lib/policy/compile';
import { EgressDestination as D } from '../../../lib/policy/destination';
import type { DeviceModel, RuleModel } from '../../../lib/policy/model';
import { EgressPort as P } from '../../../lib/policy/port';
import { EgressRedirect } from '../../../lib/policy/redirect';
import { buildRule } from '../../../lib/policy/schema';
import { AS3_SCHEMA_PATH } from '../../support/as3-schema';
import { testDevice } from '../../support/device';
import { BigipEmulator } from '../../emulators/bigip/emulator';
import { loginRaw, raw } from './support';

const DECLARE = '/mgmt/shared/appsvcs/declare';
type Json = Record<string, any>;
const summary = (answer: { json: Json }) => answer.json.results.map((r: Json) => [r.tenant, r.code, r.message]);

const redirected = buildRule({
  level: 'namespace',
  namespace: 'shop',
  name: 'web',
  path: 'app/stack/web',
  action: 'ALLOW',
  destinations: [D.cidr('203.0.113.0/24')],
  ports: [P.HTTPS],
  redirect: EgressRedirect.viaGateways('inspection', ['192.0.2.10']),
});
const plain: RuleModel = { ...redirected, redirect: undefined };
const declaration = (rules: RuleModel[], device: DeviceModel = testDevice()) =>
  renderAs3(compilePolicy({ device, externalServices: [], rules }));

describe('emulator: redirect listeners', () => {
  let device: BigipEmulator | undefined;
  afterEach(() => device?.stop());

  test("F5's schema and mcpd accept the listener; it creates no virtual address; removing the rule removes it and its lists", async () => {
    device = await BigipEmulator.start({ as3OperationMs: 0, as3SchemaPath: AS3_SCHEMA_PATH, existingObjects: ['/Common/internal'] });
    const token = await loginRaw(device);
    const answer = await raw(device, 'POST', DECLARE, { token, body: declaration([redirected]) });
    expect(summary(answer)).toEqual([
      ['Common', 200, 'success'],
      ['k8s_prod', 200, 'success'],
      ['Common', 200, 'no change'],
    ]);
    expect((device.partitionConfig('k8s_prod') as Json).egress.rdr_n_shop_web_tcp.virtualAddresses).toEqual({ use: 'rdr_n_shop_web_dst' });
    // Removing the redirect: the tenant drops the listener before Common's second pass may drop what it used.
    const again = await raw(device, 'POST', DECLARE, { token, body: declaration([plain]) });
    expect(again.status).toBe(200);
    expect(Object.keys((device.partitionConfig('k8s_prod') as Json).egress ?? {}).filter((k) => k.startsWith('rdr_'))).toEqual([]);
  });

  test('a listener in a tenant outside route domain 0 is refused, as mcpd does (AS3 issue #917), which is why synth refuses it', async () => {
    device = await BigipEmulator.start({
      as3OperationMs: 0,
      routeDomains: ['/Common/0', '/Common/2'],
      existingObjects: ['/Common/internal'],
    });
    const token = await loginRaw(device);
    // What synth would render if it let the redirect through in route domain 2 (the listener
    // and its lists move with the tenant's default route domain).
    const body = declaration([redirected]) as Json;
    body.declaration.k8s_prod.defaultRouteDomain = 2;
    const answer = await raw(device, 'POST', DECLARE, { token, body });
    const tenant = answer.json.results.find((r: Json) => r.tenant === 'k8s_prod');
    expect([tenant.code, tenant.response]).toEqual([422, '01020036:3: The requested name_idx (/Common/2) was not found.']);
    // The same tenant without the redirect deploys.
    const without = declaration([plain]) as Json;
    without.declaration.k8s_prod.defaultRouteDomain = 2;
    const again = await raw(device, 'POST', DECLARE, { token, body: without });
    expect(again.json.results.find((r: Json) => r.tenant === 'k8s_prod').code).toBe(200);
  });
});
