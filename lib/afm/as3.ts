/**
 * Compiled policy → one AS3 declaration per AfmDevice.
 *
 * Layout (see README "Design"):
 * - `/Common/Shared` (prefixed `<tenant>_`): every address and port list, the cluster and
 *   namespace rule lists, the global policy (attached to the global context by
 *   `bigip_command`, since AS3 cannot) and the route-domain policy (`routeDomainEnforcement`,
 *   which AS3 requires to live there).
 * - `/<tenant>/<app>`: the service rules, the virtual-server policy, the egress virtual
 *   server with its gateway pool, SNAT, log profile and security services.
 *
 * The virtual-server policy is: service rules, then the ALLOW rules of the two upper levels
 * (carried over), then the device default. With AFM's context semantics this is exactly the
 * three-level policy of the README; the differential tests prove it.
 *
 * Audit rules go only into the staged policies. Each context gets a staged policy when any
 * rule is in audit: the full would-be policy of that context (enforced and audit rules in
 * order), so AFM reports what the policy would do if the audit rules were enforced.
 */
import type { AfmRuleEntry, CompiledPolicy, CompiledRule } from '../policy/compile';
import { withRouteDomain } from '../policy/ip';
import { ruleRemark } from '../policy/schema';
import type { AddressModel, DefaultActionName, DeviceModel } from '../policy/model';
import { COMMON, Placement, SHARED, objectPath, sharedItemName } from './names';

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
  /** Suffix of the staged counterpart of a rule list or policy. */
  staged: '_staged',
  gatewayPool: 'gateway_pool',
  virtualServer: 'egress_vs',
  snatPool: 'snat_pool',
  defaultRule: 'default',
  logPool: 'log_pool',
  logHsl: 'log_hsl',
  logSyslog: 'log_syslog',
  logPublisher: 'log_publisher',
  logProfile: 'log_profile',
} as const;

export type As3Object = Record<string, unknown>;

export interface As3Paths {
  readonly globalPolicy: string;
  readonly routeDomainPolicy: string;
  readonly virtualPolicy: string;
  readonly virtualServer: string;
  /** Staged counterparts, present when some rule is in audit mode. */
  readonly globalStagedPolicy?: string;
  readonly routeDomainStagedPolicy?: string;
  readonly virtualStagedPolicy?: string;
  /** The BIG-IP route domain object the device's traffic is in. */
  readonly routeDomain: string;
}

/** Whether the device needs staged policies (some rule, or the whole device, is in audit). */
export function hasStaged(compiled: CompiledPolicy): boolean {
  return compiled.model.device.audit || compiled.model.rules.some((r) => r.audit);
}

export function as3Paths(compiled: CompiledPolicy): As3Paths {
  const { device } = compiled.model;
  const p = (placement: Placement, name: string) => objectPath(device.tenant, device.application, placement, name);
  const staged = hasStaged(compiled);
  return {
    globalPolicy: p('shared', OBJECT.globalPolicy),
    routeDomainPolicy: p('shared', OBJECT.routeDomainPolicy),
    virtualPolicy: p('tenant', OBJECT.virtualPolicy),
    virtualServer: p('tenant', OBJECT.virtualServer),
    globalStagedPolicy: staged ? p('shared', OBJECT.globalPolicy + OBJECT.staged) : undefined,
    routeDomainStagedPolicy: staged ? p('shared', OBJECT.routeDomainPolicy + OBJECT.staged) : undefined,
    virtualStagedPolicy: staged ? p('tenant', OBJECT.virtualPolicy + OBJECT.staged) : undefined,
    routeDomain: `/${COMMON}/${device.routeDomain}`,
  };
}

const DEFAULT_AFM_ACTION: Readonly<Record<DefaultActionName, string>> = { DENY: 'drop', REJECT: 'reject', ALLOW: 'accept' };

/** AFM action of the virtual server's final rule: in device audit mode nothing is enforced. */
export function afmDefaultAction(device: DeviceModel, staged: boolean): string {
  return device.audit && !staged ? 'accept' : DEFAULT_AFM_ACTION[device.defaultAction];
}

function address(device: DeviceModel, a: AddressModel): string {
  return withRouteDomain(a.text, device.routeDomain);
}

/**
 * An AS3 pointer to `path` from an object in `from`: the bare item name inside the same
 * application (AS3 resolves it to `/@/@/name`), the absolute path otherwise. Bare names keep
 * declarations of thousands of rules a third smaller.
 */
function pointer(path: string, from: Placement): { use: string } {
  const shared = path.startsWith(`/${COMMON}/${SHARED}/`);
  return { use: shared === (from === 'shared') ? path.slice(path.lastIndexOf('/') + 1) : path };
}

/**
 * One AFM rule. `carried` copies (in the virtual-server policy) leave out the bandwidth iRule:
 * it already ran when the flow matched the rule at its own context.
 */
function afmRule(rule: CompiledRule, entry: AfmRuleEntry, from: Placement, carried: boolean): As3Object {
  const m = rule.model;
  const destination: As3Object = { addressLists: rule.destinationLists.map((p) => pointer(p, from)) };
  if (entry.portList) destination.portLists = [pointer(entry.portList, from)];
  const out: As3Object = {
    name: entry.name,
    action: rule.afmAction,
    protocol: entry.protocol,
    source: { addressLists: [pointer(rule.sourceList, from)] },
    destination,
  };
  if (m.logging) out.loggingEnabled = true;
  const remark = ruleRemark(m);
  if (remark) out.remark = remark;
  if (rule.bandwidth && !carried) out.iRule = pointer(rule.bandwidth.iRule, from);
  return out;
}

function ruleList(rules: readonly CompiledRule[], remark: string, from: Placement, carried = false): As3Object {
  return { class: 'Firewall_Rule_List', remark, rules: rules.flatMap((r) => r.entries.map((e) => afmRule(r, e, from, carried))) };
}

/** The rules of a level that a policy holds: enforced (no audit rules) or staged (all). */
function select(rules: readonly CompiledRule[], staged: boolean): readonly CompiledRule[] {
  return staged ? rules : rules.filter((r) => !r.audit);
}

const carriedAllow = (rules: readonly CompiledRule[]) => rules.filter((r) => r.model.action === 'ALLOW');

/**
 * Rule lists of one level: the enforced list, and a staged list only where it differs.
 * Returns the item names the enforced and staged policies reference (undefined = none).
 */
function levelLists(
  put: (name: string, obj: As3Object) => void,
  rules: readonly CompiledRule[],
  name: string,
  remark: string,
  from: Placement,
  staged: boolean,
  carried = false,
): { enforced?: string; staged?: string } {
  const enforcedRules = select(rules, false);
  const out: { enforced?: string; staged?: string } = {};
  if (enforcedRules.length) {
    put(name, ruleList(enforcedRules, remark, from, carried));
    out.enforced = name;
  }
  if (!staged) return out;
  if (enforcedRules.length === rules.length) {
    out.staged = out.enforced;
  } else if (rules.length) {
    put(name + OBJECT.staged, ruleList(rules, `${remark} (staged)`, from, carried));
    out.staged = name + OBJECT.staged;
  }
  return out;
}

function bandwidthObjects(rules: readonly CompiledRule[], put: (name: string, obj: As3Object) => void): void {
  for (const rule of rules) {
    const bw = rule.bandwidth;
    if (!bw || !rule.model.bandwidth) continue;
    put(bw.policyName, {
      class: 'Bandwidth_Control_Policy',
      remark: clip(`bandwidth of rule ${rule.key}`),
      maxBandwidth: rule.model.bandwidth.maxBandwidth,
      maxBandwidthUnit: rule.model.bandwidth.unit,
    });
    // AFM runs a rule's iRule at FLOW_INIT for every flow the rule matches. The only variable
    // part is the policy path, built from validated names; nothing user-typed reaches it.
    put(bw.iRuleName, {
      class: 'iRule',
      remark: clip(`attaches the bandwidth policy of ${rule.key}`),
      expand: false,
      iRule: `when FLOW_INIT {\n    BWC::policy attach ${bw.policy}\n}\n`,
    });
  }
}

function sharedApplication(compiled: CompiledPolicy): As3Object {
  const { device } = compiled.model;
  const staged = hasStaged(compiled);
  const app: As3Object = { class: 'Application', template: 'shared' };
  const put = (name: string, obj: As3Object) => {
    app[sharedItemName(device.tenant, name)] = obj;
  };
  const use = (name: string) => ({ use: sharedItemName(device.tenant, name) });

  for (const list of compiled.sourceLists) {
    const what =
      list.source.level === 'cluster'
        ? `pods of cluster ${device.cluster}`
        : list.source.level === 'namespace'
          ? `pods of namespace ${list.source.namespace}`
          : `pods of service ${list.source.namespace}/${list.source.service}`;
    put(list.name, {
      class: 'Firewall_Address_List',
      remark: clip(`${what}${list.schedule || list.expiresAt ? ' (windowed)' : ''}`),
      addresses: [{ addressDiscovery: 'event' }],
    });
  }
  for (const list of compiled.destinationLists) {
    const obj: As3Object = { class: 'Firewall_Address_List', remark: clip(list.remark) };
    if (list.addresses.length) obj.addresses = list.addresses.map((a) => address(device, a));
    if (list.fqdns.length) obj.fqdns = list.fqdns.map((f) => f.text);
    put(list.name, obj);
  }
  for (const list of compiled.portLists) put(list.name, { class: 'Firewall_Port_List', ports: [...list.ports] });

  const { cluster, namespace } = compiled.levels;
  bandwidthObjects([...cluster, ...namespace], put);
  const c = levelLists(put, cluster, OBJECT.clusterRules, `cluster rules of ${device.cluster}`, 'shared', staged);
  const n = levelLists(put, namespace, OBJECT.namespaceRules, `namespace rules of ${device.cluster}`, 'shared', staged);
  levelLists(put, carriedAllow([...cluster, ...namespace]), OBJECT.carriedAllow, 'ALLOW rules carried to the virtual server', 'shared', staged, true);

  const policy = (remark: string, list: string | undefined, extra: As3Object = {}): As3Object => ({
    class: 'Firewall_Policy',
    remark: clip(remark),
    rules: list ? [use(list)] : [],
    ...extra,
  });
  put(OBJECT.globalPolicy, policy(`global context, cluster ${device.cluster}`, c.enforced));
  put(OBJECT.routeDomainPolicy, policy(`route domain ${device.routeDomain}, cluster ${device.cluster}`, n.enforced, { routeDomainEnforcement: [{ bigip: `/${COMMON}/${device.routeDomain}` }] }));
  if (staged) {
    // Staged policies are attached by tmsh (global-rules and route-domain fw-staged-policy).
    put(OBJECT.globalPolicy + OBJECT.staged, policy(`staged global context, cluster ${device.cluster}`, c.staged));
    put(OBJECT.routeDomainPolicy + OBJECT.staged, policy(`staged route domain ${device.routeDomain}, cluster ${device.cluster}`, n.staged));
  }
  return app;
}

function virtualAddresses(device: DeviceModel): unknown[] {
  const wildcard = (family: 4 | 6) => withRouteDomain(family === 4 ? '0.0.0.0/0' : '::/0', device.routeDomain);
  if (device.podCidrs.length === 0) return [wildcard(4), wildcard(6)];
  return device.podCidrs.map((c) => [wildcard(c.family), address(device, c)]);
}

function loggingObjects(device: DeviceModel, app: As3Object): void {
  const log = device.logging;
  const destinations: As3Object[] = [];
  if (log.servers.length) {
    const byPort = new Map<number, string[]>();
    for (const s of log.servers) byPort.set(s.port, [...(byPort.get(s.port) ?? []), withRouteDomain(s.address, device.routeDomain)]);
    app[OBJECT.logPool] = {
      class: 'Pool',
      remark: 'remote syslog servers',
      members: [...byPort.entries()].map(([servicePort, serverAddresses]) => ({ servicePort, serverAddresses })),
    };
    app[OBJECT.logHsl] = { class: 'Log_Destination', type: 'remote-high-speed-log', protocol: log.transport, pool: { use: OBJECT.logPool } };
    app[OBJECT.logSyslog] = { class: 'Log_Destination', type: 'remote-syslog', format: 'rfc5424', remoteHighSpeedLog: { use: OBJECT.logHsl } };
    destinations.push({ use: OBJECT.logSyslog });
  }
  if (log.localDatabase) destinations.push({ bigip: '/Common/local-db' });
  app[OBJECT.logPublisher] = { class: 'Log_Publisher', destinations };
  app[OBJECT.logProfile] = {
    class: 'Security_Log_Profile',
    remark: 'AFM events of the egress virtual server',
    network: {
      publisher: { use: OBJECT.logPublisher },
      // Rule matches are logged for rules with logging on; the profile lets all three actions through.
      logRuleMatchAccepts: true,
      logRuleMatchDrops: true,
      logRuleMatchRejects: true,
      logIpErrors: log.logIpErrors,
      logTcpErrors: log.logTcpErrors,
      logTcpEvents: log.logTcpEvents,
      storageFormat: { fields: [...log.fields], delimiter: ',' },
    },
  };
}

function tenantApplication(compiled: CompiledPolicy): As3Object {
  const { device } = compiled.model;
  const staged = hasStaged(compiled);
  const app: As3Object = { class: 'Application', template: 'generic' };
  const put = (name: string, obj: As3Object) => {
    app[name] = obj;
  };
  const { cluster, namespace, service } = compiled.levels;
  bandwidthObjects(service, put);
  const s = levelLists(put, service, OBJECT.serviceRules, `service rules of ${device.cluster}`, 'tenant', staged);
  const carried = carriedAllow([...cluster, ...namespace]);
  const carriedName = sharedItemName(device.tenant, OBJECT.carriedAllow);
  const carriedEnforced = select(carried, false).length > 0;

  const vsPolicy = (serviceList: string | undefined, carriedList: string | undefined, forStaged: boolean): As3Object => {
    const rules: As3Object[] = [];
    if (serviceList) rules.push({ use: serviceList });
    if (carriedList) rules.push({ use: `/${COMMON}/${SHARED}/${carriedList}` });
    rules.push({ name: OBJECT.defaultRule, action: afmDefaultAction(device, forStaged), protocol: 'any', loggingEnabled: device.logging.logDefaultAction });
    return { class: 'Firewall_Policy', remark: forStaged ? 'staged virtual-server context' : 'virtual-server context', rules };
  };
  put(OBJECT.virtualPolicy, vsPolicy(s.enforced, carriedEnforced ? carriedName : undefined, false));
  if (staged) {
    const carriedStaged = carried.length === 0 ? undefined : carried.length === select(carried, false).length ? carriedName : carriedName + OBJECT.staged;
    put(OBJECT.virtualPolicy + OBJECT.staged, vsPolicy(s.staged, carriedStaged, true));
  }
  loggingObjects(device, app);

  const vs: As3Object = {
    class: 'Service_L4',
    remark: clip(`egress of cluster ${device.cluster}`),
    virtualAddresses: virtualAddresses(device),
    virtualPort: 0,
    layer4: 'any',
    translateServerAddress: false,
    translateServerPort: false,
    policyFirewallEnforced: { use: OBJECT.virtualPolicy },
    securityLogProfiles: [{ use: OBJECT.logProfile }],
  };
  if (staged) vs.policyFirewallStaged = { use: OBJECT.virtualPolicy + OBJECT.staged };
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
  if (device.ipIntelligencePolicy) vs.ipIntelligencePolicy = { bigip: device.ipIntelligencePolicy };
  if (device.protocolInspectionProfile) vs.profileProtocolInspection = { bigip: device.protocolInspectionProfile };
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

/**
 * tmsh commands for what AS3 cannot set: the global-context policies, the staged
 * route-domain policy and the FQDN resolver. Paths come from validated names only.
 */
export function deviceCommands(compiled: CompiledPolicy): { apply: string[]; destroy: string[] } {
  const paths = as3Paths(compiled);
  const { device } = compiled.model;
  const apply = [`modify security firewall global-rules enforced-policy ${paths.globalPolicy}`];
  const destroy = ['modify security firewall global-rules enforced-policy none'];
  if (paths.globalStagedPolicy && paths.routeDomainStagedPolicy) {
    apply.push(`modify security firewall global-rules staged-policy ${paths.globalStagedPolicy}`);
    apply.push(`modify net route-domain ${paths.routeDomain} fw-staged-policy ${paths.routeDomainStagedPolicy}`);
    destroy.unshift(`modify net route-domain ${paths.routeDomain} fw-staged-policy none`, 'modify security firewall global-rules staged-policy none');
  }
  if (compiled.destinationLists.some((l) => l.fqdns.length > 0) && device.dnsResolver) {
    apply.push(`modify security firewall global-fqdn-policy dns-resolver ${device.dnsResolver}`);
  }
  return { apply, destroy };
}
