/**
 * An in-process BIG-IP management interface for tests, the demo and benchmarks.
 *
 * It speaks the iControl REST and AS3 protocols as F5's code and documentation show them
 * (token auth, AS3 3.56 declare with async tasks, the service-discovery nodes endpoint of
 * event-driven address lists, tmsh through `/mgmt/tm/util/bash`) over real HTTPS on loopback.
 * Behind them it keeps a model of the device: the configuration AS3 applied to each partition
 * (which can differ from the declaration AS3 stored), the addresses of event-driven lists,
 * firewall context attachments, route domains by name and by id, and a saved configuration
 * that a reboot or `load sys config` returns to. It can inject the failures a real device
 * shows (revoked tokens, busy control plane, lost mcpd connection, latency, connection
 * resets), deterministically from a seed.
 *
 * Each modelled behaviour cites the upstream source it follows: F5Networks/f5-appsvcs-extension
 * 3.56.0 ("AS3 `src/lib/...`"), F5Networks/terraform-provider-bigip v1.28.0 and its vendored
 * f5devcentral/go-bigip, F5's tmsh reference and F5's Ansible modules. Where those sources do not
 * settle a behaviour the comment says "(unsettled)" and the emulator takes the stricter choice:
 * the one under which a client that relies on the lenient reading fails its tests.
 *
 * What it is not: a firewall. It evaluates no traffic and checks only what the protocols and
 * the configuration model it keeps need.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import { EMPTY_LIST_PLACEHOLDER } from '../clients/bigip/client';
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
   * during that time finds AS3's lock taken: 503, as the HTTP status of a synchronous request
   * or as the result in the task of an async one.
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
   * Route domains that exist on the device, by tmsh path. A route domain is named after its id
   * (`/Common/2` has id 2) unless `routeDomainIds` gives its id.
   * @default ['/Common/0']
   */
  readonly routeDomains?: readonly string[];
  /**
   * Ids of route domains in `routeDomains` whose name is not their id, e.g.
   * `{ '/Common/rd_prod': 2 }` (Declarative Onboarding and many devices name them so).
   * Declarations and tmsh name a route domain by path; addresses (`10.0.0.1%2`) by id.
   * @default - every route domain is named after its id
   */
  readonly routeDomainIds?: Readonly<Record<string, number>>;
  /**
   * DNS resolvers that exist on the device (tmsh paths), for the global FQDN policy.
   * @default - none
   */
  readonly dnsResolvers?: readonly string[];
  /**
   * Objects that exist on the device outside AS3 (tmsh paths), for `bigip` pointers: VLANs,
   * IP-intelligence policies, protocol-inspection profiles, log destinations. Route domains,
   * DNS resolvers, what AS3 deployed, and the built-in log destination `/Common/local-db` and
   * publisher `/Common/local-db-publisher` exist besides these.
   * @default - none
   */
  readonly existingObjects?: readonly string[];
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
  readonly declarationId?: string;
  readonly dryRun?: boolean;
  readonly response?: string;
  readonly errors?: readonly string[];
}

const DEFAULT_SEED = 24301;
/** Objects every BIG-IP has: the local-database log destination and its publisher (AFM logging defaults). */
const BUILTIN_OBJECTS = ['/Common/local-db', '/Common/local-db-publisher'];
const TOKEN_ABSOLUTE_MAX_S = 36000;
const AS3_TASK_RECORDS_MAX = 25;
const AS3_VERSION = { version: '3.56.0', release: '10', schemaCurrent: '3.56.0', schemaMinimum: '3.0.0' };
const TMOS_VERSION = { product: 'BIG-IP', version: '17.1.1', build: '0.0.2', edition: 'Final', date: 'Tue Dec 19 2023' };
const AS3_NAME = /^[A-Za-z][0-9A-Za-z_.-]*$/;
const ADC_HEADER_KEYS = new Set(['class', 'schemaVersion', 'id', 'label', 'remark', 'constants', 'controls', 'updateMode', '$schema']);
const NODE_IP = /^([^%]+)(?:%(\d{1,5}))?$/;
/** AS3's lock message (AS3 `src/lib/mutex.js:127-128`, `mutexTimeoutMinutes: 2` in `src/lib/constants.js:69`). */
const BUSY_MESSAGE = (host: string) => `Configuration operation in progress on device ${host}, please try again in 2 minutes`;
const MCPD_LOST = 'The connection to mcpd has been lost, try again.';
const DEVICE_HOST = 'localhost';
/** `"/Common/Shared` anywhere in a declaration makes AS3 add the stored Common (AS3 `src/lib/declarationHandler.js:43`). */
const COMMON_SHARED_REFERENCE = /"\/Common\/Shared/;
/** An address with a route-domain id, alone or as the end of a range or before a prefix length. */
const ADDRESS_ROUTE_DOMAIN = /(?:^|-)[0-9A-Fa-f:.]+%(\d{1,5})(?=$|\/|-)/g;

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
  /** The task's `providerOptions.nodeList`: node ips, in the order they were posted. */
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
  results: BigipAs3Result[] | Json[];
  declaration: Record<string, unknown>;
  readonly selfLink: string;
}

type Json = Record<string, unknown>;

/** What one partition holds, derived from the configuration AS3 applied to it. */
interface PartitionIndex {
  /** Objects by path, with their AS3 class. */
  readonly objects: ReadonlyMap<string, string>;
  /** `use` pointers: from object path, to object path, and the property that holds the pointer. */
  readonly references: ReadonlyArray<readonly [string, string, string]>;
  /** Event-driven address lists: task id → path and the list's literal addresses. */
  readonly eventLists: ReadonlyMap<string, EventList>;
  /** Address lists without event discovery: task id → path. */
  readonly staticLists: ReadonlyMap<string, string>;
  /** Route-domain path → policy path (a policy's `routeDomainEnforcement`). */
  readonly routeDomainEnforcement: ReadonlyMap<string, string>;
  /** Virtual addresses in the partition: `address%id` → the address as declared. */
  readonly virtualAddresses: ReadonlyMap<string, string>;
  /** Virtual addresses of services with `shareAddresses`, which live in /Common: `address%id` → as declared. */
  readonly sharedVirtualAddresses: ReadonlyMap<string, string>;
  /** Address lists with FQDN entries: path → the first FQDN. */
  readonly fqdnLists: ReadonlyMap<string, string>;
  /** Route-domain ids named by addresses and by `defaultRouteDomain`. */
  readonly routeDomainIds: ReadonlySet<number>;
}

interface EventList {
  readonly path: string;
  readonly addresses: readonly string[];
  /** The partition's `defaultRouteDomain` (the service-discovery task reports it). */
  readonly routeDomain: number;
}

interface Partition {
  /** The configuration AS3 applied, in declaration shape (never mutated; replaced whole). */
  readonly tenant: Json;
  readonly canonical: string;
  readonly index: PartitionIndex;
}

interface ContextState {
  enforcedPolicy?: string;
  stagedPolicy?: string;
}

/** What mcpd holds: the running configuration, and the saved one a reboot returns to. */
interface DeviceConfig {
  readonly partitions: Map<string, Partition>;
  /** Addresses the service-discovery worker applied to event-driven lists, by task id. */
  readonly discovered: Map<string, readonly string[]>;
  readonly global: ContextState;
  fqdnResolver: string | undefined;
  /** Firewall policies of route domains, by route-domain path. */
  readonly routeDomains: Map<string, ContextState>;
  /**
   * The declaration AS3 stored. AS3 keeps it in data-groups under /Common (AS3
   * `src/lib/declarationProvider.js:357-453`), so it is saved and lost with the configuration.
   */
  as3Declaration: Json | undefined;
}

/** The outcome of one AS3 operation. */
type As3Outcome =
  | { readonly invalid: readonly string[] }
  /** The whole request failed before any tenant was touched (the error body). */
  | { readonly refused: Json }
  | { readonly results: BigipAs3Result[]; readonly declaration: Json; readonly status: number };

/** A tmsh error: the device prints it into `commandResult` and answers 200. */
class TmshError extends Error {}

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
  return path.join(packageRoot(), 'test', 'emulators', 'fixtures', file);
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
  /** Route domains: path → id, and id → path. */
  private readonly routeDomainIds = new Map<string, number>();
  private readonly routeDomainPaths = new Map<number, string>();
  private readonly dnsResolvers: Set<string>;
  private readonly existingObjects: Set<string>;
  private readonly clock: () => number;
  private readonly random: () => number;
  private readonly historyLimit: number;
  private readonly historyIpLimit: number;
  private readonly maxBodyBytes: number;

  private readonly tokens = new Map<string, Token>();
  private running: DeviceConfig;
  private saved: DeviceConfig;
  /** Event-driven lists of the running configuration, by task id. */
  private eventLists = new Map<string, EventList>();
  private readonly sdTasks = new Map<string, SdTask>();
  private readonly as3Tasks = new Map<string, TaskRecord>();
  private as3Busy = false;
  /** Bumped by a reboot: an AS3 operation started before it is abandoned. */
  private generation = 0;
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
    this.defineRouteDomains(options.routeDomains ?? ['/Common/0'], options.routeDomainIds ?? {});
    this.dnsResolvers = new Set((options.dnsResolvers ?? []).map(tmshPath));
    this.existingObjects = new Set([...BUILTIN_OBJECTS, ...(options.existingObjects ?? []).map(tmshPath)]);
    this.clock = options.clock ?? Date.now;
    this.random = seededRandom(options.seed ?? DEFAULT_SEED);
    this.historyLimit = positive('historyLimit', options.historyLimit, 10000);
    this.historyIpLimit = positive('historyIpLimit', options.historyIpLimit, 1_000_000);
    this.maxBodyBytes = positive('maxBodyBytes', options.maxBodyBytes, 64 * 1024 * 1024);
    this.running = {
      partitions: new Map(),
      discovered: new Map(),
      global: {},
      fqdnResolver: undefined,
      routeDomains: new Map([...this.routeDomainIds.keys()].map((rd) => [rd, {}])),
      as3Declaration: undefined,
    };
    this.saved = copyConfig(this.running);

    this.server = https.createServer(
      { key: fs.readFileSync(fixturePath('server.key')), cert: fs.readFileSync(fixturePath('server.crt')) },
      (req, res) => {
        this.handle(req, res).catch((err: unknown) => {
          if (!res.headersSent && !res.destroyed) this.send(res, 500, { code: 500, message: `emulator error: ${(err as Error).message}` });
        });
      },
    );
  }

  private defineRouteDomains(paths: readonly string[], ids: Readonly<Record<string, number>>): void {
    for (const [p, id] of Object.entries(ids)) {
      if (!paths.map(tmshPath).includes(tmshPath(p))) throw new Error(`BigipEmulator: routeDomainIds names ${p}, which is not in routeDomains`);
      if (!Number.isInteger(id) || id < 0 || id > 65534) throw new Error(`BigipEmulator: the id of route domain ${p} must be a whole number from 0 to 65534 (got ${id})`);
    }
    for (const p of paths) {
      const rdPath = tmshPath(p);
      const given = Object.entries(ids).find(([k]) => tmshPath(k) === rdPath)?.[1];
      const name = rdPath.slice(rdPath.lastIndexOf('/') + 1);
      const id = given ?? (/^\d{1,5}$/.test(name) ? Number(name) : undefined);
      if (id === undefined) throw new Error(`BigipEmulator: route domain ${rdPath} is not named after an id; give its id in routeDomainIds`);
      if (this.routeDomainIds.has(rdPath)) throw new Error(`BigipEmulator: route domain ${rdPath} is listed twice`);
      if (this.routeDomainPaths.has(id)) throw new Error(`BigipEmulator: route domains ${this.routeDomainPaths.get(id)} and ${rdPath} both have id ${id}`);
      this.routeDomainIds.set(rdPath, id);
      this.routeDomainPaths.set(id, rdPath);
    }
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

  /**
   * The declaration AS3 stored: what `GET /declare` returns (ADC header of the last request,
   * every tenant), or undefined when no tenant is stored.
   */
  public declaration(): Record<string, unknown> | undefined {
    const stored = this.running.as3Declaration;
    if (!stored || !Object.values(stored).some(isTenant)) return undefined;
    return structuredClone(stored);
  }

  /**
   * The configuration AS3 applied to a partition, in declaration shape; undefined when the
   * partition holds none. It differs from the stored declaration after a deploy that failed in
   * part: AS3 keeps the previous declaration of a failed tenant (AS3
   * `src/lib/declarationHandler.js:734-735`) although its first Common pass may have created
   * objects on the device.
   */
  public partitionConfig(tenant: string): Record<string, unknown> | undefined {
    const partition = this.running.partitions.get(tenant);
    return partition ? structuredClone(partition.tenant) : undefined;
  }

  /** Task ids of the event-driven address lists on the device, sorted. */
  public eventListTaskIds(): string[] {
    return [...this.eventLists.keys()].sort();
  }

  /**
   * Addresses of an event-driven list as mcpd holds them, by path (`/T/A/name`) or task id
   * (`~T~A~name`): the list's literal addresses, then the nodes the service-discovery worker
   * applied, in the order they were pushed; AS3's placeholder `::1:5ee:bad:c0de` when that would
   * be empty. Undefined when no such event-driven list is on the device.
   */
  public listMembers(pathOrTaskId: string): string[] | undefined {
    const taskId = pathOrTaskId.replace(/\//g, '~');
    const list = this.eventLists.get(taskId);
    return list ? listAddresses(list, this.running.discovered.get(taskId)) : undefined;
  }

  /**
   * The node ips of a list's service-discovery task (`providerOptions.nodeList`, what
   * `GET .../nodes` reports), which can differ from {@link listMembers}; undefined when the
   * task does not exist.
   */
  public discoveredNodes(pathOrTaskId: string): string[] | undefined {
    const task = this.sdTasks.get(pathOrTaskId.replace(/\//g, '~'));
    return task ? [...task.ips] : undefined;
  }

  /**
   * Virtual addresses on the device by tmsh path (`/Common/0.0.0.0%2` for a shared one,
   * `/<tenant>/10.0.0.1%0` otherwise), each with the partitions whose services use it, sorted.
   */
  public virtualAddressUsers(): Record<string, string[]> {
    const out = new Map<string, Set<string>>();
    const add = (at: string, name: string) => (out.get(at) ?? out.set(at, new Set()).get(at))?.add(name);
    for (const [name, partition] of this.running.partitions) {
      for (const key of partition.index.virtualAddresses.keys()) add(`/${name}/${key}`, name);
      for (const key of partition.index.sharedVirtualAddresses.keys()) add(`/Common/${key}`, name);
    }
    return Object.fromEntries([...out.entries()].sort(([x], [y]) => x.localeCompare(y)).map(([k, v]) => [k, [...v].sort()]));
  }

  /** The global firewall context's policies. */
  public globalRules(): BigipPolicyAttachment {
    return { ...this.running.global };
  }

  /** The global FQDN policy's DNS resolver. */
  public globalFqdnResolver(): string | undefined {
    return this.running.fqdnResolver;
  }

  /** Firewall policies of a route domain, by path (`/Common/0`); undefined for an unknown route domain. */
  public routeDomain(pathOrName: string): BigipPolicyAttachment | undefined {
    const state = this.running.routeDomains.get(tmshPath(pathOrName));
    return state ? { ...state } : undefined;
  }

  /**
   * The bandwidth policy a deployed iRule attaches with `BWC::policy attach <name>`, resolved as
   * the iRule runtime does. The tmsh reference: "The policy name should be give[n] without a path
   * name: e.g. "gold_user" not "/Common/gold_user". The irule will internally try to determine
   * the correct pathname" and "will return an error if the policy cannot be found"
   * (https://clouddocs.f5.com/cli/tmsh-reference/latest/modules/ltm/ltm_rule_command_BWC_policy.html).
   * The folders it searches are not documented (unsettled): the iRule's own folder, its
   * partition, then /Common. A name with a path, or one that resolves to no
   * Bandwidth_Control_Policy, throws the error the iRule would raise at FLOW_INIT.
   */
  public bandwidthPolicyAttachedBy(iRulePath: string): string {
    const rule = this.findObject(iRulePath);
    if (rule?.cls !== 'iRule') throw new Error(`BigipEmulator: no iRule ${iRulePath} is deployed`);
    const text = typeof rule.item.iRule === 'string' ? rule.item.iRule : '';
    const m = /BWC::policy\s+attach\s+(\S+)/.exec(text);
    if (!m) throw new Error(`BigipEmulator: iRule ${iRulePath} has no "BWC::policy attach <name>"`);
    const name = m[1];
    const notFound = new Error(`TCL error: ${iRulePath} <FLOW_INIT> - BWC policy "${name}" not found (the policy name is given without a path)`);
    if (name.includes('/')) throw notFound;
    const folder = iRulePath.slice(0, iRulePath.lastIndexOf('/'));
    const partition = `/${iRulePath.split('/')[1]}`;
    for (const f of new Set([folder, partition, '/Common'])) {
      if (this.findObject(`${f}/${name}`)?.cls === 'Bandwidth_Control_Policy') return `${f}/${name}`;
    }
    throw notFound;
  }

  /**
   * Restarts the device: the running configuration becomes the saved one, so whatever was not
   * saved (by `tmsh save sys config`, or by AS3 after a declaration with `persist`, its default)
   * is lost; tokens are gone and a running AS3 operation is abandoned. AS3 task records are
   * gone too (unsettled: AS3 keeps them in a data-group, `src/lib/asyncHandler.js:35-52`, but
   * whether their last state was saved depends on timing). Service-discovery tasks keep their
   * node lists (restjavad storage; unsettled), but the list addresses are the saved ones until
   * the next push.
   */
  public reboot(): void {
    this.generation++;
    this.as3Busy = false;
    this.tokens.clear();
    this.as3Tasks.clear();
    this.setRunning(copyConfig(this.saved));
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
      case '/mgmt/tm/security/firewall/global-fqdn-policy': {
        if (method !== 'GET') throw this.methodNotAllowed(method, url.pathname);
        const resolver = this.running.fqdnResolver;
        return [200, { kind: 'tm:security:firewall:global-fqdn-policy:global-fqdn-policystate', selfLink: 'https://localhost/mgmt/tm/security/firewall/global-fqdn-policy', ...(resolver ? { dnsResolver: resolver } : {}) }];
      }
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

  /**
   * `GET /declare[/<tenants>]`: the stored declaration. A tenant filter keeps Common and
   * answers 404 when any named tenant is missing (AS3 `src/lib/declarationHandler.js:137-174`);
   * no stored tenant is 204 (`:211-223`).
   */
  private readDeclaration(filter: readonly string[] | undefined): [number, unknown] {
    const stored = this.running.as3Declaration;
    if (!stored) {
      if (filter) throw new HttpError(404, { code: 404, message: 'declaration in specified path not found' });
      return [204, undefined];
    }
    const tenants = Object.keys(stored).filter((k) => isTenant(stored[k]));
    if (tenants.length === 0) return [204, undefined];
    if (!filter) return [200, structuredClone(stored)];
    const missing = filter.filter((t) => !tenants.includes(t));
    if (missing.length) throw new HttpError(404, { code: 404, message: `specified Tenant(s) '${missing.join(',')}' not found in declaration` });
    const out: Json = {};
    for (const [k, v] of Object.entries(stored)) if (!isTenant(v) || k === 'Common' || filter.includes(k)) out[k] = v;
    return [200, structuredClone(out)];
  }

  /**
   * The body AS3 answers when a request fails as a whole, before or instead of the tenant
   * loop: the code, the error's message, and the tenant list only for a single tenant (AS3
   * `src/lib/declarationHandler.js:938-990`). Nothing was changed.
   */
  private requestFailure(decl: Json, code: number, message: string): Json {
    const names = Object.keys(decl).filter((k) => isTenant(decl[k]));
    const list = names.includes('Common') ? ['Common', ...names.filter((n) => n !== 'Common'), 'Common'] : names;
    return {
      code,
      message,
      host: DEVICE_HOST,
      ...(list.length === 1 ? { tenant: list } : {}),
      ...(typeof decl.id === 'string' ? { declarationId: decl.id } : {}),
    };
  }

  /**
   * AS3 cannot take its configuration lock because another operation holds it: 503 with the
   * message of the lock's `Error` (`toString()`, so "Error: ...") (AS3 `src/lib/mutex.js:56-63,
   * 123-128`).
   */
  private lockRefusal(op: As3Operation): Json {
    return this.requestFailure(op.declaration, 503, `Error: ${BUSY_MESSAGE(DEVICE_HOST)}`);
  }

  private async declareResource(method: string, param: string | undefined, body: unknown, url: URL): Promise<[number, unknown]> {
    const filter = this.parseTenantFilter(param);
    if (method === 'GET') return this.readDeclaration(filter);
    if (method !== 'POST' && method !== 'DELETE') throw this.methodNotAllowed(method, url.pathname);

    const asyncMode = url.searchParams.get('async') === 'true';
    let op: As3Operation;
    if (method === 'DELETE') {
      // DELETE is AS3's `action: remove` (AS3 `src/lib/context/requestContext.js:255-257`).
      op = { action: 'remove', filter, declaration: {}, request: undefined, dryRun: false, persist: true };
    } else {
      const parsed = this.parseDeclareBody(body, url);
      if ('errors' in parsed) {
        if (!asyncMode) throw new HttpError(422, { code: 422, message: 'declaration is invalid', errors: parsed.errors, declarationFullId: '' });
        op = { action: 'invalid', errors: parsed.errors, filter, declaration: {}, request: undefined, dryRun: false, persist: false };
      } else {
        op = { ...parsed, filter };
        if (op.action === 'retrieve') return this.readDeclaration(filter);
      }
    }

    const id = randomUUID();
    const declarationId = typeof op.declaration.id === 'string' ? op.declaration.id : undefined;
    const withId = declarationId !== undefined ? { declarationId } : {};
    // Task records as AS3's async handler shows them (AS3 `src/lib/asyncHandler.js:83-102, 214-234`).
    const record: TaskRecord = {
      id,
      results: [{ message: 'in progress', tenant: '', host: '', runTime: 0, code: 0, ...withId }],
      declaration: {},
      selfLink: `https://localhost/mgmt/shared/appsvcs/task/${id}`,
    };
    this.storeTask(record);
    const accepted = (): [number, unknown] => [
      202,
      { id, results: [{ message: 'Declaration successfully submitted', tenant: '', host: '', runTime: 0, code: 0, ...withId }], declaration: {}, selfLink: record.selfLink },
    ];
    if (this.as3Busy && op.action !== 'invalid') {
      // The lock is tried after an async request was accepted, so the refusal is the task's
      // result, not an HTTP error (AS3 `src/lib/declareHandler.js:85-101, 763-772`).
      const refusal = this.lockRefusal(op);
      record.results = [refusal];
      if (asyncMode) return accepted();
      throw new HttpError(503, refusal);
    }

    this.as3Busy = true;
    const generation = this.generation;
    const done = this.delay(this.as3OperationMs).then((): As3Outcome | undefined => {
      if (generation !== this.generation) return undefined; // rebooted meanwhile
      try {
        const outcome = this.runAs3(op);
        if ('invalid' in outcome) {
          record.results = [{ code: 422, message: 'declaration is invalid', errors: [...outcome.invalid], ...withId }];
        } else if ('refused' in outcome) {
          record.results = [outcome.refused];
        } else {
          record.results = outcome.results;
          record.declaration = outcome.declaration;
        }
        return outcome;
      } finally {
        this.as3Busy = false;
      }
    });
    if (asyncMode) return accepted();
    // A synchronous request that runs past 45 s is answered with its task (AS3 `src/lib/declareHandler.js:749-760`).
    const finished = await this.within(done, this.as3SyncLimitMs);
    if (!finished) return accepted();
    if ('invalid' in finished) throw new HttpError(422, { code: 422, message: 'declaration is invalid', errors: finished.invalid, declarationFullId: '' });
    if ('refused' in finished) throw new HttpError(finished.refused.code as number, finished.refused);
    return [finished.status, { results: finished.results, declaration: finished.declaration }];
  }

  private storeTask(record: TaskRecord): void {
    this.as3Tasks.set(record.id, record);
    while (this.as3Tasks.size > AS3_TASK_RECORDS_MAX) {
      const oldest = this.as3Tasks.keys().next().value as string;
      this.as3Tasks.delete(oldest);
    }
  }

  /** Request (`class: AS3`) or bare ADC → operation, or validation errors. */
  private parseDeclareBody(body: unknown, url: URL): Omit<As3Operation, 'filter'> | { errors: string[] } {
    if (Array.isArray(body)) return { errors: ['/: arrays of declarations are not supported by this emulator; post one declaration'] };
    if (!isObject(body)) return { errors: ['/: body must be a JSON object (an AS3 request or an ADC declaration)'] };
    let action = 'deploy';
    let adc: unknown = body;
    let persist = true;
    if (body.class === 'AS3') {
      action = typeof body.action === 'string' ? body.action : 'deploy';
      adc = body.declaration;
      // `persist` defaults to true (AS3 `src/schema/latest/as3-request-schema.json`, "persist").
      if (body.persist !== undefined && typeof body.persist !== 'boolean') return { errors: ['/persist: must be boolean'] };
      persist = body.persist !== false;
      if (!['deploy', 'dry-run', 'remove', 'retrieve'].includes(action)) {
        return { errors: [`/action: "${action}" is not supported by this emulator (deploy, dry-run, remove, retrieve)`] };
      }
      if (action !== 'retrieve' && action !== 'remove' && !isObject(adc)) return { errors: ['/declaration: must be an ADC declaration object'] };
    } else if (body.class !== 'ADC') {
      return { errors: [`/class: must be "AS3" or "ADC" (got ${JSON.stringify(body.class)})`] };
    }
    if (action === 'retrieve') return { action, declaration: {}, request: undefined, dryRun: false, persist: false };
    const declaration = isObject(adc) ? adc : {};
    const errors = isObject(adc) ? this.structuralErrors(declaration, body.class === 'AS3' ? '/declaration' : '') : [];
    if (errors.length) return { errors };
    const controls = isObject(declaration.controls) ? declaration.controls : {};
    const dryRun = action === 'dry-run' || controls.dryRun === true || url.searchParams.get('controls.dryRun') === 'true';
    return { action: action === 'dry-run' ? 'deploy' : action, declaration, request: body.class === 'AS3' ? body : undefined, dryRun, persist };
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
      if (!isTenant(tenant)) {
        errors.push(`${prefix}/${name}: must be a Tenant object`);
        continue;
      }
      for (const [appName, app] of Object.entries(tenant)) {
        if (!isApplication(app)) continue;
        for (const [itemName, item] of Object.entries(app)) {
          if (isObject(item) && item.class === 'Firewall_Address_List' && item.addresses !== undefined && !Array.isArray(item.addresses)) {
            errors.push(`${prefix}/${name}/${appName}/${itemName}/addresses: must be an array`);
          }
        }
      }
    }
    return errors;
  }

  /**
   * What AS3's parser rejects once the declaration is complete (after the stored Common was
   * added): F5's schema with its pointer checks when a schema is configured, else every `use`
   * pointer must resolve in the declaration (AS3 `src/lib/tag/pointerTag.js:76-100`,
   * `src/lib/util/extractUtil.js:155-211`).
   */
  private declarationErrors(decl: Json, op: As3Operation): string[] {
    if (this.validator) {
      const result = this.validator.validate(op.request ? { ...op.request, declaration: decl } : decl);
      return result.valid ? [] : [...result.errors];
    }
    const errors: string[] = [];
    for (const [tenantName, tenant] of Object.entries(decl)) {
      if (!isTenant(tenant)) continue;
      for (const [appName, app] of Object.entries(tenant)) {
        if (!isApplication(app)) continue;
        for (const [itemName, item] of Object.entries(app)) {
          if (!isObject(item)) continue;
          forEachUse(item, (pointer) => {
            const problem = pointerProblem(decl, pointer, tenantName, appName);
            if (problem) errors.push(`/${tenantName}/${appName}/${itemName}: pointer "${pointer}" ${problem}`);
          });
        }
      }
    }
    return errors;
  }

  /**
   * A `bigip` pointer that names nothing on the device. AS3 looks every `bigip` pointer up on the
   * device while it parses the declaration (the schema's `bigComponent` tag, e.g.
   * "Pointer_Route_Domain": "Pathname of existing BIG-IP route domain") and fails the whole
   * request with 422 "Unable to find <name> for <JSON pointer>" (AS3
   * `src/lib/tag/bigComponentTag.js:251-309`), before any tenant is touched; a declaration with a
   * top-level `scratch` skips the check (`:60-65`). What the device holds: route domains (by
   * path, so one named otherwise than its id is found by its name only), DNS resolvers, objects
   * AS3 deployed before this request, and `existingObjects`. The type of the object is not
   * checked (AS3 queries the module of the pointer's schema; unsettled here).
   */
  private missingBigipComponent(decl: Json): string | undefined {
    if (decl.scratch !== undefined) return undefined;
    for (const [tenantName, tenant] of Object.entries(decl)) {
      if (!isTenant(tenant)) continue;
      let missing: string | undefined;
      forEachBigip(tenant, (pointer, at) => {
        if (missing === undefined && !this.bigipComponentExists(pointer)) missing = `Unable to find ${pointer} for /${[tenantName, ...at].join('/')}`;
      });
      if (missing) return missing;
    }
    return undefined;
  }

  private bigipComponentExists(pointer: string): boolean {
    return this.routeDomainIds.has(pointer) || this.dnsResolvers.has(pointer) || this.existingObjects.has(pointer) || this.findObject(pointer) !== undefined;
  }

  /**
   * The stored Common that AS3 adds to a declaration without Common that points into
   * /Common/Shared (AS3 `src/lib/declarationHandler.js:600-611`). It reads the stored declaration
   * filtered by the tenants of the URL path, and that filter fails when a path tenant is not
   * stored yet (`:137-174, 190-222`): a new tenant posted to `/declare/<tenant>` gets no Common
   * (AS3 `test/unit/lib/declarationHandler.js`, "should include foo but not common from previous
   * declaration when posting to declare/foo"), so its pointers into /Common/Shared do not resolve.
   */
  private storedCommonFor(tenantsInPath: readonly string[]): Json | undefined {
    const stored = this.running.as3Declaration;
    if (!stored) return undefined;
    const storedTenants = Object.keys(stored).filter((k) => isTenant(stored[k]));
    if (storedTenants.length === 0) return undefined;
    if (tenantsInPath.some((t) => !storedTenants.includes(t))) return undefined;
    return isTenant(stored.Common) ? stored.Common : undefined;
  }

  /**
   * Runs one AS3 operation as AS3 3.56 does: tenant by tenant, each an all-or-nothing
   * transaction, a failed tenant leaving the others alone. A declaration with Common processes
   * it first and last (AS3 `src/lib/fetch.js:112-137`): the first pass only creates objects
   * that do not exist yet (`src/lib/fetch.js:2873`), the second modifies and deletes, and the
   * results come in that order, Common twice (`src/lib/audit.js:558-597`).
   */
  private runAs3(op: As3Operation): As3Outcome {
    if (op.action === 'invalid') return { invalid: op.errors ?? [] };
    const started = this.clock();
    const stored = this.running.as3Declaration;
    let decl: Json;
    if (op.action === 'remove') {
      // AS3 builds the declaration of a remove: the path's tenants emptied ("selective"), or
      // every stored tenant ("complete") (AS3 `src/lib/declareHandler.js:406-421`).
      // A POSTed `action: remove` names its tenants in its declaration (unsettled).
      const targets = op.filter ?? Object.keys(op.declaration).filter((k) => isTenant(op.declaration[k]));
      decl = { class: 'ADC', schemaVersion: '3.0.0', id: String(this.clock()), updateMode: targets.length ? 'selective' : 'complete' };
      const all = stored ? Object.keys(stored).filter((k) => isTenant(stored[k])) : [];
      for (const t of targets.length ? targets : all) decl[t] = { class: 'Tenant' };
    } else {
      decl = structuredClone(op.declaration);
      // Tenants of the body that the URL path does not name are dropped (AS3 `src/lib/declareHandler.js:139-167`).
      const tenantsInPath = op.filter ? op.filter.filter((t) => isTenant(decl[t])) : [];
      if (op.filter) for (const k of Object.keys(decl)) if (isTenant(decl[k]) && !tenantsInPath.includes(k)) delete decl[k];
      if (decl.updateMode === 'complete' && stored) {
        // Tenants not in a "complete" declaration are deleted (AS3 `src/lib/declarationHandler.js:523-535`).
        for (const k of Object.keys(stored)) if (isTenant(stored[k]) && !(k in decl)) decl[k] = { class: 'Tenant' };
      }
      if (!isTenant(decl.Common) && COMMON_SHARED_REFERENCE.test(JSON.stringify(decl))) {
        const common = this.storedCommonFor(tenantsInPath);
        if (common) decl.Common = structuredClone(common);
      }
      const errors = this.declarationErrors(decl, op);
      if (errors.length) return { invalid: errors };
      const missing = this.missingBigipComponent(decl);
      if (missing) return { refused: this.requestFailure(decl, 422, missing) };
    }

    const names = Object.keys(decl).filter((k) => isTenant(decl[k]));
    const others = names.filter((n) => n !== 'Common');
    const order = names.includes('Common') ? ['Common', ...others, 'Common'] : others;
    const work = copyConfig(this.running);
    const results: BigipAs3Result[] = [];
    const failed = new Set<string>();
    const declarationId = typeof decl.id === 'string' ? decl.id : undefined;
    for (let i = 0; i < order.length; i++) {
      const name = order[i];
      const tenant = decl[name] as Json;
      // A tenant without applications is how AS3 is asked to delete it.
      const desired = Object.values(tenant).some(isApplication) ? tenant : undefined;
      const createOnly = name === 'Common' && i === 0 && order.length > 1;
      const outcome = this.applyPartition(work, name, desired, createOnly);
      if (outcome.code !== 200) failed.add(name);
      results.push({
        code: outcome.code,
        message: outcome.message,
        host: DEVICE_HOST,
        tenant: name,
        runTime: Math.max(0, this.clock() - started),
        ...(declarationId !== undefined ? { declarationId } : {}),
        ...(op.dryRun ? { dryRun: true } : {}),
        ...(outcome.response ? { response: outcome.response } : {}),
      });
    }
    if (results.length === 0) results.push({ code: 200, message: 'no change', host: DEVICE_HOST });

    // The stored declaration: previous tenants, the new ones that succeeded, this request's
    // header, `controls.archiveTimestamp` (AS3 `src/lib/declarationHandler.js:734-790`).
    const next: Json = {};
    for (const [k, v] of Object.entries(stored ?? {})) if (isTenant(v)) next[k] = v;
    for (const [k, v] of Object.entries(decl)) {
      if (!isTenant(v)) next[k] = v;
      else if (failed.has(k)) continue;
      else if (Object.values(v).some(isApplication)) next[k] = v;
      else delete next[k];
    }
    next.controls = { ...(isObject(decl.controls) ? decl.controls : {}), archiveTimestamp: new Date(this.clock()).toISOString() };
    const answered: Json = {};
    for (const [k, v] of Object.entries(next)) if (!isTenant(v) || results.some((r) => r.tenant === k)) answered[k] = v;

    if (!op.dryRun) {
      work.as3Declaration = next;
      this.setRunning(work);
      // AS3 saves the whole running configuration after the request unless `persist` is false
      // (AS3 `src/lib/declarationHandler.js:911-926, 1176-1269`).
      if (op.persist) this.saved = copyConfig(this.running);
    }
    // 422 when nothing succeeded, 207 when some did (AS3 `src/lib/declarationHandler.js:894-901`).
    const succeeded = results.length - results.filter((r) => r.code !== 200).length;
    const status = succeeded === 0 ? 422 : succeeded === results.length ? 200 : 207;
    return { results, declaration: structuredClone(answered), status };
  }

  // ---------------------------------------------------------------- configuration model

  /**
   * Applies one partition's desired configuration to `work` as one transaction. With
   * `createOnly` (Common's first pass) only objects that do not exist yet are created.
   */
  private applyPartition(work: DeviceConfig, name: string, desired: Json | undefined, createOnly: boolean): { code: number; message: string; response?: string } {
    const current = work.partitions.get(name);
    const target = createOnly ? (desired === undefined ? current?.tenant : withNewObjectsOnly(current?.tenant, desired)) : desired;
    const canonical = target === undefined ? undefined : canonicalJson(target);
    if (canonical === current?.canonical) return { code: 200, message: 'no change' };
    const next: Partition | undefined = target === undefined ? undefined : { tenant: target, canonical: canonical as string, index: indexPartition(name, target) };
    const problem = this.partitionProblem(work, name, current?.index, next?.index);
    if (problem) return { code: 422, message: 'declaration failed', response: problem };

    if (next) work.partitions.set(name, next);
    else work.partitions.delete(name);
    const before = current?.index;
    const after = next?.index;
    // A new event-driven list has no discovered node, so it holds AS3's placeholder; a deleted
    // one loses its nodes with its task (AS3 `src/lib/map_cli.js:1027-1033`).
    for (const taskId of before?.eventLists.keys() ?? []) if (!after?.eventLists.has(taskId)) work.discovered.delete(taskId);
    for (const taskId of after?.eventLists.keys() ?? []) if (!work.discovered.has(taskId)) work.discovered.set(taskId, []);
    // AS3 3.49+ sets a route domain's enforced policy from `routeDomainEnforcement` and releases
    // it with the policy.
    for (const [rd, policy] of before?.routeDomainEnforcement ?? []) {
      const state = work.routeDomains.get(rd);
      if (state?.enforcedPolicy === policy && after?.routeDomainEnforcement.get(rd) !== policy) delete state.enforcedPolicy;
    }
    for (const [rd, policy] of after?.routeDomainEnforcement ?? []) (work.routeDomains.get(rd) as ContextState).enforcedPolicy = policy;
    return { code: 200, message: 'success' };
  }

  /**
   * Why mcpd would refuse a partition's new configuration (its message goes into the tenant's
   * result as `response`, with code 422 and message "declaration failed": AS3
   * `src/lib/audit.js:46-73`, `src/lib/declarationHandler.js:719-727`).
   */
  private partitionProblem(work: DeviceConfig, name: string, before: PartitionIndex | undefined, after: PartitionIndex | undefined): string | undefined {
    if (after) {
      // "You must choose an existing route domain" (AS3 schema, Tenant `defaultRouteDomain`);
      // addresses name route domains by id too. mcpd refuses the partition (the message text is
      // unsettled).
      for (const id of after.routeDomainIds) {
        if (!this.routeDomainPaths.has(id)) return `01020036:3: The requested route domain (id ${id}) was not found.`;
      }
    }

    // An object that goes away must not be in use by another partition or attached to a
    // firewall context; mcpd refuses to delete it (AS3 issue #886 shows one such message;
    // the codes and wording for other object types are unsettled).
    if (before) {
      const gone = new Set<string>();
      for (const p of before.objects.keys()) if (!after?.objects.has(p)) gone.add(p);
      if (gone.size) {
        for (const [other, partition] of work.partitions) {
          if (other === name) continue;
          for (const [from, to] of partition.index.references) {
            if (gone.has(to)) return inUse(to, before.objects.get(to) as string, `${objectNoun(partition.index.objects.get(from))} (${from})`);
          }
        }
        for (const p of gone) {
          const cls = before.objects.get(p) as string;
          if (work.global.enforcedPolicy === p) return inUse(p, cls, 'the global firewall context (enforced-policy)');
          if (work.global.stagedPolicy === p) return inUse(p, cls, 'the global firewall context (staged-policy)');
          for (const [rd, state] of work.routeDomains) {
            if (state.stagedPolicy === p) return inUse(p, cls, `route domain ${rd} (fw-staged-policy)`);
            // AS3 releases what its own routeDomainEnforcement attached; anything else holds on.
            if (state.enforcedPolicy === p && before.routeDomainEnforcement.get(rd) !== p) return inUse(p, cls, `route domain ${rd} (fw-enforced-policy)`);
          }
        }
      }
    }

    if (after) {
      // What the partition points to in another partition must exist on the device (mcpd's
      // reference check; the wording is unsettled).
      for (const [, to, property] of after.references) {
        const owner = to.split('/')[1];
        if (owner === name || this.existingObjects.has(to)) continue;
        if (!work.partitions.get(owner)?.index.objects.has(to)) return `01020036:3: The requested ${pointerNoun(property)} (${to}) was not found.`;
      }
      // A virtual address (address and route domain) exists once on the device: "0107176c:3:
      // Invalid Virtual Address, the IP address 192.168.1.1 already exists." (AS3 issue #741).
      // With `shareAddresses` AS3 creates it in /Common instead of the tenant ("so it can be
      // shared across tenants", AS3 `docs/declarations/miscellaneous.rst`, "Sharing IP
      // addresses between virtual servers"; `src/lib/map_as3.js:2400-2405`) and counts the
      // tenants that use it in its `references` metadata (`src/lib/fetch.js:304-357, 537-571`):
      // every tenant that shares it succeeds, and it stays while one of them uses it. AS3 3.56
      // leaves the decrement as a TODO (`src/lib/fetch.js:569`), so when the last user goes is
      // unsettled; here the address goes with its last user. An address in a tenant's own
      // partition clashes with the same address in /Common either way.
      const clash = (key: string, shown: string, own: boolean): string | undefined => {
        for (const [other, partition] of work.partitions) {
          const inPartition = other !== name && partition.index.virtualAddresses.has(key);
          const inCommon = own && other !== name && partition.index.sharedVirtualAddresses.has(key);
          if (inPartition || inCommon) return `0107176c:3: Invalid Virtual Address, the IP address ${shown} already exists.`;
        }
        return undefined;
      };
      for (const [key, shown] of after.virtualAddresses) {
        const problem = clash(key, shown, true) ?? (after.sharedVirtualAddresses.has(key) ? `0107176c:3: Invalid Virtual Address, the IP address ${shown} already exists.` : undefined);
        if (problem) return problem;
      }
      for (const [key, shown] of after.sharedVirtualAddresses) {
        const problem = clash(key, shown, false);
        if (problem) return problem;
      }
      // FQDN entries of an address list are resolved through the global FQDN policy's DNS
      // resolver, which must be set first (F5's AFM guides, "FQDN support in address lists";
      // AS3 cannot set it and its own test of Firewall_Address_List leaves `fqdns` out until
      // it can: AS3 `test/integration/bigip/property/propertiesFirewallAddressList.js:48`).
      // Whether mcpd refuses such a list or accepts it unresolved is unsettled; the emulator
      // refuses it (the message text is the emulator's).
      if (!work.fqdnResolver) {
        for (const [list, fqdn] of after.fqdnLists) {
          return `The IP address list (${list}) has FQDN entries (${fqdn}) but security firewall global-fqdn-policy has no dns-resolver.`;
        }
      }
    }
    return undefined;
  }

  /** Makes `config` the running configuration and brings the service-discovery tasks in line. */
  private setRunning(config: DeviceConfig): void {
    this.running = config;
    const lists = new Map<string, EventList>();
    for (const partition of config.partitions.values()) for (const [taskId, list] of partition.index.eventLists) lists.set(taskId, list);
    this.eventLists = lists;
    // AS3 creates a task for a new event-driven list and deletes it with the list
    // (AS3 `src/lib/audit.js:127-150` cleans up tasks of failed tenants).
    for (const [taskId, task] of [...this.sdTasks]) {
      const list = lists.get(taskId);
      if (!list || list.path !== task.path) this.sdTasks.delete(taskId);
    }
    for (const [taskId, list] of lists) if (!this.sdTasks.has(taskId)) this.sdTasks.set(taskId, { path: list.path, ips: [], ids: undefined });
  }

  /** A deployed object by path, with its AS3 class and declaration. */
  private findObject(objectPath: string): { cls: string; item: Json } | undefined {
    const [, tenant, app, item] = objectPath.split('/');
    const partition = this.running.partitions.get(tenant);
    const cls = partition?.index.objects.get(objectPath);
    if (!partition || cls === undefined) return undefined;
    return { cls, item: (partition.tenant[app] as Json)[item] as Json };
  }

  // ---------------------------------------------------------------- service discovery

  /**
   * A service-discovery task as the worker reports it (AS3
   * `test/integration/bigip/misc/serviceDiscovery.js:1268-1289`).
   */
  private taskState(taskId: string, task: SdTask): Json {
    const list = this.eventLists.get(taskId);
    return {
      id: taskId,
      updateInterval: 0,
      provider: 'event',
      providerOptions: { type: 'event', nodeList: task.ips.map((ip, i) => ({ id: task.ids ? task.ids[i] : ip, ip })) },
      resources: [],
      kind: 'shared:service-discovery:taskstate',
      nodePrefix: `/${task.path.split('/')[1]}/`,
      metadata: { configuredBy: 'AS3' },
      lastDiscoveryResult: { status: 'Success', message: 'Task was successful' },
      routeDomain: list?.routeDomain ?? 0,
    };
  }

  private nodesResource(method: string, taskId: string, body: unknown, pathname: string): [number, unknown] {
    const task = this.sdTasks.get(taskId);
    if (!task) {
      const staticList = [...this.running.partitions.values()].map((p) => p.index.staticLists.get(taskId)).find((p) => p !== undefined);
      const why = staticList ? `: ${staticList} is a Firewall_Address_List without addresses [{"addressDiscovery": "event"}]` : '';
      throw this.restError(404, `Service discovery task ${taskId} does not exist${why}`);
    }
    if (method === 'GET') {
      // F5's provider reads `result.providerOptions.nodeList` from this answer
      // (terraform-provider-bigip v1.28 `bigip/resource_bigip_event_service_discovery.go:93-98`).
      return [200, { result: this.taskState(taskId, task) }];
    }
    if (method !== 'POST') throw this.methodNotAllowed(method, pathname);
    // The worker's validation of nodes is not published (unsettled); these checks are the emulator's.
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
    const list = this.eventLists.get(taskId);
    // The worker replaces the list's discovered addresses. An address list cannot be left
    // empty: AS3 never does so and adds a placeholder "to maintain a valid Firewall_Address_List"
    // (AS3 `docs/userguide/tips-warnings.rst:88`, `src/lib/map_cli.js:1027-1033`). What the
    // worker does with `[]` for a firewall address list is not published (unsettled); here mcpd
    // keeps the previous addresses, the stricter choice: a removal by `[]` does not take effect.
    // The POST is answered 200 either way, because the worker answers with the task before
    // applying the nodes (AS3 `test/integration/bigip/misc/serviceDiscovery.js:1193-1217`
    // waits 5 s before the pool follows).
    if (list && list.addresses.length + ips.length > 0) this.running.discovered.set(taskId, ips);
    // The answer is the task, echoing the nodes (AS3 `test/integration/bigip/misc/serviceDiscovery.js:537-542`).
    return [200, this.taskState(taskId, task)];
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
    const global = this.running.global;
    if (method === 'PATCH') {
      if (!isObject(body)) throw this.tmosError(400, 'PATCH body must be a JSON object');
      const changes: Array<[keyof BigipPolicyAttachment, string]> = [];
      for (const [k, v] of Object.entries(body)) {
        if (k !== 'enforcedPolicy' && k !== 'stagedPolicy') throw this.tmosError(400, `01070734:3: Configuration error: unknown property "${k}" of global-rules`);
        if (typeof v !== 'string') throw this.tmosError(400, `01070734:3: Configuration error: ${k} must be a policy path or "none"`);
        try {
          changes.push([k, this.policyValue(v)]);
        } catch (e) {
          // iControl REST reports mcpd's error as an HTTP error, unlike util/bash.
          if (e instanceof TmshError) throw this.tmosError(400, e.message);
          throw e;
        }
      }
      for (const [k, v] of changes) setAttachment(global, k, v);
    } else if (method !== 'GET') {
      throw this.methodNotAllowed(method, pathname);
    }
    return [200, { kind: 'tm:security:firewall:global-rules:global-rulesstate', selfLink: 'https://localhost/mgmt/tm/security/firewall/global-rules', ...global }];
  }

  /** `none` or the path of a deployed firewall policy (else mcpd's "was not found"). */
  private policyValue(value: string): string {
    if (value === 'none') return value;
    const p = tmshPath(value);
    if (this.findObject(p)?.cls !== 'Firewall_Policy') throw new TmshError(`01020036:3: The requested Firewall Policy (${p}) was not found.`);
    return p;
  }

  /**
   * `POST /mgmt/tm/util/bash` as go-bigip `sys.go:747-755` (RunCommand) sends it for
   * `bigip_command`. A command that runs is answered 200 even when tmsh fails: its error text
   * is in `commandResult` (F5's Ansible modules look for it there, e.g. F5Networks/f5-ansible
   * `plugins/modules/bigip_iapp_template.py`: a 200 answer whose `commandResult` contains
   * "Syntax Error" is a failure). Only a malformed request, or a command this emulation does
   * not know, gets an HTTP error.
   */
  private bash(body: unknown): Json {
    if (!isObject(body) || body.command !== 'run' || typeof body.utilCmdArgs !== 'string') {
      throw this.tmosError(400, 'util bash takes {"command": "run", "utilCmdArgs": "-c \'<command>\'"}');
    }
    const m = /^-c '([^']*)'$/.exec(body.utilCmdArgs);
    if (!m) throw this.tmosError(400, `(emulator) This device runs only -c '<tmsh command>' through util bash (got ${JSON.stringify(body.utilCmdArgs)})`);
    const inner = m[1].trim();
    if (/[;&|`$<>\\"\n]/.test(inner)) throw this.tmosError(400, `(emulator) Shell syntax is not supported by this device's bash emulation (got ${JSON.stringify(inner)})`);
    const words = inner.split(/\s+/);
    if (words[0] !== 'tmsh') throw this.tmosError(400, `(emulator) Only tmsh commands are supported (got ${JSON.stringify(words[0])})`);
    let output: string | undefined;
    try {
      output = this.tmsh(words.slice(1));
    } catch (e) {
      if (!(e instanceof TmshError)) throw e;
      output = `${e.message}\n`;
    }
    return { kind: 'tm:util:bash:runstate', command: 'run', utilCmdArgs: body.utilCmdArgs, ...(output !== undefined ? { commandResult: output } : {}) };
  }

  private tmsh(words: string[]): string | undefined {
    const cmd = words.join(' ');
    const syntax = (why: string) => new TmshError(`Syntax Error: ${why}`);
    const pairs = (rest: string[], allowed: readonly string[]): Array<[string, string]> => {
      const out: Array<[string, string]> = [];
      for (let i = 0; i < rest.length; i += 2) {
        if (!allowed.includes(rest[i])) throw syntax(`"${rest[i]}" unknown property`);
        if (i + 1 >= rest.length) throw syntax(`"${rest[i]}" requires a value`);
        out.push([rest[i], rest[i + 1]]);
      }
      if (out.length === 0) throw syntax(`expected ${allowed.join(' | ')} followed by a value`);
      return out;
    };
    const config = this.running;
    const [verb, ...rest] = words;
    const target = rest.slice(0, 3).join(' ');
    if (verb === 'modify' && target === 'security firewall global-rules') {
      const changes = pairs(rest.slice(3), ['enforced-policy', 'staged-policy']).map(([k, v]) => [k === 'enforced-policy' ? 'enforcedPolicy' : 'stagedPolicy', this.policyValue(v)] as const);
      for (const [k, v] of changes) setAttachment(config.global, k, v);
      return undefined;
    }
    if (verb === 'modify' && target === 'security firewall global-fqdn-policy') {
      const [[, value]] = pairs(rest.slice(3), ['dns-resolver']);
      if (value === 'none') {
        config.fqdnResolver = undefined;
        return undefined;
      }
      const resolver = tmshPath(value);
      if (!this.dnsResolvers.has(resolver)) throw new TmshError(`01020036:3: The requested DNS Resolver (${resolver}) was not found.`);
      config.fqdnResolver = resolver;
      return undefined;
    }
    if (verb === 'modify' && rest[0] === 'net' && rest[1] === 'route-domain') {
      if (rest.length < 3) throw syntax('route domain name expected');
      // tmsh names a route domain by its name, never by its id.
      const rd = tmshPath(rest[2]);
      const state = config.routeDomains.get(rd);
      if (!state) throw new TmshError(`01020036:3: The requested route domain (${rd}) was not found.`);
      const changes = pairs(rest.slice(3), ['fw-enforced-policy', 'fw-staged-policy']).map(([k, v]) => [k === 'fw-enforced-policy' ? 'enforcedPolicy' : 'stagedPolicy', this.policyValue(v)] as const);
      for (const [k, v] of changes) setAttachment(state, k, v);
      return undefined;
    }
    if (verb === 'list' && target === 'security firewall global-rules' && rest.length === 3) {
      return tmshBlock('security firewall global-rules', { 'enforced-policy': config.global.enforcedPolicy, 'staged-policy': config.global.stagedPolicy });
    }
    if (verb === 'list' && target === 'security firewall global-fqdn-policy' && rest.length === 3) {
      return tmshBlock('security firewall global-fqdn-policy', { 'dns-resolver': config.fqdnResolver });
    }
    if (verb === 'list' && rest[0] === 'net' && rest[1] === 'route-domain' && rest.length <= 3) {
      const names = rest.length === 3 ? [tmshPath(rest[2])] : [...config.routeDomains.keys()].sort();
      return names
        .map((rd) => {
          const state = config.routeDomains.get(rd);
          if (!state) throw new TmshError(`01020036:3: The requested route domain (${rd}) was not found.`);
          return tmshBlock(`net route-domain ${rd}`, { id: String(this.routeDomainIds.get(rd)), 'fw-enforced-policy': state.enforcedPolicy, 'fw-staged-policy': state.stagedPolicy });
        })
        .join('');
    }
    if (verb === 'show' && rest.join(' ') === 'sys version') {
      const v = TMOS_VERSION;
      return `\nSys::Version\nMain Package\n  Product     ${v.product}\n  Version     ${v.version}\n  Build       ${v.build}\n  Edition     ${v.edition}\n  Date        ${v.date}\n\n`;
    }
    // The running configuration is what mcpd uses; `save sys config` writes it to /config and a
    // reboot or `load sys config` reads that back (tmsh reference, "sys config"). The printed
    // file list is abbreviated (unsettled).
    if (verb === 'save' && rest.join(' ') === 'sys config') {
      this.saved = copyConfig(config);
      return 'Saving running configuration...\n  /config/bigip.conf\n  /config/bigip_base.conf\n  /config/bigip_user.conf\n';
    }
    if (verb === 'load' && rest.join(' ') === 'sys config') {
      this.setRunning(copyConfig(this.saved));
      return 'Loading system configuration...\n  /defaults/config_base.conf\nLoading configuration...\n  /config/bigip_base.conf\n  /config/bigip_user.conf\n  /config/bigip.conf\n';
    }
    throw this.tmosError(
      400,
      `(emulator) "tmsh ${cmd}" is not emulated (modify/list security firewall global-rules, global-fqdn-policy, net route-domain; show sys version; save/load sys config)`,
    );
  }
}

interface As3Operation {
  /** deploy, remove, retrieve, or invalid (an async request whose task reports 422). */
  readonly action: string;
  /** Tenants of the URL path (`/declare/<t1,t2>`). */
  readonly filter: readonly string[] | undefined;
  /** The ADC declaration as posted. */
  readonly declaration: Json;
  /** The AS3 request (`class: AS3`) around it, when one was posted. */
  readonly request: Json | undefined;
  readonly dryRun: boolean;
  readonly persist: boolean;
  readonly errors?: readonly string[];
}

function tmshBlock(header: string, props: Record<string, string | undefined>): string {
  const lines = Object.entries(props)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `    ${k} ${v}\n`)
    .join('');
  return lines ? `${header} {\n${lines}}\n` : `${header} { }\n`;
}

function setAttachment(target: ContextState, key: keyof BigipPolicyAttachment, value: string): void {
  if (value === 'none') delete target[key];
  else target[key] = value;
}

function isTenant(value: unknown): value is Json {
  return isObject(value) && value.class === 'Tenant';
}

function isApplication(value: unknown): value is Json {
  return isObject(value) && value.class === 'Application';
}

/** A copy that shares the immutable parts (partition configurations, address arrays). */
function copyConfig(c: DeviceConfig): DeviceConfig {
  return {
    partitions: new Map(c.partitions),
    discovered: new Map(c.discovered),
    global: { ...c.global },
    fqdnResolver: c.fqdnResolver,
    routeDomains: new Map([...c.routeDomains].map(([k, v]) => [k, { ...v }])),
    as3Declaration: c.as3Declaration,
  };
}

/** An event-driven list's addresses: literal ones, then discovered ones, else the placeholder. */
function listAddresses(list: EventList, discovered: readonly string[] | undefined): string[] {
  const all = [...list.addresses, ...(discovered ?? [])];
  return all.length ? all : [EMPTY_LIST_PLACEHOLDER];
}

/** Common's first pass: the current configuration plus the objects that do not exist yet. */
function withNewObjectsOnly(current: Json | undefined, desired: Json): Json {
  if (!current) return desired;
  const out: Json = { ...current };
  for (const [appName, app] of Object.entries(desired)) {
    if (!isApplication(app)) continue;
    const existing = current[appName];
    if (!isApplication(existing)) {
      out[appName] = app;
      continue;
    }
    let merged: Json | undefined;
    for (const [itemName, item] of Object.entries(app)) {
      if (!isObject(item) || itemName in existing) continue;
      merged ??= { ...existing };
      merged[itemName] = item;
    }
    if (merged) out[appName] = merged;
  }
  return out;
}

/** Calls `visit` for every `{ "use": "<pointer>" }` in an item, with the property holding it. */
function forEachUse(value: unknown, visit: (pointer: string, property: string) => void, property = ''): void {
  if (Array.isArray(value)) {
    for (const v of value) forEachUse(v, visit, property);
  } else if (isObject(value)) {
    if (typeof value.use === 'string') visit(value.use, property);
    for (const [k, v] of Object.entries(value)) if (k !== 'use' && v && typeof v === 'object') forEachUse(v, visit, k);
  }
}

/**
 * Calls `visit` for every `{ "bigip": "<path>" }` in a value, with the keys that lead to it
 * (array indices included), as AS3 finds them with the schema's `bigComponent` tag.
 */
function forEachBigip(value: unknown, visit: (pointer: string, at: readonly string[]) => void, at: readonly string[] = []): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => forEachBigip(v, visit, [...at, String(i)]));
  } else if (isObject(value)) {
    if (typeof value.bigip === 'string') visit(value.bigip, at);
    for (const [k, v] of Object.entries(value)) if (k !== 'bigip' && v && typeof v === 'object') forEachBigip(v, visit, [...at, k]);
  }
}

/** The path a pointer names from `/tenant/app` (relative names stay in the application; `@` is "same"). */
function resolveUse(pointer: string, tenant: string, app: string): string {
  if (!pointer.startsWith('/')) return `/${tenant}/${app}/${pointer}`;
  const parts = pointer.slice(1).split('/');
  if (parts[0] === '@') parts[0] = tenant;
  if (parts[1] === '@') parts[1] = app;
  return `/${parts.join('/')}`;
}

/**
 * Why a pointer does not resolve in a declaration, as AS3 words it: pointers stay in their
 * application or point into /<same tenant>/Shared or /Common/Shared, and must name an object
 * of the declaration (AS3 `src/lib/util/extractUtil.js:155-211`).
 */
function pointerProblem(decl: Json, pointer: string, tenant: string, app: string): string | undefined {
  const target = resolveUse(pointer, tenant, app).slice(1).split('/');
  if (target.length !== 3) return undefined;
  const [t, a, item] = target;
  if ((t !== tenant && t !== 'Common') || (a !== app && a !== 'Shared')) {
    return 'must contain path pointing into same Application (or /same-Tenant/Shared or /Common/Shared)';
  }
  const tenantObj = decl[t];
  if (!isObject(tenantObj)) return `contains path to non-existent object ${t}`;
  const appObj = tenantObj[a];
  if (!isObject(appObj)) return `contains path to non-existent object ${a}`;
  if (!isObject(appObj[item])) return `contains path to non-existent object ${item}`;
  return undefined;
}

/** `address%id` of a virtual address and the address as declared, or undefined for anything else. */
function virtualAddressKey(text: string, defaultRouteDomain: number): [string, string] | undefined {
  const m = /^([^%/]+)(?:%(\d{1,5}))?(?:\/\d{1,3})?$/.exec(text);
  if (!m || net.isIP(m[1]) === 0) return undefined;
  const address = net.isIPv6(m[1]) ? new URL(`http://[${m[1]}]`).hostname.slice(1, -1) : m[1];
  const rd = m[2] !== undefined ? Number(m[2]) : defaultRouteDomain;
  return [`${address}%${rd}`, m[2] !== undefined ? `${m[1]}%${m[2]}` : m[1]];
}

function collectRouteDomainIds(value: unknown, into: Set<number>): void {
  if (typeof value === 'string') {
    if (value.includes('%')) for (const m of value.matchAll(ADDRESS_ROUTE_DOMAIN)) into.add(Number(m[1]));
  } else if (Array.isArray(value)) {
    for (const v of value) collectRouteDomainIds(v, into);
  } else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) if (k !== 'remark' && k !== 'label') collectRouteDomainIds(v, into);
  }
}

/** The objects, references, lists, attachments and addresses of one partition's configuration. */
function indexPartition(name: string, tenant: Json): PartitionIndex {
  const objects = new Map<string, string>();
  const references: Array<readonly [string, string, string]> = [];
  const eventLists = new Map<string, EventList>();
  const staticLists = new Map<string, string>();
  const routeDomainEnforcement = new Map<string, string>();
  const virtualAddresses = new Map<string, string>();
  const sharedVirtualAddresses = new Map<string, string>();
  const fqdnLists = new Map<string, string>();
  const routeDomainIds = new Set<number>();
  const defaultRouteDomain = typeof tenant.defaultRouteDomain === 'number' ? tenant.defaultRouteDomain : 0;
  if (typeof tenant.defaultRouteDomain === 'number') routeDomainIds.add(defaultRouteDomain);
  const addVirtual = (text: unknown, shared = false) => {
    // A shared address is created in /Common, so an address without `%id` takes Common's
    // default route domain, 0 (AS3 `src/lib/map_as3.js:2400-2417`).
    const key = typeof text === 'string' ? virtualAddressKey(text, shared ? 0 : defaultRouteDomain) : undefined;
    if (key) (shared ? sharedVirtualAddresses : virtualAddresses).set(key[0], key[1]);
  };
  for (const [appName, app] of Object.entries(tenant)) {
    if (!isApplication(app)) continue;
    for (const [itemName, item] of Object.entries(app)) {
      if (!isObject(item) || typeof item.class !== 'string') continue;
      const itemPath = `/${name}/${appName}/${itemName}`;
      objects.set(itemPath, item.class);
      forEachUse(item, (pointer, property) => references.push([itemPath, resolveUse(pointer, name, appName), property]));
      // A `bigip` pointer to an object AS3 made in another partition holds on to it as a `use` does.
      forEachBigip(item, (pointer, at) => {
        if (/^\/[^/]+\/[^/]+\/[^/]+$/.test(pointer)) references.push([itemPath, pointer, [...at].reverse().find((k) => !/^\d+$/.test(k)) ?? '']);
      });
      collectRouteDomainIds(item, routeDomainIds);
      if (item.class === 'Firewall_Policy') {
        for (const rd of Array.isArray(item.routeDomainEnforcement) ? item.routeDomainEnforcement : []) {
          if (isObject(rd) && typeof rd.bigip === 'string') routeDomainEnforcement.set(rd.bigip, itemPath);
        }
      } else if (item.class === 'Firewall_Address_List') {
        // A list of other lists (`addressLists`, F5 "Network Firewall: Policies and
        // Implementations", Firewall address lists) has no members of its own and no
        // service-discovery task: it matches what its lists hold, so pushes go to those lists,
        // and its `use` pointers keep them from being deleted while it exists (references above).
        const taskId = itemPath.replace(/\//g, '~');
        const entries = Array.isArray(item.addresses) ? item.addresses : [];
        if (Array.isArray(item.fqdns) && item.fqdns.length > 0) fqdnLists.set(itemPath, String(item.fqdns[0]));
        if (entries.some((a) => isObject(a) && a.addressDiscovery === 'event')) {
          eventLists.set(taskId, { path: itemPath, addresses: entries.filter((a): a is string => typeof a === 'string'), routeDomain: defaultRouteDomain });
        } else {
          staticLists.set(taskId, itemPath);
        }
      } else if (item.class === 'Service_Address') {
        addVirtual(item.virtualAddress);
      } else if (item.class.startsWith('Service_') && Array.isArray(item.virtualAddresses)) {
        // A virtual address is a destination: a string, or the first of [destination, source].
        for (const entry of item.virtualAddresses) addVirtual(Array.isArray(entry) ? entry[0] : entry, item.shareAddresses === true);
      }
    }
  }
  return { objects, references, eventLists, staticLists, routeDomainEnforcement, virtualAddresses, sharedVirtualAddresses, fqdnLists, routeDomainIds };
}

const OBJECT_NOUNS: Readonly<Record<string, string>> = {
  Firewall_Address_List: 'IP address list',
  Firewall_Port_List: 'port list',
  Firewall_Rule_List: 'rule list',
  Firewall_Policy: 'Firewall Policy',
  Bandwidth_Control_Policy: 'BWC policy',
  iRule: 'iRule',
};

/** The noun mcpd uses for an object ("The requested IP address list (...) already exists", AS3 issue #557). */
function objectNoun(cls: string | undefined): string {
  if (cls?.startsWith('Service_') && cls !== 'Service_Address') return 'Virtual Server';
  return (cls && OBJECT_NOUNS[cls]) ?? cls ?? 'object';
}

function pointerNoun(property: string): string {
  if (property === 'addressLists') return OBJECT_NOUNS.Firewall_Address_List;
  if (property === 'portLists') return OBJECT_NOUNS.Firewall_Port_List;
  if (property === 'rules') return OBJECT_NOUNS.Firewall_Rule_List;
  if (property.startsWith('policyFirewall')) return OBJECT_NOUNS.Firewall_Policy;
  return 'object';
}

/** mcpd's refusal to delete an object in use (format after AS3 issue #886; the code is unsettled). */
function inUse(objectPath: string, cls: string, by: string): string {
  return `01070265:3: The ${objectNoun(cls)} (${objectPath}) cannot be deleted because it is in use by ${by}.`;
}
