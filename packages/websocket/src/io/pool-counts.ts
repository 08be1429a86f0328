import type { IoThread } from './io-thread.js';
import type { RelayWriter } from './relay-batch.js';

/**
 * Subscriber counts hooks asked for (`conn.subscriberCount`) with I/O threads: every thread is asked for its own
 * count at that moment, and the sum goes back to the thread that asked, so a count never misses a subscription a
 * client has been told about.
 */
export class PoolCounts {
  private readonly counting = new Map<
    number,
    { from: IoThread; request: number; total: number; waiting: Set<IoThread> }
  >();
  private nextQuery = 1;
  private readonly out: (t: IoThread) => RelayWriter | null;

  /** @param out the batch going to a thread this tick (null for one that is gone) */
  constructor(out: (t: IoThread) => RelayWriter | null) {
    this.out = out;
  }

  /** Thread `from` asks (its request number) for the subscribers of `topic` on every running thread. */
  ask(from: IoThread, request: number, topic: string, threads: readonly IoThread[]): void {
    const query = this.nextQuery++;
    const waiting = new Set(threads.filter((t) => t && t.ready && !t.dead));
    this.counting.set(query, { from, request, total: 0, waiting });
    for (const t of waiting) this.out(t)!.count(query, topic);
    if (waiting.size === 0) this.answer(query);
  }

  /** Thread `from` answered `query` with its own count. */
  counted(from: IoThread, query: number, count: number): void {
    const q = this.counting.get(query);
    if (q === undefined || !q.waiting.delete(from)) return;
    q.total += count;
    if (q.waiting.size === 0) this.answer(query);
  }

  /** A thread ended: counts waiting for it go on without it. */
  gone(thread: IoThread): void {
    for (const [query, q] of this.counting) if (q.waiting.delete(thread) && q.waiting.size === 0) this.answer(query);
  }

  private answer(query: number): void {
    const q = this.counting.get(query)!;
    this.counting.delete(query);
    this.out(q.from)?.counted(q.request, q.total);
  }
}
