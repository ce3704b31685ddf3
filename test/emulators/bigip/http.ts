/**
 * How the emulated device answers: JSON (or HTML) responses, and the error bodies of its REST
 * framework (restjavad) and of iControl REST (mcpd).
 */
import type { ServerResponse } from 'node:http';
import type { Json } from './json';

/** An answer other than 2xx; thrown by a handler and sent by the server. */
export class HttpError extends Error {
  constructor(
    public readonly status: number,
    public readonly body: unknown,
  ) {
    super(typeof body === 'object' && body && 'message' in body ? String((body as Json).message) : `HTTP ${status}`);
  }
}

/** A tmsh error: the device prints it into `commandResult` and answers 200. */
export class TmshError extends Error {}

/** The host name AS3 reports in its results. */
export const DEVICE_HOST = 'localhost';

export function send(res: ServerResponse, status: number, body?: unknown, contentType = 'application/json; charset=UTF-8'): void {
  if (res.destroyed) return;
  if (status === 204 || body === undefined) {
    res.writeHead(status);
    res.end();
    return;
  }
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Error bodies; restjavad numbers its operations, so one instance serves one device. */
export class ErrorAnswers {
  private restOperationId = 1000;

  /** restjavad's error body (login, tokens, AS3 and service-discovery paths). */
  public rest(status: number, message: string): HttpError {
    return new HttpError(status, {
      code: status,
      message,
      referer: '127.0.0.1',
      restOperationId: this.restOperationId++,
      kind: ':resterrorresponse',
    });
  }

  /** iControl REST's error body (`/mgmt/tm/...`). */
  public tmos(status: number, message: string): HttpError {
    return new HttpError(status, { code: status, message, errorStack: [], apiError: 3 });
  }

  public methodNotAllowed(method: string, pathname: string): HttpError {
    return this.rest(405, `Method ${method} is not supported on ${pathname}`);
  }
}
