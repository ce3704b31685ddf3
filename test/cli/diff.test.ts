import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'cdktf';
import {
  ClusterEgressRule,
  EgressAction,
  EgressDestination,
  EgressPort,
  ExternalService,
  NamespaceEgressRule,
  ServiceEgressRule,
  Weekday,
} from '../../lib';
import { deviceStack } from '../support/app';
import { cli, synthInto, write } from './support';

interface Version {
  readonly legacyFtp?: boolean;
  readonly partner?: boolean;
  readonly dnsTcp?: boolean;
  readonly c2Action?: EgressAction;
  readonly auditSsh?: boolean;
  readonly nightlyBackup?: boolean;
  readonly batchUploads?: boolean;
}

/** One payments policy in several versions: what a pull request changes. */
function policy(v: Version, clusterName = 'prod') {
  return (app: App) => {
    const { stack, device } = deviceStack({ clusterName, podCidrs: ['10.244.0.0/16', 'fd00:10:244::/56'] }, app);
    new ClusterEgressRule(stack, 'BlockC2', {
      device,
      action: v.c2Action ?? EgressAction.DENY,
      priority: 0,
      destinations: [EgressDestination.cidr('203.0.113.0/24')],
    });
    new ClusterEgressRule(stack, 'AllowDns', {
      device,
      action: EgressAction.ALLOW_FINAL,
      priority: 100,
      destinations: [EgressDestination.address('10.96.0.10')],
      ports: v.dnsTcp === false ? [EgressPort.DNS_UDP] : [EgressPort.DNS_UDP, EgressPort.DNS_TCP],
    });
    if (v.auditSsh) {
      new ClusterEgressRule(stack, 'WouldBlockSsh', {
        device,
        action: EgressAction.DENY,
        priority: 50,
        audit: true,
        destinations: [EgressDestination.cidr('198.51.100.0/24')],
        ports: [EgressPort.SSH],
      });
    }
    const stripe = new ExternalService(stack, 'Stripe', { device, destinations: [EgressDestination.fqdn('api.stripe.com')] });
    new NamespaceEgressRule(stack, 'BankSftp', {
      device,
      namespace: 'payments',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.range('198.51.100.10', '198.51.100.20')],
      ports: [EgressPort.SSH],
    });
    if (v.legacyFtp !== false) {
      new NamespaceEgressRule(stack, 'LegacyFtp', {
        device,
        namespace: 'payments',
        action: EgressAction.ALLOW,
        destinations: [EgressDestination.address('192.0.2.21')],
        ports: [EgressPort.tcp(21)],
      });
    }
    new ServiceEgressRule(stack, 'CheckoutToStripe', {
      device,
      namespace: 'payments',
      service: 'checkout',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.externalService(stripe)],
      ports: [EgressPort.HTTPS],
    });
    if (v.partner) {
      new ServiceEgressRule(stack, 'CheckoutToPartner', {
        device,
        namespace: 'payments',
        service: 'checkout',
        action: EgressAction.ALLOW,
        destinations: [EgressDestination.address('192.0.2.44')],
        ports: [EgressPort.tcp(8443)],
      });
    }
    if (v.batchUploads) {
      new NamespaceEgressRule(stack, 'BatchUploads', {
        device,
        namespace: 'payments',
        podSelector: { matchLabels: { app: 'batch' } },
        action: EgressAction.ALLOW,
        destinations: [EgressDestination.fqdn('uploads.partner.example'), EgressDestination.fqdn('*.files.partner.example')],
        ports: [EgressPort.HTTPS],
      });
    }
    if (v.nightlyBackup) {
      new NamespaceEgressRule(stack, 'NightlyBackup', {
        device,
        namespace: 'payments',
        action: EgressAction.ALLOW,
        destinations: [EgressDestination.cidr('192.0.2.128/25')],
        ports: [EgressPort.tcp(873)],
        schedule: { daysOfWeek: [Weekday.SATURDAY, Weekday.SUNDAY], startTime: '01:00', endTime: '05:00', timeZone: 'UTC' },
      });
    }
  };
}

const AT = ['--at', '2026-03-02T10:00:00Z'];
let base: string;
let changed: string;
const dirs: string[] = [];

function synth(v: Version, clusterName?: string): string {
  const dir = synthInto(policy(v, clusterName));
  dirs.push(dir);
  return path.join(dir, 'cdktf.out');
}

beforeAll(() => {
  base = synth({});
  changed = synth({ legacyFtp: false, partner: true, dnsTcp: false, c2Action: EgressAction.REJECT, auditSsh: true });
});
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const changes = (stdout: string) => stdout.split('\n').filter((l) => l && !l.startsWith('#'));

describe('diff: the effect of a change, per workload', () => {
  test('added, removed and changed rules, and an audit rule', async () => {
    const r = await cli(process.cwd(), 'diff', base, changed, ...AT);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    // One line per change, naming every workload it holds for.
    expect(changes(r.stdout)).toEqual([
      'payments/svc checkout, payments/other pods, other namespaces: - 10.96.0.10:53/tcp (dropped by device default; was ClusterEgressRule allow-dns)',
      'payments/svc checkout, payments/other pods: - 192.0.2.21:21/tcp (dropped by device default; was NamespaceEgressRule payments/legacy-ftp)',
      'payments/svc checkout: + 192.0.2.44:8443/tcp (ServiceEgressRule payments/checkout-to-partner)',
      'payments/svc checkout, payments/other pods: - 198.51.100.10-198.51.100.20:22/tcp (dropped by ClusterEgressRule would-block-ssh (audit); was NamespaceEgressRule payments/bank-sftp) [would be, with audit rules enforced]',
      'payments/svc checkout, payments/other pods, other namespaces: ~ 203.0.113.0/24 (any protocol) (now rejected by ClusterEgressRule block-c2; was dropped by ClusterEgressRule block-c2)',
    ]);
    expect(r.stdout.split('\n').pop()).toBe('');
    expect(r.stdout).toContain('# 5 changes for 3 of 3 workloads\n');
  });

  test('the same output twice: no change, exit 0', async () => {
    const r = await cli(process.cwd(), 'diff', base, base, ...AT);
    expect(r.code).toBe(0);
    expect(changes(r.stdout)).toEqual([]);
    expect(r.stdout).toContain('# no change in what any workload may reach\n');
  });

  test('reversed, every line is mirrored', async () => {
    const r = await cli(process.cwd(), 'diff', changed, base, ...AT);
    expect(changes(r.stdout)).toContain(
      'payments/svc checkout: - 192.0.2.44:8443/tcp (dropped by device default; was ServiceEgressRule payments/checkout-to-partner)',
    );
    expect(changes(r.stdout)).toContain(
      'payments/svc checkout, payments/other pods, other namespaces: + 10.96.0.10:53/tcp (ClusterEgressRule allow-dns)',
    );
    expect(changes(r.stdout)).toHaveLength(5);
  });

  test('a time window: without --at every window state of the week is evaluated, and the change says when it holds', async () => {
    const nightly = synth({ nightlyBackup: true });
    const r = await cli(process.cwd(), 'diff', base, nightly);
    expect(changes(r.stdout)).toEqual([
      'payments/svc checkout, payments/other pods: + 192.0.2.128/25:873/tcp (NamespaceEgressRule payments/nightly-backup) [when W1 open]',
    ]);
    expect(r.stdout).toContain('# W1 = sat,sun 01:00-05:00 UTC (namespace/payments/nightly-backup)\n');
    // No instant in the report unless --at asks for one: the same outputs give the same text at any time.
    expect(r.stdout.split('\n')[1]).toBe('# evaluated in 2 time states that occur in the coming week (W1 closed; W1 open)');
    expect(r.stdout).not.toMatch(/\d{4}-\d{2}-\d{2}T/);
    const json = JSON.parse((await cli(process.cwd(), 'diff', base, nightly, '--format', 'json')).stdout).devices[0];
    expect(json.at).toBeUndefined();
    expect(json.timeStates).toEqual([{ label: 'W1 closed' }, { label: 'W1 open' }]);
    // At an instant outside the window nothing changes; inside, it does.
    expect(changes((await cli(process.cwd(), 'diff', base, nightly, '--at', '2026-03-02T10:00:00Z')).stdout)).toEqual([]);
    const inside = await cli(process.cwd(), 'diff', base, nightly, '--at', '2026-03-07T02:00:00Z');
    expect(inside.stdout).toContain('# evaluated at 2026-03-07T02:00:00.000Z only (W1 open)\n');
    expect(changes(inside.stdout)).toHaveLength(1);
  });

  test('label selectors and host names: hypothetical pods with and without the labels, names as destinations', async () => {
    const batch = synth({ batchUploads: true });
    const r = await cli(process.cwd(), 'diff', base, batch, ...AT);
    expect(changes(r.stdout)).toEqual([
      'payments/svc checkout [app=batch], payments/other pods [app=batch]: + *.files.partner.example:443/tcp (NamespaceEgressRule payments/batch-uploads)',
      'payments/svc checkout [app=batch], payments/other pods [app=batch]: + uploads.partner.example:443/tcp (NamespaceEgressRule payments/batch-uploads)',
    ]);
    // Pods without the label, and the name's addresses without the name, are unchanged.
    expect(r.stdout).toContain('# 2 changes for 2 of 5 workloads\n');
  });

  test('--format markdown: a pull-request comment, each change once with the workloads it holds for', async () => {
    const partner = synth({ partner: true });
    const r = await cli(process.cwd(), 'diff', base, partner, ...AT, '--format', 'markdown');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('### Egress policy diff: `k8s_prod` (cluster `prod`)\n\n');
    expect(r.stdout).toContain(
      ': **1 change for 1 of 3 workloads**.\n\n```diff\n+ 192.0.2.44:8443/tcp (ServiceEgressRule payments/checkout-to-partner)\n    payments/svc checkout\n```\n',
    );
    expect(r.stdout).toContain('<details><summary>How this diff was computed</summary>');
    const dns = synth({ dnsTcp: false });
    const all = await cli(process.cwd(), 'diff', base, dns, ...AT, '--format', 'markdown');
    expect(all.stdout).toContain(
      '```diff\n- 10.96.0.10:53/tcp (dropped by device default; was ClusterEgressRule allow-dns)\n    payments/svc checkout, payments/other pods, other namespaces\n```\n',
    );
    // Each change once, even when the workloads' sets of changes differ.
    const mixed = await cli(process.cwd(), 'diff', base, changed, ...AT, '--format', 'markdown');
    expect(mixed.stdout).toContain(
      [
        '```diff',
        '- 10.96.0.10:53/tcp (dropped by device default; was ClusterEgressRule allow-dns)',
        '    payments/svc checkout, payments/other pods, other namespaces',
        '- 192.0.2.21:21/tcp (dropped by device default; was NamespaceEgressRule payments/legacy-ftp)',
        '    payments/svc checkout, payments/other pods',
        '+ 192.0.2.44:8443/tcp (ServiceEgressRule payments/checkout-to-partner)',
        '    payments/svc checkout',
        '- 198.51.100.10-198.51.100.20:22/tcp (dropped by ClusterEgressRule would-block-ssh (audit); was NamespaceEgressRule payments/bank-sftp) [would be, with audit rules enforced]',
        '    payments/svc checkout, payments/other pods',
        '~ 203.0.113.0/24 (any protocol) (now rejected by ClusterEgressRule block-c2; was dropped by ClusterEgressRule block-c2)',
        '    payments/svc checkout, payments/other pods, other namespaces',
        '```',
      ].join('\n'),
    );
  });

  test('--format json: the same changes as data', async () => {
    const r = await cli(process.cwd(), 'diff', base, changed, ...AT, '--format', 'json');
    const data = JSON.parse(r.stdout);
    expect(data.format).toBe('cdktf-ces.dev/policy-diff/v1');
    expect(data.devices).toHaveLength(1);
    const device = data.devices[0];
    expect(device).toMatchObject({
      tenant: 'k8s_prod',
      cluster: 'prod',
      at: '2026-03-02T10:00:00.000Z',
      fixedTime: true,
      workloadBasis: 'selectors',
      counts: { workloads: 3, changes: 11, distinctChanges: 5 },
    });
    expect(device.changes[0]).toEqual({
      change: 'lost',
      audit: false,
      destination: '10.96.0.10',
      protocol: 'tcp',
      ports: '53',
      old: { verdict: 'allow', by: 'ClusterEgressRule allow-dns', rule: 'cluster/allow-dns' },
      new: { verdict: 'deny', by: 'device default' },
      workloads: ['payments/svc checkout', 'payments/other pods', 'other namespaces'],
    });
    expect(device.workloads.map((w: { workload: string }) => w.workload)).toEqual([
      'payments/svc checkout',
      'payments/other pods',
      'other namespaces',
    ]);
    expect(device.workloads[0].changes).toContainEqual({
      change: 'gained',
      audit: false,
      destination: '192.0.2.44',
      protocol: 'tcp',
      ports: '8443',
      old: { verdict: 'deny', by: 'device default' },
      new: { verdict: 'allow', by: 'ServiceEgressRule payments/checkout-to-partner', rule: 'service/payments/checkout-to-partner' },
    });
  });

  test('--state: the workloads are the real pods', async () => {
    const dir = path.dirname(changed);
    write(
      dir,
      'state.yaml',
      `apiVersion: v1
kind: List
items:
- { apiVersion: v1, kind: Namespace, metadata: { name: payments, labels: { kubernetes.io/metadata.name: payments } } }
- { apiVersion: v1, kind: Namespace, metadata: { name: web, labels: { kubernetes.io/metadata.name: web } } }
- { apiVersion: v1, kind: Service, metadata: { name: checkout, namespace: payments }, spec: { selector: { app: checkout } } }
- { apiVersion: v1, kind: Pod, metadata: { name: checkout-1, namespace: payments, labels: { app: checkout } }, status: { phase: Running, podIPs: [{ ip: 10.244.1.5 }] } }
- { apiVersion: v1, kind: Pod, metadata: { name: checkout-2, namespace: payments, labels: { app: checkout } }, status: { phase: Running, podIPs: [{ ip: 10.244.1.6 }] } }
- { apiVersion: v1, kind: Pod, metadata: { name: batch-1, namespace: payments, labels: { app: batch } }, status: { phase: Succeeded, podIPs: [{ ip: 10.244.1.7 }] } }
- { apiVersion: v1, kind: Pod, metadata: { name: web-1, namespace: web, labels: { app: web } }, status: { phase: Running, podIPs: [{ ip: 10.244.2.5 }] } }
- { apiVersion: v1, kind: Pod, metadata: { name: uploader-1, namespace: payments, labels: { app: batch } }, status: { phase: Running, podIPs: [{ ip: 10.244.1.9 }] } }
---
apiVersion: cdktf-ces.dev/v1
kind: DnsAnswers
answers:
  uploads.partner.example: [192.0.2.80]
`,
    );
    const partner = synth({ partner: true, dnsTcp: false });
    const r = await cli(dir, 'diff', base, partner, ...AT, '--state', 'state.yaml');
    expect(changes(r.stdout)).toEqual([
      'payments/pods, payments/svc checkout, web/pods: - 10.96.0.10:53/tcp (dropped by device default; was ClusterEgressRule allow-dns)',
      'payments/svc checkout: + 192.0.2.44:8443/tcp (ServiceEgressRule payments/checkout-to-partner)',
    ]);
    expect(r.stdout).toContain('# workloads are the pods of state.yaml, grouped by the rules that can apply to them\n');
    expect(r.stdout).toContain(
      '# 1 pod of state.yaml cannot send (terminating, finished, on the host network or without an address) and is left out\n',
    );
    const json = JSON.parse((await cli(dir, 'diff', base, partner, ...AT, '--state', 'state.yaml', '--format', 'json')).stdout);
    expect(json.devices[0].workloads[1]).toMatchObject({
      workload: 'payments/svc checkout',
      namespace: 'payments',
      members: ['checkout-1', 'checkout-2'],
    });
    // A name with a DNS answer: its address is the destination that changes.
    const batch = await cli(dir, 'diff', base, synth({ batchUploads: true }), ...AT, '--state', 'state.yaml');
    expect(changes(batch.stdout)).toEqual([
      'payments/pods: + 192.0.2.80:443/tcp (NamespaceEgressRule payments/batch-uploads)',
      'payments/pods: + *.files.partner.example:443/tcp (NamespaceEgressRule payments/batch-uploads)',
    ]);
  });
});

describe('diff --exit-code', () => {
  test('1 when enforced egress changes, 0 when nothing or only the would-be verdict of an audit rule changes', async () => {
    expect((await cli(process.cwd(), 'diff', base, changed, ...AT, '--exit-code')).code).toBe(1);
    expect((await cli(process.cwd(), 'diff', base, base, ...AT, '--exit-code')).code).toBe(0);
    const audit = await cli(process.cwd(), 'diff', base, synth({ auditSsh: true }), ...AT, '--exit-code');
    expect(changes(audit.stdout)).toHaveLength(1);
    expect(audit.code).toBe(0);
    // Without the option the exit code does not tell.
    expect((await cli(process.cwd(), 'diff', base, changed, ...AT)).code).toBe(0);
  });

  test('2 on bad input', async () => {
    expect((await cli(process.cwd(), 'diff', base, 'no/such/new', '--exit-code')).code).toBe(2);
  });
});

describe('diff: bad input, one line, exit 2', () => {
  test('a missing directory, named by side', async () => {
    expect(await cli(process.cwd(), 'diff', 'no/such/old', base)).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'cdktf-ces diff: the old synth output directory does not exist (got "no/such/old"); give the cdktf.out of the old version (cdktf synth writes it)\n',
    });
    const r = await cli(process.cwd(), 'diff', base, 'no/such/new');
    expect(r.stderr).toBe(
      'cdktf-ces diff: the new synth output directory does not exist (got "no/such/new"); give the cdktf.out of the new version (cdktf synth writes it)\n',
    );
  });

  test('a directory that is not a synth output', async () => {
    const r = await cli(process.cwd(), 'diff', base, path.dirname(base));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^cdktf-ces diff: new output: no stacks in the synth output .* \(got no "stacks" folder\); run "cdktf synth" first/,
    );
  });

  test('outputs of different apps: no device in common', async () => {
    const other = synthInto((app) => deviceStack({ clusterName: 'staging' }, app));
    dirs.push(other);
    const r = await cli(process.cwd(), 'diff', base, path.join(other, 'cdktf.out'));
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'cdktf-ces diff: the two outputs have no device (AS3 tenant) in common, so they are not two versions of one policy (got old: egress/k8s_prod (egress/Bigip); new: egress/k8s_staging (egress/Bigip)); diff two synth outputs of the same app, or name the device with --device <tenant>\n',
    });
  });

  test('one tenant, two clusters', async () => {
    const other = synthInto((app) => deviceStack({ clusterName: 'prod-west', tenant: 'k8s_prod' }, app));
    dirs.push(other);
    const r = await cli(process.cwd(), 'diff', base, path.join(other, 'cdktf.out'));
    expect(r.stderr).toBe(
      "cdktf-ces diff: the outputs are of different clusters for device k8s_prod (got old: prod, new: prod-west); diff two versions of the same cluster's policy (a renamed cluster is a new device: review its output as a whole)\n",
    );
    expect(r.code).toBe(2);
  });

  test.each([
    [['diff'], 'diff needs two synth output directories (got nothing); usage: cdktf-ces diff <old cdktf.out> <new cdktf.out>'],
    [['diff', 'x', 'y', '--format', 'html'], '--format (got "html"); use one of text, markdown, json'],
    [
      ['diff', 'x', 'y', '--at', 'tomorrow'],
      '--at (got "tomorrow"); write an ISO 8601 time with a zone, such as 2026-03-02T09:30:00Z or 2026-03-02T10:30:00+01:00',
    ],
  ])('%j', async (argv, message) => {
    expect(await cli(process.cwd(), ...argv)).toEqual({ code: 2, stdout: '', stderr: `cdktf-ces diff: ${message}\n` });
  });

  test('--device that one output lacks', async () => {
    const r = await cli(process.cwd(), 'diff', base, changed, '--device', 'k8s_nope');
    expect(r.stderr).toBe(
      'cdktf-ces diff: old output: --device names no device of the synth output (got "k8s_nope"); use one of: egress/k8s_prod (egress/Bigip) (a tenant, a cluster name, <stack>/<tenant> or a construct path)\n',
    );
  });
});
