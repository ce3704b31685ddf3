/**
 * Time-gated lists on the controller's clock: each is requeued at its next window edge or
 * expiry (no polling), and pushed then, empty outside its window.
 */
import { ListReconciler } from '../../../lib/controller/sync/list-reconciler';
import { PLAN_FORMAT, PlanList, SyncPlan } from '../../../lib/policy/plan';
import { FakeClock } from '../support/fake-clock';

const NS = { level: 'namespace', namespace: 'payments' } as PlanList['source'];
const list = (name: string, gate: Partial<PlanList>): PlanList => ({
  path: `/Common/Shared/${name}`,
  taskId: `~Common~Shared~${name}`,
  source: NS,
  rules: [],
  ...gate,
});
// 2026-01-05 is a Monday.
const OFFICE = list('office', { schedule: { daysOfWeek: ['monday'], startTime: '09:00', endTime: '17:00', timeZone: 'UTC' } });
const TEMPORARY = list('temporary', { expiresAt: '2026-01-05T09:30:00Z' });
const PLAN: SyncPlan = {
  format: PLAN_FORMAT,
  cluster: 'c',
  tenant: 't',
  application: 'egress',
  routeDomain: 0,
  lists: [OFFICE, TEMPORARY],
  rules: [],
};

function setup(start: string) {
  const clock = new FakeClock(start);
  const pushes: { at: string; list: string; ips: readonly string[] }[] = [];
  const reconciler = new ListReconciler({
    plan: PLAN,
    // Pods reach the reconciler as events; the cache is read only when a namespace or service changes.
    pods: { get: () => undefined, keysInNamespace: () => [] },
    clock,
    target: {
      replaceListMembers: async (taskId, ips, _rd, options) => {
        expect(options).toEqual({ retry: false }); // the workqueue owns the retries
        pushes.push({ at: new Date(clock.now()).toISOString(), list: taskId.split('~').pop() as string, ips });
      },
    },
  });
  reconciler.upsertPod({
    namespace: 'payments',
    name: 'p1',
    labels: {},
    ips: ['10.1.0.1'],
    phase: 'Running',
    terminating: false,
    hostNetwork: false,
  });
  return { clock, reconciler, pushes };
}

describe('time-gated lists', () => {
  test('pushed at the window start and end and at expiry, with nothing scheduled in between', async () => {
    const { clock, reconciler, pushes } = setup('2026-01-05T08:59:00Z');
    reconciler.activate();
    await clock.advance(1000);
    // First pushes: the window is closed (empty), the temporary rule in force.
    expect([...pushes].sort((a, b) => a.list.localeCompare(b.list))).toEqual([
      { at: '2026-01-05T08:59:00.000Z', list: 'office', ips: [] },
      { at: '2026-01-05T08:59:00.000Z', list: 'temporary', ips: ['10.1.0.1'] },
    ]);
    // One timer per gated list, due at its edge: the clock is not polled.
    expect(clock.pending).toBe(2);
    expect(new Date(clock.nextAt!).toISOString()).toBe('2026-01-05T09:00:00.000Z');

    await clock.advanceTo(Date.parse('2026-01-05T18:00:00Z'));
    const opened = pushes.filter((p) => p.list === 'office').slice(1);
    // The window opens (an addition: coalesced up to 250 ms) and closes (a removal: at once).
    expect(opened.map((p) => p.ips)).toEqual([['10.1.0.1'], []]);
    expect(Date.parse(opened[0].at) - Date.parse('2026-01-05T09:00:00Z')).toBeGreaterThanOrEqual(0);
    expect(Date.parse(opened[0].at) - Date.parse('2026-01-05T09:00:00Z')).toBeLessThanOrEqual(250);
    expect(opened[1].at).toBe('2026-01-05T17:00:00.000Z');
    expect(pushes.filter((p) => p.list === 'temporary').slice(1)).toEqual([{ at: '2026-01-05T09:30:00.000Z', list: 'temporary', ips: [] }]);
    expect(reconciler.gatedLists).toBe(2);
    expect(reconciler.listState(OFFICE.path)).toMatchObject({ active: false, pushed: 0, pending: false });
    // Expired for good: only the office window's next edge (next Monday, requeued hourly at most) is left.
    expect(clock.pending).toBe(1);
    await reconciler.deactivate();
    expect(clock.pending).toBe(0);
  });

  test('a pod that starts outside the window is not pushed to the gated list', async () => {
    const { clock, reconciler, pushes } = setup('2026-01-05T17:30:00Z');
    reconciler.activate();
    await clock.advance(1000);
    reconciler.upsertPod({
      namespace: 'payments',
      name: 'p2',
      labels: {},
      ips: ['10.1.0.2'],
      phase: 'Running',
      terminating: false,
      hostNetwork: false,
    });
    await clock.advance(10_000);
    expect(pushes.filter((p) => p.list === 'office')).toEqual([{ at: '2026-01-05T17:30:00.000Z', list: 'office', ips: [] }]);
    await reconciler.deactivate();
  });
});
