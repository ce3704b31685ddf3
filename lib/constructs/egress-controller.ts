import * as fs from 'node:fs';
import * as path from 'node:path';
import { Construct } from 'constructs';
import { Lazy, TerraformResource, TerraformStack } from 'cdktf';
import type { BigipAs3 } from '../../providers/bigip/as3';
import {
  BUNDLE_KEY,
  CONFIGMAP_MAX_BYTES,
  ControllerSettings,
  FLOWLOG_SERVICE_SUFFIX,
  NAME_LIMITS,
  PLAN_KEY,
  ObjectRef,
  configMapBytes,
  controllerManifests,
} from '../k8s/controller-manifests';
import type { Manifest } from '../k8s/resources';
import { z } from 'zod';
import { booleanProp, parseProps, throwIssues, wholeNumber } from '../policy/device';
import { EgressPolicyError, PolicyIssue, quote } from '../policy/errors';
import { DNS_LABEL } from '../policy/names';
import { readStruct } from '../policy/struct';
import { struct } from '../policy/schema';
import { PLAN_FORMAT, SyncPlan } from '../policy/plan';
import { buildSyncPlan } from '../k8s/sync-plan';
import { QuantityError, canonicalQuantity } from '../k8s/quantity';
import { packageRoot } from '../util';
import { AfmDevice } from './afm-device';
import { check, hostProblem, misplacedProps, terraformStringProblem } from './connection';
import { checkedConstructId } from './construct-id';
import { KubernetesManifest } from './kubernetes-manifest';
import { isRefused, markUnbuilt, refused } from './problems';

/** Where the bundled controller is built by `npm run build`. */
export const CONTROLLER_BUNDLE = 'dist/controller/controller.js.gz';

/**
 * The Node.js release line the controller runs on: the default `nodeImage`, the Dockerfile's
 * base, the bundle's esbuild target and `engines` in package.json all name it (a test ties
 * them together). Node.js 24 is an LTS line supported until 2028-04-30; Node.js 20 reached its
 * end of life on 2026-04-30.
 */
export const NODE_MAJOR = 24;
/** The default `nodeImage`: a pinned release of {@link NODE_MAJOR} on Alpine. */
export const DEFAULT_NODE_IMAGE = 'node:24.11.1-alpine3.22';

/** Props of {@link EgressController}. */
export interface EgressControllerProps {
  /** The device whose source lists the controller keeps current; must be in the same stack. */
  readonly device: AfmDevice;
  /**
   * Namespace of the controller.
   * @default "cdktf-ces-system"
   */
  readonly namespace?: string;
  /**
   * Create the namespace (labelled to enforce the Pod Security "restricted" profile). Never for
   * `default`, `kube-system`, `kube-public` or `kube-node-lease`: set false to use one of them.
   * @default true
   */
  readonly createNamespace?: boolean;
  /**
   * The Secret with the BIG-IP username and password: `name` (in the controller's namespace)
   * or `namespace/name`. The controller reads it through the API (RBAC: `get` of this one
   * Secret), so it may live in a namespace that exists before the deploy, and a missing Secret
   * or key leaves the controller running and not ready, saying what it waits for. The
   * credentials never appear in the synthesized configuration.
   */
  readonly credentialsSecret: string;
  /**
   * Key of the username in the Secret.
   * @default "username"
   */
  readonly usernameKey?: string;
  /**
   * Key of the password in the Secret.
   * @default "password"
   */
  readonly passwordKey?: string;
  /**
   * The ConfigMap holding the CA bundle that signs the BIG-IP management certificate: `name`
   * (in the controller's namespace) or `namespace/name`, read through the API like
   * credentialsSecret. Required unless insecureSkipTlsVerify is set.
   * @default - none
   */
  readonly caBundleConfigMap?: string;
  /**
   * Key of the CA bundle in the ConfigMap.
   * @default "ca.crt"
   */
  readonly caBundleKey?: string;
  /**
   * Turn off TLS verification of the BIG-IP (lab only; the controller logs a warning).
   * @default false
   */
  readonly insecureSkipTlsVerify?: boolean;
  /**
   * Management URL the controller uses: `https://host[:port]`, without credentials, path or query.
   * @default - the device's managementUrl
   */
  readonly bigipUrl?: string;
  /**
   * Management URLs of the other units the controller uses when the device is a BIG-IP pair
   * (`highAvailability`), one per peer in the device's order: `https://host[:port]` each.
   * Required with `bigipUrl` on a pair.
   * @default - the device's peerManagementUrls
   */
  readonly bigipPeerUrls?: string[];
  /**
   * A controller image of your own (see lib/controller/Dockerfile): an image reference
   * `[registry[:port]/]repository[:tag][@sha256:digest]`.
   * @default - the controller bundled with this library, from a content-hashed ConfigMap, on `nodeImage`
   */
  readonly image?: string;
  /**
   * Stock Node.js image that runs the bundled controller (an init container of the same image
   * unpacks it). Pin a digest in production.
   * @default "node:24.11.1-alpine3.22"
   */
  readonly nodeImage?: string;
  /**
   * Replicas; two give a hot standby through leader election.
   * @default 2
   */
  readonly replicas?: number;
  /**
   * CPU request.
   * @default "50m"
   */
  readonly cpuRequest?: string;
  /**
   * Memory request.
   * @default "128Mi"
   */
  readonly memoryRequest?: string;
  /**
   * Memory limit.
   * @default "256Mi"
   */
  readonly memoryLimit?: string;
  /**
   * Longest wait, in milliseconds, of a list that only gained addresses for more changes before
   * it is pushed (a list that lost one is pushed at once). On a fast device the wait is shorter:
   * at most four times what a push of the list takes.
   * @default 250
   */
  readonly coalesceMs?: number;
  /**
   * Most list pushes in flight to the BIG-IP at once. The controller starts at one and widens
   * while the device answers on time; it halves when answers slow down or the device answers 503.
   * @default 2
   */
  readonly maxPushesInFlight?: number;
  /**
   * Most of the BIG-IP control plane's time the list pushes may take, in percent: pushes go out
   * as fast as the device answers, with pauses that leave the rest of its time to other work
   * (AS3 declarations, the GUI, other controllers). Halved while answers slow down or the device
   * answers 503, and regained as answers come back on time.
   * @default 80
   */
  readonly maxDeviceBusyPercent?: number;
  /**
   * A fixed ceiling on list pushes per second, on top of the pacing by the device.
   * @deprecated the controller paces pushes by the device's answers; set maxDeviceBusyPercent to leave the device more headroom
   * @default - no fixed ceiling
   */
  readonly maxPushesPerSecond?: number;
  /**
   * How often the leader reads the device's lists and contexts back and repairs lists that differ
   * from the cluster (anti-entropy), in seconds; each check is jittered and spread over time.
   * @default 60
   */
  readonly deviceCheckIntervalSeconds?: number;
  /**
   * Log level of the controller.
   * @default "info"
   */
  readonly logLevel?: string;
  /**
   * Receive the device's AFM flow logs: the controller pods listen for the device's syslog
   * (TCP and UDP) behind a Service, and write each event as a JSON line on stdout with the pod,
   * namespace, node and Services that held the source address at the event's time and the rule
   * behind it. Point the device's `logging.syslogServers` at the Service.
   * @default - no receiver
   */
  readonly flowLogs?: FlowLogReceiverOptions;
}

/** How the device reaches the flow-log receiver: the Service type in front of the controller pods. */
export enum FlowLogServiceType {
  /** A load balancer address (`status.loadBalancer`); the device sends to it on `port`. */
  LOAD_BALANCER = 'LoadBalancer',
  /** Every node's address on `nodePort`. */
  NODE_PORT = 'NodePort',
  /** A cluster IP: only for a device that routes to the Service network. */
  CLUSTER_IP = 'ClusterIP',
}

/** Options of the flow-log receiver ({@link EgressControllerProps.flowLogs}). */
export interface FlowLogReceiverOptions {
  /**
   * Port of the Service, TCP and UDP (the pods listen on 5514).
   * @default 5514
   */
  readonly port?: number;
  /**
   * Service type: how the device, outside the cluster, reaches the receiver.
   * @default FlowLogServiceType.LOAD_BALANCER
   */
  readonly serviceType?: FlowLogServiceType;
  /**
   * Node port, TCP and UDP (30000-32767); required with `FlowLogServiceType.NODE_PORT`, where the
   * device's syslog server port must be this one.
   * @default - none
   */
  readonly nodePort?: number;
  /**
   * Most flow records a pod queues for stdout; beyond it TCP reads pause (the device's
   * high-speed log sees back-pressure) and UDP datagrams are dropped and counted.
   * @default 10000
   */
  readonly queueLimit?: number;
}

/** The port the controller's receiver listens on in the pod (unprivileged: the pod runs as non-root with no capabilities). */
export const FLOWLOG_CONTAINER_PORT = 5514;

/** The controller's resources when the props leave them out (the `@default`s above). */
const DEFAULT_CPU_REQUEST = '50m';
const DEFAULT_MEMORY_REQUEST = '128Mi';
const DEFAULT_MEMORY_LIMIT = '256Mi';
const QUANTITY_FACTORS: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/**
 * Why `value` is not a positive quantity in the API server's canonical form, or undefined.
 *
 * The API server stores a quantity parsed and written back canonically
 * (kubernetes/apimachinery pkg/api/resource/quantity.go: ParseQuantity rounds up to 1n,
 * CanonicalizeBytes picks the largest suffix that loses no precision, and shows a binary
 * value below 1024 or with a fraction in decimal SI), so `0.5` comes back as `500m`,
 * `1000m` as `1` and `1024Mi` as `1Gi`. `kubernetes_manifest` then fails with "Provider
 * produced inconsistent result after apply" (terraform-provider-kubernetes #1572: 1000m
 * came back as 1; #2508: 1000 as 1k):
 * only the canonical form is accepted, and the message gives it. Nothing is rewritten.
 */
function quantityProblem(value: string): string | undefined {
  let canonical: string;
  try {
    canonical = canonicalQuantity(value);
  } catch (e) {
    if (e instanceof QuantityError) return 'must be a Kubernetes quantity such as "100m" or "256Mi"';
    throw e;
  }
  if (canonical.startsWith('-') || canonical === '0') return 'must be more than zero';
  if (canonical !== value)
    return `the API server stores it as "${canonical}" and Terraform then reports an inconsistent result after apply: write "${canonical}"`;
  return undefined;
}

/** The amount a canonical quantity stands for: `1Gi` → 1073741824. */
function quantityValue(quantity: string): number {
  const m = /^([0-9]+)(?:[eE]([0-9]+)|(.*))$/.exec(quantity) as RegExpExecArray;
  return Number(m[1]) * (m[2] !== undefined ? 10 ** Number(m[2]) : QUANTITY_FACTORS[m[3]]);
}
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A Service name is an RFC 1035 label: it starts with a letter. */
const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** Namespaces every cluster has: creating (and on destroy deleting) one of them is never meant. */
const SYSTEM_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

const ALNUM = '[a-z0-9]+';
const PATH_COMPONENT = `${ALNUM}(?:(?:[._]|__|-+)${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]{1,5})?`;
/** `[registry[:port]/]repository[:tag][@digest]`, as the OCI distribution reference grammar defines it. */
const IMAGE_REFERENCE = new RegExp(
  `^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}))?$`,
);

/** Why `ref` is not an image reference Kubernetes can pull, or undefined. */
function imageProblem(ref: string): string | undefined {
  const unsafe = terraformStringProblem(ref);
  if (unsafe) return unsafe;
  const name = ref.split('@')[0].replace(/:[\w][\w.-]{0,127}$/, '');
  if (!IMAGE_REFERENCE.test(ref) || name.length > 255) {
    return 'must be an image reference [registry[:port]/]repository[:tag][@sha256:digest] with a lower-case repository, such as "registry.example.com/cdktf-ces/controller:1.2.0" or "node:22-alpine@sha256:<64 hex digits>"';
  }
  return undefined;
}

/** Why `url` is not an `https://host[:port]` URL the controller may use, or undefined. */
function bigipUrlProblem(url: string): string | undefined {
  const unsafe = terraformStringProblem(url);
  if (unsafe) return unsafe;
  const form = 'must be https://host[:port], such as "https://bigip.example.net" or "https://192.0.2.10:8443"';
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/.exec(url);
  if (!m) return form;
  if (m[1] !== 'https') return `must use https (it has "${m[1]}://"): the controller sends the BIG-IP password over this connection`;
  if (m[2].includes('@')) {
    return 'must not carry credentials ("user:password@"): they would stand in the Deployment in plain text; the controller reads them from the Secret named by credentialsSecret';
  }
  if (m[3] !== '' && m[3] !== '/') return `${form}, without path, query or fragment`;
  const hostPort = /^(\[[^\]]*\]|[^:]*)(?::([^:]*))?$/.exec(m[2]);
  if (!hostPort) return form;
  const host = hostProblem(hostPort[1]);
  if (host) return `its host ${host}`;
  const port = hostPort[2];
  if (port !== undefined && (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535))
    return `its port must be a whole number from 1 to 65535 (it has "${port}")`;
  return undefined;
}

/** A URL with any `user:password@` part hidden, for error messages (which reach CI logs). */
function withoutUserInfo(url: string): string {
  return url.replace(/^([^:/?#]*:\/\/)[^/?#]*@/, '$1(credentials not shown)@');
}

function dataKeyProblem(key: string): string | undefined {
  if (key.length > 253 || !/^[-._a-zA-Z0-9]+$/.test(key))
    return 'must be a ConfigMap or Secret key: letters, digits, "-", "_" and ".", at most 253 characters';
  if (key === '.' || key === '..') return 'must be a ConfigMap or Secret key, not "." or ".."';
  return undefined;
}

/** Why `ref` is not `name` or `namespace/name` of a namespaced object, or undefined. */
function objectRefProblem(ref: string, what: string): string | undefined {
  const parts = ref.split('/');
  const [namespace, name] = parts.length === 2 ? parts : [undefined, ref];
  const form = `must name ${what}: "name" (in the controller's namespace) or "namespace/name"`;
  if (parts.length > 2) return form;
  if (namespace !== undefined && !(namespace.length <= 63 && DNS_LABEL.test(namespace)))
    return `${form}, and "${namespace}" is not a namespace name (a DNS label)`;
  if (!(name.length <= 253 && DNS_SUBDOMAIN.test(name)))
    return `${form}, with a name that is a DNS subdomain (lower-case letters, digits, "-" and "."), at most 253 characters`;
  return undefined;
}

/** The object a valid `name` or `namespace/name` reference points at. */
function objectRef(ref: string, defaultNamespace: string): ObjectRef {
  const slash = ref.indexOf('/');
  return slash < 0 ? { namespace: defaultNamespace, name: ref } : { namespace: ref.slice(0, slash), name: ref.slice(slash + 1) };
}

const objectName = (what: string, required?: string) =>
  z
    .string({ error: (issue) => (issue.input === undefined && required ? required : `expected the name of ${what}`) })
    .superRefine(check((v) => objectRefProblem(v, what)));
const dataKey = z.string({ error: 'expected a ConfigMap or Secret key' }).superRefine(check(dataKeyProblem)).optional();
const quantity = z.string({ error: 'expected a Kubernetes quantity string' }).superRefine(check(quantityProblem)).optional();
const image = z.string({ error: 'expected an image reference' }).superRefine(check(imageProblem)).optional();

const FLOWLOG_EXPECTED = 'expected FlowLogReceiverOptions ({ port, serviceType, nodePort, queueLimit })';
const controllerSchema = z.strictObject({
  device: z.custom<AfmDevice>((v) => AfmDevice.isAfmDevice(v), {
    error: (issue) =>
      issue.input === undefined
        ? 'is required: set device to the AfmDevice whose source lists the controller keeps current'
        : 'must be an AfmDevice',
  }),
  namespace: z
    .string({ error: 'expected a namespace name' })
    .superRefine(check((v) => (DNS_LABEL.test(v) && v.length <= 63 ? undefined : 'must be a DNS label (a Kubernetes namespace name)')))
    .optional(),
  createNamespace: booleanProp(),
  credentialsSecret: objectName(
    'an existing Secret with the BIG-IP username and password',
    "is required: name an existing Secret in the controller's namespace that holds the BIG-IP username and password",
  ),
  usernameKey: dataKey,
  passwordKey: dataKey,
  caBundleConfigMap: objectName('a ConfigMap with the CA bundle of the BIG-IP management certificate').optional(),
  caBundleKey: dataKey,
  insecureSkipTlsVerify: booleanProp(),
  bigipUrl: z
    .string({ error: 'expected an https URL' })
    .superRefine((v, ctx) => {
      const p = bigipUrlProblem(v);
      if (p) ctx.addIssue({ code: 'custom', message: p, params: { quotedValue: quote(withoutUserInfo(v)) } });
    })
    .optional(),
  bigipPeerUrls: z
    .array(
      z.string({ error: 'expected an https URL' }).superRefine((v, ctx) => {
        const p = bigipUrlProblem(v);
        if (p) ctx.addIssue({ code: 'custom', message: p, params: { quotedValue: quote(withoutUserInfo(v)) } });
      }),
      { error: 'expected the https URLs of the other units of the BIG-IP pair' },
    )
    .optional(),
  image,
  nodeImage: image,
  replicas: wholeNumber(1, 5).optional(),
  cpuRequest: quantity,
  memoryRequest: quantity,
  memoryLimit: quantity,
  coalesceMs: wholeNumber(0, 60000, ' of milliseconds').optional(),
  maxPushesInFlight: wholeNumber(1, 16).optional(),
  maxDeviceBusyPercent: wholeNumber(1, 100).optional(),
  maxPushesPerSecond: wholeNumber(1, 1000).optional(),
  deviceCheckIntervalSeconds: wholeNumber(1, 86_400, ' of seconds').optional(),
  logLevel: z.enum(['debug', 'info', 'warn', 'error'], { error: 'must be debug, info, warn or error' }).optional(),
  flowLogs: struct(
    z.strictObject(
      {
        port: wholeNumber(1, 65535).optional(),
        serviceType: z
          .enum(['LoadBalancer', 'NodePort', 'ClusterIP'], { error: 'must be FlowLogServiceType.LOAD_BALANCER, NODE_PORT or CLUSTER_IP' })
          .optional(),
        nodePort: wholeNumber(30000, 32767).optional(),
        queueLimit: wholeNumber(100, 1_000_000).optional(),
      },
      { error: FLOWLOG_EXPECTED },
    ),
    { what: 'FlowLogReceiverOptions', expected: FLOWLOG_EXPECTED },
  ).optional(),
});
const CONTROLLER_FIELDS = Object.keys(controllerSchema.shape);
const CONTROLLER_HINTS = {
  what: 'an EgressController',
  nested: { flowLogs: 'FlowLogReceiverOptions' },
  expected: '{ device, credentialsSecret, caBundleConfigMap, ... }',
  misplaced: misplacedProps(CONTROLLER_FIELDS, {
    address: 'the controller reaches the BIG-IP at bigipUrl ("https://host[:port]"; by default the device\'s managementUrl)',
    port: 'the controller reaches the BIG-IP at bigipUrl ("https://host[:port]"; by default the device\'s managementUrl)',
    credentials: 'the controller reads the BIG-IP credentials from the Secret named by credentialsSecret',
    tlsCaBundlePath: 'the controller reads the CA bundle from the ConfigMap named by caBundleConfigMap (key caBundleKey)',
    clusterName: 'the controller takes the cluster name from its device',
    sharedBigip: 'it is a prop of AfmDevice; the controller follows its device',
    secretName: 'the Secret with the BIG-IP credentials is credentialsSecret',
  }),
};

/**
 * The controller of each device, and the controllers of each stack (their object names derive
 * from the cluster name; the namespace they create, if any, is declared once per stack).
 */
const controllerOfDevice = new WeakMap<AfmDevice, string>();
const controllersOfStack = new WeakMap<TerraformStack, { cluster: string; path: string; createdNamespace?: string }[]>();

/** A DNS-1123 label (label values, namespaces): apimachinery pkg/util/validation IsDNS1123Label. */
const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * Why a generated object name breaks its kind's rule (kubernetes/kubernetes
 * pkg/apis/core/validation: a Service name is a DNS-1035 label, ValidateServiceName;
 * ConfigMaps, ServiceAccounts, Deployments, PodDisruptionBudgets and Leases are DNS-1123
 * subdomains; RBAC names are path segments, pkg/apis/rbac/validation ValidateRBACName, held
 * here to the subdomain rule), or undefined. Names are derived so that none breaks it; this
 * is the check that they do not.
 */
function generatedNameProblem(m: Manifest): string | undefined {
  const name = m.metadata.name;
  const [limit, pattern, rule] =
    m.kind === 'Service'
      ? [NAME_LIMITS.label, DNS_1035_LABEL, 'a DNS-1035 label']
      : m.kind === 'Namespace'
        ? [NAME_LIMITS.label, DNS_1123_LABEL, 'a DNS-1123 label']
        : [NAME_LIMITS.subdomain, DNS_SUBDOMAIN, 'a DNS-1123 subdomain'];
  if (name.length > limit || !pattern.test(name)) return `${m.kind} name "${name}" is not ${rule} of at most ${limit} characters`;
  const instance = (m.metadata as { labels?: Record<string, string> }).labels?.['app.kubernetes.io/instance'];
  if (instance !== undefined && (instance.length > NAME_LIMITS.label || !DNS_1123_LABEL.test(instance)))
    return `label value "${instance}" of ${m.kind} ${name} is longer than ${NAME_LIMITS.label} characters`;
  return undefined;
}

/**
 * The in-cluster controller that keeps the device's source lists in sync with pod IPs:
 * namespace, service account, least-privilege RBAC, the sync plan (rendered at synth, so rules
 * added after this construct are included) and a Pod Security "restricted" Deployment of two
 * replicas with leader election, probes and a metrics Service.
 */
export class EgressController extends Construct {
  /** The Kubernetes objects, in apply order: `kubernetes_manifest` resources. */
  public readonly resources: TerraformResource[] = [];

  constructor(scope: Construct, id: string, props: EgressControllerProps) {
    super(scope, checkedConstructId(scope, id, 'an EgressController'));
    const at = this.node.path;
    // Own keys only, in and out: a value other code put on Object.prototype (an
    // insecureSkipTlsVerify: true) must never reach the controller.
    const ownProps = readStruct(props, '').data ?? props;
    const { value: p, issues } = parseProps(controllerSchema, ownProps, at, CONTROLLER_HINTS);
    // Refused props are reported at synth with every other problem of the app; a refused
    // controller creates no Kubernetes object.
    if (issues[0]?.field === '(props)' && refused(this, () => throwIssues(issues, CONTROLLER_FIELDS))) return;
    const raw = ownProps as Record<string, unknown>;
    const add = (field: string, value: unknown, message: string) => issues.push({ path: at, field, value: quote(value), message });
    const stack = TerraformStack.of(this);

    if (raw.caBundleConfigMap === undefined && raw.insecureSkipTlsVerify !== true) {
      add(
        'caBundleConfigMap',
        undefined,
        'TLS verification is on by default; name the ConfigMap with the CA bundle of the BIG-IP management certificate (or, in a lab only, set insecureSkipTlsVerify: true)',
      );
    }
    if (raw.caBundleConfigMap !== undefined && raw.insecureSkipTlsVerify === true)
      add('insecureSkipTlsVerify', true, 'contradicts caBundleConfigMap; set only one');
    const given = AfmDevice.isAfmDevice(raw.device) ? raw.device : undefined;
    // The controller of a refused device is checked but not built (see problems.ts).
    if (given && !isRefused(given)) {
      if (TerraformStack.of(given) !== stack)
        add('device', given.node.path, "is in another stack; create the controller in the device's stack");
      const other = controllerOfDevice.get(given);
      if (other)
        add(
          'device',
          given.node.path,
          `already has a controller (${other}); two would fight over the device's lists: keep one EgressController per AfmDevice`,
        );
      // A pair's other units: the device's, or as many given ones (with bigipUrl, the cluster may reach the units elsewhere).
      const peers = given.peerManagementUrls.length;
      if (Array.isArray(raw.bigipPeerUrls) && raw.bigipPeerUrls.length !== peers)
        add(
          'bigipPeerUrls',
          raw.bigipPeerUrls,
          peers === 0
            ? 'the device is one BIG-IP (no highAvailability): leave bigipPeerUrls out'
            : `the device's pair has ${peers} other unit(s) (highAvailability.peerAddresses); give one URL for each, in that order`,
        );
      else if (peers > 0 && raw.bigipUrl !== undefined && raw.bigipPeerUrls === undefined)
        add(
          'bigipPeerUrls',
          undefined,
          "the device is a BIG-IP pair and bigipUrl replaces the leader's URL: give the other units' URLs the controller reaches too",
        );
      const sameCluster = (controllersOfStack.get(stack) ?? []).find((c) => c.cluster === given.clusterName);
      if (!other && sameCluster) {
        add(
          'device',
          given.node.path,
          `has clusterName "${given.clusterName}" like the device of controller ${sameCluster.path} in this stack; their Kubernetes objects would have the same names: one controller per cluster`,
        );
      }
    }
    const namespace = p?.namespace ?? 'cdktf-ces-system';
    const createNamespace = p?.createNamespace ?? true;
    if (createNamespace && SYSTEM_NAMESPACES.includes(namespace)) {
      add(
        'createNamespace',
        p?.createNamespace,
        `would create (and on destroy delete) namespace "${namespace}", which every cluster has: set createNamespace: false, or use a namespace of the controller's own`,
      );
    }
    const creator = createNamespace ? (controllersOfStack.get(stack) ?? []).find((c) => c.createdNamespace === namespace) : undefined;
    if (creator) {
      add(
        'namespace',
        namespace,
        `is created by controller ${creator.path} of this stack too, and one stack cannot declare a Namespace twice: set createNamespace: false on ${at} (it then uses the namespace ${creator.path} creates), or give each controller a namespace of its own`,
      );
    }
    // Compared as amounts (1Gi against 256Mi), once both are valid quantities.
    const quantityOr = (v: unknown, fallback: string) =>
      v === undefined ? fallback : typeof v === 'string' && quantityProblem(v) === undefined ? v : undefined;
    const memoryRequest = quantityOr(raw.memoryRequest, DEFAULT_MEMORY_REQUEST);
    const memoryLimit = quantityOr(raw.memoryLimit, DEFAULT_MEMORY_LIMIT);
    if (memoryRequest !== undefined && memoryLimit !== undefined && quantityValue(memoryRequest) > quantityValue(memoryLimit)) {
      const [field, value] = raw.memoryRequest !== undefined ? ['memoryRequest', memoryRequest] : ['memoryLimit', memoryLimit];
      add(
        field,
        value,
        `the memory request ${memoryRequest} is above the memory limit ${memoryLimit}${raw.memoryLimit === undefined ? ' (the default)' : ''}, and Kubernetes refuses such a Deployment: lower memoryRequest or raise memoryLimit`,
      );
    }
    if ((raw.usernameKey ?? 'username') === (raw.passwordKey ?? 'password'))
      add('passwordKey', raw.passwordKey, 'must differ from usernameKey: one key cannot hold both');
    if (p?.flowLogs) for (const [field, value, message] of flowLogProblems(p.flowLogs, given)) add(field, value, message);
    let bundle: Buffer | undefined;
    if (raw.image === undefined) {
      const file = path.join(packageRoot(), CONTROLLER_BUNDLE);
      if (!fs.existsSync(file))
        add(
          'image',
          undefined,
          `the bundled controller ${CONTROLLER_BUNDLE} is missing; run "npm run build" in the cdktf-ces package, or set image`,
        );
      else bundle = fs.readFileSync(file);
    }
    if (refused(this, () => throwIssues(issues, CONTROLLER_FIELDS))) return;
    if (given && isRefused(given)) {
      markUnbuilt(this, given);
      return;
    }
    const valid = p as z.output<typeof controllerSchema>;

    const settingsFor = (plan: SyncPlan): ControllerSettings => ({
      namespace,
      createNamespace: valid.createNamespace ?? true,
      plan,
      bigipUrl: valid.bigipUrl ?? valid.device.managementUrl,
      bigipPeerUrls: valid.bigipPeerUrls ?? valid.device.peerManagementUrls,
      credentialsSecret: objectRef(valid.credentialsSecret, namespace),
      usernameKey: valid.usernameKey ?? 'username',
      passwordKey: valid.passwordKey ?? 'password',
      caConfigMap: valid.caBundleConfigMap === undefined ? undefined : objectRef(valid.caBundleConfigMap, namespace),
      caKey: valid.caBundleKey ?? 'ca.crt',
      insecureSkipTlsVerify: valid.insecureSkipTlsVerify ?? false,
      image: valid.image,
      nodeImage: valid.nodeImage ?? DEFAULT_NODE_IMAGE,
      bundle,
      replicas: valid.replicas ?? 2,
      cpuRequest: valid.cpuRequest ?? DEFAULT_CPU_REQUEST,
      memoryRequest: valid.memoryRequest ?? DEFAULT_MEMORY_REQUEST,
      memoryLimit: valid.memoryLimit ?? DEFAULT_MEMORY_LIMIT,
      coalesceMs: valid.coalesceMs ?? 250,
      maxPushesInFlight: valid.maxPushesInFlight ?? 2,
      maxDeviceBusyPercent: valid.maxDeviceBusyPercent ?? 80,
      maxPushesPerSecond: valid.maxPushesPerSecond,
      deviceCheckIntervalSeconds: valid.deviceCheckIntervalSeconds,
      logLevel: valid.logLevel ?? 'info',
      flowLogs: valid.flowLogs && {
        port: valid.flowLogs.port ?? FLOWLOG_CONTAINER_PORT,
        containerPort: FLOWLOG_CONTAINER_PORT,
        serviceType: valid.flowLogs.serviceType ?? FlowLogServiceType.LOAD_BALANCER,
        ...(valid.flowLogs.nodePort !== undefined ? { nodePort: valid.flowLogs.nodePort } : {}),
        queueLimit: valid.flowLogs.queueLimit ?? 10_000,
      },
    });
    const device = valid.device;
    // Which objects exist does not depend on the plan; their content (the plan, and the
    // ConfigMap names hashed from it) is rendered at synth, so rules added after this
    // construct are part of the plan.
    const empty: SyncPlan = {
      format: PLAN_FORMAT,
      cluster: device.clusterName,
      tenant: device.tenant,
      application: '',
      routeDomain: 0,
      lists: [],
      rules: [],
    };
    const shape = controllerManifests(settingsFor(empty));
    const badName = shape.map(generatedNameProblem).find((p) => p !== undefined);
    if (badName) throw new Error(`internal error: ${badName}`);
    const code = shape.find(
      (m) => m.kind === 'ConfigMap' && (m.binaryData as Record<string, string> | undefined)?.[BUNDLE_KEY] !== undefined,
    );
    if (code && refused(this, () => throwIssues(configMapSizeIssues(code, at, 'image'), CONTROLLER_FIELDS))) return;
    controllerOfDevice.set(device, at);
    controllersOfStack.set(stack, [
      ...(controllersOfStack.get(stack) ?? []),
      { cluster: device.clusterName, path: at, createdNamespace: createNamespace ? namespace : undefined },
    ]);
    let rendered: Manifest[] | undefined;
    const manifestAt = (i: number) => {
      if (!rendered) {
        let all: Manifest[];
        try {
          all = controllerManifests(
            settingsFor(
              buildSyncPlan(
                device._compile(),
                device.sharedBigip ? { name: device.sharedBigip.name, dnsResolver: device.sharedBigip.dnsResolver } : 'own',
                { attribution: valid.flowLogs !== undefined },
              ),
            ),
          );
        } catch (e) {
          // A policy problem is reported by the device's validation; render the shape meanwhile.
          if (e instanceof EgressPolicyError) return shape[i];
          throw e;
        }
        const plan = all.find((m) => m.kind === 'ConfigMap' && m.binaryData === undefined) as Manifest;
        throwIssues(configMapSizeIssues(plan, at, 'device'), CONTROLLER_FIELDS);
        rendered = all;
      }
      return rendered[i];
    };
    // The AS3 declarations in this stack that create the controller's lists (the device's
    // tenant, and /Common/Shared when its SharedBigip lives here too); a declaration in another
    // stack is applied first anyway, since this stack depends on that one.
    const listDeclarations = [device.declaration, device.sharedBigip?.declaration].filter(
      (d): d is BigipAs3 => d !== undefined && TerraformStack.of(d) === stack,
    );
    const created: TerraformResource[] = [];
    shape.forEach((m, i) => {
      const resource = new KubernetesManifest(this, resourceId(m, namespace), {
        manifest: Lazy.anyValue({ produce: () => manifestAt(i) }) as unknown as Record<string, unknown>,
        // The namespace first; the Deployment after everything it mounts and runs as.
        // The Deployment also after the declaration that creates the lists it pushes to: a pod
        // started before AS3 has created a list gets 404 for it.
        dependsOn:
          m.kind === 'Deployment'
            ? [...created, ...listDeclarations]
            : m.kind !== 'Namespace' && created[0] && shape[0].kind === 'Namespace'
              ? [created[0]]
              : undefined,
        // Named after their content, a ConfigMap is replaced on every change, and Terraform
        // replaces destroy-first by default: the running pods' volume would vanish before the
        // new ConfigMap and the rolled Deployment exist. Create first, then destroy.
        ...(m.kind === 'ConfigMap' ? { lifecycle: { createBeforeDestroy: true } } : {}),
        // The deploy succeeds only once the rollout has: the new pods are ready, which they
        // are not while the BIG-IP login is missing (the provider's RolloutWaiter uses kubectl's
        // rollout status viewer, manifest/provider/waiter.go).
        ...(m.kind === 'Deployment' ? { wait: { rollout: true } } : {}),
      });
      created.push(resource);
    });
    this.resources = created;
  }
}

/** Construct ids stay as they were for existing objects, so that an upgrade replaces nothing it need not. */
function resourceId(m: Manifest, controllerNamespace: string): string {
  if (m.kind === 'Service' && m.metadata.name.endsWith(FLOWLOG_SERVICE_SUFFIX)) return 'FlowLogService';
  if (m.kind === 'ConfigMap')
    return (m.binaryData as Record<string, string> | undefined)?.[BUNDLE_KEY] !== undefined ? 'CodeConfigMap' : 'PlanConfigMap';
  if ((m.kind === 'Role' || m.kind === 'RoleBinding') && m.metadata.name.endsWith('-bigip-config')) {
    return `BigipConfig${m.kind}${m.metadata.namespace === controllerNamespace ? '' : `-${m.metadata.namespace}`}`;
  }
  return m.kind;
}

/** The 1 MiB size limit of a ConfigMap, checked at synth (the API server would refuse it at apply). */
function configMapSizeIssues(m: Manifest, path: string, field: string): PolicyIssue[] {
  const bytes = configMapBytes(m);
  if (bytes <= CONFIGMAP_MAX_BYTES) return [];
  const what = field === 'image' ? 'the bundled controller' : 'the sync plan (every rule and source list of the device)';
  const attributed = (JSON.parse((m.data as Record<string, string>)[PLAN_KEY] ?? '{}') as Partial<SyncPlan>).rules?.some(
    (r) => r.attribution,
  );
  const fix =
    field === 'image'
      ? 'build the controller image (lib/controller/Dockerfile) and set image'
      : `split the rules over more clusters or devices, or merge rules with the same source${attributed ? " (flowLogs adds each rule's construct path, owner and ticket to the plan)" : ''}`;
  return [
    {
      path,
      field,
      value: quote(m.metadata.name),
      message: `ConfigMap ${m.metadata.name} holds ${what} in ${bytes} bytes, and the API server refuses a ConfigMap over ${CONFIGMAP_MAX_BYTES} bytes (1 MiB): ${fix}`,
    },
  ];
}

/**
 * The receiver options against the device: the device must send its logs where the receiver
 * listens, or no event ever arrives and nothing says why.
 */
function flowLogProblems(
  options: { port?: number; serviceType?: string; nodePort?: number },
  device: AfmDevice | undefined,
): [string, unknown, string][] {
  const problems: [string, unknown, string][] = [];
  const type = options.serviceType ?? FlowLogServiceType.LOAD_BALANCER;
  if (type === FlowLogServiceType.NODE_PORT && options.nodePort === undefined)
    problems.push([
      'flowLogs.nodePort',
      undefined,
      "is required with FlowLogServiceType.NODE_PORT: pick a port from 30000-32767 and use it in the device's logging.syslogServers",
    ]);
  if (type !== FlowLogServiceType.NODE_PORT && options.nodePort !== undefined)
    problems.push([
      'flowLogs.nodePort',
      options.nodePort,
      `only applies with FlowLogServiceType.NODE_PORT (serviceType is ${type}): remove it, or set serviceType: FlowLogServiceType.NODE_PORT`,
    ]);
  if (!device || isRefused(device) || problems.length) return problems;
  const port = type === FlowLogServiceType.NODE_PORT ? (options.nodePort as number) : (options.port ?? FLOWLOG_CONTAINER_PORT);
  const servers = device._deviceModel.logging.servers;
  const shown = servers.map((s) => (s.address.includes(':') ? `[${s.address}]:${s.port}` : `${s.address}:${s.port}`));
  if (servers.length === 0)
    problems.push([
      type === FlowLogServiceType.NODE_PORT ? 'flowLogs.nodePort' : 'flowLogs.port',
      port,
      `device ${device.node.path} sends no syslog: set its logging.syslogServers to the receiver Service's address on port ${port}`,
    ]);
  else if (!servers.some((s) => s.port === port))
    problems.push([
      type === FlowLogServiceType.NODE_PORT ? 'flowLogs.nodePort' : 'flowLogs.port',
      port,
      `the receiver listens on port ${port}${type === FlowLogServiceType.NODE_PORT ? ' (nodePort)' : ''}, but device ${device.node.path} sends its logs to ${shown.join(', ')}: add the receiver Service's address with port ${port} to the device's logging.syslogServers, or set flowLogs.${type === FlowLogServiceType.NODE_PORT ? 'nodePort' : 'port'} to the port the device sends to`,
    ]);
  return problems;
}
