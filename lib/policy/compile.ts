/**
 * The policy compiler: validated model → ordered per-level rules with BIG-IP object names.
 *
 * One pure function feeds every output (AS3, Kubernetes CRs, the controller's sync plan, the
 * evaluators and the tools), so they cannot disagree about order or names.
 *
 * Order within a level is (priority, namespace, name): deterministic, and equal to the
 * documented "priority, then name" wherever the order can matter (rules of different
 * namespaces never share a source pod).
 */
import {
  BANDWIDTH_IRULE_SUFFIX,
  ONMATCH_IRULE_PREFIX,
  Digest,
  OBJECT,
  Placement,
  afmRuleName,
  contentDigest,
  declaredListDigest,
  fitName,
  itemNameProblem,
  nameBudget,
  objectPath,
  routeDomainPolicyName,
  ruleBaseName,
  serviceDiscoveryTaskId,
} from './object-names';
import { EgressPolicyError, PolicyIssue, quote } from './errors';
import {
  AFM_ACTION,
  AddressModel,
  AfmAction,
  DeviceModel,
  ExternalServiceModel,
  FqdnModel,
  Level,
  PolicyModel,
  PortModel,
  RuleModel,
  ScheduleModel,
  SelectorModel,
  SourceModel,
  isEmptySelector,
  ruleKey,
} from './model';
import { PORTED_PROTOCOLS } from './port';
import { ruleExpired } from './schedule';
import { namespaceRouteDomains } from './route-domains';
import { snatIssues } from './snat';
import { RedirectObjects, redirectIssues, redirectObjects, sameCriteriaIssues } from './redirect';

/** An address list whose members the controller maintains (AS3 event-driven list). */
export interface SourceList {
  /** Full BIG-IP path. */
  readonly path: string;
  /** Item name inside its application. */
  readonly name: string;
  readonly placement: Placement;
  /** AS3 service-discovery task id (`~Common~Shared~name`). */
  readonly taskId: string;
  readonly source: SourceModel;
  /** Keys of the rules that use the list. */
  readonly rules: readonly string[];
  /** A windowed rule's private list: filled only inside the window and before expiry. */
  readonly schedule?: ScheduleModel;
  readonly expiresAt?: string;
}

/**
 * The static list of the device's pod CIDRs, rendered at synth: the source of the cluster rules
 * that match every pod by address ({@link matchesPodCidrs}). The controller never writes it.
 */
export interface PodCidrList {
  readonly path: string;
  readonly name: string;
  readonly placement: Placement;
  readonly addresses: readonly AddressModel[];
  /** Keys of the rules that use the list. */
  readonly rules: readonly string[];
}

export interface DestinationList {
  readonly path: string;
  readonly name: string;
  readonly placement: Placement;
  readonly addresses: readonly AddressModel[];
  readonly fqdns: readonly FqdnModel[];
  /** Set when the list is a named ExternalService. */
  readonly externalService?: string;
  readonly remark: string;
}

export interface PortList {
  readonly path: string;
  readonly name: string;
  readonly placement: Placement;
  /** Single ports as numbers, ranges as `"from-to"`; sorted. */
  readonly ports: readonly (number | string)[];
}

/** One AFM rule: a rule is split by protocol because an AFM rule has exactly one. */
export interface AfmRuleEntry {
  readonly name: string;
  readonly protocol: string;
  /** Path of the destination port list; absent = every port. */
  readonly portList?: string;
}

/** Objects that enforce a rule's bandwidth limit; names are item names, paths full paths. */
export interface BandwidthObjects {
  readonly placement: Placement;
  readonly policyName: string;
  readonly policy: string;
  readonly iRuleName: string;
  readonly iRule: string;
}

export interface CompiledRule {
  readonly key: string;
  readonly model: RuleModel;
  /** Staged only (the rule's own audit flag or the device's audit mode). */
  readonly audit: boolean;
  readonly afmAction: AfmAction;
  /** Path of the address list the AFM rules match the source by. */
  readonly sourceList: string;
  /**
   * Paths of the lists the controller fills that make up the source: the source list itself,
   * or none when the rule matches the pod CIDRs directly.
   */
  readonly memberLists: readonly string[];
  /** Paths of the destination address lists (a rule matches any of them). */
  readonly destinationLists: readonly string[];
  readonly entries: readonly AfmRuleEntry[];
  /** Bandwidth limit: the Bandwidth_Control_Policy and the iRule that attaches it on match. */
  readonly bandwidth?: BandwidthObjects;
  /** Redirect: the rule's listeners, destination list and gateway pool (see `redirect.ts`). */
  readonly redirect?: RedirectObjects;
  /**
   * The iRule that runs the rule's `onMatch` code; with a bandwidth limit it also attaches the
   * bandwidth policy (then `bandwidth.iRule` is this iRule too: a firewall rule has one).
   */
  readonly onMatch?: OnMatchObjects;
}

/** The iRule of a rule's `onMatch` code (`irule_<rule>`); names are item names, paths full paths. */
export interface OnMatchObjects {
  readonly iRuleName: string;
  readonly iRule: string;
}

export interface CompiledPolicy {
  /** The enforced policy: the input without its expired rules. */
  readonly model: PolicyModel;
  /** Rules whose `expiresAt` had come at compile time: not rendered, kept for the tools. */
  readonly expired: readonly RuleModel[];
  readonly levels: Readonly<Record<Level, readonly CompiledRule[]>>;
  /** The lists the controller fills (event-driven), sorted by path. */
  readonly sourceLists: readonly SourceList[];
  /** The pod CIDRs list, when a rule matches the pod CIDRs directly. */
  readonly podCidrList?: PodCidrList;
  readonly destinationLists: readonly DestinationList[];
  readonly portLists: readonly PortList[];
}

export interface CompileOptions {
  /** Time at which rules past `expiresAt` are left out. @default - the current time */
  readonly now?: Date;
  /**
   * Digest in content-derived object names. Tests inject a weak one to prove that a name
   * collision fails instead of merging two rules' objects.
   * @default contentDigest (64 bits of SHA-256)
   */
  readonly digest?: Digest;
}

/** Canonical JSON: sorted keys, so equal selectors give equal names. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * What decides the members of a rule's source list: its pods (an empty selector is no selector)
 * and its time window. Rules with equal identity may share a list; others never may.
 */
export function sourceIdentity(rule: Pick<RuleModel, 'source' | 'schedule' | 'expiresAt'>): string {
  let identity = sourceIdentities.get(rule);
  if (identity === undefined) {
    const s = rule.source;
    const selector = (sel: SelectorModel | undefined) => (isEmptySelector(sel) ? undefined : sel);
    identity = canonical({
      source: {
        level: s.level,
        namespace: s.namespace,
        service: s.service,
        namespaceSelector: selector(s.namespaceSelector),
        podSelector: selector(s.podSelector),
      },
      schedule: rule.schedule,
      expiresAt: rule.expiresAt,
    });
    sourceIdentities.set(rule, identity);
  }
  return identity;
}

/** Models are immutable: the compiler and the rendering check share each rule's identity. */
const sourceIdentities = new WeakMap<object, string>();

/** Item name of the static list of the device's pod CIDRs. */
export const SOURCE_POD_CIDRS = 'src_pod_cidrs';

/**
 * Whether a rule matches its source by the device's pod CIDRs instead of a list the controller
 * fills: a cluster rule over every pod (no namespace or pod selector) that denies, rejects or
 * allows finally, at all times (no window, no expiry), on a device that declares `podCidrs`.
 *
 * It then matches every address of the pod networks, including those no pod holds or a pod
 * holds that is in no source (terminating, finished): a DENY or REJECT only denies more, and an
 * ALLOW_FINAL gives those addresses what it gives every pod while consulting no lower level.
 * A plain ALLOW is left out: it lets a lower level deny, and a lower level's lists hold only
 * the pods the controller knows, so an address they miss (a pod not yet pushed, a terminating
 * pod) would be allowed where the contract gives it the default.
 */
export function matchesPodCidrs(
  rule: Pick<RuleModel, 'level' | 'action' | 'source' | 'schedule' | 'expiresAt'>,
  device: Pick<DeviceModel, 'podCidrs'>,
): boolean {
  return (
    rule.level === 'cluster' &&
    rule.action !== 'ALLOW' &&
    isEmptySelector(rule.source.namespaceSelector) &&
    isEmptySelector(rule.source.podSelector) &&
    !rule.schedule &&
    !rule.expiresAt &&
    device.podCidrs.length > 0
  );
}

function sourceListName(rule: RuleModel, digest: Digest): string {
  const s = rule.source;
  let base: string;
  if (s.level === 'cluster') {
    base =
      isEmptySelector(s.namespaceSelector) && isEmptySelector(s.podSelector)
        ? 'src_cluster'
        : `src_cluster_${digest(canonical({ n: s.namespaceSelector, p: s.podSelector }))}`;
  } else if (s.level === 'namespace') {
    base = isEmptySelector(s.podSelector) ? `src_ns_${s.namespace}` : `src_ns_${s.namespace}_${digest(canonical(s.podSelector))}`;
  } else {
    base = `src_svc_${s.namespace}_${s.service}`;
  }
  // A time-windowed or expiring rule gets its own list: the controller empties it outside the
  // window, which must not affect other rules with the same source.
  return rule.schedule || rule.expiresAt ? `${base}_w${digest(ruleKey(rule))}` : base;
}

function portListName(ports: readonly (number | string)[], digest: Digest): string {
  const readable = `ports_${ports.join('_')}`;
  return readable.length <= 40 ? readable : `ports_${declaredListDigest(digest, ports.join(','))}`;
}

function sortPorts(ports: readonly PortModel[]): (number | string)[] {
  return [...ports]
    .sort((a, b) => (a.fromPort ?? 0) - (b.fromPort ?? 0) || (a.toPort ?? 0) - (b.toPort ?? 0))
    .map((p) => (p.fromPort === p.toPort ? (p.fromPort as number) : `${p.fromPort}-${p.toPort}`));
}

/** Plain code-point order: the same on every machine and locale. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Evaluation order within a level: priority, then namespace, then name. */
export function compareRules(a: RuleModel, b: RuleModel): number {
  return a.priority - b.priority || compareText(a.namespace ?? '', b.namespace ?? '') || compareText(a.name, b.name);
}

function summarize(addresses: readonly AddressModel[], fqdns: readonly FqdnModel[]): string {
  const all = [...fqdns.map((f) => f.text), ...addresses.map((a) => a.text)];
  const first = all[0] ?? '';
  const text = all.length > 1 ? `${first} and ${all.length - 1} more` : first;
  return text.length <= 64 ? text : `${all.length} destinations`;
}

/**
 * Checks cross-rule constraints that single-rule validation cannot see. Returns every issue.
 */
export function crossRuleIssues(model: PolicyModel): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  const seen = new Map<string, RuleModel>();
  for (const rule of model.rules) {
    const key = ruleKey(rule);
    const other = seen.get(key);
    if (other) {
      issues.push({
        path: rule.path,
        field: 'name',
        value: quote(rule.name),
        message: `another ${rule.level} rule${rule.namespace ? ` in namespace "${rule.namespace}"` : ''} has this name (${other.path}); give one of them a different name`,
      });
    } else {
      seen.set(key, rule);
    }
  }
  const services = new Map<string, ExternalServiceModel>();
  for (const es of model.externalServices) {
    const other = services.get(es.name);
    if (other) {
      issues.push({
        path: es.path,
        field: 'name',
        value: quote(es.name),
        message: `another external service on this device has this name (${other.path}); give one of them a different name`,
      });
    }
    services.set(es.name, es);
  }
  const usesFqdn =
    model.rules.some((r) => r.destinations.some((d) => d.kind === 'fqdn')) ||
    model.externalServices.some((es) => es.destinations.some((d) => d.kind === 'fqdn'));
  if (usesFqdn && !model.device.dnsResolver) {
    issues.push({
      path: model.device.path,
      field: 'dnsResolver',
      value: 'nothing',
      message:
        'FQDN destinations are resolved by the BIG-IP, which needs a DNS resolver for its global FQDN policy (AS3 cannot set one); set dnsResolver (on the AfmDevice, or on its SharedBigip) to the path of a net dns-resolver such as "/Common/egress-resolver"',
    });
  }
  for (const rule of model.rules) {
    rule.destinations.forEach((d, i) => {
      if (d.kind === 'externalService' && !services.has(d.name)) {
        issues.push({
          path: rule.path,
          field: `destinations[${i}]`,
          value: quote(d.name),
          message: "no ExternalService of that name is attached to this rule's AfmDevice; create it on the same device",
        });
      }
    });
  }
  issues.push(...snatIssues(model));
  issues.push(...redirectIssues(model));
  return issues;
}

/** What an object name stands for: checked on every reuse of the name. */
interface NameClaim {
  /** What the object is, for messages: `the source list`, `the destination list`. */
  readonly what: string;
  /** Construct path of the rule, external service or device that first needed the object. */
  readonly owner: string;
  /** Canonical text of everything that decides what the object matches or does. */
  readonly content: string;
}

/**
 * Every BIG-IP name the compiler hands out, with what it stands for. Content-derived names are
 * shared by everything with equal content (that is their point); a name that comes back with
 * other content is a digest collision, and sharing the object would make one rule match the
 * other's sources, destinations or ports. So a mismatch is an issue naming both owners.
 */
class NameRegistry {
  private readonly claims = new Map<string, NameClaim>();

  constructor(
    private readonly issues: PolicyIssue[],
    private readonly namespaceOfNames: string,
  ) {}

  /** Claims `name`; false (with an issue on the claimant's `field`) when it stands for something else. */
  public claim(name: string, claim: NameClaim, field: string): boolean {
    const other = this.claims.get(name);
    if (!other) {
      this.claims.set(name, claim);
      return true;
    }
    if (other.content === claim.content) return true;
    this.issues.push({
      path: claim.owner,
      field,
      value: quote(name),
      message:
        `${this.namespaceOfNames} "${name}" would stand both for ${other.what} of ${other.owner} and for ${claim.what} of ${claim.owner}; ` +
        "one object for both would make each match the other's content, so synth stops. Their names come from a digest of their content, so this is a digest collision: " +
        'change one of them (a name, the source, the destinations or the ports) and report the collision',
    });
    return false;
  }
}

/** Compiles a policy; throws {@link EgressPolicyError} with every issue found. */
export function compilePolicy(input: PolicyModel, options: CompileOptions = {}): CompiledPolicy {
  const now = options.now ?? new Date();
  const digest = options.digest ?? contentDigest;
  const issues = crossRuleIssues(input);
  if (issues.length) throw new EgressPolicyError(issues);
  // An expired rule is rendered to nothing: fail closed for ALLOW, and a DENY stops denying as
  // its owner asked. The enforced model is what every output (and its recompilation) sees.
  const expired = input.rules.filter((r) => ruleExpired(r, now));
  const model = expired.length ? { ...input, rules: input.rules.filter((r) => !ruleExpired(r, now)) } : input;

  const { device } = model;
  const { tenant, application } = device;
  const pathOf = (placement: Placement, name: string) => objectPath(tenant, application, placement, name);
  // Names too long for AS3 keep a readable head and end in a digest of the whole name.
  const fit = (placement: Placement, readable: string, reserve = 0) =>
    fitName(readable, nameBudget(tenant, application, placement) - reserve, digest);

  const nameIssues: PolicyIssue[] = [];
  const items = new NameRegistry(nameIssues, 'BIG-IP object');
  const afmRules = new NameRegistry(nameIssues, 'AFM rule name');
  const checkPath = (path: string, owner: string, field: string, value: string, fix: string) => {
    const problem = itemNameProblem(path);
    if (problem) nameIssues.push({ path: owner, field, value: quote(value), message: `${problem}; ${fix}` });
  };

  // The renderer's fixed objects: no content-derived name may take theirs.
  const fixed = (placement: Placement, name: string) =>
    items.claim(pathOf(placement, name), { what: `the fixed object ${name}`, owner: device.path, content: `fixed ${name}` }, 'tenant');
  for (const name of [
    OBJECT.clusterRules,
    OBJECT.namespaceRules,
    OBJECT.serviceRules,
    OBJECT.carriedAllow,
    OBJECT.virtualPolicy,
    OBJECT.globalPolicy,
    routeDomainPolicyName(device.routeDomain),
  ]) {
    fixed('shared', name);
    fixed('shared', name + OBJECT.staged);
  }
  for (const name of [
    OBJECT.gatewayPool,
    OBJECT.virtualServer,
    OBJECT.snatPool,
    OBJECT.logPool,
    OBJECT.logHsl,
    OBJECT.logSyslog,
    OBJECT.logPublisher,
    OBJECT.logProfile,
  ]) {
    fixed('tenant', name);
  }
  // A mapped namespace's rule list, route-domain policy and virtual server.
  for (const m of namespaceRouteDomains(device)) {
    for (const name of [`${OBJECT.namespaceRules}_rd${m.routeDomain}`, routeDomainPolicyName(m.routeDomain)]) {
      fixed('shared', name);
      fixed('shared', name + OBJECT.staged);
    }
    fixed('tenant', `${OBJECT.virtualServer}_rd${m.routeDomain}`);
  }

  // Destination lists: one per ExternalService, one per distinct inline destination set.
  const destinationLists = new Map<string, DestinationList>();
  const externalServicePaths = new Map<string, string>();
  for (const es of [...model.externalServices].sort((a, b) => compareText(a.name, b.name))) {
    const name = fit('shared', `exsvc_${es.name}`);
    const path = pathOf('shared', name);
    checkPath(path, es.path, 'name', es.name, 'shorten the tenant or the external service name');
    const addresses = sortAddresses(es.destinations.filter((d): d is AddressModel => d.kind !== 'fqdn'));
    const fqdns = sortFqdns(es.destinations.filter((d): d is FqdnModel => d.kind === 'fqdn'));
    const content = canonical({ es: es.name, a: addresses.map((a) => a.text), f: fqdns.map((f) => f.text) });
    externalServicePaths.set(es.name, path);
    if (!items.claim(path, { what: `the address list of external service ${es.name}`, owner: es.path, content }, 'name')) continue;
    destinationLists.set(path, {
      path,
      name,
      placement: 'shared',
      addresses,
      fqdns,
      externalService: es.name,
      remark: es.description ?? `external service ${es.name}`,
    });
  }

  const sourceLists = new Map<string, { list: Omit<SourceList, 'rules'>; rules: string[] }>();
  let podCidrList: { path: string; name: string; placement: Placement; addresses: AddressModel[]; rules: string[] } | undefined;
  const portLists = new Map<string, PortList>();
  const levels: Record<Level, CompiledRule[]> = { cluster: [], namespace: [], service: [] };

  const redirectCriteria = new Map<string, string>();
  for (const rule of [...model.rules].sort(compareRules)) {
    const key = ruleKey(rule);

    const sourceContent = sourceIdentity(rule);
    const srcField =
      rule.level === 'cluster'
        ? 'namespaceSelector, podSelector'
        : rule.level === 'namespace'
          ? 'namespace, podSelector'
          : 'namespace, service';
    let srcPath: string;
    let memberLists: string[];
    if (matchesPodCidrs(rule, device)) {
      const name = SOURCE_POD_CIDRS;
      srcPath = pathOf('shared', name);
      memberLists = [];
      const addresses = sortAddresses(device.podCidrs);
      if (
        items.claim(
          srcPath,
          { what: 'the pod CIDRs list', owner: device.path, content: canonical({ podCidrs: addresses.map((a) => a.text) }) },
          srcField,
        )
      ) {
        if (podCidrList) podCidrList.rules.push(key);
        else podCidrList = { path: srcPath, name, placement: 'shared', addresses, rules: [key] };
      }
    } else {
      const srcName = fit('shared', sourceListName(rule, digest));
      srcPath = pathOf('shared', srcName);
      memberLists = [srcPath];
      if (items.claim(srcPath, { what: `the source list of rule ${key}`, owner: rule.path, content: sourceContent }, srcField)) {
        const existing = sourceLists.get(srcPath);
        if (existing) {
          existing.rules.push(key);
        } else {
          const field = rule.level === 'cluster' ? 'name' : 'namespace';
          checkPath(
            srcPath,
            rule.path,
            field,
            rule.level === 'cluster' ? rule.name : (rule.namespace as string),
            rule.level === 'cluster'
              ? 'shorten the tenant name'
              : `shorten the tenant, namespace${rule.level === 'service' ? ' or service' : ''} name`,
          );
          sourceLists.set(srcPath, {
            list: {
              path: srcPath,
              name: srcName,
              placement: 'shared',
              taskId: serviceDiscoveryTaskId(srcPath),
              source: rule.source,
              schedule: rule.schedule,
              expiresAt: rule.expiresAt,
            },
            rules: [key],
          });
        }
      }
    }

    const dstPaths: string[] = [];
    const inlineAddresses = rule.destinations.filter(
      (d): d is AddressModel => d.kind === 'address' || d.kind === 'cidr' || d.kind === 'range',
    );
    const inlineFqdns = rule.destinations.filter((d): d is FqdnModel => d.kind === 'fqdn');
    if (inlineAddresses.length || inlineFqdns.length) {
      const addresses = sortAddresses(inlineAddresses);
      const fqdns = sortFqdns(inlineFqdns);
      const content = canonical({ a: addresses.map((a) => a.text), f: fqdns.map((f) => f.text) });
      const name = `dst_${declaredListDigest(digest, content)}`;
      const path = pathOf('shared', name);
      if (
        items.claim(path, { what: `the destination list of rule ${key}`, owner: rule.path, content }, 'destinations') &&
        !destinationLists.has(path)
      ) {
        destinationLists.set(path, { path, name, placement: 'shared', addresses, fqdns, remark: summarize(addresses, fqdns) });
      }
      dstPaths.push(path);
    }
    for (const d of rule.destinations) {
      if (d.kind === 'externalService') dstPaths.push(externalServicePaths.get(d.name) as string);
    }

    // One AFM rule per protocol; ports of the same protocol share one port list.
    const byProtocol = new Map<string, PortModel[]>();
    for (const p of rule.ports.length ? rule.ports : [{ protocol: 'any' }]) {
      byProtocol.set(p.protocol, [...(byProtocol.get(p.protocol) ?? []), p]);
    }
    const entries: AfmRuleEntry[] = [];
    for (const protocol of [...byProtocol.keys()].sort()) {
      const ports = byProtocol.get(protocol) as PortModel[];
      let portList: string | undefined;
      if (PORTED_PROTOCOLS.has(protocol) && ports.every((p) => p.fromPort !== undefined)) {
        const sorted = sortPorts(ports);
        const name = portListName(sorted, digest);
        portList = pathOf('shared', name);
        if (
          items.claim(
            portList,
            { what: `the ${protocol} port list of rule ${key}`, owner: rule.path, content: canonical({ ports: sorted }) },
            'ports',
          ) &&
          !portLists.has(portList)
        ) {
          portLists.set(portList, { path: portList, name, placement: 'shared', ports: sorted });
        }
      }
      const entryName = afmRuleName(device, rule, protocol, digest);
      afmRules.claim(
        entryName,
        { what: `the ${protocol} AFM rule of rule ${key}`, owner: rule.path, content: `${key} ${protocol}` },
        'name',
      );
      checkPath(`/${tenant}/${application}/${entryName}`, rule.path, 'name', rule.name, 'shorten the rule, namespace or tenant name');
      entries.push({ name: entryName, protocol, portList });
    }

    let onMatch: CompiledRule['onMatch'];
    if (rule.onMatch) {
      const iRuleName = fit('shared', `${ONMATCH_IRULE_PREFIX}${ruleBaseName(rule)}`);
      onMatch = { iRuleName, iRule: pathOf('shared', iRuleName) };
      const content = canonical({ rule: key, onMatch: rule.onMatch.sha256, bandwidth: rule.bandwidth });
      items.claim(onMatch.iRule, { what: `the onMatch iRule of rule ${key}`, owner: rule.path, content }, 'onMatch');
      checkPath(onMatch.iRule, rule.path, 'name', rule.name, 'shorten the rule, namespace or tenant name');
    }
    let bandwidth: CompiledRule['bandwidth'];
    if (rule.bandwidth) {
      // Every rule list lives in /Common/Shared, which may only reference objects of its own.
      const placement: Placement = 'shared';
      const policyName = fit(placement, `bwc_${ruleBaseName(rule)}`, BANDWIDTH_IRULE_SUFFIX.length);
      const iRuleName = onMatch?.iRuleName ?? `${policyName}${BANDWIDTH_IRULE_SUFFIX}`;
      bandwidth = { placement, policyName, policy: pathOf(placement, policyName), iRuleName, iRule: pathOf(placement, iRuleName) };
      const content = canonical({ rule: key, bandwidth: rule.bandwidth });
      items.claim(bandwidth.policy, { what: `the bandwidth policy of rule ${key}`, owner: rule.path, content }, 'bandwidthLimit');
      if (!onMatch) {
        items.claim(bandwidth.iRule, { what: `the bandwidth iRule of rule ${key}`, owner: rule.path, content }, 'bandwidthLimit');
        checkPath(bandwidth.iRule, rule.path, 'name', rule.name, 'shorten the rule, namespace or tenant name');
      }
    }

    const redirect =
      rule.redirect &&
      redirectObjects({ ...rule, redirect: rule.redirect }, model, entries, ruleBaseName(rule), {
        fit: (readable, reserve) => fit('tenant', readable, reserve),
        claim: (name, what, content) => {
          checkPath(
            pathOf('tenant', name),
            rule.path,
            'redirect',
            rule.redirect!.name,
            'shorten the redirect, rule, namespace or tenant name',
          );
          return items.claim(pathOf('tenant', name), { what, owner: rule.path, content }, 'redirect');
        },
      });
    if (redirect) nameIssues.push(...sameCriteriaIssues(redirectCriteria, srcPath, redirect, rule));

    levels[rule.level].push({
      key,
      model: rule,
      audit: rule.audit || model.device.audit,
      afmAction: AFM_ACTION[rule.action],
      sourceList: srcPath,
      memberLists,
      destinationLists: dstPaths,
      entries,
      bandwidth,
      ...(redirect ? { redirect } : {}),
      ...(onMatch ? { onMatch } : {}),
    });
  }
  if (nameIssues.length) throw new EgressPolicyError(nameIssues);

  const byPath = <T extends { path: string }>(a: T, b: T) => compareText(a.path, b.path);
  return {
    model,
    expired,
    levels,
    sourceLists: [...sourceLists.values()].map(({ list, rules }) => ({ ...list, rules })).sort(byPath),
    ...(podCidrList ? { podCidrList } : {}),
    destinationLists: [...destinationLists.values()].sort(byPath),
    portLists: [...portLists.values()].sort(byPath),
  };
}

function sortAddresses(a: readonly AddressModel[]): AddressModel[] {
  return [...a].sort((x, y) => x.family - y.family || compareText(x.text, y.text));
}

function sortFqdns(f: readonly FqdnModel[]): FqdnModel[] {
  return [...f].sort((x, y) => compareText(x.text, y.text));
}
