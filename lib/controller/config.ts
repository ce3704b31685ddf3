/**
 * Controller configuration from the environment and mounted files.
 *
 * Every problem becomes one `ConfigError` line naming the setting, the value and the fix; the
 * entry point prints it and exits without a stack trace, and the Deployment's
 * `terminationMessagePolicy: FallbackToLogsOnError` puts that line in the pod status.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { PLAN_FORMAT, SyncPlan } from '../policy/plan';
import type { LogLevel } from './log';
import { HaConfig, loadHaConfig } from './ha';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const DEFAULTS = {
  planFile: '/etc/cdktf-ces/plan/plan.json',
  credentialsDir: '/etc/cdktf-ces/bigip',
  httpPort: 8080,
  coalesceMs: 250,
  maxPushesInFlight: 2,
  maxDeviceBusyPercent: 80,
  leaseDurationSeconds: 15,
} as const;

/** A Secret or ConfigMap the controller reads through the API. */
export interface ObjectReference {
  readonly namespace: string;
  readonly name: string;
}

/**
 * What the controller reads through the API before it starts (BIGIP_CREDENTIALS_SECRET,
 * BIGIP_CA_CONFIGMAP): the pod starts even while they are missing, and says what it waits for.
 */
export interface ClusterReferences {
  readonly credentialsSecret?: ObjectReference;
  readonly usernameKey: string;
  readonly passwordKey: string;
  readonly caConfigMap?: ObjectReference;
  readonly caKey: string;
}

export interface ControllerConfig {
  readonly plan: SyncPlan;
  /** Set while the BIG-IP login or CA bundle is still to be read from the cluster. */
  readonly references?: ClusterReferences;
  readonly planFile: string;
  readonly bigip: {
    readonly url: string;
    readonly username: string;
    readonly password: string;
    readonly caBundle?: string;
    readonly insecureSkipTlsVerify: boolean;
  };
  /** Kubeconfig for runs outside the cluster; undefined = in-cluster service account (or ~/.kube/config). */
  readonly kubeconfig?: string;
  readonly identity: string;
  readonly leaseName: string;
  readonly leaseNamespace: string;
  readonly leaderElection: boolean;
  /** The other units when the BIG-IP is a pair (BIGIP_HA_PEER_URLS); undefined for one device. */
  readonly ha?: HaConfig;
  readonly httpPort: number;
  /** Longest wait of an addition for more changes before its list is pushed (COALESCE_MS). */
  readonly coalesceMs: number;
  /** Most list pushes in flight to the BIG-IP at once (MAX_PUSHES_IN_FLIGHT). */
  readonly maxPushesInFlight: number;
  /** Most of the BIG-IP control plane's time the pushes may take, in percent (MAX_DEVICE_BUSY_PERCENT). */
  readonly maxDeviceBusyPercent: number;
  /**
   * A fixed ceiling on pushes per second on top of the pacing (MAX_PUSHES_PER_SECOND), if set.
   * @deprecated the pacing follows the device; use maxDeviceBusyPercent
   */
  readonly maxPushesPerSecond?: number;
  readonly logLevel: LogLevel;
  /** How often the leader reads the device back and checks it against the plan (jittered). */
  readonly deviceCheckIntervalMs: number;
  /** TCP and UDP port of the flow-log receiver; absent: no receiver. */
  readonly flowLogPort?: number;
  /** Most flow records queued for stdout. */
  readonly flowLogQueueLimit: number;
}

function readFile(file: string, what: string, fix: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`${what}: cannot read ${file} (${code ?? (e as Error).message}); ${fix}`);
  }
}

const planSchema = z.object({
  format: z.literal(PLAN_FORMAT),
  cluster: z.string(),
  tenant: z.string(),
  application: z.string(),
  routeDomain: z.number().int().min(0),
  lists: z.array(
    z
      .object({
        path: z.string(),
        taskId: z.string(),
        source: z.object({ level: z.enum(['cluster', 'namespace', 'service']) }).passthrough(),
        rules: z.array(z.string()),
      })
      .passthrough(),
  ),
  rules: z.array(
    z.object({ key: z.string(), kind: z.string(), name: z.string(), sourceList: z.string(), specDigest: z.string() }).passthrough(),
  ),
});

export function loadPlan(file: string): SyncPlan {
  const text = readFile(file, 'CES_PLAN_FILE', 'mount the plan ConfigMap the EgressController construct creates');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(
      `CES_PLAN_FILE: ${file} is not JSON (${(e as Error).message}); re-run cdktf deploy to recreate the plan ConfigMap`,
    );
  }
  const parsed = planSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(
      `CES_PLAN_FILE: ${file} is not a cdktf-ces sync plan (${issue.path.join('.') || 'format'}: ${issue.message}); deploy a plan made by the same cdktf-ces version as this controller`,
    );
  }
  return json as SyncPlan;
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'];

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number;
function int(env: NodeJS.ProcessEnv, name: string, fallback: undefined, min: number, max: number): number | undefined;
function int(env: NodeJS.ProcessEnv, name: string, fallback: number | undefined, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\s*[-+]?\d+\s*$/.test(raw) || !Number.isInteger(n) || n < min || n > max)
    throw new ConfigError(`${name}: "${raw}" is not a whole number from ${min} to ${max}`);
  return n;
}

/** Reads and checks everything; throws one ConfigError for the first problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ControllerConfig {
  const url = env.BIGIP_URL;
  if (!url) throw new ConfigError('BIGIP_URL: not set; set it to the BIG-IP management URL, such as https://bigip.example.net:443');
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    throw new ConfigError(`BIGIP_URL: "${url}" is not a URL; write it like https://bigip.example.net:443`);
  }
  if (parsedUrl.protocol !== 'https:')
    throw new ConfigError(`BIGIP_URL: "${url}" must use https; the management interface carries credentials`);

  const insecure = env.BIGIP_INSECURE_SKIP_TLS_VERIFY === 'true';
  if (env.BIGIP_INSECURE_SKIP_TLS_VERIFY !== undefined && !['true', 'false'].includes(env.BIGIP_INSECURE_SKIP_TLS_VERIFY)) {
    throw new ConfigError(`BIGIP_INSECURE_SKIP_TLS_VERIFY: "${env.BIGIP_INSECURE_SKIP_TLS_VERIFY}" must be "true" or "false"`);
  }
  let caBundle: string | undefined;
  let caConfigMap: ObjectReference | undefined;
  // A CA file where one is given (local runs) is used instead of BIGIP_CA_CONFIGMAP, which the
  // synthesized Deployment sets and the controller reads through the API before it starts.
  if (env.BIGIP_CA_FILE) {
    if (insecure) throw new ConfigError('BIGIP_CA_FILE and BIGIP_INSECURE_SKIP_TLS_VERIFY=true contradict each other; set only one');
    caBundle = readFile(env.BIGIP_CA_FILE, 'BIGIP_CA_FILE', 'mount the CA bundle ConfigMap or Secret at that path');
    if (!caBundle.includes('-----BEGIN CERTIFICATE-----')) {
      throw new ConfigError(
        `BIGIP_CA_FILE: ${env.BIGIP_CA_FILE} holds no PEM certificate; put the CA that signs the BIG-IP management certificate there`,
      );
    }
  } else if (env.BIGIP_CA_CONFIGMAP) {
    if (insecure) throw new ConfigError('BIGIP_CA_CONFIGMAP and BIGIP_INSECURE_SKIP_TLS_VERIFY=true contradict each other; set only one');
    caConfigMap = objectReference(env, 'BIGIP_CA_CONFIGMAP');
  } else if (!insecure) {
    throw new ConfigError(
      'BIGIP_CA_FILE and BIGIP_CA_CONFIGMAP: neither is set; TLS verification is on and needs the CA bundle of the BIG-IP management certificate (or, in a lab only, BIGIP_INSECURE_SKIP_TLS_VERIFY=true)',
    );
  }
  const usernameKey = env.BIGIP_USERNAME_KEY ?? 'username';
  const passwordKey = env.BIGIP_PASSWORD_KEY ?? 'password';
  let credentialsSecret: ObjectReference | undefined;
  if (env.BIGIP_CREDENTIALS_SECRET) {
    if (env.BIGIP_CREDENTIALS_DIR)
      throw new ConfigError('BIGIP_CREDENTIALS_SECRET and BIGIP_CREDENTIALS_DIR contradict each other; set only one');
    credentialsSecret = objectReference(env, 'BIGIP_CREDENTIALS_SECRET');
  }

  const dir = env.BIGIP_CREDENTIALS_DIR ?? DEFAULTS.credentialsDir;
  const secretKey = (key: string) => {
    const file = path.join(dir, key);
    if (!fs.existsSync(file)) {
      throw new ConfigError(
        `BIG-IP credentials: Secret key "${key}" not found in ${dir}; add key "${key}" to the Secret the EgressController mounts there`,
      );
    }
    const value = readFile(file, 'BIG-IP credentials', `check the Secret key "${key}"`).replace(/\r?\n$/, '');
    if (!value) throw new ConfigError(`BIG-IP credentials: Secret key "${key}" in ${dir} is empty`);
    return value;
  };
  const username = credentialsSecret ? '' : secretKey(usernameKey);
  const password = credentialsSecret ? '' : secretKey(passwordKey);

  const planFile = env.CES_PLAN_FILE ?? DEFAULTS.planFile;
  const plan = loadPlan(planFile);

  // The Kubernetes connection itself (kubeconfig or in-cluster) is checked by loadConnection.
  const kubeconfig = env.KUBECONFIG || undefined;

  const logLevel = (env.LOG_LEVEL ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL: "${env.LOG_LEVEL}" must be one of ${LOG_LEVELS.join(', ')}`);
  const identity = env.POD_NAME ?? `${os.hostname()}-${process.pid}`;
  const leaseNamespace = env.LEASE_NAMESPACE ?? env.POD_NAMESPACE;
  const leaderElection = env.LEADER_ELECTION !== 'false';
  if (leaderElection && !leaseNamespace) {
    throw new ConfigError(
      'LEASE_NAMESPACE: not set (nor POD_NAMESPACE); set the namespace of the leader-election Lease, or LEADER_ELECTION=false for a single replica',
    );
  }

  const ha = loadHaConfig(env, url);

  return {
    plan,
    ...(credentialsSecret || caConfigMap
      ? { references: { credentialsSecret, usernameKey, passwordKey, caConfigMap, caKey: env.BIGIP_CA_KEY || 'ca.crt' } }
      : {}),
    planFile,
    bigip: { url, username, password, caBundle, insecureSkipTlsVerify: insecure },
    kubeconfig,
    identity,
    leaseName: env.LEASE_NAME ?? `cdktf-ces-${plan.cluster}`,
    leaseNamespace: leaseNamespace ?? '',
    leaderElection,
    ...(ha ? { ha } : {}),
    httpPort: int(env, 'HTTP_PORT', DEFAULTS.httpPort, 0, 65535), // 0: any free port (local runs)
    coalesceMs: int(env, 'COALESCE_MS', DEFAULTS.coalesceMs, 0, 60000),
    maxPushesInFlight: int(env, 'MAX_PUSHES_IN_FLIGHT', DEFAULTS.maxPushesInFlight, 1, 16),
    maxDeviceBusyPercent: int(env, 'MAX_DEVICE_BUSY_PERCENT', DEFAULTS.maxDeviceBusyPercent, 1, 100),
    maxPushesPerSecond: int(env, 'MAX_PUSHES_PER_SECOND', undefined, 1, 1000),
    logLevel,
    deviceCheckIntervalMs: int(env, 'DEVICE_CHECK_INTERVAL_MS', 60000, 500, 86_400_000),
    flowLogPort: int(env, 'FLOWLOG_PORT', undefined, 0, 65535), // 0: any free port (local runs)
    flowLogQueueLimit: int(env, 'FLOWLOG_QUEUE_LIMIT', 10_000, 100, 1_000_000),
  };
}

function objectReference(env: NodeJS.ProcessEnv, name: string): ObjectReference {
  const value = env[name] as string;
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(value);
  if (!m) throw new ConfigError(`${name}: "${value}" must be namespace/name, such as cdktf-ces-system/bigip-login`);
  return { namespace: m[1], name: m[3] };
}

/** What reading one object gave: its data (Secret values decoded), or why there is none. */
export type ReadResult = { readonly data: Readonly<Record<string, string>> } | { readonly problem: string };

/**
 * Fills in the BIG-IP login and CA bundle from the objects `config.references` names, or says
 * what is missing, in words an operator can act on.
 */
export async function resolveReferences(
  config: ControllerConfig,
  read: (kind: 'Secret' | 'ConfigMap', ref: ObjectReference) => Promise<ReadResult>,
): Promise<{ readonly config: ControllerConfig } | { readonly missing: string }> {
  const refs = config.references;
  if (!refs) return { config };
  const reads = new Map<string, Promise<ReadResult>>();
  const value = async (
    kind: 'Secret' | 'ConfigMap',
    ref: ObjectReference,
    key: string,
    fix: string,
  ): Promise<{ value: string } | { missing: string }> => {
    const what = `${kind} ${ref.namespace}/${ref.name}`;
    if (!reads.has(what)) reads.set(what, read(kind, ref));
    const r = await (reads.get(what) as Promise<ReadResult>);
    if ('problem' in r) return { missing: `${what}: ${r.problem}; ${fix}` };
    const text = r.data[key];
    if (text === undefined) return { missing: `${what} has no key "${key}"; ${fix}` };
    const trimmed = text.replace(/\r?\n$/, '');
    if (!trimmed) return { missing: `${what}: key "${key}" is empty; ${fix}` };
    return { value: trimmed };
  };
  let bigip = config.bigip;
  if (refs.credentialsSecret) {
    const fix = `it must hold the BIG-IP login under the keys "${refs.usernameKey}" and "${refs.passwordKey}"`;
    const username = await value('Secret', refs.credentialsSecret, refs.usernameKey, fix);
    if ('missing' in username) return username;
    const password = await value('Secret', refs.credentialsSecret, refs.passwordKey, fix);
    if ('missing' in password) return password;
    bigip = { ...bigip, username: username.value, password: password.value };
  }
  if (refs.caConfigMap) {
    const fix = `it must hold the CA that signs the BIG-IP management certificate, in PEM, under the key "${refs.caKey}"`;
    const ca = await value('ConfigMap', refs.caConfigMap, refs.caKey, fix);
    if ('missing' in ca) return ca;
    if (!ca.value.includes('-----BEGIN CERTIFICATE-----'))
      return {
        missing: `ConfigMap ${refs.caConfigMap.namespace}/${refs.caConfigMap.name}: key "${refs.caKey}" holds no PEM certificate; ${fix}`,
      };
    bigip = { ...bigip, caBundle: ca.value };
  }
  const { references: _done, ...rest } = config;
  return { config: { ...rest, bigip } };
}
