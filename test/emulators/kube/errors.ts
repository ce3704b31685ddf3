/**
 * `meta/v1` Status answers and the error that carries one out of the write path, with the
 * messages of apimachinery's api/errors constructors.
 */
import { FieldError, aggregate } from './field-errors';
import type { ResourceInfo } from './store';

/** Raised by the programmatic API with the same Status the HTTP API would answer. */
export class KubeEmulatorError extends Error {
  public readonly code: number;
  public readonly reason: string;

  constructor(public readonly status: StatusObject) {
    super(status.message);
    this.name = 'KubeEmulatorError';
    this.code = status.code;
    this.reason = status.reason ?? '';
  }
}

/** A `meta/v1` Status. */
export interface StatusObject {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Success' | 'Failure';
  message: string;
  reason?: string;
  details?: Record<string, unknown>;
  code: number;
}

export function statusObject(code: number, reason: string, message: string, details?: Record<string, unknown>): StatusObject {
  const s: StatusObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) s.details = details;
  return s;
}

export const fail = (code: number, reason: string, message: string, details?: Record<string, unknown>): never => {
  throw new KubeEmulatorError(statusObject(code, reason, message, details));
};

export function resourceDetails(res: ResourceInfo, name: string): Record<string, unknown> {
  return res.group ? { name, group: res.group, kind: res.plural } : { name, kind: res.plural };
}

export const notFound = (res: ResourceInfo, name: string): never =>
  fail(404, 'NotFound', `${res.qualified} "${name}" not found`, resourceDetails(res, name));

export const conflict = (res: ResourceInfo, name: string): never =>
  fail(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${res.qualified} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    resourceDetails(res, name),
  );

/** `apierrors.NewInvalid` for a kind (`Kind.group`, as strategies report it). */
export function invalidKind(group: string, kind: string, name: string, errors: readonly FieldError[]): never {
  const qualified = group ? `${kind}.${group}` : kind;
  return fail(422, 'Invalid', `${qualified} "${name}" is invalid: ${aggregate(errors)}`, {
    name,
    ...(group ? { group } : {}),
    kind,
    causes: errors.map((e) => ({ reason: e.type, message: e.body, field: e.field })),
  });
}

export const invalid = (res: ResourceInfo, name: string, errors: readonly FieldError[]): never =>
  invalidKind(res.group, res.kind, name, errors);

export const badRequest = (message: string): never => fail(400, 'BadRequest', message);
