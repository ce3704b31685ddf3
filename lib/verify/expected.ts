/**
 * What a BIG-IP should hold after a deploy of one AfmDevice, from its synth output: the tenant
 * and the `/Common/Shared` objects as AS3 should store them, the firewall-context attachments
 * and FQDN resolver, the event-driven lists the controller fills and the route domains the
 * declarations name.
 */
import type { DeviceOutput } from '../cli/synth-output';
import type { PolicyModel } from '../policy/model';
import type { SyncPlan } from '../policy/plan';
import type { ContextAttachment } from './reader';

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isTenant = (v: unknown): v is Json => isObj(v) && v.class === 'Tenant';

/** What the firewall contexts should hold (attachments by context, the resolver, saving). */
export interface ExpectedContext {
  /**
   * Global-context policies: a path must be attached; undefined means none of ours may be
   * (a stale attachment keeps a removed policy alive and blocks its deletion).
   */
  readonly global: ContextAttachment;
  /** Route-domain policies by route-domain path (`/Common/0`), with the same meaning. */
  readonly routeDomains: ReadonlyMap<string, ContextAttachment>;
  /** The global FQDN policy's DNS resolver the deploy sets, if any. */
  readonly fqdnResolver?: string;
  /**
   * Whether `save sys config` follows the last tmsh change; AS3 saves after its own
   * declarations (`persist`), tmsh changes are lost on reboot unless saved.
   */
  readonly savedAfterChanges: boolean;
}

/** A tmsh path: relative names live in `/Common`. */
function tmshPath(name: string): string {
  return name.startsWith('/') ? name : `/Common/${name}`;
}

/** The ADC declaration of an AS3 request (`class: AS3`) or of a bare ADC. */
export function adcOf(request: unknown): Json {
  const adc = isObj(request) && request.class === 'AS3' ? request.declaration : request;
  return isObj(adc) ? adc : {};
}

/**
 * The context state a deploy sets, from what the synth output sends: each Firewall_Policy's
 * `routeDomainEnforcement` (AS3 attaches it as the route domain's enforced policy) and the
 * `bigip_command` tmsh commands in order (`modify security firewall global-rules
 * enforced-policy|staged-policy`, `modify net route-domain <rd> fw-enforced-policy|fw-staged-policy`,
 * `modify security firewall global-fqdn-policy dns-resolver`, `save sys config`); the last
 * value set wins and `none` clears it.
 *
 * This is the one place that reads the expected context out of the rendering; when the
 * renderer exports the expected device state of compiled policies, this function becomes a
 * call to it.
 */
export function expectedContext(as3: readonly unknown[], commands: readonly string[]): ExpectedContext {
  const global: { enforcedPolicy?: string; stagedPolicy?: string } = {};
  const routeDomains = new Map<string, { enforcedPolicy?: string; stagedPolicy?: string }>();
  const slot = (rd: string) => {
    const path = tmshPath(rd);
    let s = routeDomains.get(path);
    if (!s) routeDomains.set(path, (s = {}));
    return s;
  };
  for (const request of as3) {
    for (const [tenant, t] of Object.entries(adcOf(request))) {
      if (!isTenant(t)) continue;
      for (const [app, a] of Object.entries(t)) {
        if (!isObj(a) || a.class !== 'Application') continue;
        for (const [name, item] of Object.entries(a)) {
          if (!isObj(item) || item.class !== 'Firewall_Policy' || !Array.isArray(item.routeDomainEnforcement)) continue;
          for (const rd of item.routeDomainEnforcement) if (isObj(rd) && typeof rd.bigip === 'string') slot(rd.bigip).enforcedPolicy = `/${tenant}/${app}/${name}`;
        }
      }
    }
  }
  let fqdnResolver: string | undefined;
  let unsavedChange = false;
  const set = (target: { enforcedPolicy?: string; stagedPolicy?: string }, key: 'enforcedPolicy' | 'stagedPolicy', value: string) => {
    if (value === 'none') delete target[key];
    else target[key] = tmshPath(value);
  };
  for (const command of commands) {
    const w = command.trim().split(/\s+/);
    const pairs = (from: number) => {
      const out: [string, string][] = [];
      for (let i = from; i + 1 < w.length; i += 2) out.push([w[i], w[i + 1]]);
      return out;
    };
    if (w[0] === 'save' && w[1] === 'sys' && w[2] === 'config') {
      unsavedChange = false;
      continue;
    }
    if (w[0] !== 'modify') continue;
    unsavedChange = true;
    if (w[1] === 'security' && w[2] === 'firewall' && w[3] === 'global-rules') {
      for (const [k, v] of pairs(4)) if (k === 'enforced-policy' || k === 'staged-policy') set(global, k === 'enforced-policy' ? 'enforcedPolicy' : 'stagedPolicy', v);
    } else if (w[1] === 'net' && w[2] === 'route-domain' && w[3] !== undefined) {
      const s = slot(w[3]);
      for (const [k, v] of pairs(4)) if (k === 'fw-enforced-policy' || k === 'fw-staged-policy') set(s, k === 'fw-enforced-policy' ? 'enforcedPolicy' : 'stagedPolicy', v);
    } else if (w[1] === 'security' && w[2] === 'firewall' && w[3] === 'global-fqdn-policy') {
      for (const [k, v] of pairs(4)) if (k === 'dns-resolver') fqdnResolver = v === 'none' ? undefined : tmshPath(v);
    }
  }
  return { global, routeDomains, ...(fqdnResolver ? { fqdnResolver } : {}), savedAfterChanges: !unsavedChange };
}

/** One AfmDevice's expected state on its BIG-IP. */
export interface ExpectedDevice {
  /** `<stack>/<tenant>`, as the other tools name devices. */
  readonly label: string;
  readonly devicePath: string;
  readonly stack: string;
  readonly tenant: string;
  /** `https://<address>[:<port>]` of the management interface, from the provider configuration. */
  readonly managementUrl: string;
  /** The `cdk.tf.json` holding the context commands (the SharedBigip's on a shared BIG-IP). */
  readonly commandsFile: string;
  /** The device's tenant as it posts it (and AS3 stores it). */
  readonly tenantDeclaration: Json;
  /**
   * `id` of the declaration that deploys each tenant of the device: its own (the tenant, and
   * Common when it owns its BIG-IP) and, on a shared BIG-IP, the SharedBigip's (Common).
   */
  readonly declarationIds: Readonly<Record<string, string | undefined>>;
  /** `/Common/Shared` items of the declaration that owns them, by item name. */
  readonly sharedItems: Readonly<Record<string, Json>>;
  /**
   * Prefixes (`<owner>_`) of the `/Common/Shared` item names this deploy owns: the device's
   * tenant and the owner of the context policies (on a shared BIG-IP: the SharedBigip and
   * every attached device of the synth output).
   */
  readonly sharedPrefixes: readonly string[];
  readonly context: ExpectedContext;
  /** Whether any address list of the declarations names an FQDN (then a resolver must be set). */
  readonly usesFqdns: boolean;
  /** Route-domain ids the declarations name (`defaultRouteDomain`, `address%id`). */
  readonly routeDomainIds: readonly number[];
  readonly model: PolicyModel;
  readonly plan: SyncPlan;
  /** The AS3 requests and tmsh commands the deploy sends, for evaluating the intent. */
  readonly as3: readonly unknown[];
  readonly commands: readonly string[];
}

const ROUTE_DOMAIN_SUFFIX = /(?:^|-)[0-9A-Fa-f:.]+%(\d{1,5})(?=$|\/|-)/g;

function collectIds(value: unknown, into: Set<number>): void {
  if (typeof value === 'string') {
    for (const m of value.matchAll(ROUTE_DOMAIN_SUFFIX)) into.add(Number(m[1]));
  } else if (Array.isArray(value)) {
    for (const v of value) collectIds(v, into);
  } else if (isObj(value)) {
    for (const [k, v] of Object.entries(value)) if (k !== 'remark' && k !== 'label') collectIds(v, into);
  }
}

function hasFqdns(adc: Json): boolean {
  for (const t of Object.values(adc)) {
    if (!isTenant(t)) continue;
    for (const a of Object.values(t)) {
      if (!isObj(a) || a.class !== 'Application') continue;
      for (const item of Object.values(a)) if (isObj(item) && item.class === 'Firewall_Address_List' && Array.isArray(item.fqdns) && item.fqdns.length > 0) return true;
    }
  }
  return false;
}

function sharedItemsOf(adc: Json): Record<string, Json> {
  const common = adc.Common;
  const shared = isTenant(common) && isObj(common.Shared) ? common.Shared : {};
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(shared)) if (isObj(v) && typeof v.class === 'string') out[k] = v;
  return out;
}

/**
 * The expected state of one device of a synth output. `managementUrl` comes from its provider
 * configuration; `sharedOwners` are the owners of `/Common/Shared` item names on its BIG-IP
 * (the device's tenant, or on a shared BIG-IP the SharedBigip's name and every attached tenant).
 */
export function expectedDevice(device: DeviceOutput, managementUrl: string, sharedOwners: readonly string[], commandsFile: string): ExpectedDevice {
  const own = adcOf(device.as3[0]);
  const owner = device.as3.length > 1 ? adcOf(device.as3[1]) : own;
  const tenantDeclaration = own[device.tenant];
  if (!isTenant(tenantDeclaration)) throw new Error(`the declaration of ${device.artifact.devicePath} has no tenant ${device.tenant}`);
  const ids = new Set<number>();
  for (const adc of [own, owner]) {
    for (const t of Object.values(adc)) {
      if (!isTenant(t)) continue;
      if (typeof t.defaultRouteDomain === 'number') ids.add(t.defaultRouteDomain);
      collectIds(t, ids);
    }
  }
  return {
    label: `${device.stack}/${device.tenant}`,
    devicePath: device.artifact.devicePath,
    stack: device.stack,
    tenant: device.tenant,
    managementUrl,
    commandsFile,
    tenantDeclaration,
    declarationIds: { [device.tenant]: typeof own.id === 'string' ? own.id : undefined, Common: typeof owner.id === 'string' ? owner.id : undefined },
    sharedItems: sharedItemsOf(owner),
    sharedPrefixes: [...new Set(sharedOwners)].sort().map((o) => `${o}_`),
    context: expectedContext(device.as3, device.commands),
    usesFqdns: hasFqdns(own) || hasFqdns(owner),
    routeDomainIds: [...ids].sort((a, b) => a - b),
    model: device.artifact.model,
    plan: device.artifact.plan,
    as3: device.as3,
    commands: device.commands,
  };
}
