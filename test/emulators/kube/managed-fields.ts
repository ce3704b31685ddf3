/**
 * Field ownership (`metadata.managedFields`) and server-side apply, after
 * kubernetes-sigs/structured-merge-diff (merge/update.go, `Updater.Apply`, `Updater.Update`,
 * `Updater.prune`) as wired by k8s.io/apimachinery/pkg/util/managedfields/internal (v0.33):
 *
 * - a field set holds *members*: leaf values (scalars, atomic lists and maps, empty maps) and
 *   the items of associative lists (`k:{...}`) and sets (`v:...`); granular maps are only
 *   containers (fieldpath.Set / `ToFieldSet`);
 * - an update (create, PUT, patch) gives its manager every member it added or changed and
 *   takes them from everyone else, and removed members leave every set (`Updater.Update`
 *   calls `update(..., force=true)`);
 * - an apply merges the configuration into the live object, makes the manager own exactly
 *   the configuration's members, prunes what it applied last time but no longer does and
 *   nobody else owns, and conflicts (409) on every member another manager owns whose value
 *   the apply would add or change, unless forced (`Updater.Apply` → `update(..., force)`);
 * - apiVersion, kind and the server-owned metadata are never owned (stripmeta.go);
 * - managers are identified by manager, operation, subresource and, for updates only, the
 *   API version (`BuildManagerIdentifier`), and sorted Apply first, then by time and name
 *   (`sortEncodedManagedFields`). The ten-update-manager cap (capmanagers.go) is not modelled.
 */

type Obj = Record<string, unknown>;

/** How the list at a field path merges (`x-kubernetes-list-type`; `atomic` when unset). */
export type ListType =
  | { readonly kind: 'atomic' }
  | { readonly kind: 'set' }
  | { readonly kind: 'map'; readonly keys: readonly string[]; readonly defaults?: Readonly<Obj> };

/** Schema facts the merge needs; `path` holds field names only (list items are skipped). */
export interface FieldTypes {
  list(path: readonly string[]): ListType;
  /** `x-kubernetes-map-type: atomic` (or a struct marked atomic): replaced as a whole. */
  atomicMap(path: readonly string[]): boolean;
  /**
   * A map of arbitrary keys (labels, data, `additionalProperties`) rather than a struct: an
   * update that adds the map owns the map itself too (shown as `"."` in FieldsV1).
   */
  freeMap(path: readonly string[]): boolean;
}

export const GRANULAR: FieldTypes = { list: () => ({ kind: 'atomic' }), atomicMap: () => false, freeMap: () => false };

const MAP = '\u0000map';

/** One managedFields entry with its decoded field set (members keyed by `key(path)`). */
export interface ManagerEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  subresource?: string;
  time?: string;
  set: Set<string>;
}

export interface Conflict {
  readonly manager: ManagerEntry;
  readonly path: string;
}

export class ApplyConflictError extends Error {
  constructor(public readonly conflicts: readonly Conflict[]) {
    super(conflictMessage(conflicts));
  }
}

type PathElement = string; // 'f:name' | 'k:{...}' | 'v:<json>'
const key = (path: readonly PathElement[]): string => JSON.stringify(path);
const unkey = (k: string): PathElement[] => JSON.parse(k) as PathElement[];

/**
 * A deep copy through JSON: objects stay plain objects of this realm (structuredClone would
 * give another realm's objects under test runners, which the CEL interpreter refuses).
 */
function cloneJson<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

function isMap(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function itemKey(item: unknown, list: Extract<ListType, { kind: 'map' }>): string | undefined {
  if (!isMap(item)) return undefined;
  const out: Obj = {};
  for (const k of [...list.keys].sort()) {
    const v = item[k] ?? list.defaults?.[k];
    if (v === undefined) return undefined;
    out[k] = v;
  }
  return `k:${JSON.stringify(out)}`;
}

const ITEM = '\u0000item';

/**
 * Every member of `value` with the JSON of its value (list items carry a marker: an item is
 * not "modified", its fields are).
 */
function flatten(
  value: unknown,
  types: FieldTypes,
  fieldPath: string[],
  path: PathElement[],
  out: Map<string, string>,
  maps = false,
): void {
  if (value === undefined) return;
  if (isMap(value) && !types.atomicMap(fieldPath)) {
    const keys = Object.keys(value).filter((k) => value[k] !== undefined);
    if (keys.length === 0 && path.length > 0) out.set(key(path), '{}');
    else if (maps && path.length > 0 && types.freeMap(fieldPath)) out.set(key(path), MAP);
    for (const k of keys) flatten(value[k], types, [...fieldPath, k], [...path, `f:${k}`], out, maps);
    return;
  }
  if (Array.isArray(value)) {
    const list = types.list(fieldPath);
    if (list.kind === 'map') {
      for (const item of value) {
        const k = itemKey(item, list);
        if (k === undefined) {
          // An item without its keys cannot be tracked on its own: the list is owned whole.
          out.set(key(path), JSON.stringify(value));
          return;
        }
        out.set(key([...path, k]), ITEM);
        for (const [f, v] of Object.entries(item as Obj)) flatten(v, types, [...fieldPath, f], [...path, k, `f:${f}`], out, maps);
      }
      return;
    }
    if (list.kind === 'set') {
      for (const item of value) out.set(key([...path, `v:${JSON.stringify(item)}`]), ITEM);
      return;
    }
  }
  out.set(key(path), JSON.stringify(value));
}

/** Members with their values; `maps` adds free-form maps themselves (what comparisons report as added or removed). */
export function fieldSet(value: unknown, types: FieldTypes, maps = false): Map<string, string> {
  const out = new Map<string, string>();
  flatten(value, types, [], [], out, maps);
  return out;
}

interface Comparison {
  readonly added: Set<string>;
  readonly modified: Set<string>;
  readonly removed: Set<string>;
}

function compare(oldObj: unknown, newObj: unknown, types: FieldTypes, ignore: (path: PathElement[]) => boolean): Comparison {
  const before = fieldSet(oldObj, types, true);
  const after = fieldSet(newObj, types, true);
  const added = new Set<string>();
  const modified = new Set<string>();
  const removed = new Set<string>();
  for (const [k, v] of after) {
    if (ignore(unkey(k))) continue;
    const was = before.get(k);
    if (was === undefined) added.add(k);
    else if (was !== v) modified.add(k);
  }
  for (const k of before.keys()) if (!after.has(k) && !ignore(unkey(k))) removed.add(k);
  return { added, modified, removed };
}

/** Members of `value` that a manager can own (server-owned metadata and ignored paths left out). */
export function ownableSet(value: unknown, types: FieldTypes, ignore: (path: PathElement[]) => boolean): Set<string> {
  const out = new Set<string>();
  for (const k of fieldSet(value, types).keys()) if (!ignore(unkey(k))) out.add(k);
  return out;
}

/** Paths never owned: typemeta and server-owned metadata (stripmeta.go). */
const STRIPPED_META = new Set([
  'name',
  'namespace',
  'creationTimestamp',
  'selfLink',
  'uid',
  'clusterName',
  'generation',
  'managedFields',
  'resourceVersion',
]);

export function strippedPath(path: readonly PathElement[]): boolean {
  if (path.length === 0) return true;
  if (path[0] === 'f:apiVersion' || path[0] === 'f:kind') return true;
  if (path[0] === 'f:metadata') return path.length === 1 || STRIPPED_META.has(path[1].slice(2));
  return false;
}

// ---------------------------------------------------------------------------------------------
// Merging and pruning

/** The configuration merged into the live object (typed merge of structured-merge-diff). */
export function merge(live: unknown, config: unknown, types: FieldTypes, fieldPath: string[] = []): unknown {
  if (config === undefined) return live;
  if (isMap(config) && isMap(live) && !types.atomicMap(fieldPath)) {
    const out: Obj = { ...live };
    for (const [k, v] of Object.entries(config)) out[k] = merge(live[k], v, types, [...fieldPath, k]);
    return out;
  }
  if (Array.isArray(config) && Array.isArray(live)) {
    const list = types.list(fieldPath);
    if (list.kind === 'map') {
      const fromConfig = new Map<string, unknown>();
      for (const item of config) {
        const k = itemKey(item, list);
        if (k === undefined) return cloneJson(config);
        fromConfig.set(k, item);
      }
      const out: unknown[] = [];
      const seen = new Set<string>();
      for (const item of live) {
        const k = itemKey(item, list);
        if (k !== undefined && fromConfig.has(k)) {
          out.push(mergeItem(item as Obj, fromConfig.get(k) as Obj, types, fieldPath));
          seen.add(k);
        } else out.push(item);
      }
      for (const [k, item] of fromConfig) if (!seen.has(k)) out.push(cloneJson(item));
      return out;
    }
    if (list.kind === 'set') {
      const out = [...live];
      const have = new Set(live.map((v) => JSON.stringify(v)));
      for (const v of config) if (!have.has(JSON.stringify(v))) out.push(v);
      return out;
    }
  }
  return cloneJson(config);
}

function mergeItem(live: Obj, config: Obj, types: FieldTypes, fieldPath: string[]): Obj {
  const out: Obj = { ...live };
  for (const [k, v] of Object.entries(config)) out[k] = merge(live[k], v, types, [...fieldPath, k]);
  return out;
}

/** Removes the member at `path` (a field, a list item or a set value) from a deep copy. */
function removePath(value: unknown, path: PathElement[], types: FieldTypes, fieldPath: string[] = []): unknown {
  if (path.length === 0) return undefined;
  const [head, ...rest] = path;
  if (head.startsWith('f:') && isMap(value)) {
    const name = head.slice(2);
    if (!(name in value)) return value;
    const out: Obj = { ...value };
    if (rest.length === 0) delete out[name];
    else out[name] = removePath(value[name], rest, types, [...fieldPath, name]);
    return out;
  }
  if (Array.isArray(value)) {
    const list = types.list(fieldPath);
    if (head.startsWith('k:') && list.kind === 'map') {
      const out: unknown[] = [];
      for (const item of value) {
        if (itemKey(item, list) !== head) out.push(item);
        else if (rest.length > 0) out.push(removePath(item, rest, types, fieldPath));
      }
      return out;
    }
    if (head.startsWith('v:')) return value.filter((v) => `v:${JSON.stringify(v)}` !== head);
  }
  return value;
}

/** Every prefix of every member (the named fields that lead to it). */
function withAncestors(set: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const k of set) {
    const path = unkey(k);
    for (let i = 1; i <= path.length; i++) out.add(key(path.slice(0, i)));
  }
  return out;
}

/**
 * Drops what `manager` applied last time and not this time, unless another manager owns it
 * or something inside it (prune, addBackOwnedItems, addBackDanglingItems).
 */
function prune(merged: unknown, lastSet: Set<string>, keep: Set<string>, types: FieldTypes): unknown {
  let out = merged;
  const candidates = [...withAncestors(lastSet)].filter((k) => !keep.has(k)).map(unkey);
  // Parents first: removing a parent removes its children with it.
  candidates.sort((a, b) => a.length - b.length);
  const removed: string[][] = [];
  for (const path of candidates) {
    if (removed.some((r) => r.every((e, i) => path[i] === e))) continue;
    out = removePath(out, path, types);
    removed.push(path);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Operations

export interface OperationContext {
  readonly types: FieldTypes;
  /** Paths left out of every set: stripped metadata, and status or spec depending on the endpoint. */
  readonly ignore: (path: readonly string[]) => boolean;
  readonly apiVersion: string;
  readonly subresource?: string;
  readonly now: string;
}

function sameManager(e: ManagerEntry, manager: string, operation: 'Apply' | 'Update', ctx: OperationContext): boolean {
  return (
    e.manager === manager &&
    e.operation === operation &&
    (e.subresource ?? '') === (ctx.subresource ?? '') &&
    (operation === 'Apply' || e.apiVersion === ctx.apiVersion)
  );
}

/** Ownership after an update (create, PUT, merge or JSON patch) by `manager`. */
export function recordUpdate(
  live: unknown,
  next: unknown,
  managers: readonly ManagerEntry[],
  manager: string,
  ctx: OperationContext,
): ManagerEntry[] {
  const { added, modified, removed } = compare(live, next, ctx.types, ctx.ignore);
  const changed = new Set([...added, ...modified]);
  const out: ManagerEntry[] = [];
  let mine: ManagerEntry | undefined;
  for (const e of managers) {
    if (sameManager(e, manager, 'Update', ctx)) {
      mine = e;
      continue;
    }
    const set = new Set([...e.set].filter((k) => !changed.has(k) && !removed.has(k)));
    if (set.size > 0) out.push({ ...e, set });
  }
  const set = new Set([...(mine?.set ?? [])].filter((k) => !removed.has(k)));
  for (const k of changed) set.add(k);
  // The time moves only when this operation took fields (managedfieldsupdater.go).
  const time = changed.size > 0 ? ctx.now : mine?.time;
  if (set.size > 0) out.push({ manager, operation: 'Update', apiVersion: ctx.apiVersion, subresource: ctx.subresource, time, set });
  return sortManagers(out);
}

/**
 * Server-side apply of `config` by `manager`: the merged object and the new ownership, or an
 * `ApplyConflictError` naming every conflicting member and manager.
 */
export function recordApply(
  live: unknown,
  config: unknown,
  managers: readonly ManagerEntry[],
  manager: string,
  force: boolean,
  ctx: OperationContext,
): { object: unknown; managers: ManagerEntry[] } {
  const configSet = ownableSet(config, ctx.types, ctx.ignore);
  const previous = managers.find((e) => sameManager(e, manager, 'Apply', ctx));
  const others = managers.filter((e) => e !== previous);
  let object = merge(live, config, ctx.types);
  if (previous) {
    const keep = withAncestors([...configSet, ...others.flatMap((e) => [...e.set])]);
    object = prune(object, previous.set, keep, ctx.types);
  }
  const { added, modified, removed } = compare(live, object, ctx.types, ctx.ignore);
  const changed = new Set([...added, ...modified]);
  const conflicts: Conflict[] = [];
  for (const e of others) for (const k of e.set) if (changed.has(k)) conflicts.push({ manager: e, path: pathString(unkey(k)) });
  if (conflicts.length > 0 && !force) throw new ApplyConflictError(conflicts);
  const out: ManagerEntry[] = [];
  for (const e of others) {
    const set = new Set([...e.set].filter((k) => !changed.has(k) && !removed.has(k)));
    if (set.size > 0) out.push({ ...e, set });
  }
  if (configSet.size > 0)
    out.push({ manager, operation: 'Apply', apiVersion: ctx.apiVersion, subresource: ctx.subresource, time: ctx.now, set: configSet });
  return { object, managers: sortManagers(out) };
}

function sortManagers(entries: ManagerEntry[]): ManagerEntry[] {
  const seconds = (t?: string) => (t ? Math.floor(Date.parse(t) / 1000) : 0);
  return entries.sort(
    (p, q) =>
      (p.operation < q.operation ? -1 : p.operation > q.operation ? 1 : 0) ||
      seconds(p.time) - seconds(q.time) ||
      (p.manager < q.manager ? -1 : p.manager > q.manager ? 1 : 0) ||
      (p.apiVersion < q.apiVersion ? -1 : p.apiVersion > q.apiVersion ? 1 : 0) ||
      ((p.subresource ?? '') < (q.subresource ?? '') ? -1 : (p.subresource ?? '') > (q.subresource ?? '') ? 1 : 0),
  );
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** `metadata.managedFields` entries in the API's shape (FieldsV1 trees). */
export function encodeManagedFields(entries: readonly ManagerEntry[]): Obj[] {
  return entries.map((e) => {
    const out: Obj = { manager: e.manager, operation: e.operation, apiVersion: e.apiVersion };
    if (e.time) out.time = e.time;
    out.fieldsType = 'FieldsV1';
    out.fieldsV1 = encodeSet(e.set);
    if (e.subresource) out.subresource = e.subresource;
    return out;
  });
}

function encodeSet(set: Set<string>): Obj {
  const root: Obj = {};
  const members = [...set].map(unkey).sort((a, b) => a.length - b.length);
  for (const path of members) {
    let node = root;
    for (const pe of path) {
      if (!isMap(node[pe])) node[pe] = {};
      node = node[pe] as Obj;
    }
    // A member that also has children is marked with ".".
    if (Object.keys(node).length > 0) node['.'] = {};
  }
  // Members first created as leaves and later given children need the marker too.
  const mark = (node: Obj, path: PathElement[]): void => {
    for (const [pe, child] of Object.entries(node)) {
      if (pe === '.' || !isMap(child)) continue;
      const p = [...path, pe];
      if (Object.keys(child).length > 0 && set.has(key(p))) child['.'] = {};
      mark(child, p);
    }
  };
  mark(root, []);
  return root;
}

function decodeSet(tree: unknown, path: PathElement[] = [], out = new Set<string>()): Set<string> {
  if (!isMap(tree)) return out;
  for (const [pe, child] of Object.entries(tree)) {
    if (pe === '.') {
      out.add(key(path));
      continue;
    }
    const p = [...path, pe];
    if (isMap(child) && Object.keys(child).length === 0) out.add(key(p));
    else decodeSet(child, p, out);
  }
  return out;
}

/** Decodes `metadata.managedFields`; undefined when it is not a valid list of entries. */
export function decodeManagedFields(value: unknown): ManagerEntry[] | undefined {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return undefined;
  const out: ManagerEntry[] = [];
  for (const e of value) {
    if (!isMap(e)) return undefined;
    if (Object.keys(e).length === 0) continue;
    if (typeof e.manager !== 'string' || (e.operation !== 'Apply' && e.operation !== 'Update')) return undefined;
    out.push({
      manager: e.manager,
      operation: e.operation,
      apiVersion: typeof e.apiVersion === 'string' ? e.apiVersion : '',
      subresource: typeof e.subresource === 'string' && e.subresource !== '' ? e.subresource : undefined,
      time: typeof e.time === 'string' ? e.time : undefined,
      set: decodeSet(e.fieldsV1),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Messages (managedfields/internal/conflict.go)

/** A field path as fieldpath.Path.String prints it: `.spec.ports[port=80,protocol="TCP"].name`. */
export function pathString(path: readonly PathElement[]): string {
  return path
    .map((pe) => {
      if (pe.startsWith('f:')) return `.${pe.slice(2)}`;
      if (pe.startsWith('k:')) {
        const fields = JSON.parse(pe.slice(2)) as Obj;
        return `[${Object.entries(fields)
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join(',')}]`;
      }
      if (pe.startsWith('v:')) return `[=${pe.slice(2)}]`;
      return pe;
    })
    .join('');
}

/** `printManager`: appliers by name; updaters by name, subresource and API version. */
export function printManager(e: ManagerEntry): string {
  let s = JSON.stringify(e.manager);
  if (e.subresource) s += ` with subresource ${JSON.stringify(e.subresource)}`;
  if (e.operation === 'Update') s += ` using ${e.apiVersion}`;
  return s;
}

/**
 * The 409 message (apimachinery pkg/util/managedfields/internal/conflict.go `getConflictMessage`):
 * one conflict on one line; several grouped by manager identifier in sorted order, each path
 * on a `- ` line (upstream in field-set order, here sorted by text).
 */
function conflictMessage(conflicts: readonly Conflict[]): string {
  if (conflicts.length === 1)
    return `Apply failed with 1 conflict: conflict with ${printManager(conflicts[0].manager)}: ${conflicts[0].path}`;
  const byManager = new Map<string, { entry: ManagerEntry; paths: string[] }>();
  for (const c of conflicts) {
    const id = JSON.stringify([
      c.manager.manager,
      c.manager.operation,
      c.manager.operation === 'Update' ? c.manager.apiVersion : '',
      c.manager.subresource ?? '',
    ]);
    const g = byManager.get(id) ?? { entry: c.manager, paths: [] };
    g.paths.push(c.path);
    byManager.set(id, g);
  }
  const lines: string[] = [];
  for (const id of [...byManager.keys()].sort()) {
    const g = byManager.get(id) as { entry: ManagerEntry; paths: string[] };
    lines.push(`conflicts with ${printManager(g.entry)}:`);
    for (const p of g.paths.sort()) lines.push(`- ${p}`);
  }
  return `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
}
