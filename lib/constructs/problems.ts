/**
 * Problems found while an app is built, reported together when it is synthesized.
 *
 * A construct whose props are refused does not throw: it records its problems here and stays
 * in an invalid state that renders nothing, so that the constructs after it are checked too.
 * The first of the app's stacks to be synthesized then fails with one {@link EgressSynthError}
 * listing every problem of every construct of this library in the app, before any stack is
 * written. Fail closed: each recorded problem is also an error annotation, which cdktf refuses
 * to synthesize even when validation is skipped.
 *
 * A construct that refers to a refused one (a rule or an EgressController on a refused
 * AfmDevice, a device on a refused SharedBigip or EgressCrdStack) checks its own props as
 * usual but is not built either: it renders nothing and says nothing about the reference, since
 * the refused construct's own lines already say what to fix (one line per dependent would bury
 * them). Its error annotation keeps its stack from being written when validation is skipped.
 *
 * Only construction mistakes with nowhere to record still throw: a scope that is not a
 * construct, or not in a stack, and an id that is not a non-empty string (checked before the
 * construct exists), and guardrails created with `new EgressGuardrails(...)` (an aspect, not
 * a construct).
 */
import { Annotations, TerraformStack } from 'cdktf';
import { IConstruct } from 'constructs';
import { EgressPolicyError, EgressSynthError, PolicyIssue, formatIssue } from '../policy/errors';

const PROBLEMS = Symbol.for('cdktf-ces.Problems');
/** The refused construct an unbuilt construct refers to. */
const UNBUILT = Symbol.for('cdktf-ces.Unbuilt');
/** Constructs that contribute problems found at synth (devices: cross-rule and guardrail problems). */
const SYNTH_CHECK = Symbol.for('cdktf-ces.SynthCheck');

/** Problems one construct found at synth, collected by the app-wide check. */
export type SynthCheck = () => PolicyIssue[];

/** The stacks (and apps) that carry the app-wide check. */
const gatedStacks = new WeakSet<IConstruct>();
/** Apps whose check is running (it runs the checks of the constructs, never itself). */
const checking = new WeakSet<IConstruct>();

/**
 * Records problems of `construct`. They are reported at synth with those of every other
 * construct of the app; the construct must render nothing.
 */
export function recordProblems(construct: IConstruct, issues: readonly PolicyIssue[]): void {
  if (issues.length === 0) return;
  const own = recordedProblems(construct);
  if (own.length === 0) Object.defineProperty(construct, PROBLEMS, { value: own, enumerable: false });
  for (const issue of issues) {
    own.push(issue);
    Annotations.of(construct).addError(formatIssue(issue.path === construct.node.path ? { ...issue, path: '' } : issue));
  }
  gateSynth(construct);
}

/**
 * Runs `build`; an {@link EgressPolicyError} it throws is recorded on `construct` instead of
 * stopping the app. Returns what `build` returned, or undefined when it was refused.
 */
export function collectProblems<T>(construct: IConstruct, build: () => T): T | undefined {
  try {
    return build();
  } catch (e) {
    if (!(e instanceof EgressPolicyError)) throw e;
    recordProblems(construct, e.issues);
    return undefined;
  }
}

/** The problems recorded on `construct` (empty when it is valid). */
export function recordedProblems(construct: IConstruct): PolicyIssue[] {
  return (construct as unknown as Record<symbol, PolicyIssue[] | undefined>)[PROBLEMS] ?? [];
}

/**
 * Runs `check`, which throws the problems of `construct`'s props ({@link collectProblems});
 * returns whether any was recorded, in which case the construct must stop building.
 */
export function refused(construct: IConstruct, check: () => void): boolean {
  collectProblems(construct, check);
  return recordedProblems(construct).length > 0;
}

/**
 * Leaves `construct` unbuilt because it refers to `dependency`, which is not built: it renders
 * nothing and reports nothing of its own about it (the dependency's problems say what to fix).
 */
export function markUnbuilt(construct: IConstruct, dependency: IConstruct): void {
  if (UNBUILT in construct) return;
  Object.defineProperty(construct, UNBUILT, { value: dependency, enumerable: false });
  // Not a problem of its own (the app-wide check reports recorded problems only), but its
  // stack must not be written when validation is skipped.
  Annotations.of(construct).addError(`not built: it refers to ${dependency.node.path}, which has problems (reported there)`);
  gateSynth(construct);
}

/** The refused construct that `construct` refers to, when that left it unbuilt. */
export function unbuiltDependency(construct: IConstruct): IConstruct | undefined {
  return (construct as unknown as Record<symbol, IConstruct | undefined>)[UNBUILT];
}

/** Whether `construct` was refused or left unbuilt (it then renders nothing). */
export function isRefused(construct: IConstruct): boolean {
  return recordedProblems(construct).length > 0 || UNBUILT in construct;
}

/** Registers a check whose problems are reported with the recorded ones at synth. */
export function addSynthCheck(construct: IConstruct, check: SynthCheck): void {
  Object.defineProperty(construct, SYNTH_CHECK, { value: check, enumerable: false });
  gateSynth(construct);
}

/**
 * Puts the app-wide check on the stack of `construct` and on the stacks directly under the app
 * (the first stack synthesized is usually one of them). A stack's own validations run before
 * those of its constructs, and cdktf synthesizes one stack after another, so the check runs
 * before the first stack with a construct of this library is written.
 */
export function gateSynth(construct: IConstruct): void {
  const stacks: IConstruct[] = construct.node.root.node.children.filter((c) => TerraformStack.isStack(c));
  const own = stackOf(construct);
  if (own) stacks.push(own);
  // Problems of the App itself (guardrails refused there, maybe before any stack exists): the
  // app's own validation, after the stacks, is the last place to fail.
  else stacks.push(construct.node.root);
  for (const stack of stacks) {
    if (gatedStacks.has(stack)) continue;
    gatedStacks.add(stack);
    stack.node.addValidation({ validate: () => checkApp(stack.node.root) });
  }
}

function stackOf(construct: IConstruct): IConstruct | undefined {
  for (let c: IConstruct | undefined = construct; c; c = c.node.scope) if (TerraformStack.isStack(c)) return c;
  return undefined;
}

/** Every problem of every construct of this library in the app; throws them all at once. */
function checkApp(root: IConstruct): string[] {
  if (checking.has(root)) return [];
  checking.add(root);
  try {
    const all = root.node.findAll();
    const issues: PolicyIssue[] = [];
    // Synth checks first: they apply guardrails, which record violations on rules.
    for (const c of all) {
      const check = (c as unknown as Record<symbol, SynthCheck | undefined>)[SYNTH_CHECK];
      if (check) issues.push(...check());
    }
    for (const c of all) issues.push(...recordedProblems(c));
    if (issues.length) throw new EgressSynthError(unique(issues));
    return [];
  } finally {
    checking.delete(root);
  }
}

function unique(issues: readonly PolicyIssue[]): PolicyIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = formatIssue(i);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
