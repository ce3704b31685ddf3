import { BigipEmulator } from '../../emulators/bigip/emulator';
import { loginRaw, ManualClock, raw } from './support';

describe('BigipEmulator token authentication', () => {
  let device: BigipEmulator;
  const clock = new ManualClock();

  beforeAll(async () => {
    device = await BigipEmulator.start({
      users: { admin: 'admin', ops: 's3cret' },
      tokenLifetimeSeconds: 60,
      maxTokensPerUser: 3,
      clock: clock.now,
    });
  });
  afterAll(() => device.stop());
  beforeEach(() => device.revokeAllTokens());

  test('listens on loopback https and answers a login with the documented token object', async () => {
    expect(device.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const answer = await raw(device, 'POST', '/mgmt/shared/authn/login', {
      body: { username: 'ops', password: 's3cret', loginProviderName: 'tmos' },
    });
    expect(answer.status).toBe(200);
    const t = answer.json.token;
    expect(t).toEqual(
      expect.objectContaining({
        token: expect.stringMatching(/^[A-Z0-9]{20,}$/),
        userName: 'ops',
        timeout: 60,
        startTime: new Date(clock.nowMs).toISOString(),
        expirationMicros: (clock.nowMs + 60_000) * 1000,
        selfLink: `https://localhost/mgmt/shared/authz/tokens/${t.token}`,
      }),
    );
  });

  test('wrong password gets 401 "Authentication failed." and creates no token', async () => {
    const answer = await raw(device, 'POST', '/mgmt/shared/authn/login', { body: { username: 'ops', password: 'nope' } });
    expect(answer.status).toBe(401);
    expect(answer.json).toEqual(expect.objectContaining({ code: 401, message: 'Authentication failed.', kind: ':resterrorresponse' }));
    expect(device.activeTokenCount()).toBe(0);
  });

  test('requests without a token get the documented 401 body', async () => {
    const answer = await raw(device, 'GET', '/mgmt/shared/appsvcs/info');
    expect(answer.status).toBe(401);
    expect(answer.json.code).toBe(401);
    expect(answer.json.message).toMatch(/^Authorization failed: no user authentication header or token detected/);
    expect(answer.json).toEqual(
      expect.objectContaining({ referer: expect.any(String), restOperationId: expect.any(Number), kind: ':resterrorresponse' }),
    );
  });

  test('an unknown token and an expired token are refused with different messages', async () => {
    const unknown = await raw(device, 'GET', '/mgmt/shared/appsvcs/info', { token: 'NOTATOKEN' });
    expect(unknown.status).toBe(401);
    expect(unknown.json.message).toBe('X-F5-Auth-Token does not exist.');

    const token = await loginRaw(device);
    expect((await raw(device, 'GET', '/mgmt/shared/appsvcs/info', { token })).status).toBe(200);
    clock.advance(60_000);
    const expired = await raw(device, 'GET', '/mgmt/shared/appsvcs/info', { token });
    expect(expired.status).toBe(401);
    expect(expired.json.message).toBe('X-F5-Auth-Token has expired.');
  });

  test('PATCH of a token timeout counts from its start time; more than 36000 s is refused with 406', async () => {
    const token = await loginRaw(device);
    clock.advance(50_000);
    const patched = await raw(device, 'PATCH', `/mgmt/shared/authz/tokens/${token}`, { token, body: { timeout: 120 } });
    expect(patched.status).toBe(200);
    expect(patched.json.timeout).toBe(120);
    clock.advance(60_000); // 110 s after the start: still valid with timeout 120
    expect((await raw(device, 'GET', `/mgmt/shared/authz/tokens/${token}`, { token })).json.timeout).toBe(120);

    const tooLong = await raw(device, 'PATCH', `/mgmt/shared/authz/tokens/${token}`, { token, body: { timeout: 36001 } });
    expect(tooLong.status).toBe(406);
    expect(tooLong.json.message).toBe('Auth-token absolute timeout (36000 seconds) exceeded');
    const bad = await raw(device, 'PATCH', `/mgmt/shared/authz/tokens/${token}`, { token, body: { timeout: 'soon' } });
    expect(bad.status).toBe(400);
  });

  test('DELETE of a token ends it', async () => {
    const token = await loginRaw(device);
    expect(device.activeTokenCount('admin')).toBe(1);
    expect((await raw(device, 'DELETE', `/mgmt/shared/authz/tokens/${token}`, { token })).status).toBe(200);
    expect(device.activeTokenCount('admin')).toBe(0);
    expect((await raw(device, 'GET', '/mgmt/shared/appsvcs/info', { token })).status).toBe(401);
  });

  test("a user cannot read another user's token", async () => {
    const mine = await loginRaw(device, 'ops', 's3cret');
    const theirs = await loginRaw(device);
    expect((await raw(device, 'GET', `/mgmt/shared/authz/tokens/${theirs}`, { token: mine })).status).toBe(404);
  });

  test('past the per-user token limit a login gets 400; expired tokens do not count', async () => {
    for (let i = 0; i < 3; i++) await loginRaw(device, 'ops', 's3cret');
    const fourth = await raw(device, 'POST', '/mgmt/shared/authn/login', { body: { username: 'ops', password: 's3cret' } });
    expect(fourth.status).toBe(400);
    expect(fourth.json.message).toBe('user ops has reached maximum active login tokens');
    clock.advance(61_000);
    expect((await raw(device, 'POST', '/mgmt/shared/authn/login', { body: { username: 'ops', password: 's3cret' } })).status).toBe(200);
  });

  test('Basic auth is refused unless enabled', async () => {
    const basic = { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` };
    const refused = await raw(device, 'GET', '/mgmt/shared/appsvcs/info', { headers: basic });
    expect(refused.status).toBe(401);
    expect(refused.json.message).toMatch(/Basic authentication is disabled/);

    const permissive = await BigipEmulator.start({ allowBasicAuth: true });
    try {
      expect((await raw(permissive, 'GET', '/mgmt/shared/appsvcs/info', { headers: basic })).status).toBe(200);
    } finally {
      await permissive.stop();
    }
  });

  test('refuses to listen on anything but loopback', async () => {
    await expect(BigipEmulator.start({ host: '0.0.0.0' })).rejects.toThrow(/not a loopback address/);
  });

  test('unknown paths answer restjavad\'s 404 "not registered"', async () => {
    const token = await loginRaw(device);
    const answer = await raw(device, 'GET', '/mgmt/tm/ltm/virtual', { token });
    expect(answer.status).toBe(404);
    expect(answer.json.message).toMatch(/not registered/);
    expect(device.requestCount('GET (unregistered)')).toBeGreaterThanOrEqual(1);
  });
});
