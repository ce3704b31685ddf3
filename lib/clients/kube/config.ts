/**
 * How the controller reaches the Kubernetes API: in-cluster service-account settings or a
 * kubeconfig file. Every problem is one `KubeConfigError` line that names the file, the field
 * and the fix. TLS verification is on unless a kubeconfig explicitly says
 * `insecure-skip-tls-verify: true`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { z } from 'zod';

/** A bad or missing connection setting. The message is a single line meant for a human. */
export class KubeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubeConfigError';
  }
}

/** Supplies the bearer token for each request. */
export interface TokenSource {
  /** The current token; throws {@link KubeConfigError} when none can be obtained. */
  token(): string;
  /** Forget any cached token so the next call reads it again (after a 401). */
  invalidate?(): void;
}

export class StaticToken implements TokenSource {
  constructor(private readonly value: string) {}

  public token(): string {
    return this.value;
  }
}

export interface FileTokenOptions {
  /** Re-read the file at most this often; projected service-account tokens rotate. @default 60000 */
  readonly refreshMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * A token read from a file and re-read periodically, so a rotated projected token is picked
 * up. A failed re-read keeps the last good token (the old one stays valid for a while).
 */
export class FileToken implements TokenSource {
  private cached?: string;
  private readAt = Number.NEGATIVE_INFINITY;
  private readonly refreshMs: number;
  private readonly now: () => number;

  constructor(
    public readonly file: string,
    private readonly describe: string,
    options: FileTokenOptions = {},
  ) {
    this.refreshMs = options.refreshMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  public token(): string {
    const t = this.now();
    if (this.cached === undefined || t - this.readAt >= this.refreshMs) {
      try {
        const value = fs.readFileSync(this.file, 'utf8').trim();
        if (value === '') throw new Error('the file is empty');
        this.cached = value;
        this.readAt = t;
      } catch (e) {
        if (this.cached === undefined) {
          throw new KubeConfigError(
            `${this.describe}: cannot read token file "${this.file}" (${errorText(e)}); make sure the file exists and holds a bearer token`,
          );
        }
        this.readAt = t;
      }
    }
    return this.cached;
  }

  public invalidate(): void {
    this.readAt = Number.NEGATIVE_INFINITY;
  }
}

/** Everything needed to open connections to one API server. */
export interface KubeConnection {
  /** `https://host:port` plus an optional path prefix, without trailing slash. */
  readonly server: string;
  /** PEM bundle of the CAs trusted for the server certificate; undefined uses the system store. */
  readonly ca?: string;
  /** True only when the kubeconfig explicitly asked for it. */
  readonly insecureSkipTlsVerify: boolean;
  /** Name to verify the server certificate against, when it differs from the URL's host. */
  readonly tlsServerName?: string;
  /** PEM client certificate and key (mutual TLS), if the user authenticates that way. */
  readonly clientCert?: string;
  readonly clientKey?: string;
  /** Bearer token, if the user authenticates that way. */
  readonly credentials?: TokenSource;
  /** The default namespace of the context or the pod. */
  readonly namespace: string;
  /** Where the settings came from, for logs (`in-cluster`, `kubeconfig <file> context <name>`). */
  readonly source: string;
}

// ---------------------------------------------------------------------------------------------
// In-cluster

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface InClusterOptions {
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** @default '/var/run/secrets/kubernetes.io/serviceaccount' */
  readonly serviceAccountDir?: string;
  readonly token?: FileTokenOptions;
}

/** True when the process runs in a pod (the service environment variables are set). */
export function runningInCluster(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!env.KUBERNETES_SERVICE_HOST && !!env.KUBERNETES_SERVICE_PORT;
}

/** Settings of a pod's service account: API address from the environment, CA, token and namespace from files. */
export function inClusterConnection(options: InClusterOptions = {}): KubeConnection {
  const env = options.env ?? process.env;
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new KubeConfigError(
      'in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set; run the controller in a pod or pass a kubeconfig file',
    );
  }
  if (!/^\d{1,5}$/.test(port)) {
    throw new KubeConfigError(
      `in-cluster config: KUBERNETES_SERVICE_PORT "${port}" is not a port number; unset it or set it to the API server port`,
    );
  }
  const caFile = path.join(dir, 'ca.crt');
  const ca = readPem(caFile, 'in-cluster config: CA bundle', 'mount the service-account token volume (automountServiceAccountToken: true)');
  const tokenFile = path.join(dir, 'token');
  const credentials = new FileToken(tokenFile, 'in-cluster config', options.token);
  credentials.token(); // fail now, not on the first request, if the token is missing
  let namespace = 'default';
  try {
    namespace = fs.readFileSync(path.join(dir, 'namespace'), 'utf8').trim() || 'default';
  } catch {
    // Older token volumes have no namespace file; the controller passes its namespace explicitly then.
  }
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return { server: `https://${hostPart}:${port}`, ca, insecureSkipTlsVerify: false, credentials, namespace, source: 'in-cluster' };
}

// ---------------------------------------------------------------------------------------------
// Kubeconfig

const nonEmpty = z.string().min(1);

const clusterSchema = z.object({
  server: nonEmpty,
  'certificate-authority': nonEmpty.optional(),
  'certificate-authority-data': nonEmpty.optional(),
  'insecure-skip-tls-verify': z.boolean().optional(),
  'tls-server-name': nonEmpty.optional(),
  'proxy-url': z.string().optional(),
});

const userSchema = z.object({
  token: nonEmpty.optional(),
  tokenFile: nonEmpty.optional(),
  'client-certificate': nonEmpty.optional(),
  'client-certificate-data': nonEmpty.optional(),
  'client-key': nonEmpty.optional(),
  'client-key-data': nonEmpty.optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  exec: z.unknown().optional(),
  'auth-provider': z.unknown().optional(),
});

const contextSchema = z.object({
  cluster: nonEmpty,
  user: z.string().optional(),
  namespace: z.string().optional(),
});

const kubeconfigSchema = z.object({
  clusters: z.array(z.object({ name: nonEmpty, cluster: clusterSchema })).nullish(),
  users: z.array(z.object({ name: nonEmpty, user: userSchema.nullish() })).nullish(),
  contexts: z.array(z.object({ name: nonEmpty, context: contextSchema })).nullish(),
  'current-context': z.string().nullish(),
});

type KubeconfigDoc = z.infer<typeof kubeconfigSchema>;

const FIELD_HINTS: Record<string, string> = {
  server: 'set it to the API server URL, for example https://127.0.0.1:6443',
  name: 'give every cluster, user and context a non-empty name',
  cluster: 'name the cluster entry this context uses',
  'insecure-skip-tls-verify': 'use true or false (without quotes)',
};

/** Never echoed in error messages. */
const SECRET_FIELDS = new Set(['token', 'password', 'client-key-data', 'client-certificate-data', 'certificate-authority-data']);

export interface KubeconfigOptions {
  /** Context to use instead of `current-context`. */
  readonly context?: string;
  readonly token?: FileTokenOptions;
}

/** Reads one kubeconfig file and resolves its current (or the given) context. */
export function loadKubeconfig(file: string, options: KubeconfigOptions = {}): KubeConnection {
  const where = `kubeconfig ${file}`;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new KubeConfigError(
      `${where}: cannot read the file (${errorText(e)}); point --kubeconfig or KUBECONFIG at an existing kubeconfig`,
    );
  }
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (e) {
    const err = e as Error & { linePos?: { line: number; col: number }[] };
    const pos = err.linePos?.[0];
    const at = pos ? `line ${pos.line}, column ${pos.col}` : 'somewhere';
    const first = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new KubeConfigError(`${where}: ${at}: not valid YAML (${first}); fix the YAML syntax there`);
  }
  if (raw === null || raw === undefined || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new KubeConfigError(
      `${where}: the file is not a kubeconfig (expected a YAML mapping with clusters, users and contexts); check the path`,
    );
  }
  const parsed = kubeconfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = formatPath(issue.path);
    const last = String(issue.path[issue.path.length - 1] ?? '');
    const hint = FIELD_HINTS[last] ?? 'see https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/';
    const got = SECRET_FIELDS.has(last) ? '' : ` (got ${describeValue(valueAt(raw, issue.path))})`;
    throw new KubeConfigError(`${where}: ${field}: ${issue.message.replace(/^Invalid input: /, '')}${got}; ${hint}`);
  }
  return resolveContext(parsed.data, file, options);
}

function resolveContext(doc: KubeconfigDoc, file: string, options: KubeconfigOptions): KubeConnection {
  const where = `kubeconfig ${file}`;
  const dir = path.dirname(file);
  const contexts = doc.contexts ?? [];
  const contextName = options.context ?? doc['current-context'] ?? '';
  if (contextName === '') {
    const known = contexts.map((c) => c.name);
    throw new KubeConfigError(
      `${where}: current-context: not set and no context was requested; set it with "kubectl config use-context <name>"${known.length ? ` (contexts: ${known.join(', ')})` : ''} or pass a context name`,
    );
  }
  const field = options.context !== undefined ? 'requested context' : 'current-context';
  const ctx = contexts.find((c) => c.name === contextName);
  if (!ctx) {
    throw new KubeConfigError(
      `${where}: ${field}: no context named "${contextName}" in contexts (known: ${contexts.map((c) => c.name).join(', ') || 'none'}); add it or choose one of those`,
    );
  }
  const ctxField = `contexts[name=${contextName}].context`;
  const cluster = (doc.clusters ?? []).find((c) => c.name === ctx.context.cluster);
  if (!cluster) {
    throw new KubeConfigError(
      `${where}: ${ctxField}.cluster: no cluster named "${ctx.context.cluster}" in clusters; add it or fix the name`,
    );
  }
  const cField = `clusters[name=${cluster.name}].cluster`;
  const c = cluster.cluster;
  let server: URL;
  try {
    server = new URL(c.server);
  } catch {
    throw new KubeConfigError(
      `${where}: ${cField}.server: "${c.server}" is not a URL; set it to the API server URL, for example https://127.0.0.1:6443`,
    );
  }
  if (server.protocol !== 'https:') {
    throw new KubeConfigError(
      `${where}: ${cField}.server: "${c.server}" is not an https:// URL; the controller only talks to the API server over TLS`,
    );
  }
  if (c['proxy-url']) {
    throw new KubeConfigError(
      `${where}: ${cField}.proxy-url: proxies are not supported; remove proxy-url and reach the API server directly`,
    );
  }
  const insecure = c['insecure-skip-tls-verify'] === true;
  let ca: string | undefined;
  if (insecure && (c['certificate-authority'] || c['certificate-authority-data'])) {
    throw new KubeConfigError(
      `${where}: ${cField}.insecure-skip-tls-verify: cannot be combined with a certificate authority; remove insecure-skip-tls-verify (recommended) or the CA`,
    );
  }
  if (c['certificate-authority-data']) {
    ca = decodePem(c['certificate-authority-data'], `${where}: ${cField}.certificate-authority-data`, 'CERTIFICATE');
  } else if (c['certificate-authority']) {
    ca = readPem(
      resolvePath(dir, c['certificate-authority']),
      `${where}: ${cField}.certificate-authority`,
      'fix the path or embed the CA as certificate-authority-data',
    );
  }

  const userName = ctx.context.user ?? '';
  const userEntry = (doc.users ?? []).find((u) => u.name === userName);
  if (userName !== '' && !userEntry) {
    throw new KubeConfigError(`${where}: ${ctxField}.user: no user named "${userName}" in users; add it or fix the name`);
  }
  const u = userEntry?.user ?? {};
  const uField = `users[name=${userName}].user`;
  let credentials: TokenSource | undefined;
  if (u.tokenFile) {
    credentials = new FileToken(resolvePath(dir, u.tokenFile), `${where}: ${uField}.tokenFile`, options.token);
    credentials.token();
  } else if (u.token) credentials = new StaticToken(u.token);
  let clientCert: string | undefined;
  let clientKey: string | undefined;
  if (u['client-certificate-data'])
    clientCert = decodePem(u['client-certificate-data'], `${where}: ${uField}.client-certificate-data`, 'CERTIFICATE');
  else if (u['client-certificate'])
    clientCert = readPem(
      resolvePath(dir, u['client-certificate']),
      `${where}: ${uField}.client-certificate`,
      'fix the path or embed client-certificate-data',
    );
  if (u['client-key-data']) clientKey = decodePem(u['client-key-data'], `${where}: ${uField}.client-key-data`, 'PRIVATE KEY');
  else if (u['client-key'])
    clientKey = readPem(resolvePath(dir, u['client-key']), `${where}: ${uField}.client-key`, 'fix the path or embed client-key-data');
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    const missing = clientCert === undefined ? 'client-certificate' : 'client-key';
    throw new KubeConfigError(`${where}: ${uField}.${missing}: missing; client certificates need both client-certificate and client-key`);
  }
  if (!credentials && !clientCert) {
    const unsupported =
      u.exec !== undefined
        ? 'exec'
        : u['auth-provider'] !== undefined
          ? 'auth-provider'
          : u.username !== undefined
            ? 'username'
            : undefined;
    if (unsupported) {
      throw new KubeConfigError(
        `${where}: ${uField}.${unsupported}: this credential type is not supported; use token, tokenFile or client-certificate/client-key (for example a service-account token)`,
      );
    }
    throw new KubeConfigError(
      `${where}: ${userName ? uField : `${ctxField}.user`}: no credentials; set token, tokenFile or client-certificate/client-key`,
    );
  }
  const base = `${server.origin}${server.pathname.replace(/\/+$/, '')}`;
  return {
    server: base,
    ca,
    insecureSkipTlsVerify: insecure,
    tlsServerName: c['tls-server-name'],
    clientCert,
    clientKey,
    credentials,
    namespace: ctx.context.namespace || 'default',
    source: `kubeconfig ${file} context ${contextName}`,
  };
}

export interface ConnectionOptions {
  /** Kubeconfig file; wins over everything else. */
  readonly kubeconfig?: string;
  readonly context?: string;
  /** @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** @default os.homedir() */
  readonly home?: string;
  readonly serviceAccountDir?: string;
  readonly token?: FileTokenOptions;
}

/**
 * Settings for the controller: an explicit kubeconfig, else `$KUBECONFIG` (its first entry),
 * else in-cluster settings when running in a pod, else `~/.kube/config`.
 */
export function loadConnection(options: ConnectionOptions = {}): KubeConnection {
  const env = options.env ?? process.env;
  const opts = { context: options.context, token: options.token };
  if (options.kubeconfig) return loadKubeconfig(options.kubeconfig, opts);
  const fromEnv = (env.KUBECONFIG ?? '').split(path.delimiter).filter((p) => p !== '');
  if (fromEnv.length > 0) return loadKubeconfig(fromEnv[0], opts);
  if (runningInCluster(env)) return inClusterConnection({ env, serviceAccountDir: options.serviceAccountDir, token: options.token });
  const home = options.home ?? os.homedir();
  const fallback = path.join(home, '.kube', 'config');
  if (fs.existsSync(fallback)) return loadKubeconfig(fallback, opts);
  throw new KubeConfigError(
    `no Kubernetes connection settings: not in a pod (KUBERNETES_SERVICE_HOST unset), KUBECONFIG unset and ${fallback} missing; pass --kubeconfig <file>`,
  );
}

// ---------------------------------------------------------------------------------------------

function resolvePath(dir: string, p: string): string {
  if (p.startsWith('~/')) return path.join(os.homedir(), p.slice(2));
  return path.isAbsolute(p) ? p : path.join(dir, p);
}

function readPem(file: string, where: string, fix: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new KubeConfigError(`${where}: cannot read "${file}" (${errorText(e)}); ${fix}`);
  }
  if (!/-----BEGIN [A-Z ]+-----/.test(text)) {
    throw new KubeConfigError(`${where}: "${file}" is not PEM (no "-----BEGIN" line); ${fix}`);
  }
  return text;
}

function decodePem(data: string, where: string, label: string): string {
  const text = Buffer.from(data, 'base64').toString('utf8');
  if (!/-----BEGIN [A-Z ]+-----/.test(text)) {
    throw new KubeConfigError(
      `${where}: does not decode to PEM; set it to the base64 of a PEM ${label} (for example: base64 -w0 file.pem)`,
    );
  }
  return text;
}

function valueAt(root: unknown, p: readonly PropertyKey[]): unknown {
  let cur = root;
  for (const seg of p) cur = cur !== null && typeof cur === 'object' ? (cur as Record<PropertyKey, unknown>)[seg] : undefined;
  return cur;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function formatPath(p: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of p) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? String(seg) : `.${String(seg)}`;
  return out || '<root>';
}

function errorText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'no such file';
  if (err.code === 'EACCES') return 'permission denied';
  if (err.code === 'EISDIR') return 'is a directory';
  return err.message ?? String(e);
}
