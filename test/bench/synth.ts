/**
 * Synth benchmark: the library against bare cdktf synthesizing the same number of
 * kubernetes_manifest resources, in the same run, each measurement in a fresh process; and
 * against bare cdktf writing the same Terraform JSON (the manifests and the library's AS3
 * declaration as an object literal in a bigip_as3 resource).
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
  cpuMs: number;
  peakRssMb: number;
}

/** One run; the library's also leaves its AS3 declaration in `declarationFile` for bare-as3. */
function once(mode: string, rules: number, namespaces: number, declarationFile: string): SynthResult {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-bench-'));
  try {
    const out = execFileSync(
      process.execPath,
      [path.join(__dirname, 'synth-worker.js'), mode, String(rules), String(namespaces), outdir, declarationFile],
      {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      },
    );
    if (mode === 'library') {
      const tf = JSON.parse(fs.readFileSync(path.join(outdir, 'stacks', 'egress', 'cdk.tf.json'), 'utf8'));
      fs.writeFileSync(declarationFile, (Object.values(tf.resource.bigip_as3)[0] as { as3_json: string }).as3_json);
    }
    return JSON.parse(out.trim().split('\n').pop() as string);
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Runs per mode and size (`BENCH_REPEATS`): single runs vary by ±15 % here, bare cdktf's now and then by 2× (its heap growing to 1 GB). */
export function runSynthBench(repeats = Number(process.env.BENCH_REPEATS ?? 5)): { rows: string[]; results: Record<string, SynthResult> } {
  const rows = [
    '| rules / namespaces | bare cdktf: time, peak RSS | cdktf-ces: time, peak RSS | time ratio | memory ratio | bare cdktf + AS3 declaration: time, peak RSS | time ratio | memory ratio |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const declarationFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ces-bench-as3-')), 'declaration.json');
  const results: Record<string, SynthResult> = {};
  for (const [rules, namespaces] of [
    [1000, 100],
    [10000, 1000],
  ]) {
    const runs: Record<string, SynthResult[]> = { bare: [], library: [], 'bare-as3': [] };
    // Interleave the modes so machine noise hits all alike (bare-as3 reads the declaration the
    // library run before it wrote).
    for (let i = 0; i < repeats; i++)
      for (const mode of ['bare', 'library', 'bare-as3']) runs[mode].push(once(mode, rules, namespaces, declarationFile));
    const pick = (mode: string): SynthResult => ({
      ...runs[mode][0],
      totalMs: median(runs[mode].map((r) => r.totalMs)),
      constructMs: median(runs[mode].map((r) => r.constructMs)),
      synthMs: median(runs[mode].map((r) => r.synthMs)),
      cpuMs: median(runs[mode].map((r) => r.cpuMs)),
      peakRssMb: median(runs[mode].map((r) => r.peakRssMb)),
    });
    const bare = pick('bare');
    const lib = pick('library');
    const bareAs3 = pick('bare-as3');
    results[`bare-${rules}`] = bare;
    results[`library-${rules}`] = lib;
    results[`bare-as3-${rules}`] = bareAs3;
    const figures = (r: SynthResult) => `${(r.totalMs / 1000).toFixed(2)} s (CPU ${(r.cpuMs / 1000).toFixed(2)} s), ${r.peakRssMb} MB`;
    const ratios = (base: SynthResult) => `${(lib.totalMs / base.totalMs).toFixed(2)}× | ${(lib.peakRssMb / base.peakRssMb).toFixed(2)}×`;
    rows.push(
      `| ${rules.toLocaleString('en')} / ${namespaces.toLocaleString('en')} | ${figures(bare)} | ${figures(lib)} | ${ratios(bare)} | ${figures(bareAs3)} | ${ratios(bareAs3)} |`,
    );
  }
  fs.rmSync(path.dirname(declarationFile), { recursive: true, force: true });
  return { rows, results };
}

if (require.main === module) {
  const { rows } = runSynthBench();
  process.stdout.write(`${rows.join('\n')}\n`);
}
