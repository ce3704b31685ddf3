/**
 * An in-process Kubernetes API server that speaks the real wire protocol, for this package's
 * tests, the demo and the benchmarks (it is not part of the published package).
 *
 * It behaves like kube-apiserver 1.33 where our deployments and the controller depend on it;
 * each behaviour names the upstream source it follows (staging repositories at v0.33.0:
 * k8s.io/apiserver, k8s.io/apimachinery, k8s.io/apiextensions-apiserver,
 * k8s.io/pod-security-admission; kubernetes/kubernetes for pkg/ and plugin/):
 *
 * - HTTPS on loopback with the fixture certificate; bearer tokens for an administrator
 *   (`system:masters`), service accounts and users; 401 Status otherwise.
 * - RBAC from the stored Roles, ClusterRoles and bindings (rbac.ts): 403 Forbidden with the
 *   upstream message for whatever a non-admin identity is not granted.
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
 * ReplicaSets or pods are created from Deployments unless a `WorkloadEmulator`, workloads.ts,
 * runs beside it), protobuf, strategic merge patch (415), aggregated ClusterRoles.
 *
 * Fault injection: dropping or silently stalling watches, compaction, restarts (same port,
 * state kept, the watch cache lost as on a real restart), added latency, failing or hanging
 * the next N requests on a path.
 *
 * This file is the façade: the options, the programmatic API and the write path (defaulting,
 * the CRD controllers, deletion and its cascades). The rest is split by concern:
 * - store.ts: stored objects, resourceVersions, the etcd history, selectors and lists
 *   (resourceVersion semantics, consistent-snapshot pagination);
 * - watch.ts: watch caches (history by count and time), watch streams, bookmarks;
 * - patch.ts: merge and JSON patch, server-side apply and the managed fields of every write;
 * - validation.ts: decoding, pruning, validation, Pod Security admission, the size limits;
 * - server.ts: HTTPS, authentication, RBAC authorization, injected faults, routing, discovery;
 * - errors.ts, json.ts: Status answers; JSON helpers;
 * - rbac.ts, crd-schema.ts, pod-security-admission.ts, quantity.ts, field-errors.ts,
 *   managed-fields.ts: the upstream algorithms those use; workloads.ts: the deployment
 *   controller and kubelet model that runs beside the emulator.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { packageRoot } from '../../../lib/util';
import { CustomResourceValidator, loadCel } from './crd-schema';
import { conflict, fail, notFound, resourceDetails } from './errors';
import { cloneJson, deepEqual, isPlainObject, now } from './json';
import { applyMergePatch, schemaTypes, serverSideApplyAt, setManagedFields, trackUpdate } from './patch';
import { bootstrapPolicy } from './rbac';
import { ADMIN, ApiServer, FailureRule, RequestCounters, RequestRecord } from './server';
import {
  CreateOptions,
  EmulatedObject,
  EmulatedObjectMeta,
  Entry,
  ObjectStore,
  ResourceInfo,
  SchemaNode,
  UpdateOptions,
  WriteContext,
  WritePath,
  keyOf,
  parseLabelSelector,
} from './store';
import { admit, checkSize, decode, prune, pruneSchema, validateCrd, validateObject } from './validation';
import { WatchHub } from './watch';

export { KubeEmulatorError, StatusObject } from './errors';
export { FailureRule, RequestCounters, RequestRecord, RequestVerb } from './server';
export { EmulatedObject, EmulatedObjectMeta, parseLabelSelector } from './store';

// ---------------------------------------------------------------------------------------------
// Public types

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

// ---------------------------------------------------------------------------------------------
// The emulator

const DEFAULT_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];
const EMULATOR_MANAGER = 'kube-emulator';

const readFixture = (name: string): string => fs.readFileSync(path.join(packageRoot(), 'test', 'emulators', 'fixtures', name), 'utf8');

/** The emulated API server; see the top of this file for what it models and where. */
export class KubeApiEmulator implements WritePath {
  /** Starts an emulator and resolves once it accepts connections. */
  public static async start(options: KubeApiEmulatorOptions = {}): Promise<KubeApiEmulator> {
    // CEL rules of custom resources are checked with an interpreter that loads asynchronously.
    await loadCel();
    const emulator = new KubeApiEmulator(options);
    await emulator.server.listen(options.port ?? 0);
    return emulator;
  }

  /** PEM of the CA that signed the server certificate; clients must trust it. */
  public readonly caCert: string;
  /** The administrator's bearer token (user `kubernetes-admin`, group `system:masters`). */
  public readonly token: string;

  private readonly store: ObjectStore;
  private readonly watches: WatchHub;
  private readonly server: ApiServer;
  private readonly crdEstablishDelayMs: number;
  private readonly podGraceful?: { readonly removeAfterMs?: number };
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private restarting?: Promise<void>;
  private nextClusterIp = 1;

  private constructor(options: KubeApiEmulatorOptions) {
    const host = options.host ?? '127.0.0.1';
    if (!['127.0.0.1', '::1', 'localhost'].includes(host)) {
      throw new Error(
        `KubeApiEmulator: host "${host}" is not a loopback address; use 127.0.0.1, ::1 or localhost (the emulator is test support)`,
      );
    }
    this.token = options.token ?? crypto.randomBytes(32).toString('hex');
    if (this.token === '') throw new Error('KubeApiEmulator: token must not be empty; omit it for a random one');
    this.caCert = readFixture('ca.crt');
    const historyLimit = positive('historyLimit', options.historyLimit ?? 10_000);
    const cacheMin = positive('watchCache.min', options.watchCache?.min ?? 100);
    const cacheMax = positive('watchCache.max', options.watchCache?.max ?? 100 * 1024);
    const cacheWindowMs = positive('watchCache.windowMs', options.watchCache?.windowMs ?? 75_000);
    if (cacheMax < cacheMin)
      throw new Error(`KubeApiEmulator: watchCache.max (${cacheMax}) must not be below watchCache.min (${cacheMin})`);
    const compactionIntervalMs = nonNegative('etcdCompactionIntervalMs', options.etcdCompactionIntervalMs ?? 300_000);
    const defaultWatchTimeoutSeconds = positive('defaultWatchTimeoutSeconds', options.defaultWatchTimeoutSeconds ?? 1800);
    const maxWatchBufferBytes = positive('maxWatchBufferBytes', options.maxWatchBufferBytes ?? 64 * 1024 * 1024);
    this.crdEstablishDelayMs = nonNegative('crdEstablishDelayMs', options.crdEstablishDelayMs ?? 5000);
    this.podGraceful = options.podGracefulDeletion;

    // The store reports every event to the watch caches, which are created after it.
    this.store = new ObjectStore(
      historyLimit,
      compactionIntervalMs,
      (rv) => this.watches.newCache(rv),
      (event) => this.watches.onCommit(event),
    );
    this.watches = new WatchHub(this.store, {
      cacheMin,
      cacheMax,
      cacheWindowMs,
      defaultWatchTimeoutSeconds,
      maxWatchBufferBytes,
      bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000,
    });
    this.server = new ApiServer(
      host,
      { key: readFixture('server.key'), cert: readFixture('server.crt') },
      this.store,
      this.watches,
      this,
      options.latencyMs ?? 0,
    );
    this.server.tokens.set(this.token, { kind: 'admin' });

    this.store.registerBuiltins();
    const seed = this.seedContext();
    for (const obj of bootstrapPolicy()) this.applyAs(obj, seed);
    for (const ns of options.namespaces ?? DEFAULT_NAMESPACES)
      this.applyAs({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, seed);
    for (const crd of options.crds ?? []) {
      const stored = this.applyAs(crd, seed);
      // Installed before the server started: names accepted and Established already.
      this.establishCrd(stored.metadata.name ?? '', true);
    }
  }

  /** `https://<host>:<port>`. */
  public get url(): string {
    return this.server.url;
  }

  /** The current global resourceVersion (what a list would return now). */
  public get resourceVersion(): string {
    return String(this.store.rv);
  }

  /** etcd's compaction point: exact reads and continue tokens at older versions get 410 Expired. */
  public get compactedResourceVersion(): string {
    return String(this.store.compactedRv);
  }

  /** Closes every connection and the listener, and cancels pending timers. */
  public async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.store.stopCompaction();
    await this.server.close();
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
    this.server.tokens.set(token, { kind: 'serviceaccount', namespace, name });
    return token;
  }

  /** A token for a user with the given groups (plus `system:authenticated`), authorized by RBAC. */
  public userToken(name: string, groups: readonly string[] = []): string {
    const token = crypto.randomBytes(32).toString('base64url');
    this.server.tokens.set(token, { kind: 'user', user: { name, groups: [...groups, 'system:authenticated'] } });
    return token;
  }

  // ---- fault injection and control -------------------------------------------------------------

  /**
   * Ends every open watch. `reset` destroys the connections (a network failure); `close` ends
   * the responses cleanly, as when a watch times out on the server.
   */
  public dropWatches(mode: 'reset' | 'close' = 'reset'): number {
    return this.watches.dropWatches(mode);
  }

  /**
   * Silently kills every open watch: the connections stay open, but nothing (no event, no
   * bookmark, no timeout close) reaches the client any more, as when a NAT or load balancer
   * drops the flow without telling either end. Returns how many watches were stalled.
   */
  public stallWatches(): number {
    return this.watches.stallWatches();
  }

  /** Number of open (not stalled) watch connections. */
  public get openWatches(): number {
    return this.watches.openWatches;
  }

  /** Requests held without an answer by a `hang` failure rule. */
  public get hangingRequests(): number {
    return this.server.hangingRequests;
  }

  /**
   * Compacts history up to `resourceVersion` (default: now): etcd forgets older revisions
   * (continue tokens and exact reads older than it get 410), and every watch cache drops the
   * events up to it (watches from older versions get 410).
   */
  public compact(resourceVersion?: string | number): void {
    const rv = this.store.rv;
    const target = resourceVersion === undefined ? rv : Number(resourceVersion);
    if (!Number.isInteger(target) || target < 0 || target > rv) {
      throw new Error(`KubeApiEmulator.compact: resourceVersion ${String(resourceVersion)} is not between 0 and ${rv}`);
    }
    this.store.compactEtcd(target);
    this.watches.compact(target);
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
    await this.server.close();
    const down = options.downMs ?? 100;
    if (down > 0) await new Promise((r) => setTimeout(r, down));
    if (this.stopped) return;
    if (!options.keepHistory) this.watches.resetCaches();
    await this.server.listen(this.server.listeningPort);
  }

  /** Delay every request by `ms` before it is handled. */
  public setLatency(ms: number): void {
    this.server.latencyMs = Math.max(0, ms);
  }

  /** Fails the next `count` requests that match; rules are consulted in the order they were added. */
  public failNext(rule: FailureRule): void {
    this.server.failNext(rule);
  }

  /** Removes every pending failure rule (requests already hanging stay so). */
  public clearFailures(): void {
    this.server.clearFailures();
  }

  /** Sends a BOOKMARK now on every watch that allows bookmarks. */
  public sendBookmarks(): void {
    this.watches.sendBookmarks();
  }

  /** Changes the periodic bookmark interval (0 stops periodic bookmarks). */
  public setBookmarkInterval(ms: number): void {
    this.watches.setBookmarkInterval(ms);
  }

  public counters(): RequestCounters {
    return this.server.counters();
  }

  public resetCounters(): void {
    this.server.resetCounters();
  }

  /** The last 10,000 authenticated requests, oldest first. */
  public requestLog(): readonly RequestRecord[] {
    return this.server.requestLog();
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
    const res = this.store.resourceForKind(obj.apiVersion, obj.kind);
    const name = obj.metadata.name;
    if (typeof name !== 'string' || name === '') throw new Error(`KubeApiEmulator.serverSideApply: ${obj.kind} needs metadata.name`);
    const namespace = this.checkNamespaceOf(res, obj.metadata.namespace, name);
    const ctx: WriteContext = { user: ADMIN, manager: options.fieldManager ?? 'Terraform', warnings: [] };
    const { stored } = serverSideApplyAt(this, { res, namespace, name }, obj, options.force ?? false, ctx);
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
    const discovered = [...this.store.resources.values()].filter(
      (r) => r.group === group && r.kind === kind && (!r.crdName || this.store.crdEstablished(r.crdName)),
    );
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
    const res = this.store.resourceForKind(ref.apiVersion, ref.kind);
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
    const res = this.store.resourceForKind(ref.apiVersion, ref.kind);
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
    const res = this.store.resourceForKind(ref.apiVersion, ref.kind);
    const namespace = this.checkNamespaceOf(res, ref.namespace, ref.name);
    const entry = res.store.get(keyOf(namespace, ref.name));
    if (!entry) return false;
    this.deleteEntry(res, entry, options.gracePeriodSeconds);
    return true;
  }

  /** Removes a pod that graceful deletion left terminating (what the kubelet does once containers stop). */
  public finishPodTermination(namespace: string, name: string): boolean {
    const res = this.store.resourceForKind('v1', 'Pod');
    const entry = res.store.get(keyOf(namespace, name));
    if (!entry || !entry.obj.metadata.deletionTimestamp) return false;
    this.remove(res, entry);
    return true;
  }

  public get(ref: ObjectRef): EmulatedObject | undefined {
    const res = this.store.resourceForKind(ref.apiVersion, ref.kind);
    const entry = res.store.get(keyOf(res.namespaced ? ref.namespace : undefined, ref.name));
    return entry ? (JSON.parse(entry.json) as EmulatedObject) : undefined;
  }

  /** Objects of one kind, sorted by namespace and name. */
  public list(query: ListQuery): EmulatedObject[] {
    const res = this.store.resourceForKind(query.apiVersion, query.kind);
    const labels = query.labelSelector ? parseLabelSelector(query.labelSelector) : undefined;
    return this.store.select(res, this.store.rv, query.namespace, labels, undefined).items.map((e) => JSON.parse(e.json) as EmulatedObject);
  }

  /** Number of stored objects of one kind (cheap; for benchmarks). */
  public count(apiVersion: string, kind: string): number {
    return this.store.resourceForKind(apiVersion, kind).store.size;
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
      clusters: [
        { name: context, cluster: { server: this.url, 'certificate-authority-data': Buffer.from(this.caCert).toString('base64') } },
      ],
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

  // ---- timers -------------------------------------------------------------------------------------

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  // ---- CRD lifecycle ---------------------------------------------------------------------------------

  /**
   * The naming controller accepts the names (apiextensions-apiserver
   * pkg/controller/status/naming_controller.go: NamesAccepted True, Established False
   * "Installing"), which is when the resource starts being served
   * (customresource_handler.go); the establishing controller sets Established after the
   * delay (pkg/controller/establish/establishing_controller.go).
   */
  private acceptCrdNames(crdName: string): void {
    const res = this.store.crdResource();
    const entry = res.store.get(crdName);
    // Nothing to do once the names are accepted (naming_controller.go `sync`).
    if (!entry || this.store.crdCondition(crdName, 'NamesAccepted')) return;
    const spec = (entry.obj.spec ?? {}) as Record<string, any>;
    const status = { ...((entry.obj.status as Record<string, unknown>) ?? {}) };
    const t = now();
    status.acceptedNames = acceptedNames(spec.names);
    status.conditions = [
      { type: 'NamesAccepted', status: 'True', lastTransitionTime: t, reason: 'NoConflicts', message: 'no conflicts found' },
      {
        type: 'Established',
        status: 'False',
        lastTransitionTime: t,
        reason: 'Installing',
        message: 'the initial names have been accepted',
      },
    ];
    this.commitStatus(res, entry, status);
    if (this.crdEstablishDelayMs === 0) this.establishCrd(crdName, false);
    else this.later(this.crdEstablishDelayMs, () => this.establishCrd(crdName, false));
  }

  private establishCrd(crdName: string, acceptNames: boolean): void {
    const res = this.store.crdResource();
    const entry = res.store.get(crdName);
    if (!entry || this.store.crdEstablished(crdName)) return;
    const spec = (entry.obj.spec ?? {}) as Record<string, any>;
    const status = { ...((entry.obj.status as Record<string, unknown>) ?? {}) };
    const t = now();
    const conditions = ((status.conditions as Record<string, unknown>[] | undefined) ?? []).filter(
      (c) => c.type !== 'Established' && !(acceptNames && c.type === 'NamesAccepted'),
    );
    if (acceptNames) {
      status.acceptedNames = acceptedNames(spec.names);
      conditions.unshift({
        type: 'NamesAccepted',
        status: 'True',
        lastTransitionTime: t,
        reason: 'NoConflicts',
        message: 'no conflicts found',
      });
    }
    conditions.push({
      type: 'Established',
      status: 'True',
      lastTransitionTime: t,
      reason: 'InitialNamesAccepted',
      message: 'the initial names have been accepted',
    });
    status.conditions = conditions;
    this.commitStatus(res, entry, status);
  }

  /** A status write by a controller of the server itself. */
  private commitStatus(res: ResourceInfo, entry: Entry, status: Record<string, unknown>): void {
    const next: EmulatedObject = { ...entry.obj, metadata: { ...entry.obj.metadata }, status };
    if (deepEqual(next, entry.obj)) return;
    this.store.commit(res, 'MODIFIED', keyOf(next.metadata.namespace, next.metadata.name ?? ''), next, entry);
  }

  /** Registers (or re-registers after an update) the resources a CRD serves. */
  private serveCrd(crd: EmulatedObject): void {
    const spec = crd.spec as Record<string, unknown> | undefined;
    const names = (spec?.names ?? {}) as Record<string, unknown>;
    const versions = Array.isArray(spec?.versions) ? (spec.versions as Record<string, unknown>[]) : [];
    for (const v of versions) {
      const existing = this.store.resources.get(`${String(spec?.group)}/${String(v.name)}/${String(names.plural)}`);
      if (v.served === false) {
        if (existing) this.unserve(existing);
        continue;
      }
      const subresources = (v.subresources ?? {}) as Record<string, unknown>;
      const info = this.store.register({
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
    this.watches.closeResource(res);
    this.store.resources.delete(`${res.group}/${res.version}/${res.plural}`);
    this.store.byKind.delete(`${res.apiVersion}#${res.kind}`);
  }

  // ---- writes -----------------------------------------------------------------------------------------

  /** Labels of the namespace an object is written to (Pod Security reads its policy from them). */
  private namespaceLabels(obj: EmulatedObject): Record<string, string> | undefined {
    return this.store.byKind.get('v1#Namespace')?.store.get(obj.metadata.namespace ?? '')?.obj.metadata.labels;
  }

  private seedContext(): WriteContext {
    return { user: ADMIN, manager: EMULATOR_MANAGER, warnings: [] };
  }

  /** Create-or-replace through the full write path (the programmatic `apply`). */
  private applyAs(input: object, ctx: WriteContext): EmulatedObject {
    const obj = cloneJson(input) as EmulatedObject;
    if (!isPlainObject(obj) || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string' || !isPlainObject(obj.metadata)) {
      throw new Error('KubeApiEmulator.apply: the object needs apiVersion, kind and metadata');
    }
    const res = this.store.resourceForKind(obj.apiVersion, obj.kind);
    const name = obj.metadata.name;
    if (typeof name !== 'string' || name === '') throw new Error(`KubeApiEmulator.apply: ${obj.kind} needs metadata.name`);
    const namespace = this.checkNamespaceOf(res, obj.metadata.namespace, name);
    const existing = res.store.get(keyOf(namespace, name));
    return existing
      ? this.writeUpdate(res, existing, obj, ctx, { keepStatus: false })
      : this.writeCreate(res, obj, namespace, ctx, { keepStatus: true });
  }

  private checkNamespaceOf(res: ResourceInfo, namespace: string | undefined, name: string): string | undefined {
    if (!res.namespaced) return undefined;
    if (!namespace) {
      return fail(400, 'BadRequest', `${res.kind} "${name}" is namespaced: metadata.namespace is required`);
    }
    return namespace;
  }

  /** Stores a new object; `keepStatus` is false for API creates on resources with a status subresource. */
  public writeCreate(
    res: ResourceInfo,
    input: EmulatedObject,
    namespace: string | undefined,
    ctx: WriteContext,
    opts: CreateOptions,
  ): EmulatedObject {
    const meta = { ...input.metadata };
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${crypto.randomBytes(3).toString('hex').slice(0, 5)}`;
    const name = meta.name ?? '';
    if (res.namespaced) {
      meta.namespace = namespace;
      const nsRes = this.store.byKind.get('v1#Namespace') as ResourceInfo;
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
    decode(res, obj);
    if (!opts.keepStatus) this.defaultStatusOnCreate(res, obj);
    this.defaultOnWrite(res, obj);
    if (res.schema) prune(obj, pruneSchema(res));
    const isCrd = res.kind === 'CustomResourceDefinition' && res.group === 'apiextensions.k8s.io';
    if (isCrd) {
      validateCrd(obj);
      // The strategy resets status on create; the controllers fill it in (see acceptCrdNames).
      obj.status = crdInitialStatus(obj);
    }
    validateObject(res, obj, undefined);
    admit(res, obj, undefined, ctx, this.namespaceLabels(obj));
    if (opts.applied) setManagedFields(obj, opts.applied);
    else trackUpdate(res, undefined, obj, supplied, ctx);
    checkSize(obj, !opts.applied);
    this.store.commit(res, 'ADDED', key, obj, undefined);
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

  /**
   * Replaces an object. `keepStatus` keeps the stored status (API writes to the main resource
   * of a kind with a status subresource); `onlyStatus` takes nothing but status from `input`.
   */
  public writeUpdate(res: ResourceInfo, old: Entry, input: EmulatedObject, ctx: WriteContext, opts: UpdateOptions): EmulatedObject {
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
      for (const f of [
        'uid',
        'creationTimestamp',
        'deletionTimestamp',
        'deletionGracePeriodSeconds',
        'namespace',
        'name',
        'generation',
      ] as const) {
        if (old.obj.metadata[f] === undefined) delete meta[f];
        else meta[f] = old.obj.metadata[f] as never;
      }
      next = withTypeMeta(res, input, meta);
      decode(res, next);
      if (opts.keepStatus && res.statusSubresource) {
        if (old.obj.status === undefined) delete next.status;
        else next.status = old.obj.status;
      }
      if (!deepEqual(next.spec, old.obj.spec)) meta.generation = (old.obj.metadata.generation ?? 0) + 1;
      this.defaultOnWrite(res, next);
    }
    if (res.schema) {
      next = cloneJson(next);
      prune(next, pruneSchema(res));
    }
    next.metadata.resourceVersion = old.obj.metadata.resourceVersion;
    const isCrd = res.kind === 'CustomResourceDefinition' && res.group === 'apiextensions.k8s.io';
    if (!opts.onlyStatus) {
      if (isCrd) {
        validateCrd(next);
        // Status belongs to the CRD controllers; spec writes keep it.
        next.status = old.obj.status;
      }
      validateObject(res, next, old.obj);
      admit(res, next, old.obj, ctx, this.namespaceLabels(next));
    }
    if (!opts.apply) trackUpdate(res, old.obj, next, supplied, ctx);
    // A write that changes nothing is not stored and keeps the resourceVersion (no event).
    if (deepEqual(next, old.obj)) return old.obj;
    checkSize(next, !opts.apply);
    const key = keyOf(next.metadata.namespace, name);
    if (next.metadata.deletionTimestamp && !(next.metadata.finalizers?.length ?? 0) && !this.awaitingPodTermination(res, next)) {
      this.store.commit(res, 'DELETED', key, next, old);
      return next;
    }
    this.store.commit(res, 'MODIFIED', key, next, old);
    if (isCrd) this.serveCrd(next);
    return next;
  }

  /** A pod in graceful deletion stays until termination finishes, even once its finalizers are gone. */
  private awaitingPodTermination(res: ResourceInfo, obj: EmulatedObject): boolean {
    return res.group === '' && res.kind === 'Pod' && (obj.metadata.deletionGracePeriodSeconds ?? 0) > 0;
  }

  /** Returns the stored state after the delete request (undefined once the object is gone). */
  public deleteEntry(res: ResourceInfo, entry: Entry, gracePeriodSeconds: number | undefined): EmulatedObject | undefined {
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
        metadata: {
          ...obj.metadata,
          deletionTimestamp: new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
          deletionGracePeriodSeconds: grace,
        },
      };
      this.store.commit(res, 'MODIFIED', keyOf(obj.metadata.namespace, obj.metadata.name ?? ''), next, entry);
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
    this.store.commit(res, 'MODIFIED', keyOf(undefined, name), terminating, entry);
    // The namespace controller deletes the content, then the namespace goes away.
    for (const r of this.store.resources.values()) {
      if (!r.namespaced) continue;
      for (const e of [...r.store.values()]) if (e.obj.metadata.namespace === name) this.remove(r, e);
    }
    const cur = res.store.get(keyOf(undefined, name));
    if (cur) this.remove(res, cur);
  }

  /** Removes an object for good (a DELETED event), with CRD cascades. */
  private remove(res: ResourceInfo, entry: Entry): void {
    const obj: EmulatedObject = { ...entry.obj, metadata: { ...entry.obj.metadata } };
    this.store.commit(res, 'DELETED', keyOf(obj.metadata.namespace, obj.metadata.name ?? ''), obj, entry);
    if (res.kind === 'CustomResourceDefinition' && res.group === 'apiextensions.k8s.io') {
      const spec = obj.spec as Record<string, unknown> | undefined;
      const names = (spec?.names ?? {}) as Record<string, unknown>;
      const versions = Array.isArray(spec?.versions) ? (spec.versions as Record<string, unknown>[]) : [];
      for (const v of versions) {
        const served = this.store.resources.get(`${String(spec?.group)}/${String(v.name)}/${String(names.plural)}`);
        if (served) this.unserve(served);
      }
    }
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

function nonNegative(name: string, n: number): number {
  if (!Number.isFinite(n) || n < 0) throw new Error(`KubeApiEmulator: ${name} must be zero or a positive number (got ${n})`);
  return n;
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
