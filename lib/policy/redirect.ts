/**
 * Traffic redirection: an ALLOW or ALLOW_FINAL rule may send what it lets through to its own
 * next hops (an inspection proxy pool, a partner gateway) instead of the device's gateways.
 *
 * On the BIG-IP each redirect rule gets one extra virtual server per protocol whose
 * traffic-matching criteria are the rule's own source list, destinations and port list, with a
 * gateway pool of the redirect's next hops and the same firewall policies as the egress virtual
 * server (docs/redirection.md). This module holds the public value object, the synth checks
 * that only a whole policy can make, and the next hop both evaluators report.
 */
import { EgressPolicyError, InvalidValueError, PolicyIssue, quote } from './errors';
import { AddressEntry, addressEntry, parseAddressEntry } from './ip';
import type { AddressModel, DestinationModel, PolicyModel, PortModel, RedirectModel, RuleModel } from './model';
import { ruleKey } from './model';
import { dnsLabelProblem } from './names';
import { protocolToken } from './object-names';
import { describe as describeValue } from './struct';

/** `describe` that never throws: a hostile value (a throwing proxy) is named, not read. */
function describe(value: unknown): string {
  try {
    return describeValue(value);
  } catch {
    return 'an unreadable value';
  }
}

/** Longest redirect name: it is part of BIG-IP object names (`rdr_<name>`). */
export const REDIRECT_NAME_MAX = 40;
/** Most next hops of one redirect (members of its gateway pool). */
export const REDIRECT_GATEWAYS_MAX = 16;

/** What a factory was given, kept as given: checked when a rule receives it, so the error names the rule. */
interface RedirectArguments {
  readonly call: string;
  readonly name: unknown;
  readonly gateways: unknown;
}

const ARGUMENTS = new WeakMap<object, RedirectArguments>();
/** Stands for gateways that could not be read. */
const UNREADABLE = Symbol('unreadable gateways');

/** Whether `x` is a redirect made by a factory of {@link EgressRedirect}. */
export function isEgressRedirect(x: unknown): x is EgressRedirect {
  return typeof x === 'object' && x !== null && ARGUMENTS.has(x);
}

/**
 * Where an ALLOW or ALLOW_FINAL rule sends the traffic it lets through, instead of the
 * device's gateways (or routing table).
 *
 * Values are checked when a rule receives them, so an error names the rule's construct path.
 */
export class EgressRedirect {
  /**
   * Through a pool of next-hop gateways (IPv4 addresses): each connection goes to one of them,
   * its destination address and port unchanged.
   *
   * @param name names the redirect on the BIG-IP (`rdr_<name>` pool): a DNS label of at most 40
   * characters; rules that use the same name must give the same gateways.
   * @param gateways the next hops, such as `['192.0.2.1', '192.0.2.2']`
   */
  public static viaGateways(name: string, gateways: string[]): EgressRedirect {
    return new EgressRedirect({ call: `EgressRedirect.viaGateways(${describe(name)}, ${describe(gateways)})`, name, gateways });
  }

  private constructor(args: RedirectArguments) {
    // The gateways are copied: a caller's array changed later cannot change the redirect. An
    // array that cannot be read (a throwing proxy or getter) is refused when a rule reads it.
    let gateways: unknown = args.gateways;
    try {
      if (Array.isArray(gateways)) gateways = Object.freeze(Array.from({ length: gateways.length }, (_, i) => (gateways as unknown[])[i]));
    } catch {
      gateways = UNREADABLE;
    }
    ARGUMENTS.set(this, { ...args, gateways });
    Object.freeze(this);
  }

  /** How the redirect was made, such as `EgressRedirect.viaGateways("proxy", ["192.0.2.1"])`. */
  public toString(): string {
    return ARGUMENTS.get(this)?.call ?? 'an EgressRedirect not made by its factories';
  }

  /**
   * The validated model; throws {@link InvalidValueError} naming the first problem.
   * @internal
   */
  public _toModel(): RedirectModel {
    const args = ARGUMENTS.get(this);
    if (!args) throw new InvalidValueError(quote(String(this)), 'is not an EgressRedirect made with EgressRedirect.viaGateways()');
    return redirectModel(args);
  }
}

function redirectModel(args: RedirectArguments): RedirectModel {
  const { name, gateways } = args;
  const example = 'EgressRedirect.viaGateways("inspection", ["192.0.2.1"])';
  if (typeof name !== 'string') throw new InvalidValueError(describe(name), `the redirect name must be a string, such as ${example}`);
  const labelProblem = dnsLabelProblem(name);
  if (labelProblem || name.length > REDIRECT_NAME_MAX) {
    throw new InvalidValueError(
      quote(name),
      `the redirect name ${labelProblem ?? `has ${name.length} characters`}: it must be a DNS label of at most ${REDIRECT_NAME_MAX} characters, such as "inspection"`,
    );
  }
  if (gateways === UNREADABLE) {
    throw new InvalidValueError(
      'an unreadable array',
      'the gateways could not be read (an element or the array threw); pass a plain array of IPv4 address strings',
    );
  }
  if (!Array.isArray(gateways) || gateways.length === 0) {
    throw new InvalidValueError(describe(gateways), `a redirect needs at least one next-hop gateway address, such as ${example}`);
  }
  if (gateways.length > REDIRECT_GATEWAYS_MAX) {
    throw new InvalidValueError(`${gateways.length} gateways`, `a redirect has at most ${REDIRECT_GATEWAYS_MAX} gateways`);
  }
  const out: AddressModel[] = [];
  gateways.forEach((g, i) => {
    if (typeof g !== 'string')
      throw new InvalidValueError(describe(g), `gateways[${i}] must be an IPv4 address string such as "192.0.2.1"`);
    let entry: AddressEntry;
    try {
      entry = addressEntry(g);
    } catch (e) {
      if (!(e instanceof InvalidValueError)) throw e;
      throw new InvalidValueError(
        quote(g),
        `gateways[${i}] is not one IP address (a next hop is an address, not a CIDR or range): ${e.problem}`,
      );
    }
    // AS3 gives a virtual server matched by address lists an IPv4 wildcard destination
    // (`virtualAddresses` becomes ["0.0.0.0"], map_as3.js:2683-2685), so redirection is IPv4 only.
    if (entry.family !== 4) {
      throw new InvalidValueError(
        quote(g),
        `gateways[${i}] is IPv6 and redirection is IPv4 only (AS3 builds the redirect listener on an IPv4 wildcard); use IPv4 next hops`,
      );
    }
    const first = out.findIndex((o) => o.text === entry.text);
    if (first >= 0) throw new InvalidValueError(quote(g), `gateways[${i}] repeats gateways[${first}]; list each next hop once`);
    out.push({ kind: 'address', text: entry.text, family: 4 });
  });
  return { name, gateways: out };
}

/**
 * Checks of one rule's redirect that need only the rule (called by the rule's validation).
 * Returns every issue.
 */
export function ruleRedirectIssues(
  path: string,
  rule: {
    readonly action: string;
    readonly audit?: boolean;
    readonly destinations: readonly DestinationModel[];
    readonly ports: readonly PortModel[];
  },
  redirect: unknown,
): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  const value = describe(redirect);
  if (rule.action !== 'ALLOW' && rule.action !== 'ALLOW_FINAL') {
    issues.push({
      path,
      field: 'redirect',
      value,
      message: `a ${rule.action} rule lets nothing through, so it has nothing to redirect; remove redirect or make the rule ALLOW or ALLOW_FINAL`,
    });
  }
  if (rule.audit) {
    issues.push({
      path,
      field: 'redirect',
      value,
      message:
        'an audit rule only reports what it would do, but a redirect would move live traffic to other next hops; remove redirect while the rule is in audit, or remove audit',
    });
  }
  rule.ports.forEach((p, i) => {
    if (!NO_LISTENER_PROTOCOLS.has(p.protocol)) return;
    issues.push({
      path,
      field: `ports[${i}]`,
      value: quote(p.protocol),
      message: `a virtual server cannot listen for protocol "${p.protocol}" (not a Service_L4 layer4 of AS3), so it cannot be redirected; split the rule and redirect the other protocols`,
    });
  });
  rule.destinations.forEach((d, i) => {
    const problem = redirectDestinationProblem(d);
    if (problem)
      issues.push({ path, field: `destinations[${i}]`, value: quote(d.kind === 'externalService' ? d.name : d.text), message: problem });
  });
  return issues;
}

/** AFM protocols that AS3's `Service_L4.layer4` enum does not hold (AS3 3.56 schema, Service_L4_Core). */
const NO_LISTENER_PROTOCOLS: ReadonlySet<string> = new Set(['ipv4', 'mobility-header', 'rohc']);

/** Why a destination cannot be matched by a redirect listener, if it cannot. */
function redirectDestinationProblem(d: DestinationModel | { kind: 'fqdn'; text: string }): string | undefined {
  if (d.kind === 'externalService') return undefined;
  if (d.kind === 'fqdn') {
    return 'a redirect rule matches its destinations in a traffic-matching criteria, where FQDN entries are not known to work; give the addresses (or CIDRs) of the host instead, or drop redirect';
  }
  if (d.family !== 4) return 'redirection is IPv4 only (AS3 builds the redirect listener on an IPv4 wildcard); list IPv4 destinations only';
  const entry = parseAddressEntry(d.text);
  if (entry.first === 0n && entry.last === (1n << 32n) - 1n) {
    return 'a redirect listener for every IPv4 address would be exactly as specific as the egress virtual server, and BIG-IP does not document which of the two then takes the traffic; list the networks to redirect';
  }
  return undefined;
}

/** The address intervals a rule's destinations cover, external services resolved. */
function destinationIntervals(rule: RuleModel, model: PolicyModel): AddressEntry[] {
  const services = new Map(model.externalServices.map((es) => [es.name, es]));
  const out: AddressEntry[] = [];
  for (const d of rule.destinations) {
    const all = d.kind === 'externalService' ? (services.get(d.name)?.destinations ?? []) : [d];
    for (const x of all) if (x.kind !== 'fqdn') out.push(parseAddressEntry(x.text));
  }
  return out;
}

function portsOverlap(a: readonly PortModel[], b: readonly PortModel[]): boolean {
  const all = (ps: readonly PortModel[]) => (ps.length ? ps : [{ protocol: 'any' } as PortModel]);
  return all(a).some((p) =>
    all(b).some((q) => {
      if (p.protocol !== 'any' && q.protocol !== 'any' && p.protocol !== q.protocol) return false;
      if (p.fromPort === undefined || q.fromPort === undefined) return true;
      return p.fromPort <= (q.toPort ?? q.fromPort) && q.fromPort <= (p.toPort ?? p.fromPort);
    }),
  );
}

/** Whether two rules' sources may hold the same pod (rules of different namespaces never do). */
function sourcesMayOverlap(a: RuleModel, b: RuleModel): boolean {
  if (a.level === 'cluster' || b.level === 'cluster') return true;
  return a.namespace === b.namespace;
}

/**
 * Checks of the redirects that need the whole policy: every issue.
 * - A redirect name stands for one set of gateways.
 * - External services of a redirect rule hold IPv4 addresses only (no FQDN, no wildcard).
 * - The pod CIDRs, when declared, include an IPv4 network (redirection is IPv4 only).
 * - The device is in route domain 0: elsewhere AS3 names the route domain `/Common/<id>` in the
 *   traffic-matching criteria (map_as3.js:2924), which mcpd has been seen to refuse (AS3 issue
 *   #917: "The requested name_idx (/Common/1) was not found"). The issue does not say whether a
 *   route domain named by its id avoids it, so every other route domain is refused.
 * - Two redirects with different targets never claim the same flow: BIG-IP does not document
 *   which of two virtual servers with traffic-matching criteria takes it.
 * - A redirect listener is more specific than the egress virtual server under any reading of
 *   that ranking: not when it matches by the pod CIDRs (as the egress virtual server does) on
 *   every port.
 */
export function redirectIssues(model: PolicyModel): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  const redirected = model.rules.filter((r): r is RuleModel & { redirect: RedirectModel } => r.redirect !== undefined);
  if (redirected.length === 0) return issues;
  const { device } = model;
  const byName = new Map<string, RuleModel & { redirect: RedirectModel }>();
  const gatewayText = (r: RedirectModel) => r.gateways.map((g) => g.text).join(', ');
  for (const rule of redirected) {
    const other = byName.get(rule.redirect.name);
    if (!other) byName.set(rule.redirect.name, rule);
    else if (gatewayText(other.redirect) !== gatewayText(rule.redirect)) {
      issues.push({
        path: rule.path,
        field: 'redirect',
        value: quote(rule.redirect.name),
        message: `redirect "${rule.redirect.name}" goes to ${gatewayText(other.redirect)} in ${other.path} but to ${gatewayText(rule.redirect)} here; one redirect name stands for one set of gateways: use the same EgressRedirect, or another name`,
      });
    }
    const services = new Map(model.externalServices.map((es) => [es.name, es]));
    for (const d of rule.destinations) {
      if (d.kind !== 'externalService') continue;
      for (const x of services.get(d.name)?.destinations ?? []) {
        const problem = redirectDestinationProblem(x);
        if (problem)
          issues.push({
            path: rule.path,
            field: 'destinations',
            value: quote(`${d.name}: ${x.text}`),
            message: `external service "${d.name}": ${problem}`,
          });
      }
    }
  }
  if (device.podCidrs.length && !device.podCidrs.some((c) => c.family === 4)) {
    issues.push({
      path: redirected[0].path,
      field: 'redirect',
      value: quote(redirected[0].redirect.name),
      message: `the device's podCidrs (${device.podCidrs.map((c) => c.text).join(', ')}) hold no IPv4 network and redirection is IPv4 only; remove redirect`,
    });
  }
  if (device.routeDomain !== 0) {
    issues.push({
      path: redirected[0].path,
      field: 'redirect',
      value: quote(redirected[0].redirect.name),
      message: `AS3 writes route domain "/Common/${device.routeDomain}" into a redirect listener's traffic-matching criteria, and BIG-IP has been seen to refuse that ("The requested name_idx (/Common/1) was not found", AS3 issue #917, open; whether a route domain named by its id avoids it is not known); redirection needs routeDomain 0: remove redirect, or use route domain 0`,
    });
  }
  // Pods of a mapped namespace arrive in a route domain of their own, where no redirect listener
  // (route domain 0 only, above) would see them.
  if (device.namespaceRouteDomains?.length) {
    issues.push({
      path: redirected[0].path,
      field: 'redirect',
      value: quote(redirected[0].redirect.name),
      message: `device ${device.path} maps namespaces to route domains of their own (namespaceRouteDomains), and redirect listeners live in route domain 0 only; remove redirect, or the namespaceRouteDomains from the device`,
    });
  }
  for (const rule of redirected) {
    if (rule.ports.length || !sourceIsPodCidrs(rule, device.podCidrs.length > 0)) continue;
    issues.push({
      path: rule.path,
      field: 'redirect',
      value: quote(rule.redirect.name),
      message:
        'this rule matches every pod by the pod CIDRs, as the egress virtual server does, on every port; whether BIG-IP then ranks the redirect listener first rests on how it ranks address lists, which F5 does not document; give the rule ports, or a namespace or pod selector',
    });
  }
  for (let i = 0; i < redirected.length; i++) {
    for (let j = i + 1; j < redirected.length; j++) {
      const a = redirected[i];
      const b = redirected[j];
      if (a.redirect.name === b.redirect.name || !sourcesMayOverlap(a, b) || !portsOverlap(a.ports, b.ports)) continue;
      const da = destinationIntervals(a, model);
      const db = destinationIntervals(b, model);
      if (!da.some((x) => db.some((y) => x.family === y.family && x.first <= y.last && y.first <= x.last))) continue;
      issues.push({
        path: b.path,
        field: 'redirect',
        value: quote(b.redirect.name),
        message: `rule ${ruleKey(b)} redirects to "${b.redirect.name}" and rule ${ruleKey(a)} (${a.path}) to "${a.redirect.name}", and a flow can match both (their sources, destinations and ports overlap); BIG-IP does not document which of two such listeners takes the flow, so give them disjoint destinations or ports, or the same redirect`,
      });
    }
  }
  return issues;
}

/**
 * Whether the rule's source list is the static list of the pod CIDRs (the compiler's
 * `matchesPodCidrs`, restated here because the compiler depends on this module).
 */
function sourceIsPodCidrs(rule: RuleModel, podCidrsDeclared: boolean): boolean {
  const empty = (sel: RuleModel['source']['podSelector']) =>
    !sel || (Object.keys(sel.matchLabels).length === 0 && sel.matchExpressions.length === 0);
  return (
    podCidrsDeclared &&
    rule.level === 'cluster' &&
    rule.action !== 'ALLOW' &&
    !rule.schedule &&
    !rule.expiresAt &&
    empty(rule.source.namespaceSelector) &&
    empty(rule.source.podSelector)
  );
}

/** Throws the issues of {@link redirectIssues}, if any. */
export function checkRedirects(model: PolicyModel): void {
  const issues = redirectIssues(model);
  if (issues.length) throw new EgressPolicyError(issues);
}

/**
 * Where an allowed flow leaves the BIG-IP for: the gateways of a pool (the device's, or a
 * redirect's), or the routing table when the device declares no gateways.
 */
export interface NextHop {
  readonly via: 'gateways' | 'routing-table';
  /** Canonical next-hop addresses without route domain, sorted; empty for the routing table. */
  readonly gateways: readonly string[];
  /** Name of the redirect that sent the flow (intent evaluator), when one did. */
  readonly redirect?: string;
  /** BIG-IP path of the virtual server that took the flow (AFM evaluator). */
  readonly virtualServer?: string;
}

/** One line for explain and simulate: `gateways 192.0.2.1, 192.0.2.2 (redirect "proxy")`. */
export function describeNextHop(hop: NextHop): string {
  const where =
    hop.via === 'routing-table' ? 'the routing table' : `gateway${hop.gateways.length > 1 ? 's' : ''} ${hop.gateways.join(', ')}`;
  const why = [hop.redirect ? `redirect "${hop.redirect}"` : '', hop.virtualServer ? `virtual server ${hop.virtualServer}` : '']
    .filter(Boolean)
    .join(', ');
  return `${where}${why ? ` (${why})` : ''}`;
}

/** One listener of a redirect rule: one per protocol of the rule (a traffic-matching criteria has one). */
export interface RedirectVirtual {
  /** Item name in the tenant's application. */
  readonly name: string;
  /** Service_L4 `layer4`: the rule's protocol, or `any`. */
  readonly protocol: string;
  /** Path of the rule's port list for this protocol; absent = every port. */
  readonly portList?: string;
}

/** The BIG-IP objects of a redirect rule, all in the tenant's application except the lists it reuses. */
export interface RedirectObjects {
  readonly target: RedirectModel;
  /** Item name of the target's gateway pool (one per redirect name). */
  readonly poolName: string;
  /** Item name of the rule's destination address list (its destinations, external services resolved). */
  readonly destinationListName: string;
  /** Addresses of that list: sorted, canonical. */
  readonly addresses: readonly AddressModel[];
  readonly virtuals: readonly RedirectVirtual[];
}

/** What the compiler lends {@link redirectObjects}: its naming and its registry of names. */
export interface RedirectNaming {
  /** A tenant item name from a readable one, shortened with a digest to leave `reserve` characters. */
  readonly fit: (readable: string, reserve: number) => string;
  /** Claims a tenant item name for content; false (with an issue recorded) on a collision. */
  readonly claim: (name: string, what: string, content: string) => boolean;
}

/**
 * Names and contents of a redirect rule's objects. `entries` are the rule's AFM entries (one per
 * protocol, with the port list the compiler made for it).
 */
export function redirectObjects(
  rule: RuleModel & { redirect: RedirectModel },
  model: PolicyModel,
  entries: readonly { readonly protocol: string; readonly portList?: string }[],
  ruleBase: string,
  naming: RedirectNaming,
): RedirectObjects {
  const key = ruleKey(rule);
  const target = rule.redirect;
  const poolName = naming.fit(`rdr_${target.name}`, 0);
  naming.claim(poolName, `the gateway pool of redirect ${target.name}`, `pool ${target.gateways.map((g) => g.text).join(',')}`);
  const base = naming.fit(`rdr_${ruleBase}`, 16);
  const services = new Map(model.externalServices.map((es) => [es.name, es]));
  const seen = new Set<string>();
  const addresses: AddressModel[] = [];
  for (const d of rule.destinations) {
    for (const x of d.kind === 'externalService' ? (services.get(d.name)?.destinations ?? []) : [d]) {
      if (x.kind === 'fqdn' || seen.has(x.text)) continue;
      seen.add(x.text);
      addresses.push(x);
    }
  }
  addresses.sort((a, b) => a.family - b.family || (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
  const destinationListName = `${base}_dst`;
  naming.claim(destinationListName, `the redirect destination list of rule ${key}`, `dst ${key} ${addresses.map((a) => a.text).join(',')}`);
  const virtuals = entries.map((e) => {
    const name = `${base}_${protocolToken(e.protocol)}`;
    naming.claim(name, `the ${e.protocol} redirect listener of rule ${key}`, `vs ${key} ${e.protocol}`);
    return { name, protocol: e.protocol, ...(e.portList ? { portList: e.portList } : {}) };
  });
  return { target, poolName, destinationListName, addresses, virtuals };
}

/**
 * `hop` (as the AFM evaluator reports it) with the names of the redirects whose gateways it is,
 * when a redirect listener took the flow (not the device's egress virtual server `egress`).
 */
export function nameRedirect(model: PolicyModel, hop: NextHop, egress: string): NextHop {
  if (hop.redirect !== undefined || hop.virtualServer === undefined || hop.virtualServer === egress) return hop;
  const key = hop.gateways.join(',');
  const names = [
    ...new Set(
      model.rules
        .filter((r) => r.redirect && [...r.redirect.gateways.map((g) => g.text)].sort().join(',') === key)
        .map((r) => r.redirect!.name),
    ),
  ].sort();
  return names.length ? { ...hop, redirect: names.join('", "') } : hop;
}

/**
 * Issues for listeners of `rule` whose criteria (source list, destinations, protocol, ports)
 * another rule's listener already has (recorded in `seen`, criteria → rule key): BIG-IP does
 * not document two virtual servers with the same traffic-matching criteria.
 */
export function sameCriteriaIssues(
  seen: Map<string, string>,
  sourceList: string,
  objects: RedirectObjects,
  rule: RuleModel & { readonly redirect?: RedirectModel },
): PolicyIssue[] {
  const issues: PolicyIssue[] = [];
  for (const v of objects.virtuals) {
    const criteria = `${sourceList} ${objects.addresses.map((x) => x.text).join(',')} ${v.protocol} ${v.portList ?? 'every port'}`;
    const other = seen.get(criteria);
    if (other === undefined) {
      seen.set(criteria, ruleKey(rule));
      continue;
    }
    issues.push({
      path: rule.path,
      field: 'redirect',
      value: quote(objects.target.name),
      message: `its ${v.protocol} listener would match exactly the sources, destinations and ports of rule ${other}'s; BIG-IP does not document two virtual servers with the same traffic-matching criteria: merge the two rules, or tell them apart by destinations or ports`,
    });
  }
  return issues;
}
