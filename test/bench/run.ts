/**
 * `npm run bench`: every benchmark, each against its baseline measured in the same run.
 * Prints Markdown tables (the README's figures come from here). `npm run bench -- synth`
 * (or explain, controller) runs one. BENCH_JSON=file writes the controller grid as JSON.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { gridJson, runControllerBench } from './controller';
import { runExplainBench } from './explain';
import { runSynthBench } from './synth';

async function main(): Promise<void> {
  const only = process.argv[2];
  const out = (text: string) => process.stdout.write(text);
  out(
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}\n\n`,
  );
  if (!only || only === 'synth') {
    out('## Synth: cdktf-ces against bare cdktf with the same number of kubernetes_manifest resources\n\n');
    out(`${runSynthBench().rows.join('\n')}\n\n`);
  }
  if (!only || only === 'explain') {
    out('## Explain latency on the 10,000-rule policy\n\n');
    out(`${runExplainBench().rows.join('\n')}\n\n`);
  }
  if (!only || only === 'controller') {
    out('## Controller: 20,000 pods, 200 lists, pod events/s × device cost per push, against a per-event baseline\n\n');
    const { rows, result } = await runControllerBench();
    out(`${rows.join('\n')}\n\n`);
    if (process.env.BENCH_JSON) fs.writeFileSync(process.env.BENCH_JSON, JSON.stringify(gridJson(result), null, 2));
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
