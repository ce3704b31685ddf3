/**
 * The rendering proof for redirection: on random policies with redirect rules, the AFM
 * evaluator over what the device receives (the redirect listeners with their traffic-matching
 * lists and gateway pools, beside the egress virtual server) gives the same verdict, deciding
 * rule, per-level path AND next hop as the intent evaluator over the policy model.
 */
import fc from 'fast-check';
import { Scenario, scenarioArb, worldPolicyArb } from './scenarios';
import { describeDivergence, evaluateBoth, renderWorld } from './harness';
import { redirectPolicyArb } from '../support/arbitraries';
import type { NextHop } from '../../lib/policy/redirect';

const RUNS = Math.max(200, Math.floor(Number(process.env.DIFFERENTIAL_RUNS ?? 2000) / 4));

const hop = (h: NextHop | undefined) => (h ? `${h.via} ${h.gateways.join(',')}` : '(none)');

const redirectScenarioArb = scenarioArb(12, redirectPolicyArb(worldPolicyArb));

function check(scenario: Scenario, seen?: Set<string>): number {
  const world = renderWorld(scenario.model);
  for (const flow of scenario.flows) {
    const outcome = evaluateBoth(world, scenario, flow);
    const intent = { ...outcome.intentReading, nextHop: hop(outcome.intent.nextHop) };
    const afm = { ...outcome.afmReading, nextHop: hop(outcome.afm.nextHop) };
    try {
      expect(afm).toEqual(intent);
    } catch {
      throw new Error(
        `${describeDivergence(scenario, flow, outcome)}\nREDIRECTS ${JSON.stringify(
          scenario.model.rules.filter((r) => r.redirect).map((r) => `${r.level}/${r.namespace ?? '-'}/${r.name} → ${r.redirect!.name}`),
        )}\nNEXT HOP intent ${intent.nextHop} (${outcome.intent.nextHop?.redirect ?? '-'}), AFM ${afm.nextHop} (${outcome.afm.nextHop?.virtualServer ?? '-'})`,
      );
    }
    if (seen) {
      const h = outcome.intent.nextHop;
      if (h?.redirect) seen.add(`redirected to ${h.redirect}`);
      if (h?.redirect && outcome.intent.enforced.decidedBy?.key !== undefined) {
        const decider = scenario.model.rules.find(
          (r) => `${r.level}` === outcome.intent.enforced.decidedBy!.level && r.name === outcome.intent.enforced.decidedBy!.name,
        );
        if (decider && !decider.redirect) seen.add('redirected, decided by another rule');
      }
      if (h && !h.redirect) seen.add(`not redirected: ${h.via}`);
      if (!h && scenario.model.rules.some((r) => r.redirect)) seen.add('refused with redirect rules present');
      if (outcome.intent.verdict !== 'allow' && outcome.afm.enforced.virtualServer?.includes('/rdr_'))
        seen.add('refused on a redirect listener');
      if (h?.redirect && outcome.intent.enforced.levels[0].outcome === 'match') seen.add('redirected after a cluster match');
    }
  }
  return scenario.flows.length;
}

describe('differential: redirection', () => {
  test(`${RUNS} random policies with redirect rules agree on verdict and next hop of every flow`, () => {
    let flows = 0;
    let redirected = 0;
    fc.assert(
      fc.property(redirectScenarioArb, (scenario) => {
        flows += check(scenario);
        if (scenario.model.rules.some((r) => r.redirect)) redirected++;
      }),
      { numRuns: RUNS },
    );
    process.stdout.write(`differential (redirection): ${RUNS} policies, ${redirected} with redirects, ${flows} flows\n`);
    expect(redirected).toBeGreaterThan(RUNS / 2);
  });

  test('the generated worlds reach every kind of outcome (so agreement is not vacuous)', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(redirectScenarioArb, (scenario) => {
        check(scenario, seen);
      }),
      { numRuns: 300, seed: 20261201 },
    );
    for (const kind of [
      'redirected to inspection',
      'redirected to partner',
      'redirected to lab',
      'redirected, decided by another rule',
      'not redirected: gateways',
      'not redirected: routing-table',
      'refused with redirect rules present',
      'refused on a redirect listener',
      'redirected after a cluster match',
    ]) {
      expect(seen).toContain(kind);
    }
  });
});
