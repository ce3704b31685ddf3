/**
 * The device model behind the emulator's protocols, each behaviour as upstream shows it (the
 * emulator's comments cite the sources): AS3's two Common passes, the stored Common added to
 * tenant-only declarations, the stored declaration header, objects in use, virtual addresses,
 * event lists and the service-discovery worker, route domains by name and id, running and
 * saved configuration, the AS3 lock, and `BWC::policy attach` name resolution.
 */
import { EMPTY_LIST_PLACEHOLDER } from '../../../lib/clients/bigip/client';
import { BigipEmulator } from '../../emulators/bigip/emulator';
import { loginRaw, raw } from './support';

const DECLARE = '/mgmt/shared/appsvcs/declare';
const BASH = '/mgmt/tm/util/bash';
const tmsh = (command: string) => ({ command: 'run', utilCmdArgs: `-c 'tmsh ${command}'` });
const nodesOf = (taskId: string) => `/mgmt/shared/service-discovery/task/${taskId}/nodes`;

type Json = Record<string, any>;

/** /Common/Shared with address lists (event-driven unless given addresses) and optional extra items. */
function common(lists: Record<string, string[] | 'event'>, extra: Json = {}): Json {
  const shared: Json = { class: 'Application', template: 'shared' };
  for (const [name, addresses] of Object.entries(lists)) {
    shared[name] = { class: 'Firewall_Address_List', addresses: addresses === 'event' ? [{ addressDiscovery: 'event' }] : addresses };
  }
  return { class: 'Tenant', Shared: { ...shared, ...extra } };
}

/** A tenant whose rule list points at /Common/Shared lists. */
function tenantUsing(lists: string[], extra: Json = {}): Json {
  return {
    class: 'Tenant',
    egress: {
      class: 'Application',
      rules: {
        class: 'Firewall_Rule_List',
        rules: lists.map((l, i) => ({
          name: `r${i}`,
          action: 'accept',
          protocol: 'tcp',
          source: { addressLists: [{ use: `/Common/Shared/${l}` }] },
        })),
      },
      ...extra,
    },
  };
}

function adc(tenants: Json, header: Json = {}): Json {
  return { class: 'AS3', action: 'deploy', declaration: { class: 'ADC', schemaVersion: '3.50.0', id: 'test', ...header, ...tenants } };
}

/** /Common/Shared of a partition configuration or a stored Common tenant. */
const sharedOf = (tenant: Json | undefined): Json | undefined => tenant?.Shared;

const summary = (answer: { json: Json }) => answer.json.results.map((r: Json) => [r.tenant, r.code, r.message]);

describe('AS3: Common first and last, tenants between', () => {
  let device: BigipEmulator;
  let token: string;
  beforeEach(async () => {
    device = await BigipEmulator.start({ as3OperationMs: 0 });
    token = await loginRaw(device);
  });
  afterEach(() => device.stop());

  test('a tenant can use a Common object created in the same declaration: Common creates first, then the tenant, then Common again', async () => {
    const answer = await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({ src: 'event' }), t1: tenantUsing(['src']) }) });
    expect(answer.status).toBe(200);
    expect(summary(answer)).toEqual([
      ['Common', 200, 'success'],
      ['t1', 200, 'success'],
      ['Common', 200, 'no change'],
    ]);
  });

  test('an edit of an existing Common object is made in the second pass', async () => {
    await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({ dst: ['192.0.2.1'] }) }) });
    const edited = await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({ dst: ['192.0.2.2'] }) }) });
    expect(summary(edited)).toEqual([
      ['Common', 200, 'no change'],
      ['Common', 200, 'success'],
    ]);
    expect(sharedOf(device.partitionConfig('Common'))?.dst.addresses).toEqual(['192.0.2.2']);
  });

  test('a deletion refused in the second pass leaves the first pass applied: the device and the stored declaration differ', async () => {
    const first = adc({ Common: common({ old: 'event' }), t1: tenantUsing(['old']) });
    await raw(device, 'POST', DECLARE, { token, body: first });
    // The shared declaration alone drops `old` (still used by t1) and adds `new`.
    const answer = await raw(device, 'POST', `${DECLARE}/Common`, { token, body: adc({ Common: common({ new: 'event' }) }) });
    expect(answer.status).toBe(207);
    expect(summary(answer)).toEqual([
      ['Common', 200, 'success'],
      ['Common', 422, 'declaration failed'],
    ]);
    expect(answer.json.results[1].response).toBe(
      '01070265:3: The IP address list (/Common/Shared/old) cannot be deleted because it is in use by rule list (/t1/egress/rules).',
    );
    // On the device: both lists (the first pass created `new`). Stored: the previous Common.
    expect(Object.keys(device.partitionConfig('Common')?.Shared ?? {}).sort()).toEqual(['class', 'new', 'old', 'template']);
    expect(device.declaration()?.Common).toEqual(first.declaration.Common);
    expect(device.eventListTaskIds()).toEqual(['~Common~Shared~new', '~Common~Shared~old']);
  });

  test('a tenant that points at a Common object the device does not have fails, the others go on', async () => {
    await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({ a: 'event' }) }) });
    // Pass 1 cannot create `b` (its route domain does not exist), so t1's pointer to it has nothing to point at.
    const answer = await raw(device, 'POST', DECLARE, {
      token,
      body: adc({ Common: common({ a: 'event', b: ['10.0.0.1%7'] }), t1: tenantUsing(['b']), t2: tenantUsing(['a']) }),
    });
    expect(summary(answer)).toEqual([
      ['Common', 422, 'declaration failed'],
      ['t1', 422, 'declaration failed'],
      ['t2', 200, 'success'],
      ['Common', 422, 'declaration failed'],
    ]);
    expect(answer.json.results[0].response).toBe('01020036:3: The requested route domain (id 7) was not found.');
    expect(answer.json.results[1].response).toBe('01020036:3: The requested IP address list (/Common/Shared/b) was not found.');
    expect(Object.keys(device.declaration() ?? {})).toContain('t2');
    expect(Object.keys(device.declaration() ?? {})).not.toContain('t1');
  });
});

describe('AS3: the stored Common in tenant-only declarations', () => {
  let device: BigipEmulator;
  let token: string;
  beforeEach(async () => {
    device = await BigipEmulator.start({ as3OperationMs: 0 });
    token = await loginRaw(device);
    await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({ src: 'event' }), t1: tenantUsing(['src']) }) });
  });
  afterEach(() => device.stop());

  test('a declaration without Common that points into /Common/Shared gets the stored Common: three results', async () => {
    const changed = tenantUsing(['src'], { note: { class: 'Firewall_Address_List', addresses: ['192.0.2.9'] } });
    const answer = await raw(device, 'POST', DECLARE, { token, body: adc({ t1: changed }) });
    expect(summary(answer)).toEqual([
      ['Common', 200, 'no change'],
      ['t1', 200, 'success'],
      ['Common', 200, 'no change'],
    ]);
    const byPath = await raw(device, 'POST', `${DECLARE}/t1`, { token, body: adc({ t1: tenantUsing(['src']) }) });
    expect(summary(byPath).map((r: unknown[]) => r[0])).toEqual(['Common', 't1', 'Common']);
  });

  test('without a pointer into /Common/Shared nothing is added: one result', async () => {
    const answer = await raw(device, 'POST', DECLARE, {
      token,
      body: adc({ t9: { class: 'Tenant', a: { class: 'Application', l: { class: 'Firewall_Address_List', addresses: ['192.0.2.1'] } } } }),
    });
    expect(summary(answer)).toEqual([['t9', 200, 'success']]);
  });

  test('a new tenant posted to /declare/<tenant> gets no Common, so its pointers do not resolve (422); without the path it deploys', async () => {
    const answer = await raw(device, 'POST', `${DECLARE}/t2`, { token, body: adc({ t2: tenantUsing(['src']) }) });
    expect(answer.status).toBe(422);
    expect(answer.json).toEqual({
      code: 422,
      message: 'declaration is invalid',
      errors: ['/t2/egress/rules: pointer "/Common/Shared/src" contains path to non-existent object Common'],
      declarationFullId: '',
    });
    expect(Object.keys(device.declaration() ?? {})).not.toContain('t2');
    const withoutPath = await raw(device, 'POST', DECLARE, { token, body: adc({ t2: tenantUsing(['src']) }) });
    expect(summary(withoutPath)).toEqual([
      ['Common', 200, 'no change'],
      ['t2', 200, 'success'],
      ['Common', 200, 'no change'],
    ]);
  });

  test('tenants of the body that the path does not name are ignored', async () => {
    const answer = await raw(device, 'POST', `${DECLARE}/t1`, {
      token,
      body: adc({ Common: common({}), t1: tenantUsing(['src']), t3: tenantUsing(['src']) }),
    });
    expect(summary(answer)).toEqual([
      ['Common', 200, 'no change'],
      ['t1', 200, 'no change'],
      ['Common', 200, 'no change'],
    ]);
    expect(sharedOf(device.partitionConfig('Common'))?.src).toBeDefined();
    expect(device.partitionConfig('t3')).toBeUndefined();
  });
});

describe('AS3: the stored declaration', () => {
  let device: BigipEmulator;
  let token: string;
  beforeEach(async () => {
    device = await BigipEmulator.start({ as3OperationMs: 0 });
    token = await loginRaw(device);
  });
  afterEach(() => device.stop());

  test('GET returns the id and remark of the last request (a missing remark is gone), with archiveTimestamp', async () => {
    await raw(device, 'POST', DECLARE, {
      token,
      body: adc({ Common: common({ src: 'event' }) }, { id: 'shared-1', remark: 'shared lists' }),
    });
    await raw(device, 'POST', DECLARE, { token, body: adc({ t1: tenantUsing(['src']) }, { id: 'tenant-1' }) });
    const stored = (await raw(device, 'GET', DECLARE, { token })).json;
    expect(stored.id).toBe('tenant-1');
    expect(stored.remark).toBeUndefined();
    expect(stored.controls).toEqual({ archiveTimestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(Object.keys(stored).sort()).toEqual(['Common', 'class', 'controls', 'id', 'schemaVersion', 't1']);
  });

  test('GET /declare/<tenant> returns the tenant and Common; a missing tenant is 404', async () => {
    await raw(device, 'POST', DECLARE, {
      token,
      body: adc({ Common: common({ src: 'event' }), t1: tenantUsing(['src']), t2: tenantUsing(['src']) }),
    });
    const one = (await raw(device, 'GET', `${DECLARE}/t1`, { token })).json;
    expect(Object.keys(one).filter((k) => one[k]?.class === 'Tenant')).toEqual(['Common', 't1']);
    const missing = await raw(device, 'GET', `${DECLARE}/t1,nope`, { token });
    expect(missing.status).toBe(404);
    expect(missing.json).toEqual({ code: 404, message: "specified Tenant(s) 'nope' not found in declaration" });
  });

  test("DELETE /declare/<tenant> stores AS3's own remove declaration", async () => {
    await raw(device, 'POST', DECLARE, {
      token,
      body: adc({
        t9: { class: 'Tenant', a: { class: 'Application', l: { class: 'Firewall_Address_List', addresses: ['192.0.2.1'] } } },
        t8: { class: 'Tenant', a: { class: 'Application', l: { class: 'Firewall_Address_List', addresses: ['192.0.2.1'] } } },
      }),
    });
    await raw(device, 'DELETE', `${DECLARE}/t9`, { token });
    const stored = (await raw(device, 'GET', DECLARE, { token })).json;
    expect(stored).toEqual(
      expect.objectContaining({ class: 'ADC', schemaVersion: '3.0.0', updateMode: 'selective', id: expect.stringMatching(/^\d+$/) }),
    );
    expect(Object.keys(stored).filter((k) => stored[k]?.class === 'Tenant')).toEqual(['t8']);
  });
});

describe('mcpd: objects in use and virtual addresses', () => {
  let device: BigipEmulator;
  let token: string;
  beforeEach(async () => {
    device = await BigipEmulator.start({ as3OperationMs: 0, routeDomains: ['/Common/0', '/Common/2', '/Common/3'] });
    token = await loginRaw(device);
  });
  afterEach(() => device.stop());

  test('a Common policy attached to a route domain by tmsh cannot be deleted', async () => {
    const policy = { class: 'Firewall_Policy', rules: [{ name: 'deny', action: 'drop', protocol: 'any' }] };
    await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({}, { staged: policy }) }) });
    const attach = await raw(device, 'POST', BASH, {
      token,
      body: tmsh('modify net route-domain /Common/2 fw-staged-policy /Common/Shared/staged'),
    });
    expect(attach.json.commandResult).toBeUndefined();
    const answer = await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({ x: ['192.0.2.1'] }) }) });
    expect(answer.json.results[1]).toEqual(
      expect.objectContaining({
        code: 422,
        response:
          '01070265:3: The Firewall Policy (/Common/Shared/staged) cannot be deleted because it is in use by route domain /Common/2 (fw-staged-policy).',
      }),
    );
    expect(sharedOf(device.partitionConfig('Common'))?.staged).toEqual(policy);
  });

  test('Common objects a tenant uses are not deleted with Common; once the tenant is gone they are', async () => {
    await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({ src: 'event' }), t1: tenantUsing(['src']) }) });
    const refused = await raw(device, 'DELETE', `${DECLARE}/Common`, { token });
    expect(summary(refused)).toEqual([
      ['Common', 200, 'no change'],
      ['Common', 422, 'declaration failed'],
    ]);
    await raw(device, 'DELETE', `${DECLARE}/t1`, { token });
    const allowed = await raw(device, 'DELETE', `${DECLARE}/Common`, { token });
    expect(summary(allowed)).toEqual([
      ['Common', 200, 'no change'],
      ['Common', 200, 'success'],
    ]);
    expect(device.partitionConfig('Common')).toBeUndefined();
  });

  test('a virtual address (address and route domain) exists in one partition only', async () => {
    const service = (virtualAddresses: unknown[], defaultRouteDomain?: number): Json => ({
      class: 'Tenant',
      ...(defaultRouteDomain !== undefined ? { defaultRouteDomain } : {}),
      egress: { class: 'Application', vs: { class: 'Service_L4', virtualAddresses, virtualPort: 0, layer4: 'any' } },
    });
    const first = await raw(device, 'POST', DECLARE, { token, body: adc({ a: service([['0.0.0.0%2/0', '10.0.0.0%2/8']]) }) });
    expect(first.status).toBe(200);
    // The same wildcard in route domain 2, written through the tenant's default route domain.
    const clash = await raw(device, 'POST', DECLARE, { token, body: adc({ b: service(['0.0.0.0/0'], 2) }) });
    expect(clash.json.results).toEqual([
      expect.objectContaining({
        tenant: 'b',
        code: 422,
        response: '0107176c:3: Invalid Virtual Address, the IP address 0.0.0.0 already exists.',
      }),
    ]);
    // Another route domain, or the other family, is another address.
    expect((await raw(device, 'POST', DECLARE, { token, body: adc({ c: service(['0.0.0.0%3/0', '::%2/0']) }) })).status).toBe(200);
    // IPv6 addresses compare by value.
    const v6 = await raw(device, 'POST', DECLARE, { token, body: adc({ d: service(['0:0::0%2/0']) }) });
    expect(v6.json.results[0].response).toBe('0107176c:3: Invalid Virtual Address, the IP address 0:0::0%2 already exists.');
    // The owner may declare it again.
    expect((await raw(device, 'POST', DECLARE, { token, body: adc({ a: service(['0.0.0.0%2/0']) }) })).status).toBe(200);
  });
});

describe('mcpd: shared virtual addresses, bigip pointers, FQDN entries', () => {
  let device: BigipEmulator;
  let token: string;
  beforeEach(async () => {
    device = await BigipEmulator.start({
      as3OperationMs: 0,
      routeDomains: ['/Common/0', '/Common/2'],
      dnsResolvers: ['/Common/resolver'],
      existingObjects: ['/Common/vlan_ext'],
    });
    token = await loginRaw(device);
  });
  afterEach(() => device.stop());

  const service = (source: string, share: boolean, extra: Json = {}): Json => ({
    class: 'Tenant',
    egress: {
      class: 'Application',
      vs: {
        class: 'Service_L4',
        virtualAddresses: [['0.0.0.0%2/0', source]],
        ...(share ? { shareAddresses: true } : {}),
        virtualPort: 0,
        layer4: 'any',
        ...extra,
      },
    },
  });

  test('tenants that share an address all deploy; it lives in /Common while one of them uses it', async () => {
    expect((await raw(device, 'POST', DECLARE, { token, body: adc({ a: service('10.1.0.0%2/16', true) }) })).status).toBe(200);
    expect((await raw(device, 'POST', DECLARE, { token, body: adc({ b: service('10.2.0.0%2/16', true) }) })).status).toBe(200);
    expect(device.virtualAddressUsers()).toEqual({ '/Common/0.0.0.0%2': ['a', 'b'] });
    await raw(device, 'DELETE', `${DECLARE}/a`, { token });
    expect(device.virtualAddressUsers()).toEqual({ '/Common/0.0.0.0%2': ['b'] });
    // While b shares it, a tenant cannot have it in its own partition.
    const own = await raw(device, 'POST', DECLARE, { token, body: adc({ c: service('10.3.0.0%2/16', false) }) });
    expect(own.json.results[0]).toEqual(
      expect.objectContaining({
        tenant: 'c',
        code: 422,
        response: '0107176c:3: Invalid Virtual Address, the IP address 0.0.0.0%2 already exists.',
      }),
    );
    await raw(device, 'DELETE', `${DECLARE}/b`, { token });
    expect(device.virtualAddressUsers()).toEqual({});
    expect((await raw(device, 'POST', DECLARE, { token, body: adc({ c: service('10.3.0.0%2/16', false) }) })).status).toBe(200);
    expect(device.virtualAddressUsers()).toEqual({ '/c/0.0.0.0%2': ['c'] });
  });

  test('without shareAddresses the second tenant is refused, and a shared one cannot join an address a partition holds', async () => {
    await raw(device, 'POST', DECLARE, { token, body: adc({ a: service('10.1.0.0%2/16', false) }) });
    for (const share of [false, true]) {
      const second = await raw(device, 'POST', DECLARE, { token, body: adc({ b: service('10.2.0.0%2/16', share) }) });
      expect(second.json.results).toEqual([
        expect.objectContaining({
          tenant: 'b',
          code: 422,
          response: '0107176c:3: Invalid Virtual Address, the IP address 0.0.0.0%2 already exists.',
        }),
      ]);
    }
  });

  test('a bigip pointer to something the device does not hold fails the request at parse, with the JSON pointer of the reference', async () => {
    const missing = await raw(device, 'POST', DECLARE, {
      token,
      body: adc({ a: service('10.1.0.0%2/16', true, { allowVlans: [{ bigip: '/Common/vlan_ext' }, { bigip: '/Common/vlan_int' }] }) }),
    });
    expect(missing.status).toBe(422);
    expect(missing.json.message).toBe('Unable to find /Common/vlan_int for /a/egress/vs/allowVlans/1');
    expect(device.partitionConfig('a')).toBeUndefined();
    const policy = await raw(device, 'POST', DECLARE, {
      token,
      body: adc({ a: service('10.1.0.0%2/16', true, { policyFirewallEnforced: { bigip: '/Common/Shared/p' } }) }),
    });
    expect(policy.json.message).toBe('Unable to find /Common/Shared/p for /a/egress/vs/policyFirewallEnforced');
    // What the device has: existing objects, built-ins, and what AS3 deployed before the request.
    await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({}, { p: { class: 'Firewall_Policy', rules: [] } }) }) });
    const found = await raw(device, 'POST', DECLARE, {
      token,
      body: adc({
        a: service('10.1.0.0%2/16', true, {
          allowVlans: [{ bigip: '/Common/vlan_ext' }],
          policyFirewallEnforced: { bigip: '/Common/Shared/p' },
        }),
      }),
    });
    expect(found.status).toBe(200);
  });

  test('an object another tenant points at with bigip is in use: Common cannot delete it until that tenant lets go', async () => {
    await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({}, { p: { class: 'Firewall_Policy', rules: [] } }) }) });
    await raw(device, 'POST', DECLARE, {
      token,
      body: adc({ a: service('10.1.0.0%2/16', true, { policyFirewallEnforced: { bigip: '/Common/Shared/p' } }) }),
    });
    const refused = await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({ x: ['192.0.2.1'] }) }) });
    expect(refused.json.results[1]).toEqual(
      expect.objectContaining({
        code: 422,
        response:
          '01070265:3: The Firewall Policy (/Common/Shared/p) cannot be deleted because it is in use by Virtual Server (/a/egress/vs).',
      }),
    );
    expect(sharedOf(device.partitionConfig('Common'))?.p).toBeDefined();
    await raw(device, 'DELETE', `${DECLARE}/a`, { token });
    expect((await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({ x: ['192.0.2.1'] }) }) })).json.results[1]).toEqual(
      expect.objectContaining({ code: 200 }),
    );
  });

  test("an address list with FQDN entries needs the global FQDN policy's resolver first", async () => {
    const list = { class: 'Tenant', a: { class: 'Application', l: { class: 'Firewall_Address_List', fqdns: ['api.example.com'] } } };
    const before = await raw(device, 'POST', DECLARE, { token, body: adc({ t: list }) });
    expect(before.json.results).toEqual([
      expect.objectContaining({
        tenant: 't',
        code: 422,
        response:
          'The IP address list (/t/a/l) has FQDN entries (api.example.com) but security firewall global-fqdn-policy has no dns-resolver.',
      }),
    ]);
    expect(device.partitionConfig('t')).toBeUndefined();
    expect(
      (await raw(device, 'POST', BASH, { token, body: tmsh('modify security firewall global-fqdn-policy dns-resolver /Common/resolver') }))
        .json.commandResult,
    ).toBeUndefined();
    expect((await raw(device, 'POST', DECLARE, { token, body: adc({ t: list }) })).status).toBe(200);
  });
});

describe('route domains known by name and by id', () => {
  let device: BigipEmulator;
  let token: string;
  beforeEach(async () => {
    device = await BigipEmulator.start({
      as3OperationMs: 0,
      routeDomains: ['/Common/0', '/Common/rd_prod'],
      routeDomainIds: { '/Common/rd_prod': 2 },
    });
    token = await loginRaw(device);
  });
  afterEach(() => device.stop());

  const rdPolicy = (bigip: string) => ({
    class: 'Firewall_Policy',
    rules: [{ name: 'deny', action: 'drop', protocol: 'any' }],
    routeDomainEnforcement: [{ bigip }],
  });

  test('AS3 names a route domain by path: its name works, its id as a name does not', async () => {
    const byName = await raw(device, 'POST', DECLARE, {
      token,
      body: adc({ Common: common({ l: ['10.0.0.0%2/8'] }, { p: rdPolicy('/Common/rd_prod') }) }),
    });
    expect(byName.status).toBe(200);
    expect(device.routeDomain('/Common/rd_prod')).toEqual({ enforcedPolicy: '/Common/Shared/p' });
    const byId = await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({}, { q: rdPolicy('/Common/2') }) }) });
    expect(byId.status).toBe(422);
    expect(byId.json.message).toBe('Unable to find /Common/2 for /Common/Shared/q/routeDomainEnforcement/0');
  });

  test('addresses name a route domain by id', async () => {
    const unknownId = await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({ l: ['10.0.0.0%5/8'] }) }) });
    expect(unknownId.json.results[0].response).toBe('01020036:3: The requested route domain (id 5) was not found.');
    const tenant = {
      class: 'Tenant',
      defaultRouteDomain: 7,
      a: { class: 'Application', l: { class: 'Firewall_Address_List', addresses: ['192.0.2.1'] } },
    };
    expect((await raw(device, 'POST', DECLARE, { token, body: adc({ t: tenant }) })).json.results[0].response).toBe(
      '01020036:3: The requested route domain (id 7) was not found.',
    );
  });

  test('tmsh names a route domain by name; list shows its id', async () => {
    await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({}, { p: rdPolicy('/Common/rd_prod') }) }) });
    const byId = await raw(device, 'POST', BASH, {
      token,
      body: tmsh('modify net route-domain /Common/2 fw-staged-policy /Common/Shared/p'),
    });
    expect(byId.json.commandResult).toBe('01020036:3: The requested route domain (/Common/2) was not found.\n');
    await raw(device, 'POST', BASH, { token, body: tmsh('modify net route-domain rd_prod fw-staged-policy /Common/Shared/p') });
    const listed = await raw(device, 'POST', BASH, { token, body: tmsh('list net route-domain /Common/rd_prod') });
    expect(listed.json.commandResult).toBe(
      'net route-domain /Common/rd_prod {\n    id 2\n    fw-enforced-policy /Common/Shared/p\n    fw-staged-policy /Common/Shared/p\n}\n',
    );
  });

  test('a route domain not named after an id needs its id', async () => {
    await expect(BigipEmulator.start({ routeDomains: ['/Common/rd_prod'] })).rejects.toThrow(
      /route domain \/Common\/rd_prod is not named after an id; give its id in routeDomainIds/,
    );
    await expect(BigipEmulator.start({ routeDomains: ['/Common/2', '/Common/rd'], routeDomainIds: { '/Common/rd': 2 } })).rejects.toThrow(
      /both have id 2/,
    );
    await expect(BigipEmulator.start({ routeDomainIds: { '/Common/x': 1 } })).rejects.toThrow(/not in routeDomains/);
  });
});

describe('event-driven lists and the service-discovery worker', () => {
  let device: BigipEmulator;
  let token: string;
  beforeEach(async () => {
    device = await BigipEmulator.start({ as3OperationMs: 0 });
    token = await loginRaw(device);
  });
  afterEach(() => device.stop());

  test('a new list holds the placeholder; literal addresses come first and need no placeholder; re-creating a list resets it', async () => {
    const mixed = { class: 'Firewall_Address_List', addresses: ['192.0.2.1', { addressDiscovery: 'event' }] };
    await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({ ev: 'event' }, { mixed }) }) });
    expect(device.listMembers('/Common/Shared/ev')).toEqual([EMPTY_LIST_PLACEHOLDER]);
    expect(device.listMembers('/Common/Shared/mixed')).toEqual(['192.0.2.1']);
    await raw(device, 'POST', nodesOf('~Common~Shared~mixed'), { token, body: [{ id: 'a', ip: '10.0.0.1' }] });
    expect(device.listMembers('/Common/Shared/mixed')).toEqual(['192.0.2.1', '10.0.0.1']);
    // With a literal address the list is not empty, so an empty push applies.
    await raw(device, 'POST', nodesOf('~Common~Shared~mixed'), { token, body: [] });
    expect(device.listMembers('/Common/Shared/mixed')).toEqual(['192.0.2.1']);

    await raw(device, 'POST', nodesOf('~Common~Shared~ev'), { token, body: [{ id: 'a', ip: '10.0.0.1' }] });
    await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({}, { mixed }) }) });
    await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({ ev: 'event' }, { mixed }) }) });
    expect(device.listMembers('/Common/Shared/ev')).toEqual([EMPTY_LIST_PLACEHOLDER]);
    expect(device.discoveredNodes('/Common/Shared/ev')).toEqual([]);
  });
});

describe('running and saved configuration', () => {
  let device: BigipEmulator;
  let token: string;
  const policy = { class: 'Firewall_Policy', rules: [{ name: 'deny', action: 'drop', protocol: 'any' }] };
  beforeEach(async () => {
    device = await BigipEmulator.start({ as3OperationMs: 0 });
    token = await loginRaw(device);
    await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({ ev: 'event' }, { gp: policy }) }) });
  });
  afterEach(() => device.stop());

  const attach = () =>
    raw(device, 'POST', BASH, { token, body: tmsh('modify security firewall global-rules enforced-policy /Common/Shared/gp') });

  test('a tmsh attachment that was not saved is lost on reboot, with every token', async () => {
    await attach();
    expect(device.globalRules()).toEqual({ enforcedPolicy: '/Common/Shared/gp' });
    device.reboot();
    expect(device.globalRules()).toEqual({});
    expect((await raw(device, 'GET', '/mgmt/shared/appsvcs/info', { token })).status).toBe(401);
    // AS3 saved its own declaration.
    expect(sharedOf(device.partitionConfig('Common'))?.gp).toEqual(policy);
  });

  test('save sys config keeps it across a reboot', async () => {
    await attach();
    const saved = await raw(device, 'POST', BASH, { token, body: tmsh('save sys config') });
    expect(saved.json.commandResult).toMatch(/^Saving running configuration\.\.\./);
    device.reboot();
    expect(device.globalRules()).toEqual({ enforcedPolicy: '/Common/Shared/gp' });
  });

  test('an AS3 declaration saves the whole running configuration, tmsh changes included', async () => {
    await attach();
    await raw(device, 'POST', DECLARE, { token, body: adc({ Common: common({ ev: 'event', other: ['192.0.2.1'] }, { gp: policy }) }) });
    device.reboot();
    expect(device.globalRules()).toEqual({ enforcedPolicy: '/Common/Shared/gp' });
    expect(sharedOf(device.partitionConfig('Common'))?.other).toBeDefined();
  });

  test('with persist: false the declaration is lost on reboot, stored declaration and all', async () => {
    const body = adc({ Common: common({ ev: 'event', other: ['192.0.2.1'] }, { gp: policy }) });
    body.persist = false;
    await raw(device, 'POST', DECLARE, { token, body });
    expect(sharedOf(device.partitionConfig('Common'))?.other).toBeDefined();
    device.reboot();
    expect(sharedOf(device.partitionConfig('Common'))?.other).toBeUndefined();
    expect(sharedOf(device.declaration()?.Common as Json)?.other).toBeUndefined();
  });

  test('load sys config returns to the saved configuration without a restart', async () => {
    await attach();
    const loaded = await raw(device, 'POST', BASH, { token, body: tmsh('load sys config') });
    expect(loaded.status).toBe(200);
    expect(device.globalRules()).toEqual({});
    expect((await raw(device, 'GET', '/mgmt/shared/appsvcs/info', { token })).status).toBe(200);
  });

  test('list addresses pushed after the last save revert on reboot; the task still reports the pushed nodes', async () => {
    await raw(device, 'POST', nodesOf('~Common~Shared~ev'), { token, body: [{ id: '10.0.0.1', ip: '10.0.0.1' }] });
    expect(device.listMembers('/Common/Shared/ev')).toEqual(['10.0.0.1']);
    device.reboot();
    expect(device.listMembers('/Common/Shared/ev')).toEqual([EMPTY_LIST_PLACEHOLDER]);
    expect(device.discoveredNodes('/Common/Shared/ev')).toEqual(['10.0.0.1']);
  });
});

describe('the AS3 lock', () => {
  test('an async declaration that meets a running operation is accepted, then its task reports 503 and nothing changes', async () => {
    const device = await BigipEmulator.start({ as3OperationMs: 150 });
    try {
      const token = await loginRaw(device);
      const running = await raw(device, 'POST', `${DECLARE}?async=true`, { token, body: adc({ Common: common({ a: 'event' }) }) });
      const second = await raw(device, 'POST', `${DECLARE}/t9?async=true`, {
        token,
        body: adc({
          t9: { class: 'Tenant', a: { class: 'Application', l: { class: 'Firewall_Address_List', addresses: ['192.0.2.1'] } } },
        }),
      });
      expect(second.status).toBe(202);
      const task = await raw(device, 'GET', `/mgmt/shared/appsvcs/task/${second.json.id}`, { token });
      expect(task.json.results).toEqual([
        {
          code: 503,
          message: 'Error: Configuration operation in progress on device localhost, please try again in 2 minutes',
          host: 'localhost',
          tenant: ['t9'],
          declarationId: 'test',
        },
      ]);
      for (let i = 0; i < 100 && device.as3OperationRunning(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(device.partitionConfig('t9')).toBeUndefined();
      expect((await raw(device, 'GET', `/mgmt/shared/appsvcs/task/${running.json.id}`, { token })).json.results[0].code).toBe(200);
    } finally {
      await device.stop();
    }
  });
});

describe('BWC::policy attach resolves a name as the iRule runtime does', () => {
  let device: BigipEmulator;
  beforeAll(async () => {
    device = await BigipEmulator.start({ as3OperationMs: 0 });
    const token = await loginRaw(device);
    const iRule = (arg: string) => ({ class: 'iRule', iRule: `when FLOW_INIT {\n    BWC::policy attach ${arg}\n}\n` });
    const bwc = { class: 'Bandwidth_Control_Policy', maxBandwidth: 10, maxBandwidthUnit: 'Mbps' };
    const answer = await raw(device, 'POST', DECLARE, {
      token,
      body: adc({
        Common: common(
          {},
          { bwc_a: bwc, bwc_a_attach: iRule('bwc_a'), full_path_attach: iRule('/Common/Shared/bwc_a'), missing_attach: iRule('bwc_zz') },
        ),
        t1: { class: 'Tenant', app: { class: 'Application', bwc_b: bwc, bwc_b_attach: iRule('bwc_b'), common_attach: iRule('bwc_a') } },
      }),
    });
    expect(answer.status).toBe(200);
  });
  afterAll(() => device.stop());

  test("a name without a path is found in the iRule's folder, its partition or /Common", () => {
    expect(device.bandwidthPolicyAttachedBy('/Common/Shared/bwc_a_attach')).toBe('/Common/Shared/bwc_a');
    expect(device.bandwidthPolicyAttachedBy('/t1/app/bwc_b_attach')).toBe('/t1/app/bwc_b');
  });

  test('a full path, or a name found nowhere on the way up, fails at FLOW_INIT', () => {
    expect(() => device.bandwidthPolicyAttachedBy('/Common/Shared/full_path_attach')).toThrow(
      'TCL error: /Common/Shared/full_path_attach <FLOW_INIT> - BWC policy "/Common/Shared/bwc_a" not found',
    );
    expect(() => device.bandwidthPolicyAttachedBy('/Common/Shared/missing_attach')).toThrow(/BWC policy "bwc_zz" not found/);
    // /Common/Shared is not on the way up from /t1/app (/t1/app, /t1, /Common).
    expect(() => device.bandwidthPolicyAttachedBy('/t1/app/common_attach')).toThrow(/BWC policy "bwc_a" not found/);
    expect(() => device.bandwidthPolicyAttachedBy('/t1/app/nope')).toThrow(/no iRule \/t1\/app\/nope is deployed/);
  });
});
