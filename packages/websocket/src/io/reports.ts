/**
 * `server.connections()` and `server.topics()` with I/O threads: every running thread is asked for its own
 * connections and topics, and the answers are merged. A thread that has not answered within {@link REPORT_TIMEOUT}
 * ms (it died, or is stuck) is left out rather than holding the caller.
 */
import type { EngineReport } from '../engine/engine.js';

/** How long a report waits for a thread's answer, in ms. */
export const REPORT_TIMEOUT = 2000;

/** The reports asked for and not yet complete. */
export class Reports<T> {
  private readonly waiting = new Map<number, (from: T, report: EngineReport) => void>();
  private next = 1;

  /** Asks `threads` (through `ask`, with the request's number) and merges their answers. */
  gather(threads: readonly T[], ask: (thread: T, request: number) => void): Promise<EngineReport> {
    const request = this.next++;
    const pending = new Set(threads);
    const connections: EngineReport['connections'] = [];
    const topics = new Map<string, number>();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiting.delete(request);
        resolve({ connections, topics: [...topics], missing: pending.size });
      };
      const timer = setTimeout(done, REPORT_TIMEOUT);
      this.waiting.set(request, (from, report) => {
        if (!pending.delete(from)) return;
        connections.push(...report.connections);
        for (const [topic, n] of report.topics) topics.set(topic, (topics.get(topic) ?? 0) + n);
        if (pending.size === 0) done();
      });
      for (const t of threads) ask(t, request);
      if (pending.size === 0) done();
    });
  }

  /** A thread's answer to request `request`. */
  answer(request: number, from: T, report: EngineReport): void {
    this.waiting.get(request)?.(from, report);
  }
}
