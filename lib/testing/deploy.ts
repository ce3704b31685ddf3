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
 *
 * Within a stack, resources are applied in Terraform's order: after what they `depends_on`, the
 * resources their conditions read and the resources that trigger their replacement. Given the
 * state of an earlier deploy, a resource whose configuration did not change is not applied again
 * (Terraform plans no change), one that is gone is destroyed first (a `bigip_command` with `when
 * = "destroy"` runs its commands), and `replace_triggered_by` replaces a resource when what it
 * names changed. `terraform_data` is kept as Terraform keeps it. Resource preconditions and
 * postconditions are evaluated as Terraform does (before and after the resource, and on every
 * plan for a resource that does not change), for the two condition forms this package
 * synthesizes; any other condition is refused rather than skipped.
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

/** What Terraform keeps of a resource between deploys: its configuration and its outputs. */
export interface DeployedResource {
  readonly stack: string;
  readonly type: string;
  readonly name: string;
  /** The resource's configuration as synthesized (without cdktf metadata). */
  readonly config: Readonly<Obj>;
  /** `command_result` of a `bigip_command`, `task_id` of a `bigip_as3`, `output` of a `terraform_data`. */
  readonly outputs: Readonly<Obj>;
}

/** The Terraform state of the BIG-IP resources of every stack, by `<stack>:<type>.<name>`. */
export interface DeployState {
  readonly resources: Readonly<Record<string, DeployedResource>>;
}

export interface DeployOptions {
  /**
   * The state an earlier deploy left (its result's `state`, or a failed deploy's
   * {@link DeployError.state}).
   * @default - nothing is deployed yet
   */
  readonly previous?: DeployState;
  /**
   * Resources (`<type>.<name>`) to replace even if unchanged, as `terraform apply -replace` does.
   * @default - none
   */
  readonly replace?: readonly string[];
}

/** A resource that failed, a condition that did not hold: the apply stops, as Terraform's does. */
export class DeployError extends Error {
  constructor(
    message: string,
    /** The state after the resources applied before the failure (and the failing one, when it was applied). */
    public readonly state: DeployState,
  ) {
    super(message);
    this.name = 'DeployError';
  }
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
  /** BIG-IP resources created, updated or replaced, in order (`<stack>:<type>.<name>`). */
  readonly applied: readonly string[];
  /** BIG-IP resources destroyed because they are gone from the output, in order. */
  readonly destroyed: readonly string[];
  /** State to pass as {@link DeployOptions.previous} to the next deploy. */
  readonly state: DeployState;
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
export async function deploySynthOutput(outdir: string, emulators: Emulators, options: DeployOptions = {}): Promise<DeployResult> {
  let kubernetesObjects = 0;
  const run: BigipRun = {
    emulators,
    previous: options.previous?.resources ?? {},
    state: {},
    replace: new Set(options.replace ?? []),
    counts: { declarations: 0, commands: 0 },
    commandResults: [],
    as3TaskIds: [],
    applied: [],
    destroyed: [],
  };
  const controllers: ControllerDeployment[] = [];
  const stacks = readStacks(outdir);
  // Terraform state of stacks that are no longer in the output stays as it was.
  const names = new Set(stacks.map((st) => st.name));
  for (const [key, r] of Object.entries(run.previous)) if (!names.has(r.stack)) run.state[key] = r;
  for (const stack of stacks) {
    const manifests = Object.values(stack.resources.kubernetes_manifest ?? {}).map((r) => r.manifest as Obj);
    // Namespaces and CRDs before what lives in them.
    const rank = (m: Obj) => (m.kind === 'CustomResourceDefinition' ? 0 : m.kind === 'Namespace' ? 1 : 2);
    for (const m of [...manifests].sort((a, b) => rank(a) - rank(b))) {
      emulators.kube.apply(m);
      kubernetesObjects++;
    }
    await applyBigipResources(stack, run);
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
  return {
    kubernetesObjects,
    declarations: run.counts.declarations,
    commands: run.counts.commands,
    commandResults: run.commandResults,
    as3TaskIds: run.as3TaskIds,
    controllers,
    applied: run.applied,
    destroyed: run.destroyed,
    state: { resources: run.state },
  };
}

/** The BIG-IP side of one deploy: the earlier state, the new one, what was done. */
interface BigipRun {
  readonly emulators: Emulators;
  readonly previous: Readonly<Record<string, DeployedResource>>;
  readonly state: Record<string, DeployedResource>;
  readonly replace: ReadonlySet<string>;
  readonly counts: { declarations: number; commands: number };
  readonly commandResults: string[];
  readonly as3TaskIds: string[];
  readonly applied: string[];
  readonly destroyed: string[];
}

const BIGIP_TYPES = ['terraform_data', 'bigip_as3', 'bigip_command'] as const;

/** `type.name` addresses a resource's configuration refers to: depends_on, replace_triggered_by and conditions. */
function references(config: Obj): string[] {
  const refs = new Set<string>((config.depends_on as string[] | undefined) ?? []);
  const lifecycle = (config.lifecycle ?? {}) as Obj;
  const expressions = [
    ...(((lifecycle.replace_triggered_by as string[] | undefined) ?? [])),
    ...[...conditions(config, 'precondition'), ...conditions(config, 'postcondition')].map((c) => c.condition),
  ];
  for (const e of expressions) for (const m of e.matchAll(/\b((?:bigip_as3|bigip_command|terraform_data)\.[A-Za-z0-9_-]+)/g)) refs.add(m[1]);
  return [...refs];
}

/** The configuration Terraform compares between deploys: the resource without cdktf's metadata. */
function configOf(resource: Obj): Obj {
  const { '//': _metadata, ...config } = resource;
  return config;
}

async function applyBigipResources(stack: SynthStack, run: BigipRun): Promise<void> {
  const key = (address: string) => `${stack.name}:${address}`;
  const current = new Map<string, Obj>();
  for (const type of BIGIP_TYPES) for (const [name, r] of Object.entries(stack.resources[type] ?? {})) current.set(`${type}.${name}`, configOf(r));
  const before = new Map(Object.values(run.previous).filter((r) => r.stack === stack.name).map((r) => [`${r.type}.${r.name}`, r]));

  // Gone from the output: destroyed first, dependents before what they depend on, and before the
  // updates of what they depended on (Terraform `internal/terraform/transform_destroy_edge.go`:
  // the creator or updater of a destroyed resource's stored dependency waits for its destroy).
  const gone = order([...before.keys()].filter((a) => !current.has(a)), (a) => references((before.get(a) as DeployedResource).config)).reverse();
  for (const address of gone) {
    const r = before.get(address) as DeployedResource;
    if (r.type === 'bigip_as3') throw new DeployError(`deploySynthOutput: ${key(address)} is gone from the output; deleting an AS3 declaration is not modelled`, { resources: { ...run.state } });
    if (r.type === 'bigip_command' && r.config.when === 'destroy') await runCommands(run, r.config.commands as string[]);
    run.destroyed.push(key(address));
  }

  const changed = new Set<string>();
  for (const address of order([...current.keys()], (a) => references(current.get(a) as Obj))) {
    const config = current.get(address) as Obj;
    const prior = before.get(address);
    const triggers = ((config.lifecycle as Obj | undefined)?.replace_triggered_by as string[] | undefined) ?? [];
    const replaced = run.replace.has(address) || triggers.some((t) => changed.has(t.replace(/^\$\{|\}$/g, '')));
    const unchanged = prior !== undefined && !replaced && canonical(prior.config) === canonical(config);
    const [type, name] = [address.slice(0, address.indexOf('.')), address.slice(address.indexOf('.') + 1)];
    const lookup = (a: string) => run.state[key(a)];
    const fail = (message: string) => new DeployError(`${key(address)}: ${message}`, { resources: { ...run.state } });
    // Preconditions hold before the resource is applied; for one that does not change, on every plan.
    for (const c of conditions(config, 'precondition')) {
      if (!evaluateCondition(c.condition, undefined, lookup)) throw fail(`Resource precondition failed: ${c.error_message}`);
    }
    let outputs: Obj;
    if (unchanged) {
      outputs = prior.outputs;
    } else {
      if (prior && type === 'bigip_command' && replaced && prior.config.when === 'destroy') await runCommands(run, prior.config.commands as string[]);
      outputs = await applyResource(run, type, config);
      changed.add(address);
      run.applied.push(key(address));
    }
    run.state[key(address)] = { stack: stack.name, type, name, config, outputs };
    for (const c of conditions(config, 'postcondition')) {
      if (!evaluateCondition(c.condition, run.state[key(address)], lookup)) throw fail(`Resource postcondition failed: ${c.error_message}`);
    }
  }
}

async function applyResource(run: BigipRun, type: string, config: Obj): Promise<Obj> {
  if (type === 'terraform_data') return { output: config.input ?? null };
  if (type === 'bigip_as3') {
    const taskId = await applyBigipAs3(run.emulators, config.as3_json as string);
    run.as3TaskIds.push(taskId);
    run.counts.declarations++;
    return { task_id: taskId };
  }
  // bigip_command runs its commands on create and update when `when` is apply (the default);
  // a destroy-time command only stores them (provider `bigip/resource_bigip_command.go`).
  if (config.when === 'destroy') return {};
  return { command_result: await runCommands(run, config.commands as string[]) };
}

async function runCommands(run: BigipRun, commands: readonly string[]): Promise<string[]> {
  const results: string[] = [];
  for (const c of commands) {
    // The provider fails only when the request fails, not when tmsh does (go-bigip
    // `sys.go:747-755`, provider `bigip/resource_bigip_command.go:58-84`).
    const result = await run.emulators.bigipClient.runTmsh(c);
    results.push(result);
    run.commandResults.push(result);
    run.counts.commands++;
  }
  return results;
}

/** Addresses in dependency order (what each one refers to first), otherwise in the given order. */
function order(addresses: readonly string[], refs: (address: string) => readonly string[]): string[] {
  const out: string[] = [];
  const within = new Set(addresses);
  const visit = (a: string, trail: readonly string[]) => {
    if (out.includes(a)) return;
    if (trail.includes(a)) throw new Error(`deploySynthOutput: resource dependency cycle ${[...trail, a].join(' -> ')}`);
    for (const r of refs(a)) if (within.has(r)) visit(r, [...trail, a]);
    out.push(a);
  };
  for (const a of addresses) visit(a, []);
  return out;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Obj)[k])}`).join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

interface Condition {
  readonly condition: string;
  readonly error_message: string;
}

function conditions(config: Obj, kind: 'precondition' | 'postcondition'): Condition[] {
  return ((config.lifecycle as Obj | undefined)?.[kind] as Condition[] | undefined) ?? [];
}

/** An HCL string literal of the synthesized conditions: JSON escapes, with `$${` and `%%{` for literal `${` and `%{`. */
function hclString(literal: string): string {
  return JSON.parse(literal.replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{')) as string;
}

/** The two condition forms the constructs synthesize. */
const NO_MATCH_IN_SELF = /^\$\{alltrue\(\[for r in self\.command_result : length\(regexall\(("(?:[^"\\]|\\.)*"), r\)\) == 0\]\)\}$/;
const CAPTURES_ALLOWED = /^\$\{alltrue\(\[for v in flatten\(regexall\(("(?:[^"\\]|\\.)*"), ((?:bigip_command|bigip_as3|terraform_data)\.[A-Za-z0-9_-]+)\.command_result\[(\d+)\]\)\) : contains\(\[((?:"(?:[^"\\]|\\.)*"(?:, )?)*)\], v\)\]\)\}$/;

/**
 * Evaluates a condition as Terraform would: `regexall` with RE2 patterns that JavaScript reads
 * alike (no flags, no look-around, no back-references in what the constructs generate). `self`
 * is the resource of a postcondition; `lookup` finds the resources a precondition reads.
 */
export function evaluateCondition(expression: string, self: DeployedResource | undefined, lookup: (address: string) => DeployedResource | undefined): boolean {
  const a = NO_MATCH_IN_SELF.exec(expression);
  if (a) {
    if (!self) throw new Error(`deploySynthOutput: "self" in a precondition: ${expression}`);
    const results = (self.outputs.command_result as string[] | undefined) ?? [];
    const pattern = new RegExp(hclString(a[1]), 'g');
    return results.every((r) => [...r.matchAll(pattern)].length === 0);
  }
  const b = CAPTURES_ALLOWED.exec(expression);
  if (b) {
    const target = lookup(b[2]);
    const results = target?.outputs.command_result as string[] | undefined;
    const index = Number(b[3]);
    if (!results || index >= results.length) throw new Error(`deploySynthOutput: Invalid index: ${b[2]}.command_result[${index}] does not exist (${results?.length ?? 0} results)`);
    const allowed = JSON.parse(`[${b[4].replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{')}]`) as string[];
    const pattern = new RegExp(hclString(b[1]), 'g');
    return [...results[index].matchAll(pattern)].flatMap((m) => m.slice(1)).every((v) => v !== undefined && allowed.includes(v));
  }
  throw new Error(`deploySynthOutput: the condition ${expression} is not one this replay evaluates; it would be skipped, so the deploy stops`);
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
