/**
 * Connection settings: kubeconfig files and in-cluster service accounts. Bad input must give
 * one line naming the file, the field and the fix.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { KubeClient } from '../../../lib/clients/kube/client';
import { FileToken, KubeConfigError, inClusterConnection, loadConnection, loadKubeconfig } from '../../../lib/clients/kube/config';
import { PODS } from '../../../lib/clients/kube/resources';
import { KubeApiEmulator } from '../../emulators/kube/emulator';
import { packageRoot } from '../../../lib/util';

const CA_FILE = path.join(packageRoot(), 'test', 'emulators', 'fixtures', 'ca.crt');
const CA_PEM = fs.readFileSync(CA_FILE, 'utf8');
const CA_DATA = Buffer.from(CA_PEM).toString('base64');

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeconfig-test-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(name: string, content: unknown): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof content === 'string' ? content : YAML.stringify(content));
  return file;
}

function config(overrides: { cluster?: object; user?: object; context?: object; current?: string | null } = {}): object {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'prod', cluster: { server: 'https://10.0.0.1:6443', 'certificate-authority-data': CA_DATA, ...overrides.cluster } }],
    users: [{ name: 'ctl', user: { token: 'secret-token', ...overrides.user } }],
    contexts: [{ name: 'prod', context: { cluster: 'prod', user: 'ctl', namespace: 'egress-system', ...overrides.context } }],
    ...(overrides.current === null ? {} : { 'current-context': overrides.current ?? 'prod' }),
  };
}

/** The error of `fn`, checked to be a single-line KubeConfigError. */
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KubeConfigError);
    const message = (e as Error).message;
    expect(message.split('\n')).toHaveLength(1);
    return message;
  }
  throw new Error('expected a KubeConfigError');
}

describe('kubeconfig', () => {
  test('a complete kubeconfig resolves the current context', () => {
    const file = write('config', config());
    const conn = loadKubeconfig(file);
    expect(conn.server).toBe('https://10.0.0.1:6443');
    expect(conn.ca).toBe(CA_PEM);
    expect(conn.insecureSkipTlsVerify).toBe(false);
    expect(conn.credentials?.token()).toBe('secret-token');
    expect(conn.namespace).toBe('egress-system');
    expect(conn.source).toBe(`kubeconfig ${file} context prod`);
  });

  test('relative certificate and token paths resolve against the kubeconfig folder', () => {
    fs.copyFileSync(CA_FILE, path.join(dir, 'ca.crt'));
    fs.writeFileSync(path.join(dir, 'token'), 'from-file\n');
    const file = write(
      'config',
      config({
        cluster: { 'certificate-authority-data': undefined, 'certificate-authority': 'ca.crt' },
        user: { token: undefined, tokenFile: 'token' },
      }),
    );
    const conn = loadKubeconfig(file);
    expect(conn.ca).toBe(CA_PEM);
    expect(conn.credentials?.token()).toBe('from-file');
  });

  test('client certificates (data and files) and a path prefix on the server', () => {
    const pem = (label: string) => `-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----\n`;
    fs.writeFileSync(path.join(dir, 'client.key'), pem('PRIVATE KEY'));
    const file = write(
      'config',
      config({
        cluster: { server: 'https://api.example.com/k8s/clusters/c-1/' },
        user: {
          token: undefined,
          'client-certificate-data': Buffer.from(pem('CERTIFICATE')).toString('base64'),
          'client-key': 'client.key',
        },
      }),
    );
    const conn = loadKubeconfig(file);
    expect(conn.server).toBe('https://api.example.com/k8s/clusters/c-1');
    expect(conn.clientCert).toContain('BEGIN CERTIFICATE');
    expect(conn.clientKey).toContain('BEGIN PRIVATE KEY');
    expect(conn.credentials).toBeUndefined();
  });

  test('an explicit context wins over current-context', () => {
    const doc = config() as { contexts: object[] };
    doc.contexts.push({ name: 'other', context: { cluster: 'prod', user: 'ctl' } });
    const conn = loadKubeconfig(write('config', doc), { context: 'other' });
    expect(conn.namespace).toBe('default');
  });

  test('insecure-skip-tls-verify is honoured only when explicit', () => {
    const conn = loadKubeconfig(
      write('config', config({ cluster: { 'certificate-authority-data': undefined, 'insecure-skip-tls-verify': true } })),
    );
    expect(conn.insecureSkipTlsVerify).toBe(true);
    expect(conn.ca).toBeUndefined();
  });

  test.each<[string, () => string, RegExp]>([
    [
      'missing file',
      () => path.join(dir, 'nope'),
      /^kubeconfig .*nope: cannot read the file \(no such file\); point --kubeconfig or KUBECONFIG at an existing kubeconfig$/,
    ],
    [
      'bad YAML',
      () => write('config', 'clusters: [\n  - name: x\n users: y'),
      /^kubeconfig .*config: line \d+, column \d+: not valid YAML \(.+\); fix the YAML syntax there$/,
    ],
    ['not a mapping', () => write('config', '- just\n- a list\n'), /the file is not a kubeconfig/],
    [
      'no current context',
      () => write('config', config({ current: null })),
      /current-context: not set and no context was requested; set it with "kubectl config use-context <name>" \(contexts: prod\)/,
    ],
    [
      'unknown current context',
      () => write('config', config({ current: 'staging' })),
      /current-context: no context named "staging" in contexts \(known: prod\); add it or choose one of those/,
    ],
    [
      'unknown cluster',
      () => write('config', config({ context: { cluster: 'gone' } })),
      /contexts\[name=prod\]\.context\.cluster: no cluster named "gone" in clusters/,
    ],
    [
      'unknown user',
      () => write('config', config({ context: { user: 'nobody' } })),
      /contexts\[name=prod\]\.context\.user: no user named "nobody"/,
    ],
    [
      'unreadable CA',
      () => write('config', config({ cluster: { 'certificate-authority-data': undefined, 'certificate-authority': 'missing-ca.crt' } })),
      /clusters\[name=prod\]\.cluster\.certificate-authority: cannot read ".*missing-ca\.crt" \(no such file\); fix the path or embed the CA as certificate-authority-data$/,
    ],
    [
      'CA that is not PEM',
      () => {
        fs.writeFileSync(path.join(dir, 'ca.crt'), 'not a certificate');
        return write('config', config({ cluster: { 'certificate-authority-data': undefined, 'certificate-authority': 'ca.crt' } }));
      },
      /certificate-authority: ".*ca\.crt" is not PEM/,
    ],
    [
      'CA data that is not base64 PEM',
      () => write('config', config({ cluster: { 'certificate-authority-data': 'bm90IHBlbQ==' } })),
      /certificate-authority-data: does not decode to PEM/,
    ],
    [
      'server is not a string',
      () => write('config', config({ cluster: { server: 6443 } })),
      /clusters\[0\]\.cluster\.server: expected string, received number \(got 6443\); set it to the API server URL/,
    ],
    [
      'plain http server',
      () => write('config', config({ cluster: { server: 'http://10.0.0.1:8080' } })),
      /server: "http:\/\/10\.0\.0\.1:8080" is not an https:\/\/ URL/,
    ],
    [
      'insecure plus CA',
      () => write('config', config({ cluster: { 'insecure-skip-tls-verify': true } })),
      /insecure-skip-tls-verify: cannot be combined with a certificate authority/,
    ],
    [
      'exec credentials',
      () => write('config', config({ user: { token: undefined, exec: { command: 'aws' } } })),
      /users\[name=ctl\]\.user\.exec: this credential type is not supported; use token, tokenFile or client-certificate\/client-key/,
    ],
    [
      'token that is not a string',
      () => write('config', config({ user: { token: 12345 } })),
      /users\[0\]\.user\.token: expected string, received number; see https/,
    ],
    [
      'no credentials',
      () => write('config', config({ user: { token: undefined } })),
      /users\[name=ctl\]\.user: no credentials; set token, tokenFile or client-certificate\/client-key/,
    ],
    [
      'certificate without key',
      () => write('config', config({ user: { token: undefined, 'client-certificate-data': CA_DATA } })),
      /client-key: missing; client certificates need both/,
    ],
    [
      'missing token file',
      () => write('config', config({ user: { token: undefined, tokenFile: 'no-token' } })),
      /tokenFile: cannot read token file ".*no-token" \(no such file\)/,
    ],
  ])('%s gives one clear line', (_name, makeFile, pattern) => {
    const file = makeFile();
    const message = configError(() => loadKubeconfig(file));
    expect(message).toMatch(pattern);
    if (!/^no Kubernetes/.test(message)) expect(message).toContain(file);
  });

  test('a kubeconfig written by the emulator connects with TLS verification on', async () => {
    const emulator = await KubeApiEmulator.start();
    const client = new KubeClient(loadKubeconfig(emulator.writeKubeconfig(path.join(dir, 'emu'))));
    try {
      expect((await client.list(PODS)).kind).toBe('PodList');
    } finally {
      await client.close();
      await emulator.stop();
    }
  });

  test('a server certificate from an untrusted CA is refused', async () => {
    const emulator = await KubeApiEmulator.start();
    const doc = YAML.parse(emulator.kubeconfig()) as { clusters: { cluster: Record<string, unknown> }[] };
    delete doc.clusters[0].cluster['certificate-authority-data'];
    const client = new KubeClient(loadKubeconfig(write('untrusted', doc)));
    try {
      await expect(client.list(PODS)).rejects.toMatchObject({ statusCode: 0, reason: 'ConnectionError' });
      expect(emulator.counters().byVerb.list).toBe(0);
    } finally {
      await client.close();
      await emulator.stop();
    }
  });
});

describe('in-cluster', () => {
  function serviceAccount(files: Record<string, string>): string {
    const sa = path.join(dir, 'sa');
    fs.mkdirSync(sa);
    for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(sa, name), content);
    return sa;
  }
  const env = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

  test('reads address, CA, token and namespace', () => {
    const sa = serviceAccount({ 'ca.crt': CA_PEM, token: 'sa-token', namespace: 'egress-system' });
    const conn = inClusterConnection({ env, serviceAccountDir: sa });
    expect(conn).toMatchObject({
      server: 'https://10.96.0.1:443',
      ca: CA_PEM,
      insecureSkipTlsVerify: false,
      namespace: 'egress-system',
      source: 'in-cluster',
    });
    expect(conn.credentials?.token()).toBe('sa-token');
  });

  test('IPv6 service host is bracketed', () => {
    const sa = serviceAccount({ 'ca.crt': CA_PEM, token: 't' });
    expect(
      inClusterConnection({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: sa }).server,
    ).toBe('https://[fd00::1]:443');
  });

  test('the projected token is re-read after the refresh period; a failed re-read keeps the last token', () => {
    const sa = serviceAccount({ 'ca.crt': CA_PEM, token: 'first' });
    let t = 0;
    const conn = inClusterConnection({ env, serviceAccountDir: sa, token: { refreshMs: 60_000, now: () => t } });
    expect(conn.credentials?.token()).toBe('first');
    fs.writeFileSync(path.join(sa, 'token'), 'second');
    t = 59_999;
    expect(conn.credentials?.token()).toBe('first');
    t = 60_000;
    expect(conn.credentials?.token()).toBe('second');
    fs.rmSync(path.join(sa, 'token'));
    t = 200_000;
    expect(conn.credentials?.token()).toBe('second');
  });

  test('missing environment, CA or token each give one clear line', () => {
    expect(configError(() => inClusterConnection({ env: {}, serviceAccountDir: dir }))).toMatch(
      /^in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set; run the controller in a pod or pass a kubeconfig file$/,
    );
    expect(configError(() => inClusterConnection({ env, serviceAccountDir: dir }))).toMatch(
      /CA bundle: cannot read ".*ca\.crt" \(no such file\); mount the service-account token volume/,
    );
    const sa = serviceAccount({ 'ca.crt': CA_PEM });
    expect(configError(() => inClusterConnection({ env, serviceAccountDir: sa }))).toMatch(
      /cannot read token file ".*token" \(no such file\); make sure the file exists/,
    );
    expect(configError(() => inClusterConnection({ env: { ...env, KUBERNETES_SERVICE_PORT: 'https' }, serviceAccountDir: sa }))).toMatch(
      /KUBERNETES_SERVICE_PORT "https" is not a port number/,
    );
  });

  test('FileToken refuses an empty file', () => {
    const file = path.join(dir, 'empty');
    fs.writeFileSync(file, '\n');
    expect(configError(() => new FileToken(file, 'test').token())).toMatch(/cannot read token file .* \(the file is empty\)/);
  });
});

describe('loadConnection', () => {
  test('explicit kubeconfig, then KUBECONFIG, then in-cluster, then ~/.kube/config', () => {
    const explicit = write('explicit', config({ context: { namespace: 'from-explicit' } }));
    const fromEnv = write('env', config({ context: { namespace: 'from-env' } }));
    const home = path.join(dir, 'home');
    fs.mkdirSync(path.join(home, '.kube'), { recursive: true });
    fs.writeFileSync(path.join(home, '.kube', 'config'), YAML.stringify(config({ context: { namespace: 'from-home' } })));
    const sa = path.join(dir, 'sa');
    fs.mkdirSync(sa);
    fs.writeFileSync(path.join(sa, 'ca.crt'), CA_PEM);
    fs.writeFileSync(path.join(sa, 'token'), 't');
    fs.writeFileSync(path.join(sa, 'namespace'), 'from-pod');
    const pod = { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' };

    expect(loadConnection({ kubeconfig: explicit, env: { KUBECONFIG: fromEnv, ...pod }, home, serviceAccountDir: sa }).namespace).toBe(
      'from-explicit',
    );
    expect(loadConnection({ env: { KUBECONFIG: fromEnv, ...pod }, home, serviceAccountDir: sa }).namespace).toBe('from-env');
    expect(loadConnection({ env: pod, home, serviceAccountDir: sa }).namespace).toBe('from-pod');
    expect(loadConnection({ env: {}, home, serviceAccountDir: sa }).namespace).toBe('from-home');
    expect(configError(() => loadConnection({ env: {}, home: path.join(dir, 'nobody') }))).toMatch(
      /^no Kubernetes connection settings: .*; pass --kubeconfig <file>$/,
    );
  });
});
