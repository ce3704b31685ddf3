/**
 * What a write goes through before it is stored: decoding conversions (canonical quantities,
 * Secret `stringData`), pruning of custom resources, validation (names, labels and
 * annotations, ConfigMap and Secret payloads, CRDs and their structural schemas, custom
 * resources against their schema and CEL rules), Pod Security admission, and the etcd size limit.
 */
import { canonicalQuantity, QuantityError } from '../../../lib/k8s/quantity';
import { CustomResourceValidator, structuralErrors } from './crd-schema';
import { badRequest, fail, invalid, invalidKind } from './errors';
import { FieldError, fieldError } from './field-errors';
import { deepEqual, isPlainObject } from './json';
import { evaluatePodSpec, namespacePolicy, significantPodUpdate } from './pod-security-admission';
import type { EmulatedObject, NameRule, ResourceInfo, SchemaNode, WriteContext } from './store';

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
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

/**
 * Drops fields a structural schema does not declare, as the API server does before storing
 * (apiextensions-apiserver pkg/apiserver/schema/pruning/algorithm.go).
 */
export function prune(value: unknown, schema: SchemaNode | undefined): void {
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
      if (typeof v !== 'string' && typeof v !== 'number')
        badRequest(`${res.kind} in version "${res.version}" cannot be handled as a ${res.kind}: quantities must be strings or numbers`);
      try {
        m[k] = canonicalQuantity(String(v));
      } catch (e) {
        if (e instanceof QuantityError)
          badRequest(`${res.kind} in version "${res.version}" cannot be handled as a ${res.kind}: ${e.message}`);
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
      if (field === 'data' && !isSecret && k in binary)
        errs.push(fieldError.invalid(`data[${k}]`, k, 'duplicate of key present in binaryData'));
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

/** CRD validation (apiextensions-apiserver pkg/apis/apiextensions/validation/validation.go), structural schemas included. */
export function validateCrd(crd: EmulatedObject): void {
  const name = crd.metadata.name ?? '';
  const spec = crd.spec as Record<string, unknown> | undefined;
  const errs: FieldError[] = [];
  const names = (spec?.names ?? {}) as Record<string, unknown>;
  if (!spec || typeof spec.group !== 'string' || !DNS1123_SUBDOMAIN.test(spec.group) || !spec.group.includes('.')) {
    errs.push(fieldError.invalid('spec.group', spec?.group ?? '', 'should be a domain with at least one dot'));
  }
  if (typeof names.plural !== 'string' || !DNS1123_LABEL.test(names.plural)) errs.push(fieldError.required('spec.names.plural'));
  if (typeof names.kind !== 'string' || names.kind === '') errs.push(fieldError.required('spec.names.kind'));
  if (spec?.scope !== 'Namespaced' && spec?.scope !== 'Cluster')
    errs.push(fieldError.notSupported('spec.scope', spec?.scope ?? '', ['Cluster', 'Namespaced']));
  const versions = Array.isArray(spec?.versions) ? (spec.versions as Record<string, unknown>[]) : [];
  if (versions.filter((v) => v.storage === true).length !== 1)
    errs.push(fieldError.invalid('spec.versions', 'array', 'must have exactly one version marked as storage version'));
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

/** Conversions done while decoding a request body into the internal type. */
export function decode(res: ResourceInfo, obj: EmulatedObject): void {
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

export function validateObject(res: ResourceInfo, obj: EmulatedObject, old: EmulatedObject | undefined): void {
  const name = obj.metadata.name ?? '';
  const errs: FieldError[] = [...nameErrors(name, res.nameRule)];
  for (const field of ['labels', 'annotations'] as const) {
    const m = obj.metadata[field];
    if (m === undefined) continue;
    if (!isPlainObject(m) || Object.values(m).some((v) => typeof v !== 'string'))
      errs.push(fieldError.invalid(`metadata.${field}`, 'object', 'must be a map of strings'));
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
export function admit(
  res: ResourceInfo,
  obj: EmulatedObject,
  old: EmulatedObject | undefined,
  ctx: WriteContext,
  namespaceLabels: Record<string, string> | undefined,
): void {
  if (ctx.subresource) return;
  const isPod = res.group === '' && res.kind === 'Pod';
  const isWorkload = res.group === 'apps' && res.kind === 'Deployment';
  if (!isPod && !isWorkload) return;
  const policy = namespacePolicy(namespaceLabels);
  const spec = isPod ? obj.spec : isPlainObject(obj.spec) && isPlainObject(obj.spec.template) ? obj.spec.template.spec : undefined;
  if (!isPlainObject(spec)) return;
  if (isPod) {
    if (old && isPlainObject(old.spec) && !significantPodUpdate(spec, old.spec)) return;
    const violation = evaluatePodSpec(policy.enforce, spec);
    if (violation) {
      fail(
        403,
        'Forbidden',
        `pods "${obj.metadata.name ?? ''}" is forbidden: violates PodSecurity "${policy.enforce}:${policy.enforceVersion}": ${violation}`,
        {
          name: obj.metadata.name ?? '',
          kind: 'pods',
        },
      );
    }
  }
  const warn = evaluatePodSpec(policy.warn, spec);
  if (warn) ctx.warnings.push(`would violate PodSecurity "${policy.warn}:${policy.warnVersion}": ${warn}`);
}

export function pruneSchema(res: ResourceInfo): SchemaNode | undefined {
  const s = res.schema?.openApi;
  if (!s) return undefined;
  // apiVersion, kind and metadata are the server's, never pruned by the CRD schema.
  return {
    ...s,
    properties: {
      ...((s.properties as object) ?? {}),
      apiVersion: {},
      kind: {},
      metadata: { 'x-kubernetes-preserve-unknown-fields': true },
    },
  };
}

/** The etcd request limit; non-apply writes retry without managedFields first (handlers/create.go, update.go, patch.go). */
export function checkSize(obj: EmulatedObject, retryWithoutManagedFields: boolean): void {
  if (Buffer.byteLength(JSON.stringify(obj)) <= MAX_OBJECT_BYTES) return;
  if (retryWithoutManagedFields && obj.metadata.managedFields) {
    delete obj.metadata.managedFields;
    if (Buffer.byteLength(JSON.stringify(obj)) <= MAX_OBJECT_BYTES) return;
  }
  fail(500, '', 'etcdserver: request is too large');
}
