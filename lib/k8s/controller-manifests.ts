/**
 * The Kubernetes objects that run the controller, as plain manifests: namespace, service
 * account, least-privilege RBAC, the immutable plan and code ConfigMaps, the Deployment (Pod
 * Security "restricted"), a metrics Service and a PodDisruptionBudget.
 */
import { createHash } from 'node:crypto';
import type { SyncPlan } from '../policy/plan';
import { API_GROUP, KINDS } from './crds';
import { MANAGED_BY, MANAGED_BY_LABEL } from './resources';
import type { Manifest } from './resources';

export const CONTROLLER_NAME = 'cdktf-ces-controller';
export const PLAN_KEY = 'plan.json';
export const BUNDLE_KEY = 'controller.js.gz';
export const LOADER_KEY = 'loader.js';
const MOUNT = '/etc/cdktf-ces';
const CODE_MOUNT = '/opt/cdktf-ces';

/**
 * Runs the gzip-compressed bundle from the code ConfigMap on a stock Node.js image (the bundle
 * is compressed to stay far below the 1 MiB ConfigMap limit).
 */
export const LOADER_SOURCE = [
  "'use strict';",
  "const fs = require('fs'), zlib = require('zlib'), path = require('path'), Module = require('module');",
  `const file = path.join(__dirname, 'controller.js');`,
  `const source = zlib.gunzipSync(fs.readFileSync(path.join(__dirname, '${BUNDLE_KEY}'))).toString('utf8');`,
  'const m = new Module(file, module);',
  'm.filename = file;',
  'm.paths = Module._nodeModulePaths(__dirname);',
  'm._compile(source, file);',
  '',
].join('\n');

export interface ControllerSettings {
  readonly namespace: string;
  readonly createNamespace: boolean;
  readonly plan: SyncPlan;
  readonly bigipUrl: string;
  readonly credentialsSecret: string;
  readonly usernameKey: string;
  readonly passwordKey: string;
  readonly caConfigMap?: string;
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
  readonly logLevel: string;
}

function hash(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 10);
}

/** Every object of the controller, in apply order. */
export function controllerManifests(s: ControllerSettings): Manifest[] {
  const name = `${CONTROLLER_NAME}-${s.plan.cluster}`;
  const labels = { 'app.kubernetes.io/name': CONTROLLER_NAME, 'app.kubernetes.io/instance': name, [MANAGED_BY_LABEL]: MANAGED_BY };
  const selector = { 'app.kubernetes.io/name': CONTROLLER_NAME, 'app.kubernetes.io/instance': name };
  const meta = (objectName: string, namespaced = true) => ({ name: objectName, ...(namespaced ? { namespace: s.namespace } : {}), labels });
  const leaseName = name;
  const planJson = JSON.stringify(s.plan);
  const planConfigMap = `${name}-plan-${hash(planJson)}`;
  const codeConfigMap = s.bundle ? `${name}-code-${hash(Buffer.concat([s.bundle, Buffer.from(LOADER_SOURCE)]))}` : undefined;
  const ruleResources = ['clusteregressrules', 'namespaceegressrules', 'serviceegressrules'];

  const out: Manifest[] = [];
  if (s.createNamespace) {
    out.push({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: s.namespace, labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' } },
    } as Manifest);
  }
  out.push({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(name), automountServiceAccountToken: true } as Manifest);
  out.push({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: meta(name, false),
    rules: [
      { apiGroups: [''], resources: ['pods', 'namespaces', 'services'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [API_GROUP], resources: [...ruleResources, KINDS.ExternalService.plural], verbs: ['get', 'list', 'watch'] },
      // Only the status of rule CRs is written; specs belong to Terraform.
      { apiGroups: [API_GROUP], resources: ruleResources.map((r) => `${r}/status`), verbs: ['get', 'patch', 'update'] },
    ],
  } as Manifest);
  out.push({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: meta(name, false),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: [{ kind: 'ServiceAccount', name, namespace: s.namespace }],
  } as Manifest);
  out.push({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: meta(`${name}-leader`),
    rules: [
      // `create` cannot be limited to a name; reading and renewing can.
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [leaseName], verbs: ['get', 'update'] },
    ],
  } as Manifest);
  out.push({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: meta(`${name}-leader`),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${name}-leader` },
    subjects: [{ kind: 'ServiceAccount', name, namespace: s.namespace }],
  } as Manifest);
  // Immutable and named after their content: a new plan or controller is a new ConfigMap,
  // which rolls the Deployment; nothing changes under a running pod.
  out.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(planConfigMap), immutable: true, data: { [PLAN_KEY]: planJson } } as Manifest);
  if (codeConfigMap && s.bundle) {
    out.push({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta(codeConfigMap),
      immutable: true,
      data: { [LOADER_KEY]: LOADER_SOURCE },
      binaryData: { [BUNDLE_KEY]: s.bundle.toString('base64') },
    } as Manifest);
  }

  const env = [
    { name: 'BIGIP_URL', value: s.bigipUrl },
    { name: 'BIGIP_CREDENTIALS_DIR', value: `${MOUNT}/bigip` },
    { name: 'BIGIP_USERNAME_KEY', value: s.usernameKey },
    { name: 'BIGIP_PASSWORD_KEY', value: s.passwordKey },
    ...(s.caConfigMap ? [{ name: 'BIGIP_CA_FILE', value: `${MOUNT}/ca/${s.caKey}` }] : []),
    // Only a real `true` turns verification off: a truthy string such as "false" must not.
    ...(s.insecureSkipTlsVerify === true ? [{ name: 'BIGIP_INSECURE_SKIP_TLS_VERIFY', value: 'true' }] : []),
    { name: 'CES_PLAN_FILE', value: `${MOUNT}/plan/${PLAN_KEY}` },
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'LEASE_NAME', value: leaseName },
    { name: 'HTTP_PORT', value: '8080' },
    { name: 'COALESCE_MS', value: String(s.coalesceMs) },
    ...(s.maxPushesInFlight !== undefined ? [{ name: 'MAX_PUSHES_IN_FLIGHT', value: String(s.maxPushesInFlight) }] : []),
    ...(s.maxDeviceBusyPercent !== undefined ? [{ name: 'MAX_DEVICE_BUSY_PERCENT', value: String(s.maxDeviceBusyPercent) }] : []),
    ...(s.maxPushesPerSecond !== undefined ? [{ name: 'MAX_PUSHES_PER_SECOND', value: String(s.maxPushesPerSecond) }] : []),
    { name: 'LOG_LEVEL', value: s.logLevel },
  ];
  const volumes: Record<string, unknown>[] = [
    { name: 'plan', configMap: { name: planConfigMap } },
    // The whole Secret, so a missing key is reported by the controller by name.
    { name: 'bigip-credentials', secret: { secretName: s.credentialsSecret, defaultMode: 0o440 } },
    { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
  ];
  const mounts: Record<string, unknown>[] = [
    { name: 'plan', mountPath: `${MOUNT}/plan`, readOnly: true },
    { name: 'bigip-credentials', mountPath: `${MOUNT}/bigip`, readOnly: true },
    { name: 'tmp', mountPath: '/tmp' },
  ];
  if (s.caConfigMap) {
    volumes.push({ name: 'bigip-ca', configMap: { name: s.caConfigMap } });
    mounts.push({ name: 'bigip-ca', mountPath: `${MOUNT}/ca`, readOnly: true });
  }
  if (codeConfigMap) {
    volumes.push({ name: 'code', configMap: { name: codeConfigMap } });
    mounts.push({ name: 'code', mountPath: CODE_MOUNT, readOnly: true });
  }
  const probe = (path: string, failureThreshold: number) => ({ httpGet: { path, port: 'http' }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold });

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
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                { weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } } },
              ],
            },
          },
          containers: [
            {
              name: 'controller',
              image: s.image ?? s.nodeImage,
              imagePullPolicy: 'IfNotPresent',
              ...(s.image ? {} : { command: ['node', `${CODE_MOUNT}/${LOADER_KEY}`] }),
              env,
              ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
              livenessProbe: probe('/healthz', 3),
              readinessProbe: probe('/readyz', 2),
              startupProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 2, failureThreshold: 30 },
              resources: { requests: { cpu: s.cpuRequest, memory: s.memoryRequest }, limits: { memory: s.memoryLimit } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
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
    metadata: { ...meta(`${name}-metrics`), annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080' } },
    spec: { selector, ports: [{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }] },
  } as Manifest);
  // With one replica a PodDisruptionBudget would block node drains; it is for the HA pair.
  if (s.replicas >= 2) {
    out.push({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: meta(name), spec: { minAvailable: 1, selector: { matchLabels: selector } } } as Manifest);
  }
  return out;
}
