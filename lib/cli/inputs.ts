/**
 * Options and inputs shared by the commands: where the synth output is, which device, the
 * cluster state and DNS answers.
 */
import { AfmModelError } from '../afm/evaluator';
import { ClusterState, parseResolveOptions, readClusterState } from './cluster-state';
import { DnsAnswers, PolicyView, policyView } from './engine';
import { CliIo, CliUsageError, OptionSpec, ParsedArgs } from './registry';
import { pickDevice, readSynthOutput } from './synth-output';

export const OUTPUT_OPTIONS: readonly OptionSpec[] = [
  { name: 'out', type: 'string', arg: '<dir>', help: 'synth output directory (default: cdktf.out)' },
  { name: 'device', type: 'string', arg: '<tenant>', help: 'the AfmDevice (AS3 tenant, or <stack>/<tenant>) when the output has several' },
];

export const CLUSTER_OPTIONS: readonly OptionSpec[] = [
  { name: 'state', type: 'string', arg: '<file.yaml>', help: 'cluster state: kubectl get pods,namespaces,services -A -o yaml (plus optional DnsAnswers documents)' },
  { name: 'kubeconfig', type: 'string', arg: '<file>', help: 'read the cluster state from a live cluster (not available yet: use --state)' },
  { name: 'resolve', type: 'string', multiple: true, arg: '<name=ip[,ip]>', help: 'DNS answer for a host name' },
];

/** The device's policy view from the synth output. */
export function loadPolicy(args: ParsedArgs, io: CliIo): PolicyView {
  const device = pickDevice(readSynthOutput(args.string('out') ?? 'cdktf.out', io.cwd), args.string('device'));
  try {
    return policyView({ label: `${device.stack}/${device.tenant} (${device.artifact.devicePath})`, model: device.artifact.model, plan: device.artifact.plan, as3: device.as3, commands: device.commands });
  } catch (e) {
    if (e instanceof AfmModelError) {
      throw new CliUsageError(`the declaration in ${device.terraformFile} cannot be evaluated`, JSON.stringify(e.message), 'it was not written by this version of cdktf-ces; run "cdktf synth" again');
    }
    throw e;
  }
}

export interface ClusterInputs {
  readonly cluster?: ClusterState;
  readonly dns: DnsAnswers;
}

export function loadCluster(args: ParsedArgs, io: CliIo): ClusterInputs {
  const kubeconfig = args.string('kubeconfig');
  if (kubeconfig !== undefined) {
    // Reading a live cluster needs the controller's Kubernetes client, which this build does not have yet.
    throw new CliUsageError('--kubeconfig is not available in this build', JSON.stringify(kubeconfig), 'export the state with "kubectl get pods,namespaces,services -A -o yaml > state.yaml" and pass --state state.yaml');
  }
  const stateFile = args.string('state');
  const cluster = stateFile !== undefined ? readClusterState(stateFile, io.cwd) : undefined;
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
