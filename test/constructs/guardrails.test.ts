import { App, Testing } from 'cdktf';
import {
  ClusterEgressRule,
  EgressAction,
  EgressDestination as D,
  EgressGuardrails,
  EgressPort as P,
  ExternalService,
  GuardrailMode,
  NamespaceEgressRule,
  ServiceEgressRule,
} from '../../lib';
import { deviceStack } from '../support/app';

function synthErrors(app: App): string {
  try {
    app.synth();
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

function setup() {
  const app = Testing.app();
  return deviceStack({}, app);
}

describe('EgressGuardrails', () => {
  test('a team rule that allows everything fails synth with its path, the guardrail and the fix', () => {
    const { app, stack, device } = setup();
    EgressGuardrails.applyTo(app, { name: 'security baseline' });
    new ClusterEgressRule(stack, 'ClusterMayAllowAll', { device, action: EgressAction.ALLOW, destinations: [D.anyIpv4()] });
    new NamespaceEgressRule(stack, 'DenyAllIsFine', { device, namespace: 'web', action: EgressAction.DENY, destinations: [D.anyIpv4()] });
    new NamespaceEgressRule(stack, 'OpenWeb', { device, namespace: 'web', action: EgressAction.ALLOW, destinations: [D.anyIpv6()] });
    expect(synthErrors(app)).toMatch(
      /\[egress\/OpenWeb\] guardrail forbidCatchAll of "security baseline": allows every address \(::\/0\); only cluster rules may; name the networks the workload needs/,
    );
    expect(synthErrors(app)).not.toMatch(/ClusterMayAllowAll|DenyAllIsFine/);
  });

  test('the envelope: destinations and ports of team rules must lie inside it', () => {
    const { app, stack, device } = setup();
    EgressGuardrails.applyTo(app, {
      allowedDestinations: [D.cidr('10.0.0.0/9'), D.cidr('10.128.0.0/9'), D.fqdn('*.partner.example'), D.fqdn('api.stripe.com')],
      allowedPorts: [P.HTTPS, P.tcpRange(8000, 8099), P.tcpRange(8100, 8199)],
    });
    const bank = new ExternalService(stack, 'Bank', { device, destinations: [D.fqdn('sftp.bank.example')] });
    new NamespaceEgressRule(stack, 'Inside', { device, namespace: 'a', action: EgressAction.ALLOW, destinations: [D.cidr('10.64.0.0/10'), D.fqdn('x.partner.example')], ports: [P.tcpRange(8050, 8150)] });
    new NamespaceEgressRule(stack, 'Outside', { device, namespace: 'a', action: EgressAction.ALLOW, destinations: [D.cidr('11.0.0.0/8'), D.fqdn('a.b.partner.example'), D.externalService(bank)], ports: [P.SSH] });
    new ServiceEgressRule(stack, 'AnyPort', { device, namespace: 'a', service: 's', action: EgressAction.ALLOW_FINAL, destinations: [D.fqdn('api.stripe.com')] });
    const errors = synthErrors(app);
    expect(errors).not.toMatch(/egress\/Inside/);
    expect(errors).toMatch(/\[egress\/Outside\] guardrail allowedDestinations of "egress guardrails": allows 11.0.0.0\/8, outside the security envelope/);
    expect(errors).toMatch(/\[egress\/Outside\] guardrail allowedDestinations .* allows a.b.partner.example/);
    expect(errors).toMatch(/\[egress\/Outside\] guardrail allowedDestinations .* allows sftp.bank.example/);
    expect(errors).toMatch(/\[egress\/Outside\] guardrail allowedPorts .* allows tcp\/22, outside the allowed port set/);
    expect(errors).toMatch(/\[egress\/AnyPort\] guardrail allowedPorts .* allows every protocol and port/);
  });

  test('ownership, wildcards and the per-namespace cap', () => {
    const { app, stack, device } = setup();
    EgressGuardrails.applyTo(app, { requireOwner: true, requireTicket: true, forbidWildcardFqdns: true, maxRulesPerNamespace: 2 });
    const owned = { owner: 'team-a', ticket: 'T-1' };
    new ClusterEgressRule(stack, 'NoOwner', { device, action: EgressAction.DENY, destinations: [D.cidr('203.0.113.0/24')] });
    new NamespaceEgressRule(stack, 'One', { device, namespace: 'a', action: EgressAction.ALLOW, destinations: [D.fqdn('*.example.com')], ...owned });
    new NamespaceEgressRule(stack, 'Two', { device, namespace: 'a', action: EgressAction.ALLOW, destinations: [D.address('192.0.2.1')], ...owned });
    new ServiceEgressRule(stack, 'Three', { device, namespace: 'a', service: 's', action: EgressAction.DENY, destinations: [D.address('192.0.2.2')], ...owned });
    new NamespaceEgressRule(stack, 'OtherNamespace', { device, namespace: 'b', action: EgressAction.ALLOW, destinations: [D.address('192.0.2.3')], ...owned });
    const errors = synthErrors(app);
    expect(errors).toMatch(/\[egress\/NoOwner\] guardrail requireOwner .*set owner to the team or person responsible/);
    expect(errors).toMatch(/\[egress\/NoOwner\] guardrail requireTicket/);
    expect(errors).toMatch(/\[egress\/One\] guardrail forbidWildcardFqdns .*allows the wildcard \*\.example\.com; list the exact names/);
    expect(errors).toMatch(/\[egress\/Three\] guardrail maxRulesPerNamespace .*namespace "a" has more than 2 rules/);
    expect(errors).not.toMatch(/egress\/(Two|OtherNamespace)\]/);
  });

  test('soft guardrails only warn', () => {
    const { app, stack, device } = setup();
    EgressGuardrails.applyTo(stack, { mode: GuardrailMode.WARN, requireOwner: true });
    const rule = new NamespaceEgressRule(stack, 'Unowned', { device, namespace: 'a', action: EgressAction.ALLOW, destinations: [D.address('192.0.2.1')] });
    expect(synthErrors(app)).toBe('');
    expect(rule.node.metadata.map((m) => [m.type, m.data])).toEqual([['@cdktf/warn', expect.stringMatching(/guardrail requireOwner/)]]);
  });

  test.each([
    [{ forbidCatchAll: true, allowedDestinations: [D.anyIpv4()] }, /allowedDestinations: contradicts forbidCatchAll/],
    [{ forbidWildcardFqdns: true, allowedDestinations: [D.fqdn('*.example.com')] }, /allowedDestinations: contradicts forbidWildcardFqdns/],
    [{ allowedPorts: [] }, /allowedPorts: an empty port set forbids every team rule/],
    [{ maxRulesPerNamespace: 0 }, /maxRulesPerNamespace: must be a whole number of at least 1 \(got 0\)/],
    [{ allowedPorts: [P.tcp(0)] }, /allowedPorts\[0\]: port 0 is out of range/],
  ])('conflicting or bad guardrails fail at once: %p', (props, message) => {
    expect(() => new EgressGuardrails(props)).toThrow(message);
  });

  test('two guardrail sets of one name on one scope conflict', () => {
    const app = Testing.app();
    EgressGuardrails.applyTo(app, { name: 'sec' });
    expect(() => EgressGuardrails.applyTo(app, { name: 'sec', maxRulesPerNamespace: 3 })).toThrow(/name: a guardrail set of this name is already applied here; merge the two sets or give them different names \(got "sec"\)/);
  });
});
