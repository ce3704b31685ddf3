/**
 * The controller's connection to one BIG-IP: iControl REST and AS3 over undici.
 *
 * - TLS is verified, against `caBundle` when given, else Node's trusted roots. Only
 *   `insecureSkipTlsVerify: true` turns it off, and that is logged as a warning. Plain
 *   `http://` URLs are refused outright: the management interface is HTTPS-only and the
 *   password and token would otherwise cross the network in clear text.
 * - One token per client (the device caps tokens per user): logged in on first use, extended
 *   with a PATCH of its timeout before it expires, replaced by one fresh login when a request
 *   gets 401, deleted by {@link BigipClient.close}.
 * - Busy (503), 5xx, timeouts and connection failures are retried with exponential backoff and
 *   full jitter; other 4xx fail at once with a {@link BigipApiError} whose `reason` fits a
 *   Kubernetes condition.
 * - Writes are serialized (one in flight per device, the documented way to keep restjavad and
 *   mcpd healthy); reads run beside them. The write queue is bounded.
 * - An AS3 task that ends in 503 (another configuration operation held AS3's lock) was not
 *   applied: the declaration is posted again after a backoff, as F5's provider does.
 * - A list is never emptied with `[]`: the service-discovery worker would have to leave the
 *   address list empty, which AS3 itself never does; the client pushes AS3's placeholder
 *   address instead, so that a removal cannot leave the old members in place.
 */
import { setMaxListeners } from 'node:events';
import * as net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { Agent } from 'undici';
import { z } from 'zod';
import { fullJitterDelay } from '../backoff';
import { BigipApiError, BigipErrorReason, classifyNetworkError, classifyResponse, deviceMessageOf } from './errors';

/** Structured log sink; never receives passwords or tokens. */
export interface BigipLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface BigipRetryOptions {
  /**
   * Attempts per request, including the first.
   * @default 5
   */
  readonly maxAttempts?: number;
  /**
   * Backoff before the second attempt (doubling after each failure), before jitter.
   * @default 200
   */
  readonly baseDelayMs?: number;
  /**
   * Cap of the backoff, before jitter.
   * @default 10000
   */
  readonly maxDelayMs?: number;
}

export interface BigipClientOptions {
  /** Management URL, `https://host[:port]`. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /**
   * Login provider of the user.
   * @default 'tmos'
   */
  readonly loginProviderName?: string;
  /**
   * PEM of the CA(s) that signed the management certificate.
   * @default - Node's trusted root CAs
   */
  readonly caBundle?: string | Buffer;
  /**
   * Skip TLS verification. Anyone on the path can then read the password and the token;
   * for labs only. Logged as a warning.
   * @default false
   */
  readonly insecureSkipTlsVerify?: boolean;
  /**
   * Per-attempt timeout, in milliseconds.
   * @default 30000
   */
  readonly timeoutMs?: number;
  readonly retry?: BigipRetryOptions;
  /**
   * Lifetime requested each time the token is extended, in seconds (the device caps a token
   * at 36000 s from its start; past that the client logs in again).
   * @default 1200
   */
  readonly tokenTimeoutSeconds?: number;
  /**
   * Writes allowed to wait for the device; more fail with `QueueFull`.
   * @default 1000
   */
  readonly maxQueuedWrites?: number;
  /**
   * Concurrent connections to the device.
   * @default 4
   */
  readonly connections?: number;
  /**
   * @default - warnings and errors as JSON lines on stderr
   */
  readonly logger?: BigipLogger;
  /** Sleep used between attempts; must reject when the signal aborts. @default timers/promises */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Clock in epoch milliseconds (token expiry). @default Date.now */
  readonly now?: () => number;
  /** Uniform random numbers in [0, 1) for jitter. @default Math.random */
  readonly random?: () => number;
}

/** `GET /mgmt/shared/appsvcs/info`. */
export interface As3Info {
  readonly version: string;
  readonly release: string;
  readonly schemaCurrent: string;
  readonly schemaMinimum: string;
}

/** One tenant's outcome of an AS3 operation. */
export interface As3TenantResult {
  readonly code: number;
  readonly message: string;
  readonly tenant?: string;
  readonly response?: string;
  readonly errors?: readonly string[];
  readonly [key: string]: unknown;
}

export interface As3DeclareOptions {
  /**
   * Only these tenants are touched (`POST /declare/<t1,t2>`).
   * @default - every tenant in the declaration
   */
  readonly tenants?: readonly string[];
  /**
   * Submit as an async task and poll it (recommended: long deploys otherwise hold a
   * connection and may still turn into a task after 45 s).
   * @default true
   */
  readonly async?: boolean;
  /**
   * Interval between task polls.
   * @default 1000
   */
  readonly pollIntervalMs?: number;
  /**
   * Give up waiting for the task after this long (the deploy may still finish on the device).
   * @default 600000
   */
  readonly taskTimeoutMs?: number;
}

export interface As3DeclareResult {
  readonly results: readonly As3TenantResult[];
  /** The declaration as AS3 stored it. */
  readonly declaration: unknown;
  /** Id of the AS3 task when the deploy ran as one. */
  readonly taskId?: string;
}

/** Counters since the client was created. */
export interface BigipClientStats {
  /** HTTP requests sent (every attempt, logins included). */
  readonly requests: number;
  /** Attempts repeated after a transient failure. */
  readonly retries: number;
  readonly logins: number;
  readonly tokenExtensions: number;
  /** Calls that ended in a BigipApiError. */
  readonly failures: number;
}

interface TokenState {
  readonly token: string;
  /** Local time just before the login was sent: the device's startTime is not earlier. */
  readonly issuedAt: number;
  expiresAt: number;
  refreshAt: number;
}

/** An AS3 answer or task record. */
interface As3TaskBody {
  readonly id?: string;
  readonly results?: As3TenantResult[];
  readonly declaration?: unknown;
}

interface HttpAnswer {
  readonly status: number;
  readonly text: string;
}

interface RequestSpec {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly body?: string;
  /** Send the session token (all but the login). */
  readonly auth: boolean;
  /** Use this token instead of the session's (token maintenance). */
  readonly token?: string;
  /** Retry transient failures here (false: the caller owns the retries). @default true */
  readonly retry?: boolean;
}

const TOKEN_ABSOLUTE_MAX_S = 36000;
const AS3_NAME = /^[A-Za-z][0-9A-Za-z_.-]{0,189}$/;
const TASK_ID = /^~[A-Za-z][0-9A-Za-z_.-]*(~[A-Za-z][0-9A-Za-z_.-]*){1,3}$/;
const LOGIN_PATH = '/mgmt/shared/authn/login';
const TOKENS_PATH = '/mgmt/shared/authz/tokens/';

/**
 * The address AS3 puts in a firewall address list that would otherwise be empty
 * (f5-appsvcs-extension `src/lib/map_cli.js:1027-1033`, docs "tips-warnings": "a dummy IPv6
 * address of ::1:5ee:bad:c0de is added in order to maintain a valid Firewall_Address_List").
 * It is in no route domain of ours and matches no pod.
 */
export const EMPTY_LIST_PLACEHOLDER = '::1:5ee:bad:c0de';

const stderrLogger: BigipLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (message, fields) => process.stderr.write(`${JSON.stringify({ level: 'warn', component: 'bigip', message, ...fields })}\n`),
  error: (message, fields) => process.stderr.write(`${JSON.stringify({ level: 'error', component: 'bigip', message, ...fields })}\n`),
};

const fn = <T>(what: string) => z.custom<T>((v) => typeof v === 'function', { message: `must be a function (${what})` });
const wholeNumber = (min: number, max: number) =>
  z
    .number({ error: `must be a whole number from ${min} to ${max}` })
    .int({ error: `must be a whole number from ${min} to ${max}` })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

const optionsSchema = z
  .object({
    url: z.string({ error: 'must be a string such as "https://bigip.example.com:443"' }).superRefine((v, ctx) => {
      const problem = urlProblem(v);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    username: z.string({ error: 'must be a non-empty string' }).min(1, { error: 'must be a non-empty string' }),
    password: z.string({ error: 'must be a non-empty string' }).min(1, { error: 'must be a non-empty string' }),
    loginProviderName: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: 'must be a login provider name such as "tmos"' })
      .optional(),
    caBundle: z
      .union([z.string(), z.instanceof(Buffer)], { error: 'must be PEM text (string or Buffer)' })
      .refine((v) => v.toString().includes('-----BEGIN CERTIFICATE-----'), {
        error: 'must contain at least one PEM certificate ("-----BEGIN CERTIFICATE-----")',
      })
      .optional(),
    insecureSkipTlsVerify: z.boolean({ error: 'must be true or false' }).optional(),
    timeoutMs: wholeNumber(1, 600_000).optional(),
    retry: z
      .object({
        maxAttempts: wholeNumber(1, 100).optional(),
        baseDelayMs: wholeNumber(0, 600_000).optional(),
        maxDelayMs: wholeNumber(0, 3_600_000).optional(),
      })
      .strict()
      .optional(),
    tokenTimeoutSeconds: wholeNumber(1, TOKEN_ABSOLUTE_MAX_S).optional(),
    maxQueuedWrites: wholeNumber(1, 1_000_000).optional(),
    connections: wholeNumber(1, 64).optional(),
    logger: z
      .custom<BigipLogger>(
        (v) =>
          !!v &&
          typeof v === 'object' &&
          ['debug', 'info', 'warn', 'error'].every((k) => typeof (v as Record<string, unknown>)[k] === 'function'),
        {
          message: 'must have debug, info, warn and error functions',
        },
      )
      .optional(),
    sleep: fn<(ms: number, signal: AbortSignal) => Promise<void>>('ms, signal) => Promise<void>').optional(),
    now: fn<() => number>('() => epoch ms').optional(),
    random: fn<() => number>('() => [0, 1)').optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.insecureSkipTlsVerify && v.caBundle !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['insecureSkipTlsVerify'],
        message: 'contradicts caBundle: give a CA bundle to verify the device, or skip verification, not both',
      });
    }
  });

function urlProblem(text: string): string | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return 'is not a URL; use "https://<host>[:<port>]"';
  }
  if (u.protocol === 'http:') {
    return 'uses http://; the BIG-IP management interface is HTTPS-only and plain HTTP would expose the password and token. Use https://';
  }
  if (u.protocol !== 'https:') return 'must start with https://';
  if (u.username || u.password) return 'must not carry credentials; use the username and password options';
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash)
    return 'must be just "https://<host>[:<port>]" without a path, query or fragment';
  return undefined;
}

function optionsError(error: z.ZodError, input: unknown): Error {
  const secret = new Set(['password', 'caBundle']);
  const lines = error.issues.map((issue) => {
    const field = issue.path.map(String).join('.') || '(options)';
    let value: unknown = input;
    for (const key of issue.path)
      value = value && typeof value === 'object' ? (value as Record<PropertyKey, unknown>)[key as PropertyKey] : undefined;
    const shown = secret.has(String(issue.path[0]))
      ? ''
      : ` (got ${typeof value === 'function' ? 'a function' : (JSON.stringify(value) ?? 'nothing')})`;
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown option(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; check the spelling`
        : issue.message;
    return `  ${field}: ${message}${issue.code === 'unrecognized_keys' ? '' : shown}`;
  });
  return new Error(`Invalid BigipClient options:\n${lines.join('\n')}`);
}

/** Masks a token in a path before it reaches a message or a log. */
function safePath(p: string): string {
  return p.startsWith(TOKENS_PATH) ? `${TOKENS_PATH}***` : p;
}

function inputError(method: string, path: string, message: string): BigipApiError {
  return new BigipApiError({ reason: 'InvalidInput', terminal: true, method, path, deviceMessage: message });
}

/** A BIG-IP management connection; see the module comment for the guarantees. */
export class BigipClient {
  /** Origin the client talks to. */
  public readonly url: string;

  private readonly username: string;
  private readonly password: string;
  private readonly loginProviderName: string;
  private readonly timeoutMs: number;
  private readonly retry: Required<BigipRetryOptions>;
  private readonly tokenTimeoutS: number;
  private readonly maxQueuedWrites: number;
  private readonly logger: BigipLogger;
  private readonly sleepFn: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly agent: Agent;
  private readonly closeController = new AbortController();

  private token: TokenState | undefined;
  private tokenTask: Promise<TokenState> | undefined;
  private writeTail: Promise<void> = Promise.resolve();
  private queuedWrites = 0;
  private closing: Promise<void> | undefined;
  private counters = { requests: 0, retries: 0, logins: 0, tokenExtensions: 0, failures: 0 };

  constructor(options: BigipClientOptions) {
    const parsed = optionsSchema.safeParse(options);
    if (!parsed.success) throw optionsError(parsed.error, options);
    const o = parsed.data;
    this.url = new URL(o.url).origin;
    this.username = o.username;
    this.password = o.password;
    this.loginProviderName = o.loginProviderName ?? 'tmos';
    this.timeoutMs = o.timeoutMs ?? 30_000;
    this.retry = {
      maxAttempts: o.retry?.maxAttempts ?? 5,
      baseDelayMs: o.retry?.baseDelayMs ?? 200,
      maxDelayMs: o.retry?.maxDelayMs ?? 10_000,
    };
    this.tokenTimeoutS = o.tokenTimeoutSeconds ?? 1200;
    this.maxQueuedWrites = o.maxQueuedWrites ?? 1000;
    this.logger = o.logger ?? stderrLogger;
    this.sleepFn = o.sleep ?? ((ms, signal) => delay(ms, undefined, { signal }));
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
    // Every request in flight listens for close; concurrency is bounded by the callers.
    setMaxListeners(0, this.closeController.signal);
    const insecure = o.insecureSkipTlsVerify === true;
    this.agent = new Agent({
      connect: insecure
        ? { rejectUnauthorized: false }
        : { rejectUnauthorized: true, ...(o.caBundle !== undefined ? { ca: o.caBundle } : {}) },
      connections: o.connections ?? 4,
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
    if (insecure) {
      this.logger.warn(
        `TLS VERIFICATION IS OFF for the BIG-IP at ${this.url} (insecureSkipTlsVerify): anyone on the network path can impersonate the device and capture the password and token. Set caBundle to the CA of the management certificate outside a lab.`,
        { url: this.url, insecureSkipTlsVerify: true },
      );
    }
  }

  // ---------------------------------------------------------------- public operations

  /**
   * Replaces the members of an event-driven address list with exactly `ips` (the full list).
   * Node ids are the member addresses, so the same set always sends the same body.
   * `%<routeDomain>` is appended when `routeDomain` is not 0.
   *
   * An empty set is pushed as {@link EMPTY_LIST_PLACEHOLDER}, the address AS3 itself puts in an
   * empty list: F5's sources show `[]` emptying a pool, never a firewall address list, which
   * AS3 keeps non-empty; so `[]` could leave the old members allowed (fail open).
   *
   * The worker answers with the task, whose `providerOptions.nodeList` must echo the nodes
   * (f5-appsvcs-extension `test/integration/bigip/misc/serviceDiscovery.js:537-542, 1198-1204`);
   * any other answer fails with `DeviceError`.
   */
  public async replaceListMembers(
    taskId: string,
    ips: readonly string[],
    routeDomain = 0,
    options: {
      readonly retry?: boolean;
      /** Members may carry a route domain of their own (`ip%id`, pods of namespaces mapped to route domains). */
      readonly ownRouteDomains?: boolean;
    } = {},
  ): Promise<void> {
    const path = nodesPath(taskId, 'POST');
    if (!Number.isInteger(routeDomain) || routeDomain < 0 || routeDomain > 65534) {
      throw inputError('POST', path, `route domain must be a whole number from 0 to 65534 (got ${JSON.stringify(routeDomain)})`);
    }
    if (!Array.isArray(ips)) throw inputError('POST', path, 'ips must be an array of IP addresses');
    const seen = new Set<string>();
    const suffix = routeDomain === 0 ? '' : `%${routeDomain}`;
    const pushed: string[] = new Array(ips.length);
    for (let i = 0; i < ips.length; i++) {
      const ip = ips[i];
      // A pod of a namespace with a route domain of its own comes as `ip%id` (1 to 65534, not this list's default).
      const own = options.ownRouteDomains && typeof ip === 'string' ? /^([^%]+)%([1-9]\d{0,4})$/.exec(ip) : null;
      const bare = own ? own[1] : ip;
      if (
        typeof ip !== 'string' ||
        (ip.includes('%') && (!own || Number(own[2]) > 65534 || Number(own[2]) === routeDomain)) ||
        net.isIP(bare) === 0
      ) {
        throw inputError(
          'POST',
          path,
          options.ownRouteDomains
            ? `ips[${i}] is not an IPv4 or IPv6 address, alone or with a route domain other than the list's (got ${JSON.stringify(ip)}); pass the list's route domain as the third argument`
            : `ips[${i}] is not an IPv4 or IPv6 address without a route domain (got ${JSON.stringify(ip)}); pass the route domain as the third argument`,
        );
      }
      if (seen.has(ip)) throw inputError('POST', path, `ips[${i}] ${ip} appears more than once; pass each member once`);
      if (ip === EMPTY_LIST_PLACEHOLDER) throw inputError('POST', path, `ips[${i}] ${ip} is AS3's empty-list placeholder, not a member`);
      seen.add(ip);
      pushed[i] = own ? ip : `${ip}${suffix}`;
    }
    // AS3 writes the placeholder without a route domain; so does the client.
    if (pushed.length === 0) pushed.push(EMPTY_LIST_PLACEHOLDER);
    // Validated addresses contain no characters that need JSON escaping.
    const body = `[${pushed.map((ip) => `{"id":"${ip}","ip":"${ip}"}`).join(',')}]`;
    const spec: RequestSpec = { method: 'POST', path, body, auth: true, retry: options.retry };
    const echoed = nodeListOf(this.json(spec, await this.write(spec)));
    if (!echoed || echoed.length !== pushed.length || echoed.some((ip, i) => ip !== pushed[i])) {
      throw this.unexpected(
        spec,
        `the service-discovery task did not echo the ${pushed.length} pushed node(s) in providerOptions.nodeList`,
      );
    }
  }

  /**
   * Current members of an event-driven address list as the service-discovery task holds them
   * (with `%rd`), without {@link EMPTY_LIST_PLACEHOLDER}. F5's provider reads the answer as
   * `result.providerOptions.nodeList` (terraform-provider-bigip v1.28
   * `bigip/resource_bigip_event_service_discovery.go:98`); anything else fails with `DeviceError`.
   */
  public async getListMembers(taskId: string): Promise<string[]> {
    const spec: RequestSpec = { method: 'GET', path: nodesPath(taskId, 'GET'), auth: true };
    const body = this.json(spec, await this.request(spec)) as { result?: unknown } | undefined;
    const ips = nodeListOf(body?.result);
    if (!ips) throw this.unexpected(spec, 'expected {"result": {"providerOptions": {"nodeList": [{"id", "ip"}, ...]}}}');
    return ips.filter((ip) => ip !== EMPTY_LIST_PLACEHOLDER);
  }

  /** AS3 version information of the device. */
  public async info(): Promise<As3Info> {
    const spec: RequestSpec = { method: 'GET', path: '/mgmt/shared/appsvcs/info', auth: true };
    const body = this.json(spec, await this.request(spec)) as Partial<As3Info> | undefined;
    if (!body || typeof body.version !== 'string')
      throw this.unexpected(spec, 'expected {"version", "release", "schemaCurrent", "schemaMinimum"}');
    return {
      version: body.version,
      release: String(body.release ?? ''),
      schemaCurrent: String(body.schemaCurrent ?? ''),
      schemaMinimum: String(body.schemaMinimum ?? ''),
    };
  }

  /**
   * Deploys an AS3 request (`class: AS3`) or ADC declaration and waits for the outcome. Fails
   * with `InvalidDeclaration` when AS3 rejects it or any tenant fails (every result is checked,
   * including AS3's second `Common` pass).
   *
   * A result of 503 means AS3 could not take its configuration lock (another operation was
   * running) and changed nothing (f5-appsvcs-extension `src/lib/mutex.js:56-63`,
   * `src/lib/declarationHandler.js:938-990`); the declaration is then posted again after a
   * backoff, as F5's provider does (go-bigip `as3bigip.go:161-175`), until `taskTimeoutMs`.
   */
  public async declare(declaration: object, options: As3DeclareOptions = {}): Promise<As3DeclareResult> {
    const path = declarePath(options.tenants ?? [], options.async !== false);
    if (!declaration || typeof declaration !== 'object' || Array.isArray(declaration))
      throw inputError('POST', path, 'declaration must be an object');
    const pollIntervalMs = options.pollIntervalMs ?? 1000;
    const taskTimeoutMs = options.taskTimeoutMs ?? 600_000;
    return this.serialized(async () => {
      const spec: RequestSpec = { method: 'POST', path, body: JSON.stringify(declaration), auth: true };
      const deadline = this.now() + taskTimeoutMs;
      for (let busy = 1; ; busy++) {
        const answer = await this.attempts(spec);
        let body = this.json(spec, answer) as As3TaskBody | undefined;
        let taskId: string | undefined;
        if (answer.status === 202) {
          if (!body || typeof body.id !== 'string') throw this.unexpected(spec, 'a 202 answer without a task id');
          taskId = body.id;
          body = await this.awaitTask(taskId, pollIntervalMs, deadline - this.now());
        }
        const refused = Array.isArray(body?.results) ? body.results.find((r) => r.code === 503) : undefined;
        if (!refused) return this.finishDeclare(spec, body, taskId);
        if (this.now() >= deadline) {
          this.counters.failures++;
          throw new BigipApiError({
            reason: 'DeviceBusy',
            terminal: false,
            method: 'POST',
            path,
            status: 503,
            deviceMessage: `AS3 still refused the declaration after ${busy} attempts: ${refused.message}`,
            attempts: busy,
          });
        }
        this.logger.info('AS3 was busy with another operation; posting the declaration again', { path, attempt: busy });
        await this.backoff(spec, busy, 'DeviceBusy', 503);
      }
    });
  }

  /**
   * Submits an AS3 request as an async task (`POST /declare[/<tenants>]?async=true`) and returns
   * the task id without waiting; read the outcome with {@link getAs3Task}. {@link declare} is
   * what callers normally want; this is for callers that check the results themselves.
   */
  public async submitAs3(declaration: object, tenants: readonly string[] = []): Promise<string> {
    const path = declarePath(tenants, true);
    if (!declaration || typeof declaration !== 'object' || Array.isArray(declaration))
      throw inputError('POST', path, 'declaration must be an object');
    const spec: RequestSpec = { method: 'POST', path, body: JSON.stringify(declaration), auth: true };
    const answer = await this.write(spec);
    const body = this.json(spec, answer) as As3TaskBody | undefined;
    if (answer.status !== 202 || !body || typeof body.id !== 'string')
      throw this.unexpected(spec, `${answer.status} without a task id, expected 202 with one`);
    return body.id;
  }

  /** An AS3 task as the device reports it now (`results` with code 0 while it runs). */
  public async getAs3Task(id: string): Promise<{ readonly results: readonly As3TenantResult[]; readonly declaration: unknown }> {
    const spec: RequestSpec = { method: 'GET', path: `/mgmt/shared/appsvcs/task/${encodeURIComponent(id)}`, auth: true };
    const body = this.json(spec, await this.request(spec)) as As3TaskBody | undefined;
    if (!body || !Array.isArray(body.results)) throw this.unexpected(spec, 'no "results" in the AS3 task');
    return { results: body.results, declaration: body.declaration };
  }

  /**
   * Runs one tmsh command the way the F5 Terraform provider's `bigip_command` does
   * (`POST /mgmt/tm/util/bash`, `-c 'tmsh <command>'`); returns its output.
   *
   * Like the device, this does not fail when tmsh fails: the device answers 200 with tmsh's
   * error text (`Syntax Error: ...`, `01020036:3: ... was not found.`) as the output. Callers
   * that need the command to have taken effect must check the output or read the state back.
   */
  public async runTmsh(command: string): Promise<string> {
    const path = '/mgmt/tm/util/bash';
    if (typeof command !== 'string' || command.trim() === '') throw inputError('POST', path, 'command must be a non-empty tmsh command');
    if (/^\s*tmsh\b/.test(command))
      throw inputError('POST', path, `command ${JSON.stringify(command)} must not start with "tmsh" (it is added)`);
    if (/['\x00-\x1f\x7f]/.test(command))
      throw inputError('POST', path, `command ${JSON.stringify(command)} must not contain single quotes or control characters`);
    const spec: RequestSpec = {
      method: 'POST',
      path,
      body: JSON.stringify({ command: 'run', utilCmdArgs: `-c 'tmsh ${command}'` }),
      auth: true,
    };
    const body = this.json(spec, await this.write(spec)) as { commandResult?: unknown } | undefined;
    return typeof body?.commandResult === 'string' ? body.commandResult : '';
  }

  /** Policies attached to the global firewall context. */
  public async getGlobalRules(): Promise<{ enforcedPolicy?: string; stagedPolicy?: string }> {
    const spec: RequestSpec = { method: 'GET', path: '/mgmt/tm/security/firewall/global-rules', auth: true };
    const body = this.json(spec, await this.request(spec)) as { enforcedPolicy?: unknown; stagedPolicy?: unknown } | undefined;
    return {
      ...(typeof body?.enforcedPolicy === 'string' ? { enforcedPolicy: body.enforcedPolicy } : {}),
      ...(typeof body?.stagedPolicy === 'string' ? { stagedPolicy: body.stagedPolicy } : {}),
    };
  }

  /**
   * A read of any management path (`GET /mgmt/...`) with the client's token, TLS and retries:
   * the parsed JSON body, or undefined for an empty answer (AS3 answers 204 when it stores no
   * declaration). For callers that interpret the answer themselves, such as `cdktf-ces verify`.
   * `retry: false` makes one attempt (a caller that polls again soon, such as the HA poll).
   */
  public async getJson(path: string, options: { readonly retry?: boolean } = {}): Promise<unknown> {
    if (typeof path !== 'string' || !/^\/mgmt\/[\x21-\x7e]*$/.test(path))
      throw inputError('GET', String(path), 'path must start with /mgmt/ and hold no spaces or control characters');
    const spec: RequestSpec = { method: 'GET', path, auth: true, retry: options.retry };
    return this.json(spec, await this.request(spec));
  }

  /** Counters since creation. */
  public stats(): BigipClientStats {
    return { ...this.counters };
  }

  /** Whether {@link close} was called. */
  public get closed(): boolean {
    return this.closeController.signal.aborted;
  }

  /**
   * Stops retries and waiting writes (they fail with `ClientClosed`), deletes the token on the
   * device and closes the connections. Safe to call more than once.
   */
  public close(): Promise<void> {
    this.closing ??= (async () => {
      this.closeController.abort();
      const pending = this.tokenTask;
      if (pending) await pending.catch(() => undefined);
      const token = this.token;
      this.token = undefined;
      if (token) await this.deleteToken(token.token);
      await this.agent.close().catch(() => undefined);
    })();
    return this.closing;
  }

  // ---------------------------------------------------------------- requests and retries

  /** A read: not queued behind writes. */
  private request(spec: RequestSpec): Promise<HttpAnswer> {
    return this.attempts(spec);
  }

  /** A write: one at a time per client, in call order. */
  private write(spec: RequestSpec): Promise<HttpAnswer> {
    return this.serialized(() => this.attempts(spec));
  }

  private async serialized<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) throw this.closedError('POST', '(write)');
    if (this.queuedWrites >= this.maxQueuedWrites) {
      this.counters.failures++;
      throw new BigipApiError({
        reason: 'QueueFull',
        terminal: false,
        method: 'POST',
        path: '(write queue)',
        deviceMessage: `${this.queuedWrites} writes already wait for ${this.url}`,
      });
    }
    this.queuedWrites++;
    const previous = this.writeTail;
    let release!: () => void;
    this.writeTail = new Promise<void>((resolve) => (release = resolve));
    try {
      await previous;
      return await work();
    } finally {
      this.queuedWrites--;
      release();
    }
  }

  /** Sends with retries: backoff on transient failures, one re-login on 401. */
  private async attempts(spec: RequestSpec): Promise<HttpAnswer> {
    let failures = 0;
    let reloggedIn = false;
    for (;;) {
      if (this.closed) throw this.closedError(spec.method, spec.path, failures + 1);
      const session = spec.auth && spec.token === undefined ? await this.ensureToken() : undefined;
      let answer: HttpAnswer;
      try {
        answer = await this.send(spec, spec.token ?? session?.token);
      } catch (err) {
        if (this.closed) throw this.closedError(spec.method, spec.path, failures + 1);
        const c = classifyNetworkError(err);
        failures++;
        const message = `${c.code ? `${c.code}: ` : ''}${(err as Error).message ?? String(err)}`;
        if (!c.retryable || failures >= this.maxAttempts(spec)) {
          this.counters.failures++;
          throw new BigipApiError({
            reason: c.reason,
            terminal: !c.retryable,
            method: spec.method,
            path: safePath(spec.path),
            deviceMessage: message,
            hint: c.hint,
            attempts: failures,
            cause: err,
          });
        }
        await this.backoff(spec, failures, c.reason, undefined);
        continue;
      }
      if (answer.status < 300) return answer;
      const message = deviceMessageOf(answer.text);
      if (answer.status === 401 && session && !reloggedIn) {
        // The token was revoked or expired early: one fresh login, then the same request again.
        reloggedIn = true;
        this.dropToken(session);
        this.logger.info('BIG-IP answered 401; logging in again', { method: spec.method, path: safePath(spec.path) });
        continue;
      }
      const c = classifyResponse(answer.status, message, spec.path);
      failures++;
      if (!c.retryable || failures >= this.maxAttempts(spec)) {
        this.counters.failures++;
        throw new BigipApiError({
          reason: c.reason,
          terminal: !c.retryable,
          method: spec.method,
          path: safePath(spec.path),
          status: answer.status,
          deviceMessage: message,
          hint: c.hint,
          attempts: failures,
        });
      }
      await this.backoff(spec, failures, c.reason, answer.status);
    }
  }

  private maxAttempts(spec: RequestSpec): number {
    return spec.retry === false ? 1 : this.retry.maxAttempts;
  }

  private async backoff(spec: RequestSpec, failures: number, reason: BigipErrorReason, status: number | undefined): Promise<void> {
    const ms = fullJitterDelay(failures, { initialMs: this.retry.baseDelayMs, maxMs: this.retry.maxDelayMs }, this.random);
    this.counters.retries++;
    this.logger.debug('BIG-IP request failed; retrying', {
      method: spec.method,
      path: safePath(spec.path),
      status,
      reason,
      attempt: failures,
      delayMs: ms,
    });
    try {
      await this.sleepFn(ms, this.closeController.signal);
    } catch (err) {
      if (this.closed) throw this.closedError(spec.method, spec.path, failures);
      throw err;
    }
  }

  private async send(spec: RequestSpec, token: string | undefined, timeoutMs = this.timeoutMs, ignoreClose = false): Promise<HttpAnswer> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (spec.body !== undefined) headers['content-type'] = 'application/json';
    if (token !== undefined) headers['x-f5-auth-token'] = token;
    // One controller per attempt, released in `finally`: AbortSignal.any() on the client-long
    // close signal keeps every derived signal alive on Node 20, which a busy controller would leak.
    const attempt = new AbortController();
    const closeSignal = this.closeController.signal;
    const onClose = () => attempt.abort(closeSignal.reason);
    if (!ignoreClose) closeSignal.addEventListener('abort', onClose, { once: true });
    const timer = setTimeout(
      () => attempt.abort(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { name: 'TimeoutError', code: 'ETIMEDOUT' })),
      timeoutMs,
    );
    this.counters.requests++;
    try {
      const res = await this.agent.request({
        origin: this.url,
        path: spec.path,
        method: spec.method,
        headers,
        body: spec.body,
        signal: attempt.signal,
      });
      return { status: res.statusCode, text: await res.body.text() };
    } finally {
      clearTimeout(timer);
      closeSignal.removeEventListener('abort', onClose);
    }
  }

  private json(spec: RequestSpec, answer: HttpAnswer): unknown {
    if (answer.text.trim() === '') return undefined;
    try {
      return JSON.parse(answer.text);
    } catch {
      throw this.unexpected(spec, `a body that is not JSON: ${deviceMessageOf(answer.text)}`);
    }
  }

  private unexpected(spec: RequestSpec, what: string): BigipApiError {
    this.counters.failures++;
    return new BigipApiError({
      reason: 'DeviceError',
      terminal: true,
      method: spec.method,
      path: safePath(spec.path),
      deviceMessage: `unexpected answer: ${what}`,
    });
  }

  private closedError(method: string, path: string, attempts?: number): BigipApiError {
    return new BigipApiError({
      reason: 'ClientClosed',
      terminal: true,
      method,
      path: safePath(path),
      deviceMessage: 'the client was closed',
      attempts,
    });
  }

  // ---------------------------------------------------------------- AS3 tasks

  /** Polls a task until every result has a code (AS3 reports code 0 while it runs). */
  private async awaitTask(id: string, pollIntervalMs: number, timeoutMs: number): Promise<As3TaskBody | undefined> {
    const spec: RequestSpec = { method: 'GET', path: `/mgmt/shared/appsvcs/task/${encodeURIComponent(id)}`, auth: true };
    const deadline = this.now() + timeoutMs;
    for (;;) {
      const body = this.json(spec, await this.attempts(spec)) as As3TaskBody | undefined;
      const results = Array.isArray(body?.results) ? body.results : [];
      if (results.length && results.every((r) => r.code !== 0)) return body;
      if (this.now() >= deadline) {
        this.counters.failures++;
        throw new BigipApiError({
          reason: 'Timeout',
          terminal: false,
          method: 'GET',
          path: spec.path,
          deviceMessage: `AS3 task ${id} still running after ${timeoutMs} ms`,
        });
      }
      try {
        await this.sleepFn(pollIntervalMs, this.closeController.signal);
      } catch (err) {
        if (this.closed) throw this.closedError(spec.method, spec.path);
        throw err;
      }
    }
  }

  private finishDeclare(spec: RequestSpec, body: As3TaskBody | undefined, taskId: string | undefined): As3DeclareResult {
    const results = Array.isArray(body?.results) ? body.results : undefined;
    if (!results) throw this.unexpected(spec, 'no "results" in the AS3 answer');
    const failed = results.filter((r) => typeof r.code !== 'number' || r.code < 200 || r.code >= 300);
    if (failed.length) {
      this.counters.failures++;
      const text = failed
        .map((r) => {
          const details = r.errors?.length ? `: ${r.errors.slice(0, 5).join('; ')}` : r.response ? `: ${r.response}` : '';
          return `${r.tenant ? `tenant ${r.tenant}: ` : ''}${r.code} ${r.message}${details}`;
        })
        .join(' | ');
      throw new BigipApiError({
        reason: 'InvalidDeclaration',
        terminal: true,
        method: 'POST',
        path: spec.path,
        status: failed[0].code,
        deviceMessage: text,
      });
    }
    return { results, declaration: body?.declaration, ...(taskId ? { taskId } : {}) };
  }

  // ---------------------------------------------------------------- token life cycle

  /** The session token, logging in or extending it first when needed (one at a time). */
  private ensureToken(): Promise<TokenState> {
    const t = this.token;
    const now = this.now();
    if (t && now < t.refreshAt) return Promise.resolve(t);
    if (!this.tokenTask) {
      const task = t && now < t.expiresAt - 1000 ? this.extendToken(t) : this.login();
      this.tokenTask = task.finally(() => {
        this.tokenTask = undefined;
      });
    }
    return this.tokenTask;
  }

  private refreshMarginMs(lifetimeMs: number): number {
    return Math.min(60_000, lifetimeMs / 4);
  }

  private async login(): Promise<TokenState> {
    const spec: RequestSpec = {
      method: 'POST',
      path: LOGIN_PATH,
      body: JSON.stringify({ username: this.username, password: this.password, loginProviderName: this.loginProviderName }),
      auth: false,
    };
    const issuedAt = this.now();
    this.counters.logins++;
    const body = this.json(spec, await this.attempts(spec)) as { token?: { token?: unknown; timeout?: unknown } } | undefined;
    const token = body?.token?.token;
    const timeoutS = Number(body?.token?.timeout ?? 1200);
    if (typeof token !== 'string' || token === '' || !(timeoutS > 0)) throw this.unexpected(spec, 'no token in the login answer');
    if (this.closed) {
      await this.deleteToken(token);
      throw this.closedError(spec.method, spec.path);
    }
    const lifetimeMs = timeoutS * 1000;
    const state: TokenState = {
      token,
      issuedAt,
      expiresAt: issuedAt + lifetimeMs,
      refreshAt: issuedAt + lifetimeMs - this.refreshMarginMs(lifetimeMs),
    };
    this.token = state;
    this.logger.debug('BIG-IP login', { url: this.url, user: this.username, timeoutSeconds: timeoutS });
    return state;
  }

  /** PATCHes the token's timeout (counted from its start); logs in again past the device's cap. */
  private async extendToken(t: TokenState): Promise<TokenState> {
    const ageS = Math.ceil((this.now() - t.issuedAt) / 1000);
    const wanted = ageS + this.tokenTimeoutS;
    if (wanted > TOKEN_ABSOLUTE_MAX_S) {
      const fresh = await this.login();
      await this.deleteToken(t.token);
      return fresh;
    }
    const spec: RequestSpec = {
      method: 'PATCH',
      path: `${TOKENS_PATH}${t.token}`,
      body: JSON.stringify({ timeout: wanted }),
      auth: true,
      token: t.token,
    };
    try {
      const body = this.json(spec, await this.attempts(spec)) as { timeout?: unknown } | undefined;
      const timeoutS = typeof body?.timeout === 'number' ? body.timeout : wanted;
      t.expiresAt = t.issuedAt + timeoutS * 1000;
      t.refreshAt = t.expiresAt - this.refreshMarginMs(this.tokenTimeoutS * 1000);
      this.counters.tokenExtensions++;
      return t;
    } catch (err) {
      if (err instanceof BigipApiError && err.reason === 'ClientClosed') throw err;
      // Gone (401/404) or not extendable: a fresh login is the way on.
      this.logger.debug('BIG-IP token extension failed; logging in again', { reason: (err as BigipApiError).reason });
      if (this.token === t) this.token = undefined;
      return this.login();
    }
  }

  private dropToken(t: TokenState): void {
    if (this.token === t) this.token = undefined;
  }

  /** Best effort: a token that cannot be deleted expires on its own. */
  private async deleteToken(token: string): Promise<void> {
    try {
      const answer = await this.send(
        { method: 'DELETE', path: `${TOKENS_PATH}${token}`, auth: true },
        token,
        Math.min(this.timeoutMs, 5000),
        true,
      );
      if (answer.status >= 300 && answer.status !== 401 && answer.status !== 404) {
        this.logger.warn('BIG-IP token could not be deleted; it expires on its own', { status: answer.status });
      }
    } catch (err) {
      this.logger.warn('BIG-IP token could not be deleted; it expires on its own', { error: (err as Error).message });
    }
  }
}

function declarePath(tenants: readonly string[], async: boolean): string {
  let path = '/mgmt/shared/appsvcs/declare';
  for (const t of tenants)
    if (typeof t !== 'string' || !AS3_NAME.test(t))
      throw inputError('POST', path, `tenant ${JSON.stringify(t)} is not a valid AS3 tenant name`);
  if (tenants.length) path += `/${tenants.join(',')}`;
  return async ? `${path}?async=true` : path;
}

/** The `ip` of every node of a service-discovery task (`providerOptions.nodeList`), or undefined. */
function nodeListOf(task: unknown): string[] | undefined {
  const list = (task as { providerOptions?: { nodeList?: unknown } } | undefined)?.providerOptions?.nodeList;
  if (!Array.isArray(list)) return undefined;
  const ips: string[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const ip = (list[i] as { ip?: unknown } | null)?.ip;
    if (typeof ip !== 'string') return undefined;
    ips[i] = ip;
  }
  return ips;
}

function nodesPath(taskId: string, method: string): string {
  if (typeof taskId !== 'string' || !TASK_ID.test(taskId)) {
    throw inputError(
      method,
      '/mgmt/shared/service-discovery/task/{taskId}/nodes',
      `task id ${JSON.stringify(taskId)} is not a service-discovery task id; use the list path with "/" replaced by "~", e.g. "~Common~Shared~k8s_src_cluster"`,
    );
  }
  return `/mgmt/shared/service-discovery/task/${taskId}/nodes`;
}
