/**
 * Deploys a synth output (`cdktf.out`) to the emulators the way `cdktf deploy` would to a
 * cluster and a BIG-IP, and runs the controller exactly as the cluster would: from the code
 * and plan ConfigMaps the EgressController synthesized, on this machine's Node.js.
 *
 * Stacks are applied in dependency order (CRDs first). `kubernetes_manifest` objects go to the
 * Kubernetes API emulator, `bigip_as3` declarations to the BIG-IP emulator's AS3 endpoint,
 * and `bigip_command` tmsh commands to its bash endpoint, through the controller's own
 * BIG-IP client. Terraform itself is not involved (it needs provider downloads).
 *
 * The BIG-IP resources succeed and fail exactly when F5's provider (terraform-provider-bigip
 * v1.28) would report them so, including where the provider does not notice a failure: a
 * `bigip_command` whose tmsh command fails, and AS3 results past the first `tenant count`
 * entries (such as AS3's second Common pass). Tests of this package see the same gaps a real
 * `terraform apply` has.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BigipClient } from '../controller/bigip';
import { ALL_KINDS, customResourceDefinition } from '../k8s/crds';
import { CONTROLLER_BUNDLE } from '../constructs/egress-controller';
import { packageRoot } from '../util';
import { BigipEmulator, BigipEmulatorOptions } from './bigip-emulator';
import { KubeApiEmulator, KubeApiEmulatorOptions } from './kube-emulator';

type Obj = Record<string, any>;

export interface SynthStack {
  readonly name: string;
  readonly dependencies: readonly string[];
  readonly resources: Readonly<Record<string, Readonly<Record<string, Obj>>>>;
}

/** Stacks of a synth output, dependencies first. */
export function readStacks(outdir: string): SynthStack[] {
  const manifestFile = path.join(outdir, 'manifest.json');
  if (!fs.existsSync(manifestFile)) throw new Error(`${manifestFile} not found: synthesize first (cdktf synth)`);
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { stacks: Record<string, { synthesizedStackPath: string; dependencies: string[] }> };
  const stacks = new Map<string, SynthStack>();
  for (const [name, s] of Object.entries(manifest.stacks)) {
    const tf = JSON.parse(fs.readFileSync(path.join(outdir, s.synthesizedStackPath), 'utf8')) as { resource?: SynthStack['resources'] };
    stacks.set(name, { name, dependencies: s.dependencies, resources: tf.resource ?? {} });
  }
  const ordered: SynthStack[] = [];
  const visit = (name: string, trail: string[]) => {
    if (ordered.some((s) => s.name === name)) return;
    if (trail.includes(name)) throw new Error(`stack dependency cycle: ${[...trail, name].join(' -> ')}`);
    const stack = stacks.get(name);
    if (!stack) throw new Error(`stack "${name}" is a dependency but not in ${manifestFile}`);
    for (const d of stack.dependencies) visit(d, [...trail, name]);
    ordered.push(stack);
  };
  for (const name of [...stacks.keys()].sort()) visit(name, []);
  return ordered;
}

/** What the cluster would run for one EgressController. */
export interface ControllerDeployment {
  readonly namespace: string;
  readonly name: string;
  /** Literal environment of the container (downward-API values are left to the runner). */
  readonly env: Readonly<Record<string, string>>;
  /** ConfigMap and Secret volumes: mount path → files (from the synthesized objects). */
  readonly configMaps: readonly { readonly mountPath: string; readonly name: string }[];
  readonly secretMount?: { readonly mountPath: string; readonly secretName: string };
  readonly command?: readonly string[];
}

export interface DeployResult {
  readonly kubernetesObjects: number;
  readonly declarations: number;
  readonly commands: number;
  /**
   * The output of every `bigip_command` command, in order (the provider's `command_result`).
   * A failed tmsh command shows up only here.
   */
  readonly commandResults: readonly string[];
  /** The AS3 task of every `bigip_as3` declaration, in order (the provider's `task_id`). */
  readonly as3TaskIds: readonly string[];
  readonly controllers: readonly ControllerDeployment[];
}

export interface Emulators {
  readonly kube: KubeApiEmulator;
  readonly bigip: BigipEmulator;
  /** A BIG-IP client logged in to the emulator as `admin`. */
  readonly bigipClient: BigipClient;
  /** A scratch folder: kubeconfig, CA bundle, controller files. */
  readonly workdir: string;
  readonly kubeconfigFile: string;
  readonly caFile: string;
  stop(): Promise<void>;
}

export interface StartEmulatorsOptions {
  readonly kube?: KubeApiEmulatorOptions;
  readonly bigip?: BigipEmulatorOptions;
}

/** Starts both emulators (with the rule CRDs installed) and a scratch folder. */
export async function startEmulators(options: StartEmulatorsOptions = {}): Promise<Emulators> {
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdktf-ces-'));
  const kube = await KubeApiEmulator.start({ crds: ALL_KINDS.map(customResourceDefinition), ...options.kube });
  const bigip = await BigipEmulator.start(options.bigip);
  const kubeconfigFile = path.join(workdir, 'kubeconfig');
  kube.writeKubeconfig(kubeconfigFile);
  const caFile = path.join(workdir, 'bigip-ca.crt');
  fs.writeFileSync(caFile, BigipEmulator.caCertificate());
  const bigipClient = new BigipClient({ url: bigip.url, username: 'admin', password: 'admin', caBundle: BigipEmulator.caCertificate() });
  return {
    kube,
    bigip,
    bigipClient,
    workdir,
    kubeconfigFile,
    caFile,
    stop: async () => {
      await bigipClient.close();
      await Promise.all([kube.stop(), bigip.stop()]);
      fs.rmSync(workdir, { recursive: true, force: true });
    },
  };
}

/** Applies every stack of a synth output to the emulators, dependencies first. */
export async function deploySynthOutput(outdir: string, emulators: Emulators): Promise<DeployResult> {
  let kubernetesObjects = 0;
  let declarations = 0;
  let commands = 0;
  const commandResults: string[] = [];
  const as3TaskIds: string[] = [];
  const controllers: ControllerDeployment[] = [];
  for (const stack of readStacks(outdir)) {
    const manifests = Object.values(stack.resources.kubernetes_manifest ?? {}).map((r) => r.manifest as Obj);
    // Namespaces and CRDs before what lives in them.
    const rank = (m: Obj) => (m.kind === 'CustomResourceDefinition' ? 0 : m.kind === 'Namespace' ? 1 : 2);
    for (const m of [...manifests].sort((a, b) => rank(a) - rank(b))) {
      emulators.kube.apply(m);
      kubernetesObjects++;
    }
    for (const r of Object.values(stack.resources.bigip_as3 ?? {})) {
      as3TaskIds.push(await applyBigipAs3(emulators, r.as3_json as string));
      declarations++;
    }
    for (const r of Object.values(stack.resources.bigip_command ?? {})) {
      if (r.when === 'destroy') continue;
      for (const c of r.commands as string[]) {
        // The provider fails only when the request fails, not when tmsh does (go-bigip
        // `sys.go:747-755`, provider `bigip/resource_bigip_command.go:58-84`).
        commandResults.push(await emulators.bigipClient.runTmsh(c));
        commands++;
      }
    }
    for (const d of manifests.filter((m) => m.kind === 'Deployment' && m.metadata?.labels?.['app.kubernetes.io/name'] === 'cdktf-ces-controller')) {
      const container = d.spec.template.spec.containers[0];
      const volumes = new Map<string, Obj>(d.spec.template.spec.volumes.map((v: Obj) => [v.name, v]));
      const configMaps: { mountPath: string; name: string }[] = [];
      let secretMount: ControllerDeployment['secretMount'];
      for (const mount of container.volumeMounts as Obj[]) {
        const v = volumes.get(mount.name) as Obj;
        if (v.configMap) configMaps.push({ mountPath: mount.mountPath, name: v.configMap.name });
        if (v.secret) secretMount = { mountPath: mount.mountPath, secretName: v.secret.secretName };
      }
      controllers.push({
        namespace: d.metadata.namespace,
        name: d.metadata.name,
        env: Object.fromEntries((container.env as Obj[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value])),
        configMaps,
        secretMount,
        command: container.command,
      });
    }
  }
  return { kubernetesObjects, declarations, commands, commandResults, as3TaskIds, controllers };
}

/**
 * `bigip_as3` create/update as terraform-provider-bigip v1.28 does it: POST to
 * `/declare/<tenants of the JSON>?async=true` (`bigip/resource_bigip_as3.go:321-374`), then
 * go-bigip `as3bigip.go:98-179` (PostAs3Bigip): poll the task; on 503 wait for running AS3
 * operations and post again; otherwise look at `results[0 .. tenant count - 1]` only: all 200
 * is success, none is "Tenant Creation failed", some is "as3 config post error". A first poll
 * that already shows code 200 in `results[0]` is success without looking further. Returns the
 * task id.
 */
async function applyBigipAs3(emulators: Emulators, as3Json: string): Promise<string> {
  const request = JSON.parse(as3Json) as Obj;
  const declaration = (request.declaration ?? {}) as Obj;
  const tenants = Object.keys(declaration).filter((k) => declaration[k]?.class === 'Tenant');
  const client = emulators.bigipClient;
  const fail = (why: string, results: unknown) => new Error(`bigip_as3: posting as3 config failed for tenants:(${tenants.join(',')}) with error: ${why}: ${JSON.stringify(results, null, 1)}`);
  for (;;) {
    const taskId = await client.submitAs3(request, tenants);
    let task = await client.getAs3Task(taskId);
    if (task.results[0]?.code === 200) return taskId;
    for (;;) {
      const first = task.results[0];
      if (first && first.code !== 0 && first.code !== 503) {
        if (task.results.length === 1 && first.message === 'declaration is invalid') throw fail('Error', first.errors);
        if (task.results.length === 1 && first.message !== 'success' && first.message !== 'no change') throw fail('Tenant Creation failed with Response', task.results);
        const checked = task.results.slice(0, tenants.length);
        const succeeded = checked.filter((r) => r.code === 200).length;
        if (succeeded === tenants.length) return taskId;
        throw fail(succeeded === 0 ? 'Tenant Creation failed. Response' : 'as3 config post error response', task.results);
      }
      if (first?.code === 503) break;
      await new Promise((r) => setTimeout(r, 10));
      task = await client.getAs3Task(taskId);
    }
    // AS3 was busy: wait for the running operation, then post again.
    while (emulators.bigip.as3OperationRunning()) await new Promise((r) => setTimeout(r, 10));
  }
}

export interface ControllerProcessOptions {
  /** Credentials the mounted Secret would hold. */
  readonly username: string;
  readonly password: string;
  /** Replica name (POD_NAME). */
  readonly podName?: string;
  readonly httpPort: number;
  /** Extra or overriding environment (for example a faster COALESCE_MS). */
  readonly env?: Readonly<Record<string, string>>;
  readonly stdio?: 'inherit' | 'pipe' | 'ignore';
}

/**
 * Runs one replica of a deployed controller on this machine, as the kubelet would: the
 * ConfigMap and Secret volumes become files, the container's environment is kept except the
 * cluster-specific parts (BIG-IP URL and CA, Kubernetes connection), which point at the
 * emulators, and the container's command runs on this machine's `node`.
 */
export function runControllerProcess(deployment: ControllerDeployment, emulators: Emulators, options: ControllerProcessOptions): ChildProcess {
  const root = fs.mkdtempSync(path.join(emulators.workdir, `${options.podName ?? 'controller'}-`));
  const local = (mountPath: string) => path.join(root, mountPath);
  for (const mount of deployment.configMaps) {
    const cm = emulators.kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: deployment.namespace, name: mount.name }) as Obj | undefined;
    if (!cm) throw new Error(`ConfigMap ${deployment.namespace}/${mount.name} is not deployed`);
    fs.mkdirSync(local(mount.mountPath), { recursive: true });
    for (const [key, value] of Object.entries((cm.data ?? {}) as Record<string, string>)) fs.writeFileSync(path.join(local(mount.mountPath), key), value);
    for (const [key, value] of Object.entries((cm.binaryData ?? {}) as Record<string, string>)) fs.writeFileSync(path.join(local(mount.mountPath), key), Buffer.from(value, 'base64'));
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(deployment.env)) env[k] = v.startsWith('/') ? local(v) : v;
  if (deployment.secretMount) {
    const dir = local(deployment.secretMount.mountPath);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, deployment.env.BIGIP_USERNAME_KEY ?? 'username'), options.username, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, deployment.env.BIGIP_PASSWORD_KEY ?? 'password'), options.password, { mode: 0o600 });
  }
  Object.assign(env, {
    BIGIP_URL: emulators.bigip.url,
    BIGIP_CA_FILE: emulators.caFile,
    KUBECONFIG: emulators.kubeconfigFile,
    POD_NAME: options.podName ?? 'controller-0',
    POD_NAMESPACE: deployment.namespace,
    HTTP_PORT: String(options.httpPort),
    ...options.env,
  });
  delete env.BIGIP_INSECURE_SKIP_TLS_VERIFY;
  // A custom image runs its own entry point; here that is the package's built controller.
  const command = deployment.command
    ? deployment.command.map((part) => (part.startsWith('/') ? local(part) : part))
    : ['node', path.join(packageRoot(), CONTROLLER_BUNDLE.replace(/\.gz$/, ''))];
  const [program, ...args] = command;
  return spawn(program === 'node' ? process.execPath : program, args, {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: options.stdio ?? 'pipe',
  });
}
