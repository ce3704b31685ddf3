/**
 * simulate for CI: per-row resolve, device, decidedBy and wouldBe; JSON and JUnit reports.
 */
import fc from 'fast-check';
import { buildPayments } from '../../examples/payments/main';
import { xmlText } from '../../lib/cli/commands/simulate';
import { cli, synthInto, write } from './support';

let payments: string;

beforeAll(() => {
  payments = synthInto(buildPayments);
});

const FLOWS = `- { from: payments/checkout, to: "api.stripe.com:443", resolve: [198.51.100.80], expect: allow, decidedBy: payments/checkout-to-stripe }
- { from: payments/checkout, to: "smtp.example.net:25", resolve: 192.0.2.25, expect: deny, wouldBe: reject, decidedBy: device default }
- { from: payments/settlement, to: "support.terminal-vendor.example:22", resolve: [198.51.100.90], expect: allow, at: "2026-11-22T10:00:00+01:00" }
- { from: payments/comments, to: "10.96.0.10:53/udp", expect: allow, decidedBy: payments/allow-dns }
`;

const AT = ['--at', '2026-11-23T10:00:00Z'];

describe('simulate rows', () => {
  test('text: decidedBy and wouldBe are checked; each mismatch is named under the table', async () => {
    write(payments, 'flows.yaml', FLOWS);
    const r = await cli(payments, 'simulate', 'flows.yaml', ...AT);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      [
        '#  from                 to                                                             expected                actual                         decided by',
        '1  payments/checkout    api.stripe.com:443                                             allow                   allow                          ServiceEgressRule payments/checkout-to-stripe (ALLOW, service)  ok',
        '2  payments/checkout    smtp.example.net:25                                            deny [would be reject]  deny (drop) [would be reject]  device default                                                  ok',
        '3  payments/settlement  support.terminal-vendor.example:22 @2026-11-22T10:00:00+01:00  allow                   deny (drop)                    device default                                                  MISMATCH',
        '4  payments/comments    10.96.0.10:53/udp                                              allow                   allow                          ClusterEgressRule allow-dns (ALLOW_FINAL, cluster)              MISMATCH',
        '',
        'row 3: expected allow, got deny (drop)',
        'row 4: expected decided by payments/allow-dns, got ClusterEgressRule allow-dns (ALLOW_FINAL, cluster)',
        '',
        '2 of 4 flows as expected; 2 mismatches (device payments/k8s_payments_prod (payments/Bigip))',
        '',
      ].join('\n'),
    );
  });

  test('a row\'s "resolve" is what lets address rules see the host: without it the verdict differs', async () => {
    // files.bank.example is in no rule by name; its address is in the range of bank-sftp.
    write(
      payments,
      'one.yaml',
      '- { from: payments/settlement, to: "files.bank.example:22", resolve: [198.51.100.15], expect: allow, decidedBy: payments/bank-sftp }\n',
    );
    expect((await cli(payments, 'simulate', 'one.yaml', ...AT)).code).toBe(0);
    write(payments, 'two.yaml', '- { from: payments/settlement, to: "files.bank.example:22", expect: allow }\n');
    expect((await cli(payments, 'simulate', 'two.yaml', ...AT)).code).toBe(1);
    // Only for that row.
    write(
      payments,
      'three.yaml',
      '- { from: payments/settlement, to: "files.bank.example:22", resolve: [198.51.100.15], expect: allow }\n- { from: payments/settlement, to: "files.bank.example:22", expect: deny }\n',
    );
    expect((await cli(payments, 'simulate', 'three.yaml', ...AT)).code).toBe(0);
  });

  test('a wrong wouldBe is a mismatch even when the enforced verdict holds', async () => {
    write(payments, 'audit.yaml', '- { from: payments/checkout, to: "192.0.2.25:25", expect: deny, wouldBe: allow }\n');
    const r = await cli(payments, 'simulate', 'audit.yaml', ...AT);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('row 1: expected allow with audit rules enforced, got reject\n');
  });

  test('per-row device: shown as a column, and a device the output lacks is bad input naming the row', async () => {
    write(payments, 'dev.yaml', '- { device: k8s_payments_prod, from: payments/checkout, to: "192.0.2.25:25", expect: deny }\n');
    const ok = await cli(payments, 'simulate', 'dev.yaml', ...AT);
    expect(ok.code).toBe(0);
    expect(ok.stdout.split('\n')[1]).toBe(
      '1  k8s_payments_prod  payments/checkout  192.0.2.25:25  deny      deny (drop) [would be reject]  device default  ok',
    );
    write(payments, 'nodev.yaml', '- { device: k8s_nope, from: payments/checkout, to: "192.0.2.25:25", expect: deny }\n');
    const bad = await cli(payments, 'simulate', 'nodev.yaml', ...AT);
    expect(bad).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'cdktf-ces simulate: nodev.yaml row 1 field "device": --device names no device of the synth output (got "k8s_nope"); use one of: payments/k8s_payments_prod (payments/Bigip) (a tenant, a cluster name, <stack>/<tenant> or a construct path)\n',
    });
  });

  test.each([
    [
      '- { from: payments/checkout, to: "192.0.2.1:443", resolve: [192.0.2.2], expect: deny }',
      'x.yaml row 1: field "resolve" for an address (got ["192.0.2.2"]); "resolve" gives the DNS answers of a host name; 192.0.2.1:443 is an address already: drop the field',
    ],
    [
      '- { from: payments/checkout, to: "a.example:443", resolve: [nope], expect: deny }',
      'x.yaml row 1 field "resolve": not an IP address for a.example (got "nope"); write addresses like 203.0.113.10 or 2001:db8::10',
    ],
    [
      '- { from: payments/checkout, to: "a.example:443", resolve: { a: 1 }, expect: deny }',
      'x.yaml row 1: field "resolve" (got {"a":1}); write the addresses of a.example as a list, such as resolve: [203.0.113.10, 2001:db8::10]',
    ],
    [
      '- { from: payments/checkout, to: "a.example:443", expect: deny, wouldBe: dropped }',
      'x.yaml row 1: field "wouldBe" (got "dropped"); write the verdict with audit rules enforced: allow, deny (drop or reject) or reject',
    ],
    [
      '- { from: payments/checkout, to: "a.example:443", expect: deny, decidedBy: "" }',
      'x.yaml row 1: field "decidedBy" (got ""); write the rule, such as "ServiceEgressRule payments/checkout-to-stripe", "payments/checkout-to-stripe" or "device default"',
    ],
  ])('bad row %s', async (row, message) => {
    write(payments, 'x.yaml', `${row}\n`);
    const r = await cli(payments, 'simulate', 'x.yaml', ...AT);
    expect(r).toEqual({ code: 2, stdout: '', stderr: `cdktf-ces simulate: ${message}\n` });
  });
});

describe('simulate --format', () => {
  beforeAll(() => write(payments, 'flows.yaml', FLOWS));

  test('junit: one testcase per row, failures with the reasons; no timestamps', async () => {
    const r = await cli(payments, 'simulate', 'flows.yaml', ...AT, '--format', 'junit');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(`<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="cdktf-ces simulate" tests="4" failures="2" errors="0">
  <testsuite name="flows.yaml" tests="4" failures="2" errors="0" skipped="0">
    <testcase classname="payments/k8s_payments_prod (payments/Bigip)" name="1: payments/checkout -&gt; api.stripe.com:443 expect allow"/>
    <testcase classname="payments/k8s_payments_prod (payments/Bigip)" name="2: payments/checkout -&gt; smtp.example.net:25 expect deny"/>
    <testcase classname="payments/k8s_payments_prod (payments/Bigip)" name="3: payments/settlement -&gt; support.terminal-vendor.example:22 @2026-11-22T10:00:00+01:00 expect allow">
      <failure type="mismatch" message="expected allow, got deny (drop)">expected allow, got deny (drop)
decided by device default
would be with audit rules enforced: deny (drop)</failure>
    </testcase>
    <testcase classname="payments/k8s_payments_prod (payments/Bigip)" name="4: payments/comments -&gt; 10.96.0.10:53/udp expect allow">
      <failure type="mismatch" message="expected decided by payments/allow-dns, got ClusterEgressRule allow-dns (ALLOW_FINAL, cluster)">expected decided by payments/allow-dns, got ClusterEgressRule allow-dns (ALLOW_FINAL, cluster)
decided by ClusterEgressRule allow-dns (ALLOW_FINAL, cluster)
would be with audit rules enforced: allow</failure>
    </testcase>
  </testsuite>
</testsuites>
`);
  });

  test('junit escapes what it quotes: a file name with XML characters', async () => {
    write(payments, 'a&b<"c">.yaml', '- { from: payments/checkout, to: "192.0.2.25:25", expect: allow }\n');
    const r = await cli(payments, 'simulate', 'a&b<"c">.yaml', ...AT, '--format', 'junit');
    expect(r.stdout).toContain('<testsuite name="a&amp;b&lt;&quot;c&quot;&gt;.yaml" tests="1" failures="1" errors="0" skipped="0">');
  });

  test('xmlText: the five special characters as entities, characters XML cannot hold as \\uXXXX', () => {
    expect(xmlText(`a&b<c>"d"'e'`)).toBe('a&amp;b&lt;c&gt;&quot;d&quot;&apos;e&apos;');
    expect(xmlText('x\u0000y\u001bz\u0007\tok\n')).toBe('x\\u0000y\\u001bz\\u0007\tok\n');
    expect(xmlText('lone \ud800 pair \ud83d\ude00')).toBe('lone \\ud800 pair \ud83d\ude00');
  });

  test('xmlText: any text becomes XML 1.0 character data that reads back as the text (escapes aside)', () => {
    const XML_CHAR = /^[\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]*$/u;
    const unescape = (t: string) =>
      t.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e] as string);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (text) => {
        const out = xmlText(text);
        expect(out).toMatch(XML_CHAR);
        expect(out).not.toMatch(/[<>"']|&(?!(lt|gt|quot|apos|amp);)/);
        if (XML_CHAR.test(text) && !text.includes('\\u')) expect(unescape(out)).toBe(text);
      }),
      { numRuns: 200 },
    );
  });

  test('json: one object per row', async () => {
    const r = await cli(payments, 'simulate', 'flows.yaml', ...AT, '--format', 'json');
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout);
    expect(json).toMatchObject({ format: 'cdktf-ces.dev/simulate/v1', file: 'flows.yaml', passed: 2, failed: 2 });
    expect(json.rows[1]).toEqual({
      row: 2,
      device: 'payments/k8s_payments_prod (payments/Bigip)',
      from: 'payments/checkout',
      to: 'smtp.example.net:25',
      resolve: ['192.0.2.25'],
      expect: 'deny',
      expectWouldBe: 'reject',
      expectDecidedBy: 'device default',
      actual: 'deny (drop)',
      wouldBe: 'reject',
      decidedBy: ['device default'],
      ok: true,
      problems: [],
    });
  });

  test('an unknown format is bad input', async () => {
    const r = await cli(payments, 'simulate', 'flows.yaml', '--format', 'xml');
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'cdktf-ces simulate: --format (got "xml"); use one of text, json, junit\n' });
  });
});
