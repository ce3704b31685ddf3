import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, TerraformStack } from 'cdktf';
import { buildPayments } from '../../examples/payments/main';
import { buildPlatform } from '../../examples/platform-module/main';
import { buildSecurityBaseline } from '../../examples/security-baseline/main';
import { ClusterEgressRule, EgressAction, EgressDestination, EgressPort, Weekday } from '../../lib';
import { ARTIFACT_DIR } from '../../lib/constructs/afm-device';
import { ARTIFACT_FOLDER } from '../../lib/analysis/synth-output';
import { deviceStack } from '../support/app';
import { STATE_YAML, cli, synthInto, write } from './support';

let payments: string;
let platform: string;
let baseline: string;

beforeAll(() => {
  payments = synthInto(buildPayments);
  platform = synthInto(buildPlatform);
  baseline = synthInto(buildSecurityBaseline);
});

const device = ['--device', 'k8s_payments_prod'];

/** The lines of the three levels of the enforced path. */
function levels(stdout: string): string[] {
  return stdout.split('\n').filter((l) => /^ {2}[123] (cluster|namespace|service)/.test(l));
}

describe('explain (payments example, no cluster state)', () => {
  test('checkout may reach api.stripe.com:443: the service rule decides, in the virtual-server context', async () => {
    const r = await cli(
      payments,
      'explain',
      '--from',
      'payments/checkout',
      '--to',
      'api.stripe.com:443',
      '--resolve',
      'api.stripe.com=203.0.113.10',
      '--at',
      '2026-03-02T10:00:00Z',
    );
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(
      'from:        a pod of namespace payments selected by Service checkout (hypothetical: no cluster state given)',
    );
    expect(r.stdout).toContain('verdict: ALLOW');
    expect(levels(r.stdout)).toEqual([
      '  1 cluster   global context          no match',
      '  2 namespace route-domain context    no match',
      '  3 service   virtual-server context  ServiceEgressRule payments/checkout-to-stripe → ALLOW  [s_payments_checkout-to-stripe_tcp]',
    ]);
    expect(r.stdout).toContain('decided by ServiceEgressRule payments/checkout-to-stripe (ALLOW) at payments/CheckoutToStripe');
    expect(r.stdout).toContain(
      'AFM: virtual-server context, rule s_payments_checkout-to-stripe_tcp of rule list /Common/Shared/k8s_payments_prod_service_rules in policy /Common/Shared/k8s_payments_prod_vs_policy → accept',
    );
  });

  test('an unresolved host stands for an address no rule lists: FQDN entries match by name, 0.0.0.0/0 still applies', async () => {
    const ok = await cli(payments, 'explain', '--from', 'payments/checkout', '--to', 'api.stripe.com:443');
    expect(ok.stdout).toContain(
      'note:        api.stripe.com is not resolved (give --resolve api.stripe.com=<ip>): evaluated for 198.18.0.1 and 100::1, an address no rule lists',
    );
    expect(ok.stdout).toContain('packet 10.244.0.10 → 198.18.0.1:443/tcp (host api.stripe.com, unresolved: an address no rule lists)');
    expect(ok.stdout).toContain('verdict: ALLOW');
    const no = await cli(payments, 'explain', '--from', 'payments/comments', '--to', 'api.stripe.com:443');
    expect(no.stdout).toContain('verdict: DENY (drop)');
  });

  test("comments may not reach the bank's SFTP: the service DENY overrides the namespace ALLOW", async () => {
    const r = await cli(payments, 'explain', '--from', 'payments/comments', '--to', 'sftp.bank.example:22');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('verdict: DENY (drop)');
    expect(levels(r.stdout)[1]).toContain('NamespaceEgressRule payments/bank-sftp → ALLOW');
    expect(levels(r.stdout)[2]).toContain('ServiceEgressRule payments/comments-no-egress → DENY');
  });

  test('another pod of the namespace reaches the SFTP range through the carried ALLOW', async () => {
    const r = await cli(payments, 'explain', '--from', 'payments/web', '--to', '198.51.100.15:22');
    expect(r.stdout).toContain('verdict: ALLOW');
    expect(levels(r.stdout)[2]).toContain('no service rule matched → carried ALLOW of NamespaceEgressRule payments/bank-sftp accepts');
    expect(r.stdout).toContain('decided by NamespaceEgressRule payments/bank-sftp (ALLOW) at payments/BankSftp');
    expect(r.stdout).toContain('rule list /Common/Shared/k8s_payments_prod_carried_allow');
  });

  test('DNS is decided at the cluster level; the lower levels are not consulted', async () => {
    const r = await cli(payments, 'explain', '--from', 'payments/comments', '--to', '10.96.0.10:53/udp');
    expect(r.stdout).toContain('decided by ClusterEgressRule allow-dns (ALLOW_FINAL)');
    expect(
      levels(r.stdout)
        .slice(1)
        .every((l) => l.includes('not consulted')),
    ).toBe(true);
  });

  test('nothing allows it: the device default decides', async () => {
    const r = await cli(payments, 'explain', '--from', 'payments/web', '--to', '[2001:db8::10]:443');
    expect(r.stdout).toContain('verdict: DENY (drop)');
    expect(r.stdout).toContain('decided by the device default');
    expect(levels(r.stdout)[2]).toContain('no service rule matched → device default: drop  [default]');
  });

  test('a host that resolves to several addresses is explained per address', async () => {
    const r = await cli(
      payments,
      'explain',
      '--from',
      'payments/checkout',
      '--to',
      'api.stripe.com:443',
      '--resolve',
      'api.stripe.com=203.0.113.10,2001:db8::10',
    );
    expect(r.stdout).toContain('(resolves to 203.0.113.10, 2001:db8::10: --resolve)');
    expect(r.stdout).toContain('packet 10.244.0.10 → 203.0.113.10:443/tcp (host api.stripe.com)');
    expect(r.stdout).toContain('packet fd00:10:244::a → [2001:db8::10]:443/tcp (host api.stripe.com)');
  });

  test('--json gives the explanation as data', async () => {
    const r = await cli(payments, 'explain', '--from', 'payments/checkout', '--to', 'api.stripe.com:443', '--json', ...device);
    const data = JSON.parse(r.stdout);
    expect(data.verdict).toBe('allow');
    expect(data.flows[0].enforced.decidedBy).toMatchObject({
      key: 'service/payments/checkout-to-stripe',
      kind: 'ServiceEgressRule',
      path: 'payments/CheckoutToStripe',
    });
  });
});

describe('explain with cluster state', () => {
  let state: string;
  beforeAll(() => {
    state = write(payments, 'state.yaml', STATE_YAML);
  });

  test('a Service picks one of the pods it selects; DNS answers come from the state file', async () => {
    const r = await cli(payments, 'explain', '--from', 'payments/checkout', '--to', 'api.stripe.com:443', '--state', 'state.yaml');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      'from:        pod payments/checkout-7d9f-abcde (10.244.3.17, fd00:10:244::3:17; Running), the pod Service checkout selects',
    );
    expect(r.stdout).toContain('(resolves to 203.0.113.10: DnsAnswers in state.yaml)');
    expect(r.stdout).toContain('verdict: ALLOW');
  });

  test('a pod by name; a terminating pod is in no source list, so only rules over the pod CIDRs and the default apply to it', async () => {
    const ok = await cli(payments, 'explain', '--from', 'payments/checkout-7d9f-abcde', '--to', '10.96.0.10:53/udp', '--state', state);
    expect(ok.stdout).toContain('decided by ClusterEgressRule allow-dns');
    const gone = await cli(payments, 'explain', '--from', 'payments/comments-5c8-xyz', '--to', '10.96.0.10:53/udp', '--state', state);
    expect(gone.stdout).toContain(
      'note:        payments/comments-5c8-xyz is terminating: its addresses are in no source list, so only cluster rules that match the pod CIDRs themselves (DENY, REJECT and ALLOW_FINAL over every pod) cover it',
    );
    // The cluster's ALLOW_FINAL over every pod matches its address in the pod CIDRs.
    expect(gone.stdout).toContain('decided by ClusterEgressRule allow-dns (ALLOW_FINAL)');
    const smtp = await cli(payments, 'explain', '--from', 'payments/comments-5c8-xyz', '--to', '192.0.2.25:25', '--state', state);
    expect(smtp.stdout).toContain('decided by the device default');
  });

  test.each([
    [
      ['--from', 'payment/checkout'],
      /--from names a namespace that the state file state.yaml does not have \(got "payment\/checkout"\); known namespaces: payments/,
    ],
    [['--from', 'payments/nope'], /--from names no Pod or Service of namespace payments in state.yaml \(got "payments\/nope"\)/],
    [['--from', 'payments/batch-1'], /without an address/],
    [['--from', 'payments/legacy-db'], /Service payments\/legacy-db has no selector/],
    [['--from', 'payments/checkout-7d9f-abcde', '--labels', 'app=x'], /--labels describes a hypothetical pod/],
  ])('%j is refused', async (args, message) => {
    const r = await cli(payments, 'explain', ...args, '--to', '10.96.0.10:53/udp', '--state', 'state.yaml');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe('explain: audit, windows and shared BIG-IPs', () => {
  test('an audit rule shows its would-be verdict next to the real one', async () => {
    const dir = synthInto((app) => {
      const { device: d } = deviceStack({}, app as App);
      new ClusterEgressRule(TerraformStack.of(d), 'TrialBlock', {
        device: d,
        action: EgressAction.DENY,
        audit: true,
        priority: 1,
        destinations: [EgressDestination.cidr('198.51.100.0/24')],
      });
      new ClusterEgressRule(TerraformStack.of(d), 'Office', {
        device: d,
        action: EgressAction.ALLOW_FINAL,
        destinations: [EgressDestination.anyIpv4()],
        ports: [EgressPort.HTTPS],
        schedule: { daysOfWeek: [Weekday.MONDAY], startTime: '09:00', endTime: '17:00', timeZone: 'UTC' },
      });
    });
    const inside = await cli(dir, 'explain', '--from', 'web/frontend', '--to', '198.51.100.7:443', '--at', '2026-03-02T10:00:00Z');
    expect(inside.stdout).toContain('verdict: ALLOW');
    expect(inside.stdout).toContain('would be with audit rules enforced: DENY (drop)');
    expect(inside.stdout).toContain('would be (staged policies, audit rules enforced): DENY (drop)');
    expect(inside.stdout).toContain('decided by ClusterEgressRule trial-block (DENY, audit)');
    const outside = await cli(dir, 'explain', '--from', 'web/frontend', '--to', '192.0.2.7:443', '--at', '2026-03-02T17:00:00Z');
    expect(outside.stdout).toContain('verdict: DENY (drop)');
    expect(outside.stdout).not.toContain('would be');
  });

  test('a device on a shared BIG-IP is evaluated with the shared declaration and its commands', async () => {
    const several = await cli(platform, 'explain', '--from', 'analytics/etl', '--to', 'warehouse.example.com:443');
    expect(several.code).toBe(2);
    expect(several.stderr).toMatch(
      /several devices \(got east-egress\/k8s_east \(east-egress\/Bigip\), west-egress\/k8s_west \(west-egress\/Bigip\)\); choose one with --device <device>/,
    );
    const r = await cli(platform, 'explain', '--device', 'k8s_west', '--from', 'analytics/etl', '--to', '203.0.113.9:443');
    expect(r.stdout).toContain('decided by ClusterEgressRule block-c2 (DENY) at west-egress/BlockC2');
    expect(r.stdout).toMatch(/in policy \/Common\/Shared\/\w+_global_policy → drop/);
  });
});

describe('simulate', () => {
  const rows = `- { from: payments/checkout, to: "api.stripe.com:443", expect: allow }
- { from: payments/comments, to: "api.stripe.com:443", expect: deny }
- { from: payments/comments, to: "10.96.0.10:53/udp", expect: allow }
- { from: payments/web, to: "198.51.100.15:22", expect: allow, labels: { tier: web } }
- { from: payments/web, to: "198.51.100.15:22", expect: deny, at: 2026-03-02T10:00:00Z, labels: "tier=web" }
`;

  test('prints a table and exits 1 when a row differs', async () => {
    write(payments, 'flows.yaml', rows);
    const r = await cli(payments, 'simulate', 'flows.yaml');
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^#\s+from\s+to\s+expected\s+actual\s+decided by$/);
    expect(lines[1]).toMatch(
      /^1\s+payments\/checkout\s+api\.stripe\.com:443\s+allow\s+allow\s+ServiceEgressRule payments\/checkout-to-stripe \(ALLOW, service\)\s+ok$/,
    );
    expect(lines[2]).toMatch(/deny\s+deny \(drop\)\s+ServiceEgressRule payments\/comments-no-egress \(DENY, service\)\s+ok$/);
    expect(lines[5]).toMatch(
      /@2026-03-02T10:00:00Z\s+deny\s+allow\s+NamespaceEgressRule payments\/bank-sftp \(ALLOW, namespace\)\s+MISMATCH$/,
    );
    expect(r.stdout).toContain('4 of 5 flows as expected; 1 mismatch');
  });

  test('exits 0 when every row is as expected', async () => {
    write(
      payments,
      'good.yaml',
      `flows:\n${rows
        .split('\n')
        .slice(0, 4)
        .map((l) => `  ${l}`)
        .join('\n')}\n`,
    );
    const r = await cli(payments, 'simulate', 'good.yaml');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('4 of 4 flows as expected');
  });

  test.each([
    [
      '- { from: payments/checkout, to: "api.stripe.com:443", expects: allow }',
      /flows.yaml row 1: unknown field \(got "expects"\); fields are from, to, expect, at, labels, namespaceLabels/,
    ],
    [
      '- { from: payments/checkout, to: "api.stripe.com:443" }',
      /row 1: field "expect" is missing or not text \(got null\); write expect: allow or expect: deny/,
    ],
    ['- { from: payments/checkout, to: "api.stripe.com:443", expect: maybe }', /row 1: field "expect" \(got "maybe"\)/],
    [
      '- { from: payments/checkout, to: "api.stripe.com", expect: allow }',
      /row 1 field "to" \(got "api.stripe.com"\); a tcp destination needs a port/,
    ],
    [
      '- { from: checkout, to: "api.stripe.com:443", expect: allow }',
      /row 1 field "from" \(got "checkout"\); write <namespace>\/<pod-or-service>/,
    ],
    ['- { from: payments/checkout, to: "a:1", expect: allow, at: yesterday }', /row 1 field "at" \(got "yesterday"\)/],
    ['from: payments/checkout', /holds no flows/],
    ['- [1, 2]', /row 1 is not a mapping/],
  ])('bad flows file %j', async (text, message) => {
    write(payments, 'flows.yaml', `${text}\n`);
    const r = await cli(payments, 'simulate', 'flows.yaml');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe('graph', () => {
  test('mermaid: levels with their rules in order, sources, destinations and ports', async () => {
    const r = await cli(baseline, 'graph');
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('flowchart LR\n')).toBe(true);
    expect(r.stdout).toContain('  subgraph cluster["1 · cluster rules (AFM global context)"]');
    const order = [
      '1. block-c2<br/>DENY · priority 0',
      '2. allow-dns<br/>ALLOW_FINAL · priority 100',
      '3. allow-ntp<br/>ALLOW_FINAL · priority 100',
    ].map((t) => r.stdout.indexOf(t));
    expect(order.every((i, k) => i > 0 && (k === 0 || i > order[k - 1]))).toBe(true);
    expect(r.stdout).toMatch(/s0\(\["all pods of the cluster"\]\)/);
    expect(r.stdout).toMatch(/r1 -->\|"udp\/53, tcp\/53"\| d\d/);
    expect(r.stdout).toContain('class r0 deny');
  });

  test('dot, and svg written to a file', async () => {
    const dot = await cli(baseline, 'graph', '--format', 'dot');
    expect(dot.stdout).toMatch(/^digraph egress \{/);
    expect(dot.stdout).toContain('subgraph cluster_1 {');
    const svg = await cli(baseline, 'graph', '--format', 'svg', '-o', 'policy.svg');
    expect(svg).toMatchObject({ code: 0, stdout: '' });
    const text = fs.readFileSync(path.join(baseline, 'policy.svg'), 'utf8');
    expect(text).toContain('<svg');
    expect(text).toContain('1. block&#45;c2');
  });
});

describe('bad input: one line on stderr, exit code 2', () => {
  test.each([
    [
      ['explain', '--from', 'payments/checkout', '--to', 'api.stripe.com:443', '--out', 'nowhere'],
      /no synth output directory \(got "nowhere"\); run "cdktf synth" first/,
    ],
    [['explain', '--frm', 'payments/checkout'], /unknown option for "explain" \(got "--frm"\); run "cdktf-ces explain --help"/],
    [['explain', '--from', 'payments/checkout'], /explain needs --to/],
    [['explain', '--from', 'payments/checkout', '--to'], /option --to of "explain" \(got no value\)/],
    [['explain', '--from', 'payments/checkout', '--to', 'api.stripe.com'], /--to \(got "api.stripe.com"\); a tcp destination needs a port/],
    [['explain', '--from', 'payments/checkout', '--to', '0.0.0.0/0:25'], /not a CIDR; name one address/],
    [['explain', '--from', 'payments/checkout', '--to', '2001:db8::1:443'], /write an IPv6 address in brackets/],
    [['explain', '--from', 'payments/checkout', '--to', 'api.stripe.com:70000'], /the port must be a whole number from 1 to 65535/],
    [['explain', '--from', 'payments/checkout', '--to', 'api.stripe.com:443/tpc'], /"tpc" is not an AFM protocol name/],
    [['explain', '--from', 'payments/checkout', '--to', '192.0.2.1/icmp', '--at', 'tomorrow'], /--at \(got "tomorrow"\)/],
    [
      ['explain', '--from', 'payments/checkout', '--to', '192.0.2.1:443', '--device', 'k8s_nope'],
      /--device names no device of the synth output \(got "k8s_nope"\); use one of: payments\/k8s_payments_prod \(payments\/Bigip\)/,
    ],
    [
      ['explain', '--from', 'payments/checkout', '--to', '192.0.2.1:443', '--kubeconfig', 'kube.yaml'],
      /cannot read the --kubeconfig file \(got "kube.yaml"\); it does not exist; point --kubeconfig at the kubeconfig of the cluster/,
    ],
    [
      ['explain', '--from', 'payments/checkout', '--to', '192.0.2.1:443', '--state', 'missing.yaml'],
      /cannot read the --state file \(got "missing.yaml"\); it does not exist/,
    ],
    [
      ['explain', '--from', 'payments/checkout', '--to', '192.0.2.1:443', '--resolve', 'api.stripe.com'],
      /--resolve \(got "api.stripe.com"\); write it as name=ip/,
    ],
    [['simulate'], /simulate needs a flows file/],
    [['simulate', 'nothing.yaml'], /cannot read the flows file \(got "nothing.yaml"\)/],
    [['graph', '--format', 'png'], /--format \(got "png"\); use one of mermaid, dot, svg/],
    [['deploy'], /unknown command \(got "deploy"\)/],
  ])('%j', async (argv, message) => {
    const r = await cli(payments, ...argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stdout).toBe('');
  });

  test('a stale output (the AS3 JSON changed after synth) is refused', async () => {
    const dir = synthInto(buildPayments);
    const file = path.join(dir, 'cdktf.out', 'stacks', 'payments', 'cdk.tf.json');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('Stripe payments API', 'Stripe payments api'));
    const r = await cli(dir, 'graph');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /stale synth output: the AS3 JSON in cdktf.out\/stacks\/payments\/cdk.tf.json does not match cdktf.out\/stacks\/payments\/cdktf-ces\/k8s_payments_prod.json .*run "cdktf synth" again/,
    );
  });

  test("a stale shared declaration (another cluster's synth) is refused", async () => {
    const dir = synthInto(buildPlatform);
    const file = path.join(dir, 'cdktf.out', 'stacks', 'bigip-dc1', 'cdk.tf.json');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/203\.0\.113\.0\/24/, '203.0.114.0/24'));
    const r = await cli(dir, 'graph', '--device', 'k8s_east');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/stale synth output: \/Common\/Shared\/k8s_east_dst_\w+ of device east-egress\/Bigip/);
  });

  test('without a command: the usage on stderr, exit 2; --help: usage on stdout', async () => {
    const none = await cli(payments);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('usage: cdktf-ces <command> [options]');
    const help = await cli(payments, 'explain', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--to <host>:<port>[/<protocol>]');
  });
});

test('the tool looks for artifacts where AfmDevice writes them', () => {
  expect(ARTIFACT_FOLDER).toBe(ARTIFACT_DIR);
});

describe('as a real process', () => {
  const root = path.resolve(__dirname, '../..');
  const main = path.join(root, 'lib', 'cli', 'main.ts');
  const tsx = path.join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const spawn = (...argv: string[]) =>
    spawnSync(process.execPath, [tsx, main, ...argv], { cwd: payments, encoding: 'utf8', timeout: 60_000 });

  test('has a node shebang', () => {
    expect(fs.readFileSync(main, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  });

  test('explain over a synthesized example exits 0 and prints the verdict', () => {
    const r = spawn('explain', '--from', 'payments/checkout', '--to', 'api.stripe.com:443');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('decided by ServiceEgressRule payments/checkout-to-stripe');
  });

  test('bad input exits 2 with one line on stderr', () => {
    const r = spawn('explain', '--from', 'payments/checkout', '--to', 'api.stripe.com');
    expect(r.status).toBe(2);
    expect(
      r.stderr
        .trimEnd()
        .split('\n')
        .filter((l) => l.startsWith('cdktf-ces')),
    ).toEqual([expect.stringContaining('a tcp destination needs a port')]);
  });
});
