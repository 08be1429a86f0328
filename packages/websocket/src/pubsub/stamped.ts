import type { Position } from '../delivery/history.js';
import { PreparedMessage } from '../sender/prepared.js';
import type { Answer } from './delivery-frames.js';

/** A connection as stamped delivery sees it (the hub's Subscriber). */
export interface StampedMember {
  readonly id: number;
  topics: Set<string> | null;
  deliver(message: PreparedMessage): boolean;
}

/** Asks where positions are given for an answer: a resume's, or the publications a gap lacks. */
export type AskBeyond = (topic: string, since: Position | null, answer: (a: Answer) => void) => void;

/** Publications held for one subscriber while its resume is answered: past this many it sees a gap. */
const MAX_HELD = 1024;

type Held = { offset: number; frame: Buffer; except: number };

/** What arrived live for one topic: the last position delivered, and what waits while a gap is filled. */
interface Live {
  epoch: string;
  offset: number;
  filling: Held[] | null;
}

/**
 * Delivery of publications stamped beyond a hub (docs/delivery.md: positions given by the main thread for every I/O
 * thread, or by Redis for every process), each once and in offset order:
 * - a subscriber whose resume is being answered beyond gets nothing live until its answer, then what was held for
 *   it after the answer's offset (the answer may come before or after publications stamped around it);
 * - a publication that skips offsets (pub/sub lost some while Redis was away) waits until the ones it skipped are
 *   fetched from history, and a repeated one is dropped.
 */
export class StampedDelivery {
  private readonly resuming = new Map<string, Map<StampedMember, Held[]>>();
  /** Subscribers that resumed up to an offset: live publications up to it are theirs already. */
  private readonly floors = new Map<string, Map<StampedMember, number>>();
  private readonly live = new Map<string, Live>();
  private readonly membersOf: (topic: string) => Iterable<StampedMember> | undefined;
  private readonly ask: AskBeyond;
  /** Frames queued to subscribers (the hub adds them to its deliveries). */
  deliveries = 0;
  /** Publications that arrived twice, and gaps filled from history or not. */
  repeats = 0;
  gaps = 0;

  constructor(membersOf: (topic: string) => Iterable<StampedMember> | undefined, ask: AskBeyond) {
    this.membersOf = membersOf;
    this.ask = ask;
  }

  /** `s` subscribed to `topic` through the wire format: its answer (and resume) comes from beyond. */
  subscribe(s: StampedMember, topic: string, since: Position | null): void {
    let waiting = this.resuming.get(topic);
    if (waiting === undefined) this.resuming.set(topic, (waiting = new Map()));
    const held: Held[] = [];
    waiting.set(s, held);
    this.ask(topic, since, ({ frames, last }) => {
      if (waiting.get(s) !== held) return;
      waiting.delete(s);
      if (waiting.size === 0 && this.resuming.get(topic) === waiting) this.resuming.delete(topic);
      if (s.topics?.has(topic) !== true) return;
      s.deliver(new PreparedMessage(frames[0]!));
      for (let i = 1; i < frames.length; i++) if (s.deliver(new PreparedMessage(frames[i]!))) this.deliveries++;
      let top = last;
      for (const h of held) {
        if (h.offset <= top) continue;
        top = h.offset;
        if (s.deliver(new PreparedMessage(h.frame))) this.deliveries++;
      }
      let floors = this.floors.get(topic);
      if (floors === undefined) this.floors.set(topic, (floors = new Map()));
      floors.set(s, top);
    });
  }

  /** `s` left `topic` (unsubscribed or closing). */
  leave(s: StampedMember, topic: string): void {
    this.resuming.get(topic)?.delete(s);
    this.floors.get(topic)?.delete(s);
  }

  /** A publication stamped beyond arrived (`except`: a connection to skip, 0 none). */
  arrived(topic: string, frame: Buffer, except: number, position: Position): void {
    let live = this.live.get(topic);
    if (live === undefined || live.epoch !== position.epoch) {
      // The first one heard, or a new history (Redis restarted without its data): nothing to compare with.
      this.live.set(topic, (live = { epoch: position.epoch, offset: position.offset - 1, filling: null }));
    }
    const held = { offset: position.offset, frame, except };
    if (live.filling !== null) {
      if (live.filling.length < MAX_HELD) live.filling.push(held);
      return;
    }
    if (position.offset <= live.offset) return void this.repeats++;
    if (position.offset > live.offset + 1) return this.fill(topic, live, held);
    live.offset = position.offset;
    this.fan(topic, held);
  }

  /** Fetches the publications between the last delivered and `held` from history, then delivers them in order. */
  private fill(topic: string, live: Live, held: Held): void {
    this.gaps++;
    live.filling = [held];
    this.ask(topic, { offset: live.offset, epoch: live.epoch }, ({ frames, last, recovered }) => {
      const waiting = live.filling ?? [];
      live.filling = null;
      // Recovered: the frames after the answer are offsets live.offset + 1 .. last.
      if (recovered) {
        for (let i = 1; i < frames.length; i++)
          this.fan(topic, { offset: live.offset + i, frame: frames[i]!, except: 0 });
        live.offset = last;
      }
      for (const h of waiting) {
        if (h.offset <= live.offset) continue;
        live.offset = h.offset;
        this.fan(topic, h);
      }
    });
  }

  private fan(topic: string, { offset, frame, except }: Held): void {
    const members = this.membersOf(topic);
    if (members === undefined) return;
    const waiting = this.resuming.get(topic);
    const floors = this.floors.get(topic);
    const message = new PreparedMessage(frame);
    for (const s of members) {
      if (s.id === except) continue;
      const held = waiting?.get(s);
      if (held !== undefined) {
        if (held.length < MAX_HELD) held.push({ offset, frame, except });
        continue;
      }
      const floor = floors?.get(s);
      if (floor !== undefined) {
        if (offset <= floor) continue;
        floors!.delete(s);
      }
      if (s.deliver(message)) this.deliveries++;
    }
    if (floors?.size === 0) this.floors.delete(topic);
  }
}
