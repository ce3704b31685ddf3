/**
 * Cluster state for the tools: Pods, Namespaces and Services from the YAML that
 * `kubectl get pods,namespaces,services -A -o yaml` prints (a `List`), or from several YAML
 * documents; plus DNS answers, from `--resolve name=ip[,ip]` or from a document
 *
 * ```yaml
 * apiVersion: cdktf-ces.dev/v1
 * kind: DnsAnswers
 * answers:
 *   api.stripe.com: [203.0.113.10, 2001:db8::10]
 * ```
 */
import type { ClusterSnapshot, NamespaceInfo, PodInfo, ServiceInfo } from '../policy/membership';
import { tryParseIp } from '../policy/ip';
import { DOTTED_NUMBERS } from './engine';
import { readYamlFile, yamlDocumentError } from '../files/input-files';
import { UsageError } from '../files/usage-error';
import { quote } from '../files/text';

export const DNS_ANSWERS_KIND = 'DnsAnswers';

export interface ClusterState {
  readonly snapshot: ClusterSnapshot;
  readonly dns: Map<string, string[]>;
  /** The file it came from, for messages. */
  readonly source: string;
}

const HOST = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function stringMap(v: unknown, where: string, file: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObj(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw new UsageError(
      `${file}: ${where} must map names to strings`,
      quote(v),
      'fix the state file (kubectl get ... -o yaml writes it so)',
    );
  }
  return { ...(v as Record<string, string>) };
}

/** Validates a host name and its addresses; returns the canonical addresses. */
export function checkDnsAnswer(name: string, ips: readonly unknown[], where: string): string[] {
  if (!HOST.test(name)) throw new UsageError(`${where}: not a lower-case DNS name`, quote(name), 'write a name such as "api.example.com"');
  if (DOTTED_NUMBERS.test(name))
    throw new UsageError(
      `${where}: dotted numbers are no DNS name`,
      quote(name),
      'write the host name the answer is for, such as "api.example.com"',
    );
  if (ips.length === 0) throw new UsageError(`${where}: no addresses for ${name}`, '[]', 'give at least one IPv4 or IPv6 address');
  return ips.map((ip) => {
    const parsed = typeof ip === 'string' ? tryParseIp(ip) : undefined;
    if (!parsed)
      throw new UsageError(`${where}: not an IP address for ${name}`, quote(ip), 'write addresses like 203.0.113.10 or 2001:db8::10');
    return parsed.text;
  });
}

/** Reads a state file. */
export function readClusterState(file: string, cwd: string): ClusterState {
  const docs = readYamlFile(
    {
      file,
      role: 'the --state file',
      howTo: `write it with "kubectl get pods,namespaces,services -A -o yaml > ${file}", or read the cluster itself with --kubeconfig`,
    },
    cwd,
  );
  const items: { item: unknown; where: string; kind?: string }[] = [];
  for (const doc of docs) {
    if (doc.error) throw yamlDocumentError(file, { ...doc, error: doc.error });
    const value = doc.value;
    if (value === null || value === undefined) continue;
    const where = `document ${doc.index}`;
    const listKind = isObj(value) && typeof value.kind === 'string' && value.kind.endsWith('List') ? value.kind : undefined;
    if (listKind !== undefined) {
      if (!Array.isArray((value as Obj).items)) {
        throw new UsageError(
          `${file}:${doc.line}: ${where} is a ${listKind} without an items list`,
          quote((value as Obj).items),
          'list the objects under items: (kubectl get ... -o yaml writes it so)',
        );
      }
      // A typed list (PodList) may leave out each item's kind; the list's kind says it.
      const itemKind = listKind === 'List' ? undefined : listKind.slice(0, -'List'.length);
      ((value as Obj).items as unknown[]).forEach((item, i) =>
        items.push({ item, where: `${where} items[${i}] (line ${doc.itemLines[i] ?? doc.line})`, ...(itemKind ? { kind: itemKind } : {}) }),
      );
    } else {
      items.push({ item: value, where: `${where} (line ${doc.line})` });
    }
  }
  if (items.length === 0) {
    throw new UsageError(
      `${file} holds no Kubernetes objects`,
      `${docs.length} empty document${docs.length === 1 ? '' : 's'}`,
      `write it with "kubectl get pods,namespaces,services -A -o yaml > ${file}"`,
    );
  }
  return { ...stateFromObjects(items, file), source: file };
}

/**
 * Pods, Namespaces, Services (and DnsAnswers documents) → snapshot and DNS answers. Objects
 * listed through the API have no `kind` of their own; `kind` then says what they are.
 */
export function stateFromObjects(
  items: readonly { item: unknown; where: string; kind?: string }[],
  file: string,
): Omit<ClusterState, 'source'> {
  const pods: PodInfo[] = [];
  const namespaces: NamespaceInfo[] = [];
  const services: ServiceInfo[] = [];
  const dns = new Map<string, string[]>();
  for (const { item, where, kind: listedKind } of items) {
    const at = `${file} ${where}`;
    if (!isObj(item)) {
      throw new UsageError(
        `${at} is not a Kubernetes object (a mapping with kind and metadata)`,
        quote(item),
        'the state holds Pods, Namespaces and Services (kubectl get pods,namespaces,services -A -o yaml)',
      );
    }
    const kind = item.kind ?? listedKind;
    if (typeof kind !== 'string') {
      throw new UsageError(
        `${at} is not a Kubernetes object: it has no kind`,
        quote(item.kind),
        'the state holds Pods, Namespaces and Services (kubectl get pods,namespaces,services -A -o yaml)',
      );
    }
    if (kind === DNS_ANSWERS_KIND) {
      if (!isObj(item.answers))
        throw new UsageError(
          `${at}: a ${DNS_ANSWERS_KIND} document needs "answers"`,
          quote(item.answers),
          'map each host name to a list of addresses',
        );
      for (const [name, ips] of Object.entries(item.answers))
        dns.set(name, checkDnsAnswer(name, Array.isArray(ips) ? ips : [ips], `${at} answers`));
      continue;
    }
    const meta = isObj(item.metadata) ? item.metadata : {};
    const name = meta.name;
    if (typeof name !== 'string' || !name)
      throw new UsageError(`${at}: ${kind} without metadata.name`, quote(meta.name), 'fix the state file');
    const namespace = typeof meta.namespace === 'string' ? meta.namespace : undefined;
    const labels = stringMap(meta.labels, `${kind} ${name} metadata.labels`, file);
    if (kind === 'Namespace') {
      namespaces.push({ name, labels });
    } else if (kind === 'Pod' || kind === 'Service') {
      if (!namespace)
        throw new UsageError(
          `${at}: ${kind} ${name} has no metadata.namespace`,
          'nothing',
          'export with "kubectl get ... -A -o yaml", which keeps namespaces',
        );
      const spec = isObj(item.spec) ? item.spec : {};
      if (kind === 'Service') {
        services.push({
          namespace,
          name,
          ...(spec.selector !== undefined
            ? { selector: stringMap(spec.selector, `Service ${namespace}/${name} spec.selector`, file) }
            : {}),
        });
        continue;
      }
      const status = isObj(item.status) ? item.status : {};
      const ips = Array.isArray(status.podIPs)
        ? status.podIPs.map((p) => (isObj(p) ? p.ip : p))
        : typeof status.podIP === 'string'
          ? [status.podIP]
          : [];
      for (const ip of ips) {
        if (typeof ip !== 'string' || !tryParseIp(ip))
          throw new UsageError(`${at}: Pod ${namespace}/${name} has an address that is not an IP`, quote(ip), 'fix status.podIPs');
      }
      pods.push({
        namespace,
        name,
        labels,
        ips: ips as string[],
        ...(typeof status.phase === 'string' ? { phase: status.phase } : {}),
        ...(meta.deletionTimestamp ? { terminating: true } : {}),
        ...(spec.hostNetwork === true ? { hostNetwork: true } : {}),
      });
    } else {
      throw new UsageError(
        `${at}: unsupported kind`,
        quote(kind),
        `the state holds Pods, Namespaces, Services (kubectl get pods,namespaces,services -A -o yaml) and ${DNS_ANSWERS_KIND} documents`,
      );
    }
  }
  return { snapshot: { pods, namespaces, services }, dns };
}

/** Parses `--resolve name=ip[,ip]` options. */
export function parseResolveOptions(values: readonly string[]): Map<string, string[]> {
  const dns = new Map<string, string[]>();
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new UsageError('--resolve', quote(v), 'write it as name=ip[,ip], such as --resolve api.stripe.com=203.0.113.10');
    const name = v.slice(0, eq).toLowerCase();
    dns.set(name, [...(dns.get(name) ?? []), ...checkDnsAnswer(name, v.slice(eq + 1).split(','), `--resolve ${quote(v)}`)]);
  }
  return dns;
}
