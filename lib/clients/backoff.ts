/**
 * The one retry delay of the controller: the workqueue's requeue of a failed list push, the
 * informers' reconnects and the BIG-IP client's retries of other requests all wait this long.
 */

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
