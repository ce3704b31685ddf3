/**
 * Fault injection: rules that add latency to requests or fail them the way a real device does
 * (revoked token, busy control plane, lost mcpd connection, reset connection), drawn
 * deterministically from a seed, and the answers those faults give.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BUSY_MESSAGE } from './as3';
import { TokenAuth } from './auth';
import { DEVICE_HOST, ErrorAnswers, HttpError, send } from './http';

/** Failures the emulator can inject. */
export enum BigipFault {
  /** Revokes the request's token and answers 401, as when the device dropped the token. */
  UNAUTHORIZED = 'unauthorized',
  /** 503: the AS3 "operation in progress" answer on AS3 paths, restjavad's HTML page elsewhere. */
  BUSY = 'busy',
  /** 500 "The connection to mcpd has been lost, try again." */
  MCPD_LOST = 'mcpdLost',
  /** Delays the request (adds up with other faults), then handles it normally. */
  LATENCY = 'latency',
  /** Destroys the connection without sending a response. */
  RESET = 'reset',
}

/** One fault-injection rule; rules are checked in the order they were added. */
export interface BigipFaultRule {
  /** What happens to a matching request. */
  readonly fault: BigipFault;
  /**
   * Only requests whose path starts with this prefix match.
   * @default - every path, including login
   */
  readonly pathPrefix?: string;
  /**
   * Only requests with this method match.
   * @default - every method
   */
  readonly method?: string;
  /**
   * Chance that a matching request is hit, drawn from the emulator's seeded generator.
   * @default 1
   */
  readonly probability?: number;
  /**
   * The rule fires at most this many times, then it is removed ("the next N requests" when the
   * probability is 1).
   * @default - unlimited
   */
  readonly count?: number;
  /**
   * Added delay for {@link BigipFault.LATENCY}, in milliseconds (the lower bound when
   * `latencyMaxMs` is set).
   * @default 100
   */
  readonly latencyMs?: number;
  /**
   * Upper bound of a uniformly drawn delay.
   * @default - fixed delay of `latencyMs`
   */
  readonly latencyMaxMs?: number;
}

const MCPD_LOST = 'The connection to mcpd has been lost, try again.';

interface FaultState {
  readonly rule: BigipFaultRule;
  remaining: number;
}

export class FaultInjector {
  private faults: FaultState[] = [];
  private readonly faultCounts = new Map<BigipFault, number>();

  constructor(
    private readonly random: () => number,
    private readonly auth: TokenAuth,
    private readonly errors: ErrorAnswers,
  ) {}

  /** Adds a fault rule (see {@link BigipFaultRule}). */
  public inject(rule: BigipFaultRule): void {
    if (!Object.values(BigipFault).includes(rule.fault)) throw new Error(`BigipEmulator: unknown fault ${JSON.stringify(rule.fault)}`);
    const p = rule.probability ?? 1;
    if (!(p >= 0 && p <= 1)) throw new Error(`BigipEmulator: fault probability must be within 0..1 (got ${p})`);
    if (rule.count !== undefined && !(Number.isInteger(rule.count) && rule.count >= 1)) {
      throw new Error(`BigipEmulator: fault count must be a whole number >= 1 (got ${rule.count})`);
    }
    const min = rule.latencyMs ?? 100;
    const max = rule.latencyMaxMs ?? min;
    if (!(min >= 0 && max >= min))
      throw new Error(`BigipEmulator: latency must satisfy 0 <= latencyMs <= latencyMaxMs (got ${min}..${max})`);
    this.faults.push({ rule, remaining: rule.count ?? Infinity });
  }

  /** Removes every fault rule. */
  public clear(): void {
    this.faults = [];
  }

  /** How often a fault was applied. */
  public count(fault?: BigipFault): number {
    if (fault) return this.faultCounts.get(fault) ?? 0;
    let n = 0;
    for (const v of this.faultCounts.values()) n += v;
    return n;
  }

  /** Zeroes the fault counters. */
  public resetCounts(): void {
    this.faultCounts.clear();
  }

  /** Decides which faults hit a request: total latency and at most one terminal fault. */
  public draw(method: string, pathname: string): { latencyMs: number; fault?: BigipFault } {
    let latencyMs = 0;
    let fault: BigipFault | undefined;
    for (const state of this.faults) {
      const r = state.rule;
      if (state.remaining <= 0) continue;
      if (r.method && r.method.toUpperCase() !== method) continue;
      if (r.pathPrefix && !pathname.startsWith(r.pathPrefix)) continue;
      if (r.fault !== BigipFault.LATENCY && fault) continue;
      const p = r.probability ?? 1;
      if (p < 1 && this.random() >= p) continue;
      state.remaining--;
      this.faultCounts.set(r.fault, (this.faultCounts.get(r.fault) ?? 0) + 1);
      if (r.fault === BigipFault.LATENCY) {
        const min = r.latencyMs ?? 100;
        const max = r.latencyMaxMs ?? min;
        latencyMs += max > min ? min + Math.floor(this.random() * (max - min + 1)) : min;
      } else {
        fault = r.fault;
      }
    }
    if (this.faults.some((s) => s.remaining <= 0)) this.faults = this.faults.filter((s) => s.remaining > 0);
    return { latencyMs, fault };
  }

  /** Answers a request as the fault does; an `HttpError` thrown here is sent by the server. */
  public apply(fault: BigipFault, req: IncomingMessage, res: ServerResponse, pathname: string): void {
    switch (fault) {
      case BigipFault.RESET:
        req.socket.destroy();
        return;
      case BigipFault.UNAUTHORIZED: {
        if (pathname.startsWith('/mgmt/shared/authn/login')) throw this.errors.rest(401, 'Authentication failed.');
        const presented = req.headers['x-f5-auth-token'];
        if (typeof presented === 'string') this.auth.revoke(presented);
        throw this.errors.rest(401, 'X-F5-Auth-Token does not exist.');
      }
      case BigipFault.BUSY:
        if (pathname.startsWith('/mgmt/shared/appsvcs/')) {
          throw new HttpError(503, { code: 503, message: BUSY_MESSAGE(DEVICE_HOST), errors: [], declarationFullId: '' });
        }
        send(
          res,
          503,
          '<html><head><title>Configuration Utility restarting...</title></head><body>Configuration Utility restarting...</body></html>',
          'text/html; charset=UTF-8',
        );
        return;
      case BigipFault.MCPD_LOST:
        throw new HttpError(500, { code: 500, message: MCPD_LOST, errorStack: [], apiError: 32768001 });
      default:
        return;
    }
  }
}
