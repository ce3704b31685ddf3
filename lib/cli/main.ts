#!/usr/bin/env node
/**
 * `cdktf-ces`: tools over a synth output (explain, simulate, graph). Exit codes: 0 success,
 * 1 a check failed (simulate mismatch), 2 bad input, 3 an internal error.
 */
import { AfmModelError } from '../afm/evaluator';
import { COMMANDS } from './commands';
import { CliIo, CliUsageError, commandHelp, parseCommandArgs } from './registry';

export { CliIo } from './registry';

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: cdktf-ces <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width + 2)}${c.summary.split('\n')[0].split('. ')[0].replace(/\.$/, '')}`),
    '',
    'Run "cdktf-ces <command> --help" for its options.',
    '',
  ].join('\n');
}

/** Runs the tool with `argv` (without node and script); returns the exit code. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout)(overview());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  try {
    if (!command) throw new CliUsageError('unknown command', JSON.stringify(name), `commands are ${COMMANDS.map((c) => c.name).join(', ')}; run "cdktf-ces --help"`);
    const args = parseCommandArgs(command, rest);
    if (args.flag('help')) {
      io.stdout(commandHelp(command));
      return 0;
    }
    return await command.run(args, io);
  } catch (e) {
    if (e instanceof CliUsageError) {
      io.stderr(`cdktf-ces${command ? ` ${command.name}` : ''}: ${e.message}\n`);
      return 2;
    }
    if (e instanceof AfmModelError) {
      io.stderr(`cdktf-ces${command ? ` ${command.name}` : ''}: cannot evaluate the declaration: ${e.message}\n`);
      return 2;
    }
    io.stderr(`cdktf-ces: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 3;
  }
}

if (require.main === module) {
  const io: CliIo = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), cwd: process.cwd() };
  run(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`cdktf-ces: internal error: ${String(e)}\n`);
      process.exitCode = 3;
    },
  );
}
