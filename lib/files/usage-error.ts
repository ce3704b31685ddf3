/** Longest offending value a message shows, in characters. */
const MAX_VALUE = 200;

/**
 * Bad input to a tool (the CLI, verify, the matchers, migration): the CLI reports it as one
 * line on stderr with exit code 2.
 */
export class UsageError extends Error {
  public readonly value: string;

  /**
   * @param what what is wrong and where (`--to`, `flows.yaml row 3 field "expect"`, …)
   * @param value the offending value, as the user wrote it (cut to 200 characters)
   * @param fix how to put it right
   */
  constructor(
    public readonly what: string,
    value: string,
    public readonly fix: string,
  ) {
    const shown = value.length > MAX_VALUE ? `${value.slice(0, MAX_VALUE - 1)}…` : value;
    super(`${what} (got ${shown}); ${fix}`);
    this.value = shown;
    this.name = 'UsageError';
  }
}
