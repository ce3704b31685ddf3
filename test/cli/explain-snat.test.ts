/**
 * explain and simulate show the source address an allowed flow leaves with where rules translate
 * (rule `snat`): the translating rule's pool, or the device's.
 */
import { App } from 'cdktf';
import { ClusterEgressRule, EgressAction, EgressDestination, EgressPort, EgressSnat } from '../../lib';
import { addSnat } from '../../examples/f5-capabilities/snat';
import { deviceStack } from '../support/app';
import { cli, synthInto, write } from './support';

let dir: string;
const AT = ['--at', '2026-03-02T10:00:00Z'];

beforeAll(() => {
  dir = synthInto((app: App) => {
    const { stack, device } = deviceStack({ podCidrs: ['10.244.0.0/16'], snat: EgressSnat.pool(['192.0.2.200']) }, app);
    addSnat(stack, device);
    new ClusterEgressRule(stack, 'Partner', {
      device,
      action: EgressAction.ALLOW,
      priority: 900,
      destinations: [EgressDestination.cidr('203.0.113.0/24')],
      ports: [EgressPort.tcp(22)],
    });
  });
});

test('a payments pod to the partner leaves from the pool of the first matching rule with snat, even where another rule decided; another namespace from the device pool', async () => {
  const payments = await cli(dir, 'explain', '--from', 'payments/settle', '--to', '203.0.113.5:22', ...AT);
  expect(payments.code).toBe(0);
  expect(payments.stdout).toContain(
    '  decided by ClusterEgressRule partner (ALLOW) at egress/Partner\n' +
      '  AFM: virtual-server context, rule c_partner_tcp of rule list /Common/Shared/k8s_prod_carried_allow in policy /Common/Shared/k8s_prod_vs_policy → accept\n' +
      '  leaves from 192.0.2.220, 192.0.2.221 (snat of NamespaceEgressRule payments/payments-to-partner)\n',
  );
  const web = await cli(dir, 'explain', '--from', 'web/shop', '--to', '203.0.113.5:22', ...AT);
  expect(web.stdout).toContain('  leaves from 192.0.2.200 (device snat pool)\n');
  const denied = await cli(dir, 'explain', '--from', 'web/shop', '--to', '203.0.113.5:443', ...AT);
  expect(denied.stdout).toContain('verdict: DENY (drop)');
  expect(denied.stdout).not.toContain('leaves from');
});

test('simulate: a "leaves from" column and translatedSource in JSON', async () => {
  write(
    dir,
    'snat-flows.yaml',
    '- {from: payments/settle, to: "203.0.113.5:22", expect: allow}\n- {from: web/shop, to: "203.0.113.5:443", expect: deny}\n',
  );
  const text = await cli(dir, 'simulate', 'snat-flows.yaml', ...AT);
  expect(text.code).toBe(0);
  expect(text.stdout.split('\n')[0]).toMatch(/decided by +leaves from$/);
  expect(text.stdout).toContain('192.0.2.220, 192.0.2.221 (snat of NamespaceEgressRule payments/payments-to-partner)  ok');
  const json = JSON.parse((await cli(dir, 'simulate', 'snat-flows.yaml', ...AT, '--format', 'json')).stdout);
  expect(json.rows.map((r: { translatedSource?: string[] }) => r.translatedSource)).toEqual([
    ['192.0.2.220, 192.0.2.221 (snat of NamespaceEgressRule payments/payments-to-partner)'],
    undefined,
  ]);
});
