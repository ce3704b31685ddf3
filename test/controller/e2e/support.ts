/**
 * End-to-end harness: a policy synthesized with the real constructs, deployed to both emulators
 * the way `cdktf deploy` would, and the controller run against them over real HTTPS, either in
 * this process (`runController`, fast) or as the bundled child process the cluster would run.
 *
 * Expected list contents are computed independently of the controller: from the Kubernetes
 * emulator's stored objects through `desiredMembers` (the pure membership model), with the
 * route-domain suffix the device shows.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, TerraformStack } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import {
  AfmDevice,
  BigipCredentials,
  BigipHaOptions,
  ClusterEgressRule,
  EgressAction,
  EgressCrdStack,
  EgressController,
  EgressDestination,
  EgressPort,
  EgressSchedule,
  LabelSelectorOperator,
  NamespaceEgressRule,
  ServiceEgressRule,
} from '../../../lib';
import { ControllerConfig, loadConfig } from '../../../lib/controller/config';
import { LogLevel, jsonLogger } from '../../../lib/controller/log';
import { RunningController, runController } from '../../../lib/controller/main';
import { API_GROUP_VERSION } from '../../../lib/k8s/crds';
import { ClusterSnapshot, PodInfo, desiredMembers } from '../../../lib/policy/membership';
import type { SyncPlan } from '../../../lib/policy/plan';
import { EMPTY_LIST_PLACEHOLDER } from '../../../lib/clients/bigip/client';
import type { BigipEmulatorOptions } from '../../emulators/bigip/emulator';
import { ControllerDeployment, DeployOptions, Emulators, deploySynthOutput, startEmulators } from '../../emulators/deploy';
import type { EmulatedObject, KubeApiEmulatorOptions } from '../../emulators/kube/emulator';

export const CONTROLLER_NAMESPACE = 'cdktf-ces-system';
/** Where the README keeps the BIG-IP login and CA: a namespace that exists before the deploy. */
export const CREDENTIALS_NAMESPACE = 'bigip-credentials';
export const CREDENTIALS_SECRET = 'bigip-egress-login';
export const CA_CONFIGMAP = 'bigip-mgmt-ca';
/** BIG-IP users: one per controller replica, so the device shows which replica logged in. */
export const BIGIP_USERS: Readonly<Record<string, string>> = { admin: 'admin', 'egress-a': 'password-a', 'egress-b': 'password-b' };

// ------------------------------------------------------------------------------------ policy

export interface ExtraRule {
  readonly namespace: string;
  readonly name: string;
  readonly schedule?: EgressSchedule;
  readonly expiresAt?: string;
}

export interface PolicyOptions {
  readonly clusterName?: string;
  readonly routeDomain?: number;
  /** Namespace rules with a time window or an expiry (each gets its own source list). */
  readonly extraRules?: readonly ExtraRule[];
  readonly coalesceMs?: number;
  /** Makes the device a BIG-IP pair (its address is the leader). */
  readonly highAvailability?: BigipHaOptions;
}

/**
 * The test policy: a cluster rule selecting namespaces by label, a cluster rule selecting pods
 * by label in every namespace, namespace rules (one with a set-based pod selector), a service
 * rule, and the EgressController. Returns the synth output folder.
 */
export function synthPolicy(options: PolicyOptions = {}): string {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-e2e-synth-'));
  const app = new App({ outdir });
  const crds = new EgressCrdStack(app, 'crds');
  const stack = new TerraformStack(app, 'egress');
  new KubernetesProvider(stack, 'k8s', {});
  const device = new AfmDevice(stack, 'Bigip', {
    clusterName: options.clusterName ?? 'e2e',
    address: '127.0.0.1',
    credentials: BigipCredentials.fromEnvironment(),
    tlsCaBundlePath: '/etc/ssl/bigip-ca.pem',
    crdStack: crds,
    routeDomain: options.routeDomain,
    podCidrs: ['10.0.0.0/8', 'fd00::/8'],
    highAvailability: options.highAvailability,
  });
  const anywhere = [EgressDestination.cidr('198.51.100.0/24')];
  new ClusterEgressRule(stack, 'ProdHttps', {
    device,
    name: 'prod-https',
    action: EgressAction.ALLOW,
    namespaceSelector: { matchLabels: { env: 'prod' } },
    destinations: [EgressDestination.anyIpv4()],
    ports: [EgressPort.HTTPS],
  });
  new ClusterEgressRule(stack, 'WebTier', {
    device,
    name: 'web-tier',
    action: EgressAction.ALLOW,
    podSelector: { matchLabels: { tier: 'web' } },
    destinations: anywhere,
  });
  new NamespaceEgressRule(stack, 'Payments', {
    device,
    namespace: 'payments',
    name: 'payments-partner',
    action: EgressAction.ALLOW,
    destinations: anywhere,
  });
  new NamespaceEgressRule(stack, 'ShopCart', {
    device,
    namespace: 'shop',
    name: 'shop-cart',
    action: EgressAction.ALLOW,
    podSelector: { matchExpressions: [{ key: 'app', operator: LabelSelectorOperator.IN, values: ['cart', 'checkout'] }] },
    destinations: anywhere,
  });
  new ServiceEgressRule(stack, 'Checkout', {
    device,
    namespace: 'payments',
    service: 'checkout',
    name: 'checkout-psp',
    action: EgressAction.ALLOW,
    destinations: anywhere,
  });
  for (const r of options.extraRules ?? []) {
    new NamespaceEgressRule(stack, `Extra-${r.namespace}-${r.name}`, {
      device,
      namespace: r.namespace,
      name: r.name,
      action: EgressAction.ALLOW,
      destinations: anywhere,
      schedule: r.schedule,
      expiresAt: r.expiresAt,
    });
  }
  new EgressController(stack, 'Controller', {
    device,
    credentialsSecret: `${CREDENTIALS_NAMESPACE}/${CREDENTIALS_SECRET}`,
    caBundleConfigMap: `${CREDENTIALS_NAMESPACE}/${CA_CONFIGMAP}`,
    coalesceMs: options.coalesceMs,
  });
  app.synth();
  return outdir;
}

/** Rewrites the controller's synthesized Deployment resource. */
function editControllerDeployment(outdir: string, edit: (resource: Record<string, any>) => void): void {
  const file = path.join(outdir, 'stacks', 'egress', 'cdk.tf.json');
  const tf = JSON.parse(fs.readFileSync(file, 'utf8'));
  const deployments = Object.values((tf.resource?.kubernetes_manifest ?? {}) as Record<string, Record<string, any>>).filter(
    (r) => r.manifest?.kind === 'Deployment',
  );
  if (deployments.length !== 1) throw new Error(`expected one Deployment in ${file}, found ${deployments.length}`);
  edit(deployments[0]);
  fs.writeFileSync(file, JSON.stringify(tf, null, 2));
}

/** Rewrites the synthesized AS3 so that one source list is a static list (its task then 404s). */
export function makeListStatic(outdir: string, listName: string): void {
  const file = path.join(outdir, 'stacks', 'egress', 'cdk.tf.json');
  const tf = JSON.parse(fs.readFileSync(file, 'utf8'));
  let found = false;
  for (const r of Object.values(tf.resource.bigip_as3) as { as3_json: string }[]) {
    const as3 = JSON.parse(r.as3_json);
    const shared = as3.declaration.Common?.Shared;
    if (shared?.[listName]) {
      shared[listName] = { class: 'Firewall_Address_List', addresses: ['192.0.2.200'] };
      r.as3_json = JSON.stringify(as3);
      found = true;
    }
  }
  if (!found) throw new Error(`makeListStatic: no list ${listName} in ${file}`);
  fs.writeFileSync(file, JSON.stringify(tf));
}

// ------------------------------------------------------------------------------------ world

export interface World {
  readonly emulators: Emulators;
  readonly outdir: string;
  readonly deployment: ControllerDeployment;
  readonly plan: SyncPlan;
  /**
   * A kubeconfig with the token of the controller's synthesized ServiceAccount: the controller
   * runs with exactly what the synthesized RBAC grants, as in the cluster.
   */
  readonly kubeconfigFile: string;
  stop(): Promise<void>;
}

export interface WorldOptions {
  readonly policy?: PolicyOptions;
  /** Edits the synth output before it is deployed. */
  readonly beforeDeploy?: (outdir: string) => void;
  readonly bigip?: BigipEmulatorOptions;
  readonly kube?: KubeApiEmulatorOptions;
  /**
   * Team namespaces that exist before the deploy (rule CRs live in them), with their labels.
   * @default { payments: { env: 'prod' }, shop: { env: 'dev' } }
   */
  readonly namespaces?: Readonly<Record<string, Record<string, string>>>;
  /** Options of the deploy (such as the units of a BIG-IP pair), given the started emulators. */
  readonly deploy?: (emulators: Emulators) => DeployOptions;
}

/** Synthesizes, starts both emulators and deploys: what exists before the controller starts. */
export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const outdir = synthPolicy(options.policy);
  options.beforeDeploy?.(outdir);
  const rd = options.policy?.routeDomain ?? 0;
  const emulators = await startEmulators({
    bigip: { users: BIGIP_USERS, routeDomains: rd ? ['/Common/0', `/Common/${rd}`] : ['/Common/0'], ...options.bigip },
    kube: options.kube,
  });
  try {
    const kube = emulators.kube;
    // What the README has exist before the deploy: the team namespaces, and the login Secret and
    // CA ConfigMap in a namespace of their own; the deploy creates the controller's namespace.
    for (const [name, labels] of Object.entries(options.namespaces ?? { payments: { env: 'prod' }, shop: { env: 'dev' } }))
      kube.apply(namespace(name, labels));
    kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: CREDENTIALS_NAMESPACE } });
    kube.apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { namespace: CREDENTIALS_NAMESPACE, name: CREDENTIALS_SECRET },
      stringData: { username: 'egress-a', password: BIGIP_USERS['egress-a'] },
    });
    kube.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { namespace: CREDENTIALS_NAMESPACE, name: CA_CONFIGMAP },
      data: { 'ca.crt': fs.readFileSync(emulators.caFile, 'utf8') },
    });
    // These tests run the controller's replicas themselves, after the deploy; nothing runs the
    // Deployment's pods during it, so its rollout wait would only time out (test/k8s covers it).
    editControllerDeployment(outdir, (d) => delete d.wait);
    const deployed = await deploySynthOutput(outdir, emulators, options.deploy?.(emulators));
    if (deployed.controllers.length !== 1)
      throw new Error(`expected one controller in the synth output, found ${deployed.controllers.length}`);
    const deployment = deployed.controllers[0];
    const planMount = deployment.configMaps.find((c) => c.mountPath.endsWith('/plan'));
    if (!planMount) throw new Error('the controller Deployment mounts no plan ConfigMap');
    const cm = kube.get({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      namespace: deployment.namespace,
      name: planMount.name,
    }) as EmulatedObject & { data: Record<string, string> };
    const plan = JSON.parse(cm.data['plan.json']) as SyncPlan;
    const controllerDeployment = kube.get({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace: deployment.namespace,
      name: deployment.name,
    }) as any;
    const serviceAccount = controllerDeployment?.spec?.template?.spec?.serviceAccountName;
    if (!serviceAccount) throw new Error('the controller Deployment names no serviceAccountName');
    const kubeconfigFile = kube.writeKubeconfig(path.join(emulators.workdir, 'controller-kubeconfig'), {
      token: kube.serviceAccountToken(deployment.namespace, serviceAccount),
    });
    return {
      emulators,
      outdir,
      deployment,
      plan,
      kubeconfigFile,
      stop: async () => {
        await emulators.stop();
        fs.rmSync(outdir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await emulators.stop();
    throw e;
  }
}

// ------------------------------------------------------------------------------------ in-process controller

export interface LogLine {
  readonly time: string;
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface InProcessController {
  readonly running: RunningController;
  readonly config: ControllerConfig;
  readonly port: number;
  readonly logs: LogLine[];
  /** GET on the controller's HTTP port. */
  get(urlPath: string): Promise<{ status: number; body: string }>;
  stop(): Promise<void>;
}

export interface InProcessOptions {
  /** POD_NAME: the replica's identity. @default 'controller-a' */
  readonly podName?: string;
  /** BIG-IP user of this replica. @default 'egress-a' */
  readonly user?: string;
  /** Extra or overriding environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Changes the loaded configuration before the controller starts. */
  readonly configure?: (config: ControllerConfig) => ControllerConfig;
  readonly logLevel?: LogLevel;
}

/**
 * Starts the controller in this process from the files the Deployment would mount (plan,
 * credentials Secret, CA bundle) through `loadConfig`, with leader election on by default.
 */
export async function startInProcess(world: World, options: InProcessOptions = {}): Promise<InProcessController> {
  const { emulators, deployment } = world;
  const podName = options.podName ?? 'controller-a';
  const user = options.user ?? 'egress-a';
  const dir = fs.mkdtempSync(path.join(emulators.workdir, `${podName}-`));
  const planFile = path.join(dir, 'plan.json');
  fs.writeFileSync(planFile, JSON.stringify(world.plan));
  const credentials = path.join(dir, 'bigip');
  fs.mkdirSync(credentials);
  fs.writeFileSync(path.join(credentials, 'username'), `${user}\n`, { mode: 0o600 });
  fs.writeFileSync(path.join(credentials, 'password'), BIGIP_USERS[user], { mode: 0o600 });
  const env: NodeJS.ProcessEnv = {
    BIGIP_URL: emulators.bigip.url,
    BIGIP_CA_FILE: emulators.caFile,
    BIGIP_CREDENTIALS_DIR: credentials,
    CES_PLAN_FILE: planFile,
    KUBECONFIG: world.kubeconfigFile,
    POD_NAME: podName,
    POD_NAMESPACE: deployment.namespace,
    LEASE_NAME: deployment.env.LEASE_NAME,
    HTTP_PORT: '0',
    COALESCE_MS: deployment.env.COALESCE_MS,
    MAX_PUSHES_PER_SECOND: deployment.env.MAX_PUSHES_PER_SECOND,
    ...options.env,
  };
  let config = loadConfig(env);
  if (options.configure) config = options.configure(config);
  const logs: LogLine[] = [];
  const log = jsonLogger(options.logLevel ?? 'info', { replica: podName }, (line) => {
    logs.push(JSON.parse(line) as LogLine);
  });
  const running = await runController(config, log);
  const port = (running.server.address() as AddressInfo).port;
  let stopped = false;
  return {
    running,
    config,
    port,
    logs,
    get: (urlPath) => httpGet(port, urlPath),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await running.stop();
    },
  };
}

export function httpGet(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${urlPath}: no answer within 10 s`)));
    req.on('error', reject);
  });
}

// ------------------------------------------------------------------------------------ expected state

/** The cluster as the membership model sees it, read straight from the emulator's objects. */
export function clusterSnapshot(emulators: Emulators): ClusterSnapshot {
  const kube = emulators.kube;
  const pods: PodInfo[] = kube.list({ apiVersion: 'v1', kind: 'Pod' }).map((p: any) => ({
    namespace: p.metadata.namespace,
    name: p.metadata.name,
    labels: p.metadata.labels ?? {},
    ips: p.status?.podIPs ? p.status.podIPs.map((x: { ip: string }) => x.ip) : p.status?.podIP ? [p.status.podIP] : [],
    phase: p.status?.phase,
    terminating: p.metadata.deletionTimestamp !== undefined,
    hostNetwork: p.spec?.hostNetwork === true,
  }));
  const namespaces = kube
    .list({ apiVersion: 'v1', kind: 'Namespace' })
    .map((n) => ({ name: n.metadata.name as string, labels: n.metadata.labels ?? {} }));
  const services = kube
    .list({ apiVersion: 'v1', kind: 'Service' })
    .map((s: any) => ({ namespace: s.metadata.namespace, name: s.metadata.name, selector: s.spec?.selector }));
  return { pods, namespaces, services };
}

/**
 * What every list of the plan must hold on the device now: `addr%rd` when the route domain is
 * not 0, and AS3's placeholder address (without a route domain) when no pod matches.
 */
export function expectedLists(plan: SyncPlan, snapshot: ClusterSnapshot, at = new Date()): Record<string, string[]> {
  const suffix = plan.routeDomain ? `%${plan.routeDomain}` : '';
  const out: Record<string, string[]> = {};
  for (const [list, members] of desiredMembers(plan, snapshot, at))
    out[list] = members.length ? members.map((ip) => `${ip}${suffix}`).sort() : [EMPTY_LIST_PLACEHOLDER];
  return out;
}

/** Every list of the plan as the device holds it (sorted). */
export function deviceLists(emulators: Emulators, plan: SyncPlan): Record<string, string[] | undefined> {
  const out: Record<string, string[] | undefined> = {};
  for (const list of plan.lists) out[list.path] = emulators.bigip.listMembers(list.taskId)?.sort();
  return out;
}

/** True when every list on the device equals its desired content now. */
export function listsConverged(world: World): boolean {
  const expected = expectedLists(world.plan, clusterSnapshot(world.emulators));
  const actual = deviceLists(world.emulators, world.plan);
  return world.plan.lists.every((l) => sameMembers(actual[l.path], expected[l.path]));
}

function sameMembers(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return !!a && a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The path of the plan's list named `..._<base>` or `..._<base>_<selector hash>` (e.g.
 * `src_ns_payments`); windowed lists (`_w<hash>`) are not matched.
 */
export function listPath(plan: SyncPlan, base: string): string {
  const pattern = new RegExp(`_${base}(_[0-9a-f]{16})?$`);
  const found = plan.lists.filter((l) => pattern.test(l.path));
  if (found.length !== 1)
    throw new Error(`expected one list named _${base}[_<hash>], found ${found.map((l) => l.path).join(', ') || 'none'}`);
  return found[0].path;
}

// ------------------------------------------------------------------------------------ objects

export function namespace(name: string, labels: Record<string, string> = {}): object {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } } };
}

export function service(ns: string, name: string, selector?: Record<string, string>): object {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace: ns, name },
    spec: { ...(selector ? { selector } : {}), ports: [{ port: 80 }] },
  };
}

export interface PodSpec {
  readonly labels?: Record<string, string>;
  /** podIPs; none = not yet scheduled. */
  readonly ips?: readonly string[];
  readonly phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  readonly hostNetwork?: boolean;
}

export function pod(ns: string, name: string, spec: PodSpec = {}): object {
  const ips = spec.ips ?? [];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: ns, name, labels: spec.labels ?? {} },
    spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }], ...(spec.hostNetwork ? { hostNetwork: true } : {}) },
    status: {
      phase: spec.phase ?? (ips.length ? 'Running' : 'Pending'),
      ...(ips.length ? { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) } : {}),
    },
  };
}

export const podRef = (ns: string, name: string) => ({ apiVersion: 'v1', kind: 'Pod', namespace: ns, name });

/** A rule CR as stored in the emulator. */
export function ruleCr(world: World, kind: string, name: string, ns?: string): any {
  return world.emulators.kube.get({ apiVersion: API_GROUP_VERSION, kind, name, namespace: ns });
}

export function readyCondition(cr: any): any {
  return cr?.status?.conditions?.find((c: { type: string }) => c.type === 'Ready');
}

// ------------------------------------------------------------------------------------ waiting and metrics

/**
 * Waits until `check` returns something other than false without throwing. This bounds
 * liveness only (generous limits); assertions on the final state follow it.
 */
export async function eventually<T>(check: () => T | Promise<T>, what: string, limitMs = 20_000, pollMs = 20): Promise<Exclude<T, false>> {
  const deadline = Date.now() + limitMs;
  let last: unknown;
  for (;;) {
    try {
      const r = await check();
      if (r !== false) return r as Exclude<T, false>;
      last = undefined;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`gave up after ${limitMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(pollMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the Prometheus text format (enough for prom-client's output). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) for (const l of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, '$1');
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

export function metricValue(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value;
}

/** Distribution summary of a sample of durations (ms). */
export function distribution(values: readonly number[]): {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
} {
  const xs = [...values].sort((a, b) => a - b);
  const q = (p: number) => xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(p * xs.length) - 1))];
  return {
    n: xs.length,
    min: xs[0],
    p50: q(0.5),
    p90: q(0.9),
    p99: q(0.99),
    max: xs[xs.length - 1],
    mean: xs.reduce((a, b) => a + b, 0) / xs.length,
  };
}
