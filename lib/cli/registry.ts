/**
 * The command registry of the `cdktf-ces` tool: one module per command under `commands/`,
 * each exporting a {@link CliCommand}; `commands/index.ts` lists them.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../files/usage-error';

/** Where a command writes; tests pass their own. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Directory relative paths are resolved against. */
  readonly cwd: string;
  /** KUBECONFIG, HOME, and what exec credential plugins run with. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Run as the kubectl plugin `kubectl egress`: the cluster state comes from the current
   * kubeconfig context unless `--state` gives it, and messages name `kubectl egress`.
   */
  readonly kubectlPlugin?: boolean;
}

export interface OptionSpec {
  readonly name: string;
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
  /** One-letter alias (`-o`). */
  readonly short?: string;
  /** Placeholder and description for the help text. */
  readonly arg?: string;
  readonly help: string;
}

export interface ParsedArgs {
  readonly positionals: readonly string[];
  string(name: string): string | undefined;
  strings(name: string): readonly string[];
  flag(name: string): boolean;
}

export interface CliCommand {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Usage line without the program name, such as `explain --from <ns>/<name> --to <host>:<port>`. */
  readonly usage: string;
  readonly options: readonly OptionSpec[];
  /** Largest number of positional arguments. */
  readonly maxPositionals: number;
  /** Runs the command; returns the exit code. Throws {@link UsageError} on bad input. */
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

export const HELP_OPTION: OptionSpec = { name: 'help', type: 'boolean', help: 'show this help' };

/** Parses `argv` against the command's options; unknown options are bad input. */
export function parseCommandArgs(command: CliCommand, argv: readonly string[], program = 'cdktf-ces'): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
  for (const o of [...command.options, HELP_OPTION])
    options[o.name] = { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (e) {
    const err = e as Error & { code?: string };
    const option = /'(-[^']*)'/.exec(err.message)?.[1] ?? err.message;
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      throw new UsageError(
        `unknown option for "${command.name}"`,
        JSON.stringify(option.split(/\s/)[0]),
        `run "${program} ${command.name} --help" for its options`,
      );
    }
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const name = /--([a-z-]+)/.exec(err.message)?.[1] ?? option;
      const spec = command.options.find((o) => o.name === name);
      throw new UsageError(
        `option --${name} of "${command.name}"`,
        spec?.type === 'boolean' ? 'a value' : 'no value',
        spec?.type === 'boolean' ? `--${name} takes no value` : `write --${name} ${spec?.arg ?? '<value>'}`,
      );
    }
    throw new UsageError(
      `bad arguments for "${command.name}"`,
      JSON.stringify(argv.join(' ')),
      `${err.message}; run "${program} ${command.name} --help"`,
    );
  }
  if (parsed.positionals.length > command.maxPositionals) {
    const extra = parsed.positionals.slice(command.maxPositionals);
    throw new UsageError(`unexpected argument for "${command.name}"`, JSON.stringify(extra[0]), `usage: ${program} ${command.usage}`);
  }
  const values = parsed.values as Record<string, string | boolean | (string | boolean)[] | undefined>;
  return {
    positionals: parsed.positionals,
    string: (name) => {
      const v = values[name];
      return typeof v === 'string' ? v : Array.isArray(v) ? (v[v.length - 1] as string) : undefined;
    },
    strings: (name) => {
      const v = values[name];
      return Array.isArray(v) ? (v as string[]) : typeof v === 'string' ? [v] : [];
    },
    flag: (name) => values[name] === true,
  };
}

/** The help text of one command. */
export function commandHelp(command: CliCommand, program = 'cdktf-ces'): string {
  const width = Math.max(
    ...[...command.options, HELP_OPTION].map((o) => o.name.length + (o.arg ? o.arg.length + 1 : 0) + (o.short ? 4 : 0)),
  );
  const lines = [`usage: ${program} ${command.usage}`, '', command.summary, '', 'options:'];
  for (const o of [...command.options, HELP_OPTION]) {
    const left = `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.arg ? ` ${o.arg}` : ''}`;
    lines.push(`  ${left.padEnd(width + 3)}${o.help}${o.multiple ? ' (repeatable)' : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
