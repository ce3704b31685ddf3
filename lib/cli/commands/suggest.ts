import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FlowRecord } from '../../flowlog/enrich';
import { NeededFlow, emitSuggestion, renderedPolicy, suggestRules, Suggestion, SuggestTarget, withSuggestion } from '../../flowlog/suggest';
import { EgressPolicyError } from '../../policy/errors';
import type { PolicyModel } from '../../policy/model';
import { diffPolicies } from '../diff/compute';
import { formatText } from '../diff/format';
import { DnsAnswers, explain, parseSource, PolicyView, policyView } from '../../analysis/engine';
import { writeOutputFile } from '../../files/input-files';
import { OUTPUT_OPTIONS, loadPolicy } from '../inputs';
import { CliCommand } from '../registry';
import { UsageError } from '../../files/usage-error';
import { quote } from '../../files/text';
import { readInputs, skippedNote, TIME_OPTIONS } from './report';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** The Service name of the hypothetical pod for flows whose pod had no Service. */
const NO_SERVICE = 'observed-workload';

function target(args: { string(n: string): string | undefined }): SuggestTarget {
  const ns = args.string('namespace');
  const svc = args.string('service');
  if ((ns === undefined) === (svc === undefined))
    throw new UsageError(
      'suggest needs exactly one of --namespace and --service',
      ns === undefined ? 'neither' : 'both',
      'write --namespace <ns> for namespace rules, or --service <ns>/<service> for rules of one Service',
    );
  if (svc !== undefined) {
    const s = parseSource(svc, '--service');
    return { namespace: s.namespace, service: s.name };
  }
  if (!DNS_LABEL.test(ns as string)) throw new UsageError('--namespace', quote(ns), 'give a namespace name (a DNS label such as payments)');
  return { namespace: ns as string };
}

function viewOf(label: string, model: PolicyModel, at: Date): PolicyView {
  try {
    return policyView({ label, ...renderedPolicy(model, at) });
  } catch (e) {
    if (e instanceof EgressPolicyError)
      throw new UsageError(
        'the suggested rules do not compile with the policy',
        quote(e.message),
        'choose another --name-prefix, or report this as a bug',
      );
    throw e;
  }
}

/** How each needed flow fares before and after, as simulate decides it. */
function checkFlows(s: Suggestion, before: PolicyView, after: PolicyView, at: Date): string[] {
  const dns: DnsAnswers = {
    table: s.dns,
    origin: new Map([...s.dns.keys()].map((h) => [h, 'the flow logs'])),
  };
  const verdict = (view: PolicyView, f: NeededFlow) => {
    let e: ReturnType<typeof explain>;
    try {
      e = explain(view, undefined, dns, {
        from: {
          namespace: s.target.namespace,
          name: s.target.service ?? f.service ?? NO_SERVICE,
        },
        to: {
          text: f.fqdn ?? f.ip,
          ...(f.fqdn !== undefined ? { host: f.fqdn } : { ip: f.ip }),
          ...(f.port !== undefined ? { port: f.port } : {}),
          protocol: f.protocol,
        },
        at,
      });
    } catch (err) {
      // Such as an IPv6 destination when the device's pod CIDRs are IPv4 only.
      if (err instanceof UsageError) return `not simulated: ${err.what}`;
      throw err;
    }
    const by = e.flows.map((x) => x.enforced.decidedBy).find((o) => o !== undefined);
    return `${e.verdict}${by ? ` (${by.kind} ${by.namespace !== undefined ? `${by.namespace}/` : ''}${by.name})` : ' (device default)'}`;
  };
  return s.flows.map(
    (f) =>
      `${f.workload} -> ${f.fqdn ?? f.ip}${f.port !== undefined ? `:${f.port}` : ''}/${f.protocol}: ${verdict(before, f)} -> ${verdict(after, f)}`,
  );
}

export const suggestCommand: CliCommand = {
  name: 'suggest',
  summary:
    'Rules learned from observed flows: reads flow logs (JSON lines of the flow-log receiver; files, or - for standard input) and the synth output, and writes a TypeScript module with ALLOW rules for what the namespace (or Service) tried to reach that no rule allowed (denied, or allowed only by the device default). Destinations are the DNS names the device logged, else addresses, four or more of one /24 (/64) merged into it; consecutive ports merge into ranges. Each rule says what it covers; after the code, comments show how each observed flow is decided with the rules added and what adopting them changes (the diff engine).',
  usage:
    'suggest [<flows.jsonl>...] (--namespace <ns> | --service <ns>/<service>) [--since <ISO time>] [--until <ISO time>] [--name-prefix <name>] [-o <file.ts>] [options]',
  maxPositionals: 64,
  options: [
    { name: 'namespace', type: 'string', arg: '<ns>', help: 'suggest NamespaceEgressRules for this namespace' },
    { name: 'service', type: 'string', arg: '<ns>/<service>', help: 'suggest ServiceEgressRules for the pods of this Service' },
    ...TIME_OPTIONS,
    { name: 'name-prefix', type: 'string', arg: '<name>', help: 'rule names are <name>-1, <name>-2, … (default observed)' },
    { name: 'library', type: 'string', arg: '<module>', help: 'module the code imports from (default cdktf-ces)' },
    { name: 'output', short: 'o', type: 'string', arg: '<file>', help: 'write the module to a file instead of standard output' },
    ...OUTPUT_OPTIONS,
  ],
  async run(args, io) {
    const who = target(args);
    const prefix = args.string('name-prefix') ?? 'observed';
    if (!DNS_LABEL.test(prefix) || prefix.length > 50)
      throw new UsageError('--name-prefix', quote(prefix), 'give a DNS label of at most 50 characters, such as observed');
    const library = args.string('library') ?? 'cdktf-ces';
    if (!/^[@a-z0-9][a-z0-9._\-/@]{0,213}$/.test(library))
      throw new UsageError('--library', quote(library), 'give an npm module name, such as cdktf-ces');
    const output = args.string('output');
    if (output !== undefined && !fs.existsSync(path.dirname(path.resolve(io.cwd, output))))
      throw new UsageError('-o names a file in a folder that does not exist', quote(output), 'create the folder first, or write elsewhere');
    const view = loadPolicy(args, io);
    const records: FlowRecord[] = [];
    const { stats } = await readInputs(args, io, (r) => {
      if (!r.staged && r.source.namespace === who.namespace) records.push(r);
    });
    io.stderr(skippedNote(stats));
    const s = suggestRules(view.model, records, who, prefix);
    const whom = who.service !== undefined ? `Service ${who.namespace}/${who.service}` : `namespace ${who.namespace}`;
    const events = s.flows.reduce((n, f) => n + f.events, 0);
    const header = [
      `Egress rules suggested by "cdktf-ces suggest" for ${whom} of ${view.label},`,
      `from ${events} observed event${events === 1 ? '' : 's'} in ${s.flows.length} flow${s.flows.length === 1 ? '' : 's'} that no rule allowed. Review before adding them.`,
    ];
    let text: string;
    if (s.rules.length === 0) {
      text = emitSuggestion(s, [...header, '', 'No flow needs a new rule.']);
    } else {
      // One instant, so the same logs give the same output: the last needed event.
      const at = new Date(s.flows.reduce((m, f) => (f.last > m ? f.last : m), s.flows[0].last));
      const before = viewOf(view.label, view.model, at);
      const after = viewOf(`${view.label} with the suggested rules`, withSuggestion(view.model, s), at);
      const checks = checkFlows(s, before, after, at);
      const diff = formatText([
        diffPolicies({
          old: before,
          new: after,
          at,
          fixedTime: true,
          dns: s.dns,
        }),
      ]);
      text = [
        emitSuggestion(s, header).trimEnd(),
        '',
        `// The observed flows, as simulate decides them at ${at.toISOString()} (before -> with these rules):`,
        ...checks.map((c) => `//   ${c}`),
        '//',
        '// What adopting them changes (cdktf-ces diff):',
        ...diff
          .trimEnd()
          .split('\n')
          .map((l) => `//   ${l}`.trimEnd()),
        '',
      ].join('\n');
    }
    if (output === undefined) {
      io.stdout(text);
      return 0;
    }
    writeOutputFile(output, io.cwd, text);
    io.stderr(`wrote ${s.rules.length} suggested rule${s.rules.length === 1 ? '' : 's'} for ${whom} to ${output}\n`);
    return 0;
  },
};
