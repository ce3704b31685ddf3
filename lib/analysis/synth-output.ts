/**
 * Reads a synth output directory (`cdktf.out`): every AfmDevice's policy artifact
 * (`stacks/<stack>/cdktf-ces/<tenant>.json`) with what its stack's `cdk.tf.json` sends to the
 * BIG-IP (the `bigip_as3` JSON and the `bigip_command` commands).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { As3Object, renderAs3, renderSharedAs3, renderTenantAs3 } from '../afm/as3';
import { CompiledPolicy, compilePolicy } from '../policy/compile';
import { ARTIFACT_FORMAT, PolicyArtifact, sha256 } from '../policy/plan';
import { buildSyncPlan } from '../k8s/sync-plan';
import { DeviceNames, selectDevice } from './device-name';
import { readJsonFile } from '../files/input-files';
import { UsageError } from '../files/usage-error';
import { quote } from '../files/text';

export interface DeviceOutput {
  readonly stack: string;
  readonly tenant: string;
  /** Paths relative to the working directory, for messages. */
  readonly artifactFile: string;
  readonly terraformFile: string;
  readonly artifact: PolicyArtifact;
  /**
   * The AS3 requests that make up what the BIG-IP holds: the device's own, and on a shared
   * BIG-IP also the SharedBigip's `/Common/Shared` declaration.
   */
  readonly as3: readonly unknown[];
  /**
   * tmsh commands applied on create (`bigip_command` without `when: destroy`), in order: the
   * device's own, or on a shared BIG-IP the SharedBigip's.
   */
  readonly commands: readonly string[];
  /** The stack and construct path of the SharedBigip, when the device shares its BIG-IP. */
  readonly shared?: { readonly stack: string; readonly path: string };
}

interface TerraformJson {
  readonly resource?: Record<string, Record<string, TerraformResource>>;
}

interface TerraformResource {
  readonly '//'?: { readonly metadata?: { readonly path?: string } };
  readonly as3_json?: string;
  readonly commands?: readonly string[];
  readonly when?: string;
}

const RESYNTH = 'run "cdktf synth" again';

/**
 * Folder of the policy artifacts inside a stack's output (AfmDevice's ARTIFACT_DIR; repeated
 * here so the tool does not load cdktf to start, and checked equal by the tests).
 */
export const ARTIFACT_FOLDER = 'cdktf-ces';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const optional = (v: unknown, check: (x: unknown) => boolean) => v === undefined || check(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const SHA256 = /^[0-9a-f]{64}$/;

/** The fields of a `cdk.tf.json` the tool reads, checked. */
function terraformJson(value: unknown, shown: string): TerraformJson {
  const bad = (where: string, v: unknown) =>
    new UsageError(
      `${shown} is not a Terraform JSON configuration as cdktf writes it: ${where}`,
      quote(v),
      `the output is damaged; ${RESYNTH}`,
    );
  if (!isObj(value)) throw bad('the file is not a mapping', value);
  if (!optional(value.resource, isObj)) throw bad('"resource" is not a mapping', value.resource);
  for (const type of ['bigip_as3', 'bigip_command']) {
    const byName = (value.resource as Obj | undefined)?.[type];
    if (!optional(byName, isObj)) throw bad(`resource.${type} is not a mapping`, byName);
    for (const [name, r] of Object.entries((byName as Obj | undefined) ?? {})) {
      const at = `resource.${type}.${name}`;
      if (!isObj(r)) throw bad(`${at} is not a mapping`, r);
      const meta = isObj(r['//']) ? r['//'].metadata : undefined;
      if (!optional(r['//'], isObj) || !optional(meta, isObj) || !optional((meta as Obj | undefined)?.path, isString))
        throw bad(`${at}["//"].metadata.path is not text`, r['//']);
      if (!optional(r.as3_json, isString)) throw bad(`${at}.as3_json is not text`, r.as3_json);
      if (!optional(r.when, isString)) throw bad(`${at}.when is not text`, r.when);
      if (!optional(r.commands, (c) => Array.isArray(c) && c.every(isString)))
        throw bad(`${at}.commands is not a list of text`, r.commands);
    }
  }
  return value as TerraformJson;
}

/**
 * A policy artifact, checked field by field; its model is then checked against the AS3 JSON of
 * `cdk.tf.json` by compiling it again ({@link checkModel}).
 */
function policyArtifact(value: unknown, shown: string, tenant: string, stacks: readonly string[]): PolicyArtifact {
  const bad = (field: string, v: unknown, fix = `the output is damaged; ${RESYNTH}`) =>
    new UsageError(`${shown} is not a policy artifact this version reads: ${field}`, quote(v), fix);
  if (!isObj(value)) throw bad('the file is not a mapping', value);
  if (value.format !== ARTIFACT_FORMAT)
    throw bad('format', value.format, `expected format "${ARTIFACT_FORMAT}"; ${RESYNTH} with this version of cdktf-ces`);
  if (!isString(value.devicePath) || !value.devicePath) throw bad('devicePath is not a construct path', value.devicePath);
  if (!isObj(value.model) || !isObj(value.model.device))
    throw bad('model.device is not a mapping', isObj(value.model) ? value.model.device : value.model);
  if (value.model.device.tenant !== tenant)
    throw bad(`model.device.tenant is not "${tenant}", the name of the file`, value.model.device.tenant);
  if (!isObj(value.plan)) throw bad('plan is not a mapping', value.plan);
  if (!isString(value.as3Sha256) || !SHA256.test(value.as3Sha256)) throw bad('as3Sha256 is not a SHA-256 digest', value.as3Sha256);
  const shared = value.sharedContext;
  if (!optional(shared, (c) => isObj(c) && isString(c.name) && isString(c.stack) && stacks.includes(c.stack))) {
    throw bad('sharedContext does not name a stack of this output and a SharedBigip', shared);
  }
  const expired = value.expiredRules;
  if (
    !optional(
      expired,
      (list) => Array.isArray(list) && list.every((r) => isObj(r) && [r.key, r.path, r.action, r.expiresAt].every(isString)),
    )
  ) {
    throw bad('expiredRules is not a list of { key, path, action, expiresAt }', expired);
  }
  return value as unknown as PolicyArtifact;
}

/**
 * Compiles the artifact's model again and checks that it renders the AS3 JSON `cdk.tf.json`
 * holds (whose digest the artifact carries) and the artifact's sync plan: the model is then
 * exactly what was synthesized, whatever the file says.
 */
function checkModel(artifact: PolicyArtifact, shown: string, as3Json: string, terraformShown: string): CompiledPolicy {
  let compiled: CompiledPolicy;
  let rendered: string;
  try {
    // Expiry was checked at synth; an artifact read later must still render.
    compiled = compilePolicy(artifact.model, { now: new Date(0) });
    rendered = JSON.stringify(artifact.sharedContext ? renderTenantAs3(compiled) : renderAs3(compiled));
  } catch (e) {
    // The model comes from the file: whatever compiling it throws is the file's fault.
    throw new UsageError(
      `${shown} holds a policy model this version cannot compile`,
      quote(e instanceof Error ? e.message : String(e)),
      `the output is damaged or from another version; ${RESYNTH}`,
    );
  }
  if (rendered !== as3Json) {
    throw new UsageError(
      `${shown} does not match the AS3 JSON in ${terraformShown}: its model renders another declaration`,
      `sha256 ${sha256(rendered).slice(0, 12)}… instead of ${sha256(as3Json).slice(0, 12)}…`,
      `the output is damaged or from another version; ${RESYNTH}`,
    );
  }
  if (JSON.stringify(buildSyncPlan(compiled)) !== JSON.stringify(artifact.plan)) {
    throw new UsageError(
      `${shown} has a sync plan that its model does not give`,
      quote(artifact.plan),
      `the output is damaged or from another version; ${RESYNTH}`,
    );
  }
  return compiled;
}

/** Entries of a directory of the output; damaged folders are bad input. */
function entries(dir: string, shown: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch (e) {
    throw new UsageError(
      `cannot read the folder ${shown} of the synth output`,
      quote((e as NodeJS.ErrnoException).code ?? (e as Error).message),
      `the output is damaged; ${RESYNTH}`,
    );
  }
}

/** Resources of `type` that the construct at `owner` (or its children, for commands) created. */
function ownedBy(tf: TerraformJson, type: string, owner: string): TerraformResource[] {
  return Object.values(tf.resource?.[type] ?? {}).filter((r) => {
    const p = r['//']?.metadata?.path;
    return p === `${owner}/Resource` || (type === 'bigip_command' && p?.startsWith(`${owner}/`));
  });
}

/**
 * The first of the device's `/Common/Shared` objects that the shared declaration does not hold
 * as the device's model renders it (the artifact digest covers only the device's own tenant).
 */
function staleSharedItem(artifact: PolicyArtifact, compiled: CompiledPolicy, owner: string, sharedAs3: As3Object): string | undefined {
  const expected = ((renderSharedAs3(owner, [compiled]).declaration as As3Object).Common as As3Object).Shared as As3Object;
  const actual =
    (((sharedAs3.declaration as As3Object | undefined)?.Common as As3Object | undefined)?.Shared as As3Object | undefined) ?? {};
  // The device's own objects (the context policies are the owner's and span every device).
  const names = Object.keys(expected).filter((k) => k.startsWith(`${artifact.model.device.tenant}_`) && !k.startsWith(`${owner}_`));
  for (const name of names.sort()) {
    if (JSON.stringify(expected[name]) !== JSON.stringify(actual[name])) return `/Common/Shared/${name}`;
  }
  return undefined;
}

function applyCommands(resources: readonly TerraformResource[]): string[] {
  return resources.filter((c) => c.when !== 'destroy').flatMap((c) => c.commands ?? []);
}

/** Every device in the synth output under `outDir`. */
export function readSynthOutput(outDir: string, cwd: string): DeviceOutput[] {
  const root = path.resolve(cwd, outDir);
  const stacksDir = path.join(root, 'stacks');
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    throw new UsageError('no synth output directory', quote(outDir), 'run "cdktf synth" first, or point --out at the output directory');
  }
  if (!fs.existsSync(stacksDir)) {
    throw new UsageError(
      `no stacks in the synth output ${outDir}`,
      'no "stacks" folder',
      'run "cdktf synth" first, or point --out at the output directory',
    );
  }
  const shown = (file: string) => path.relative(cwd, file) || file;
  const stacks = entries(stacksDir, shown(stacksDir));
  const devices: DeviceOutput[] = [];
  for (const stack of stacks) {
    const artifactDir = path.join(stacksDir, stack, ARTIFACT_FOLDER);
    if (!fs.existsSync(artifactDir)) continue;
    const terraformFile = path.join(stacksDir, stack, 'cdk.tf.json');
    for (const file of entries(artifactDir, shown(artifactDir)).filter((f) => f.endsWith('.json'))) {
      const artifactFile = path.join(artifactDir, file);
      const tenant = file.slice(0, -'.json'.length);
      const artifact = policyArtifact(readJsonFile(shown(artifactFile), cwd, RESYNTH), shown(artifactFile), tenant, stacks);
      if (!fs.existsSync(terraformFile)) {
        throw new UsageError(
          `${shown(artifactFile)} has no cdk.tf.json next to it`,
          quote(shown(terraformFile)),
          `the output is incomplete; ${RESYNTH}`,
        );
      }
      const tf = terraformJson(readJsonFile(shown(terraformFile), cwd, RESYNTH), shown(terraformFile));
      const owned = (type: string) => ownedBy(tf, type, artifact.devicePath);
      const declaration = owned('bigip_as3');
      if (declaration.length !== 1 || typeof declaration[0].as3_json !== 'string') {
        throw new UsageError(
          `${shown(terraformFile)} has no bigip_as3 resource of device ${artifact.devicePath}`,
          `${declaration.length} resources`,
          `the output is stale or incomplete; ${RESYNTH}`,
        );
      }
      const as3Json = declaration[0].as3_json;
      if (sha256(as3Json) !== artifact.as3Sha256) {
        throw new UsageError(
          `stale synth output: the AS3 JSON in ${shown(terraformFile)} does not match ${shown(artifactFile)}`,
          `sha256 ${sha256(as3Json).slice(0, 12)}… instead of ${artifact.as3Sha256.slice(0, 12)}…`,
          RESYNTH,
        );
      }
      const compiled = checkModel(artifact, shown(artifactFile), as3Json, shown(terraformFile));
      const base = { stack, tenant, artifactFile: shown(artifactFile), terraformFile: shown(terraformFile), artifact };
      if (!artifact.sharedContext) {
        devices.push({ ...base, as3: [JSON.parse(as3Json)], commands: applyCommands(owned('bigip_command')) });
        continue;
      }
      // A shared BIG-IP: /Common/Shared and the context commands come from the SharedBigip.
      const { stack: sharedStack, name } = artifact.sharedContext;
      const sharedFile = path.join(stacksDir, sharedStack, 'cdk.tf.json');
      if (!fs.existsSync(sharedFile)) {
        throw new UsageError(
          `device ${artifact.devicePath} shares a BIG-IP whose stack is missing from the output`,
          quote(shown(sharedFile)),
          `the output is incomplete; ${RESYNTH}`,
        );
      }
      const sharedTf = terraformJson(readJsonFile(shown(sharedFile), cwd, RESYNTH), shown(sharedFile));
      const candidates = Object.values(sharedTf.resource?.bigip_as3 ?? {}).filter((r) => {
        try {
          return (JSON.parse(r.as3_json ?? '') as { declaration?: { id?: string } } | null)?.declaration?.id === `cdktf-ces-${name}`;
        } catch {
          return false;
        }
      });
      const sharedPath = candidates.length === 1 ? candidates[0]['//']?.metadata?.path?.replace(/\/Resource$/, '') : undefined;
      if (!sharedPath) {
        throw new UsageError(
          `${shown(sharedFile)} has no declaration of SharedBigip "${name}" that device ${artifact.devicePath} uses`,
          `${candidates.length} declarations`,
          `the output is stale or incomplete; ${RESYNTH}`,
        );
      }
      const sharedAs3 = JSON.parse(candidates[0].as3_json as string) as As3Object;
      const stale = staleSharedItem(artifact, compiled, name, sharedAs3);
      if (stale) {
        throw new UsageError(
          `stale synth output: ${stale} of device ${artifact.devicePath} in ${shown(sharedFile)} does not match ${shown(artifactFile)}`,
          quote(name),
          RESYNTH,
        );
      }
      devices.push({
        ...base,
        as3: [JSON.parse(as3Json), sharedAs3],
        commands: applyCommands(ownedBy(sharedTf, 'bigip_command', sharedPath)),
        shared: { stack: sharedStack, path: sharedPath },
      });
    }
  }
  if (devices.length === 0) {
    throw new UsageError(
      `no AfmDevice in the synth output ${outDir}`,
      `no ${path.join('stacks', '*', ARTIFACT_FOLDER, '*.json')}`,
      'synthesize an app that has an AfmDevice (cdktf synth), or point --out at its output directory',
    );
  }
  return devices;
}

/** The device `--device` names, or the only one. */
/** The names a device of the synth output answers to. */
export function namesOfOutput(d: DeviceOutput): DeviceNames {
  return { stack: d.stack, tenant: d.tenant, cluster: d.artifact.model.device.cluster, path: d.artifact.devicePath };
}

/** The device `--device` names (see ./device-name), or the only one. */
export function pickDevice(devices: readonly DeviceOutput[], name: string | undefined): DeviceOutput {
  return selectDevice(devices, name, namesOfOutput);
}
