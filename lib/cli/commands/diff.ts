import * as fs from 'node:fs';
import * as path from 'node:path';
import { AfmModelError } from '../../afm/evaluator';
import { readClusterState } from '../../analysis/cluster-state';
import { diffPolicies, DiffResult } from '../diff/compute';
import { enforcedChanges, formatJson, formatMarkdown, formatText } from '../diff/format';
import { PolicyView, parseTime, policyView } from '../../analysis/engine';
import { ALL_DEVICES, deviceLabel } from '../../analysis/device-name';
import { CliCommand } from '../registry';
import { UsageError } from '../../files/usage-error';
import { DeviceOutput, namesOfOutput, pickDevice, readSynthOutput } from '../../analysis/synth-output';

const FORMATS = ['text', 'markdown', 'json'];

function readSide(dir: string, side: 'old' | 'new', cwd: string): DeviceOutput[] {
  const full = path.resolve(cwd, dir);
  if (!fs.existsSync(full) || !fs.statSync(full).isDirectory()) {
    throw new UsageError(
      `the ${side} synth output directory does not exist`,
      JSON.stringify(dir),
      `give the cdktf.out of the ${side} version (cdktf synth writes it)`,
    );
  }
  try {
    return readSynthOutput(dir, cwd);
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(`${side} output: ${e.what}`, e.value, e.fix);
    throw e;
  }
}

function view(device: DeviceOutput, dir: string): PolicyView {
  try {
    return policyView({
      label: `${dir} (stack ${device.stack})`,
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
        JSON.stringify(e.message),
        'it was not written by this version of cdktf-ces; run "cdktf synth" again',
      );
    }
    throw e;
  }
}

const names = (ds: readonly DeviceOutput[]) => ds.map((d) => deviceLabel(namesOfOutput(d))).join(', ') || 'none';

/** Pairs the devices of the two outputs: `--device`, or every tenant both have. */
function pairDevices(
  olds: readonly DeviceOutput[],
  news: readonly DeviceOutput[],
  tenant: string | undefined,
): { pairs: [DeviceOutput, DeviceOutput][]; notes: string[] } {
  if (tenant !== undefined) {
    const pick = (ds: readonly DeviceOutput[], side: string) => {
      try {
        return pickDevice(ds, tenant);
      } catch (e) {
        if (e instanceof UsageError) throw new UsageError(`${side} output: ${e.what}`, e.value, e.fix);
        throw e;
      }
    };
    return { pairs: [[pick(olds, 'old'), pick(news, 'new')]], notes: [] };
  }
  for (const [ds, side] of [
    [olds, 'old'],
    [news, 'new'],
  ] as const) {
    const dup = ds.find((d, i) => ds.findIndex((o) => o.tenant === d.tenant) !== i);
    if (dup)
      throw new UsageError(
        `the ${side} output has tenant ${dup.tenant} in several stacks`,
        names(ds),
        'choose one with --device <stack>/<tenant>',
      );
  }
  const pairs: [DeviceOutput, DeviceOutput][] = [];
  for (const d of olds) {
    const n = news.find((x) => x.tenant === d.tenant);
    if (n) pairs.push([d, n]);
  }
  if (pairs.length === 0) {
    throw new UsageError(
      'the two outputs have no device (AS3 tenant) in common, so they are not two versions of one policy',
      `old: ${names(olds)}; new: ${names(news)}`,
      'diff two synth outputs of the same app, or name the device with --device <tenant>',
    );
  }
  const notes = [
    ...olds
      .filter((d) => !news.some((n) => n.tenant === d.tenant))
      .map((d) => `device ${d.tenant} is only in the old output (removed?); not compared`),
    ...news
      .filter((d) => !olds.some((o) => o.tenant === d.tenant))
      .map((d) => `device ${d.tenant} is only in the new output (added?); not compared`),
  ];
  return { pairs, notes };
}

export const diffCommand: CliCommand = {
  name: 'diff',
  summary:
    "What a change does to egress: compares two synth outputs of one app and prints, per workload, the destinations gained (+) and lost (-) and the rules behind each, as the firewall would decide (the AFM evaluator over each output's declaration). Destinations, ports and workloads are finite classes derived from both policies, so the comparison is exact over them, not sampled.\n\n" +
    "Without --state the workloads are hypothetical pods built from the rules' sources (each Service and namespace a rule names, each label combination its selectors test, any other pod); with --state they are the real pods. Time windows: every combination of open and closed windows in the coming week is evaluated (or only the instant --at). Audit rules: would-be changes are shown and marked. Each change is one line naming every workload it holds for; the report names no instant unless --at gives one, so the same two outputs always give the same report.\n\n" +
    'Exit code 0 whether or not anything changed; with --exit-code 1 when what the firewall enforces changes (would-be changes of audit rules alone do not count); 2 on bad input.',
  usage:
    'diff <old cdktf.out> <new cdktf.out> [--device <device>|all] [--state <file.yaml>] [--at <ISO time>] [--format text|markdown|json] [--exit-code]',
  maxPositionals: 2,
  options: [
    {
      name: 'device',
      type: 'string',
      arg: '<device>|all',
      help: 'the AfmDevice (tenant, cluster name, <stack>/<tenant> or construct path); default or all: every tenant both outputs have',
    },
    {
      name: 'state',
      type: 'string',
      arg: '<file.yaml>',
      help: 'cluster state (kubectl get pods,namespaces,services -A -o yaml, plus DnsAnswers): diff for the real pods',
    },
    {
      name: 'at',
      type: 'string',
      arg: '<ISO time>',
      help: 'evaluate this instant only (default: every window state of the week from now)',
    },
    {
      name: 'format',
      type: 'string',
      arg: '<text|markdown|json>',
      help: 'report format (default text; markdown for a pull-request comment)',
    },
    { name: 'exit-code', type: 'boolean', help: 'exit 1 when enforced egress changes, 0 when not (as git diff --exit-code)' },
  ],
  async run(args, io) {
    const [oldDir, newDir] = args.positionals;
    if (oldDir === undefined || newDir === undefined) {
      throw new UsageError(
        'diff needs two synth output directories',
        oldDir === undefined ? 'nothing' : JSON.stringify(oldDir),
        'usage: cdktf-ces diff <old cdktf.out> <new cdktf.out>',
      );
    }
    const format = args.string('format') ?? 'text';
    if (!FORMATS.includes(format)) throw new UsageError('--format', JSON.stringify(format), `use one of ${FORMATS.join(', ')}`);
    const atText = args.string('at');
    const at = atText !== undefined ? parseTime(atText) : new Date();
    const stateFile = args.string('state');
    const cluster = stateFile !== undefined ? readClusterState(stateFile, io.cwd) : undefined;
    const { pairs, notes } = pairDevices(
      readSide(oldDir, 'old', io.cwd),
      readSide(newDir, 'new', io.cwd),
      args.string('device') === ALL_DEVICES ? undefined : args.string('device'),
    );
    const results: DiffResult[] = pairs.map(([a, b], i) => {
      if (a.artifact.model.device.cluster !== b.artifact.model.device.cluster) {
        throw new UsageError(
          `the outputs are of different clusters for device ${b.tenant}`,
          `old: ${a.artifact.model.device.cluster}, new: ${b.artifact.model.device.cluster}`,
          "diff two versions of the same cluster's policy (a renamed cluster is a new device: review its output as a whole)",
        );
      }
      const r = diffPolicies({
        old: view(a, oldDir),
        new: view(b, newDir),
        at,
        fixedTime: atText !== undefined,
        ...(cluster ? { cluster: { snapshot: cluster.snapshot, source: cluster.source } } : {}),
        dns: cluster?.dns ?? new Map(),
      });
      return i === 0 && notes.length ? { ...r, notes: [...r.notes, ...notes] } : r;
    });
    io.stdout(format === 'json' ? formatJson(results) : format === 'markdown' ? formatMarkdown(results) : formatText(results));
    return args.flag('exit-code') && enforcedChanges(results) ? 1 : 0;
  },
};
