/**
 * The HTTP side of the emulated kube-apiserver: HTTPS on loopback, bearer-token authentication,
 * RBAC authorization before routing, injected faults and latency, request counters, routing of
 * resource paths to the verbs, and the discovery documents.
 */
import * as https from 'node:https';
import type * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KubeEmulatorError, StatusObject, badRequest, fail, invalid, invalidKind, resourceDetails, statusObject } from './errors';
import { fieldError } from './field-errors';
import { isPlainObject, parseJson } from './json';
import { patchRequest } from './patch';
import { RequestAttributes, UserInfo, authorize, forbiddenMessage, isWatch, requestAttributes } from './rbac';
import { EmulatedObject, ObjectStore, ResourceInfo, Route, WriteContext, WritePath, entryOf, keyOf } from './store';
import type { WatchHub } from './watch';

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

/** kube-apiserver's request body limit (k8s.io/apiserver pkg/server/config.go `MaxRequestBodyBytes`). */
const MAX_BODY_BYTES = 3 * 1024 * 1024;

const PUBLIC_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version']);
const EMULATED_VERSION = { major: '1', minor: '33', gitVersion: 'v1.33.0-cdktf-ces-emulator', platform: 'linux/amd64' };

/** Who a bearer token authenticates. */
export type Identity =
  | { readonly kind: 'admin' }
  | { readonly kind: 'serviceaccount'; readonly namespace: string; readonly name: string }
  | { readonly kind: 'user'; readonly user: UserInfo };

/** The administrator (`system:masters`): the admin token and the programmatic API act as it. */
export const ADMIN: UserInfo = { name: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] };

export class ApiServer {
  /** Bearer tokens and who they authenticate. */
  public readonly tokens = new Map<string, Identity>();
  /** Added to every request before it is handled. */
  public latencyMs: number;

  private server?: https.Server;
  private port = 0;
  private readonly sockets = new Set<Socket>();
  private readonly hanging = new Set<http.ServerResponse>();
  private faults: { rule: FailureRule; remaining: number }[] = [];
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

  constructor(
    private readonly host: string,
    private readonly tls: { readonly key: string; readonly cert: string },
    private readonly store: ObjectStore,
    private readonly watches: WatchHub,
    private readonly writes: WritePath,
    latencyMs: number,
  ) {
    this.latencyMs = latencyMs;
  }

  /** `https://<host>:<port>`. */
  public get url(): string {
    const host = this.host === '::1' ? '[::1]' : this.host;
    return `https://${host}:${this.port}`;
  }

  /** The port listened on (kept across restarts). */
  public get listeningPort(): number {
    return this.port;
  }

  /** Requests held without an answer by a `hang` failure rule. */
  public get hangingRequests(): number {
    return this.hanging.size;
  }

  private get resources(): Map<string, ResourceInfo> {
    return this.store.resources;
  }

  private get byKind(): Map<string, ResourceInfo> {
    return this.store.byKind;
  }

  public async listen(port: number): Promise<void> {
    const server = https.createServer({ key: this.tls.key, cert: this.tls.cert }, (req, res) => this.onRequest(req, res));
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
    this.watches.serve();
    this.store.scheduleCompaction();
  }

  public async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.watches.shutDown();
    for (const r of this.hanging) r.socket?.destroy();
    this.hanging.clear();
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
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

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.handle(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const status =
        err instanceof KubeEmulatorError
          ? err.status
          : statusObject(500, 'InternalError', `Internal error occurred: ${(err as Error).message}`);
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
      roleBindings: (namespace: string) =>
        this.store.select(get('RoleBinding'), this.store.rv, namespace, undefined, undefined).items.map((e) => e.obj),
    };
  }

  private authorizeOrFail(attrs: RequestAttributes): void {
    const decision = authorize(attrs, this.rbacSource());
    if (decision.allowed) return;
    this.forbiddenCount++;
    const details: Record<string, unknown> = attrs.resourceRequest
      ? { ...(attrs.name ? { name: attrs.name } : {}), ...(attrs.apiGroup ? { group: attrs.apiGroup } : {}), kind: attrs.resource }
      : {};
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

    const segments = url.pathname
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent);
    const route = this.route(segments);
    const q = url.searchParams;
    const watching = isWatch(q);
    const verb = route && typeof route !== 'string' ? verbOf(method, route, watching) : 'other';
    this.verbCounts[verb]++;
    const resourceKey =
      route && typeof route !== 'string' ? `${route.res.qualified}${route.subresource ? `/${route.subresource}` : ''}` : url.pathname;
    if (route && typeof route !== 'string')
      this.resourceCounts[`${verb} ${resourceKey}`] = (this.resourceCounts[`${verb} ${resourceKey}`] ?? 0) + 1;
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
      sendJson(
        res,
        fault.status,
        s,
        fault.status === 429 || fault.status === 503 ? { 'Retry-After': String(fault.retryAfterSeconds ?? 1) } : {},
      );
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
    if (!this.server) {
      req.socket.destroy();
      return;
    }
    const ctx: WriteContext = {
      user,
      manager: managerOf(q.get('fieldManager'), req.headers['user-agent']),
      subresource: route.subresource,
      warnings: [],
    };
    if (q.get('fieldManager') !== null) {
      const fm = q.get('fieldManager') ?? '';
      if (fm.length > 128 || /[^\x20-\x7e]/.test(fm)) {
        invalidKind('meta.k8s.io', 'PatchOptions', '', [
          fieldError.invalid('fieldManager', fm, 'must consist of printable characters and be at most 128 characters long'),
        ]);
      }
    }
    const headers = (): Record<string, string> =>
      ctx.warnings.length ? { Warning: ctx.warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ') } : {};
    switch (verb) {
      case 'get':
        sendRaw(res, 200, this.httpGet(route));
        return;
      case 'list':
        sendRaw(res, 200, this.store.list(route, q));
        return;
      case 'watch':
        this.watches.start(route, q, res);
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
        const out = patchRequest(this.writes, route, req.headers['content-type'] ?? '', body ?? Buffer.alloc(0), q, ctx, () =>
          this.authorizeOrFail({ ...attrs, verb: 'create' }),
        );
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
      if (r?.crdName && !this.store.crdCondition(r.crdName, 'NamesAccepted') && !this.store.crdEstablished(r.crdName)) return undefined;
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
      return {
        kind: 'APIVersions',
        versions: ['v1'],
        serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `${this.host}:${this.port}` }],
      };
    }
    const discoverable = [...this.resources.values()].filter((r) => !r.crdName || this.store.crdEstablished(r.crdName));
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
      if (r.statusSubresource)
        resources.push({
          name: `${r.plural}/status`,
          singularName: '',
          namespaced: r.namespaced,
          kind: r.kind,
          verbs: ['get', 'patch', 'update'],
        });
    }
    if (resources.length === 0) return undefined;
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
  }

  private httpGet(route: Route): string {
    return entryOf(route).json;
  }

  private checkBodyIdentity(route: Route, body: unknown, verb: string): EmulatedObject {
    const res = route.res;
    if (!isPlainObject(body)) return badRequest(`the body of the request was in an unknown format; ${verb} needs a JSON object`);
    const obj = body as EmulatedObject;
    if (obj.apiVersion !== undefined && obj.apiVersion !== res.apiVersion) {
      badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${res.apiVersion})`);
    }
    if (obj.kind !== undefined && obj.kind !== res.kind)
      badRequest(`${res.kind} in version "${res.version}" cannot be handled as a ${String(obj.kind)}`);
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
    return this.writes.writeCreate(route.res, obj, route.namespace, ctx, { keepStatus: !route.res.statusSubresource });
  }

  private httpUpdate(route: Route, body: unknown, ctx: WriteContext): EmulatedObject {
    const res = route.res;
    const old = entryOf(route);
    const obj = this.checkBodyIdentity(route, body, 'update');
    const name = route.name ?? '';
    if (obj.metadata.name !== undefined && obj.metadata.name !== name) {
      badRequest(`the name of the object (${String(obj.metadata.name)}) does not match the name on the URL (${name})`);
    }
    const rv = obj.metadata.resourceVersion;
    if ((rv === undefined || rv === '') && !res.unconditionalUpdate) {
      // registry/generic/registry/store.go `Update`: the resource stands in for the kind.
      invalidKind(res.group, res.plural, name, [
        fieldError.invalidRaw('metadata.resourceVersion', '0x0', 'must be specified for an update'),
      ]);
    }
    return this.writes.writeUpdate(res, old, obj, ctx, {
      keepStatus: route.subresource === undefined,
      onlyStatus: route.subresource === 'status',
      precondition: rv === '' ? undefined : rv,
    });
  }

  private httpDelete(route: Route, body: Buffer | undefined, q: URLSearchParams): object {
    const res = route.res;
    if (route.name === undefined || route.subresource !== undefined) {
      return fail(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
    const entry = entryOf(route);
    const options = body && body.length > 0 ? parseJson(body) : {};
    let grace: number | undefined = q.get('gracePeriodSeconds') !== null ? Number(q.get('gracePeriodSeconds')) : undefined;
    if (isPlainObject(options)) {
      if (typeof options.gracePeriodSeconds === 'number') grace = options.gracePeriodSeconds;
      const pre = options.preconditions;
      if (isPlainObject(pre)) {
        if (typeof pre.uid === 'string' && pre.uid !== entry.obj.metadata.uid) {
          fail(
            409,
            'Conflict',
            `Operation cannot be fulfilled on ${res.qualified} "${route.name}": Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${entry.obj.metadata.uid ?? ''}`,
            resourceDetails(res, route.name),
          );
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
    const after = this.writes.deleteEntry(res, entry, grace);
    if (after) return after;
    if (res.group === '' || res.kind === 'CustomResourceDefinition') return JSON.parse(entry.json) as object;
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { ...resourceDetails(res, route.name), uid: entry.obj.metadata.uid },
    };
  }
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
      return statusObject(
        504,
        'Timeout',
        'the server was unable to return a response in the time allotted, but may still be processing the request',
      );
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
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': buf.length,
    'Cache-Control': 'no-cache, private',
    ...headers,
  });
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

/** The field manager of a write: `?fieldManager=`, else the user agent up to its first `/` (apiserver handlers/rest.go `managerOrUserAgent`). */
function managerOf(fieldManager: string | null, userAgent: string | undefined): string {
  if (fieldManager) return fieldManager;
  const prefix = (userAgent ?? '').split('/')[0];
  return prefix === '' ? 'unknown' : prefix.slice(0, 128);
}
