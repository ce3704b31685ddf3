/**
 * `cdktf-ces report`: per namespace the top denied and allowed flows with their deciding rules,
 * the rules that never matched, the audit rules that would have blocked live traffic, and the
 * data-flow picture.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readSynthOutput } from '../../lib/analysis/synth-output';
import { cli, write } from '../cli/support';
import { demoFlowLines, synthDemo } from './support';

let dir: string;

beforeAll(() => {
  dir = synthDemo();
  write(dir, 'flows.jsonl', demoFlowLines(readSynthOutput('cdktf.out', dir)[0].artifact.model));
});

test('text report for a time range', async () => {
  const r = await cli(dir, 'report', 'flows.jsonl', '--since', '2026-03-02T09:00:00Z', '--until', '2026-03-02T09:30:00Z', '--top', '3');
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(r.stdout).toBe(
    [
      'Flows of egress/k8s_demo (egress/Bigip), 2026-03-02T09:00:00.000Z to 2026-03-02T09:30:00.000Z: 21 events in 9 flows',
      '',
      'namespace payments',
      '  top denied (3 of 4):',
      '    4  payments/settle-1 -> 203.0.113.7:8443  deny  device default',
      '    2  payments/checkout -> 192.0.2.25:25     deny  device default',
      '    2  payments/settle-1 -> 203.0.113.9:8443  deny  device default',
      '  top allowed (2 of 2):',
      '    5  payments/checkout -> 10.96.0.10:53/udp  allow  ClusterEgressRule allow-dns',
      '    3  payments/settle-1 -> 198.51.100.12:22   allow  NamespaceEgressRule payments/bank-sftp',
      '',
      'namespace web',
      '  top denied (1 of 1):',
      '    1  web/frontend -> 198.51.100.80:443  deny  device default',
      '  top allowed (0 of 0):',
      '    none',
      '',
      'no pod held the source address',
      '  top denied (1 of 1):',
      '    1  10.244.9.9 -> 203.0.113.7:443  deny  device default',
      '  top allowed (0 of 0):',
      '    none',
      '',
      'Rules that never matched (1 of 4 rules that log):',
      '  NamespaceEgressRule payments/backups (ALLOW; owner team-payments, ticket PAY-31) at egress/Backups',
      '  not logged, so not seen either way: ServiceEgressRule payments/checkout-to-stripe',
      '',
      'Audit rules that would have blocked live traffic (1):',
      '  ClusterEgressRule no-smtp (REJECT, audit; owner security, ticket SEC-9) at egress/NoSmtp: 2 events in 1 flow',
      '    2  payments/checkout -> 192.0.2.25:25  reject  ClusterEgressRule no-smtp',
      '',
    ].join('\n'),
  );
});

test('the range is applied: the event at 09:59 counts only without --until', async () => {
  const all = await cli(dir, 'report', 'flows.jsonl');
  expect(all.stdout.split('\n')[0]).toBe(
    'Flows of egress/k8s_demo (egress/Bigip), 2026-03-02T09:01:00.000Z to 2026-03-02T09:59:00.000Z: 22 events in 9 flows',
  );
  expect(all.stdout).toContain('    5  payments/settle-1 -> 203.0.113.7:8443  deny  device default');
  const late = await cli(dir, 'report', 'flows.jsonl', '--since', '2026-03-02T09:30:00Z');
  expect(late.stdout.split('\n')[0]).toBe(
    'Flows of egress/k8s_demo (egress/Bigip), 2026-03-02T09:30:00.000Z to 2026-03-02T09:59:00.000Z: 1 event in 1 flow',
  );
});

test('SVG and HTML: workloads to destinations, coloured by verdict, counts and deciders; dashed for would-be verdicts', async () => {
  const r = await cli(dir, 'report', 'flows.jsonl', '--svg', 'flows.svg', '--html', 'flows.html');
  expect(r.code).toBe(0);
  expect(r.stderr).toBe('wrote the flow picture to flows.svg\nwrote the flow report to flows.html\n');
  const svg = fs.readFileSync(path.join(dir, 'flows.svg'), 'utf8');
  expect(svg).toContain('<svg');
  for (const text of [
    '(no pod)',
    'payments/settle&#45;1',
    '203.0.113.7:8443',
    '5× deny',
    'device default',
    '2× would reject',
    'ClusterEgressRule no&#45;smtp',
  ])
    expect(svg).toContain(text);
  expect(svg).toMatch(/stroke="#c62828"/);
  expect(svg).toMatch(/stroke="#2e7d32"/);
  expect(svg).toMatch(/stroke-dasharray/);
  const page = fs.readFileSync(path.join(dir, 'flows.html'), 'utf8');
  expect(page.startsWith('<!doctype html>')).toBe(true);
  expect(page).toContain('<pre>Flows of egress/k8s_demo');
  expect(page).toContain('payments/settle-1 -&gt; 203.0.113.7:8443');
});

test('lines that are not flow records are skipped and counted, whatever they hold', async () => {
  const good = fs.readFileSync(path.join(dir, 'flows.jsonl'), 'utf8').split('\n')[0];
  const evil = JSON.parse(good);
  evil.source.namespace = 'pay\u001b[2Jments';
  write(
    dir,
    'mixed.jsonl',
    ['not json', JSON.stringify(evil), JSON.stringify({ ...JSON.parse(good), verdict: 'maybe' }), good, ''].join('\n'),
  );
  const r = await cli(dir, 'report', 'mixed.jsonl');
  expect(r.code).toBe(0);
  expect(r.stderr).toBe('3 lines skipped: not flow records of the receiver (first: mixed.jsonl line 1)\n');
  expect(r.stdout.split('\n')[0]).toBe(
    'Flows of egress/k8s_demo (egress/Bigip), 2026-03-02T09:01:00.000Z to 2026-03-02T09:01:00.000Z: 1 event in 1 flow',
  );
});

test('bad options are one line each', async () => {
  expect((await cli(dir, 'report', 'flows.jsonl', '--top', '0')).stderr).toBe(
    'cdktf-ces report: --top (got "0"); give a whole number from 1 to 9999\n',
  );
  expect((await cli(dir, 'report', 'nope.jsonl')).stderr).toBe(
    'cdktf-ces report: flow log file not found (got "nope.jsonl"); name files of JSON lines written by the flow-log receiver, or - for standard input\n',
  );
  expect((await cli(dir, 'report', 'flows.jsonl', '--since', '2026-03-02T10:00:00Z', '--until', '2026-03-02T09:00:00Z')).code).toBe(2);
});
