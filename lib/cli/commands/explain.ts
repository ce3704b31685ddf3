import { explain, parseDestination, parseLabels, parseSource, parseTime } from '../../analysis/engine';
import { formatExplanation } from '../../analysis/format';
import { CLUSTER_OPTIONS, OUTPUT_OPTIONS, loadCluster, loadPolicy } from '../inputs';
import { CliCommand } from '../registry';
import { UsageError } from '../../files/usage-error';

export const explainCommand: CliCommand = {
  name: 'explain',
  summary:
    'May this pod reach host:port, and which rule at which level decides? Prints the verdict (and the would-be verdict of audit rules when it differs) and the path through the cluster, namespace and service levels, naming the deciding rule and the AFM context, policy and rule.\n\n' +
    '--from <namespace>/<name> names a pod of the cluster state; else a Service (the explain is for a pod it selects). Without cluster state it means a hypothetical pod of that namespace selected by that Service.',
  usage: 'explain --from <namespace>/<pod-or-service> --to <host-or-ip>:<port>[/<protocol>] [--labels k=v,...] [--at <ISO time>] [options]',
  maxPositionals: 0,
  options: [
    { name: 'from', type: 'string', arg: '<namespace>/<name>', help: 'source pod, or a Service selecting it' },
    {
      name: 'to',
      type: 'string',
      arg: '<host>:<port>[/<protocol>]',
      help: 'destination: host name or IP ([v6] in brackets), port, protocol (default tcp; icmp etc. without port: <host>/icmp)',
    },
    { name: 'labels', type: 'string', arg: '<k=v,...>', help: 'labels of a hypothetical pod' },
    { name: 'namespace-labels', type: 'string', arg: '<k=v,...>', help: 'labels of the namespace (no cluster state only)' },
    { name: 'at', type: 'string', arg: '<ISO time>', help: 'when (time windows and expiry); default now' },
    { name: 'json', type: 'boolean', help: 'print the explanation as JSON' },
    ...OUTPUT_OPTIONS,
    ...CLUSTER_OPTIONS,
  ],
  async run(args, io) {
    const fromText = args.string('from');
    const toText = args.string('to');
    if (fromText === undefined)
      throw new UsageError('explain needs --from', 'nothing', 'add --from <namespace>/<pod-or-service>, such as --from payments/checkout');
    if (toText === undefined)
      throw new UsageError('explain needs --to', 'nothing', 'add --to <host>:<port>, such as --to api.stripe.com:443');
    const from = parseSource(fromText);
    const to = parseDestination(toText);
    const labelsText = args.string('labels');
    const nsLabelsText = args.string('namespace-labels');
    const at = args.string('at') !== undefined ? parseTime(args.string('at') as string) : new Date();
    const view = loadPolicy(args, io);
    const { cluster, dns } = await loadCluster(args, io);
    const explanation = explain(view, cluster, dns, {
      from: {
        ...from,
        ...(labelsText !== undefined ? { labels: parseLabels(labelsText) } : {}),
        ...(nsLabelsText !== undefined ? { namespaceLabels: parseLabels(nsLabelsText, '--namespace-labels') } : {}),
      },
      to,
      at,
    });
    if (args.flag('json')) {
      io.stdout(
        `${JSON.stringify({ ...explanation, at: explanation.at.toISOString(), flows: explanation.flows.map(({ evaluation: _e, ...f }) => f) }, null, 2)}\n`,
      );
    } else {
      io.stdout(formatExplanation(explanation));
    }
    return 0;
  },
};
