/**
 * Validates a custom resource the way the API server would: structural schema (with ajv)
 * and the CRD's CEL rules (with a CEL interpreter), each rule evaluated with `self` bound to
 * the value at the rule's place.
 */
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
// The CEL interpreter is an ES module; jest transpiles it, so plain require works here.

const { evaluate } = require('@marcbachmann/cel-js') as { evaluate(expression: string, context: Record<string, unknown>): unknown };

type Schema = Record<string, any>;

function stripKubernetesKeywords(schema: Schema): Schema {
  if (Array.isArray(schema)) return schema.map(stripKubernetesKeywords) as unknown as Schema;
  if (!schema || typeof schema !== 'object') return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) if (!k.startsWith('x-kubernetes-')) out[k] = stripKubernetesKeywords(v);
  return out;
}

function celErrors(schema: Schema, value: unknown, at: string): string[] {
  if (value === undefined || value === null) return [];
  const errors: string[] = [];
  for (const v of schema['x-kubernetes-validations'] ?? []) {
    let ok: unknown;
    try {
      ok = evaluate(v.rule, { self: value });
    } catch (e) {
      errors.push(`${at}: CEL rule ${JSON.stringify(v.rule)} failed to evaluate: ${(e as Error).message}`);
      continue;
    }
    if (ok !== true) errors.push(`${at}: ${v.message}`);
  }
  if (schema.type === 'object' && schema.properties && typeof value === 'object') {
    for (const [k, sub] of Object.entries(schema.properties)) errors.push(...celErrors(sub as Schema, (value as Schema)[k], `${at}.${k}`));
  }
  if (schema.type === 'array' && Array.isArray(value) && schema.items) {
    value.forEach((item, i) => errors.push(...celErrors(schema.items, item, `${at}[${i}]`)));
  }
  return errors;
}

export class CrdValidator {
  private readonly ajv = addFormats(new Ajv({ strict: false, allErrors: true }));
  private readonly compiled: ReturnType<Ajv['compile']>;

  constructor(private readonly schema: Schema) {
    this.compiled = this.ajv.compile(stripKubernetesKeywords(schema));
  }

  public validate(obj: unknown): string[] {
    const errors: string[] = [];
    if (!this.compiled(obj)) errors.push(...(this.compiled.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`));
    errors.push(...celErrors(this.schema, obj, 'self'));
    return errors;
  }
}
