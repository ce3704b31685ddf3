/**
 * Helpers for the import tests: where generated modules go, type-checking them with the
 * TypeScript compiler, loading them, building a cluster of probe pods, and asking the imported
 * policy (intent evaluator, and AFM evaluator over a real synth output) for verdicts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { App, TerraformStack } from 'cdktf';
import * as constructs from 'constructs';
import * as lib from '../../lib';
import { AfmDevice, AfmDeviceProps } from '../../lib';
import { AfmFirewall, AfmListState } from '../../lib/afm/evaluator';
import { policyView } from '../../lib/analysis/engine';
import { readSynthOutput } from '../../lib/analysis/synth-output';
import { ClusterSnapshot, PodInfo, desiredMembers } from '../../lib/policy/membership';
import { evaluateIntent } from '../../lib/policy/intent';
import type { PolicyModel } from '../../lib/policy/model';
import { deviceStack } from '../support/app';
import type { OracleFlow, OraclePod } from './ces-oracle';

export const REPO = path.resolve(__dirname, '../..');

/** A fresh folder for generated modules inside the test tree (the caller removes it). */
export function generatedDir(): string {
  return fs.mkdtempSync(path.join(__dirname, '.generated-'));
}

/** The `--library` specifier that makes a module in `dir` import this repository's lib/. */
export function libraryFrom(dir: string): string {
  return path.relative(dir, path.join(REPO, 'lib')).split(path.sep).join('/');
}

/** Type errors of `file` under the repository's compiler options (errors elsewhere are not its own). */
export function typeErrors(file: string): string[] {
  const config = ts.readConfigFile(path.join(REPO, 'tsconfig.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, REPO);
  const program = ts.createProgram([file], { ...parsed.options, noEmit: true });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName === path.resolve(file).split(path.sep).join('/') || d.file?.fileName === file)
    .map((d) => {
      const pos = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
      return `${pos ? `${pos.line + 1}:${pos.character + 1} ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
}

export type MigratedFunction = (
  scope: constructs.Construct,
  device: AfmDevice,
) => { externalServices: Record<string, unknown>; rules: unknown[] };

/**
 * Loads a generated module's source: transpiled with the TypeScript compiler and run with
 * `library` bound to this repository's lib (the same instances the tests use).
 */
export function loadGenerated(source: string, library: string): MigratedFunction {
  const js = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  }).outputText;
  const mod = { exports: {} as Record<string, unknown> };
  const requireShim = (id: string) => {
    if (id === library) return lib;
    if (id === 'constructs') return constructs;
    throw new Error(`the generated module imports ${id}`);
  };
  new Function('require', 'module', 'exports', js)(requireShim, mod, mod.exports);
  return mod.exports.addMigratedEgressPolicy as MigratedFunction;
}

export const POD_CIDRS = ['10.244.0.0/16', 'fd00:10:244::/56'];

/** An app with one device (and its stacks) holding the migrated policy. */
export function migratedApp(
  fn: MigratedFunction,
  props: Partial<AfmDeviceProps> = {},
  app?: App,
): { app: App; stack: TerraformStack; device: AfmDevice } {
  const { app: a, stack, device } = deviceStack({ podCidrs: POD_CIDRS, ...props }, app);
  fn(stack, device);
  return { app: a, stack, device };
}

export interface ProbePod {
  readonly pod: PodInfo;
  readonly oracle: OraclePod;
}

/** One pod per namespace and (named) service, plus one outside every named service, in a snapshot. */
export function probeCluster(namespaces: Record<string, readonly string[]>): { snapshot: ClusterSnapshot; pods: ProbePod[] } {
  const pods: ProbePod[] = [];
  const services: ClusterSnapshot['services'][number][] = [];
  let n = 10;
  for (const [namespace, svcs] of Object.entries(namespaces)) {
    for (const service of [...svcs, undefined]) {
      n++;
      const labels = { app: service ?? 'unlisted' };
      pods.push({
        pod: {
          namespace,
          name: `${service ?? 'other'}-0`,
          labels,
          ips: [`10.244.${Math.floor(n / 250)}.${n % 250}`, `fd00:10:244::${n.toString(16)}`],
          phase: 'Running',
        },
        oracle: { namespace, services: service ? [service] : [] },
      });
      if (service) services.push({ namespace, name: service, selector: { app: service } });
    }
  }
  const snapshot: ClusterSnapshot = {
    pods: pods.map((p) => p.pod),
    namespaces: Object.keys(namespaces).map((name) => ({ name, labels: { 'kubernetes.io/metadata.name': name } })),
    services,
  };
  return { snapshot, pods };
}

export const AT = new Date('2026-03-02T10:00:00Z');

/** Verdicts of the imported policy: the intent evaluator over the model. */
export function intentVerdict(model: PolicyModel, snapshot: ClusterSnapshot, pod: PodInfo, flow: OracleFlow): string {
  return evaluateIntent({
    model,
    snapshot,
    dns: new Map(),
    at: AT,
    flow: {
      pod,
      destinationIp: flow.ip,
      ...(flow.host ? { host: flow.host } : {}),
      protocol: flow.protocol,
      ...(flow.port !== undefined ? { port: flow.port } : {}),
    },
  }).verdict;
}

/** Verdicts of the imported policy as the firewall gives them: the AFM evaluator over a synth output. */
export function afmEvaluator(
  outdir: string,
  snapshot: ClusterSnapshot,
): { firewall: AfmFirewall; state: AfmListState; routeDomain: number } {
  const [device] = readSynthOutput(outdir, REPO);
  const view = policyView({
    label: device.tenant,
    model: device.artifact.model,
    plan: device.artifact.plan,
    as3: device.as3,
    commands: device.commands,
  });
  const state = view.firewall.listState(desiredMembers(view.plan, snapshot, AT));
  return { firewall: view.firewall, state, routeDomain: view.model.device.routeDomain };
}

/** Every probe flow: each pod to each address, on each protocol and probe port. */
export function probeFlows(
  pods: readonly ProbePod[],
  addresses: readonly string[],
  ports: readonly number[],
): { probe: ProbePod; flow: OracleFlow; sourceIp: string }[] {
  const out: { probe: ProbePod; flow: OracleFlow; sourceIp: string }[] = [];
  for (const probe of pods) {
    for (const ip of addresses) {
      const sourceIp = probe.pod.ips.find((s) => s.includes(':') === ip.includes(':')) as string;
      for (const protocol of ['tcp', 'udp', 'sctp'])
        for (const port of ports) out.push({ probe, sourceIp, flow: { pod: probe.oracle, ip, protocol, port } });
      out.push({ probe, sourceIp, flow: { pod: probe.oracle, ip, protocol: 'icmp' } });
    }
  }
  return out;
}
