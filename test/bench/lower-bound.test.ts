import fc from 'fast-check';
import { coverableWithin, lowerBoundLagMs, maxCoverage, oldestFirstLags } from './lower-bound';

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(q * sorted.length) - 1];
};

describe('lower bound of the lag any scheduler reaches', () => {
  test('most points k windows cover', () => {
    expect(maxCoverage([0, 1, 2, 10, 11, 20], 2)).toEqual([0, 3, 5, 6]);
    expect(maxCoverage([0, 5, 10], 0)).toEqual([0, 1, 2, 3]);
    expect(maxCoverage([0, 5, 10], -1)).toEqual([0]);
  });

  test('the oldest-first reference scheduler, on the whole device and at half of it', () => {
    const lists = [
      { changes: [0, 50], serviceMs: 10 },
      { changes: [5], serviceMs: 20 },
    ];
    expect(oldestFirstLags(lists)).toEqual([10, 25, 10]);
    expect(oldestFirstLags(lists, 0.5)).toEqual([10, 35, 20]);
  });

  test('an idle device: the bound is the push time itself', () => {
    const lists = [{ changes: [0, 100, 200, 300], serviceMs: 5 }];
    expect(lowerBoundLagMs(lists, 1, 300)).toBe(5);
  });

  test('a saturated device: the bound grows until pushes carry enough changes each', () => {
    // 101 changes 1 ms apart, 10 ms per push, 100 ms + L of device time: a push covers the
    // changes of a window L − 10 ms wide, and 11 pushes must cover 101 changes: 10 each (L = 19),
    // and one more.
    const lists = [{ changes: Array.from({ length: 101 }, (_, i) => i), serviceMs: 10 }];
    const bound = lowerBoundLagMs(lists, 1, 100, 0.01);
    expect(coverableWithin(lists, bound, 100 + bound)).toBeGreaterThanOrEqual(101 - 1e-9);
    expect(coverableWithin(lists, bound - 0.02, 100 + bound - 0.02)).toBeLessThan(101);
    expect(bound).toBeGreaterThanOrEqual(19);
    expect(bound).toBeLessThan(19.02);
  });

  test('no scheduler beats it: a concrete one on random traces is never below, whole device or a share of it', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            changes: fc.array(fc.integer({ min: 0, max: 2000 }), { minLength: 1, maxLength: 30 }),
            serviceMs: fc.integer({ min: 1, max: 60 }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        fc.constantFrom(0.5, 0.9, 0.99, 1),
        fc.constantFrom(0.5, 0.8, 1),
        (lists, q, share) => {
          const all = lists.flatMap((l) => l.changes);
          const horizon = Math.max(...all) - Math.min(...all);
          const achieved = quantile(oldestFirstLags(lists, share), q);
          expect(lowerBoundLagMs(lists, q, horizon, 0.5, share)).toBeLessThanOrEqual(achieved + 0.5);
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a smaller share of the device gives a higher bound', () => {
    const lists = [
      { changes: Array.from({ length: 60 }, (_, i) => i * 50), serviceMs: 50 },
      { changes: Array.from({ length: 30 }, (_, i) => i * 100 + 7), serviceMs: 50 },
    ];
    // With the whole device a push can carry two changes of the first list 50 ms apart: 100 ms.
    // With 80 % of it, the pushes of the first list must carry more: 150 ms.
    expect(lowerBoundLagMs(lists, 0.99, 3000)).toBe(100);
    expect(lowerBoundLagMs(lists, 0.99, 3000, 1, 0.8)).toBeGreaterThan(150);
    expect(lowerBoundLagMs(lists, 0.99, 3000, 1, 0.8)).toBeLessThan(151);
  });
});
