/**
 * The workqueue of one BIG-IP's source lists: when, in which order and how fast each list key
 * is handed to the reconciler (the push), with rate-limited requeue of failures.
 *
 * What goes out
 * - Level-based: a push sends the list's full desired membership at push time, and is skipped
 *   when that equals what was last pushed; events only mark lists dirty. A list has at most one
 *   push in flight, so the device applies its pushes in order.
 * - Removals first: a list that lost an address is eligible at once and ranks before
 *   addition-only lists: a freed pod IP can be reused within seconds by a pod the list must not
 *   match. Ranking is earliest deadline first, with additions due `ADDITION_AGING_MS` after they
 *   became eligible, so a stream of removals cannot hold an addition back for ever.
 * - Coalescing: an addition-only list waits after its first change, so a burst of pod starts
 *   becomes one push: at most `coalesceMs`, and at most `HOLD_FACTOR` times what a push of the
 *   list costs the device (on a fast device waiting saves little and only adds lag). Under load
 *   pushes coalesce by themselves: a list waiting its turn collects every change until then.
 *
 * How fast: paced by the device, not by a constant
 * - Device time of a push: from when it was sent, or from the answer to the previous push if
 *   that came later, to its answer. A BIG-IP control plane works one request at a time, so this
 *   is the time the device spent on the push (and on whatever it did meanwhile for others).
 * - On time: within twice the list's usual device time plus `LATENCY_SLACK_MS`. The target is
 *   relative because lists differ in size and devices in speed by two orders of magnitude.
 * - Share: pushes keep the device busy at most `share` of the time: a budget of device time
 *   refills at `share` ms per ms and every answer debits its device time, at most the on-time
 *   bound (a slower answer is a hiccup, ours or the network's, until it persists; see below);
 *   nothing is sent while the budget is spent. A device that answers in 1 ms gets hundreds of
 *   pushes per second, one that takes 100 ms about seven, and a device slowed by other work fewer.
 * - AIMD on the share (up to `maxDeviceBusyPercent`) and on the window of pushes in flight (up to
 *   `maxPushesInFlight`): an answer on time adds 1/window to the window and 1/16 of the maximum to
 *   the share; latency that stays over the target for `LATENCY_INTERVAL_MS` (every answer of the
 *   interval late, as in CoDel), or an overload answer (503 or 429), halves both. Latency is the
 *   early signal (the control plane queues before it refuses), 503 the late one; additive
 *   increase with multiplicative decrease is what lets several controllers sharing one device
 *   converge to equal shares. One decrease per round trip: answers to pushes sent before the last
 *   decrease do not count towards the next one.
 * - `maxPushesPerSecond` (deprecated) adds a fixed ceiling on top.
 * - Failures: this queue is the one owner of push retries (the BIG-IP client does not retry a
 *   push). A retryable failure re-queues the list after the controller's backoff
 *   (`fullJitterDelay`, per list, growing with its consecutive failures), as controller-runtime's
 *   `AddRateLimited` does; a terminal failure (a 4xx such as a list AS3 does not have) parks it
 *   until `terminalRetryMs` passes, and is reported. The first success after a retryable
 *   failure brings the lists waiting out a backoff forward once (see `recovered`): after an
 *   outage the device is back for all of them, and backoffs that grew during it would otherwise
 *   hold the last list back for up to `retryMaxMs`.
 */
import { fullJitterDelay } from '../../clients/backoff';
import { BigipApiError } from '../../clients/bigip/errors';
import { Clock, systemClock } from '../../clients/clock';

export interface PushTarget {
  /** Replaces the members of a list on the device. */
  push(path: string, members: readonly string[]): Promise<void>;
}

export interface PushOutcome {
  readonly path: string;
  readonly members: number;
  readonly ok: boolean;
  /** Whether the push was needed (false when the device already had this membership). */
  readonly pushed: boolean;
  readonly error?: unknown;
  readonly terminal?: boolean;
  /** Oldest pending change this push (or skip) made effective, for the sync-lag metric. */
  readonly dirtySince: number;
  /** When the push was sent (the skip time for a push that was not needed). */
  readonly startedAt: number;
  readonly finishedAt: number;
  /** The device's time for this push (see the pacing notes above); 0 for a skip. */
  readonly deviceMs: number;
}

export interface ListWorkqueueOptions {
  readonly target: PushTarget;
  /** Desired members of a list now (empty for a list whose window is closed). */
  readonly desired: (path: string) => readonly string[];
  readonly onOutcome?: (outcome: PushOutcome) => void;
  /**
   * Longest wait of an addition-only list for more changes before it is pushed.
   * @default 250
   */
  readonly coalesceMs?: number;
  /**
   * Most pushes in flight to the device at once.
   * @default 2
   */
  readonly maxPushesInFlight?: number;
  /**
   * Most of the device's time the pushes may take, in percent.
   * @default 80
   */
  readonly maxDeviceBusyPercent?: number;
  /**
   * A fixed ceiling on pushes per second on top of the pacing.
   * @deprecated the pacing follows the device; set maxDeviceBusyPercent instead
   * @default - no fixed ceiling
   */
  readonly maxPushesPerSecond?: number;
  /** Backoff ceiling of the first retry of a failed push. @default 250 */
  readonly retryBaseMs?: number;
  /** @default 30000 */
  readonly retryMaxMs?: number;
  /**
   * How long a list stays parked after a terminal failure (changes do not re-arm it, so a
   * list the device does not have cannot turn churn into a stream of failing calls).
   * @default 60000
   */
  readonly terminalRetryMs?: number;
  readonly isTerminal?: (error: unknown) => boolean;
  /**
   * Whether a failure says the device is overloaded; such a failure halves the pace.
   * @default - a BigipApiError with reason DeviceBusy (503 or 429 after the client's retries) or QueueFull
   */
  readonly isOverload?: (error: unknown) => boolean;
  /** @default systemClock */
  readonly clock?: Clock;
  readonly random?: () => number;
}

/** What the pacing allows and uses now (for metrics). */
export interface PacingState {
  /** Pushes allowed in flight now (1 to maxPushesInFlight; fractions build up to the next one). */
  readonly window: number;
  readonly inFlight: number;
  /** Share of the device's time the pushes may take now (0 to 1). */
  readonly share: number;
  /** Share of recent time (about the last 10 s) with a push outstanding. */
  readonly busy: number;
  /** Device time of the last answered push, in milliseconds. */
  readonly lastDeviceMs: number;
  /** Multiplicative decreases so far, by cause. */
  readonly decreases: { readonly latency: number; readonly overload: number };
}

/**
 * An addition-only list ranks like a removal that changed this long after it became eligible:
 * removals go first, but an addition waits behind them at most about this long.
 */
export const ADDITION_AGING_MS = 500;
/** An addition waits at most this many times the list's usual device time. */
export const HOLD_FACTOR = 4;
/** Added to twice the usual device time before an answer counts as late (timer and network jitter). */
export const LATENCY_SLACK_MS = 25;
/** Latency counts as grown when every answer for this long (at least two) was late. */
export const LATENCY_INTERVAL_MS = 1000;
/** Device time the budget can save up while idle: a push after a quiet period goes out at once. */
export const BUDGET_CAP_MS = 100;
/** Debt the budget can run into: one very slow answer (client retries included) pauses pushes only so long. */
export const BUDGET_DEBT_MS = 1000;
/** A list's usual device time follows a slower device up by this factor per push... */
const FLOOR_RISE = 1.1;
/** ... and may have doubled every this long since it was measured (a list pushed rarely). */
const USUAL_DOUBLING_MS = 10_000;
/** Time constant of the busy measure. */
const BUSY_WINDOW_MS = 10_000;

interface ListState {
  dirty: boolean;
  removal: boolean;
  dirtySince: number;
  notBefore: number;
  failures: number;
  /** Brought forward once after a recovery since its last success (see `recovered`). */
  recoveryRetried: boolean;
  inFlight: boolean;
  lastPushed?: string;
  /** Usual device time of a push of this list, and when it was measured. */
  usualMs?: number;
  usualAt: number;
}

const defaultIsOverload = (e: unknown) => e instanceof BigipApiError && (e.reason === 'DeviceBusy' || e.reason === 'QueueFull');

export class ListWorkqueue {
  private readonly lists = new Map<string, ListState>();
  private readonly dirtyLists = new Set<string>();
  private readonly coalesceMs: number;
  private readonly maxInFlight: number;
  private readonly maxShare: number;
  private readonly shareStep: number;
  private readonly ratePerMs?: number;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly isOverload: (error: unknown) => boolean;

  private window = 1;
  private inFlightCount = 0;
  private share: number;
  private budgetMs = BUDGET_CAP_MS;
  private budgetAt: number;
  private tokens: number;
  private tokensAt: number;
  private lastAnswerAt = -Infinity;
  private lastDecreaseAt = -Infinity;
  private lastDeviceMs = 0;
  /** Whether the last answer was a retryable failure. */
  private lastFailed = false;
  /** The current latency interval: when it began, its answers, whether all were late. */
  private intervalStart = -Infinity;
  private intervalAnswers = 0;
  private intervalAllLate = true;
  private readonly decreases = { latency: 0, overload: 0 };
  private busyAvg = 0;
  private busyAt: number;

  private readonly running = new Set<Promise<void>>();
  private stopped = true;
  private pumping = false;
  private cancelWake?: () => void;
  private timerAt = Infinity;

  constructor(private readonly options: ListWorkqueueOptions) {
    this.coalesceMs = options.coalesceMs ?? 250;
    this.maxInFlight = options.maxPushesInFlight ?? 2;
    this.maxShare = (options.maxDeviceBusyPercent ?? 80) / 100;
    this.shareStep = this.maxShare / 16;
    this.share = this.maxShare;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.isOverload = options.isOverload ?? defaultIsOverload;
    if (options.maxPushesPerSecond !== undefined) this.ratePerMs = options.maxPushesPerSecond / 1000;
    this.tokens = Math.max(1, options.maxPushesPerSecond ?? 0);
    const now = this.now();
    this.budgetAt = now;
    this.tokensAt = now;
    this.busyAt = now;
  }

  /** Marks a list as changed. `removal`: some address left it. */
  markDirty(path: string, removal: boolean): void {
    let s = this.lists.get(path);
    const now = this.now();
    if (!s)
      this.lists.set(
        path,
        (s = {
          dirty: false,
          removal: false,
          dirtySince: now,
          notBefore: 0,
          failures: 0,
          recoveryRetried: false,
          inFlight: false,
          usualAt: now,
        }),
      );
    if (!s.dirty) {
      s.dirty = true;
      s.dirtySince = now;
      this.dirtyLists.add(path);
    }
    s.removal ||= removal;
    this.pump();
  }

  /** Forget what was pushed (after a leader change or device restart): push everything again. */
  invalidate(paths: Iterable<string>): void {
    for (const path of paths) {
      const s = this.lists.get(path);
      if (s) {
        // Before marking: marking may push at once, and a push equal to lastPushed is skipped.
        s.lastPushed = undefined;
        s.notBefore = 0;
        s.failures = 0;
      }
      this.markDirty(path, true);
    }
  }

  /** Lists waiting to be pushed. */
  get pending(): number {
    return this.dirtyLists.size;
  }

  get pacing(): PacingState {
    const now = this.now();
    this.updateBusy(now);
    return {
      window: this.window,
      inFlight: this.inFlightCount,
      share: this.share,
      busy: this.busyAvg,
      lastDeviceMs: this.lastDeviceMs,
      decreases: { ...this.decreases },
    };
  }

  lastPushed(path: string): readonly string[] | undefined {
    const s = this.lists.get(path)?.lastPushed;
    return s === undefined ? undefined : s === '' ? [] : s.split(',');
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.pump();
  }

  /** Stops sending; resolves when the pushes in flight (if any) complete. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer();
    while (this.running.size) await Promise.all([...this.running]);
  }

  /** Resolves when nothing is pending (tests and graceful shutdown). */
  async idle(timeoutMs = 10000): Promise<boolean> {
    const until = this.now() + timeoutMs;
    while (this.pending > 0 || this.running.size > 0) {
      if (this.now() > until) return false;
      await this.clock.sleep(5);
    }
    return true;
  }

  private now(): number {
    return this.clock.now();
  }

  private cancelTimer(): void {
    this.cancelWake?.();
    this.cancelWake = undefined;
    this.timerAt = Infinity;
  }

  private wakeIn(ms: number, now: number): void {
    const at = now + Math.max(1, Math.ceil(ms));
    if (this.cancelWake && this.timerAt <= at) return;
    this.cancelTimer();
    this.timerAt = at;
    this.cancelWake = this.clock.schedule(at - now, () => {
      this.cancelWake = undefined;
      this.timerAt = Infinity;
      this.pump();
    });
  }

  /** Sends what may go now; sets a timer for what may go later. */
  private pump(): void {
    if (this.stopped || this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        // An answer pumps again.
        if (this.inFlightCount >= Math.floor(this.window)) return;
        const now = this.now();
        const paceWait = this.paceWait(now);
        const { path, waitMs } = this.next(now);
        if (path === undefined) {
          if (Number.isFinite(waitMs)) this.wakeIn(waitMs, now);
          return;
        }
        if (!this.begin(path, now, paceWait)) {
          this.wakeIn(paceWait, now);
          return;
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /** How long the pacing holds the next push back (0: it may go now). */
  private paceWait(now: number): number {
    this.budgetMs = Math.min(BUDGET_CAP_MS, this.budgetMs + (now - this.budgetAt) * this.share);
    this.budgetAt = now;
    let wait = this.budgetMs > 0 ? 0 : (-this.budgetMs + 1e-6) / this.share;
    if (this.ratePerMs !== undefined) {
      this.tokens = Math.min(Math.max(1, this.ratePerMs * 1000), this.tokens + (now - this.tokensAt) * this.ratePerMs);
      this.tokensAt = now;
      if (this.tokens < 1) wait = Math.max(wait, (1 - this.tokens) / this.ratePerMs);
    }
    return wait;
  }

  /** The list's usual device time now, if known. */
  private usualMs(s: ListState, now: number): number | undefined {
    return s.usualMs === undefined ? undefined : s.usualMs * 2 ** ((now - s.usualAt) / USUAL_DOUBLING_MS);
  }

  /** How long an addition-only list waits for more changes. */
  private holdMs(s: ListState, now: number): number {
    const usual = this.usualMs(s, now);
    return usual === undefined ? this.coalesceMs : Math.min(this.coalesceMs, HOLD_FACTOR * usual);
  }

  /** The next list to push, or the time to wait for one. */
  private next(now: number): { path?: string; waitMs: number } {
    let best: string | undefined;
    let bestRank = Infinity;
    let wait = Infinity;
    for (const path of this.dirtyLists) {
      const s = this.lists.get(path) as ListState;
      if (s.inFlight) continue; // its answer pumps again
      const eligibleAt = Math.max(s.notBefore, s.removal ? s.dirtySince : s.dirtySince + this.holdMs(s, now));
      if (eligibleAt > now) {
        wait = Math.min(wait, eligibleAt - now);
        continue;
      }
      const rank = s.removal ? s.dirtySince : eligibleAt + ADDITION_AGING_MS;
      if (rank < bestRank) {
        bestRank = rank;
        best = path;
      }
    }
    return { path: best, waitMs: wait };
  }

  /**
   * Takes the list off the queue: skips it when the device already has its membership, sends it
   * when the pacing allows (returns false, list untouched, when it does not).
   */
  private begin(path: string, now: number, paceWait: number): boolean {
    const s = this.lists.get(path) as ListState;
    const members = this.options.desired(path);
    const key = members.join(',');
    const dirtySince = s.dirtySince;
    if (key !== s.lastPushed && paceWait > 0) return false;
    // Clear the dirty mark before the push: changes during the push mark it again.
    s.dirty = false;
    s.removal = false;
    this.dirtyLists.delete(path);
    if (key === s.lastPushed) {
      s.failures = 0;
      this.options.onOutcome?.({
        path,
        members: members.length,
        ok: true,
        pushed: false,
        dirtySince,
        startedAt: now,
        finishedAt: now,
        deviceMs: 0,
      });
      return true;
    }
    if (this.ratePerMs !== undefined) this.tokens -= 1;
    s.inFlight = true;
    this.updateBusy(now);
    this.inFlightCount++;
    const run = this.send(path, s, members, key, dirtySince, now);
    this.running.add(run);
    void run.finally(() => {
      this.running.delete(run);
      this.pump();
    });
    return true;
  }

  private async send(
    path: string,
    s: ListState,
    members: readonly string[],
    key: string,
    dirtySince: number,
    startedAt: number,
  ): Promise<void> {
    let error: unknown;
    let ok = true;
    try {
      await this.options.target.push(path, members);
    } catch (e) {
      ok = false;
      error = e;
    }
    const now = this.now();
    // Answers processed together (after a pause of this process, say) share the time: the
    // first gets it, the others none.
    const deviceMs = Math.max(0, now - Math.max(startedAt, this.lastAnswerAt));
    this.lastAnswerAt = now;
    this.lastDeviceMs = deviceMs;
    const usual = this.usualMs(s, now);
    const onTimeMs = usual === undefined ? Infinity : 2 * usual + LATENCY_SLACK_MS;
    this.paceWait(now); // refill up to now before the debit
    this.budgetMs = Math.max(-BUDGET_DEBT_MS, this.budgetMs - Math.min(deviceMs, onTimeMs));
    this.updateBusy(now);
    this.inFlightCount--;
    s.inFlight = false;
    const base = { path, members: members.length, dirtySince, startedAt, finishedAt: now, deviceMs };
    if (ok) {
      if (this.lastFailed) this.recovered(now);
      this.lastFailed = false;
      s.lastPushed = key;
      s.failures = 0;
      s.recoveryRetried = false;
      const onTime = deviceMs <= onTimeMs;
      if (deviceMs > 0) {
        s.usualMs = usual === undefined ? deviceMs : Math.min(deviceMs, usual * FLOOR_RISE);
        s.usualAt = now;
      }
      if (onTime) this.increase();
      this.latencyInterval(onTime, startedAt, now);
      this.options.onOutcome?.({ ...base, ok: true, pushed: true });
      return;
    }
    if (this.isOverload(error)) this.decrease('overload', startedAt, now);
    const terminal = this.options.isTerminal?.(error) ?? false;
    if (!terminal) this.lastFailed = true;
    const failures = Math.max(0, s.failures) + 1;
    const backoff = terminal
      ? (this.options.terminalRetryMs ?? 60000)
      : fullJitterDelay(failures, { initialMs: this.options.retryBaseMs ?? 250, maxMs: this.options.retryMaxMs ?? 30000 }, this.random);
    // Re-queue with the original change time (the lag metric stays honest) unless a newer
    // change already re-marked it.
    if (!s.dirty) {
      s.dirty = true;
      s.dirtySince = dirtySince;
      this.dirtyLists.add(path);
    }
    s.removal = true;
    s.failures = terminal ? 0 : failures;
    s.notBefore = now + backoff;
    this.options.onOutcome?.({ ...base, ok: false, pushed: true, error, terminal });
  }

  /**
   * The device answers again after a failed push: the lists waiting out a retry backoff are due
   * now (paced as usual), rather than after a backoff that grew during the outage. Each list is
   * brought forward once per failure streak, so a list that keeps failing on its own goes back
   * to its backoff instead of being retried after every other list's success.
   */
  private recovered(now: number): void {
    for (const path of this.dirtyLists) {
      const s = this.lists.get(path) as ListState;
      if (s.failures > 0 && !s.recoveryRetried && s.notBefore > now) {
        s.notBefore = now;
        s.recoveryRetried = true;
      }
    }
  }

  private increase(): void {
    this.window = Math.min(this.maxInFlight, this.window + 1 / this.window);
    this.share = Math.min(this.maxShare, this.share + this.shareStep);
  }

  /** Halves the pace when every answer of a whole interval was late. */
  private latencyInterval(onTime: boolean, startedAt: number, now: number): void {
    if (startedAt < this.lastDecreaseAt) return;
    if (this.intervalStart === -Infinity) this.intervalStart = now;
    this.intervalAnswers++;
    this.intervalAllLate &&= !onTime;
    if (now - this.intervalStart < LATENCY_INTERVAL_MS) return;
    if (this.intervalAllLate && this.intervalAnswers >= 2) this.decrease('latency', startedAt, now);
    this.intervalStart = now;
    this.intervalAnswers = 0;
    this.intervalAllLate = true;
  }

  /** Halves the pace, once per round trip. */
  private decrease(cause: 'latency' | 'overload', startedAt: number, now: number): void {
    if (startedAt < this.lastDecreaseAt) return;
    this.lastDecreaseAt = now;
    this.intervalStart = -Infinity;
    this.intervalAnswers = 0;
    this.intervalAllLate = true;
    this.decreases[cause]++;
    this.window = Math.max(1, this.window / 2);
    this.share = Math.max(this.shareStep, this.share / 2);
  }

  /** Folds the time since the last change of the in-flight count into the busy average. */
  private updateBusy(now: number): void {
    const dt = now - this.busyAt;
    if (dt <= 0) return;
    const keep = Math.exp(-dt / BUSY_WINDOW_MS);
    this.busyAvg = this.busyAvg * keep + (this.inFlightCount > 0 ? 1 - keep : 0);
    this.busyAt = now;
  }
}
