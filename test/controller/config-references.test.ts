/**
 * The BIG-IP login and CA bundle named by BIGIP_CREDENTIALS_SECRET and BIGIP_CA_CONFIGMAP:
 * checked at start, read through the API, and while anything is missing, a message that says
 * which object or key and what it must hold.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, ObjectReference, ReadResult, loadConfig, resolveReferences } from '../../lib/controller/config';
import { PLAN_FORMAT } from '../../lib/policy/plan';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function planFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdktf-ces-config-'));
  const file = path.join(dir, 'plan.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      format: PLAN_FORMAT,
      cluster: 'prod',
      tenant: 'k8s_prod',
      application: 'egress',
      routeDomain: 0,
      lists: [],
      rules: [],
    }),
  );
  return file;
}

const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  BIGIP_URL: 'https://bigip.example.net',
  BIGIP_CREDENTIALS_SECRET: 'bigip-secrets/login',
  BIGIP_CA_CONFIGMAP: 'bigip-secrets/bigip-ca',
  CES_PLAN_FILE: planFile(),
  POD_NAMESPACE: 'cdktf-ces-system',
  ...extra,
});

/** A cluster of Secrets and ConfigMaps by `Kind namespace/name`; anything else is not found. */
function cluster(objects: Record<string, Record<string, string>>) {
  const reads: string[] = [];
  const read = async (kind: 'Secret' | 'ConfigMap', ref: ObjectReference): Promise<ReadResult> => {
    const key = `${kind} ${ref.namespace}/${ref.name}`;
    reads.push(key);
    return key in objects ? { data: objects[key] } : { problem: 'not found' };
  };
  return { read, reads };
}

describe('BIGIP_CREDENTIALS_SECRET and BIGIP_CA_CONFIGMAP', () => {
  test('are references to read, not files: loadConfig needs neither the Secret nor the CA to exist', () => {
    const config = loadConfig(env({ BIGIP_USERNAME_KEY: 'user' }));
    expect(config.references).toEqual({
      credentialsSecret: { namespace: 'bigip-secrets', name: 'login' },
      usernameKey: 'user',
      passwordKey: 'password',
      caConfigMap: { namespace: 'bigip-secrets', name: 'bigip-ca' },
      caKey: 'ca.crt',
    });
    expect(config.bigip).toEqual({
      url: 'https://bigip.example.net',
      username: '',
      password: '',
      caBundle: undefined,
      insecureSkipTlsVerify: false,
    });
  });

  test.each([
    [
      { BIGIP_CREDENTIALS_SECRET: 'login' },
      'BIGIP_CREDENTIALS_SECRET: "login" must be namespace/name, such as cdktf-ces-system/bigip-login',
    ],
    [{ BIGIP_CA_CONFIGMAP: 'a/b/c' }, 'BIGIP_CA_CONFIGMAP: "a/b/c" must be namespace/name, such as cdktf-ces-system/bigip-login'],
    [{ BIGIP_CREDENTIALS_DIR: '/etc/x' }, 'BIGIP_CREDENTIALS_SECRET and BIGIP_CREDENTIALS_DIR contradict each other; set only one'],
    [
      { BIGIP_INSECURE_SKIP_TLS_VERIFY: 'true' },
      'BIGIP_CA_CONFIGMAP and BIGIP_INSECURE_SKIP_TLS_VERIFY=true contradict each other; set only one',
    ],
  ])('%p is a configuration error', (extra, message) => {
    expect(() => loadConfig(env(extra))).toThrow(new ConfigError(message));
  });

  test('the login and CA bundle are filled in from the cluster once everything is there', async () => {
    const { read, reads } = cluster({
      'Secret bigip-secrets/login': { username: 'egress\n', password: 's3cret' },
      'ConfigMap bigip-secrets/bigip-ca': { 'ca.crt': PEM },
    });
    const r = await resolveReferences(loadConfig(env()), read);
    expect('config' in r && r.config.bigip).toEqual({
      url: 'https://bigip.example.net',
      username: 'egress',
      password: 's3cret',
      caBundle: PEM.replace(/\n$/, ''),
      insecureSkipTlsVerify: false,
    });
    expect('config' in r && r.config.references).toBeUndefined();
    expect(reads).toEqual(['Secret bigip-secrets/login', 'ConfigMap bigip-secrets/bigip-ca']);
  });

  test.each([
    [{}, 'Secret bigip-secrets/login: not found; it must hold the BIG-IP login under the keys "username" and "password"'],
    [
      { 'Secret bigip-secrets/login': { username: 'egress' } },
      'Secret bigip-secrets/login has no key "password"; it must hold the BIG-IP login under the keys "username" and "password"',
    ],
    [
      { 'Secret bigip-secrets/login': { username: 'egress', password: '\n' } },
      'Secret bigip-secrets/login: key "password" is empty; it must hold the BIG-IP login under the keys "username" and "password"',
    ],
    [
      { 'Secret bigip-secrets/login': { username: 'egress', password: 'p' } },
      'ConfigMap bigip-secrets/bigip-ca: not found; it must hold the CA that signs the BIG-IP management certificate, in PEM, under the key "ca.crt"',
    ],
    [
      {
        'Secret bigip-secrets/login': { username: 'egress', password: 'p' },
        'ConfigMap bigip-secrets/bigip-ca': { 'ca.crt': 'not a certificate' },
      },
      'ConfigMap bigip-secrets/bigip-ca: key "ca.crt" holds no PEM certificate; it must hold the CA that signs the BIG-IP management certificate, in PEM, under the key "ca.crt"',
    ],
  ])('what is missing is said in words an operator can act on: %p', async (objects, missing) => {
    const { read } = cluster(objects);
    expect(await resolveReferences(loadConfig(env()), read)).toEqual({ missing });
  });

  test('a CA file, where one is mounted, is used instead of the ConfigMap (local runs)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdktf-ces-ca-'));
    fs.writeFileSync(path.join(dir, 'ca.crt'), PEM);
    const config = loadConfig(env({ BIGIP_CA_FILE: path.join(dir, 'ca.crt') }));
    expect(config.references?.caConfigMap).toBeUndefined();
    const { read, reads } = cluster({ 'Secret bigip-secrets/login': { username: 'u', password: 'p' } });
    const r = await resolveReferences(config, read);
    expect('config' in r && r.config.bigip.caBundle).toBe(PEM);
    expect(reads).not.toContain('ConfigMap bigip-secrets/bigip-ca');
  });
});
