import { ClusterEgressRule, EgressAction, EgressDestination as D, EgressPort as P, NamespaceEgressRule } from '../../lib';
import { cli, synthInto, write } from '../cli/support';
import { deviceStack } from '../support/app';

/** A synthesized app whose emergency DENY expired: the tools show it, and it decides nothing. */
function expiredApp(): string {
  return synthInto((app) => {
    const { stack, device } = deviceStack({}, app);
    new ClusterEgressRule(stack, 'BlockPartner', {
      device,
      action: EgressAction.DENY,
      priority: 0,
      destinations: [D.cidr('203.0.113.0/24')],
      expiresAt: '2021-03-01T00:00:00Z',
    });
    new NamespaceEgressRule(stack, 'WebOut', {
      device,
      namespace: 'web',
      action: EgressAction.ALLOW,
      destinations: [D.cidr('203.0.113.0/24')],
      ports: [P.HTTPS],
    });
  });
}

describe('the tools list expired rules', () => {
  let dir: string;
  beforeAll(() => {
    dir = expiredApp();
  });

  test('explain names the expired rule; an expired DENY no longer denies', async () => {
    const r = await cli(dir, 'explain', '--from', 'web/api', '--to', '203.0.113.5:443');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(
      'note:        rule cluster/block-partner (DENY, egress/BlockPartner) expired at 2021-03-01T00:00:00Z and is not enforced',
    );
    expect(r.stdout).toContain('verdict: ALLOW');
  });

  test('simulate names it under the table', async () => {
    write(dir, 'flows.yaml', '- { from: web/api, to: "203.0.113.5:443", expect: allow }\n');
    const r = await cli(dir, 'simulate', 'flows.yaml');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /\n\nnote: rule cluster\/block-partner \(DENY, egress\/BlockPartner\) expired at 2021-03-01T00:00:00Z and is not enforced\n1 of 1 flows as expected/,
    );
  });
});
