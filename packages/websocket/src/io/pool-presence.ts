import type { Member } from '../delivery/wire.js';
import type { EngineReport } from '../engine/engine.js';
import type { Backplane } from '../pubsub/backplane.js';
import type { IoThread } from './io-thread.js';
import type { RelayWriter } from './relay-batch.js';

type Keeper = Required<Pick<Backplane, 'track' | 'untrack' | 'members'>>;

/**
 * Presence (docs/delivery.md) on the main thread with I/O threads: a join or leave on one thread goes to every other
 * thread (whose subscribers hear it) and, when the backplane keeps presence (Redis), to the other servers; who is
 * present is asked of the backplane, or gathered from every thread's report.
 */
export class PoolPresence {
  private readonly keeper: Keeper | null;
  private readonly threads: readonly IoThread[];
  private readonly out: (t: IoThread) => RelayWriter | null;
  private readonly report: () => Promise<EngineReport>;

  constructor(
    backplane: Backplane | null,
    threads: readonly IoThread[],
    out: (t: IoThread) => RelayWriter | null,
    report: () => Promise<EngineReport>,
  ) {
    this.threads = threads;
    this.out = out;
    this.report = report;
    if (backplane?.track && backplane.untrack && backplane.members) {
      this.keeper = backplane as Keeper;
      backplane.onPresence = (kind, topic, id, info) => this.toThreads(null, kind, topic, id, info);
    } else this.keeper = null;
  }

  /** A join or leave on thread `from`: for the other threads and servers. */
  relay(from: IoThread, kind: 'join' | 'leave', topic: string, id: number, info: string): void {
    this.toThreads(from, kind, topic, id, info);
    if (this.keeper === null) return;
    if (kind === 'join') this.keeper.track(topic, id, info);
    else this.keeper.untrack(topic, id);
  }

  /** Thread `from` asks (its request number) who is present in `topic`. */
  members(from: IoThread, request: number, topic: string): void {
    const asked = this.keeper === null ? Promise.resolve(null) : this.keeper.members(topic);
    void asked
      .then((members) => members ?? this.fromReports(topic))
      .then((members) => this.out(from)?.membered(request, members));
  }

  private async fromReports(topic: string): Promise<Member[]> {
    const { connections } = await this.report();
    return connections
      .filter((c) => topic in c.presence)
      .map((c) => ({ id: c.id, info: c.presence[topic] }))
      .sort((a, b) => a.id - b.id);
  }

  private toThreads(except: IoThread | null, kind: 'join' | 'leave', topic: string, id: number, info: string): void {
    for (const t of this.threads) if (t !== except) this.out(t)?.presence(kind, topic, id, info);
  }
}
