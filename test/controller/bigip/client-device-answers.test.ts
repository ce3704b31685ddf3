/**
 * The client against the answers the real device gives (as the emulator models them from
 * upstream): removals push AS3's placeholder and are checked against the echoed node list (W5),
 * list members are read from `result.providerOptions.nodeList` (W6), and an AS3 task that
 * reports 503 is posted again (W10). A small fake device covers answers the emulator never gives.
 */
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { BigipApiError, BigipClient } from '../../../lib/clients/bigip';
import { EMPTY_LIST_PLACEHOLDER } from '../../../lib/clients/bigip/client';
import { BigipEmulator } from '../../emulators/bigip/emulator';
import { packageRoot } from '../../../lib/util';
import { clientFor, egressDeclaration, loginRaw, raw } from './support';

const LIST = '~Common~Shared~k8s_prod_src_cluster';
const realSleep = (ms: number, signal: AbortSignal) => delay(ms, undefined, { signal });

describe('BigipClient list pushes and reads against the emulated worker', () => {
  let device: BigipEmulator;
  let client: BigipClient;
  beforeEach(async () => {
    device = await BigipEmulator.start({ as3OperationMs: 0, routeDomains: ['/Common/0', '/Common/2'] });
    client = clientFor(device);
    await client.declare(egressDeclaration(), { pollIntervalMs: 1 });
  });
  afterEach(async () => {
    await client.close();
    await device.stop();
  });

  test('an empty member set is pushed as the placeholder, so the removal takes effect (W5)', async () => {
    await client.replaceListMembers(LIST, ['10.0.0.1', '10.0.0.2'], 2);
    expect(device.listMembers(LIST)).toEqual(['10.0.0.1%2', '10.0.0.2%2']);
    await client.replaceListMembers(LIST, [], 2);
    // Without a route domain, as AS3 writes it.
    expect(device.nodePushes({ list: LIST }).at(-1)?.ips).toEqual([EMPTY_LIST_PLACEHOLDER]);
    expect(device.listMembers(LIST)).toEqual([EMPTY_LIST_PLACEHOLDER]);
  });

  test('the placeholder is not accepted as a member', async () => {
    await expect(client.replaceListMembers(LIST, [EMPTY_LIST_PLACEHOLDER])).rejects.toEqual(
      expect.objectContaining({ reason: 'InvalidInput', message: expect.stringMatching(/placeholder, not a member/) }),
    );
  });

  test('members are read from result.providerOptions.nodeList, without the placeholder (W6)', async () => {
    await client.replaceListMembers(LIST, ['10.0.0.1', 'fd00::1'], 2);
    expect(await client.getListMembers(LIST)).toEqual(['10.0.0.1%2', 'fd00::1%2']);
    await client.replaceListMembers(LIST, []);
    expect(await client.getListMembers(LIST)).toEqual([]);
    await expect(client.getListMembers('~Common~Shared~gone')).rejects.toEqual(expect.objectContaining({ reason: 'ListNotFound' }));
  });
});

describe('BigipClient and a busy AS3 (W10)', () => {
  test('a declaration whose task reports 503 is posted again after a backoff and lands', async () => {
    const device = await BigipEmulator.start({ as3OperationMs: 150 });
    const client = clientFor(device, { sleep: realSleep, retry: { maxAttempts: 5, baseDelayMs: 40, maxDelayMs: 80 } });
    try {
      const token = await loginRaw(device);
      await raw(device, 'POST', '/mgmt/shared/appsvcs/declare?async=true', { token, body: egressDeclaration({ tenant: 'k8s_other' }) });
      expect(device.as3OperationRunning()).toBe(true);
      const result = await client.declare(egressDeclaration(), { pollIntervalMs: 5 });
      expect(result.results.map((r) => [r.tenant, r.code])).toEqual([
        ['Common', 200],
        ['k8s_prod', 200],
        ['Common', 200],
      ]);
      // One POST by the other writer, at least two by the client (the first refused by the lock).
      expect(device.requestCount('POST /mgmt/shared/appsvcs/declare')).toBeGreaterThanOrEqual(3);
      expect(client.stats().retries).toBeGreaterThanOrEqual(1);
      expect(Object.keys(device.declaration() ?? {})).toEqual(expect.arrayContaining(['k8s_other', 'k8s_prod']));
    } finally {
      await client.close();
      await device.stop();
    }
  });

  test('while AS3 stays busy past the task timeout the error is DeviceBusy, not terminal', async () => {
    const device = await BigipEmulator.start({ as3OperationMs: 3000 });
    const client = clientFor(device, { sleep: realSleep, retry: { maxAttempts: 5, baseDelayMs: 20, maxDelayMs: 40 } });
    try {
      const token = await loginRaw(device);
      await raw(device, 'POST', '/mgmt/shared/appsvcs/declare?async=true', { token, body: egressDeclaration({ tenant: 'k8s_other' }) });
      const error = (await client
        .declare(egressDeclaration(), { pollIntervalMs: 5, taskTimeoutMs: 200 })
        .catch((e: unknown) => e)) as BigipApiError;
      expect(error).toBeInstanceOf(BigipApiError);
      expect(error).toEqual(expect.objectContaining({ reason: 'DeviceBusy', terminal: false, status: 503 }));
      expect(error.message).toMatch(/AS3 still refused the declaration after \d+ attempts: Error: Configuration operation in progress/);
      expect(device.partitionConfig('k8s_prod')).toBeUndefined();
    } finally {
      await client.close();
      await device.stop();
    }
  });
});

/** A device that logs in and answers the service-discovery endpoint as told. */
async function fakeDevice(nodesAnswer: (method: string, body: string) => unknown): Promise<{ url: string; stop: () => Promise<void> }> {
  const fixtures = path.join(packageRoot(), 'test', 'emulators', 'fixtures');
  const server = https.createServer(
    { key: fs.readFileSync(path.join(fixtures, 'server.key')), cert: fs.readFileSync(path.join(fixtures, 'server.crt')) },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const reply = (status: number, body: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (req.url === '/mgmt/shared/authn/login') return reply(200, { token: { token: 'FAKETOKEN', timeout: 1200 } });
        if (req.url?.startsWith('/mgmt/shared/authz/tokens/')) return reply(200, {});
        if (req.url?.startsWith('/mgmt/shared/service-discovery/task/'))
          return reply(200, nodesAnswer(req.method ?? '', Buffer.concat(chunks).toString()));
        return reply(404, { code: 404, message: 'not registered' });
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('BigipClient refuses answers that do not confirm the push or the read', () => {
  test.each([
    ['a bare success message', { code: 200, message: 'success', nodeCount: 1 }],
    ['a node list that lost a node', { providerOptions: { nodeList: [] } }],
    ['another node', { providerOptions: { nodeList: [{ id: 'x', ip: '10.9.9.9' }] } }],
  ])('a push answered with %s fails with DeviceError', async (_what, answer) => {
    const fake = await fakeDevice(() => answer);
    const client = new BigipClient({
      url: fake.url,
      username: 'admin',
      password: 'admin',
      caBundle: BigipEmulator.caCertificate(),
      sleep: async () => undefined,
      logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    try {
      const error = (await client.replaceListMembers(LIST, ['10.0.0.1']).catch((e: unknown) => e)) as BigipApiError;
      expect(error).toEqual(expect.objectContaining({ reason: 'DeviceError', terminal: true }));
      expect(error.message).toMatch(/did not echo the 1 pushed node\(s\) in providerOptions\.nodeList/);
    } finally {
      await client.close();
      await fake.stop();
    }
  });

  test('a read answered with a bare node array (not the task) fails with DeviceError', async () => {
    const fake = await fakeDevice(() => [{ id: '10.0.0.1', ip: '10.0.0.1' }]);
    const client = new BigipClient({
      url: fake.url,
      username: 'admin',
      password: 'admin',
      caBundle: BigipEmulator.caCertificate(),
      sleep: async () => undefined,
      logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    try {
      await expect(client.getListMembers(LIST)).rejects.toEqual(
        expect.objectContaining({
          reason: 'DeviceError',
          message: expect.stringMatching(/expected \{"result": \{"providerOptions": \{"nodeList"/),
        }),
      );
    } finally {
      await client.close();
      await fake.stop();
    }
  });
});
