import { refusal, synthesized } from './synthesized';
import { App, Aspects, Testing } from 'cdktf';
import { Construct } from 'constructs';
import {
  ClusterEgressRule,
  EgressAction,
  EgressDestination as D,
  EgressGuardrails,
  EgressPolicyError,
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
    new NamespaceEgressRule(stack, 'Inside', {
      device,
      namespace: 'a',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('10.64.0.0/10'), D.fqdn('x.partner.example')],
      ports: [P.tcpRange(8050, 8150)],
    });
    new NamespaceEgressRule(stack, 'Outside', {
      device,
      namespace: 'a',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('11.0.0.0/8'), D.fqdn('a.b.partner.example'), D.externalService(bank)],
      ports: [P.SSH],
    });
    new ServiceEgressRule(stack, 'AnyPort', {
      device,
      namespace: 'a',
      service: 's',
      action: EgressAction.ALLOW_FINAL,
      destinations: [D.fqdn('api.stripe.com')],
    });
    const errors = synthErrors(app);
    expect(errors).not.toMatch(/egress\/Inside/);
    expect(errors).toMatch(
      /\[egress\/Outside\] guardrail allowedDestinations of "egress guardrails": allows 11.0.0.0\/8, outside the security envelope/,
    );
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
    new NamespaceEgressRule(stack, 'One', {
      device,
      namespace: 'a',
      action: EgressAction.ALLOW,
      destinations: [D.fqdn('*.example.com')],
      ...owned,
    });
    new NamespaceEgressRule(stack, 'Two', {
      device,
      namespace: 'a',
      action: EgressAction.ALLOW,
      destinations: [D.address('192.0.2.1')],
      ...owned,
    });
    new ServiceEgressRule(stack, 'Three', {
      device,
      namespace: 'a',
      service: 's',
      action: EgressAction.DENY,
      destinations: [D.address('192.0.2.2')],
      ...owned,
    });
    new NamespaceEgressRule(stack, 'OtherNamespace', {
      device,
      namespace: 'b',
      action: EgressAction.ALLOW,
      destinations: [D.address('192.0.2.3')],
      ...owned,
    });
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
    const rule = new NamespaceEgressRule(stack, 'Unowned', {
      device,
      namespace: 'a',
      action: EgressAction.ALLOW,
      destinations: [D.address('192.0.2.1')],
    });
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
    // Recorded on the scope and reported at synth; the second set is not applied.
    expect(() => refusal(() => (EgressGuardrails.applyTo(app, { name: 'sec', maxRulesPerNamespace: 3 }), app))).toThrow(
      /^\[\(app\)\] name: a guardrail set of this name is already applied here; merge the two sets or give them different names \(got "sec"\)$/,
    );
    expect(Aspects.of(app).all).toHaveLength(1);
    expect(() => app.synth()).toThrow(/\[\(app\)\] name: a guardrail set of this name is already applied here/);
  });
});

/** The error lines of a failed synth that name `path`. */
function linesOf(errors: string, path: string): string[] {
  return errors.split('\n').filter((l) => l.startsWith(`[${path}] `));
}

describe('forbidCatchAll tests the union of destinations', () => {
  test('one rule: halves, many small ranges, or an external service that together cover a family', () => {
    const { app, stack, device } = setup();
    EgressGuardrails.applyTo(app, { name: 'sec' });
    const upper = new ExternalService(stack, 'UpperHalf', { device, destinations: [D.cidr('8000::/1'), D.fqdn('api.example.com')] });
    new NamespaceEgressRule(stack, 'Halves', {
      device,
      namespace: 'a',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('128.0.0.0/1'), D.cidr('0.0.0.0/1')],
    });
    new NamespaceEgressRule(stack, 'Blocks', {
      device,
      namespace: 'b',
      action: EgressAction.ALLOW_FINAL,
      destinations: [...Array.from({ length: 255 }, (_, i) => D.cidr(`${i + 1}.0.0.0/8`)), D.range('0.0.0.0', '0.255.255.255')],
    });
    new ServiceEgressRule(stack, 'ViaService', {
      device,
      namespace: 'c',
      service: 's',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('::/1'), D.externalService(upper)],
    });
    new NamespaceEgressRule(stack, 'OneAddressShort', {
      device,
      namespace: 'd',
      action: EgressAction.ALLOW,
      destinations: [
        D.range('0.0.0.0', '127.255.255.254'),
        D.cidr('128.0.0.0/1'),
        D.range('::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe'),
      ],
    });
    const errors = synthErrors(app);
    expect(linesOf(errors, 'egress/Halves')).toEqual([
      '[egress/Halves] guardrail forbidCatchAll of "sec": allows every address (0.0.0.0/1, 128.0.0.0/1); only cluster rules may; name the networks the workload needs (got "halves")',
    ]);
    expect(linesOf(errors, 'egress/Blocks')).toEqual([
      '[egress/Blocks] guardrail forbidCatchAll of "sec": allows every address (0.0.0.0-0.255.255.255, 1.0.0.0/8, 2.0.0.0/8, 3.0.0.0/8 and 252 more); only cluster rules may; name the networks the workload needs (got "blocks")',
    ]);
    expect(linesOf(errors, 'egress/ViaService')).toEqual([
      '[egress/ViaService] guardrail forbidCatchAll of "sec": allows every address (::/1, 8000::/1); only cluster rules may; name the networks the workload needs (got "via-service")',
    ]);
    expect(errors).not.toMatch(/OneAddressShort/);
  });

  test('the ALLOW rules of one source together: both halves are named, redundant and other rules are not', () => {
    const { app, stack, device } = setup();
    EgressGuardrails.applyTo(app, { name: 'sec' });
    const x = { matchLabels: { app: 'x' } };
    new NamespaceEgressRule(stack, 'Low', {
      device,
      namespace: 'a',
      podSelector: x,
      action: EgressAction.ALLOW,
      destinations: [D.cidr('0.0.0.0/1')],
    });
    new NamespaceEgressRule(stack, 'High', {
      device,
      namespace: 'a',
      podSelector: x,
      action: EgressAction.ALLOW_FINAL,
      destinations: [D.cidr('128.0.0.0/1'), D.fqdn('api.example.com')],
    });
    new NamespaceEgressRule(stack, 'Redundant', {
      device,
      namespace: 'a',
      podSelector: x,
      action: EgressAction.ALLOW,
      destinations: [D.address('192.0.2.1')],
    });
    // Sources whose pods may differ, and verdicts that do not allow, never complete a cover.
    new NamespaceEgressRule(stack, 'OtherPods', {
      device,
      namespace: 'b',
      podSelector: { matchLabels: { app: 'y' } },
      action: EgressAction.ALLOW,
      destinations: [D.cidr('0.0.0.0/1')],
    });
    new NamespaceEgressRule(stack, 'OtherPodsDeny', {
      device,
      namespace: 'b',
      podSelector: { matchLabels: { app: 'y' } },
      action: EgressAction.DENY,
      destinations: [D.cidr('128.0.0.0/1')],
    });
    new NamespaceEgressRule(stack, 'OtherLabel', {
      device,
      namespace: 'b',
      podSelector: { matchLabels: { app: 'z' } },
      action: EgressAction.ALLOW,
      destinations: [D.cidr('128.0.0.0/1')],
    });
    new NamespaceEgressRule(stack, 'OtherNamespace', {
      device,
      namespace: 'c',
      podSelector: { matchLabels: { app: 'y' } },
      action: EgressAction.ALLOW,
      destinations: [D.cidr('128.0.0.0/1')],
    });
    new ClusterEgressRule(stack, 'ClusterHalf', {
      device,
      action: EgressAction.ALLOW,
      podSelector: { matchLabels: { app: 'y' } },
      destinations: [D.cidr('128.0.0.0/1')],
    });
    const errors = synthErrors(app);
    expect(linesOf(errors, 'egress/Low')).toEqual([
      '[egress/Low] guardrail forbidCatchAll of "sec": together with egress/High allows pods of namespace "a" with app=x every address (0.0.0.0/1, 128.0.0.0/1); only cluster rules may; name the networks the workload needs (got "low")',
    ]);
    expect(linesOf(errors, 'egress/High')).toEqual([
      '[egress/High] guardrail forbidCatchAll of "sec": together with egress/Low allows pods of namespace "a" with app=x every address (0.0.0.0/1, 128.0.0.0/1); only cluster rules may; name the networks the workload needs (got "high")',
    ]);
    expect(errors).not.toMatch(/Redundant|OtherPods|OtherLabel|OtherNamespace|ClusterHalf/);
  });

  test('a namespace rule without pod selector joins every source of its namespace; ports must overlap', () => {
    const { app, stack, device } = setup();
    EgressGuardrails.applyTo(app, { name: 'sec' });
    new NamespaceEgressRule(stack, 'WholeNamespace', {
      device,
      namespace: 'a',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('::/1')],
      ports: [P.tcpRange(400, 500)],
    });
    new ServiceEgressRule(stack, 'Checkout', {
      device,
      namespace: 'a',
      service: 'checkout',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('8000::/1')],
      ports: [P.HTTPS, P.DNS_UDP],
    });
    new NamespaceEgressRule(stack, 'Labelled', {
      device,
      namespace: 'a',
      podSelector: { matchLabels: { tier: 'web' } },
      action: EgressAction.ALLOW,
      destinations: [D.cidr('8000::/1')],
      ports: [P.DNS_UDP],
    });
    const errors = synthErrors(app);
    expect(linesOf(errors, 'egress/WholeNamespace')).toEqual([
      '[egress/WholeNamespace] guardrail forbidCatchAll of "sec": together with egress/Checkout allows pods of service "checkout" in namespace "a" every address on tcp/443 (::/1, 8000::/1); only cluster rules may; name the networks the workload needs (got "whole-namespace")',
    ]);
    expect(linesOf(errors, 'egress/Checkout')).toHaveLength(1);
    // Same pods, but the two rules share no port: no port reaches every address.
    expect(errors).not.toMatch(/Labelled/);
  });

  test('only the rules under the scope a guardrail set is applied to are combined', () => {
    const { app, stack, device } = setup();
    const teamA = new Construct(stack, 'team-a');
    const teamB = new Construct(stack, 'team-b');
    EgressGuardrails.applyTo(teamA, { name: 'team a' });
    new NamespaceEgressRule(teamA, 'Low', { device, namespace: 'a', action: EgressAction.ALLOW, destinations: [D.cidr('0.0.0.0/1')] });
    new NamespaceEgressRule(teamB, 'High', { device, namespace: 'a', action: EgressAction.ALLOW, destinations: [D.cidr('128.0.0.0/1')] });
    expect(synthErrors(app)).toBe('');
    const app2 = setup();
    const scoped = new Construct(app2.stack, 'team-a');
    EgressGuardrails.applyTo(scoped, { name: 'team a' });
    new NamespaceEgressRule(scoped, 'Low', {
      device: app2.device,
      namespace: 'a',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('0.0.0.0/1')],
    });
    new NamespaceEgressRule(scoped, 'High', {
      device: app2.device,
      namespace: 'a',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('128.0.0.0/1')],
    });
    expect(synthErrors(app2.app)).toMatch(
      /\[egress\/team-a\/Low\] guardrail forbidCatchAll of "team a": together with egress\/team-a\/High allows pods of namespace "a" every address/,
    );
  });

  test('the envelope holds a rule whose destination spans two adjacent envelope entries, and refuses one address past it', () => {
    const { app, stack, device } = setup();
    EgressGuardrails.applyTo(app, {
      allowedDestinations: [
        D.cidr('10.0.0.0/9'),
        D.range('10.128.0.0', '10.255.255.255'),
        D.cidr('2001:db8::/33'),
        D.cidr('2001:db8:8000::/33'),
      ],
    });
    const es = new ExternalService(stack, 'Partner', {
      device,
      destinations: [D.cidr('2001:db8::/32'), D.range('10.255.255.255', '11.0.0.0')],
    });
    new NamespaceEgressRule(stack, 'Spanning', {
      device,
      namespace: 'a',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('10.0.0.0/8'), D.range('10.127.255.255', '10.128.0.0')],
    });
    new NamespaceEgressRule(stack, 'ViaPartner', {
      device,
      namespace: 'a',
      action: EgressAction.ALLOW,
      destinations: [D.externalService(es)],
    });
    const errors = synthErrors(app);
    expect(errors).not.toMatch(/Spanning/);
    expect(linesOf(errors, 'egress/ViaPartner')).toEqual([
      '[egress/ViaPartner] guardrail allowedDestinations of "egress guardrails": allows 10.255.255.255-11.0.0.0, outside the security envelope; ask the security team to extend the envelope or narrow the rule (got "via-partner")',
    ]);
  });
});

describe('ownership text must say something', () => {
  test.each([['   '], ['--'], ['.']])('owner, ticket and justification %p are refused', (blank) => {
    const { app, stack, device } = setup();
    EgressGuardrails.applyTo(app, { name: 'sec', requireOwner: true, requireTicket: true, requireJustification: true });
    new ClusterEgressRule(stack, 'Blank', {
      device,
      action: EgressAction.DENY,
      destinations: [D.cidr('203.0.113.0/24')],
      owner: blank,
      ticket: blank,
      justification: blank,
    });
    new ClusterEgressRule(stack, 'Owned', {
      device,
      action: EgressAction.DENY,
      destinations: [D.cidr('198.51.100.0/24')],
      owner: 'x',
      ticket: '7',
      justification: '(b)',
    });
    const q = JSON.stringify(blank);
    expect(linesOf(synthErrors(app), 'egress/Blank')).toEqual([
      `[egress/Blank] guardrail requireOwner of "sec": every rule needs an owner, and ${q} has no letter or digit; set owner to the team or person responsible (got "blank")`,
      `[egress/Blank] guardrail requireTicket of "sec": every rule needs a ticket, and ${q} has no letter or digit; set ticket to the change or request reference (got "blank")`,
      `[egress/Blank] guardrail requireJustification of "sec": every rule needs a justification, and ${q} has no letter or digit; set justification to why the egress is needed (got "blank")`,
    ]);
    expect(synthErrors(app)).not.toMatch(/Owned/);
  });
});

describe('the cluster level is reserved', () => {
  function reserved() {
    const s = setup();
    const security = new Construct(s.stack, 'security');
    const emergency = new Construct(security, 'emergency');
    const evil = new Construct(s.stack, 'security-evil');
    EgressGuardrails.applyTo(s.app, {
      name: 'sec',
      clusterRuleScopes: ['egress/security'],
      emergencyPriorityMax: 99,
      emergencyRuleScopes: ['egress/security/emergency'],
    });
    return { ...s, security, emergency, evil };
  }

  test('cluster rules outside the allowed scopes, or in the reserved band outside the emergency scope, fail with their path', () => {
    const { app, stack, device, security, emergency, evil } = reserved();
    const deny = { device, action: EgressAction.DENY, destinations: [D.anyIpv4()] };
    new ClusterEgressRule(emergency, 'Lockdown', { ...deny, priority: 0 });
    new ClusterEgressRule(security, 'BlockBad', { ...deny, priority: 100 });
    new ClusterEgressRule(emergency, 'Ordinary', { ...deny, priority: 700 });
    new ClusterEgressRule(security, 'TooEarly', { ...deny, priority: 99 });
    new ClusterEgressRule(evil, 'LookAlike', { ...deny, priority: 200 });
    new ClusterEgressRule(stack, 'TeamFirst', {
      ...deny,
      action: EgressAction.ALLOW_FINAL,
      priority: 0,
      destinations: [D.cidr('203.0.113.0/24')],
    });
    new NamespaceEgressRule(stack, 'NamespaceAtZero', {
      device,
      namespace: 'a',
      action: EgressAction.ALLOW,
      priority: 0,
      destinations: [D.cidr('203.0.113.0/24')],
    });
    const errors = synthErrors(app);
    const outside =
      'guardrail clusterRuleScopes of "sec": cluster rules may be declared only under "egress/security", "egress/security/emergency"; write a namespace or service rule, or ask the security team to add the rule there';
    const band = (p: number) =>
      `guardrail emergencyPriorityMax of "sec": priority ${p} is in the band 0-99 reserved for the emergency rules under "egress/security/emergency", which must sort first; use a priority above 99`;
    expect(linesOf(errors, 'egress/security/TooEarly')).toEqual([`[egress/security/TooEarly] ${band(99)} (got "too-early")`]);
    expect(linesOf(errors, 'egress/security-evil/LookAlike')).toEqual([`[egress/security-evil/LookAlike] ${outside} (got "look-alike")`]);
    expect(linesOf(errors, 'egress/TeamFirst')).toEqual([
      `[egress/TeamFirst] ${outside} (got "team-first")`,
      `[egress/TeamFirst] ${band(0)} (got "team-first")`,
    ]);
    expect(errors).not.toMatch(/Lockdown|BlockBad|Ordinary|NamespaceAtZero/);
  });

  test.each([
    [
      { emergencyPriorityMax: 99 },
      /emergencyPriorityMax: reserves cluster-rule priorities 0 to 99, but no emergencyRuleScopes may use them/,
    ],
    [
      { emergencyRuleScopes: ['security'] },
      /emergencyRuleScopes: names who may use the reserved priorities, but none are reserved; set emergencyPriorityMax/,
    ],
    [{ clusterRuleScopes: [] }, /clusterRuleScopes: an empty list forbids every cluster rule/],
    [{ emergencyPriorityMax: 1000, emergencyRuleScopes: ['security'] }, /emergencyPriorityMax: must be a whole number from 0 to 999/],
    [{ clusterRuleScopes: ['/security'] }, /clusterRuleScopes\[0\]: must be a construct path such as "security"/],
    [{ clusterRuleScopes: ['security/'] }, /clusterRuleScopes\[0\]: must be a construct path/],
  ])('reservations that cannot work fail at once: %p', (props, message) => {
    expect(() => new EgressGuardrails(props as any)).toThrow(message);
  });

  test('a construct passed as a scope is refused with its path', () => {
    const { stack } = setup();
    const security = new Construct(stack, 'security');
    expect(() => new EgressGuardrails({ clusterRuleScopes: [security as any] })).toThrow(
      /clusterRuleScopes\[0\]: expected a construct path \(a string\); pass its node.path, here "egress\/security" \(got a construct at "egress\/security"\)/,
    );
  });
});

describe('props as plain JavaScript passes them', () => {
  const cases: [string, unknown, string[]][] = [
    [
      'null',
      null,
      ['(props): expected the props of EgressGuardrails, an object such as { name: "security baseline", requireOwner: true } (got null)'],
    ],
    [
      'a string',
      'strict',
      [
        '(props): expected the props of EgressGuardrails, an object such as { name: "security baseline", requireOwner: true } (got "strict")',
      ],
    ],
    [
      'a misspelled guardrail',
      { forbidCatchall: false },
      [
        'forbidCatchall: is not a prop of EgressGuardrails, and an unknown prop is never ignored: did you mean "forbidCatchAll"? (got false)',
      ],
    ],
    [
      'a prop of another construct',
      { destinations: [], warnOnly: true },
      [
        'destinations: is not a prop of EgressGuardrails: the envelope is allowedDestinations (got [])',
        'warnOnly: is not a prop of EgressGuardrails: use mode: GuardrailMode.WARN (got true)',
      ],
    ],
    [
      'a string boolean',
      { forbidCatchAll: 'false', requireOwner: 1 },
      [
        'forbidCatchAll: expected the boolean false, not a string; write false without quotes (got "false")',
        'requireOwner: expected true or false (got 1)',
      ],
    ],
    [
      'strings for value objects',
      { allowedDestinations: '10.0.0.0/8', allowedPorts: ['tcp/443'] },
      [
        'allowedDestinations: expected an array of EgressDestination, such as [EgressDestination.cidr("10.0.0.0/8")] (got "10.0.0.0/8")',
        'allowedPorts[0]: expected an EgressPort made with its static factories, such as EgressPort.HTTPS (got "tcp/443")',
      ],
    ],
    [
      'one value object, not an array',
      { allowedDestinations: D.cidr('10.0.0.0/8') },
      ['allowedDestinations: expected an array of EgressDestination; wrap the single value in [ ] (got "10.0.0.0/8")'],
    ],
    [
      'null elements and a broken reference',
      { allowedDestinations: [null, D.externalService(null as any)] },
      [
        'allowedDestinations[0]: expected an EgressDestination made with its static factories, such as EgressDestination.cidr("10.0.0.0/8") (got null)',
        'allowedDestinations[1]: EgressDestination.externalService() needs an ExternalService construct (created with new ExternalService(...)) (got null)',
      ],
    ],
    [
      'numbers out of range',
      { maxRulesPerNamespace: '3', emergencyPriorityMax: -1, emergencyRuleScopes: ['security'] },
      [
        'maxRulesPerNamespace: must be a whole number of at least 1 (got "3")',
        'emergencyPriorityMax: must be a whole number from 0 to 999: cluster-rule priorities 0 to this value are reserved (got -1)',
      ],
    ],
    [
      'NaN and Infinity',
      { maxRulesPerNamespace: NaN, emergencyPriorityMax: Infinity, emergencyRuleScopes: ['security'] },
      [
        'maxRulesPerNamespace: must be a whole number of at least 1 (got NaN)',
        'emergencyPriorityMax: must be a whole number from 0 to 999: cluster-rule priorities 0 to this value are reserved (got Infinity)',
      ],
    ],
    ['a mode in lower case', { mode: 'warn' }, ['mode: must be GuardrailMode.ENFORCE or GuardrailMode.WARN (got "warn")']],
  ];
  test.each(cases)('%s: a named error with the field, the value and the fix', (_, props, lines) => {
    let error: unknown;
    try {
      new EgressGuardrails(props as any);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EgressPolicyError);
    expect((error as EgressPolicyError).message.split('\n')).toEqual(lines.map((l) => `[guardrails "egress guardrails"] ${l}`));
  });

  test('a blank name is refused, and the message does not use it', () => {
    expect(() => new EgressGuardrails({ name: '  ' })).toThrow(
      /^\[guardrails\] name: must be 1 to 64 characters with at least one letter or digit and no control characters \(got " {2}"\)$/,
    );
  });

  test('applyTo without a construct', () => {
    expect(() => (EgressGuardrails as any).applyTo({ name: 'sec' })).toThrow(EgressPolicyError);
    expect(() => (EgressGuardrails as any).applyTo('app', { name: 'sec' })).toThrow(
      /\[guardrails "sec"\] scope: must be a construct \(the App, a stack or a construct in one\): EgressGuardrails.applyTo\(app, \{ ... \}\) \(got "app"\)/,
    );
  });
});

test('a rule construct whose props were refused (and caught) does not break the guardrails of its stack', () => {
  const { app, stack, device } = setup();
  EgressGuardrails.applyTo(stack, { requireOwner: true });
  expect(() =>
    synthesized(
      () =>
        new NamespaceEgressRule(stack, 'Refused', {
          device,
          namespace: 'A_B',
          action: EgressAction.ALLOW,
          destinations: [D.cidr('10.0.0.0/8')],
        }),
    ),
  ).toThrow(EgressPolicyError);
  new NamespaceEgressRule(stack, 'Unowned', { device, namespace: 'a', action: EgressAction.ALLOW, destinations: [D.cidr('10.0.0.0/8')] });
  expect(linesOf(synthErrors(app), 'egress/Unowned')).toEqual([
    '[egress/Unowned] guardrail requireOwner of "egress guardrails": every rule needs an owner; set owner to the team or person responsible (got "unowned")',
  ]);
});
