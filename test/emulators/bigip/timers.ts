/** The emulator's pending timers, so that stopping it leaves none behind. */
export class Timers {
  private readonly pending = new Set<NodeJS.Timeout>();

  public delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.pending.delete(t);
        resolve();
      }, ms);
      this.pending.add(t);
    });
  }

  /** The promise's value, or undefined when it takes longer than `ms` (the timer is cleared either way). */
  public within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
    return new Promise<T | undefined>((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(t);
        resolve(undefined);
      }, ms);
      this.pending.add(t);
      promise.then(
        (v) => {
          clearTimeout(t);
          this.pending.delete(t);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(t);
          this.pending.delete(t);
          reject(e);
        },
      );
    });
  }

  public clear(): void {
    for (const t of this.pending) clearTimeout(t);
    this.pending.clear();
  }
}
