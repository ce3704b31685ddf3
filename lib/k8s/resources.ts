/**
 * Rule and ExternalService models → custom resources (plain manifests).
 */
import type { ActionName, DestinationModel, ExternalServiceModel, RuleModel, SelectorModel } from '../policy/model';
import { isEmptySelector } from '../policy/model';
import { API_GROUP, API_GROUP_VERSION, RuleKind } from './crds';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'cdktf-ces';
export const CLUSTER_LABEL = `${API_GROUP}/cluster`;
export const OWNER_ANNOTATION = `${API_GROUP}/owner`;
export const TICKET_ANNOTATION = `${API_GROUP}/ticket`;
export const JUSTIFICATION_ANNOTATION = `${API_GROUP}/justification`;
/** The rule's onMatch iRule, described (`file tag.tcl, sha256 …`); the code itself stays in the repository. */
export const ON_MATCH_ANNOTATION = `${API_GROUP}/on-match-irule`;
export const CONSTRUCT_PATH_ANNOTATION = `${API_GROUP}/construct-path`;

export type Manifest = Record<string, unknown> & { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

const CR_ACTION: Readonly<Record<ActionName, string>> = { DENY: 'Deny', REJECT: 'Reject', ALLOW: 'Allow', ALLOW_FINAL: 'AllowFinal' };

export const RULE_KIND: Readonly<Record<RuleModel['level'], RuleKind>> = {
  cluster: 'ClusterEgressRule',
  namespace: 'NamespaceEgressRule',
  service: 'ServiceEgressRule',
};

/**
 * An optional field of a model, read only when the model has it: a field left out must never
 * pick up a value another program set on `Object.prototype` (a `fromPort` there would narrow
 * every-port rules, a `service` would turn a cluster rule's resource into a service rule's).
 */
function own<T extends object, K extends keyof T>(model: T, key: K): T[K] | undefined {
  return Object.prototype.hasOwnProperty.call(model, key) ? model[key] : undefined;
}

function selector(s: SelectorModel | undefined): Record<string, unknown> | undefined {
  if (!s || isEmptySelector(s)) return undefined;
  const out: Record<string, unknown> = {};
  if (Object.keys(s.matchLabels).length) out.matchLabels = { ...s.matchLabels };
  if (s.matchExpressions.length) {
    out.matchExpressions = s.matchExpressions.map((e) =>
      e.values.length ? { key: e.key, operator: e.operator, values: [...e.values] } : { key: e.key, operator: e.operator },
    );
  }
  return out;
}

export function destinationSpec(d: DestinationModel): Record<string, unknown> {
  switch (d.kind) {
    case 'address':
      return { address: d.text };
    case 'cidr':
      return { cidr: d.text };
    case 'range': {
      const [first, last] = d.text.split('-');
      return { range: { first, last } };
    }
    case 'fqdn':
      return { fqdn: d.text };
    case 'externalService':
      return { externalService: d.name };
  }
}

function metadata(name: string, cluster: string, path: string, namespace?: string, annotations: Record<string, string> = {}) {
  const meta: Record<string, unknown> = {
    name,
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [CLUSTER_LABEL]: cluster },
    annotations: { [CONSTRUCT_PATH_ANNOTATION]: path, ...annotations },
  };
  if (namespace) meta.namespace = namespace;
  return meta as Manifest['metadata'];
}

/** The custom resource that shows one rule in the cluster. */
export function ruleResource(rule: RuleModel, cluster: string): Manifest {
  const spec: Record<string, unknown> = {
    action: CR_ACTION[rule.action],
    priority: rule.priority,
    destinations: rule.destinations.map(destinationSpec),
  };
  if (rule.ports.length) {
    spec.ports = rule.ports.map((p) => {
      const port: Record<string, unknown> = { protocol: p.protocol };
      const [fromPort, toPort] = [own(p, 'fromPort'), own(p, 'toPort')];
      if (fromPort !== undefined) port.port = fromPort;
      if (toPort !== undefined && toPort !== fromPort) port.endPort = toPort;
      return port;
    });
  }
  const ns = selector(own(rule.source, 'namespaceSelector'));
  if (ns) spec.namespaceSelector = ns;
  const pods = selector(own(rule.source, 'podSelector'));
  if (pods) spec.podSelector = pods;
  const service = own(rule.source, 'service');
  if (service) spec.service = service;
  if (rule.logging) spec.logging = true;
  if (rule.audit) spec.audit = true;
  const description = own(rule, 'description');
  if (description) spec.description = description;
  const bandwidth = own(rule, 'bandwidth');
  if (bandwidth) spec.bandwidthLimit = { maxBandwidth: bandwidth.maxBandwidth, unit: bandwidth.unit };
  const snat = own(rule, 'snat');
  if (snat) spec.snat = { addresses: snat.addresses.map((a) => a.text) };
  const redirect = own(rule, 'redirect');
  if (redirect) spec.redirect = { name: redirect.name, gateways: redirect.gateways.map((g) => g.text) };
  const schedule = own(rule, 'schedule');
  if (schedule) {
    spec.schedule = {
      daysOfWeek: [...schedule.daysOfWeek],
      startTime: schedule.startTime,
      endTime: schedule.endTime,
      timeZone: schedule.timeZone,
    };
  }
  const expiresAt = own(rule, 'expiresAt');
  if (expiresAt) spec.expiresAt = new Date(expiresAt).toISOString().replace(/\.000Z$/, 'Z');

  const annotations: Record<string, string> = {};
  const [owner, ticket, justification] = [own(rule.metadata, 'owner'), own(rule.metadata, 'ticket'), own(rule.metadata, 'justification')];
  if (owner) annotations[OWNER_ANNOTATION] = owner;
  if (ticket) annotations[TICKET_ANNOTATION] = ticket;
  if (justification) annotations[JUSTIFICATION_ANNOTATION] = justification;
  const onMatch = own(rule, 'onMatch');
  if (onMatch) annotations[ON_MATCH_ANNOTATION] = `${onMatch.source}, sha256 ${onMatch.sha256}`;

  return {
    apiVersion: API_GROUP_VERSION,
    kind: RULE_KIND[rule.level],
    metadata: metadata(rule.name, cluster, rule.path, own(rule, 'namespace'), annotations),
    spec,
  };
}

export function externalServiceResource(es: ExternalServiceModel, cluster: string): Manifest {
  const spec: Record<string, unknown> = { destinations: es.destinations.map(destinationSpec) };
  const description = own(es, 'description');
  if (description) spec.description = description;
  return { apiVersion: API_GROUP_VERSION, kind: 'ExternalService', metadata: metadata(es.name, cluster, es.path), spec };
}
