/**
 * `inventory`: the rules of each device with what a review asks about them (level, action,
 * owner, ticket, audit, window, expiry), filtered, as a table, JSON or Markdown.
 */
import { ActionName, LEVELS, Level, RuleModel } from '../../policy/model';
import { scheduleText } from '../diff/times';
import { parseTime } from '../../analysis/engine';
import { CliCommand, ParsedArgs } from '../registry';
import { UsageError } from '../../files/usage-error';
import { DeviceOutput, pickDevice, readSynthOutput } from '../../analysis/synth-output';
import { ALL_DEVICES } from '../../analysis/device-name';
import { quote } from '../../files/text';

/** Format marker of `inventory --format json`. */
export const INVENTORY_FORMAT = 'cdktf-ces.dev/inventory/v1';

const FORMATS = ['table', 'json', 'markdown'];
const ACTIONS: readonly ActionName[] = ['ALLOW', 'ALLOW_FINAL', 'DENY', 'REJECT'];
const KIND: Readonly<Record<Level, string>> = {
  cluster: 'ClusterEgressRule',
  namespace: 'NamespaceEgressRule',
  service: 'ServiceEgressRule',
};
const UNIT_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** `30d`, `12h`, `2w`, `90m` → milliseconds. */
export function parseDuration(text: string, option: string): number {
  const m = /^(\d{1,6})([mhdw])$/.exec(text.trim());
  if (!m || Number(m[1]) === 0)
    throw new UsageError(
      option,
      quote(text),
      'write a positive whole number and a unit: m (minutes), h (hours), d (days) or w (weeks), such as 30d',
    );
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** One rule as the inventory lists it. */
export interface InventoryRule {
  readonly level: Level;
  readonly kind: string;
  readonly namespace?: string;
  /** `<namespace>/<name>`, or the name of a cluster rule. */
  readonly name: string;
  readonly path: string;
  readonly action: ActionName;
  readonly priority: number;
  readonly service?: string;
  readonly owner?: string;
  readonly ticket?: string;
  readonly justification?: string;
  readonly audit: boolean;
  readonly window?: string;
  readonly expiresAt?: string;
}

interface DeviceInventory {
  readonly device: DeviceOutput;
  /** Rules of the device before filtering. */
  readonly total: number;
  readonly rules: readonly InventoryRule[];
}

function entry(r: RuleModel): InventoryRule {
  const owner = r.metadata.owner?.trim();
  const ticket = r.metadata.ticket?.trim();
  return {
    level: r.level,
    kind: KIND[r.level],
    ...(r.namespace !== undefined ? { namespace: r.namespace } : {}),
    name: r.namespace !== undefined ? `${r.namespace}/${r.name}` : r.name,
    path: r.path,
    action: r.action,
    priority: r.priority,
    ...(r.source.service !== undefined ? { service: r.source.service } : {}),
    // Ownership text without a letter or digit is no owner (as the guardrails judge it).
    ...(owner && /[\p{L}\p{N}]/u.test(owner) ? { owner } : {}),
    ...(ticket && /[\p{L}\p{N}]/u.test(ticket) ? { ticket } : {}),
    ...(r.metadata.justification !== undefined ? { justification: r.metadata.justification } : {}),
    audit: r.audit,
    ...(r.schedule ? { window: scheduleText(r.schedule) } : {}),
    ...(r.expiresAt !== undefined ? { expiresAt: r.expiresAt } : {}),
  };
}

interface Filter {
  /** How `--help` and the report name it. */
  readonly text: string;
  readonly keep: (r: InventoryRule) => boolean;
}

function filters(args: ParsedArgs): Filter[] {
  const out: Filter[] = [];
  const now = args.string('at') !== undefined ? parseTime(args.string('at') as string) : new Date();
  const within = args.string('expiring-within');
  if (within !== undefined) {
    const until = now.getTime() + parseDuration(within, '--expiring-within');
    out.push({ text: `expiring within ${within.trim()}`, keep: (r) => r.expiresAt !== undefined && Date.parse(r.expiresAt) <= until });
  }
  if (args.flag('expired'))
    out.push({ text: 'expired', keep: (r) => r.expiresAt !== undefined && Date.parse(r.expiresAt) <= now.getTime() });
  if (args.flag('no-owner')) out.push({ text: 'without owner', keep: (r) => r.owner === undefined });
  if (args.flag('no-ticket')) out.push({ text: 'without ticket', keep: (r) => r.ticket === undefined });
  if (args.flag('audit-only')) out.push({ text: 'audit only', keep: (r) => r.audit });
  if (args.flag('windowed')) out.push({ text: 'with a time window', keep: (r) => r.window !== undefined });
  const level = args.string('level');
  if (level !== undefined) {
    if (!LEVELS.includes(level as Level)) throw new UsageError('--level', quote(level), `use one of ${LEVELS.join(', ')}`);
    out.push({ text: `level ${level}`, keep: (r) => r.level === level });
  }
  const namespace = args.string('namespace');
  if (namespace !== undefined) out.push({ text: `namespace ${namespace}`, keep: (r) => r.namespace === namespace });
  const action = args.string('action');
  if (action !== undefined) {
    const wanted = action.toUpperCase().replace(/-/g, '_') as ActionName;
    if (!ACTIONS.includes(wanted)) throw new UsageError('--action', quote(action), `use one of ${ACTIONS.join(', ')}`);
    out.push({ text: `action ${wanted}`, keep: (r) => r.action === wanted });
  }
  const owner = args.string('owner');
  if (owner !== undefined) out.push({ text: `owner ${owner}`, keep: (r) => r.owner === owner });
  return out;
}

/** Evaluation order: level, then namespace, priority and name. */
function compare(a: InventoryRule, b: InventoryRule): number {
  return (
    LEVELS.indexOf(a.level) - LEVELS.indexOf(b.level) ||
    (a.namespace ?? '').localeCompare(b.namespace ?? '') ||
    a.priority - b.priority ||
    a.name.localeCompare(b.name)
  );
}

function deviceName(d: DeviceOutput): string {
  return `${d.stack}/${d.tenant}`;
}

function summary(inv: readonly DeviceInventory[], applied: readonly Filter[]): string {
  const shown = inv.reduce((n, d) => n + d.rules.length, 0);
  const total = inv.reduce((n, d) => n + d.total, 0);
  const where = applied.length
    ? `${shown} of ${total} rules (${applied.map((f) => f.text).join(', ')})`
    : `${total} rule${total === 1 ? '' : 's'}`;
  return `${where} on ${inv.length} device${inv.length === 1 ? '' : 's'}`;
}

const TABLE_HEAD = ['level', 'rule', 'action', 'priority', 'owner', 'ticket', 'audit', 'window', 'expires'];

function cells(r: InventoryRule): string[] {
  return [
    r.level,
    r.name,
    r.action,
    String(r.priority),
    r.owner ?? '-',
    r.ticket ?? '-',
    r.audit ? 'audit' : '-',
    r.window ?? '-',
    r.expiresAt ?? '-',
  ];
}

function formatTable(inv: readonly DeviceInventory[], applied: readonly Filter[]): string {
  const out: string[] = [];
  for (const d of inv) {
    out.push(`# device ${deviceName(d.device)} (cluster ${d.device.artifact.model.device.cluster}, ${d.device.artifact.devicePath})`);
    if (d.rules.length === 0) {
      out.push(applied.length ? '(no rule matches the filters)' : '(no rules)', '');
      continue;
    }
    const rows = [TABLE_HEAD, ...d.rules.map(cells)];
    const widths = TABLE_HEAD.map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    for (const r of rows)
      out.push(
        r
          .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c])))
          .join('  ')
          .trimEnd(),
      );
    out.push('');
  }
  out.push(summary(inv, applied));
  return `${out.join('\n')}\n`;
}

/** A table cell: Markdown and HTML characters escaped, one line. */
function md(text: string): string {
  return text
    .replace(/[\\`*_[\]<>|#&]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : `\\${c}`))
    .replace(/\s+/g, ' ');
}

function formatMarkdown(inv: readonly DeviceInventory[], applied: readonly Filter[]): string {
  const out: string[] = [];
  for (const d of inv) {
    out.push(`### Egress rules: \`${d.device.tenant}\` (cluster \`${d.device.artifact.model.device.cluster}\`)`, '');
    if (d.rules.length === 0) {
      out.push(applied.length ? 'No rule matches the filters.' : 'No rules.', '');
      continue;
    }
    out.push(
      '| Level | Rule | Action | Priority | Owner | Ticket | Audit | Window | Expires | Justification |',
      '|---|---|---|--:|---|---|---|---|---|---|',
    );
    for (const r of d.rules) {
      const row = [
        r.level,
        `\`${r.name}\``,
        r.action,
        String(r.priority),
        r.owner ? md(r.owner) : '**none**',
        r.ticket ? md(r.ticket) : '**none**',
        r.audit ? 'audit' : '',
        r.window ? md(r.window) : '',
        r.expiresAt ?? '',
        r.justification ? md(r.justification) : '',
      ];
      out.push(`| ${row.join(' | ')} |`);
    }
    out.push('');
  }
  out.push(`_${summary(inv, applied)}._`, '');
  return out.join('\n');
}

function formatJson(inv: readonly DeviceInventory[], applied: readonly Filter[]): string {
  const devices = inv.map((d) => ({
    device: deviceName(d.device),
    stack: d.device.stack,
    tenant: d.device.tenant,
    cluster: d.device.artifact.model.device.cluster,
    path: d.device.artifact.devicePath,
    total: d.total,
    rules: d.rules,
  }));
  return `${JSON.stringify({ format: INVENTORY_FORMAT, filters: applied.map((f) => f.text), devices }, null, 2)}\n`;
}

export const inventoryCommand: CliCommand = {
  name: 'inventory',
  summary:
    'Lists the rules of each device of the synth output with level, action, priority, owner, ticket, audit mode, time window and expiry, in evaluation order. Filters combine (a rule must pass all); --expiring-within and --expired judge expiry at --at (default now). Ownership text without a letter or digit counts as none, as the guardrails judge it.\n\n' +
    '--format markdown writes a table per device for a pull request (with the justifications); --format json is for tools.',
  usage:
    'inventory [--out <dir>] [--device <device>|all] [--expiring-within <30d>] [--no-owner] [--audit-only] [...] [--format table|json|markdown]',
  maxPositionals: 0,
  options: [
    { name: 'out', type: 'string', arg: '<dir>', help: 'synth output directory (default: cdktf.out)' },
    {
      name: 'device',
      type: 'string',
      arg: '<device>|all',
      help: 'one AfmDevice (tenant, cluster name, <stack>/<tenant> or construct path); default or all: every device',
    },
    {
      name: 'expiring-within',
      type: 'string',
      arg: '<30d|12h|2w>',
      help: 'rules whose expiry falls within this time from --at (those already expired included)',
    },
    { name: 'expired', type: 'boolean', help: 'rules whose expiry has passed at --at: they match nothing and can be removed' },
    { name: 'no-owner', type: 'boolean', help: 'rules without an owner' },
    { name: 'no-ticket', type: 'boolean', help: 'rules without a ticket' },
    { name: 'audit-only', type: 'boolean', help: 'rules in audit mode (staged, not enforced)' },
    { name: 'windowed', type: 'boolean', help: 'rules with a time window' },
    { name: 'level', type: 'string', arg: '<cluster|namespace|service>', help: 'rules of this level' },
    { name: 'namespace', type: 'string', arg: '<ns>', help: 'namespace and service rules of this namespace' },
    { name: 'action', type: 'string', arg: '<action>', help: 'rules with this action (ALLOW, ALLOW_FINAL, DENY, REJECT)' },
    { name: 'owner', type: 'string', arg: '<owner>', help: 'rules of this owner' },
    { name: 'at', type: 'string', arg: '<ISO time>', help: 'the time expiry is judged at (default now)' },
    { name: 'format', type: 'string', arg: '<table|json|markdown>', help: 'report format (default table)' },
  ],
  async run(args, io) {
    const format = args.string('format') ?? 'table';
    if (!FORMATS.includes(format)) throw new UsageError('--format', quote(format), `use one of ${FORMATS.join(', ')}`);
    const applied = filters(args);
    const all = readSynthOutput(args.string('out') ?? 'cdktf.out', io.cwd);
    const wanted = args.string('device');
    const devices =
      wanted !== undefined && wanted !== ALL_DEVICES
        ? [pickDevice(all, wanted)]
        : [...all].sort((a, b) => deviceName(a).localeCompare(deviceName(b)));
    const inv = devices.map((device): DeviceInventory => {
      const rules = device.artifact.model.rules.map(entry);
      return { device, total: rules.length, rules: rules.filter((r) => applied.every((f) => f.keep(r))).sort(compare) };
    });
    io.stdout(
      format === 'json' ? formatJson(inv, applied) : format === 'markdown' ? formatMarkdown(inv, applied) : formatTable(inv, applied),
    );
    return 0;
  },
};
