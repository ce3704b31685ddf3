/**
 * CustomResourceDefinitions of the rule kinds, as plain objects.
 *
 * Structural schemas with bounds on every list and string (so CEL rules stay within the API
 * server's cost budget), CEL `x-kubernetes-validations` for the cross-field checks an
 * OpenAPI schema cannot express, printer columns and a status subresource with conditions.
 * CEL rules use only the standard library (no Kubernetes extensions such as `isCIDR`), so
 * they work on every supported API server and can be evaluated in our tests.
 */
import { CR_LIMITS } from '../policy/limits';

export const API_GROUP = 'egress.cdktf-ces.io';
export const API_VERSION = 'v1alpha1';
export const API_GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;

export type RuleKind = 'ClusterEgressRule' | 'NamespaceEgressRule' | 'ServiceEgressRule';
export type EgressKind = RuleKind | 'ExternalService';

export interface KindInfo {
  readonly kind: EgressKind;
  readonly plural: string;
  readonly singular: string;
  readonly shortName: string;
  readonly scope: 'Cluster' | 'Namespaced';
}

/**
 * Short names apart from those of F5 Container Egress Services (group `kubeovn.io`: cgr, nsgr,
 * svcgr, exsvc for the same four kind names), so that while both are installed during a
 * migration `kubectl get afmcgr` is ours and `kubectl get cgr` CES's, never a guess. The plural
 * names are the same in both groups: `kubectl get clusteregressrules.egress.cdktf-ces.io` names
 * ours in full.
 */
export const KINDS: Readonly<Record<EgressKind, KindInfo>> = {
  ClusterEgressRule: {
    kind: 'ClusterEgressRule',
    plural: 'clusteregressrules',
    singular: 'clusteregressrule',
    shortName: 'afmcgr',
    scope: 'Cluster',
  },
  NamespaceEgressRule: {
    kind: 'NamespaceEgressRule',
    plural: 'namespaceegressrules',
    singular: 'namespaceegressrule',
    shortName: 'afmngr',
    scope: 'Namespaced',
  },
  ServiceEgressRule: {
    kind: 'ServiceEgressRule',
    plural: 'serviceegressrules',
    singular: 'serviceegressrule',
    shortName: 'afmsgr',
    scope: 'Namespaced',
  },
  ExternalService: {
    kind: 'ExternalService',
    plural: 'externalservices',
    singular: 'externalservice',
    shortName: 'afmexsvc',
    scope: 'Cluster',
  },
};

/** `kubectl get cdktf-ces` lists every kind of ours (CES's CRDs have no categories). */
export const CATEGORIES: readonly string[] = ['cdktf-ces', 'egress'];

type Schema = Record<string, unknown>;

const str = (maxLength: number, extra: Schema = {}): Schema => ({ type: 'string', maxLength, ...extra });
const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
const FQDN_PATTERN = '^(\\*\\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\\.)+[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$';
const SAFE_TEXT_PATTERN = '^[A-Za-z0-9 _.,:;@#()/+=-]*$';
const ADDRESS_PATTERN = '^[0-9a-fA-F:.]+$';

const labelSelector: Schema = {
  type: 'object',
  description: 'A Kubernetes label selector; empty selects everything.',
  properties: {
    matchLabels: { type: 'object', maxProperties: CR_LIMITS.matchLabels, additionalProperties: str(63) },
    matchExpressions: {
      type: 'array',
      maxItems: CR_LIMITS.matchExpressions,
      items: {
        type: 'object',
        required: ['key', 'operator'],
        properties: {
          key: str(317),
          operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'] },
          values: { type: 'array', maxItems: CR_LIMITS.values, items: str(63) },
        },
        'x-kubernetes-validations': [
          {
            rule: "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",
            message: 'In and NotIn need values; Exists and DoesNotExist take none',
          },
        ],
      },
    },
  },
};

function destinationSchema(allowExternalService: boolean): Schema {
  const properties: Schema = {
    address: str(45, { pattern: ADDRESS_PATTERN, description: 'One IPv4 or IPv6 address.' }),
    cidr: str(49, { pattern: '^[0-9a-fA-F:.]+/[0-9]{1,3}$', description: 'A network in CIDR notation.' }),
    range: {
      type: 'object',
      required: ['first', 'last'],
      properties: { first: str(45, { pattern: ADDRESS_PATTERN }), last: str(45, { pattern: ADDRESS_PATTERN }) },
    },
    fqdn: str(253, { pattern: FQDN_PATTERN, description: 'A DNS name; "*." matches one label.' }),
  };
  const kinds = ['address', 'cidr', 'range', 'fqdn'];
  if (allowExternalService) {
    properties.externalService = str(63, { pattern: DNS_LABEL_PATTERN, description: 'Name of an ExternalService.' });
    kinds.push('externalService');
  }
  return {
    type: 'object',
    properties,
    'x-kubernetes-validations': [
      {
        rule: `[${kinds.map((k) => `has(self.${k})`).join(', ')}].filter(x, x).size() == 1`,
        message: `set exactly one of ${kinds.join(', ')}`,
      },
    ],
  };
}

const portSchema: Schema = {
  type: 'object',
  required: ['protocol'],
  properties: {
    protocol: str(24, { pattern: '^[a-z0-9][a-z0-9./+-]*$', description: 'Lower-case AFM protocol name.' }),
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    endPort: { type: 'integer', minimum: 1, maximum: 65535 },
  },
  'x-kubernetes-validations': [
    { rule: '!has(self.endPort) || (has(self.port) && self.endPort >= self.port)', message: 'endPort needs port and must not be below it' },
    {
      rule: "!has(self.port) || self.protocol in ['tcp', 'udp', 'sctp', 'udplite', 'dccp']",
      message: 'only tcp, udp, sctp, udplite and dccp have ports',
    },
  ],
};

const scheduleSchema: Schema = {
  type: 'object',
  required: ['startTime', 'endTime', 'timeZone', 'daysOfWeek'],
  properties: {
    daysOfWeek: {
      type: 'array',
      maxItems: 7,
      items: { type: 'string', enum: ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] },
    },
    startTime: str(5, { pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' }),
    endTime: str(5, { pattern: '^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$' }),
    timeZone: str(64),
  },
  'x-kubernetes-validations': [{ rule: 'self.endTime > self.startTime', message: 'endTime must be after startTime' }],
};

const conditionSchema: Schema = {
  type: 'object',
  required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
  properties: {
    type: str(316),
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    observedGeneration: { type: 'integer', minimum: 0 },
    lastTransitionTime: { type: 'string', format: 'date-time' },
    reason: str(1024, { pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$' }),
    message: str(32768),
  },
};

const statusSchema: Schema = {
  type: 'object',
  properties: {
    observedGeneration: { type: 'integer', minimum: 0 },
    members: { type: 'integer', minimum: 0, description: 'Pod addresses in the source list on the BIG-IP.' },
    lastSyncTime: { type: 'string', format: 'date-time' },
    windowOpen: { type: 'boolean', description: 'Inside the rule time window (windowed rules only).' },
    conditions: {
      type: 'array',
      maxItems: 8,
      items: conditionSchema,
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
    },
  },
};

function ruleSpecSchema(kind: RuleKind): Schema {
  const properties: Schema = {
    action: { type: 'string', enum: ['Deny', 'Reject', 'Allow', 'AllowFinal'] },
    priority: { type: 'integer', minimum: 0, maximum: 1000, description: 'Lower is evaluated first; ties by name.' },
    destinations: { type: 'array', minItems: 1, maxItems: CR_LIMITS.destinations, items: destinationSchema(true) },
    ports: { type: 'array', maxItems: CR_LIMITS.ports, items: portSchema },
    logging: { type: 'boolean' },
    audit: { type: 'boolean', description: 'Staged only: reported, never enforced.' },
    description: str(64, { pattern: SAFE_TEXT_PATTERN }),
    bandwidthLimit: {
      type: 'object',
      required: ['maxBandwidth', 'unit'],
      properties: {
        maxBandwidth: { type: 'integer', minimum: 1, maximum: 4294967295 },
        unit: { type: 'string', enum: ['bps', 'Kbps', 'Mbps', 'Gbps'] },
      },
    },
    schedule: scheduleSchema,
    expiresAt: { type: 'string', format: 'date-time' },
    snat: {
      type: 'object',
      description: "The rule's own source translation addresses (an AFM NAT policy rule).",
      required: ['addresses'],
      properties: { addresses: { type: 'array', minItems: 1, items: str(45) } },
    },
    redirect: {
      type: 'object',
      description: 'Next hops of the traffic the rule allows, instead of the device gateways.',
      required: ['name', 'gateways'],
      properties: {
        name: str(40, { pattern: DNS_LABEL_PATTERN }),
        gateways: { type: 'array', minItems: 1, maxItems: 16, items: str(15, { pattern: ADDRESS_PATTERN }) },
      },
    },
  };
  const required = ['action', 'priority', 'destinations'];
  if (kind === 'ClusterEgressRule') {
    properties.namespaceSelector = labelSelector;
    properties.podSelector = labelSelector;
  } else if (kind === 'NamespaceEgressRule') {
    properties.podSelector = labelSelector;
  } else {
    properties.service = str(63, { pattern: DNS_LABEL_PATTERN, description: 'Service whose selector picks the source pods.' });
    required.push('service');
  }
  return { type: 'object', required, properties };
}

function externalServiceSpecSchema(): Schema {
  return {
    type: 'object',
    required: ['destinations'],
    properties: {
      destinations: { type: 'array', minItems: 1, maxItems: CR_LIMITS.destinations, items: destinationSchema(false) },
      description: str(64, { pattern: SAFE_TEXT_PATTERN }),
    },
  };
}

const READY = '.status.conditions[?(@.type=="Ready")].status';

function printerColumns(kind: EgressKind): Schema[] {
  if (kind === 'ExternalService') {
    return [
      { name: 'Description', type: 'string', jsonPath: '.spec.description' },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ];
  }
  return [
    ...(kind === 'ServiceEgressRule' ? [{ name: 'Service', type: 'string', jsonPath: '.spec.service' }] : []),
    { name: 'Action', type: 'string', jsonPath: '.spec.action' },
    { name: 'Priority', type: 'integer', jsonPath: '.spec.priority' },
    { name: 'Ready', type: 'string', jsonPath: READY },
    { name: 'Members', type: 'integer', jsonPath: '.status.members' },
    { name: 'Audit', type: 'boolean', jsonPath: '.spec.audit', priority: 1 },
    { name: 'Expires', type: 'date', jsonPath: '.spec.expiresAt', priority: 1 },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ];
}

/** The `openAPIV3Schema` of a kind (also used by tests to validate the CRs we render). */
export function openApiSchema(kind: EgressKind): Schema {
  const spec = kind === 'ExternalService' ? externalServiceSpecSchema() : ruleSpecSchema(kind);
  return {
    type: 'object',
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec,
      status: statusSchema,
    },
  };
}

/** A complete `apiextensions.k8s.io/v1` CustomResourceDefinition. */
export function customResourceDefinition(kind: EgressKind): Schema {
  const info = KINDS[kind];
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${info.plural}.${API_GROUP}`,
      labels: { 'app.kubernetes.io/managed-by': 'cdktf-ces', 'app.kubernetes.io/part-of': 'cdktf-ces' },
    },
    spec: {
      group: API_GROUP,
      scope: info.scope,
      names: {
        kind,
        listKind: `${kind}List`,
        plural: info.plural,
        singular: info.singular,
        shortNames: [info.shortName],
        categories: [...CATEGORIES],
      },
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: openApiSchema(kind) },
          subresources: { status: {} },
          additionalPrinterColumns: printerColumns(kind),
        },
      ],
    },
  };
}

export const ALL_KINDS: readonly EgressKind[] = ['ClusterEgressRule', 'NamespaceEgressRule', 'ServiceEgressRule', 'ExternalService'];
