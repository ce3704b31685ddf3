/**
 * An in-process BIG-IP management interface for this package's tests, the demo and the
 * benchmarks (it is not part of the published package).
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
 * What it is not: a firewall. It checks only what the protocols and the configuration model it
 * keeps need; the flows it logs (`sendFlow`, flow-logs.ts) are decided by the AFM evaluator of
 * lib/afm over what it holds.
 *
 * This file is the façade: the options and the programmatic API. The rest is split by concern:
 * - server.ts: HTTPS on loopback, request counters, routing;
 * - auth.ts: login, tokens, 401 answers;
 * - as3.ts: AS3 declare (sync and async), its lock, task records, the parser checks;
 * - discovery.ts: service-discovery tasks, the nodes endpoint, the push history;
 * - tmsh.ts: tmsh through util/bash, the firewall context resources, save/load sys config;
 * - device.ts, partition-index.ts: the device model (running and saved configuration,
 *   partitions, firewall contexts, route domains) and the checks mcpd makes;
 * - faults.ts: injected failures and latency;
 * - http.ts, json.ts, timers.ts: answers and error bodies; JSON helpers; pending timers.
 */
import * as fs from 'node:fs';
import { seededRandom } from '../../../lib/util';
import { As3Service, validatorFor } from './as3';
import { TOKEN_ABSOLUTE_MAX_S, TokenAuth } from './auth';
import { BigipPolicyAttachment, Device, tmshPath } from './device';
import { BigipNodePush, ServiceDiscovery } from './discovery';
import { BigipFault, BigipFaultRule, FaultInjector } from './faults';
import { ErrorAnswers } from './http';
import { isTenant } from './json';
import { BigipServer, fixturePath } from './server';
import { Timers } from './timers';
import { Tmsh } from './tmsh';
import { AfmEventLogger, EmulatedFlow, LogRoute } from './flow-logs';
import { AfmEvaluation, AfmFirewall } from '../../../lib/afm/evaluator';
import { EMPTY_LIST_PLACEHOLDER } from '../../../lib/clients/bigip/client';
import type { ClusterEndpoints } from './cluster-status';

export { BigipAs3Result } from './as3';
export { BigipPolicyAttachment } from './device';
export { BigipNodePush } from './discovery';
export { BigipFault, BigipFaultRule } from './faults';
export { EmulatedFlow, LogRoute } from './flow-logs';

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
   * Where the syslog servers the declaration names are reached from this machine, for the AFM
   * events {@link BigipEmulator.sendFlow} logs (the emulated network between the device and the
   * cluster).
   * @default - events are counted as undeliverable
   */
  readonly logRoute?: LogRoute;
  /**
   * The device's host name (`bigip-hostname`, and the HOSTNAME of its syslog messages).
   * @default 'bigip1.example.net'
   */
  readonly hostname?: string;
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

const DEFAULT_SEED = 24301;

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
    await emulator.server.listen(options.port ?? 0);
    return emulator;
  }

  /** Base URL, e.g. `https://127.0.0.1:43121`. */
  public get url(): string {
    return this.server.url;
  }

  /** The listening port. */
  public get port(): number {
    return this.server.port;
  }

  private readonly server: BigipServer;
  private readonly device: Device;
  private readonly auth: TokenAuth;
  private readonly as3: As3Service;
  private readonly discovery: ServiceDiscovery;
  private readonly tmsh: Tmsh;
  private readonly faults: FaultInjector;
  private readonly eventLogger: AfmEventLogger;

  private constructor(options: BigipEmulatorOptions) {
    const host = options.host ?? '127.0.0.1';
    if (host !== '127.0.0.1' && host !== '::1') {
      throw new Error(
        `BigipEmulator: host ${JSON.stringify(host)} is not a loopback address; the emulator listens on 127.0.0.1 or ::1 only`,
      );
    }
    const positive = (name: string, v: number | undefined, fallback: number, min = 1) => {
      const value = v ?? fallback;
      if (!Number.isFinite(value) || value < min) throw new Error(`BigipEmulator: ${name} must be a number >= ${min} (got ${String(v)})`);
      return value;
    };
    const users = options.users ?? { admin: 'admin' };
    const tokenLifetimeS = positive('tokenLifetimeSeconds', options.tokenLifetimeSeconds, 1200);
    if (tokenLifetimeS > TOKEN_ABSOLUTE_MAX_S) throw new Error(`BigipEmulator: tokenLifetimeSeconds must be <= ${TOKEN_ABSOLUTE_MAX_S}`);
    const maxTokensPerUser = positive('maxTokensPerUser', options.maxTokensPerUser, 100);
    const allowBasicAuth = options.allowBasicAuth ?? false;
    const validator = options.as3SchemaPath !== undefined ? validatorFor(options.as3SchemaPath) : undefined;
    const as3OperationMs = positive('as3OperationMs', options.as3OperationMs, 20, 0);
    const as3SyncLimitMs = positive('as3SyncLimitMs', options.as3SyncLimitMs, 45000, 0);
    this.device = new Device({
      routeDomains: options.routeDomains ?? ['/Common/0'],
      routeDomainIds: options.routeDomainIds ?? {},
      dnsResolvers: options.dnsResolvers ?? [],
      existingObjects: options.existingObjects ?? [],
    });
    const clock = options.clock ?? Date.now;
    const random = seededRandom(options.seed ?? DEFAULT_SEED);
    const historyLimit = positive('historyLimit', options.historyLimit, 10000);
    const historyIpLimit = positive('historyIpLimit', options.historyIpLimit, 1_000_000);
    const maxBodyBytes = positive('maxBodyBytes', options.maxBodyBytes, 64 * 1024 * 1024);

    const errors = new ErrorAnswers();
    const timers = new Timers();
    this.auth = new TokenAuth({ users, tokenLifetimeS, maxTokensPerUser, allowBasicAuth }, clock, errors);
    this.as3 = new As3Service({ validator, operationMs: as3OperationMs, syncLimitMs: as3SyncLimitMs }, this.device, clock, timers, errors);
    this.discovery = new ServiceDiscovery(this.device, historyLimit, historyIpLimit, clock, errors);
    this.tmsh = new Tmsh(this.device, errors);
    this.faults = new FaultInjector(random, this.auth, errors);
    this.eventLogger = new AfmEventLogger(options.hostname ?? 'bigip1.example.net', options.logRoute);
    this.server = new BigipServer(
      host,
      maxBodyBytes,
      { auth: this.auth, as3: this.as3, discovery: this.discovery, tmsh: this.tmsh, faults: this.faults },
      timers,
      errors,
    );
  }

  /** Stops listening, drops open connections and pending timers. */
  public async stop(): Promise<void> {
    await this.eventLogger.close();
    await this.server.stop();
  }

  // ---------------------------------------------------------------- traffic

  /** Changes where syslog servers are reached (see {@link BigipEmulatorOptions.logRoute}). */
  public setLogRoute(route: LogRoute | undefined): void {
    this.eventLogger.setRoute(route);
  }

  /**
   * A flow through the device: the AFM evaluator decides it over what the device holds (the
   * stored declaration, every context attachment, the event-driven lists as mcpd holds them),
   * and the device logs what its configuration says to log to its remote syslog servers
   * (flow-logs.ts says which events, in which format). Resolves once the lines are sent.
   */
  public async sendFlow(flow: EmulatedFlow, at?: Date): Promise<{ evaluation: AfmEvaluation; lines: string[] }> {
    const declaration = this.declaration();
    if (!declaration) throw new Error('BigipEmulator.sendFlow: no declaration is deployed');
    const running = this.device.running;
    const attach = (c: { enforcedPolicy?: string; stagedPolicy?: string }) =>
      `enforced-policy ${c.enforcedPolicy ?? 'none'} staged-policy ${c.stagedPolicy ?? 'none'}`;
    const commands = [`modify security firewall global-rules ${attach(running.global)}`];
    for (const [path, c] of running.routeDomains)
      commands.push(`modify net route-domain ${path} fw-${attach(c).replace(' staged-policy', ' fw-staged-policy')}`);
    const firewall = AfmFirewall.load(declaration, commands, { routeDomainIds: Object.fromEntries(this.device.routeDomainIds) });
    const members = new Map<string, string[]>();
    for (const taskId of this.eventListTaskIds()) {
      const path = taskId.replace(/~/g, '/');
      if (firewall.eventLists.includes(path))
        members.set(
          path,
          (this.listMembers(taskId) ?? []).filter((a) => a !== EMPTY_LIST_PLACEHOLDER),
        );
    }
    return this.eventLogger.send(declaration, firewall, firewall.listState(members), flow, at);
  }

  /** AFM events that found no route to their syslog server. */
  public undeliverableLogLines(): number {
    return this.eventLogger.undeliverable;
  }

  /**
   * Makes this device a unit of a device group (`BigipPair` in ha.ts does): its cm endpoints
   * answer from `cluster`, and the pair reaches its configuration to sync it.
   * @internal
   */
  public joinCluster(cluster: ClusterEndpoints): Device {
    this.server.cluster = cluster;
    return this.device;
  }

  // ---------------------------------------------------------------- fault injection

  /** Adds a fault rule (see {@link BigipFaultRule}). */
  public injectFault(rule: BigipFaultRule): void {
    this.faults.inject(rule);
  }

  /** Removes every fault rule. */
  public clearFaults(): void {
    this.faults.clear();
  }

  /** How often a fault was applied. */
  public faultCount(fault?: BigipFault): number {
    return this.faults.count(fault);
  }

  // ---------------------------------------------------------------- introspection

  /**
   * Requests received for a route, keyed `<METHOD> <template>`, e.g.
   * `POST /mgmt/shared/service-discovery/task/{taskId}/nodes` or `POST /mgmt/shared/authn/login`;
   * without a key, the total. Faulted requests count too.
   */
  public requestCount(key?: string): number {
    return this.server.requestCount(key);
  }

  /** All request counters. */
  public requestCounts(): Record<string, number> {
    return this.server.requestCounts();
  }

  /** Zeroes the request and fault counters. */
  public resetCounters(): void {
    this.server.resetCounters();
    this.faults.resetCounts();
  }

  /**
   * The declaration AS3 stored: what `GET /declare` returns (ADC header of the last request,
   * every tenant), or undefined when no tenant is stored.
   */
  public declaration(): Record<string, unknown> | undefined {
    const stored = this.device.running.as3Declaration;
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
    const partition = this.device.running.partitions.get(tenant);
    return partition ? structuredClone(partition.tenant) : undefined;
  }

  /** Task ids of the event-driven address lists on the device, sorted. */
  public eventListTaskIds(): string[] {
    return [...this.device.eventLists.keys()].sort();
  }

  /**
   * Addresses of an event-driven list as mcpd holds them, by path (`/T/A/name`) or task id
   * (`~T~A~name`): the list's literal addresses, then the nodes the service-discovery worker
   * applied, in the order they were pushed; AS3's placeholder `::1:5ee:bad:c0de` when that would
   * be empty. Undefined when no such event-driven list is on the device.
   */
  public listMembers(pathOrTaskId: string): string[] | undefined {
    return this.device.listMembers(pathOrTaskId);
  }

  /**
   * The node ips of a list's service-discovery task (`providerOptions.nodeList`, what
   * `GET .../nodes` reports), which can differ from {@link listMembers}; undefined when the
   * task does not exist.
   */
  public discoveredNodes(pathOrTaskId: string): string[] | undefined {
    return this.discovery.discoveredNodes(pathOrTaskId);
  }

  /**
   * Virtual addresses on the device by tmsh path (`/Common/0.0.0.0%2` for a shared one,
   * `/<tenant>/10.0.0.1%0` otherwise), each with the partitions whose services use it, sorted.
   */
  public virtualAddressUsers(): Record<string, string[]> {
    return this.device.virtualAddressUsers();
  }

  /** The global firewall context's policies. */
  public globalRules(): BigipPolicyAttachment {
    return { ...this.device.running.global };
  }

  /** The global FQDN policy's DNS resolver. */
  public globalFqdnResolver(): string | undefined {
    return this.device.running.fqdnResolver;
  }

  /** Firewall policies of a route domain, by path (`/Common/0`); undefined for an unknown route domain. */
  public routeDomain(pathOrName: string): BigipPolicyAttachment | undefined {
    const state = this.device.running.routeDomains.get(tmshPath(pathOrName));
    return state ? { ...state } : undefined;
  }

  /**
   * The bandwidth policy a deployed iRule attaches with `BWC::policy attach <name>`, resolved as
   * the iRule runtime does (device.ts says how, and where that is documented). A name with a
   * path, or one that resolves to no Bandwidth_Control_Policy, throws the error the iRule would
   * raise at FLOW_INIT.
   */
  public bandwidthPolicyAttachedBy(iRulePath: string): string {
    return this.device.bandwidthPolicyAttachedBy(iRulePath);
  }

  /** The text mcpd holds for a deployed iRule: AS3's rewriting applied (irule.ts cites it). */
  public iRuleText(iRulePath: string): string {
    return this.device.iRuleText(iRulePath);
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
    this.as3.reboot();
    this.auth.revokeAllTokens();
    this.device.restoreSaved();
  }

  /** Tokens that have not expired, of one user or of all. */
  public activeTokenCount(user?: string): number {
    return this.auth.activeTokenCount(user);
  }

  /** Drops every token, as a device restart does. */
  public revokeAllTokens(): void {
    this.auth.revokeAllTokens();
  }

  /** Whether an AS3 operation (declare or delete) is running. */
  public as3OperationRunning(): boolean {
    return this.as3.operationRunning();
  }

  /**
   * Node pushes kept in the history, oldest first, optionally for one list (path or task id)
   * and from a time on (epoch ms, inclusive).
   */
  public nodePushes(filter: { readonly list?: string; readonly since?: number } = {}): BigipNodePush[] {
    return this.discovery.nodePushes(filter);
  }

  /**
   * The first push to a list, at or after `since`, whose members do not include `ip`: when the
   * IP left the list (for lag measurements). Undefined when no such push is in the history.
   */
  public firstPushWithout(list: string, ip: string, since = 0): BigipNodePush | undefined {
    return this.discovery.firstPushWithout(list, ip, since);
  }
}
