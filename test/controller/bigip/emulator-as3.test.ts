import { EMPTY_LIST_PLACEHOLDER } from '../../../lib/clients/bigip/client';
import { BigipEmulator } from '../../emulators/bigip/emulator';
import { AS3_SCHEMA_PATH, AS3_SCHEMA_PRESENT, egressDeclaration, loginRaw, raw, taskIdOf } from './support';

const DECLARE = '/mgmt/shared/appsvcs/declare';

async function waitForTask(device: BigipEmulator, token: string, id: string): Promise<any> {
  for (let i = 0; i < 500; i++) {
    const record = await raw(device, 'GET', `/mgmt/shared/appsvcs/task/${id}`, { token });
    if (record.json.results.every((r: { code: number }) => r.code !== 0)) return record.json;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`task ${id} did not finish`);
}

describe('BigipEmulator AS3', () => {
  let device: BigipEmulator;
  let token: string;

  beforeEach(async () => {
    device = await BigipEmulator.start({ as3OperationMs: 30 });
    token = await loginRaw(device);
  });
  afterEach(() => device.stop());

  test('GET /declare answers 204 while nothing is deployed; /info reports the AS3 version', async () => {
    expect((await raw(device, 'GET', DECLARE, { token })).status).toBe(204);
    const info = await raw(device, 'GET', '/mgmt/shared/appsvcs/info', { token });
    expect(info.json).toEqual({ version: '3.56.0', release: '10', schemaCurrent: '3.56.0', schemaMinimum: '3.0.0' });
  });

  test('a synchronous declare answers 200 with per-tenant results (Common first and last), and "no change" when posted again', async () => {
    const first = await raw(device, 'POST', DECLARE, { token, body: egressDeclaration() });
    expect(first.status).toBe(200);
    expect(first.json.results.map((r: any) => [r.tenant, r.code, r.message])).toEqual([
      ['Common', 200, 'success'],
      ['k8s_prod', 200, 'success'],
      ['Common', 200, 'no change'],
    ]);
    expect(first.json.results[0]).toEqual({
      code: 200,
      message: 'success',
      host: 'localhost',
      tenant: 'Common',
      runTime: expect.any(Number),
      declarationId: 'cdktf-ces-k8s_prod',
    });
    const again = await raw(device, 'POST', DECLARE, { token, body: egressDeclaration() });
    expect(again.json.results.map((r: any) => r.message)).toEqual(['no change', 'no change', 'no change']);

    const stored = await raw(device, 'GET', DECLARE, { token });
    expect(stored.status).toBe(200);
    const expected = { ...egressDeclaration().declaration, controls: { archiveTimestamp: expect.any(String) } };
    expect(stored.json).toEqual(expected);
    expect(device.declaration()).toEqual(expected);
  });

  test('a bare ADC declaration is accepted like an AS3 request', async () => {
    const answer = await raw(device, 'POST', DECLARE, { token, body: egressDeclaration().declaration });
    expect(answer.status).toBe(200);
    expect(device.eventListTaskIds()).toHaveLength(3);
  });

  test('async declare: 202 with a task, code 0 while running, then the final results', async () => {
    const accepted = await raw(device, 'POST', `${DECLARE}?async=true`, { token, body: egressDeclaration() });
    expect(accepted.status).toBe(202);
    expect(accepted.json).toEqual({
      id: expect.any(String),
      results: [
        { message: 'Declaration successfully submitted', tenant: '', host: '', runTime: 0, code: 0, declarationId: 'cdktf-ces-k8s_prod' },
      ],
      declaration: {},
      selfLink: `https://localhost/mgmt/shared/appsvcs/task/${accepted.json.id}`,
    });
    const running = await raw(device, 'GET', `/mgmt/shared/appsvcs/task/${accepted.json.id}`, { token });
    expect(running.json.results).toEqual([expect.objectContaining({ code: 0 })]);
    expect(device.declaration()).toBeUndefined();

    const done = await waitForTask(device, token, accepted.json.id);
    expect(done.results.map((r: any) => [r.tenant, r.code, r.message])).toEqual([
      ['Common', 200, 'success'],
      ['k8s_prod', 200, 'success'],
      ['Common', 200, 'no change'],
    ]);
    expect(device.declaration()).toBeDefined();
    const unknown = await raw(device, 'GET', '/mgmt/shared/appsvcs/task/0000', { token });
    expect(unknown.status).toBe(404);
    expect(unknown.json.message).toBe('No record found with ID of 0000');
  });

  test('a second synchronous write while an operation runs gets 503 "Configuration operation in progress"', async () => {
    const accepted = await raw(device, 'POST', `${DECLARE}?async=true`, { token, body: egressDeclaration() });
    expect(device.as3OperationRunning()).toBe(true);
    const second = await raw(device, 'POST', DECLARE, { token, body: egressDeclaration({ tenant: 'k8s_dev' }) });
    expect(second.status).toBe(503);
    expect(second.json).toEqual({
      code: 503,
      message: 'Error: Configuration operation in progress on device localhost, please try again in 2 minutes',
      host: 'localhost',
      declarationId: 'cdktf-ces-k8s_dev',
    });
    // Reads are not blocked.
    expect((await raw(device, 'GET', DECLARE, { token })).status).toBe(204);
    await waitForTask(device, token, accepted.json.id);
    expect((await raw(device, 'POST', DECLARE, { token, body: egressDeclaration({ tenant: 'k8s_dev' }) })).status).toBe(200);
  });

  test('a synchronous declare that outlives the sync limit turns into a task (202)', async () => {
    const slow = await BigipEmulator.start({ as3OperationMs: 200, as3SyncLimitMs: 10 });
    try {
      const t = await loginRaw(slow);
      const answer = await raw(slow, 'POST', DECLARE, { token: t, body: egressDeclaration() });
      expect(answer.status).toBe(202);
      const done = await waitForTask(slow, t, answer.json.id);
      expect(done.results.every((r: any) => r.code === 200)).toBe(true);
    } finally {
      await slow.stop();
    }
  });

  test('selective update: tenants absent from the body are untouched; /declare/<tenant> touches only that tenant', async () => {
    await raw(device, 'POST', DECLARE, { token, body: egressDeclaration({ tenant: 'k8s_prod' }) });
    const dev = egressDeclaration({ tenant: 'k8s_dev' });
    delete dev.declaration.Common;
    await raw(device, 'POST', DECLARE, { token, body: dev });
    expect(Object.keys(device.declaration() ?? {}).filter((k) => k.startsWith('k8s_'))).toEqual(['k8s_prod', 'k8s_dev']);

    const changed = egressDeclaration({ tenant: 'k8s_prod' });
    changed.declaration.k8s_prod.egress.static_list.addresses = ['198.51.100.0/24'];
    changed.declaration.Common.Shared.extra = { class: 'Firewall_Address_List', addresses: ['192.0.2.1'] };
    const filtered = await raw(device, 'POST', `${DECLARE}/k8s_prod`, { token, body: changed });
    expect(filtered.json.results.map((r: any) => [r.tenant, r.message])).toEqual([['k8s_prod', 'success']]);
    expect(device.declaration()?.Common).toEqual(egressDeclaration().declaration.Common);
  });

  test('a tenant without applications is deleted, and its event lists lose their tasks and members', async () => {
    await raw(device, 'POST', DECLARE, { token, body: egressDeclaration() });
    const list = '~k8s_prod~egress~src_svc_shop_checkout';
    expect(
      (await raw(device, 'POST', `/mgmt/shared/service-discovery/task/${list}/nodes`, { token, body: [{ id: 'a', ip: '10.0.0.1' }] }))
        .status,
    ).toBe(200);
    const removal = await raw(device, 'POST', DECLARE, {
      token,
      body: { class: 'ADC', schemaVersion: '3.50.0', k8s_prod: { class: 'Tenant' } },
    });
    expect(removal.json.results).toEqual([expect.objectContaining({ tenant: 'k8s_prod', code: 200, message: 'success' })]);
    expect(device.listMembers(list)).toBeUndefined();
    expect((await raw(device, 'GET', `/mgmt/shared/service-discovery/task/${list}/nodes`, { token })).status).toBe(404);
    expect(Object.keys(device.declaration() ?? {})).toContain('Common');
  });

  test('an event list that stays in a new declaration keeps its members; a removed one loses them', async () => {
    await raw(device, 'POST', DECLARE, { token, body: egressDeclaration({ sourceLists: ['src_a', 'src_b'] }) });
    const a = taskIdOf('/Common/Shared/k8s_prod_src_a');
    const b = taskIdOf('/Common/Shared/k8s_prod_src_b');
    await raw(device, 'POST', `/mgmt/shared/service-discovery/task/${a}/nodes`, { token, body: [{ id: '1', ip: '10.0.0.1' }] });
    await raw(device, 'POST', `/mgmt/shared/service-discovery/task/${b}/nodes`, { token, body: [{ id: '2', ip: '10.0.0.2' }] });
    await raw(device, 'POST', DECLARE, { token, body: egressDeclaration({ sourceLists: ['src_a'] }) });
    expect(device.listMembers(a)).toEqual(['10.0.0.1']);
    expect(device.listMembers(b)).toBeUndefined();
    await raw(device, 'POST', DECLARE, { token, body: egressDeclaration({ sourceLists: ['src_a', 'src_b'] }) });
    expect(device.listMembers(b)).toEqual([EMPTY_LIST_PLACEHOLDER]);
  });

  test('DELETE /declare/<tenant> removes one tenant; updateMode complete removes tenants not in the body', async () => {
    await raw(device, 'POST', DECLARE, { token, body: egressDeclaration() });
    const deleted = await raw(device, 'DELETE', `${DECLARE}/k8s_prod`, { token });
    expect(deleted.status).toBe(200);
    expect(Object.keys(device.declaration() ?? {})).not.toContain('k8s_prod');

    await raw(device, 'POST', DECLARE, { token, body: egressDeclaration() });
    const complete = egressDeclaration();
    delete complete.declaration.k8s_prod;
    complete.declaration.updateMode = 'complete';
    const answer = await raw(device, 'POST', DECLARE, { token, body: complete });
    expect(answer.json.results.map((r: any) => [r.tenant, r.message])).toEqual([
      ['Common', 'no change'],
      ['k8s_prod', 'success'],
      ['Common', 'no change'],
    ]);
    expect(Object.keys(device.declaration() ?? {})).not.toContain('k8s_prod');
  });

  test('dry-run validates and reports without deploying', async () => {
    const body = { ...egressDeclaration(), action: 'dry-run' };
    const answer = await raw(device, 'POST', DECLARE, { token, body });
    expect(answer.status).toBe(200);
    expect(answer.json.results.map((r: any) => [r.tenant, r.message, r.dryRun])).toEqual([
      ['Common', 'success', true],
      ['k8s_prod', 'success', true],
      ['Common', 'no change', true],
    ]);
    expect(device.declaration()).toBeUndefined();
  });

  test('structurally invalid declarations get 422 "declaration is invalid" with the errors', async () => {
    const answer = await raw(device, 'POST', DECLARE, { token, body: { class: 'ADC', schemaVersion: 'three', T: { class: 'Nope' } } });
    expect(answer.status).toBe(422);
    expect(answer.json).toEqual({
      code: 422,
      message: 'declaration is invalid',
      errors: ['/schemaVersion: must be an AS3 schema version such as "3.50.0"', '/T: must be a Tenant object'],
      declarationFullId: '',
    });
    const asyncInvalid = await raw(device, 'POST', `${DECLARE}?async=true`, { token, body: { class: 'Nope' } });
    expect(asyncInvalid.status).toBe(202);
    const record = await waitForTask(device, token, asyncInvalid.json.id);
    expect(record.results).toEqual([expect.objectContaining({ code: 422, message: 'declaration is invalid' })]);
    expect((await raw(device, 'POST', DECLARE, { token, body: '{not json' })).status).toBe(400);
  });

  test('a route-domain enforcement that names a missing route domain fails the whole request with 422; nothing is deployed', async () => {
    const answer = await raw(device, 'POST', DECLARE, { token, body: egressDeclaration({ routeDomain: 2 }) });
    expect(answer.status).toBe(422);
    expect(answer.json).toEqual({
      code: 422,
      message: 'Unable to find /Common/2 for /Common/Shared/k8s_prod_rd_policy/routeDomainEnforcement/0',
      host: 'localhost',
      declarationId: 'cdktf-ces-k8s_prod',
    });
    expect(device.declaration()).toBeUndefined();
    expect(device.partitionConfig('k8s_prod')).toBeUndefined();

    const withRd = await BigipEmulator.start({ routeDomains: ['/Common/0', '/Common/2'] });
    try {
      const t = await loginRaw(withRd);
      expect((await raw(withRd, 'POST', DECLARE, { token: t, body: egressDeclaration({ routeDomain: 2 }) })).status).toBe(200);
      expect(withRd.routeDomain('/Common/2')).toEqual({ enforcedPolicy: '/Common/Shared/k8s_prod_rd_policy' });
    } finally {
      await withRd.stop();
    }
  });

  test('keeps at most 25 task records', async () => {
    const fast = await BigipEmulator.start({ as3OperationMs: 0 });
    try {
      const t = await loginRaw(fast);
      let first = '';
      for (let i = 0; i < 27; i++) {
        const a = await raw(fast, 'POST', `${DECLARE}?async=true`, { token: t, body: egressDeclaration() });
        if (i === 0) first = a.json.id;
        await waitForTask(fast, t, a.json.id);
      }
      expect((await raw(fast, 'GET', '/mgmt/shared/appsvcs/task', { token: t })).json.items).toHaveLength(25);
      expect((await raw(fast, 'GET', `/mgmt/shared/appsvcs/task/${first}`, { token: t })).status).toBe(404);
    } finally {
      await fast.stop();
    }
  });
});

const describeWithSchema = AS3_SCHEMA_PRESENT ? describe : describe.skip;

describeWithSchema(
  AS3_SCHEMA_PRESENT
    ? 'BigipEmulator AS3 schema validation'
    : `BigipEmulator AS3 schema validation (skipped: F5's AS3 schema not found at ${AS3_SCHEMA_PATH})`,
  () => {
    let device: BigipEmulator;
    let token: string;
    beforeAll(async () => {
      device = await BigipEmulator.start({ as3SchemaPath: AS3_SCHEMA_PATH, as3OperationMs: 0 });
      token = await loginRaw(device);
    });
    afterAll(() => device.stop());

    test('a valid declaration deploys', async () => {
      const answer = await raw(device, 'POST', DECLARE, { token, body: egressDeclaration() });
      expect(answer.status).toBe(200);
    });

    test('a schema violation is rejected with 422 and the validator errors, and nothing is deployed', async () => {
      const body = egressDeclaration({ tenant: 'k8s_bad' });
      body.declaration.Common.Shared.k8s_bad_cluster_rules.rules[0].protocol = 'TCP';
      const answer = await raw(device, 'POST', DECLARE, { token, body });
      expect(answer.status).toBe(422);
      expect(answer.json.code).toBe(422);
      expect(answer.json.message).toBe('declaration is invalid');
      expect(answer.json.errors.length).toBeGreaterThan(0);
      expect(Object.keys(device.declaration() ?? {})).not.toContain('k8s_bad');
    });

    test('what only AS3 checks on a device (a pointer to a missing list) is rejected too', async () => {
      const body = egressDeclaration({ tenant: 'k8s_ptr' });
      body.declaration.Common.Shared.k8s_ptr_cluster_rules.rules[0].destination.addressLists = [{ use: '/Common/Shared/missing' }];
      const answer = await raw(device, 'POST', DECLARE, { token, body });
      expect(answer.status).toBe(422);
      expect(answer.json.errors.join('\n')).toMatch(/missing/);
    });
  },
);
