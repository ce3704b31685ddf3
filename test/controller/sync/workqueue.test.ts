import fc from 'fast-check';
import { BigipApiError } from '../../../lib/clients/bigip/errors';
import { ADDITION_AGING_MS, BUDGET_CAP_MS, PushOutcome, ListWorkqueue, ListWorkqueueOptions } from '../../../lib/controller/sync/workqueue';

// Every test runs on jest's fake clock: time moves only when a test advances it.
const T0 = 1_000_000;
beforeEach(() => jest.useFakeTimers({ now: T0 }));
afterEach(() => jest.useRealTimers());
const advance = (ms: number) => jest.advanceTimersByTimeAsync(ms);

interface Call {
  readonly path: string;
  readonly members: readonly string[];
  readonly sentAt: number;
  /** When the device starts on it and when it answers. */
  readonly startAt: number;
  readonly endAt: number;
}

/**
 * A device that takes `cost(path, callIndex)` ms of fake time per push. `serial`: its control
 * plane works one push at a time, as a BIG-IP's does (a push waits for the ones before it);
 * otherwise every push takes its cost from when it arrives.
 */
class FakeDevice {
  readonly state = new Map<string, readonly string[]>();
  readonly calls: Call[] = [];
  failNext: { path?: string; error: Error }[] = [];
  gate?: Promise<void>;
  inFlight = 0;
  maxInFlight = 0;
  private freeAt = 0;

  constructor(
    public cost: (path: string, index: number) => number = () => 1,
    private readonly serial = true,
  ) {}

  async push(path: string, members: readonly string[]): Promise<void> {
    const now = Date.now();
    const startAt = this.serial ? Math.max(now, this.freeAt) : now;
    const endAt = startAt + this.cost(path, this.calls.length);
    this.freeAt = endAt;
    this.calls.push({ path, members: [...members], sentAt: now, startAt, endAt });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.gate) await this.gate;
      await new Promise((r) => setTimeout(r, Math.max(0, endAt - Date.now())));
      const i = this.failNext.findIndex((f) => !f.path || f.path === path);
      if (i >= 0) throw this.failNext.splice(i, 1)[0].error;
      this.state.set(path, [...members]);
    } finally {
      this.inFlight--;
    }
  }

  /** Time the device worked on pushes within [from, to). */
  busyMs(from: number, to: number): number {
    let ms = 0;
    for (const c of this.calls) ms += Math.max(0, Math.min(to, c.endAt) - Math.max(from, c.startAt));
    return ms;
  }

  paths(): string[] {
    return this.calls.map((c) => c.path);
  }
}

class Terminal extends Error {}

const busy503 = () =>
  new BigipApiError({
    reason: 'DeviceBusy',
    terminal: false,
    method: 'POST',
    path: '/mgmt/shared/service-discovery/task/x/nodes',
    status: 503,
    deviceMessage: 'busy',
    attempts: 5,
  });

function scheduler(device: FakeDevice, desired: (path: string) => readonly string[], extra: Partial<ListWorkqueueOptions> = {}) {
  const outcomes: PushOutcome[] = [];
  const s = new ListWorkqueue({
    target: device,
    desired,
    onOutcome: (o) => outcomes.push(o),
    retryBaseMs: 1,
    retryMaxMs: 5,
    terminalRetryMs: 10,
    isTerminal: (e) => e instanceof Terminal,
    ...extra,
  });
  return { s, outcomes };
}

/** Lists whose membership is their path plus a version that `bump` raises. */
class Versions {
  private readonly versions = new Map<string, number>();
  readonly desired = (path: string) => [`${path}-${this.versions.get(path) ?? 0}`];
  bump(path: string): void {
    this.versions.set(path, (this.versions.get(path) ?? 0) + 1);
  }
}

const names = (n: number, prefix = 'l') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** Stops the scheduler, moving the clock on until its pushes in flight are answered. */
async function stop(s: ListWorkqueue): Promise<void> {
  let stopped = false;
  const done = s.stop().then(() => (stopped = true));
  for (let i = 0; i < 100_000 && !stopped; i++) await advance(10);
  await done;
}

async function settle(s: ListWorkqueue, device: FakeDevice, limitMs = 120_000): Promise<void> {
  for (let waited = 0; waited <= limitMs; waited += 10) {
    if (s.pending === 0 && device.inFlight === 0) return;
    await advance(10);
  }
  throw new Error(`still ${s.pending} lists pending after ${limitMs} ms`);
}

describe('ListWorkqueue', () => {
  test('converges to the desired membership through failures, and skips pushes that change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            list: fc.constantFrom('a', 'b', 'c'),
            members: fc.uniqueArray(fc.constantFrom('1', '2', '3', '4'), { maxLength: 4 }),
            fail: fc.boolean(),
            gapMs: fc.integer({ min: 0, max: 30 }),
          }),
          {
            minLength: 1,
            maxLength: 25,
          },
        ),
        fc.integer({ min: 0, max: 20 }),
        async (steps, costMs) => {
          const device = new FakeDevice(() => costMs);
          const desired = new Map<string, string[]>();
          const { s, outcomes } = scheduler(device, (p) => desired.get(p) ?? [], { coalesceMs: 5 });
          s.start();
          for (const step of steps) {
            const before = desired.get(step.list) ?? [];
            desired.set(step.list, [...step.members].sort());
            if (step.fail) device.failNext.push({ path: step.list, error: busy503() });
            s.markDirty(
              step.list,
              before.some((m) => !(step.members as string[]).includes(m)),
            );
            await advance(step.gapMs);
          }
          await settle(s, device);
          await stop(s);
          for (const [list, members] of desired) expect(device.state.get(list) ?? []).toEqual(members);
          // Every call is a push that was needed or one that failed; unchanged lists were skipped.
          expect(device.calls.length).toBe(outcomes.filter((o) => o.pushed).length);
          // A list never has two pushes in flight: the device applies them in order.
          for (const list of desired.keys()) {
            const calls = device.calls.filter((c) => c.path === list);
            for (let i = 1; i < calls.length; i++) expect(calls[i].sentAt).toBeGreaterThanOrEqual(calls[i - 1].endAt);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  test('pushes as fast as the device answers: a device answering in 1 ms takes 200 lists in well under a second', async () => {
    const device = new FakeDevice(() => 1);
    const lists = new Versions();
    // Defaults only: no fixed rate.
    const s = new ListWorkqueue({ target: device, desired: lists.desired });
    for (const l of names(200)) s.markDirty(l, true);
    s.start();
    await advance(500);
    expect(device.calls).toHaveLength(200);
    // ... and still leaves the device idle a fifth of the time (default 80 %), apart from the
    // saved-up budget of an idle start.
    const end = Math.max(...device.calls.map((c) => c.endAt));
    expect(device.busyMs(T0, end)).toBeLessThanOrEqual(0.8 * (end - T0) + BUDGET_CAP_MS);
    await stop(s);
  });

  test('under a backlog the device is busy with pushes maxDeviceBusyPercent of the time: not more, not much less', async () => {
    const device = new FakeDevice(() => 20);
    const lists = new Versions();
    const { s } = scheduler(device, lists.desired, { maxDeviceBusyPercent: 50 });
    for (const l of names(400)) s.markDirty(l, true);
    s.start();
    await advance(10_000);
    const busy = device.busyMs(T0, T0 + 10_000);
    expect(busy).toBeLessThanOrEqual(0.5 * 10_000 + BUDGET_CAP_MS);
    expect(busy).toBeGreaterThanOrEqual(0.47 * 10_000);
    await stop(s);
  });

  test('never more pushes in flight than maxPushesInFlight; the window grows to it while answers come back on time', async () => {
    // Not serial: latency is the network's here, so more in flight means more throughput.
    const device = new FakeDevice(() => 50, false);
    const lists = new Versions();
    const { s } = scheduler(device, lists.desired, { maxPushesInFlight: 3, maxDeviceBusyPercent: 100 });
    for (const l of names(60)) s.markDirty(l, true);
    s.start();
    await settle(s, device);
    expect(device.maxInFlight).toBe(3);
    expect(s.pacing.window).toBe(3);
    await stop(s);
  });

  test('additive increase: an answer within the latency target adds 1/window to the window and 1/16 of the maximum to the share', async () => {
    const device = new FakeDevice(() => 10, false);
    const lists = new Versions();
    const { s } = scheduler(device, lists.desired, { maxPushesInFlight: 4, maxDeviceBusyPercent: 80 });
    // A 503 first halves the share (0.8 → 0.4), so the increase shows.
    device.failNext.push({ path: 'l0', error: busy503() });
    s.markDirty('l0', true);
    s.start();
    await advance(10);
    expect(s.pacing).toMatchObject({ window: 1, share: 0.4 });
    for (const l of names(3, 'm')) s.markDirty(l, true);
    await advance(10);
    // One answer in flight at window 1: 1 + 1/1 = 2; share 0.4 + 0.05.
    expect(s.pacing.window).toBeCloseTo(2, 9);
    expect(s.pacing.share).toBeCloseTo(0.45, 9);
    await advance(10);
    // Two answers at window 2: 2 + 1/2 = 2.5, then 2.5 + 1/2.5 = 2.9; share + 2 × 0.05.
    expect(s.pacing.window).toBeCloseTo(2.9, 9);
    expect(s.pacing.share).toBeCloseTo(0.55, 9);
    await stop(s);
  });

  test('multiplicative decrease when the device stays slower for a whole interval: window and share halve, and the device gets a smaller share', async () => {
    let cost = 100;
    const device = new FakeDevice(() => cost); // one push at a time, as a BIG-IP
    const lists = new Versions();
    const { s } = scheduler(device, lists.desired, { maxPushesInFlight: 2, maxDeviceBusyPercent: 100 });
    const all = names(40);
    for (const l of all) s.markDirty(l, true);
    s.start();
    await settle(s, device);
    expect(s.pacing).toMatchObject({ window: 2, share: 1, decreases: { latency: 0, overload: 0 } });
    // Every list's usual device time is 100 ms; now the device takes 400 (> 2 × 100 + 25).
    cost = 400;
    for (const l of all) {
      lists.bump(l);
      s.markDirty(l, true);
    }
    const slowFrom = Date.now();
    await advance(800);
    // Late answers, but not yet for a whole interval (LATENCY_INTERVAL_MS) after on-time ones.
    expect(s.pacing.decreases.latency).toBe(0);
    await advance(2200);
    // By 3 s every answer of an interval has been late: halved once per interval since.
    const { decreases, window, share } = s.pacing;
    expect(decreases.latency).toBeGreaterThanOrEqual(1);
    expect(window).toBeLessThan(2);
    expect(share).toBeLessThanOrEqual(0.5);
    await advance(5000);
    expect(s.pacing.decreases.latency).toBeGreaterThanOrEqual(2);
    // The device, busy all the time at the old pace, is now busy about the (halved) share.
    expect(device.busyMs(slowFrom + 4000, slowFrom + 8000)).toBeLessThanOrEqual(0.5 * 4000 + BUDGET_CAP_MS + 400);
    await stop(s);
  });

  test('one late answer among on-time ones is a hiccup, not the device slowing down: no decrease, charged as on time', async () => {
    const device = new FakeDevice((_path, index) => (index === 60 ? 500 : 10));
    const lists = new Versions();
    const { s } = scheduler(device, lists.desired, { maxPushesInFlight: 1 });
    const all = names(30);
    for (const l of all) s.markDirty(l, true);
    s.start();
    await settle(s, device);
    for (let round = 0; round < 2; round++) {
      for (const l of all) {
        lists.bump(l);
        s.markDirty(l, true);
      }
      await settle(s, device);
    }
    expect(device.calls).toHaveLength(90);
    expect(s.pacing.decreases).toEqual({ latency: 0, overload: 0 });
    // The 500 ms answer took at most the on-time bound (2 × 10 + 25 ms) from the budget: the
    // next push waited for it no longer than for an on-time one, 45 / 0.8 ms at most.
    const slow = device.calls[60];
    expect(device.calls[61].sentAt - slow.endAt).toBeLessThanOrEqual(60);
    await stop(s);
  });

  test('an overload answer (503) halves the pace once per round trip, and the list is retried', async () => {
    const device = new FakeDevice(() => 10, false);
    const lists = new Versions();
    // Retries wait 10 ms (full jitter could draw 0: then they would go at once).
    const { s, outcomes } = scheduler(device, lists.desired, {
      maxPushesInFlight: 2,
      maxDeviceBusyPercent: 100,
      retryBaseMs: 20,
      random: () => 0.5,
    });
    for (const l of names(2, 'w')) s.markDirty(l, true);
    s.start();
    await settle(s, device);
    expect(s.pacing.window).toBe(2);
    // Both pushes in flight get 503: one decrease.
    device.failNext.push({ error: busy503() }, { error: busy503() });
    for (const l of names(2)) s.markDirty(l, true);
    await advance(10);
    expect(device.calls.filter((c) => c.path.startsWith('l'))).toHaveLength(2);
    expect(s.pacing).toMatchObject({ window: 1, share: 0.5, decreases: { latency: 0, overload: 1 } });
    await settle(s, device);
    expect(
      outcomes
        .filter((o) => !o.ok)
        .map((o) => o.path)
        .sort(),
    ).toEqual(['l0', 'l1']);
    expect(device.state.get('l0')).toEqual(['l0-0']);
    expect(device.state.get('l1')).toEqual(['l1-0']);
    await stop(s);
  });

  test("a failed push is requeued after the controller's backoff, growing with consecutive failures", async () => {
    const device = new FakeDevice(() => 0);
    const { s } = scheduler(device, () => ['10.0.0.1'], { retryBaseMs: 100, retryMaxMs: 300, random: () => 0.999 });
    device.failNext.push({ error: busy503() }, { error: busy503() }, { error: busy503() });
    s.markDirty('a', true);
    s.start();
    await settle(s, device);
    const sent = device.calls.map((c) => c.sentAt);
    // fullJitterDelay ceilings 100, 200, 300 (the cap), drawn at 0.999, give 99, 199, 299 ms (the
    // pacing may add a millisecond).
    const gaps = sent.slice(1).map((t, i) => t - sent[i]);
    expect(gaps).toHaveLength(3);
    gaps.forEach((gap, i) => expect(gap - [99, 199, 299][i]).toBeGreaterThanOrEqual(0));
    gaps.forEach((gap, i) => expect(gap - [99, 199, 299][i]).toBeLessThanOrEqual(1));
    expect(device.state.get('a')).toEqual(['10.0.0.1']);
    await stop(s);
  });

  test('the first success after an outage brings the lists waiting out a backoff forward', async () => {
    const device = new FakeDevice(() => 10);
    const { s } = scheduler(device, () => ['10.0.0.1'], { retryBaseMs: 1000, retryMaxMs: 30_000, random: () => 0.999 });
    // An outage: 'b' fails four times (backoffs of about 1, 2, 4 and then 8 s), 'a' once.
    device.failNext.push(...Array.from({ length: 4 }, () => ({ path: 'b', error: busy503() })), { path: 'a', error: busy503() });
    s.start();
    s.markDirty('b', true);
    await advance(7_500);
    s.markDirty('a', true);
    await settle(s, device);
    await stop(s);
    const calls = device.calls.map((c) => ({ path: c.path, sentAt: c.sentAt - T0, endAt: c.endAt - T0 }));
    expect(calls.map((c) => c.path)).toEqual(['b', 'b', 'b', 'b', 'a', 'a', 'b']);
    // 'a' succeeds about 1 s after its failure; 'b' follows at once instead of at the end of its
    // 8 s backoff (about 15 s in).
    const [aOk, bOk] = calls.slice(5);
    expect(aOk.sentAt).toBeLessThan(8_600);
    expect(bOk.sentAt - aOk.endAt).toBeLessThanOrEqual(5);
    expect([...device.state.keys()].sort()).toEqual(['a', 'b']);
  });

  test('a list that keeps failing on its own is brought forward once, then waits out its backoff', async () => {
    const device = new FakeDevice(() => 1);
    const versions = new Versions();
    const { s } = scheduler(device, versions.desired, { retryBaseMs: 1000, retryMaxMs: 30_000, random: () => 0.999 });
    s.start();
    // 'bad' fails twice, so its next retry is about 2 s away; 'good' keeps changing and succeeding.
    device.failNext.push({ path: 'bad', error: busy503() }, { path: 'bad', error: busy503() });
    s.markDirty('bad', true);
    await advance(1_100);
    expect(device.calls.map((c) => c.path)).toEqual(['bad', 'bad']);
    const secondFailure = device.calls[1].endAt;
    for (let i = 0; i < 2; i++) device.failNext.push({ path: 'bad', error: busy503() });
    // A success of 'good' brings 'bad' forward once; it fails again and is not brought forward by
    // the next success.
    versions.bump('good');
    s.markDirty('good', false);
    await advance(300);
    versions.bump('good');
    s.markDirty('good', false);
    await advance(300);
    const badCalls = device.calls.filter((c) => c.path === 'bad').map((c) => c.sentAt - secondFailure);
    expect(badCalls).toHaveLength(3);
    expect(badCalls[2]).toBeLessThan(1_000);
    await stop(s);
  });

  test('invalidate pushes a list again even when its membership equals what was last pushed (the device lost it)', async () => {
    const device = new FakeDevice(() => 1);
    const { s } = scheduler(device, () => ['10.0.0.1']);
    s.start();
    s.markDirty('a', false);
    await settle(s, device);
    expect(device.calls.filter((c) => c.path === 'a')).toHaveLength(1);
    // The device reset the list (a reboot, AS3 re-creating it); the controller's read-back says so.
    device.state.set('a', []);
    s.invalidate(['a']);
    await settle(s, device);
    await stop(s);
    expect(device.calls.filter((c) => c.path === 'a')).toHaveLength(2);
    expect(device.state.get('a')).toEqual(['10.0.0.1']);
  });

  test('a list that lost an address is pushed before lists that only gained some', async () => {
    const device = new FakeDevice();
    const desired = new Map([
      ['busy', ['1']],
      ['grow', ['1', '2']],
      ['shrink', ['3']],
    ]);
    let release!: () => void;
    device.gate = new Promise((r) => (release = r));
    const { s } = scheduler(device, (p) => desired.get(p) ?? [], { coalesceMs: 0, maxPushesInFlight: 1 });
    s.start();
    s.markDirty('busy', false);
    await advance(5);
    // While "busy" is in flight: an addition first, then a removal.
    s.markDirty('grow', false);
    s.markDirty('shrink', true);
    device.gate = undefined;
    release();
    await settle(s, device);
    await stop(s);
    expect(device.paths()).toEqual(['busy', 'shrink', 'grow']);
  });

  test('additions within the coalescing window become one push', async () => {
    const device = new FakeDevice();
    const desired = new Map<string, string[]>();
    const { s } = scheduler(device, (p) => desired.get(p) ?? [], { coalesceMs: 200 });
    s.start();
    for (let i = 1; i <= 20; i++) {
      desired.set('pods', Array.from({ length: i }, (_, k) => String(k)).sort());
      s.markDirty('pods', false);
      await advance(5);
    }
    await settle(s, device);
    await stop(s);
    expect(device.paths()).toEqual(['pods']);
    expect(device.state.get('pods')).toHaveLength(20);
  });

  test('on a fast device an addition waits a few times what its push costs, not the whole coalescing window', async () => {
    const device = new FakeDevice(() => 2);
    const lists = new Versions();
    const { s } = scheduler(device, lists.desired, { coalesceMs: 250 });
    s.markDirty('pods', true);
    s.start();
    await settle(s, device);
    lists.bump('pods');
    const changedAt = Date.now();
    s.markDirty('pods', false);
    await advance(20);
    // Usual device time 2 ms: the addition waits 4 × 2 ms (rounded up to the next ms).
    const push = device.calls[1];
    expect(push?.sentAt - changedAt).toBeGreaterThanOrEqual(8);
    expect(push?.sentAt - changedAt).toBeLessThanOrEqual(9);
    await stop(s);
  });

  test('a stream of removals does not starve an addition', async () => {
    const device = new FakeDevice(() => 50);
    const lists = new Versions();
    const { s } = scheduler(device, lists.desired, { coalesceMs: 250, maxPushesInFlight: 1, maxDeviceBusyPercent: 100 });
    s.start();
    s.markDirty('added', false);
    // A removal on one of 20 lists every 10 ms: five times what the device can push.
    const removalLists = names(20, 'r');
    const changedAt = new Map<string, number>(); // "list-version" → when that version was made
    for (let i = 0; i < 600; i++) {
      const l = removalLists[i % removalLists.length];
      lists.bump(l);
      changedAt.set(lists.desired(l)[0], Date.now());
      s.markDirty(l, true);
      await advance(10);
    }
    const added = device.calls.find((c) => c.path === 'added') as Call;
    expect(added).toBeDefined();
    // The addition is eligible after 250 ms and due ADDITION_AGING_MS later: every removal
    // pushed before it carried a change made before then (the oldest change a push carries is
    // the first version after the list's previous push).
    const before = device.calls.filter((c) => c.path.startsWith('r') && c.sentAt < added.sentAt);
    expect(before.length).toBeGreaterThan(10);
    const lastVersion = new Map<string, number>();
    for (const c of before) {
      const version = Number(c.members[0].split('-')[1]);
      const oldest = (lastVersion.get(c.path) ?? 0) + 1;
      lastVersion.set(c.path, version);
      expect(changedAt.get(`${c.path}-${oldest}`)).toBeLessThanOrEqual(T0 + 250 + ADDITION_AGING_MS);
    }
    // With a device that takes 20 pushes a second for 100 removals a second, that is about a
    // second of backlog after the due time.
    expect(added.sentAt - T0).toBeLessThanOrEqual(250 + ADDITION_AGING_MS + 1500);
    await stop(s);
  });

  test('the deprecated pushes-per-second ceiling still caps pushes until time passes', async () => {
    const device = new FakeDevice(() => 0);
    const lists = new Versions();
    const { s } = scheduler(device, lists.desired, { maxPushesPerSecond: 4, coalesceMs: 0 });
    for (const l of names(12)) s.markDirty(l, true);
    s.start();
    await advance(10);
    expect(device.calls).toHaveLength(4);
    await advance(490);
    expect(device.calls).toHaveLength(6);
    await stop(s);
  });

  test('a terminal failure is reported and parked instead of retried at once', async () => {
    const device = new FakeDevice();
    device.failNext.push({ path: 'missing', error: new Terminal('404 list not found') });
    const { s, outcomes } = scheduler(device, () => ['1'], { terminalRetryMs: 60_000 });
    s.start();
    s.markDirty('missing', false);
    await advance(300);
    s.markDirty('missing', false);
    await advance(300);
    await stop(s);
    expect(device.paths()).toEqual(['missing']);
    expect(outcomes).toEqual([expect.objectContaining({ path: 'missing', ok: false, terminal: true })]);
    expect(s.pending).toBe(1);
  });
});
