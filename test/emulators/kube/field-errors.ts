/**
 * Field errors and their texts as k8s.io/apimachinery/pkg/util/validation/field/errors.go
 * (v0.33) prints them (`ErrorBody`), aggregated into `NewInvalid` messages
 * (pkg/api/errors/errors.go: one error as is, several as `[a, b]`).
 */

export type CauseType =
  | 'FieldValueRequired'
  | 'FieldValueInvalid'
  | 'FieldValueForbidden'
  | 'FieldValueNotSupported'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'FieldValueTypeInvalid'
  | 'FieldValueDuplicate';

export interface FieldError {
  readonly type: CauseType;
  readonly field: string;
  /** `ErrorBody`: `Invalid value: "x": detail`, `Required value`, ... */
  readonly body: string;
}

/** A value as ErrorBody shows it: strings quoted, numbers and booleans plain, the rest by type. */
export function showValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null || value === undefined) return 'null';
  return Array.isArray(value) ? '"array"' : '"object"';
}

export const fieldError = {
  required: (field: string, detail = ''): FieldError => ({
    type: 'FieldValueRequired',
    field,
    body: detail ? `Required value: ${detail}` : 'Required value',
  }),
  invalid: (field: string, value: unknown, detail: string): FieldError => ({
    type: 'FieldValueInvalid',
    field,
    body: `Invalid value: ${showValue(value)}${detail ? `: ${detail}` : ''}`,
  }),
  /** For values printed as given (the CEL "object" type names, `0x0`). */
  invalidRaw: (field: string, shown: string, detail: string): FieldError => ({
    type: 'FieldValueInvalid',
    field,
    body: `Invalid value: ${shown}${detail ? `: ${detail}` : ''}`,
  }),
  typeInvalid: (field: string, value: unknown, detail: string): FieldError => ({
    type: 'FieldValueTypeInvalid',
    field,
    body: `Invalid value: ${showValue(value)}: ${detail}`,
  }),
  forbidden: (field: string, detail: string): FieldError => ({ type: 'FieldValueForbidden', field, body: `Forbidden: ${detail}` }),
  notSupported: (field: string, value: unknown, supported: readonly string[]): FieldError => ({
    type: 'FieldValueNotSupported',
    field,
    body: `Unsupported value: ${showValue(value)}${supported.length ? `: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}` : ''}`,
  }),
  tooLong: (field: string, max: number): FieldError => ({
    type: 'FieldValueTooLong',
    field,
    body: `Too long: may not be more than ${max} bytes`,
  }),
  tooMany: (field: string, actual: number, max: number): FieldError => ({
    type: 'FieldValueTooMany',
    field,
    body: `Too many: ${actual}: must have at most ${max} items`,
  }),
  duplicate: (field: string, value: unknown): FieldError => ({
    type: 'FieldValueDuplicate',
    field,
    body: `Duplicate value: ${showValue(value)}`,
  }),
};

/** `utilerrors.NewAggregate(errs).Error()` of field errors (duplicates dropped). */
export function aggregate(errors: readonly FieldError[]): string {
  const msgs = [...new Set(errors.map((e) => `${e.field}: ${e.body}`))];
  return msgs.length === 1 ? msgs[0] : `[${msgs.join(', ')}]`;
}
