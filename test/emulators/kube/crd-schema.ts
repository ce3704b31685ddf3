/**
 * CustomResourceDefinition schemas on the server side: the structural-schema rules a CRD must
 * meet to be accepted, and validation of custom resources against the schema and its CEL
 * rules (`x-kubernetes-validations`).
 *
 * - Structural invariants after kubernetes/apiextensions-apiserver (v0.33)
 *   pkg/apiserver/schema/validation.go `validateStructuralInvariants`: a type on every
 *   specified node (except int-or-string and preserve-unknown-fields nodes), `items` on
 *   arrays, no `additionalProperties` at the root, `object` at the root, `metadata` at the
 *   root restricted to name and generateName, and no `additionalProperties` beside
 *   `properties` (pkg/apis/apiextensions/validation/validation.go).
 * - Value errors as pkg/apiserver/validation/validation.go `kubeOpenAPIResultToFieldErrors`
 *   maps kube-openapi's: Required, NotSupported (enum), TooLong (maxLength), TooMany
 *   (maxItems), TypeInvalid, and Invalid with kube-openapi's sentence for the rest. Those
 *   sentences are reproduced for the common keywords; rarer keywords carry Ajv's wording.
 * - CEL rules after pkg/apiserver/schema/cel/validation.go: each rule runs with `self` bound
 *   to the value at its node; a false rule is `Invalid value: "<type>": <message>` (or
 *   `failed rule: <rule>`), with `reason` choosing Forbidden/Required/Duplicate and
 *   `fieldPath` appended to the path (`fieldErrorForReason`, `ruleMessageOrDefault`).
 *   Rules that use `oldSelf` run only on updates where the old value exists (transition
 *   rules). Errors that leave the object untyped block the rules (customresource/strategy.go
 *   `hasBlockingErr`). `messageExpression` and the cost budget are not modelled.
 *
 * CEL is evaluated with `@marcbachmann/cel-js`, loaded once by {@link loadCel}.
 */
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { FieldError, fieldError } from './field-errors';

type Schema = Record<string, any>;
type CelEvaluate = (expression: string, context: Record<string, unknown>) => unknown;

let celEvaluate: CelEvaluate | undefined;
let celLoadError: string | undefined;

/** Loads the CEL interpreter (an ES module) once; later calls are free. */
export async function loadCel(): Promise<void> {
  if (celEvaluate || celLoadError) return;
  try {
    const mod = (await import('@marcbachmann/cel-js')) as unknown as { evaluate?: CelEvaluate; default?: { evaluate?: CelEvaluate } };
    celEvaluate = mod.evaluate ?? mod.default?.evaluate;
    if (!celEvaluate) celLoadError = '@marcbachmann/cel-js has no evaluate()';
  } catch (e) {
    celLoadError = `@marcbachmann/cel-js could not be loaded (${(e as Error).message}); install it to validate CEL rules`;
  }
}

let ajvInstance: Ajv | undefined;
function ajv(): Ajv {
  // Kubernetes schemas carry x-kubernetes-* extensions that Ajv does not know.
  ajvInstance ??= addFormats(new Ajv({ strict: false, allErrors: true }));
  return ajvInstance;
}

const fmt = (path: readonly (string | number)[]): string =>
  path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc === '' ? p : `${acc}.${p}`), '');

// ---------------------------------------------------------------------------------------------
// Structural schema

/** Why a version's `openAPIV3Schema` is not structural; empty when it is. `at` is its field path. */
export function structuralErrors(schema: unknown, at: string): FieldError[] {
  const errs: FieldError[] = [];
  const walk = (s: Schema, path: string, level: 'root' | 'field' | 'item'): void => {
    if (!s || typeof s !== 'object') return;
    const intOrString = s['x-kubernetes-int-or-string'] === true;
    const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
    if (s.type === 'array' && s.items === undefined) errs.push(fieldError.required(`${path}.items`, 'must be specified'));
    if (s.items !== undefined) {
      if (Array.isArray(s.items) || typeof s.items !== 'object')
        errs.push(fieldError.forbidden(`${path}.items`, 'items must be a schema object and not an array'));
      else walk(s.items, `${path}.items`, 'item');
    }
    for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) walk(v, `${path}.properties[${k}]`, 'field');
    if (s.additionalProperties !== undefined && s.additionalProperties !== false) {
      if (level === 'root') errs.push(fieldError.forbidden(`${path}.additionalProperties`, 'must not be used at the root'));
      if (s.properties !== undefined)
        errs.push(fieldError.forbidden(`${path}.additionalProperties`, 'additionalProperties and properties are mutual exclusive'));
      if (typeof s.additionalProperties === 'object') walk(s.additionalProperties, `${path}.additionalProperties`, 'field');
    }
    if (!s.type && !intOrString && !preserve) {
      const where = level === 'root' ? 'at the root' : level === 'item' ? 'for specified array items' : 'for specified object fields';
      errs.push(fieldError.required(`${path}.type`, `must not be empty ${where}`));
    }
    if (level === 'root') {
      if (s.type && s.type !== 'object') errs.push(fieldError.invalid(`${path}.type`, s.type, 'must be object at the root'));
      const meta = (s.properties ?? {}).metadata as Schema | undefined;
      if (meta) {
        const extra = Object.keys(meta).filter((k) => k !== 'type' && k !== 'properties');
        const props = Object.keys(meta.properties ?? {}).filter((k) => k !== 'name' && k !== 'generateName');
        if (extra.length || props.length || (meta.type && meta.type !== 'object')) {
          errs.push(
            fieldError.forbidden(
              `${path}.properties[metadata]`,
              'must not specify anything other than name and generateName, but metadata is implicitly specified',
            ),
          );
        }
      }
    }
    for (const k of ['$ref', 'definitions', 'dependencies', 'patternProperties', 'additionalItems']) {
      if (s[k] !== undefined) errs.push(fieldError.forbidden(`${path}.${k}`, `${k} is not supported`));
    }
    if (s.uniqueItems === true)
      errs.push(
        fieldError.forbidden(`${path}.uniqueItems`, 'uniqueItems cannot be set to true since the runtime complexity becomes quadratic'),
      );
  };
  walk(schema as Schema, at, 'root');
  return errs;
}

// ---------------------------------------------------------------------------------------------
// Custom resource validation

function stripKubernetesKeywords(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(stripKubernetesKeywords);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) if (!k.startsWith('x-kubernetes-')) out[k] = stripKubernetesKeywords(v);
  // int-or-string nodes carry no type; Ajv must accept both.
  if ((schema as Schema)['x-kubernetes-int-or-string'] === true && out.type === undefined) out.type = ['integer', 'string'];
  return out;
}

function valueAt(obj: unknown, path: readonly (string | number)[]): unknown {
  let cur = obj;
  for (const p of path) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[p as string] : undefined;
  return cur;
}

const jsonType = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v;

function ajvToFieldError(e: ErrorObject, obj: unknown): FieldError {
  const segments = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const path = fmt(segments);
  const value = valueAt(obj, segments);
  const p = e.params as Record<string, any>;
  switch (e.keyword) {
    case 'required':
      return fieldError.required(path ? `${path}.${p.missingProperty}` : String(p.missingProperty));
    case 'enum':
      return fieldError.notSupported(
        path,
        value,
        (p.allowedValues as unknown[]).map((v) => (typeof v === 'string' ? v : JSON.stringify(v))),
      );
    case 'maxLength':
      return fieldError.tooLong(path, p.limit);
    case 'maxItems':
      return fieldError.tooMany(path, Array.isArray(value) ? value.length : -1, p.limit);
    case 'type':
      return fieldError.typeInvalid(
        path,
        jsonType(value),
        `${path} in body must be of type ${[p.type].flat().join(',')}: "${jsonType(value)}"`,
      );
    case 'maximum':
      return fieldError.invalid(path, value, `${path} in body should be less than or equal to ${p.limit}`);
    case 'minimum':
      return fieldError.invalid(path, value, `${path} in body should be greater than or equal to ${p.limit}`);
    case 'exclusiveMaximum':
      return fieldError.invalid(path, value, `${path} in body should be less than ${p.limit}`);
    case 'exclusiveMinimum':
      return fieldError.invalid(path, value, `${path} in body should be greater than ${p.limit}`);
    case 'minLength':
      return fieldError.invalid(path, value, `${path} in body should be at least ${p.limit} chars long`);
    case 'minItems':
      return fieldError.invalid(path, Array.isArray(value) ? value.length : value, `${path} in body should have at least ${p.limit} items`);
    case 'pattern':
      return fieldError.invalid(path, value, `${path} in body should match '${p.pattern}'`);
    case 'format':
      return fieldError.invalid(path, value, `${path} in body must be of type ${p.format}: ${JSON.stringify(value)}`);
    default:
      return fieldError.invalid(path, value ?? '', `${path} in body ${e.message ?? 'is invalid'}`);
  }
}

const CEL_TYPE: Readonly<Record<string, string>> = {
  object: 'object',
  array: 'array',
  string: 'string',
  integer: 'integer',
  number: 'number',
  boolean: 'boolean',
};

/** Validates custom resources of one CRD version: schema, then CEL rules. */
export class CustomResourceValidator {
  private readonly compiled: ValidateFunction;
  private readonly hasRules: boolean;

  constructor(private readonly schema: Schema) {
    // metadata is the server's: never validated by the CRD schema.
    const forValidation = stripKubernetesKeywords({
      ...schema,
      properties: { ...(schema.properties ?? {}), metadata: { type: 'object' } },
    }) as Schema;
    this.compiled = ajv().compile(forValidation);
    this.hasRules = JSON.stringify(schema).includes('"x-kubernetes-validations"');
  }

  /** Field errors of `obj` (and of the transition rules against `old` on updates). */
  public validate(obj: unknown, old?: unknown): FieldError[] {
    const errs: FieldError[] = [];
    if (!this.compiled(obj)) for (const e of this.compiled.errors ?? []) errs.push(ajvToFieldError(e, obj));
    if (!this.hasRules) return errs;
    // Errors that leave the object untyped block the rules (customresource/strategy.go `hasBlockingErr`).
    const blocking = ['FieldValueNotSupported', 'FieldValueRequired', 'FieldValueTooLong', 'FieldValueTooMany', 'FieldValueTypeInvalid'];
    if (errs.some((e) => blocking.includes(e.type))) {
      errs.push(
        fieldError.invalidRaw(
          '<nil>',
          '"null"',
          'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
        ),
      );
    } else this.cel(this.schema, obj, old, [], errs, true);
    return errs;
  }

  private cel(schema: Schema, value: unknown, old: unknown, path: (string | number)[], errs: FieldError[], root: boolean): void {
    if (value === undefined || value === null || !schema || typeof schema !== 'object') return;
    const rules = (schema['x-kubernetes-validations'] ?? []) as Schema[];
    if (rules.length > 0) {
      if (!celEvaluate) {
        errs.push(
          fieldError.invalidRaw(
            fmt(path) || '<root>',
            JSON.stringify(CEL_TYPE[schema.type] ?? 'object'),
            `rule compiler initialization error: ${celLoadError ?? 'CEL not loaded'}`,
          ),
        );
        return;
      }
      for (const rule of rules) {
        const transition = /\boldSelf\b/.test(String(rule.rule));
        if (transition && (old === undefined || old === null)) continue;
        let ok: unknown;
        const where = fmt(path);
        try {
          ok = celEvaluate(String(rule.rule), transition ? { self: value, oldSelf: old } : { self: value });
        } catch (e) {
          errs.push(
            fieldError.invalidRaw(
              where,
              JSON.stringify(CEL_TYPE[schema.type] ?? 'object'),
              `${(e as Error).message} evaluating rule: ${String(rule.rule)}`,
            ),
          );
          continue;
        }
        if (ok === true) continue;
        const message =
          typeof rule.message === 'string' && rule.message.trim() !== '' ? rule.message.trim() : `failed rule: ${String(rule.rule)}`;
        const field =
          typeof rule.fieldPath === 'string' && rule.fieldPath !== ''
            ? `${where}${rule.fieldPath.startsWith('.') || rule.fieldPath.startsWith('[') ? '' : '.'}${rule.fieldPath}`
            : where;
        const shown = JSON.stringify(CEL_TYPE[schema.type] ?? 'object');
        switch (rule.reason) {
          case 'FieldValueForbidden':
            errs.push(fieldError.forbidden(field, message));
            break;
          case 'FieldValueRequired':
            errs.push(fieldError.required(field, message));
            break;
          case 'FieldValueDuplicate':
            errs.push({ type: 'FieldValueDuplicate', field, body: `Duplicate value: ${shown}` });
            break;
          default:
            errs.push(fieldError.invalidRaw(field, shown, message));
        }
      }
    }
    if (typeof value !== 'object') return;
    if (Array.isArray(value)) {
      if (schema.items) value.forEach((v, i) => this.cel(schema.items, v, undefined, [...path, i], errs, false));
      return;
    }
    const obj = value as Record<string, unknown>;
    const oldObj = old && typeof old === 'object' && !Array.isArray(old) ? (old as Record<string, unknown>) : undefined;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const [k, v] of Object.entries(obj)) {
      if (root && (k === 'metadata' || k === 'apiVersion' || k === 'kind')) continue;
      const sub = props[k] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      if (sub) this.cel(sub, v, oldObj?.[k], [...path, k], errs, false);
    }
  }
}
