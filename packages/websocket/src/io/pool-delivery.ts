import type { HistoryStore, Position } from '../delivery/history.js';
import type { Backplane } from '../pubsub/backplane.js';
import { messageOfFrame } from '../pubsub/backplane.js';
import { answerFrames, brokerAnswer, envelopeFrame, stamp, type Answer } from '../pubsub/delivery-frames.js';

/** Where a stamped publication goes: every I/O thread, `except` (0: none) skipped. */
export type ToThreads = (topic: string, except: number, position: Position, frame: Buffer) => void;

/**
 * Delivery (docs/delivery.md) on the main thread with I/O threads: the positions of topics with history are given
 * here, one order for every thread: by this thread's store, or, when the backplane can (Redis), by the broker, one
 * order for every server. Stamped publications go to every thread, the publisher's too.
 */
export class PoolDelivery {
  private readonly store: HistoryStore;
  /** The backplane when it gives positions. */
  private readonly broker: Required<Pick<Backplane, 'sequence' | 'history'>> | null;
  private readonly toThreads: ToThreads;

  constructor(store: HistoryStore, backplane: Backplane | null, toThreads: ToThreads) {
    this.store = store;
    this.toThreads = toThreads;
    if (backplane?.sequence && backplane.history) {
      this.broker = backplane as Required<Pick<Backplane, 'sequence' | 'history'>>;
      backplane.onStamped = (topic, m) =>
        toThreads(topic, m.except, m.position, envelopeFrame(topic, m.position, m.binary, m.payload));
    } else this.broker = null;
  }

  /** Positions come from the broker (a message published elsewhere arrives stamped, not to be stamped here). */
  get brokered(): boolean {
    return this.broker !== null;
  }

  keeps(topic: string): boolean {
    return this.store.keeps(topic);
  }

  /** A publication to a topic with history (`except`: the publishing connection to skip, or 0). */
  publish(topic: string, frame: Uint8Array, except: number): void {
    if (this.broker !== null) {
      const { binary, payload } = messageOfFrame(frame);
      this.broker.sequence(topic, binary, payload, except, this.store.ruleOf(topic)!);
      return;
    }
    const stamped = stamp(this.store, topic, frame);
    this.toThreads(topic, except, stamped.position!, stamped.frame);
  }

  /** The answer to a subscribe through the wire format (`since` null: a plain one), given to `reply`. */
  answer(topic: string, since: Position | null, reply: (answer: Answer) => void): void {
    const rule = this.store.ruleOf(topic);
    if (this.broker === null || rule === null) return reply(answerFrames(this.store, topic, since));
    void this.broker.history(topic, since, rule).then((h) => reply(brokerAnswer(topic, since, h, rule)));
  }
}
