/**
 * Reads a synth output directory (`cdktf.out`): every AfmDevice's policy artifact
 * (`stacks/<stack>/cdktf-ces/<tenant>.json`) with what its stack's `cdk.tf.json` sends to the
 * BIG-IP (the `bigip_as3` JSON and the `bigip_command` commands).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { As3Object, renderSharedAs3 } from '../afm/as3';
import { compilePolicy } from '../policy/compile';
import { ARTIFACT_FORMAT, PolicyArtifact, sha256 } from '../policy/plan';
import { CliUsageError } from './registry';

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

function readJson(file: string, shown: string, fix: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliUsageError(`cannot read ${shown}`, JSON.stringify((e as Error).message), fix);
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
function staleSharedItem(artifact: PolicyArtifact, owner: string, sharedAs3: As3Object): string | undefined {
  // Expiry was checked at synth; an artifact read later must still render.
  const compiled = compilePolicy(artifact.model, { now: new Date(0) });
  const expected = ((renderSharedAs3(owner, [compiled]).declaration as As3Object).Common as As3Object).Shared as As3Object;
  const actual = (((sharedAs3.declaration as As3Object | undefined)?.Common as As3Object | undefined)?.Shared as As3Object | undefined) ?? {};
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
    throw new CliUsageError('no synth output directory', JSON.stringify(outDir), 'run "cdktf synth" first, or point --out at the output directory');
  }
  if (!fs.existsSync(stacksDir)) {
    throw new CliUsageError(`no stacks in the synth output ${outDir}`, 'no "stacks" folder', 'run "cdktf synth" first, or point --out at the output directory');
  }
  const shown = (file: string) => path.relative(cwd, file) || file;
  const devices: DeviceOutput[] = [];
  for (const stack of fs.readdirSync(stacksDir).sort()) {
    const artifactDir = path.join(stacksDir, stack, ARTIFACT_FOLDER);
    if (!fs.existsSync(artifactDir)) continue;
    const terraformFile = path.join(stacksDir, stack, 'cdk.tf.json');
    for (const file of fs.readdirSync(artifactDir).filter((f) => f.endsWith('.json')).sort()) {
      const artifactFile = path.join(artifactDir, file);
      const artifact = readJson(artifactFile, shown(artifactFile), RESYNTH) as PolicyArtifact;
      if (artifact?.format !== ARTIFACT_FORMAT) {
        throw new CliUsageError(`${shown(artifactFile)} is not a policy artifact this version reads`, JSON.stringify(artifact?.format), `expected format "${ARTIFACT_FORMAT}"; ${RESYNTH} with this version of cdktf-ces`);
      }
      if (!fs.existsSync(terraformFile)) {
        throw new CliUsageError(`${shown(artifactFile)} has no cdk.tf.json next to it`, JSON.stringify(shown(terraformFile)), `the output is incomplete; ${RESYNTH}`);
      }
      const tf = readJson(terraformFile, shown(terraformFile), RESYNTH) as TerraformJson;
      const owned = (type: string) => ownedBy(tf, type, artifact.devicePath);
      const declaration = owned('bigip_as3');
      if (declaration.length !== 1 || typeof declaration[0].as3_json !== 'string') {
        throw new CliUsageError(`${shown(terraformFile)} has no bigip_as3 resource of device ${artifact.devicePath}`, `${declaration.length} resources`, `the output is stale or incomplete; ${RESYNTH}`);
      }
      const as3Json = declaration[0].as3_json;
      if (sha256(as3Json) !== artifact.as3Sha256) {
        throw new CliUsageError(
          `stale synth output: the AS3 JSON in ${shown(terraformFile)} does not match ${shown(artifactFile)}`,
          `sha256 ${sha256(as3Json).slice(0, 12)}… instead of ${String(artifact.as3Sha256).slice(0, 12)}…`,
          RESYNTH,
        );
      }
      const base = { stack, tenant: file.slice(0, -'.json'.length), artifactFile: shown(artifactFile), terraformFile: shown(terraformFile), artifact };
      if (!artifact.sharedContext) {
        devices.push({ ...base, as3: [JSON.parse(as3Json)], commands: applyCommands(owned('bigip_command')) });
        continue;
      }
      // A shared BIG-IP: /Common/Shared and the context commands come from the SharedBigip.
      const { stack: sharedStack, name } = artifact.sharedContext;
      const sharedFile = path.join(stacksDir, sharedStack, 'cdk.tf.json');
      if (!fs.existsSync(sharedFile)) {
        throw new CliUsageError(`device ${artifact.devicePath} shares a BIG-IP whose stack is missing from the output`, JSON.stringify(shown(sharedFile)), `the output is incomplete; ${RESYNTH}`);
      }
      const sharedTf = readJson(sharedFile, shown(sharedFile), RESYNTH) as TerraformJson;
      const candidates = Object.values(sharedTf.resource?.bigip_as3 ?? {}).filter((r) => {
        try {
          return (JSON.parse(r.as3_json ?? '') as { declaration?: { id?: string } }).declaration?.id === `cdktf-ces-${name}`;
        } catch {
          return false;
        }
      });
      const sharedPath = candidates.length === 1 ? candidates[0]['//']?.metadata?.path?.replace(/\/Resource$/, '') : undefined;
      if (!sharedPath) {
        throw new CliUsageError(`${shown(sharedFile)} has no declaration of SharedBigip "${name}" that device ${artifact.devicePath} uses`, `${candidates.length} declarations`, `the output is stale or incomplete; ${RESYNTH}`);
      }
      const sharedAs3 = JSON.parse(candidates[0].as3_json as string) as As3Object;
      const stale = staleSharedItem(artifact, name, sharedAs3);
      if (stale) {
        throw new CliUsageError(`stale synth output: ${stale} of device ${artifact.devicePath} in ${shown(sharedFile)} does not match ${shown(artifactFile)}`, JSON.stringify(name), RESYNTH);
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
    throw new CliUsageError(`no AfmDevice in the synth output ${outDir}`, `no ${path.join('stacks', '*', ARTIFACT_FOLDER, '*.json')}`, 'synthesize an app that has an AfmDevice (cdktf synth), or point --out at its output directory');
  }
  return devices;
}

/** The device `--device` names, or the only one. */
export function pickDevice(devices: readonly DeviceOutput[], tenant: string | undefined): DeviceOutput {
  const names = devices.map((d) => `${d.tenant} (stack ${d.stack})`).join(', ');
  if (tenant === undefined) {
    if (devices.length === 1) return devices[0];
    throw new CliUsageError('the synth output has several devices', names, 'choose one with --device <tenant>');
  }
  const matches = devices.filter((d) => d.tenant === tenant || `${d.stack}/${d.tenant}` === tenant);
  if (matches.length === 1) return matches[0];
  if (matches.length === 0) throw new CliUsageError('--device names no device of the synth output', JSON.stringify(tenant), `use one of: ${names}`);
  throw new CliUsageError('--device names devices in several stacks', JSON.stringify(tenant), `write it as <stack>/<tenant>: ${matches.map((d) => `${d.stack}/${d.tenant}`).join(', ')}`);
}
