/**
 * Two (or more) emulated BIG-IPs as the units of one sync-failover device group.
 *
 * Each unit is a whole `BigipEmulator` with its own REST side: its own tokens, AS3 task records
 * and service-discovery tasks. What config sync carries is mcpd's configuration only:
 * partitions (what AS3 deployed), the addresses of address lists, context attachments, the FQDN
 * resolver, and AS3's stored declaration (kept in data-groups under /Common, AS3
 * `src/lib/declarationProvider.js:357-453`).
 *
 * Modelled after F5's sources:
 * - Service-discovery tasks are per unit and not synced: after a declaration with event-driven
 *   lists is posted to one unit, the peer's `/mgmt/shared/service-discovery/task/<id>` does not
 *   exist, while the address lists do (f5-appsvcs-extension issues #238, "bug, invalid", and
 *   #385: "nodes do get synced between the two BIG-IP devices, it is just the REST API on two
 *   devices which are not in sync"). A push to the nodes of a task the unit lacks is a 404.
 *   The same declaration posted to the peer creates its tasks (AS3 creates tasks through REST
 *   on the target device, `src/lib/updaterRest.js:32-71`, and fetches the existing ones per
 *   device, `src/lib/fetch.js:966-969`; inferred from code, unverified on a device).
 * - Auto-sync: a change made on any unit reaches the others `syncDelayMs` later, object by
 *   object (incremental sync): the later arrival wins, whatever it carries (how mcpd orders two
 *   units' concurrent changes is not published; unsettled, and this is the stricter reading for
 *   a client: a write to a standby can overwrite a newer write to the active). Until it has
 *   arrived every unit shows `Changes Pending`. `saveOnAutoSync` saves the receiving unit's
 *   configuration (`bigip_cm_devicegroup` `save_on_auto_sync`).
 * - Without auto-sync changes wait until `configSync(from)` (tmsh `run cm config-sync to-group
 *   <dg>`), which copies the whole configuration of one unit to the others; AS3's `syncToGroup`
 *   does the same without waiting for it (AS3 `src/lib/declarationHandler.js:1282-1317`).
 * - A standby unit accepts configuration changes through REST as the active does, and with
 *   auto-sync they then reach the active (unsettled: the sources read do not say; accepting them
 *   is the stricter choice here, since a client that writes to the standby is then caught by
 *   its writes arriving late on the active, not hidden by a refusal).
 * - Failover: one unit `ACTIVE`, the others `STANDBY`; `failover()` moves the active role,
 *   `setFailoverStatus()` injects any state, two actives (split brain) included.
 */
import { BigipEmulator, BigipEmulatorOptions, BigipFault } from './emulator';
import { ClusterEndpoints, deviceGroupAnswer, statsAnswer } from './cluster-status';
import { Device, DeviceConfig, copyConfig } from './device';

export interface BigipPairOptions {
  /**
   * Units of the group.
   * @default 2
   */
  readonly units?: number;
  /** Options of every unit (each listens on its own port). */
  readonly unit?: BigipEmulatorOptions;
  /** @default 'failover-group' */
  readonly deviceGroup?: string;
  /** @default 'sync-failover' */
  readonly type?: 'sync-failover' | 'sync-only';
  /** @default true */
  readonly autoSync?: boolean;
  /** @default true */
  readonly saveOnAutoSync?: boolean;
  /**
   * Time a change takes to reach the other units with auto-sync, in milliseconds.
   * @default 200
   */
  readonly syncDelayMs?: number;
}

/** mcpd objects that changed on one unit, by key (undefined: deleted). */
interface Delta {
  readonly partitions: Map<string, unknown>;
  readonly discovered: Map<string, readonly string[] | undefined>;
  readonly global?: { enforcedPolicy?: string; stagedPolicy?: string };
  readonly fqdnResolver?: { value: string | undefined };
  readonly routeDomains: Map<string, { enforcedPolicy?: string; stagedPolicy?: string }>;
  readonly as3Declaration?: { value: unknown };
}

export class BigipPair {
  /** Starts every unit; unit 0 is active. */
  public static async start(options: BigipPairOptions = {}): Promise<BigipPair> {
    const n = options.units ?? 2;
    if (!Number.isInteger(n) || n < 2) throw new Error(`BigipPair: units must be a whole number >= 2 (got ${n})`);
    const units: BigipEmulator[] = [];
    try {
      for (let i = 0; i < n; i++) units.push(await BigipEmulator.start({ ...options.unit, port: undefined }));
    } catch (e) {
      await Promise.all(units.map((u) => u.stop()));
      throw e;
    }
    return new BigipPair(units, options);
  }

  public readonly units: readonly BigipEmulator[];
  public readonly deviceGroup: string;
  private readonly devices: Device[];
  private readonly failover: string[];
  private readonly seen: DeviceConfig[];
  private readonly autoSync: boolean;
  private readonly saveOnAutoSync: boolean;
  private readonly type: 'sync-failover' | 'sync-only';
  private readonly syncDelayMs: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly scanner: NodeJS.Timeout;
  /** Changes on their way to other units, by the unit they came from. */
  private readonly inTransit: number[];
  /** Without auto-sync: whether a unit has changes not yet synced. */
  private readonly unsynced: boolean[];
  /** Units powered off: they answer nothing, and send and receive no sync. */
  private readonly down: boolean[];
  private syncs = 0;

  private constructor(units: BigipEmulator[], options: BigipPairOptions) {
    this.units = units;
    this.deviceGroup = options.deviceGroup ?? 'failover-group';
    this.autoSync = options.autoSync ?? true;
    this.saveOnAutoSync = options.saveOnAutoSync ?? true;
    this.type = options.type ?? 'sync-failover';
    this.syncDelayMs = options.syncDelayMs ?? 200;
    this.failover = units.map((_, i) => (i === 0 ? 'ACTIVE' : 'STANDBY'));
    this.inTransit = units.map(() => 0);
    this.unsynced = units.map(() => false);
    this.down = units.map(() => false);
    this.devices = units.map((u, i) => u.joinCluster(this.endpoints(i)));
    this.seen = this.devices.map((d) => copyConfig(d.running));
    // Changes are noticed within a few milliseconds (mcpd sends each committed transaction).
    this.scanner = setInterval(() => this.scan(), Math.max(1, Math.min(10, this.syncDelayMs / 4)));
    this.scanner.unref();
  }

  /** Stops every unit and the sync. */
  public async stop(): Promise<void> {
    clearInterval(this.scanner);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.units.map((u) => u.stop()));
  }

  /** Index of the unit whose failover status is `ACTIVE` (the first, when several are). */
  public get active(): number {
    return this.failover.indexOf('ACTIVE');
  }

  /** The active unit (tests read its lists). */
  public get activeUnit(): BigipEmulator {
    const i = this.active;
    if (i < 0) throw new Error('BigipPair: no unit is active');
    return this.units[i];
  }

  /** Makes unit `to` active and every other unit standby (default: the next unit). */
  public failOver(to?: number): void {
    const target = to ?? (this.active + 1) % this.units.length;
    for (let i = 0; i < this.failover.length; i++) this.failover[i] = i === target ? 'ACTIVE' : 'STANDBY';
  }

  /** Sets one unit's failover status as is: `ACTIVE` twice is split brain, `OFFLINE`, `FORCED OFFLINE` ... */
  public setFailoverStatus(unit: number, status: string): void {
    this.failover[unit] = status;
  }

  /**
   * Powers a unit off: every connection to it is reset (so it answers no failover status
   * either), and it sends and receives no configuration sync. The other units keep their roles:
   * call {@link failOver} for the one that takes over, as the peer's failover daemon would.
   */
  public powerOff(unit: number): void {
    this.down[unit] = true;
    this.failover[unit] = 'OFFLINE';
    this.units[unit].injectFault({ fault: BigipFault.RESET, pathPrefix: '/' });
  }

  /** The group's sync status as every unit shows it. */
  public get syncStatus(): 'In Sync' | 'Changes Pending' {
    // A committed change shows at once, not at the next scan.
    this.scan();
    return this.inTransit.some((n) => n > 0) || this.unsynced.some((u) => u) ? 'Changes Pending' : 'In Sync';
  }

  /** Configuration syncs delivered so far (each change to each peer counts once). */
  public get syncCount(): number {
    return this.syncs;
  }

  /**
   * `run cm config-sync to-group <dg>` on unit `from`: its whole configuration replaces the
   * others' (a full load), at once.
   */
  public configSync(from: number): void {
    this.scan();
    const config = this.devices[from].running;
    for (let i = 0; i < this.devices.length; i++) {
      if (i === from) continue;
      this.devices[i].setRunning(copyConfig(config), false);
      this.seen[i] = copyConfig(config);
      if (this.saveOnAutoSync) this.devices[i].save();
      this.syncs++;
    }
    this.unsynced.fill(false);
  }

  private endpoints(unit: number): ClusterEndpoints {
    return {
      answer: (template) => {
        if (template === '/mgmt/tm/cm/failover-status') {
          const status = this.failover[unit];
          const active = this.failover.filter((s) => s === 'ACTIVE').length;
          return statsAnswer(template, {
            color: status === 'ACTIVE' ? 'green' : status === 'STANDBY' ? 'gray' : 'red',
            status,
            summary: `${active}/${this.units.length} active`,
          });
        }
        if (template === '/mgmt/tm/cm/sync-status') {
          const status = this.syncStatus;
          const pending = this.units.map((_, i) => i).filter((i) => this.inTransit[i] > 0 || this.unsynced[i]);
          return statsAnswer(template, {
            // The colours of pending states are not published in the sources read (unsettled).
            color: status === 'In Sync' ? 'green' : 'blue',
            mode: 'high-availability',
            status,
            summary:
              status === 'In Sync'
                ? 'All devices in the device group are in sync'
                : `There is a possible change conflict between ${pending.map((i) => `unit-${i}`).join(', ')} and the device group`,
          });
        }
        return deviceGroupAnswer([
          { name: this.deviceGroup, type: this.type, autoSync: this.autoSync, saveOnAutoSync: this.saveOnAutoSync },
        ]);
      },
    };
  }

  /** Finds each unit's changes since it was last looked at, and sends them on. */
  private scan(): void {
    for (let i = 0; i < this.devices.length; i++) {
      if (this.down[i]) continue;
      const delta = deltaOf(this.seen[i], this.devices[i].running);
      if (!delta) continue;
      this.seen[i] = copyConfig(this.devices[i].running);
      if (!this.autoSync) {
        this.unsynced[i] = true;
        continue;
      }
      this.inTransit[i]++;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.inTransit[i]--;
        for (let j = 0; j < this.devices.length; j++) if (j !== i && !this.down[j] && !this.down[i]) this.deliver(j, delta);
      }, this.syncDelayMs);
      this.timers.add(timer);
    }
  }

  /** Applies another unit's changes to unit `to`, without telling its REST workers. */
  private deliver(to: number, delta: Delta): void {
    const device = this.devices[to];
    // Its own changes not yet noticed are noticed first, so that they still go out.
    this.scan();
    const next = applyDelta(copyConfig(device.running), delta);
    device.setRunning(next, false);
    this.seen[to] = applyDelta(copyConfig(this.seen[to]), delta);
    if (this.saveOnAutoSync) device.save();
    this.syncs++;
  }
}

function deltaOf(before: DeviceConfig, now: DeviceConfig): Delta | undefined {
  let changed = false;
  const partitions = new Map<string, unknown>();
  for (const k of new Set([...before.partitions.keys(), ...now.partitions.keys()]))
    if (before.partitions.get(k) !== now.partitions.get(k)) partitions.set(k, now.partitions.get(k));
  const discovered = new Map<string, readonly string[] | undefined>();
  for (const k of new Set([...before.discovered.keys(), ...now.discovered.keys()]))
    if (before.discovered.get(k) !== now.discovered.get(k)) discovered.set(k, now.discovered.get(k));
  const routeDomains = new Map<string, { enforcedPolicy?: string; stagedPolicy?: string }>();
  for (const [k, v] of now.routeDomains) {
    const b = before.routeDomains.get(k);
    if (b?.enforcedPolicy !== v.enforcedPolicy || b?.stagedPolicy !== v.stagedPolicy) routeDomains.set(k, { ...v });
  }
  changed = partitions.size > 0 || discovered.size > 0 || routeDomains.size > 0;
  const globalChanged =
    before.global.enforcedPolicy !== now.global.enforcedPolicy || before.global.stagedPolicy !== now.global.stagedPolicy;
  const fqdnChanged = before.fqdnResolver !== now.fqdnResolver;
  const declChanged = before.as3Declaration !== now.as3Declaration;
  if (!changed && !globalChanged && !fqdnChanged && !declChanged) return undefined;
  return {
    partitions,
    discovered,
    routeDomains,
    ...(globalChanged ? { global: { ...now.global } } : {}),
    ...(fqdnChanged ? { fqdnResolver: { value: now.fqdnResolver } } : {}),
    ...(declChanged ? { as3Declaration: { value: now.as3Declaration } } : {}),
  };
}

function applyDelta(config: DeviceConfig, delta: Delta): DeviceConfig {
  type Partitions = DeviceConfig['partitions'];
  for (const [k, v] of delta.partitions) {
    if (v === undefined) config.partitions.delete(k);
    else config.partitions.set(k, v as Partitions extends Map<string, infer P> ? P : never);
  }
  for (const [k, v] of delta.discovered) {
    if (v === undefined) config.discovered.delete(k);
    else config.discovered.set(k, v);
  }
  for (const [k, v] of delta.routeDomains) config.routeDomains.set(k, { ...v });
  if (delta.global) {
    config.global.enforcedPolicy = delta.global.enforcedPolicy;
    config.global.stagedPolicy = delta.global.stagedPolicy;
  }
  if (delta.fqdnResolver) config.fqdnResolver = delta.fqdnResolver.value;
  if (delta.as3Declaration) config.as3Declaration = delta.as3Declaration.value as DeviceConfig['as3Declaration'];
  return config;
}
