import { Testing, TerraformStack } from 'cdktf';
import { KubernetesProvider } from '@cdktf/provider-kubernetes/lib/provider';
import {
  AfmDevice,
  ClusterEgressRule,
  EgressAction,
  EgressDestination as D,
  EgressGuardrails,
  EgressPolicyError,
  EgressPort as P,
  EgressSynthError,
  ExpiredRuleMode,
  ExternalService,
  NamespaceEgressRule,
  ServiceEgressRule,
} from '../../lib';
import { deviceStack } from '../support/app';

const DAY = 24 * 60 * 60 * 1000;
const inDays = (days: number) => new Date(Date.now() + days * DAY).toISOString();

function synthError(run: () => void): EgressSynthError {
  try {
    run();
  } catch (e) {
    if (e instanceof EgressSynthError) return e;
    throw e;
  }
  throw new Error('synth succeeded');
}

/** An app with problems in every kind of construct, on every level, in two stacks. */
function brokenApp() {
  const { app, stack, device, crds } = deviceStack({ dnsResolver: undefined });
  EgressGuardrails.applyTo(app, { name: 'security baseline', requireOwner: true });
  // Each constructor returns: the first broken construct does not stop the app.
  new ClusterEgressRule(stack, 'AllowDns', { device, owner: 'sec', action: EgressAction.ALLOW, priority: 5000, destinations: [D.cidr('10.96.0.10/32')], ports: [P.udp(53)] });
  new NamespaceEgressRule(stack, 'PaymentsSftp', { device, owner: 'pay', namespace: 'Payments', action: EgressAction.ALLOW, destinations: [D.cidr('192.0.2.0/24')] });
  new ServiceEgressRule(stack, 'Checkout', { device, namespace: 'shop', service: 'checkout', action: EgressAction.ALLOW, destinations: [D.anyIpv4()] });
  new ServiceEgressRule(stack, 'CheckoutAgain', { device, owner: 'shop', name: 'checkout', namespace: 'shop', service: 'checkout', action: EgressAction.DENY, destinations: [D.cidr('198.51.100.0/24')] });
  new NamespaceEgressRule(stack, 'Partner', { device, owner: 'pay', namespace: 'pay', action: EgressAction.ALLOW, destinations: [D.fqdn('api.partner.example')] });
  new ExternalService(stack, 'Bank', { device, destinations: [] });
  // A second rule stack: its problems are reported with the first stack's.
  const west = new TerraformStack(app, 'west');
  new KubernetesProvider(west, 'k8s', {});
  const westDevice = new AfmDevice(west, 'Bigip', { clusterName: 'west', address: 'bigip-west.example.net', tlsCaBundlePath: '/ca.pem', crdStack: crds });
  new NamespaceEgressRule(west, 'Web', { device: westDevice, owner: 'web', namespace: 'web', action: EgressAction.ALLOW, destinations: [D.cidr('10.0.0.1/8')] });
  return { app, stack, west };
}

describe('synth reports every problem of every construct at once', () => {
  test('one line per problem, grouped by construct, after a count', () => {
    const { app } = brokenApp();
    const error = synthError(() => app.synth());
    const lines = error.message.split('\n');
    expect(lines).toEqual([
      '8 problems in 7 constructs; nothing was synthesized. Fix each line and synthesize again:',
      expect.stringMatching(/^\[egress\/Bigip\] dnsResolver: FQDN destinations are resolved by the BIG-IP.*\(got nothing\)$/),
      '[egress/AllowDns] priority: is out of range: use a whole number from 0 (evaluated first) to 1000 (got 5000)',
      expect.stringMatching(/^\[egress\/PaymentsSftp\] namespace: must be a DNS label: .* \(got "Payments"\)$/),
      '[egress/Checkout] guardrail requireOwner of "security baseline": every rule needs an owner; set owner to the team or person responsible (got "checkout")',
      expect.stringMatching(/^\[egress\/Checkout\] guardrail forbidCatchAll of "security baseline": allows every address \(0\.0\.0\.0\/0\).* \(got "checkout"\)$/),
      expect.stringMatching(/^\[egress\/CheckoutAgain\] name: another service rule in namespace "shop" on device egress\/Bigip has this name \(egress\/Checkout\); .* \(got "checkout"\)$/),
      expect.stringMatching(/^\[egress\/Bank\] destinations: an external service needs at least one destination; .* \(got \[\]\)$/),
      expect.stringMatching(/^\[west\/Web\] destinations\[0\]: .*\(got "10\.0\.0\.1\/8"\)$/),
    ]);
    expect(error.issues).toHaveLength(8);
    // Grouped: the lines of one construct are consecutive.
    const paths = lines.slice(1).map((l) => /^\[([^\]]+)\]/.exec(l)?.[1]);
    expect(paths.filter((p, i) => i > 0 && p !== paths[i - 1] && paths.slice(0, i).includes(p))).toEqual([]);
    // No trace of our code: the stack is the message and one line saying so.
    expect(error.stack).toBe(`EgressSynthError: ${error.message}\n    at cdktf synth (the 8 problems above)`);
    expect(error).toBeInstanceOf(EgressPolicyError);
    expect(Object.keys(error)).not.toContain('issues');
  });

  test('nothing is written, and a refused rule renders nothing even when validation is skipped', () => {
    const app = Testing.app({ skipValidation: true } as never);
    const { stack, device } = deviceStack({}, app);
    new NamespaceEgressRule(stack, 'Bad', { device, namespace: 'Payments', action: EgressAction.ALLOW, destinations: [D.anyIpv4()] });
    new NamespaceEgressRule(stack, 'Good', { device, namespace: 'web', action: EgressAction.ALLOW, destinations: [D.cidr('192.0.2.0/24')] });
    // Without validations the problem is still an error annotation, which cdktf refuses.
    expect(() => app.synth()).toThrow(/\[egress\/Bad\] namespace: must be a DNS label/);
    const tf = JSON.parse(Testing.synth(stack));
    const crs = Object.values(tf.resource.kubernetes_manifest as Record<string, { manifest: { metadata: { name: string } } }>).map((m) => m.manifest.metadata.name);
    expect(crs).toEqual(['good']);
    expect(tf.resource.bigip_as3 && JSON.stringify(tf.resource.bigip_as3)).not.toMatch(/bad/);
  });

  test('with validation skipped, a device with problems writes nothing either', () => {
    const app = Testing.app({ skipValidation: true } as never);
    const { stack, device } = deviceStack({}, app);
    EgressGuardrails.applyTo(app, { expiredRules: ExpiredRuleMode.FAIL });
    new NamespaceEgressRule(stack, 'Old', { device, namespace: 'web', action: EgressAction.ALLOW, destinations: [D.cidr('192.0.2.0/24')], expiresAt: '2021-03-01T00:00:00Z' });
    expect(() => app.synth()).toThrow(/\[egress\/Old\] expiresAt: expired at 2021-03-01T00:00:00Z/);
  });

  test('the first broken construct no longer stops the program', () => {
    const { stack, device } = deviceStack();
    expect(() => new ClusterEgressRule(stack, 'A', { device, action: EgressAction.ALLOW, destinations: [D.cidr('10.0.0.1/8')] })).not.toThrow();
    expect(() => new ClusterEgressRule(stack, 'B', { device, action: EgressAction.ALLOW, priority: -1, destinations: [D.anyIpv4()] })).not.toThrow();
  });
});

describe('expiry warns and never blocks by default', () => {
  const warningsOf = (stack: TerraformStack, id: string) =>
    stack.node
      .findChild(id)
      .node.metadata.filter((m) => m.type === '@cdktf/warn')
      .map((m) => m.data as string);

  test('an expired rule warns; an emergency DENY added at the same time ships', () => {
    const { app, stack, device } = deviceStack();
    new NamespaceEgressRule(stack, 'Old', { device, namespace: 'web', action: EgressAction.ALLOW, destinations: [D.cidr('192.0.2.0/24')], expiresAt: '2021-03-01T00:00:00Z' });
    new ClusterEgressRule(stack, 'Emergency', { device, action: EgressAction.DENY, priority: 0, destinations: [D.cidr('203.0.113.0/24')] });
    expect(() => app.synth()).not.toThrow();
    expect(warningsOf(stack, 'Old')).toEqual([expect.stringMatching(/^expiresAt: expired at 2021-03-01T00:00:00Z and is no longer enforced/)]);
  });

  test('a rule expiring within 14 days warns ahead; the window is configurable', () => {
    const { app, stack, device } = deviceStack();
    new NamespaceEgressRule(stack, 'Soon', { device, namespace: 'web', action: EgressAction.ALLOW, destinations: [D.cidr('192.0.2.0/24')], expiresAt: inDays(3) });
    new NamespaceEgressRule(stack, 'Later', { device, namespace: 'web', action: EgressAction.ALLOW, destinations: [D.cidr('192.0.2.0/24')], expiresAt: inDays(20) });
    app.synth();
    expect(warningsOf(stack, 'Soon')).toEqual([expect.stringMatching(/^expiresAt: expires at .* \(in 3 days\) and is no longer enforced after it; set a later expiresAt/)]);
    expect(warningsOf(stack, 'Later')).toEqual([]);

    const wide = deviceStack();
    EgressGuardrails.applyTo(wide.app, { expiryWarningDays: 30 });
    new NamespaceEgressRule(wide.stack, 'Later', { device: wide.device, namespace: 'web', action: EgressAction.ALLOW, destinations: [D.cidr('192.0.2.0/24')], expiresAt: inDays(20) });
    wide.app.synth();
    expect(warningsOf(wide.stack, 'Later')).toEqual([expect.stringMatching(/\(in 20 days\)/)]);
  });

  test('guardrails with expiredRules FAIL make an expired rule a problem', () => {
    const { app, stack, device } = deviceStack();
    EgressGuardrails.applyTo(app, { name: 'strict', expiredRules: ExpiredRuleMode.FAIL });
    new NamespaceEgressRule(stack, 'Old', { device, namespace: 'web', action: EgressAction.ALLOW, destinations: [D.cidr('192.0.2.0/24')], expiresAt: '2021-03-01T00:00:00Z' });
    expect(() => app.synth()).toThrow(
      /\[egress\/Old\] expiresAt: expired at 2021-03-01T00:00:00Z and is no longer enforced .* \(guardrails "strict" refuse expired rules: expiredRules is FAIL\) \(got "2021-03-01T00:00:00Z"\)/,
    );
  });

  test.each([
    [{ expiredRules: 'fail' }, /expiredRules: must be ExpiredRuleMode.FAIL or ExpiredRuleMode.WARN/],
    [{ expiryWarningDays: -1 }, /expiryWarningDays: must be a whole number of days from 0 to 3660 \(got -1\)/],
  ])('bad expiry settings are refused: %p', (props, message) => {
    expect(() => new EgressGuardrails(props as never)).toThrow(message);
  });
});
