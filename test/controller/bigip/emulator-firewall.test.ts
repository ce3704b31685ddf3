import * as fc from 'fast-check';
import { EMPTY_LIST_PLACEHOLDER } from '../../../lib/clients/bigip/client';
import { BigipEmulator, BigipFault } from '../../emulators/bigip/emulator';
import { egressDeclaration, loginRaw, ManualClock, raw } from './support';

const DECLARE = '/mgmt/shared/appsvcs/declare';
const LIST = '/Common/Shared/k8s_prod_src_cluster';
const TASK = '~Common~Shared~k8s_prod_src_cluster';
const NODES = `/mgmt/shared/service-discovery/task/${TASK}/nodes`;
const BASH = '/mgmt/tm/util/bash';
const GLOBAL_POLICY = '/Common/Shared/k8s_prod_global_policy';

/** The body the F5 Terraform provider's bigip_command sends for one command. */
const tmsh = (command: string) => ({ command: 'run', utilCmdArgs: `-c 'tmsh ${command}'` });

describe('BigipEmulator service-discovery nodes', () => {
  let device: BigipEmulator;
  let token: string;
  const clock = new ManualClock();

  beforeEach(async () => {
    device = await BigipEmulator.start({ as3OperationMs: 0, clock: clock.now });
    token = await loginRaw(device);
    expect((await raw(device, 'POST', DECLARE, { token, body: egressDeclaration() })).status).toBe(200);
  });
  afterEach(() => device.stop());

  test("every event-driven list of the declaration gets a task named after its path; the list holds AS3's placeholder", () => {
    expect(device.eventListTaskIds()).toEqual([
      '~Common~Shared~k8s_prod_src_cluster',
      '~Common~Shared~k8s_prod_src_ns_payments',
      '~k8s_prod~egress~src_svc_shop_checkout',
    ]);
    expect(device.listMembers(LIST)).toEqual([EMPTY_LIST_PLACEHOLDER]);
    expect(device.listMembers(TASK)).toEqual(['::1:5ee:bad:c0de']);
    expect(device.discoveredNodes(TASK)).toEqual([]);
  });

  test('a POST replaces the full member set and answers with the task; GET answers {result: task}', async () => {
    const first = await raw(device, 'POST', NODES, {
      token,
      body: [
        { id: 'a', ip: '10.0.0.1' },
        { id: 'b', ip: '10.0.0.2%3' },
        { id: 'c', ip: 'fd00::1' },
      ],
    });
    expect(first.status).toBe(200);
    const nodeList = [
      { id: 'a', ip: '10.0.0.1' },
      { id: 'b', ip: '10.0.0.2%3' },
      { id: 'c', ip: 'fd00::1' },
    ];
    expect(first.json).toEqual({
      id: TASK,
      updateInterval: 0,
      provider: 'event',
      providerOptions: { type: 'event', nodeList },
      resources: [],
      kind: 'shared:service-discovery:taskstate',
      nodePrefix: '/Common/',
      metadata: { configuredBy: 'AS3' },
      lastDiscoveryResult: { status: 'Success', message: 'Task was successful' },
      routeDomain: 0,
    });
    expect(device.listMembers(LIST)).toEqual(['10.0.0.1', '10.0.0.2%3', 'fd00::1']);
    const got = await raw(device, 'GET', NODES, { token });
    expect(got.json.result.providerOptions.nodeList).toEqual(nodeList);
    expect(got.json.result).toEqual(first.json);

    await raw(device, 'POST', NODES, { token, body: [{ id: '10.0.0.9', ip: '10.0.0.9' }] });
    expect(device.listMembers(LIST)).toEqual(['10.0.0.9']);
    expect((await raw(device, 'GET', NODES, { token })).json.result.providerOptions.nodeList).toEqual([{ id: '10.0.0.9', ip: '10.0.0.9' }]);
    // Other lists were never touched.
    expect(device.listMembers('~Common~Shared~k8s_prod_src_ns_payments')).toEqual([EMPTY_LIST_PLACEHOLDER]);
  });

  test('an empty node list is accepted but cannot empty the address list: the previous members stay', async () => {
    await raw(device, 'POST', NODES, { token, body: [{ id: 'a', ip: '10.0.0.1' }] });
    const emptied = await raw(device, 'POST', NODES, { token, body: [] });
    expect(emptied.status).toBe(200);
    expect(emptied.json.providerOptions.nodeList).toEqual([]);
    expect(device.discoveredNodes(LIST)).toEqual([]);
    expect(device.listMembers(LIST)).toEqual(['10.0.0.1']);
    // Pushing the placeholder is how a list is emptied.
    await raw(device, 'POST', NODES, { token, body: [{ id: EMPTY_LIST_PLACEHOLDER, ip: EMPTY_LIST_PLACEHOLDER }] });
    expect(device.listMembers(LIST)).toEqual([EMPTY_LIST_PLACEHOLDER]);
  });

  test.each([
    ['not an address', [{ id: 'x', ip: 'not-an-ip' }], /index 0: "ip" must be an IPv4 or IPv6 address/],
    ['a CIDR', [{ id: 'x', ip: '10.0.0.0/24' }], /index 0: "ip"/],
    ['a route domain out of range', [{ id: 'x', ip: '10.0.0.1%70000' }], /route domain must be 0..65534/],
    [
      'an interface zone',
      [
        { id: 'ok', ip: '10.0.0.1' },
        { id: 'x', ip: 'fe80::1%eth0' },
      ],
      /index 1/,
    ],
    ['a missing id', [{ ip: '10.0.0.1' }], /"id" must be a non-empty string/],
    ['an object instead of an array', { id: 'x', ip: '10.0.0.1' }, /JSON array/],
  ])('rejects %s with 400 and leaves the members alone', async (_what, body, message) => {
    await raw(device, 'POST', NODES, { token, body: [{ id: 'keep', ip: '10.1.1.1' }] });
    const answer = await raw(device, 'POST', NODES, { token, body });
    expect(answer.status).toBe(400);
    expect(answer.json.code).toBe(400);
    expect(answer.json.message).toMatch(message);
    expect(device.listMembers(LIST)).toEqual(['10.1.1.1']);
  });

  test('an unknown task and a list that is not event-driven get 404 with a BIG-IP error body', async () => {
    const unknown = await raw(device, 'POST', '/mgmt/shared/service-discovery/task/~Common~Shared~nope/nodes', { token, body: [] });
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual(
      expect.objectContaining({
        code: 404,
        message: 'Service discovery task ~Common~Shared~nope does not exist',
        kind: ':resterrorresponse',
      }),
    );
    const staticList = await raw(device, 'POST', '/mgmt/shared/service-discovery/task/~k8s_prod~egress~static_list/nodes', {
      token,
      body: [],
    });
    expect(staticList.status).toBe(404);
    expect(staticList.json.message).toMatch(
      /\/k8s_prod\/egress\/static_list is a Firewall_Address_List without addresses \[\{"addressDiscovery": "event"\}\]/,
    );
  });

  test('keeps a history of pushes that tells when an IP left a list', async () => {
    const t0 = clock.nowMs;
    await raw(device, 'POST', NODES, {
      token,
      body: [
        { id: '1', ip: '10.0.0.1' },
        { id: '2', ip: '10.0.0.2' },
      ],
    });
    clock.advance(1500);
    await raw(device, 'POST', NODES, { token, body: [{ id: '1', ip: '10.0.0.1' }] });
    expect(device.nodePushes({ list: LIST })).toEqual([
      { taskId: TASK, at: t0, ips: ['10.0.0.1', '10.0.0.2'] },
      { taskId: TASK, at: t0 + 1500, ips: ['10.0.0.1'] },
    ]);
    expect(device.firstPushWithout(LIST, '10.0.0.2', t0)?.at).toBe(t0 + 1500);
    expect(device.firstPushWithout(LIST, '10.0.0.1', t0)).toBeUndefined();
    expect(device.nodePushes({ since: t0 + 1 })).toHaveLength(1);
  });

  test('the history is bounded by entries and by IPs, dropping the oldest first', async () => {
    const small = await BigipEmulator.start({ as3OperationMs: 0, historyLimit: 3, historyIpLimit: 5 });
    try {
      const t = await loginRaw(small);
      await raw(small, 'POST', DECLARE, { token: t, body: egressDeclaration() });
      for (let i = 1; i <= 5; i++) await raw(small, 'POST', NODES, { token: t, body: [{ id: 'n', ip: `10.0.0.${i}` }] });
      expect(small.nodePushes().map((p) => p.ips)).toEqual([['10.0.0.3'], ['10.0.0.4'], ['10.0.0.5']]);
      const four = [1, 2, 3, 4].map((i) => ({ id: `${i}`, ip: `10.9.0.${i}` }));
      await raw(small, 'POST', NODES, { token: t, body: four });
      await raw(small, 'POST', NODES, { token: t, body: four });
      // 4 + 4 IPs exceed the limit of 5: only the newest push stays.
      expect(small.nodePushes()).toHaveLength(1);
      const seven = [1, 2, 3, 4, 5, 6, 7].map((i) => ({ id: `${i}`, ip: `10.8.0.${i}` }));
      await raw(small, 'POST', NODES, { token: t, body: seven });
      expect(small.nodePushes().map((p) => p.ips.length)).toEqual([7]);
    } finally {
      await small.stop();
    }
  });

  test('property: any sequence of pushes leaves exactly the last pushed set', async () => {
    const ipSet = fc.uniqueArray(fc.oneof(fc.ipV4(), fc.ipV6()), { maxLength: 12 });
    await fc.assert(
      fc.asyncProperty(fc.array(ipSet, { minLength: 1, maxLength: 6 }), async (pushes) => {
        // Each run starts from an emptied list (the device is shared by the runs).
        await raw(device, 'POST', NODES, { token, body: [{ id: EMPTY_LIST_PLACEHOLDER, ip: EMPTY_LIST_PLACEHOLDER }] });
        for (const ips of pushes) {
          const answer = await raw(device, 'POST', NODES, { token, body: ips.map((ip) => ({ id: ip, ip })) });
          expect(answer.status).toBe(200);
        }
        const last = pushes[pushes.length - 1];
        expect(device.discoveredNodes(LIST)).toEqual(last);
        expect((await raw(device, 'GET', NODES, { token })).json.result.providerOptions.nodeList.map((n: { ip: string }) => n.ip)).toEqual(
          last,
        );
        // The list keeps the last non-empty set: an empty push does not empty it.
        const lastNonEmpty = [...pushes].reverse().find((ips) => ips.length > 0);
        expect(device.listMembers(LIST)).toEqual(lastNonEmpty ?? [EMPTY_LIST_PLACEHOLDER]);
      }),
      { numRuns: 25 },
    );
  });
});

describe('BigipEmulator tmsh through util bash and the firewall contexts', () => {
  let device: BigipEmulator;
  let token: string;

  beforeEach(async () => {
    device = await BigipEmulator.start({
      as3OperationMs: 0,
      routeDomains: ['/Common/0', '/Common/2'],
      dnsResolvers: ['/Common/cluster-dns'],
    });
    token = await loginRaw(device);
    await raw(device, 'POST', DECLARE, { token, body: egressDeclaration() });
  });
  afterEach(() => device.stop());

  test('attaches and releases the global enforced policy', async () => {
    const attach = await raw(device, 'POST', BASH, {
      token,
      body: tmsh(`modify security firewall global-rules enforced-policy ${GLOBAL_POLICY}`),
    });
    expect(attach.status).toBe(200);
    expect(attach.json).toEqual({
      kind: 'tm:util:bash:runstate',
      command: 'run',
      utilCmdArgs: `-c 'tmsh modify security firewall global-rules enforced-policy ${GLOBAL_POLICY}'`,
    });
    expect(device.globalRules()).toEqual({ enforcedPolicy: GLOBAL_POLICY });
    const rest = await raw(device, 'GET', '/mgmt/tm/security/firewall/global-rules', { token });
    expect(rest.json).toEqual(expect.objectContaining({ enforcedPolicy: GLOBAL_POLICY }));
    expect(rest.json.stagedPolicy).toBeUndefined();

    const listed = await raw(device, 'POST', BASH, { token, body: tmsh('list security firewall global-rules') });
    expect(listed.json.commandResult).toBe(`security firewall global-rules {\n    enforced-policy ${GLOBAL_POLICY}\n}\n`);

    await raw(device, 'POST', BASH, { token, body: tmsh('modify security firewall global-rules enforced-policy none') });
    expect(device.globalRules()).toEqual({});
  });

  test('staged policies on the global context and on a route domain', async () => {
    await raw(device, 'POST', BASH, { token, body: tmsh(`modify security firewall global-rules staged-policy ${GLOBAL_POLICY}`) });
    expect(device.globalRules()).toEqual({ stagedPolicy: GLOBAL_POLICY });
    const rd = await raw(device, 'POST', BASH, {
      token,
      body: tmsh(`modify net route-domain /Common/2 fw-staged-policy ${GLOBAL_POLICY}`),
    });
    expect(rd.status).toBe(200);
    expect(device.routeDomain('/Common/2')).toEqual({ stagedPolicy: GLOBAL_POLICY });
    const unknownRd = await raw(device, 'POST', BASH, {
      token,
      body: tmsh(`modify net route-domain /Common/9 fw-staged-policy ${GLOBAL_POLICY}`),
    });
    expect(unknownRd.status).toBe(200);
    expect(unknownRd.json.commandResult).toBe('01020036:3: The requested route domain (/Common/9) was not found.\n');
  });

  test('the global FQDN policy takes an existing DNS resolver', async () => {
    expect(
      (
        await raw(device, 'POST', BASH, {
          token,
          body: tmsh('modify security firewall global-fqdn-policy dns-resolver /Common/cluster-dns'),
        })
      ).status,
    ).toBe(200);
    expect(device.globalFqdnResolver()).toBe('/Common/cluster-dns');
    const missing = await raw(device, 'POST', BASH, {
      token,
      body: tmsh('modify security firewall global-fqdn-policy dns-resolver /Common/other'),
    });
    expect(missing.status).toBe(200);
    expect(missing.json.commandResult).toBe('01020036:3: The requested DNS Resolver (/Common/other) was not found.\n');
    expect(device.globalFqdnResolver()).toBe('/Common/cluster-dns');
  });

  test('a policy that is not deployed is "not found": 200 with the error in commandResult, and nothing changes', async () => {
    const answer = await raw(device, 'POST', BASH, {
      token,
      body: tmsh('modify security firewall global-rules enforced-policy /Common/Shared/missing'),
    });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      kind: 'tm:util:bash:runstate',
      command: 'run',
      utilCmdArgs: "-c 'tmsh modify security firewall global-rules enforced-policy /Common/Shared/missing'",
      commandResult: '01020036:3: The requested Firewall Policy (/Common/Shared/missing) was not found.\n',
    });
    expect(device.globalRules()).toEqual({});
    // An address list is not a policy.
    const notAPolicy = await raw(device, 'POST', BASH, {
      token,
      body: tmsh(`modify security firewall global-rules enforced-policy ${LIST}`),
    });
    expect(notAPolicy.json.commandResult).toMatch(/Firewall Policy \(\/Common\/Shared\/k8s_prod_src_cluster\) was not found/);
  });

  test.each([
    [
      'a missing value',
      tmsh('modify security firewall global-rules enforced-policy'),
      'Syntax Error: "enforced-policy" requires a value\n',
    ],
    [
      'an unknown property',
      tmsh(`modify security firewall global-rules enforcedpolicy ${GLOBAL_POLICY}`),
      'Syntax Error: "enforcedpolicy" unknown property\n',
    ],
  ])('tmsh syntax errors (%s) are answered 200 with "Syntax Error" in commandResult', async (_what, body, output) => {
    const answer = await raw(device, 'POST', BASH, { token, body });
    expect(answer.status).toBe(200);
    expect(answer.json.commandResult).toBe(output);
    expect(device.globalRules()).toEqual({});
  });

  test.each([
    ['an unsupported command', tmsh('delete ltm virtual x')],
    ['shell syntax', tmsh('list sys version; rm -rf /')],
    ['a command that is not tmsh', { command: 'run', utilCmdArgs: "-c 'cat /etc/passwd'" }],
    ['another bash verb', { command: 'exec', utilCmdArgs: "-c 'tmsh show sys version'" }],
  ])('refuses %s with 400 (a malformed request, or beyond the emulation)', async (_what, body) => {
    const answer = await raw(device, 'POST', BASH, { token, body });
    expect(answer.status).toBe(400);
    expect(answer.json.code).toBe(400);
  });

  test('show sys version answers like tmsh', async () => {
    const answer = await raw(device, 'POST', BASH, { token, body: tmsh('show sys version') });
    expect(answer.json.commandResult).toMatch(/Sys::Version[\s\S]*Product\s+BIG-IP[\s\S]*Version\s+17\./);
  });

  test('PATCH of global-rules is checked like tmsh', async () => {
    expect(
      (await raw(device, 'PATCH', '/mgmt/tm/security/firewall/global-rules', { token, body: { enforcedPolicy: GLOBAL_POLICY } })).status,
    ).toBe(200);
    expect(device.globalRules()).toEqual({ enforcedPolicy: GLOBAL_POLICY });
    expect(
      (await raw(device, 'PATCH', '/mgmt/tm/security/firewall/global-rules', { token, body: { enforcedPolicy: '/x/y/z' } })).status,
    ).toBe(400);
  });

  test('a tenant whose policy is still enforced on the global context cannot lose it', async () => {
    await raw(device, 'POST', BASH, { token, body: tmsh(`modify security firewall global-rules enforced-policy ${GLOBAL_POLICY}`) });
    const withoutPolicy = egressDeclaration({ withGlobalPolicy: false });
    const answer = await raw(device, 'POST', DECLARE, { token, body: withoutPolicy });
    expect(answer.status).toBe(207);
    // The deletion is in Common's second pass; the first creates nothing new.
    expect(answer.json.results.map((r: any) => [r.tenant, r.code, r.message])).toEqual([
      ['Common', 200, 'no change'],
      ['k8s_prod', 200, 'no change'],
      ['Common', 422, 'declaration failed'],
    ]);
    expect(answer.json.results[2].response).toBe(
      `01070265:3: The Firewall Policy (${GLOBAL_POLICY}) cannot be deleted because it is in use by the global firewall context (enforced-policy).`,
    );
    expect(device.declaration()?.Common).toEqual(egressDeclaration().declaration.Common);
    expect(device.partitionConfig('Common')).toEqual(egressDeclaration().declaration.Common);

    await raw(device, 'POST', BASH, { token, body: tmsh('modify security firewall global-rules enforced-policy none') });
    const retried = await raw(device, 'POST', DECLARE, { token, body: withoutPolicy });
    expect(retried.status).toBe(200);
  });
});

describe('BigipEmulator fault injection', () => {
  let device: BigipEmulator;
  let token: string;
  beforeEach(async () => {
    device = await BigipEmulator.start({ as3OperationMs: 0, seed: 7 });
    token = await loginRaw(device);
    await raw(device, 'POST', DECLARE, { token, body: egressDeclaration() });
  });
  afterEach(() => device.stop());

  test('"next N requests" faults hit exactly N matching requests, scoped to a path prefix', async () => {
    device.injectFault({ fault: BigipFault.MCPD_LOST, count: 2, pathPrefix: '/mgmt/shared/service-discovery/' });
    expect((await raw(device, 'GET', '/mgmt/shared/appsvcs/info', { token })).status).toBe(200);
    const first = await raw(device, 'POST', NODES, { token, body: [] });
    expect(first.status).toBe(500);
    expect(first.json).toEqual({
      code: 500,
      message: 'The connection to mcpd has been lost, try again.',
      errorStack: [],
      apiError: 32768001,
    });
    expect((await raw(device, 'GET', NODES, { token })).status).toBe(500);
    expect((await raw(device, 'GET', NODES, { token })).status).toBe(200);
    expect(device.faultCount(BigipFault.MCPD_LOST)).toBe(2);
  });

  test('busy: the AS3 message on AS3 paths, an HTML page elsewhere', async () => {
    device.injectFault({ fault: BigipFault.BUSY, count: 2 });
    const as3 = await raw(device, 'GET', '/mgmt/shared/appsvcs/info', { token });
    expect(as3.status).toBe(503);
    expect(as3.json.message).toMatch(/Configuration operation in progress/);
    const other = await raw(device, 'GET', NODES, { token });
    expect(other.status).toBe(503);
    expect(other.headers['content-type']).toMatch(/text\/html/);
  });

  test('unauthorized revokes the presented token', async () => {
    device.injectFault({ fault: BigipFault.UNAUTHORIZED, count: 1, method: 'GET' });
    expect((await raw(device, 'GET', NODES, { token })).status).toBe(401);
    expect((await raw(device, 'GET', NODES, { token })).json.message).toBe('X-F5-Auth-Token does not exist.');
  });

  test('reset closes the connection without an answer', async () => {
    device.injectFault({ fault: BigipFault.RESET, count: 1 });
    await expect(raw(device, 'GET', NODES, { token })).rejects.toThrow();
    expect((await raw(device, 'GET', NODES, { token })).status).toBe(200);
  });

  test('latency delays the request and then serves it', async () => {
    device.injectFault({ fault: BigipFault.LATENCY, latencyMs: 5, latencyMaxMs: 20, count: 3 });
    for (let i = 0; i < 3; i++) expect((await raw(device, 'GET', NODES, { token })).status).toBe(200);
    expect(device.faultCount(BigipFault.LATENCY)).toBe(3);
  });

  test('probabilistic faults are reproducible from the seed', async () => {
    const run = async (seed: number) => {
      const d = await BigipEmulator.start({ seed });
      try {
        const t = await loginRaw(d);
        d.injectFault({ fault: BigipFault.MCPD_LOST, probability: 0.5 });
        const statuses: number[] = [];
        for (let i = 0; i < 24; i++) statuses.push((await raw(d, 'GET', '/mgmt/shared/appsvcs/info', { token: t })).status);
        return statuses;
      } finally {
        await d.stop();
      }
    };
    const a = await run(11);
    expect(await run(11)).toEqual(a);
    expect(a).toContain(500);
    expect(a).toContain(200);
    expect(await run(12)).not.toEqual(a);
  });

  test('clearFaults removes every rule; bad rules are refused', async () => {
    device.injectFault({ fault: BigipFault.BUSY });
    device.clearFaults();
    expect((await raw(device, 'GET', NODES, { token })).status).toBe(200);
    expect(() => device.injectFault({ fault: BigipFault.BUSY, probability: 2 })).toThrow(/probability must be within 0..1/);
    expect(() => device.injectFault({ fault: BigipFault.BUSY, count: 0 })).toThrow(/count must be a whole number/);
    expect(() => device.injectFault({ fault: 'meteor' as BigipFault })).toThrow(/unknown fault/);
  });

  test('counts requests per route', async () => {
    device.resetCounters();
    await raw(device, 'POST', NODES, { token, body: [] });
    await raw(device, 'POST', NODES, { token, body: [] });
    await raw(device, 'GET', NODES, { token });
    expect(device.requestCount('POST /mgmt/shared/service-discovery/task/{taskId}/nodes')).toBe(2);
    expect(device.requestCounts()).toEqual({
      'GET /mgmt/shared/service-discovery/task/{taskId}/nodes': 1,
      'POST /mgmt/shared/service-discovery/task/{taskId}/nodes': 2,
    });
    expect(device.requestCount()).toBe(3);
  });
});
