/**
 * The tools' kubeconfig: exec credential plugins (a fake plugin, a node script, against the
 * Kubernetes API emulator over HTTPS), merged KUBECONFIG lists, contexts, and the credential
 * types that are refused with a way out.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { buildPayments } from '../../examples/payments/main';
import { ExecCredentialPlugin, loadKubeconfig } from '../../lib/cli/kubeconfig';
import { CliIo, run } from '../../lib/cli/main';
import { UsageError } from '../../lib/files/usage-error';
import { KubeApiEmulator } from '../emulators/kube/emulator';
import { synthInto } from './support';

let dir: string;
let emulator: KubeApiEmulator;
let plugin: string;

/**
 * The fake plugin: prints an ExecCredential in PLUGIN_API_VERSION with the token PLUGIN_TOKEN
 * (or, from the PLUGIN_GOOD_AFTER-th run on, the right one; before it, a wrong one), expiring at
 * PLUGIN_EXPIRY; appends its KUBERNETES_EXEC_INFO and PLUGIN_SEEN (an env entry of the
 * kubeconfig) to PLUGIN_LOG, one JSON line per run.
 */
const PLUGIN = `#!/usr/bin/env node
const fs = require('node:fs');
const e = process.env;
fs.appendFileSync(e.PLUGIN_LOG, JSON.stringify({ info: JSON.parse(e.KUBERNETES_EXEC_INFO), seen: e.PLUGIN_SEEN ?? null, args: process.argv.slice(2) }) + '\\n');
const runs = fs.readFileSync(e.PLUGIN_LOG, 'utf8').trim().split('\\n').length;
if (e.PLUGIN_FAIL) { process.stderr.write('error: the login expired\\n'); process.exit(4); }
const token = e.PLUGIN_GOOD_AFTER && runs < Number(e.PLUGIN_GOOD_AFTER) ? 'stale-token' : e.PLUGIN_TOKEN;
const status = e.PLUGIN_CERT ? { clientCertificateData: e.PLUGIN_CERT, clientKeyData: e.PLUGIN_KEY } : { token };
if (e.PLUGIN_EXPIRY) status.expirationTimestamp = e.PLUGIN_EXPIRY;
process.stdout.write(JSON.stringify({ apiVersion: e.PLUGIN_API_VERSION, kind: 'ExecCredential', status }));
`;

beforeAll(async () => {
  dir = synthInto(buildPayments);
  emulator = await KubeApiEmulator.start({ namespaces: ['default', 'kube-system', 'payments'] });
  emulator.apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'checkout-0', namespace: 'payments', labels: { app: 'checkout' } },
    spec: { containers: [{ name: 'app', image: 'checkout' }] },
    status: { phase: 'Running', podIP: '10.244.0.9', podIPs: [{ ip: '10.244.0.9' }] },
  });
  emulator.apply({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'checkout', namespace: 'payments' },
    spec: { selector: { app: 'checkout' }, ports: [{ port: 443 }] },
  });
  fs.mkdirSync(path.join(dir, 'bin'));
  plugin = path.join(dir, 'bin', 'fake-auth-plugin');
  fs.writeFileSync(plugin, PLUGIN, { mode: 0o755 });
});

afterAll(async () => {
  await emulator.stop();
});

interface ExecUser {
  readonly apiVersion?: string;
  readonly command?: string;
  readonly interactiveMode?: string;
  readonly provideClusterInfo?: boolean;
  readonly installHint?: string;
  readonly env?: Record<string, string>;
}

/** A kubeconfig for the emulator whose user runs the fake plugin. */
function execKubeconfig(
  file: string,
  exec: ExecUser,
  extra: { currentContext?: string; contextName?: string; clusterName?: string; server?: string } = {},
): string {
  const context = extra.contextName ?? 'emulator';
  const cluster = extra.clusterName ?? 'emulator';
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: cluster,
        cluster: { server: extra.server ?? emulator.url, 'certificate-authority-data': Buffer.from(emulator.caCert).toString('base64') },
      },
    ],
    users: [
      {
        name: 'exec-user',
        user: {
          exec: {
            apiVersion: exec.apiVersion ?? 'client.authentication.k8s.io/v1',
            command: exec.command ?? plugin,
            args: ['get-token', '--cluster', 'payments'],
            env: Object.entries({ PLUGIN_SEEN: 'from-kubeconfig', ...(exec.env ?? {}) }).map(([name, value]) => ({ name, value })),
            ...(exec.interactiveMode !== undefined
              ? { interactiveMode: exec.interactiveMode }
              : (exec.apiVersion ?? '').endsWith('v1beta1')
                ? {}
                : { interactiveMode: 'Never' }),
            ...(exec.provideClusterInfo !== undefined ? { provideClusterInfo: exec.provideClusterInfo } : {}),
            ...(exec.installHint !== undefined ? { installHint: exec.installHint } : {}),
          },
        },
      },
    ],
    contexts: [{ name: context, context: { cluster, user: 'exec-user', namespace: 'payments' } }],
    ...(extra.currentContext !== null ? { 'current-context': extra.currentContext ?? context } : {}),
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, YAML.stringify(doc), { mode: 0o600 });
  return file;
}

let logCount = 0;
/** A fresh plugin log and the environment the CLI (and so the plugin) runs with. */
function pluginEnv(vars: Record<string, string> = {}): {
  env: Record<string, string>;
  runs: () => { info: { apiVersion: string; kind: string; spec: Record<string, unknown> }; seen: string | null; args: string[] }[];
} {
  const log = path.join(dir, `plugin-${logCount++}.log`);
  fs.writeFileSync(log, '');
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: path.join(dir, 'home'),
    PLUGIN_LOG: log,
    PLUGIN_TOKEN: emulator.token,
    PLUGIN_API_VERSION: 'client.authentication.k8s.io/v1',
    ...vars,
  };
  return {
    env,
    runs: () =>
      fs
        .readFileSync(log, 'utf8')
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l)),
  };
}

async function cliWith(
  env: Record<string, string>,
  argv: string[],
  options: { kubectlPlugin?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), cwd: dir, env, ...options };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}

const EXPLAIN = ['explain', '--from', 'payments/checkout', '--to', 'api.stripe.com:443', '--resolve', 'api.stripe.com=203.0.113.10'];

describe('exec credential plugins', () => {
  test.each([['client.authentication.k8s.io/v1'], ['client.authentication.k8s.io/v1beta1']])(
    'a %s plugin authenticates the reads; its token is kept until it expires',
    async (apiVersion) => {
      const file = execKubeconfig(path.join(dir, `exec-${apiVersion.split('/')[1]}.yaml`), { apiVersion });
      const p = pluginEnv({ PLUGIN_API_VERSION: apiVersion, PLUGIN_EXPIRY: new Date(Date.now() + 3_600_000).toISOString() });
      const r = await cliWith(p.env, [...EXPLAIN, '--kubeconfig', file]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('from:        pod payments/checkout-0 (10.244.0.9; Running)');
      // Three lists (namespaces, pods, services), one plugin run.
      expect(p.runs()).toEqual([
        {
          info: { apiVersion, kind: 'ExecCredential', spec: { interactive: false } },
          seen: 'from-kubeconfig',
          args: ['get-token', '--cluster', 'payments'],
        },
      ]);
    },
  );

  test('an expired token runs the plugin again for the next request', async () => {
    const file = execKubeconfig(path.join(dir, 'exec-expired.yaml'), {});
    const p = pluginEnv({ PLUGIN_EXPIRY: new Date(Date.now() - 1000).toISOString() });
    const r = await cliWith(p.env, [...EXPLAIN, '--kubeconfig', file]);
    expect(r.stderr).toBe('');
    // Once when the kubeconfig is loaded, then before each of the three lists.
    expect(p.runs()).toHaveLength(4);
  });

  test('a token the API server rejects (401) is fetched again once, as client-go does', async () => {
    const file = execKubeconfig(path.join(dir, 'exec-401.yaml'), {});
    const p = pluginEnv({ PLUGIN_GOOD_AFTER: '2' });
    const r = await cliWith(p.env, [...EXPLAIN, '--kubeconfig', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(p.runs()).toHaveLength(2);
  });

  test('provideClusterInfo passes the cluster in KUBERNETES_EXEC_INFO', async () => {
    const file = execKubeconfig(path.join(dir, 'exec-info.yaml'), { provideClusterInfo: true });
    const p = pluginEnv();
    expect((await cliWith(p.env, [...EXPLAIN, '--kubeconfig', file])).code).toBe(0);
    expect(p.runs()[0].info.spec).toEqual({
      interactive: false,
      cluster: { server: emulator.url, 'certificate-authority-data': Buffer.from(emulator.caCert).toString('base64') },
    });
  });

  test("a command with a path separator is relative to the kubeconfig's folder", async () => {
    const file = execKubeconfig(path.join(dir, 'nested', 'exec-relative.yaml'), { command: `..${path.sep}bin${path.sep}fake-auth-plugin` });
    const p = pluginEnv();
    const r = await cliWith(p.env, [...EXPLAIN, '--kubeconfig', file]);
    expect(r.stderr).toBe('');
    expect(p.runs()).toHaveLength(1);
  });

  test('a missing plugin is bad input that shows its installHint', async () => {
    const file = execKubeconfig(path.join(dir, 'exec-missing.yaml'), {
      command: 'gke-gcloud-auth-plugin-not-installed',
      installHint: 'Install gke-gcloud-auth-plugin:\n  gcloud components install gke-gcloud-auth-plugin',
    });
    const r = await cliWith(pluginEnv().env, [...EXPLAIN, '--kubeconfig', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `cdktf-ces explain: exec plugin "gke-gcloud-auth-plugin-not-installed" of ${file}: users[name=exec-user].user.exec: not found (got "gke-gcloud-auth-plugin-not-installed"); Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin; see https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins\n`,
    );
  });

  test.each([
    [{ PLUGIN_FAIL: '1' }, /exited with code 4 \(got "error: the login expired"\); run the plugin by hand/],
    [
      { PLUGIN_API_VERSION: 'client.authentication.k8s.io/v1beta1' },
      /it answered in another apiVersion than the kubeconfig's client.authentication.k8s.io\/v1 \(got "client.authentication.k8s.io\/v1beta1"\)/,
    ],
    [{ PLUGIN_EXPIRY: 'tomorrow' }, /status.expirationTimestamp is not an RFC 3339 time \(got "tomorrow"\)/],
    [{ PLUGIN_CERT: '-----BEGIN CERTIFICATE-----' }, /only the client certificate in status/],
  ])('a plugin answer %j is bad input', async (vars, message) => {
    const file = execKubeconfig(path.join(dir, 'exec-bad-answer.yaml'), {});
    const r = await cliWith(pluginEnv(vars).env, [...EXPLAIN, '--kubeconfig', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  test.each([
    [
      { apiVersion: 'client.authentication.k8s.io/v1alpha1' },
      /exec.apiVersion \(got "client.authentication.k8s.io\/v1alpha1"\); v1alpha1 was removed/,
    ],
    [{ interactiveMode: 'Sometimes' }, /exec.interactiveMode \(got "Sometimes"\); use one of Never, IfAvailable, Always/],
    [{ interactiveMode: 'Always' }, /needs a terminal \(interactiveMode: Always\)/],
  ])('exec settings %j are bad input', async (exec, message) => {
    const file = execKubeconfig(path.join(dir, 'exec-bad-config.yaml'), exec);
    const r = await cliWith(pluginEnv().env, [...EXPLAIN, '--kubeconfig', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  test('v1 requires interactiveMode; v1beta1 defaults to IfAvailable', () => {
    const v1 = path.join(dir, 'exec-v1-no-mode.yaml');
    const doc = YAML.parse(fs.readFileSync(execKubeconfig(v1, {}), 'utf8'));
    delete doc.users[0].user.exec.interactiveMode;
    fs.writeFileSync(v1, YAML.stringify(doc));
    expect(() => loadKubeconfig({ file: v1, cwd: dir, env: pluginEnv().env })).toThrow(
      /exec.interactiveMode \(got nothing\); client.authentication.k8s.io\/v1 requires it/,
    );
    const beta = execKubeconfig(path.join(dir, 'exec-beta-no-mode.yaml'), { apiVersion: 'client.authentication.k8s.io/v1beta1' });
    // Without a terminal IfAvailable runs the plugin without one.
    const p = pluginEnv({ PLUGIN_API_VERSION: 'client.authentication.k8s.io/v1beta1' });
    expect(loadKubeconfig({ file: beta, cwd: dir, env: p.env, stdinIsTerminal: false }).connection.credentials?.token()).toBe(
      emulator.token,
    );
    expect(p.runs()[0].info.spec).toEqual({ interactive: false });
  });

  test("a client certificate from the plugin is the connection's", () => {
    const file = execKubeconfig(path.join(dir, 'exec-cert.yaml'), {});
    const loaded = loadKubeconfig({
      file,
      cwd: dir,
      env: pluginEnv({ PLUGIN_CERT: '-----BEGIN CERTIFICATE-----\nAA==\n', PLUGIN_KEY: '-----BEGIN PRIVATE KEY-----\nAA==\n' }).env,
    });
    expect(loaded.connection.clientCert).toBe('-----BEGIN CERTIFICATE-----\nAA==\n');
    expect(loaded.connection.clientKey).toBe('-----BEGIN PRIVATE KEY-----\nAA==\n');
    expect(loaded.connection.credentials).toBeUndefined();
  });

  test('the cached credential is used until its expirationTimestamp, then the plugin runs again', () => {
    const expiry = Date.parse('2030-01-01T00:00:00Z');
    let now = expiry - 60_000;
    const p = pluginEnv({ PLUGIN_EXPIRY: '2030-01-01T00:00:00Z' });
    const source = new ExecCredentialPlugin(
      {
        command: plugin,
        args: [],
        env: [],
        apiVersion: 'client.authentication.k8s.io/v1',
        interactiveMode: 'Never',
        provideClusterInfo: false,
        where: 'test',
      },
      {},
      { env: p.env, cwd: dir, now: () => now },
    );
    expect(source.token()).toBe(emulator.token);
    now = expiry;
    expect(source.token()).toBe(emulator.token);
    expect(p.runs()).toHaveLength(1);
    now = expiry + 1;
    source.token();
    expect(p.runs()).toHaveLength(2);
    source.invalidate();
    source.token();
    expect(p.runs()).toHaveLength(3);
  });
});

describe('KUBECONFIG lists and contexts', () => {
  test('the first file that names a cluster, user, context or current-context wins', async () => {
    const first = execKubeconfig(path.join(dir, 'merge', 'first.yaml'), {}, { contextName: 'payments-prod' });
    // Same cluster name with an unreachable server and its own current-context: both ignored.
    const second = path.join(dir, 'merge', 'second.yaml');
    fs.writeFileSync(
      second,
      YAML.stringify({
        clusters: [{ name: 'emulator', cluster: { server: 'https://192.0.2.1:6443' } }],
        users: [{ name: 'other', user: { token: 'nope' } }],
        contexts: [{ name: 'other', context: { cluster: 'emulator', user: 'exec-user' } }],
        'current-context': 'other',
      }),
    );
    const missing = path.join(dir, 'merge', 'missing.yaml');
    const p = pluginEnv({ KUBECONFIG: [missing, first, second, first].join(path.delimiter) });
    const loaded = loadKubeconfig({ cwd: dir, env: p.env });
    expect(loaded).toMatchObject({
      context: 'payments-prod',
      namespace: 'payments',
      files: [first, second],
      connection: { server: emulator.url },
    });
    // A context of the second file with a user of the first.
    const other = loadKubeconfig({ cwd: dir, env: p.env, context: 'other' });
    expect(other).toMatchObject({ context: 'other', namespace: 'default', connection: { server: emulator.url } });
    const r = await cliWith(p.env, [...EXPLAIN, '--context', 'payments-prod']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  test('an unknown context lists the known ones', () => {
    const file = execKubeconfig(path.join(dir, 'contexts.yaml'), {});
    expect(() => loadKubeconfig({ file, cwd: dir, env: {}, context: 'prod' })).toThrow(
      new UsageError(`${file}: --context names no context`, '"prod"', 'use one of: emulator'),
    );
  });

  test('KUBECONFIG of missing files only, and no ~/.kube/config, are bad input', () => {
    expect(() => loadKubeconfig({ cwd: dir, env: { KUBECONFIG: `a.yaml${path.delimiter}b.yaml` } })).toThrow(
      /none of the KUBECONFIG files exists \(got "a.yaml:b.yaml"\)/,
    );
    expect(() => loadKubeconfig({ cwd: dir, env: { HOME: path.join(dir, 'nohome') } })).toThrow(
      /no kubeconfig: KUBECONFIG is unset and ~\/.kube\/config does not exist/,
    );
  });

  test('~/.kube/config when KUBECONFIG is unset', () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-home-'));
    execKubeconfig(path.join(home, '.kube', 'config'), {});
    expect(loadKubeconfig({ cwd: dir, env: pluginEnv({ HOME: home }).env }).files).toEqual([path.join(home, '.kube', 'config')]);
  });
});

describe('refused settings', () => {
  function kubeconfigWith(name: string, cluster: Record<string, unknown>, user: Record<string, unknown>): string {
    const file = path.join(dir, name);
    fs.writeFileSync(
      file,
      YAML.stringify({
        clusters: [{ name: 'c', cluster: { server: emulator.url, ...cluster } }],
        users: [{ name: 'u', user }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    return file;
  }

  test.each([
    [
      'gcp',
      /auth-provider: the auth-provider plugins were removed from kubectl and client-go \(got "gcp"\); GKE: install gke-gcloud-auth-plugin/,
    ],
    ['azure', /\(got "azure"\); AKS: install kubelogin and run "kubelogin convert-kubeconfig"/],
  ])('auth-provider %s points to its exec plugin', (name, message) => {
    const file = kubeconfigWith(
      `auth-provider-${name}.yaml`,
      { 'certificate-authority-data': Buffer.from(emulator.caCert).toString('base64') },
      { 'auth-provider': { name, config: {} } },
    );
    expect(() => loadKubeconfig({ file, cwd: dir, env: {} })).toThrow(message);
  });

  test('insecure-skip-tls-verify only with --insecure-skip-tls-verify', async () => {
    const file = kubeconfigWith('insecure.yaml', { 'insecure-skip-tls-verify': true }, { token: emulator.token });
    const refused = await cliWith({}, [...EXPLAIN, '--kubeconfig', file]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /clusters\[name=c\].cluster.insecure-skip-tls-verify is true \(got true\); the tools verify the API server's certificate: add its CA \(certificate-authority-data\), or pass --insecure-skip-tls-verify/,
    );
    // The client warns on the process (CDKTF_CES_INSECURE_TLS) when verification is off.
    const allowed = await cliWith({}, [...EXPLAIN, '--kubeconfig', file, '--insecure-skip-tls-verify']);
    expect(allowed.stderr).toBe('');
    expect(allowed.code).toBe(0);
    const misplaced = await cliWith({}, [...EXPLAIN, '--insecure-skip-tls-verify']);
    expect(misplaced.stderr).toMatch(/--insecure-skip-tls-verify without a cluster to read/);
  });

  test('exec together with a token is ambiguous', () => {
    const file = kubeconfigWith(
      'exec-and-token.yaml',
      {},
      { token: 't', exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' } },
    );
    expect(() => loadKubeconfig({ file, cwd: dir, env: {} })).toThrow(/exec together with a token/);
  });
});

describe('kubectl egress', () => {
  test('reads the cluster of the current context without --kubeconfig', async () => {
    const file = execKubeconfig(path.join(dir, 'plugin', 'config'), {});
    const p = pluginEnv({ KUBECONFIG: file });
    const r = await cliWith(p.env, EXPLAIN, { kubectlPlugin: true });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('from:        pod payments/checkout-0 (10.244.0.9; Running)');
    expect(p.runs()).toHaveLength(1);
  });

  test('names itself kubectl egress in messages and help', async () => {
    const r = await cliWith({ HOME: path.join(dir, 'nohome') }, EXPLAIN, { kubectlPlugin: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^kubectl egress explain: no kubeconfig: KUBECONFIG is unset/);
    expect((await cliWith({}, ['--help'], { kubectlPlugin: true })).stdout).toMatch(/^usage: kubectl egress <command> \[options\]/);
    expect((await cliWith({}, ['explain', '--help'], { kubectlPlugin: true })).stdout).toMatch(/^usage: kubectl egress explain /);
    expect((await cliWith({}, ['explain', '--frm', 'x'], { kubectlPlugin: true })).stderr).toBe(
      'kubectl egress explain: unknown option for "explain" (got "--frm"); run "kubectl egress explain --help" for its options\n',
    );
  });
});

test('a token that is no string is bad input that does not show it', () => {
  const file = path.join(dir, 'numeric-token.yaml');
  fs.writeFileSync(
    file,
    YAML.stringify({
      clusters: [{ name: 'c', cluster: { server: emulator.url } }],
      users: [{ name: 'u', user: { token: 1234567 } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  expect(() => loadKubeconfig({ file, cwd: dir, env: {} })).toThrow(
    new UsageError(`${file}: users[name=u].user.token must be a string`, 'a number', 'write token as a string'),
  );
});
