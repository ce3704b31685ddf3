/**
 * Per-rule source translation: on random policies with translation pools on some rules, the
 * AFM evaluator over the rendering (NAT policy, source translations, the virtual server's snat)
 * agrees with the intent evaluator on the verdict and the rest of the reading AND on the source
 * address each allowed flow leaves with.
 */
import fc from 'fast-check';
import { AfmEvaluation, AfmRuleIndex } from '../../lib/afm/evaluator';
import { compilePolicy } from '../../lib/policy/compile';
import { IntentResult } from '../../lib/policy/intent';
import { PolicyModel, ruleKey } from '../../lib/policy/model';
import { snatIssues } from '../../lib/policy/snat';
import { ruleSnatArb } from '../support/arbitraries';
import { describeDivergence, evaluateBoth, renderWorld } from './harness';
import { Scenario, scenarioArb } from './scenarios';

const RUNS = Math.max(300, Math.floor(Number(process.env.DIFFERENTIAL_RUNS ?? 2000) / 4));

/** `model` without the pools its checks refuse (a family the pool or the gateways lack). */
function valid(model: PolicyModel): PolicyModel {
  const refused = new Set(snatIssues(model).map((i) => i.path));
  return { ...model, rules: model.rules.map((r) => (refused.has(r.path) ? { ...r, snat: undefined } : r)) };
}

const snatScenarioArb: fc.Arbitrary<Scenario> = scenarioArb(12).chain((scenario) =>
  ruleSnatArb(scenario.model, valid).map((model) => ({ ...scenario, model })),
);

const sorted = (a: readonly string[]) => [...a].sort().join(' ');

function intentTranslation(r: IntentResult): string {
  const t = r.translatedSource;
  if (!t) return '(not translated)';
  return t.by === 'rule' ? `rule ${t.rule.key}: ${sorted(t.addresses)}` : `device ${t.snat}: ${sorted(t.addresses)}`;
}

function afmTranslation(e: AfmEvaluation, owners: AfmRuleIndex, natPolicy: string): string {
  const t = e.translatedSource;
  if (!t) return '(not translated)';
  if (t.by === 'nat-rule') {
    if (t.rule === 'default') return `device POOL: ${sorted(t.addresses)}`;
    const owner = owners.ownerOf({ rule: t.rule, ruleList: natPolicy });
    if (!owner) throw new Error(`NAT rule ${t.rule} belongs to no rule of the policy`);
    return `rule ${owner.key}: ${sorted(t.addresses)}`;
  }
  if (t.snat === 'pool') return `device POOL: ${sorted(t.addresses ?? [])}`;
  return `device ${t.snat === 'auto' ? 'AUTOMAP' : t.snat === 'none' ? 'NONE' : 'SELF'}: `;
}

describe('differential: per-rule source translation', () => {
  test(`${RUNS} random policies with rule pools agree on verdict and translated source`, () => {
    let translatedByRule = 0;
    fc.assert(
      fc.property(snatScenarioArb, (scenario) => {
        expect(compilePolicy(scenario.model)).toBeDefined();
        const world = renderWorld(scenario.model);
        const natPolicy = `/${scenario.model.device.tenant}/${scenario.model.device.application}/nat_policy`;
        for (const flow of scenario.flows) {
          const outcome = evaluateBoth(world, scenario, flow);
          const intent = { ...outcome.intentReading, translatedSource: intentTranslation(outcome.intent) };
          const afm = { ...outcome.afmReading, translatedSource: afmTranslation(outcome.afm, world.owners, natPolicy) };
          if (intent.translatedSource.startsWith('rule ')) translatedByRule++;
          try {
            expect(afm).toEqual(intent);
          } catch {
            throw new Error(
              `${describeDivergence(scenario, flow, outcome)}\nSNAT rules: ${scenario.model.rules
                .filter((r) => r.snat)
                .map((r) => `${r.path} → ${r.snat?.addresses.map((a) => a.text).join(', ')}`)
                .join('; ')}\nINTENT translation ${intent.translatedSource}\nAFM    translation ${afm.translatedSource}`,
            );
          }
        }
      }),
      { numRuns: RUNS },
    );
    expect(translatedByRule).toBeGreaterThan(0);
  });

  test('the generated worlds reach every kind of translation (so agreement is not vacuous)', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(snatScenarioArb, (scenario) => {
        const world = renderWorld(scenario.model);
        for (const flow of scenario.flows) {
          const { intent } = evaluateBoth(world, scenario, flow);
          const t = intent.translatedSource;
          if (!t) continue;
          if (t.by === 'device') seen.add(`device ${t.snat}`);
          else {
            seen.add(`rule ${t.rule.level}`);
            if (intent.enforced.decidedBy?.key !== t.rule.key) seen.add('translated by a rule that did not decide');
            if (t.addresses.some((a) => a.includes(':'))) seen.add('IPv6 translation');
            if (scenario.model.device.audit) seen.add('device audit mode');
            // Without the translating rule's pool, does another rule with a pool take the flow?
            const rest = scenario.model.rules.map((r) => (ruleKey(r) === t.rule.key ? { ...r, snat: undefined } : r));
            const again = evaluateBoth(
              renderWorld({ ...scenario.model, rules: rest }),
              { ...scenario, model: { ...scenario.model, rules: rest } },
              flow,
            );
            const other = again.intent.translatedSource;
            if (other?.by === 'rule')
              seen.add(
                other.rule.level === t.rule.level
                  ? 'two rules with a pool match (same level)'
                  : 'two rules with a pool match (other levels)',
              );
          }
        }
      }),
      { numRuns: 600, seed: 20261201 },
    );
    for (const kind of [
      'device POOL',
      'device NONE',
      'rule cluster',
      'rule namespace',
      'rule service',
      'translated by a rule that did not decide',
      'IPv6 translation',
      'device audit mode',
      'two rules with a pool match (same level)',
      'two rules with a pool match (other levels)',
    ]) {
      expect(seen).toContain(kind);
    }
  });
});
