/**
 * A freed pod IP reused by a pod the list must not match: pod A (namespace `payments`, in the
 * list L = src_ns_payments) is deleted and pod B in a namespace no rule selects gets A's
 * address at once. Until a push removes the address from L, B is allowed as if it were A.
 *
 * The window is measured on the device: from A's deletion to the first push of L without the
 * address (`firstPushWithout` in the emulator's push history), while other lists keep gaining
 * members (scale-ups elsewhere), so L's removal competes with addition pushes.
 *
 * Bound asserted, per run: coalesceMs + 1000 / maxPushesPerSecond + PUSH_BUDGET_MS.
 * - A removal is not coalesced (eligible at once) and ranks before every addition-only list,
 *   so the coalescing window is slack, not a wait.
 * - Pushes are serialized: at most one push (of another list) can be in flight when the event
 *   arrives; then the token bucket may be empty, which costs at most one token interval,
 *   1000 / maxPushesPerSecond ms; then L's own push.
 * - PUSH_BUDGET_MS covers those pushes (each a few ms to the loopback emulator) plus delivery
 *   of the deletion over the watch, with room for a loaded 2-core machine.
 */
import { InProcessController, World, distribution, eventually, listPath, pod, podRef, sleep, startInProcess, startWorld } from './support';

const PUSH_BUDGET_MS = 250;
const RUNS = 12;

interface Setting {
  readonly name: string;
  readonly coalesceMs: number;
  readonly maxPushesPerSecond: number;
}

const SETTINGS: readonly Setting[] = [
  { name: 'defaults (coalesce 250 ms, 20 pushes/s)', coalesceMs: 250, maxPushesPerSecond: 20 },
  // Background additions alone use up the bucket here, so the token wait shows.
  { name: 'throttled (coalesce 1000 ms, 3 pushes/s)', coalesceMs: 1000, maxPushesPerSecond: 3 },
];

describe('IP reuse: how long a freed address stays in a list after its pod is deleted', () => {
  let world: World;
  const report: string[] = [];

  beforeAll(async () => {
    world = await startWorld({ namespaces: { payments: { env: 'dev' }, shop: { env: 'dev' }, denied: {}, lab: {}, batch: {} } });
  });
  afterAll(async () => {
    await world?.stop();
    if (report.length) process.stdout.write(`${report.join('\n')}\n`);
  });

  test.each(SETTINGS)(
    '$name: the address leaves L within coalesceMs + one token interval + one push, and never comes back',
    async (setting) => {
      const { kube, bigip } = world.emulators;
      const L = listPath(world.plan, 'src_ns_payments');
      const bound = Math.ceil(setting.coalesceMs + 1000 / setting.maxPushesPerSecond + PUSH_BUDGET_MS);
      const tag = setting.maxPushesPerSecond;
      let controller: InProcessController | undefined;
      let churn: NodeJS.Timeout | undefined;
      try {
        controller = await startInProcess(world, {
          env: { COALESCE_MS: String(setting.coalesceMs), MAX_PUSHES_PER_SECOND: String(setting.maxPushesPerSecond) },
        });
        // Steady state first: a new leader pushes every list once, and those pushes rank as
        // removals (the device may hold stale members), ahead of L's removal below.
        const reconciler = controller.running.reconciler;
        await eventually(() => reconciler.isActive && reconciler.pendingLists === 0, 'the first push of every list');
        // Background: scale-ups in other namespaces every 40 ms (additions to the shop-cart and
        // web-tier lists), for the whole test.
        let n = 0;
        churn = setInterval(() => {
          n++;
          kube.apply(pod('shop', `cart-${tag}-${n}`, { labels: { app: 'cart' }, ips: [`10.${20 + tag}.${(n >> 8) & 255}.${n & 255}`] }));
          kube.apply(pod('lab', `web-${tag}-${n}`, { labels: { tier: 'web' }, ips: [`fd00::${tag}:${n.toString(16)}`] }));
        }, 40);

        const windows: number[] = [];
        const removals: Array<{ ip: string; at: number }> = [];
        for (let i = 0; i < RUNS; i++) {
          const ip = `10.50.${tag}.${i + 1}`;
          kube.apply(pod('payments', `a-${tag}-${i}`, { labels: { app: 'api' }, ips: [ip] }));
          await eventually(() => bigip.listMembers(L)?.includes(ip), `pod A's address ${ip} in L`);
          // Land the deletion at a random phase of the scheduler's timers.
          await sleep(Math.floor(Math.random() * 300));
          const deletedAt = Date.now();
          kube.delete(podRef('payments', `a-${tag}-${i}`), { gracePeriodSeconds: 0 });
          kube.apply(pod('denied', `b-${tag}-${i}`, { labels: { app: 'api' }, ips: [ip] }));
          const gone = await eventually(() => bigip.firstPushWithout(L, ip, deletedAt) ?? false, `the push removing ${ip} from L`);
          windows.push(gone.at - deletedAt);
          removals.push({ ip, at: gone.at });
        }
        // B's address never returns to L (B is in a namespace no rule selects).
        await sleep(setting.coalesceMs + 500);
        for (const { ip, at } of removals) for (const p of bigip.nodePushes({ list: L, since: at })) expect(p.ips).not.toContain(ip);
        const d = distribution(windows);
        report.push(
          `IP reuse, ${setting.name}: window from A's deletion to the push removing its address from L over ${d.n} runs: ` +
            `min ${d.min} ms, p50 ${d.p50} ms, p90 ${d.p90} ms, max ${d.max} ms (asserted bound ${bound} ms); all: ${windows.join(', ')}`,
        );
        for (const w of windows) expect(w).toBeLessThanOrEqual(bound);
      } finally {
        if (churn) clearInterval(churn);
        await controller?.stop();
      }
    },
  );
});
