/**
 * An in-process Kubernetes API server that speaks the real wire protocol, for tests, the demo,
 * benchmarks and users who want to exercise their policies without a cluster.
 *
 * It behaves like kube-apiserver 1.33 where our deployments and the controller depend on it;
 * each behaviour names the upstream source it follows (staging repositories at v0.33.0:
 * k8s.io/apiserver, k8s.io/apimachinery, k8s.io/apiextensions-apiserver,
 * k8s.io/pod-security-admission; kubernetes/kubernetes for pkg/ and plugin/):
 *
 * - HTTPS on loopback with the fixture certificate; bearer tokens for an administrator
 *   (`system:masters`), service accounts and users; 401 Status otherwise.
 * - RBAC from the stored Roles, ClusterRoles and bindings (rbac.ts): 403
 *   Forbidden with the upstream message for whatever a non-admin identity is not granted.
 * - Admission and validation: Pod Security on labelled namespaces (pods refused, workloads
 *   warned), names (DNS-1035 for Services, DNS-1123 labels for namespaces, subdomains, path
 *   segments for RBAC), ConfigMap/Secret `immutable` and 1 MiB data, the 1.5 MiB etcd request
 *   limit, the 3 MiB request body limit, resource quantities rewritten to canonical form.
 * - CustomResourceDefinitions: structural schemas required; names accepted at once but
 *   Established only after `crdEstablishDelayMs` (discovery lists only Established CRDs);
 *   custom resources pruned and validated against the schema and its CEL rules.
 * - Writes: create (409 AlreadyExists), update (409 Conflict on a stale resourceVersion; 422
 *   without one for Leases and custom resources), JSON merge patch, JSON patch, server-side
 *   apply with field managers, conflicts and force, `metadata.managedFields` on every object.
 * - Reads: get; list with selectors, `limit`/`continue` as consistent snapshots, and the
 *   resourceVersion semantics of the watch cache (`0`: any, limit ignored; `N`: not older
 *   than, or exact with a limit; unset: consistent); watch with bookmarks, per-resource watch
 *   history bounded by count and time (410 Expired beyond it), `timeoutSeconds`.
 * - One global, monotonically increasing resourceVersion (an etcd revision), compacted every
 *   `etcdCompactionIntervalMs`; writes that change nothing keep the version.
 *
 * Not modelled: other admission plugins (quotas, limit ranges, webhooks), controllers (no
 * ReplicaSets or pods are created from Deployments unless a `WorkloadEmulator`,
 * workloads.ts, runs beside it), protobuf, strategic merge patch (415),
 * aggregated ClusterRoles.
 *
 * Fault injection: dropping or silently stalling watches, compaction, restarts (same port,
 * state kept, the watch cache lost as on a real restart), added latency, failing or hanging
 * the next N requests on a path.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { packageRoot } from '../../../lib/util';
import type { ObjectMeta } from '../../../lib/controller/kube/resources';
import { CustomResourceValidator, loadCel, structuralErrors } from './crd-schema';
import { FieldError, aggregate, fieldError } from './field-errors';
import {
  ApplyConflictError,
  FieldTypes,
  GRANULAR,
  ListType,
  ManagerEntry,
  OperationContext,
  decodeManagedFields,
  encodeManagedFields,
  printManager,
  recordApply,
  recordUpdate,
  strippedPath,
} from './managed-fields';
import { evaluatePodSpec, namespacePolicy, significantPodUpdate } from './pod-security-admission';
import { QuantityError, canonicalQuantity } from './quantity';
import { RequestAttributes, UserInfo, authorize, bootstrapPolicy, forbiddenMessage, isWatch, requestAttributes } from './rbac';

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
  managedFields?: unknown[];
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
   * Loopback address to listen on. Nothing else is allowed: the emulator is test support and
   * must never be reachable from another machine.
   * @default '127.0.0.1'
   */
  readonly host?: '127.0.0.1' | '::1' | 'localhost';
  /** @default 0 (a free port chosen by the operating system) */
  readonly port?: number;
  /** Bearer token of the administrator (`system:masters`). @default - a random 32-byte hex string */
  readonly token?: string;
  /** Period of BOOKMARK events on watches that asked for them; 0 sends them only on `sendBookmarks()` and before a watch's deadline. @default 60000 */
  readonly bookmarkIntervalMs?: number;
  /**
   * Events kept in the emulated etcd history (for paginated snapshots and exact reads).
   * Older ones are compacted away. Bounds memory under churn.
   * @default 10000
   */
  readonly historyLimit?: number;
  /**
   * The watch cache of each resource keeps at least `min` and at most `max` events, growing
   * while its oldest event is younger than `windowMs` (watch_cache.go `resizeCacheLocked`).
   * A watch from a resourceVersion the cache no longer holds gets 410 Expired.
   * @default { min: 100, max: 102400, windowMs: 75000 }
   */
  readonly watchCache?: { readonly min?: number; readonly max?: number; readonly windowMs?: number };
  /** Compaction period of the emulated etcd (storagebackend DefaultCompactInterval); 0 never compacts by time. @default 300000 */
  readonly etcdCompactionIntervalMs?: number;
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
  /** CustomResourceDefinitions installed (and Established) before the server starts. */
  readonly crds?: readonly object[];
  /** Namespaces that exist at start. @default ['default', 'kube-system', 'kube-public', 'kube-node-lease'] */
  readonly namespaces?: readonly string[];
  /** A watch whose unsent output grows beyond this is closed, as the real server drops slow watchers. @default 64 MiB */
  readonly maxWatchBufferBytes?: number;
  /**
   * How long a CRD created at run time stays "Installing" before it is Established and listed
   * in discovery. kube-apiserver waits 5 s when it runs with more than one instance
   * (apiextensions-apiserver customresource_handler.go), 0 otherwise.
   * @default 5000
   */
  readonly crdEstablishDelayMs?: number;
}

/** One injected failure rule; see {@link KubeApiEmulator.failNext}. */
export interface FailureRule {
  /** Requests whose path (without query) starts with this. @default '/' */
  readonly pathPrefix?: string;
  /** Only this HTTP method. @default - any method */
  readonly method?: string;
  /** Only requests of this verb (`list` and `watch` share GET and the path). @default - any verb */
  readonly verb?: RequestVerb;
  /** How many matching requests fail. @default 1 */
  readonly count?: number;
  /**
   * HTTP status to answer with, 'reset' to destroy the connection without an answer, or
   * 'hang' to never answer (until the client gives up or the emulator stops).
   */
  readonly status: number | 'reset' | 'hang';
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
  /** Requests answered 403 by authorization. */
  readonly forbidden: number;
  /** Requests failed by injected faults. */
  readonly injectedFailures: number;
}

/** One authenticated request, as kept by {@link KubeApiEmulator.requestLog}. */
export interface RequestRecord {
  readonly verb: RequestVerb;
  /** `plural[.group][/subresource]`, or the path for non-resource requests. */
  readonly resource: string;
  readonly user: string;
  readonly query: Readonly<Record<string, string>>;
}

export interface KubeconfigOptions {
  /** @default 'emulator' */
  readonly contextName?: string;
  /** Default namespace of the context. */
  readonly namespace?: string;
  /** Use this token instead of the administrator's (a service account's, or a wrong one). */
  readonly token?: string;
  /** Write the token to this file and reference it as `tokenFile` instead of inlining it. */
  readonly tokenFile?: string;
}

export interface ServerSideApplyOptions {
  /** @default 'Terraform' (the kubernetes provider's default field manager) */
  readonly fieldManager?: string;
  /** Take over fields other managers own instead of failing with a conflict. @default false */
  readonly force?: boolean;
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

type NameRule = 'subdomain' | 'label' | 'label1035' | 'path';

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
  /**
   * PUT without `metadata.resourceVersion` is allowed (`AllowUnconditionalUpdate` of the
   * registry strategy): true for most built-ins, false for Leases
   * (pkg/registry/coordination/lease/strategy.go) and custom resources.
   */
  readonly unconditionalUpdate: boolean;
  /** Field selector labels the resource supports besides metadata.name/namespace. */
  readonly fieldLabels: ReadonlySet<string>;
  /** `plural` or `plural.group`, as used in API error messages. */
  readonly qualified: string;
  readonly nameRule: NameRule;
  /** Set for custom resources: pruning, validation and merge types. */
  schema?: { readonly validator: CustomResourceValidator; readonly openApi: SchemaNode; readonly types: FieldTypes };
  /** The CRD that serves it. */
  readonly crdName?: string;
  readonly store: Map<string, Entry>;
  /** Sorted store keys for lists; dropped whenever a key is added or removed. */
  sorted?: string[];
  readonly watchers: Set<Watcher>;
  readonly cache: WatchCache;
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
  readonly key: string;
  readonly type: EventType;
  readonly entry: Entry;
  readonly prev?: Entry;
  /** When it was recorded (for the watch cache's time window). */
  readonly at: number;
}

/** The event window of one resource's watch cache (watch_cache.go). */
interface WatchCache {
  events: HistoryEvent[];
  head: number;
  capacity: number;
  /** A watch from a resourceVersion below this gets 410 (`oldest - 1` upstream). */
  floorRv: number;
}

interface Watcher {
  readonly res: ResourceInfo;
  readonly namespace?: string;
  readonly labels?: LabelSelector;
  readonly fields?: FieldSelector;
  readonly bookmarks: boolean;
  readonly response: http.ServerResponse;
  timer?: NodeJS.Timeout;
  deadlineBookmark?: NodeJS.Timeout;
  closed: boolean;
  /** Writes go nowhere and nothing closes it: a connection that died silently. */
  stalled: boolean;
}

interface Route {
  readonly res: ResourceInfo;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
}

/** Who is writing and how, for ownership, admission and warnings. */
interface WriteContext {
  readonly user: UserInfo;
  readonly manager: string;
  readonly subresource?: string;
  /** Warnings for the `Warning` response header. */
  readonly warnings: string[];
}

type SchemaNode = Record<string, unknown>;

const DEFAULT_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];
/** kube-apiserver's request body limit (k8s.io/apiserver pkg/server/config.go `MaxRequestBodyBytes`). */
const MAX_BODY_BYTES = 3 * 1024 * 1024;
/**
 * etcd's default `--max-request-bytes` (etcd server/embed/config.go `DefaultMaxRequestBytes`,
 * 1.5 MiB): a larger object is refused by etcd and the API server answers 500
 * `etcdserver: request is too large` (apiserver endpoints/handlers/rest.go `isTooLargeError`,
 * after retrying without managedFields for non-apply writes). Measured here on the JSON
 * encoding; built-in kinds are stored as protobuf, a little smaller.
 */
const MAX_OBJECT_BYTES = 1.5 * 1024 * 1024;
/** ConfigMap and Secret payload limit (pkg/apis/core/validation `MaxSecretSize`, 1 MiB). */
const MAX_DATA_BYTES = 1024 * 1024;
const ADMIN: UserInfo = { name: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] };
const EMULATOR_MANAGER = 'kube-emulator';
const PUBLIC_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version']);
const EMULATED_VERSION = { major: '1', minor: '33', gitVersion: 'v1.33.0-cdktf-ces-emulator', platform: 'linux/amd64' };

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

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

/** `apierrors.NewInvalid` for a kind (`Kind.group`, as strategies report it). */
function invalidKind(group: string, kind: string, name: string, errors: readonly FieldError[]): never {
  const qualified = group ? `${kind}.${group}` : kind;
  return fail(422, 'Invalid', `${qualified} "${name}" is invalid: ${aggregate(errors)}`, {
    name,
    ...(group ? { group } : {}),
    kind,
    causes: errors.map((e) => ({ reason: e.type, message: e.body, field: e.field })),
  });
}

const invalid = (res: ResourceInfo, name: string, errors: readonly FieldError[]): never => invalidKind(res.group, res.kind, name, errors);

const badRequest = (message: string): never => fail(400, 'BadRequest', message);

/** RFC 3339 with seconds, as metav1.Time serializes. */
function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * A deep copy through JSON: objects stay plain objects of this realm (structuredClone would
 * give another realm's objects under test runners, which the CEL interpreter refuses).
 */
function cloneJson<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
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
  let doc = cloneJson(target);
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
        add(segs, cloneJson(o.value));
        break;
      case 'remove':
        remove(segs);
        break;
      case 'replace':
        remove(segs);
        add(segs, cloneJson(o.value));
        break;
      case 'move': {
        const v = remove(parse(o.from));
        add(segs, v);
        break;
      }
      case 'copy':
        add(segs, cloneJson(read(parse(o.from))));
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
// Schemas of stored objects: pruning, merge types, quantities, names

/**
 * Drops fields a structural schema does not declare, as the API server does before storing
 * (apiextensions-apiserver pkg/apiserver/schema/pruning/algorithm.go).
 */
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

/** Merge types of a custom resource from its schema (`x-kubernetes-list-type`, `-list-map-keys`, `-map-type`). */
function schemaTypes(openApi: SchemaNode): FieldTypes {
  const at = (fieldPath: readonly string[]): SchemaNode | undefined => {
    let s: SchemaNode | undefined = openApi;
    for (const f of fieldPath) {
      // Items of lists are transparent in field paths.
      while (s && s.type === 'array' && isPlainObject(s.items)) s = s.items as SchemaNode;
      if (!s) return undefined;
      const props: Record<string, SchemaNode> | undefined = isPlainObject(s.properties) ? (s.properties as Record<string, SchemaNode>) : undefined;
      s = props?.[f] ?? (isPlainObject(s.additionalProperties) ? (s.additionalProperties as SchemaNode) : undefined);
    }
    return s;
  };
  return {
    list: (fieldPath) => {
      const s = at(fieldPath);
      const t = s?.['x-kubernetes-list-type'];
      if (t === 'set') return { kind: 'set' };
      if (t === 'map' && Array.isArray(s?.['x-kubernetes-list-map-keys'])) return { kind: 'map', keys: s?.['x-kubernetes-list-map-keys'] as string[] };
      return { kind: 'atomic' };
    },
    atomicMap: (fieldPath) => at(fieldPath)?.['x-kubernetes-map-type'] === 'atomic',
    freeMap: (fieldPath) => {
      const s = at(fieldPath);
      return !!s && isPlainObject(s.additionalProperties) && !isPlainObject(s.properties);
    },
  };
}

const byName: ListType = { kind: 'map', keys: ['name'] };
/** Associative lists of a PodSpec (k8s.io/api core/v1 `+listType=map` / patchMergeKey markers). */
const POD_SPEC_LISTS: Readonly<Record<string, ListType>> = {
  containers: byName,
  initContainers: byName,
  ephemeralContainers: byName,
  volumes: byName,
  imagePullSecrets: byName,
  resourceClaims: byName,
  schedulingGates: byName,
  hostAliases: { kind: 'map', keys: ['ip'] },
  'containers.ports': { kind: 'map', keys: ['containerPort', 'protocol'], defaults: { protocol: 'TCP' } },
  'initContainers.ports': { kind: 'map', keys: ['containerPort', 'protocol'], defaults: { protocol: 'TCP' } },
  'containers.env': byName,
  'initContainers.env': byName,
  'containers.volumeMounts': { kind: 'map', keys: ['mountPath'] },
  'initContainers.volumeMounts': { kind: 'map', keys: ['mountPath'] },
  'topologySpreadConstraints': { kind: 'map', keys: ['topologyKey', 'whenUnsatisfiable'] },
};
const META_LISTS: Readonly<Record<string, ListType>> = {
  'metadata.finalizers': { kind: 'set' },
  'metadata.ownerReferences': { kind: 'map', keys: ['uid'] },
  'status.conditions': { kind: 'map', keys: ['type'] },
};

/** Merge types of the built-in kinds the emulator serves. */
function builtinTypes(group: string, kind: string): FieldTypes {
  const podSpecPrefix = group === '' && kind === 'Pod' ? 'spec.' : group === 'apps' && kind === 'Deployment' ? 'spec.template.spec.' : undefined;
  const atomicMaps = new Set<string>();
  if (group === 'apps' && kind === 'Deployment') atomicMaps.add('spec.selector');
  if (group === 'policy') atomicMaps.add('spec.selector');
  if (group === 'rbac.authorization.k8s.io') atomicMaps.add('roleRef');
  return {
    list: (fieldPath) => {
      const p = fieldPath.join('.');
      if (META_LISTS[p]) return META_LISTS[p];
      if (podSpecPrefix && p.startsWith(podSpecPrefix) && POD_SPEC_LISTS[p.slice(podSpecPrefix.length)]) return POD_SPEC_LISTS[p.slice(podSpecPrefix.length)];
      if (group === '' && kind === 'Pod' && p === 'status.podIPs') return { kind: 'map', keys: ['ip'] };
      if (group === '' && kind === 'Service' && p === 'spec.ports') return { kind: 'map', keys: ['port', 'protocol'], defaults: { protocol: 'TCP' } };
      return { kind: 'atomic' };
    },
    atomicMap: (fieldPath) => atomicMaps.has(fieldPath.join('.')),
    freeMap: (fieldPath) => {
      const p = fieldPath.join('.');
      const last = fieldPath[fieldPath.length - 1];
      if (last === 'labels' || last === 'annotations' || last === 'nodeSelector' || last === 'matchLabels') return true;
      if (last === 'limits' || last === 'requests') return p.includes('resources.');
      if (group === '' && (kind === 'ConfigMap' || kind === 'Secret')) return p === 'data' || p === 'binaryData';
      return group === '' && kind === 'Service' && p === 'spec.selector';
    },
  };
}

/**
 * Rewrites the resource quantities of a pod spec to canonical form, as decoding into
 * `resource.Quantity` and encoding again does on every write (apimachinery quantity.go).
 */
function canonicalizePodSpecQuantities(spec: unknown, res: ResourceInfo): void {
  if (!isPlainObject(spec)) return;
  const fix = (holder: unknown, field: string): void => {
    if (!isPlainObject(holder) || !isPlainObject(holder[field])) return;
    const m = holder[field] as Record<string, unknown>;
    for (const [k, v] of Object.entries(m)) {
      if (typeof v !== 'string' && typeof v !== 'number') badRequest(`${res.kind} in version "${res.version}" cannot be handled as a ${res.kind}: quantities must be strings or numbers`);
      try {
        m[k] = canonicalQuantity(String(v));
      } catch (e) {
        if (e instanceof QuantityError) badRequest(`${res.kind} in version "${res.version}" cannot be handled as a ${res.kind}: ${e.message}`);
        throw e;
      }
    }
  };
  for (const list of ['containers', 'initContainers', 'ephemeralContainers']) {
    const cs = spec[list];
    if (!Array.isArray(cs)) continue;
    for (const c of cs) {
      if (!isPlainObject(c)) continue;
      fix(c.resources, 'limits');
      fix(c.resources, 'requests');
    }
  }
  fix(spec, 'overhead');
  fix(spec.resources, 'limits');
  fix(spec.resources, 'requests');
  if (Array.isArray(spec.volumes)) {
    for (const v of spec.volumes) {
      if (isPlainObject(v) && isPlainObject(v.emptyDir) && v.emptyDir.sizeLimit !== undefined) {
        const holder = { sizeLimit: v.emptyDir.sizeLimit };
        fix({ h: holder }, 'h');
        v.emptyDir = { ...v.emptyDir, sizeLimit: holder.sizeLimit };
      }
    }
  }
}

/** `metadata.name` errors for a name rule (apimachinery validation.go messages). */
function nameErrors(name: string, rule: NameRule): FieldError[] {
  const msgs: string[] = [];
  switch (rule) {
    case 'label1035':
      // Services: pkg/apis/core/validation `ValidateServiceName` = NameIsDNS1035Label.
      if (name.length > 63) msgs.push('must be no more than 63 characters');
      if (!DNS1035_LABEL.test(name)) {
        msgs.push(
          "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
        );
      }
      break;
    case 'label':
      if (name.length > 63) msgs.push('must be no more than 63 characters');
      if (!DNS1123_LABEL.test(name)) {
        msgs.push(
          DNS1123_SUBDOMAIN.test(name)
            ? 'must not contain dots'
            : "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        );
      }
      break;
    case 'subdomain':
      if (name.length > 253) msgs.push('must be no more than 253 characters');
      if (!DNS1123_SUBDOMAIN.test(name)) {
        msgs.push(
          "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        );
      }
      break;
    case 'path':
      // RBAC names: apimachinery api/validation/path `IsValidPathSegmentName`.
      if (name === '.' || name === '..') msgs.push(`may not be '${name}'`);
      for (const c of ['/', '%']) if (name.includes(c)) msgs.push(`may not contain '${c}'`);
      break;
  }
  return msgs.map((m) => fieldError.invalid('metadata.name', name, m));
}

/** ConfigMap and Secret payload rules (pkg/apis/core/validation `ValidateConfigMap`, `ValidateSecret` and their updates). */
function dataErrors(res: ResourceInfo, obj: EmulatedObject, old: EmulatedObject | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const isSecret = res.kind === 'Secret';
  let total = 0;
  const data = isPlainObject(obj.data) ? (obj.data as Record<string, unknown>) : {};
  const binary = isPlainObject(obj.binaryData) ? (obj.binaryData as Record<string, unknown>) : {};
  for (const [field, bag] of [
    ['data', data],
    ['binaryData', binary],
  ] as const) {
    for (const [k, v] of Object.entries(bag)) {
      if (!CONFIG_KEY.test(k) || k.length > 253) {
        errs.push(
          fieldError.invalid(
            `${field}[${k}]`,
            k,
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
          ),
        );
      }
      if (field === 'data' && !isSecret && k in binary) errs.push(fieldError.invalid(`data[${k}]`, k, 'duplicate of key present in binaryData'));
      const text = typeof v === 'string' ? v : '';
      total += field === 'binaryData' || isSecret ? Buffer.from(text, 'base64').length : Buffer.byteLength(text);
    }
  }
  // The whole object ("[]") for ConfigMaps, `data` for Secrets.
  if (total > MAX_DATA_BYTES) errs.push(fieldError.tooLong(isSecret ? 'data' : '[]', MAX_DATA_BYTES));
  if (old && old.immutable === true) {
    const msg = 'field is immutable when `immutable` is set';
    if (obj.immutable !== true) errs.push(fieldError.forbidden('immutable', msg));
    if (!deepEqual(obj.data, old.data)) errs.push(fieldError.forbidden('data', msg));
    if (!isSecret && !deepEqual(obj.binaryData, old.binaryData)) errs.push(fieldError.forbidden('binaryData', msg));
  }
  return errs;
}

// ---------------------------------------------------------------------------------------------
// The emulator

const readFixture = (name: string): string => fs.readFileSync(path.join(packageRoot(), 'test', 'emulators', 'fixtures', name), 'utf8');

type Identity = { readonly kind: 'admin' } | { readonly kind: 'serviceaccount'; readonly namespace: string; readonly name: string } | { readonly kind: 'user'; readonly user: UserInfo };

export class KubeApiEmulator {
  /** Starts an emulator and resolves once it accepts connections. */
  public static async start(options: KubeApiEmulatorOptions = {}): Promise<KubeApiEmulator> {
    // CEL rules of custom resources are checked with an interpreter that loads asynchronously.
    await loadCel();
    const emulator = new KubeApiEmulator(options);
    await emulator.listen(options.port ?? 0);
    return emulator;
  }

  /** PEM of the CA that signed the server certificate; clients must trust it. */
  public readonly caCert: string;
  /** The administrator's bearer token (user `kubernetes-admin`, group `system:masters`). */
  public readonly token: string;

  private readonly host: string;
  private readonly serverKey: string;
  private readonly serverCert: string;
  private readonly historyLimit: number;
  private readonly cacheMin: number;
  private readonly cacheMax: number;
  private readonly cacheWindowMs: number;
  private readonly compactionIntervalMs: number;
  private readonly defaultWatchTimeoutSeconds: number;
  private readonly maxWatchBufferBytes: number;
  private readonly crdEstablishDelayMs: number;
  private readonly podGraceful?: { readonly removeAfterMs?: number };
  private bookmarkIntervalMs: number;
  private latencyMs: number;

  private server?: https.Server;
  private port = 0;
  private readonly sockets = new Set<Socket>();
  private bookmarkTimer?: NodeJS.Timeout;
  private compactionTimer?: NodeJS.Timeout;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly hanging = new Set<http.ServerResponse>();
  private stopped = false;
  private restarting?: Promise<void>;

  private readonly tokens = new Map<string, Identity>();
  private readonly resources = new Map<string, ResourceInfo>();
  private readonly byKind = new Map<string, ResourceInfo>();
  private rv = 0;
  /** etcd's compaction point: exact reads and continue tokens older than this get 410. */
  private compactedRv = 0;
  private lastCompactionMark = 0;
  private history: HistoryEvent[] = [];
  private historyHead = 0;
  private faults: { rule: FailureRule; remaining: number }[] = [];
  private nextClusterIp = 1;
  private log: RequestRecord[] = [];

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
  private forbiddenCount = 0;
  private injectedFailureCount = 0;

  private constructor(options: KubeApiEmulatorOptions) {
    const host = options.host ?? '127.0.0.1';
    if (!['127.0.0.1', '::1', 'localhost'].includes(host)) {
      throw new Error(`KubeApiEmulator: host "${host}" is not a loopback address; use 127.0.0.1, ::1 or localhost (the emulator is test support)`);
    }
    this.host = host;
    this.token = options.token ?? crypto.randomBytes(32).toString('hex');
    if (this.token === '') throw new Error('KubeApiEmulator: token must not be empty; omit it for a random one');
    this.tokens.set(this.token, { kind: 'admin' });
    this.caCert = readFixture('ca.crt');
    this.serverCert = readFixture('server.crt');
    this.serverKey = readFixture('server.key');
    this.historyLimit = positive('historyLimit', options.historyLimit ?? 10_000);
    this.cacheMin = positive('watchCache.min', options.watchCache?.min ?? 100);
    this.cacheMax = positive('watchCache.max', options.watchCache?.max ?? 100 * 1024);
    this.cacheWindowMs = positive('watchCache.windowMs', options.watchCache?.windowMs ?? 75_000);
    if (this.cacheMax < this.cacheMin) throw new Error(`KubeApiEmulator: watchCache.max (${this.cacheMax}) must not be below watchCache.min (${this.cacheMin})`);
    this.compactionIntervalMs = nonNegative('etcdCompactionIntervalMs', options.etcdCompactionIntervalMs ?? 300_000);
    this.defaultWatchTimeoutSeconds = positive('defaultWatchTimeoutSeconds', options.defaultWatchTimeoutSeconds ?? 1800);
    this.maxWatchBufferBytes = positive('maxWatchBufferBytes', options.maxWatchBufferBytes ?? 64 * 1024 * 1024);
    this.crdEstablishDelayMs = nonNegative('crdEstablishDelayMs', options.crdEstablishDelayMs ?? 5000);
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 60_000;
    this.latencyMs = options.latencyMs ?? 0;
    this.podGraceful = options.podGracefulDeletion;

    this.registerBuiltins();
    const seed = this.seedContext();
    for (const obj of bootstrapPolicy()) this.applyAs(obj, seed);
    for (const ns of options.namespaces ?? DEFAULT_NAMESPACES) this.applyAs({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, seed);
    for (const crd of options.crds ?? []) {
      const stored = this.applyAs(crd, seed);
      // Installed before the server started: names accepted and Established already.
      this.establishCrd(stored.metadata.name ?? '', true);
    }
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

  /** etcd's compaction point: exact reads and continue tokens at older versions get 410 Expired. */
  public get compactedResourceVersion(): string {
    return String(this.compactedRv);
  }

  /** Closes every connection and the listener, and cancels pending timers. */
  public async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.compactionTimer) clearInterval(this.compactionTimer);
    await this.closeServer();
  }

  // ---- identities ------------------------------------------------------------------------------

  /**
   * A token that authenticates as the service account (`system:serviceaccount:<ns>:<name>`,
   * groups `system:serviceaccounts`, `system:serviceaccounts:<ns>`, `system:authenticated`).
   * It is accepted only while the ServiceAccount object exists, and is granted what the RBAC
   * objects stored in the emulator grant it.
   */
  public serviceAccountToken(namespace: string, name: string): string {
    const token = crypto.randomBytes(32).toString('base64url');
    this.tokens.set(token, { kind: 'serviceaccount', namespace, name });
    return token;
  }

  /** A token for a user with the given groups (plus `system:authenticated`), authorized by RBAC. */
  public userToken(name: string, groups: readonly string[] = []): string {
    const token = crypto.randomBytes(32).toString('base64url');
    this.tokens.set(token, { kind: 'user', user: { name, groups: [...groups, 'system:authenticated'] } });
    return token;
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

  /**
   * Silently kills every open watch: the connections stay open, but nothing (no event, no
   * bookmark, no timeout close) reaches the client any more, as when a NAT or load balancer
   * drops the flow without telling either end. Returns how many watches were stalled.
   */
  public stallWatches(): number {
    let n = 0;
    for (const res of this.resources.values()) {
      for (const w of [...res.watchers]) {
        n++;
        w.stalled = true;
        if (w.timer) clearTimeout(w.timer);
        if (w.deadlineBookmark) clearTimeout(w.deadlineBookmark);
        res.watchers.delete(w);
      }
    }
    return n;
  }

  /** Number of open (not stalled) watch connections. */
  public get openWatches(): number {
    let n = 0;
    for (const res of this.resources.values()) n += res.watchers.size;
    return n;
  }

  /** Requests held without an answer by a `hang` failure rule. */
  public get hangingRequests(): number {
    return this.hanging.size;
  }

  /**
   * Compacts history up to `resourceVersion` (default: now): etcd forgets older revisions
   * (continue tokens and exact reads older than it get 410), and every watch cache drops the
   * events up to it (watches from older versions get 410).
   */
  public compact(resourceVersion?: string | number): void {
    const target = resourceVersion === undefined ? this.rv : Number(resourceVersion);
    if (!Number.isInteger(target) || target < 0 || target > this.rv) {
      throw new Error(`KubeApiEmulator.compact: resourceVersion ${String(resourceVersion)} is not between 0 and ${this.rv}`);
    }
    this.compactEtcd(target);
    for (const res of this.resources.values()) {
      const c = res.cache;
      while (c.head < c.events.length && c.events[c.head].rv <= target) c.head++;
      c.floorRv = Math.max(c.floorRv, target);
      trimCache(c);
    }
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
    if (!options.keepHistory) {
      // The new watch caches list at the current revision (watch_cache.go `Replace`).
      for (const res of this.resources.values()) resetCache(res.cache, this.rv);
    }
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
      throw new Error(`KubeApiEmulator.failNext: status ${rule.status} is not an error status; use 400-599, 'reset' or 'hang'`);
    }
    this.faults.push({ rule, remaining: count });
  }

  /** Removes every pending failure rule (requests already hanging stay so). */
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
      forbidden: this.forbiddenCount,
      injectedFailures: this.injectedFailureCount,
    };
  }

  public resetCounters(): void {
    for (const k of Object.keys(this.verbCounts) as RequestVerb[]) this.verbCounts[k] = 0;
    this.resourceCounts = {};
    this.unauthorizedCount = 0;
    this.forbiddenCount = 0;
    this.injectedFailureCount = 0;
    this.log = [];
  }

  /** The last 10,000 authenticated requests, oldest first. */
  public requestLog(): readonly RequestRecord[] {
    return [...this.log];
  }

  // ---- programmatic API --------------------------------------------------------------------------

  /**
   * Creates or replaces an object as an administrator's controller would (no resourceVersion
   * precondition; status is written as given), through the same validation and admission as
   * the HTTP API. Custom resources need their CRD Established. Returns the stored object.
   */
  public apply(input: object): EmulatedObject {
    return JSON.parse(JSON.stringify(this.applyAs(input, this.seedContext()))) as EmulatedObject;
  }

  /**
   * Server-side apply of a whole manifest as an administrator, the way the kubernetes
   * Terraform provider's `kubernetes_manifest` writes (field manager `Terraform`, no force
   * unless asked): creates the object or merges it into the live one; 409 on fields another
   * manager owns. Returns the stored object.
   */
  public serverSideApply(manifest: object, options: ServerSideApplyOptions = {}): EmulatedObject {
    const obj = cloneJson(manifest) as EmulatedObject;
    if (!isPlainObject(obj) || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string' || !isPlainObject(obj.metadata)) {
      throw new Error('KubeApiEmulator.serverSideApply: the manifest needs apiVersion, kind and metadata');
    }
    const res = this.resourceForKind(obj.apiVersion, obj.kind);
    const name = obj.metadata.name;
    if (typeof name !== 'string' || name === '') throw new Error(`KubeApiEmulator.serverSideApply: ${obj.kind} needs metadata.name`);
    const namespace = this.checkNamespaceOf(res, obj.metadata.namespace, name);
    const ctx: WriteContext = { user: ADMIN, manager: options.fieldManager ?? 'Terraform', warnings: [] };
    const { stored } = this.serverSideApplyAt({ res, namespace, name }, obj, options.force ?? false, ctx);
    return JSON.parse(JSON.stringify(stored)) as EmulatedObject;
  }

  /**
   * Maps a kind to its resource as a client's discovery-backed REST mapper does
   * (client-go restmapper `DeferredDiscoveryRESTMapper.RESTMappings` over the discovery
   * documents): custom kinds appear only once their CRD is Established. Throws the mapper's
   * `NoKindMatchError` text (apimachinery pkg/api/meta/errors.go: no versions searched, so
   * `no matches for kind "K" in group "G"`) when discovery does not list the kind in any
   * version of its group.
   */
  public restMapping(apiVersion: string, kind: string): { readonly resource: string; readonly namespaced: boolean } {
    const slash = apiVersion.lastIndexOf('/');
    const group = slash < 0 ? '' : apiVersion.slice(0, slash);
    const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
    const discovered = [...this.resources.values()].filter((r) => r.group === group && r.kind === kind && (!r.crdName || this.crdEstablished(r.crdName)));
    const match = discovered.find((r) => r.version === version);
    if (!match) throw new Error(`no matches for kind "${kind}" in group "${group}"`);
    return { resource: match.plural, namespaced: match.namespaced };
  }

  /**
   * A JSON merge patch as an administrator's client sends it, such as `kubectl edit` of a
   * custom resource (field manager `kubectl-edit`, an Update operation for field ownership;
   * kubectl pkg/cmd/util/editor `editFn`). Returns the stored object.
   */
  public mergePatch(ref: ObjectRef, patch: object, options: { fieldManager?: string } = {}): EmulatedObject {
    const res = this.resourceForKind(ref.apiVersion, ref.kind);
    const namespace = this.checkNamespaceOf(res, ref.namespace, ref.name);
    const old = res.store.get(keyOf(namespace, ref.name)) ?? notFound(res, ref.name);
    const candidate = applyMergePatch(old.obj, cloneJson(patch)) as EmulatedObject;
    const ctx: WriteContext = { user: ADMIN, manager: options.fieldManager ?? 'kubectl-edit', warnings: [] };
    return cloneJson(this.writeUpdate(res, old, candidate, ctx, { keepStatus: true }));
  }

  /**
   * Writes an object's status through its status subresource, as a controller of the cluster
   * does (the deployment controller, the kubelet). Returns the stored object.
   */
  public writeStatus(ref: ObjectRef, status: object, options: { fieldManager?: string } = {}): EmulatedObject {
    const res = this.resourceForKind(ref.apiVersion, ref.kind);
    const namespace = this.checkNamespaceOf(res, ref.namespace, ref.name);
    const old = res.store.get(keyOf(namespace, ref.name)) ?? notFound(res, ref.name);
    const ctx: WriteContext = { user: ADMIN, manager: options.fieldManager ?? EMULATOR_MANAGER, subresource: 'status', warnings: [] };
    return cloneJson(this.writeUpdate(res, old, { ...old.obj, status: cloneJson(status) }, ctx, { keepStatus: false, onlyStatus: true }));
  }

  /** Applies many objects; convenient for seeding benchmarks. */
  public applyAll(objects: Iterable<object>): number {
    let n = 0;
    const ctx = this.seedContext();
    for (const o of objects) {
      this.applyAs(o, ctx);
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
    return this.select(res, this.rv, query.namespace, labels, undefined).items.map((e) => JSON.parse(e.json) as EmulatedObject);
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
    this.scheduleCompaction();
  }

  private async closeServer(): Promise<void> {
    if (this.bookmarkTimer) clearInterval(this.bookmarkTimer);
    this.bookmarkTimer = undefined;
    const server = this.server;
    this.server = undefined;
    for (const res of this.resources.values()) for (const w of [...res.watchers]) this.closeWatcher(w, 'reset');
    for (const r of this.hanging) r.socket?.destroy();
    this.hanging.clear();
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

  /**
   * etcd compaction as kube-apiserver drives it (apiserver storage/etcd3/compact.go): every
   * interval, compact to the revision seen at the previous interval, so a revision stays
   * readable for one to two intervals.
   */
  private scheduleCompaction(): void {
    if (this.compactionTimer || this.compactionIntervalMs === 0) return;
    this.lastCompactionMark = this.rv;
    this.compactionTimer = setInterval(() => {
      this.compactEtcd(this.lastCompactionMark);
      this.lastCompactionMark = this.rv;
    }, this.compactionIntervalMs);
    this.compactionTimer.unref();
  }

  private compactEtcd(target: number): void {
    if (target <= this.compactedRv) return;
    while (this.historyHead < this.history.length && this.history[this.historyHead].rv <= target) this.historyHead++;
    this.compactedRv = target;
    this.trimHistoryArray();
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
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
    nameRule?: NameRule;
    crdName?: string;
  }): ResourceInfo {
    const id = `${spec.group}/${spec.version}/${spec.plural}`;
    const apiVersion = spec.group ? `${spec.group}/${spec.version}` : spec.version;
    const existing = this.resources.get(id);
    const cache: WatchCache = existing?.cache ?? { events: [], head: 0, capacity: this.cacheMin, floorRv: this.rv };
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
      nameRule: spec.nameRule ?? 'subdomain',
      crdName: spec.crdName,
      store: existing?.store ?? new Map(),
      watchers: existing?.watchers ?? new Set(),
      cache,
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
      nameRule: 'label',
    });
    this.register({
      ...core,
      plural: 'services',
      singular: 'service',
      kind: 'Service',
      namespaced: true,
      statusSubresource: true,
      fieldLabels: ['spec.clusterIP', 'spec.type'],
      nameRule: 'label1035',
    });
    this.register({
      group: 'coordination.k8s.io',
      version: 'v1',
      plural: 'leases',
      singular: 'lease',
      kind: 'Lease',
      namespaced: true,
      statusSubresource: false,
      // leaseStrategy.AllowUnconditionalUpdate() is false: every PUT needs the resourceVersion it read.
      unconditionalUpdate: false,
    });
    this.register({
      group: 'apiextensions.k8s.io',
      version: 'v1',
      plural: 'customresourcedefinitions',
      singular: 'customresourcedefinition',
      kind: 'CustomResourceDefinition',
      namespaced: false,
      statusSubresource: true,
      // apiextensions-apiserver registry/customresourcedefinition/strategy.go: false.
      unconditionalUpdate: false,
    });
    // Stored and validated, so a synthesized deployment (RBAC, ConfigMaps, the controller's
    // Deployment) can be applied and read back; no controller acts on them.
    // [group, version, plural, kind, namespaced, status subresource, name rule, AllowUnconditionalUpdate of the strategy]
    const stored: [string, string, string, string, boolean, boolean, NameRule, boolean][] = [
      ['', 'v1', 'configmaps', 'ConfigMap', true, false, 'subdomain', true],
      ['', 'v1', 'secrets', 'Secret', true, false, 'subdomain', true],
      ['', 'v1', 'serviceaccounts', 'ServiceAccount', true, false, 'subdomain', true],
      ['apps', 'v1', 'deployments', 'Deployment', true, true, 'subdomain', true],
      ['rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false, false, 'path', true],
      ['rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false, false, 'path', true],
      ['rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true, false, 'path', true],
      ['rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', true, false, 'path', true],
      // pkg/registry/policy/poddisruptionbudget/strategy.go: false.
      ['policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', true, true, 'subdomain', false],
    ];
    for (const [group, version, plural, kind, namespaced, statusSubresource, nameRule, unconditionalUpdate] of stored) {
      this.register({ group, version, plural, singular: kind.toLowerCase(), kind, namespaced, statusSubresource, unconditionalUpdate, nameRule });
    }
  }

  /**
   * The resource of a kind, as a client's REST mapper finds it through discovery: custom kinds
   * only once their CRD is Established (`no matches for kind` before).
   */
  private resourceForKind(apiVersion: string, kind: string): ResourceInfo {
    const res = this.byKind.get(`${apiVersion}#${kind}`);
    if (!res || (res.crdName && !this.crdEstablished(res.crdName))) {
      throw new KubeEmulatorError(
        statusObject(
          404,
          'NotFound',
          `no matches for kind "${kind}" in version "${apiVersion}"${res ? '' : '; the emulator serves Pods, Namespaces, Services, Leases, CRDs, ConfigMaps, Secrets, ServiceAccounts, Deployments, RBAC objects and PodDisruptionBudgets; custom kinds need their CRD applied and Established first'}`,
        ),
      );
    }
    return res;
  }

  private crdResource(): ResourceInfo {
    return this.byKind.get('apiextensions.k8s.io/v1#CustomResourceDefinition') as ResourceInfo;
  }

  private crdCondition(crdName: string, type: string): boolean {
    const crd = this.crdResource().store.get(crdName)?.obj;
    const conditions = (crd?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? [];
    return conditions.some((c) => c.type === type && c.status === 'True');
  }

  private crdEstablished(crdName: string): boolean {
    return this.crdCondition(crdName, 'Established');
  }

  /**
   * The naming controller accepts the names (apiextensions-apiserver
   * pkg/controller/status/naming_controller.go: NamesAccepted True, Established False
   * "Installing"), which is when the resource starts being served
   * (customresource_handler.go); the establishing controller sets Established after the
   * delay (pkg/controller/establish/establishing_controller.go).
   */
  private acceptCrdNames(crdName: string): void {
    const res = this.crdResource();
    const entry = res.store.get(crdName);
    // Nothing to do once the names are accepted (naming_controller.go `sync`).
    if (!entry || this.crdCondition(crdName, 'NamesAccepted')) return;
    const spec = (entry.obj.spec ?? {}) as Record<string, any>;
    const status = { ...((entry.obj.status as Record<string, unknown>) ?? {}) };
    const t = now();
    status.acceptedNames = acceptedNames(spec.names);
    status.conditions = [
      { type: 'NamesAccepted', status: 'True', lastTransitionTime: t, reason: 'NoConflicts', message: 'no conflicts found' },
      { type: 'Established', status: 'False', lastTransitionTime: t, reason: 'Installing', message: 'the initial names have been accepted' },
    ];
    this.commitStatus(res, entry, status);
    if (this.crdEstablishDelayMs === 0) this.establishCrd(crdName, false);
    else this.later(this.crdEstablishDelayMs, () => this.establishCrd(crdName, false));
  }

  private establishCrd(crdName: string, acceptNames: boolean): void {
    const res = this.crdResource();
    const entry = res.store.get(crdName);
    if (!entry || this.crdEstablished(crdName)) return;
    const spec = (entry.obj.spec ?? {}) as Record<string, any>;
    const status = { ...((entry.obj.status as Record<string, unknown>) ?? {}) };
    const t = now();
    const conditions = ((status.conditions as Record<string, unknown>[] | undefined) ?? []).filter((c) => c.type !== 'Established' && !(acceptNames && c.type === 'NamesAccepted'));
    if (acceptNames) {
      status.acceptedNames = acceptedNames(spec.names);
      conditions.unshift({ type: 'NamesAccepted', status: 'True', lastTransitionTime: t, reason: 'NoConflicts', message: 'no conflicts found' });
    }
    conditions.push({ type: 'Established', status: 'True', lastTransitionTime: t, reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' });
    status.conditions = conditions;
    this.commitStatus(res, entry, status);
  }

  /** A status write by a controller of the server itself. */
  private commitStatus(res: ResourceInfo, entry: Entry, status: Record<string, unknown>): void {
    const next: EmulatedObject = { ...entry.obj, metadata: { ...entry.obj.metadata }, status };
    if (deepEqual(next, entry.obj)) return;
    this.commit(res, 'MODIFIED', keyOf(next.metadata.namespace, next.metadata.name ?? ''), next, entry);
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
      if (openApi) info.schema = { validator: new CustomResourceValidator(openApi), openApi, types: schemaTypes(openApi) };
    }
  }

  private unserve(res: ResourceInfo): void {
    for (const entry of [...res.store.values()]) this.remove(res, entry);
    for (const w of [...res.watchers]) this.closeWatcher(w, 'close');
    this.resources.delete(`${res.group}/${res.version}/${res.plural}`);
    this.byKind.delete(`${res.apiVersion}#${res.kind}`);
  }

  /** CRD validation (apiextensions-apiserver pkg/apis/apiextensions/validation/validation.go), structural schemas included. */
  private validateCrd(crd: EmulatedObject): void {
    const name = crd.metadata.name ?? '';
    const spec = crd.spec as Record<string, unknown> | undefined;
    const errs: FieldError[] = [];
    const names = (spec?.names ?? {}) as Record<string, unknown>;
    if (!spec || typeof spec.group !== 'string' || !DNS1123_SUBDOMAIN.test(spec.group) || !spec.group.includes('.')) {
      errs.push(fieldError.invalid('spec.group', spec?.group ?? '', 'should be a domain with at least one dot'));
    }
    if (typeof names.plural !== 'string' || !DNS1123_LABEL.test(names.plural)) errs.push(fieldError.required('spec.names.plural'));
    if (typeof names.kind !== 'string' || names.kind === '') errs.push(fieldError.required('spec.names.kind'));
    if (spec?.scope !== 'Namespaced' && spec?.scope !== 'Cluster') errs.push(fieldError.notSupported('spec.scope', spec?.scope ?? '', ['Cluster', 'Namespaced']));
    const versions = Array.isArray(spec?.versions) ? (spec.versions as Record<string, unknown>[]) : [];
    if (versions.filter((v) => v.storage === true).length !== 1) errs.push(fieldError.invalid('spec.versions', 'array', 'must have exactly one version marked as storage version'));
    if (errs.length === 0 && name !== `${String(names.plural)}.${String(spec?.group)}`) {
      errs.push(fieldError.invalid('metadata.name', name, 'must be spec.names.plural+"."+spec.group'));
    }
    versions.forEach((v, i) => {
      const s = (v.schema as Record<string, unknown> | undefined)?.openAPIV3Schema;
      if (s === undefined) {
        errs.push(fieldError.required(`spec.versions[${i}].schema.openAPIV3Schema`, 'schemas are required'));
        return;
      }
      errs.push(...structuralErrors(s, `spec.versions[${i}].schema.openAPIV3Schema`));
      try {
        new CustomResourceValidator(s as SchemaNode);
      } catch (e) {
        errs.push(fieldError.invalid(`spec.versions[${i}].schema.openAPIV3Schema`, 'object', (e as Error).message));
      }
    });
    if (errs.length > 0) invalidKind('apiextensions.k8s.io', 'CustomResourceDefinition', name, errs);
  }

  // ---- writes -----------------------------------------------------------------------------------------

  private seedContext(): WriteContext {
    return { user: ADMIN, manager: EMULATOR_MANAGER, warnings: [] };
  }

  /** Create-or-replace through the full write path (the programmatic `apply`). */
  private applyAs(input: object, ctx: WriteContext): EmulatedObject {
    const obj = cloneJson(input) as EmulatedObject;
    if (!isPlainObject(obj) || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string' || !isPlainObject(obj.metadata)) {
      throw new Error('KubeApiEmulator.apply: the object needs apiVersion, kind and metadata');
    }
    const res = this.resourceForKind(obj.apiVersion, obj.kind);
    const name = obj.metadata.name;
    if (typeof name !== 'string' || name === '') throw new Error(`KubeApiEmulator.apply: ${obj.kind} needs metadata.name`);
    const namespace = this.checkNamespaceOf(res, obj.metadata.namespace, name);
    const existing = res.store.get(keyOf(namespace, name));
    return existing ? this.writeUpdate(res, existing, obj, ctx, { keepStatus: false }) : this.writeCreate(res, obj, namespace, ctx, { keepStatus: true });
  }

  private checkNamespaceOf(res: ResourceInfo, namespace: string | undefined, name: string): string | undefined {
    if (!res.namespaced) return undefined;
    if (!namespace) {
      return fail(400, 'BadRequest', `${res.kind} "${name}" is namespaced: metadata.namespace is required`);
    }
    return namespace;
  }

  /** Conversions done while decoding a request body into the internal type. */
  private decode(res: ResourceInfo, obj: EmulatedObject): void {
    if (res.group === '' && res.kind === 'Pod') canonicalizePodSpecQuantities(obj.spec, res);
    if (res.group === 'apps' && res.kind === 'Deployment' && isPlainObject(obj.spec) && isPlainObject(obj.spec.template)) {
      canonicalizePodSpecQuantities(obj.spec.template.spec, res);
    }
    if (res.group === '' && res.kind === 'Secret' && isPlainObject(obj.stringData)) {
      // stringData is write-only: merged into data (pkg/apis/core/v1 conversion.go).
      const data = { ...((isPlainObject(obj.data) ? obj.data : {}) as Record<string, unknown>) };
      for (const [k, v] of Object.entries(obj.stringData)) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
      obj.data = data;
      delete obj.stringData;
    }
  }

  private validateObject(res: ResourceInfo, obj: EmulatedObject, old: EmulatedObject | undefined): void {
    const name = obj.metadata.name ?? '';
    const errs: FieldError[] = [...nameErrors(name, res.nameRule)];
    for (const field of ['labels', 'annotations'] as const) {
      const m = obj.metadata[field];
      if (m === undefined) continue;
      if (!isPlainObject(m) || Object.values(m).some((v) => typeof v !== 'string')) errs.push(fieldError.invalid(`metadata.${field}`, 'object', 'must be a map of strings'));
    }
    const annotations = obj.metadata.annotations;
    if (isPlainObject(annotations)) {
      // apimachinery api/validation/objectmeta.go `ValidateAnnotations`: keys and values together at most 256 KiB.
      const size = Object.entries(annotations).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(String(v)), 0);
      if (size > 256 * 1024) errs.push(fieldError.tooLong('metadata.annotations', 256 * 1024));
    }
    if (res.group === '' && (res.kind === 'ConfigMap' || res.kind === 'Secret')) errs.push(...dataErrors(res, obj, old));
    if (res.schema) errs.push(...res.schema.validator.validate(obj, old));
    if (errs.length > 0) invalid(res, name, errs);
  }

  /** Pod Security admission (validating; after the object validated). */
  private admit(res: ResourceInfo, obj: EmulatedObject, old: EmulatedObject | undefined, ctx: WriteContext): void {
    if (ctx.subresource) return;
    const isPod = res.group === '' && res.kind === 'Pod';
    const isWorkload = res.group === 'apps' && res.kind === 'Deployment';
    if (!isPod && !isWorkload) return;
    const ns = this.byKind.get('v1#Namespace')?.store.get(obj.metadata.namespace ?? '')?.obj;
    const policy = namespacePolicy(ns?.metadata.labels);
    const spec = isPod ? obj.spec : isPlainObject(obj.spec) && isPlainObject(obj.spec.template) ? obj.spec.template.spec : undefined;
    if (!isPlainObject(spec)) return;
    if (isPod) {
      if (old && isPlainObject(old.spec) && !significantPodUpdate(spec, old.spec)) return;
      const violation = evaluatePodSpec(policy.enforce, spec);
      if (violation) {
        fail(403, 'Forbidden', `pods "${obj.metadata.name ?? ''}" is forbidden: violates PodSecurity "${policy.enforce}:${policy.enforceVersion}": ${violation}`, {
          name: obj.metadata.name ?? '',
          kind: 'pods',
        });
      }
    }
    const warn = evaluatePodSpec(policy.warn, spec);
    if (warn) ctx.warnings.push(`would violate PodSecurity "${policy.warn}:${policy.warnVersion}": ${warn}`);
  }

  /** Stores a new object; `keepStatus` is false for API creates on resources with a status subresource. */
  private writeCreate(
    res: ResourceInfo,
    input: EmulatedObject,
    namespace: string | undefined,
    ctx: WriteContext,
    opts: { keepStatus: boolean; applied?: ManagerEntry[] },
  ): EmulatedObject {
    const meta = { ...input.metadata };
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${crypto.randomBytes(3).toString('hex').slice(0, 5)}`;
    const name = meta.name ?? '';
    if (res.namespaced) {
      meta.namespace = namespace;
      const nsRes = this.byKind.get('v1#Namespace') as ResourceInfo;
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
    const supplied = meta.managedFields;
    delete meta.managedFields;
    const obj = withTypeMeta(res, input, meta);
    this.decode(res, obj);
    if (!opts.keepStatus) this.defaultStatusOnCreate(res, obj);
    this.defaultOnWrite(res, obj);
    if (res.schema) prune(obj, this.pruneSchema(res));
    const isCrd = res.kind === 'CustomResourceDefinition' && res.group === 'apiextensions.k8s.io';
    if (isCrd) {
      this.validateCrd(obj);
      // The strategy resets status on create; the controllers fill it in (see acceptCrdNames).
      obj.status = crdInitialStatus(obj);
    }
    this.validateObject(res, obj, undefined);
    this.admit(res, obj, undefined, ctx);
    if (opts.applied) setManagedFields(obj, opts.applied);
    else this.trackUpdate(res, undefined, obj, supplied, ctx);
    this.checkSize(obj, !opts.applied);
    this.commit(res, 'ADDED', key, obj, undefined);
    if (isCrd) {
      this.serveCrd(obj);
      this.later(0, () => this.acceptCrdNames(name));
    }
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

  private fieldTypes(res: ResourceInfo): FieldTypes {
    return res.schema?.types ?? (res.crdName ? GRANULAR : builtinTypes(res.group, res.kind));
  }

  private operationContext(res: ResourceInfo, subresource: string | undefined): OperationContext {
    // Fields reset by the endpoint are never owned through it: status on the main resource
    // when there is a status subresource, everything but status through /status.
    const ignore = (p: readonly string[]): boolean => {
      if (strippedPath(p)) return true;
      if (subresource === 'status') return p[0] !== 'f:status';
      return res.statusSubresource && p[0] === 'f:status';
    };
    return { types: this.fieldTypes(res), ignore, apiVersion: res.apiVersion, subresource, now: now() };
  }

  /** Records the update's field ownership on `next` (managedfields `Update`). */
  private trackUpdate(res: ResourceInfo, old: EmulatedObject | undefined, next: EmulatedObject, supplied: unknown, ctx: WriteContext): void {
    // A request may reset managedFields by sending its own list; otherwise the live one stands.
    const base = (supplied !== undefined ? decodeManagedFields(supplied) : undefined) ?? decodeManagedFields(old?.metadata.managedFields) ?? [];
    const stripForCompare = (o: EmulatedObject | undefined) => (o ? { ...o, metadata: { ...o.metadata, managedFields: undefined } } : undefined);
    const managers = recordUpdate(stripForCompare(old), stripForCompare(next), base, ctx.manager, this.operationContext(res, ctx.subresource));
    setManagedFields(next, managers);
  }

  /** The etcd request limit; non-apply writes retry without managedFields first (handlers/create.go, update.go, patch.go). */
  private checkSize(obj: EmulatedObject, retryWithoutManagedFields: boolean): void {
    if (Buffer.byteLength(JSON.stringify(obj)) <= MAX_OBJECT_BYTES) return;
    if (retryWithoutManagedFields && obj.metadata.managedFields) {
      delete obj.metadata.managedFields;
      if (Buffer.byteLength(JSON.stringify(obj)) <= MAX_OBJECT_BYTES) return;
    }
    fail(500, '', 'etcdserver: request is too large');
  }

  /**
   * Replaces an object. `keepStatus` keeps the stored status (API writes to the main resource
   * of a kind with a status subresource); `onlyStatus` takes nothing but status from `input`.
   */
  private writeUpdate(
    res: ResourceInfo,
    old: Entry,
    input: EmulatedObject,
    ctx: WriteContext,
    opts: { keepStatus: boolean; onlyStatus?: boolean; precondition?: string; apply?: boolean },
  ): EmulatedObject {
    const name = old.obj.metadata.name ?? '';
    if (opts.precondition !== undefined && opts.precondition !== old.obj.metadata.resourceVersion) conflict(res, name);
    let next: EmulatedObject;
    const supplied = input.metadata.managedFields;
    if (opts.onlyStatus) {
      next = { ...old.obj, metadata: { ...old.obj.metadata } };
      if (input.status === undefined) delete next.status;
      else next.status = input.status;
      if (opts.apply) next.metadata.managedFields = input.metadata.managedFields;
    } else {
      const meta: EmulatedObjectMeta = { ...input.metadata };
      for (const f of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'namespace', 'name', 'generation'] as const) {
        if (old.obj.metadata[f] === undefined) delete meta[f];
        else meta[f] = old.obj.metadata[f] as never;
      }
      next = withTypeMeta(res, input, meta);
      this.decode(res, next);
      if (opts.keepStatus && res.statusSubresource) {
        if (old.obj.status === undefined) delete next.status;
        else next.status = old.obj.status;
      }
      if (!deepEqual(next.spec, old.obj.spec)) meta.generation = (old.obj.metadata.generation ?? 0) + 1;
      this.defaultOnWrite(res, next);
    }
    if (res.schema) {
      next = cloneJson(next);
      prune(next, this.pruneSchema(res));
    }
    next.metadata.resourceVersion = old.obj.metadata.resourceVersion;
    const isCrd = res.kind === 'CustomResourceDefinition' && res.group === 'apiextensions.k8s.io';
    if (!opts.onlyStatus) {
      if (isCrd) {
        this.validateCrd(next);
        // Status belongs to the CRD controllers; spec writes keep it.
        next.status = old.obj.status;
      }
      this.validateObject(res, next, old.obj);
      this.admit(res, next, old.obj, ctx);
    }
    if (!opts.apply) this.trackUpdate(res, old.obj, next, supplied, ctx);
    // A write that changes nothing is not stored and keeps the resourceVersion (no event).
    if (deepEqual(next, old.obj)) return old.obj;
    this.checkSize(next, !opts.apply);
    const key = keyOf(next.metadata.namespace, name);
    if (next.metadata.deletionTimestamp && !(next.metadata.finalizers?.length ?? 0) && !this.awaitingPodTermination(res, next)) {
      this.commit(res, 'DELETED', key, next, old);
      return next;
    }
    this.commit(res, 'MODIFIED', key, next, old);
    if (isCrd) this.serveCrd(next);
    return next;
  }

  /**
   * Server-side apply (apiserver endpoints/handlers/patch.go `applyPatcher`, managedfields
   * `FieldManager.Apply`): creates the object when it does not exist, otherwise merges the
   * configuration into it; 409 with the conflicting managers unless `force`.
   */
  private serverSideApplyAt(route: { res: ResourceInfo; namespace?: string; name: string; subresource?: string }, config: EmulatedObject, force: boolean, ctx: WriteContext): { stored: EmulatedObject; created: boolean } {
    const { res, name } = route;
    if (config.apiVersion !== res.apiVersion) {
      badRequest(`Incorrect version specified in apply patch. Specified patch version: ${String(config.apiVersion)}, expected: ${res.apiVersion}`);
    }
    if (config.kind !== res.kind) badRequest(`${res.kind} in version "${res.version}" cannot be handled as a ${String(config.kind)}`);
    if (!isPlainObject(config.metadata)) config.metadata = {};
    if (config.metadata.managedFields !== undefined) badRequest('metadata.managedFields must be nil');
    if (config.metadata.name !== undefined && config.metadata.name !== name) badRequest(`the name of the object (${String(config.metadata.name)}) does not match the name on the URL (${name})`);
    const ns = config.metadata.namespace;
    if (res.namespaced && ns !== undefined && ns !== '' && ns !== route.namespace) badRequest('the namespace of the provided object does not match the namespace sent on the request');
    const precondition = typeof config.metadata.resourceVersion === 'string' && config.metadata.resourceVersion !== '' ? config.metadata.resourceVersion : undefined;
    this.decode(res, config);
    const opCtx = this.operationContext(res, route.subresource);
    const existing = res.store.get(keyOf(route.namespace, name));
    if (!existing) {
      if (precondition !== undefined) notFound(res, name);
      // Applying to nothing: the object as configured, owned by the applier.
      const { object, managers } = recordApply({}, { ...config, metadata: { ...config.metadata, name } }, [], ctx.manager, force, opCtx);
      const stored = this.writeCreate(res, object as EmulatedObject, route.namespace, ctx, { keepStatus: !res.statusSubresource, applied: managers });
      return { stored, created: true };
    }
    const live = existing.obj;
    const liveManagers = decodeManagedFields(live.metadata.managedFields) ?? [];
    const strip = (o: EmulatedObject) => ({ ...o, metadata: { ...o.metadata, managedFields: undefined, resourceVersion: undefined } });
    let result: { object: unknown; managers: ManagerEntry[] };
    try {
      result = recordApply(strip(live), { ...config, metadata: { ...config.metadata, resourceVersion: undefined } }, liveManagers, ctx.manager, force, opCtx);
    } catch (e) {
      if (e instanceof ApplyConflictError) {
        // managedfields/internal/conflict.go `NewConflictError`.
        fail(409, 'Conflict', e.message, { causes: e.conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${printManager(c.manager)}`, field: c.path })) });
      }
      throw e;
    }
    const merged = result.object as EmulatedObject;
    merged.metadata = { ...merged.metadata, managedFields: undefined };
    setManagedFields(merged, result.managers);
    const stored = this.writeUpdate(res, existing, merged, ctx, {
      keepStatus: route.subresource === undefined,
      onlyStatus: route.subresource === 'status',
      precondition,
      apply: true,
    });
    return { stored, created: false };
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
    const event: HistoryEvent = { rv, res, key, type, entry, prev, at: Date.now() };
    this.history.push(event);
    if (this.history.length - this.historyHead > this.historyLimit) {
      this.historyHead++;
      this.compactedRv = this.history[this.historyHead - 1].rv;
      this.trimHistoryArray();
    }
    this.cacheEvent(res.cache, event);
    for (const w of res.watchers) this.deliver(w, event);
  }

  /**
   * Adds an event to a resource's watch cache, growing it while its oldest event is younger
   * than the window and shrinking it when even its newest quarter is older, between the
   * bounds; a full cache drops its oldest event (watch_cache.go `updateCache`, `resizeCacheLocked`).
   */
  private cacheEvent(c: WatchCache, ev: HistoryEvent): void {
    const size = c.events.length - c.head;
    if (size >= c.capacity) {
      if (ev.at - c.events[c.head].at < this.cacheWindowMs) {
        c.capacity = Math.min(c.capacity * 2, this.cacheMax);
      } else if (ev.at - c.events[c.events.length - Math.floor(c.capacity / 4)].at > this.cacheWindowMs) {
        const capacity = Math.max(Math.floor(c.capacity / 2), this.cacheMin);
        if (capacity < c.capacity) {
          c.head = c.events.length - capacity;
          c.capacity = capacity;
        }
      }
    }
    if (c.events.length - c.head >= c.capacity) c.head++;
    c.events.push(ev);
    // Once events were dropped, the oldest watch that can resume is one before the oldest kept event.
    if (c.head > 0) c.floorRv = Math.max(c.floorRv, c.events[c.head].rv - 1);
    trimCache(c);
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
   * Matching objects at revision `atRv` in key order, starting after the key `after`, at most
   * `limit` (0: all). Past revisions are rebuilt from the etcd history (the caller checked
   * that it reaches back that far). `more` tells whether matching objects remain.
   */
  private select(
    res: ResourceInfo,
    atRv: number,
    namespace: string | undefined,
    labels: LabelSelector | undefined,
    fields: FieldSelector | undefined,
    after?: string,
    limit = 0,
  ): { items: Entry[]; more: boolean; remaining: number } {
    let keys = this.sortedKeys(res);
    let lookup = (k: string): Entry | undefined => res.store.get(k);
    if (atRv < this.rv) {
      // The state at atRv: undo every later change (the first later event of a key holds its earlier state).
      const earlier = new Map<string, Entry | undefined>();
      for (let i = this.firstEventAfter(atRv); i < this.history.length; i++) {
        const ev = this.history[i];
        if (ev.res.store !== res.store || earlier.has(ev.key)) continue;
        earlier.set(ev.key, ev.type === 'ADDED' ? undefined : ev.prev);
      }
      if (earlier.size > 0) {
        keys = [...new Set([...keys, ...earlier.keys()])].sort();
        lookup = (k) => (earlier.has(k) ? earlier.get(k) : res.store.get(k));
      }
    }
    const prefix = namespace !== undefined ? `${namespace}/` : '';
    let i = lowerBound(keys, after !== undefined && after >= prefix ? `${after}\u0000` : prefix);
    const items: Entry[] = [];
    let remaining = 0;
    for (; i < keys.length; i++) {
      const key = keys[i];
      if (prefix && !key.startsWith(prefix)) break;
      const e = lookup(key);
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
    if (w.closed || w.stalled) return;
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
    if (w.deadlineBookmark) clearTimeout(w.deadlineBookmark);
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
      if (fromRv > this.rv) this.tooLarge(fromRv);
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
      stalled: false,
    };
    if (fromRv !== undefined && fromRv < res.cache.floorRv) {
      // The real server answers 200 and reports the expiry in the stream (watch_cache.go `getAllEventsSinceLocked`).
      const status = statusObject(410, 'Expired', `too old resource version: ${fromRv} (${res.cache.floorRv})`);
      response.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
      return;
    }
    if (fromRv === undefined) {
      for (const e of this.select(res, this.rv, route.namespace, labels, fields).items) this.write(w, `{"type":"ADDED","object":${e.json}}\n`);
      if (sendInitial && w.bookmarks) this.sendBookmark(w, { 'k8s.io/initial-events-end': 'true' });
    } else {
      const c = res.cache;
      for (let i = c.head; i < c.events.length; i++) if (c.events[i].rv > fromRv) this.deliver(w, c.events[i]);
    }
    if (w.closed) return;
    res.watchers.add(w);
    w.timer = setTimeout(() => this.closeWatcher(w, 'close'), timeoutSeconds * 1000);
    w.timer.unref();
    // A bookmark right before the deadline, so the client resumes from the latest version (cache_watcher.go `nextBookmarkTime`).
    if (w.bookmarks && timeoutSeconds > 2) {
      w.deadlineBookmark = setTimeout(() => this.sendBookmark(w), (timeoutSeconds - 2) * 1000);
      w.deadlineBookmark.unref();
    }
    response.on('close', () => {
      w.closed = true;
      if (w.timer) clearTimeout(w.timer);
      if (w.deadlineBookmark) clearTimeout(w.deadlineBookmark);
      res.watchers.delete(w);
    });
  }

  private tooLarge(rv: number): never {
    // storage errors.go `NewTooLargeResourceVersionError`: a 504 with a cause and Retry-After 1.
    return fail(504, 'Timeout', `Too large resource version: ${rv}, current: ${this.rv}`, {
      causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
      retryAfterSeconds: 1,
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

  private authenticate(req: http.IncomingMessage): UserInfo | undefined {
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ')) return undefined;
    const identity = this.tokens.get(auth.slice(7));
    if (!identity) return undefined;
    if (identity.kind === 'admin') return ADMIN;
    if (identity.kind === 'user') return identity.user;
    // Service account tokens are valid only while the account exists (serviceaccount token authenticator).
    if (!this.byKind.get('v1#ServiceAccount')?.store.has(keyOf(identity.namespace, identity.name))) return undefined;
    return {
      name: `system:serviceaccount:${identity.namespace}:${identity.name}`,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${identity.namespace}`, 'system:authenticated'],
    };
  }

  private rbacSource() {
    const get = (apiVersionKind: string) => this.byKind.get(`rbac.authorization.k8s.io/v1#${apiVersionKind}`) as ResourceInfo;
    return {
      clusterRole: (name: string) => get('ClusterRole').store.get(name)?.obj,
      role: (namespace: string, name: string) => get('Role').store.get(keyOf(namespace, name))?.obj,
      clusterRoleBindings: () => [...get('ClusterRoleBinding').store.values()].map((e) => e.obj),
      roleBindings: (namespace: string) => this.select(get('RoleBinding'), this.rv, namespace, undefined, undefined).items.map((e) => e.obj),
    };
  }

  private authorizeOrFail(attrs: RequestAttributes): void {
    const decision = authorize(attrs, this.rbacSource());
    if (decision.allowed) return;
    this.forbiddenCount++;
    const details: Record<string, unknown> = attrs.resourceRequest ? { ...(attrs.name ? { name: attrs.name } : {}), ...(attrs.apiGroup ? { group: attrs.apiGroup } : {}), kind: attrs.resource } : {};
    fail(403, 'Forbidden', forbiddenMessage(attrs, decision.reason), details);
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
    const user = this.authenticate(req);
    if (!user) {
      this.unauthorizedCount++;
      req.resume();
      sendJson(res, 401, statusObject(401, 'Unauthorized', 'Unauthorized'));
      return;
    }

    const segments = url.pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
    const route = this.route(segments);
    const q = url.searchParams;
    const watching = isWatch(q);
    const verb = route && typeof route !== 'string' ? verbOf(method, route, watching) : 'other';
    this.verbCounts[verb]++;
    const resourceKey = route && typeof route !== 'string' ? `${route.res.qualified}${route.subresource ? `/${route.subresource}` : ''}` : url.pathname;
    if (route && typeof route !== 'string') this.resourceCounts[`${verb} ${resourceKey}`] = (this.resourceCounts[`${verb} ${resourceKey}`] ?? 0) + 1;
    this.log.push({ verb, resource: resourceKey, user: user.name, query: Object.fromEntries(q) });
    if (this.log.length > 10_000) this.log.splice(0, this.log.length - 10_000);

    const fault = this.takeFault(url.pathname, method, verb);
    if (fault) {
      this.injectedFailureCount++;
      req.resume();
      if (fault.status === 'reset') {
        req.socket.destroy();
        return;
      }
      if (fault.status === 'hang') {
        this.hanging.add(res);
        res.on('close', () => this.hanging.delete(res));
        return;
      }
      const s = injectedStatus(fault.status);
      sendJson(res, fault.status, s, fault.status === 429 || fault.status === 503 ? { 'Retry-After': String(fault.retryAfterSeconds ?? 1) } : {});
      return;
    }

    // Authorization comes before routing: a denied identity learns nothing about what exists.
    const attrs = requestAttributes(user, method, url.pathname, q);
    this.authorizeOrFail(attrs);

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
    const ctx: WriteContext = { user, manager: managerOf(q.get('fieldManager'), req.headers['user-agent']), subresource: route.subresource, warnings: [] };
    if (q.get('fieldManager') !== null) {
      const fm = q.get('fieldManager') ?? '';
      if (fm.length > 128 || /[^\x20-\x7e]/.test(fm)) {
        invalidKind('meta.k8s.io', 'PatchOptions', '', [fieldError.invalid('fieldManager', fm, 'must consist of printable characters and be at most 128 characters long')]);
      }
    }
    const headers = (): Record<string, string> => (ctx.warnings.length ? { Warning: ctx.warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ') } : {});
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
      case 'create': {
        const created = this.httpCreate(route, parseJson(body), ctx);
        sendJson(res, 201, created, headers());
        return;
      }
      case 'update':
        sendJson(res, 200, this.httpUpdate(route, parseJson(body), ctx), headers());
        return;
      case 'patch': {
        const out = this.httpPatch(route, req.headers['content-type'] ?? '', body ?? Buffer.alloc(0), q, ctx, attrs);
        sendJson(res, out.created ? 201 : 200, out.obj, headers());
        return;
      }
      case 'delete': {
        const out = this.httpDelete(route, body, q);
        sendJson(res, 200, out);
        return;
      }
      default:
        fail(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    }
  }

  private takeFault(pathname: string, method: string, verb: RequestVerb): FailureRule | undefined {
    for (const f of this.faults) {
      if (f.remaining <= 0) continue;
      if (!pathname.startsWith(f.rule.pathPrefix ?? '/')) continue;
      if (f.rule.method && f.rule.method.toUpperCase() !== method) continue;
      if (f.rule.verb && f.rule.verb !== verb) continue;
      f.remaining--;
      this.faults = this.faults.filter((x) => x.remaining > 0);
      return f.rule;
    }
    return undefined;
  }

  /**
   * A resource route, a discovery path (string), or undefined when nothing is served there.
   * Custom resources are served once their CRD's names are accepted, before it is Established
   * (apiextensions-apiserver customresource_handler.go `ServeHTTP`).
   */
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
    const lookup = (plural: string) => {
      const r = this.resources.get(`${group}/${version}/${plural}`);
      if (r?.crdName && !this.crdCondition(r.crdName, 'NamesAccepted') && !this.crdEstablished(r.crdName)) return undefined;
      return r;
    };
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

  /** Discovery documents; custom resources appear only once Established (customresource_discovery_controller.go). */
  private discovery(route: string): object | undefined {
    if (route === '/api') {
      return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `${this.host}:${this.port}` }] };
    }
    const discoverable = [...this.resources.values()].filter((r) => !r.crdName || this.crdEstablished(r.crdName));
    const groups = new Map<string, Set<string>>();
    for (const r of discoverable) if (r.group) groups.set(r.group, (groups.get(r.group) ?? new Set()).add(r.version));
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
    for (const r of discoverable) {
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

  /**
   * A list, with the resourceVersion semantics of kube-apiserver (apiserver
   * storage/cacher/delegator/interface.go `ShouldDelegateList`, cacher.go `GetList`,
   * `computeListLimit`; etcd3 store.go for what is delegated):
   * - `continue`: read from etcd at the token's revision (410 once compacted);
   * - `resourceVersionMatch=Exact`, or a resourceVersion other than 0 with a limit: etcd at
   *   exactly that revision (410 once compacted);
   * - `resourceVersion=0`: the watch cache, any freshness, and the limit is ignored;
   * - another resourceVersion (`NotOlderThan`): the watch cache, at least that fresh (504 when
   *   the cache has not reached it);
   * - none: a consistent read of the latest state, paginated as asked.
   * Every page of a paginated list is a snapshot at the first page's revision.
   */
  private httpList(route: Route, q: URLSearchParams): string {
    const res = route.res;
    const labels = q.get('labelSelector') ? parseLabelSelector(q.get('labelSelector') ?? '') : undefined;
    const fields = q.get('fieldSelector') ? parseFieldSelector(q.get('fieldSelector') ?? '', res) : undefined;
    const rvParam = q.get('resourceVersion') ?? '';
    const match = q.get('resourceVersionMatch') ?? '';
    const limitParam = Number(q.get('limit') ?? '0');
    let limit = Number.isInteger(limitParam) && limitParam > 0 ? limitParam : 0;
    const cont = q.get('continue') ?? '';
    if (rvParam !== '' && !/^\d+$/.test(rvParam)) badRequest(`invalid resource version "${rvParam}"`);
    if (match !== '' && rvParam === '') {
      invalidKind('meta.k8s.io', 'ListOptions', '', [fieldError.forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden unless resourceVersion is provided')]);
    }
    if (match !== '' && match !== 'Exact' && match !== 'NotOlderThan') {
      invalidKind('meta.k8s.io', 'ListOptions', '', [fieldError.notSupported('resourceVersionMatch', match, ['Exact', 'NotOlderThan'])]);
    }
    if (cont && (rvParam !== '' || match !== '')) {
      invalidKind('meta.k8s.io', 'ListOptions', '', [fieldError.forbidden('resourceVersion', 'specifying resource version is not allowed when using continue')]);
    }
    let listRv = this.rv;
    let startAfter: string | undefined;
    if (cont) {
      let token: { rv?: unknown; start?: unknown };
      try {
        token = JSON.parse(Buffer.from(cont, 'base64url').toString('utf8')) as { rv?: unknown; start?: unknown };
      } catch {
        return badRequest('continue key is not valid: illegal base64 data');
      }
      if (typeof token.rv !== 'number' || typeof token.start !== 'string') return badRequest('continue key is not valid: incorrect encoded start resourceVersion');
      // rv -1: continue at the latest revision, as an inconsistent continuation (etcd3 errors.go).
      if (token.rv !== -1 && token.rv < this.compactedRv) this.continueExpired(token.start);
      listRv = token.rv === -1 ? this.rv : token.rv;
      startAfter = token.start.replace(/\u0000$/, '');
    } else if (rvParam !== '') {
      const rv = Number(rvParam);
      const exact = match === 'Exact' || (match === '' && limit > 0 && rv !== 0);
      if (rv > this.rv) this.tooLarge(rv);
      if (exact) {
        if (rv < this.compactedRv) fail(410, 'Expired', 'The resourceVersion for the provided list is too old.');
        listRv = rv;
      } else if (rv === 0 && match === '') {
        // The watch cache ignores the limit of resourceVersion=0 lists (cacher.go `computeListLimit`).
        limit = 0;
      }
    }
    const { items, more, remaining } = this.select(res, listRv, route.namespace, labels, fields, startAfter, limit);
    const metadata: Record<string, unknown> = { resourceVersion: String(listRv) };
    if (more) {
      const last = items[items.length - 1].obj;
      metadata.continue = continueToken(listRv, keyOf(last.metadata.namespace, last.metadata.name ?? ''));
      metadata.remainingItemCount = remaining;
    }
    return `{"kind":"${res.listKind}","apiVersion":"${res.apiVersion}","metadata":${JSON.stringify(metadata)},"items":[${items.map((e) => e.json).join(',')}]}`;
  }

  /** 410 for a compacted continue token, with a token to go on inconsistently (etcd3 errors.go `handleCompactedErrorForPaging`). */
  private continueExpired(start: string): never {
    throw new KubeEmulatorError({
      ...statusObject(
        410,
        'Expired',
        'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
      ),
      metadata: { continue: Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: -1, start })).toString('base64url') },
    });
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

  private httpCreate(route: Route, body: unknown, ctx: WriteContext): EmulatedObject {
    if (route.name !== undefined) fail(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    const obj = this.checkBodyIdentity(route, body, 'create');
    if (!obj.metadata.name && !obj.metadata.generateName) {
      invalid(route.res, '', [fieldError.required('metadata.name', 'name or generateName is required')]);
    }
    return this.writeCreate(route.res, obj, route.namespace, ctx, { keepStatus: !route.res.statusSubresource });
  }

  private httpUpdate(route: Route, body: unknown, ctx: WriteContext): EmulatedObject {
    const res = route.res;
    const old = this.entryOf(route);
    const obj = this.checkBodyIdentity(route, body, 'update');
    const name = route.name ?? '';
    if (obj.metadata.name !== undefined && obj.metadata.name !== name) {
      badRequest(`the name of the object (${String(obj.metadata.name)}) does not match the name on the URL (${name})`);
    }
    const rv = obj.metadata.resourceVersion;
    if ((rv === undefined || rv === '') && !res.unconditionalUpdate) {
      // registry/generic/registry/store.go `Update`: the resource stands in for the kind.
      invalidKind(res.group, res.plural, name, [fieldError.invalidRaw('metadata.resourceVersion', '0x0', 'must be specified for an update')]);
    }
    return this.writeUpdate(res, old, obj, ctx, {
      keepStatus: route.subresource === undefined,
      onlyStatus: route.subresource === 'status',
      precondition: rv === '' ? undefined : rv,
    });
  }

  private httpPatch(route: Route, contentType: string, raw: Buffer, q: URLSearchParams, ctx: WriteContext, attrs: RequestAttributes): { obj: EmulatedObject; created: boolean } {
    const res = route.res;
    const type = contentType.split(';')[0].trim();
    const force = q.get('force');
    if (type === 'application/apply-patch+yaml') {
      if (!q.get('fieldManager')) invalidKind('meta.k8s.io', 'PatchOptions', '', [fieldError.required('fieldManager', 'is required for apply patch')]);
      if (force !== null && !['true', 'false', '1', '0'].includes(force)) badRequest(`invalid force value "${force}"`);
      let config: unknown;
      try {
        config = YAML.parse(raw.toString('utf8'));
      } catch (e) {
        return badRequest(`error decoding YAML: ${(e as Error).message}`);
      }
      if (!isPlainObject(config)) return badRequest('the apply patch must be an object');
      if (!res.store.has(keyOf(route.namespace, route.name ?? ''))) {
        // Applying to a missing object creates it: the caller needs create too (handlers/patch.go `createAuthorizerAttributes`).
        this.authorizeOrFail({ ...attrs, verb: 'create' });
      }
      const out = this.serverSideApplyAt({ res, namespace: route.namespace, name: route.name ?? '', subresource: route.subresource }, config as EmulatedObject, force === 'true' || force === '1', ctx);
      return { obj: out.stored, created: out.created };
    }
    if (force !== null) invalidKind('meta.k8s.io', 'PatchOptions', '', [fieldError.forbidden('force', 'may not be specified for non-apply patch')]);
    const old = this.entryOf(route);
    const patch = parseJson(raw);
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
      return fail(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got "${type}")`,
      );
    }
    if (!isPlainObject(candidate) || !isPlainObject(candidate.metadata)) return badRequest('the patched object must keep metadata');
    const obj = candidate as EmulatedObject;
    if (obj.metadata.name !== route.name) badRequest('the patch must not change metadata.name');
    const stored = this.writeUpdate(res, old, obj, ctx, {
      keepStatus: route.subresource === undefined,
      onlyStatus: route.subresource === 'status',
      precondition,
    });
    return { obj: stored, created: false };
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
    // handlers/rest.go `limitedReadBody`.
    if (size > MAX_BODY_BYTES) fail(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${MAX_BODY_BYTES}`);
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

function nonNegative(name: string, n: number): number {
  if (!Number.isFinite(n) || n < 0) throw new Error(`KubeApiEmulator: ${name} must be zero or a positive number (got ${n})`);
  return n;
}

/** A watch cache emptied by a fresh list at `rv` (watch_cache.go `Replace`). */
function resetCache(c: WatchCache, rv: number): void {
  c.events = [];
  c.head = 0;
  c.floorRv = rv;
}

function trimCache(c: WatchCache): void {
  if (c.head > 1024 && c.head * 2 > c.events.length) {
    c.events = c.events.slice(c.head);
    c.head = 0;
  }
}

/** CRD status right after create: the strategy keeps only the stored version (apiextensions-apiserver registry/customresourcedefinition/strategy.go). */
function crdInitialStatus(crd: EmulatedObject): Record<string, unknown> {
  const spec = (crd.spec ?? {}) as Record<string, unknown>;
  const versions = Array.isArray(spec.versions) ? (spec.versions as Record<string, unknown>[]) : [];
  return { acceptedNames: { plural: '', kind: '' }, storedVersions: versions.filter((v) => v.storage === true).map((v) => v.name) };
}

/** `spec.names` with the defaults the CRD defaulting adds (singular, listKind). */
function acceptedNames(names: unknown): Record<string, unknown> {
  const n = (isPlainObject(names) ? names : {}) as Record<string, unknown>;
  const kind = String(n.kind ?? '');
  return { ...n, singular: n.singular ?? kind.toLowerCase(), listKind: n.listKind ?? `${kind}List` };
}

function setManagedFields(obj: EmulatedObject, managers: readonly ManagerEntry[]): void {
  if (managers.length === 0) delete obj.metadata.managedFields;
  else obj.metadata.managedFields = encodeManagedFields(managers);
}

/** The field manager of a write: `?fieldManager=`, else the user agent up to its first `/` (apiserver handlers/rest.go `managerOrUserAgent`). */
function managerOf(fieldManager: string | null, userAgent: string | undefined): string {
  if (fieldManager) return fieldManager;
  const prefix = (userAgent ?? '').split('/')[0];
  return prefix === '' ? 'unknown' : prefix.slice(0, 128);
}

/** A continue token: the revision of the first page and the key to start after (apiserver storage `EncodeContinue`). */
function continueToken(rv: number, lastKey: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start: `${lastKey}\u0000` })).toString('base64url');
}
