/**
 * Reports of data messages the 'drop' policy dropped: counted as they go, told at most once per
 * drain cycle and on a macrotask, so a `dropped()` hook that writes (and so drops more) cannot loop.
 */
export class DropReport {
  private count = 0;
  /** 0: none pending, 1: scheduled, 2: made this cycle. */
  private state: 0 | 1 | 2 = 0;
  private readonly tell: (count: number) => void;

  /** @param tell receives the messages dropped since the last report (never 0) */
  constructor(tell: (count: number) => void) {
    this.tell = tell;
  }

  /** A message was dropped. */
  dropped(): void {
    this.count++;
    if (this.state === 0) this.schedule();
  }

  /** Under the limit again, or drained: the next drops are reported again; those since the report, now. */
  cycleEnded(): void {
    if (this.state !== 2) return;
    this.state = 0;
    if (this.count > 0) this.schedule();
  }

  private schedule(): void {
    this.state = 1;
    setImmediate(() => {
      const n = this.count;
      this.count = 0;
      this.state = 2;
      if (n > 0) this.tell(n);
    });
  }
}
