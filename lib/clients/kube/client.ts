/**
 * A small Kubernetes API client on undici: get, list, watch, create, replace, merge patch
 * (object and status), delete. Errors are `KubeApiError` with the HTTP status and the
 * Status reason; connection failures have status 0.
 *
 * Like client-go's REST client (rest/with_retry.go `IsNextRetry`, `checkWait`), an answer of
 * 429 or 5xx that carries `Retry-After` is retried after that many seconds, up to ten times,
 * whatever the verb: API Priority and Fairness and an API server that is not ready ask for it.
 */
import { Agent } from 'undici';
import { Sleep, systemClock } from '../clock';
import type { KubeConnection } from './config';
import { KubeList, KubeObject, KubeStatus, ResourceType, WatchEvent, apiVersionOf, qualifiedName, resourcePath } from './resources';

/** An API answer that is not a success, or no answer at all (`statusCode` 0). */
export class KubeApiError extends Error {
  /** HTTP status; 0 when the request got no answer (connection refused, reset, timeout). */
  public readonly statusCode: number;
  /** The Status `reason` (`NotFound`, `Conflict`, `Expired`, ...) or `ConnectionError`/`Timeout`. */
  public readonly reason: string;
  public readonly status?: KubeStatus;
  public readonly method: string;
  public readonly path: string;
  /** From `Retry-After` or the Status details, when the server asked to wait. */
  public readonly retryAfterSeconds?: number;

  constructor(init: {
    statusCode: number;
    reason: string;
    message: string;
    method: string;
    path: string;
    status?: KubeStatus;
    retryAfterSeconds?: number;
    cause?: unknown;
  }) {
    super(
      `${init.method} ${init.path}: ${init.statusCode === 0 ? '' : `${init.statusCode} `}${init.reason}: ${init.message}`,
      init.cause ? { cause: init.cause } : undefined,
    );
    this.name = 'KubeApiError';
    this.statusCode = init.statusCode;
    this.reason = init.reason;
    this.status = init.status;
    this.method = init.method;
    this.path = init.path;
    this.retryAfterSeconds = init.retryAfterSeconds;
  }

  /** Worth retrying later: no answer, throttling, or a server-side failure. */
  public get retryable(): boolean {
    return this.statusCode === 0 || this.statusCode === 429 || this.statusCode >= 500;
  }

  public get notFound(): boolean {
    return this.statusCode === 404;
  }

  /** 409: AlreadyExists on create, Conflict on a stale update. */
  public get conflict(): boolean {
    return this.statusCode === 409;
  }

  /** 410: the resourceVersion (or continue token) was compacted away; list again. */
  public get expired(): boolean {
    return this.statusCode === 410;
  }

  /** The watch asked for a resourceVersion the server has not reached (after an etcd restore, for example). */
  public get resourceVersionTooLarge(): boolean {
    return this.statusCode === 504 && (this.status?.details?.causes ?? []).some((c) => c.reason === 'ResourceVersionTooLarge');
  }
}

export interface KubeClientOptions {
  /** Timeout of non-watch requests. @default 30000 */
  readonly requestTimeoutMs?: number;
  /** @default 'cdktf-ces-controller' */
  readonly userAgent?: string;
  /** Connections per origin (each open watch holds one). @default 32 */
  readonly connections?: number;
  /** Retries of a 429/5xx answer with `Retry-After` (client-go's default). @default 10 */
  readonly maxRetries?: number;
  /**
   * A watch that allows bookmarks and receives nothing, not even a bookmark, for this long is
   * given up as dead. The API server sends a bookmark about every minute
   * (apiserver cacher.go `defaultBookmarkFrequency`), so 150 s is two and a half periods.
   * @default 150000
   */
  readonly watchIdleTimeoutMs?: number;
  /** Waits between retries; tests inject their own. @default real timers */
  readonly sleep?: Sleep;
}

/** How long a watch with bookmarks may stay silent before it counts as dead. */
export const DEFAULT_WATCH_IDLE_TIMEOUT_MS = 150_000;

export interface RequestOptions {
  readonly signal?: AbortSignal;
  /** Overrides the client's request timeout for this call. */
  readonly timeoutMs?: number;
}

export interface ListOptions extends RequestOptions {
  /** Only this namespace; all namespaces when absent. */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly limit?: number;
  readonly continue?: string;
  readonly resourceVersion?: string;
  readonly resourceVersionMatch?: 'Exact' | 'NotOlderThan';
}

export interface WatchOptions {
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Events after this version; absent or '0' starts with synthetic ADDED events for every object. */
  readonly resourceVersion?: string;
  /** @default true */
  readonly allowWatchBookmarks?: boolean;
  /** Server-side timeout; the stream ends cleanly after it. */
  readonly timeoutSeconds?: number;
  /**
   * Give up when nothing (not even a bookmark) arrives for this long, so a silently dead
   * connection is noticed. @default the client's `watchIdleTimeoutMs` with bookmarks (capped
   * at timeoutSeconds + 30 s); without bookmarks timeoutSeconds + 30 s, or none
   */
  readonly idleTimeoutMs?: number;
  /** Aborting ends the iteration quietly. */
  readonly signal?: AbortSignal;
}

export interface DeleteOptions extends RequestOptions {
  readonly gracePeriodSeconds?: number;
  readonly preconditions?: { readonly uid?: string; readonly resourceVersion?: string };
}

interface Response {
  readonly statusCode: number;
  readonly text: string;
  readonly retryAfter?: string | string[];
}

export class KubeClient {
  private readonly agent: Agent;
  private readonly origin: string;
  private readonly basePath: string;
  private readonly requestTimeoutMs: number;
  private readonly userAgent: string;
  private readonly maxRetries: number;
  private readonly watchIdleTimeoutMs: number;
  private readonly sleep: Sleep;

  constructor(
    public readonly connection: KubeConnection,
    options: KubeClientOptions = {},
  ) {
    const url = new URL(connection.server);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.userAgent = options.userAgent ?? 'cdktf-ces-controller';
    this.maxRetries = options.maxRetries ?? 10;
    this.watchIdleTimeoutMs = options.watchIdleTimeoutMs ?? DEFAULT_WATCH_IDLE_TIMEOUT_MS;
    this.sleep = options.sleep ?? systemClock.sleep;
    if (connection.insecureSkipTlsVerify) {
      process.emitWarning(
        `TLS verification of the Kubernetes API server ${connection.server} is DISABLED (insecure-skip-tls-verify in ${connection.source}); anyone on the path can impersonate it`,
        { code: 'CDKTF_CES_INSECURE_TLS' },
      );
    }
    this.agent = new Agent({
      connections: options.connections ?? 32,
      keepAliveTimeout: 10_000,
      connect: {
        ca: connection.ca,
        cert: connection.clientCert,
        key: connection.clientKey,
        servername: connection.tlsServerName,
        rejectUnauthorized: !connection.insecureSkipTlsVerify,
      },
    });
  }

  public async get<T extends KubeObject = KubeObject>(
    type: ResourceType,
    name: string,
    namespace?: string,
    options: RequestOptions = {},
  ): Promise<T> {
    return (await this.json('GET', resourcePath(type, requireNamespace(type, namespace, 'get'), name), undefined, options)) as T;
  }

  public async list<T extends KubeObject = KubeObject>(type: ResourceType, options: ListOptions = {}): Promise<KubeList<T>> {
    const q = new URLSearchParams();
    if (options.labelSelector) q.set('labelSelector', options.labelSelector);
    if (options.fieldSelector) q.set('fieldSelector', options.fieldSelector);
    if (options.limit !== undefined) q.set('limit', String(options.limit));
    if (options.continue) q.set('continue', options.continue);
    if (options.resourceVersion !== undefined) q.set('resourceVersion', options.resourceVersion);
    if (options.resourceVersionMatch) q.set('resourceVersionMatch', options.resourceVersionMatch);
    const qs = q.toString();
    return (await this.json('GET', `${resourcePath(type, options.namespace)}${qs ? `?${qs}` : ''}`, undefined, options)) as KubeList<T>;
  }

  public async create<T extends KubeObject = KubeObject>(type: ResourceType, obj: KubeObject, options: RequestOptions = {}): Promise<T> {
    const ns = requireNamespace(type, obj.metadata.namespace, 'create');
    return (await this.json('POST', resourcePath(type, ns), withTypeMeta(type, obj), options)) as T;
  }

  /** PUT of the whole object; `metadata.resourceVersion` makes it conditional (409 when stale). */
  public async replace<T extends KubeObject = KubeObject>(type: ResourceType, obj: KubeObject, options: RequestOptions = {}): Promise<T> {
    const ns = requireNamespace(type, obj.metadata.namespace, 'replace');
    return (await this.json('PUT', resourcePath(type, ns, requireName(obj)), withTypeMeta(type, obj), options)) as T;
  }

  /** PUT of the status subresource: only `status` changes. */
  public async replaceStatus<T extends KubeObject = KubeObject>(
    type: ResourceType,
    obj: KubeObject,
    options: RequestOptions = {},
  ): Promise<T> {
    const ns = requireNamespace(type, obj.metadata.namespace, 'replaceStatus');
    return (await this.json('PUT', resourcePath(type, ns, requireName(obj), 'status'), withTypeMeta(type, obj), options)) as T;
  }

  /** JSON merge patch (RFC 7386); include `metadata.resourceVersion` in the patch to make it conditional. */
  public async mergePatch<T extends KubeObject = KubeObject>(
    type: ResourceType,
    name: string,
    patch: object,
    namespace?: string,
    options: RequestOptions = {},
  ): Promise<T> {
    const path = resourcePath(type, requireNamespace(type, namespace, 'mergePatch'), name);
    return (await this.json('PATCH', path, patch, options, 'application/merge-patch+json')) as T;
  }

  /** JSON merge patch of the status subresource. */
  public async mergePatchStatus<T extends KubeObject = KubeObject>(
    type: ResourceType,
    name: string,
    patch: object,
    namespace?: string,
    options: RequestOptions = {},
  ): Promise<T> {
    const path = resourcePath(type, requireNamespace(type, namespace, 'mergePatchStatus'), name, 'status');
    return (await this.json('PATCH', path, patch, options, 'application/merge-patch+json')) as T;
  }

  public async delete(type: ResourceType, name: string, namespace?: string, options: DeleteOptions = {}): Promise<unknown> {
    const body: Record<string, unknown> = { kind: 'DeleteOptions', apiVersion: 'v1' };
    if (options.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = options.gracePeriodSeconds;
    if (options.preconditions) body.preconditions = options.preconditions;
    return this.json('DELETE', resourcePath(type, requireNamespace(type, namespace, 'delete'), name), body, options);
  }

  /**
   * Streams watch events. The iteration ends when the server closes the stream (timeout) or the
   * signal aborts; it throws `KubeApiError` when the request fails, the connection breaks, or the
   * server sends an ERROR event (410 Expired after compaction, for example).
   */
  public async *watch<T extends KubeObject = KubeObject>(
    type: ResourceType,
    options: WatchOptions = {},
  ): AsyncGenerator<WatchEvent<T>, void, undefined> {
    const q = new URLSearchParams({ watch: '1' });
    if (options.resourceVersion !== undefined) q.set('resourceVersion', options.resourceVersion);
    if (options.allowWatchBookmarks !== false) q.set('allowWatchBookmarks', 'true');
    if (options.timeoutSeconds !== undefined) q.set('timeoutSeconds', String(options.timeoutSeconds));
    if (options.labelSelector) q.set('labelSelector', options.labelSelector);
    if (options.fieldSelector) q.set('fieldSelector', options.fieldSelector);
    const path = `${resourcePath(type, options.namespace)}?${q.toString()}`;
    const untilTimeout = options.timeoutSeconds !== undefined ? (options.timeoutSeconds + 30) * 1000 : 0;
    const bookmarks = options.allowWatchBookmarks !== false;
    // With bookmarks a live watch hears from the server at least every minute or so.
    const idle =
      options.idleTimeoutMs ??
      (bookmarks ? (untilTimeout > 0 ? Math.min(untilTimeout, this.watchIdleTimeoutMs) : this.watchIdleTimeoutMs) : untilTimeout);
    const signal = options.signal;
    if (signal?.aborted) return;

    let response: Awaited<ReturnType<Agent['request']>>;
    for (let attempt = 0; ; attempt++) {
      try {
        response = await this.agent.request({
          origin: this.origin,
          path: this.basePath + path,
          method: 'GET',
          headers: this.headers(),
          signal,
          headersTimeout: this.requestTimeoutMs,
          bodyTimeout: idle,
        });
      } catch (e) {
        if (signal?.aborted) return;
        throw connectionError('GET', path, e);
      }
      if (response.statusCode < 300) break;
      const text = await response.body.text().catch(() => '');
      this.noteRejected(response.statusCode);
      const wait = retryWait(response.statusCode, response.headers['retry-after']);
      if (wait === undefined || attempt >= this.maxRetries)
        throw apiError('GET', path, response.statusCode, text, response.headers['retry-after']);
      await this.sleep(wait, signal);
      if (signal?.aborted) return;
    }

    const decoder = new TextDecoder('utf-8');
    let pending = '';
    try {
      for await (const chunk of response.body) {
        pending += decoder.decode(chunk as Buffer, { stream: true });
        let start = 0;
        let nl: number;
        while ((nl = pending.indexOf('\n', start)) >= 0) {
          const line = pending.slice(start, nl);
          start = nl + 1;
          if (line.trim() !== '') yield parseEvent<T>(line, path);
        }
        pending = start === 0 ? pending : pending.slice(start);
      }
      pending += decoder.decode();
      if (pending.trim() !== '') yield parseEvent<T>(pending, path);
    } catch (e) {
      if (signal?.aborted) return;
      if (e instanceof KubeApiError) throw e;
      throw connectionError('GET', path, e);
    } finally {
      if (!response.body.destroyed) response.body.destroy();
    }
  }

  /** Closes all connections (ends open watches). */
  public async close(): Promise<void> {
    await this.agent.destroy();
  }

  private headers(contentType?: string): Record<string, string> {
    const h: Record<string, string> = { accept: 'application/json', 'user-agent': this.userAgent };
    const token = this.connection.credentials?.token();
    if (token) h.authorization = `Bearer ${token}`;
    if (contentType) h['content-type'] = contentType;
    return h;
  }

  /** After a 401 the token may have rotated: read it again on the next request. */
  private noteRejected(statusCode: number): void {
    if (statusCode === 401) this.connection.credentials?.invalidate?.();
  }

  private async json(
    method: string,
    path: string,
    body: unknown,
    options: RequestOptions,
    contentType = 'application/json',
  ): Promise<unknown> {
    let res = await this.send(method, path, body, options, contentType);
    const credentials = this.connection.credentials;
    if (res.statusCode === 401 && credentials?.invalidate) {
      // The token file may have rotated: one retry with a freshly read token.
      const before = credentials.token();
      credentials.invalidate();
      if (credentials.token() !== before) res = await this.send(method, path, body, options, contentType);
    }
    for (let attempt = 0; attempt < this.maxRetries; attempt++) {
      const wait = retryWait(res.statusCode, res.retryAfter);
      if (wait === undefined || options.signal?.aborted) break;
      await this.sleep(wait, options.signal);
      if (options.signal?.aborted) break;
      res = await this.send(method, path, body, options, contentType);
    }
    if (res.statusCode >= 300) throw apiError(method, path, res.statusCode, res.text, res.retryAfter);
    try {
      return JSON.parse(res.text);
    } catch (e) {
      throw new KubeApiError({
        statusCode: res.statusCode,
        reason: 'BadResponse',
        message: `the answer is not JSON (${(e as Error).message})`,
        method,
        path,
      });
    }
  }

  private async send(method: string, path: string, body: unknown, options: RequestOptions, contentType: string): Promise<Response> {
    const timeout = options.timeoutMs ?? this.requestTimeoutMs;
    // Outside the try: an unreadable token is a configuration error, not a connection error.
    const headers = this.headers(body === undefined ? undefined : contentType);
    try {
      const res = await this.agent.request({
        origin: this.origin,
        path: this.basePath + path,
        method: method as 'GET',
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: options.signal,
        headersTimeout: timeout,
        bodyTimeout: timeout,
      });
      const text = await res.body.text();
      return { statusCode: res.statusCode, text, retryAfter: res.headers['retry-after'] };
    } catch (e) {
      throw connectionError(method, path, e);
    }
  }
}

function requireNamespace(type: ResourceType, namespace: string | undefined, verb: string): string | undefined {
  if (type.namespaced && !namespace) throw new TypeError(`KubeClient.${verb}: ${qualifiedName(type)} are namespaced; pass a namespace`);
  return type.namespaced ? namespace : undefined;
}

function requireName(obj: KubeObject): string {
  if (!obj.metadata.name) throw new TypeError('KubeClient: the object has no metadata.name');
  return obj.metadata.name;
}

function withTypeMeta(type: ResourceType, obj: KubeObject): KubeObject {
  return { ...obj, apiVersion: apiVersionOf(type), kind: type.kind };
}

function parseEvent<T extends KubeObject>(line: string, path: string): WatchEvent<T> {
  let ev: { type?: string; object?: unknown };
  try {
    ev = JSON.parse(line) as { type?: string; object?: unknown };
  } catch (e) {
    throw new KubeApiError({
      statusCode: 200,
      reason: 'BadResponse',
      message: `watch event is not JSON (${(e as Error).message})`,
      method: 'GET',
      path,
    });
  }
  if (ev.type === 'ERROR') {
    const s = (ev.object ?? {}) as KubeStatus;
    throw new KubeApiError({
      statusCode: s.code ?? 500,
      reason: s.reason ?? 'Unknown',
      message: s.message ?? 'watch error',
      method: 'GET',
      path,
      status: s,
    });
  }
  if (
    typeof ev.object !== 'object' ||
    ev.object === null ||
    (ev.type !== 'ADDED' && ev.type !== 'MODIFIED' && ev.type !== 'DELETED' && ev.type !== 'BOOKMARK')
  ) {
    throw new KubeApiError({
      statusCode: 200,
      reason: 'BadResponse',
      message: `unexpected watch event ${line.slice(0, 120)}`,
      method: 'GET',
      path,
    });
  }
  return ev as WatchEvent<T>;
}

/** Milliseconds to wait before retrying, when the answer asks for it (client-go `checkWait`: 429 or 5xx with an integer Retry-After). */
function retryWait(statusCode: number, retryAfter: string | string[] | undefined): number | undefined {
  if (statusCode !== 429 && statusCode < 500) return undefined;
  const header = Array.isArray(retryAfter) ? retryAfter[0] : retryAfter;
  if (header === undefined || !/^\d+$/.test(header.trim())) return undefined;
  return Number(header.trim()) * 1000;
}

function apiError(method: string, path: string, statusCode: number, text: string, retryAfter: string | string[] | undefined): KubeApiError {
  let status: KubeStatus | undefined;
  try {
    const parsed = JSON.parse(text) as KubeStatus;
    if (parsed && parsed.kind === 'Status') status = parsed;
  } catch {
    // Not JSON (a proxy in between, for example): report the text.
  }
  const header = Array.isArray(retryAfter) ? retryAfter[0] : retryAfter;
  const fromHeader = header !== undefined && /^\d+$/.test(header) ? Number(header) : undefined;
  return new KubeApiError({
    statusCode,
    reason: status?.reason ?? `HTTP${statusCode}`,
    message: status?.message ?? (text.slice(0, 200) || 'no details'),
    method,
    path,
    status,
    retryAfterSeconds: fromHeader ?? status?.details?.retryAfterSeconds,
  });
}

function connectionError(method: string, path: string, e: unknown): KubeApiError {
  const err = e as { code?: string; message?: string; name?: string };
  const timeout =
    err.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    err.code === 'UND_ERR_BODY_TIMEOUT' ||
    err.code === 'UND_ERR_CONNECT_TIMEOUT' ||
    err.name === 'TimeoutError';
  return new KubeApiError({
    statusCode: 0,
    reason: timeout ? 'Timeout' : 'ConnectionError',
    message: `${err.code ? `${err.code} ` : ''}${err.message ?? String(e)}`,
    method,
    path,
    cause: e,
  });
}
