/**
 * Counts `close` hooks started and not yet settled, so that `server.stop()` can wait for all of
 * them: one piece used by the inline runner and the thread pool alike.
 */
export class CloseHooks {
  private running = 0;
  private waiters: Array<() => void> = [];

  /** A close hook was started (or handed to a worker). */
  started(): void {
    this.running++;
  }

  /** One of them settled. */
  settled(): void {
    if (--this.running === 0) for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once every close hook started so far has settled. */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
