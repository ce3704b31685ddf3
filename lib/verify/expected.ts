/**
 * What a BIG-IP should hold after a deploy of one AfmDevice, from its synth output: the tenant
 * and the `/Common/Shared` objects as AS3 should store them, the firewall-context attachments
 * and FQDN resolver, the event-driven lists the controller fills and the route domains the
 * declarations name.
 */
import type { HaExpectation } from './ha';
import { DeviceState, expectedDeviceState, ownDeviceState } from '../afm/device-state';
import type { DeviceOutput } from '../analysis/synth-output';
import { CompiledPolicy, compilePolicy } from '../policy/compile';
import type { PolicyModel } from '../policy/model';
import type { SyncPlan } from '../policy/plan';

type Json = Record<string, unknown>;

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isTenant = (v: unknown): v is Json => isObj(v) && v.class === 'Tenant';

/** The ADC declaration of an AS3 request (`class: AS3`) or of a bare ADC. */
export function adcOf(request: unknown): Json {
  const adc = isObj(request) && request.class === 'AS3' ? request.declaration : request;
  return isObj(adc) ? adc : {};
}

/**
 * Whether `save sys config` follows the last tmsh change of the synthesized commands: tmsh
 * changes are lost on the next reboot or config load unless saved (AS3 saves its own).
 */
export function savedAfterChanges(commands: readonly string[]): boolean {
  let unsaved = false;
  for (const command of commands) {
    const w = command.trim().split(/\s+/);
    if (w[0] === 'save' && w[1] === 'sys' && w[2] === 'config') unsaved = false;
    else if (w[0] === 'modify' || w[0] === 'create' || w[0] === 'delete') unsaved = true;
  }
  return !unsaved;
}

/**
 * Each device of a synth output compiled once: every device attached to a SharedBigip needs
 * all of them, which would otherwise compile n devices n times.
 */
const compiled = new WeakMap<DeviceOutput, CompiledPolicy>();
function compiledOf(device: DeviceOutput): CompiledPolicy {
  let c = compiled.get(device);
  if (!c) {
    c = compilePolicy(device.artifact.model, { now: new Date(0) });
    compiled.set(device, c);
  }
  return c;
}

/**
 * The context state of a device: the one its owner sets ({@link expectedDeviceState}, the
 * source the constructs render their tmsh commands from), with the owner's devices of the
 * synth output (itself, or every device attached to the same SharedBigip) and the resolver
 * its model carries (a SharedBigip's on a shared BIG-IP).
 */
export function deviceContextOf(device: DeviceOutput, all: readonly DeviceOutput[]): DeviceState {
  const shared = device.artifact.sharedContext;
  if (!shared) return ownDeviceState(compiledOf(device));
  const attached = all.filter((o) => o.artifact.sharedContext?.stack === shared.stack && o.artifact.sharedContext?.name === shared.name);
  return expectedDeviceState(shared.name, attached.map(compiledOf), device.artifact.model.device.dnsResolver);
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
  /** The pair's device group, sync mode and units, when the device is a BIG-IP pair. */
  readonly ha?: HaExpectation;
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
  /** The context attachments and resolver the owner of the device's contexts sets. */
  readonly context: DeviceState;
  /** Whether the synthesized tmsh commands save their changes ({@link savedAfterChanges}). */
  readonly savedAfterChanges: boolean;
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
      for (const item of Object.values(a))
        if (isObj(item) && item.class === 'Firewall_Address_List' && Array.isArray(item.fqdns) && item.fqdns.length > 0) return true;
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
export function expectedDevice(
  device: DeviceOutput,
  managementUrl: string,
  sharedOwners: readonly string[],
  commandsFile: string,
  context: DeviceState,
): ExpectedDevice {
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
    declarationIds: {
      [device.tenant]: typeof own.id === 'string' ? own.id : undefined,
      Common: typeof owner.id === 'string' ? owner.id : undefined,
    },
    sharedItems: sharedItemsOf(owner),
    sharedPrefixes: [...new Set(sharedOwners)].sort().map((o) => `${o}_`),
    context,
    savedAfterChanges: savedAfterChanges(device.commands),
    usesFqdns: hasFqdns(own) || hasFqdns(owner),
    routeDomainIds: [...ids].sort((a, b) => a - b),
    model: device.artifact.model,
    plan: device.artifact.plan,
    as3: device.as3,
    commands: device.commands,
  };
}
