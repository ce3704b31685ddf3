/**
 * toRejectEgress and toBeDecidedBy, beside toAllowEgress and toDenyEgress.
 */
import { Testing } from 'cdktf';
import { PaymentsStack, buildPayments } from '../../examples/payments/main';
import { ClusterEgressRule, EgressAction, EgressDestination, EgressPort, ServiceEgressRule } from '../../lib';
import { toBeDecidedBy, toRejectEgress, setupEgressMatchers } from '../../lib/testing/matchers';
import { deviceStack } from '../support/app';

setupEgressMatchers();

const AT = { at: '2026-03-02T10:00:00Z' };

function rejectingStack() {
  const { stack, device } = deviceStack({ podCidrs: ['10.244.0.0/16'] });
  const noSmtp = new ClusterEgressRule(stack, 'NoSmtp', {
    device,
    action: EgressAction.REJECT,
    priority: 10,
    destinations: [EgressDestination.anyIpv4()],
    ports: [EgressPort.SMTP],
  });
  const toApi = new ServiceEgressRule(stack, 'ToApi', {
    device,
    namespace: 'shop',
    service: 'cart',
    action: EgressAction.ALLOW,
    destinations: [EgressDestination.address('192.0.2.80')],
    ports: [EgressPort.HTTPS],
  });
  return { stack, noSmtp, toApi };
}

describe('toRejectEgress', () => {
  const { stack } = rejectingStack();

  test('passes on REJECT only: a drop and an allow fail it', () => {
    expect(stack).toRejectEgress('shop/cart', '192.0.2.25:25');
    expect(stack).not.toRejectEgress('shop/cart', '192.0.2.80:443');
    expect(stack).not.toRejectEgress('shop/cart', '192.0.2.81:443');
    // toDenyEgress accepts both.
    expect(stack).toDenyEgress('shop/cart', '192.0.2.25:25');
  });

  test('a failure says what the verdict was and prints the explanation', () => {
    const r = toRejectEgress(stack, 'shop/cart', '192.0.2.81:443');
    expect(r.pass).toBe(false);
    expect(r.message().split('\n')[0]).toBe('expected shop/cart to be rejected egress to 192.0.2.81:443, but the verdict is DENY (drop)');
    expect(r.message()).toContain('decided by the device default');
  });

  test('an audit REJECT is only a would-be verdict: the flow is not rejected', () => {
    const payments: PaymentsStack = buildPayments(Testing.app());
    expect(payments).not.toRejectEgress('payments/checkout', '192.0.2.25:25', AT);
    expect(payments).toDenyEgress('payments/checkout', '192.0.2.25:25', AT);
  });
});

describe('toBeDecidedBy', () => {
  const { stack, noSmtp, toApi } = rejectingStack();

  test('takes the rule construct, its kind and name, its namespace/name, its construct path', () => {
    expect(stack).toBeDecidedBy('shop/cart', '192.0.2.25:25', noSmtp);
    expect(stack).toBeDecidedBy('shop/cart', '192.0.2.25:25', 'ClusterEgressRule no-smtp');
    expect(stack).toBeDecidedBy('shop/cart', '192.0.2.25:25', 'no-smtp');
    expect(stack).toBeDecidedBy('shop/cart', '192.0.2.80:443', toApi);
    expect(stack).toBeDecidedBy('shop/cart', '192.0.2.80:443', 'ServiceEgressRule shop/to-api');
    expect(stack).toBeDecidedBy('shop/cart', '192.0.2.80:443', 'shop/to-api');
    expect(stack).toBeDecidedBy('shop/cart', '192.0.2.80:443', toApi.node.path);
    expect(stack).not.toBeDecidedBy('shop/cart', '192.0.2.80:443', noSmtp);
  });

  test('"device default" names the default action', () => {
    expect(stack).toBeDecidedBy('shop/cart', '192.0.2.81:443', 'device default');
    expect(stack).not.toBeDecidedBy('shop/cart', '192.0.2.80:443', 'device default');
  });

  test('a failure names the rule that decided instead', () => {
    const r = toBeDecidedBy(stack, 'shop/cart', '192.0.2.81:443', toApi);
    expect(r.pass).toBe(false);
    expect(r.message().split('\n')[0]).toBe(
      `expected egress from shop/cart to 192.0.2.81:443 to be decided by ${toApi.node.path}, but it is decided by device default`,
    );
    const negated = toBeDecidedBy(stack, 'shop/cart', '192.0.2.25:25', 'no-smtp');
    expect(negated.pass).toBe(true);
    expect(negated.message().split('\n')[0]).toBe(
      'expected egress from shop/cart to 192.0.2.25:25 not to be decided by no-smtp, but it is',
    );
  });

  test('a host name with several addresses passes only when the rule decides for each', () => {
    expect(stack).toBeDecidedBy('shop/cart', 'api.example.com:443', toApi, { resolve: { 'api.example.com': ['192.0.2.80'] } });
    expect(stack).not.toBeDecidedBy('shop/cart', 'api.example.com:443', toApi, {
      resolve: { 'api.example.com': ['192.0.2.80', '192.0.2.81'] },
    });
  });

  test('the rule must be a construct or text', () => {
    expect(() => toBeDecidedBy(stack, 'shop/cart', '192.0.2.80:443', 42 as unknown as string)).toThrow(
      'toBeDecidedBy takes the rule as a construct or as text such as "ServiceEgressRule payments/checkout-to-stripe", got number',
    );
  });
});
