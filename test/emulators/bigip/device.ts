/**
 * The device model behind the protocols: what mcpd holds (the configuration AS3 applied to each
 * partition, the addresses of event-driven lists, firewall context attachments, route domains by
 * name and by id), the saved configuration a reboot or `load sys config` returns to, and the
 * checks mcpd makes when a partition changes (route domains, objects in use, references,
 * virtual addresses, FQDN lists).
 */
import { EMPTY_LIST_PLACEHOLDER } from '../../../lib/clients/bigip/client';
import { Json, canonicalJson, isApplication, isObject } from './json';
import { storedIRuleText } from './irule';
import { EventList, PartitionIndex, indexPartition } from './partition-index';
import { trafficMatchingProblem } from './redirect';

/** Firewall policy attachment of a context (`undefined` = none). */
export interface BigipPolicyAttachment {
  readonly enforcedPolicy?: string;
  readonly stagedPolicy?: string;
}

/** Objects every BIG-IP has: the local-database log destination and its publisher (AFM logging defaults). */
const BUILTIN_OBJECTS = ['/Common/local-db', '/Common/local-db-publisher'];

interface Partition {
  /** The configuration AS3 applied, in declaration shape (never mutated; replaced whole). */
  readonly tenant: Json;
  readonly canonical: string;
  readonly index: PartitionIndex;
}

export interface ContextState {
  enforcedPolicy?: string;
  stagedPolicy?: string;
}

/** What mcpd holds: the running configuration, and the saved one a reboot returns to. */
export interface DeviceConfig {
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

/** The route domains, DNS resolvers and other objects that exist on the device outside AS3. */
export interface DeviceInventory {
  readonly routeDomains: readonly string[];
  readonly routeDomainIds: Readonly<Record<string, number>>;
  readonly dnsResolvers: readonly string[];
  readonly existingObjects: readonly string[];
}

/** Normalises a tmsh object name: relative names live in `/Common`. */
export function tmshPath(name: string): string {
  return name.startsWith('/') ? name : `/Common/${name}`;
}

export class Device {
  /** Route domains: path → id, and id → path. */
  public readonly routeDomainIds = new Map<string, number>();
  public readonly routeDomainPaths = new Map<number, string>();
  public readonly dnsResolvers: Set<string>;
  public readonly existingObjects: Set<string>;
  public running: DeviceConfig;
  /** Event-driven lists of the running configuration, by task id. */
  public eventLists = new Map<string, EventList>();
  private saved: DeviceConfig;
  private readonly runningListeners: Array<(lists: ReadonlyMap<string, EventList>) => void> = [];

  constructor(inventory: DeviceInventory) {
    this.defineRouteDomains(inventory.routeDomains, inventory.routeDomainIds);
    this.dnsResolvers = new Set(inventory.dnsResolvers.map(tmshPath));
    this.existingObjects = new Set([...BUILTIN_OBJECTS, ...inventory.existingObjects.map(tmshPath)]);
    this.running = {
      partitions: new Map(),
      discovered: new Map(),
      global: {},
      fqdnResolver: undefined,
      routeDomains: new Map([...this.routeDomainIds.keys()].map((rd) => [rd, {}])),
      as3Declaration: undefined,
    };
    this.saved = copyConfig(this.running);
  }

  private defineRouteDomains(paths: readonly string[], ids: Readonly<Record<string, number>>): void {
    for (const [p, id] of Object.entries(ids)) {
      if (!paths.map(tmshPath).includes(tmshPath(p)))
        throw new Error(`BigipEmulator: routeDomainIds names ${p}, which is not in routeDomains`);
      if (!Number.isInteger(id) || id < 0 || id > 65534)
        throw new Error(`BigipEmulator: the id of route domain ${p} must be a whole number from 0 to 65534 (got ${id})`);
    }
    for (const p of paths) {
      const rdPath = tmshPath(p);
      const given = Object.entries(ids).find(([k]) => tmshPath(k) === rdPath)?.[1];
      const name = rdPath.slice(rdPath.lastIndexOf('/') + 1);
      const id = given ?? (/^\d{1,5}$/.test(name) ? Number(name) : undefined);
      if (id === undefined)
        throw new Error(`BigipEmulator: route domain ${rdPath} is not named after an id; give its id in routeDomainIds`);
      if (this.routeDomainIds.has(rdPath)) throw new Error(`BigipEmulator: route domain ${rdPath} is listed twice`);
      if (this.routeDomainPaths.has(id))
        throw new Error(`BigipEmulator: route domains ${this.routeDomainPaths.get(id)} and ${rdPath} both have id ${id}`);
      this.routeDomainIds.set(rdPath, id);
      this.routeDomainPaths.set(id, rdPath);
    }
  }

  /** Calls `listener` with the event-driven lists whenever the running configuration is replaced. */
  public onRunningReplaced(listener: (lists: ReadonlyMap<string, EventList>) => void): void {
    this.runningListeners.push(listener);
  }

  /** `save sys config`: the running configuration becomes the saved one. */
  public save(): void {
    this.saved = copyConfig(this.running);
  }

  /** A reboot or `load sys config`: the saved configuration becomes the running one. */
  public restoreSaved(): void {
    this.setRunning(copyConfig(this.saved));
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

  /** The text of a deployed iRule as mcpd holds it (after AS3's rewriting, see irule.ts). */
  public iRuleText(iRulePath: string): string {
    const rule = this.findObject(iRulePath);
    if (rule?.cls !== 'iRule') throw new Error(`BigipEmulator: no iRule ${iRulePath} is deployed`);
    return storedIRuleText(rule.item);
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
    const text = storedIRuleText(rule.item);
    const m = /BWC::policy\s+attach\s+(\S+)/.exec(text);
    if (!m) throw new Error(`BigipEmulator: iRule ${iRulePath} has no "BWC::policy attach <name>"`);
    const name = m[1];
    const notFound = new Error(
      `TCL error: ${iRulePath} <FLOW_INIT> - BWC policy "${name}" not found (the policy name is given without a path)`,
    );
    if (name.includes('/')) throw notFound;
    const folder = iRulePath.slice(0, iRulePath.lastIndexOf('/'));
    const partition = `/${iRulePath.split('/')[1]}`;
    for (const f of new Set([folder, partition, '/Common'])) {
      if (this.findObject(`${f}/${name}`)?.cls === 'Bandwidth_Control_Policy') return `${f}/${name}`;
    }
    throw notFound;
  }

  /** Whether a `bigip` pointer names something on the device (see `missingBigipComponent` in as3.ts). */
  public bigipComponentExists(pointer: string): boolean {
    return (
      this.routeDomainIds.has(pointer) ||
      this.dnsResolvers.has(pointer) ||
      this.existingObjects.has(pointer) ||
      this.findObject(pointer) !== undefined
    );
  }

  // ---------------------------------------------------------------- partition transactions

  /**
   * Applies one partition's desired configuration to `work` as one transaction. With
   * `createOnly` (Common's first pass) only objects that do not exist yet are created.
   */
  public applyPartition(
    work: DeviceConfig,
    name: string,
    desired: Json | undefined,
    createOnly: boolean,
  ): { code: number; message: string; response?: string } {
    const current = work.partitions.get(name);
    const target = createOnly ? (desired === undefined ? current?.tenant : withNewObjectsOnly(current?.tenant, desired)) : desired;
    const canonical = target === undefined ? undefined : canonicalJson(target);
    if (canonical === current?.canonical) return { code: 200, message: 'no change' };
    const next: Partition | undefined =
      target === undefined ? undefined : { tenant: target, canonical: canonical as string, index: indexPartition(name, target) };
    const problem =
      this.partitionProblem(work, name, current?.index, next?.index) ?? (target === undefined ? undefined : trafficMatchingProblem(target));
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
  private partitionProblem(
    work: DeviceConfig,
    name: string,
    before: PartitionIndex | undefined,
    after: PartitionIndex | undefined,
  ): string | undefined {
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
            if (gone.has(to))
              return inUse(to, before.objects.get(to) as string, `${objectNoun(partition.index.objects.get(from))} (${from})`);
          }
        }
        for (const p of gone) {
          const cls = before.objects.get(p) as string;
          if (work.global.enforcedPolicy === p) return inUse(p, cls, 'the global firewall context (enforced-policy)');
          if (work.global.stagedPolicy === p) return inUse(p, cls, 'the global firewall context (staged-policy)');
          for (const [rd, state] of work.routeDomains) {
            if (state.stagedPolicy === p) return inUse(p, cls, `route domain ${rd} (fw-staged-policy)`);
            // AS3 releases what its own routeDomainEnforcement attached; anything else holds on.
            if (state.enforcedPolicy === p && before.routeDomainEnforcement.get(rd) !== p)
              return inUse(p, cls, `route domain ${rd} (fw-enforced-policy)`);
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
        if (!work.partitions.get(owner)?.index.objects.has(to))
          return `01020036:3: The requested ${pointerNoun(property)} (${to}) was not found.`;
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
        const problem =
          clash(key, shown, true) ??
          (after.sharedVirtualAddresses.has(key)
            ? `0107176c:3: Invalid Virtual Address, the IP address ${shown} already exists.`
            : undefined);
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

  /** Makes `config` the running configuration; the service discovery brings its tasks in line. */
  public setRunning(config: DeviceConfig, notify = true): void {
    this.running = config;
    const lists = new Map<string, EventList>();
    for (const partition of config.partitions.values()) for (const [taskId, list] of partition.index.eventLists) lists.set(taskId, list);
    this.eventLists = lists;
    // A config sync from a peer replaces mcpd objects only: this unit's REST workers (its
    // service-discovery tasks) do not hear of it (ha.ts).
    if (!notify) return;
    for (const listener of this.runningListeners) listener(lists);
  }

  /** A deployed object by path, with its AS3 class and declaration. */
  public findObject(objectPath: string): { cls: string; item: Json } | undefined {
    const [, tenant, app, item] = objectPath.split('/');
    const partition = this.running.partitions.get(tenant);
    const cls = partition?.index.objects.get(objectPath);
    if (!partition || cls === undefined) return undefined;
    return { cls, item: (partition.tenant[app] as Json)[item] as Json };
  }
}

/** A copy that shares the immutable parts (partition configurations, address arrays). */
export function copyConfig(c: DeviceConfig): DeviceConfig {
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
export function listAddresses(list: EventList, discovered: readonly string[] | undefined): string[] {
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
