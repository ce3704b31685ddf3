/**
 * The self-check of every rendering: reads a rendered AS3 declaration the way the BIG-IP will
 * (policies → rule lists → AFM rules → address and port lists) and proves that each AFM rule
 * matches exactly what its policy rule says — the source pods, the destination addresses and
 * names, the protocol, the ports, the action — and that every policy rule sits in the right
 * context's policy, in the right order. It runs on every render, so on every synth: a name
 * collision, a stale cache or a rendering bug that would let one rule match another's content
 * stops synth with the rule's construct path and the difference, instead of reaching a firewall.
 *
 * Expectations come from the policy model (the rules as the user wrote them), never from the
 * compiler's names: names only lead the way through the declaration. The one compiled fact
 * used as truth is the source list's definition (which pods the controller puts in it), since
 * the controller fills lists from exactly that. Each list's content is read once and interned,
 * so the check is linear in the size of the declaration and the policy.
 */
import type { As3Object } from './as3';
import { COMMON, OBJECT, SHARED, routeDomainPath, routeDomainPolicyName, sharedItemName } from '../policy/object-names';
import { EgressPolicyError, PolicyIssue, quote } from '../policy/errors';
import type { CompiledPolicy, CompiledRule, SourceList } from '../policy/compile';
import { compareRules, compareText, matchesPodCidrs, sourceIdentity } from '../policy/compile';
import { withRouteDomain } from '../policy/ip';
import { AFM_ACTION, DefaultActionName, DeviceModel, ExternalServiceModel, RuleModel, ruleKey } from '../policy/model';
import { PORTED_PROTOCOLS } from '../policy/port';
import { inRouteDomain, namespaceRouteDomains } from '../policy/route-domains';
import { destinationEntries, mappedPodCidrEntries, mappedVirtualServers } from './route-domains';
import { decodeIRule, onMatchIRuleText } from '../policy/irule';

/** Whether the device needs staged policies (some rule, or the whole device, is in audit). */
export function hasStaged(compiled: CompiledPolicy): boolean {
  return compiled.model.device.audit || compiled.model.rules.some((r) => r.audit);
}

const DEFAULT_AFM_ACTION: Readonly<Record<DefaultActionName, string>> = { DENY: 'drop', REJECT: 'reject', ALLOW: 'accept' };

/** AFM action of the virtual server's final rule: in device audit mode nothing is enforced. */
export function afmDefaultAction(device: DeviceModel, staged: boolean): string {
  return device.audit && !staged ? 'accept' : DEFAULT_AFM_ACTION[device.defaultAction];
}

/** What a rendering holds and which parts to check. */
export interface RenderingUnderCheck {
  /** The ADC declaration, or the view of several (a tenant beside the /Common/Shared it uses). */
  readonly adc: As3Object;
  /** The devices whose tenants and /Common/Shared objects the view holds. */
  readonly devices: readonly CompiledPolicy[];
  /** Prefix of the global and route-domain policies, when the view holds them. */
  readonly contextOwner?: string;
}

/** Throws {@link EgressPolicyError} when the rendering does not enforce exactly the devices' policies. */
export function checkRendering(under: RenderingUnderCheck): void {
  const issues: PolicyIssue[] = [];
  const reader = new DeclarationReader(under.adc);
  const checks = [...under.devices]
    .sort((a, b) => compareText(a.model.device.tenant, b.model.device.tenant))
    .map((compiled) => new DeviceCheck(compiled, reader, issues));
  for (const check of checks) {
    if (under.adc[check.device.tenant] !== undefined) check.virtualServer();
  }
  if (under.contextOwner !== undefined) contexts(under.contextOwner, checks, reader, issues);
  if (issues.length) throw new EgressPolicyError(issues);
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/**
 * The target of a reference that has nothing else: the `use` of `{use}`, or the absolute path of
 * `{bigip}` (an object on the device, which the view holds when it holds the declaration that
 * creates it).
 */
function onlyUse(pointer: unknown): string | undefined {
  if (!isObj(pointer)) return undefined;
  const keys = Object.keys(pointer);
  if (keys.length !== 1) return undefined;
  if (typeof pointer.use === 'string') return pointer.use;
  return typeof pointer.bigip === 'string' && pointer.bigip.startsWith('/') ? pointer.bigip : undefined;
}

/** A pointer resolved to its object: the full path and the object (undefined when absent). */
interface Resolved {
  readonly path: string;
  readonly obj?: Obj;
}

/** Looks objects up the way AS3 resolves our pointers, and reads list contents once each. */
class DeclarationReader {
  private readonly ids = new Map<string, number>();
  private readonly resolved = new Map<string, Map<string, Map<string, Resolved | undefined>>>();
  private readonly addressLists = new Map<string, AddressListContent>();
  private readonly portLists = new Map<string, PortListContent>();

  constructor(private readonly adc: As3Object) {}

  /** `name` (same application), `/T/A/name`, or a `{use}` object, from an object in `/tenant/app`. */
  public resolve(pointer: unknown, tenant: string, app: string): Resolved | undefined {
    const use = typeof pointer === 'string' ? pointer : onlyUse(pointer);
    if (use === undefined) return undefined;
    // Thousands of rules share a few lists: resolve each pointer once per folder it is used from.
    let byApp = this.resolved.get(tenant);
    if (!byApp) {
      byApp = new Map();
      this.resolved.set(tenant, byApp);
    }
    let cache = byApp.get(app);
    if (!cache) {
      cache = new Map();
      byApp.set(app, cache);
    }
    if (cache.has(use)) return cache.get(use);
    const parts = use.startsWith('/') ? use.split('/').slice(1) : [tenant, app, use];
    let resolved: Resolved | undefined;
    if (parts.length === 3) {
      const [t, a, item] = parts;
      const tenantObj = this.adc[t];
      const appObj = isObj(tenantObj) ? tenantObj[a] : undefined;
      const obj = isObj(appObj) ? appObj[item] : undefined;
      resolved = { path: `/${t}/${a}/${item}`, obj: isObj(obj) ? obj : undefined };
    }
    cache.set(use, resolved);
    return resolved;
  }

  /** A small number standing for a content string: equal content, equal id. */
  public intern(content: string): number {
    let id = this.ids.get(content);
    if (id === undefined) {
      id = this.ids.size;
      this.ids.set(content, id);
    }
    return id;
  }

  public addressList(at: Resolved): AddressListContent {
    let content = this.addressLists.get(at.path);
    if (!content) {
      content = readAddressList(at, this);
      this.addressLists.set(at.path, content);
    }
    return content;
  }

  public portList(at: Resolved): PortListContent {
    let content = this.portLists.get(at.path);
    if (!content) {
      content = readPortList(at);
      this.portLists.set(at.path, content);
    }
    return content;
  }
}

interface AddressListContent {
  /** Why the object is not a plain list of addresses and names. */
  readonly problem?: string;
  /** An event-driven list (members pushed by the controller) and nothing else. */
  readonly event: boolean;
  /** `a:<address>` and `f:<fqdn>` entries. */
  readonly entries: readonly string[];
  readonly id: number;
}

function readAddressList(at: Resolved, reader: DeclarationReader): AddressListContent {
  const obj = at.obj;
  if (!obj || obj.class !== 'Firewall_Address_List') {
    return {
      problem: `${at.path} is ${obj ? `a ${String(obj.class)}` : 'missing'}, not a Firewall_Address_List`,
      event: false,
      entries: [],
      id: -1,
    };
  }
  const extra = Object.keys(obj).filter((k) => !['class', 'remark', 'label', 'addresses', 'fqdns'].includes(k));
  if (extra.length) return { problem: `${at.path} also matches by ${extra.join(', ')}`, event: false, entries: [], id: -1 };
  const addresses = Array.isArray(obj.addresses) ? obj.addresses : [];
  const fqdns = Array.isArray(obj.fqdns) ? obj.fqdns : [];
  if (addresses.length === 1 && isObj(addresses[0]) && fqdns.length === 0) {
    const event = addresses[0].addressDiscovery === 'event' && Object.keys(addresses[0]).length === 1;
    return event
      ? { event: true, entries: [], id: -1 }
      : { problem: `${at.path} discovers its members by ${quote(addresses[0].addressDiscovery)}`, event: false, entries: [], id: -1 };
  }
  if (addresses.some((a) => typeof a !== 'string') || fqdns.some((f) => typeof f !== 'string')) {
    return { problem: `${at.path} mixes discovered and listed members`, event: false, entries: [], id: -1 };
  }
  const entries = [...new Set([...addresses.map((a) => `a:${a as string}`), ...fqdns.map((f) => `f:${f as string}`)])].sort(compareText);
  return { event: false, entries, id: reader.intern(entries.join('\n')) };
}

interface PortListContent {
  readonly problem?: string;
  /** `from-to` ranges, sorted. */
  readonly ranges: readonly string[];
}

function readPortList(at: Resolved): PortListContent {
  const obj = at.obj;
  if (!obj || obj.class !== 'Firewall_Port_List')
    return { problem: `${at.path} is ${obj ? `a ${String(obj.class)}` : 'missing'}, not a Firewall_Port_List`, ranges: [] };
  const extra = Object.keys(obj).filter((k) => !['class', 'remark', 'label', 'ports'].includes(k));
  if (extra.length) return { problem: `${at.path} also matches by ${extra.join(', ')}`, ranges: [] };
  const ranges: string[] = [];
  for (const p of Array.isArray(obj.ports) ? obj.ports : []) {
    const m = typeof p === 'number' ? [String(p), String(p), String(p)] : typeof p === 'string' ? /^(\d+)(?:-(\d+))?$/.exec(p) : null;
    if (!m) return { problem: `${at.path} holds the port entry ${quote(p)}`, ranges: [] };
    ranges.push(`${Number(m[1])}-${Number(m[2] ?? m[1])}`);
  }
  return { ranges: [...new Set(ranges)].sort(compareText) };
}

/** What one AFM rule of a policy rule must match: a protocol and its ports (`undefined` = every port). */
interface EntrySpec {
  readonly protocol: string;
  readonly ranges?: readonly string[];
}

/** The AFM rules a policy rule needs, from the model alone: one per protocol, in protocol order. */
function entrySpecs(rule: RuleModel): EntrySpec[] {
  if (rule.ports.length === 0) return [{ protocol: 'any' }];
  const byProtocol = new Map<string, (string | undefined)[]>();
  for (const p of rule.ports) {
    byProtocol.set(p.protocol, [
      ...(byProtocol.get(p.protocol) ?? []),
      p.fromPort === undefined ? undefined : `${p.fromPort}-${p.toPort ?? p.fromPort}`,
    ]);
  }
  return [...byProtocol.keys()].sort(compareText).map((protocol) => {
    const ranges = byProtocol.get(protocol) as (string | undefined)[];
    if (!PORTED_PROTOCOLS.has(protocol) || ranges.includes(undefined)) return { protocol };
    return { protocol, ranges: [...new Set(ranges as string[])].sort(compareText) };
  });
}

const RULE_KEYS = new Set(['name', 'action', 'protocol', 'source', 'destination', 'loggingEnabled', 'remark', 'label', 'iRule']);

/** Which policy rules a rule list must hold, in order. */
interface ListExpectation {
  readonly what: string;
  readonly rules: readonly RuleModel[];
  /** A carried copy of upper-level ALLOW rules (no bandwidth iRule and no logging: both happened at the rule's own context). */
  readonly carried: boolean;
}

/** What a policy rule's AFM rules must match, worked out once per rule. */
interface RuleExpectation {
  readonly key: string;
  readonly sourceIdentity: string;
  readonly specs: readonly EntrySpec[];
  /** Interned contents of its inline destinations and external services, sorted. */
  readonly destinationIds: readonly number[];
  readonly compiled?: CompiledRule;
}

class DeviceCheck {
  public readonly device: DeviceModel;
  private readonly ruleExpectations = new Map<RuleModel, RuleExpectation>();
  private readonly compiledRules = new Map<string, CompiledRule>();
  private readonly sourceLists = new Map<string, { list: SourceList; content: string }>();
  private readonly externalServices = new Map<string, ExternalServiceModel>();
  private readonly externalServiceIds = new Map<string, number>();
  private readonly checkedLists = new Set<string>();
  public readonly staged: boolean;
  private readonly byLevel: { cluster: RuleModel[]; namespace: RuleModel[]; service: RuleModel[] } = {
    cluster: [],
    namespace: [],
    service: [],
  };

  constructor(
    compiled: CompiledPolicy,
    private readonly reader: DeclarationReader,
    private readonly issues: PolicyIssue[],
  ) {
    this.device = compiled.model.device;
    for (const level of ['cluster', 'namespace', 'service'] as const)
      for (const r of compiled.levels[level]) this.compiledRules.set(r.key, r);
    for (const list of compiled.sourceLists) this.sourceLists.set(list.path, { list, content: sourceIdentity(list) });
    for (const es of compiled.model.externalServices) this.externalServices.set(es.name, es);
    for (const rule of [...compiled.model.rules].sort(compareRules)) this.byLevel[rule.level].push(rule);
    this.staged = hasStaged(compiled);
  }

  private audited(rule: RuleModel): boolean {
    return rule.audit || this.device.audit;
  }

  /** The rules a level's list holds: the enforced ones, or (staged) all of them. */
  public expectation(level: 'cluster' | 'namespace' | 'service' | 'carried', staged: boolean, rd?: number): ListExpectation {
    const all =
      level === 'carried' ? [...this.byLevel.cluster, ...this.byLevel.namespace].filter((r) => r.action === 'ALLOW') : this.byLevel[level];
    // A route domain's context holds the namespace rules of the namespaces in it.
    const rules = rd === undefined ? all : all.filter((r) => inRouteDomain(this.device, r.namespace, rd));
    return {
      what: `${staged ? 'staged ' : ''}${level === 'carried' ? 'carried ALLOW' : level} rules of ${this.device.path}`,
      rules: staged ? rules : rules.filter((r) => !this.audited(r)),
      carried: level === 'carried',
    };
  }

  private deviceIssue(value: unknown, message: string): void {
    this.issues.push({
      path: this.device.path,
      field: 'rendering',
      value: quote(value),
      message: `${message}; the declaration would not enforce the policy as written, so synth stops (this is a bug, please report it)`,
    });
  }

  private ruleIssue(rule: RuleModel, afmRule: string, message: string): void {
    this.issues.push({
      path: rule.path,
      field: 'rendering',
      value: quote(afmRule),
      message: `${message}; the declaration would not enforce this rule as written, so synth stops (this is a bug, please report it)`,
    });
  }

  /**
   * The tenant's virtual-server policies (always both, enforced and staged): service rules,
   * carried ALLOW rules, the default.
   */
  public virtualServer(): void {
    const { tenant, application } = this.device;
    const vs = this.reader.resolve(OBJECT.virtualServer, tenant, application);
    if (!vs?.obj) return this.deviceIssue(vs?.path ?? OBJECT.virtualServer, 'the egress virtual server is missing');
    for (const staged of [false, true]) {
      const pointer = vs.obj[staged ? 'policyFirewallStaged' : 'policyFirewallEnforced'];
      const policy = this.reader.resolve(pointer, tenant, application);
      if (!policy?.obj || policy.obj.class !== 'Firewall_Policy') {
        this.deviceIssue(policy?.path ?? pointer, `the virtual server's ${staged ? 'staged' : 'enforced'} policy is missing`);
        continue;
      }
      const rules = Array.isArray(policy.obj.rules) ? policy.obj.rules : [];
      const last = rules[2];
      const defaultAction = afmDefaultAction(this.device, staged);
      if (
        rules.length !== 3 ||
        !isObj(last) ||
        last.action !== defaultAction ||
        (last.protocol ?? 'any') !== 'any' ||
        last.source !== undefined ||
        last.destination !== undefined
      ) {
        this.deviceIssue(
          policy.path,
          `the policy must hold the service rules, the carried ALLOW rules and a final ${defaultAction} of everything`,
        );
        continue;
      }
      const [, policyTenant, policyApp] = policy.path.split('/');
      this.ruleList(rules[0], policyTenant, policyApp, this.expectation('service', staged));
      this.ruleList(rules[1], policyTenant, policyApp, this.expectation('carried', staged));
    }
    // A mapped route domain's virtual server: the device's own, on the namespace's addresses and VLANs.
    for (const [name, want] of mappedVirtualServers(this.device, vs.obj)) {
      const mapped = this.reader.resolve(name, tenant, application);
      if (!mapped?.obj) this.deviceIssue(mapped?.path ?? name, 'the egress virtual server of a mapped route domain is missing');
      else if (JSON.stringify(mapped.obj) !== JSON.stringify(want))
        this.deviceIssue(mapped.path, "the virtual server differs from the device's own on its route domain's addresses and VLANs");
    }
  }

  /** Checks the rule list `pointer` leads to against the rules it must hold, in order. */
  public ruleList(pointer: unknown, tenant: string, app: string, expected: ListExpectation): void {
    const at = this.reader.resolve(pointer, tenant, app);
    if (!at?.obj || at.obj.class !== 'Firewall_Rule_List') {
      this.deviceIssue(at?.path ?? pointer, `the ${expected.what} must be in a Firewall_Rule_List, and there is none`);
      return;
    }
    // A staged policy reuses the enforced list where no rule of the level is in audit: check once.
    const memo = `${at.path} ${expected.carried} ${expected.rules.map((r) => ruleKey(r)).join(' ')}`;
    if (this.checkedLists.has(memo)) return;
    this.checkedLists.add(memo);
    const [, listTenant, listApp] = at.path.split('/');
    const rendered = Array.isArray(at.obj.rules) ? at.obj.rules : [];
    let i = 0;
    for (const rule of expected.rules) {
      const want = this.ruleExpectation(rule);
      const { compiled, specs } = want;
      if (!compiled || compiled.entries.length !== specs.length) {
        this.ruleIssue(
          rule,
          want.key,
          `the compiled rule has ${compiled?.entries.length ?? 0} AFM rules where its protocols need ${specs.length}`,
        );
        return;
      }
      for (const [j, spec] of specs.entries()) {
        const afm = rendered[i++];
        const name = compiled.entries[j].name;
        if (!isObj(afm)) {
          this.ruleIssue(rule, name, `${at.path} ends before this rule's ${spec.protocol} AFM rule`);
          return;
        }
        const problem = this.afmRuleProblem(afm, rule, want, name, spec, expected.carried, listTenant, listApp);
        if (problem) {
          this.ruleIssue(rule, String(afm.name), `the AFM rule at position ${i} of ${at.path} (the ${expected.what}) ${problem}`);
          return;
        }
      }
    }
    if (i !== rendered.length) {
      const names = rendered.slice(i, i + 3).map((r) => (isObj(r) ? String(r.name) : String(r)));
      this.deviceIssue(
        at.path,
        `the list holds ${rendered.length - i} AFM rule(s) that no ${expected.what.replace(/ of .*/, '')} stands for (${names.join(', ')})`,
      );
    }
  }

  /** What differs between a rendered AFM rule and the policy rule it stands for, or undefined. */
  private ruleExpectation(rule: RuleModel): RuleExpectation {
    let want = this.ruleExpectations.get(rule);
    if (!want) {
      const inline = this.entries(rule.destinations);
      const key = ruleKey(rule);
      want = {
        key,
        sourceIdentity: sourceIdentity(rule),
        specs: entrySpecs(rule),
        destinationIds: [
          ...(inline.length ? [this.reader.intern(inline.join('\n'))] : []),
          ...rule.destinations.flatMap((d) => (d.kind === 'externalService' ? [this.externalServiceId(d.name) ?? -2] : [])),
        ].sort((a, b) => a - b),
        compiled: this.compiledRules.get(key),
      };
      this.ruleExpectations.set(rule, want);
    }
    return want;
  }

  private afmRuleProblem(
    afm: Obj,
    rule: RuleModel,
    want: RuleExpectation,
    name: string,
    spec: EntrySpec,
    carried: boolean,
    tenant: string,
    app: string,
  ): string | undefined {
    const extra = Object.keys(afm).filter((k) => !RULE_KEYS.has(k));
    if (extra.length) return `also has ${extra.join(', ')}`;
    if (afm.name !== name) return `is named ${quote(afm.name)}, not ${quote(name)}`;
    if (afm.action !== AFM_ACTION[rule.action])
      return `has action ${quote(afm.action)} where the rule's ${rule.action} needs ${quote(AFM_ACTION[rule.action])}`;
    if ((afm.protocol ?? 'any') !== spec.protocol) return `matches protocol ${quote(afm.protocol ?? 'any')}, not ${quote(spec.protocol)}`;
    // A carried copy never logs: the match was logged at the rule's own context.
    const logs = rule.logging && !carried;
    if ((afm.loggingEnabled === true) !== logs)
      return `has loggingEnabled ${quote(afm.loggingEnabled)} where ${carried ? 'a carried copy of the rule must not log' : `the rule has logging ${rule.logging}`}`;
    return (
      this.sourceProblem(afm.source, rule, want, tenant, app) ??
      this.destinationProblem(afm.destination, rule, want, tenant, app) ??
      this.portProblem(afm.destination, spec, tenant, app) ??
      this.iRuleProblem(afm.iRule, rule, carried, tenant, app)
    );
  }

  private sourceProblem(source: unknown, rule: RuleModel, want: RuleExpectation, tenant: string, app: string): string | undefined {
    const lists = isObj(source) && Object.keys(source).length === 1 && Array.isArray(source.addressLists) ? source.addressLists : undefined;
    if (!lists || lists.length !== 1) return `must match its source by exactly one address list, and has ${quote(source)}`;
    const at = this.reader.resolve(lists[0], tenant, app);
    if (!at) return `has the source pointer ${quote(lists[0])}`;
    const content = this.reader.addressList(at);
    if (content.problem) return `takes its source from ${content.problem}`;
    if (matchesPodCidrs(rule, this.device)) {
      // Every pod of the cluster, by the pod networks themselves.
      const expected = [
        ...new Set([
          ...this.device.podCidrs.map((c) => `a:${withRouteDomain(c.text, this.device.routeDomain)}`),
          ...mappedPodCidrEntries(this.device).map((e) => `a:${e}`),
        ]),
      ]
        .sort(compareText)
        .join('\n');
      if (content.event || content.entries.join('\n') !== expected) {
        return `takes its source from ${at.path}, which is not the list of the pod CIDRs (${this.device.podCidrs.map((c) => c.text).join(', ')})`;
      }
      return undefined;
    }
    const problem = this.memberListProblem(at, want);
    return problem && `takes its source from ${problem}`;
  }

  /** Why a list is not one the controller fills with the rule's source pods. */
  private memberListProblem(at: Resolved, want: RuleExpectation): string | undefined {
    const content = this.reader.addressList(at);
    if (content.problem) return content.problem;
    if (!content.event) return `${at.path}, which is not a list the controller fills with pods`;
    const list = this.sourceLists.get(at.path);
    if (!list) return `${at.path}, which is not a source list of ${this.device.path}`;
    if (list.content !== want.sourceIdentity)
      return `${at.path}, which the controller fills with the pods of ${describeSource(list.list)}, not those of this rule`;
    return undefined;
  }

  private externalServiceId(name: string): number | undefined {
    let id = this.externalServiceIds.get(name);
    if (id === undefined) {
      const es = this.externalServices.get(name);
      if (!es) return undefined;
      id = this.reader.intern(this.entries(es.destinations).join('\n'));
      this.externalServiceIds.set(name, id);
    }
    return id;
  }

  /** `a:<address with route domain>` and `f:<fqdn>` entries, sorted and without repeats. */
  private entries(destinations: readonly RuleModel['destinations'][number][]): string[] {
    const out = new Set<string>();
    for (const d of destinations) {
      if (d.kind === 'fqdn') out.add(`f:${d.text}`);
      else if (d.kind !== 'externalService') for (const e of destinationEntries(this.device, d.text)) out.add(`a:${e}`);
    }
    return [...out].sort(compareText);
  }

  private destinationProblem(
    destination: unknown,
    rule: RuleModel,
    want: RuleExpectation,
    tenant: string,
    app: string,
  ): string | undefined {
    const keysOk = isObj(destination) && Object.keys(destination).every((k) => k === 'addressLists' || k === 'portLists');
    const lists = keysOk && Array.isArray(destination.addressLists) ? destination.addressLists : undefined;
    if (!lists || lists.length === 0) return `must match its destinations by address lists, and has ${quote(destination)}`;
    const rendered: AddressListContent[] = [];
    for (const pointer of lists) {
      const at = this.reader.resolve(pointer, tenant, app);
      if (!at) return `has the destination pointer ${quote(pointer)}`;
      const content = this.reader.addressList(at);
      if (content.problem) return `matches destinations of ${content.problem}`;
      if (content.event) return `matches destinations of ${at.path}, a list of pods`;
      rendered.push(content);
    }
    // Fast path: the lists are the rule's inline destinations and its external services.
    const expected = want.destinationIds;
    const got = rendered.map((c) => c.id).sort((a, b) => a - b);
    if (expected.length === got.length && expected.every((id, k) => id === got[k])) return undefined;
    // Otherwise compare the union of the entries, and name what differs.
    const wanted = new Set(this.entries(rule.destinations));
    for (const d of rule.destinations) {
      if (d.kind === 'externalService') for (const e of this.entries(this.externalServices.get(d.name)?.destinations ?? [])) wanted.add(e);
    }
    const have = new Set(rendered.flatMap((c) => c.entries));
    const more = [...have].filter((e) => !wanted.has(e));
    const fewer = [...wanted].filter((e) => !have.has(e));
    if (more.length === 0 && fewer.length === 0) return undefined;
    const show = (es: string[]) =>
      es
        .slice(0, 3)
        .map((e) => e.slice(2))
        .join(', ') + (es.length > 3 ? ` and ${es.length - 3} more` : '');
    return [
      more.length ? `matches destinations the rule does not list (${show(more)})` : '',
      fewer.length ? `misses destinations the rule lists (${show(fewer)})` : '',
    ]
      .filter(Boolean)
      .join(' and ');
  }

  private portProblem(destination: unknown, spec: EntrySpec, tenant: string, app: string): string | undefined {
    const pointers = isObj(destination) ? destination.portLists : undefined;
    if (pointers === undefined)
      return spec.ranges ? `matches every ${spec.protocol} port where the rule lists ${spec.ranges.join(', ')}` : undefined;
    if (!spec.ranges) return `matches only some ports where the rule means every ${spec.protocol} port`;
    if (!Array.isArray(pointers) || pointers.length === 0) return `has the port lists ${quote(pointers)}`;
    const ranges = new Set<string>();
    for (const pointer of pointers) {
      const at = this.reader.resolve(pointer, tenant, app);
      if (!at) return `has the port pointer ${quote(pointer)}`;
      const content = this.reader.portList(at);
      if (content.problem) return `matches ports of ${content.problem}`;
      for (const r of content.ranges) ranges.add(r);
    }
    const got = [...ranges].sort(compareText);
    if (got.length === spec.ranges.length && got.every((r, k) => r === spec.ranges?.[k])) return undefined;
    return `matches ${spec.protocol} ports ${got.join(', ')} where the rule lists ${spec.ranges.join(', ')}`;
  }

  private iRuleProblem(iRule: unknown, rule: RuleModel, carried: boolean, tenant: string, app: string): string | undefined {
    const wanted = (rule.bandwidth || rule.onMatch) && !carried;
    if (!wanted)
      return iRule === undefined
        ? undefined
        : `runs the iRule ${quote(iRule)} though ${carried ? 'a carried copy' : 'the rule'} has no bandwidth limit to attach`;
    const at = this.reader.resolve(iRule, tenant, app);
    const text = at?.obj?.class === 'iRule' ? decodeIRule(at.obj.iRule) : undefined;
    if (!at?.obj || text === undefined)
      return `must ${rule.bandwidth ? "attach the rule's bandwidth limit" : "run the rule's onMatch code"} through an iRule, and has ${quote(iRule)}`;
    const [, iRuleTenant, iRuleApp] = at.path.split('/');
    const target = /BWC::policy attach (\S+)/.exec(text)?.[1];
    if (rule.onMatch) {
      if (at.obj.expand !== false) return `runs ${at.path}, whose text AS3 would expand (it needs expand: false)`;
      if (text !== onMatchIRuleText(rule.onMatch.code, rule.bandwidth ? target : undefined))
        return `runs ${at.path}, which is not the rule's onMatch code${rule.bandwidth ? ' after its bandwidth block' : ''}`;
      if (!rule.bandwidth) return undefined;
    }
    const policy = target === undefined ? undefined : this.reader.resolve(target, iRuleTenant, iRuleApp);
    const bw = rule.bandwidth as NonNullable<RuleModel['bandwidth']>;
    if (!policy?.obj || policy.obj.class !== 'Bandwidth_Control_Policy')
      return `runs ${at.path}, which attaches no Bandwidth_Control_Policy`;
    if (policy.obj.maxBandwidth !== bw.maxBandwidth || policy.obj.maxBandwidthUnit !== bw.unit) {
      return `attaches ${policy.path}, which limits to ${String(policy.obj.maxBandwidth)} ${String(policy.obj.maxBandwidthUnit)} where the rule says ${bw.maxBandwidth} ${bw.unit}`;
    }
    return undefined;
  }
}

function describeSource(list: SourceList): string {
  const s = list.source;
  const what =
    s.level === 'cluster'
      ? 'the cluster (with its selectors)'
      : s.level === 'namespace'
        ? `namespace ${s.namespace} (with its pod selector)`
        : `service ${s.namespace}/${s.service}`;
  return `${what}${list.schedule || list.expiresAt ? ' inside another time window' : ''}`;
}

/** The global and route-domain policies: each device's cluster (namespace) rules, in tenant order. */
function contexts(owner: string, checks: readonly DeviceCheck[], reader: DeclarationReader, issues: PolicyIssue[]): void {
  const shared = (name: string) => reader.resolve(`/${COMMON}/${SHARED}/${sharedItemName(owner, name)}`, COMMON, SHARED);
  const fail = (path: string, message: string) =>
    issues.push({
      path: `the shared context of ${owner}`,
      field: 'rendering',
      value: quote(path),
      message: `${message}; the declaration would not enforce the policy as written, so synth stops (this is a bug, please report it)`,
    });
  const policy = (
    name: string,
    level: 'cluster' | 'namespace',
    members: readonly DeviceCheck[],
    st: boolean,
    enforcedOn?: string,
    rd?: number,
  ) => {
    const at = shared(name);
    if (!at?.obj || at.obj.class !== 'Firewall_Policy') return fail(at?.path ?? name, 'the policy is missing');
    if (enforcedOn !== undefined && JSON.stringify(at.obj.routeDomainEnforcement) !== JSON.stringify([{ bigip: enforcedOn }])) {
      fail(at.path, `the route-domain policy is not enforced on its route domain ${enforcedOn}`);
    }
    const rules = Array.isArray(at.obj.rules) ? at.obj.rules : [];
    if (rules.length !== members.length)
      return fail(at.path, `the policy references ${rules.length} rule lists for ${members.length} clusters`);
    members.forEach((c, k) => c.ruleList(rules[k], COMMON, SHARED, c.expectation(level, st, rd)));
  };
  const ordered = [...checks].sort((a, b) => compareText(a.device.tenant, b.device.tenant));
  // Staged policies exist whether or not a rule is in audit: their attachments never change.
  for (const st of [false, true]) {
    const suffix = st ? OBJECT.staged : '';
    policy(OBJECT.globalPolicy + suffix, 'cluster', ordered, st);
    for (const rd of [...new Set(ordered.map((c) => c.device.routeDomain))].sort((a, b) => a - b)) {
      const members = ordered.filter((c) => c.device.routeDomain === rd);
      policy(routeDomainPolicyName(rd) + suffix, 'namespace', members, st, st ? undefined : routeDomainPath(members[0].device), rd);
    }
    // The mapped namespaces' route domains (each holds one device's namespace).
    for (const c of ordered) {
      for (const m of namespaceRouteDomains(c.device)) {
        const path = m.routeDomainPath ?? routeDomainPath({ routeDomain: m.routeDomain });
        policy(routeDomainPolicyName(m.routeDomain) + suffix, 'namespace', [c], st, st ? undefined : path, m.routeDomain);
      }
    }
  }
}
