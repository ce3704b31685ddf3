/**
 * The emulated etcd and the resource registry: stored objects per resource, one global,
 * monotonically increasing resourceVersion (an etcd revision), the event history that past
 * revisions are rebuilt from (bounded by count and compacted by time), selectors, and lists
 * with the resourceVersion semantics and consistent-snapshot pagination of kube-apiserver.
 */
import type { ObjectMeta } from '../../../lib/clients/kube/resources';
import type { CustomResourceValidator } from './crd-schema';
import { KubeEmulatorError, badRequest, fail, invalidKind, notFound, statusObject } from './errors';
import { fieldError } from './field-errors';
import type { FieldTypes, ManagerEntry } from './managed-fields';
import { isPlainObject } from './json';
import type { UserInfo } from './rbac';
import type { WatchCache, Watcher } from './watch';

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

export type NameRule = 'subdomain' | 'label' | 'label1035' | 'path';

export interface ResourceInfo {
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
export interface Entry {
  readonly obj: EmulatedObject;
  readonly json: string;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface HistoryEvent {
  readonly rv: number;
  readonly res: ResourceInfo;
  readonly key: string;
  readonly type: EventType;
  readonly entry: Entry;
  readonly prev?: Entry;
  /** When it was recorded (for the watch cache's time window). */
  readonly at: number;
}

export interface Route {
  readonly res: ResourceInfo;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
}

/** Who is writing and how, for ownership, admission and warnings. */
export interface WriteContext {
  readonly user: UserInfo;
  readonly manager: string;
  readonly subresource?: string;
  /** Warnings for the `Warning` response header. */
  readonly warnings: string[];
}

export type SchemaNode = Record<string, unknown>;

/** Options of a create on the write path. */
export interface CreateOptions {
  /** False for API creates on resources with a status subresource (status is reset). */
  readonly keepStatus: boolean;
  /** Field ownership already computed by server-side apply. */
  readonly applied?: ManagerEntry[];
}

/** Options of an update on the write path. */
export interface UpdateOptions {
  /** Keep the stored status (API writes to the main resource of a kind with a status subresource). */
  readonly keepStatus: boolean;
  /** Take nothing but status from the input (writes through /status). */
  readonly onlyStatus?: boolean;
  /** The resourceVersion the write is conditional on (409 Conflict when stale). */
  readonly precondition?: string;
  /** The write is a server-side apply that recorded its field ownership already. */
  readonly apply?: boolean;
}

/** The emulator's write path: decoding, defaulting, validation, admission, field ownership, storage. */
export interface WritePath {
  writeCreate(
    res: ResourceInfo,
    input: EmulatedObject,
    namespace: string | undefined,
    ctx: WriteContext,
    opts: CreateOptions,
  ): EmulatedObject;
  writeUpdate(res: ResourceInfo, old: Entry, input: EmulatedObject, ctx: WriteContext, opts: UpdateOptions): EmulatedObject;
  /** Returns the stored state after the delete request (undefined once the object is gone). */
  deleteEntry(res: ResourceInfo, entry: Entry, gracePeriodSeconds: number | undefined): EmulatedObject | undefined;
}

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

// ---------------------------------------------------------------------------------------------
// Selectors

interface LabelRequirement {
  readonly key: string;
  readonly op: '=' | '!=' | 'in' | 'notin' | 'exists' | '!';
  readonly values: readonly string[];
}

export type LabelSelector = readonly LabelRequirement[];

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

export function labelsMatch(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
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

export type FieldSelector = readonly FieldRequirement[];

export function parseFieldSelector(text: string, res: ResourceInfo): FieldSelector {
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

export function fieldsMatch(sel: FieldSelector, obj: EmulatedObject): boolean {
  for (const r of sel) {
    let cur: unknown = obj;
    for (const s of r.path) cur = isPlainObject(cur) ? cur[s] : undefined;
    const text = cur === undefined || cur === null ? '' : String(cur);
    if ((text === r.value) !== r.equal) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The store

export class ObjectStore {
  public readonly resources = new Map<string, ResourceInfo>();
  public readonly byKind = new Map<string, ResourceInfo>();
  /** The current revision. */
  public rv = 0;
  /** etcd's compaction point: exact reads and continue tokens older than this get 410. */
  public compactedRv = 0;
  private lastCompactionMark = 0;
  private history: HistoryEvent[] = [];
  private historyHead = 0;
  private compactionTimer?: NodeJS.Timeout;

  /**
   * @param newCache an empty watch cache for a newly served resource, starting at a revision
   * @param onCommit every stored event, in order (the watch caches and open watches follow them)
   */
  constructor(
    private readonly historyLimit: number,
    private readonly compactionIntervalMs: number,
    private readonly newCache: (rv: number) => WatchCache,
    private readonly onCommit: (event: HistoryEvent) => void,
  ) {}

  /** Stops the compaction timer. */
  public stopCompaction(): void {
    if (this.compactionTimer) clearInterval(this.compactionTimer);
    this.compactionTimer = undefined;
  }

  public register(spec: {
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
    const cache: WatchCache = existing?.cache ?? this.newCache(this.rv);
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

  public registerBuiltins(): void {
    const core = { group: '', version: 'v1', unconditionalUpdate: true };
    this.register({
      ...core,
      plural: 'pods',
      singular: 'pod',
      kind: 'Pod',
      namespaced: true,
      statusSubresource: true,
      fieldLabels: POD_FIELDS,
    });
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
      this.register({
        group,
        version,
        plural,
        singular: kind.toLowerCase(),
        kind,
        namespaced,
        statusSubresource,
        unconditionalUpdate,
        nameRule,
      });
    }
  }

  /**
   * The resource of a kind, as a client's REST mapper finds it through discovery: custom kinds
   * only once their CRD is Established (`no matches for kind` before).
   */
  public resourceForKind(apiVersion: string, kind: string): ResourceInfo {
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

  public crdResource(): ResourceInfo {
    return this.byKind.get('apiextensions.k8s.io/v1#CustomResourceDefinition') as ResourceInfo;
  }

  public crdCondition(crdName: string, type: string): boolean {
    const crd = this.crdResource().store.get(crdName)?.obj;
    const conditions = (crd?.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions ?? [];
    return conditions.some((c) => c.type === type && c.status === 'True');
  }

  public crdEstablished(crdName: string): boolean {
    return this.crdCondition(crdName, 'Established');
  }

  /** Assigns the next resourceVersion, stores, records history and notifies watchers. */
  public commit(res: ResourceInfo, type: EventType, key: string, obj: EmulatedObject, prev: Entry | undefined): void {
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
    this.onCommit(event);
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
  public select(
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
  public list(route: Route, q: URLSearchParams): string {
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
      invalidKind('meta.k8s.io', 'ListOptions', '', [
        fieldError.forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden unless resourceVersion is provided'),
      ]);
    }
    if (match !== '' && match !== 'Exact' && match !== 'NotOlderThan') {
      invalidKind('meta.k8s.io', 'ListOptions', '', [fieldError.notSupported('resourceVersionMatch', match, ['Exact', 'NotOlderThan'])]);
    }
    if (cont && (rvParam !== '' || match !== '')) {
      invalidKind('meta.k8s.io', 'ListOptions', '', [
        fieldError.forbidden('resourceVersion', 'specifying resource version is not allowed when using continue'),
      ]);
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
      if (typeof token.rv !== 'number' || typeof token.start !== 'string')
        return badRequest('continue key is not valid: incorrect encoded start resourceVersion');
      // rv -1: continue at the latest revision, as an inconsistent continuation (etcd3 errors.go).
      if (token.rv !== -1 && token.rv < this.compactedRv) this.continueExpired(token.start);
      listRv = token.rv === -1 ? this.rv : token.rv;
      startAfter = token.start.endsWith('\u0000') ? token.start.slice(0, -1) : token.start;
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

  public tooLarge(rv: number): never {
    // storage errors.go `NewTooLargeResourceVersionError`: a 504 with a cause and Retry-After 1.
    return fail(504, 'Timeout', `Too large resource version: ${rv}, current: ${this.rv}`, {
      causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
      retryAfterSeconds: 1,
    });
  }

  /**
   * etcd compaction as kube-apiserver drives it (apiserver storage/etcd3/compact.go): every
   * interval, compact to the revision seen at the previous interval, so a revision stays
   * readable for one to two intervals.
   */
  public scheduleCompaction(): void {
    if (this.compactionTimer || this.compactionIntervalMs === 0) return;
    this.lastCompactionMark = this.rv;
    this.compactionTimer = setInterval(() => {
      this.compactEtcd(this.lastCompactionMark);
      this.lastCompactionMark = this.rv;
    }, this.compactionIntervalMs);
    this.compactionTimer.unref();
  }

  public compactEtcd(target: number): void {
    if (target <= this.compactedRv) return;
    while (this.historyHead < this.history.length && this.history[this.historyHead].rv <= target) this.historyHead++;
    this.compactedRv = target;
    this.trimHistoryArray();
  }
}

export function keyOf(namespace: string | undefined, name: string): string {
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

/** A continue token: the revision of the first page and the key to start after (apiserver storage `EncodeContinue`). */
function continueToken(rv: number, lastKey: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start: `${lastKey}\u0000` })).toString('base64url');
}

/** The stored object a route names, or 404. */
export function entryOf(route: Route): Entry {
  const entry = route.res.store.get(keyOf(route.namespace, route.name ?? ''));
  return entry ?? notFound(route.res, route.name ?? '');
}
