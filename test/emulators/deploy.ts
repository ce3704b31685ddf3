/**
 * Deploys a synth output (`cdktf.out`) to the emulators the way `cdktf deploy` would to a
 * cluster and a BIG-IP, and runs the controller exactly as the cluster would: from the code
 * and plan ConfigMaps the EgressController synthesized, on this machine's Node.js.
 *
 * Stacks are applied in dependency order (CRDs first), each planned before any of it is applied,
 * as `cdktf deploy '*'` runs one `terraform apply` per stack once the stacks it depends on are
 * done. `kubernetes_manifest` objects go to the Kubernetes API emulator, `bigip_as3` declarations
 * to the BIG-IP emulator's AS3 endpoint, and `bigip_command` tmsh commands to its bash endpoint,
 * through the controller's own BIG-IP client. Terraform itself is not involved (it needs
 * provider downloads).
 *
 * `kubernetes_manifest` follows hashicorp/terraform-provider-kubernetes v2.38.0
 * (manifest/provider): the plan maps every kind through discovery and fails with "API did not
 * recognize GroupVersionKind from manifest" for a kind discovery does not list yet, such as a
 * custom kind whose CRD is not Established (plan.go `PlanResourceChange`, resource.go
 * `GVKFromTftypesObject`); a create refuses an object that already exists (apply.go "Cannot
 * create resource that already exists"); every write is a server-side apply with the
 * `field_manager` block's name (default `Terraform`) and `force_conflicts`, and a conflict is
 * the provider's "field manager conflict" error; the `wait` block (rollout, then conditions,
 * then fields, as waiter.go `NewResourceWaiter` picks one) polls the object until it holds or
 * the create/update timeout (default 10 min) passes ("timed out waiting on ..."). A change of
 * apiVersion, kind, name or namespace replaces the object (plan.go `RequiresReplace`):
 * destroy first, or create first with `create_before_destroy`. A resource whose configuration
 * did not change is applied again only when the live object drifted from it (the provider's
 * refresh and plan see the difference).
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
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { BigipClient } from '../../lib/clients/bigip';
import { ALL_KINDS, customResourceDefinition } from '../../lib/k8s/crds';
import { CONTROLLER_BUNDLE } from '../../lib/constructs/egress-controller';
import { packageRoot } from '../../lib/util';
import { BigipEmulator, BigipEmulatorOptions } from './bigip/emulator';
import { EmulatedObject, KubeApiEmulator, KubeApiEmulatorOptions, KubeEmulatorError, ObjectRef } from './kube/emulator';
import { ContainerRunner, rolloutStatus } from './kube/workloads';

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
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as {
    stacks: Record<string, { synthesizedStackPath: string; dependencies: string[] }>;
  };
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

/** The Terraform state of the resources of every stack, by `<stack>:<type>.<name>`. */
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
  /**
   * Stands in for the provider's default create/update timeout of a `kubernetes_manifest`
   * `wait` (10 min) when the resource sets no `timeouts`.
   * @default 600000
   */
  readonly waitTimeoutMs?: number;
  /**
   * How often a `wait` reads the object (the provider sleeps 1 s between reads, waiter.go).
   * @default 1000
   */
  readonly waitPollMs?: number;
  /**
   * The BIG-IPs of `bigip` providers by provider reference (`bigip.<alias>`): the units of a
   * pair (test/emulators/bigip/ha.ts). Resources of other providers go to `emulators.bigip`.
   * @default - every BIG-IP resource goes to emulators.bigip
   */
  readonly bigipUnits?: Readonly<Record<string, BigipUnitTarget>>;
}

/** One BIG-IP a provider reaches, with a client logged in to it. */
export interface BigipUnitTarget {
  readonly bigip: BigipEmulator;
  readonly client: BigipClient;
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
  /** Kubernetes objects created, updated or replaced. */
  readonly kubernetesObjects: number;
  /**
   * Writes to the cluster in order: `create|update|delete <Kind> <namespace/name>` (cluster-scoped
   * objects as `/name`, as the provider names them).
   */
  readonly kubernetesOperations: readonly string[];
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
  /** BIG-IP resources created, updated or replaced, in order (`<stack>:<type>.<name>`); Kubernetes objects are in {@link kubernetesOperations}. */
  readonly applied: readonly string[];
  /** BIG-IP resources destroyed because they are gone from the output, in order. */
  readonly destroyed: readonly string[];
  /** State to pass as {@link DeployOptions.previous} to the next deploy. */
  readonly state: DeployState;
}

export interface Emulators {
  readonly kube: KubeApiEmulator;
  /**
   * Objects {@link startEmulators} created before any deploy (the rule CRDs unless asked not
   * to). A first deploy finds them in its Terraform state, as if an earlier deploy of the CRD
   * stack had created them; anything else that exists before a create is refused as the
   * provider refuses it.
   */
  readonly preinstalled: readonly ObjectRef[];
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
  /**
   * Install the rule CRDs (Established) before anything is deployed; false gives an empty
   * cluster, where the CRD stack creates them.
   * @default true
   */
  readonly installCrds?: boolean;
}

/** Starts both emulators (with the rule CRDs installed unless asked not to) and a scratch folder. */
export async function startEmulators(options: StartEmulatorsOptions = {}): Promise<Emulators> {
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdktf-ces-'));
  const crds = options.installCrds === false ? [] : ALL_KINDS.map(customResourceDefinition);
  const kube = await KubeApiEmulator.start({ crds, ...options.kube });
  const preinstalled: ObjectRef[] = crds.map((c) => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    name: (c.metadata as { name: string }).name,
  }));
  const bigip = await BigipEmulator.start(options.bigip);
  const kubeconfigFile = path.join(workdir, 'kubeconfig');
  kube.writeKubeconfig(kubeconfigFile);
  const caFile = path.join(workdir, 'bigip-ca.crt');
  fs.writeFileSync(caFile, BigipEmulator.caCertificate());
  const bigipClient = new BigipClient({ url: bigip.url, username: 'admin', password: 'admin', caBundle: BigipEmulator.caCertificate() });
  return {
    kube,
    preinstalled,
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
  const run: Run = {
    emulators,
    previous: options.previous?.resources ?? {},
    state: {},
    replace: new Set(options.replace ?? []),
    waitTimeoutMs: options.waitTimeoutMs ?? 600_000,
    waitPollMs: options.waitPollMs ?? 1000,
    counts: { declarations: 0, commands: 0, kubernetesObjects: 0 },
    commandResults: [],
    as3TaskIds: [],
    applied: [],
    destroyed: [],
    kubernetesOperations: [],
    bigipUnits: options.bigipUnits ?? {},
  };
  const controllers: ControllerDeployment[] = [];
  const stacks = readStacks(outdir);
  // Terraform state of stacks that are no longer in the output stays as it was.
  const names = new Set(stacks.map((st) => st.name));
  for (const [key, r] of Object.entries(run.previous)) if (!names.has(r.stack)) run.state[key] = r;
  for (const stack of stacks) {
    await applyStack(stack, run);
    const manifests = Object.values(stack.resources.kubernetes_manifest ?? {}).map((r) => r.manifest as Obj);
    for (const d of manifests.filter(
      (m) => m.kind === 'Deployment' && m.metadata?.labels?.['app.kubernetes.io/name'] === 'cdktf-ces-controller',
    )) {
      controllers.push(controllerDeploymentOf(d.metadata.namespace, d.metadata.name, d.spec.template.spec));
    }
  }
  return {
    kubernetesObjects: run.counts.kubernetesObjects,
    kubernetesOperations: run.kubernetesOperations,
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

/** What a controller pod runs, from a pod spec (a Deployment's template or a pod's own). */
export function controllerDeploymentOf(namespace: string, name: string, podSpec: Obj): ControllerDeployment {
  const container = podSpec.containers[0];
  const volumes = new Map<string, Obj>(((podSpec.volumes ?? []) as Obj[]).map((v) => [v.name, v]));
  const configMaps: { mountPath: string; name: string }[] = [];
  let secretMount: ControllerDeployment['secretMount'];
  for (const mount of (container.volumeMounts ?? []) as Obj[]) {
    const v = volumes.get(mount.name) as Obj;
    if (v.configMap) configMaps.push({ mountPath: mount.mountPath, name: v.configMap.name });
    if (v.secret) secretMount = { mountPath: mount.mountPath, secretName: v.secret.secretName };
  }
  return {
    namespace,
    name,
    env: Object.fromEntries(((container.env ?? []) as Obj[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value])),
    configMaps,
    secretMount,
    command: container.command,
  };
}

/** One deploy: the earlier state, the new one, what was done. */
interface Run {
  readonly emulators: Emulators;
  readonly previous: Readonly<Record<string, DeployedResource>>;
  readonly state: Record<string, DeployedResource>;
  readonly replace: ReadonlySet<string>;
  readonly waitTimeoutMs: number;
  readonly waitPollMs: number;
  readonly counts: { declarations: number; commands: number; kubernetesObjects: number };
  readonly commandResults: string[];
  readonly as3TaskIds: string[];
  readonly applied: string[];
  readonly destroyed: string[];
  readonly kubernetesOperations: string[];
  readonly bigipUnits: Readonly<Record<string, BigipUnitTarget>>;
}

/** The run as seen by a BIG-IP resource: its provider's unit when it names one of `bigipUnits`. */
function onUnit(run: Run, config: Readonly<Obj>): Run {
  const unit = typeof config.provider === 'string' ? run.bigipUnits[config.provider] : undefined;
  return unit ? { ...run, emulators: { ...run.emulators, bigip: unit.bigip, bigipClient: unit.client } } : run;
}

const RESOURCE_TYPES = ['kubernetes_manifest', 'terraform_data', 'bigip_as3', 'bigip_command'] as const;

/** `type.name` addresses a resource's configuration refers to: depends_on, replace_triggered_by and conditions. */
function references(config: Obj): string[] {
  const refs = new Set<string>((config.depends_on as string[] | undefined) ?? []);
  const lifecycle = (config.lifecycle ?? {}) as Obj;
  const expressions = [
    ...((lifecycle.replace_triggered_by as string[] | undefined) ?? []),
    ...[...conditions(config, 'precondition'), ...conditions(config, 'postcondition')].map((c) => c.condition),
  ];
  for (const e of expressions)
    for (const m of e.matchAll(/\b((?:bigip_as3|bigip_command|terraform_data|kubernetes_manifest)\.[A-Za-z0-9_-]+)/g)) refs.add(m[1]);
  return [...refs];
}

/** The configuration Terraform compares between deploys: the resource without cdktf's metadata. */
function configOf(resource: Obj): Obj {
  const { '//': _metadata, ...config } = resource;
  return config;
}

/** The object a `kubernetes_manifest` configuration manages. */
function refOf(config: Obj): ObjectRef {
  const m = config.manifest as Obj;
  return { apiVersion: m.apiVersion, kind: m.kind, name: m.metadata?.name, namespace: m.metadata?.namespace };
}

/** The provider's name for an object in messages: `namespace/name` (types.NamespacedName). */
function namespacedName(ref: ObjectRef): string {
  return `${ref.namespace ?? ''}/${ref.name}`;
}

function sameObject(a: ObjectRef, b: ObjectRef): boolean {
  return a.apiVersion === b.apiVersion && a.kind === b.kind && a.name === b.name && (a.namespace ?? '') === (b.namespace ?? '');
}

/** Whether the live object holds every configured field with its configured value. */
function holds(configured: unknown, live: unknown): boolean {
  if (Array.isArray(configured))
    return Array.isArray(live) && live.length === configured.length && configured.every((c, i) => holds(c, live[i]));
  if (configured && typeof configured === 'object') {
    if (!live || typeof live !== 'object' || Array.isArray(live)) return false;
    return Object.entries(configured).every(([k, v]) => holds(v, (live as Obj)[k]));
  }
  return configured === live;
}

async function applyStack(stack: SynthStack, run: Run): Promise<void> {
  const key = (address: string) => `${stack.name}:${address}`;
  const kube = run.emulators.kube;
  const current = new Map<string, Obj>();
  for (const type of RESOURCE_TYPES)
    for (const [name, r] of Object.entries(stack.resources[type] ?? {})) current.set(`${type}.${name}`, configOf(r));
  const before = new Map(
    Object.values(run.previous)
      .filter((r) => r.stack === stack.name)
      .map((r) => [`${r.type}.${r.name}`, r]),
  );
  // A first deploy finds what startEmulators installed in its state.
  if (Object.keys(run.previous).length === 0) {
    for (const [address, config] of current) {
      if (!address.startsWith('kubernetes_manifest.') || !run.emulators.preinstalled.some((p) => sameObject(p, refOf(config)))) continue;
      before.set(address, {
        stack: stack.name,
        type: 'kubernetes_manifest',
        name: address.slice('kubernetes_manifest.'.length),
        config,
        outputs: {},
      });
    }
  }
  const stateNow = () => ({ resources: { ...run.state } });

  // Plan: every kind is mapped through discovery before anything of the stack is applied.
  for (const [address, config] of current) {
    if (!address.startsWith('kubernetes_manifest.')) continue;
    const ref = refOf(config);
    try {
      kube.restMapping(ref.apiVersion, ref.kind);
    } catch (e) {
      throw new DeployError(
        `${key(address)}: API did not recognize GroupVersionKind from manifest (CRD may not be installed): ${(e as Error).message}`,
        stateNow(),
      );
    }
  }

  // Gone from the output: destroyed first, dependents before what they depend on, and before the
  // updates of what they depended on (Terraform `internal/terraform/transform_destroy_edge.go`:
  // the creator or updater of a destroyed resource's stored dependency waits for its destroy).
  const gone = order(
    [...before.keys()].filter((a) => !current.has(a)),
    (a) => references((before.get(a) as DeployedResource).config),
  ).reverse();
  for (const address of gone) {
    const r = before.get(address) as DeployedResource;
    if (r.type === 'bigip_as3')
      throw new DeployError(
        `deploySynthOutput: ${key(address)} is gone from the output; deleting an AS3 declaration is not modelled`,
        stateNow(),
      );
    if (r.type === 'bigip_command' && r.config.when === 'destroy') await runCommands(onUnit(run, r.config), r.config.commands as string[]);
    if (r.type === 'kubernetes_manifest') deleteObject(run, refOf(r.config));
    else run.destroyed.push(key(address));
  }

  const changed = new Set<string>();
  // Objects replaced create-before-destroy: deleted once everything else of the stack is applied.
  const deposed: ObjectRef[] = [];
  // Terraform walks resources that do not depend on each other in parallel; the replay takes
  // one such order: Kubernetes objects (CRDs, then Namespaces, then the rest) before BIG-IP
  // resources, otherwise as synthesized.
  const rank = (a: string) => {
    const kind = a.startsWith('kubernetes_manifest.') ? (current.get(a)?.manifest as Obj).kind : undefined;
    return kind === 'CustomResourceDefinition' ? 0 : kind === 'Namespace' ? 1 : 2;
  };
  const addresses = [...current.keys()]
    .map((a, i) => ({ a, i }))
    .sort((x, y) => rank(x.a) - rank(y.a) || x.i - y.i)
    .map((x) => x.a);
  for (const address of order(addresses, (a) => references(current.get(a) as Obj))) {
    const config = current.get(address) as Obj;
    const prior = before.get(address);
    const triggers = ((config.lifecycle as Obj | undefined)?.replace_triggered_by as string[] | undefined) ?? [];
    const [type, name] = [address.slice(0, address.indexOf('.')), address.slice(address.indexOf('.') + 1)];
    const identityChanged = type === 'kubernetes_manifest' && prior !== undefined && !sameObject(refOf(prior.config), refOf(config));
    const replaced = run.replace.has(address) || identityChanged || triggers.some((t) => changed.has(t.replace(/^\$\{|\}$/g, '')));
    let unchanged = prior !== undefined && !replaced && canonical(prior.config) === canonical(config);
    if (unchanged && type === 'kubernetes_manifest') unchanged = holds(config.manifest, kube.get(refOf(config)));
    const lookup = (a: string) => run.state[key(a)];
    const fail = (message: string) => new DeployError(`${key(address)}: ${message}`, stateNow());
    // Preconditions hold before the resource is applied; for one that does not change, on every plan.
    for (const c of conditions(config, 'precondition')) {
      if (!evaluateCondition(c.condition, undefined, lookup)) throw fail(`Resource precondition failed: ${c.error_message}`);
    }
    let outputs: Obj;
    if (unchanged) {
      outputs = (prior as DeployedResource).outputs;
    } else {
      if (prior && type === 'bigip_command' && replaced && prior.config.when === 'destroy')
        await runCommands(onUnit(run, prior.config), prior.config.commands as string[]);
      if (type === 'kubernetes_manifest') {
        const createFirst = (config.lifecycle as Obj | undefined)?.create_before_destroy === true;
        if (prior && replaced && !createFirst) deleteObject(run, refOf(prior.config));
        try {
          outputs = await applyManifest(run, stack.name, config, prior === undefined || replaced);
        } catch (e) {
          if (e instanceof ProviderError) throw fail(e.message);
          throw e;
        }
        if (prior && replaced && createFirst) deposed.push(refOf(prior.config));
      } else outputs = await applyResource(run, type, config);
      changed.add(address);
      if (type !== 'kubernetes_manifest') run.applied.push(key(address));
    }
    run.state[key(address)] = { stack: stack.name, type, name, config, outputs };
    for (const c of conditions(config, 'postcondition')) {
      if (!evaluateCondition(c.condition, run.state[key(address)], lookup)) throw fail(`Resource postcondition failed: ${c.error_message}`);
    }
  }
  for (const ref of deposed) deleteObject(run, ref);
}

/** A `kubernetes_manifest` failure, worded as the provider's diagnostic (summary: detail). */
class ProviderError extends Error {}

function deleteObject(run: Run, ref: ObjectRef): void {
  if (run.emulators.kube.delete(ref, { gracePeriodSeconds: 0 })) run.kubernetesOperations.push(`delete ${ref.kind} ${namespacedName(ref)}`);
}

/**
 * Create or update of a `kubernetes_manifest` (provider manifest/provider/apply.go
 * `ApplyResourceChange`): the existence check of a create, the server-side apply, the wait.
 */
async function applyManifest(run: Run, stack: string, config: Obj, create: boolean): Promise<Obj> {
  const kube = run.emulators.kube;
  const ref = refOf(config);
  const rnn = namespacedName(ref);
  // Stacks of several clusters share the one emulated cluster: an object in another stack's
  // state belongs to another cluster there, and is not refused.
  const elsewhere = Object.values({ ...run.previous, ...run.state }).some(
    (r) => r.stack !== stack && r.type === 'kubernetes_manifest' && sameObject(refOf(r.config), ref),
  );
  if (create && !elsewhere && kube.get(ref))
    throw new ProviderError(`Cannot create resource that already exists: resource "${rnn}" already exists`);
  const fieldManager = (config.field_manager ?? {}) as Obj;
  const existed = kube.get(ref) !== undefined;
  try {
    kube.serverSideApply(config.manifest as Obj, {
      fieldManager: (fieldManager.name as string | undefined) ?? 'Terraform',
      force: fieldManager.force_conflicts === true,
    });
  } catch (e) {
    if (!(e instanceof KubeEmulatorError)) throw e;
    if (e.code === 409) {
      throw new ProviderError(
        `There was a field manager conflict when trying to apply the manifest for "${rnn}": The API returned the following conflict: ${JSON.stringify(e.message)}\n\nYou can override this conflict by setting "force_conflicts" to true in the "field_manager" block.`,
      );
    }
    throw new ProviderError(statusDiagnostics(e.status));
  }
  run.kubernetesOperations.push(`${existed ? 'update' : 'create'} ${ref.kind} ${rnn}`);
  run.counts.kubernetesObjects++;
  const timeouts = (config.timeouts ?? {}) as Obj;
  const timeout = (create ? timeouts.create : timeouts.update) as string | undefined;
  await waitFor(run, ref, config.wait as Obj | undefined, timeout === undefined ? run.waitTimeoutMs : goDuration(timeout));
  return {};
}

/**
 * An API error as the provider reports it (manifest/provider/diagnostics.go
 * `APIStatusErrorToDiagnostics`): the status and message, then reason, group kind and name, then
 * one line per cause.
 */
function statusDiagnostics(status: KubeEmulatorError['status']): string {
  const lines = [`API response status: ${status.status}: ${status.message}`];
  const details = status.details as Obj | undefined;
  if (details) {
    lines.push(
      `Kubernetes API Error: ${status.reason ?? ''} ${details.kind ?? ''}${details.group ? `.${details.group}` : ''} [${details.name ?? ''}]`,
    );
    for (const c of (details.causes ?? []) as Obj[]) lines.push(`${c.field ?? ''}: ${c.message ?? ''}`);
  }
  return lines.join('\n');
}

/** A Go duration of the `timeouts` block (`30s`, `10m`, `1h30m`) in milliseconds. */
function goDuration(text: string): number {
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * unit[m[2]];
  return ms;
}

/**
 * The provider's waiters (manifest/provider/waiter.go): `rollout` (kubectl's rollout status
 * viewer), else `condition` (every listed condition present with that status), else `fields`
 * (each path's value matches its regular expression; `*` any value). Reads the object every
 * poll until it holds or the deadline passes.
 */
async function waitFor(run: Run, ref: ObjectRef, wait: Obj | undefined, timeoutMs: number): Promise<void> {
  if (!wait) return;
  const kube = run.emulators.kube;
  let reason: string;
  let done: (o: EmulatedObject) => boolean;
  const wanted = (wait.condition ?? []) as Obj[];
  if (wait.rollout === true) {
    reason = 'rollout to complete';
    done = (o) => {
      const s = rolloutStatus(o);
      if (s.error) throw new ProviderError(`Error waiting for operation to complete: error getting resource status: ${s.error}`);
      return s.done;
    };
  } else if (wanted.length > 0) {
    reason = 'conditions';
    done = (o) => {
      const conditions = ((o.status as Obj | undefined)?.conditions ?? []) as Obj[];
      return conditions.length > 0 && wanted.every((w) => conditions.find((c) => c.type === w.type)?.status === w.status);
    };
  } else if (wait.fields && Object.keys(wait.fields).length > 0) {
    reason = 'field matchers';
    const matchers = Object.entries(wait.fields as Record<string, string>).map(([p, re]) => ({
      path: p.split(/\.|\[|\]\.?/).filter(Boolean),
      re: new RegExp(re === '*' ? '(.*)?' : re),
    }));
    done = (o) =>
      matchers.every((m) => {
        const v = m.path.reduce<unknown>((at, k) => (at && typeof at === 'object' ? (at as Obj)[k.replace(/^"|"$/g, '')] : undefined), o);
        if (v === undefined)
          throw new ProviderError(`Error waiting for operation to complete: attribute not present at path '${m.path.join('.')}'`);
        return m.re.test(String(v));
      });
  } else return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (Date.now() > deadline) throw new ProviderError(`Operation timed out: timed out waiting on ${reason}`);
    const live = kube.get(ref);
    if (!live) throw new ProviderError(`Error waiting for operation to complete: ${ref.kind.toLowerCase()}s "${ref.name}" not found`);
    if (done(live)) return;
    await new Promise((r) => setTimeout(r, run.waitPollMs));
  }
}

async function applyResource(all: Run, type: string, config: Obj): Promise<Obj> {
  if (type === 'terraform_data') return { output: config.input ?? null };
  const run = onUnit(all, config);
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

async function runCommands(run: Run, commands: readonly string[]): Promise<string[]> {
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
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Obj)[k])}`)
      .join(',')}}`;
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
const CAPTURES_ALLOWED =
  /^\$\{alltrue\(\[for v in flatten\(regexall\(("(?:[^"\\]|\\.)*"), ((?:bigip_command|bigip_as3|terraform_data)\.[A-Za-z0-9_-]+)\.command_result\[(\d+)\]\)\) : contains\(\[((?:"(?:[^"\\]|\\.)*"(?:, )?)*)\], v\)\]\)\}$/;

/**
 * Evaluates a condition as Terraform would: `regexall` with RE2 patterns that JavaScript reads
 * alike (no flags, no look-around, no back-references in what the constructs generate). `self`
 * is the resource of a postcondition; `lookup` finds the resources a precondition reads.
 */
export function evaluateCondition(
  expression: string,
  self: DeployedResource | undefined,
  lookup: (address: string) => DeployedResource | undefined,
): boolean {
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
    if (!results || index >= results.length)
      throw new Error(
        `deploySynthOutput: Invalid index: ${b[2]}.command_result[${index}] does not exist (${results?.length ?? 0} results)`,
      );
    const allowed = JSON.parse(`[${b[4].replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{')}]`) as string[];
    const pattern = new RegExp(hclString(b[1]), 'g');
    return [...results[index].matchAll(pattern)].flatMap((m) => m.slice(1)).every((v) => v !== undefined && allowed.includes(v));
  }
  throw new Error(
    `deploySynthOutput: the condition ${expression} is not one this replay evaluates; it would be skipped, so the deploy stops`,
  );
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
  const fail = (why: string, results: unknown) =>
    new Error(
      `bigip_as3: posting as3 config failed for tenants:(${tenants.join(',')}) with error: ${why}: ${JSON.stringify(results, null, 1)}`,
    );
  for (;;) {
    const taskId = await client.submitAs3(request, tenants);
    let task = await client.getAs3Task(taskId);
    if (task.results[0]?.code === 200) return taskId;
    for (;;) {
      const first = task.results[0];
      if (first && first.code !== 0 && first.code !== 503) {
        if (task.results.length === 1 && first.message === 'declaration is invalid') throw fail('Error', first.errors);
        if (task.results.length === 1 && first.message !== 'success' && first.message !== 'no change')
          throw fail('Tenant Creation failed with Response', task.results);
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
export function runControllerProcess(
  deployment: ControllerDeployment,
  emulators: Emulators,
  options: ControllerProcessOptions,
): ChildProcess {
  const root = fs.mkdtempSync(path.join(emulators.workdir, `${options.podName ?? 'controller'}-`));
  const local = (mountPath: string) => path.join(root, mountPath);
  for (const mount of deployment.configMaps) {
    const cm = emulators.kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: deployment.namespace, name: mount.name }) as
      Obj | undefined;
    if (!cm) throw new Error(`ConfigMap ${deployment.namespace}/${mount.name} is not deployed`);
    fs.mkdirSync(local(mount.mountPath), { recursive: true });
    for (const [key, value] of Object.entries((cm.data ?? {}) as Record<string, string>))
      fs.writeFileSync(path.join(local(mount.mountPath), key), value);
    for (const [key, value] of Object.entries((cm.binaryData ?? {}) as Record<string, string>))
      fs.writeFileSync(path.join(local(mount.mountPath), key), Buffer.from(value, 'base64'));
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

/**
 * A free loopback port below the kernel's ephemeral range (32768-60999 by default): a port the
 * kernel hands out for outgoing connections could be taken by one of the container's own
 * connections between this check and the container's listen, as it cannot in a pod, whose
 * ports are its own.
 */
async function freePort(): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const candidate = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(candidate, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return candidate;
    if (attempt > 100) throw new Error('no free loopback port between 20000 and 32000');
  }
}

/** Where the kubelet mounts a pod's service-account token, CA and namespace (ServiceAccount admission, `DefaultAPITokenMountPath`). */
const SERVICE_ACCOUNT_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/** A container's view of the file system: its mount paths, longest first, and the folders that stand in for them. */
type MountTable = readonly (readonly [containerPath: string, hostPath: string])[];

function mapPath(mounts: MountTable, p: string): string {
  if (!p.startsWith('/')) return p;
  for (const [c, h] of mounts) if (p === c || p.startsWith(`${c}/`)) return h + p.slice(c.length);
  return p;
}

/**
 * Rewrites absolute paths under the container's mounts wherever the program names them: in
 * its arguments and environment (mapped before it starts) and in paths it has built in, such
 * as the service-account folder the in-cluster config reads (a `--require` module maps the
 * `fs` calls).
 */
function mountPreload(root: string, mounts: MountTable): string {
  const file = path.join(root, `mounts-${crypto.randomBytes(4).toString('hex')}.js`);
  fs.writeFileSync(
    file,
    `const fs = require('node:fs');
const mounts = ${JSON.stringify(mounts)};
const root = ${JSON.stringify(`${root}/`)};
// Paths already mapped (the folders stand in for the mounts, possibly under a mount path such as /tmp) stay as they are.
const map = (p) => { if (typeof p !== 'string' || !p.startsWith('/') || p.startsWith(root)) return p; for (const [c, h] of mounts) if (p === c || p.startsWith(c + '/')) return h + p.slice(c.length); return p; };
for (const name of ['readFileSync', 'existsSync', 'statSync', 'lstatSync', 'openSync', 'readdirSync', 'accessSync', 'readFile', 'stat', 'access', 'open', 'readdir', 'createReadStream', 'watch', 'watchFile']) {
  const original = fs[name];
  fs[name] = function (p, ...rest) { return original.call(this, map(p), ...rest); };
}
for (const name of ['readFile', 'stat', 'access', 'open', 'readdir']) {
  const original = fs.promises[name];
  fs.promises[name] = (p, ...rest) => original(map(p), ...rest);
}
`,
  );
  return file;
}

/** A pod's volumes and service-account files, set up once per pod (a restarted container finds them again). */
interface PreparedPod {
  readonly root: string;
  /** Volume name → folder. */
  readonly volumes: ReadonlyMap<string, string>;
  readonly serviceAccountDir?: string;
  initDone: boolean;
}

/**
 * Runs the controller's pods for a {@link WorkloadEmulator} as the kubelet runs a pod, on this
 * machine's Node.js:
 * - volumes (kubelet volumemanager, volume/configmap, volume/secret, volume/emptydir): a
 *   ConfigMap volume is a folder with a file per `data` and `binaryData` key, as the object is
 *   when the pod starts; a Secret volume likewise with the decoded `data`; an emptyDir is an
 *   empty folder shared by every container of the pod that mounts it; with
 *   `automountServiceAccountToken` every container also gets the service account's token, the
 *   API server's CA and the namespace at `/var/run/secrets/kubernetes.io/serviceaccount`
 *   (plugin/pkg/admission/serviceaccount).
 * - init containers first, one at a time, each to completion, the app container only after
 *   the last one exited 0 (pkg/kubelet/kuberuntime/kuberuntime_manager.go `SyncPod` steps 6
 *   and 7, `computePodActions`: while an init container has not succeeded only the next init
 *   container is started); a failed one fails the start, and the kubelet tries again later. A
 *   restarted app container does not run them again (they completed in the same sandbox).
 * - the container's `command` and `args` with the image's `node` as this machine's Node.js,
 *   absolute paths under its mounts mapped to their folders; without a `command`, the image's
 *   entry point, which here is the package's built controller.
 * - environment (pkg/kubelet/kubelet_pods.go `makeEnvironmentVariables`):
 *   `KUBERNETES_SERVICE_HOST`/`_PORT` of the API server (set even with
 *   `enableServiceLinks: false`), then the container's `env`, with `fieldRef` to the pod's
 *   name and namespace resolved. So the controller uses its in-cluster config and its service
 *   account's token: RBAC applies.
 * - the network: each container port is a free local port (the `http` port in HTTP_PORT, the
 *   flow-log ports in FLOWLOG_PORT), the BIG-IP's address is the emulator's (BIGIP_URL).
 * The readiness probe itself is the {@link WorkloadEmulator}'s.
 */
export function controllerContainerRunner(
  emulators: Emulators,
  options: {
    readonly env?: Readonly<Record<string, string>>;
    readonly stdio?: 'inherit' | 'pipe' | 'ignore';
    /**
     * The container runtime's log folder: each app container's stdout is appended to
     * `<logDir>/<namespace>_<pod>.log` (what `kubectl logs` reads), instead of `stdio`.
     */
    readonly logDir?: string;
  } = {},
): ContainerRunner {
  const pods = new Map<string, PreparedPod>();
  const kube = emulators.kube;
  const apiUrl = new URL(kube.url);
  const spawnContainer = (
    prepared: PreparedPod,
    pod: EmulatedObject,
    container: Obj,
    extraEnv: Readonly<Record<string, string>>,
    init = false,
  ): ChildProcess => {
    const namespace = pod.metadata.namespace as string;
    const mounts: [string, string][] = ((container.volumeMounts ?? []) as Obj[]).map((m) => {
      const dir = prepared.volumes.get(m.name);
      if (!dir) throw new Error(`container ${container.name}: volumeMount "${m.name}" names no volume of the pod`);
      return [String(m.mountPath).replace(/\/+$/, ''), m.subPath ? path.join(dir, m.subPath) : dir];
    });
    if (prepared.serviceAccountDir) mounts.push([SERVICE_ACCOUNT_MOUNT, prepared.serviceAccountDir]);
    mounts.sort((a, b) => b[0].length - a[0].length);
    const env: Record<string, string> = {
      KUBERNETES_SERVICE_HOST: apiUrl.hostname.replace(/^\[|\]$/g, ''),
      KUBERNETES_SERVICE_PORT: apiUrl.port,
    };
    for (const e of (container.env ?? []) as Obj[]) {
      if (e.value !== undefined) env[e.name] = mapPath(mounts, String(e.value));
      else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = pod.metadata.name as string;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = namespace;
      else
        throw new Error(
          `container ${container.name}: env ${e.name} uses ${JSON.stringify(e.valueFrom)}, which this runner does not resolve`,
        );
    }
    Object.assign(env, extraEnv);
    const command = [...((container.command ?? []) as string[]), ...((container.args ?? []) as string[])].map((part) =>
      mapPath(mounts, part),
    );
    // The image's entry point: the package's built controller (what the Dockerfile runs).
    const [program, ...args] = container.command
      ? command
      : ['node', path.join(packageRoot(), CONTROLLER_BUNDLE.replace(/\.gz$/, '')), ...command];
    if (program !== 'node') throw new Error(`container ${container.name}: "${program}" is not a program of a Node.js image`);
    const logFile =
      options.logDir && !init ? fs.openSync(path.join(options.logDir, `${namespace}_${pod.metadata.name as string}.log`), 'a') : undefined;
    const child = spawn(process.execPath, ['--require', mountPreload(prepared.root, mounts), ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: logFile === undefined ? (options.stdio ?? 'ignore') : ['ignore', logFile, 'ignore'],
    });
    if (logFile !== undefined) fs.closeSync(logFile);
    return child;
  };
  const prepare = (pod: EmulatedObject): PreparedPod => {
    const namespace = pod.metadata.namespace as string;
    const podName = pod.metadata.name as string;
    const spec = pod.spec as Obj;
    const root = fs.mkdtempSync(path.join(emulators.workdir, `${podName}-`));
    const volumes = new Map<string, string>();
    for (const v of (spec.volumes ?? []) as Obj[]) {
      const dir = path.join(root, 'volumes', v.name);
      fs.mkdirSync(dir, { recursive: true });
      volumes.set(v.name, dir);
      if (v.configMap) {
        const cm = kube.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace, name: v.configMap.name }) as Obj | undefined;
        if (!cm) throw new Error(`MountVolume.SetUp failed for volume "${v.name}" : configmap "${v.configMap.name}" not found`);
        for (const [key, value] of Object.entries((cm.data ?? {}) as Record<string, string>)) fs.writeFileSync(path.join(dir, key), value);
        for (const [key, value] of Object.entries((cm.binaryData ?? {}) as Record<string, string>))
          fs.writeFileSync(path.join(dir, key), Buffer.from(value, 'base64'));
      } else if (v.secret) {
        const secret = kube.get({ apiVersion: 'v1', kind: 'Secret', namespace, name: v.secret.secretName }) as Obj | undefined;
        if (!secret) throw new Error(`MountVolume.SetUp failed for volume "${v.name}" : secret "${v.secret.secretName}" not found`);
        for (const [key, value] of Object.entries((secret.data ?? {}) as Record<string, string>))
          fs.writeFileSync(path.join(dir, key), Buffer.from(value, 'base64'), { mode: 0o600 });
      } else if (!v.emptyDir) {
        throw new Error(`volume "${v.name}": only configMap, secret and emptyDir volumes are run here`);
      }
    }
    let serviceAccountDir: string | undefined;
    if (spec.automountServiceAccountToken !== false) {
      serviceAccountDir = path.join(root, 'serviceaccount');
      fs.mkdirSync(serviceAccountDir);
      fs.writeFileSync(
        path.join(serviceAccountDir, 'token'),
        kube.serviceAccountToken(namespace, (spec.serviceAccountName as string | undefined) ?? 'default'),
        { mode: 0o600 },
      );
      fs.writeFileSync(path.join(serviceAccountDir, 'ca.crt'), kube.caCert);
      fs.writeFileSync(path.join(serviceAccountDir, 'namespace'), namespace);
    }
    return { root, volumes, serviceAccountDir, initDone: false };
  };
  return async (pod) => {
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    const spec = pod.spec as Obj;
    let prepared = pods.get(key);
    if (!prepared) {
      prepared = prepare(pod);
      pods.set(key, prepared);
    }
    if (!prepared.initDone) {
      for (const init of (spec.initContainers ?? []) as Obj[]) {
        const child = spawnContainer(prepared, pod, init, {}, true);
        const code = await new Promise<number | null>((resolve) => {
          child.once('error', () => resolve(-1));
          child.once('exit', (c) => resolve(c));
        });
        if (code !== 0) throw new Error(`init container ${init.name} exited with ${code}`);
      }
      prepared.initDone = true;
    }
    const container = spec.containers[0] as Obj;
    // Each container port is a free local port, passed in the variable the controller listens by.
    const portEnv: Readonly<Record<string, string>> = { http: 'HTTP_PORT', 'flowlog-tcp': 'FLOWLOG_PORT', 'flowlog-udp': 'FLOWLOG_PORT' };
    const ports: Record<number, number> = {};
    const env: Record<string, string> = { BIGIP_URL: emulators.bigip.url };
    for (const p of (container.ports ?? []) as Obj[]) {
      const containerPort = p.containerPort as number;
      ports[containerPort] ??= await freePort();
      if (portEnv[p.name]) env[portEnv[p.name]] = String(ports[containerPort]);
    }
    if (env.HTTP_PORT === undefined) env.HTTP_PORT = String(await freePort());
    const child = spawnContainer(prepared, pod, container, { ...env, ...options.env });
    let exited = false;
    const ended = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    void ended.then(() => (exited = true));
    return {
      ports,
      exited: () => exited,
      stop: async () => {
        if (exited) return;
        child.kill('SIGTERM');
        // The kubelet's grace period, scaled down: a container that does not stop is killed.
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        await ended;
        clearTimeout(kill);
      },
    };
  };
}
