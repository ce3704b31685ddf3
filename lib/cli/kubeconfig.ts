/**
 * The kubeconfig of the tools, loaded as kubectl loads it (client-go's clientcmd loader,
 * `staging/src/k8s.io/client-go/tools/clientcmd/loader.go`): `--kubeconfig <file>` alone, else
 * every file of `$KUBECONFIG` merged, else `~/.kube/config`; the context of `--context` or
 * `current-context`; credentials from a token, a token file, a client certificate or an exec
 * credential plugin (`client.authentication.k8s.io/v1` and `v1beta1` ExecCredential, as
 * `staging/src/k8s.io/client-go/plugin/pkg/client/auth/exec/exec.go` runs them), which is how
 * EKS, GKE and AKS kubeconfigs authenticate.
 *
 * Written here rather than taken from @kubernetes/client-node: its 1.x/2.x releases are ES
 * modules only, so neither this CommonJS package's jest (ts-jest) nor Node 20 can load them
 * (its undici 8 needs Node 22.19, the package supports Node 20), and the 0.x releases depend
 * on the deprecated `request`. The controller's client (`../controller/kube`) does the HTTP.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { KubeConnection, StaticToken, FileToken, TokenSource } from '../clients/kube/config';
import { INPUT_LIMITS, readYamlFile, yamlDocumentError } from '../files/input-files';
import { UsageError } from '../files/usage-error';
import { quote } from '../files/text';

/** Where the kubeconfig is looked for, and how far it is trusted. */
export interface KubeconfigRequest {
  /** `--kubeconfig`: this file only, as kubectl's flag (relative to `cwd`). */
  readonly file?: string;
  /** `--context`: instead of `current-context`. */
  readonly context?: string;
  /** `--insecure-skip-tls-verify` was given: a cluster's `insecure-skip-tls-verify: true` is honoured. */
  readonly allowInsecure?: boolean;
  readonly cwd: string;
  /** KUBECONFIG and HOME are read from it; exec plugins run with it. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Whether standard input is a terminal an exec plugin may prompt on. @default process.stdin.isTTY */
  readonly stdinIsTerminal?: boolean;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface LoadedKubeconfig {
  readonly connection: KubeConnection;
  readonly context: string;
  /** The context's namespace, else `default`. */
  readonly namespace: string;
  /** The files read, in precedence order. */
  readonly files: readonly string[];
  /** For messages: `context <name> of <files>`. */
  readonly source: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

interface Entry {
  readonly name: string;
  readonly value: Obj;
  /** The file it was read from: its relative paths are relative to that file's folder. */
  readonly file: string;
  /** `users[name=x].user` and such, for messages. */
  readonly field: string;
}

interface KubeconfigFile {
  readonly file: string;
  readonly clusters: Entry[];
  readonly users: Entry[];
  readonly contexts: Entry[];
  readonly currentContext?: string;
}

const EXPLICIT_ROLE = 'the --kubeconfig file';
const HOW_TO = 'point --kubeconfig at the kubeconfig of the cluster (or set KUBECONFIG)';
const EXEC_DOCS = 'https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins';
const EXEC_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];
const INTERACTIVE_MODES = ['Never', 'IfAvailable', 'Always'];
/** Never shown in messages. */
const SECRET_FIELDS = new Set(['token', 'client-key-data', 'client-certificate-data', 'certificate-authority-data']);
/** The cluster extension whose `extension` an exec plugin gets as `spec.cluster.config`. */
const EXEC_EXTENSION = 'client.authentication.k8s.io/exec';

/** The files kubectl would read, in precedence order (existing ones only). */
export function kubeconfigFiles(request: KubeconfigRequest): string[] {
  if (request.file !== undefined) {
    // An explicit file must exist (client-go: ExplicitPath); reading it reports a missing one.
    return [path.resolve(request.cwd, request.file)];
  }
  const list = request.env.KUBECONFIG ?? '';
  if (list !== '') {
    // path.delimiter as Go's filepath.SplitList; duplicates read once, missing files skipped.
    const files = [...new Set(list.split(path.delimiter).filter((f) => f !== ''))].map((f) => path.resolve(request.cwd, f));
    const existing = files.filter((f) => fs.existsSync(f));
    if (existing.length === 0)
      throw new UsageError(
        'none of the KUBECONFIG files exists',
        quote(list),
        `${HOW_TO}, or give --kubeconfig <file> or --state <file.yaml>`,
      );
    return existing;
  }
  const home = request.env.HOME || os.homedir();
  const fallback = path.join(home, '.kube', 'config');
  if (!fs.existsSync(fallback)) {
    if (request.context !== undefined) {
      throw new UsageError(
        `--context: no kubeconfig to look it up in (KUBECONFIG is unset and ${fallback} does not exist)`,
        quote(request.context),
        'add --kubeconfig <file>, or set KUBECONFIG',
      );
    }
    throw new UsageError(
      'no kubeconfig: KUBECONFIG is unset and ~/.kube/config does not exist',
      quote(fallback),
      'give --kubeconfig <file>, set KUBECONFIG, or give the cluster state with --state <file.yaml>',
    );
  }
  return [fallback];
}

/** Reads the kubeconfig(s) and resolves the context to a connection. */
export function loadKubeconfig(request: KubeconfigRequest): LoadedKubeconfig {
  const files = kubeconfigFiles(request);
  // The --kubeconfig file is named as the user wrote it when it cannot be read.
  const explicit = request.file !== undefined ? { file: request.file, role: EXPLICIT_ROLE } : undefined;
  const merged = mergeKubeconfigs(files.map((f) => readKubeconfigFile(f, request.cwd, explicit ?? { file: f, role: 'the kubeconfig' })));
  const shown = files.length === 1 ? files[0] : `KUBECONFIG ${files.join(path.delimiter)}`;
  const contextName = request.context ?? merged.currentContext ?? '';
  const contextNames = merged.contexts.map((c) => c.name);
  if (contextName === '') {
    throw new UsageError(
      `${shown}: no current-context`,
      'nothing',
      `choose one with --context <name>${contextNames.length ? ` (contexts: ${contextNames.join(', ')})` : ''}, or set it with "kubectl config use-context <name>"`,
    );
  }
  const ctx = merged.contexts.find((c) => c.name === contextName);
  if (!ctx) {
    throw new UsageError(
      `${shown}: ${request.context !== undefined ? '--context' : 'current-context'} names no context`,
      quote(contextName),
      contextNames.length
        ? `use one of: ${contextNames.join(', ')}`
        : 'the kubeconfig has no contexts; add one with "kubectl config set-context"',
    );
  }
  const clusterName = stringField(ctx, 'cluster', true);
  const cluster = merged.clusters.find((c) => c.name === clusterName);
  if (!cluster)
    throw new UsageError(
      `${ctx.file}: ${ctx.field}.cluster names no cluster`,
      quote(clusterName),
      `add it under clusters or use one of: ${merged.clusters.map((c) => c.name).join(', ') || 'none'}`,
    );
  const userName = stringField(ctx, 'user') ?? '';
  const user = merged.users.find((u) => u.name === userName);
  if (userName !== '' && !user)
    throw new UsageError(
      `${ctx.file}: ${ctx.field}.user names no user`,
      quote(userName),
      `add it under users or use one of: ${merged.users.map((u) => u.name).join(', ') || 'none'}`,
    );
  const namespace = stringField(ctx, 'namespace') || 'default';
  const source = `context ${contextName} of ${shown}`;
  const tls = clusterTls(cluster, request);
  const auth = userCredentials(user, { name: cluster.name, entry: cluster, ...(tls.ca ? { ca: tls.ca } : {}) }, request);
  return {
    connection: { ...tls, ...auth, namespace, source: `kubeconfig ${source}` },
    context: contextName,
    namespace,
    files,
    source,
  };
}

// ---------------------------------------------------------------------------------------------
// Reading and merging

function readKubeconfigFile(file: string, cwd: string, shown: { file: string; role: string }): KubeconfigFile {
  const docs = readYamlFile({ ...shown, howTo: HOW_TO }, cwd);
  for (const doc of docs) if (doc.error) throw yamlDocumentError(file, { ...doc, error: doc.error });
  const values = docs.map((d) => d.value).filter((v) => v !== null && v !== undefined);
  const notKubeconfig = (got: string) =>
    new UsageError(`${file} is not a kubeconfig`, got, 'a kubeconfig is one mapping with clusters, users and contexts; check the path');
  if (values.length === 0) {
    // An empty file of a KUBECONFIG list is an empty config (client-go's Load); named alone, it is a mistake.
    if (shown.role === EXPLICIT_ROLE) throw notKubeconfig('an empty file');
    return { file, clusters: [], users: [], contexts: [] };
  }
  const doc = values[0];
  if (values.length > 1 || !isObj(doc)) throw notKubeconfig(values.length > 1 ? `${values.length} YAML documents` : quote(doc));
  const current = doc['current-context'];
  if (current !== undefined && current !== null && typeof current !== 'string')
    throw new UsageError(`${file}: current-context must be a context name`, quote(current), 'write the name of one of its contexts');
  return {
    file,
    clusters: entries(doc, 'clusters', 'cluster', file),
    users: entries(doc, 'users', 'user', file),
    contexts: entries(doc, 'contexts', 'context', file),
    ...(current ? { currentContext: current } : {}),
  };
}

/**
 * Named entries of one list. Fields the tools do not use (extensions, preferences, ...) are
 * not checked: kubectl ignores unknown fields too, and kubeconfigs carry vendor additions.
 */
function entries(doc: Obj, list: 'clusters' | 'users' | 'contexts', key: 'cluster' | 'user' | 'context', file: string): Entry[] {
  const raw = doc[list];
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw))
    throw new UsageError(`${file}: ${list} must be a list`, quote(raw), `write it as "${list}:" followed by "- name: ..." entries`);
  const out: Entry[] = [];
  raw.forEach((item, i) => {
    if (!isObj(item) || typeof item.name !== 'string' || item.name === '') {
      throw new UsageError(
        `${file}: ${list}[${i}] has no name`,
        quote(isObj(item) ? item.name : item),
        `give every entry of ${list} a non-empty name`,
      );
    }
    const value = item[key] ?? {};
    if (!isObj(value))
      throw new UsageError(
        `${file}: ${list}[name=${item.name}].${key} must be a mapping`,
        quote(value),
        `write the ${key}'s fields under "${key}:"`,
      );
    // Within one file, as across files, the first entry of a name is the one used.
    if (!out.some((e) => e.name === item.name)) out.push({ name: item.name, value, file, field: `${list}[name=${item.name}].${key}` });
  });
  return out;
}

/**
 * client-go's merge: the first file that names a cluster, user or context wins it whole (a later
 * file's entry of the same name is ignored, even its other fields); the first file that sets
 * current-context wins it.
 */
export function mergeKubeconfigs(files: readonly KubeconfigFile[]): Omit<KubeconfigFile, 'file'> {
  const firstWins = (lists: Entry[][]) => {
    const out: Entry[] = [];
    for (const e of lists.flat()) if (!out.some((o) => o.name === e.name)) out.push(e);
    return out;
  };
  const currentContext = files.find((f) => f.currentContext)?.currentContext;
  return {
    clusters: firstWins(files.map((f) => f.clusters)),
    users: firstWins(files.map((f) => f.users)),
    contexts: firstWins(files.map((f) => f.contexts)),
    ...(currentContext ? { currentContext } : {}),
  };
}

function stringField(entry: Entry, key: string, required = false): string | undefined {
  const v = entry.value[key];
  if (v === undefined || v === null) {
    if (required) throw new UsageError(`${entry.file}: ${entry.field}.${key} is missing`, 'nothing', `set ${key}`);
    return undefined;
  }
  if (typeof v !== 'string' || (required && v === '')) {
    throw new UsageError(
      `${entry.file}: ${entry.field}.${key} must be a string`,
      SECRET_FIELDS.has(key) ? `a ${typeof v}` : quote(v),
      `write ${key} as a string`,
    );
  }
  return v;
}

/** A path of the kubeconfig: relative ones are relative to the file's folder (ResolveLocalPaths). */
function localPath(entry: Entry, p: string): string {
  return path.isAbsolute(p) ? p : path.join(path.dirname(entry.file), p);
}

// ---------------------------------------------------------------------------------------------
// Cluster

type Tls = Pick<KubeConnection, 'server' | 'ca' | 'insecureSkipTlsVerify' | 'tlsServerName'>;

function clusterTls(cluster: Entry, request: KubeconfigRequest): Tls {
  const at = `${cluster.file}: ${cluster.field}`;
  const serverText = stringField(cluster, 'server', true) as string;
  let server: URL;
  try {
    server = new URL(serverText);
  } catch {
    throw new UsageError(`${at}.server is not a URL`, quote(serverText), 'set it to the API server URL, such as https://203.0.113.5:6443');
  }
  if (server.protocol !== 'https:')
    throw new UsageError(
      `${at}.server is not an https:// URL`,
      quote(serverText),
      'the tools read the cluster over TLS only; use the https:// address of the API server',
    );
  if (stringField(cluster, 'proxy-url'))
    throw new UsageError(
      `${at}.proxy-url: proxies are not supported`,
      quote(cluster.value['proxy-url']),
      'reach the API server directly, or export the state with kubectl and pass --state',
    );
  const insecure = cluster.value['insecure-skip-tls-verify'];
  if (insecure !== undefined && typeof insecure !== 'boolean')
    throw new UsageError(`${at}.insecure-skip-tls-verify must be true or false`, quote(insecure), 'write true or false without quotes');
  const caData = stringField(cluster, 'certificate-authority-data');
  const caFile = stringField(cluster, 'certificate-authority');
  if (insecure === true) {
    if (!request.allowInsecure) {
      throw new UsageError(
        `${at}.insecure-skip-tls-verify is true`,
        'true',
        "the tools verify the API server's certificate: add its CA (certificate-authority-data), or pass --insecure-skip-tls-verify to read the cluster without verifying it",
      );
    }
    if (caData || caFile)
      throw new UsageError(
        `${at}.insecure-skip-tls-verify contradicts its certificate authority`,
        'true',
        'remove insecure-skip-tls-verify (recommended) or the CA',
      );
  }
  let ca: string | undefined;
  if (caData) ca = pemFromBase64(caData, `${at}.certificate-authority-data`, 'CERTIFICATE');
  else if (caFile) ca = pemFile(localPath(cluster, caFile), `${at}.certificate-authority`);
  const tlsServerName = stringField(cluster, 'tls-server-name');
  return {
    server: `${server.origin}${server.pathname.replace(/\/+$/, '')}`,
    ...(ca ? { ca } : {}),
    insecureSkipTlsVerify: insecure === true,
    ...(tlsServerName ? { tlsServerName } : {}),
  };
}

function pemFromBase64(data: string, at: string, label: string): string {
  const text = Buffer.from(data, 'base64').toString('utf8');
  if (!/-----BEGIN [A-Z ]+-----/.test(text))
    throw new UsageError(
      `${at} does not decode to PEM`,
      `${data.length} characters`,
      `set it to the base64 of a PEM ${label} (base64 -w0 file.pem)`,
    );
  return text;
}

function pemFile(file: string, at: string): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(
      `${at}: cannot read the file`,
      quote(file),
      `${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist; ' : ''}fix the path (relative paths are relative to the kubeconfig's folder) or embed it as base64 data`,
    );
  }
  if (!/-----BEGIN [A-Z ]+-----/.test(text))
    throw new UsageError(`${at} is not a PEM file`, quote(file), 'point it at a PEM file (-----BEGIN ...)');
  return text;
}

// ---------------------------------------------------------------------------------------------
// User

type Auth = Pick<KubeConnection, 'clientCert' | 'clientKey' | 'credentials'>;

const AUTH_PROVIDER_FIX: Record<string, string> = {
  gcp: 'GKE: install gke-gcloud-auth-plugin and run "gcloud container clusters get-credentials", which writes an exec user',
  azure: 'AKS: install kubelogin and run "kubelogin convert-kubeconfig", which writes an exec user',
  oidc: "use the exec plugin of your OIDC provider (such as kubelogin's oidc-login)",
};

function userCredentials(user: Entry | undefined, cluster: { name: string; entry: Entry; ca?: string }, request: KubeconfigRequest): Auth {
  if (!user)
    throw new UsageError(
      `${cluster.entry.file}: the context has no user`,
      'nothing',
      'name a user with credentials in the context (user: <name>)',
    );
  const at = `${user.file}: ${user.field}`;
  const provider = user.value['auth-provider'];
  if (provider !== undefined) {
    const name = isObj(provider) && typeof provider.name === 'string' ? provider.name : '';
    throw new UsageError(
      `${at}.auth-provider: the auth-provider plugins were removed from kubectl and client-go`,
      quote(name || provider),
      `${AUTH_PROVIDER_FIX[name] ?? 'use the exec credential plugin of your provider'} (GKE: gke-gcloud-auth-plugin; AKS: kubelogin; EKS: aws eks get-token)`,
    );
  }
  if (user.value.username !== undefined || user.value.password !== undefined) {
    throw new UsageError(
      `${at}.username: basic authentication is not supported`,
      quote(user.value.username),
      'use a token, a client certificate or an exec credential plugin',
    );
  }
  const token = stringField(user, 'token');
  const tokenFile = stringField(user, 'tokenFile');
  let credentials: TokenSource | undefined;
  if (tokenFile) {
    credentials = new FileToken(localPath(user, tokenFile), `${at}.tokenFile`);
    try {
      credentials.token();
    } catch {
      throw new UsageError(
        `${at}.tokenFile cannot be read`,
        quote(localPath(user, tokenFile)),
        "point it at a file holding a bearer token (relative paths are relative to the kubeconfig's folder)",
      );
    }
  } else if (token) credentials = new StaticToken(token);
  const certData = stringField(user, 'client-certificate-data');
  const certFile = stringField(user, 'client-certificate');
  const keyData = stringField(user, 'client-key-data');
  const keyFile = stringField(user, 'client-key');
  let clientCert = certData
    ? pemFromBase64(certData, `${at}.client-certificate-data`, 'CERTIFICATE')
    : certFile
      ? pemFile(localPath(user, certFile), `${at}.client-certificate`)
      : undefined;
  let clientKey = keyData
    ? pemFromBase64(keyData, `${at}.client-key-data`, 'PRIVATE KEY')
    : keyFile
      ? pemFile(localPath(user, keyFile), `${at}.client-key`)
      : undefined;
  if ((clientCert === undefined) !== (clientKey === undefined)) {
    throw new UsageError(
      `${at}: a client ${clientCert ? 'certificate without its key' : 'key without its certificate'}`,
      'one of the pair',
      'set both client-certificate and client-key (or their -data forms)',
    );
  }
  if (user.value.exec !== undefined && user.value.exec !== null) {
    if (credentials || clientCert) {
      // client-go would silently prefer the static credential; say which one is meant instead.
      throw new UsageError(
        `${at}: exec together with ${credentials ? 'a token' : 'a client certificate'}`,
        'two credentials',
        'keep one: the exec plugin (remove token/tokenFile/client-certificate) or the static credential (remove exec)',
      );
    }
    const plugin = new ExecCredentialPlugin(parseExecConfig(user), clusterInfo(cluster), request);
    const first = plugin.credential();
    // Client certificates are set up when the connection opens; a plugin that issues one is
    // not run again in this process (the tools' reads take seconds, such certificates hours).
    clientCert = first.clientCert;
    clientKey = first.clientKey;
    if (first.token !== undefined) credentials = plugin;
  }
  if (!credentials && !clientCert) {
    throw new UsageError(
      `${at} has no credentials`,
      'nothing',
      'set token, tokenFile, client-certificate/client-key or an exec credential plugin',
    );
  }
  return { ...(clientCert ? { clientCert, clientKey } : {}), ...(credentials ? { credentials } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Exec credential plugins

export interface ExecConfig {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: readonly { readonly name: string; readonly value: string }[];
  readonly apiVersion: string;
  readonly interactiveMode: 'Never' | 'IfAvailable' | 'Always';
  readonly provideClusterInfo: boolean;
  readonly installHint?: string;
  /** `users[name=x].user.exec` in `<file>`, for messages. */
  readonly where: string;
}

function parseExecConfig(user: Entry): ExecConfig {
  const at = `${user.file}: ${user.field}.exec`;
  const exec = user.value.exec;
  if (!isObj(exec)) throw new UsageError(`${at} must be a mapping`, quote(exec), 'write command, args and apiVersion under exec:');
  const apiVersion = exec.apiVersion;
  if (typeof apiVersion !== 'string' || !EXEC_VERSIONS.includes(apiVersion)) {
    throw new UsageError(
      `${at}.apiVersion`,
      quote(apiVersion),
      apiVersion === 'client.authentication.k8s.io/v1alpha1'
        ? 'v1alpha1 was removed from client-go; update the plugin and write client.authentication.k8s.io/v1 (or v1beta1)'
        : `use ${EXEC_VERSIONS.join(' or ')}`,
    );
  }
  if (typeof exec.command !== 'string' || exec.command === '')
    throw new UsageError(
      `${at}.command is missing`,
      quote(exec.command),
      'name the credential plugin to run, such as aws or gke-gcloud-auth-plugin',
    );
  const args = exec.args ?? [];
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string'))
    throw new UsageError(`${at}.args must be a list of strings`, quote(args), 'write each argument as a string');
  const env = exec.env ?? [];
  if (!Array.isArray(env) || env.some((e) => !isObj(e) || typeof e.name !== 'string' || e.name === '' || typeof e.value !== 'string')) {
    throw new UsageError(`${at}.env must be a list of name/value pairs`, quote(env), 'write each variable as {name: NAME, value: "text"}');
  }
  // v1 requires interactiveMode; v1beta1 defaults to IfAvailable (clientcmd/api types.go).
  const mode = exec.interactiveMode ?? (apiVersion.endsWith('/v1beta1') ? 'IfAvailable' : undefined);
  if (typeof mode !== 'string' || !INTERACTIVE_MODES.includes(mode)) {
    throw new UsageError(
      `${at}.interactiveMode`,
      quote(exec.interactiveMode),
      `${mode === undefined ? 'client.authentication.k8s.io/v1 requires it; ' : ''}use one of ${INTERACTIVE_MODES.join(', ')}`,
    );
  }
  if (exec.provideClusterInfo !== undefined && typeof exec.provideClusterInfo !== 'boolean')
    throw new UsageError(
      `${at}.provideClusterInfo must be true or false`,
      quote(exec.provideClusterInfo),
      'write true or false without quotes',
    );
  if (exec.installHint !== undefined && typeof exec.installHint !== 'string')
    throw new UsageError(`${at}.installHint must be text`, quote(exec.installHint), 'write it as a string');
  // A command with a path separator is relative to the kubeconfig's folder; a bare name is looked up on PATH.
  const command = exec.command.includes(path.sep) ? localPath(user, exec.command) : exec.command;
  return {
    command,
    args: args as string[],
    env: (env as Obj[]).map((e) => ({ name: e.name as string, value: e.value as string })),
    apiVersion,
    interactiveMode: mode as ExecConfig['interactiveMode'],
    provideClusterInfo: exec.provideClusterInfo === true,
    ...(typeof exec.installHint === 'string' && exec.installHint.trim() !== '' ? { installHint: exec.installHint.trim() } : {}),
    where: at,
  };
}

/** `spec.cluster` of the ExecCredential input (clientauthentication Cluster, JSON names). */
function clusterInfo(cluster: { name: string; entry: Entry; ca?: string }): Obj {
  const v = cluster.entry.value;
  const extensions = Array.isArray(v.extensions) ? v.extensions : [];
  const config = extensions.find((e) => isObj(e) && e.name === EXEC_EXTENSION);
  return {
    server: v.server,
    ...(typeof v['tls-server-name'] === 'string' ? { 'tls-server-name': v['tls-server-name'] } : {}),
    ...(v['insecure-skip-tls-verify'] === true ? { 'insecure-skip-tls-verify': true } : {}),
    ...(cluster.ca ? { 'certificate-authority-data': Buffer.from(cluster.ca).toString('base64') } : {}),
    ...(typeof v['proxy-url'] === 'string' ? { 'proxy-url': v['proxy-url'] } : {}),
    ...(typeof v['disable-compression'] === 'boolean' ? { 'disable-compression': v['disable-compression'] } : {}),
    ...(isObj(config) && config.extension !== undefined ? { config: config.extension } : {}),
  };
}

export interface ExecCredentialResult {
  readonly token?: string;
  readonly clientCert?: string;
  readonly clientKey?: string;
  /** Milliseconds since the epoch; undefined: valid until rejected. */
  readonly expiresAt?: number;
}

/**
 * Runs an exec credential plugin and keeps its answer until `status.expirationTimestamp`
 * passes or the API server rejects it (401), as client-go's exec Authenticator. The plugin runs
 * synchronously: the client asks for a token synchronously, and an interactive plugin must
 * have the terminal to itself anyway.
 */
export class ExecCredentialPlugin implements TokenSource {
  private cached?: ExecCredentialResult;
  private readonly now: () => number;

  constructor(
    public readonly config: ExecConfig,
    private readonly cluster: Obj,
    private readonly request: Pick<KubeconfigRequest, 'env' | 'stdinIsTerminal' | 'now' | 'cwd'>,
  ) {
    this.now = request.now ?? Date.now;
  }

  public token(): string {
    const token = this.credential().token;
    if (token === undefined)
      throw new UsageError(
        `the exec plugin of ${this.config.where} stopped returning a token`,
        'a client certificate only',
        'the plugin must keep returning the same kind of credential',
      );
    return token;
  }

  /** After a 401: the next request runs the plugin again. */
  public invalidate(): void {
    this.cached = undefined;
  }

  public credential(): ExecCredentialResult {
    const c = this.cached;
    if (c && (c.expiresAt === undefined || this.now() <= c.expiresAt)) return c;
    this.cached = this.run();
    return this.cached;
  }

  private interactive(): boolean {
    const terminal = this.request.stdinIsTerminal ?? process.stdin.isTTY === true;
    if (this.config.interactiveMode === 'Always' && !terminal) {
      throw new UsageError(
        `the exec plugin of ${this.config.where} needs a terminal (interactiveMode: Always)`,
        'standard input is not a terminal',
        'run the tool in a terminal, or log in with the plugin first so it can answer without prompting',
      );
    }
    return this.config.interactiveMode !== 'Never' && terminal;
  }

  private run(): ExecCredentialResult {
    const { config } = this;
    const interactive = this.interactive();
    const spec: Obj = { interactive, ...(config.provideClusterInfo ? { cluster: this.cluster } : {}) };
    const execInfo = JSON.stringify({ apiVersion: config.apiVersion, kind: 'ExecCredential', spec });
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.request.env)) if (v !== undefined) env[k] = v;
    for (const e of config.env) env[e.name] = e.value;
    env.KUBERNETES_EXEC_INFO = execInfo;
    const shown = `exec plugin ${quote(config.command)} of ${config.where}`;
    const result = spawnSync(config.command, [...config.args], {
      env,
      cwd: this.request.cwd,
      // Prompts of an interactive plugin go to the terminal; otherwise its messages are kept for the error.
      stdio: [interactive ? 'inherit' : 'ignore', 'pipe', interactive ? 'inherit' : 'pipe'],
      maxBuffer: INPUT_LIMITS.yamlBytes,
      windowsHide: true,
    });
    if (result.error) {
      const code = (result.error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        throw new UsageError(
          `${shown}: not found`,
          quote(config.command),
          `${config.installHint ? `${config.installHint.replace(/\s+/g, ' ')}; ` : 'install it or put it on PATH; '}see ${EXEC_DOCS}`,
        );
      }
      if (code === 'EACCES')
        throw new UsageError(`${shown}: not executable`, quote(config.command), 'make it executable (chmod +x) or fix the command');
      throw new UsageError(`${shown} could not run`, quote(result.error.message), 'check the command and its arguments');
    }
    const stderr = result.stderr ? (result.stderr.toString('utf8').trim().split('\n').slice(-1)[0] ?? '') : '';
    if (result.status !== 0) {
      const how = result.status === null ? `was killed by ${result.signal}` : `exited with code ${result.status}`;
      throw new UsageError(
        `${shown} ${how}`,
        quote(stderr || (interactive ? 'see its messages above' : 'no message')),
        'run the plugin by hand to see why (an expired login is the usual cause), then try again',
      );
    }
    return this.parse(result.stdout.toString('utf8'), shown);
  }

  private parse(stdout: string, shown: string): ExecCredentialResult {
    const { config } = this;
    const bad = (what: string, value: unknown) =>
      new UsageError(
        `${shown}: ${what}`,
        quote(value),
        'the plugin must print an ExecCredential (https://kubernetes.io/docs/reference/config-api/client-authentication.v1/); update it',
      );
    let out: unknown;
    try {
      out = JSON.parse(stdout);
    } catch {
      throw bad('its output is not JSON', stdout.trim().slice(0, 100));
    }
    if (!isObj(out) || out.kind !== 'ExecCredential') throw bad('its output is not an ExecCredential', isObj(out) ? out.kind : out);
    if (out.apiVersion !== config.apiVersion)
      throw bad(`it answered in another apiVersion than the kubeconfig's ${config.apiVersion}`, out.apiVersion);
    const status = out.status;
    if (!isObj(status)) throw bad('no status in its output', status);
    const text = (k: string) => {
      const v = status[k];
      if (v !== undefined && v !== null && typeof v !== 'string') throw bad(`status.${k} is not a string`, typeof v);
      return typeof v === 'string' && v !== '' ? v : undefined;
    };
    const token = text('token');
    const clientCert = text('clientCertificateData');
    const clientKey = text('clientKeyData');
    if (token === undefined && clientCert === undefined && clientKey === undefined)
      throw bad('no token and no client certificate in status', Object.keys(status).join(', ') || 'nothing');
    if ((clientCert === undefined) !== (clientKey === undefined))
      throw bad(`only the client ${clientCert ? 'certificate' : 'key'} in status`, 'one of the pair');
    const expiry = status.expirationTimestamp;
    let expiresAt: number | undefined;
    if (expiry !== undefined && expiry !== null) {
      expiresAt =
        typeof expiry === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(expiry) ? Date.parse(expiry) : NaN;
      if (Number.isNaN(expiresAt)) throw bad('status.expirationTimestamp is not an RFC 3339 time', expiry);
    }
    return {
      ...(token ? { token } : {}),
      ...(clientCert ? { clientCert, clientKey } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
    };
  }
}
