// JSON values as the emulator parses, stores and compares them.
import { badRequest } from './errors';

/** RFC 3339 with seconds, as metav1.Time serializes. */
export function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * A deep copy through JSON: objects stay plain objects of this realm (structuredClone would
 * give another realm's objects under test runners, which the CEL interpreter refuses).
 */
export function cloneJson<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  if (ak.length !== bk.length) return false;
  for (const k of ak) if (!deepEqual(ao[k], bo[k])) return false;
  return true;
}

/** A request body as JSON, or 400. */
export function parseJson(body: Buffer | undefined): unknown {
  if (!body || body.length === 0) return badRequest('the request body is empty; send a JSON object');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    return badRequest(`the request body is not valid JSON: ${(e as Error).message}`);
  }
}
