/**
 * Errors of the BIG-IP client and the rules that decide which failures are worth a retry.
 *
 * A failure is either terminal (retrying cannot help: bad credentials, a list that is not
 * deployed, an invalid request) or transient (busy control plane, lost mcpd connection,
 * timeouts, resets). Transient failures are retried with backoff; when the retries run out
 * the error still says `terminal: false`, so the caller knows a later attempt may work.
 */

/** Short, stable cause of a failure, usable as a Kubernetes condition reason. */
export type BigipErrorReason =
  /** Login refused, or 401 again right after a fresh login. */
  | 'Unauthorized'
  /** The user holds the maximum number of tokens (400 on login). */
  | 'TokenLimit'
  /** The service-discovery task of an address list does not exist (not deployed, or not event-driven). */
  | 'ListNotFound'
  /** Any other 404. */
  | 'NotFound'
  /** The device rejected the request (400, 405, 406, 409, 413, 415 ...). */
  | 'InvalidRequest'
  /** AS3 rejected the declaration (422) or a tenant failed to deploy. */
  | 'InvalidDeclaration'
  /** The client refused the input before sending anything. */
  | 'InvalidInput'
  /** The device's certificate did not verify against the CA bundle. */
  | 'TlsVerificationFailed'
  /** 503 or 429: the control plane is busy. */
  | 'DeviceBusy'
  /** 5xx, or restjavad's 404 "not registered" while it restarts. */
  | 'DeviceError'
  /** No response within the timeout. */
  | 'Timeout'
  /** Connection refused, reset or closed before a response. */
  | 'Unreachable'
  /** Too many writes are already waiting for this device. */
  | 'QueueFull'
  /** The client was closed. */
  | 'ClientClosed'
  /** A BIG-IP pair shows no single active unit (none, two, or one being switched to): nothing is written. */
  | 'NoActiveUnit';

export interface BigipApiErrorProps {
  readonly reason: BigipErrorReason;
  readonly terminal: boolean;
  readonly method: string;
  /** Request path with any token in it masked. */
  readonly path: string;
  readonly status?: number;
  /** The device's own message (or the network error's), without secrets. */
  readonly deviceMessage?: string;
  /** What to do about it. */
  readonly hint?: string;
  /** Attempts made, including the last. */
  readonly attempts?: number;
  readonly cause?: unknown;
}

/** A BIG-IP request that failed for good, or after its retries ran out (`terminal: false`). */
export class BigipApiError extends Error {
  public readonly reason: BigipErrorReason;
  public readonly terminal: boolean;
  public readonly status: number | undefined;
  public readonly method: string;
  public readonly path: string;
  public readonly deviceMessage: string | undefined;
  public readonly attempts: number;

  constructor(props: BigipApiErrorProps) {
    const status = props.status !== undefined ? ` ${props.status}` : '';
    const retried = props.attempts && props.attempts > 1 ? ` after ${props.attempts} attempts` : '';
    const device = props.deviceMessage ? `: ${props.deviceMessage}` : '';
    const hint = props.hint ? ` (${props.hint})` : '';
    super(
      `BIG-IP ${props.method} ${props.path} failed${retried}:${status} ${props.reason}${device}${hint}`,
      props.cause !== undefined ? { cause: props.cause } : undefined,
    );
    this.name = 'BigipApiError';
    this.reason = props.reason;
    this.terminal = props.terminal;
    this.status = props.status;
    this.method = props.method;
    this.path = props.path;
    this.deviceMessage = props.deviceMessage;
    this.attempts = props.attempts ?? 1;
  }
}

/** How a non-2xx response is handled. */
export interface ResponseClass {
  readonly reason: BigipErrorReason;
  readonly retryable: boolean;
  readonly hint?: string;
}

/**
 * Classifies a non-2xx answer. 401 is reported as `Unauthorized`/not retryable here; the
 * client handles it by logging in again once before it gives up.
 */
export function classifyResponse(status: number, deviceMessage: string, path: string): ResponseClass {
  if (status === 401) return { reason: 'Unauthorized', retryable: false, hint: 'check the BIG-IP username and password' };
  if (status === 400 && /maximum active login tokens/i.test(deviceMessage)) {
    return {
      reason: 'TokenLimit',
      retryable: false,
      hint: 'another client holds all tokens of this user; delete unused tokens or use a dedicated user',
    };
  }
  if (status === 404 && /not registered/i.test(deviceMessage)) return { reason: 'DeviceError', retryable: true };
  if (status === 404 && path.startsWith('/mgmt/shared/service-discovery/task/')) {
    return {
      reason: 'ListNotFound',
      retryable: false,
      hint: 'deploy the AS3 declaration that defines this list with addresses [{"addressDiscovery": "event"}] first',
    };
  }
  if (status === 404) return { reason: 'NotFound', retryable: false };
  if (status === 422) return { reason: 'InvalidDeclaration', retryable: false };
  if (status === 408) return { reason: 'Timeout', retryable: true };
  if (status === 429 || status === 503) return { reason: 'DeviceBusy', retryable: true };
  if (status >= 500) return { reason: 'DeviceError', retryable: true };
  return { reason: 'InvalidRequest', retryable: false };
}

const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Classifies an error thrown while sending (no HTTP answer). */
export function classifyNetworkError(err: unknown): ResponseClass & { readonly code?: string } {
  const code = errorCode(err);
  const name = (err as { name?: string } | undefined)?.name;
  if (code && TLS_CODES.has(code)) {
    return {
      reason: 'TlsVerificationFailed',
      retryable: false,
      code,
      hint: "give the CA that signed the BIG-IP's management certificate as caBundle (PEM); insecureSkipTlsVerify is for labs only",
    };
  }
  if (name === 'TimeoutError' || (code && TIMEOUT_CODES.has(code))) return { reason: 'Timeout', retryable: true, code };
  if (code && TRANSIENT_CODES.has(code)) return { reason: 'Unreachable', retryable: true, code };
  return { reason: 'Unreachable', retryable: false, code };
}

/** The device's message from an error body: `message` of a JSON body, else the text without markup. */
export function deviceMessageOf(text: string): string {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      const body = JSON.parse(trimmed) as { message?: unknown; errors?: unknown };
      if (typeof body.message === 'string') {
        const errors = Array.isArray(body.errors) && body.errors.length ? `: ${body.errors.slice(0, 5).map(String).join('; ')}` : '';
        return `${body.message}${errors}`;
      }
    } catch {
      // not JSON after all; fall through
    }
  }
  const plain = trimmed
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return plain.length > 300 ? `${plain.slice(0, 297)}...` : plain;
}
