/**
 * List-then-watch cache of one resource type.
 *
 * Lists (paginated), then watches from the list's resourceVersion with bookmarks. A watch that
 * ends or breaks resumes from the last seen version; a 410 Expired (the version was compacted
 * away) or "resourceVersion too large" triggers a fresh list, diffed against the cache: objects
 * that vanished are reported as deletes, changed ones as updates, unchanged ones not at all.
 * Failures back off exponentially with full jitter; the clock and randomness are injectable.
 *
 * Handlers run synchronously on the event path and must be cheap (enqueue a key, nothing more);
 * an informer never calls anything but the Kubernetes API. `transform` keeps memory small by
 * storing only what the caller needs (the controller keeps a few fields of 20,000 pods).
 *
 * A malformed object fails closed: one whose metadata is broken or that `transform` refuses
 * leaves the cache (reported as a delete, so a pod's old address leaves its lists) instead of
 * keeping its last good version; one without a usable name cannot be matched to the cache, so
 * the informer lists again. Each is reported as a {@link MalformedObjectError} and counted.
 */
import { BackoffOptions, fullJitterDelay } from '../../clients/backoff';
import { Clock, systemClock } from '../../clients/clock';
import type { KubeClient } from '../../clients/kube/client';
import { KubeApiError } from '../../clients/kube/client';
import { KubeObject, ResourceType, WatchEvent, objectKey } from '../../clients/kube/resources';

export const ADD = 'add';
export type ADD = typeof ADD;
export const UPDATE = 'update';
export type UPDATE = typeof UPDATE;
export const DELETE = 'delete';
export type DELETE = typeof DELETE;
export const ERROR = 'error';
export type ERROR = typeof ERROR;

export type AddHandler<T> = (obj: T) => void;
export type UpdateHandler<T> = (oldObj: T, newObj: T) => void;
export type DeleteHandler<T> = (obj: T) => void;
/** Errors are reported for logging and metrics; the informer keeps retrying by itself. */
export type ErrorHandler = (err: unknown) => void;

export interface InformerOptions<T> {
  readonly resource: ResourceType;
  /** Only this namespace. @default - all namespaces */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Maps each object to what the cache keeps. @default - the whole object */
  readonly transform?: (obj: KubeObject) => T;
  /** Items per list page; 0 lists everything at once. @default 500 */
  readonly pageSize?: number;
  /** Reconnect backoff. @default { initialMs: 1000, maxMs: 30000 } */
  readonly backoff?: BackoffOptions;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Uniform in [0, 1). @default Math.random */
  readonly random?: () => number;
  /**
   * A watch that stays open this long counts as healthy even without events, so a quiet
   * resource whose watch is dropped now and then reconnects at once instead of backing off
   * further each time. @default 5000
   */
  readonly healthyWatchMs?: number;
  /** Each watch asks the server to end it after a random time in [min, 2*min) seconds, as client-go does. @default 300 */
  readonly minWatchTimeoutSeconds?: number;
}

/** An object the informer could not take in; it is out of the cache until a good version comes. */
export class MalformedObjectError extends Error {
  constructor(
    /** `namespace/name`, when the object has one. */
    public readonly key: string | undefined,
    public readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`malformed object${key !== undefined ? ` ${key}` : ''}: ${reason}`, options);
    this.name = 'MalformedObjectError';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringMap = (v: unknown) => isObj(v) && Object.values(v).every((x) => typeof x === 'string');

/** The cache key of `obj`, or why it has none. */
function identity(obj: unknown): { key: string } | { problem: string } {
  const meta = isObj(obj) ? obj.metadata : undefined;
  if (!isObj(meta)) return { problem: 'no metadata' };
  if (typeof meta.name !== 'string' || meta.name === '') return { problem: 'no metadata.name' };
  if (meta.namespace !== undefined && typeof meta.namespace !== 'string') return { problem: 'metadata.namespace is not a string' };
  if (meta.resourceVersion !== undefined && typeof meta.resourceVersion !== 'string')
    return { problem: 'metadata.resourceVersion is not a string' };
  return { key: objectKey(obj as KubeObject) };
}

/** Why the metadata of an identified object cannot be trusted, if it cannot. */
function metadataProblem(obj: KubeObject): string | undefined {
  for (const field of ['labels', 'annotations'] as const) {
    const v = obj.metadata[field];
    if (v !== undefined && !isStringMap(v)) return `metadata.${field} is not a map of strings`;
  }
  return undefined;
}

export interface InformerStats {
  /** Complete lists (initial and re-lists). */
  readonly lists: number;
  /** Watch requests started. */
  readonly watches: number;
  /** Watches answered 410 Expired. */
  readonly expired: number;
  /** Failed list or watch attempts (each followed by a backoff). */
  readonly failures: number;
  /** Malformed objects (taken out of the cache) and unidentifiable events (each followed by a list). */
  readonly malformed: number;
}

interface CacheEntry<T> {
  readonly rv: string;
  readonly value: T;
}

export class Informer<T = KubeObject> {
  /** The cache: the only copy of the objects; what callers keep is derived from it. */
  private readonly store = new Map<string, CacheEntry<T>>();
  /** Keys by namespace (an index over the cache, as client-go's namespace indexer). */
  private readonly byNamespace = new Map<string, Set<string>>();
  private readonly addHandlers: AddHandler<T>[] = [];
  private readonly updateHandlers: UpdateHandler<T>[] = [];
  private readonly deleteHandlers: DeleteHandler<T>[] = [];
  private readonly errorHandlers: ErrorHandler[] = [];
  private readonly transform: (obj: KubeObject) => T;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly abort = new AbortController();
  private readonly syncedPromise: Promise<void>;
  private resolveSynced!: () => void;
  private rejectSynced!: (err: Error) => void;
  private synced = false;
  private running?: Promise<void>;
  private stopped = false;
  private rv?: string;
  /** The current watch has delivered at least one event. */
  private watchProgressed = false;
  private readonly counters = { lists: 0, watches: 0, expired: 0, failures: 0, malformed: 0 };
  private watchStartedAt?: number;

  constructor(
    private readonly client: KubeClient,
    private readonly options: InformerOptions<T>,
  ) {
    this.transform = options.transform ?? ((obj: KubeObject) => obj as unknown as T);
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.syncedPromise = new Promise<void>((resolve, reject) => {
      this.resolveSynced = resolve;
      this.rejectSynced = reject;
    });
    // Nobody has to wait for sync; an unobserved rejection on stop must not crash the process.
    this.syncedPromise.catch(() => undefined);
  }

  public on(event: ADD, handler: AddHandler<T>): this;
  public on(event: UPDATE, handler: UpdateHandler<T>): this;
  public on(event: DELETE, handler: DeleteHandler<T>): this;
  public on(event: ERROR, handler: ErrorHandler): this;
  public on(event: ADD | UPDATE | DELETE | ERROR, handler: (...args: never[]) => void): this {
    this.handlers(event).push(handler as never);
    return this;
  }

  public off(event: ADD | UPDATE | DELETE | ERROR, handler: (...args: never[]) => void): this {
    const list = this.handlers(event) as unknown[];
    const i = list.indexOf(handler);
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  /** Starts listing and watching in the background. */
  public start(): void {
    if (this.running || this.stopped) return;
    this.running = this.run();
  }

  /** Stops watching and waits for the loop to end. The cache keeps its last content. */
  public async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    if (!this.synced) this.rejectSynced(new Error(`informer for ${this.options.resource.plural} stopped before its first list completed`));
    await this.running;
  }

  /** True once the first complete list is in the cache. */
  public hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves after the first complete list; rejects if the informer is stopped before. */
  public waitForSync(): Promise<void> {
    return this.syncedPromise;
  }

  /** The resourceVersion the cache reflects (from the last list, event or bookmark). */
  public get lastSyncResourceVersion(): string | undefined {
    return this.rv;
  }

  public get stats(): InformerStats {
    return { ...this.counters };
  }

  public get size(): number {
    return this.store.size;
  }

  /** By cache key: `namespace/name`, or `name` for cluster-scoped objects. */
  public get(key: string): T | undefined {
    return this.store.get(key)?.value;
  }

  public getByName(name: string, namespace?: string): T | undefined {
    return this.get(namespace ? `${namespace}/${name}` : name);
  }

  public keys(): IterableIterator<string> {
    return this.store.keys();
  }

  /** Keys of the cached objects of one namespace. */
  public keysInNamespace(namespace: string): Iterable<string> {
    return this.byNamespace.get(namespace) ?? [];
  }

  public *values(): IterableIterator<T> {
    for (const e of this.store.values()) yield e.value;
  }

  /** The resourceVersion of each cached object, by key (for consistency checks). */
  public versions(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [k, e] of this.store) out.set(k, e.rv);
    return out;
  }

  // ---------------------------------------------------------------------------------------------

  private handlers(event: string): unknown[] {
    switch (event) {
      case ADD:
        return this.addHandlers;
      case UPDATE:
        return this.updateHandlers;
      case DELETE:
        return this.deleteHandlers;
      case ERROR:
        return this.errorHandlers;
      default:
        throw new TypeError(`Informer.on: unknown event "${event}"; use add, update, delete or error`);
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    let needList = true;
    while (!this.stopped) {
      try {
        if (needList) {
          this.watchProgressed = false;
          this.watchStartedAt = undefined;
          await this.relist();
          needList = false;
          if (!this.synced) {
            this.synced = true;
            this.resolveSynced();
          }
        }
        const progressed = await this.watchOnce();
        // A clean end (server timeout) resumes at once; a watch closed at once without events
        // counts as a failure so a server that keeps closing watches is not hammered.
        failures = progressed || this.watchWasHealthy() ? 0 : failures + 1;
        if (failures > 0) await this.backoff(failures);
      } catch (err) {
        if (this.stopped) break;
        this.reportError(err);
        // A watch that delivered events or stayed open before breaking was healthy: start the backoff over.
        if (this.watchProgressed || this.watchWasHealthy()) failures = 0;
        if (err instanceof KubeApiError && (err.expired || err.resourceVersionTooLarge)) {
          if (err.expired) this.counters.expired++;
          needList = true;
          // Re-list at once the first time; repeated expiry without progress backs off.
          if (failures > 0) await this.backoff(failures);
          failures++;
          continue;
        }
        this.counters.failures++;
        failures++;
        // An event that names no object may have changed any of them: list everything again.
        if (err instanceof MalformedObjectError) needList = true;
        await this.backoff(failures);
      }
    }
  }

  private async backoff(failures: number): Promise<void> {
    const ms = fullJitterDelay(failures, this.options.backoff ?? {}, this.random);
    await this.clock.sleep(ms, this.abort.signal);
  }

  private reportError(err: unknown): void {
    for (const h of this.errorHandlers) {
      try {
        h(err);
      } catch {
        // An error handler that throws must not stop the informer.
      }
    }
  }

  /** Lists everything and reconciles the cache with it. */
  private async relist(): Promise<void> {
    const seen = new Set<string>();
    const pageSize = this.options.pageSize ?? 500;
    // client-go reflector.go `relistResourceVersion`: "0" first (served by the watch cache), then
    // the last version seen (in one piece, not older than it), "" (consistent) once that is gone.
    const from = this.rv ?? '0';
    let rv: string;
    try {
      rv = await this.listPages(from === '0' ? pageSize : 0, seen, from);
    } catch (first) {
      if (!(first instanceof KubeApiError && (first.expired || first.resourceVersionTooLarge)) || this.stopped) throw first;
      seen.clear();
      try {
        rv = await this.listPages(pageSize, seen);
      } catch (err) {
        // An expired continue token: list again in one piece, as client-go's pager does.
        if (!(err instanceof KubeApiError && err.expired && pageSize > 0) || this.stopped) throw err;
        seen.clear();
        rv = await this.listPages(0, seen);
      }
    }
    for (const [key, entry] of [...this.store]) {
      if (!seen.has(key)) {
        this.drop(key);
        this.emitDelete(entry.value);
      }
    }
    this.rv = rv;
    this.counters.lists++;
  }

  private async listPages(limit: number, seen: Set<string>, resourceVersion?: string): Promise<string> {
    let cont: string | undefined;
    let rv: string | undefined;
    do {
      const page = await this.client.list(this.options.resource, {
        namespace: this.options.namespace,
        labelSelector: this.options.labelSelector,
        fieldSelector: this.options.fieldSelector,
        limit: limit > 0 ? limit : undefined,
        continue: cont,
        resourceVersion: cont ? undefined : resourceVersion,
        signal: this.abort.signal,
      });
      rv ??= page.metadata.resourceVersion;
      for (const item of page.items) {
        const id = identity(item);
        if ('problem' in id) {
          // Not marked seen: whatever the cache holds for it is deleted below.
          this.malformed(new MalformedObjectError(undefined, `list item with ${id.problem}`));
          continue;
        }
        seen.add(id.key);
        this.upsert(id.key, item);
      }
      cont = page.metadata.continue || undefined;
    } while (cont && !this.stopped);
    if (rv === undefined)
      throw new KubeApiError({
        statusCode: 200,
        reason: 'BadResponse',
        message: 'list without metadata.resourceVersion',
        method: 'GET',
        path: this.options.resource.plural,
      });
    return rv;
  }

  /** One watch from the current resourceVersion; true if it delivered anything. */
  private watchWasHealthy(): boolean {
    return this.watchStartedAt !== undefined && this.clock.now() - this.watchStartedAt >= (this.options.healthyWatchMs ?? 5000);
  }

  private async watchOnce(): Promise<boolean> {
    this.counters.watches++;
    this.watchStartedAt = this.clock.now();
    const min = this.options.minWatchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.floor(min * (1 + this.random()));
    this.watchProgressed = false;
    const events = this.client.watch(this.options.resource, {
      namespace: this.options.namespace,
      labelSelector: this.options.labelSelector,
      fieldSelector: this.options.fieldSelector,
      resourceVersion: this.rv,
      allowWatchBookmarks: true,
      timeoutSeconds,
      signal: this.abort.signal,
    });
    for await (const ev of events) {
      this.watchProgressed = true;
      this.apply(ev);
    }
    return this.watchProgressed;
  }

  private apply(ev: WatchEvent): void {
    const obj = ev.object;
    if (ev.type === 'BOOKMARK') {
      const rv = (obj as { metadata?: { resourceVersion?: unknown } }).metadata?.resourceVersion;
      if (typeof rv === 'string' && rv) this.rv = rv;
      return;
    }
    const id = identity(obj);
    if ('problem' in id) {
      // Which cached object it changes is unknown; ends the watch and lists again (see run).
      this.counters.malformed++;
      throw new MalformedObjectError(undefined, `${ev.type} event with ${id.problem}`);
    }
    if (ev.type === 'DELETED') {
      this.remove(id.key);
    } else {
      this.upsert(id.key, obj);
    }
    if (obj.metadata.resourceVersion) this.rv = obj.metadata.resourceVersion;
  }

  private remove(key: string): void {
    const entry = this.store.get(key);
    if (entry) {
      this.drop(key);
      this.emitDelete(entry.value);
    }
  }

  private indexNamespace(key: string): void {
    const slash = key.indexOf('/');
    if (slash < 0) return;
    const ns = key.slice(0, slash);
    let keys = this.byNamespace.get(ns);
    if (!keys) this.byNamespace.set(ns, (keys = new Set()));
    keys.add(key);
  }

  private drop(key: string): void {
    this.store.delete(key);
    const slash = key.indexOf('/');
    if (slash < 0) return;
    const keys = this.byNamespace.get(key.slice(0, slash));
    keys?.delete(key);
    if (keys?.size === 0) this.byNamespace.delete(key.slice(0, slash));
  }

  private malformed(err: MalformedObjectError): void {
    this.counters.malformed++;
    this.reportError(err);
  }

  private upsert(key: string, obj: KubeObject): void {
    const rv = obj.metadata.resourceVersion ?? '';
    const existing = this.store.get(key);
    if (existing && existing.rv === rv) return;
    let value: T;
    try {
      const problem = metadataProblem(obj);
      if (problem) throw new MalformedObjectError(key, problem);
      value = this.transform(obj);
    } catch (err) {
      // Fail closed: the last good version must not outlive an update it cannot read.
      this.malformed(
        err instanceof MalformedObjectError
          ? err
          : new MalformedObjectError(key, `transform failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err }),
      );
      this.remove(key);
      return;
    }
    this.store.set(key, { rv, value });
    if (!existing) this.indexNamespace(key);
    if (existing) {
      for (const h of this.updateHandlers) this.call(() => h(existing.value, value));
    } else {
      for (const h of this.addHandlers) this.call(() => h(value));
    }
  }

  private emitDelete(value: T): void {
    for (const h of this.deleteHandlers) this.call(() => h(value));
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.reportError(err);
    }
  }
}
