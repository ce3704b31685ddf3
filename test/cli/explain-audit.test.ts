/**
 * explain names a matching audit rule even when enforcing it would not change the verdict.
 */
import { App } from 'cdktf';
import { ClusterEgressRule, EgressAction, EgressDestination, EgressPort } from '../../lib';
import { deviceStack } from '../support/app';
import { cli, synthInto } from './support';

let dir: string;

beforeAll(() => {
  dir = synthInto((app: App) => {
    const { stack, device } = deviceStack({ podCidrs: ['10.244.0.0/16'] }, app);
    new ClusterEgressRule(stack, 'NoSsh', {
      device,
      action: EgressAction.DENY,
      priority: 10,
      audit: true,
      destinations: [EgressDestination.cidr('192.0.2.0/24')],
      ports: [EgressPort.SSH],
    });
  });
});

test('an audit DENY over a flow the default drops anyway: the would-be line and path name it', async () => {
  const r = await cli(dir, 'explain', '--from', 'shop/cart', '--to', '192.0.2.5:22', '--at', '2026-03-02T10:00:00Z');
  expect(r.code).toBe(0);
  const lines = r.stdout.split('\n');
  expect(lines.slice(lines.indexOf('verdict: DENY (drop)'), lines.indexOf('verdict: DENY (drop)') + 2)).toEqual([
    'verdict: DENY (drop)',
    'would be with audit rules enforced: DENY (drop) (unchanged; decided by audit rule ClusterEgressRule no-ssh)',
  ]);
  expect(r.stdout).toContain(
    'would be (staged policies, audit rules enforced): DENY (drop)\n  1 cluster   global context          ClusterEgressRule no-ssh → DENY  [c_no-ssh_tcp]\n',
  );
  expect(r.stdout).toContain('  decided by ClusterEgressRule no-ssh (DENY, audit) at egress/NoSsh\n');
});

test('no audit rule matches: no would-be lines', async () => {
  const r = await cli(dir, 'explain', '--from', 'shop/cart', '--to', '192.0.2.5:443', '--at', '2026-03-02T10:00:00Z');
  expect(r.code).toBe(0);
  expect(r.stdout).not.toContain('would be');
});
