import type { IoThread } from './io-thread.js';
import type { RelayWriter } from './relay-batch.js';
import type { Backplane } from '../pubsub/backplane.js';

/**
 * Subscribers of each topic on each I/O thread, as the threads report them (the backplane subscribes to a topic
 * while any thread has one); and counts hooks ask for (`conn.subscriberCount`): every thread is asked for its own
 * count at that moment, and the sum goes back to the thread that asked, so a count never misses a subscription a
 * client has been told about.
 */
export class PoolCounts {
  /** Subscribers per topic on each thread (by thread index). */
  private readonly byTopic = new Map<string, number[]>();
  private readonly backplane: Backplane | null;
  private readonly threadCount: number;
  private readonly counting = new Map<
    number,
    { from: IoThread; request: number; total: number; waiting: Set<IoThread> }
  >();
  private nextQuery = 1;
  private readonly out: (t: IoThread) => RelayWriter | null;

  /**
   * @param out the batch going to a thread this tick (null for one that is gone)
   * @param backplane subscribed to a topic while some thread has subscribers of it
   */
  constructor(out: (t: IoThread) => RelayWriter | null, backplane: Backplane | null, threadCount: number) {
    this.out = out;
    this.backplane = backplane;
    this.threadCount = threadCount;
  }

  /** Topics with subscribers on some thread. */
  get topics(): number {
    return this.byTopic.size;
  }

  /** Subscribers of `topic` on every thread, as last reported. */
  total(topic: string): number {
    const counts = this.byTopic.get(topic);
    return counts === undefined ? 0 : counts.reduce((a, b) => a + b, 0);
  }

  /** Thread `index` has `count` subscribers of `topic` now. */
  set(topic: string, index: number, count: number): void {
    let counts = this.byTopic.get(topic);
    if (counts === undefined) this.byTopic.set(topic, (counts = new Array<number>(this.threadCount).fill(0)));
    const before = counts.some((n) => n > 0);
    counts[index] = count;
    if (counts.some((n) => n > 0)) {
      if (!before) this.backplane?.subscribe(topic);
      return;
    }
    this.byTopic.delete(topic);
    if (before) this.backplane?.unsubscribe(topic);
  }

  /** Thread `index` ended: its subscribers with it. */
  threadGone(index: number): void {
    for (const topic of [...this.byTopic.keys()]) this.set(topic, index, 0);
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
