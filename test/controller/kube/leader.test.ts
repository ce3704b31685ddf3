/**
 * Leader election on a Lease in the emulator, with a clock the test advances by hand: time
 * only moves when every candidate is waiting, so the outcome does not depend on machine speed.
 */
import { LeaderElector, LeaseClock, LeaseObject, microTime } from '../../../lib/controller/kube/leader';
import { LEASES } from '../../../lib/clients/kube/resources';
import { Harness, eventually, startHarness } from './helpers';

class ManualClock implements LeaseClock {
  private t = 1_700_000_000_000;
  private sleepers: { until: number; resolve: () => void }[] = [];

  public now(): number {
    return this.t;
  }

  public sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const onAbort = (): void => {
        this.sleepers = this.sleepers.filter((s) => s !== entry);
        resolve();
      };
      const entry = {
        until: this.t + ms,
        resolve: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.sleepers.push(entry);
      signal.addEventListener('abort', onAbort);
    });
  }

  public get sleeping(): number {
    return this.sleepers.length;
  }

  /** Moves time to the next wake-up (at most `maxMs`) and wakes whoever is due. */
  public advance(maxMs: number): void {
    const next = Math.min(...this.sleepers.map((s) => s.until), this.t + maxMs);
    this.t = Math.max(this.t, next);
    const due = this.sleepers.filter((s) => s.until <= this.t);
    this.sleepers = this.sleepers.filter((s) => s.until > this.t);
    for (const s of due) s.resolve();
  }
}

interface Candidate {
  readonly id: string;
  readonly elector: LeaderElector;
  readonly events: string[];
  running: boolean;
}

describe('LeaderElector', () => {
  let h: Harness;
  let clock: ManualClock;
  let candidates: Candidate[];
  /** Every leadership change in order, across candidates. */
  let timeline: string[];

  beforeEach(async () => {
    h = await startHarness({ namespaces: ['default', 'egress-system'] });
    clock = new ManualClock();
    candidates = [];
    timeline = [];
  });
  afterEach(async () => {
    for (const c of candidates) if (c.running) await c.elector.stop();
    await h.close();
  });

  function candidate(id: string, hooks: { onStoppedLeading?: () => Promise<void>; onWorkAborted?: () => void } = {}): Candidate {
    const events: string[] = [];
    const c: Candidate = {
      id,
      events,
      running: true,
      elector: new LeaderElector({
        client: h.client,
        namespace: 'egress-system',
        name: 'cdktf-ces-controller',
        identity: id,
        clock,
        random: () => 0.5,
        onStartedLeading: (signal) => {
          events.push('started');
          timeline.push(`${id} started`);
          signal.addEventListener('abort', () => {
            timeline.push(`${id} work aborted`);
            hooks.onWorkAborted?.();
          });
        },
        onStoppedLeading: async () => {
          await hooks.onStoppedLeading?.();
          events.push('stopped');
          timeline.push(`${id} stopped`);
        },
      }),
    };
    candidates.push(c);
    c.elector.start();
    return c;
  }

  const lease = () =>
    h.emulator.get({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: 'egress-system', name: 'cdktf-ces-controller' }) as
      LeaseObject | undefined;
  const leaders = () => candidates.filter((c) => c.elector.isLeader()).map((c) => c.id);
  const running = () => candidates.filter((c) => c.running).length;

  /** Waits until every running candidate sleeps, then advances the clock; checks safety at each step. */
  async function step(maxMs = 1000): Promise<void> {
    await eventually(() => clock.sleeping >= running(), 'all candidates to wait');
    expect(leaders().length).toBeLessThanOrEqual(1);
    clock.advance(maxMs);
  }

  async function stepUntil(cond: () => boolean, what: string, maxSteps = 200): Promise<void> {
    for (let i = 0; i < maxSteps; i++) {
      if (cond()) return;
      await step();
    }
    await eventually(() => clock.sleeping >= running(), 'all candidates to wait');
    if (!cond()) throw new Error(`never reached: ${what}`);
  }

  test('exactly one of two candidates leads, and the lease says so', async () => {
    const a = candidate('replica-a');
    const b = candidate('replica-b');
    await stepUntil(() => leaders().length === 1, 'a leader');
    // Let many renew periods pass: leadership stays put and never doubles.
    for (let i = 0; i < 30; i++) await step();
    expect(leaders()).toHaveLength(1);
    const leader = leaders()[0];
    const spec = lease()?.spec;
    expect(spec?.holderIdentity).toBe(leader);
    expect(spec?.leaseDurationSeconds).toBe(15);
    expect(spec?.leaseTransitions).toBe(0);
    expect(spec?.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    expect(a.events.length + b.events.length).toBe(1);
    expect(a.elector.leader).toBe(leader);
    expect(b.elector.leader).toBe(leader);
  });

  test('a graceful stop releases the lease and the standby takes over at its next retry', async () => {
    const a = candidate('replica-a');
    await stepUntil(() => a.elector.isLeader(), 'a leading');
    const b = candidate('replica-b');
    for (let i = 0; i < 5; i++) await step();
    expect(leaders()).toEqual(['replica-a']);

    await a.elector.stop();
    a.running = false;
    expect(lease()?.spec?.holderIdentity).toBe('');
    const releasedAt = clock.now();
    await stepUntil(() => b.elector.isLeader(), 'b leading');
    // Released, not expired: b did not have to wait out the 15 s lease.
    expect(clock.now() - releasedAt).toBeLessThan(15_000);
    expect(timeline).toEqual(['replica-a started', 'replica-a work aborted', 'replica-a stopped', 'replica-b started']);
    expect(lease()?.spec).toMatchObject({ holderIdentity: 'replica-b', leaseTransitions: 1 });
  });

  test('a leader that stops renewing (crash) is replaced only after the lease expires', async () => {
    const a = candidate('replica-a');
    await stepUntil(() => a.elector.isLeader(), 'a leading');
    const b = candidate('replica-b');
    for (let i = 0; i < 3; i++) await step();
    await a.elector.stop({ release: false });
    a.running = false;
    const lastRenew = Date.parse(lease()?.spec?.renewTime ?? '');
    expect(lease()?.spec?.holderIdentity).toBe('replica-a');
    await stepUntil(() => b.elector.isLeader(), 'b leading');
    expect(lease()?.spec?.holderIdentity).toBe('replica-b');
    expect(Date.parse(lease()?.spec?.acquireTime ?? '')).toBeGreaterThanOrEqual(lastRenew + 15_000);
  });

  test('a leader that cannot renew steps down; while writes fail nobody leads; then exactly one does', async () => {
    const a = candidate('replica-a');
    await stepUntil(() => a.elector.isLeader(), 'a leading');
    const b = candidate('replica-b');
    for (let i = 0; i < 3; i++) await step();
    // Every lease write fails from now on (the API server rejects a's renewals).
    h.emulator.failNext({
      pathPrefix: '/apis/coordination.k8s.io/v1/namespaces/egress-system/leases',
      method: 'PUT',
      status: 500,
      count: 1_000_000,
    });
    await stepUntil(() => !a.elector.isLeader(), 'a stepping down');
    for (let i = 0; i < 40; i++) {
      await step();
      expect(leaders()).toEqual([]);
    }
    h.emulator.clearFailures();
    await stepUntil(() => leaders().length === 1, 'a new leader');
    // The lease still named a, so a may take it back; either way the hand-over is ordered.
    expect(timeline.slice(0, 3)).toEqual(['replica-a started', 'replica-a work aborted', 'replica-a stopped']);
    expect(timeline.slice(3)).toEqual([`${leaders()[0]} started`]);
    expect(lease()?.spec?.holderIdentity).toBe(leaders()[0]);
    expect(b.events.length + a.events.length).toBe(3);
  });

  test('a leader that finds another holder on the lease steps down at once', async () => {
    const a = candidate('replica-a');
    await stepUntil(() => a.elector.isLeader(), 'a leading');
    const current = lease();
    h.emulator.apply({ ...current, spec: { ...current?.spec, holderIdentity: 'intruder', renewTime: microTime(clock.now()) } });
    await stepUntil(() => !a.elector.isLeader(), 'a stepping down');
    expect(a.events).toEqual(['started', 'stopped']);
  });

  test('a renewal that hangs on a slow API server is abandoned at the deadline: leading ends on time, not when the request gives up', async () => {
    let abortedAt: { clock: number; hanging: number } | undefined;
    const a = candidate('replica-a', { onWorkAborted: () => (abortedAt = { clock: clock.now(), hanging: h.emulator.hangingRequests }) });
    await stepUntil(() => a.elector.isLeader(), 'a leading');
    const lastRenew = Date.parse(lease()?.spec?.renewTime ?? '');
    // From now on the API server accepts lease requests and never answers them.
    h.emulator.failNext({ pathPrefix: '/apis/coordination.k8s.io/v1/namespaces/egress-system/leases', status: 'hang', count: 1_000_000 });
    // Small steps until the next renewal is stuck at the server.
    for (let i = 0; i < 40 && h.emulator.hangingRequests === 0; i++) {
      await step(250);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(h.emulator.hangingRequests).toBe(1);
    for (let i = 0; i < 40 && abortedAt === undefined; i++) {
      await step();
      // Let the elector react to the time that passed before looking again.
      await new Promise((r) => setTimeout(r, 20));
    }
    // The renew deadline (10 s) ended it on the elector's clock, with the renewal still unanswered.
    expect(abortedAt).toBeDefined();
    expect((abortedAt?.clock ?? 0) - lastRenew).toBeLessThanOrEqual(10_000);
    expect(abortedAt?.hanging).toBe(1);
    h.emulator.clearFailures();
    await eventually(() => !a.elector.isLeader() && timeline.includes('replica-a stopped'), 'a to stop leading');
    expect(timeline.slice(0, 3)).toEqual(['replica-a started', 'replica-a work aborted', 'replica-a stopped']);
  }, 30_000);

  test('the lease is released only after the work has wound down (onStoppedLeading settled)', async () => {
    let finishWork!: () => void;
    const workDone = new Promise<void>((r) => (finishWork = r));
    const a = candidate('replica-a', { onStoppedLeading: () => workDone });
    await stepUntil(() => a.elector.isLeader(), 'a leading');
    const stopped = a.elector.stop();
    a.running = false;
    await eventually(() => timeline.includes('replica-a work aborted'), 'the work signal to abort');
    // The push in flight is still running: the lease must still name this replica.
    await new Promise((r) => setTimeout(r, 50));
    expect(lease()?.spec?.holderIdentity).toBe('replica-a');
    finishWork();
    await stopped;
    expect(lease()?.spec?.holderIdentity).toBe('');
    expect(timeline).toEqual(['replica-a started', 'replica-a work aborted', 'replica-a stopped']);
  });

  test('optimistic concurrency: a stale lease write is rejected with 409', async () => {
    const created = await h.client.create<LeaseObject>(LEASES, {
      metadata: { name: 'race', namespace: 'default' },
      spec: { holderIdentity: 'x', leaseDurationSeconds: 15 },
    });
    await h.client.replace<LeaseObject>(LEASES, { ...created, spec: { ...created.spec, holderIdentity: 'winner' } });
    await expect(
      h.client.replace<LeaseObject>(LEASES, { ...created, spec: { ...created.spec, holderIdentity: 'loser' } }),
    ).rejects.toMatchObject({ statusCode: 409, reason: 'Conflict' });
  });

  test('settings that would allow two leaders are refused', () => {
    expect(
      () =>
        new LeaderElector({
          client: h.client,
          namespace: 'default',
          name: 'x',
          identity: 'a',
          leaseDurationSeconds: 5,
          renewDeadlineMs: 5000,
          onStartedLeading: () => undefined,
        }),
    ).toThrow('must exceed renewDeadlineMs');
    expect(
      () => new LeaderElector({ client: h.client, namespace: 'default', name: 'x', identity: '', onStartedLeading: () => undefined }),
    ).toThrow('identity');
  });
});
