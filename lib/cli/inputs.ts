/**
 * Options and inputs shared by the commands: where the synth output is, which device, the
 * cluster state and DNS answers.
 */
import * as path from 'node:path';
import { AfmModelError } from '../afm/evaluator';
import { readLiveClusterState } from './cluster-live';
import { ClusterState, parseResolveOptions, readClusterState } from './cluster-state';
import { DnsAnswers, PolicyView, policyView } from './engine';
import { readYamlFile, yamlDocumentError } from './input-files';
import { CliIo, CliUsageError, OptionSpec, ParsedArgs } from './registry';
import { pickDevice, readSynthOutput } from './synth-output';
import { quote } from './text';

export const OUTPUT_OPTIONS: readonly OptionSpec[] = [
  { name: 'out', type: 'string', arg: '<dir>', help: 'synth output directory (default: cdktf.out)' },
  { name: 'device', type: 'string', arg: '<tenant>', help: 'the AfmDevice (AS3 tenant, or <stack>/<tenant>) when the output has several' },
];

export const CLUSTER_OPTIONS: readonly OptionSpec[] = [
  { name: 'state', type: 'string', arg: '<file.yaml>', help: 'cluster state: kubectl get pods,namespaces,services -A -o yaml (plus optional DnsAnswers documents)' },
  { name: 'kubeconfig', type: 'string', arg: '<file>', help: 'read the cluster state from the cluster of this kubeconfig (pods, namespaces, services)' },
  { name: 'context', type: 'string', arg: '<name>', help: 'kubeconfig context (default: its current context)' },
  { name: 'resolve', type: 'string', multiple: true, arg: '<name=ip[,ip]>', help: 'DNS answer for a host name' },
];

/** The device's policy view from the synth output. */
export function loadPolicy(args: ParsedArgs, io: CliIo): PolicyView {
  const device = pickDevice(readSynthOutput(args.string('out') ?? 'cdktf.out', io.cwd), args.string('device'));
  try {
    return policyView({ label: `${device.stack}/${device.tenant} (${device.artifact.devicePath})`, model: device.artifact.model, plan: device.artifact.plan, as3: device.as3, commands: device.commands, expired: device.artifact.expiredRules });
  } catch (e) {
    if (e instanceof AfmModelError) {
      throw new CliUsageError(`the declaration in ${device.terraformFile} cannot be evaluated`, quote(e.message), 'it was not written by this version of cdktf-ces; run "cdktf synth" again');
    }
    throw e;
  }
}

export interface ClusterInputs {
  readonly cluster?: ClusterState;
  readonly dns: DnsAnswers;
}

export async function loadCluster(args: ParsedArgs, io: CliIo): Promise<ClusterInputs> {
  const kubeconfig = args.string('kubeconfig');
  const stateFile = args.string('state');
  const context = args.string('context');
  if (kubeconfig !== undefined && stateFile !== undefined) {
    throw new CliUsageError('--kubeconfig and --state both give the cluster state', `--kubeconfig ${kubeconfig} --state ${stateFile}`, 'use one of them');
  }
  if (context !== undefined && kubeconfig === undefined) throw new CliUsageError('--context needs --kubeconfig', quote(context), 'add --kubeconfig <file>');
  let cluster: ClusterState | undefined;
  if (kubeconfig !== undefined) {
    // The kubeconfig parser has no input limits of its own: the file passes the tool's first.
    for (const doc of readYamlFile({ file: kubeconfig, role: 'the --kubeconfig file', howTo: 'point --kubeconfig at the kubeconfig of the cluster' }, io.cwd)) {
      if (doc.error) throw yamlDocumentError(kubeconfig, { ...doc, error: doc.error });
    }
    cluster = await readLiveClusterState(path.resolve(io.cwd, kubeconfig), context);
  } else if (stateFile !== undefined) {
    cluster = readClusterState(stateFile, io.cwd);
  }
  const table = new Map<string, readonly string[]>();
  const origin = new Map<string, string>();
  for (const [name, ips] of cluster?.dns ?? []) {
    table.set(name, ips);
    origin.set(name, `DnsAnswers in ${cluster?.source}`);
  }
  for (const [name, ips] of parseResolveOptions(args.strings('resolve'))) {
    table.set(name, ips);
    origin.set(name, '--resolve');
  }
  return { ...(cluster ? { cluster } : {}), dns: { table, origin } };
}
