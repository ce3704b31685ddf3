import * as fs from 'node:fs';
import * as path from 'node:path';
import { Construct } from 'constructs';
import { Lazy, TerraformStack } from 'cdktf';
import { Manifest as ManifestResource } from '@cdktf/provider-kubernetes/lib/manifest';
import { ControllerSettings, controllerManifests } from '../k8s/controller-manifests';
import type { Manifest } from '../k8s/resources';
import { EgressPolicyError, PolicyIssue, quote } from '../policy/errors';
import { DNS_LABEL } from '../policy/names';
import { PLAN_FORMAT, SyncPlan, buildSyncPlan } from '../policy/plan';
import { packageRoot } from '../util';
import { AfmDevice } from './afm-device';

/** Where the bundled controller is built by `npm run build`. */
export const CONTROLLER_BUNDLE = 'dist/controller/controller.js.gz';

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
   * Create the namespace (labelled to enforce the Pod Security "restricted" profile).
   * @default true
   */
  readonly createNamespace?: boolean;
  /**
   * Name of an existing Secret in the controller's namespace with the BIG-IP username and
   * password. The credentials never appear in the synthesized configuration.
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
   * Name of a ConfigMap in the controller's namespace holding the CA bundle that signs the
   * BIG-IP management certificate. Required unless insecureSkipTlsVerify is set.
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
   * Management URL the controller uses.
   * @default - the device's managementUrl
   */
  readonly bigipUrl?: string;
  /**
   * A controller image of your own (see lib/controller/Dockerfile).
   * @default - the controller bundled with this library, from a content-hashed ConfigMap, on `nodeImage`
   */
  readonly image?: string;
  /**
   * Stock Node.js image that runs the bundled controller. Pin a digest in production.
   * @default "node:20-alpine"
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
   * How long additions to a list wait to be pushed together, in milliseconds.
   * @default 250
   */
  readonly coalesceMs?: number;
  /**
   * Most list pushes per second to the BIG-IP.
   * @default 20
   */
  readonly maxPushesPerSecond?: number;
  /**
   * Log level of the controller.
   * @default "info"
   */
  readonly logLevel?: string;
}

const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/;

/**
 * The in-cluster controller that keeps the device's source lists in sync with pod IPs:
 * namespace, service account, least-privilege RBAC, the sync plan (rendered at synth, so rules
 * added after this construct are included) and a Pod Security "restricted" Deployment of two
 * replicas with leader election, probes and a metrics Service.
 */
export class EgressController extends Construct {
  /** The Kubernetes objects, in apply order. */
  public readonly resources: ManifestResource[];

  constructor(scope: Construct, id: string, props: EgressControllerProps) {
    super(scope, id);
    const at = this.node.path;
    const issues: PolicyIssue[] = [];
    const add = (field: string, value: unknown, message: string) => issues.push({ path: at, field, value: quote(value), message });
    if (!AfmDevice.isAfmDevice(props.device)) {
      throw new EgressPolicyError([{ path: at, field: 'device', value: quote(String(props.device)), message: 'must be an AfmDevice' }]);
    }
    if (TerraformStack.of(props.device) !== TerraformStack.of(this)) add('device', props.device.node.path, "is in another stack; create the controller in the device's stack");
    const namespace = props.namespace ?? 'cdktf-ces-system';
    if (!DNS_LABEL.test(namespace) || namespace.length > 63) add('namespace', namespace, 'must be a DNS label (a Kubernetes namespace name)');
    const dnsSubdomain = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
    if (typeof props.credentialsSecret !== 'string' || !dnsSubdomain.test(props.credentialsSecret)) {
      add('credentialsSecret', props.credentialsSecret, 'must name an existing Secret (a DNS subdomain) with the BIG-IP username and password');
    }
    for (const [field, value] of [['usernameKey', props.usernameKey], ['passwordKey', props.passwordKey], ['caBundleKey', props.caBundleKey]] as const) {
      if (value !== undefined && !/^[-._a-zA-Z0-9]+$/.test(value)) add(field, value, 'must be a ConfigMap or Secret key (letters, digits, "-", "_", ".")');
    }
    if (props.caBundleConfigMap !== undefined && !dnsSubdomain.test(props.caBundleConfigMap)) add('caBundleConfigMap', props.caBundleConfigMap, 'must name a ConfigMap');
    if (!props.caBundleConfigMap && !props.insecureSkipTlsVerify) {
      add('caBundleConfigMap', undefined, 'TLS verification is on by default; name the ConfigMap with the CA bundle of the BIG-IP management certificate (or, in a lab only, set insecureSkipTlsVerify)');
    }
    if (props.caBundleConfigMap && props.insecureSkipTlsVerify) add('insecureSkipTlsVerify', true, 'contradicts caBundleConfigMap; set only one');
    if (props.bigipUrl !== undefined && !/^https:\/\/[^\s/]+(:\d+)?\/?$/.test(props.bigipUrl)) add('bigipUrl', props.bigipUrl, 'must be https://host[:port]');
    if (props.replicas !== undefined && (!Number.isInteger(props.replicas) || props.replicas < 1 || props.replicas > 5)) add('replicas', props.replicas, 'must be a whole number from 1 to 5');
    for (const [field, value] of [['cpuRequest', props.cpuRequest], ['memoryRequest', props.memoryRequest], ['memoryLimit', props.memoryLimit]] as const) {
      if (value !== undefined && !QUANTITY.test(value)) add(field, value, 'must be a Kubernetes quantity such as "100m" or "256Mi"');
    }
    if (props.coalesceMs !== undefined && (!Number.isInteger(props.coalesceMs) || props.coalesceMs < 0 || props.coalesceMs > 60000)) add('coalesceMs', props.coalesceMs, 'must be a whole number of milliseconds from 0 to 60000');
    if (props.maxPushesPerSecond !== undefined && (!Number.isInteger(props.maxPushesPerSecond) || props.maxPushesPerSecond < 1 || props.maxPushesPerSecond > 1000)) {
      add('maxPushesPerSecond', props.maxPushesPerSecond, 'must be a whole number from 1 to 1000');
    }
    if (props.logLevel !== undefined && !['debug', 'info', 'warn', 'error'].includes(props.logLevel)) add('logLevel', props.logLevel, 'must be debug, info, warn or error');
    let bundle: Buffer | undefined;
    if (!props.image) {
      const file = path.join(packageRoot(), CONTROLLER_BUNDLE);
      if (!fs.existsSync(file)) add('image', undefined, `the bundled controller ${CONTROLLER_BUNDLE} is missing; run "npm run build" in the cdktf-ces package, or set image`);
      else bundle = fs.readFileSync(file);
    }
    if (issues.length) throw new EgressPolicyError(issues);

    const device = props.device;
    const settingsFor = (plan: SyncPlan): ControllerSettings => ({
      namespace,
      createNamespace: props.createNamespace ?? true,
      plan,
      bigipUrl: props.bigipUrl ?? device.managementUrl,
      credentialsSecret: props.credentialsSecret,
      usernameKey: props.usernameKey ?? 'username',
      passwordKey: props.passwordKey ?? 'password',
      caConfigMap: props.caBundleConfigMap,
      caKey: props.caBundleKey ?? 'ca.crt',
      insecureSkipTlsVerify: props.insecureSkipTlsVerify ?? false,
      image: props.image,
      nodeImage: props.nodeImage ?? 'node:20-alpine',
      bundle,
      replicas: props.replicas ?? 2,
      cpuRequest: props.cpuRequest ?? '50m',
      memoryRequest: props.memoryRequest ?? '128Mi',
      memoryLimit: props.memoryLimit ?? '256Mi',
      coalesceMs: props.coalesceMs ?? 250,
      maxPushesPerSecond: props.maxPushesPerSecond ?? 20,
      logLevel: props.logLevel ?? 'info',
    });
    // Which objects exist does not depend on the plan; their content (the plan, and the
    // ConfigMap names hashed from it) is rendered at synth, so rules added after this
    // construct are part of the plan.
    const empty: SyncPlan = { format: PLAN_FORMAT, cluster: device.clusterName, tenant: device.tenant, application: '', routeDomain: 0, lists: [], rules: [] };
    const shape = controllerManifests(settingsFor(empty));
    let rendered: Manifest[] | undefined;
    const manifestAt = (i: number) => {
      try {
        rendered ??= controllerManifests(settingsFor(buildSyncPlan(device._compile())));
      } catch (e) {
        // A policy problem is reported by the device's validation; render the shape meanwhile.
        if (e instanceof EgressPolicyError) return shape[i];
        throw e;
      }
      return rendered[i];
    };
    const created: ManifestResource[] = [];
    shape.forEach((m, i) => {
      const resource = new ManifestResource(this, resourceId(m), {
        manifest: Lazy.anyValue({ produce: () => manifestAt(i) }) as unknown as Record<string, unknown>,
        // The namespace first; the Deployment after everything it mounts and runs as.
        dependsOn: m.kind === 'Deployment' ? [...created] : m.kind !== 'Namespace' && created[0] && shape[0].kind === 'Namespace' ? [created[0]] : undefined,
      });
      created.push(resource);
    });
    this.resources = created;
  }
}

function resourceId(m: Manifest): string {
  if (m.kind !== 'ConfigMap') return m.kind;
  return m.metadata.name.includes('-code-') ? 'CodeConfigMap' : 'PlanConfigMap';
}
