/**
 * Expired rules on both sides of the rendering proof: the AFM evaluator over what the device
 * receives (expired rules left out at compile time) agrees with the intent evaluator over the
 * policy as written (expired rules inactive), for every flow after the expiry.
 */
import fc from 'fast-check';
import { compilePolicy } from '../../lib/policy/compile';
import { evaluateIntent } from '../../lib/policy/intent';
import { PolicyModel, ruleKey } from '../../lib/policy/model';
import { Scenario, scenarioArb } from '../verification/scenarios';
import { describeDivergence, evaluateBoth, renderWorld } from '../verification/harness';

/** Before every generated flow time and before the time these tests run. */
const EXPIRED = '2020-01-01T00:00:00Z';

/** The scenario with the rules picked by `mask` expired. */
function withExpired(scenario: Scenario, mask: readonly boolean[]): Scenario {
  const rules = scenario.model.rules.map((r, i) => (mask[i % mask.length] ? { ...r, expiresAt: EXPIRED } : r));
  return { ...scenario, model: { ...scenario.model, rules } };
}

const expiredWorldArb = fc
  .tuple(scenarioArb(10), fc.array(fc.boolean(), { minLength: 1, maxLength: 12 }))
  .map(([s, mask]) => ({ original: s, expired: withExpired(s, mask) }));

describe('expired rules: AFM evaluator, intent evaluator and the render self-check agree', () => {
  test('on random policies with some rules expired, every flow', () => {
    let changed = 0;
    fc.assert(
      fc.property(expiredWorldArb, ({ original, expired }) => {
        // renderWorld compiles at the current time and renders through the self-check.
        const world = renderWorld(expired.model);
        const compiled = compilePolicy(expired.model);
        expect(compiled.expired.map((r) => r.path)).toEqual(expired.model.rules.filter((r) => r.expiresAt === EXPIRED).map((r) => r.path));
        // Fail closed: nothing of an expired rule reaches the device, so a controller that never
        // empties its list (down at expiry) cannot keep it enforced.
        const expiredKeys = compiled.expired.map(ruleKey);
        expect(world.plan.rules.filter((r) => expiredKeys.includes(r.key))).toEqual([]);
        expect(world.plan.lists.filter((l) => l.rules.some((k) => expiredKeys.includes(k)))).toEqual([]);
        for (const flow of expired.flows) {
          const outcome = evaluateBoth(world, expired, flow);
          try {
            expect(outcome.afmReading).toEqual(outcome.intentReading);
          } catch {
            throw new Error(describeDivergence(expired, flow, outcome));
          }
          // The enforced model the tools read says the same as the policy as written.
          const enforced: Scenario = { ...expired, model: compiled.model as PolicyModel };
          expect(evaluateBoth(world, enforced, flow).intentReading).toEqual(outcome.intentReading);
          const before = evaluateIntent({ model: original.model, snapshot: original.snapshot, dns: original.dns, flow, at: flow.at });
          if (before.verdict !== outcome.intent.verdict) changed++;
        }
      }),
      { numRuns: 300 },
    );
    // Not vacuous: expiring rules changed verdicts.
    expect(changed).toBeGreaterThan(0);
  });
});
