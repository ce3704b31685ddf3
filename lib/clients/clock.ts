/**
 * The controller's time: everything that reads the time, waits or schedules work takes a
 * `Clock`, so tests move time by hand instead of waiting on the wall clock.
 */

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once after `ms`; the returned function cancels the call. */
  schedule(ms: number, fn: () => void): () => void;
  /** Waits `ms` or until the signal aborts (then resolves early; callers check the signal). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** A clock's wait, for code that only waits (retry delays a server asked for). */
export type Sleep = Clock['sleep'];

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule: (ms, fn) => {
    const timer = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};
