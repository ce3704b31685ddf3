import { EgressPolicyError, PolicyIssue } from '../../lib/policy/errors';

/** The issues of the EgressPolicyError that `fn` throws; fails the test on any other outcome. */
export function issuesOf(fn: () => unknown): PolicyIssue[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof EgressPolicyError) return [...e.issues];
    throw new Error(`expected an EgressPolicyError, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
  }
  throw new Error('expected an EgressPolicyError, but nothing was thrown');
}
