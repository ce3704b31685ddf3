/**
 * inventory: the rules per device with owner, ticket, audit, window and expiry; filters; formats.
 */
import { App } from 'cdktf';
import { buildPayments } from '../../examples/payments/main';
import { buildPlatform } from '../../examples/platform-module/main';
import { ClusterEgressRule, EgressAction, EgressDestination, EgressPort, NamespaceEgressRule, Weekday } from '../../lib';
import { parseDuration } from '../../lib/cli/commands/inventory';
import { UsageError } from '../../lib/files/usage-error';
import { deviceStack } from '../support/app';
import { cli, synthInto } from './support';

let payments: string;
let small: string;

beforeAll(() => {
  payments = synthInto(buildPayments);
  small = synthInto((app: App) => {
    const { stack, device } = deviceStack({ podCidrs: ['10.244.0.0/16'] }, app);
    new ClusterEgressRule(stack, 'AllowDns', {
      device,
      action: EgressAction.ALLOW_FINAL,
      priority: 100,
      destinations: [EgressDestination.address('10.96.0.10')],
      ports: [EgressPort.DNS_UDP],
      owner: 'security',
      ticket: 'SEC-1',
    });
    new NamespaceEgressRule(stack, 'Legacy', {
      device,
      namespace: 'shop',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.address('192.0.2.21')],
      ports: [EgressPort.tcp(21)],
      expiresAt: '2099-04-01T00:00:00Z',
    });
    new NamespaceEgressRule(stack, 'Partner', {
      device,
      namespace: 'shop',
      action: EgressAction.ALLOW,
      destinations: [EgressDestination.address('192.0.2.44')],
      ports: [EgressPort.HTTPS],
      owner: 'team_shop #ops',
      ticket: 'SHOP-3',
      justification: 'partner_api (see SHOP-3)',
      schedule: { daysOfWeek: [Weekday.SATURDAY, Weekday.SUNDAY], startTime: '01:00', endTime: '05:00', timeZone: 'UTC' },
      expiresAt: '2099-03-20T00:00:00Z',
    });
  });
});

const AT = ['--at', '2099-03-02T10:00:00Z'];

describe('inventory', () => {
  test('table: every rule in evaluation order with its review fields', async () => {
    const r = await cli(payments, 'inventory');
    expect(r).toEqual({
      code: 0,
      stderr: '',
      stdout: [
        '# device payments/k8s_payments_prod (cluster payments-prod, payments/Bigip)',
        'level      rule                         action       priority  owner          ticket  audit  window                             expires',
        'cluster    no-smtp                      REJECT       50        security       SEC-9   audit  -                                  -',
        'cluster    allow-dns                    ALLOW_FINAL  100       security       SEC-1   -      -                                  -',
        'namespace  payments/backups             ALLOW        500       team-payments  PAY-31  -      -                                  -',
        'namespace  payments/bank-sftp           ALLOW        500       team-payments  PAY-7   -      -                                  -',
        'namespace  payments/vendor-support      ALLOW        500       team-payments  PAY-40  -      mon-fri 09:00-17:00 Europe/Berlin  2099-12-31T00:00:00Z',
        'service    payments/checkout-to-stripe  ALLOW        500       team-payments  PAY-12  -      -                                  -',
        'service    payments/comments-no-egress  DENY         500       team-payments  -       -      -                                  -',
        '',
        '7 rules on 1 device',
        '',
      ].join('\n'),
    });
  });

  test('--device all is every device, the same as leaving it out', async () => {
    const two = synthInto(buildPlatform);
    const every = await cli(two, 'inventory', '--device', 'all');
    expect(every).toEqual(await cli(two, 'inventory'));
    expect(every.stdout).toMatch(/on 2 devices\n$/);
  });

  test('filters combine; the report names them', async () => {
    const expiring = await cli(small, 'inventory', ...AT, '--expiring-within', '30d');
    expect(expiring.stdout.split('\n').slice(1)).toEqual([
      'level      rule          action  priority  owner           ticket  audit  window                   expires',
      'namespace  shop/legacy   ALLOW   500       -               -       -      -                        2099-04-01T00:00:00Z',
      'namespace  shop/partner  ALLOW   500       team_shop #ops  SHOP-3  -      sat,sun 01:00-05:00 UTC  2099-03-20T00:00:00Z',
      '',
      '2 of 3 rules (expiring within 30d) on 1 device',
      '',
    ]);
    expect((await cli(small, 'inventory', ...AT, '--expiring-within', '3w')).stdout).toContain('\nnamespace  shop/partner  ');
    expect((await cli(small, 'inventory', ...AT, '--expiring-within', '3w')).stdout).not.toContain('shop/legacy');
    const noOwner = await cli(small, 'inventory', '--no-owner', '--level', 'namespace');
    expect(noOwner.stdout).toContain(
      '\nnamespace  shop/legacy  ALLOW   500       -      -       -      -       2099-04-01T00:00:00Z\n\n1 of 3 rules (without owner, level namespace) on 1 device\n',
    );
    expect((await cli(small, 'inventory', '--expired', '--at', '2099-03-25T00:00:00Z')).stdout).toContain(
      '1 of 3 rules (expired) on 1 device',
    );
    expect((await cli(small, 'inventory', '--windowed', '--action', 'allow')).stdout).toContain(
      '1 of 3 rules (with a time window, action ALLOW) on 1 device',
    );
    const none = await cli(small, 'inventory', '--audit-only');
    expect(none.stdout).toContain('(no rule matches the filters)\n\n0 of 3 rules (audit only) on 1 device\n');
    expect((await cli(payments, 'inventory', '--audit-only')).stdout).toContain(
      '\ncluster  no-smtp  REJECT  50        security  SEC-9   audit  -       -\n',
    );
  });

  test('markdown: one table per device for a pull request, cells escaped', async () => {
    const r = await cli(small, 'inventory', '--namespace', 'shop', '--format', 'markdown');
    expect(r.stdout).toBe(
      [
        '### Egress rules: `k8s_prod` (cluster `prod`)',
        '',
        '| Level | Rule | Action | Priority | Owner | Ticket | Audit | Window | Expires | Justification |',
        '|---|---|---|--:|---|---|---|---|---|---|',
        '| namespace | `shop/legacy` | ALLOW | 500 | **none** | **none** |  |  | 2099-04-01T00:00:00Z |  |',
        '| namespace | `shop/partner` | ALLOW | 500 | team\\_shop \\#ops | SHOP-3 |  | sat,sun 01:00-05:00 UTC | 2099-03-20T00:00:00Z | partner\\_api (see SHOP-3) |',
        '',
        '_2 of 3 rules (namespace shop) on 1 device._',
        '',
      ].join('\n'),
    );
  });

  test('json: the rules as data', async () => {
    const r = await cli(small, 'inventory', '--no-owner', '--format', 'json');
    expect(JSON.parse(r.stdout)).toEqual({
      format: 'cdktf-ces.dev/inventory/v1',
      filters: ['without owner'],
      devices: [
        {
          device: 'egress/k8s_prod',
          stack: 'egress',
          tenant: 'k8s_prod',
          cluster: 'prod',
          path: 'egress/Bigip',
          total: 3,
          rules: [
            {
              level: 'namespace',
              kind: 'NamespaceEgressRule',
              namespace: 'shop',
              name: 'shop/legacy',
              path: 'egress/Legacy',
              action: 'ALLOW',
              priority: 500,
              audit: false,
              expiresAt: '2099-04-01T00:00:00Z',
            },
          ],
        },
      ],
    });
  });

  test.each([
    [
      ['--expiring-within', '30'],
      '--expiring-within (got "30"); write a positive whole number and a unit: m (minutes), h (hours), d (days) or w (weeks), such as 30d',
    ],
    [
      ['--expiring-within', '0d'],
      '--expiring-within (got "0d"); write a positive whole number and a unit: m (minutes), h (hours), d (days) or w (weeks), such as 30d',
    ],
    [['--level', 'pod'], '--level (got "pod"); use one of cluster, namespace, service'],
    [['--action', 'permit'], '--action (got "permit"); use one of ALLOW, ALLOW_FINAL, DENY, REJECT'],
    [['--format', 'csv'], '--format (got "csv"); use one of table, json, markdown'],
    [
      ['--device', 'k8s_nope'],
      '--device names no device of the synth output (got "k8s_nope"); use one of: egress/k8s_prod (egress/Bigip) (a tenant, a cluster name, <stack>/<tenant> or a construct path)',
    ],
  ])('bad input %j', async (argv, message) => {
    expect(await cli(small, 'inventory', ...argv)).toEqual({ code: 2, stdout: '', stderr: `cdktf-ces inventory: ${message}\n` });
  });

  test('parseDuration', () => {
    expect(parseDuration('90m', 'x')).toBe(90 * 60_000);
    expect(parseDuration('2w', 'x')).toBe(14 * 86_400_000);
    expect(() => parseDuration('1y', 'x')).toThrow(UsageError);
  });
});
