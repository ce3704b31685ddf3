import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeOutputFile } from '../../files/input-files';
import { OUTPUT_OPTIONS, loadPolicy } from '../inputs';
import { policyPicture, toDot, toMermaid, toSvg } from '../picture';
import { CliCommand } from '../registry';
import { UsageError } from '../../files/usage-error';
import { printable, quote } from '../../files/text';

const FORMATS = ['mermaid', 'dot', 'svg'];

export const graphCommand: CliCommand = {
  name: 'graph',
  summary:
    'A picture of the policy: the three levels with their rules in evaluation order (action, priority, audit, window), linked from their sources and to their destinations with protocols and ports.',
  usage: 'graph [--format mermaid|dot|svg] [-o <file>] [options]',
  maxPositionals: 0,
  options: [
    { name: 'format', type: 'string', arg: '<mermaid|dot|svg>', help: 'output format (default mermaid)' },
    { name: 'output', short: 'o', type: 'string', arg: '<file>', help: 'write to a file instead of standard output' },
    ...OUTPUT_OPTIONS,
  ],
  async run(args, io) {
    const format = args.string('format') ?? 'mermaid';
    if (!FORMATS.includes(format)) throw new UsageError('--format', JSON.stringify(format), `use one of ${FORMATS.join(', ')}`);
    const view = loadPolicy(args, io);
    const picture = policyPicture(view.model, `egress policy of ${view.label}`);
    // Escaped for the file too: it is read with cat and less as often as rendered.
    const text = printable(format === 'mermaid' ? toMermaid(picture) : format === 'dot' ? toDot(picture) : await toSvg(picture), true);
    const output = args.string('output');
    if (output === undefined) {
      io.stdout(text);
      return 0;
    }
    if (!fs.existsSync(path.dirname(path.resolve(io.cwd, output))))
      throw new UsageError('-o names a file in a folder that does not exist', quote(output), 'create the folder first, or write elsewhere');
    writeOutputFile(output, io.cwd, text);
    io.stderr(`wrote ${format} picture of ${view.label} to ${output}\n`);
    return 0;
  },
};
