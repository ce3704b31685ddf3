/**
 * Explain benchmark: latency of `explain` on a 10,000-rule policy of the synth benchmark's shape
 * (`benchRule` of bench-policy.ts: 4 of 5 rules namespace rules, 1 of 5 service rules, an FQDN
 * and a /24 each, HTTPS or a port range), against two baselines measured in the same run:
 *
 * - per query, the intent evaluator over the policy model: a plain linear scan of the rules in
 *   order with the same membership and matching predicates. It is the least work any answer
 *   to "which rule decides?" takes, so the ratio is the price of answering from what the
 *   device holds (AS3 pointers, rule lists, address lists, list members) and of the report;
 * - once per run, reading the two JSON files alone (`JSON.parse` of cdk.tf.json and the
 *   artifact), the floor of any tool that starts from the synth output, against the tool's
 *   full load (read, digest check, declaration index, rule index).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { App } from 'cdktf';
import { buildBenchPolicy } from './bench-policy';
import { ClusterState } from '../../lib/analysis/cluster-state';
import { DnsAnswers, ExplainQuery, PolicyView, explain, parseDestination, policyView } from '../../lib/analysis/engine';
import { formatExplanation } from '../../lib/analysis/format';
import { pickDevice, readSynthOutput } from '../../lib/analysis/synth-output';
import type { ClusterSnapshot, PodInfo } from '../../lib/policy/membership';
import { evaluateIntent } from '../../lib/policy/intent';

export interface ExplainBenchOptions {
  readonly rules?: number;
  readonly namespaces?: number;
  /** Pods per namespace in the cluster state. */
  readonly podsPerNamespace?: number;
  /** Timed queries (after a warm-up of a tenth as many). */
  readonly queries?: number;
}

export interface ExplainBenchResult {
  readonly rules: number;
  readonly pods: number;
  readonly queries: number;
  readonly explainMs: { readonly median: number; readonly p99: number };
  readonly linearScanMs: { readonly median: number; readonly p99: number };
  readonly loadMs: number;
  readonly parseOnlyMs: number;
  /** Share of queries a rule (not the default) decided, so the sample is not all misses. */
  readonly decidedByRule: number;
}

/** Synthesizes the workload into `outdir`, as `cdktf synth` would. */
function synthWorkload(rules: number, namespaces: number, outdir: string): void {
  const app = new App({ outdir });
  buildBenchPolicy(app, rules, namespaces);
  app.synth();
}

function quantiles(xs: number[]): { median: number; p99: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { median: at(0.5), p99: at(0.99) };
}

/** A deterministic pseudo-random sequence, so runs compare. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x / 0x80000000;
  };
}

export function runExplainBench(options: ExplainBenchOptions = {}): { rows: string[]; result: ExplainBenchResult } {
  const rules = options.rules ?? 10_000;
  const namespaces = options.namespaces ?? 1_000;
  const perNamespace = options.podsPerNamespace ?? 2;
  const queries = options.queries ?? 1_000;
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ces-explain-bench-'));
  try {
    synthWorkload(rules, namespaces, outdir);

    // Load: what every explain/simulate run does first.
    const t0 = performance.now();
    const device = pickDevice(readSynthOutput(outdir, outdir), undefined);
    const view: PolicyView = policyView({
      label: device.tenant,
      model: device.artifact.model,
      plan: device.artifact.plan,
      as3: device.as3,
      commands: device.commands,
    });
    const loadMs = performance.now() - t0;
    const stack = path.join(outdir, 'stacks', device.stack);
    const t1 = performance.now();
    JSON.parse(fs.readFileSync(path.join(stack, 'cdk.tf.json'), 'utf8'));
    JSON.parse(fs.readFileSync(path.join(stack, 'cdktf-ces', `${device.tenant}.json`), 'utf8'));
    const parseOnlyMs = performance.now() - t1;

    // The cluster: pods in every namespace, each behind one of the services service rules name.
    const rnd = random(42);
    const pods: PodInfo[] = [];
    for (let n = 0; n < namespaces; n++) {
      for (let k = 0; k < perNamespace; k++) {
        const i = pods.length;
        pods.push({
          namespace: `team-${n}`,
          name: `pod-${k}`,
          labels: { app: `svc-${Math.floor(rnd() * 7)}` },
          ips: [`10.244.${(i >> 8) & 255}.${i & 255}`],
          phase: 'Running',
        });
      }
    }
    const snapshot: ClusterSnapshot = {
      pods,
      namespaces: Array.from({ length: namespaces }, (_, n) => ({
        name: `team-${n}`,
        labels: { 'kubernetes.io/metadata.name': `team-${n}` },
      })),
      services: Array.from({ length: namespaces * 7 }, (_, j) => ({
        namespace: `team-${Math.floor(j / 7)}`,
        name: `svc-${j % 7}`,
        selector: { app: `svc-${j % 7}` },
      })),
    };
    const cluster: ClusterState = { snapshot, dns: new Map(), source: 'bench' };
    const table = new Map(Array.from({ length: 50 }, (_, k) => [`api-${k}.partner.example`, [`192.0.2.${k + 1}`]] as [string, string[]]));
    const dns: DnsAnswers = { table, origin: new Map([...table.keys()].map((k) => [k, 'bench'])) };
    const at = new Date('2026-03-02T10:00:00Z');

    // Queries aimed at the rules of the pod's namespace (hits) mixed with misses.
    const makeQuery = (): { query: ExplainQuery; pod: PodInfo } => {
      const pod = pods[Math.floor(rnd() * pods.length)];
      const n = Number(pod.namespace.slice(5));
      const i = n + namespaces * Math.floor(rnd() * Math.max(1, Math.floor(rules / namespaces)));
      const kind = rnd();
      const port = rnd() < 0.5 ? 443 : 8000 + Math.floor(rnd() * 120);
      const to =
        kind < 0.45
          ? `10.${(i >> 8) & 255}.${i & 255}.${1 + Math.floor(rnd() * 250)}:${port}`
          : kind < 0.9
            ? `api-${i % 50}.partner.example:${port}`
            : `198.51.100.${Math.floor(rnd() * 250)}:${port}`;
      return { pod, query: { from: { namespace: pod.namespace, name: pod.name }, to: parseDestination(to), at } };
    };
    const warm = Array.from({ length: Math.ceil(queries / 10) }, makeQuery);
    const timed = Array.from({ length: queries }, makeQuery);

    let decided = 0;
    const explainOnce = (q: ExplainQuery) => {
      const e = explain(view, cluster, dns, q);
      formatExplanation(e);
      return e;
    };
    const scanOnce = (q: ExplainQuery, pod: PodInfo) => {
      const to = q.to;
      const destinationIp = to.ip ?? table.get(to.host as string)?.[0];
      return evaluateIntent({
        model: view.model,
        snapshot,
        dns: table,
        flow: { pod, destinationIp, host: to.host, protocol: to.protocol, port: to.port },
        at,
      });
    };
    for (const w of warm) {
      explainOnce(w.query);
      scanOnce(w.query, w.pod);
    }
    const explainTimes: number[] = [];
    const scanTimes: number[] = [];
    // Interleaved so machine noise hits both alike.
    for (const t of timed) {
      const a = performance.now();
      const e = explainOnce(t.query);
      const b = performance.now();
      scanOnce(t.query, t.pod);
      const c = performance.now();
      explainTimes.push(b - a);
      scanTimes.push(c - b);
      if (e.flows[0].enforced.decidedBy) decided++;
    }
    const result: ExplainBenchResult = {
      rules,
      pods: pods.length,
      queries,
      explainMs: quantiles(explainTimes),
      linearScanMs: quantiles(scanTimes),
      loadMs,
      parseOnlyMs,
      decidedByRule: decided / queries,
    };
    const f = (x: number) => x.toFixed(2);
    const rows = [
      `Policy of ${rules.toLocaleString('en')} rules in ${namespaces.toLocaleString('en')} namespaces (the synth benchmark's rule shape), cluster state of ${pods.length.toLocaleString('en')} pods, ${queries.toLocaleString('en')} queries (${Math.round(result.decidedByRule * 100)} % decided by a rule).`,
      '',
      '| per query | median | p99 |',
      '|---|---|---|',
      `| explain (AFM evaluator over the rendered declaration, list state, report) | ${f(result.explainMs.median)} ms | ${f(result.explainMs.p99)} ms |`,
      `| baseline: linear scan of the model's rules (intent evaluator) | ${f(result.linearScanMs.median)} ms | ${f(result.linearScanMs.p99)} ms |`,
      `| ratio | ${(result.explainMs.median / result.linearScanMs.median).toFixed(2)}× | ${(result.explainMs.p99 / result.linearScanMs.p99).toFixed(2)}× |`,
      '',
      '| once per run | time |',
      '|---|---|',
      `| load the synth output (read, digest check, index the declaration and rules) | ${f(loadMs)} ms |`,
      `| baseline: JSON.parse of cdk.tf.json and the artifact alone | ${f(parseOnlyMs)} ms |`,
    ];
    return { rows, result };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  process.stdout.write(`${runExplainBench({ queries: Number(process.env.BENCH_QUERIES ?? 1000) }).rows.join('\n')}\n`);
}
