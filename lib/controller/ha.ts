/**
 * A BIG-IP pair (the units of a sync-failover device group): the controller writes the source
 * lists to the ACTIVE unit only, and only while exactly one unit says it is active.
 *
 * Why the active unit, and only it:
 * - The service-discovery task that takes a list's nodes lives in each unit's REST store, not in
 *   the synced configuration: posting to one unit leaves the peer's task without nodes
 *   (f5-appsvcs-extension issues #238 and #385). The unit that passes traffic is the one whose
 *   lists must be right; auto-sync then carries the address lists (mcpd objects) to the peer.
 * - Writing to both units would make two writers of one synced object; with auto-sync the later
 *   sync wins, whichever write it carries.
 *
 * Every `pollIntervalMs` (and right after a failed push) each unit's
 * `GET /mgmt/tm/cm/failover-status` is read:
 * - exactly one `ACTIVE` (the others `STANDBY`, offline, or not answering): pushes go to it;
 * - none, or more than one (split brain): no push is made (`NoActiveUnit`, retried with the
 *   workqueue's backoff), readiness is false and the state is in the metrics and the rules'
 *   status: writing to the wrong unit could be undone by the next sync (fail closed).
 *
 * When the active unit changes (or first becomes known) the switch completes only once no push
 * to another unit is in flight and the new active unit's sync status is `In Sync` (a change
 * made on the old unit just before the failover would otherwise reach the new one after the
 * resync and overwrite it), or `settleTimeoutMs` passed. Then every list is pushed again to the
 * new active unit (the anti-entropy full resync) before anything else is written to it.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { BigipClient } from '../clients/bigip/client';
import { BigipApiError } from '../clients/bigip/errors';
import type { DeviceReader } from '../verify/reader';
import { bigipDeviceReader } from '../verify/reader';
import { ClusterStatus, ManagementReader, isActive, isInSync, readFailoverStatus, readSyncStatus } from '../clients/bigip/failover';
import { Clock, systemClock } from '../clients/clock';
import type { ListMembersTarget } from './sync/list-reconciler';
import type { Logger } from './log';
import { ConfigError } from './config';

/** One unit of the pair: a client with its own token (tokens are per device). */
export interface HaUnitClient extends ManagementReader, ListMembersTarget {}

export interface HaUnit<C extends HaUnitClient = HaUnitClient> {
  /** For logs, metrics and messages: the management URL. */
  readonly name: string;
  readonly client: C;
}

/** The pair as the controller last saw it. */
export interface HaState {
  /** A unit receives pushes now. */
  readonly ready: boolean;
  /** The unit pushes go to (or will, once the switch completes). */
  readonly active?: string;
  /** Why nothing is pushed (no single active unit, or a switch waiting for the sync). */
  readonly problem?: string;
  /** Each unit's failover status, or why it could not be read. */
  readonly units: Readonly<Record<string, string>>;
  /** Active-unit changes seen (the first one known counts). */
  readonly switches: number;
  readonly checkedAt?: number;
}

export interface HaPairOptions<C extends HaUnitClient = HaUnitClient> {
  readonly units: readonly HaUnit<C>[];
  /** @default 2000 */
  readonly pollIntervalMs?: number;
  /**
   * Longest wait for `In Sync` after the active unit changed; the resync then starts anyway
   * (a group whose sync never completes would otherwise never be written to).
   * @default 10000
   */
  readonly settleTimeoutMs?: number;
  /** Called when a unit becomes the one pushes go to: push every list again. */
  readonly onSwitched: (unit: string) => void;
  readonly log: Logger;
  readonly registry?: Registry;
  /** @default systemClock */
  readonly clock?: Clock;
}

export const HA_DEFAULTS = { pollIntervalMs: 2000, settleTimeoutMs: 10_000 } as const;

/**
 * The pair as one {@link ListMembersTarget}: see the module comment. `start()` polls until
 * `stop()`.
 */
export class HaPair<C extends HaUnitClient = HaUnitClient> implements ListMembersTarget {
  private readonly clock: Clock;
  private readonly pollIntervalMs: number;
  private readonly settleTimeoutMs: number;
  /** A unit that does not answer within this is unreadable for this poll (a dead unit must not stall it). */
  private readonly readTimeoutMs: number;
  private readonly inFlight = new Map<string, number>();
  private readonly unitGauge?: Gauge<'unit' | 'status'>;
  private readonly switchCounter?: Counter;
  private target?: HaUnit<C>;
  private ready = false;
  private switchingSince?: number;
  private problem?: string = 'the failover status of the units has not been read yet';
  private statuses: Record<string, string> = {};
  private switches = 0;
  private checkedAt?: number;
  private running = false;
  private cancelNext?: () => void;
  private busy?: Promise<void>;

  constructor(private readonly options: HaPairOptions<C>) {
    if (options.units.length < 2) throw new Error('HaPair: a pair needs at least two units');
    this.clock = options.clock ?? systemClock;
    this.pollIntervalMs = options.pollIntervalMs ?? HA_DEFAULTS.pollIntervalMs;
    this.settleTimeoutMs = options.settleTimeoutMs ?? HA_DEFAULTS.settleTimeoutMs;
    this.readTimeoutMs = Math.max(1000, this.pollIntervalMs);
    if (options.registry) {
      const registers = [options.registry];
      this.unitGauge = new Gauge({
        name: 'cdktf_ces_ha_unit_status',
        help: 'Failover status of each unit of the BIG-IP pair as last read (1 for the status shown; status "unreadable" when the read failed)',
        labelNames: ['unit', 'status'],
        registers,
      });
      const ready: Gauge = new Gauge({
        name: 'cdktf_ces_ha_ready',
        help: '1 while exactly one unit of the BIG-IP pair is active and the controller writes to it; 0 while it writes nothing (no or two active units, or a switch waiting for the config sync)',
        registers,
        collect: () => ready.set(this.ready ? 1 : 0),
      });
      this.switchCounter = new Counter({
        name: 'cdktf_ces_ha_switches_total',
        help: 'Changes of the active unit of the BIG-IP pair seen by the controller (each followed by a full resync)',
        registers,
      });
    }
  }

  get state(): HaState {
    return {
      ready: this.ready,
      ...(this.target ? { active: this.target.name } : {}),
      ...(this.problem ? { problem: this.problem } : {}),
      units: { ...this.statuses },
      switches: this.switches,
      ...(this.checkedAt !== undefined ? { checkedAt: this.checkedAt } : {}),
    };
  }

  /** The unit reads should go to (the device check): the active one, else the first. */
  get readUnit(): HaUnit<C> {
    return this.target ?? this.options.units[0];
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const tick = () => {
      if (!this.running) return;
      void this.poll().finally(() => {
        if (this.running) this.cancelNext = this.clock.schedule(this.pollIntervalMs, tick);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.cancelNext?.();
    await this.busy;
  }

  /** Reads every unit's failover status and acts on it (one poll at a time). */
  poll(): Promise<void> {
    this.busy ??= this.check().finally(() => {
      this.busy = undefined;
    });
    return this.busy;
  }

  async replaceListMembers(
    taskId: string,
    ips: readonly string[],
    routeDomain: number,
    options: { readonly retry: boolean },
  ): Promise<unknown> {
    const unit = this.ready ? this.target : undefined;
    if (!unit)
      throw new BigipApiError({
        reason: 'NoActiveUnit',
        terminal: false,
        method: 'POST',
        path: `/mgmt/shared/service-discovery/task/${taskId}/nodes`,
        deviceMessage: this.problem ?? 'no active unit',
      });
    this.inFlight.set(unit.name, (this.inFlight.get(unit.name) ?? 0) + 1);
    try {
      return await unit.client.replaceListMembers(taskId, ips, routeDomain, options);
    } catch (e) {
      // A failure may be the failover itself: look again now rather than at the next tick.
      if (this.running) void this.poll();
      if (e instanceof BigipApiError && e.reason === 'ListNotFound')
        throw new BigipApiError({
          reason: e.reason,
          terminal: e.terminal,
          method: e.method,
          path: e.path,
          status: e.status,
          deviceMessage: `${e.deviceMessage ?? 'not found'} on unit ${unit.name}`,
          hint: `the service-discovery task is missing on ${unit.name} (tasks are per unit and not config-synced): deploy the declaration to that unit too ("cdktf deploy" of a device with HA units does), never edit the address list there`,
          attempts: e.attempts,
          cause: e,
        });
      throw e;
    } finally {
      this.inFlight.set(unit.name, (this.inFlight.get(unit.name) ?? 1) - 1);
    }
  }

  private async check(): Promise<void> {
    const { units, log } = this.options;
    const read = await Promise.all(
      units.map(async (u): Promise<ClusterStatus | Error> => {
        try {
          return await withTimeout(readFailoverStatus(u.client, { retry: false }), this.readTimeoutMs);
        } catch (e) {
          return e instanceof Error ? e : new Error(String(e));
        }
      }),
    );
    const now = this.clock.now();
    this.checkedAt = now;
    this.statuses = Object.fromEntries(units.map((u, i) => [u.name, describe(read[i])]));
    this.unitGauge?.reset();
    for (const [i, u] of units.entries())
      this.unitGauge?.set({ unit: u.name, status: read[i] instanceof Error ? 'unreadable' : (read[i] as ClusterStatus).status }, 1);

    const active = units.filter((_, i) => !(read[i] instanceof Error) && isActive(read[i] as ClusterStatus));
    if (active.length !== 1) {
      const problem =
        active.length === 0
          ? `no unit of the BIG-IP pair is active (${this.describeUnits()}); nothing is written until one is`
          : `${active.length} units of the BIG-IP pair say they are active (${this.describeUnits()}): split brain; nothing is written until one is`;
      if (problem !== this.problem) log.warn('no single active BIG-IP unit; not writing', { units: this.statuses });
      this.fence(problem);
      // Whichever unit comes next, even the same one, gets the full resync.
      this.target = undefined;
      return;
    }
    const unit = active[0];
    if (unit !== this.target) {
      log.warn('active BIG-IP unit changed; resyncing every list to it once the group is in sync', {
        from: this.target?.name,
        to: unit.name,
      });
      this.fence(`switching to ${unit.name}: waiting for the pushes to the previous unit to end and the config sync to complete`);
      this.target = unit;
      this.switchingSince = now;
      this.switches++;
      this.switchCounter?.inc();
    }
    if (this.ready) return;
    // The switch: nothing in flight to another unit, and the group in sync; a unit that never
    // answers (a push hanging on a dead unit, a sync status that cannot be read) holds the switch
    // up for settleTimeoutMs at most.
    const waited = now - (this.switchingSince ?? now);
    const settling = waited < this.settleTimeoutMs;
    const elsewhere = [...this.inFlight].some(([name, n]) => name !== unit.name && n > 0);
    if (elsewhere && settling) return;
    let sync: ClusterStatus | Error;
    try {
      sync = await withTimeout(readSyncStatus(unit.client, { retry: false }), this.readTimeoutMs);
    } catch (e) {
      sync = e instanceof Error ? e : new Error(String(e));
    }
    const syncText = sync instanceof Error ? `unreadable (${sync.message})` : `"${sync.status}"${sync.summary ? ` (${sync.summary})` : ''}`;
    if ((sync instanceof Error || !isInSync(sync)) && settling) {
      this.problem = `switching to ${unit.name}: its sync status is ${syncText}; waiting for "In Sync"`;
      return;
    }
    if (elsewhere || sync instanceof Error || !isInSync(sync))
      log.warn('the switch to the new active BIG-IP unit did not settle in time; resyncing every list to it anyway', {
        unit: unit.name,
        waitedMs: waited,
        sync: syncText,
        pushInFlightElsewhere: elsewhere,
      });
    this.ready = true;
    this.problem = undefined;
    this.switchingSince = undefined;
    log.info('writing source lists to the active BIG-IP unit', { unit: unit.name, units: this.statuses });
    this.options.onSwitched(unit.name);
  }

  private fence(problem: string): void {
    this.ready = false;
    this.problem = problem;
  }

  private describeUnits(): string {
    return Object.entries(this.statuses)
      .map(([u, s]) => `${u}: ${s}`)
      .join(', ');
  }
}

/** `work`, or a rejection after `ms` (the read itself ends on its own timeout). */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

function describe(r: ClusterStatus | Error): string {
  return r instanceof Error ? `unreadable (${r.message})` : r.status;
}

/** The pair's settings (BIGIP_HA_*); undefined for a single BIG-IP. */
export interface HaConfig {
  /** Management URLs of the other units (BIGIP_URL is the first); same login and CA. */
  readonly peerUrls: readonly string[];
  readonly pollIntervalMs: number;
  readonly settleTimeoutMs: number;
}

/**
 * BIGIP_HA_PEER_URLS (comma-separated https URLs of the other units of the device group),
 * BIGIP_HA_POLL_MS, BIGIP_HA_SETTLE_MS. Throws `ConfigError` naming the setting.
 */
export function loadHaConfig(env: NodeJS.ProcessEnv, bigipUrl: string): HaConfig | undefined {
  const raw = env.BIGIP_HA_PEER_URLS;
  const number = (name: string, fallback: number, min: number, max: number) => {
    const v = env[name];
    if (v === undefined || v === '') return fallback;
    if (!/^\d+$/.test(v.trim()) || Number(v) < min || Number(v) > max)
      throw new ConfigError(`${name}: "${v}" is not a whole number from ${min} to ${max}`);
    return Number(v);
  };
  if (raw === undefined || raw.trim() === '') {
    for (const name of ['BIGIP_HA_POLL_MS', 'BIGIP_HA_SETTLE_MS'])
      if (env[name]) throw new ConfigError(`${name} is set but BIGIP_HA_PEER_URLS is not; set the peer units' URLs, or unset ${name}`);
    return undefined;
  }
  const origin = (u: string) => new URL(u).origin;
  const seen = new Set([origin(bigipUrl)]);
  const peerUrls = raw.split(',').map((u) => u.trim());
  for (const u of peerUrls) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      throw new ConfigError(`BIGIP_HA_PEER_URLS: "${u}" is not a URL; write the peer units like https://bigip-b.example.net:443`);
    }
    if (parsed.protocol !== 'https:')
      throw new ConfigError(`BIGIP_HA_PEER_URLS: "${u}" must use https; the management interface carries credentials`);
    if (seen.has(parsed.origin))
      throw new ConfigError(`BIGIP_HA_PEER_URLS: "${u}" is given twice (or is BIGIP_URL); list each other unit once`);
    seen.add(parsed.origin);
  }
  return {
    peerUrls,
    pollIntervalMs: number('BIGIP_HA_POLL_MS', HA_DEFAULTS.pollIntervalMs, 100, 60_000),
    settleTimeoutMs: number('BIGIP_HA_SETTLE_MS', HA_DEFAULTS.settleTimeoutMs, 0, 600_000),
  };
}

/** The units of the pair: BIGIP_URL's client first, then one client per peer (same login, CA and TLS settings). */
export function haUnits(
  config: {
    readonly bigip: {
      readonly username: string;
      readonly password: string;
      readonly caBundle?: string;
      readonly insecureSkipTlsVerify: boolean;
    };
    readonly ha?: HaConfig;
  },
  first: BigipClient,
  log: Logger,
): HaUnit<BigipClient>[] {
  const peers = (config.ha?.peerUrls ?? []).map(
    (url) =>
      new BigipClient({
        url,
        username: config.bigip.username,
        password: config.bigip.password,
        caBundle: config.bigip.caBundle,
        insecureSkipTlsVerify: config.bigip.insecureSkipTlsVerify,
        logger: log.child({ component: 'bigip', unit: url }),
      }),
  );
  return [first, ...peers].map((client) => ({ name: client.url, client }));
}

/** The device check's reads, from the unit pushes go to (the lists that count are the active unit's). */
export function haDeviceReader(pair: HaPair<BigipClient>): DeviceReader {
  const reader = () => bigipDeviceReader(pair.readUnit.client);
  return {
    get url() {
      return pair.readUnit.client.url;
    },
    storedDeclaration: () => reader().storedDeclaration(),
    as3Tasks: () => reader().as3Tasks(),
    globalRules: () => reader().globalRules(),
    routeDomains: () => reader().routeDomains(),
    fqdnResolver: () => reader().fqdnResolver(),
    listNodes: (taskId) => reader().listNodes(taskId),
  };
}
