/**
 * Options and inputs shared by the commands: where the synth output is, which device, the
 * cluster state and DNS answers.
 */
import { AfmModelError } from '../afm/evaluator';
import { readLiveClusterState } from './cluster-live';
import { ClusterState, parseResolveOptions, readClusterState } from '../analysis/cluster-state';
import { DnsAnswers, PolicyView, policyView } from '../analysis/engine';
import { CliIo, OptionSpec, ParsedArgs } from './registry';
import { UsageError } from '../files/usage-error';
import { deviceLabel } from '../analysis/device-name';
import { namesOfOutput, pickDevice, readSynthOutput } from '../analysis/synth-output';
import { quote } from '../files/text';

export const OUTPUT_OPTIONS: readonly OptionSpec[] = [
  { name: 'out', type: 'string', arg: '<dir>', help: 'synth output directory (default: cdktf.out)' },
  {
    name: 'device',
    type: 'string',
    arg: '<device>',
    help: 'the AfmDevice when the output has several: its tenant, cluster name, <stack>/<tenant> or construct path',
  },
];

export const CLUSTER_OPTIONS: readonly OptionSpec[] = [
  {
    name: 'state',
    type: 'string',
    arg: '<file.yaml>',
    help: 'cluster state: kubectl get pods,namespaces,services -A -o yaml (plus optional DnsAnswers documents)',
  },
  {
    name: 'kubeconfig',
    type: 'string',
    arg: '<file>',
    help: 'read the cluster state from the cluster of this kubeconfig (pods, namespaces, services)',
  },
  {
    name: 'context',
    type: 'string',
    arg: '<name>',
    help: 'read the cluster state from this kubeconfig context (default: current-context; the kubeconfig: --kubeconfig, else KUBECONFIG, else ~/.kube/config)',
  },
  {
    name: 'insecure-skip-tls-verify',
    type: 'boolean',
    help: "honour insecure-skip-tls-verify of the kubeconfig's cluster (the API server is not verified)",
  },
  { name: 'resolve', type: 'string', multiple: true, arg: '<name=ip[,ip]>', help: 'DNS answer for a host name' },
];

/** The device's policy view from the synth output. */
export function loadPolicy(args: ParsedArgs, io: CliIo): PolicyView {
  const device = pickDevice(readSynthOutput(args.string('out') ?? 'cdktf.out', io.cwd), args.string('device'));
  try {
    return policyView({
      label: deviceLabel(namesOfOutput(device)),
      model: device.artifact.model,
      plan: device.artifact.plan,
      as3: device.as3,
      commands: device.commands,
      expired: device.artifact.expiredRules,
    });
  } catch (e) {
    if (e instanceof AfmModelError) {
      throw new UsageError(
        `the declaration in ${device.terraformFile} cannot be evaluated`,
        quote(e.message),
        'it was not written by this version of cdktf-ces; run "cdktf synth" again',
      );
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
    throw new UsageError(
      '--kubeconfig and --state both give the cluster state',
      `--kubeconfig ${kubeconfig} --state ${stateFile}`,
      'use one of them',
    );
  }
  if (context !== undefined && stateFile !== undefined)
    throw new UsageError(
      '--context and --state both give the cluster state',
      `--context ${context} --state ${stateFile}`,
      'use one of them',
    );
  // kubectl egress reads the cluster of the current context unless --state gives the state.
  const live = kubeconfig !== undefined || context !== undefined || (io.kubectlPlugin === true && stateFile === undefined);
  const insecure = args.flag('insecure-skip-tls-verify');
  if (insecure && !live)
    throw new UsageError(
      '--insecure-skip-tls-verify without a cluster to read',
      '--insecure-skip-tls-verify',
      'it applies to --kubeconfig/--context; drop it',
    );
  let cluster: ClusterState | undefined;
  if (live) {
    cluster = await readLiveClusterState({
      ...(kubeconfig !== undefined ? { file: kubeconfig } : {}),
      ...(context !== undefined ? { context } : {}),
      allowInsecure: insecure,
      cwd: io.cwd,
      env: io.env ?? process.env,
    });
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
