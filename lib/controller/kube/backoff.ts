/**
 * Retry delays and waiting, injectable so tests never depend on the wall clock.
 */

/** Waits `ms` or until the signal aborts (then resolves early; callers check the signal). */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

export interface BackoffOptions {
  /** Ceiling of the first retry delay. @default 1000 */
  readonly initialMs?: number;
  /** Largest ceiling. @default 30000 */
  readonly maxMs?: number;
}

/**
 * Exponential backoff with full jitter: the n-th consecutive failure (n >= 1) waits a uniformly
 * random time in [0, min(max, initial * 2^(n-1))), so many clients restarting together spread out.
 */
export function fullJitterDelay(failures: number, options: BackoffOptions, random: () => number): number {
  const initial = options.initialMs ?? 1000;
  const max = options.maxMs ?? 30_000;
  const ceiling = Math.min(max, initial * 2 ** Math.max(0, Math.min(failures - 1, 30)));
  return Math.floor(random() * ceiling);
}
