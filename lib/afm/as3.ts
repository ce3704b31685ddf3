/**
 * Compiled policy → one AS3 declaration per AfmDevice.
 *
 * Layout (see README "Design"):
 * - `/Common/Shared` (prefixed `<tenant>_`): every address, port and rule list, the global
 *   policy (enforced at the global context by `bigip_command`, since AS3 cannot) and the
 *   route-domain policy (`routeDomainEnforcement`, which AS3 requires to live there).
 * - `/<tenant>/<app>`: the service rules, the virtual-server policy and the egress virtual
 *   server with its gateway pool and SNAT.
 *
 * The virtual-server policy is: service rules, then the ALLOW rules of the two upper levels
 * (carried over), then the device default. With AFM's context semantics this is exactly the
 * three-level policy of the README; the differential tests prove it.
 */
import type { AfmRuleEntry, CompiledPolicy, CompiledRule } from '../policy/compile';
import { withRouteDomain } from '../policy/ip';
import type { AddressModel, DefaultActionName, DeviceModel } from '../policy/model';
import { COMMON, SHARED, objectPath, sharedItemName } from './names';

export const AS3_SCHEMA_VERSION = '3.50.0';

/** Names of the fixed objects of a declaration. */
export const OBJECT = {
  clusterRules: 'cluster_rules',
  namespaceRules: 'namespace_rules',
  carriedAllow: 'carried_allow',
  globalPolicy: 'global_policy',
  routeDomainPolicy: 'rd_policy',
  serviceRules: 'service_rules',
  virtualPolicy: 'vs_policy',
  gatewayPool: 'gateway_pool',
  virtualServer: 'egress_vs',
  snatPool: 'snat_pool',
  defaultRule: 'default',
} as const;

export type As3Object = Record<string, unknown>;

export interface As3Paths {
  readonly globalPolicy: string;
  readonly routeDomainPolicy: string;
  readonly virtualPolicy: string;
  readonly virtualServer: string;
}

export function as3Paths(device: DeviceModel): As3Paths {
  const p = (placement: 'shared' | 'tenant', name: string) => objectPath(device.tenant, device.application, placement, name);
  return {
    globalPolicy: p('shared', OBJECT.globalPolicy),
    routeDomainPolicy: p('shared', OBJECT.routeDomainPolicy),
    virtualPolicy: p('tenant', OBJECT.virtualPolicy),
    virtualServer: p('tenant', OBJECT.virtualServer),
  };
}

const DEFAULT_AFM_ACTION: Readonly<Record<DefaultActionName, string>> = { DENY: 'drop', REJECT: 'reject', ALLOW: 'accept' };

export function afmDefaultAction(device: DeviceModel): string {
  return DEFAULT_AFM_ACTION[device.defaultAction];
}

function address(device: DeviceModel, a: AddressModel): string {
  return withRouteDomain(a.text, device.routeDomain);
}

function afmRule(rule: CompiledRule, entry: AfmRuleEntry): As3Object {
  const m = rule.model;
  const destination: As3Object = { addressLists: rule.destinationLists.map((use) => ({ use })) };
  if (entry.portList) destination.portLists = [{ use: entry.portList }];
  const out: As3Object = {
    name: entry.name,
    action: rule.afmAction,
    protocol: entry.protocol,
    source: { addressLists: [{ use: rule.sourceList }] },
    destination,
  };
  if (m.logging) out.loggingEnabled = true;
  if (m.description) out.remark = m.description;
  return out;
}

function ruleList(rules: readonly CompiledRule[], remark: string): As3Object {
  return { class: 'Firewall_Rule_List', remark, rules: rules.flatMap((r) => r.entries.map((e) => afmRule(r, e))) };
}

function sharedApplication(compiled: CompiledPolicy): As3Object {
  const { device } = compiled.model;
  const app: As3Object = { class: 'Application', template: 'shared' };
  const put = (name: string, obj: As3Object) => {
    app[sharedItemName(device.tenant, name)] = obj;
  };
  const use = (name: string) => ({ use: objectPath(device.tenant, device.application, 'shared', name) });

  for (const list of compiled.sourceLists) {
    const what =
      list.source.level === 'cluster'
        ? `pods of cluster ${device.cluster}`
        : list.source.level === 'namespace'
          ? `pods of namespace ${list.source.namespace}`
          : `pods of service ${list.source.namespace}/${list.source.service}`;
    app[sharedItemName(device.tenant, list.name)] = {
      class: 'Firewall_Address_List',
      remark: clip(`${what}${list.schedule || list.expiresAt ? ' (windowed)' : ''}`),
      addresses: [{ addressDiscovery: 'event' }],
    };
  }
  for (const list of compiled.destinationLists) {
    const obj: As3Object = { class: 'Firewall_Address_List', remark: clip(list.remark) };
    if (list.addresses.length) obj.addresses = list.addresses.map((a) => address(device, a));
    if (list.fqdns.length) obj.fqdns = list.fqdns.map((f) => f.text);
    app[sharedItemName(device.tenant, list.name)] = obj;
  }
  for (const list of compiled.portLists) {
    app[sharedItemName(device.tenant, list.name)] = { class: 'Firewall_Port_List', ports: [...list.ports] };
  }

  const { cluster, namespace } = compiled.levels;
  if (cluster.length) put(OBJECT.clusterRules, ruleList(cluster, `cluster rules of ${device.cluster}`));
  if (namespace.length) put(OBJECT.namespaceRules, ruleList(namespace, `namespace rules of ${device.cluster}`));
  const carried = [...cluster, ...namespace].filter((r) => r.model.action === 'ALLOW');
  if (carried.length) put(OBJECT.carriedAllow, ruleList(carried, 'ALLOW rules carried to the virtual server'));

  put(OBJECT.globalPolicy, {
    class: 'Firewall_Policy',
    remark: clip(`global context, cluster ${device.cluster}`),
    rules: cluster.length ? [use(OBJECT.clusterRules)] : [],
  });
  put(OBJECT.routeDomainPolicy, {
    class: 'Firewall_Policy',
    remark: clip(`route domain ${device.routeDomain}, cluster ${device.cluster}`),
    rules: namespace.length ? [use(OBJECT.namespaceRules)] : [],
    routeDomainEnforcement: [{ bigip: `/${COMMON}/${device.routeDomain}` }],
  });
  return app;
}

function virtualAddresses(device: DeviceModel): unknown[] {
  const wildcard = (family: 4 | 6) => withRouteDomain(family === 4 ? '0.0.0.0/0' : '::/0', device.routeDomain);
  if (device.podCidrs.length === 0) return [wildcard(4), wildcard(6)];
  return device.podCidrs.map((c) => [wildcard(c.family), address(device, c)]);
}

function tenantApplication(compiled: CompiledPolicy): As3Object {
  const { device } = compiled.model;
  const app: As3Object = { class: 'Application', template: 'generic' };
  const service = compiled.levels.service;
  const hasCarried = [...compiled.levels.cluster, ...compiled.levels.namespace].some((r) => r.model.action === 'ALLOW');

  if (service.length) app[OBJECT.serviceRules] = ruleList(service, `service rules of ${device.cluster}`);
  const vsRules: As3Object[] = [];
  if (service.length) vsRules.push({ use: OBJECT.serviceRules });
  if (hasCarried) vsRules.push({ use: objectPath(device.tenant, device.application, 'shared', OBJECT.carriedAllow) });
  vsRules.push({ name: OBJECT.defaultRule, action: afmDefaultAction(device), protocol: 'any', loggingEnabled: true });
  app[OBJECT.virtualPolicy] = { class: 'Firewall_Policy', remark: 'virtual-server context', rules: vsRules };

  const vs: As3Object = {
    class: 'Service_L4',
    remark: clip(`egress of cluster ${device.cluster}`),
    virtualAddresses: virtualAddresses(device),
    virtualPort: 0,
    layer4: 'any',
    translateServerAddress: false,
    translateServerPort: false,
    policyFirewallEnforced: { use: OBJECT.virtualPolicy },
  };
  if (device.gateways.length) {
    app[OBJECT.gatewayPool] = {
      class: 'Pool',
      remark: 'next-hop gateways',
      members: [{ servicePort: 0, serverAddresses: device.gateways.map((g) => address(device, g)) }],
    };
    vs.pool = OBJECT.gatewayPool;
  }
  if (device.snat === 'NONE') vs.snat = 'none';
  else if (device.snat === 'AUTOMAP') vs.snat = 'auto';
  else {
    app[OBJECT.snatPool] = { class: 'SNAT_Pool', snatAddresses: device.snatAddresses.map((a) => address(device, a)) };
    vs.snat = { use: OBJECT.snatPool };
  }
  if (device.vlans.length) vs.allowVlans = device.vlans.map((bigip) => ({ bigip }));
  app[OBJECT.virtualServer] = vs;
  return app;
}

function clip(text: string): string {
  return text.length <= 64 ? text : `${text.slice(0, 61)}...`;
}

/** The AS3 request (`class: AS3`) that `bigip_as3` posts for one device. */
export function renderAs3(compiled: CompiledPolicy): As3Object {
  const { device } = compiled.model;
  return {
    class: 'AS3',
    action: 'deploy',
    persist: true,
    declaration: {
      class: 'ADC',
      schemaVersion: AS3_SCHEMA_VERSION,
      id: `cdktf-ces-${device.tenant}`,
      remark: clip(`egress policy of cluster ${device.cluster}`),
      [COMMON]: { class: 'Tenant', [SHARED]: sharedApplication(compiled) },
      [device.tenant]: {
        class: 'Tenant',
        defaultRouteDomain: device.routeDomain,
        [device.application]: tenantApplication(compiled),
      },
    },
  };
}
