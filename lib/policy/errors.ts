/**
 * Errors raised by the policy layer.
 *
 * Every message names where the problem is (a construct path when known), the field, the
 * offending value and how to fix it, so that a failed `cdktf synth` can be acted on without
 * reading our source.
 */

/** One problem found in a policy input. */
export interface PolicyIssue {
  /** Construct path or other locator of the object that holds the bad value. */
  readonly path: string;
  /** Field name, dotted for nested fields (`destinations[2]`, `schedule.startTime`). */
  readonly field: string;
  /** The bad value, quoted as the user wrote it. */
  readonly value: string;
  /** What is wrong and how to fix it. */
  readonly message: string;
}

export function formatIssue(issue: PolicyIssue): string {
  const where = issue.path ? `[${issue.path}] ` : '';
  return `${where}${issue.field}: ${issue.message} (got ${issue.value})`;
}

/** Thrown when a policy input is invalid. Carries every issue found, not just the first. */
export class EgressPolicyError extends Error {
  public readonly issues: readonly PolicyIssue[];

  constructor(issues: readonly PolicyIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'EgressPolicyError';
    this.issues = issues;
  }
}

/**
 * Thrown by `cdktf synth` when constructs of the app have problems: every problem of every
 * construct, one line each (`[construct path] field: what is wrong and how to fix it (got
 * value)`), grouped by construct, after a line that counts them. The stack carries no trace of
 * our code: a pipeline shows the list and nothing else (these are input errors, not bugs).
 */
export class EgressSynthError extends EgressPolicyError {
  constructor(issues: readonly PolicyIssue[]) {
    const order = new Map<string, number>();
    for (const i of issues) if (!order.has(i.path)) order.set(i.path, order.size);
    const grouped = [...issues].sort((a, b) => (order.get(a.path) as number) - (order.get(b.path) as number));
    super(grouped);
    this.name = 'EgressSynthError';
    const problems = `${issues.length} problem${issues.length === 1 ? '' : 's'}`;
    const constructs = `${order.size} construct${order.size === 1 ? '' : 's'}`;
    this.message = `${problems} in ${constructs}; nothing was synthesized. Fix each line and synthesize again:\n${this.message}`;
    // Node prints an uncaught error's own enumerable properties after its stack: the lines
    // above already say what the issues hold.
    Object.defineProperty(this, 'issues', { value: this.issues, enumerable: false });
    // One pseudo-frame: Node prints a frameless stack in brackets; no frame of ours is useful.
    this.stack = `${this.name}: ${this.message}\n    at cdktf synth (the ${problems} above)`;
  }
}

/**
 * A value-level problem found before the owning construct is known (for example inside a
 * static factory such as `EgressPort.tcp(0)`). The construct that receives the value rethrows
 * it as an {@link EgressPolicyError} with its path and field.
 */
export class InvalidValueError extends Error {
  constructor(
    public readonly value: string,
    public readonly problem: string,
  ) {
    super(`${problem} (got ${value})`);
    this.name = 'InvalidValueError';
  }
}

/** Quote a value for an error message the way the user would have typed it. */
export function quote(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'nothing';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    // BigInts defeat JSON; null-prototype objects inside them defeat String().
    try {
      return String(value);
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
}

/**
 * What `produce` returns, or `fallback` when the policy is invalid. Lazy values are resolved
 * before validations run; they yield nothing for an invalid policy so that the validation,
 * which names the rule, reports the problem instead of a token-resolution failure.
 */
export function unlessInvalid<T>(produce: () => T, fallback: T): T {
  try {
    return produce();
  } catch (e) {
    if (e instanceof EgressPolicyError) return fallback;
    throw e;
  }
}
