/**
 * Flow-log intake throughput: AFM events per second parsed, enriched (pod at the event's time
 * out of 20,000 pods with address churn, rule out of 1,000 rules) and written as JSON lines,
 * on one core, with the memory held at that rate. Not part of `npm run bench`; run it alone:
 *
 *   npx tsx -e "require('./test/bench/flowlog').runFlowlogBench().then((r) => console.log(r.rows.join('\n')))"
 *
 * FLOWLOG_EVENTS sets the number of events (default 500,000).
 */
import { Writable } from 'node:stream';
import { RuleDirectory } from '../../lib/flowlog/enrich';
import { AddressHistory } from '../../lib/flowlog/history';
import { AfmLogParser } from '../../lib/flowlog/parse';
import { FlowReceiver } from '../../lib/flowlog/receiver';
import type { PolicyModel, RuleModel } from '../../lib/policy/model';
import { testDevice } from '../support/device';

const PODS = 20_000;
const RULES = 1_000;
const DISTINCT_LINES = 10_000;

function model(): PolicyModel {
  const rules: RuleModel[] = [];
  for (let i = 0; i < RULES; i++) {
    const namespace = `ns-${i % 50}`;
    rules.push({
      level: 'namespace',
      name: `rule-${i}`,
      namespace,
      path: `bench/rule-${i}`,
      action: 'ALLOW',
      priority: 500,
      source: { level: 'namespace', namespace },
      destinations: [{ kind: 'address', text: `203.0.${i >> 8}.${i & 255}`, family: 4 }],
      ports: [{ protocol: 'tcp', fromPort: 443, toPort: 443 }],
      logging: true,
      audit: false,
      metadata: { owner: 'bench', ticket: `B-${i}` },
    });
  }
  return { device: testDevice({ tenant: 'k8s_bench' }), externalServices: [], rules };
}

const podIp = (i: number) => `10.244.${(i >> 8) & 255}.${i & 255}`;

function lines(): string[] {
  const out: string[] = [];
  for (let i = 0; i < DISTINCT_LINES; i++) {
    const rule = i % 4 === 0 ? 'default' : `n_ns-${i % 50}_rule-${i % RULES}_tcp`;
    const action = rule === 'default' ? 'Drop' : 'Accept';
    const values = [
      'Mar  2 2026 09:30:00',
      action,
      'Virtual Server',
      '/k8s_bench/egress/egress_vs',
      '/Common/Shared/k8s_bench_vs_policy',
      'Enforced',
      rule,
      podIp(i % PODS),
      String(30000 + (i % 30000)),
      `203.0.${(i >> 8) & 3}.${i & 255}`,
      '443',
      'TCP',
      '0',
    ];
    out.push(
      `<134>1 2026-03-02T09:30:${String(i % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')}Z bigip1.example.net tmm - 23003137 - ${values.map((v) => `"${v}"`).join(',')}`,
    );
  }
  return out;
}

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

export async function runFlowlogBench(
  events = Number(process.env.FLOWLOG_EVENTS ?? 500_000),
): Promise<{ rows: string[]; eventsPerSecond: number; parseOnlyPerSecond: number }> {
  const history = new AddressHistory();
  const t0 = Date.parse('2026-03-02T09:00:00Z');
  // Every pod, then a churn that moves a tenth of the addresses to new pods before the events.
  for (let i = 0; i < PODS; i++)
    history.podUpdated(t0, {
      namespace: `ns-${i % 50}`,
      name: `pod-${i}`,
      ips: [podIp(i)],
      node: `node-${i % 100}`,
      services: [`svc-${i % 500}`],
    });
  for (let i = 0; i < PODS; i += 10) {
    history.podDeleted(t0 + 60_000, { namespace: `ns-${i % 50}`, name: `pod-${i}` });
    history.podUpdated(t0 + 120_000, { namespace: `ns-${i % 50}`, name: `pod-${i}-b`, ips: [podIp(i)], node: `node-${i % 100}` });
  }
  const rules = RuleDirectory.fromModel(model());
  const input = lines();
  const parser = new AfmLogParser();

  // Parse only.
  let start = process.hrtime.bigint();
  let ok = 0;
  for (let i = 0; i < events; i++) if (parser.parse(input[i % input.length]).ok) ok++;
  const parseSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (ok !== events) throw new Error(`only ${ok} of ${events} lines parsed`);

  // The receiver's path: parse, enrich, count, queue, write (to an output that discards).
  let bytes = 0;
  const output = new Writable({
    write(chunk, _e, done) {
      bytes += chunk.length;
      done();
    },
  });
  const receiver = new FlowReceiver({ parser, history, rules, output, queueLimit: 10_000 });
  global.gc?.();
  const before = process.memoryUsage();
  let peakRss = before.rss;
  let peakHeap = before.heapUsed;
  const cpu = process.cpuUsage();
  start = process.hrtime.bigint();
  for (let i = 0; i < events; i++) {
    receiver.receive(input[i % input.length]);
    if (i % 50_000 === 0) {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
      // Let the output drain, as the event loop would between socket reads.
      await new Promise((r) => setImmediate(r));
    }
  }
  await new Promise((r) => setImmediate(r));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  const after = process.memoryUsage();
  peakRss = Math.max(peakRss, after.rss);
  peakHeap = Math.max(peakHeap, after.heapUsed);
  const rejected = (await receiver.metrics.rejected.get()).values.reduce((n, v) => n + v.value, 0);
  const eventsPerSecond = Math.round(events / seconds);
  const parseOnlyPerSecond = Math.round(events / parseSeconds);
  const rows = [
    '| measure | value |',
    '| --- | --- |',
    `| events | ${events.toLocaleString('en-US')} (${input.length.toLocaleString('en-US')} distinct lines, ${PODS.toLocaleString('en-US')} pods, ${RULES.toLocaleString('en-US')} rules) |`,
    `| parsed only | ${parseOnlyPerSecond.toLocaleString('en-US')} events/s |`,
    `| parsed, enriched, counted, written | ${eventsPerSecond.toLocaleString('en-US')} events/s (CPU ${((used.user + used.system) / 1e6 / seconds).toFixed(2)} cores) |`,
    `| JSON written | ${mib(bytes)} (${Math.round(bytes / events)} bytes/event) |`,
    `| heap used before / peak | ${mib(before.heapUsed)} / ${mib(peakHeap)} |`,
    `| RSS before / peak | ${mib(before.rss)} / ${mib(peakRss)} |`,
    `| address history | ${history.stats().intervals.toLocaleString('en-US')} intervals |`,
    `| rejected | ${rejected} |`,
  ];
  return { rows, eventsPerSecond, parseOnlyPerSecond };
}
