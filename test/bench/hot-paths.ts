/**
 * Library-only hot paths of synth at 10,000 rules, in-process, each timed over several runs
 * (median CPU time): what synth spends in this library's own code, apart from cdktf. A development aid
 * for profiling (`npx tsx test/bench/hot-paths.ts`), not part of `npm run bench`.
 */
import { App } from 'cdktf';
import { AfmDevice } from '../../lib';
import { buildBenchPolicy } from './bench-policy';
import { renderAs3 } from '../../lib/afm/as3';
import { compilePolicy } from '../../lib/policy/compile';
import { buildSyncPlan } from '../../lib/k8s/sync-plan';

const rules = Number(process.argv[2] ?? 10000);
const namespaces = Number(process.argv[3] ?? 1000);
const repeats = Number(process.argv[4] ?? 5);

function build(): AfmDevice {
  return buildBenchPolicy(new App({ outdir: '/nonexistent' }), rules, namespaces);
}

const times: Record<string, number[]> = {};
// CPU time, not wall time: the figures compare on a shared machine.
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const time = <T>(label: string, f: () => T): T => {
  const t = cpuMs();
  const r = f();
  (times[label] ??= []).push(cpuMs() - t);
  return r;
};
const device = time('construct (rules with their CRs)', build);
const model = device._policyModel();
for (let k = 0; k < repeats; k++) {
  const compiled = time('compilePolicy', () => compilePolicy(model));
  const as3 = time('renderAs3 (with self-check)', () => renderAs3(compiled));
  const json = time('JSON.stringify(as3)', () => JSON.stringify(as3));
  time('artifact (plan, digest, JSON)', () => JSON.stringify({ model: compiled.model, plan: buildSyncPlan(compiled), n: json.length }));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [label, xs] of Object.entries(times))
  process.stdout.write(`${label.padEnd(36)} ${median(xs).toFixed(0).padStart(6)} ms  (${xs.map((x) => x.toFixed(0)).join(' ')})\n`);
