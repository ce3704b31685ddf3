/**
 * `cdktf-ces verify` as a user runs it: the BIG-IP from the synth output's provider address,
 * credentials from the environment, TLS verified, exit codes 0, 1 and 2.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, TerraformStack } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import { AfmDevice, ClusterEgressRule, EgressAction, EgressCrdStack, EgressDestination } from '../../lib';
import { Emulators, deploySynthOutput, startEmulators } from '../emulators/deploy';
import { buildApp } from '../verify/support';
import { cli, synthInto } from './support';

jest.setTimeout(60_000);

const ENV = ['BIGIP_USER', 'BIGIP_PASSWORD', 'BIGIP_CA_FILE'] as const;
const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
afterEach(() => {
  for (const k of ENV) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

/** Devices at the given management ports of 127.0.0.1, one stack each. */
function buildDevices(app: App, ports: readonly number[]): void {
  const crds = new EgressCrdStack(app, 'crds');
  ports.forEach((port, i) => {
    const stack = new TerraformStack(app, `cluster${i}`);
    new KubernetesProvider(stack, 'k8s', {});
    const device = new AfmDevice(stack, 'Device', {
      clusterName: `c${i}`,
      address: '127.0.0.1',
      port,
      tlsCaBundlePath: '/etc/ssl/bigip-ca.pem',
      crdStack: crds,
    });
    new ClusterEgressRule(stack, 'Dns', {
      device,
      name: 'dns',
      action: EgressAction.ALLOW_FINAL,
      destinations: [EgressDestination.address('10.96.0.10')],
    });
  });
}

describe('against a BIG-IP', () => {
  let emulators: Emulators;
  let dir: string;
  beforeAll(async () => {
    emulators = await startEmulators();
    dir = synthInto((app) => buildDevices(app, [emulators.bigip.port]));
    await deploySynthOutput(path.join(dir, 'cdktf.out'), emulators);
  });
  afterAll(async () => {
    await emulators.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const login = (ca = true) => {
    process.env.BIGIP_USER = 'admin';
    process.env.BIGIP_PASSWORD = 'admin';
    if (ca) process.env.BIGIP_CA_FILE = emulators.caFile;
    else delete process.env.BIGIP_CA_FILE;
  };

  test("the BIG-IP is the one the synth output's provider names; all is well: exit 0", async () => {
    login();
    const r = await cli(dir, 'verify');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => !l.startsWith('WARN'))).toEqual([
      `OK    cluster0/k8s_c0 on https://127.0.0.1:${emulators.bigip.port}: AS3 task results, stored declaration, context attachments, route domains, 1 event-driven lists, saved tmsh changes`,
      `verify: 1 warning (1 device on https://127.0.0.1:${emulators.bigip.port})`,
      'note: the saved configuration is not read (neither iControl REST nor tmsh lists it); the synthesized tmsh commands are checked for "save sys config" instead',
      '',
    ]);
  });

  test('--format json', async () => {
    login();
    const r = await cli(dir, 'verify', '--format', 'json', '--device', 'k8s_c0');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toEqual({
      ok: true,
      errors: 0,
      warnings: 1,
      devices: [{ device: 'cluster0/k8s_c0', url: `https://127.0.0.1:${emulators.bigip.port}`, checked: expect.any(Array), ok: true }],
      // The list the controller has not filled yet; the synthesized tmsh commands save their changes.
      problems: [expect.objectContaining({ check: 'address-list', severity: 'warning' })],
      notes: [expect.stringMatching(/^the saved configuration is not read/)],
    });
  });

  test("the device's certificate is verified: without its CA verify fails and says how to give it", async () => {
    login(false);
    const r = await cli(dir, 'verify');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^ERROR \[device\] cluster0\/k8s_c0: https:\/\/127\.0\.0\.1:\d+: GET \/mgmt\/shared\/appsvcs\/declare: expected an answer; found BIG-IP POST \/mgmt\/shared\/authn\/login failed: TlsVerificationFailed: [^\n]*\. Fix: give the CA that signed the management certificate with --ca-file or BIGIP_CA_FILE \(its SAN must match the address\)$/m,
    );
    expect(r.stdout.split('\n').filter((l) => l.startsWith('ERROR'))).toHaveLength(1);
  });

  test('--ca-file gives the CA; --insecure turns verification off with a warning', async () => {
    login(false);
    const withCa = await cli(dir, 'verify', '--ca-file', emulators.caFile);
    expect(withCa.code).toBe(0);
    const insecure = await cli(dir, 'verify', '--insecure');
    expect(insecure.code).toBe(0);
    expect(insecure.stderr).toBe(
      'cdktf-ces verify: WARNING: TLS verification is off (--insecure): anyone on the network path can impersonate the BIG-IP and capture the password and token. Use --ca-file outside a lab.\n',
    );
  });

  test('a wrong password is one problem with its fix', async () => {
    login();
    process.env.BIGIP_PASSWORD = 'wrong';
    const r = await cli(dir, 'verify');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ERROR \[device\] cluster0\/k8s_c0: .*Unauthorized.*\. Fix: check BIGIP_USER and BIGIP_PASSWORD/m);
  });
});

describe('bad input: exit 2, one line', () => {
  let dir: string;
  let shared: string;
  beforeAll(() => {
    dir = synthInto((app) => buildDevices(app, [4431, 4432]));
    shared = synthInto((app) => buildApp(app, { shared: true }));
    fs.writeFileSync(
      path.join(shared, 'state.json'),
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'web' } }] }),
    );
  });
  afterAll(() => {
    for (const d of [dir, shared]) fs.rmSync(d, { recursive: true, force: true });
  });

  test('verify is a command of the tool', async () => {
    expect((await cli(dir, '--help')).stdout).toMatch(
      /\n {2}verify {2,}Checks that the BIG-IP holds what the synth output deploys; run it after "cdktf deploy"\n/,
    );
    const help = await cli(dir, 'verify', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: cdktf-ces verify \[--out <dir>\] \[--device <device>\|all\]/);
  });

  test.each([
    [
      [],
      {},
      "cdktf-ces verify: BIGIP_USER and BIGIP_PASSWORD are not set (got nothing); export the BIG-IP username and password as BIGIP_USER and BIGIP_PASSWORD (the bigip provider's environment); verify never takes them as options",
    ],
    [
      [],
      { BIGIP_USER: 'admin' },
      "cdktf-ces verify: BIGIP_PASSWORD is not set (got nothing); export the BIG-IP username and password as BIGIP_USER and BIGIP_PASSWORD (the bigip provider's environment); verify never takes them as options",
    ],
    [['--format', 'xml'], {}, 'cdktf-ces verify: --format (got "xml"); use one of text, json'],
    [
      ['--bigip-url', 'http://127.0.0.1:4431', '--device', 'k8s_c0'],
      {},
      'cdktf-ces verify: --bigip-url (got "http://127.0.0.1:4431"); write the management URL as https://<host>[:<port>] (HTTPS only, no path or credentials)',
    ],
    [
      ['--bigip-url', 'https://127.0.0.1:4431'],
      {},
      'cdktf-ces verify: --bigip-url with devices on several BIG-IPs (got cluster0/k8s_c0: https://127.0.0.1:4431, cluster1/k8s_c1: https://127.0.0.1:4432); choose one device with --device <tenant>',
    ],
    [
      ['--device', 'nope'],
      {},
      'cdktf-ces verify: --device names no device of the synth output (got "nope"); use all or one of: cluster0/k8s_c0 (cluster0/Device), cluster1/k8s_c1 (cluster1/Device) (a tenant, a cluster name, <stack>/<tenant> or a construct path)',
    ],
    [
      ['--insecure', '--ca-file', 'ca.pem'],
      { BIGIP_USER: 'u', BIGIP_PASSWORD: 'p' },
      'cdktf-ces verify: --insecure contradicts the CA bundle (got "ca.pem"); give --ca-file to verify the device, or --insecure to skip verification, not both',
    ],
    [
      ['--ca-file', 'missing.pem'],
      { BIGIP_USER: 'u', BIGIP_PASSWORD: 'p' },
      'cdktf-ces verify: cannot read the --ca-file CA bundle (got "missing.pem"); it does not exist; give the PEM file of the CA that signed the BIG-IP management certificate',
    ],
    [
      ['--password', 'x'],
      {},
      'cdktf-ces verify: unknown option for "verify" (got "--password"); run "cdktf-ces verify --help" for its options',
    ],
    [
      ['--out', 'nowhere'],
      {},
      'cdktf-ces verify: no synth output directory (got "nowhere"); run "cdktf synth" first, or point --out at the output directory',
    ],
  ])('%j with %j', async (args, env, message) => {
    for (const k of ENV) delete process.env[k];
    Object.assign(process.env, env);
    const r = await cli(dir, 'verify', ...(args as string[]));
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${message}\n`);
    expect(r.code).toBe(2);
  });

  test('cluster state is of one cluster: with several devices it needs --device', async () => {
    Object.assign(process.env, { BIGIP_USER: 'u', BIGIP_PASSWORD: 'p' });
    delete process.env.BIGIP_CA_FILE;
    const r = await cli(shared, 'verify', '--state', 'state.json');
    expect(r.stderr).toBe(
      "cdktf-ces verify: cluster state is of one cluster, but several devices are verified (got alpha/k8s_alpha, beta/k8s_beta); choose the cluster's device with --device <tenant>\n",
    );
    expect(r.code).toBe(2);
  });
});
