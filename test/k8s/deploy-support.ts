/**
 * A small app with every stack a cluster gets (CRDs; device, rules and controller), synthesized
 * with the real constructs, and emulators for deploying it as `cdktf deploy '*'` would.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, TerraformStack } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import {
  AfmDevice,
  BigipCredentials,
  ClusterEgressRule,
  EgressAction,
  EgressController,
  EgressCrdStack,
  EgressDestination,
  EgressPort,
  NamespaceEgressRule,
} from '../../lib';
import { Emulators, startEmulators } from '../emulators/deploy';

export const CONTROLLER_NAMESPACE = 'cdktf-ces-system';
/** The README's namespace for the BIG-IP login and CA: it exists before the deploy, which does not manage it. */
export const CREDENTIALS_NAMESPACE = 'bigip-credentials';
export const CREDENTIALS_SECRET = 'bigip-egress-login';
export const CA_CONFIGMAP = 'bigip-mgmt-ca';
export const BIGIP_USERS: Readonly<Record<string, string>> = { admin: 'admin', 'egress-sync': 'sync-password' };
export const TEAM_NAMESPACES = ['payments', 'shop'];

export interface AppOptions {
  /** Also a rule for namespace shop (a new plan, so new content-hashed plan ConfigMap). */
  readonly shopRule?: boolean;
  /** @default true (the deploy creates the controller's namespace, as the README's story has it) */
  readonly createNamespace?: boolean;
  readonly replicas?: number;
}

const dirs: string[] = [];

const synthesized = new Map<string, string>();

/** Synthesizes the app (once per options; each caller gets a copy it may edit); returns the output folder. */
export function synthApp(options: AppOptions = {}): string {
  const id = JSON.stringify(options);
  let source = synthesized.get(id);
  if (!source) {
    source = synthOnce(options);
    synthesized.set(id, source);
  }
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-first-deploy-'));
  dirs.push(copy);
  fs.cpSync(source, copy, { recursive: true });
  return copy;
}

function synthOnce(options: AppOptions): string {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-first-deploy-'));
  dirs.push(outdir);
  const app = new App({ outdir });
  const crds = new EgressCrdStack(app, 'crds');
  const stack = new TerraformStack(app, 'egress');
  new KubernetesProvider(stack, 'k8s', {});
  const device = new AfmDevice(stack, 'Bigip', {
    clusterName: 'east',
    address: '127.0.0.1',
    credentials: BigipCredentials.fromEnvironment(),
    tlsCaBundlePath: '/etc/ssl/bigip-ca.pem',
    crdStack: crds,
    podCidrs: ['10.0.0.0/8'],
  });
  new ClusterEgressRule(stack, 'Dns', {
    device,
    name: 'allow-dns',
    action: EgressAction.ALLOW,
    destinations: [EgressDestination.cidr('10.96.0.10/32')],
    ports: [EgressPort.udp(53)],
  });
  new NamespaceEgressRule(stack, 'Payments', {
    device,
    namespace: 'payments',
    name: 'payments-partner',
    action: EgressAction.ALLOW,
    destinations: [EgressDestination.cidr('198.51.100.0/24')],
    ports: [EgressPort.HTTPS],
  });
  if (options.shopRule) {
    new NamespaceEgressRule(stack, 'Shop', {
      device,
      namespace: 'shop',
      name: 'shop-partner',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.cidr('203.0.113.0/24')],
      ports: [EgressPort.HTTPS],
    });
  }
  new EgressController(stack, 'Controller', {
    device,
    credentialsSecret: `${CREDENTIALS_NAMESPACE}/${CREDENTIALS_SECRET}`,
    caBundleConfigMap: `${CREDENTIALS_NAMESPACE}/${CA_CONFIGMAP}`,
    createNamespace: options.createNamespace ?? true,
    replicas: options.replicas,
    coalesceMs: 50,
  });
  app.synth();
  return outdir;
}

export function removeSynthDirs(): void {
  synthesized.clear();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** Rewrites one resource of a synthesized stack (to replay what an older construct synthesized). */
export function editResource(
  outdir: string,
  stack: string,
  type: string,
  match: (config: Record<string, any>) => boolean,
  edit: (config: Record<string, any>) => void,
): void {
  const file = path.join(outdir, 'stacks', stack, 'cdk.tf.json');
  const tf = JSON.parse(fs.readFileSync(file, 'utf8'));
  let n = 0;
  for (const config of Object.values(tf.resource[type] as Record<string, Record<string, any>>)) {
    if (!match(config)) continue;
    edit(config);
    n++;
  }
  if (n === 0) throw new Error(`no ${type} in stack ${stack} matched`);
  fs.writeFileSync(file, JSON.stringify(tf, null, 2));
}

/**
 * Emulators of an empty cluster (no CRDs; new CRDs are "Installing" for `crdEstablishDelayMs`)
 * and a BIG-IP with the controller's login.
 */
export async function emptyCluster(crdEstablishDelayMs = 1000): Promise<Emulators> {
  return startEmulators({ installCrds: false, kube: { crdEstablishDelayMs }, bigip: { users: BIGIP_USERS, routeDomains: ['/Common/0'] } });
}

/**
 * What the README says exists before the first deploy: the team namespaces (the rule CRs live
 * in them) and, in a namespace of its own that the deploy does not manage, the BIG-IP login
 * Secret and the CA ConfigMap the controller reads through the API.
 */
export function createPrerequisites(emulators: Emulators, options: { teamNamespaces?: boolean; loginSecret?: boolean } = {}): void {
  const kube = emulators.kube;
  for (const name of options.teamNamespaces === false ? [] : TEAM_NAMESPACES)
    kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } } });
  kube.apply({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: CREDENTIALS_NAMESPACE, labels: { 'kubernetes.io/metadata.name': CREDENTIALS_NAMESPACE } },
  });
  if (options.loginSecret !== false) createLoginSecret(emulators);
  kube.apply({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { namespace: CREDENTIALS_NAMESPACE, name: CA_CONFIGMAP },
    data: { 'ca.crt': fs.readFileSync(emulators.caFile, 'utf8') },
  });
}

/** The controller's BIG-IP login, as the README has it created with kubectl. */
export function createLoginSecret(emulators: Emulators): void {
  emulators.kube.apply({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { namespace: CREDENTIALS_NAMESPACE, name: CREDENTIALS_SECRET },
    stringData: { username: 'egress-sync', password: BIGIP_USERS['egress-sync'] },
  });
}

/**
 * Waits until `check` passes (returns without throwing and not false). This bounds liveness
 * only; nothing asserts how long it took.
 */
export async function eventually(check: () => unknown, what: string, limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  let last: unknown;
  for (;;) {
    try {
      if ((await check()) !== false) return;
      last = undefined;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
