import * as fc from 'fast-check';
import { fullJitterDelay } from '../../../lib/clients/backoff';
import { BigipApiError, BigipClient, classifyNetworkError, classifyResponse, deviceMessageOf } from '../../../lib/clients/bigip';
import { BigipEmulator, BigipFault } from '../../emulators/bigip/emulator';
import { clientFor, egressDeclaration, memoryLogger, recordingSleep } from './support';

const LIST = '~Common~Shared~k8s_prod_src_cluster';
const NODES_PREFIX = `/mgmt/shared/service-discovery/task/${LIST}/nodes`;
const NODES_POST = 'POST /mgmt/shared/service-discovery/task/{taskId}/nodes';

describe('BigipClient retries', () => {
  let device: BigipEmulator;
  let client: BigipClient;
  let sleep: ReturnType<typeof recordingSleep>;

  beforeEach(async () => {
    device = await BigipEmulator.start({ as3OperationMs: 0, seed: 3 });
    sleep = recordingSleep();
    client = clientFor(device, { sleep: sleep.sleep, retry: { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000 } });
    await client.declare(egressDeclaration(), { pollIntervalMs: 1 });
    device.resetCounters();
    sleep.delays.length = 0;
  });
  afterEach(async () => {
    await client.close();
    await device.stop();
  });

  test.each([
    ['503 busy', BigipFault.BUSY],
    ['500 mcpd lost', BigipFault.MCPD_LOST],
    ['connection reset', BigipFault.RESET],
  ])('%s: retried with backoff, then the push lands', async (_what, fault) => {
    device.injectFault({ fault, count: 3, pathPrefix: NODES_PREFIX });
    await client.replaceListMembers(LIST, ['10.0.0.1', '10.0.0.2']);
    expect(device.listMembers(LIST)).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(device.requestCount(NODES_POST)).toBe(4);
    expect(sleep.delays).toHaveLength(3);
    expect(client.stats().retries).toBe(3);
  });

  test('retry: false (the controller, whose workqueue owns push retries): one request, the failure at once', async () => {
    device.injectFault({ fault: BigipFault.BUSY, count: 1, pathPrefix: NODES_PREFIX });
    await expect(client.replaceListMembers(LIST, ['10.0.0.1'], 0, { retry: false })).rejects.toEqual(
      expect.objectContaining({ reason: 'DeviceBusy', terminal: false, attempts: 1 }),
    );
    expect(device.requestCount(NODES_POST)).toBe(1);
    expect(sleep.delays).toHaveLength(0);
    await client.replaceListMembers(LIST, ['10.0.0.1'], 0, { retry: false });
    expect(device.listMembers(LIST)).toEqual(['10.0.0.1']);
  });

  test('added latency does not cause retries', async () => {
    device.injectFault({ fault: BigipFault.LATENCY, latencyMs: 20, count: 2, pathPrefix: NODES_PREFIX });
    await client.replaceListMembers(LIST, ['10.0.0.1']);
    await client.replaceListMembers(LIST, ['10.0.0.2']);
    expect(device.requestCount(NODES_POST)).toBe(2);
    expect(client.stats().retries).toBe(0);
  });

  test('a per-attempt timeout is retried', async () => {
    const impatient = clientFor(device, { sleep: sleep.sleep, timeoutMs: 250 });
    try {
      await impatient.info(); // logged in before the slow request
      device.injectFault({ fault: BigipFault.LATENCY, latencyMs: 1500, count: 1, pathPrefix: NODES_PREFIX });
      await impatient.replaceListMembers(LIST, ['10.0.0.3']);
      expect(device.listMembers(LIST)).toEqual(['10.0.0.3']);
      expect(impatient.stats().retries).toBeGreaterThanOrEqual(1);
    } finally {
      await impatient.close();
    }
  });

  test('when retries run out the error is not terminal and carries the last status', async () => {
    device.injectFault({ fault: BigipFault.BUSY, pathPrefix: NODES_PREFIX });
    const error = (await client.replaceListMembers(LIST, ['10.0.0.1']).catch((e: unknown) => e)) as BigipApiError;
    expect(error).toBeInstanceOf(BigipApiError);
    expect(error).toEqual(expect.objectContaining({ reason: 'DeviceBusy', status: 503, terminal: false, attempts: 5 }));
    expect(error.message).toMatch(/after 5 attempts: 503 DeviceBusy: Configuration Utility restarting/);
    expect(device.requestCount(NODES_POST)).toBe(5);
  });

  test('backoff grows exponentially under full jitter, capped', async () => {
    const own = recordingSleep();
    const maxRandom = clientFor(device, {
      sleep: own.sleep,
      random: () => 0.999999,
      retry: { maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 500 },
    });
    try {
      await maxRandom.info();
      device.injectFault({ fault: BigipFault.MCPD_LOST, count: 5, pathPrefix: NODES_PREFIX });
      await maxRandom.replaceListMembers(LIST, []);
      expect(own.delays).toEqual([99, 199, 399, 499, 499]);
    } finally {
      await maxRandom.close();
    }
  });

  test('a 404 for a list that is not event-driven is terminal ListNotFound: one request, no retry', async () => {
    const error = (await client.replaceListMembers('~k8s_prod~egress~static_list', ['10.0.0.1']).catch((e: unknown) => e)) as BigipApiError;
    expect(error).toEqual(expect.objectContaining({ status: 404, reason: 'ListNotFound', terminal: true, attempts: 1 }));
    expect(error.deviceMessage).toMatch(/is a Firewall_Address_List without addresses/);
    expect(error.message).toMatch(/deploy the AS3 declaration that defines this list/);
    expect(device.requestCount(NODES_POST)).toBe(1);
    expect(sleep.delays).toHaveLength(0);
  });

  test('retries do not hide a terminal error: 503, then 404 ends at once', async () => {
    device.injectFault({ fault: BigipFault.BUSY, count: 1, pathPrefix: '/mgmt/shared/service-discovery/task/~Common~Shared~gone' });
    const error = (await client.replaceListMembers('~Common~Shared~gone', []).catch((e: unknown) => e)) as BigipApiError;
    expect(error).toEqual(expect.objectContaining({ reason: 'ListNotFound', terminal: true, attempts: 2 }));
    expect(device.requestCount(NODES_POST)).toBe(2);
  });

  test('a 400 from the device is terminal InvalidRequest with its message', async () => {
    const error = (await client.runTmsh('delete ltm virtual x').catch((e: unknown) => e)) as BigipApiError;
    expect(error).toEqual(
      expect.objectContaining({
        status: 400,
        reason: 'InvalidRequest',
        terminal: true,
        deviceMessage: expect.stringMatching(/"tmsh delete ltm virtual x" is not emulated/),
      }),
    );
    expect(device.requestCount('POST /mgmt/tm/util/bash')).toBe(1);
  });

  test('a tmsh command that fails is not an error: the device answers 200 with the error as output', async () => {
    const output = await client.runTmsh('modify security firewall global-rules enforced-policy /Common/Shared/missing');
    expect(output).toBe('01020036:3: The requested Firewall Policy (/Common/Shared/missing) was not found.\n');
    expect(device.globalRules()).toEqual({});
    expect(client.stats().failures).toBe(0);
  });

  test('bad input is refused before anything is sent', async () => {
    const cases: Array<[Promise<unknown>, RegExp]> = [
      [client.replaceListMembers(LIST, ['10.0.0.300']), /ips\[0\] is not an IPv4 or IPv6 address .*"10\.0\.0\.300"/],
      [client.replaceListMembers(LIST, ['10.0.0.1%2']), /without a route domain/],
      [client.replaceListMembers(LIST, ['10.0.0.1', '10.0.0.1']), /ips\[1\] 10\.0\.0\.1 appears more than once/],
      [client.replaceListMembers(LIST, [], 70000), /route domain must be a whole number from 0 to 65534/],
      [
        client.replaceListMembers('/Common/Shared/list', []),
        /not a service-discovery task id; use the list path with "\/" replaced by "~"/,
      ],
      [client.runTmsh("list sys version'; rm -rf /'"), /must not contain single quotes/],
      [client.runTmsh('tmsh list sys version'), /must not start with "tmsh"/],
      [client.declare(egressDeclaration(), { tenants: ['bad tenant'] }), /not a valid AS3 tenant name/],
    ];
    for (const [call, message] of cases) {
      const error = (await call.catch((e: unknown) => e)) as BigipApiError;
      expect(error).toBeInstanceOf(BigipApiError);
      expect(error.reason).toBe('InvalidInput');
      expect(error.terminal).toBe(true);
      expect(error.message).toMatch(message);
    }
    expect(device.requestCount()).toBe(0);
  });

  test('close() stops a request that is waiting to retry', async () => {
    let entered!: () => void;
    const waiting = new Promise<void>((r) => (entered = r));
    const slowSleep = (_ms: number, signal: AbortSignal) =>
      new Promise<void>((_resolve, reject) => {
        entered();
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    const c = clientFor(device, { sleep: slowSleep });
    await c.info();
    device.injectFault({ fault: BigipFault.BUSY, pathPrefix: NODES_PREFIX });
    const push = c.replaceListMembers(LIST, ['10.0.0.1']).catch((e: unknown) => e);
    await waiting;
    await c.close();
    expect(await push).toEqual(expect.objectContaining({ reason: 'ClientClosed', terminal: true }));
    expect(device.requestCount(NODES_POST)).toBe(1);
  });
});

describe('BigipClient write serialization', () => {
  let device: BigipEmulator;
  let client: BigipClient;

  beforeEach(async () => {
    device = await BigipEmulator.start({ as3OperationMs: 0, seed: 5 });
    client = clientFor(device);
    await client.declare(egressDeclaration(), { pollIntervalMs: 1 });
  });
  afterEach(async () => {
    await client.close();
    await device.stop();
  });

  test('concurrent pushes reach the device one at a time, in call order, so the last call wins', async () => {
    device.injectFault({ fault: BigipFault.LATENCY, latencyMs: 1, latencyMaxMs: 30, pathPrefix: NODES_PREFIX });
    device.injectFault({ fault: BigipFault.MCPD_LOST, probability: 0.3, pathPrefix: NODES_PREFIX });
    const sets = Array.from({ length: 15 }, (_, i) => [`10.1.0.${i + 1}`]);
    await Promise.all(sets.map((ips) => client.replaceListMembers(LIST, ips)));
    expect(device.listMembers(LIST)).toEqual(sets[sets.length - 1]);
    expect(device.nodePushes({ list: LIST }).map((p) => p.ips)).toEqual(sets);
  });

  test('reads are not queued behind a slow write', async () => {
    device.injectFault({ fault: BigipFault.LATENCY, latencyMs: 1500, count: 1, pathPrefix: NODES_PREFIX, method: 'POST' });
    await client.info();
    let writeDone = false;
    const write = client.replaceListMembers(LIST, ['10.0.0.1']).then(() => (writeDone = true));
    await client.getListMembers(LIST);
    await client.info();
    expect(writeDone).toBe(false);
    await write;
    expect(writeDone).toBe(true);
  });

  test('the write queue is bounded', async () => {
    const bounded = clientFor(device, { maxQueuedWrites: 2 });
    try {
      device.injectFault({ fault: BigipFault.LATENCY, latencyMs: 50, count: 2, pathPrefix: NODES_PREFIX });
      const first = bounded.replaceListMembers(LIST, ['10.0.0.1']);
      const second = bounded.replaceListMembers(LIST, ['10.0.0.2']);
      await expect(bounded.replaceListMembers(LIST, ['10.0.0.3'])).rejects.toEqual(
        expect.objectContaining({ reason: 'QueueFull', terminal: false }),
      );
      await Promise.all([first, second]);
      expect(device.listMembers(LIST)).toEqual(['10.0.0.2']);
    } finally {
      await bounded.close();
    }
  });
});

describe('BigipClient list members', () => {
  let device: BigipEmulator;
  let client: BigipClient;

  beforeAll(async () => {
    device = await BigipEmulator.start({ as3OperationMs: 0 });
    client = clientFor(device);
    await client.declare(egressDeclaration(), { pollIntervalMs: 1 });
  });
  afterAll(async () => {
    await client.close();
    await device.stop();
  });

  test('sends the full list with deterministic node ids, appending %rd for a non-default route domain', async () => {
    await client.replaceListMembers(LIST, ['10.0.0.1', 'fd00::5'], 4);
    expect(device.listMembers(LIST)).toEqual(['10.0.0.1%4', 'fd00::5%4']);
    expect(await client.getListMembers(LIST)).toEqual(['10.0.0.1%4', 'fd00::5%4']);
    await client.replaceListMembers(LIST, ['10.0.0.2']);
    expect(await client.getListMembers(LIST)).toEqual(['10.0.0.2']);
    await client.replaceListMembers(LIST, []);
    expect(await client.getListMembers(LIST)).toEqual([]);
  });

  test('property: any sequence of pushes through the client leaves exactly the last pushed set', async () => {
    const ipSet = fc.uniqueArray(fc.ipV4(), { maxLength: 20 });
    await fc.assert(
      fc.asyncProperty(fc.array(ipSet, { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 3 }), async (pushes, rd) => {
        for (const ips of pushes) await client.replaceListMembers(LIST, ips, rd);
        const expected = pushes[pushes.length - 1].map((ip) => (rd === 0 ? ip : `${ip}%${rd}`));
        expect(await client.getListMembers(LIST)).toEqual(expected);
      }),
      { numRuns: 25 },
    );
  });
});

describe('retry classification', () => {
  test.each([
    [401, 'Authorization failed', '/mgmt/shared/appsvcs/info', 'Unauthorized', false],
    [400, 'user ops has reached maximum active login tokens', '/mgmt/shared/authn/login', 'TokenLimit', false],
    [404, 'URI path /mgmt/shared/appsvcs/info not registered.', '/mgmt/shared/appsvcs/info', 'DeviceError', true],
    [404, 'Service discovery task ~a~b~c does not exist', '/mgmt/shared/service-discovery/task/~a~b~c/nodes', 'ListNotFound', false],
    [404, 'No record found', '/mgmt/shared/appsvcs/task/1', 'NotFound', false],
    [400, 'bad', '/mgmt/tm/util/bash', 'InvalidRequest', false],
    [406, 'Auth-token absolute timeout', '/mgmt/shared/authz/tokens/x', 'InvalidRequest', false],
    [422, 'declaration is invalid', '/mgmt/shared/appsvcs/declare', 'InvalidDeclaration', false],
    [503, 'busy', '/x', 'DeviceBusy', true],
    [500, 'The connection to mcpd has been lost, try again.', '/x', 'DeviceError', true],
    [502, 'bad gateway', '/x', 'DeviceError', true],
  ])('%i "%s" on %s → %s (retryable: %s)', (status, message, path, reason, retryable) => {
    expect(classifyResponse(status, message, path)).toEqual(expect.objectContaining({ reason, retryable }));
  });

  test.each([
    ['ECONNRESET', 'Unreachable', true],
    ['ECONNREFUSED', 'Unreachable', true],
    ['UND_ERR_SOCKET', 'Unreachable', true],
    ['UND_ERR_HEADERS_TIMEOUT', 'Timeout', true],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'TlsVerificationFailed', false],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'TlsVerificationFailed', false],
  ])('network error %s → %s (retryable: %s)', (code, reason, retryable) => {
    expect(classifyNetworkError(Object.assign(new Error('x'), { code }))).toEqual(expect.objectContaining({ reason, retryable }));
    expect(classifyNetworkError(new Error('wrapped', { cause: Object.assign(new Error('x'), { code }) }))).toEqual(
      expect.objectContaining({ reason, retryable }),
    );
  });

  test('the device message comes from JSON bodies and from HTML pages', () => {
    expect(deviceMessageOf('{"code":422,"message":"declaration is invalid","errors":["/a: bad"]}')).toBe('declaration is invalid: /a: bad');
    expect(deviceMessageOf('<html><title>Configuration Utility restarting...</title></html>')).toBe('Configuration Utility restarting...');
  });

  test('property: backoff stays within [0, min(max, base * 2^(n-1))) for any random source', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: 0, max: 60000 }),
        fc.double({ min: 0, max: 0.9999999, noNaN: true }),
        (n, base, max, r) => {
          const d = fullJitterDelay(n, { initialMs: base, maxMs: max }, () => r);
          const window = Math.min(max, base * 2 ** (n - 1));
          expect(d).toBeGreaterThanOrEqual(0);
          expect(d).toBeLessThanOrEqual(Math.max(0, window - 1e-9));
          expect(Number.isInteger(d)).toBe(true);
        },
      ),
    );
  });
});

describe('BigipClient options', () => {
  const base = { url: 'https://127.0.0.1:8443', username: 'admin', password: 'hunter2', logger: memoryLogger() };

  test.each([
    ['an http:// URL', { url: 'http://127.0.0.1:8443' }, /url: uses http:\/\/; the BIG-IP management interface is HTTPS-only/],
    ['credentials in the URL', { url: 'https://admin:pw@127.0.0.1' }, /url: must not carry credentials/],
    ['a URL with a path', { url: 'https://127.0.0.1/mgmt' }, /url: must be just "https:\/\/<host>\[:<port>\]"/],
    ['a host name without scheme', { url: 'bigip' }, /url: is not a URL/],
    ['an empty password', { password: '' }, /password: must be a non-empty string$/m],
    ['a CA bundle that is not PEM', { caBundle: 'not a pem' }, /caBundle: must contain at least one PEM certificate/],
    [
      'a CA bundle together with insecureSkipTlsVerify',
      { insecureSkipTlsVerify: true, caBundle: BigipEmulator.caCertificate() },
      /insecureSkipTlsVerify: contradicts caBundle/,
    ],
    ['a zero timeout', { timeoutMs: 0 }, /timeoutMs: must be at least 1 \(got 0\)/],
    ['a fractional attempt count', { retry: { maxAttempts: 1.5 } }, /retry\.maxAttempts: must be a whole number/],
    ['a misspelt option', { insecure: true }, /unknown option\(s\) "insecure"; check the spelling/],
  ])('refuses %s with a message naming the field', (_what, override, message) => {
    expect(() => new BigipClient({ ...base, ...(override as object) } as never)).toThrow(message);
  });

  test('never echoes the password in an options error', () => {
    expect(() => new BigipClient({ ...base, password: 42 } as never)).toThrow(/password: must be a non-empty string$/m);
    try {
      new BigipClient({ ...base, url: 'http://x', password: 'hunter2' });
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2');
    }
  });
});
