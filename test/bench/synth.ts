/**
 * Synth benchmark: the library against bare cdktf synthesizing the same number of
 * kubernetes_manifest resources, in the same run, each measurement in a fresh process.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface SynthResult {
  mode: string;
  rules: number;
  namespaces: number;
  constructMs: number;
  synthMs: number;
  totalMs: number;
  peakRssMb: number;
}

function once(mode: string, rules: number, namespaces: number): SynthResult {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-bench-'));
  try {
    const out = execFileSync(process.execPath, [path.join(__dirname, 'synth-worker.js'), mode, String(rules), String(namespaces), outdir], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    });
    return JSON.parse(out.trim().split('\n').pop() as string);
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export function runSynthBench(repeats = 3): { rows: string[]; results: Record<string, SynthResult> } {
  const rows = ['| rules / namespaces | bare cdktf: time, peak RSS | cdktf-ces: time, peak RSS | time ratio | memory ratio |', '|---|---|---|---|---|'];
  const results: Record<string, SynthResult> = {};
  for (const [rules, namespaces] of [
    [1000, 100],
    [10000, 1000],
  ]) {
    const runs: Record<string, SynthResult[]> = { bare: [], library: [] };
    // Interleave the two modes so machine noise hits both alike.
    for (let i = 0; i < repeats; i++) for (const mode of ['bare', 'library']) runs[mode].push(once(mode, rules, namespaces));
    const pick = (mode: string): SynthResult => ({
      ...runs[mode][0],
      totalMs: median(runs[mode].map((r) => r.totalMs)),
      constructMs: median(runs[mode].map((r) => r.constructMs)),
      synthMs: median(runs[mode].map((r) => r.synthMs)),
      peakRssMb: median(runs[mode].map((r) => r.peakRssMb)),
    });
    const bare = pick('bare');
    const lib = pick('library');
    results[`bare-${rules}`] = bare;
    results[`library-${rules}`] = lib;
    rows.push(
      `| ${rules.toLocaleString('en')} / ${namespaces.toLocaleString('en')} | ${(bare.totalMs / 1000).toFixed(2)} s, ${bare.peakRssMb} MB | ${(lib.totalMs / 1000).toFixed(2)} s, ${lib.peakRssMb} MB | ${(lib.totalMs / bare.totalMs).toFixed(2)}× | ${(lib.peakRssMb / bare.peakRssMb).toFixed(2)}× |`,
    );
  }
  return { rows, results };
}

if (require.main === module) {
  const { rows } = runSynthBench(Number(process.env.BENCH_REPEATS ?? 3));
  process.stdout.write(`${rows.join('\n')}\n`);
}
