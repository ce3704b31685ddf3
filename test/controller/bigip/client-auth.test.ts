import { BigipApiError, BigipClient } from '../../../lib/clients/bigip';
import { BigipEmulator, BigipFault } from '../../emulators/bigip/emulator';
import { clientFor, egressDeclaration, loginRaw, ManualClock } from './support';

const LOGIN = 'POST /mgmt/shared/authn/login';
const TOKEN_PATCH = 'PATCH /mgmt/shared/authz/tokens/{token}';
const TOKEN_DELETE = 'DELETE /mgmt/shared/authz/tokens/{token}';
const INFO = 'GET /mgmt/shared/appsvcs/info';

describe('BigipClient token handling', () => {
  let device: BigipEmulator;
  let client: BigipClient | undefined;
  const clock = new ManualClock();

  beforeEach(async () => {
    device = await BigipEmulator.start({ tokenLifetimeSeconds: 1200, maxTokensPerUser: 5, clock: clock.now });
  });
  afterEach(async () => {
    await client?.close();
    client = undefined;
    await device.stop();
  });

  test('logs in once and reuses the token for every request, concurrent ones included', async () => {
    client = clientFor(device, { now: clock.now });
    await Promise.all(Array.from({ length: 10 }, () => client!.info()));
    for (let i = 0; i < 5; i++) await client.info();
    expect(device.requestCount(LOGIN)).toBe(1);
    expect(device.requestCount(INFO)).toBe(15);
    expect(device.activeTokenCount('admin')).toBe(1);
    expect(client.stats()).toEqual(expect.objectContaining({ logins: 1, retries: 0, failures: 0 }));
  });

  test('extends the token with a PATCH before it expires instead of logging in again', async () => {
    client = clientFor(device, { now: clock.now, tokenTimeoutSeconds: 1200 });
    await client.info();
    clock.advance(1150_000); // inside the refresh margin before the 1200 s expiry
    await client.info();
    expect(device.requestCount(TOKEN_PATCH)).toBe(1);
    expect(device.requestCount(LOGIN)).toBe(1);
    clock.advance(1000_000); // past the original expiry, inside the extended lifetime
    await client.info();
    expect(device.requestCount(LOGIN)).toBe(1);
    expect(client.stats().tokenExtensions).toBe(1);
  });

  test('logs in again (and deletes the old token) once the 36000 s cap is near', async () => {
    client = clientFor(device, { now: clock.now, tokenTimeoutSeconds: 36000 });
    await client.info();
    clock.advance(1150_000);
    await client.info(); // 1150 + 36000 s would pass the cap: fresh login instead of PATCH
    expect(device.requestCount(TOKEN_PATCH)).toBe(0);
    expect(device.requestCount(LOGIN)).toBe(2);
    expect(device.requestCount(TOKEN_DELETE)).toBe(1);
    expect(device.activeTokenCount('admin')).toBe(1);
  });

  test('a token that expired on the device is replaced transparently (401 → one re-login → same request again)', async () => {
    // The client's clock stands still, so it believes its token is fresh; the device's runs on.
    const frozen = new ManualClock(clock.nowMs);
    client = clientFor(device, { now: frozen.now });
    await client.info();
    clock.advance(1201_000);
    await expect(client.info()).resolves.toEqual(expect.objectContaining({ version: '3.56.0' }));
    expect(device.requestCount(LOGIN)).toBe(2);
    expect(device.requestCount(INFO)).toBe(3);
  });

  test('a revoked token (injected 401) is replaced and the request succeeds', async () => {
    client = clientFor(device, { now: clock.now });
    await client.info();
    device.injectFault({ fault: BigipFault.UNAUTHORIZED, count: 1, pathPrefix: '/mgmt/shared/appsvcs/info' });
    await expect(client.info()).resolves.toBeDefined();
    expect(device.requestCount(LOGIN)).toBe(2);
    expect(device.activeTokenCount('admin')).toBe(1);
  });

  test('401 again right after a fresh login is terminal Unauthorized, without a retry storm', async () => {
    client = clientFor(device, { now: clock.now });
    await client.info();
    device.injectFault({ fault: BigipFault.UNAUTHORIZED, pathPrefix: '/mgmt/shared/appsvcs/info' });
    const error = await client.info().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BigipApiError);
    expect(error).toEqual(expect.objectContaining({ status: 401, reason: 'Unauthorized', terminal: true }));
    expect(device.requestCount(LOGIN)).toBe(2);
    expect(device.requestCount(INFO)).toBe(3);
  });

  test('wrong credentials fail once with Unauthorized and a hint; no retries', async () => {
    client = clientFor(device, { password: 'wrong' });
    const error = (await client.info().catch((e: unknown) => e)) as BigipApiError;
    expect(error.reason).toBe('Unauthorized');
    expect(error.terminal).toBe(true);
    expect(error.message).toMatch(
      /POST \/mgmt\/shared\/authn\/login failed: 401 Unauthorized: Authentication failed\. \(check the BIG-IP username and password\)/,
    );
    expect(error.message).not.toContain('wrong');
    expect(device.requestCount(LOGIN)).toBe(1);
    expect(device.requestCount(INFO)).toBe(0);
  });

  test('the per-user token limit surfaces as TokenLimit', async () => {
    for (let i = 0; i < 5; i++) await loginRaw(device);
    client = clientFor(device);
    await expect(client.info()).rejects.toEqual(expect.objectContaining({ reason: 'TokenLimit', status: 400, terminal: true }));
  });

  test('close() deletes the token on the device and later calls fail with ClientClosed', async () => {
    client = clientFor(device, { now: clock.now });
    await client.info();
    expect(device.activeTokenCount('admin')).toBe(1);
    await client.close();
    expect(device.activeTokenCount('admin')).toBe(0);
    expect(device.requestCount(TOKEN_DELETE)).toBe(1);
    await expect(client.info()).rejects.toEqual(expect.objectContaining({ reason: 'ClientClosed', terminal: true }));
    await expect(client.replaceListMembers('~Common~Shared~x', [])).rejects.toEqual(expect.objectContaining({ reason: 'ClientClosed' }));
    await client.close(); // idempotent
  });

  test('many clients created and closed in turn never exhaust the token limit', async () => {
    for (let i = 0; i < 12; i++) {
      const c = clientFor(device, { now: clock.now });
      await c.declare(egressDeclaration(), { pollIntervalMs: 1 });
      await c.close();
    }
    expect(device.activeTokenCount('admin')).toBe(0);
  });
});
