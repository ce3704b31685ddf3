import { setTimeout as delay } from 'node:timers/promises';
import * as tls from 'node:tls';
import { BigipApiError, BigipClient } from '../../../lib/clients/bigip';
import { BigipEmulator } from '../../emulators/bigip/emulator';
import { AS3_SCHEMA_PATH, AS3_SCHEMA_PRESENT, clientFor, egressDeclaration, memoryLogger } from './support';

const realSleep = (ms: number, signal: AbortSignal) => delay(ms, undefined, { signal });

describe('BigipClient TLS', () => {
  let device: BigipEmulator;
  beforeAll(async () => {
    device = await BigipEmulator.start();
  });
  afterAll(() => device.stop());

  test('verifies the device against the given CA bundle', async () => {
    const client = clientFor(device);
    try {
      await expect(client.info()).resolves.toEqual(expect.objectContaining({ version: '3.56.0' }));
    } finally {
      await client.close();
    }
  });

  test('a CA that did not sign the device certificate fails at once with a clear, terminal error', async () => {
    device.resetCounters();
    const otherCa = tls.rootCertificates[0];
    const client = clientFor(device, { caBundle: otherCa });
    try {
      const error = (await client.info().catch((e: unknown) => e)) as BigipApiError;
      expect(error).toBeInstanceOf(BigipApiError);
      expect(error).toEqual(expect.objectContaining({ reason: 'TlsVerificationFailed', terminal: true, attempts: 1 }));
      expect(error.message).toMatch(
        /TlsVerificationFailed: [A-Z_]+: .*give the CA that signed the BIG-IP's management certificate as caBundle/,
      );
      expect(device.requestCount()).toBe(0);
    } finally {
      await client.close();
    }
  });

  test("without a CA bundle Node's public roots are used, which do not trust the device", async () => {
    const client = new BigipClient({ url: device.url, username: 'admin', password: 'admin', logger: memoryLogger() });
    try {
      await expect(client.info()).rejects.toEqual(expect.objectContaining({ reason: 'TlsVerificationFailed', terminal: true }));
    } finally {
      await client.close();
    }
  });

  test('insecureSkipTlsVerify connects without verification and logs a loud warning', async () => {
    const logger = memoryLogger();
    const client = new BigipClient({ url: device.url, username: 'admin', password: 'admin', insecureSkipTlsVerify: true, logger });
    try {
      await expect(client.info()).resolves.toBeDefined();
      const warnings = logger.lines.filter((l) => l.level === 'warn');
      expect(warnings).toHaveLength(1);
      expect(warnings[0].message).toMatch(/^TLS VERIFICATION IS OFF for the BIG-IP at https:\/\/127\.0\.0\.1:\d+/);
      expect(warnings[0].message).toMatch(/Set caBundle/);
    } finally {
      await client.close();
    }
  });

  test('a device that is not listening is retried, then reported Unreachable (not terminal)', async () => {
    const gone = await BigipEmulator.start();
    const url = gone.url;
    await gone.stop();
    const client = new BigipClient({
      url,
      username: 'admin',
      password: 'admin',
      caBundle: BigipEmulator.caCertificate(),
      logger: memoryLogger(),
      sleep: async () => undefined,
      retry: { maxAttempts: 3 },
    });
    try {
      await expect(client.info()).rejects.toEqual(expect.objectContaining({ reason: 'Unreachable', terminal: false, attempts: 3 }));
    } finally {
      await client.close();
    }
  });
});

describe('BigipClient AS3 and tmsh', () => {
  let device: BigipEmulator;
  let client: BigipClient;

  beforeEach(async () => {
    device = await BigipEmulator.start({ as3OperationMs: 60, routeDomains: ['/Common/0', '/Common/2'] });
    client = clientFor(device, { sleep: realSleep });
  });
  afterEach(async () => {
    await client.close();
    await device.stop();
  });

  test('an async declare is submitted once and its task polled until it finishes', async () => {
    const result = await client.declare(egressDeclaration(), { pollIntervalMs: 10 });
    expect(result.taskId).toEqual(expect.any(String));
    expect(result.results.map((r) => [r.tenant, r.code, r.message])).toEqual([
      ['Common', 200, 'success'],
      ['k8s_prod', 200, 'success'],
      ['Common', 200, 'no change'],
    ]);
    expect(device.requestCount('POST /mgmt/shared/appsvcs/declare')).toBe(1);
    expect(device.requestCount('GET /mgmt/shared/appsvcs/task/{id}')).toBeGreaterThanOrEqual(2);
    expect(device.eventListTaskIds()).toContain('~Common~Shared~k8s_prod_src_cluster');
  });

  test('a synchronous declare to one tenant', async () => {
    await client.declare(egressDeclaration(), { pollIntervalMs: 10 });
    const changed = egressDeclaration();
    changed.declaration.k8s_prod.egress.static_list.addresses = ['198.51.100.0/24'];
    const result = await client.declare(changed, { async: false, tenants: ['k8s_prod'] });
    expect(result.taskId).toBeUndefined();
    expect(result.results).toEqual([expect.objectContaining({ tenant: 'k8s_prod', message: 'success' })]);
    expect(device.requestCount('POST /mgmt/shared/appsvcs/declare/{tenants}')).toBe(1);
  });

  test('a declare that meets another running operation gets 503 and is retried until it lands', async () => {
    const other = clientFor(device, { sleep: realSleep, retry: { maxAttempts: 30, baseDelayMs: 20, maxDelayMs: 60 } });
    const mine = clientFor(device, { sleep: realSleep, retry: { maxAttempts: 30, baseDelayMs: 20, maxDelayMs: 60 } });
    try {
      const dev = egressDeclaration({ tenant: 'k8s_dev' });
      delete dev.declaration.Common;
      await Promise.all([other.declare(egressDeclaration(), { pollIntervalMs: 10 }), mine.declare(dev, { pollIntervalMs: 10 })]);
      expect(device.requestCount('POST /mgmt/shared/appsvcs/declare')).toBeGreaterThanOrEqual(3);
      expect(other.stats().retries + mine.stats().retries).toBeGreaterThanOrEqual(1);
      expect(Object.keys(device.declaration() ?? {})).toEqual(expect.arrayContaining(['Common', 'k8s_prod', 'k8s_dev']));
    } finally {
      await other.close();
      await mine.close();
    }
  });

  test('a tenant that fails to deploy surfaces as InvalidDeclaration with the device response', async () => {
    const body = egressDeclaration();
    body.declaration.k8s_prod.defaultRouteDomain = 9;
    const error = (await client.declare(body, { pollIntervalMs: 10 }).catch((e: unknown) => e)) as BigipApiError;
    expect(error).toEqual(expect.objectContaining({ reason: 'InvalidDeclaration', terminal: true, status: 422 }));
    expect(error.message).toMatch(
      /tenant k8s_prod: 422 declaration failed: 01020036:3: The requested route domain \(id 9\) was not found\.$/,
    );
  });

  test('a request AS3 refuses as a whole surfaces as InvalidDeclaration with its message', async () => {
    const error = (await client
      .declare(egressDeclaration({ routeDomain: 9 }), { pollIntervalMs: 10 })
      .catch((e: unknown) => e)) as BigipApiError;
    expect(error).toEqual(expect.objectContaining({ reason: 'InvalidDeclaration', terminal: true, status: 422 }));
    expect(error.message).toMatch(/422 Unable to find \/Common\/9 for \/Common\/Shared\/k8s_prod_rd_policy\/routeDomainEnforcement\/0$/);
  });

  test('an invalid declaration is terminal InvalidDeclaration, sync (HTTP 422) and async (422 in the task)', async () => {
    const invalid = { class: 'ADC', schemaVersion: 'x' };
    await expect(client.declare(invalid, { async: false })).rejects.toEqual(
      expect.objectContaining({ reason: 'InvalidDeclaration', status: 422, terminal: true }),
    );
    const asyncError = (await client.declare(invalid, { pollIntervalMs: 10 }).catch((e: unknown) => e)) as BigipApiError;
    expect(asyncError).toEqual(expect.objectContaining({ reason: 'InvalidDeclaration', status: 422, terminal: true }));
    expect(asyncError.message).toMatch(/schemaVersion: must be an AS3 schema version/);
  });

  test('tmsh commands attach the global policy; global-rules reads it back', async () => {
    await client.declare(egressDeclaration({ routeDomain: 2 }), { pollIntervalMs: 10 });
    await expect(
      client.runTmsh('modify security firewall global-rules enforced-policy /Common/Shared/k8s_prod_global_policy'),
    ).resolves.toBe('');
    expect(await client.getGlobalRules()).toEqual({ enforcedPolicy: '/Common/Shared/k8s_prod_global_policy' });
    await client.runTmsh('modify net route-domain /Common/2 fw-staged-policy /Common/Shared/k8s_prod_global_policy');
    expect(device.routeDomain('/Common/2')).toEqual({
      enforcedPolicy: '/Common/Shared/k8s_prod_rd_policy',
      stagedPolicy: '/Common/Shared/k8s_prod_global_policy',
    });
    expect(await client.runTmsh('list net route-domain /Common/2')).toMatch(/fw-staged-policy \/Common\/Shared\/k8s_prod_global_policy/);
    await client.runTmsh('modify security firewall global-rules enforced-policy none');
    expect(await client.getGlobalRules()).toEqual({});
  });
});

const describeWithSchema = AS3_SCHEMA_PRESENT ? describe : describe.skip;

describeWithSchema(
  AS3_SCHEMA_PRESENT
    ? 'BigipClient against a schema-validating device'
    : `BigipClient against a schema-validating device (skipped: F5's AS3 schema not found at ${AS3_SCHEMA_PATH})`,
  () => {
    let device: BigipEmulator;
    let client: BigipClient;
    beforeAll(async () => {
      device = await BigipEmulator.start({ as3SchemaPath: AS3_SCHEMA_PATH, as3OperationMs: 0 });
      client = clientFor(device);
    });
    afterAll(async () => {
      await client.close();
      await device.stop();
    });

    test('a schema violation is terminal InvalidDeclaration naming the offending field', async () => {
      const body = egressDeclaration();
      body.declaration.Common.Shared.k8s_prod_dst_dns.addresses = 'not-a-list';
      const error = (await client.declare(body, { async: false }).catch((e: unknown) => e)) as BigipApiError;
      expect(error).toEqual(expect.objectContaining({ reason: 'InvalidDeclaration', status: 422, terminal: true }));
      expect(error.message).toMatch(/declaration is invalid: .*k8s_prod_dst_dns/);
      expect(device.declaration()).toBeUndefined();
    });
  },
);
