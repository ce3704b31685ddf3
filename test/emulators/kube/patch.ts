/**
 * Writes that change part of an object: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
 * server-side apply with field managers, conflicts and force, plus the field ownership every
 * write records in `metadata.managedFields` and the merge types (associative lists, atomic
 * maps) of the kinds served.
 */
import * as YAML from 'yaml';
import { badRequest, fail, invalidKind, notFound } from './errors';
import { fieldError } from './field-errors';
import { cloneJson, deepEqual, isPlainObject, now, parseJson } from './json';
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
import { EmulatedObject, ResourceInfo, Route, SchemaNode, WriteContext, WritePath, entryOf, keyOf } from './store';
import { decode } from './validation';

// PATCH HEADER

/** RFC 7386 JSON merge patch; returns a new value and leaves `target` untouched. */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

/** RFC 6902 JSON patch on a private deep copy. */
export function applyJsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) return badRequest('json patch must be an array of operations');
  let doc = cloneJson(target);
  const parse = (p: unknown): string[] => {
    if (typeof p !== 'string' || (p !== '' && !p.startsWith('/'))) return badRequest(`json patch: invalid path ${JSON.stringify(p)}`);
    return p === ''
      ? []
      : p
          .slice(1)
          .split('/')
          .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
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

/** Merge types of a custom resource from its schema (`x-kubernetes-list-type`, `-list-map-keys`, `-map-type`). */
export function schemaTypes(openApi: SchemaNode): FieldTypes {
  const at = (fieldPath: readonly string[]): SchemaNode | undefined => {
    let s: SchemaNode | undefined = openApi;
    for (const f of fieldPath) {
      // Items of lists are transparent in field paths.
      while (s && s.type === 'array' && isPlainObject(s.items)) s = s.items as SchemaNode;
      if (!s) return undefined;
      const props: Record<string, SchemaNode> | undefined = isPlainObject(s.properties)
        ? (s.properties as Record<string, SchemaNode>)
        : undefined;
      s = props?.[f] ?? (isPlainObject(s.additionalProperties) ? (s.additionalProperties as SchemaNode) : undefined);
    }
    return s;
  };
  return {
    list: (fieldPath) => {
      const s = at(fieldPath);
      const t = s?.['x-kubernetes-list-type'];
      if (t === 'set') return { kind: 'set' };
      if (t === 'map' && Array.isArray(s?.['x-kubernetes-list-map-keys']))
        return { kind: 'map', keys: s?.['x-kubernetes-list-map-keys'] as string[] };
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
  topologySpreadConstraints: { kind: 'map', keys: ['topologyKey', 'whenUnsatisfiable'] },
};

const META_LISTS: Readonly<Record<string, ListType>> = {
  'metadata.finalizers': { kind: 'set' },
  'metadata.ownerReferences': { kind: 'map', keys: ['uid'] },
  'status.conditions': { kind: 'map', keys: ['type'] },
};

/** Merge types of the built-in kinds the emulator serves. */
function builtinTypes(group: string, kind: string): FieldTypes {
  const podSpecPrefix =
    group === '' && kind === 'Pod' ? 'spec.' : group === 'apps' && kind === 'Deployment' ? 'spec.template.spec.' : undefined;
  const atomicMaps = new Set<string>();
  if (group === 'apps' && kind === 'Deployment') atomicMaps.add('spec.selector');
  if (group === 'policy') atomicMaps.add('spec.selector');
  if (group === 'rbac.authorization.k8s.io') atomicMaps.add('roleRef');
  return {
    list: (fieldPath) => {
      const p = fieldPath.join('.');
      if (META_LISTS[p]) return META_LISTS[p];
      if (podSpecPrefix && p.startsWith(podSpecPrefix) && POD_SPEC_LISTS[p.slice(podSpecPrefix.length)])
        return POD_SPEC_LISTS[p.slice(podSpecPrefix.length)];
      if (group === '' && kind === 'Pod' && p === 'status.podIPs') return { kind: 'map', keys: ['ip'] };
      if (group === '' && kind === 'Service' && p === 'spec.ports')
        return { kind: 'map', keys: ['port', 'protocol'], defaults: { protocol: 'TCP' } };
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

/** Merge types of a resource: its CRD schema's, granular for a custom resource without one, else the built-in kind's. */
function fieldTypes(res: ResourceInfo): FieldTypes {
  return res.schema?.types ?? (res.crdName ? GRANULAR : builtinTypes(res.group, res.kind));
}

/** What field ownership of a write through this endpoint needs to know. */
function operationContext(res: ResourceInfo, subresource: string | undefined): OperationContext {
  // Fields reset by the endpoint are never owned through it: status on the main resource
  // when there is a status subresource, everything but status through /status.
  const ignore = (p: readonly string[]): boolean => {
    if (strippedPath(p)) return true;
    if (subresource === 'status') return p[0] !== 'f:status';
    return res.statusSubresource && p[0] === 'f:status';
  };
  return { types: fieldTypes(res), ignore, apiVersion: res.apiVersion, subresource, now: now() };
}

/** Records the update's field ownership on `next` (managedfields `Update`). */
export function trackUpdate(
  res: ResourceInfo,
  old: EmulatedObject | undefined,
  next: EmulatedObject,
  supplied: unknown,
  ctx: WriteContext,
): void {
  // A request may reset managedFields by sending its own list; otherwise the live one stands.
  const base =
    (supplied !== undefined ? decodeManagedFields(supplied) : undefined) ?? decodeManagedFields(old?.metadata.managedFields) ?? [];
  const stripForCompare = (o: EmulatedObject | undefined) =>
    o ? { ...o, metadata: { ...o.metadata, managedFields: undefined } } : undefined;
  const managers = recordUpdate(stripForCompare(old), stripForCompare(next), base, ctx.manager, operationContext(res, ctx.subresource));
  setManagedFields(next, managers);
}

export function setManagedFields(obj: EmulatedObject, managers: readonly ManagerEntry[]): void {
  if (managers.length === 0) delete obj.metadata.managedFields;
  else obj.metadata.managedFields = encodeManagedFields(managers);
}

/**
 * Server-side apply (apiserver endpoints/handlers/patch.go `applyPatcher`, managedfields
 * `FieldManager.Apply`): creates the object when it does not exist, otherwise merges the
 * configuration into it; 409 with the conflicting managers unless `force`.
 */
export function serverSideApplyAt(
  writes: WritePath,
  route: { res: ResourceInfo; namespace?: string; name: string; subresource?: string },
  config: EmulatedObject,
  force: boolean,
  ctx: WriteContext,
): { stored: EmulatedObject; created: boolean } {
  const { res, name } = route;
  if (config.apiVersion !== res.apiVersion) {
    badRequest(
      `Incorrect version specified in apply patch. Specified patch version: ${String(config.apiVersion)}, expected: ${res.apiVersion}`,
    );
  }
  if (config.kind !== res.kind) badRequest(`${res.kind} in version "${res.version}" cannot be handled as a ${String(config.kind)}`);
  if (!isPlainObject(config.metadata)) config.metadata = {};
  if (config.metadata.managedFields !== undefined) badRequest('metadata.managedFields must be nil');
  if (config.metadata.name !== undefined && config.metadata.name !== name)
    badRequest(`the name of the object (${String(config.metadata.name)}) does not match the name on the URL (${name})`);
  const ns = config.metadata.namespace;
  if (res.namespaced && ns !== undefined && ns !== '' && ns !== route.namespace)
    badRequest('the namespace of the provided object does not match the namespace sent on the request');
  const precondition =
    typeof config.metadata.resourceVersion === 'string' && config.metadata.resourceVersion !== ''
      ? config.metadata.resourceVersion
      : undefined;
  decode(res, config);
  const opCtx = operationContext(res, route.subresource);
  const existing = res.store.get(keyOf(route.namespace, name));
  if (!existing) {
    if (precondition !== undefined) notFound(res, name);
    // Applying to nothing: the object as configured, owned by the applier.
    const { object, managers } = recordApply({}, { ...config, metadata: { ...config.metadata, name } }, [], ctx.manager, force, opCtx);
    const stored = writes.writeCreate(res, object as EmulatedObject, route.namespace, ctx, {
      keepStatus: !res.statusSubresource,
      applied: managers,
    });
    return { stored, created: true };
  }
  const live = existing.obj;
  const liveManagers = decodeManagedFields(live.metadata.managedFields) ?? [];
  const strip = (o: EmulatedObject) => ({ ...o, metadata: { ...o.metadata, managedFields: undefined, resourceVersion: undefined } });
  let result: { object: unknown; managers: ManagerEntry[] };
  try {
    result = recordApply(
      strip(live),
      { ...config, metadata: { ...config.metadata, resourceVersion: undefined } },
      liveManagers,
      ctx.manager,
      force,
      opCtx,
    );
  } catch (e) {
    if (e instanceof ApplyConflictError) {
      // managedfields/internal/conflict.go `NewConflictError`.
      fail(409, 'Conflict', e.message, {
        causes: e.conflicts.map((c) => ({
          reason: 'FieldManagerConflict',
          message: `conflict with ${printManager(c.manager)}`,
          field: c.path,
        })),
      });
    }
    throw e;
  }
  const merged = result.object as EmulatedObject;
  merged.metadata = { ...merged.metadata, managedFields: undefined };
  setManagedFields(merged, result.managers);
  const stored = writes.writeUpdate(res, existing, merged, ctx, {
    keepStatus: route.subresource === undefined,
    onlyStatus: route.subresource === 'status',
    precondition,
    apply: true,
  });
  return { stored, created: false };
}

/**
 * A PATCH request: server-side apply (`application/apply-patch+yaml`), JSON merge patch or JSON
 * patch; strategic merge patch is not modelled (415). `authorizeCreate` is called when an apply
 * would create the object, which needs the create verb too.
 */
export function patchRequest(
  writes: WritePath,
  route: Route,
  contentType: string,
  raw: Buffer,
  q: URLSearchParams,
  ctx: WriteContext,
  authorizeCreate: () => void,
): { obj: EmulatedObject; created: boolean } {
  const res = route.res;
  const type = contentType.split(';')[0].trim();
  const force = q.get('force');
  if (type === 'application/apply-patch+yaml') {
    if (!q.get('fieldManager'))
      invalidKind('meta.k8s.io', 'PatchOptions', '', [fieldError.required('fieldManager', 'is required for apply patch')]);
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
      authorizeCreate();
    }
    const out = serverSideApplyAt(
      writes,
      { res, namespace: route.namespace, name: route.name ?? '', subresource: route.subresource },
      config as EmulatedObject,
      force === 'true' || force === '1',
      ctx,
    );
    return { obj: out.stored, created: out.created };
  }
  if (force !== null)
    invalidKind('meta.k8s.io', 'PatchOptions', '', [fieldError.forbidden('force', 'may not be specified for non-apply patch')]);
  const old = entryOf(route);
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
  const stored = writes.writeUpdate(res, old, obj, ctx, {
    keepStatus: route.subresource === undefined,
    onlyStatus: route.subresource === 'status',
    precondition,
  });
  return { obj: stored, created: false };
}
