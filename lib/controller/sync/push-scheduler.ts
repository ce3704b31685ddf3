/**
 * When and in which order source lists are pushed to one BIG-IP.
 *
 * - Level-based: a push sends the list's full desired membership at push time, and is skipped
 *   when that equals what was last pushed; events only mark lists dirty.
 * - Coalescing: a list that only gained addresses waits `coalesceMs` after its first change,
 *   so a burst of pod starts becomes one push. A list that lost an address is eligible at
 *   once and is pushed before every addition-only list: a freed pod IP can be reused by a pod
 *   the list must not match within seconds.
 * - One device, one writer: pushes are serialized and rate-limited by a token bucket
 *   (`maxPushesPerSecond`), which protects the BIG-IP control plane under churn. Under
 *   sustained churn every list is still pushed in turn (oldest first within each class).
 * - Failures: a retryable failure re-queues the list after a backoff; a terminal failure (a 4xx
 *   such as a list AS3 does not have) parks it until its membership changes again or
 *   `terminalRetryMs` passes, and is reported.
 */

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
  readonly finishedAt: number;
}

export interface PushSchedulerOptions {
  readonly target: PushTarget;
  /** Desired members of a list now (empty for a list whose window is closed). */
  readonly desired: (path: string) => readonly string[];
  readonly onOutcome?: (outcome: PushOutcome) => void;
  /** @default 250 */
  readonly coalesceMs?: number;
  /** @default 20 */
  readonly maxPushesPerSecond?: number;
  /** @default 1000 */
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
  readonly now?: () => number;
  readonly random?: () => number;
}

interface ListState {
  dirty: boolean;
  removal: boolean;
  dirtySince: number;
  notBefore: number;
  failures: number;
  lastPushed?: string;
}

export class PushScheduler {
  private readonly lists = new Map<string, ListState>();
  private readonly coalesceMs: number;
  private readonly ratePerMs: number;
  private tokens: number;
  private lastRefill: number;
  private running = false;
  private stopped = true;
  private timer?: NodeJS.Timeout;
  private wake?: () => void;
  private readonly now: () => number;
  private readonly random: () => number;
  private inFlight?: Promise<void>;

  constructor(private readonly options: PushSchedulerOptions) {
    this.coalesceMs = options.coalesceMs ?? 250;
    const rate = options.maxPushesPerSecond ?? 20;
    this.ratePerMs = rate / 1000;
    this.tokens = rate;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.lastRefill = this.now();
  }

  /** Marks a list as changed. `removal`: some address left it. */
  markDirty(path: string, removal: boolean): void {
    let s = this.lists.get(path);
    const now = this.now();
    if (!s) this.lists.set(path, (s = { dirty: false, removal: false, dirtySince: now, notBefore: 0, failures: 0 }));
    if (!s.dirty) {
      s.dirty = true;
      s.dirtySince = now;
    }
    s.removal ||= removal;
    this.poke();
  }

  /** Forget what was pushed (after a leader change or device restart): push everything again. */
  invalidate(paths: Iterable<string>): void {
    for (const path of paths) {
      this.markDirty(path, true);
      const s = this.lists.get(path) as ListState;
      s.lastPushed = undefined;
      s.notBefore = 0;
      s.failures = 0;
    }
  }

  /** Lists waiting to be pushed. */
  get pending(): number {
    let n = 0;
    for (const s of this.lists.values()) if (s.dirty) n++;
    return n;
  }

  lastPushed(path: string): readonly string[] | undefined {
    const s = this.lists.get(path)?.lastPushed;
    return s === undefined ? undefined : s === '' ? [] : s.split(',');
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.loop();
  }

  /** Stops after the push in flight (if any) completes. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.poke();
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight;
  }

  /** Resolves when nothing is pending (tests and graceful shutdown). */
  async idle(timeoutMs = 10000): Promise<boolean> {
    const until = this.now() + timeoutMs;
    while (this.pending > 0 || this.running) {
      if (this.now() > until) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    w?.();
  }

  private refill(now: number): void {
    const cap = Math.max(1, this.ratePerMs * 1000);
    this.tokens = Math.min(cap, this.tokens + (now - this.lastRefill) * this.ratePerMs);
    this.lastRefill = now;
  }

  /** The next list to push, or the time to wait for one. */
  private next(now: number): { path?: string; waitMs: number } {
    let best: string | undefined;
    let bestRank = Infinity;
    let wait = Infinity;
    for (const [path, s] of this.lists) {
      if (!s.dirty) continue;
      const readyAt = Math.max(s.notBefore, s.removal ? s.dirtySince : s.dirtySince + this.coalesceMs);
      if (readyAt > now) {
        wait = Math.min(wait, readyAt - now);
        continue;
      }
      // Removals rank before every addition-only list; oldest first within each class.
      const rank = (s.removal ? 0 : 1e15) + s.dirtySince;
      if (rank < bestRank) {
        bestRank = rank;
        best = path;
      }
    }
    return { path: best, waitMs: wait };
  }

  private async sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      if (Number.isFinite(ms)) this.timer = setTimeout(resolve, Math.max(1, ms));
    });
    this.wake = undefined;
    this.timer = undefined;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const now = this.now();
      this.refill(now);
      const { path, waitMs } = this.next(now);
      if (!path) {
        await this.sleep(waitMs);
        continue;
      }
      if (this.tokens < 1) {
        await this.sleep((1 - this.tokens) / this.ratePerMs);
        continue;
      }
      this.running = true;
      this.inFlight = this.pushOne(path);
      await this.inFlight;
      this.running = false;
    }
  }

  private async pushOne(path: string): Promise<void> {
    const s = this.lists.get(path) as ListState;
    const members = this.options.desired(path);
    const key = members.join(',');
    const dirtySince = s.dirtySince;
    // Clear the dirty mark before the push: changes during the push mark it again.
    s.dirty = false;
    s.removal = false;
    if (key === s.lastPushed) {
      s.failures = 0;
      this.options.onOutcome?.({ path, members: members.length, ok: true, pushed: false, dirtySince, finishedAt: this.now() });
      return;
    }
    this.tokens -= 1;
    try {
      await this.options.target.push(path, members);
      s.lastPushed = key;
      s.failures = 0;
      this.options.onOutcome?.({ path, members: members.length, ok: true, pushed: true, dirtySince, finishedAt: this.now() });
    } catch (error) {
      const terminal = this.options.isTerminal?.(error) ?? false;
      const failures = Math.max(0, s.failures) + 1;
      const base = this.options.retryBaseMs ?? 1000;
      const cap = this.options.retryMaxMs ?? 30000;
      const backoff = terminal ? (this.options.terminalRetryMs ?? 60000) : Math.min(cap, base * 2 ** (failures - 1)) * (0.5 + this.random() / 2);
      // Re-queue with the original change time (the lag metric stays honest) unless a newer
      // change already re-marked it.
      if (!s.dirty) {
        s.dirty = true;
        s.dirtySince = dirtySince;
      }
      s.removal = true;
      s.failures = terminal ? 0 : failures;
      s.notBefore = this.now() + backoff;
      this.options.onOutcome?.({ path, members: members.length, ok: false, pushed: true, error, terminal, dirtySince, finishedAt: this.now() });
    }
  }
}
