/**
 * An in-process Kubernetes API server that speaks the real wire protocol, for tests, the demo,
 * benchmarks and users who want to exercise their policies without a cluster.
 *
 * What it does like kube-apiserver:
 * - HTTPS on loopback with the fixture certificate, bearer-token authentication (401 Status);
 * - the URL layout of the core group (`/api/v1/...`) and named groups (`/apis/<g>/<v>/...`),
 *   namespaced and cluster-scoped resources, `/status` subresources, discovery documents;
 * - get, list (label and field selectors, `limit`/`continue`), watch (newline-delimited JSON
 *   over chunked encoding, BOOKMARK events, `timeoutSeconds`, 410 "Expired" ERROR events for
 *   resource versions older than the compaction point), create (409 AlreadyExists), update
 *   (409 Conflict on a stale `metadata.resourceVersion`), JSON merge patch and JSON patch,
 *   delete (finalizers, graceful pod deletion, namespace and CRD cascades);
 * - one global, monotonically increasing resourceVersion (like an etcd revision); writes that
 *   change nothing are skipped and keep the version, as the real storage layer does;
 * - `metadata.generation` moves only on spec changes; with a status subresource the main
 *   resource ignores status and `/status` ignores everything else;
 * - creating a CustomResourceDefinition serves its resources; their objects are checked
 *   against `openAPIV3Schema` (422 Invalid) and unknown fields are pruned.
 *
 * Deliberate simplifications (documented so tests do not rely on them): no RBAC, admission,
 * CEL validation rules, server-side apply, protobuf, or strategic merge patch (415); pages of a
 * paginated list after the first reflect the current state rather than the first page's
 * snapshot (the watch that follows from the list's resourceVersion replays the difference).
 *
 * Fault injection: dropping watches, compaction, restarts (same port, state kept, the watch
 * cache lost as on a real restart), added latency, failing the next N requests on a path.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import * as path from 'node:path';
import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import * as YAML from 'yaml';
import { packageRoot } from '../util';
import type { ObjectMeta } from '../controller/kube/resources';

// ---------------------------------------------------------------------------------------------
// Public types

/** A Kubernetes object as stored and served by the emulator. */
export interface EmulatedObject {
  apiVersion: string;
  kind: string;
  metadata: EmulatedObjectMeta;
  [field: string]: unknown;
}

export interface EmulatedObjectMeta extends ObjectMeta {
  deletionGracePeriodSeconds?: number;
}

/** Identifies one object for the programmatic API. */
export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  /** Required for namespaced kinds, absent for cluster-scoped ones. */
  readonly namespace?: string;
}

/** Selects objects of one kind for the programmatic API. */
export interface ListQuery {
  readonly apiVersion: string;
  readonly kind: string;
  /** Only this namespace; all namespaces when absent. */
  readonly namespace?: string;
  /** Label selector in the API syntax (`app=web,tier!=db,env in (a,b)`). */
  readonly labelSelector?: string;
}

export interface KubeApiEmulatorOptions {
  /**
   * Loopback address to listen on. Nothing else is allowed: the emulator has no RBAC and
   * must never be reachable from another machine.
   * @default '127.0.0.1'
   */
  readonly host?: '127.0.0.1' | '::1' | 'localhost';
  /** @default 0 (a free port chosen by the operating system) */
  readonly port?: number;
  /** Bearer token that clients must present. @default - a random 32-byte hex string */
  readonly token?: string;
  /** Period of BOOKMARK events on watches that asked for them; 0 sends them only on `sendBookmarks()`. @default 60000 */
  readonly bookmarkIntervalMs?: number;
  /**
   * Events kept for watch resumption. Older events are compacted away, and watches that start
   * before the compaction point get 410 Expired. Bounds memory under churn.
   * @default 10000
   */
  readonly historyLimit?: number;
  /** Server-side watch timeout when the client sends no `timeoutSeconds`. @default 1800 */
  readonly defaultWatchTimeoutSeconds?: number;
  /** Added to every request before it is handled. @default 0 */
  readonly latencyMs?: number;
  /**
   * Graceful pod deletion: deleting a pod (unless `gracePeriodSeconds=0`) first sets
   * `deletionTimestamp` (a MODIFIED event) and removes the pod after `removeAfterMs`, or when
   * `finishPodTermination()` is called if `removeAfterMs` is absent.
   * @default - pods are removed at once
   */
  readonly podGracefulDeletion?: { readonly removeAfterMs?: number };
  /** CustomResourceDefinitions installed before the server starts (for example the egress CRDs). */
  readonly crds?: readonly object[];
  /** Namespaces that exist at start. @default ['default', 'kube-system', 'kube-public', 'kube-node-lease'] */
  readonly namespaces?: readonly string[];
  /** A watch whose unsent output grows beyond this is closed, as the real server drops slow watchers. @default 64 MiB */
  readonly maxWatchBufferBytes?: number;
}

/** One injected failure rule; see {@link KubeApiEmulator.failNext}. */
export interface FailureRule {
  /** Requests whose path (without query) starts with this. @default '/' */
  readonly pathPrefix?: string;
  /** Only this HTTP method. @default - any method */
  readonly method?: string;
  /** How many matching requests fail. @default 1 */
  readonly count?: number;
  /** HTTP status to answer with, or 'reset' to destroy the connection without an answer. */
  readonly status: number | 'reset';
  /** `Retry-After` seconds on 429/503 answers. @default 1 */
  readonly retryAfterSeconds?: number;
}

export type RequestVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection' | 'other';

export interface RequestCounters {
  /** Requests that passed authentication, by verb (injected failures included). */
  readonly byVerb: Readonly<Record<RequestVerb, number>>;
  /** Same, keyed `<verb> <resource>` with the resource as `plural[.group][/subresource]`. */
  readonly byResource: Readonly<Record<string, number>>;
  /** Requests answered 401. */
  readonly unauthorized: number;
  /** Requests failed by injected faults. */
  readonly injectedFailures: number;
}

export interface KubeconfigOptions {
  /** @default 'emulator' */
  readonly contextName?: string;
  /** Default namespace of the context. */
  readonly namespace?: string;
  /** Use this token instead of the emulator's (for testing rejected credentials). */
  readonly token?: string;
  /** Write the token to this file and reference it as `tokenFile` instead of inlining it. */
  readonly tokenFile?: string;
}

/** Raised by the programmatic API with the same Status the HTTP API would answer. */
export class KubeEmulatorError extends Error {
  public readonly code: number;
  public readonly reason: string;

  constructor(public readonly status: StatusObject) {
    super(status.message);
    this.name = 'KubeEmulatorError';
    this.code = status.code;
    this.reason = status.reason ?? '';
  }
}

/** A `meta/v1` Status. */
export interface StatusObject {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Success' | 'Failure';
  message: string;
  reason?: string;
  details?: Record<string, unknown>;
  code: number;
}

// ---------------------------------------------------------------------------------------------
// Internal model

interface ResourceInfo {
  readonly group: string;
  readonly version: string;
  readonly apiVersion: string;
  readonly plural: string;
  readonly singular: string;
  readonly kind: string;
  readonly listKind: string;
  readonly namespaced: boolean;
  statusSubresource: boolean;
  /** PUT without `metadata.resourceVersion` is allowed (built-ins) or refused (custom resources). */
  readonly unconditionalUpdate: boolean;
  /** Field selector labels the resource supports besides metadata.name/namespace. */
  readonly fieldLabels: ReadonlySet<string>;
  /** `plural` or `plural.group`, as used in API error messages. */
  readonly qualified: string;
  /** Name rule: DNS-1123 label (namespaces, services) or subdomain. */
  readonly nameIsLabel: boolean;
  /** Set for custom resources: schema check and pruning. */
  schema?: { readonly validate: ValidateFunction; readonly openApi: SchemaNode };
  /** The CRD that serves it. */
  readonly crdName?: string;
  readonly store: Map<string, Entry>;
  /** Sorted store keys for lists; dropped whenever a key is added or removed. */
  sorted?: string[];
  readonly watchers: Set<Watcher>;
}

/** A stored object version. Objects are never mutated once stored; a write stores a new one. */
interface Entry {
  readonly obj: EmulatedObject;
  readonly json: string;
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface HistoryEvent {
  readonly rv: number;
  readonly res: ResourceInfo;
  readonly type: EventType;
  readonly entry: Entry;
  readonly prev?: Entry;
}

interface Watcher {
  readonly res: ResourceInfo;
  readonly namespace?: string;
  readonly labels?: LabelSelector;
  readonly fields?: FieldSelector;
  readonly bookmarks: boolean;
  readonly response: http.ServerResponse;
  timer?: NodeJS.Timeout;
  closed: boolean;
}

interface Route {
  readonly res: ResourceInfo;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
}

type SchemaNode = Record<string, unknown>;

const DEFAULT_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];
const MAX_BODY_BYTES = 3 * 1024 * 1024;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PUBLIC_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version']);
const EMULATED_VERSION = { major: '1', minor: '31', gitVersion: 'v1.31.0-cdktf-ces-emulator', platform: 'linux/amd64' };

const POD_FIELDS = [
  'spec.nodeName',
  'spec.restartPolicy',
  'spec.schedulerName',
  'spec.serviceAccountName',
  'spec.hostNetwork',
  'status.phase',
  'status.podIP',
  'status.nominatedNodeName',
];

function statusObject(code: number, reason: string, message: string, details?: Record<string, unknown>): StatusObject {
  const s: StatusObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) s.details = details;
  return s;
}

const fail = (code: number, reason: string, message: string, details?: Record<string, unknown>): never => {
  throw new KubeEmulatorError(statusObject(code, reason, message, details));
};

function resourceDetails(res: ResourceInfo, name: string): Record<string, unknown> {
  return res.group ? { name, group: res.group, kind: res.plural } : { name, kind: res.plural };
}

const notFound = (res: ResourceInfo, name: string): never =>
  fail(404, 'NotFound', `${res.qualified} "${name}" not found`, resourceDetails(res, name));

const conflict = (res: ResourceInfo, name: string): never =>
  fail(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${res.qualified} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    resourceDetails(res, name),
  );

const invalid = (res: ResourceInfo, name: string, causes: { field: string; message: string }[]): never =>
  fail(
    422,
    'Invalid',
    `${res.group ? `${res.kind}.${res.group}` : res.kind} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`,
    { ...resourceDetails(res, name), kind: res.kind, causes: causes.map((c) => ({ reason: 'FieldValueInvalid', message: c.message, field: c.field })) },
  );

const badRequest = (message: string): never => fail(400, 'BadRequest', message);

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  if (ak.length !== bk.length) return false;
  for (const k of ak) if (!deepEqual(ao[k], bo[k])) return false;
  return true;
}

/** RFC 7386 JSON merge patch; returns a new value and leaves `target` untouched. */
function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

/** RFC 6902 JSON patch on a private deep copy. */
function applyJsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) return badRequest('json patch must be an array of operations');
  let doc = structuredClone(target);
  const parse = (p: unknown): string[] => {
    if (typeof p !== 'string' || (p !== '' && !p.startsWith('/'))) return badRequest(`json patch: invalid path ${JSON.stringify(p)}`);
    return p === '' ? [] : p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  };
  const parentOf = (segs: string[]): { parent: unknown; key: string } => {
    let cur: unknown = doc;
    for (const s of segs.slice(0, -1)) {
      cur = Array.isArray(cur) ? cur[Number(s)] : isPlainObject(cur) ? cur[s] : undefined;
      if (cur === undefined) badRequest(`json patch: path /${segs.join('/')} does not exist`);
    }
    return { parent: cur, key: segs[segs.length - 1] };
  };
  const read = (segs: string[]): unknown => {
    let cur: unknown = doc;
    for (const s of segs) cur = Array.isArray(cur) ? cur[Number(s)] : isPlainObject(cur) ? cur[s] : undefined;
    return cur;
  };
  const remove = (segs: string[]): unknown => {
    const { parent, key } = parentOf(segs);
    if (Array.isArray(parent)) {
      const i = Number(key);
      if (!Number.isInteger(i) || i < 0 || i >= parent.length) badRequest(`json patch: no element at /${segs.join('/')}`);
      return parent.splice(i, 1)[0];
    }
    if (!isPlainObject(parent) || !(key in parent)) return badRequest(`json patch: no value at /${segs.join('/')}`);
    const v = parent[key];
    delete parent[key];
    return v;
  };
  const add = (segs: string[], value: unknown): void => {
    if (segs.length === 0) {
      doc = value;
      return;
    }
    const { parent, key } = parentOf(segs);
    if (Array.isArray(parent)) {
      const i = key === '-' ? parent.length : Number(key);
      if (!Number.isInteger(i) || i < 0 || i > parent.length) badRequest(`json patch: bad array index at /${segs.join('/')}`);
      parent.splice(i, 0, value);
    } else if (isPlainObject(parent)) parent[key] = value;
    else badRequest(`json patch: cannot add at /${segs.join('/')}`);
  };
  for (const op of ops) {
    if (!isPlainObject(op)) badRequest('json patch: every operation must be an object');
    const o = op as Record<string, unknown>;
    const segs = parse(o.path);
    switch (o.op) {
      case 'add':
        add(segs, structuredClone(o.value));
        break;
      case 'remove':
        remove(segs);
        break;
      case 'replace':
        remove(segs);
        add(segs, structuredClone(o.value));
        break;
      case 'move': {
        const v = remove(parse(o.from));
        add(segs, v);
        break;
      }
      case 'copy':
        add(segs, structuredClone(read(parse(o.from))));
        break;
      case 'test':
        if (!deepEqual(read(segs), o.value)) fail(422, 'Invalid', `json patch test failed at ${String(o.path)}`);
        break;
      default:
        badRequest(`json patch: unknown op ${JSON.stringify(o.op)}`);
    }
  }
  return doc;
}

// ---------------------------------------------------------------------------------------------
// Selectors

interface LabelRequirement {
  readonly key: string;
  readonly op: '=' | '!=' | 'in' | 'notin' | 'exists' | '!';
  readonly values: readonly string[];
}
type LabelSelector = readonly LabelRequirement[];

/** Parses the label selector syntax of the API (equality- and set-based). */
export function parseLabelSelector(text: string): LabelSelector {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') depth--;
    else if (text[i] === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  const reqs: LabelRequirement[] = [];
  const keyRe = /^([a-z0-9A-Z]([-a-z0-9A-Z_./]*[a-z0-9A-Z])?)$/;
  for (const raw of parts) {
    const p = raw.trim();
    if (p === '') continue;
    let m: RegExpExecArray | null;
    if ((m = /^(\S+?)\s*(==|!=|=)\s*(\S*)$/.exec(p))) {
      if (!keyRe.test(m[1])) badRequest(`unable to parse requirement: invalid label key "${m[1]}"`);
      reqs.push({ key: m[1], op: m[2] === '!=' ? '!=' : '=', values: [m[3]] });
    } else if ((m = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(p))) {
      if (!keyRe.test(m[1])) badRequest(`unable to parse requirement: invalid label key "${m[1]}"`);
      reqs.push({ key: m[1], op: m[2] as 'in' | 'notin', values: m[3].split(',').map((v) => v.trim()) });
    } else if ((m = /^!\s*(\S+)$/.exec(p)) && keyRe.test(m[1])) {
      reqs.push({ key: m[1], op: '!', values: [] });
    } else if (keyRe.test(p)) {
      reqs.push({ key: p, op: 'exists', values: [] });
    } else {
      badRequest(`unable to parse requirement: found '${p}', expected: key, !key, key=value, key!=value, key in (...), key notin (...)`);
    }
  }
  return reqs;
}

function labelsMatch(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  for (const r of sel) {
    const v = labels?.[r.key];
    switch (r.op) {
      case '=':
        if (v !== r.values[0]) return false;
        break;
      case '!=':
        if (v === r.values[0]) return false;
        break;
      case 'in':
        if (v === undefined || !r.values.includes(v)) return false;
        break;
      case 'notin':
        if (v !== undefined && r.values.includes(v)) return false;
        break;
      case 'exists':
        if (v === undefined) return false;
        break;
      case '!':
        if (v !== undefined) return false;
        break;
    }
  }
  return true;
}

interface FieldRequirement {
  readonly path: readonly string[];
  readonly equal: boolean;
  readonly value: string;
}
type FieldSelector = readonly FieldRequirement[];

function parseFieldSelector(text: string, res: ResourceInfo): FieldSelector {
  const reqs: FieldRequirement[] = [];
  for (const raw of text.split(',')) {
    const p = raw.trim();
    if (p === '') continue;
    const m = /^([^=!]+?)\s*(==|!=|=)\s*(.*)$/.exec(p);
    if (!m) return badRequest(`invalid field selector: '${p}': expected field=value or field!=value`);
    const field = m[1];
    if (field !== 'metadata.name' && field !== 'metadata.namespace' && !res.fieldLabels.has(field)) {
      return badRequest(`field label not supported: ${field}`);
    }
    reqs.push({ path: field.split('.'), equal: m[2] !== '!=', value: m[3] });
  }
  return reqs;
}

function fieldsMatch(sel: FieldSelector, obj: EmulatedObject): boolean {
  for (const r of sel) {
    let cur: unknown = obj;
    for (const s of r.path) cur = isPlainObject(cur) ? cur[s] : undefined;
    const text = cur === undefined || cur === null ? '' : String(cur);
    if ((text === r.value) !== r.equal) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Custom resource schemas

let ajvInstance: Ajv | undefined;
function ajv(): Ajv {
  if (!ajvInstance) {
    // Kubernetes schemas carry x-kubernetes-* extensions that Ajv does not know.
    ajvInstance = new Ajv({ strict: false, allErrors: true });
    addFormats(ajvInstance);
  }
  return ajvInstance;
}

/** Drops fields a structural schema does not declare, as the API server does before storing. */
function prune(value: unknown, schema: SchemaNode | undefined): void {
  if (!schema || schema['x-kubernetes-preserve-unknown-fields'] === true) {
    if (schema && isPlainObject(value) && isPlainObject(schema.properties)) {
      for (const [k, s] of Object.entries(schema.properties)) prune(value[k], s as SchemaNode);
    }
    return;
  }
  if (Array.isArray(value)) {
    if (isPlainObject(schema.items)) for (const v of value) prune(v, schema.items);
    return;
  }
  if (!isPlainObject(value)) return;
  const props = isPlainObject(schema.properties) ? (schema.properties as Record<string, SchemaNode>) : undefined;
  const additional = schema.additionalProperties;
  for (const k of Object.keys(value)) {
    if (props && k in props) prune(value[k], props[k]);
    else if (isPlainObject(additional)) prune(value[k], additional);
    else if (additional !== true && (props || schema.type === 'object')) delete value[k];
  }
}

// ---------------------------------------------------------------------------------------------
// The emulator

const readFixture = (name: string): string => fs.readFileSync(path.join(packageRoot(), 'lib', 'testing', 'fixtures', name), 'utf8');

export class KubeApiEmulator {
  /** Starts an emulator and resolves once it accepts connections. */
  public static async start(options: KubeApiEmulatorOptions = {}): Promise<KubeApiEmulator> {
    const emulator = new KubeApiEmulator(options);
    await emulator.listen(options.port ?? 0);
    return emulator;
  }

  /** PEM of the CA that signed the server certificate; clients must trust it. */
  public readonly caCert: string;
  /** The bearer token clients must send. */
  public readonly token: string;

  private readonly host: string;
  private readonly serverKey: string;
  private readonly serverCert: string;
  private readonly historyLimit: number;
  private readonly defaultWatchTimeoutSeconds: number;
  private readonly maxWatchBufferBytes: number;
  private readonly podGraceful?: { readonly removeAfterMs?: number };
  private bookmarkIntervalMs: number;
  private latencyMs: number;

  private server?: https.Server;
  private port = 0;
  private readonly sockets = new Set<Socket>();
  private bookmarkTimer?: NodeJS.Timeout;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private restarting?: Promise<void>;

  private readonly resources = new Map<string, ResourceInfo>();
  private readonly byKind = new Map<string, ResourceInfo>();
  private rv = 0;
  private compactedRv = 0;
  private history: HistoryEvent[] = [];
  private historyHead = 0;
  private faults: { rule: FailureRule; remaining: number }[] = [];
  private nextClusterIp = 1;

  private readonly verbCounts: Record<RequestVerb, number> = {
    get: 0,
    list: 0,
    watch: 0,
    create: 0,
    update: 0,
    patch: 0,
    delete: 0,
    deletecollection: 0,
    other: 0,
  };
  private resourceCounts: Record<string, number> = {};
  private unauthorizedCount = 0;
  private injectedFailureCount = 0;

  private constructor(options: KubeApiEmulatorOptions) {
    const host = options.host ?? '127.0.0.1';
    if (!['127.0.0.1', '::1', 'localhost'].includes(host)) {
      throw new Error(`KubeApiEmulator: host "${host}" is not a loopback address; use 127.0.0.1, ::1 or localhost (the emulator has no authorization)`);
    }
    this.host = host;
    this.token = options.token ?? crypto.randomBytes(32).toString('hex');
    if (this.token === '') throw new Error('KubeApiEmulator: token must not be empty; omit it for a random one');
    this.caCert = readFixture('ca.crt');
    this.serverCert = readFixture('server.crt');
    this.serverKey = readFixture('server.key');
    this.historyLimit = positive('historyLimit', options.historyLimit ?? 10_000);
    this.defaultWatchTimeoutSeconds = positive('defaultWatchTimeoutSeconds', options.defaultWatchTimeoutSeconds ?? 1800);
    this.maxWatchBufferBytes = positive('maxWatchBufferBytes', options.maxWatchBufferBytes ?? 64 * 1024 * 1024);
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 60_000;
    this.latencyMs = options.latencyMs ?? 0;
    this.podGraceful = options.podGracefulDeletion;

    this.registerBuiltins();
    for (const ns of options.namespaces ?? DEFAULT_NAMESPACES) this.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    for (const crd of options.crds ?? []) this.apply(crd);
  }

  /** `https://<host>:<port>`. */
  public get url(): string {
    const host = this.host === '::1' ? '[::1]' : this.host;
    return `https://${host}:${this.port}`;
  }

  /** The current global resourceVersion (what a list would return now). */
  public get resourceVersion(): string {
    return String(this.rv);
  }

  /** Watches at or after this resourceVersion can be resumed; older ones get 410 Expired. */
  public get compactedResourceVersion(): string {
    return String(this.compactedRv);
  }

  /** Closes every connection and the listener, and cancels pending timers. */
  public async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.closeServer();
  }

  // ---- fault injection and control -------------------------------------------------------------

  /**
   * Ends every open watch. `reset` destroys the connections (a network failure); `close` ends
   * the responses cleanly, as when a watch times out on the server.
   */
  public dropWatches(mode: 'reset' | 'close' = 'reset'): number {
    let n = 0;
    for (const res of this.resources.values()) {
      for (const w of [...res.watchers]) {
        n++;
        this.closeWatcher(w, mode);
      }
    }
    return n;
  }

  /** Number of open watch connections. */
  public get openWatches(): number {
    let n = 0;
    for (const res of this.resources.values()) n += res.watchers.size;
    return n;
  }

  /** Forgets event history up to `resourceVersion` (default: now); watches from older versions get 410. */
  public compact(resourceVersion?: string | number): void {
    const target = resourceVersion === undefined ? this.rv : Number(resourceVersion);
    if (!Number.isInteger(target) || target < 0 || target > this.rv) {
      throw new Error(`KubeApiEmulator.compact: resourceVersion ${String(resourceVersion)} is not between 0 and ${this.rv}`);
    }
    if (target <= this.compactedRv) return;
    while (this.historyHead < this.history.length && this.history[this.historyHead].rv <= target) this.historyHead++;
    this.compactedRv = target;
    this.trimHistoryArray();
  }

  /**
   * Simulates an API server restart: the listener and every connection close, the server comes
   * back on the same port after `downMs`, stored objects are kept. The watch cache of a fresh
   * server starts at the current revision, so older watches get 410 unless `keepHistory`.
   */
  public async restart(options: { downMs?: number; keepHistory?: boolean } = {}): Promise<void> {
    // One restart at a time: a second call waits for the first, then restarts again.
    const previous = this.restarting;
    const run = (async () => {
      await previous;
      await this.restartOnce(options);
    })();
    this.restarting = run;
    try {
      await run;
    } finally {
      if (this.restarting === run) this.restarting = undefined;
    }
  }

  private async restartOnce(options: { downMs?: number; keepHistory?: boolean }): Promise<void> {
    if (this.stopped) return;
    await this.closeServer();
    const down = options.downMs ?? 100;
    if (down > 0) await new Promise((r) => setTimeout(r, down));
    if (this.stopped) return;
    if (!options.keepHistory) this.compact();
    await this.listen(this.port);
  }

  /** Delay every request by `ms` before it is handled. */
  public setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  /** Fails the next `count` requests that match; rules are consulted in the order they were added. */
  public failNext(rule: FailureRule): void {
    const count = rule.count ?? 1;
    if (typeof rule.status === 'number' && (rule.status < 400 || rule.status > 599)) {
      throw new Error(`KubeApiEmulator.failNext: status ${rule.status} is not an error status; use 400-599 or 'reset'`);
    }
    this.faults.push({ rule, remaining: count });
  }

  /** Removes every pending failure rule. */
  public clearFailures(): void {
    this.faults = [];
  }

  /** Sends a BOOKMARK now on every watch that allows bookmarks. */
  public sendBookmarks(): void {
    for (const res of this.resources.values()) {
      for (const w of res.watchers) if (w.bookmarks) this.sendBookmark(w);
    }
  }

  /** Changes the periodic bookmark interval (0 stops periodic bookmarks). */
  public setBookmarkInterval(ms: number): void {
    this.bookmarkIntervalMs = Math.max(0, ms);
    this.scheduleBookmarks();
  }

  public counters(): RequestCounters {
    return {
      byVerb: { ...this.verbCounts },
      byResource: { ...this.resourceCounts },
      unauthorized: this.unauthorizedCount,
      injectedFailures: this.injectedFailureCount,
    };
  }

  public resetCounters(): void {
    for (const k of Object.keys(this.verbCounts) as RequestVerb[]) this.verbCounts[k] = 0;
    this.resourceCounts = {};
    this.unauthorizedCount = 0;
    this.injectedFailureCount = 0;
  }

  // ---- programmatic API --------------------------------------------------------------------------

  /**
   * Creates or replaces an object as a controller with full access would (no resourceVersion
   * precondition; status is written as given). Returns the stored object.
   */
  public apply(input: object): EmulatedObject {
    const obj = structuredClone(input) as EmulatedObject;
    if (!isPlainObject(obj) || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string' || !isPlainObject(obj.metadata)) {
      throw new Error('KubeApiEmulator.apply: the object needs apiVersion, kind and metadata');
    }
    const res = this.resourceForKind(obj.apiVersion, obj.kind);
    const name = obj.metadata.name;
    if (typeof name !== 'string' || name === '') throw new Error(`KubeApiEmulator.apply: ${obj.kind} needs metadata.name`);
    const namespace = this.checkNamespaceOf(res, obj.metadata.namespace, name);
    const existing = res.store.get(keyOf(namespace, name));
    const stored = existing ? this.writeUpdate(res, existing, obj, { keepStatus: false }) : this.writeCreate(res, obj, namespace, { keepStatus: true });
    return JSON.parse(JSON.stringify(stored)) as EmulatedObject;
  }

  /** Applies many objects; convenient for seeding benchmarks. */
  public applyAll(objects: Iterable<object>): number {
    let n = 0;
    for (const o of objects) {
      this.apply(o);
      n++;
    }
    return n;
  }

  /**
   * Deletes an object with the API's semantics (finalizers, graceful pod deletion unless
   * `gracePeriodSeconds: 0`, namespace and CRD cascades). Returns false if it did not exist.
   */
  public delete(ref: ObjectRef, options: { gracePeriodSeconds?: number } = {}): boolean {
    const res = this.resourceForKind(ref.apiVersion, ref.kind);
    const namespace = this.checkNamespaceOf(res, ref.namespace, ref.name);
    const entry = res.store.get(keyOf(namespace, ref.name));
    if (!entry) return false;
    this.deleteEntry(res, entry, options.gracePeriodSeconds);
    return true;
  }

  /** Removes a pod that graceful deletion left terminating (what the kubelet does once containers stop). */
  public finishPodTermination(namespace: string, name: string): boolean {
    const res = this.resourceForKind('v1', 'Pod');
    const entry = res.store.get(keyOf(namespace, name));
    if (!entry || !entry.obj.metadata.deletionTimestamp) return false;
    this.remove(res, entry);
    return true;
  }

  public get(ref: ObjectRef): EmulatedObject | undefined {
    const res = this.resourceForKind(ref.apiVersion, ref.kind);
    const entry = res.store.get(keyOf(res.namespaced ? ref.namespace : undefined, ref.name));
    return entry ? (JSON.parse(entry.json) as EmulatedObject) : undefined;
  }

  /** Objects of one kind, sorted by namespace and name. */
  public list(query: ListQuery): EmulatedObject[] {
    const res = this.resourceForKind(query.apiVersion, query.kind);
    const labels = query.labelSelector ? parseLabelSelector(query.labelSelector) : undefined;
    return this.select(res, query.namespace, labels, undefined).items.map((e) => JSON.parse(e.json) as EmulatedObject);
  }

  /** Number of stored objects of one kind (cheap; for benchmarks). */
  public count(apiVersion: string, kind: string): number {
    return this.resourceForKind(apiVersion, kind).store.size;
  }

  /** A kubeconfig (YAML) that points at this emulator and trusts its CA. */
  public kubeconfig(options: KubeconfigOptions = {}): string {
    const context = options.contextName ?? 'emulator';
    const user: Record<string, string> = {};
    if (options.tokenFile) {
      fs.writeFileSync(options.tokenFile, options.token ?? this.token, { mode: 0o600 });
      user.tokenFile = options.tokenFile;
    } else user.token = options.token ?? this.token;
    const ctx: Record<string, string> = { cluster: context, user: context };
    if (options.namespace) ctx.namespace = options.namespace;
    return YAML.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: context, cluster: { server: this.url, 'certificate-authority-data': Buffer.from(this.caCert).toString('base64') } }],
      users: [{ name: context, user }],
      contexts: [{ name: context, context: ctx }],
      'current-context': context,
    });
  }

  /** Writes {@link kubeconfig} to `file` (mode 0600) and returns the path. */
  public writeKubeconfig(file: string, options: KubeconfigOptions = {}): string {
    fs.writeFileSync(file, this.kubeconfig(options), { mode: 0o600 });
    return file;
  }

  // ---- server lifecycle ----------------------------------------------------------------------------

  private async listen(port: number): Promise<void> {
    const server = https.createServer({ key: this.serverKey, cert: this.serverCert }, (req, res) => this.onRequest(req, res));
    server.on('secureConnection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    // A client that hangs up during the TLS handshake must not crash the process.
    server.on('tlsClientError', () => undefined);
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    this.scheduleBookmarks();
  }

  private async closeServer(): Promise<void> {
    if (this.bookmarkTimer) clearInterval(this.bookmarkTimer);
    this.bookmarkTimer = undefined;
    const server = this.server;
    this.server = undefined;
    for (const res of this.resources.values()) for (const w of [...res.watchers]) this.closeWatcher(w, 'reset');
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }

  private scheduleBookmarks(): void {
    if (this.bookmarkTimer) clearInterval(this.bookmarkTimer);
    this.bookmarkTimer = undefined;
    if (this.bookmarkIntervalMs > 0 && this.server) {
      this.bookmarkTimer = setInterval(() => this.sendBookmarks(), this.bookmarkIntervalMs);
      this.bookmarkTimer.unref();
    }
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  // ---- resource registry ---------------------------------------------------------------------------

  private register(spec: {
    group: string;
    version: string;
    plural: string;
    singular: string;
    kind: string;
    namespaced: boolean;
    statusSubresource: boolean;
    unconditionalUpdate: boolean;
    fieldLabels?: readonly string[];
    nameIsLabel?: boolean;
    crdName?: string;
  }): ResourceInfo {
    const id = `${spec.group}/${spec.version}/${spec.plural}`;
    const apiVersion = spec.group ? `${spec.group}/${spec.version}` : spec.version;
    const existing = this.resources.get(id);
    const info: ResourceInfo = {
      group: spec.group,
      version: spec.version,
      apiVersion,
      plural: spec.plural,
      singular: spec.singular,
      kind: spec.kind,
      listKind: `${spec.kind}List`,
      namespaced: spec.namespaced,
      statusSubresource: spec.statusSubresource,
      unconditionalUpdate: spec.unconditionalUpdate,
      fieldLabels: new Set(spec.fieldLabels ?? []),
      qualified: spec.group ? `${spec.plural}.${spec.group}` : spec.plural,
      nameIsLabel: spec.nameIsLabel ?? false,
      crdName: spec.crdName,
      store: existing?.store ?? new Map(),
      watchers: existing?.watchers ?? new Set(),
    };
    this.resources.set(id, info);
    this.byKind.set(`${apiVersion}#${spec.kind}`, info);
    return info;
  }

  private registerBuiltins(): void {
    const core = { group: '', version: 'v1', unconditionalUpdate: true };
    this.register({ ...core, plural: 'pods', singular: 'pod', kind: 'Pod', namespaced: true, statusSubresource: true, fieldLabels: POD_FIELDS });
    this.register({
      ...core,
      plural: 'namespaces',
      singular: 'namespace',
      kind: 'Namespace',
      namespaced: false,
      statusSubresource: true,
      fieldLabels: ['status.phase'],
      nameIsLabel: true,
    });
    this.register({
      ...core,
      plural: 'services',
      singular: 'service',
      kind: 'Service',
      namespaced: true,
      statusSubresource: true,
      fieldLabels: ['spec.clusterIP', 'spec.type'],
      nameIsLabel: true,
    });
    this.register({
      group: 'coordination.k8s.io',
      version: 'v1',
      plural: 'leases',
      singular: 'lease',
      kind: 'Lease',
      namespaced: true,
      statusSubresource: false,
      unconditionalUpdate: true,
    });
    this.register({
      group: 'apiextensions.k8s.io',
      version: 'v1',
      plural: 'customresourcedefinitions',
      singular: 'customresourcedefinition',
      kind: 'CustomResourceDefinition',
      namespaced: false,
      statusSubresource: true,
      unconditionalUpdate: true,
    });
    // Stored as they are, so a synthesized deployment (RBAC, ConfigMaps, the controller's
    // Deployment) can be applied and read back; nothing acts on them.
    const stored: [string, string, string, string, boolean, boolean][] = [
      ['', 'v1', 'configmaps', 'ConfigMap', true, false],
      ['', 'v1', 'secrets', 'Secret', true, false],
      ['', 'v1', 'serviceaccounts', 'ServiceAccount', true, false],
      ['apps', 'v1', 'deployments', 'Deployment', true, true],
      ['rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false, false],
      ['rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false, false],
      ['rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true, false],
      ['rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', true, false],
      ['policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', true, true],
    ];
    for (const [group, version, plural, kind, namespaced, statusSubresource] of stored) {
      this.register({ group, version, plural, singular: kind.toLowerCase(), kind, namespaced, statusSubresource, unconditionalUpdate: true });
    }
  }

  private resourceForKind(apiVersion: string, kind: string): ResourceInfo {
    const res = this.byKind.get(`${apiVersion}#${kind}`);
    if (!res) {
      throw new KubeEmulatorError(
        statusObject(404, 'NotFound', `no resource is served for ${apiVersion} ${kind}; the emulator serves Pods, Namespaces, Services, Leases, CRDs, ConfigMaps, Secrets, ServiceAccounts, Deployments, RBAC objects and PodDisruptionBudgets; custom kinds need their CRD applied first`),
      );
    }
    return res;
  }

  /** Registers (or re-registers after an update) the resources a CRD serves. */
  private serveCrd(crd: EmulatedObject): void {
    const spec = crd.spec as Record<string, unknown> | undefined;
    const names = (spec?.names ?? {}) as Record<string, unknown>;
    const versions = Array.isArray(spec?.versions) ? (spec.versions as Record<string, unknown>[]) : [];
    for (const v of versions) {
      const existing = this.resources.get(`${String(spec?.group)}/${String(v.name)}/${String(names.plural)}`);
      if (v.served === false) {
        if (existing) this.unserve(existing);
        continue;
      }
      const subresources = (v.subresources ?? {}) as Record<string, unknown>;
      const info = this.register({
        group: String(spec?.group),
        version: String(v.name),
        plural: String(names.plural),
        singular: String(names.singular ?? String(names.kind).toLowerCase()),
        kind: String(names.kind),
        namespaced: spec?.scope === 'Namespaced',
        statusSubresource: isPlainObject(subresources.status),
        unconditionalUpdate: false,
        crdName: crd.metadata.name,
      });
      const openApi = ((v.schema as Record<string, unknown> | undefined)?.openAPIV3Schema ?? undefined) as SchemaNode | undefined;
      if (openApi) {
        // Metadata is validated by the server itself, never by the CRD schema.
        const forValidation = { ...openApi, properties: { ...((openApi.properties as object) ?? {}), metadata: { type: 'object' } } };
        info.schema = { validate: ajv().compile(forValidation), openApi };
      }
    }
  }

  private unserve(res: ResourceInfo): void {
    for (const entry of [...res.store.values()]) this.remove(res, entry);
    for (const w of [...res.watchers]) this.closeWatcher(w, 'close');
    this.resources.delete(`${res.group}/${res.version}/${res.plural}`);
    this.byKind.delete(`${res.apiVersion}#${res.kind}`);
  }

  private validateCrd(crd: EmulatedObject): void {
    const res = this.resourceForKind('apiextensions.k8s.io/v1', 'CustomResourceDefinition');
    const name = crd.metadata.name ?? '';
    const spec = crd.spec as Record<string, unknown> | undefined;
    const causes: { field: string; message: string }[] = [];
    const names = (spec?.names ?? {}) as Record<string, unknown>;
    if (!spec || typeof spec.group !== 'string' || !DNS1123_SUBDOMAIN.test(spec.group) || !spec.group.includes('.')) {
      causes.push({ field: 'spec.group', message: `Invalid value: ${JSON.stringify(spec?.group)}: should be a domain with at least one dot` });
    }
    if (typeof names.plural !== 'string' || !DNS1123_LABEL.test(names.plural)) causes.push({ field: 'spec.names.plural', message: 'Required value' });
    if (typeof names.kind !== 'string' || names.kind === '') causes.push({ field: 'spec.names.kind', message: 'Required value' });
    if (spec?.scope !== 'Namespaced' && spec?.scope !== 'Cluster') {
      causes.push({ field: 'spec.scope', message: `Unsupported value: ${JSON.stringify(spec?.scope)}: supported values: "Cluster", "Namespaced"` });
    }
    const versions = Array.isArray(spec?.versions) ? (spec.versions as Record<string, unknown>[]) : [];
    if (versions.filter((v) => v.storage === true).length !== 1) {
      causes.push({ field: 'spec.versions', message: 'Invalid value: must have exactly one version marked as storage version' });
    }
    if (causes.length === 0 && name !== `${String(names.plural)}.${String(spec?.group)}`) {
      causes.push({ field: 'metadata.name', message: `Invalid value: "${name}": must be spec.names.plural+"."+spec.group` });
    }
    for (const v of versions) {
      const s = (v.schema as Record<string, unknown> | undefined)?.openAPIV3Schema;
      if (s !== undefined) {
        try {
          ajv().compile({ ...(s as object) });
        } catch (e) {
          causes.push({ field: `spec.versions[${String(v.name)}].schema.openAPIV3Schema`, message: `Invalid value: ${(e as Error).message}` });
        }
      }
    }
    if (causes.length > 0) invalid(res, name, causes);
  }

  // ---- storage ---------------------------------------------------------------------------------------

  private checkNamespaceOf(res: ResourceInfo, namespace: string | undefined, name: string): string | undefined {
    if (!res.namespaced) return undefined;
    if (!namespace) {
      return fail(400, 'BadRequest', `${res.kind} "${name}" is namespaced: metadata.namespace is required`);
    }
    return namespace;
  }

  private validateObject(res: ResourceInfo, obj: EmulatedObject): void {
    const name = obj.metadata.name ?? '';
    const causes: { field: string; message: string }[] = [];
    const nameRe = res.nameIsLabel ? DNS1123_LABEL : DNS1123_SUBDOMAIN;
    if (!nameRe.test(name) || name.length > (res.nameIsLabel ? 63 : 253)) {
      causes.push({
        field: 'metadata.name',
        message: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 ${res.nameIsLabel ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
      });
    }
    for (const field of ['labels', 'annotations'] as const) {
      const m = obj.metadata[field];
      if (m === undefined) continue;
      if (!isPlainObject(m) || Object.values(m).some((v) => typeof v !== 'string')) {
        causes.push({ field: `metadata.${field}`, message: 'Invalid value: must be a map of strings' });
      }
    }
    if (res.schema) {
      if (!res.schema.validate(obj)) {
        for (const e of res.schema.validate.errors ?? []) {
          const field = e.instancePath.replace(/^\//, '').replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.') || '<root>';
          causes.push({ field, message: `Invalid value: ${e.message ?? 'invalid'}` });
        }
      }
    }
    if (causes.length > 0) invalid(res, name, causes);
  }

  /** Stores a new object; `keepStatus` is false for API creates on resources with a status subresource. */
  private writeCreate(res: ResourceInfo, input: EmulatedObject, namespace: string | undefined, opts: { keepStatus: boolean }): EmulatedObject {
    const meta = { ...input.metadata };
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${crypto.randomBytes(3).toString('hex').slice(0, 5)}`;
    const name = meta.name ?? '';
    if (res.namespaced) {
      meta.namespace = namespace;
      const nsRes = this.resourceForKind('v1', 'Namespace');
      if (!nsRes.store.has(keyOf(undefined, namespace ?? ''))) notFound(nsRes, namespace ?? '');
    } else delete meta.namespace;
    const key = keyOf(namespace, name);
    if (res.store.has(key)) fail(409, 'AlreadyExists', `${res.qualified} "${name}" already exists`, resourceDetails(res, name));
    meta.uid = crypto.randomUUID();
    meta.creationTimestamp = now();
    meta.generation = 1;
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    const obj = withTypeMeta(res, input, meta);
    if (!opts.keepStatus) this.defaultStatusOnCreate(res, obj);
    this.defaultOnWrite(res, obj);
    if (res.schema) prune(obj, this.pruneSchema(res));
    this.validateObject(res, obj);
    if (res.plural === 'customresourcedefinitions' && res.group === 'apiextensions.k8s.io') {
      this.validateCrd(obj);
      obj.status = crdStatus(obj);
    }
    this.commit(res, 'ADDED', key, obj, undefined);
    if (res.kind === 'CustomResourceDefinition' && res.group === 'apiextensions.k8s.io') this.serveCrd(obj);
    return obj;
  }

  private defaultStatusOnCreate(res: ResourceInfo, obj: EmulatedObject): void {
    if (!res.statusSubresource) return;
    if (res.group === '' && res.kind === 'Pod') obj.status = { phase: 'Pending' };
    else if (res.group === '' && res.kind === 'Namespace') obj.status = { phase: 'Active' };
    else if (res.group === '' && res.kind === 'Service') obj.status = { loadBalancer: {} };
    else delete obj.status;
  }

  /** Server-side defaults kube-apiserver applies on every write of these kinds. */
  private defaultOnWrite(res: ResourceInfo, obj: EmulatedObject): void {
    if (res.group !== '') return;
    if (res.kind === 'Namespace') {
      obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name ?? '' };
      if (!isPlainObject(obj.status)) obj.status = { phase: 'Active' };
    } else if (res.kind === 'Service') {
      const spec = (isPlainObject(obj.spec) ? { ...obj.spec } : {}) as Record<string, unknown>;
      if (spec.type === undefined) spec.type = 'ClusterIP';
      if (spec.type !== 'ExternalName' && spec.clusterIP === undefined) {
        const n = this.nextClusterIp++;
        spec.clusterIP = `10.96.${(n >> 8) & 255}.${n & 255}`;
      }
      obj.spec = spec;
    }
  }

  private pruneSchema(res: ResourceInfo): SchemaNode | undefined {
    const s = res.schema?.openApi;
    if (!s) return undefined;
    // apiVersion, kind and metadata are the server's, never pruned by the CRD schema.
    return {
      ...s,
      properties: { ...((s.properties as object) ?? {}), apiVersion: {}, kind: {}, metadata: { 'x-kubernetes-preserve-unknown-fields': true } },
    };
  }

  /**
   * Replaces an object. `keepStatus` keeps the stored status (API writes to the main resource
   * of a kind with a status subresource); `onlyStatus` takes nothing but status from `input`.
   */
  private writeUpdate(
    res: ResourceInfo,
    old: Entry,
    input: EmulatedObject,
    opts: { keepStatus: boolean; onlyStatus?: boolean; precondition?: string },
  ): EmulatedObject {
    const name = old.obj.metadata.name ?? '';
    if (opts.precondition !== undefined && opts.precondition !== old.obj.metadata.resourceVersion) conflict(res, name);
    let next: EmulatedObject;
    if (opts.onlyStatus) {
      next = { ...old.obj, metadata: { ...old.obj.metadata } };
      if (input.status === undefined) delete next.status;
      else next.status = input.status;
    } else {
      const meta: EmulatedObjectMeta = { ...input.metadata };
      for (const f of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'namespace', 'name', 'generation'] as const) {
        if (old.obj.metadata[f] === undefined) delete meta[f];
        else meta[f] = old.obj.metadata[f] as never;
      }
      next = withTypeMeta(res, input, meta);
      if (opts.keepStatus && res.statusSubresource) {
        if (old.obj.status === undefined) delete next.status;
        else next.status = old.obj.status;
      }
      if (!deepEqual(next.spec, old.obj.spec)) meta.generation = (old.obj.metadata.generation ?? 0) + 1;
      this.defaultOnWrite(res, next);
    }
    if (res.schema) {
      next = structuredClone(next);
      prune(next, this.pruneSchema(res));
    }
    next.metadata.resourceVersion = old.obj.metadata.resourceVersion;
    if (!opts.onlyStatus) this.validateObject(res, next);
    if (res.kind === 'CustomResourceDefinition' && res.group === 'apiextensions.k8s.io' && !opts.onlyStatus) {
      this.validateCrd(next);
      next.status = crdStatus(next);
    }
    // A write that changes nothing is not stored and keeps the resourceVersion (no event).
    if (deepEqual(next, old.obj)) return old.obj;
    const key = keyOf(next.metadata.namespace, name);
    if (next.metadata.deletionTimestamp && !(next.metadata.finalizers?.length ?? 0) && !this.awaitingPodTermination(res, next)) {
      this.commit(res, 'DELETED', key, next, old);
      return next;
    }
    this.commit(res, 'MODIFIED', key, next, old);
    if (res.kind === 'CustomResourceDefinition' && res.group === 'apiextensions.k8s.io') this.serveCrd(next);
    return next;
  }

  /** A pod in graceful deletion stays until termination finishes, even once its finalizers are gone. */
  private awaitingPodTermination(res: ResourceInfo, obj: EmulatedObject): boolean {
    return res.group === '' && res.kind === 'Pod' && (obj.metadata.deletionGracePeriodSeconds ?? 0) > 0;
  }

  /** Returns the stored state after the delete request (undefined once the object is gone). */
  private deleteEntry(res: ResourceInfo, entry: Entry, gracePeriodSeconds: number | undefined): EmulatedObject | undefined {
    const obj = entry.obj;
    const isPod = res.group === '' && res.kind === 'Pod';
    const graceful = isPod && this.podGraceful !== undefined && gracePeriodSeconds !== 0;
    const hasFinalizers = (obj.metadata.finalizers?.length ?? 0) > 0;
    if (obj.metadata.deletionTimestamp) {
      // Already being deleted: a forced pod delete completes it, anything else leaves it be.
      if (isPod && gracePeriodSeconds === 0 && !hasFinalizers) {
        this.remove(res, entry);
        return undefined;
      }
      return obj;
    }
    if (res.kind === 'Namespace' && res.group === '') {
      this.deleteNamespace(res, entry);
      return undefined;
    }
    if (graceful || hasFinalizers) {
      const grace = graceful ? (gracePeriodSeconds ?? 30) : 0;
      const next: EmulatedObject = {
        ...obj,
        metadata: { ...obj.metadata, deletionTimestamp: new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'), deletionGracePeriodSeconds: grace },
      };
      this.commit(res, 'MODIFIED', keyOf(obj.metadata.namespace, obj.metadata.name ?? ''), next, entry);
      if (graceful && this.podGraceful?.removeAfterMs !== undefined) {
        const ns = obj.metadata.namespace ?? '';
        const name = obj.metadata.name ?? '';
        const uid = obj.metadata.uid;
        this.later(this.podGraceful.removeAfterMs, () => {
          const cur = res.store.get(keyOf(ns, name));
          if (cur && cur.obj.metadata.uid === uid && !(cur.obj.metadata.finalizers?.length ?? 0)) this.remove(res, cur);
        });
      }
      return next;
    }
    this.remove(res, entry);
    return undefined;
  }

  private deleteNamespace(res: ResourceInfo, entry: Entry): void {
    const name = entry.obj.metadata.name ?? '';
    const terminating: EmulatedObject = {
      ...entry.obj,
      metadata: { ...entry.obj.metadata, deletionTimestamp: now() },
      status: { phase: 'Terminating' },
    };
    this.commit(res, 'MODIFIED', keyOf(undefined, name), terminating, entry);
    // The namespace controller deletes the content, then the namespace goes away.
    for (const r of this.resources.values()) {
      if (!r.namespaced) continue;
      for (const e of [...r.store.values()]) if (e.obj.metadata.namespace === name) this.remove(r, e);
    }
    const cur = res.store.get(keyOf(undefined, name));
    if (cur) this.remove(res, cur);
  }

  /** Removes an object for good (a DELETED event), with CRD cascades. */
  private remove(res: ResourceInfo, entry: Entry): void {
    const obj: EmulatedObject = { ...entry.obj, metadata: { ...entry.obj.metadata } };
    this.commit(res, 'DELETED', keyOf(obj.metadata.namespace, obj.metadata.name ?? ''), obj, entry);
    if (res.kind === 'CustomResourceDefinition' && res.group === 'apiextensions.k8s.io') {
      const spec = obj.spec as Record<string, unknown> | undefined;
      const names = (spec?.names ?? {}) as Record<string, unknown>;
      const versions = Array.isArray(spec?.versions) ? (spec.versions as Record<string, unknown>[]) : [];
      for (const v of versions) {
        const served = this.resources.get(`${String(spec?.group)}/${String(v.name)}/${String(names.plural)}`);
        if (served) this.unserve(served);
      }
    }
  }

  /** Assigns the next resourceVersion, stores, records history and notifies watchers. */
  private commit(res: ResourceInfo, type: EventType, key: string, obj: EmulatedObject, prev: Entry | undefined): void {
    const rv = ++this.rv;
    obj.metadata.resourceVersion = String(rv);
    const entry: Entry = { obj, json: JSON.stringify(obj) };
    if (type === 'DELETED') {
      res.store.delete(key);
      res.sorted = undefined;
    } else {
      if (!res.store.has(key)) res.sorted = undefined;
      res.store.set(key, entry);
    }
    const event: HistoryEvent = { rv, res, type, entry, prev };
    this.history.push(event);
    if (this.history.length - this.historyHead > this.historyLimit) {
      this.historyHead++;
      this.compactedRv = this.history[this.historyHead - 1].rv;
      this.trimHistoryArray();
    }
    for (const w of res.watchers) this.deliver(w, event);
  }

  private trimHistoryArray(): void {
    // Amortized: drop the consumed prefix once it is as long as the live part.
    if (this.historyHead > 1024 && this.historyHead * 2 > this.history.length) {
      this.history = this.history.slice(this.historyHead);
      this.historyHead = 0;
    }
  }

  /** Store keys in order (`namespace/name`), rebuilt lazily after creates and deletes. */
  private sortedKeys(res: ResourceInfo): string[] {
    if (!res.sorted) res.sorted = [...res.store.keys()].sort();
    return res.sorted;
  }

  /**
   * Matching objects in key order, starting after the key `after`, at most `limit` (0: all).
   * `more` tells whether matching objects remain beyond the limit.
   */
  private select(
    res: ResourceInfo,
    namespace: string | undefined,
    labels: LabelSelector | undefined,
    fields: FieldSelector | undefined,
    after?: string,
    limit = 0,
  ): { items: Entry[]; more: boolean; remaining: number } {
    const keys = this.sortedKeys(res);
    const prefix = namespace !== undefined ? `${namespace}/` : '';
    let i = lowerBound(keys, after !== undefined && after >= prefix ? `${after}\u0000` : prefix);
    const items: Entry[] = [];
    let remaining = 0;
    for (; i < keys.length; i++) {
      const key = keys[i];
      if (prefix && !key.startsWith(prefix)) break;
      const e = res.store.get(key);
      if (!e) continue;
      if (labels && !labelsMatch(labels, e.obj.metadata.labels)) continue;
      if (fields && !fieldsMatch(fields, e.obj)) continue;
      if (limit > 0 && items.length >= limit) remaining++;
      else items.push(e);
    }
    return { items, more: remaining > 0, remaining };
  }

  // ---- watch -------------------------------------------------------------------------------------------

  private matches(w: Watcher, obj: EmulatedObject): boolean {
    if (w.namespace !== undefined && obj.metadata.namespace !== w.namespace) return false;
    if (w.labels && !labelsMatch(w.labels, obj.metadata.labels)) return false;
    if (w.fields && !fieldsMatch(w.fields, obj)) return false;
    return true;
  }

  /** Sends one stored event to a watcher, translated as the watch cache does for filtered watches. */
  private deliver(w: Watcher, ev: HistoryEvent): void {
    if (w.closed) return;
    const cur = this.matches(w, ev.entry.obj);
    if (ev.type === 'ADDED') {
      if (cur) this.write(w, `{"type":"ADDED","object":${ev.entry.json}}\n`);
    } else if (ev.type === 'DELETED') {
      if (cur) this.write(w, `{"type":"DELETED","object":${ev.entry.json}}\n`);
    } else {
      const before = ev.prev ? this.matches(w, ev.prev.obj) : false;
      if (cur && before) this.write(w, `{"type":"MODIFIED","object":${ev.entry.json}}\n`);
      else if (cur) this.write(w, `{"type":"ADDED","object":${ev.entry.json}}\n`);
      else if (before && ev.prev) {
        // No longer selected: the old state with the new resourceVersion, as a deletion.
        const gone = { ...ev.prev.obj, metadata: { ...ev.prev.obj.metadata, resourceVersion: String(ev.rv) } };
        this.write(w, `{"type":"DELETED","object":${JSON.stringify(gone)}}\n`);
      }
    }
  }

  private write(w: Watcher, line: string): void {
    if (w.closed) return;
    w.response.write(line);
    if (w.response.writableLength > this.maxWatchBufferBytes) this.closeWatcher(w, 'reset');
  }

  private sendBookmark(w: Watcher, annotations?: Record<string, string>): void {
    const metadata: Record<string, unknown> = { resourceVersion: String(this.rv) };
    if (annotations) metadata.annotations = annotations;
    this.write(w, `${JSON.stringify({ type: 'BOOKMARK', object: { kind: w.res.kind, apiVersion: w.res.apiVersion, metadata } })}\n`);
  }

  private closeWatcher(w: Watcher, mode: 'reset' | 'close'): void {
    if (w.closed) return;
    w.closed = true;
    if (w.timer) clearTimeout(w.timer);
    w.res.watchers.delete(w);
    if (mode === 'reset') w.response.socket?.destroy();
    else w.response.end();
  }

  private startWatch(route: Route, q: URLSearchParams, response: http.ServerResponse): void {
    const res = route.res;
    const labels = q.get('labelSelector') ? parseLabelSelector(q.get('labelSelector') ?? '') : undefined;
    const fieldText = [q.get('fieldSelector') ?? '', route.name ? `metadata.name=${route.name}` : ''].filter((s) => s).join(',');
    const fields = fieldText ? parseFieldSelector(fieldText, res) : undefined;
    const rvParam = q.get('resourceVersion') ?? '';
    const sendInitial = q.get('sendInitialEvents') === 'true';
    let fromRv: number | undefined;
    if (rvParam !== '' && rvParam !== '0' && !sendInitial) {
      fromRv = Number(rvParam);
      if (!/^\d+$/.test(rvParam)) badRequest(`invalid resource version "${rvParam}"`);
      if (fromRv > this.rv) {
        fail(504, 'Timeout', `Too large resource version: ${fromRv}, current: ${this.rv}`, {
          causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
          retryAfterSeconds: 1,
        });
      }
    }
    const timeoutParam = q.get('timeoutSeconds');
    const timeoutSeconds = timeoutParam !== null && /^\d+$/.test(timeoutParam) ? Number(timeoutParam) : this.defaultWatchTimeoutSeconds;

    response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    response.flushHeaders();
    const w: Watcher = {
      res,
      namespace: route.namespace,
      labels,
      fields,
      bookmarks: q.get('allowWatchBookmarks') === 'true' || q.get('allowWatchBookmarks') === '1',
      response,
      closed: false,
    };
    if (fromRv !== undefined && fromRv < this.compactedRv) {
      // The real server answers 200 and reports the expiry in the stream.
      const status = statusObject(410, 'Expired', `too old resource version: ${fromRv} (${this.compactedRv})`);
      response.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
      return;
    }
    if (fromRv === undefined) {
      for (const e of this.select(res, route.namespace, labels, fields).items) this.write(w, `{"type":"ADDED","object":${e.json}}\n`);
      if (sendInitial && w.bookmarks) this.sendBookmark(w, { 'k8s.io/initial-events-end': 'true' });
    } else {
      for (let i = this.firstEventAfter(fromRv); i < this.history.length; i++) {
        const ev = this.history[i];
        if (ev.res.store === res.store) this.deliver(w, ev);
      }
    }
    if (w.closed) return;
    res.watchers.add(w);
    w.timer = setTimeout(() => this.closeWatcher(w, 'close'), timeoutSeconds * 1000);
    w.timer.unref();
    response.on('close', () => {
      w.closed = true;
      if (w.timer) clearTimeout(w.timer);
      res.watchers.delete(w);
    });
  }

  private firstEventAfter(rv: number): number {
    let lo = this.historyHead;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.history[mid].rv <= rv) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // ---- HTTP ----------------------------------------------------------------------------------------------

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.handle(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const status = err instanceof KubeEmulatorError ? err.status : statusObject(500, 'InternalError', `Internal error occurred: ${(err as Error).message}`);
      sendJson(res, status.code, status, retryHeaders(status));
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://emulator.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));

    if (PUBLIC_PATHS.has(url.pathname)) {
      if (url.pathname === '/version') sendJson(res, 200, EMULATED_VERSION);
      else sendText(res, 200, 'ok');
      return;
    }
    const auth = req.headers.authorization ?? '';
    if (auth !== `Bearer ${this.token}`) {
      this.unauthorizedCount++;
      req.resume();
      sendJson(res, 401, statusObject(401, 'Unauthorized', 'Unauthorized'));
      return;
    }

    const segments = url.pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
    const route = this.route(segments);
    const isWatch = url.searchParams.get('watch') === '1' || url.searchParams.get('watch') === 'true';
    const verb = route && typeof route !== 'string' ? verbOf(method, route, isWatch) : 'other';
    this.verbCounts[verb]++;
    if (route && typeof route !== 'string') {
      const resourceKey = `${verb} ${route.res.qualified}${route.subresource ? `/${route.subresource}` : ''}`;
      this.resourceCounts[resourceKey] = (this.resourceCounts[resourceKey] ?? 0) + 1;
    }

    const fault = this.takeFault(url.pathname, method);
    if (fault) {
      this.injectedFailureCount++;
      req.resume();
      if (fault.status === 'reset') {
        req.socket.destroy();
        return;
      }
      const s = injectedStatus(fault.status);
      sendJson(res, fault.status, s, fault.status === 429 || fault.status === 503 ? { 'Retry-After': String(fault.retryAfterSeconds ?? 1) } : {});
      return;
    }

    if (route === undefined) {
      req.resume();
      sendJson(res, 404, statusObject(404, 'NotFound', 'the server could not find the requested resource', {}));
      return;
    }
    if (typeof route === 'string') {
      req.resume();
      const doc = this.discovery(route);
      if (doc) sendJson(res, 200, doc);
      else sendJson(res, 404, statusObject(404, 'NotFound', 'the server could not find the requested resource', {}));
      return;
    }

    const body = method === 'GET' ? undefined : await readBody(req);
    if (this.stopped || !this.server) {
      req.socket.destroy();
      return;
    }
    const q = url.searchParams;
    switch (verb) {
      case 'get':
        sendRaw(res, 200, this.httpGet(route));
        return;
      case 'list':
        sendRaw(res, 200, this.httpList(route, q));
        return;
      case 'watch':
        this.startWatch(route, q, res);
        return;
      case 'create':
        sendJson(res, 201, this.httpCreate(route, parseJson(body)));
        return;
      case 'update':
        sendJson(res, 200, this.httpUpdate(route, parseJson(body)));
        return;
      case 'patch':
        sendJson(res, 200, this.httpPatch(route, req.headers['content-type'] ?? '', parseJson(body)));
        return;
      case 'delete': {
        const out = this.httpDelete(route, body, q);
        sendJson(res, 200, out);
        return;
      }
      default:
        fail(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    }
  }

  private takeFault(pathname: string, method: string): FailureRule | undefined {
    for (const f of this.faults) {
      if (f.remaining <= 0) continue;
      if (!pathname.startsWith(f.rule.pathPrefix ?? '/')) continue;
      if (f.rule.method && f.rule.method.toUpperCase() !== method) continue;
      f.remaining--;
      this.faults = this.faults.filter((x) => x.remaining > 0);
      return f.rule;
    }
    return undefined;
  }

  /** A resource route, a discovery path (string), or undefined when nothing is served there. */
  private route(segments: string[]): Route | string | undefined {
    let group: string;
    let version: string;
    let rest: string[];
    if (segments[0] === 'api') {
      if (segments.length === 1) return '/api';
      group = '';
      version = segments[1];
      rest = segments.slice(2);
    } else if (segments[0] === 'apis') {
      if (segments.length === 1) return '/apis';
      if (segments.length === 2) return `/apis/${segments[1]}`;
      group = segments[1];
      version = segments[2];
      rest = segments.slice(3);
    } else return undefined;
    if (rest.length === 0) return `${group}/${version}`;
    const lookup = (plural: string) => this.resources.get(`${group}/${version}/${plural}`);
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      const namespaced = lookup(rest[2]);
      if (namespaced?.namespaced) {
        namespace = rest[1];
        rest = rest.slice(2);
      }
    }
    const res = lookup(rest[0]);
    if (!res || rest.length > 3) return undefined;
    if (res.namespaced === false && namespace !== undefined) return undefined;
    const subresource = rest[2];
    if (subresource !== undefined && !(subresource === 'status' && res.statusSubresource)) return undefined;
    return { res, namespace, name: rest[1], subresource };
  }

  private discovery(route: string): object | undefined {
    if (route === '/api') {
      return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `${this.host}:${this.port}` }] };
    }
    const groups = new Map<string, Set<string>>();
    for (const r of this.resources.values()) if (r.group) groups.set(r.group, (groups.get(r.group) ?? new Set()).add(r.version));
    const groupDoc = (name: string) => {
      const versions = [...(groups.get(name) ?? [])].map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
      return { name, versions, preferredVersion: versions[0] };
    };
    if (route === '/apis') return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groups.keys()].sort().map(groupDoc) };
    if (route.startsWith('/apis/')) {
      const g = route.slice(6);
      return groups.has(g) ? { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(g) } : undefined;
    }
    const [group, version] = route.split('/');
    const resources: object[] = [];
    for (const r of this.resources.values()) {
      if (r.group !== group || r.version !== version) continue;
      resources.push({
        name: r.plural,
        singularName: r.singular,
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
      });
      if (r.statusSubresource) resources.push({ name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] });
    }
    if (resources.length === 0) return undefined;
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
  }

  private entryOf(route: Route): Entry {
    const entry = route.res.store.get(keyOf(route.namespace, route.name ?? ''));
    return entry ?? notFound(route.res, route.name ?? '');
  }

  private httpGet(route: Route): string {
    return this.entryOf(route).json;
  }

  private httpList(route: Route, q: URLSearchParams): string {
    const res = route.res;
    const labels = q.get('labelSelector') ? parseLabelSelector(q.get('labelSelector') ?? '') : undefined;
    const fields = q.get('fieldSelector') ? parseFieldSelector(q.get('fieldSelector') ?? '', res) : undefined;
    const rvParam = q.get('resourceVersion') ?? '';
    if (/^\d+$/.test(rvParam) && Number(rvParam) > this.rv) {
      fail(504, 'Timeout', `Too large resource version: ${rvParam}, current: ${this.rv}`, {
        causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
        retryAfterSeconds: 1,
      });
    }
    if (q.get('resourceVersionMatch') === 'Exact' && /^\d+$/.test(rvParam) && Number(rvParam) < this.compactedRv) {
      fail(410, 'Expired', `too old resource version: ${rvParam} (${this.compactedRv})`);
    }
    let listRv = this.rv;
    let startAfter: string | undefined;
    const cont = q.get('continue');
    if (cont) {
      let token: { rv?: unknown; start?: unknown };
      try {
        token = JSON.parse(Buffer.from(cont, 'base64url').toString('utf8')) as { rv?: unknown; start?: unknown };
      } catch {
        return badRequest('continue key is not valid: illegal base64 data');
      }
      if (typeof token.rv !== 'number' || typeof token.start !== 'string') return badRequest('continue key is not valid: incorrect encoded start resourceVersion');
      if (token.rv < this.compactedRv) {
        fail(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
      }
      listRv = token.rv;
      startAfter = token.start;
    }
    const limitParam = Number(q.get('limit') ?? '0');
    const limit = Number.isInteger(limitParam) && limitParam > 0 ? limitParam : 0;
    const { items, more, remaining } = this.select(res, route.namespace, labels, fields, startAfter, limit);
    const metadata: Record<string, unknown> = { resourceVersion: String(listRv) };
    if (more) {
      const last = items[items.length - 1].obj;
      metadata.continue = Buffer.from(JSON.stringify({ rv: listRv, start: keyOf(last.metadata.namespace, last.metadata.name ?? '') })).toString('base64url');
      metadata.remainingItemCount = remaining;
    }
    return `{"kind":"${res.listKind}","apiVersion":"${res.apiVersion}","metadata":${JSON.stringify(metadata)},"items":[${items.map((e) => e.json).join(',')}]}`;
  }

  private checkBodyIdentity(route: Route, body: unknown, verb: string): EmulatedObject {
    const res = route.res;
    if (!isPlainObject(body)) return badRequest(`the body of the request was in an unknown format; ${verb} needs a JSON object`);
    const obj = body as EmulatedObject;
    if (obj.apiVersion !== undefined && obj.apiVersion !== res.apiVersion) {
      badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${res.apiVersion})`);
    }
    if (obj.kind !== undefined && obj.kind !== res.kind) badRequest(`${res.kind} in version "${res.version}" cannot be handled as a ${String(obj.kind)}`);
    if (!isPlainObject(obj.metadata)) obj.metadata = {};
    const ns = obj.metadata.namespace;
    if (res.namespaced && ns !== undefined && ns !== '' && ns !== route.namespace) {
      badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    return obj;
  }

  private httpCreate(route: Route, body: unknown): EmulatedObject {
    if (route.name !== undefined) fail(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    const obj = this.checkBodyIdentity(route, body, 'create');
    if (!obj.metadata.name && !obj.metadata.generateName) {
      invalid(route.res, '', [{ field: 'metadata.name', message: 'Required value: name or generateName is required' }]);
    }
    return this.writeCreate(route.res, obj, route.namespace, { keepStatus: !route.res.statusSubresource });
  }

  private httpUpdate(route: Route, body: unknown): EmulatedObject {
    const res = route.res;
    const old = this.entryOf(route);
    const obj = this.checkBodyIdentity(route, body, 'update');
    const name = route.name ?? '';
    if (obj.metadata.name !== undefined && obj.metadata.name !== name) {
      badRequest(`the name of the object (${String(obj.metadata.name)}) does not match the name on the URL (${name})`);
    }
    const rv = obj.metadata.resourceVersion;
    if ((rv === undefined || rv === '') && !res.unconditionalUpdate) {
      invalid(res, name, [{ field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update' }]);
    }
    return this.writeUpdate(res, old, obj, {
      keepStatus: route.subresource === undefined,
      onlyStatus: route.subresource === 'status',
      precondition: rv === '' ? undefined : rv,
    });
  }

  private httpPatch(route: Route, contentType: string, patch: unknown): EmulatedObject {
    const res = route.res;
    const old = this.entryOf(route);
    const type = contentType.split(';')[0].trim();
    let candidate: unknown;
    let precondition: string | undefined;
    if (type === 'application/merge-patch+json') {
      if (!isPlainObject(patch)) badRequest('a merge patch must be a JSON object');
      const meta = (patch as Record<string, unknown>).metadata;
      if (isPlainObject(meta) && typeof meta.resourceVersion === 'string') precondition = meta.resourceVersion;
      candidate = applyMergePatch(old.obj, patch);
    } else if (type === 'application/json-patch+json') {
      candidate = applyJsonPatch(old.obj, patch);
      const rv = isPlainObject(candidate) && isPlainObject(candidate.metadata) ? candidate.metadata.resourceVersion : undefined;
      if (typeof rv === 'string' && rv !== old.obj.metadata.resourceVersion) precondition = rv;
    } else {
      return fail(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json (got "${type}")`);
    }
    if (!isPlainObject(candidate) || !isPlainObject(candidate.metadata)) return badRequest('the patched object must keep metadata');
    const obj = candidate as EmulatedObject;
    if (obj.metadata.name !== route.name) badRequest('the patch must not change metadata.name');
    return this.writeUpdate(res, old, obj, {
      keepStatus: route.subresource === undefined,
      onlyStatus: route.subresource === 'status',
      precondition,
    });
  }

  private httpDelete(route: Route, body: Buffer | undefined, q: URLSearchParams): object {
    const res = route.res;
    if (route.name === undefined || route.subresource !== undefined) {
      return fail(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
    const entry = this.entryOf(route);
    const options = body && body.length > 0 ? parseJson(body) : {};
    let grace: number | undefined = q.get('gracePeriodSeconds') !== null ? Number(q.get('gracePeriodSeconds')) : undefined;
    if (isPlainObject(options)) {
      if (typeof options.gracePeriodSeconds === 'number') grace = options.gracePeriodSeconds;
      const pre = options.preconditions;
      if (isPlainObject(pre)) {
        if (typeof pre.uid === 'string' && pre.uid !== entry.obj.metadata.uid) {
          fail(409, 'Conflict', `Operation cannot be fulfilled on ${res.qualified} "${route.name}": Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${entry.obj.metadata.uid ?? ''}`, resourceDetails(res, route.name));
        }
        if (typeof pre.resourceVersion === 'string' && pre.resourceVersion !== entry.obj.metadata.resourceVersion) {
          fail(
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${res.qualified} "${route.name}": Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${entry.obj.metadata.resourceVersion ?? ''}`,
            resourceDetails(res, route.name),
          );
        }
      }
    }
    const after = this.deleteEntry(res, entry, grace);
    if (after) return after;
    if (res.group === '' || res.kind === 'CustomResourceDefinition') return JSON.parse(entry.json) as object;
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { ...resourceDetails(res, route.name), uid: entry.obj.metadata.uid } };
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

function positive(name: string, n: number): number {
  if (!Number.isFinite(n) || n <= 0) throw new Error(`KubeApiEmulator: ${name} must be a positive number (got ${n})`);
  return n;
}

/** The object with the resource's apiVersion and kind first (the order kubectl shows). */
function withTypeMeta(res: ResourceInfo, input: EmulatedObject, metadata: EmulatedObjectMeta): EmulatedObject {
  const obj = { apiVersion: res.apiVersion, kind: res.kind, ...(input as Record<string, unknown>), metadata } as EmulatedObject;
  obj.apiVersion = res.apiVersion;
  obj.kind = res.kind;
  return obj;
}

function keyOf(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** First index whose key is >= `key`. */
function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function crdStatus(crd: EmulatedObject): Record<string, unknown> {
  const spec = (crd.spec ?? {}) as Record<string, unknown>;
  const versions = Array.isArray(spec.versions) ? (spec.versions as Record<string, unknown>[]) : [];
  const t = now();
  return {
    acceptedNames: spec.names,
    conditions: [
      { type: 'NamesAccepted', status: 'True', reason: 'NoConflicts', message: 'no conflicts found', lastTransitionTime: t },
      { type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted', lastTransitionTime: t },
    ],
    storedVersions: versions.filter((v) => v.storage === true).map((v) => v.name),
  };
}

function verbOf(method: string, route: Route, isWatch: boolean): RequestVerb {
  switch (method) {
    case 'GET':
      if (isWatch) return 'watch';
      return route.name === undefined ? 'list' : 'get';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return route.name === undefined ? 'deletecollection' : 'delete';
    default:
      return 'other';
  }
}

function injectedStatus(code: number): StatusObject {
  switch (code) {
    case 429:
      return statusObject(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds: 1 });
    case 500:
      return statusObject(500, 'InternalError', 'Internal error occurred: injected failure');
    case 503:
      return statusObject(503, 'ServiceUnavailable', 'the server is currently unable to handle the request', { retryAfterSeconds: 1 });
    case 504:
      return statusObject(504, 'Timeout', 'the server was unable to return a response in the time allotted, but may still be processing the request');
    case 401:
      return statusObject(401, 'Unauthorized', 'Unauthorized');
    case 403:
      return statusObject(403, 'Forbidden', 'forbidden: injected failure');
    case 404:
      return statusObject(404, 'NotFound', 'the server could not find the requested resource', {});
    case 409:
      return statusObject(409, 'Conflict', 'injected conflict');
    default:
      return statusObject(code, code >= 500 ? 'InternalError' : 'BadRequest', `injected failure with status ${code}`);
  }
}

function retryHeaders(status: StatusObject): Record<string, string> {
  const after = status.details?.retryAfterSeconds;
  return typeof after === 'number' ? { 'Retry-After': String(after) } : {};
}

function sendJson(res: http.ServerResponse, code: number, body: object, headers: Record<string, string> = {}): void {
  sendRaw(res, code, JSON.stringify(body), headers);
}

function sendRaw(res: http.ServerResponse, code: number, body: string, headers: Record<string, string> = {}): void {
  const buf = Buffer.from(body, 'utf8');
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': buf.length, 'Cache-Control': 'no-cache, private', ...headers });
  res.end(buf);
}

function sendText(res: http.ServerResponse, code: number, body: string): void {
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) fail(413, 'RequestEntityTooLarge', `the request body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseJson(body: Buffer | undefined): unknown {
  if (!body || body.length === 0) return badRequest('the request body is empty; send a JSON object');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    return badRequest(`the request body is not valid JSON: ${(e as Error).message}`);
  }
}
