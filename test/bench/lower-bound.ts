/**
 * A lower bound on the lag quantile any push scheduler can reach on a device that works one
 * push at a time, for a given trace of membership changes.
 *
 * Model: a push of list i takes the device `serviceMs_i` and carries the list's membership at
 * the moment the device starts on it. A change of list i at time t is effective when a push of
 * list i that started at or after t finishes; its lag is at most L exactly when such a push starts
 * within [t, t + L − serviceMs_i]. So P pushes of list i make at most C_i(P, L) of its changes
 * effective within L, where C_i(P, L) is the most of its change times that P windows of length
 * L − serviceMs_i can cover. The pushes of all lists share one device: Σ P_i · serviceMs_i is at
 * most the time from the first change to the end of the trace plus L.
 *
 * Any scheduler's fraction of changes within L is then at most
 *   max { Σ C_i(P_i, L) : Σ P_i · serviceMs_i ≤ horizon + L } / N.
 * The maximum is bounded from above by the fractional knapsack over the concave envelope of
 * each C_i (greedy by coverage gained per millisecond of device time). The smallest L at which
 * that bound reaches the quantile is a lower bound on the quantile of every scheduler's lags.
 * It leaves out that pushes cannot overlap in time and that the device cannot push a change
 * before it happens, so it is optimistic (lower) where the load is bursty.
 */

export interface ListTrace {
  /** Change times of the list, in milliseconds, any order. */
  readonly changes: readonly number[];
  /** The device's time for one push of the list, in milliseconds. */
  readonly serviceMs: number;
}

/** C(0..k): most of `times` (sorted) that k windows of length `width` can cover, for every k up to all covered. */
export function maxCoverage(times: readonly number[], width: number): number[] {
  const m = times.length;
  if (width < 0 || m === 0) return [0];
  // first[j]: the first point a window ending at point j covers.
  const first = new Array<number>(m);
  let i = 0;
  for (let j = 0; j < m; j++) {
    while (times[j] - times[i] > width) i++;
    first[j] = i;
  }
  const out = [0];
  let prev = new Array<number>(m + 1).fill(0); // best with k − 1 windows over the first j points
  while (out[out.length - 1] < m) {
    const cur = new Array<number>(m + 1).fill(0);
    for (let j = 1; j <= m; j++) {
      const f = first[j - 1];
      cur[j] = Math.max(cur[j - 1], prev[f] + (j - f));
    }
    out.push(cur[m]);
    prev = cur;
  }
  return out;
}

/** Gains of the upper concave envelope of C(0..k): non-increasing increments per push. */
function concaveGains(c: readonly number[]): number[] {
  // Upper hull of the points (k, C(k)).
  const hull: number[] = [0];
  for (let k = 1; k < c.length; k++) {
    while (hull.length >= 2) {
      const a = hull[hull.length - 2];
      const b = hull[hull.length - 1];
      // b lies on or below the segment a–k: drop it.
      if ((c[b] - c[a]) * (k - a) <= (c[k] - c[a]) * (b - a)) hull.pop();
      else break;
    }
    hull.push(k);
  }
  const gains: number[] = [];
  for (let h = 1; h < hull.length; h++) {
    const slope = (c[hull[h]] - c[hull[h - 1]]) / (hull[h] - hull[h - 1]);
    for (let k = hull[h - 1]; k < hull[h]; k++) gains.push(slope);
  }
  return gains;
}

/** Upper bound on the changes any scheduler makes effective within `lagMs`. */
export function coverableWithin(lists: readonly ListTrace[], lagMs: number, deviceBudgetMs: number): number {
  const items: { gain: number; cost: number }[] = [];
  for (const list of lists) {
    if (!list.changes.length) continue;
    const times = [...list.changes].sort((a, b) => a - b);
    const gains = concaveGains(maxCoverage(times, lagMs - list.serviceMs));
    for (const gain of gains) if (gain > 0) items.push({ gain, cost: list.serviceMs });
  }
  // Fractional knapsack; a push that costs nothing is free.
  items.sort((a, b) => (b.cost === 0 ? Infinity : b.gain / b.cost) - (a.cost === 0 ? Infinity : a.gain / a.cost));
  let budget = deviceBudgetMs;
  let covered = 0;
  for (const item of items) {
    if (item.cost <= budget) {
      covered += item.gain;
      budget -= item.cost;
    } else {
      covered += (item.gain * budget) / item.cost;
      break;
    }
  }
  return covered;
}

/**
 * The smallest lag L (ms, to `precisionMs`) at which the bound reaches quantile `q` of all
 * changes; `horizonMs` is the time from the first change to the end of the trace. With
 * `busyShare` below 1 it bounds the schedulers that keep the device busy at most that share of
 * the time (give or take one push): the device time is `busyShare` × (horizon + L) plus the
 * longest push.
 */
export function lowerBoundLagMs(lists: readonly ListTrace[], q: number, horizonMs: number, precisionMs = 1, busyShare = 1): number {
  const total = lists.reduce((n, l) => n + l.changes.length, 0);
  if (!total) return NaN;
  const need = Math.ceil(q * total - 1e-9);
  const slack = busyShare < 1 ? Math.max(...lists.map((l) => l.serviceMs)) : 0;
  const enough = (lag: number) => coverableWithin(lists, lag, busyShare * (horizonMs + lag) + slack) >= need - 1e-9;
  let lo = Math.min(...lists.filter((l) => l.changes.length).map((l) => l.serviceMs));
  if (enough(lo)) return lo;
  let hi = Math.max(lo, 1);
  while (!enough(hi)) hi *= 2;
  while (hi - lo > precisionMs) {
    const mid = (lo + hi) / 2;
    if (enough(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * A concrete scheduler on the same device model, run offline on the trace: whenever the device
 * is free it pushes the list with the oldest change not yet on the device; the push carries
 * every change made before it starts. Returns every change's lag. It is what the controller's
 * removals-first, oldest-first order comes to with no coalescing wait, no answer latency and
 * exact pacing, so the controller's lag over it is what its implementation loses; the lower
 * bound over it is what the bound's relaxations leave out (checked to hold by a property test).
 */
export function oldestFirstLags(lists: readonly ListTrace[], busyShare = 1): number[] {
  const pending = lists.map((l) => [...l.changes].sort((a, b) => a - b));
  const lags: number[] = [];
  let now = Math.min(...pending.flatMap((p) => p.slice(0, 1)));
  for (;;) {
    let pick = -1;
    for (let i = 0; i < pending.length; i++) if (pending[i].length && (pick < 0 || pending[i][0] < pending[pick][0])) pick = i;
    if (pick < 0) return lags;
    now = Math.max(now, pending[pick][0]);
    const end = now + lists[pick].serviceMs;
    while (pending[pick].length && pending[pick][0] <= now) lags.push(end - (pending[pick].shift() as number));
    // Idle after each push, so the device is busy at most `busyShare` of the time.
    now = end + lists[pick].serviceMs * (1 / busyShare - 1);
  }
}
