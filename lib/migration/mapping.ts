/**
 * Maps CES objects onto the cdktf-ces model. Pure: manifests in, a migration plan out (which
 * `emit.ts` turns into a TypeScript module). The semantics, and every place where the two
 * products differ, are explained in {@link MAPPING_RULES} and {@link RULE_ORDER}, which the
 * generated module repeats in its header.
 */
import { shortHash } from '../policy/object-names';
import type { ActionName, AddressModel, BandwidthModel, BandwidthUnit, FqdnModel, Level, PortModel, RuleModel } from '../policy/model';
import { REMARK_MAX, remarkProblem } from '../policy/names';
import { ruleRemark } from '../policy/schema';
import { AFM_PROTOCOLS, PORTED_PROTOCOLS } from '../policy/port';
import {
  CES_CLUSTER_SERVICE_NAMESPACE,
  CesAction,
  CesExternalService,
  CesInputError,
  CesManifests,
  CesPort,
  CesProblem,
  CesRule,
  CesRuleKind,
  resourceName,
} from './ces';

export const ACTION_OF: Readonly<Record<CesAction, ActionName>> = {
  accept: 'ALLOW',
  drop: 'DENY',
  'accept-decisively': 'ALLOW_FINAL',
  reject: 'REJECT',
};

const LEVEL_OF: Readonly<Record<CesRuleKind, Level>> = {
  ClusterEgressRule: 'cluster',
  NamespaceEgressRule: 'namespace',
  ServiceEgressRule: 'service',
};

/**
 * Priorities of imported rules: CES has none, so the import orders each level by action.
 * Rules with the same action give the same verdict in any order (ties are broken by name).
 */
export const MIGRATED_PRIORITY: Readonly<Record<ActionName, number>> = { DENY: 100, REJECT: 200, ALLOW_FINAL: 300, ALLOW: 400 };

/** The mapping, in words; repeated in the header of every generated module. */
export const MAPPING_RULES: readonly string[] = [
  'Actions: drop -> DENY, reject -> REJECT, accept-decisively -> ALLOW_FINAL, accept -> ALLOW.',
  'Levels: ClusterEgressRule -> ClusterEgressRule (every pod of the cluster; CES matched any source in the',
  '  global context), NamespaceEgressRule -> NamespaceEgressRule of metadata.namespace, ServiceEgressRule ->',
  "  ServiceEgressRule of metadata.namespace and spec.service (CES took the Service's ready endpoints;",
  "  cdktf-ces takes every pod the Service's selector picks, ready or not).",
  'accept at the cluster or namespace level is NOT imported: in CES it only hands the flow on to the',
  '  lower levels, and the virtual-server policy of CES ends in a drop-all, so by itself it allows nothing.',
  '  A cdktf-ces ALLOW allows unless a lower level denies, so importing it would open these flows.',
  '  Such rules appear below commented out; enable one only if you mean to allow its flows.',
  'The device default stands in for the CES drop-all: use an AfmDevice with defaultAction DENY (the default).',
  'ExternalService -> ExternalService named <namespace>-<name> holding the addresses (IPs; entries that are',
  '  DNS names, which CES renders as FQDN entries, become EgressDestination.fqdn). ClusterEgressRules use',
  `  the ExternalServices of namespace ${CES_CLUSTER_SERVICE_NAMESPACE}, the other rules those of their own namespace, as in CES.`,
  'Ports live on the rules: a rule gets the ports of its ExternalServices. CES makes one firewall rule per',
  '  ExternalService and protocol, so a CES rule whose ExternalServices have different ports becomes one',
  '  rule per distinct port set (<name>-<ports>), each naming the ExternalServices with those ports: the',
  '  flows are the same "(A on A\'s ports) or (B on B\'s ports)". An ExternalService without ports (or',
  '  whose entries all lack a port, which CES skips) means every protocol and port.',
  'Port protocols are lower-cased (CES does the same); spec.logging -> logging.',
  'bandwidth names a BIG-IP iRule in CES; when the name states a rate (bwc-10mbps-irule, 10Mbps) it becomes',
  '  bandwidthLimit, applied per rule as CES applied the iRule per protocol (the last entry of a protocol wins).',
];

/** Why the import orders rules as it does; repeated in every generated module. */
export const RULE_ORDER: readonly string[] = [
  "CES has no priorities: a level's rules run in the order its controller happened to write them.",
  `The import orders each level by action: DENY (${MIGRATED_PRIORITY.DENY}), REJECT (${MIGRATED_PRIORITY.REJECT}), ALLOW_FINAL (${MIGRATED_PRIORITY.ALLOW_FINAL}), ALLOW (${MIGRATED_PRIORITY.ALLOW}).`,
  'Where a drop and an accept of one level match the same flow, the drop wins: the safe reading of an',
  '  order CES never fixed. accept-decisively comes before accept: an explicit decision over a hand-on to the',
  '  lower levels. Rules with the same action give the same verdict in any order. Overlapping rules of one',
  '  level whose order mattered are listed under Notes.',
];

export interface MigratedExternalService {
  readonly name: string;
  readonly constructId: string;
  readonly source: CesExternalService;
  readonly destinations: readonly (AddressModel | FqdnModel)[];
  readonly description?: string;
  /** CES rules that use it. */
  readonly usedBy: readonly string[];
}

export interface MigratedRule {
  readonly level: Level;
  readonly name: string;
  readonly namespace?: string;
  readonly service?: string;
  readonly constructId: string;
  readonly action: ActionName;
  readonly priority: number;
  readonly logging: boolean;
  /** Names of the imported ExternalServices. */
  readonly externalServices: readonly string[];
  /** Empty: every protocol and port. */
  readonly ports: readonly PortModel[];
  readonly bandwidth?: BandwidthModel & { readonly iRule: string };
  readonly description?: string;
  readonly metadata?: MigrationMetadata;
  readonly source: CesRule;
  /** Set when the rule is emitted commented out. */
  readonly omitted?: string;
}

/** Something of the input that is not carried over (or, for notes, carried over with a twist). */
export interface MigrationItem {
  /** `ces.yaml:12`. */
  readonly where: string;
  /** `ServiceEgressRule payments/checkout`. */
  readonly resource: string;
  readonly field: string;
  readonly value: string;
  readonly why: string;
}

export interface MigrationPlan {
  readonly file: string;
  readonly cluster?: string;
  /** Put before every imported name (`<prefix>-<name>`). */
  readonly prefix?: string;
  readonly objectCount: number;
  readonly externalServices: readonly MigratedExternalService[];
  readonly rules: readonly MigratedRule[];
  /** Lost in the import: the command fails unless partial imports are allowed. */
  readonly notCarried: readonly MigrationItem[];
  /** Carried over, but worth a reviewer's look. */
  readonly notes: readonly MigrationItem[];
}

/** Ownership the imported rules carry (the guardrails' requireOwner and requireTicket ask for it). */
export interface MigrationMetadata {
  readonly owner?: string;
  readonly ticket?: string;
  readonly justification?: string;
}

export interface MappingOptions {
  /** The cluster the manifests come from; the generated code refuses a device of another cluster. */
  readonly cluster?: string;
  /**
   * Put before every imported rule and ExternalService name (`<prefix>-<name>`), so that they
   * cannot clash with the names of rules the device already has.
   */
  readonly prefix?: string;
  /** Set on every imported rule. */
  readonly metadata?: MigrationMetadata;
  /** `<namespace>/<name>` of ExternalServices already reported as bad input: references to them are not reported again. */
  readonly rejectedExternalServices?: ReadonlySet<string>;
}

const DNS_LABEL_MAX = 63;

/** A CES object name (a DNS subdomain) as a DNS label of at most 63 characters. */
export function labelName(text: string): string {
  const dashed = text.replace(/\./g, '-');
  if (dashed.length <= DNS_LABEL_MAX) return dashed;
  return `${dashed.slice(0, DNS_LABEL_MAX - 9).replace(/-+$/, '')}-${shortHash(text)}`;
}

function withSuffix(base: string, suffix: string): string {
  const room = DNS_LABEL_MAX - suffix.length - 1;
  const head = base.length <= room ? base : base.slice(0, room).replace(/-+$/, '');
  return `${head}-${suffix}`;
}

/** Claims `wanted` in `taken`, or `wanted-2`, `wanted-3`, … */
function claim(taken: Set<string>, wanted: string): string {
  let name = wanted;
  for (let n = 2; taken.has(name); n++) name = withSuffix(wanted, String(n));
  taken.add(name);
  return name;
}

function remarkFits(rule: Pick<RuleModel, 'description' | 'metadata'>): boolean {
  return ruleRemark(rule).length <= REMARK_MAX;
}

/** Description for a remark when it fits one; else undefined. */
function remark(text: string): string | undefined {
  return remarkProblem(text) === undefined ? text : undefined;
}

const BANDWIDTH_UNITS: Readonly<Record<string, BandwidthUnit>> = { '': 'bps', k: 'Kbps', m: 'Mbps', g: 'Gbps' };

/**
 * The rate a CES bandwidth value states: `10Mbps`, `10M`, `500kbps` or an iRule name holding
 * exactly one rate, such as `bwc-10mbps-irule`. Undefined when it states none.
 */
export function bandwidthRate(text: string): BandwidthModel | undefined {
  const bare = /^\s*(\d+)\s*([kmg]?)(?:bps|b\/s)?\s*$/i.exec(text);
  const found = bare ? [bare] : [...text.matchAll(/(?<![0-9a-z])(\d+)\s*([kmg]?)bps(?![a-z])/gi)];
  if (found.length !== 1) return undefined;
  const value = Number(found[0][1]);
  if (!Number.isInteger(value) || value < 1 || value > 4294967295) return undefined;
  return { maxBandwidth: value, unit: BANDWIDTH_UNITS[found[0][2].toLowerCase()] };
}

interface ProtocolGroup {
  readonly protocol: string;
  readonly entries: CesPort[];
  /** The bandwidth CES applies to the protocol: that of its last entry. */
  bandwidth?: string;
  bandwidthEntry?: CesPort;
}

interface PortAnalysis {
  /** CES gave the service no port entries with a port: every protocol and port. */
  readonly anyProtocol: boolean;
  /** Protocols carried over, in order of first appearance. */
  readonly carried: readonly ProtocolGroup[];
  /** Items reported once per service, when the first rule uses it. */
  readonly notCarried: readonly MigrationItem[];
  readonly notes: readonly MigrationItem[];
}

function portText(p: CesPort): string {
  return JSON.stringify({
    ...(p.name !== undefined ? { name: p.name } : {}),
    ...(p.protocol !== undefined ? { protocol: p.protocol } : {}),
    ...(p.port !== undefined ? { port: p.port } : {}),
    ...(p.bandwidth !== undefined ? { bandwidth: p.bandwidth } : {}),
  });
}

function analysePorts(es: CesExternalService): PortAnalysis {
  const resource = resourceName(es);
  const notCarried: MigrationItem[] = [];
  const notes: MigrationItem[] = [];
  const item = (field: string, value: string, why: string): MigrationItem => ({ where: es.where, resource, field, value, why });
  const groups = new Map<string, ProtocolGroup>();
  for (const p of es.ports) {
    for (const f of p.unknownFields)
      notes.push(item(f, portText(p), 'is not a field of the CES CRD; the API server prunes it, so CES never saw it'));
    if (p.port === undefined) {
      notes.push(
        item(
          `spec.ports[${p.index}]`,
          portText(p),
          'has no port, and CES skips port entries without one, so it never applied; add the port (or, for ICMP, EgressPort.icmp() on the imported rules) if it was meant',
        ),
      );
      continue;
    }
    const protocol = (p.protocol ?? '').toLowerCase();
    let group = groups.get(protocol);
    if (!group) groups.set(protocol, (group = { protocol, entries: [] }));
    if (group.bandwidthEntry && (p.bandwidth ?? '') !== (group.bandwidth ?? '')) {
      const earlier = group.bandwidthEntry;
      const last = p.bandwidth ? `bandwidth ${JSON.stringify(p.bandwidth)}` : 'no bandwidth';
      notes.push(
        item(
          `spec.ports[${earlier.index}].bandwidth`,
          JSON.stringify(group.bandwidth ?? ''),
          `CES gives each protocol of an ExternalService one iRule, that of its last entry, so these ${protocol || 'protocol-less'} ports had the ${last} of spec.ports[${p.index}] (imported so)`,
        ),
      );
    }
    group.entries.push(p);
    group.bandwidth = p.bandwidth === '' ? undefined : p.bandwidth;
    group.bandwidthEntry = p;
  }
  const carried: ProtocolGroup[] = [];
  for (const g of groups.values()) {
    const reason =
      g.protocol === ''
        ? 'has no protocol; CES passes AFM an empty protocol, which AFM refuses, so the rule never applied; give the protocol (TCP, UDP or SCTP)'
        : !AFM_PROTOCOLS.has(g.protocol)
          ? `"${g.protocol}" is not an AFM protocol name, so AFM refused the rule CES made of it; use TCP, UDP, SCTP or another AFM protocol`
          : !PORTED_PROTOCOLS.has(g.protocol)
            ? `protocol "${g.protocol}" has no ports, so AFM refused the port list CES gave it; for ${g.protocol} without ports use EgressPort.protocol("${g.protocol}") on the imported rules`
            : undefined;
    if (reason) {
      for (const p of g.entries)
        notCarried.push(item(`spec.ports[${p.index}]${g.protocol === '' ? '.protocol' : ''}`, portText(p), reason));
    } else {
      carried.push(g);
    }
  }
  return { anyProtocol: groups.size === 0, carried, notCarried, notes };
}

function groupPorts(g: ProtocolGroup): PortModel[] {
  const seen = new Set<string>();
  const out: PortModel[] = [];
  for (const p of g.entries) {
    for (const [from, to] of p.ranges) {
      const key = `${from}-${to}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ protocol: g.protocol, fromPort: from, toPort: to });
    }
  }
  return out;
}

function portsKey(ports: readonly PortModel[]): string {
  return [...ports]
    .map((p) => `${p.protocol}/${p.fromPort ?? ''}-${p.toPort ?? ''}`)
    .sort()
    .join(',');
}

/** `tcp443`, `tcp80-8000to8080-udp53`, `any`: a readable, stable name suffix for a port set. */
export function portsToken(ports: readonly PortModel[]): string {
  if (ports.length === 0) return 'any';
  const byProtocol = new Map<string, PortModel[]>();
  for (const p of ports) byProtocol.set(p.protocol, [...(byProtocol.get(p.protocol) ?? []), p]);
  return [...byProtocol.keys()]
    .sort()
    .map((protocol) => {
      const ranges = (byProtocol.get(protocol) ?? [])
        .filter((p) => p.fromPort !== undefined)
        .sort((a, b) => (a.fromPort as number) - (b.fromPort as number))
        .map((p) => (p.fromPort === p.toPort ? `${p.fromPort}` : `${p.fromPort}to${p.toPort}`));
      return `${protocol.replace(/[^a-z0-9]/g, '')}${ranges.join('-')}`;
    })
    .join('-');
}

function bandwidthToken(b: BandwidthModel | undefined): string {
  return b ? `bw${b.maxBandwidth}${b.unit.toLowerCase()}` : '';
}

interface Part {
  readonly service: MigratedExternalService;
  readonly ports: readonly PortModel[];
  readonly bandwidth?: BandwidthModel & { readonly iRule: string };
}

/** Maps checked CES manifests to a migration plan; throws {@link CesInputError} on references and addresses that cannot be right. */
export function planMigration(input: CesManifests, options: MappingOptions = {}): MigrationPlan {
  const prefixed = (name: string) => (options.prefix ? `${options.prefix}-${name}` : name);
  const given = options.metadata;
  const metadata: MigrationMetadata | undefined =
    given && (given.owner || given.ticket || given.justification)
      ? {
          ...(given.owner ? { owner: given.owner } : {}),
          ...(given.ticket ? { ticket: given.ticket } : {}),
          ...(given.justification ? { justification: given.justification } : {}),
        }
      : undefined;
  const problems: CesProblem[] = [];
  const notCarried: MigrationItem[] = [];
  const notes: MigrationItem[] = [];

  // External services.
  const serviceNames = new Set<string>();
  const byKey = new Map<
    string,
    { es: CesExternalService; migrated: MigratedExternalService; analysis?: PortAnalysis; reported: boolean }
  >();
  const withoutNamespace = new Map<string, CesExternalService>();
  const services: { es: CesExternalService; migrated: MigratedExternalService; usedBy: string[] }[] = [];
  for (const es of input.externalServices) {
    const resource = resourceName(es);
    const item = (field: string, value: string, why: string): MigrationItem => ({ where: es.where, resource, field, value, why });
    for (const f of es.unknownFields)
      notes.push(item(f, '(set)', 'is not a field of the CES CRD; the API server prunes it, so CES never saw it'));
    if (es.namespace === undefined) {
      withoutNamespace.set(es.name, es);
      notCarried.push(
        item(
          'metadata.namespace',
          'nothing',
          'has no namespace, so no CES rule can use it; give metadata.namespace, or import with --namespace <ns> as kubectl apply -n would',
        ),
      );
      continue;
    }
    const destinations: (AddressModel | FqdnModel)[] = [];
    const seen = new Set<string>();
    for (const a of es.addresses) {
      if (a.model.kind === 'fqdn') {
        notes.push(
          item(
            `spec.addresses[${a.index}]`,
            JSON.stringify(a.text),
            'is a DNS name, not an IP: CES renders such entries as FQDN entries, so it is imported as EgressDestination.fqdn() (the AfmDevice needs dnsResolver)',
          ),
        );
      }
      const key = `${a.model.kind}:${a.model.text}`;
      if (seen.has(key)) continue;
      seen.add(key);
      destinations.push(a.model);
    }
    const plain = `${prefixed(`${es.namespace}-${es.name}`)}`;
    const name = claim(serviceNames, labelName(plain));
    if (name !== plain)
      notes.push(
        item(
          'metadata.name',
          JSON.stringify(es.name),
          `imported as ExternalService "${name}" (a DNS label of at most 63 characters, unique on the device)`,
        ),
      );
    const migrated: MigratedExternalService = {
      name,
      constructId: `ExternalService_${name}`,
      source: es,
      destinations,
      ...(remark(`CES ExternalService ${es.namespace}/${es.name}`)
        ? { description: remark(`CES ExternalService ${es.namespace}/${es.name}`) }
        : {}),
      usedBy: [],
    };
    const entry = { es, migrated, usedBy: migrated.usedBy as string[] };
    services.push(entry);
    byKey.set(`${es.namespace}/${es.name}`, { es, migrated, reported: false });
  }

  // Rules.
  const ruleNames = new Map<string, Set<string>>();
  const rules: MigratedRule[] = [];
  for (const rule of input.rules) {
    const resource = resourceName(rule);
    const item = (field: string, value: string, why: string): MigrationItem => ({ where: rule.where, resource, field, value, why });
    const level = LEVEL_OF[rule.kind];
    const action = ACTION_OF[rule.action];
    for (const f of rule.unknownFields)
      notes.push(item(f, '(set)', 'is not a field of the CES CRD; the API server prunes it, so CES never saw it'));
    if (level !== 'cluster' && rule.namespace === undefined) {
      notCarried.push(
        item(
          'metadata.namespace',
          'nothing',
          "has no namespace, so the rule's pods are unknown; give metadata.namespace, or import with --namespace <ns> as kubectl apply -n would",
        ),
      );
      continue;
    }
    const lookup = level === 'cluster' ? CES_CLUSTER_SERVICE_NAMESPACE : (rule.namespace as string);
    if (rule.externalServices.length === 0) {
      notes.push(item('spec.externalServices', '[]', 'is empty: CES makes no firewall rule of it, so there is nothing to import'));
      continue;
    }
    const parts: Part[] = [];
    const listed = new Set<string>();
    rule.externalServices.forEach((ref, i) => {
      const field = `spec.externalServices[${i}]`;
      if (listed.has(ref)) {
        notes.push(item(field, JSON.stringify(ref), 'is listed twice; imported once'));
        return;
      }
      listed.add(ref);
      const found = byKey.get(`${lookup}/${ref}`);
      if (!found) {
        if (options.rejectedExternalServices?.has(`${lookup}/${ref}`)) return;
        if (withoutNamespace.has(ref)) {
          notCarried.push(
            item(
              field,
              JSON.stringify(ref),
              `names ExternalService ${ref}, which has no namespace (see above), so the rule loses these destinations`,
            ),
          );
          return;
        }
        const elsewhere = input.externalServices
          .filter((es) => es.name === ref && es.namespace !== undefined)
          .map((es) => es.namespace as string);
        problems.push({
          where: rule.where,
          resource,
          field,
          problem: `names no ExternalService in namespace ${lookup}${level === 'cluster' ? ` (CES looks up a ClusterEgressRule's ExternalServices in ${CES_CLUSTER_SERVICE_NAMESPACE})` : ''}`,
          value: JSON.stringify(ref),
          fix: elsewhere.length
            ? `ExternalService ${ref} is in namespace ${elsewhere.join(', ')}; define it in ${lookup}`
            : `add ExternalService ${lookup}/${ref} to the input, or fix the name`,
        });
        return;
      }
      const { migrated } = found;
      (services.find((s) => s.migrated === migrated)?.usedBy as string[]).push(resource);
      if (!found.analysis) found.analysis = analysePorts(found.es);
      const analysis = found.analysis;
      if (!found.reported) {
        notCarried.push(...analysis.notCarried);
        notes.push(...analysis.notes);
        found.reported = true;
      }
      if (analysis.anyProtocol) {
        parts.push({ service: migrated, ports: [] });
        return;
      }
      if (analysis.carried.length === 0) {
        notCarried.push(
          item(
            field,
            JSON.stringify(ref),
            `none of the ports of ExternalService ${found.es.namespace}/${ref} can be carried over (see above), so the rule loses these destinations`,
          ),
        );
        return;
      }
      const allows = action === 'ALLOW' || action === 'ALLOW_FINAL';
      const segments = new Map<string, { ports: PortModel[]; bandwidth?: BandwidthModel & { iRule: string } }>();
      for (const g of analysis.carried) {
        let bandwidth: (BandwidthModel & { iRule: string }) | undefined;
        const bwField = `ExternalService ${found.es.namespace}/${ref} spec.ports[${g.bandwidthEntry?.index}].bandwidth`;
        if (g.bandwidth !== undefined) {
          if (!allows) {
            notes.push(
              item(
                bwField,
                JSON.stringify(g.bandwidth),
                `left out: a ${rule.action} rule lets nothing through, so the iRule limited nothing`,
              ),
            );
          } else {
            const rate = bandwidthRate(g.bandwidth);
            if (rate) {
              bandwidth = { ...rate, iRule: g.bandwidth };
              notes.push(
                item(
                  bwField,
                  JSON.stringify(g.bandwidth),
                  `names the BIG-IP iRule /Common/${g.bandwidth}; imported as bandwidthLimit ${rate.maxBandwidth} ${rate.unit}, the rate its name states: check that the iRule's bandwidth controller has that rate`,
                ),
              );
            } else {
              notCarried.push(
                item(
                  bwField,
                  JSON.stringify(g.bandwidth),
                  `names the BIG-IP iRule /Common/${g.bandwidth}, whose rate cannot be read from its name, so the ${g.protocol} flows lose their bandwidth limit; set bandwidthLimit on the imported rule`,
                ),
              );
            }
          }
        }
        const key = bandwidth ? `${bandwidth.maxBandwidth}${bandwidth.unit}` : '';
        const seg = segments.get(key) ?? { ports: [], ...(bandwidth ? { bandwidth } : {}) };
        seg.ports.push(...groupPorts(g));
        segments.set(key, seg);
      }
      for (const seg of segments.values())
        parts.push({ service: migrated, ports: seg.ports, ...(seg.bandwidth ? { bandwidth: seg.bandwidth } : {}) });
    });
    if (parts.length === 0) {
      notCarried.push(
        item(
          'spec.externalServices',
          JSON.stringify(rule.externalServices),
          'nothing of the rule can be carried over (see above), so it is left out',
        ),
      );
      continue;
    }
    const groups = new Map<string, Part[]>();
    for (const part of parts) {
      const key = `${portsKey(part.ports)}|${part.bandwidth ? `${part.bandwidth.maxBandwidth}${part.bandwidth.unit}` : ''}`;
      groups.set(key, [...(groups.get(key) ?? []), part]);
    }
    const omitted =
      rule.action === 'accept' && level !== 'service'
        ? `CES accept at the ${level} level allows nothing by itself (its flows still end in the CES drop-all unless a ServiceEgressRule accepts them); a cdktf-ces ALLOW here would allow them`
        : undefined;
    if (omitted) {
      notCarried.push(
        item(
          'spec.action',
          '"accept"',
          `not imported (kept commented out): ${omitted}. Enable it as ALLOW only if these flows should be allowed; the imported policy gives the same verdicts as CES without it${rule.logging ? ', but loses its log lines' : ''}`,
        ),
      );
    }
    const scope = level === 'cluster' ? 'cluster' : `${level}/${rule.namespace}`;
    let taken = ruleNames.get(scope);
    if (!taken) ruleNames.set(scope, (taken = new Set()));
    const base = labelName(prefixed(rule.name));
    if (base !== prefixed(rule.name))
      notes.push(item('metadata.name', JSON.stringify(rule.name), `imported as "${base}" (a DNS label of at most 63 characters)`));
    // The AFM remark is "<ticket> <owner>: <justification or description>": a description that
    // would make it too long for AS3 is left out (the module's comment names the CES object).
    const generated = remark(`CES ${rule.kind} ${rule.namespace !== undefined ? `${rule.namespace}/` : ''}${rule.name}`);
    const description = generated && (!metadata || remarkFits({ description: generated, metadata })) ? generated : undefined;
    for (const group of groups.values()) {
      const { ports, bandwidth } = group[0];
      const wanted = groups.size === 1 ? base : withSuffix(base, [portsToken(ports), bandwidthToken(bandwidth)].filter(Boolean).join('-'));
      const name = claim(taken, wanted);
      const kindId = level === 'cluster' ? 'Cluster' : level === 'namespace' ? 'Namespace' : 'Service';
      rules.push({
        level,
        name,
        ...(level !== 'cluster' ? { namespace: rule.namespace } : {}),
        ...(rule.service !== undefined ? { service: rule.service } : {}),
        constructId: `${kindId}_${level === 'cluster' ? '' : `${rule.namespace}_`}${name}`,
        action,
        priority: MIGRATED_PRIORITY[action],
        logging: rule.logging ?? false,
        externalServices: group.map((p) => p.service.name),
        ports,
        ...(bandwidth ? { bandwidth } : {}),
        ...(description ? { description } : {}),
        ...(metadata ? { metadata } : {}),
        source: rule,
        ...(omitted ? { omitted } : {}),
      });
    }
  }
  if (problems.length) throw new CesInputError(problems);
  notes.push(...orderNotes(rules, new Map(services.map((s) => [s.migrated.name, s.migrated]))));
  for (const s of services) {
    if (s.usedBy.length === 0) {
      notes.push({
        where: s.es.where,
        resource: resourceName(s.es),
        field: 'metadata.name',
        value: JSON.stringify(s.es.name),
        why: 'no CES rule uses it, so CES made nothing of it; imported as an ExternalService all the same',
      });
    }
  }
  const order = { cluster: 0, namespace: 1, service: 2 } as const;
  const sortedRules = rules
    .map((r, i) => ({ r, i }))
    .sort((a, b) => order[a.r.level] - order[b.r.level] || a.r.source.order - b.r.source.order || a.i - b.i)
    .map((x) => x.r);
  const byPosition = (a: MigrationItem, b: MigrationItem) => lineOf(a.where) - lineOf(b.where);
  return {
    file: input.file,
    ...(options.cluster !== undefined ? { cluster: options.cluster } : {}),
    ...(options.prefix ? { prefix: options.prefix } : {}),
    objectCount: input.externalServices.length + input.rules.length,
    externalServices: services.map((s) => s.migrated),
    rules: sortedRules,
    notCarried: stableSort(notCarried, byPosition),
    notes: stableSort(notes, byPosition),
  };
}

/** What a CES action amounts to at a level: the classes whose order within the level matters. */
function outcome(level: Level, action: CesAction): string {
  if (action === 'drop' || action === 'reject') return 'deny';
  if (level === 'service' || action === 'accept-decisively') return 'allow';
  return 'pass';
}

/** A flow two imported rules both match, described; undefined when they share none. */
function sharedFlow(a: MigratedRule, b: MigratedRule, services: ReadonlyMap<string, MigratedExternalService>): string | undefined {
  const dests = (r: MigratedRule) => new Set(r.externalServices.flatMap((n) => (services.get(n)?.destinations ?? []).map((d) => d.text)));
  const db = dests(b);
  const dest = [...dests(a)].find((d) => db.has(d));
  if (dest === undefined) return undefined;
  if (a.ports.length === 0 || b.ports.length === 0) {
    const p = (a.ports.length ? a.ports : b.ports)[0];
    return p ? `${dest}:${p.fromPort}/${p.protocol}` : `${dest} (any protocol)`;
  }
  for (const p of a.ports) {
    for (const q of b.ports) {
      if (p.protocol !== q.protocol) continue;
      const lo = Math.max(p.fromPort ?? 1, q.fromPort ?? 1);
      const hi = Math.min(p.toPort ?? 65535, q.toPort ?? 65535);
      if (lo <= hi) return `${dest}:${lo}/${p.protocol}`;
    }
  }
  return undefined;
}

/**
 * Rules of one level (and source) that match a common flow with different outcomes: in CES the
 * one its controller wrote first decided; the import's order decides now. Worth a reviewer's look.
 */
function orderNotes(rules: readonly MigratedRule[], services: ReadonlyMap<string, MigratedExternalService>): MigrationItem[] {
  const notes: MigrationItem[] = [];
  const seen = new Set<string>();
  const scope = (r: MigratedRule) => `${r.level}/${r.namespace ?? ''}/${r.service ?? ''}`;
  const rank = (r: MigratedRule) => MIGRATED_PRIORITY[r.omitted ? 'ALLOW' : r.action];
  for (let i = 0; i < rules.length; i++) {
    for (let j = i + 1; j < rules.length; j++) {
      const [a, b] = [rules[i], rules[j]];
      if (a.source === b.source || scope(a) !== scope(b) || outcome(a.level, a.source.action) === outcome(b.level, b.source.action))
        continue;
      const pair = [resourceName(a.source), resourceName(b.source)].sort().join(' & ');
      if (seen.has(pair)) continue;
      const flow = sharedFlow(a, b, services);
      if (!flow) continue;
      seen.add(pair);
      const [first, second] = rank(a) <= rank(b) ? [a, b] : [b, a];
      notes.push({
        where: second.source.where,
        resource: resourceName(second.source),
        field: 'spec.action',
        value: JSON.stringify(second.source.action),
        why: `overlaps ${resourceName(first.source)} (${first.source.action}), for example at ${flow}: in CES whichever its controller wrote first decided; the import lets ${first.source.action} decide`,
      });
    }
  }
  return notes;
}

function lineOf(where: string): number {
  return Number(where.slice(where.lastIndexOf(':') + 1)) || 0;
}

function stableSort<T>(items: readonly T[], compare: (a: T, b: T) => number): T[] {
  return items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => compare(a.item, b.item) || a.i - b.i)
    .map((x) => x.item);
}
