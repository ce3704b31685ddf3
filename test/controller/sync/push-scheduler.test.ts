import fc from 'fast-check';
import { PushOutcome, PushScheduler } from '../../../lib/controller/sync/push-scheduler';

class FakeDevice {
  readonly state = new Map<string, readonly string[]>();
  readonly calls: string[] = [];
  failNext: { path?: string; error: Error }[] = [];
  gate?: Promise<void>;
  async push(path: string, members: readonly string[]): Promise<void> {
    this.calls.push(path);
    if (this.gate) await this.gate;
    const i = this.failNext.findIndex((f) => !f.path || f.path === path);
    if (i >= 0) throw this.failNext.splice(i, 1)[0].error;
    this.state.set(path, [...members]);
  }
}

class Terminal extends Error {}

function scheduler(device: FakeDevice, desired: Map<string, string[]>, extra: Partial<ConstructorParameters<typeof PushScheduler>[0]> = {}) {
  const outcomes: PushOutcome[] = [];
  const s = new PushScheduler({
    target: device,
    desired: (p) => desired.get(p) ?? [],
    onOutcome: (o) => outcomes.push(o),
    coalesceMs: 5,
    maxPushesPerSecond: 10000,
    retryBaseMs: 1,
    retryMaxMs: 5,
    terminalRetryMs: 10,
    isTerminal: (e) => e instanceof Terminal,
    ...extra,
  });
  return { s, outcomes };
}

describe('PushScheduler', () => {
  test('converges to the desired membership through failures, and skips pushes that change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ list: fc.constantFrom('a', 'b', 'c'), members: fc.uniqueArray(fc.constantFrom('1', '2', '3', '4'), { maxLength: 4 }), fail: fc.boolean() }), { minLength: 1, maxLength: 25 }),
        async (steps) => {
          const device = new FakeDevice();
          const desired = new Map<string, string[]>();
          const { s, outcomes } = scheduler(device, desired);
          s.start();
          for (const step of steps) {
            const before = desired.get(step.list) ?? [];
            desired.set(step.list, [...step.members].sort());
            if (step.fail) device.failNext.push({ path: step.list, error: new Error('503 busy') });
            s.markDirty(step.list, before.some((m) => !(step.members as string[]).includes(m)));
            await new Promise((r) => setTimeout(r, 1));
          }
          expect(await s.idle()).toBe(true);
          await s.stop();
          for (const [list, members] of desired) expect(device.state.get(list) ?? []).toEqual(members);
          // Every successful push changed the device; unchanged lists were skipped, not pushed.
          const pushedOk = outcomes.filter((o) => o.ok && o.pushed).length;
          expect(device.calls.length).toBe(pushedOk + outcomes.filter((o) => !o.ok).length);
        },
      ),
      { numRuns: 60 },
    );
  });

  test('a list that lost an address is pushed before lists that only gained some', async () => {
    const device = new FakeDevice();
    const desired = new Map([['busy', ['1']], ['grow', ['1', '2']], ['shrink', ['3']]]);
    let release!: () => void;
    device.gate = new Promise((r) => (release = r));
    const { s } = scheduler(device, desired, { coalesceMs: 0 });
    s.start();
    s.markDirty('busy', false);
    await new Promise((r) => setTimeout(r, 5));
    // While "busy" is in flight: an addition first, then a removal.
    s.markDirty('grow', false);
    s.markDirty('shrink', true);
    device.gate = undefined;
    release();
    await s.idle();
    await s.stop();
    expect(device.calls).toEqual(['busy', 'shrink', 'grow']);
  });

  test('additions within the coalescing window become one push', async () => {
    const device = new FakeDevice();
    const desired = new Map<string, string[]>();
    const { s } = scheduler(device, desired, { coalesceMs: 200 });
    s.start();
    for (let i = 1; i <= 20; i++) {
      desired.set('pods', Array.from({ length: i }, (_, k) => String(k)).sort());
      s.markDirty('pods', false);
    }
    await s.idle();
    await s.stop();
    expect(device.calls).toEqual(['pods']);
    expect(device.state.get('pods')).toHaveLength(20);
  });

  test('the token bucket caps pushes until time passes', async () => {
    let now = 1_000_000;
    const device = new FakeDevice();
    const desired = new Map(Array.from({ length: 12 }, (_, i) => [`l${i}`, ['x']]));
    const { s } = scheduler(device, desired, { maxPushesPerSecond: 4, coalesceMs: 0, now: () => now });
    for (const l of desired.keys()) s.markDirty(l, true);
    s.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(device.calls).toHaveLength(4);
    now += 500;
    s.markDirty('l0', false);
    await new Promise((r) => setTimeout(r, 50));
    expect(device.calls).toHaveLength(6);
    await s.stop();
  });

  test('a terminal failure is reported and parked instead of retried at once', async () => {
    const device = new FakeDevice();
    const desired = new Map([['missing', ['1']]]);
    device.failNext.push({ path: 'missing', error: new Terminal('404 list not found') });
    const { s, outcomes } = scheduler(device, desired, { terminalRetryMs: 60_000 });
    s.start();
    s.markDirty('missing', false);
    await new Promise((r) => setTimeout(r, 50));
    s.markDirty('missing', false);
    await new Promise((r) => setTimeout(r, 50));
    await s.stop();
    expect(device.calls).toEqual(['missing']);
    expect(outcomes).toEqual([expect.objectContaining({ path: 'missing', ok: false, terminal: true })]);
    expect(s.pending).toBe(1);
  });
});
