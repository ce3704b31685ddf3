/**
 * Compiled policy → one AS3 declaration per AfmDevice.
 *
 * Layout (see README "Design"):
 * - `/Common/Shared` (prefixed `<tenant>_`): every address and port list, every rule list
 *   (cluster, namespace, service and the carried ALLOW rules), the bandwidth policies with their
 *   iRules, the virtual-server policies, the global policy (attached to the global context by
 *   `bigip_command`, since AS3 cannot) and the route-domain policy (`routeDomainEnforcement`,
 *   which AS3 requires to live there).
 * - `/<tenant>/<app>`: the egress virtual server with its gateway pool, SNAT pool, log profile
 *   and security services. It points into /Common/Shared at exactly two objects, its enforced
 *   and its staged virtual-server policy, which exist as long as the device does: whatever the
 *   rules become, no deploy of /Common/Shared deletes an object the tenant still uses (mcpd would
 *   refuse it in AS3's second Common pass, which Terraform's provider never reads).
 *
 * The virtual-server policy is: service rules, then the ALLOW rules of the two upper levels
 * (carried over), then the device default. With AFM's context semantics this is exactly the
 * three-level policy of the README; the differential tests prove it.
 *
 * Every context has an enforced and a staged policy, always, so the attachments never change
 * after the first deploy (AS3 cannot detach what tmsh attached, and mcpd refuses to delete an
 * attached policy). Audit rules go only into the staged policies: the staged policy of a context
 * is its would-be policy (enforced and audit rules in order), and where no rule of a level is in
 * audit it simply references the enforced rule lists.
 */
import type { AfmRuleEntry, CompiledPolicy, CompiledRule } from '../policy/compile';
import { withRouteDomain } from '../policy/ip';
import { ruleRemark } from '../policy/schema';
import type { AddressModel, DeviceModel } from '../policy/model';
import { compareText } from '../policy/compile';
import { EgressPolicyError, PolicyIssue, quote } from '../policy/errors';
import { COMMON, OBJECT, Placement, SHARED, routeDomainPolicyName, sharedItemName } from '../policy/object-names';
import { afmDefaultAction, checkRendering, hasStaged } from './rendering-check';
import { expectedDeviceState, routeDomainPaths } from './device-state';
import { destinationEntries, mappedPodCidrEntries, mappedVirtualServers, namespaceListName, namespaceRulesIn } from './route-domains';
import { namespaceRouteDomains } from '../policy/route-domains';
import { natObjects } from './nat';
import { addRedirectServices, checkRedirectRendering, refuseRedirectsOnSharedBigip } from './redirect';
import { onMatchObjects } from './irule';

export const AS3_SCHEMA_VERSION = '3.50.0';

export type As3Object = Record<string, unknown>;

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
 * One AFM rule. `carried` copies (in the virtual-server policy) leave out the bandwidth iRule
 * and logging: the iRule already ran and the match was already logged when the flow matched the
 * rule at its own context, so a flow logs one event per rule, not two.
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
  if (m.logging && !carried) out.loggingEnabled = true;
  const remark = ruleRemark(m);
  if (remark) out.remark = clip(remark);
  if (rule.bandwidth && !carried) out.iRule = pointer(rule.bandwidth.iRule, from);
  else if (rule.onMatch && !carried) out.iRule = pointer(rule.onMatch.iRule, from);
  return out;
}

function ruleList(rules: readonly CompiledRule[], remark: string, from: Placement, carried = false): As3Object {
  return {
    class: 'Firewall_Rule_List',
    remark: clip(remark),
    rules: rules.flatMap((r) => r.entries.map((e) => afmRule(r, e, from, carried))),
  };
}

/** The rules of a level that a policy holds: enforced (no audit rules) or staged (all). */
function select(rules: readonly CompiledRule[], staged: boolean): readonly CompiledRule[] {
  return staged ? rules : rules.filter((r) => !r.audit);
}

const carriedAllow = (rules: readonly CompiledRule[]) => rules.filter((r) => r.model.action === 'ALLOW');

/**
 * Rule lists of one level: the enforced list always (empty when the level has no enforced
 * rule, so every reference stays valid whatever the rules are), and, when the device stages,
 * a staged list where it differs. Returns the item names the policies reference.
 */
function levelLists(
  put: (name: string, obj: As3Object) => void,
  rules: readonly CompiledRule[],
  name: string,
  remark: string,
  from: Placement,
  staged: boolean,
  carried = false,
): { enforced: string; staged?: string } {
  const enforcedRules = select(rules, false);
  put(name, ruleList(enforcedRules, remark, from, carried));
  if (!staged) return { enforced: name };
  if (enforcedRules.length === rules.length) return { enforced: name, staged: name };
  put(name + OBJECT.staged, ruleList(rules, `staged ${remark}`, from, carried));
  return { enforced: name, staged: name + OBJECT.staged };
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
    // AFM runs a rule's iRule at FLOW_INIT for every flow the rule matches. `BWC::policy attach`
    // takes the policy's name without a path and finds it itself (tmsh reference, "BWC::policy"),
    // so the policy sits in the iRule's own folder. The name is built from validated names;
    // nothing user-typed reaches it.
    // With onMatch code, one iRule does both (see irule.ts).
    if (!rule.onMatch)
      put(bw.iRuleName, {
        class: 'iRule',
        remark: clip(`attaches the bandwidth policy of ${rule.key}`),
        expand: false,
        iRule: `when FLOW_INIT {\n    BWC::policy attach ${bw.policy.slice(bw.policy.lastIndexOf('/') + 1)}\n}\n`,
      });
  }
}

/**
 * Adds items to an application. The compiler gives every object of a device its own name, so an
 * item written twice is a bug; it fails rather than let one object replace another.
 */
function itemWriter(app: As3Object, owner: string, itemName: (name: string) => string = (n) => n): (name: string, obj: As3Object) => void {
  return (name, obj) => {
    const item = itemName(name);
    if (Object.prototype.hasOwnProperty.call(app, item)) {
      throw new EgressPolicyError([
        {
          path: owner,
          field: 'tenant',
          value: quote(item),
          message: 'two objects of this device would get this BIG-IP name; this is a bug, please report it',
        },
      ]);
    }
    app[item] = obj;
  };
}

/** A device's objects in /Common/Shared (lists and rule lists; not the context policies). */
function sharedObjects(compiled: CompiledPolicy): As3Object {
  const { device } = compiled.model;
  const app: As3Object = {};
  const staged = hasStaged(compiled);
  const put = itemWriter(app, device.path, (name) => sharedItemName(device.tenant, name));
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
  // The pod networks themselves, for the cluster rules that match every pod by address.
  const podCidrs = compiled.podCidrList;
  if (podCidrs)
    put(podCidrs.name, {
      class: 'Firewall_Address_List',
      remark: clip(`pod CIDRs of cluster ${device.cluster}`),
      addresses: [...podCidrs.addresses.map((a) => address(device, a)), ...mappedPodCidrEntries(device)],
    });
  for (const list of compiled.destinationLists) {
    const obj: As3Object = { class: 'Firewall_Address_List', remark: clip(list.remark) };
    if (list.addresses.length) obj.addresses = list.addresses.flatMap((a) => destinationEntries(device, a.text));
    if (list.fqdns.length) obj.fqdns = list.fqdns.map((f) => f.text);
    put(list.name, obj);
  }
  for (const list of compiled.portLists) put(list.name, { class: 'Firewall_Port_List', ports: [...list.ports] });

  const { cluster, namespace, service } = compiled.levels;
  bandwidthObjects([...cluster, ...namespace, ...service], put);
  onMatchObjects(device, [...cluster, ...namespace, ...service], put, clip);
  levelLists(put, cluster, OBJECT.clusterRules, `cluster rules of ${device.cluster}`, 'shared', staged);
  levelLists(
    put,
    namespaceRulesIn(namespace, device, device.routeDomain),
    OBJECT.namespaceRules,
    `namespace rules of ${device.cluster}`,
    'shared',
    staged,
  );
  // Each mapped namespace's rules: the list its route domain's context policy references.
  for (const m of namespaceRouteDomains(device)) {
    const name = namespaceListName(device, m.routeDomain);
    levelLists(
      put,
      namespaceRulesIn(namespace, device, m.routeDomain),
      name,
      `namespace rules of ${m.namespace} (route domain ${m.routeDomain})`,
      'shared',
      staged,
    );
  }
  const s = levelLists(put, service, OBJECT.serviceRules, `service rules of ${device.cluster}`, 'shared', staged);
  const c = levelLists(
    put,
    carriedAllow([...cluster, ...namespace]),
    OBJECT.carriedAllow,
    'ALLOW rules carried to the virtual server',
    'shared',
    staged,
    true,
  );

  // The virtual server's two policies: service rules, carried ALLOW rules, the device default.
  const vsPolicy = (serviceList: string, carriedList: string, forStaged: boolean): As3Object => ({
    class: 'Firewall_Policy',
    remark: clip(`${forStaged ? 'staged ' : ''}virtual-server context of ${device.cluster}`),
    rules: [
      { use: sharedItemName(device.tenant, serviceList) },
      { use: sharedItemName(device.tenant, carriedList) },
      {
        name: OBJECT.defaultRule,
        action: afmDefaultAction(device, forStaged),
        protocol: 'any',
        loggingEnabled: device.logging.logDefaultAction,
      },
    ],
  });
  put(OBJECT.virtualPolicy, vsPolicy(s.enforced, c.enforced, false));
  put(OBJECT.virtualPolicy + OBJECT.staged, vsPolicy(s.staged ?? s.enforced, c.staged ?? c.enforced, true));
  return app;
}

/** The rule-list item a device's policy references at a level (staged where it differs). */
function levelListName(
  compiled: CompiledPolicy,
  level: 'cluster' | 'namespace',
  staged: boolean,
  rd = compiled.model.device.routeDomain,
): string {
  const { device } = compiled.model;
  const base = level === 'cluster' ? OBJECT.clusterRules : namespaceListName(device, rd);
  const rules = level === 'cluster' ? compiled.levels.cluster : namespaceRulesIn(compiled.levels.namespace, device, rd);
  const differs = staged && rules.some((r) => r.audit);
  return sharedItemName(compiled.model.device.tenant, differs ? base + OBJECT.staged : base);
}

/**
 * The global and route-domain policies of every device on one BIG-IP (there is one global
 * context and one policy per route domain). Devices' rules only match their own pods, so
 * their rule lists are simply concatenated, in tenant order.
 */
function contextPolicies(owner: string, devices: readonly CompiledPolicy[]): As3Object {
  const app: As3Object = {};
  const ordered = [...devices].sort((a, b) => compareText(a.model.device.tenant, b.model.device.tenant));
  const paths = routeDomainPaths(owner, ordered);
  const clusters = ordered.map((d) => d.model.device.cluster).join(', ');
  const policy = (remark: string, lists: string[], extra: As3Object = {}): As3Object => ({
    class: 'Firewall_Policy',
    remark: clip(remark),
    rules: lists.map((use) => ({ use })),
    ...extra,
  });
  const put = itemWriter(app, `the shared context of ${owner}`, (name) => sharedItemName(owner, name));
  for (const st of [false, true]) {
    const suffix = st ? OBJECT.staged : '';
    put(
      OBJECT.globalPolicy + suffix,
      policy(
        `${st ? 'staged ' : ''}global context of ${clusters}`,
        ordered.map((d) => levelListName(d, 'cluster', st)),
      ),
    );
    for (const [rd, rdPath] of paths) {
      // A device's namespace rules of this route domain: its own, or a mapped namespace's.
      const inRd = ordered.filter(
        (d) => d.model.device.routeDomain === rd || namespaceRouteDomains(d.model.device).some((m) => m.routeDomain === rd),
      );
      // AS3 can attach only enforced policies to a route domain; tmsh attaches the staged one.
      const extra = st ? {} : { routeDomainEnforcement: [{ bigip: rdPath }] };
      put(
        routeDomainPolicyName(rd) + suffix,
        policy(
          `${st ? 'staged ' : ''}route domain ${rd} (${rdPath})`,
          inRd.map((d) => levelListName(d, 'namespace', st, rd)),
          extra,
        ),
      );
    }
  }
  return app;
}

/** Listeners: the wildcard of each family, accepting only the pod CIDRs when they are given. */
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
    app[OBJECT.logHsl] = {
      class: 'Log_Destination',
      type: 'remote-high-speed-log',
      protocol: log.transport,
      pool: { use: OBJECT.logPool },
    };
    app[OBJECT.logSyslog] = {
      class: 'Log_Destination',
      type: 'remote-syslog',
      format: 'rfc5424',
      remoteHighSpeedLog: { use: OBJECT.logHsl },
    };
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

/**
 * How the tenant points at its virtual-server policies in /Common/Shared: `use` when the same
 * declaration holds them, `bigip` (an existing BIG-IP object, looked up on the device when AS3
 * parses the request) when another declaration does.
 */
type SharedReference = 'use' | 'bigip';

/**
 * The tenant's application: the egress virtual server and what only it uses.
 *
 * On a shared BIG-IP each cluster's virtual server listens on the same wildcard address of its
 * route domain (with its own pod CIDRs as sources), and a virtual address exists once per
 * device: a second partition declaring it gets "Invalid Virtual Address, the IP address ...
 * already exists" (AS3 issues #741, #605). `shareAddresses` puts the address in /Common, where
 * AS3 counts the tenants that use it and deletes it with the last one (AS3
 * `src/lib/fetch.js`, updateDesiredForCommonVirtualAddresses and
 * maintainCommonVirtualAddresses).
 */
function tenantApplication(compiled: CompiledPolicy, reference: SharedReference, sharedBigip: boolean): As3Object {
  const { device } = compiled.model;
  const app: As3Object = { class: 'Application', template: 'generic' };
  const policy = (name: string) => ({ [reference]: `/${COMMON}/${SHARED}/${sharedItemName(device.tenant, name)}` });
  loggingObjects(device, app);

  const vs: As3Object = {
    class: 'Service_L4',
    remark: clip(`egress of cluster ${device.cluster}`),
    virtualAddresses: virtualAddresses(device),
    ...(sharedBigip ? { shareAddresses: true } : {}),
    virtualPort: 0,
    layer4: 'any',
    translateServerAddress: false,
    translateServerPort: false,
    // AS3's default for Service_L4 is source-address persistence; egress balances nothing.
    persistenceMethods: [],
    policyFirewallEnforced: policy(OBJECT.virtualPolicy),
    policyFirewallStaged: policy(OBJECT.virtualPolicy + OBJECT.staged),
    securityLogProfiles: [{ use: OBJECT.logProfile }],
  };
  if (device.gateways.length) {
    app[OBJECT.gatewayPool] = {
      class: 'Pool',
      remark: 'next-hop gateways',
      members: [{ servicePort: 0, serverAddresses: device.gateways.map((g) => address(device, g)) }],
    };
    vs.pool = OBJECT.gatewayPool;
  }
  // Per-rule translation: a NAT policy, and the virtual server's own snat off (see nat.ts).
  const policyNAT = natObjects(compiled, reference, (name, obj) => (app[name] = obj));
  if (policyNAT) {
    vs.policyNAT = policyNAT;
    vs.snat = 'none';
  } else if (device.snat === 'NONE') vs.snat = 'none';
  else if (device.snat === 'AUTOMAP') vs.snat = 'auto';
  else {
    app[OBJECT.snatPool] = { class: 'SNAT_Pool', snatAddresses: device.snatAddresses.map((a) => address(device, a)) };
    vs.snat = { use: OBJECT.snatPool };
  }
  if (device.vlans.length) vs.allowVlans = device.vlans.map((bigip) => ({ bigip }));
  if (device.ipIntelligencePolicy) vs.ipIntelligencePolicy = { bigip: device.ipIntelligencePolicy };
  if (device.protocolInspectionProfile) vs.profileProtocolInspection = { bigip: device.protocolInspectionProfile };
  app[OBJECT.virtualServer] = vs;
  for (const [name, mapped] of mappedVirtualServers(device, vs)) app[name] = mapped;
  addRedirectServices(compiled, vs, itemWriter(app, device.path));
  return app;
}

function clip(text: string): string {
  return text.length <= 64 ? text : `${text.slice(0, 61)}...`;
}

function request(declaration: As3Object, id: string, remark: string): As3Object {
  return {
    class: 'AS3',
    action: 'deploy',
    persist: true,
    declaration: { class: 'ADC', schemaVersion: AS3_SCHEMA_VERSION, id, remark: clip(remark), ...declaration },
  };
}

function tenant(compiled: CompiledPolicy, reference: SharedReference, sharedBigip: boolean): As3Object {
  const { device } = compiled.model;
  return {
    class: 'Tenant',
    defaultRouteDomain: device.routeDomain,
    [device.application]: tenantApplication(compiled, reference, sharedBigip),
  };
}

/**
 * /Common/Shared of several owners (devices, the shared context) side by side. Item names are
 * `<tenant>_<name>`, and tenants may contain "_", so two owners could make one name out of two
 * objects (tenant `a` with `b_src_cluster`, tenant `a_b` with `src_cluster`); one would
 * silently replace the other, so that fails, naming both owners.
 */
function sharedApplication(parts: readonly (readonly [owner: string, items: As3Object])[]): As3Object {
  const app: As3Object = { class: 'Application', template: 'shared' };
  const ownerOf = new Map<string, string>();
  const issues: PolicyIssue[] = [];
  for (const [owner, items] of parts) {
    for (const [item, obj] of Object.entries(items)) {
      const other = ownerOf.get(item);
      if (other !== undefined) {
        issues.push({
          path: owner,
          field: 'tenant',
          value: quote(item),
          message: `/${COMMON}/${SHARED}/${item} would be declared both by ${other} and by ${owner}, whose tenant names run into each other's object names; give one of the clusters a tenant that is not the other's followed by "_"`,
        });
        continue;
      }
      ownerOf.set(item, owner);
      app[item] = obj;
    }
  }
  if (issues.length) throw new EgressPolicyError(issues);
  return app;
}

const contextOwner = (owner: string) => `the shared context of ${owner}`;

/** The AS3 request (`class: AS3`) that `bigip_as3` posts for a device that owns its BIG-IP. */
export function renderAs3(compiled: CompiledPolicy): As3Object {
  const { device } = compiled.model;
  const shared = sharedApplication([
    [device.path, sharedObjects(compiled)],
    [contextOwner(device.tenant), contextPolicies(device.tenant, [compiled])],
  ]);
  const out = request(
    { [COMMON]: { class: 'Tenant', [SHARED]: shared }, [device.tenant]: tenant(compiled, 'use', false) },
    `cdktf-ces-${device.tenant}`,
    `egress policy of cluster ${device.cluster}`,
  );
  checkRendering({ adc: out.declaration as As3Object, devices: [compiled], contextOwner: device.tenant });
  checkRedirectRendering(out.declaration as As3Object, compiled);
  return out;
}

/**
 * The tenant-only AS3 request of a device on a BIG-IP shared with other clusters. Its two
 * pointers into /Common/Shared are `bigip` paths: AS3 adds the stored Common to a tenant-only
 * request only when the tenant is already stored (AS3 `src/lib/declarationHandler.js:137-174,
 * 600-611`), so `use` pointers of a new tenant would name an object the request does not hold
 * and the first deploy would fail with 422.
 */
export function renderTenantAs3(compiled: CompiledPolicy): As3Object {
  const { device } = compiled.model;
  refuseRedirectsOnSharedBigip(compiled);
  const own = tenant(compiled, 'bigip', true);
  // The virtual server points into /Common/Shared, which the shared declaration holds: exactly
  // this device's sharedObjects (renderSharedAs3 refuses to let anything replace one of them).
  const view = { [COMMON]: { class: 'Tenant', [SHARED]: sharedObjects(compiled) }, [device.tenant]: own };
  checkRendering({ adc: view, devices: [compiled] });
  return request({ [device.tenant]: own }, `cdktf-ces-${device.tenant}`, `egress policy of cluster ${device.cluster}`);
}

/**
 * The `/Common/Shared` AS3 request of a BIG-IP shared by several clusters: every device's
 * lists and rule lists, and the one global and per-route-domain policies they share.
 */
export function renderSharedAs3(owner: string, devices: readonly CompiledPolicy[]): As3Object {
  const ordered = [...devices].sort((a, b) => compareText(a.model.device.tenant, b.model.device.tenant));
  const shared = sharedApplication([
    ...ordered.map((d) => [d.model.device.path, sharedObjects(d)] as const),
    [contextOwner(owner), contextPolicies(owner, devices)],
  ]);
  const out = request(
    { [COMMON]: { class: 'Tenant', [SHARED]: shared } },
    `cdktf-ces-${owner}`,
    `shared egress context of ${devices.length} clusters`,
  );
  // The carried ALLOW lists are reached from the tenants' virtual-server policies: check them
  // through the tenants as their own declarations render them.
  const view: As3Object = { ...(out.declaration as As3Object) };
  for (const d of ordered) view[d.model.device.tenant] = tenant(d, 'bigip', true);
  checkRendering({ adc: view, devices, contextOwner: owner });
  return out;
}

/**
 * tmsh commands of what AS3 cannot set, in the order they run on apply (the global FQDN
 * resolver, the context attachments, each followed by `save sys config`) and on destroy. See
 * `device-state.ts` for the whole expected state and the ownership checks.
 */
export function contextCommands(
  owner: string,
  devices: readonly CompiledPolicy[],
  dnsResolver?: string,
): { apply: string[]; destroy: string[] } {
  const { commands } = expectedDeviceState(owner, devices, dnsResolver);
  const routeDomains = Object.values(commands.releaseRouteDomains).flatMap((c) => c.filter((x) => x !== 'save sys config'));
  const release = (c: readonly string[]) => c.filter((x) => x !== 'save sys config');
  return {
    apply: [...commands.resolver, ...commands.contexts],
    destroy: [...routeDomains, ...release(commands.release), ...release(commands.releaseResolver), 'save sys config'],
  };
}

/** The tmsh commands of a device that owns its BIG-IP. */
export function deviceCommands(compiled: CompiledPolicy): { apply: string[]; destroy: string[] } {
  return contextCommands(compiled.model.device.tenant, [compiled], compiled.model.device.dnsResolver);
}

/**
 * The view a BIG-IP has after several declarations are deployed: their tenants side by side
 * (a shared BIG-IP gets `/Common/Shared` from one declaration and each cluster's tenant from
 * another). Used to validate and evaluate what the device will hold.
 */
export function mergeAs3(requests: readonly As3Object[]): As3Object {
  const merged: As3Object = {};
  for (const r of requests) {
    const decl = (r.class === 'AS3' ? r.declaration : r) as As3Object;
    for (const [key, value] of Object.entries(decl)) {
      const isTenant = !!value && typeof value === 'object' && (value as As3Object).class === 'Tenant';
      if (!isTenant) {
        merged[key] ??= value;
        continue;
      }
      const existing = merged[key] as As3Object | undefined;
      if (!existing) {
        merged[key] = value;
      } else if (key === COMMON) {
        const shared = { ...((existing[SHARED] as As3Object) ?? {}), ...(((value as As3Object)[SHARED] as As3Object) ?? {}) };
        merged[key] = { ...existing, ...(value as As3Object), [SHARED]: shared };
      } else {
        throw new Error(`tenant "${key}" is declared by more than one declaration; each tenant must have exactly one owner`);
      }
    }
  }
  return { class: 'AS3', action: 'deploy', persist: true, declaration: merged };
}
