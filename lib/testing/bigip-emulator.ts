/**
 * An in-process BIG-IP management interface for tests, the demo and benchmarks.
 *
 * It speaks the iControl REST and AS3 protocols as documented by F5 (token auth, AS3 declare
 * with async tasks, the service-discovery nodes endpoint of event-driven address lists, tmsh
 * through `/mgmt/tm/util/bash`) over real HTTPS on loopback, keeps the deployed declaration
 * per tenant, derives the firewall state from it and can inject the failures a real device
 * shows (revoked tokens, busy control plane, lost mcpd connection, latency, connection
 * resets), deterministically from a seed.
 *
 * What it is not: a firewall. It evaluates no traffic and checks only what the protocols and
 * the configuration model it keeps need. Where the real device's behaviour is not documented
 * the choice made here is marked "(unverified)".
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import { packageRoot, seededRandom } from '../util';
import { As3Validator } from './as3-validator';

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

export interface BigipEmulatorOptions {
  /**
   * Loopback address to listen on: `127.0.0.1` or `::1`.
   * @default '127.0.0.1'
   */
  readonly host?: string;
  /**
   * TCP port.
   * @default - a random free port
   */
  readonly port?: number;
  /**
   * Local users and their passwords.
   * @default { admin: 'admin' }
   */
  readonly users?: Readonly<Record<string, string>>;
  /**
   * Lifetime of a new token, in seconds (the device's default is 1200).
   * @default 1200
   */
  readonly tokenLifetimeSeconds?: number;
  /**
   * Active tokens one user may hold; the next login gets 400. The real device exempts `admin`;
   * the emulator does not, so that a client that leaks tokens fails its tests.
   * @default 100
   */
  readonly maxTokensPerUser?: number;
  /**
   * Accept HTTP Basic auth of local users besides tokens.
   * @default false
   */
  readonly allowBasicAuth?: boolean;
  /**
   * F5's AS3 JSON schema file. When given, declarations are validated with it (and with the
   * checks of `As3Validator`) and rejected with 422 as AS3 does.
   * @default - only structural checks (ADC/Tenant classes, schemaVersion)
   */
  readonly as3SchemaPath?: string;
  /**
   * How long one AS3 operation (declare or delete) runs, in milliseconds. A second write
   * during that time gets 503.
   * @default 20
   */
  readonly as3OperationMs?: number;
  /**
   * A synchronous declare that runs longer than this is answered 202 with a task, as AS3 does
   * after 45 s.
   * @default 45000
   */
  readonly as3SyncLimitMs?: number;
  /**
   * Route domains that exist on the device (tmsh paths).
   * @default ['/Common/0']
   */
  readonly routeDomains?: readonly string[];
  /**
   * DNS resolvers that exist on the device (tmsh paths), for the global FQDN policy.
   * @default - none
   */
  readonly dnsResolvers?: readonly string[];
  /**
   * Seed of the fault generator; the same seed and the same request order give the same faults.
   * @default 24301
   */
  readonly seed?: number;
  /**
   * Time source in epoch milliseconds (token expiry, history timestamps).
   * @default Date.now
   */
  readonly clock?: () => number;
  /**
   * Node pushes kept in the history (oldest dropped first).
   * @default 10000
   */
  readonly historyLimit?: number;
  /**
   * Total IPs kept across the history (oldest pushes dropped first).
   * @default 1000000
   */
  readonly historyIpLimit?: number;
  /**
   * Largest accepted request body; larger ones get 413.
   * @default 67108864
   */
  readonly maxBodyBytes?: number;
}

/** One replacement of a list's members through the service-discovery endpoint. */
export interface BigipNodePush {
  readonly taskId: string;
  /** When the emulator applied it (epoch ms from the emulator's clock). */
  readonly at: number;
  readonly ips: readonly string[];
}

/** Firewall policy attachment of a context (`undefined` = none). */
export interface BigipPolicyAttachment {
  readonly enforcedPolicy?: string;
  readonly stagedPolicy?: string;
}

/** Per-tenant result of an AS3 operation. */
export interface BigipAs3Result {
  readonly code: number;
  readonly message: string;
  readonly tenant?: string;
  readonly host?: string;
  readonly runTime?: number;
  readonly dryRun?: boolean;
  readonly response?: string;
  readonly errors?: readonly string[];
}

const DEFAULT_SEED = 24301;
const TOKEN_ABSOLUTE_MAX_S = 36000;
const AS3_TASK_RECORDS_MAX = 25;
const AS3_VERSION = { version: '3.56.0', release: '10', schemaCurrent: '3.56.0', schemaMinimum: '3.0.0' };
const TMOS_VERSION = { product: 'BIG-IP', version: '17.1.1', build: '0.0.2', edition: 'Final', date: 'Tue Dec 19 2023' };
const AS3_NAME = /^[A-Za-z][0-9A-Za-z_.-]*$/;
const ADC_HEADER_KEYS = new Set(['class', 'schemaVersion', 'id', 'label', 'remark', 'constants', 'controls', 'updateMode', '$schema']);
const NODE_IP = /^([^%]+)(?:%(\d{1,5}))?$/;
const BUSY_MESSAGE = (host: string) => `Configuration operation in progress on device ${host}, please try again in 2 minutes`;
const MCPD_LOST = 'The connection to mcpd has been lost, try again.';
const DEVICE_HOST = 'localhost';

/** Route templates; request counters are keyed `<METHOD> <template>`. */
const ROUTES: ReadonlyArray<{ readonly template: string; readonly pattern: RegExp }> = [
  { template: '/mgmt/shared/authn/login', pattern: /^\/mgmt\/shared\/authn\/login\/?$/ },
  { template: '/mgmt/shared/authz/tokens/{token}', pattern: /^\/mgmt\/shared\/authz\/tokens\/([^/]+)\/?$/ },
  { template: '/mgmt/shared/appsvcs/declare', pattern: /^\/mgmt\/shared\/appsvcs\/declare\/?$/ },
  { template: '/mgmt/shared/appsvcs/declare/{tenants}', pattern: /^\/mgmt\/shared\/appsvcs\/declare\/([^/]+)\/?$/ },
  { template: '/mgmt/shared/appsvcs/task', pattern: /^\/mgmt\/shared\/appsvcs\/task\/?$/ },
  { template: '/mgmt/shared/appsvcs/task/{id}', pattern: /^\/mgmt\/shared\/appsvcs\/task\/([^/]+)\/?$/ },
  { template: '/mgmt/shared/appsvcs/info', pattern: /^\/mgmt\/shared\/appsvcs\/info\/?$/ },
  { template: '/mgmt/shared/service-discovery/task/{taskId}/nodes', pattern: /^\/mgmt\/shared\/service-discovery\/task\/([^/]+)\/nodes\/?$/ },
  { template: '/mgmt/tm/util/bash', pattern: /^\/mgmt\/tm\/util\/bash\/?$/ },
  { template: '/mgmt/tm/security/firewall/global-rules', pattern: /^\/mgmt\/tm\/security\/firewall\/global-rules\/?$/ },
  { template: '/mgmt/tm/security/firewall/global-fqdn-policy', pattern: /^\/mgmt\/tm\/security\/firewall\/global-fqdn-policy\/?$/ },
];

interface Token {
  readonly token: string;
  readonly user: string;
  readonly startMs: number;
  timeoutS: number;
}

interface SdTask {
  readonly path: string;
  ips: readonly string[];
  /** Node ids, or undefined when every id equals its ip (saves memory on big lists). */
  ids: readonly string[] | undefined;
}

interface HistoryEntry {
  readonly taskId: string;
  readonly at: number;
  readonly joined: string;
  readonly count: number;
}

interface FaultState {
  readonly rule: BigipFaultRule;
  remaining: number;
}

interface TaskRecord {
  readonly id: string;
  results: BigipAs3Result[];
  declaration: Record<string, unknown>;
  readonly selfLink: string;
}

interface FirewallIndex {
  readonly policies: Set<string>;
  /** Event-driven lists: task id → path. */
  readonly eventLists: Map<string, string>;
  /** Address lists without event discovery: task id → path. */
  readonly staticLists: Map<string, string>;
  /** Route domain path → enforced policy path (from `routeDomainEnforcement`). */
  readonly routeDomainPolicies: Map<string, string>;
}

type Json = Record<string, unknown>;

class HttpError extends Error {
  constructor(
    public readonly status: number,
    public readonly body: unknown,
  ) {
    super(typeof body === 'object' && body && 'message' in body ? String((body as Json).message) : `HTTP ${status}`);
  }
}


/** JSON with sorted keys, so that two declarations compare by content. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value as Json).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Json)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function isObject(value: unknown): value is Json {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

/** `addr[%rd]` as the service-discovery endpoint accepts it. */
function nodeIpProblem(ip: unknown): string | undefined {
  if (typeof ip !== 'string') return 'must be a string';
  const m = NODE_IP.exec(ip);
  if (!m || net.isIP(m[1]) === 0) return 'must be an IPv4 or IPv6 address with an optional %<routeDomain>';
  if (m[2] !== undefined && Number(m[2]) > 65534) return 'route domain must be 0..65534';
  return undefined;
}

/** Normalises a tmsh object name: relative names live in `/Common`. */
function tmshPath(name: string): string {
  return name.startsWith('/') ? name : `/Common/${name}`;
}

function fixturePath(file: string): string {
  return path.join(packageRoot(), 'lib', 'testing', 'fixtures', file);
}

const validators = new Map<string, As3Validator>();

function validatorFor(schemaPath: string): As3Validator {
  const resolved = path.resolve(schemaPath);
  let v = validators.get(resolved);
  if (!v) {
    if (!fs.existsSync(resolved)) throw new Error(`BigipEmulator: as3SchemaPath ${resolved} does not exist; pass the path of F5's as3-schema-<version>.json or leave the option out`);
    v = As3Validator.fromSchemaFile(resolved);
    validators.set(resolved, v);
  }
  return v;
}

/**
 * An emulated BIG-IP on `https://127.0.0.1:<port>`, with TLS from the package's test CA.
 *
 * ```ts
 * const device = await BigipEmulator.start({ tokenLifetimeSeconds: 60 });
 * // ... point a client at device.url, trusting BigipEmulator.caCertificate()
 * await device.stop();
 * ```
 */
export class BigipEmulator {
  /** PEM of the CA that signed the emulator's server certificate (trust it in clients). */
  public static caCertificate(): string {
    return fs.readFileSync(fixturePath('ca.crt'), 'utf8');
  }

  /** Starts an emulator and waits until it listens. */
  public static async start(options: BigipEmulatorOptions = {}): Promise<BigipEmulator> {
    const emulator = new BigipEmulator(options);
    await emulator.listen(options.port ?? 0);
    return emulator;
  }

  /** Base URL, e.g. `https://127.0.0.1:43121`. */
  public get url(): string {
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('BigipEmulator: not listening');
    return this.host.includes(':') ? `https://[${this.host}]:${address.port}` : `https://${this.host}:${address.port}`;
  }

  /** The listening port. */
  public get port(): number {
    const address = this.server.address();
    if (!address || typeof address === 'string') throw new Error('BigipEmulator: not listening');
    return address.port;
  }

  private readonly server: https.Server;
  private readonly host: string;
  private readonly users: Readonly<Record<string, string>>;
  private readonly tokenLifetimeS: number;
  private readonly maxTokensPerUser: number;
  private readonly allowBasicAuth: boolean;
  private readonly validator: As3Validator | undefined;
  private readonly as3OperationMs: number;
  private readonly as3SyncLimitMs: number;
  private readonly routeDomainPaths: Set<string>;
  private readonly dnsResolvers: Set<string>;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly historyLimit: number;
  private readonly historyIpLimit: number;
  private readonly maxBodyBytes: number;

  private readonly tokens = new Map<string, Token>();
  private adcHeader: Json | undefined;
  private readonly tenants = new Map<string, Json>();
  private index: FirewallIndex = { policies: new Set(), eventLists: new Map(), staticLists: new Map(), routeDomainPolicies: new Map() };
  private readonly sdTasks = new Map<string, SdTask>();
  private readonly as3Tasks = new Map<string, TaskRecord>();
  private as3Busy = false;
  private global: { enforcedPolicy?: string; stagedPolicy?: string } = {};
  private fqdnResolver: string | undefined;
  private readonly routeDomainState = new Map<string, { enforcedPolicy?: string; stagedPolicy?: string }>();
  private faults: FaultState[] = [];
  private readonly faultCounts = new Map<BigipFault, number>();
  private readonly counters = new Map<string, number>();
  private readonly history: HistoryEntry[] = [];
  private historyHead = 0;
  private historyIps = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private restOperationId = 1000;
  private stopped = false;

  private constructor(options: BigipEmulatorOptions) {
    const host = options.host ?? '127.0.0.1';
    if (host !== '127.0.0.1' && host !== '::1') {
      throw new Error(`BigipEmulator: host ${JSON.stringify(host)} is not a loopback address; the emulator listens on 127.0.0.1 or ::1 only`);
    }
    const positive = (name: string, v: number | undefined, fallback: number, min = 1) => {
      const value = v ?? fallback;
      if (!Number.isFinite(value) || value < min) throw new Error(`BigipEmulator: ${name} must be a number >= ${min} (got ${String(v)})`);
      return value;
    };
    this.host = host;
    this.users = options.users ?? { admin: 'admin' };
    this.tokenLifetimeS = positive('tokenLifetimeSeconds', options.tokenLifetimeSeconds, 1200);
    if (this.tokenLifetimeS > TOKEN_ABSOLUTE_MAX_S) throw new Error(`BigipEmulator: tokenLifetimeSeconds must be <= ${TOKEN_ABSOLUTE_MAX_S}`);
    this.maxTokensPerUser = positive('maxTokensPerUser', options.maxTokensPerUser, 100);
    this.allowBasicAuth = options.allowBasicAuth ?? false;
    this.validator = options.as3SchemaPath !== undefined ? validatorFor(options.as3SchemaPath) : undefined;
    this.as3OperationMs = positive('as3OperationMs', options.as3OperationMs, 20, 0);
    this.as3SyncLimitMs = positive('as3SyncLimitMs', options.as3SyncLimitMs, 45000, 0);
    this.routeDomainPaths = new Set((options.routeDomains ?? ['/Common/0']).map(tmshPath));
    this.dnsResolvers = new Set((options.dnsResolvers ?? []).map(tmshPath));
    this.clock = options.clock ?? Date.now;
    this.random = seededRandom(options.seed ?? DEFAULT_SEED);
    this.historyLimit = positive('historyLimit', options.historyLimit, 10000);
    this.historyIpLimit = positive('historyIpLimit', options.historyIpLimit, 1_000_000);
    this.maxBodyBytes = positive('maxBodyBytes', options.maxBodyBytes, 64 * 1024 * 1024);
    for (const rd of this.routeDomainPaths) this.routeDomainState.set(rd, {});

    this.server = https.createServer(
      { key: fs.readFileSync(fixturePath('server.key')), cert: fs.readFileSync(fixturePath('server.crt')) },
      (req, res) => {
        this.handle(req, res).catch((err: unknown) => {
          if (!res.headersSent && !res.destroyed) this.send(res, 500, { code: 500, message: `emulator error: ${(err as Error).message}` });
        });
      },
    );
  }

  /** Stops listening, drops open connections and pending timers. */
  public async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  // ---------------------------------------------------------------- fault injection

  /** Adds a fault rule (see {@link BigipFaultRule}). */
  public injectFault(rule: BigipFaultRule): void {
    if (!Object.values(BigipFault).includes(rule.fault)) throw new Error(`BigipEmulator: unknown fault ${JSON.stringify(rule.fault)}`);
    const p = rule.probability ?? 1;
    if (!(p >= 0 && p <= 1)) throw new Error(`BigipEmulator: fault probability must be within 0..1 (got ${p})`);
    if (rule.count !== undefined && !(Number.isInteger(rule.count) && rule.count >= 1)) {
      throw new Error(`BigipEmulator: fault count must be a whole number >= 1 (got ${rule.count})`);
    }
    const min = rule.latencyMs ?? 100;
    const max = rule.latencyMaxMs ?? min;
    if (!(min >= 0 && max >= min)) throw new Error(`BigipEmulator: latency must satisfy 0 <= latencyMs <= latencyMaxMs (got ${min}..${max})`);
    this.faults.push({ rule, remaining: rule.count ?? Infinity });
  }

  /** Removes every fault rule. */
  public clearFaults(): void {
    this.faults = [];
  }

  /** How often a fault was applied. */
  public faultCount(fault?: BigipFault): number {
    if (fault) return this.faultCounts.get(fault) ?? 0;
    let n = 0;
    for (const v of this.faultCounts.values()) n += v;
    return n;
  }

  // ---------------------------------------------------------------- introspection

  /**
   * Requests received for a route, keyed `<METHOD> <template>`, e.g.
   * `POST /mgmt/shared/service-discovery/task/{taskId}/nodes` or `POST /mgmt/shared/authn/login`;
   * without a key, the total. Faulted requests count too.
   */
  public requestCount(key?: string): number {
    if (key !== undefined) return this.counters.get(key) ?? 0;
    let n = 0;
    for (const v of this.counters.values()) n += v;
    return n;
  }

  /** All request counters. */
  public requestCounts(): Record<string, number> {
    return Object.fromEntries([...this.counters.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** Zeroes the request and fault counters. */
  public resetCounters(): void {
    this.counters.clear();
    this.faultCounts.clear();
  }

  /** The deployed declaration (ADC, all tenants), or undefined when nothing is deployed. */
  public declaration(): Record<string, unknown> | undefined {
    if (this.tenants.size === 0) return undefined;
    return structuredClone({ ...this.adcHeader, ...Object.fromEntries(this.tenants) });
  }

  /** Task ids of the event-driven address lists of the deployed declaration, sorted. */
  public eventListTaskIds(): string[] {
    return [...this.sdTasks.keys()].sort();
  }

  /**
   * Members of an event-driven list, by path (`/T/A/name`) or task id (`~T~A~name`), in the
   * order they were pushed; undefined when no such event-driven list is deployed.
   */
  public listMembers(pathOrTaskId: string): string[] | undefined {
    const task = this.sdTasks.get(pathOrTaskId.replace(/\//g, '~'));
    return task ? [...task.ips] : undefined;
  }

  /** The global firewall context's policies. */
  public globalRules(): BigipPolicyAttachment {
    return { ...this.global };
  }

  /** The global FQDN policy's DNS resolver. */
  public globalFqdnResolver(): string | undefined {
    return this.fqdnResolver;
  }

  /** Firewall policies of a route domain (`/Common/0`); undefined for an unknown route domain. */
  public routeDomain(pathOrName: string): BigipPolicyAttachment | undefined {
    const state = this.routeDomainState.get(tmshPath(pathOrName));
    return state ? { ...state } : undefined;
  }

  /** Tokens that have not expired, of one user or of all. */
  public activeTokenCount(user?: string): number {
    const now = this.clock();
    let n = 0;
    for (const t of this.tokens.values()) if ((user === undefined || t.user === user) && this.tokenExpiry(t) > now) n++;
    return n;
  }

  /** Drops every token, as a device restart does. */
  public revokeAllTokens(): void {
    this.tokens.clear();
  }

  /** Whether an AS3 operation (declare or delete) is running. */
  public as3OperationRunning(): boolean {
    return this.as3Busy;
  }

  /**
   * Node pushes kept in the history, oldest first, optionally for one list (path or task id)
   * and from a time on (epoch ms, inclusive).
   */
  public nodePushes(filter: { readonly list?: string; readonly since?: number } = {}): BigipNodePush[] {
    const taskId = filter.list?.replace(/\//g, '~');
    const out: BigipNodePush[] = [];
    for (let i = this.historyHead; i < this.history.length; i++) {
      const e = this.history[i];
      if (taskId !== undefined && e.taskId !== taskId) continue;
      if (filter.since !== undefined && e.at < filter.since) continue;
      out.push({ taskId: e.taskId, at: e.at, ips: e.count === 0 ? [] : e.joined.split(',') });
    }
    return out;
  }

  /**
   * The first push to a list, at or after `since`, whose members do not include `ip`: when the
   * IP left the list (for lag measurements). Undefined when no such push is in the history.
   */
  public firstPushWithout(list: string, ip: string, since = 0): BigipNodePush | undefined {
    const taskId = list.replace(/\//g, '~');
    for (let i = this.historyHead; i < this.history.length; i++) {
      const e = this.history[i];
      if (e.taskId !== taskId || e.at < since) continue;
      const ips = e.count === 0 ? [] : e.joined.split(',');
      if (!ips.includes(ip)) return { taskId, at: e.at, ips };
    }
    return undefined;
  }

  // ---------------------------------------------------------------- server plumbing

  private async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  /** The promise's value, or undefined when it takes longer than `ms` (the timer is cleared either way). */
  private within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
    return new Promise<T | undefined>((resolve, reject) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve(undefined);
      }, ms);
      this.timers.add(t);
      promise.then(
        (v) => {
          clearTimeout(t);
          this.timers.delete(t);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(t);
          this.timers.delete(t);
          reject(e);
        },
      );
    });
  }

  private send(res: ServerResponse, status: number, body?: unknown, contentType = 'application/json; charset=UTF-8'): void {
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

  private restError(status: number, message: string): HttpError {
    return new HttpError(status, { code: status, message, referer: '127.0.0.1', restOperationId: this.restOperationId++, kind: ':resterrorresponse' });
  }

  private tmosError(status: number, message: string): HttpError {
    return new HttpError(status, { code: status, message, errorStack: [], apiError: 3 });
  }

  private count(key: string): void {
    this.counters.set(key, (this.counters.get(key) ?? 0) + 1);
  }

  /** Decides which faults hit a request: total latency and at most one terminal fault. */
  private drawFaults(method: string, pathname: string): { latencyMs: number; fault?: BigipFault } {
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

  private async readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > this.maxBodyBytes) throw this.restError(413, `request body exceeds ${this.maxBodyBytes} bytes`);
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  private parseJson(text: string): unknown {
    if (text.trim() === '') return undefined;
    try {
      return JSON.parse(text);
    } catch (e) {
      throw this.restError(400, `Found invalid JSON body in the request: ${(e as Error).message}`);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'https://localhost');
    const pathname = url.pathname;
    let template: string | undefined;
    let param: string | undefined;
    for (const r of ROUTES) {
      const m = r.pattern.exec(pathname);
      if (m) {
        template = r.template;
        param = m[1] !== undefined ? decodeURIComponent(m[1]) : undefined;
        break;
      }
    }
    this.count(`${method} ${template ?? '(unregistered)'}`);

    const { latencyMs, fault } = this.drawFaults(method, pathname);
    if (latencyMs > 0) await this.delay(latencyMs);
    if (this.stopped) return;
    try {
      if (fault) {
        this.applyFault(fault, req, res, pathname);
        return;
      }
      const body = method === 'GET' || method === 'DELETE' ? undefined : this.parseJson(await this.readBody(req));
      if (template === undefined) {
        throw this.restError(404, `URI path ${pathname} not registered.  Please verify URI is supported and wait for /available suffix to be responsive.`);
      }
      if (template === '/mgmt/shared/authn/login') {
        if (method !== 'POST') throw this.methodNotAllowed(method, pathname);
        this.send(res, 200, this.login(body));
        return;
      }
      const user = this.authenticate(req, pathname);
      const [status, out] = await this.route(template, method, param, body, url, user);
      this.send(res, status, out);
    } catch (e) {
      if (e instanceof HttpError) this.send(res, e.status, e.body);
      else throw e;
    }
  }

  private applyFault(fault: BigipFault, req: IncomingMessage, res: ServerResponse, pathname: string): void {
    switch (fault) {
      case BigipFault.RESET:
        req.socket.destroy();
        return;
      case BigipFault.UNAUTHORIZED: {
        if (pathname.startsWith('/mgmt/shared/authn/login')) throw this.restError(401, 'Authentication failed.');
        const presented = req.headers['x-f5-auth-token'];
        if (typeof presented === 'string') this.tokens.delete(presented);
        throw this.restError(401, 'X-F5-Auth-Token does not exist.');
      }
      case BigipFault.BUSY:
        if (pathname.startsWith('/mgmt/shared/appsvcs/')) {
          throw new HttpError(503, { code: 503, message: BUSY_MESSAGE(DEVICE_HOST), errors: [], declarationFullId: '' });
        }
        this.send(res, 503, '<html><head><title>Configuration Utility restarting...</title></head><body>Configuration Utility restarting...</body></html>', 'text/html; charset=UTF-8');
        return;
      case BigipFault.MCPD_LOST:
        throw new HttpError(500, { code: 500, message: MCPD_LOST, errorStack: [], apiError: 32768001 });
      default:
        return;
    }
  }

  private methodNotAllowed(method: string, pathname: string): HttpError {
    return this.restError(405, `Method ${method} is not supported on ${pathname}`);
  }

  private async route(template: string, method: string, param: string | undefined, body: unknown, url: URL, user: string): Promise<[number, unknown]> {
    switch (template) {
      case '/mgmt/shared/authz/tokens/{token}':
        return this.tokenResource(method, param as string, body, user);
      case '/mgmt/shared/appsvcs/declare':
      case '/mgmt/shared/appsvcs/declare/{tenants}':
        return this.declareResource(method, param, body, url);
      case '/mgmt/shared/appsvcs/task':
        if (method !== 'GET') throw this.methodNotAllowed(method, url.pathname);
        return [200, { items: [...this.as3Tasks.values()].map((t) => structuredClone(t)) }];
      case '/mgmt/shared/appsvcs/task/{id}': {
        if (method !== 'GET') throw this.methodNotAllowed(method, url.pathname);
        const record = this.as3Tasks.get(param as string);
        if (!record) throw new HttpError(404, { code: 404, message: `No record found with ID of ${param}` });
        return [200, structuredClone(record)];
      }
      case '/mgmt/shared/appsvcs/info':
        if (method !== 'GET') throw this.methodNotAllowed(method, url.pathname);
        return [200, { ...AS3_VERSION }];
      case '/mgmt/shared/service-discovery/task/{taskId}/nodes':
        return this.nodesResource(method, param as string, body, url.pathname);
      case '/mgmt/tm/util/bash':
        if (method !== 'POST') throw this.methodNotAllowed(method, url.pathname);
        return [200, this.bash(body)];
      case '/mgmt/tm/security/firewall/global-rules':
        return this.globalRulesResource(method, body, url.pathname);
      case '/mgmt/tm/security/firewall/global-fqdn-policy':
        if (method !== 'GET') throw this.methodNotAllowed(method, url.pathname);
        return [200, { kind: 'tm:security:firewall:global-fqdn-policy:global-fqdn-policystate', selfLink: 'https://localhost/mgmt/tm/security/firewall/global-fqdn-policy', ...(this.fqdnResolver ? { dnsResolver: this.fqdnResolver } : {}) }];
      default:
        throw this.restError(404, `URI path ${url.pathname} not registered.`);
    }
  }

  // ---------------------------------------------------------------- auth

  private tokenExpiry(t: Token): number {
    return t.startMs + t.timeoutS * 1000;
  }

  private tokenJson(t: Token): Json {
    const now = this.clock();
    return {
      token: t.token,
      name: t.token,
      userName: t.user,
      authProviderName: 'tmos',
      user: { link: `https://localhost/mgmt/shared/authz/users/${t.user}` },
      groupReferences: [],
      timeout: t.timeoutS,
      startTime: new Date(t.startMs).toISOString(),
      address: '127.0.0.1',
      partition: '[All]',
      generation: 1,
      lastUpdateMicros: now * 1000,
      expirationMicros: this.tokenExpiry(t) * 1000,
      kind: 'shared:authz:tokens:authtokenitemstate',
      selfLink: `https://localhost/mgmt/shared/authz/tokens/${t.token}`,
    };
  }

  private purgeExpiredTokens(): void {
    // Expired tokens are kept for a while so that their 401 says "expired" rather than
    // "does not exist", then dropped to keep memory bounded.
    const cutoff = this.clock() - 600_000;
    for (const [k, t] of this.tokens) if (this.tokenExpiry(t) < cutoff) this.tokens.delete(k);
    if (this.tokens.size > 10_000) {
      const now = this.clock();
      for (const [k, t] of this.tokens) if (this.tokenExpiry(t) <= now) this.tokens.delete(k);
    }
  }

  private login(body: unknown): Json {
    if (!isObject(body) || typeof body.username !== 'string' || typeof body.password !== 'string') {
      throw this.restError(400, 'Login requires a JSON body {"username": "...", "password": "...", "loginProviderName": "tmos"}');
    }
    const provider = body.loginProviderName ?? 'tmos';
    if (provider !== 'tmos' && provider !== 'local') throw this.restError(400, `loginProviderName ${JSON.stringify(provider)} not found`);
    const expected = Object.prototype.hasOwnProperty.call(this.users, body.username) ? this.users[body.username] : undefined;
    if (expected === undefined || expected !== body.password) throw this.restError(401, 'Authentication failed.');
    this.purgeExpiredTokens();
    if (this.activeTokenCount(body.username) >= this.maxTokensPerUser) {
      throw this.restError(400, `user ${body.username} has reached maximum active login tokens`);
    }
    const token: Token = { token: randomBytes(20).toString('base64url').replace(/[^A-Za-z0-9]/g, 'X').slice(0, 26).toUpperCase(), user: body.username, startMs: this.clock(), timeoutS: this.tokenLifetimeS };
    this.tokens.set(token.token, token);
    return {
      username: body.username,
      loginReference: { link: `https://localhost/mgmt/cm/system/authn/providers/${provider}/login` },
      loginProviderName: provider,
      token: this.tokenJson(token),
      generation: 0,
      lastUpdateMicros: 0,
    };
  }

  /** The user behind the request's token (or Basic credentials when allowed). */
  private authenticate(req: IncomingMessage, pathname: string): string {
    const presented = req.headers['x-f5-auth-token'];
    if (typeof presented === 'string' && presented !== '') {
      const t = this.tokens.get(presented);
      if (!t) throw this.restError(401, 'X-F5-Auth-Token does not exist.');
      if (this.tokenExpiry(t) <= this.clock()) throw this.restError(401, 'X-F5-Auth-Token has expired.');
      return t.user;
    }
    const authz = req.headers.authorization;
    if (authz?.startsWith('Basic ')) {
      if (!this.allowBasicAuth) throw this.restError(401, 'Basic authentication is disabled on this device; use token authentication (X-F5-Auth-Token).');
      const text = Buffer.from(authz.slice(6), 'base64').toString('utf8');
      const colon = text.indexOf(':');
      const user = text.slice(0, colon);
      if (colon > 0 && Object.prototype.hasOwnProperty.call(this.users, user) && this.users[user] === text.slice(colon + 1)) return user;
      throw this.restError(401, 'Authentication failed.');
    }
    throw this.restError(401, `Authorization failed: no user authentication header or token detected. Uri:http://localhost:8100${pathname} Referrer:127.0.0.1 Sender:127.0.0.1`);
  }

  private tokenResource(method: string, name: string, body: unknown, user: string): [number, unknown] {
    const t = this.tokens.get(name);
    // Another user's token is reported as missing, like a token that never existed.
    if (!t || t.user !== user || this.tokenExpiry(t) <= this.clock()) throw this.restError(404, 'Token not found');
    switch (method) {
      case 'GET':
        return [200, this.tokenJson(t)];
      case 'PATCH': {
        if (!isObject(body) || typeof body.timeout !== 'number' || !Number.isInteger(body.timeout) || body.timeout < 1) {
          throw this.restError(400, 'PATCH of a token takes {"timeout": <whole seconds from the token\'s startTime>}');
        }
        if (body.timeout > TOKEN_ABSOLUTE_MAX_S) throw this.restError(406, `Auth-token absolute timeout (${TOKEN_ABSOLUTE_MAX_S} seconds) exceeded`);
        t.timeoutS = body.timeout;
        return [200, this.tokenJson(t)];
      }
      case 'DELETE':
        this.tokens.delete(name);
        return [200, this.tokenJson(t)];
      default:
        throw this.methodNotAllowed(method, `/mgmt/shared/authz/tokens/${name}`);
    }
  }

  // ---------------------------------------------------------------- AS3

  private parseTenantFilter(param: string | undefined): string[] | undefined {
    if (param === undefined) return undefined;
    const names = param.split(',').map((s) => s.trim());
    for (const n of names) {
      if (!AS3_NAME.test(n)) throw new HttpError(400, { code: 400, message: `Invalid tenant name ${JSON.stringify(n)} in the URL path` });
    }
    return names;
  }

  private busyError(): HttpError {
    return new HttpError(503, { code: 503, message: BUSY_MESSAGE(DEVICE_HOST), errors: [], declarationFullId: '' });
  }

  private async declareResource(method: string, param: string | undefined, body: unknown, url: URL): Promise<[number, unknown]> {
    const filter = this.parseTenantFilter(param);
    if (method === 'GET') {
      if (this.tenants.size === 0) return [204, undefined];
      const names = filter ?? [...this.tenants.keys()];
      const missing = names.filter((n) => !this.tenants.has(n));
      if (filter && missing.length === names.length) throw new HttpError(404, { code: 404, message: `specified tenants not found in declaration: ${missing.join(', ')}` });
      const out: Json = { ...this.adcHeader };
      for (const n of names) if (this.tenants.has(n)) out[n] = this.tenants.get(n);
      return [200, structuredClone(out)];
    }
    if (method !== 'POST' && method !== 'DELETE') throw this.methodNotAllowed(method, url.pathname);
    if (this.as3Busy) throw this.busyError();

    const asyncMode = url.searchParams.get('async') === 'true';
    let op: As3Operation;
    if (method === 'DELETE') {
      op = { action: 'remove', tenantNames: filter ?? [...this.tenants.keys()], declaration: {}, dryRun: false };
    } else {
      const parsed = this.parseDeclareBody(body, url);
      if ('errors' in parsed) {
        if (!asyncMode) throw new HttpError(422, { code: 422, message: 'declaration is invalid', errors: parsed.errors, declarationFullId: '' });
        op = { action: 'invalid', errors: parsed.errors, tenantNames: [], declaration: {}, dryRun: false };
      } else {
        op = parsed;
        if (op.action === 'retrieve') {
          const [status, decl] = await this.declareResource('GET', param, undefined, url);
          return [status, decl];
        }
        if (filter) op.tenantNames = filter;
      }
    }

    const id = randomUUID();
    const record: TaskRecord = { id, results: [{ code: 0, message: 'in progress' }], declaration: {}, selfLink: `https://localhost/mgmt/shared/appsvcs/task/${id}` };
    this.storeTask(record);
    this.as3Busy = true;
    const done = this.delay(this.as3OperationMs).then(() => {
      try {
        const outcome = this.runAs3(op);
        record.results = outcome.results;
        record.declaration = outcome.declaration;
      } finally {
        this.as3Busy = false;
      }
      return record;
    });
    const accepted = (): [number, unknown] => [202, { id, results: [{ message: 'Declaration successfully submitted', code: 0 }], declaration: {}, selfLink: record.selfLink }];
    if (asyncMode) return accepted();
    const finished = await this.within(done, this.as3SyncLimitMs);
    if (!finished) return accepted();
    if (op.action === 'invalid') throw new HttpError(422, { code: 422, message: 'declaration is invalid', errors: op.errors, declarationFullId: '' });
    return [overallStatus(finished.results), { results: finished.results, declaration: finished.declaration }];
  }

  private storeTask(record: TaskRecord): void {
    this.as3Tasks.set(record.id, record);
    while (this.as3Tasks.size > AS3_TASK_RECORDS_MAX) {
      const oldest = this.as3Tasks.keys().next().value as string;
      this.as3Tasks.delete(oldest);
    }
  }

  /** Request (`class: AS3`) or bare ADC → operation, or validation errors. */
  private parseDeclareBody(body: unknown, url: URL): As3Operation | { errors: string[] } {
    if (Array.isArray(body)) return { errors: ['/: arrays of declarations are not supported by this emulator; post one declaration'] };
    if (!isObject(body)) return { errors: ['/: body must be a JSON object (an AS3 request or an ADC declaration)'] };
    if (this.validator) {
      const result = this.validator.validate(body);
      if (!result.valid) return { errors: [...result.errors] };
    }
    let action = 'deploy';
    let adc: unknown = body;
    if (body.class === 'AS3') {
      action = typeof body.action === 'string' ? body.action : 'deploy';
      adc = body.declaration;
      if (!['deploy', 'dry-run', 'remove', 'retrieve'].includes(action)) {
        return { errors: [`/action: "${action}" is not supported by this emulator (deploy, dry-run, remove, retrieve)`] };
      }
      if (action !== 'retrieve' && !isObject(adc)) return { errors: ['/declaration: must be an ADC declaration object'] };
    } else if (body.class !== 'ADC') {
      return { errors: [`/class: must be "AS3" or "ADC" (got ${JSON.stringify(body.class)})`] };
    }
    if (action === 'retrieve') return { action, tenantNames: [], declaration: {}, dryRun: false };
    const declaration = adc as Json;
    const errors = this.structuralErrors(declaration, body.class === 'AS3' ? '/declaration' : '');
    if (errors.length) return { errors };
    const controls = isObject(declaration.controls) ? declaration.controls : {};
    const dryRun = action === 'dry-run' || controls.dryRun === true || url.searchParams.get('controls.dryRun') === 'true';
    const tenantNames = Object.keys(declaration).filter((k) => !ADC_HEADER_KEYS.has(k));
    return { action: action === 'dry-run' ? 'deploy' : action, tenantNames, declaration, dryRun };
  }

  /** The checks that hold even without the schema. */
  private structuralErrors(adc: Json, prefix: string): string[] {
    const errors: string[] = [];
    if (adc.class !== 'ADC') errors.push(`${prefix}/class: must be "ADC"`);
    if (typeof adc.schemaVersion !== 'string' || !/^3\.\d+(\.\d+)?$/.test(adc.schemaVersion)) {
      errors.push(`${prefix}/schemaVersion: must be an AS3 schema version such as "3.50.0"`);
    }
    if (adc.updateMode !== undefined && adc.updateMode !== 'selective' && adc.updateMode !== 'complete') {
      errors.push(`${prefix}/updateMode: must be "selective" or "complete"`);
    }
    for (const [name, tenant] of Object.entries(adc)) {
      if (ADC_HEADER_KEYS.has(name)) continue;
      if (!AS3_NAME.test(name) || name.length > 190) errors.push(`${prefix}/${name}: invalid tenant name`);
      if (!isObject(tenant) || tenant.class !== 'Tenant') {
        errors.push(`${prefix}/${name}: must be a Tenant object`);
        continue;
      }
      for (const [appName, app] of Object.entries(tenant)) {
        if (!isObject(app)) continue;
        if (app.class !== 'Application') continue;
        for (const [itemName, item] of Object.entries(app)) {
          if (isObject(item) && item.class === 'Firewall_Address_List' && item.addresses !== undefined && !Array.isArray(item.addresses)) {
            errors.push(`${prefix}/${name}/${appName}/${itemName}/addresses: must be an array`);
          }
        }
      }
    }
    return errors;
  }

  /** Applies an operation tenant by tenant, as AS3 does; a failing tenant leaves the others alone. */
  private runAs3(op: As3Operation): { results: BigipAs3Result[]; declaration: Json } {
    const started = this.clock();
    if (op.action === 'invalid') {
      return { results: [{ code: 422, message: 'declaration is invalid', errors: op.errors }], declaration: {} };
    }
    const results: BigipAs3Result[] = [];
    const working = new Map(this.tenants);
    const result = (tenant: string, code: number, message: string, response?: string): BigipAs3Result => ({
      code,
      message,
      tenant,
      host: DEVICE_HOST,
      runTime: Math.max(0, this.clock() - started),
      ...(op.dryRun ? { dryRun: true } : {}),
      ...(response ? { response } : {}),
    });
    const attempt = (tenant: string, next: Json | undefined): void => {
      const prev = working.get(tenant);
      if (next === undefined ? prev === undefined : prev !== undefined && canonicalJson(prev) === canonicalJson(next)) {
        results.push(result(tenant, 200, 'no change'));
        return;
      }
      const candidate = new Map(working);
      if (next === undefined) candidate.delete(tenant);
      else candidate.set(tenant, next);
      const problem = this.referenceProblem(buildIndex(candidate), tenant);
      if (problem) {
        results.push(result(tenant, 422, 'declaration failed', problem));
        return;
      }
      if (next === undefined) working.delete(tenant);
      else working.set(tenant, next);
      results.push(result(tenant, 200, 'success'));
    };

    const decl = op.declaration;
    for (const name of op.tenantNames) {
      if (op.action === 'remove') {
        attempt(name, undefined);
        continue;
      }
      const tenant = decl[name];
      if (!isObject(tenant)) {
        // Named in the URL but absent from the body: AS3 leaves it alone.
        results.push(result(name, 200, 'no change'));
        continue;
      }
      // A tenant with no application is how AS3 is asked to delete it.
      const hasApps = Object.values(tenant).some((v) => isObject(v) && v.class === 'Application');
      attempt(name, hasApps ? (structuredClone(tenant) as Json) : undefined);
    }
    if (op.action === 'deploy' && decl.updateMode === 'complete') {
      for (const name of [...working.keys()]) if (!(name in decl)) attempt(name, undefined);
    }
    if (results.length === 0) results.push({ code: 200, message: 'no change', host: DEVICE_HOST, runTime: 0 });

    if (!op.dryRun) {
      const changed = results.some((r) => r.message === 'success');
      if (changed) {
        this.tenants.clear();
        for (const [k, v] of working) this.tenants.set(k, v);
        this.commitIndex(buildIndex(this.tenants));
      }
      if (op.action === 'deploy') {
        const header: Json = {};
        for (const k of ADC_HEADER_KEYS) if (k in decl && k !== 'controls') header[k] = structuredClone(decl[k]);
        this.adcHeader = header;
      }
    }
    const declaration = this.declaration() ?? {};
    return { results, declaration };
  }

  /** Why a candidate configuration cannot be applied (objects in use, missing route domains). */
  private referenceProblem(candidate: FirewallIndex, tenant: string): string | undefined {
    const inUse = (policy: string | undefined, by: string) =>
      policy && !candidate.policies.has(policy) && policy.startsWith(`/${tenant}/`)
        ? `01070265:3: The Firewall Policy (${policy}) cannot be deleted because it is in use by ${by}.`
        : undefined;
    const problem = inUse(this.global.enforcedPolicy, 'the global firewall context (enforced-policy)') ?? inUse(this.global.stagedPolicy, 'the global firewall context (staged-policy)');
    if (problem) return problem;
    for (const [rd, state] of this.routeDomainState) {
      const p = inUse(state.stagedPolicy, `route domain ${rd} (fw-staged-policy)`);
      if (p) return p;
    }
    for (const rd of candidate.routeDomainPolicies.keys()) {
      if (!this.routeDomainPaths.has(rd)) {
        return `01020036:3: The requested route domain (${rd}) was not found. (emulator: pass routeDomains to BigipEmulator.start to create it)`;
      }
    }
    return undefined;
  }

  private commitIndex(next: FirewallIndex): void {
    for (const taskId of [...this.sdTasks.keys()]) if (!next.eventLists.has(taskId)) this.sdTasks.delete(taskId);
    for (const [taskId, listPath] of next.eventLists) {
      if (!this.sdTasks.has(taskId)) this.sdTasks.set(taskId, { path: listPath, ips: [], ids: undefined });
    }
    for (const [rd, state] of this.routeDomainState) {
      const policy = next.routeDomainPolicies.get(rd);
      if (policy) state.enforcedPolicy = policy;
      else if (state.enforcedPolicy && this.index.routeDomainPolicies.get(rd) === state.enforcedPolicy) delete state.enforcedPolicy;
    }
    this.index = next;
  }

  // ---------------------------------------------------------------- service discovery

  private nodesResource(method: string, taskId: string, body: unknown, pathname: string): [number, unknown] {
    const task = this.sdTasks.get(taskId);
    if (!task) {
      const staticPath = this.index.staticLists.get(taskId);
      const why = staticPath
        ? `: ${staticPath} is a Firewall_Address_List without addresses [{"addressDiscovery": "event"}]`
        : '';
      throw this.restError(404, `Service discovery task ${taskId} does not exist${why}`);
    }
    if (method === 'GET') {
      return [200, task.ips.map((ip, i) => ({ id: task.ids ? task.ids[i] : ip, ip }))];
    }
    if (method !== 'POST') throw this.methodNotAllowed(method, pathname);
    if (!Array.isArray(body)) throw this.restError(400, 'Body must be a JSON array of nodes [{"id": "...", "ip": "..."}]');
    const ips: string[] = new Array(body.length);
    let ids: string[] | undefined;
    for (let i = 0; i < body.length; i++) {
      const node: unknown = body[i];
      if (!isObject(node)) throw this.restError(400, `Invalid node at index ${i}: must be an object {"id": "...", "ip": "..."}`);
      const problem = nodeIpProblem(node.ip);
      if (problem) throw this.restError(400, `Invalid node at index ${i}: "ip" ${problem} (got ${JSON.stringify(node.ip)})`);
      if (typeof node.id !== 'string' || node.id === '') throw this.restError(400, `Invalid node at index ${i}: "id" must be a non-empty string`);
      ips[i] = node.ip as string;
      if (node.id !== node.ip) {
        if (!ids) ids = ips.slice(0, i);
        ids.push(node.id);
      } else if (ids) {
        ids.push(node.id);
      }
    }
    task.ips = ips;
    task.ids = ids;
    this.recordPush(taskId, ips);
    // The real endpoint's answer is not documented (unverified); clients should not rely on it.
    return [200, { code: 200, message: 'success', nodeCount: ips.length }];
  }

  private recordPush(taskId: string, ips: readonly string[]): void {
    this.history.push({ taskId, at: this.clock(), joined: ips.join(','), count: ips.length });
    this.historyIps += ips.length;
    while (this.history.length - this.historyHead > this.historyLimit || (this.historyIps > this.historyIpLimit && this.history.length - this.historyHead > 1)) {
      this.historyIps -= this.history[this.historyHead].count;
      this.historyHead++;
    }
    // Compact occasionally instead of shifting on every push.
    if (this.historyHead > 1024 && this.historyHead * 2 > this.history.length) {
      this.history.splice(0, this.historyHead);
      this.historyHead = 0;
    }
  }

  // ---------------------------------------------------------------- tmsh and firewall contexts

  private globalRulesResource(method: string, body: unknown, pathname: string): [number, unknown] {
    if (method === 'PATCH') {
      if (!isObject(body)) throw this.tmosError(400, 'PATCH body must be a JSON object');
      const changes: Array<[keyof BigipPolicyAttachment, string]> = [];
      for (const [k, v] of Object.entries(body)) {
        if (k !== 'enforcedPolicy' && k !== 'stagedPolicy') throw this.tmosError(400, `01070734:3: Configuration error: unknown property "${k}" of global-rules`);
        if (typeof v !== 'string') throw this.tmosError(400, `01070734:3: Configuration error: ${k} must be a policy path or "none"`);
        changes.push([k, this.policyValue(v)]);
      }
      for (const [k, v] of changes) this.setAttachment(this.global, k, v);
    } else if (method !== 'GET') {
      throw this.methodNotAllowed(method, pathname);
    }
    return [200, { kind: 'tm:security:firewall:global-rules:global-rulesstate', selfLink: 'https://localhost/mgmt/tm/security/firewall/global-rules', ...this.global }];
  }

  /** `none` or the path of a deployed policy (else tmsh's "was not found"). */
  private policyValue(value: string): string {
    if (value === 'none') return value;
    const p = tmshPath(value);
    if (!this.index.policies.has(p)) throw this.tmosError(400, `01020036:3: The requested Firewall Policy (${p}) was not found.`);
    return p;
  }

  private setAttachment(target: { enforcedPolicy?: string; stagedPolicy?: string }, key: keyof BigipPolicyAttachment, value: string): void {
    if (value === 'none') delete target[key];
    else target[key] = value;
  }

  private bash(body: unknown): Json {
    if (!isObject(body) || body.command !== 'run' || typeof body.utilCmdArgs !== 'string') {
      throw this.tmosError(400, 'util bash takes {"command": "run", "utilCmdArgs": "-c \'<command>\'"}');
    }
    const m = /^-c '([^']*)'$/.exec(body.utilCmdArgs);
    if (!m) throw this.tmosError(400, `This device runs only -c '<tmsh command>' through util bash (got ${JSON.stringify(body.utilCmdArgs)})`);
    const inner = m[1].trim();
    if (/[;&|`$<>\\"\n]/.test(inner)) throw this.tmosError(400, `Shell syntax is not supported by this device's bash emulation (got ${JSON.stringify(inner)})`);
    const words = inner.split(/\s+/);
    if (words[0] !== 'tmsh') throw this.tmosError(400, `Only tmsh commands are supported (got ${JSON.stringify(words[0])})`);
    const output = this.tmsh(words.slice(1));
    return { kind: 'tm:util:bash:runstate', command: 'run', utilCmdArgs: body.utilCmdArgs, ...(output !== undefined ? { commandResult: output } : {}) };
  }

  private tmsh(words: string[]): string | undefined {
    const cmd = words.join(' ');
    const syntax = (why: string) => this.tmosError(400, `Syntax Error: ${why} (in "${cmd}")`);
    const pairs = (rest: string[], allowed: readonly string[]): Array<[string, string]> => {
      if (rest.length === 0 || rest.length % 2 !== 0) throw syntax(`expected ${allowed.join(' | ')} followed by a value`);
      const out: Array<[string, string]> = [];
      for (let i = 0; i < rest.length; i += 2) {
        if (!allowed.includes(rest[i])) throw syntax(`"${rest[i]}" unknown property (expected ${allowed.join(' | ')})`);
        out.push([rest[i], rest[i + 1]]);
      }
      return out;
    };
    const [verb, ...rest] = words;
    const target = rest.slice(0, 3).join(' ');
    if (verb === 'modify' && target === 'security firewall global-rules') {
      const changes = pairs(rest.slice(3), ['enforced-policy', 'staged-policy']).map(([k, v]) => [k === 'enforced-policy' ? 'enforcedPolicy' : 'stagedPolicy', this.policyValue(v)] as const);
      for (const [k, v] of changes) this.setAttachment(this.global, k, v);
      return undefined;
    }
    if (verb === 'modify' && target === 'security firewall global-fqdn-policy') {
      const [[, value]] = pairs(rest.slice(3), ['dns-resolver']);
      if (value === 'none') {
        this.fqdnResolver = undefined;
        return undefined;
      }
      const resolver = tmshPath(value);
      if (!this.dnsResolvers.has(resolver)) {
        throw this.tmosError(400, `01020036:3: The requested DNS Resolver (${resolver}) was not found. (emulator: pass dnsResolvers to BigipEmulator.start to create it)`);
      }
      this.fqdnResolver = resolver;
      return undefined;
    }
    if (verb === 'modify' && rest[0] === 'net' && rest[1] === 'route-domain') {
      if (rest.length < 3) throw syntax('route domain name expected');
      const rd = tmshPath(rest[2]);
      const state = this.routeDomainState.get(rd);
      if (!state) throw this.tmosError(400, `01020036:3: The requested route domain (${rd}) was not found.`);
      const changes = pairs(rest.slice(3), ['fw-enforced-policy', 'fw-staged-policy']).map(([k, v]) => [k === 'fw-enforced-policy' ? 'enforcedPolicy' : 'stagedPolicy', this.policyValue(v)] as const);
      for (const [k, v] of changes) this.setAttachment(state, k, v);
      return undefined;
    }
    if (verb === 'list' && target === 'security firewall global-rules' && rest.length === 3) {
      return tmshBlock('security firewall global-rules', { 'enforced-policy': this.global.enforcedPolicy, 'staged-policy': this.global.stagedPolicy });
    }
    if (verb === 'list' && target === 'security firewall global-fqdn-policy' && rest.length === 3) {
      return tmshBlock('security firewall global-fqdn-policy', { 'dns-resolver': this.fqdnResolver });
    }
    if (verb === 'list' && rest[0] === 'net' && rest[1] === 'route-domain' && rest.length <= 3) {
      const names = rest.length === 3 ? [tmshPath(rest[2])] : [...this.routeDomainState.keys()].sort();
      return names
        .map((rd) => {
          const state = this.routeDomainState.get(rd);
          if (!state) throw this.tmosError(400, `01020036:3: The requested route domain (${rd}) was not found.`);
          return tmshBlock(`net route-domain ${rd}`, { id: rd.slice(rd.lastIndexOf('/') + 1), 'fw-enforced-policy': state.enforcedPolicy, 'fw-staged-policy': state.stagedPolicy });
        })
        .join('');
    }
    if (verb === 'show' && rest.join(' ') === 'sys version') {
      const v = TMOS_VERSION;
      return `\nSys::Version\nMain Package\n  Product     ${v.product}\n  Version     ${v.version}\n  Build       ${v.build}\n  Edition     ${v.edition}\n  Date        ${v.date}\n\n`;
    }
    throw syntax('command not supported by this device emulation (modify/list security firewall global-rules, global-fqdn-policy, net route-domain; show sys version)');
  }
}

interface As3Operation {
  /** deploy, remove, retrieve, or invalid (an async request whose task reports 422). */
  action: string;
  tenantNames: string[];
  declaration: Json;
  dryRun: boolean;
  errors?: string[];
}

function tmshBlock(header: string, props: Record<string, string | undefined>): string {
  const lines = Object.entries(props)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `    ${k} ${v}\n`)
    .join('');
  return lines ? `${header} {\n${lines}}\n` : `${header} { }\n`;
}

function overallStatus(results: readonly BigipAs3Result[]): number {
  const codes = new Set(results.map((r) => r.code));
  if (codes.size === 1) return results[0].code;
  return 207;
}

/** Firewall objects of a set of tenants. */
function buildIndex(tenants: ReadonlyMap<string, Json>): FirewallIndex {
  const index: FirewallIndex = { policies: new Set(), eventLists: new Map(), staticLists: new Map(), routeDomainPolicies: new Map() };
  for (const [tenantName, tenant] of tenants) {
    for (const [appName, app] of Object.entries(tenant)) {
      if (!isObject(app) || app.class !== 'Application') continue;
      for (const [itemName, item] of Object.entries(app)) {
        if (!isObject(item)) continue;
        const itemPath = `/${tenantName}/${appName}/${itemName}`;
        if (item.class === 'Firewall_Policy') {
          index.policies.add(itemPath);
          for (const rd of Array.isArray(item.routeDomainEnforcement) ? item.routeDomainEnforcement : []) {
            if (isObject(rd) && typeof rd.bigip === 'string') index.routeDomainPolicies.set(rd.bigip, itemPath);
          }
        } else if (item.class === 'Firewall_Address_List') {
          const taskId = itemPath.replace(/\//g, '~');
          const eventDriven = Array.isArray(item.addresses) && item.addresses.some((a) => isObject(a) && a.addressDiscovery === 'event');
          (eventDriven ? index.eventLists : index.staticLists).set(taskId, itemPath);
        }
      }
    }
  }
  return index;
}
