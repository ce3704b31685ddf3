/**
 * The Jest matchers users call in their own policy tests, used on the examples.
 */
import { App, Testing } from 'cdktf';
import { PaymentsStack, buildPayments } from '../../examples/payments/main';
import { buildPlatform } from '../../examples/platform-module/main';
import { SecurityBaselineStack, buildSecurityBaseline } from '../../examples/security-baseline/main';
import { explainEgress, setupEgressMatchers } from '../../lib/testing/matchers';

setupEgressMatchers();

const AT = { at: '2026-03-02T10:00:00Z' };

describe('payments example', () => {
  let stack: PaymentsStack;
  beforeAll(() => {
    stack = buildPayments(Testing.app());
  });

  test('checkout may reach api.stripe.com:443, by host name or by a resolved address', () => {
    expect(stack).toAllowEgress('payments/checkout', 'api.stripe.com:443');
    expect(stack).toAllowEgress('payments/checkout', 'api.stripe.com:443', {
      resolve: { 'api.stripe.com': ['203.0.113.10', '2001:db8::10'] },
    });
    expect(stack).toDenyEgress('payments/checkout', 'api.stripe.com:80');
    expect(stack).toDenyEgress('payments/checkout', '203.0.113.10:443');
  });

  test('comments may reach nothing outside the cluster (only the cluster DNS, which the security team grants everyone)', () => {
    for (const to of [
      'api.stripe.com:443',
      'sftp.bank.example:22',
      '198.51.100.15:22',
      '192.0.2.7:25',
      '[2001:db8::1]:443',
      '203.0.113.9/icmp',
    ]) {
      expect(stack).toDenyEgress('payments/comments', to);
    }
    expect(stack).toAllowEgress('payments/comments', '10.96.0.10:53/udp');
  });

  test('other pods of the namespace reach the bank over SSH', () => {
    expect(stack).toAllowEgress('payments/settlement', 'sftp.bank.example:22');
    expect(stack).toAllowEgress('payments/settlement', '198.51.100.20:22');
    expect(stack).not.toAllowEgress('payments/settlement', '198.51.100.21:22');
    expect(stack).toDenyEgress('web/frontend', 'sftp.bank.example:22');
  });

  test('a failure names the deciding rule and the path', () => {
    expect(() =>
      expect(stack).toAllowEgress('payments/comments', 'api.stripe.com:443', { resolve: { 'api.stripe.com': '203.0.113.10' } }),
    ).toThrow(
      /expected payments\/comments to be allowed egress to api.stripe.com:443, but the verdict is DENY \(drop\)[\s\S]*3 service {3}virtual-server context {2}ServiceEgressRule payments\/comments-no-egress → DENY[\s\S]*decided by ServiceEgressRule payments\/comments-no-egress \(DENY\) at payments\/CommentsNoEgress/,
    );
    expect(() => expect(stack).not.toDenyEgress('payments/comments', '192.0.2.7:25')).toThrow(
      /expected payments\/comments not to be denied egress to 192.0.2.7:25, but it is/,
    );
  });

  test('bad arguments are reported, not treated as a verdict', () => {
    expect(() => expect(stack).toAllowEgress('checkout', 'api.stripe.com:443')).toThrow(
      /from \(got "checkout"\); write <namespace>\/<pod-or-service>/,
    );
    expect(() => expect(stack).toAllowEgress('payments/checkout', '0.0.0.0/0:25')).toThrow(/not a CIDR; name one address/);
    expect(() => expect(stack).toAllowEgress('payments/checkout', 'api.stripe.com:443', { resolve: { 'api.stripe.com': 'nope' } })).toThrow(
      /not an IP address/,
    );
    expect(() => expect({}).toAllowEgress('payments/checkout', 'api.stripe.com:443')).toThrow(/takes a construct holding an AfmDevice/);
  });
});

describe('security baseline example', () => {
  let stack: SecurityBaselineStack;
  beforeAll(() => {
    stack = buildSecurityBaseline(Testing.app());
  });

  test('every pod may reach DNS', () => {
    for (const from of ['payments/checkout', 'web/frontend', 'kube-system/coredns', 'dev/anything']) {
      expect(stack).toAllowEgress(from, '10.96.0.10:53/udp', AT);
      expect(stack).toAllowEgress(from, '10.96.0.10:53/tcp', AT);
      expect(stack).toAllowEgress(from, '192.0.2.53:53/udp', AT);
    }
    expect(stack).toDenyEgress('web/frontend', '10.96.0.11:53/udp', AT);
  });

  test('nothing may reach the C2 range, not even where a team allows HTTPS', () => {
    expect(stack).toAllowEgress('payments/checkout', '198.51.100.7:443', AT);
    for (const from of ['payments/checkout', 'web/frontend']) {
      for (const to of ['203.0.113.5:443', '203.0.113.5:53/udp', '203.0.113.255:25', '203.0.113.5/icmp'])
        expect(stack).toDenyEgress(from, to, AT);
    }
  });

  test('a host name resolving into the C2 range is denied', () => {
    expect(stack).toDenyEgress('payments/checkout', 'updates.example.org:443', {
      ...AT,
      resolve: { 'updates.example.org': '203.0.113.5' },
    });
  });

  test('the explanation is available to custom assertions', () => {
    const e = explainEgress(stack, 'payments/checkout', '203.0.113.5:443', AT);
    expect(e.flows[0].enforced.decidedBy?.key).toBe('cluster/block-c2');
  });
});

describe('devices on a shared BIG-IP', () => {
  test('the matchers evaluate a device with the shared context it is deployed with', () => {
    const app = Testing.app() as App;
    const [east, west] = buildPlatform(app);
    expect(west.stack).toAllowEgress('analytics/etl', 'warehouse.example.com:443');
    expect(east.stack).toDenyEgress('analytics/etl', 'warehouse.example.com:443');
    expect(app).toDenyEgress('analytics/etl', '203.0.113.1:443', { device: 'k8s_west' });
    expect(() => expect(app).toDenyEgress('analytics/etl', '203.0.113.1:443')).toThrow(
      /the app has several devices \(got east-egress\/k8s_east \(east-egress\/Bigip\), west-egress\/k8s_west \(west-egress\/Bigip\)\); choose one with the option \{ device: '<device>' \}/,
    );
  });
});
