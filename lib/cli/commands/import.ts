import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CesInputError,
  DEFAULT_LIBRARY,
  MIGRATED_FUNCTION,
  MigrationMetadata,
  formatCesProblem,
  importCes,
  itemText,
} from '../../migration';
import { REMARK_MAX, remarkProblem } from '../../policy/names';
import { METADATA_MAX, ruleRemark } from '../../policy/schema';
import { INPUT_LIMITS, readTextFile, writeOutputFile } from '../../files/input-files';
import { CliCommand, ParsedArgs } from '../registry';
import { UsageError } from '../../files/usage-error';
import { printable, quote } from '../../files/text';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** Short enough to leave room for the names it precedes (names are cut to 63 characters with a digest). */
const PREFIX = /^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$/;

/** --owner, --ticket, --justification, checked as the rule props are. */
function metadataOptions(args: ParsedArgs): MigrationMetadata | undefined {
  const out: Record<string, string> = {};
  for (const key of ['owner', 'ticket', 'justification'] as const) {
    const value = args.string(key);
    if (value === undefined) continue;
    const problem = remarkProblem(value, METADATA_MAX) ?? (/[A-Za-z0-9]/.test(value) ? undefined : 'must contain a letter or digit');
    if (problem) throw new UsageError(`--${key}`, quote(value), `it ${problem}`);
    out[key] = value;
  }
  if (Object.keys(out).length === 0) return undefined;
  const remark = ruleRemark({ metadata: out });
  if (remark.length > REMARK_MAX) {
    throw new UsageError(
      '--ticket, --owner and --justification',
      quote(remark),
      `together they make a ${remark.length}-character AS3 rule remark ("<ticket> <owner>: <justification>") and AS3 allows ${REMARK_MAX}; shorten them`,
    );
  }
  return out;
}

export const importCommand: CliCommand = {
  name: 'import',
  summary:
    `Migration from F5 Container Egress Services: reads manifests of the CES custom resources (kubeovn.io/v1alpha1 ClusterEgressRule, NamespaceEgressRule, ServiceEgressRule, ExternalService; several YAML documents or a List) and writes a TypeScript module whose ${MIGRATED_FUNCTION}(scope, device) creates the equivalent ExternalServices and rules.\n\n` +
    'The module header explains the mapping and lists everything that is not carried over (also printed on standard error). Exit codes: 0 imported, 1 something was not carried over (use --allow-partial to accept that), 2 bad input (every problem on its own line, then their count when there are several); nothing is written then.',
  usage:
    'import <ces.yaml> [-o <module.ts>] [--cluster <name>] [--namespace <ns>] [--prefix <p>] [--owner <o>] [--ticket <t>] [--justification <j>] [--allow-partial] [--library <module>]',
  maxPositionals: 1,
  options: [
    { name: 'output', short: 'o', type: 'string', arg: '<file>', help: 'write the module to a file instead of standard output' },
    {
      name: 'cluster',
      type: 'string',
      arg: '<name>',
      help: 'cluster the manifests come from; the module refuses a device of another cluster',
    },
    {
      name: 'namespace',
      short: 'n',
      type: 'string',
      arg: '<ns>',
      help: 'namespace of namespaced objects without metadata.namespace (as kubectl apply -n)',
    },
    {
      name: 'prefix',
      type: 'string',
      arg: '<prefix>',
      help: 'name every imported rule and ExternalService <prefix>-<name>, apart from the rules the device already has',
    },
    { name: 'owner', type: 'string', arg: '<owner>', help: 'owner of every imported rule (for the guardrail requireOwner)' },
    { name: 'ticket', type: 'string', arg: '<ticket>', help: 'ticket of every imported rule (for the guardrail requireTicket)' },
    {
      name: 'justification',
      type: 'string',
      arg: '<text>',
      help: 'justification of every imported rule (default: the rule names its CES object in its description)',
    },
    { name: 'allow-partial', type: 'boolean', help: 'exit 0 even when something could not be carried over (it is still listed)' },
    {
      name: 'library',
      type: 'string',
      arg: '<module>',
      help: `module the generated code imports the constructs from (default ${DEFAULT_LIBRARY})`,
    },
  ],
  async run(args, io) {
    const file = args.positionals[0];
    if (file === undefined)
      throw new UsageError('import needs the CES manifest file', 'nothing', 'usage: cdktf-ces import <ces.yaml> [-o <module.ts>]');
    const cluster = args.string('cluster');
    if (cluster !== undefined && (!DNS_LABEL.test(cluster) || cluster.length > 40)) {
      throw new UsageError(
        '--cluster',
        JSON.stringify(cluster),
        'write the clusterName of the AfmDevice: a DNS label of at most 40 characters',
      );
    }
    const namespace = args.string('namespace');
    if (namespace !== undefined && !DNS_LABEL.test(namespace))
      throw new UsageError('--namespace', JSON.stringify(namespace), 'write a namespace name (a DNS label such as "payments")');
    const prefix = args.string('prefix');
    if (prefix !== undefined && !PREFIX.test(prefix))
      throw new UsageError(
        '--prefix',
        quote(prefix),
        'write a lower-case DNS label of at most 20 characters that starts with a letter, such as "ces"',
      );
    const metadata = metadataOptions(args);
    const library = args.string('library');
    if (library !== undefined && !/^[@A-Za-z0-9._/-]+$/.test(library))
      throw new UsageError('--library', JSON.stringify(library), 'write a module specifier such as cdktf-ces or ../lib');
    const text = readTextFile(
      { file, role: 'the CES manifest file', howTo: 'export the objects with "kubectl get cgr,nsgr,svcgr,exsvc -A -o yaml > ces.yaml"' },
      io.cwd,
      INPUT_LIMITS.yamlBytes,
    );
    const output = args.string('output');
    const outFile = output === undefined ? undefined : path.resolve(io.cwd, output);
    if (outFile !== undefined && !fs.existsSync(path.dirname(outFile))) {
      throw new UsageError(
        '-o names a file in a folder that does not exist',
        JSON.stringify(output),
        'create the folder first, or write elsewhere',
      );
    }
    let result;
    try {
      result = importCes(text, file, {
        ...(namespace ? { defaultNamespace: namespace } : {}),
        ...(cluster ? { cluster } : {}),
        ...(library ? { library } : {}),
        ...(prefix ? { prefix } : {}),
        ...(metadata ? { metadata } : {}),
      });
    } catch (e) {
      if (!(e instanceof CesInputError)) throw e;
      // One line per problem; a count line when there are several.
      for (const p of e.problems) io.stderr(`cdktf-ces import: ${printable(formatCesProblem(p))}\n`);
      if (e.problems.length > 1) io.stderr(`cdktf-ces import: ${e.problems.length} problems in ${printable(file)}; nothing written\n`);
      return 2;
    }
    const { plan, module } = result;
    if (plan.objectCount === 0) {
      throw new UsageError(
        `${file} holds no CES objects`,
        'an empty document',
        'export them with "kubectl get cgr,nsgr,svcgr,exsvc -A -o yaml"',
      );
    }
    // Written first: a file that cannot be written is then the only message.
    if (output === undefined) io.stdout(module);
    else writeOutputFile(output, io.cwd, module);
    for (const i of plan.notCarried) io.stderr(`cdktf-ces import: not carried over: ${itemText(i)}\n`);
    for (const i of plan.notes) io.stderr(`cdktf-ces import: note: ${itemText(i)}\n`);
    const active = plan.rules.filter((r) => !r.omitted).length;
    const summary = `${outFile === undefined ? 'imported' : `wrote ${output}:`} ${plan.externalServices.length} ExternalService${plan.externalServices.length === 1 ? '' : 's'} and ${active} rule${active === 1 ? '' : 's'} from ${plan.objectCount} CES objects; ${plan.notCarried.length} item${plan.notCarried.length === 1 ? '' : 's'} not carried over, ${plan.notes.length} note${plan.notes.length === 1 ? '' : 's'}`;
    const partial = plan.notCarried.length > 0 && !args.flag('allow-partial');
    io.stderr(
      `cdktf-ces import: ${summary}${partial ? ' (exit code 1: review the items above, then re-run with --allow-partial to accept them)' : ''}\n`,
    );
    return partial ? 1 : 0;
  },
};
