/** JSON helpers of the BIG-IP emulator. */

export type Json = Record<string, unknown>;

/** JSON with sorted keys, so that two declarations compare by content. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value as Json).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Json)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function isObject(value: unknown): value is Json {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

export function isTenant(value: unknown): value is Json {
  return isObject(value) && value.class === 'Tenant';
}

export function isApplication(value: unknown): value is Json {
  return isObject(value) && value.class === 'Application';
}
