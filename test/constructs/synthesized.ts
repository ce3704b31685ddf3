import { App } from 'cdktf';
import { Construct } from 'constructs';
import { recordedProblems } from '../../lib/constructs/problems';
import { EgressPolicyError } from '../../lib/policy/errors';

/**
 * Builds with `build` and synthesizes the app of what it returned, as `cdktf synth` does: a
 * refused construct reports its problems there (with every other problem of the app).
 */
export function synthesized<T>(build: () => T): T {
  const built = build();
  if (Construct.isConstruct(built)) (built.node.root as App).synth();
  return built;
}

/**
 * Builds with `build` and throws the problems recorded on what it built, which a refused
 * construct reports at synth (apps here hold many refused constructs; this takes one's own).
 */
export function refusal<T>(build: () => T): T {
  const built = build();
  const issues = Construct.isConstruct(built) ? recordedProblems(built) : [];
  if (issues.length) throw new EgressPolicyError(issues);
  return built;
}
