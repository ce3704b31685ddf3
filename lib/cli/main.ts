#!/usr/bin/env node
/**
 * `cdktf-ces`: tools over a synth output (explain, simulate, graph). Exit codes: 0 success,
 * 1 a check failed (simulate mismatch), 2 bad input, 3 an internal error.
 */
import { AfmModelError } from '../afm/evaluator';
import { COMMANDS } from './commands';
import { CliIo, commandHelp, parseCommandArgs } from './registry';
import { UsageError } from '../files/usage-error';
import { printable, quote } from '../files/text';

export { CliIo } from './registry';

/** The name the tool is run as: `cdktf-ces`, or `kubectl egress` as a kubectl plugin. */
export function programName(io: Pick<CliIo, 'kubectlPlugin'>): string {
  return io.kubectlPlugin ? 'kubectl egress' : 'cdktf-ces';
}

function overview(program: string): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `usage: ${program} <command> [options]`,
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width + 2)}${c.summary.split('\n')[0].split('. ')[0].replace(/\.$/, '')}`),
    '',
    `Run "${program} <command> --help" for its options.`,
    '',
  ].join('\n');
}

/**
 * Runs the tool with `argv` (without node and script); returns the exit code. Everything it
 * writes passes {@link printable}: text from the input never reaches the terminal raw.
 */
export async function run(argv: readonly string[], terminal: CliIo): Promise<number> {
  const io: CliIo = { ...terminal, stdout: (t) => terminal.stdout(printable(t, true)), stderr: (t) => terminal.stderr(printable(t, true)) };
  const program = programName(io);
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(overview(program));
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  try {
    if (!command)
      throw new UsageError(
        'unknown command',
        quote(name),
        `commands are ${COMMANDS.map((c) => c.name).join(', ')}; run "${program} --help"`,
      );
    const args = parseCommandArgs(command, rest, program);
    if (args.flag('help')) {
      io.stdout(commandHelp(command, program));
      return 0;
    }
    return await command.run(args, io);
  } catch (e) {
    // Bad input is one line, whatever the message quotes.
    if (e instanceof UsageError) {
      io.stderr(`${program}${command ? ` ${command.name}` : ''}: ${printable(e.message)}\n`);
      return 2;
    }
    if (e instanceof AfmModelError) {
      io.stderr(`${program}${command ? ` ${command.name}` : ''}: cannot evaluate the declaration: ${printable(e.message)}\n`);
      return 2;
    }
    io.stderr(`${program}: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 3;
  }
}

/** Runs the tool as a program on the process's arguments, streams and environment. */
export function runProgram(options: Pick<CliIo, 'kubectlPlugin'> = {}): void {
  const io: CliIo = {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    cwd: process.cwd(),
    env: process.env,
    ...options,
  };
  run(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`${programName(io)}: internal error: ${printable(String(e), true)}\n`);
      process.exitCode = 3;
    },
  );
}

if (require.main === module) runProgram();
