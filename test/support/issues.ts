import { Construct } from 'constructs';
import { recordedProblems } from '../../lib/constructs/problems';
import { EgressPolicyError, PolicyIssue } from '../../lib/policy/errors';

/**
 * The issues `fn` throws as an EgressPolicyError, or those recorded on the construct it returns
 * (a refused construct reports them at synth instead of throwing); fails the test on any other
 * outcome.
 */
export function issuesOf(fn: () => unknown): PolicyIssue[] {
  let built: unknown;
  try {
    built = fn();
  } catch (e) {
    if (e instanceof EgressPolicyError) return [...e.issues];
    throw new Error(`expected an EgressPolicyError, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
  const recorded = Construct.isConstruct(built) ? recordedProblems(built) : [];
  if (recorded.length) return [...recorded];
  throw new Error('expected an EgressPolicyError, but nothing was thrown or recorded');
}
