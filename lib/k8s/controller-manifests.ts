/**
 * The Kubernetes objects that run the controller, as plain manifests: namespace, service
 * account, least-privilege RBAC, the immutable plan and code ConfigMaps, the Deployment (Pod
 * Security "restricted"), a metrics Service and a PodDisruptionBudget.
 */
import { createHash } from 'node:crypto';
import type { SyncPlan } from '../policy/plan';
import { API_GROUP } from './crds';
import { MANAGED_BY, MANAGED_BY_LABEL } from './resources';
import type { Manifest } from './resources';

export const CONTROLLER_NAME = 'cdktf-ces-controller';
export const PLAN_KEY = 'plan.json';
export const BUNDLE_KEY = 'controller.js.gz';
const MOUNT = '/etc/cdktf-ces';
const CODE_MOUNT = '/opt/cdktf-ces';
/** Where the controller runs from: the image's own file, or the bundle unpacked by the init container. */
export const APP_DIR = '/app';
export const APP_FILE = `${APP_DIR}/controller.js`;
/** Node.js options of the controller container: semi-spaces of 4 MB (see the env below). */
export const CONTROLLER_NODE_OPTIONS = '--max-semi-space-size=4';

/**
 * The init container's program: gunzips the bundle (argument 1) to the file the controller
 * runs from (argument 2), with public Node.js APIs only, so any Node.js image can run it (no
 * shell needed). The bundle is compressed to stay far below the 1 MiB ConfigMap limit.
 */
export const UNPACK_SCRIPT =
  "const fs = require('fs'), zlib = require('zlib'); fs.writeFileSync(process.argv[2], zlib.gunzipSync(fs.readFileSync(process.argv[1])));";

/**
 * The largest ConfigMap the API server accepts: the sum of the `data` values and the decoded
 * `binaryData` values, at most `core.MaxSecretSize` (1 MiB) bytes (kubernetes/kubernetes
 * pkg/apis/core/validation/validation.go, ValidateConfigMap).
 */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024;

/** A Secret or ConfigMap the controller reads through the API. */
export interface ObjectRef {
  readonly namespace: string;
  readonly name: string;
}

export interface ControllerSettings {
  readonly namespace: string;
  readonly createNamespace: boolean;
  readonly plan: SyncPlan;
  readonly bigipUrl: string;
  /** The other units of a BIG-IP pair (BIGIP_HA_PEER_URLS); none for one BIG-IP. */
  readonly bigipPeerUrls?: readonly string[];
  /** Read through the API (not mounted), so the pod starts even when it is missing. */
  readonly credentialsSecret: ObjectRef;
  readonly usernameKey: string;
  readonly passwordKey: string;
  readonly caConfigMap?: ObjectRef;
  readonly caKey: string;
  readonly insecureSkipTlsVerify: boolean;
  /** A controller image of your own; when unset the bundle runs on `nodeImage`. */
  readonly image?: string;
  readonly nodeImage: string;
  /** The gzip-compressed controller bundle (only without `image`). */
  readonly bundle?: Buffer;
  readonly replicas: number;
  readonly cpuRequest: string;
  readonly memoryRequest: string;
  readonly memoryLimit: string;
  readonly coalesceMs: number;
  /** @default - the controller's default (2) */
  readonly maxPushesInFlight?: number;
  /** @default - the controller's default (80) */
  readonly maxDeviceBusyPercent?: number;
  /** Deprecated fixed ceiling; no MAX_PUSHES_PER_SECOND when unset. */
  readonly maxPushesPerSecond?: number;
  /** Anti-entropy interval; the controller's default (60 s) when absent. */
  readonly deviceCheckIntervalSeconds?: number;
  readonly logLevel: string;
  /** The flow-log receiver: listens in the pods, reached through a Service of its own. */
  readonly flowLogs?: FlowLogSettings;
}

function digest(data: string | Buffer, length: number): string {
  return createHash('sha256').update(data).digest('hex').slice(0, length);
}

/**
 * `name`, or when it is longer than `max`: its head, "-" and 8 hex digits of the SHA-256 of
 * the whole name. Deterministic, so the same cluster always gets the same names; the digest
 * keeps two long names with one head apart, and ends the name in a letter or digit as
 * DNS-1123 and DNS-1035 names must.
 */
export function boundedName(name: string, max: number): string {
  if (name.length <= max) return name;
  return `${name.slice(0, max - 9).replace(/-+$/, '')}-${digest(name, 8)}`;
}

/** Name limits of what the controller creates (kubernetes/kubernetes pkg/apis/core/validation, apimachinery pkg/util/validation). */
export const NAME_LIMITS = {
  /** Service names are DNS-1035 labels (ValidateServiceName = NameIsDNS1035Label). */
  label: 63,
  /** Most other objects are DNS-1123 subdomains (NameIsDNSSubdomain). */
  subdomain: 253,
} as const;

export interface FlowLogSettings {
  /** Service port, TCP and UDP. */
  readonly port: number;
  readonly containerPort: number;
  readonly serviceType: 'LoadBalancer' | 'NodePort' | 'ClusterIP';
  readonly nodePort?: number;
  readonly queueLimit: number;
}

/** The flow-log Service is `<controller>-flowlog`. */
export const FLOWLOG_SERVICE_SUFFIX = '-flowlog';

/** The names of a controller's objects, derived from the cluster name. */
export function controllerNames(cluster: string, plan?: string, bundle?: Buffer) {
  const base = `${CONTROLLER_NAME}-${cluster}`;
  // Label values have the DNS-1123 label limit too (63); with cluster names of at most 40
  // characters the base fits, but it is bounded like every name.
  const name = boundedName(base, NAME_LIMITS.label);
  return {
    name,
    /** The `app.kubernetes.io/instance` label value (at most 63 characters). */
    instance: name,
    lease: name,
    leader: boundedName(`${base}-leader`, NAME_LIMITS.subdomain),
    bigipConfig: boundedName(`${base}-bigip-config`, NAME_LIMITS.subdomain),
    metricsService: boundedName(`${base}-metrics`, NAME_LIMITS.label),
    flowLogService: `${boundedName(`${base}`, NAME_LIMITS.label - FLOWLOG_SERVICE_SUFFIX.length)}${FLOWLOG_SERVICE_SUFFIX}`,
    planConfigMap: boundedName(`${base}-plan-${digest(plan ?? '', 10)}`, NAME_LIMITS.subdomain),
    codeConfigMap: bundle ? boundedName(`${base}-code-${digest(bundle, 10)}`, NAME_LIMITS.subdomain) : undefined,
  };
}

/** The byte count the API server checks a ConfigMap's size limit against. */
export function configMapBytes(m: Manifest): number {
  const data = Object.values((m.data ?? {}) as Record<string, string>).reduce((n, v) => n + Buffer.byteLength(v, 'utf8'), 0);
  const binary = Object.values((m.binaryData ?? {}) as Record<string, string>).reduce((n, v) => n + Buffer.from(v, 'base64').length, 0);
  return data + binary;
}

/** Every object of the controller, in apply order. */
export function controllerManifests(s: ControllerSettings): Manifest[] {
  const planJson = JSON.stringify(s.plan);
  const n = controllerNames(s.plan.cluster, planJson, s.image ? undefined : s.bundle);
  const name = n.name;
  const labels = { 'app.kubernetes.io/name': CONTROLLER_NAME, 'app.kubernetes.io/instance': n.instance, [MANAGED_BY_LABEL]: MANAGED_BY };
  const selector = { 'app.kubernetes.io/name': CONTROLLER_NAME, 'app.kubernetes.io/instance': n.instance };
  // `null` for cluster-scoped objects (an explicit `undefined` would take the default).
  const meta = (objectName: string, namespace: string | null = s.namespace) => ({
    name: objectName,
    ...(namespace ? { namespace } : {}),
    labels,
  });
  const ruleResources = ['clusteregressrules', 'namespaceegressrules', 'serviceegressrules'];
  const subject = { kind: 'ServiceAccount', name, namespace: s.namespace };

  const out: Manifest[] = [];
  if (s.createNamespace) {
    out.push({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: s.namespace,
        labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' },
      },
    } as Manifest);
  }
  out.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(name), automountServiceAccountToken: true } as Manifest);
  out.push({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: meta(name, null),
    rules: [
      // What the controller's informers list and watch (lib/controller/main.ts).
      { apiGroups: [''], resources: ['pods', 'namespaces', 'services'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [API_GROUP], resources: ruleResources, verbs: ['get', 'list', 'watch'] },
      // Only the status of rule CRs is written, by merge patch; specs belong to Terraform.
      { apiGroups: [API_GROUP], resources: ruleResources.map((r) => `${r}/status`), verbs: ['patch'] },
    ],
  } as Manifest);
  out.push({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: meta(name, null),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: [subject],
  } as Manifest);
  out.push({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: meta(n.leader),
    rules: [
      // `create` cannot be limited to a name; reading and renewing can.
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [n.lease], verbs: ['get', 'update'] },
    ],
  } as Manifest);
  out.push({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: meta(n.leader),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: n.leader },
    subjects: [subject],
  } as Manifest);
  // The BIG-IP login (and CA bundle) are read through the API, each by name only: the Secret
  // may live in a namespace that exists before the deploy, and a pod whose Secret is missing
  // still starts and says what it waits for (a Secret volume would hold it in ContainerCreating).
  const reads = new Map<string, Record<string, unknown>[]>();
  const read = (ref: ObjectRef, resource: string) =>
    reads.set(ref.namespace, [
      ...(reads.get(ref.namespace) ?? []),
      { apiGroups: [''], resources: [resource], resourceNames: [ref.name], verbs: ['get'] },
    ]);
  read(s.credentialsSecret, 'secrets');
  if (s.caConfigMap) read(s.caConfigMap, 'configmaps');
  for (const [namespace, rules] of reads) {
    out.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta(n.bigipConfig, namespace), rules } as Manifest);
    out.push({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(n.bigipConfig, namespace),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: n.bigipConfig },
      subjects: [subject],
    } as Manifest);
  }
  // Immutable and named after their content: a new plan or controller is a new ConfigMap,
  // which rolls the Deployment; nothing changes under a running pod.
  out.push({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(n.planConfigMap),
    immutable: true,
    data: { [PLAN_KEY]: planJson },
  } as Manifest);
  if (n.codeConfigMap && s.bundle) {
    // binaryData: the gzip bytes in base64, the smallest form a ConfigMap can carry them in.
    out.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(n.codeConfigMap),
      immutable: true,
      binaryData: { [BUNDLE_KEY]: s.bundle.toString('base64') },
    } as Manifest);
  }

  const env = [
    { name: 'BIGIP_URL', value: s.bigipUrl },
    ...(s.bigipPeerUrls?.length ? [{ name: 'BIGIP_HA_PEER_URLS', value: s.bigipPeerUrls.join(',') }] : []),
    { name: 'BIGIP_CREDENTIALS_SECRET', value: `${s.credentialsSecret.namespace}/${s.credentialsSecret.name}` },
    { name: 'BIGIP_USERNAME_KEY', value: s.usernameKey },
    { name: 'BIGIP_PASSWORD_KEY', value: s.passwordKey },
    ...(s.caConfigMap
      ? [
          { name: 'BIGIP_CA_CONFIGMAP', value: `${s.caConfigMap.namespace}/${s.caConfigMap.name}` },
          { name: 'BIGIP_CA_KEY', value: s.caKey },
        ]
      : []),
    // Only a real `true` turns verification off: a truthy string such as "false" must not.
    ...(s.insecureSkipTlsVerify === true ? [{ name: 'BIGIP_INSECURE_SKIP_TLS_VERIFY', value: 'true' }] : []),
    { name: 'CES_PLAN_FILE', value: `${MOUNT}/plan/${PLAN_KEY}` },
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'LEASE_NAME', value: n.lease },
    { name: 'HTTP_PORT', value: '8080' },
    { name: 'COALESCE_MS', value: String(s.coalesceMs) },
    ...(s.maxPushesInFlight !== undefined ? [{ name: 'MAX_PUSHES_IN_FLIGHT', value: String(s.maxPushesInFlight) }] : []),
    ...(s.maxDeviceBusyPercent !== undefined ? [{ name: 'MAX_DEVICE_BUSY_PERCENT', value: String(s.maxDeviceBusyPercent) }] : []),
    ...(s.maxPushesPerSecond !== undefined ? [{ name: 'MAX_PUSHES_PER_SECOND', value: String(s.maxPushesPerSecond) }] : []),
    ...(s.deviceCheckIntervalSeconds !== undefined
      ? [{ name: 'DEVICE_CHECK_INTERVAL_MS', value: String(s.deviceCheckIntervalSeconds * 1000) }]
      : []),
    { name: 'LOG_LEVEL', value: s.logLevel },
    // V8 sizes its young generation from the heap limit, not the container's; small semi-spaces
    // cost the controller no measurable CPU or lag and save about 50 MB of resident memory at
    // 20,000 pods on Node 24 (docs/benchmarks.md), room that the default 256Mi limit needs.
    { name: 'NODE_OPTIONS', value: CONTROLLER_NODE_OPTIONS },
    ...(s.flowLogs
      ? [
          { name: 'FLOWLOG_PORT', value: String(s.flowLogs.containerPort) },
          { name: 'FLOWLOG_QUEUE_LIMIT', value: String(s.flowLogs.queueLimit) },
        ]
      : []),
  ];
  const volumes: Record<string, unknown>[] = [
    { name: 'plan', configMap: { name: n.planConfigMap } },
    { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
  ];
  const mounts: Record<string, unknown>[] = [
    { name: 'plan', mountPath: `${MOUNT}/plan`, readOnly: true },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  const securityContext = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
  const initContainers: Record<string, unknown>[] = [];
  if (n.codeConfigMap) {
    // The init container (same image) unpacks the bundle into an emptyDir; the controller then
    // runs as plain `node /app/controller.js`, as in its own image.
    volumes.push({ name: 'code', configMap: { name: n.codeConfigMap } }, { name: 'app', emptyDir: { sizeLimit: '16Mi' } });
    mounts.push({ name: 'app', mountPath: APP_DIR, readOnly: true });
    initContainers.push({
      name: 'unpack',
      image: s.nodeImage,
      imagePullPolicy: 'IfNotPresent',
      command: ['node', '-e', UNPACK_SCRIPT, `${CODE_MOUNT}/${BUNDLE_KEY}`, APP_FILE],
      resources: { requests: { cpu: s.cpuRequest, memory: s.memoryRequest }, limits: { memory: s.memoryLimit } },
      securityContext,
      terminationMessagePolicy: 'FallbackToLogsOnError',
      volumeMounts: [
        { name: 'code', mountPath: CODE_MOUNT, readOnly: true },
        { name: 'app', mountPath: APP_DIR },
      ],
    });
  }
  const probe = (path: string, failureThreshold: number) => ({
    httpGet: { path, port: 'http' },
    periodSeconds: 10,
    timeoutSeconds: 3,
    failureThreshold,
  });

  out.push({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(name),
    spec: {
      replicas: s.replicas,
      selector: { matchLabels: selector },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: name,
          automountServiceAccountToken: true,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 30,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            fsGroup: 65532,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } } },
              ],
            },
          },
          ...(initContainers.length ? { initContainers } : {}),
          containers: [
            {
              name: 'controller',
              image: s.image ?? s.nodeImage,
              imagePullPolicy: 'IfNotPresent',
              // A controller image runs its own entry point (the same `node /app/controller.js`).
              ...(s.image ? {} : { command: ['node', APP_FILE] }),
              env,
              ports: [
                { name: 'http', containerPort: 8080, protocol: 'TCP' },
                ...(s.flowLogs
                  ? [
                      { name: 'flowlog-tcp', containerPort: s.flowLogs.containerPort, protocol: 'TCP' },
                      { name: 'flowlog-udp', containerPort: s.flowLogs.containerPort, protocol: 'UDP' },
                    ]
                  : []),
              ],
              livenessProbe: probe('/healthz', 3),
              // Not ready while the BIG-IP login is missing: the rollout wait then fails the deploy
              // with the pods saying why, instead of reporting success.
              readinessProbe: probe('/readyz', 2),
              startupProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 2, failureThreshold: 30 },
              resources: { requests: { cpu: s.cpuRequest, memory: s.memoryRequest }, limits: { memory: s.memoryLimit } },
              securityContext,
              // A configuration error ends the process with one line; this shows it in the pod status.
              terminationMessagePolicy: 'FallbackToLogsOnError',
              volumeMounts: mounts,
            },
          ],
          volumes,
        },
      },
    },
  } as Manifest);
  out.push({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { ...meta(n.metricsService), annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080' } },
    spec: { selector, ports: [{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }] },
  } as Manifest);
  if (s.flowLogs) {
    const f = s.flowLogs;
    // One port number for both protocols: a mixed-protocol Service (GA in Kubernetes 1.26 for
    // LoadBalancer, MixedProtocolLBService); the device's syslog server names one port.
    const port = (protocol: 'TCP' | 'UDP') => ({
      name: `flowlog-${protocol.toLowerCase()}`,
      port: f.port,
      targetPort: `flowlog-${protocol.toLowerCase()}`,
      protocol,
      ...(f.nodePort !== undefined ? { nodePort: f.nodePort } : {}),
    });
    out.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(n.flowLogService),
      spec: { type: f.serviceType, selector, ports: [port('TCP'), port('UDP')] },
    } as Manifest);
  }
  // With one replica a PodDisruptionBudget would block node drains; it is for the HA pair.
  if (s.replicas >= 2) {
    out.push({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: meta(name),
      // AlwaysAllow: a replica that is not ready (a crash loop, a missing Secret) may be
      // evicted, so it never blocks a node drain (policy/v1 PodDisruptionBudgetSpec, GA in 1.31).
      spec: { minAvailable: 1, selector: { matchLabels: selector }, unhealthyPodEvictionPolicy: 'AlwaysAllow' },
    } as Manifest);
  }
  return out;
}
