/**
 * `npm run bench`: every benchmark, each against its baseline measured in the same run.
 * Prints Markdown tables (the README's figures come from here).
 */
import * as os from 'node:os';
import { runExplainBench } from './explain';
import { runSynthBench } from './synth';

function main(): void {
  const only = process.argv[2];
  process.stdout.write(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}\n\n`);
  if (!only || only === 'synth') {
    process.stdout.write('## Synth: cdktf-ces against bare cdktf with the same number of kubernetes_manifest resources\n\n');
    const { rows } = runSynthBench(Number(process.env.BENCH_REPEATS ?? 3));
    process.stdout.write(`${rows.join('\n')}\n\n`);
  }
  if (!only || only === 'explain') {
    process.stdout.write('## Explain latency on the 10,000-rule policy\n\n');
    process.stdout.write(`${runExplainBench().rows.join('\n')}\n\n`);
  }
}

main();
