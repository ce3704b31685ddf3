/**
 * Reads manifests written for F5 Container Egress Services (CES): the four custom resources of
 * group `kubeovn.io/v1alpha1` (ClusterEgressRule, NamespaceEgressRule, ServiceEgressRule,
 * ExternalService), as YAML documents or `kind: List` objects (what `kubectl get -o yaml` prints).
 *
 * The checks are those of the upstream CRD schemas (required fields, types, the action enum, the
 * port pattern), plus what an import cannot work without (unique objects, addresses that are IPs
 * or DNS names, ports from 1 to 65535). Every problem is collected; the caller reports them all.
 * What the schemas allow but cdktf-ces cannot express is not decided here: see `mapping.ts`.
 */
import { parseYamlDocuments } from '../files/input-files';
import { quote } from '../files/text';
import { parseFqdn } from '../policy/fqdn';
import { tryParseIp } from '../policy/ip';
import type { AddressModel, FqdnModel } from '../policy/model';

export const CES_API_VERSION = 'kubeovn.io/v1alpha1';
/** CES looks up the ExternalServices of ClusterEgressRules in this namespace (its controller's). */
export const CES_CLUSTER_SERVICE_NAMESPACE = 'kube-system';

export type CesRuleKind = 'ClusterEgressRule' | 'NamespaceEgressRule' | 'ServiceEgressRule';
export type CesKind = CesRuleKind | 'ExternalService';
export const CES_KINDS: readonly CesKind[] = ['ClusterEgressRule', 'NamespaceEgressRule', 'ServiceEgressRule', 'ExternalService'];
export type CesAction = 'accept' | 'drop' | 'accept-decisively' | 'reject';
export const CES_ACTIONS: readonly CesAction[] = ['accept', 'drop', 'accept-decisively', 'reject'];

/** Fields of each kind's `spec` in the upstream CRD schemas; others are pruned by the API server. */
const SPEC_FIELDS: Readonly<Record<CesKind, readonly string[]>> = {
  ClusterEgressRule: ['action', 'logging', 'externalServices'],
  NamespaceEgressRule: ['action', 'logging', 'externalServices'],
  ServiceEgressRule: ['action', 'logging', 'service', 'externalServices'],
  ExternalService: ['addresses', 'ports'],
};
const PORT_FIELDS = ['name', 'protocol', 'port', 'bandwidth'];

/** The port pattern of the upstream ExternalService schema. */
export const CES_PORT_PATTERN = /^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$/;

/** One object as the input locates it: `ces.yaml:12`. */
export interface CesObjectBase {
  readonly kind: CesKind;
  readonly name: string;
  /** `metadata.namespace`, or `--namespace` for a namespaced object without one. */
  readonly namespace?: string;
  /** `file:line` of the object. */
  readonly where: string;
  /** Position in the input (documents and list items in order). */
  readonly order: number;
  /** `spec` fields the CRD does not define (the API server prunes them). */
  readonly unknownFields: readonly string[];
}

export interface CesPort {
  readonly index: number;
  readonly name?: string;
  readonly protocol?: string;
  readonly port?: string;
  /** Inclusive ranges of `port`. */
  readonly ranges: readonly (readonly [number, number])[];
  readonly bandwidth?: string;
  readonly unknownFields: readonly string[];
}

export interface CesAddress {
  readonly index: number;
  readonly text: string;
  /** An IP address; or a DNS name, which CES renders as an FQDN entry. */
  readonly model: AddressModel | FqdnModel;
}

export interface CesExternalService extends CesObjectBase {
  readonly kind: 'ExternalService';
  readonly addresses: readonly CesAddress[];
  readonly ports: readonly CesPort[];
}

export interface CesRule extends CesObjectBase {
  readonly kind: CesRuleKind;
  readonly action: CesAction;
  readonly logging?: boolean;
  readonly externalServices: readonly string[];
  /** ServiceEgressRule only. */
  readonly service?: string;
}

export interface CesManifests {
  readonly file: string;
  readonly externalServices: readonly CesExternalService[];
  readonly rules: readonly CesRule[];
}

/** What a scan of the input found: the objects that passed, and the problems of the others. */
export interface CesScan {
  readonly manifests: CesManifests;
  readonly problems: readonly CesProblem[];
  /** `<namespace>/<name>` of ExternalServices left out for their problems. */
  readonly rejectedExternalServices: ReadonlySet<string>;
}

/** One problem with the input: where, which resource and field, the value, the fix. */
export interface CesProblem {
  readonly where: string;
  /** `ServiceEgressRule payments/checkout`, when known. */
  readonly resource?: string;
  readonly field: string;
  readonly problem: string;
  readonly value: string;
  readonly fix: string;
}

export function formatCesProblem(p: CesProblem): string {
  return `${p.where}${p.resource ? ` ${p.resource}` : ''} ${p.field}: ${p.problem} (got ${p.value}); ${p.fix}`;
}

/** Bad input: every problem found, one line each. */
export class CesInputError extends Error {
  constructor(public readonly problems: readonly CesProblem[]) {
    super(problems.map(formatCesProblem).join('\n'));
    this.name = 'CesInputError';
  }
}

export interface ReadOptions {
  /** Namespace of namespaced objects that have none (as `kubectl apply -n`). */
  readonly defaultNamespace?: string;
}

/** `ServiceEgressRule payments/checkout`, `ClusterEgressRule block-c2`. */
export function resourceName(o: { kind: string; name: string; namespace?: string }): string {
  return `${o.kind} ${o.namespace !== undefined ? `${o.namespace}/` : ''}${o.name}`;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses `80,8000-8080` (already matching the CRD pattern) into ranges; undefined when a port is out of range. */
function portRanges(text: string): { ranges: [number, number][] } | { problem: string } {
  const ranges: [number, number][] = [];
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map(Number);
    const last = b ?? a;
    if (a < 1 || a > 65535 || last < 1 || last > 65535) return { problem: `port ${part} is outside 1-65535` };
    if (a > last) return { problem: `range ${part} is reversed` };
    ranges.push([a, last]);
  }
  return { ranges };
}

interface Located {
  readonly value: unknown;
  readonly where: string;
}

/** Reads and checks every object of `text`; throws {@link CesInputError} listing every problem. */
export function readCesManifests(text: string, file: string, options: ReadOptions = {}): CesManifests {
  const scan = scanCesManifests(text, file, options);
  if (scan.problems.length) throw new CesInputError(scan.problems);
  return scan.manifests;
}

/** Checks an address of an ExternalService: an IP, or a DNS name (which CES renders as an FQDN entry). */
function addressProblem(text: string): { model: AddressModel | FqdnModel } | { problem: string; fix: string } {
  const ip = tryParseIp(text);
  if (ip) return { model: { kind: 'address', text: ip.text, family: ip.family } };
  if (text.includes('/') || /^[0-9a-fA-F:.]+-[0-9a-fA-F:.]+$/.test(text)) {
    return {
      problem: `is a ${text.includes('/') ? 'CIDR' : 'range'}, but the CRD takes single IP addresses (CES would hand it to AFM as a DNS name, which AFM refuses)`,
      fix: 'list the addresses one by one (after the import, EgressDestination.cidr() or range() can replace them)',
    };
  }
  try {
    const f = parseFqdn(text);
    return { model: { kind: 'fqdn', text: f.text, wildcard: f.wildcard } };
  } catch (e) {
    const why = (e as Error).message.replace(/ \(got [^)]*\)$/, '');
    return {
      problem: /^[0-9.]+$/.test(text) ? 'is not an IPv4 address' : `is neither an IP address nor a DNS name (${why})`,
      fix: 'write an IPv4 or IPv6 address such as 192.0.2.10',
    };
  }
}

/**
 * Reads every object of `text`, collecting the problems instead of throwing; only text beyond
 * the tool's input limits (too many tokens, nesting deeper than the parser can take) throws, a
 * `UsageError`.
 */
export function scanCesManifests(text: string, file: string, options: ReadOptions = {}): CesScan {
  const problems: CesProblem[] = [];
  const rejectedExternalServices = new Set<string>();
  const objects: Located[] = [];
  const at = (line: number) => `${file}:${line}`;
  for (const doc of parseYamlDocuments(text, file)) {
    if (doc.error) {
      problems.push({
        where: at(doc.error.line),
        field: `document ${doc.index}`,
        problem: doc.error.problem,
        value: doc.error.value,
        fix: doc.error.fix,
      });
      continue;
    }
    const value = doc.value;
    if (value === null || value === undefined) continue;
    const docWhere = at(doc.line);
    if (isObj(value) && typeof value.kind === 'string' && (value.kind === 'List' || value.kind.endsWith('List'))) {
      const listKind = value.kind;
      const itemKind = listKind === 'List' ? undefined : listKind.slice(0, -'List'.length);
      if (listKind !== 'List' && !CES_KINDS.includes(itemKind as CesKind)) {
        problems.push({
          where: docWhere,
          field: 'kind',
          problem: 'is not a kind of CES',
          value: quote(listKind),
          fix: `write CES objects (${CES_KINDS.join(', ')}), or a List of them`,
        });
        continue;
      }
      if (!Array.isArray(value.items)) {
        problems.push({
          where: docWhere,
          field: 'items',
          problem: `a ${listKind} needs an items array`,
          value: quote(value.items),
          fix: 'list the objects under items:',
        });
        continue;
      }
      value.items.forEach((item, i) => {
        // kubectl leaves out each item's kind in a typed list; the list's kind says it.
        const withKind =
          itemKind && isObj(item) && item.kind === undefined ? { apiVersion: value.apiVersion, kind: itemKind, ...item } : item;
        objects.push({ value: withKind, where: at(doc.itemLines[i] ?? doc.line) });
      });
      continue;
    }
    objects.push({ value, where: docWhere });
  }

  const externalServices: CesExternalService[] = [];
  const rules: CesRule[] = [];
  const seen = new Map<string, string>();
  objects.forEach(({ value, where }, order) => {
    const add = (field: string, problem: string, v: unknown, fix: string, resource?: string) =>
      problems.push({ where, ...(resource ? { resource } : {}), field, problem, value: quote(v), fix });
    if (!isObj(value)) {
      add(
        '(document)',
        'is not a Kubernetes object',
        value,
        `write a CES object (${CES_KINDS.join(', ')}) with apiVersion ${CES_API_VERSION}`,
      );
      return;
    }
    const kind = value.kind;
    if (typeof kind !== 'string' || !CES_KINDS.includes(kind as CesKind)) {
      add(
        'kind',
        'is not a CES kind the import reads',
        kind,
        `write one of ${CES_KINDS.join(', ')} (other objects do not belong in a CES manifest for import)`,
      );
      return;
    }
    if (value.apiVersion !== CES_API_VERSION) {
      add('apiVersion', `is not the CES API version for ${kind}`, value.apiVersion, `write apiVersion: ${CES_API_VERSION}`);
      return;
    }
    const meta = isObj(value.metadata) ? value.metadata : undefined;
    const name = meta?.name;
    if (typeof name !== 'string' || !DNS_SUBDOMAIN.test(name)) {
      add(
        'metadata.name',
        name === undefined ? `a ${kind} needs a name` : 'is not a Kubernetes object name',
        name,
        'write a lower-case DNS name such as "allow-dns"',
      );
      return;
    }
    const namespaced = kind !== 'ClusterEgressRule';
    let namespace: string | undefined;
    if (namespaced) {
      const ns = meta?.namespace;
      if (ns !== undefined && (typeof ns !== 'string' || !DNS_LABEL.test(ns))) {
        add('metadata.namespace', 'is not a namespace name', ns, 'write a DNS label such as "payments"', `${kind} ${name}`);
        return;
      }
      namespace = (ns as string | undefined) ?? options.defaultNamespace;
    }
    const resource = resourceName({ kind, name, namespace });
    const key = `${kind}/${namespace ?? ''}/${name}`;
    const first = seen.get(key);
    if (first) {
      add('metadata.name', `${resource} is defined twice (first at ${first})`, name, 'keep one definition');
      return;
    }
    seen.set(key, where);
    const spec = value.spec;
    if (!isObj(spec)) {
      add(
        'spec',
        spec === undefined ? 'is missing' : 'is not a mapping',
        spec,
        kind === 'ExternalService'
          ? 'give spec.addresses (and spec.ports)'
          : `give spec.action and spec.externalServices${kind === 'ServiceEgressRule' ? ' and spec.service' : ''}`,
        resource,
      );
      return;
    }
    const unknownFields = Object.keys(spec)
      .filter((k) => !SPEC_FIELDS[kind as CesKind].includes(k))
      .map((k) => `spec.${k}`);
    const before = problems.length;
    const base = { name, ...(namespace !== undefined ? { namespace } : {}), where, order, unknownFields };

    if (kind === 'ExternalService') {
      const addresses = spec.addresses;
      const parsedAddresses: CesAddress[] = [];
      if (!Array.isArray(addresses)) {
        add(
          'spec.addresses',
          addresses === undefined ? 'is required' : 'is not a list',
          addresses,
          'list the IP addresses of the service, such as [192.0.2.10]',
          resource,
        );
      } else {
        addresses.forEach((a, i) => {
          if (typeof a !== 'string') {
            add(`spec.addresses[${i}]`, 'is not a string', a, 'write the address as text, such as "192.0.2.10"', resource);
            return;
          }
          const checked = addressProblem(a);
          if ('problem' in checked) add(`spec.addresses[${i}]`, checked.problem, a, checked.fix, resource);
          else parsedAddresses.push({ index: i, text: a, model: checked.model });
        });
        if (addresses.length === 0)
          add('spec.addresses', 'is empty, so the service has no destination', addresses, 'list at least one IP address', resource);
      }
      const ports: CesPort[] = [];
      if (spec.ports !== undefined && spec.ports !== null && !Array.isArray(spec.ports)) {
        add(
          'spec.ports',
          'is not a list',
          spec.ports,
          'list ports as {name, protocol, port, bandwidth} entries, or leave ports out for every protocol and port',
          resource,
        );
      }
      (Array.isArray(spec.ports) ? spec.ports : []).forEach((p, i) => {
        const field = `spec.ports[${i}]`;
        if (!isObj(p)) {
          add(field, 'is not a mapping', p, 'write {name, protocol, port} such as {name: https, protocol: TCP, port: "443"}', resource);
          return;
        }
        for (const f of ['name', 'protocol', 'port', 'bandwidth']) {
          const v = p[f];
          if (v !== undefined && v !== null && typeof v !== 'string') {
            add(
              `${field}.${f}`,
              'is not a string (the CRD types it as string)',
              v,
              f === 'port' ? `quote it: port: "${String(v)}"` : `quote it: ${f}: "${String(v)}"`,
              resource,
            );
          }
        }
        const port = typeof p.port === 'string' ? p.port : undefined;
        let ranges: [number, number][] = [];
        if (port !== undefined) {
          if (!CES_PORT_PATTERN.test(port)) {
            add(
              `${field}.port`,
              'does not match the CRD pattern (ports and ranges separated by commas)',
              port,
              'write ports like "443" or "80,8000-8080"',
              resource,
            );
          } else {
            const parsed = portRanges(port);
            if ('problem' in parsed) add(`${field}.port`, parsed.problem, port, 'use ports from 1 to 65535, ranges low-high', resource);
            else ranges = parsed.ranges;
          }
        }
        const str = (f: string) => (typeof p[f] === 'string' ? (p[f] as string) : undefined);
        ports.push({
          index: i,
          ...(str('name') !== undefined ? { name: str('name') } : {}),
          ...(str('protocol') !== undefined ? { protocol: str('protocol') } : {}),
          ...(port !== undefined ? { port } : {}),
          ranges,
          ...(str('bandwidth') !== undefined ? { bandwidth: str('bandwidth') } : {}),
          unknownFields: Object.keys(p)
            .filter((k) => !PORT_FIELDS.includes(k))
            .map((k) => `${field}.${k}`),
        });
      });
      if (problems.length === before) {
        externalServices.push({ kind, ...base, addresses: parsedAddresses, ports });
      } else if (namespace !== undefined) {
        rejectedExternalServices.add(`${namespace}/${name}`);
      }
      return;
    }

    const action = spec.action;
    if (typeof action !== 'string' || !CES_ACTIONS.includes(action as CesAction)) {
      add(
        'spec.action',
        action === undefined ? 'is required' : 'is not a CES action',
        action,
        `write one of ${CES_ACTIONS.join(', ')}`,
        resource,
      );
    }
    if (spec.logging !== undefined && typeof spec.logging !== 'boolean') {
      add('spec.logging', 'is not true or false', spec.logging, 'write logging: true or logging: false', resource);
    }
    const refs = spec.externalServices;
    if (!Array.isArray(refs)) {
      add(
        'spec.externalServices',
        refs === undefined ? 'is required' : 'is not a list',
        refs,
        'list the names of the ExternalServices the rule applies to',
        resource,
      );
    } else {
      refs.forEach((r, i) => {
        if (typeof r !== 'string' || !DNS_SUBDOMAIN.test(r))
          add(
            `spec.externalServices[${i}]`,
            'is not an ExternalService name',
            r,
            'write the metadata.name of an ExternalService',
            resource,
          );
      });
    }
    if (kind === 'ServiceEgressRule') {
      const service = spec.service;
      if (typeof service !== 'string' || !DNS_LABEL.test(service)) {
        add(
          'spec.service',
          service === undefined ? 'is required' : 'is not a Service name',
          service,
          'name the Service (a DNS label such as "checkout") whose pods the rule applies to',
          resource,
        );
      }
    }
    if (problems.length === before) {
      rules.push({
        kind: kind as CesRuleKind,
        ...base,
        action: action as CesAction,
        ...(typeof spec.logging === 'boolean' ? { logging: spec.logging } : {}),
        externalServices: refs as string[],
        ...(kind === 'ServiceEgressRule' ? { service: spec.service as string } : {}),
      });
    }
  });
  return { manifests: { file, externalServices, rules }, problems, rejectedExternalServices };
}
