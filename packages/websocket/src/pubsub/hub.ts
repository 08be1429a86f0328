import type { HistoryStore, Position } from '../delivery/history.js';
import { PreparedMessage } from '../sender/prepared.js';
import { answerFrames, stampFrame } from './delivery-frames.js';
import { StampedDelivery } from './stamped.js';
import { Presence, presenceFrame } from './presence.js';
import type { Member } from '../delivery/wire.js';
import type { Inlet, Outlet } from './outlet.js';

/**
 * A subscription made through the delivery wire format (docs/delivery.md): the hub answers it with the position
 * the subscriber starts after, and with `since` it first sends what the topic's history holds after that position.
 */
export interface Resume {
  /** The position the client last saw, or null for a plain subscribe. */
  since: Position | null;
}

/** A connection as the hub sees it: implemented by the engine's connections. */
export interface Subscriber {
  readonly id: number;
  /** Its topics, kept by the hub (null: none). */
  topics: Set<string> | null;
  /** The topics it is present in (`conn.track`), kept by the hub (null: none). */
  tracked: Set<string> | null;
  /** Queues a prepared message for the peer; false when refused (closing, or backpressure). */
  deliver(message: PreparedMessage): boolean;
}

/** Pub/sub counters, in `server.stats()`. */
export interface PubSubStats {
  /** Topics with at least one subscriber. */
  topics: number;
  /** Messages published (each counted once, whatever its subscribers). */
  publishes: number;
  /** Frames queued to connections by publish, broadcast and sendTo. */
  deliveries: number;
}

/**
 * Topics and cross-connection sends of one engine's connections (the thread that owns their
 * sockets, so every connection is reachable whichever hook thread runs its handler). A message is
 * framed once and the same bytes are queued to every subscriber; each subscriber's own backpressure
 * limit decides whether it takes them. What goes beyond these connections is handed to one
 * {@link Outlet} (other I/O threads, other servers); what comes from beyond arrives by `deliver`.
 */
export class Hub implements Inlet {
  private readonly byTopic = new Map<string, Set<Subscriber>>();
  private readonly connections: ReadonlyMap<number, Subscriber>;
  private readonly outlet: Outlet | null;
  /** With a handler that opts into delivery: topics' positions and history; publications go in envelopes. */
  private readonly delivery: HistoryStore | null;
  /**
   * Whether positions are given beyond this hub (I/O threads: by the main thread, for one order per topic): then
   * publications to topics with history go there first and come back stamped, to every thread alike.
   */
  private readonly sequencedBeyond: boolean;
  /** Publications stamped beyond, and answers given there, delivered each once in order (with sequencedBeyond). */
  private readonly stamped: StampedDelivery | null;
  /** Who is present in each topic (`conn.track`); joins and leaves go to the topic's subscribers with delivery. */
  private readonly presence = new Presence((kind, topic, id, info) => {
    this.announce(kind, topic, id, info);
    this.outlet?.presence?.(kind, topic, id, info);
  });
  publishes = 0;
  deliveries = 0;

  /**
   * @param connections the engine's connections by id (open or not: `deliver` refuses the others)
   * @param outlet where messages go beyond them (made with this hub as its inlet), if anywhere
   * @param delivery the history store, when the handler opts into delivery (publications then go in envelopes)
   */
  constructor(
    connections: ReadonlyMap<number, Subscriber>,
    outlet: ((hub: Hub) => Outlet) | null = null,
    delivery: HistoryStore | null = null,
  ) {
    this.connections = connections;
    this.outlet = outlet === null ? null : outlet(this);
    this.delivery = delivery;
    this.sequencedBeyond = delivery !== null && this.outlet?.sequence !== undefined;
    const beyond = this.outlet;
    this.stamped = this.sequencedBeyond
      ? new StampedDelivery(
          (topic) => this.byTopic.get(topic),
          (topic, since, answer) => beyond!.resume!(topic, since, answer),
        )
      : null;
  }

  /**
   * Adds `s` to `topic`. With `resume` (a subscribe through the delivery wire format), `s` is first told where it
   * starts and, resuming, sent what history holds after its position: all before any later publish, so nothing is
   * missed or repeated.
   */
  subscribe(s: Subscriber, topic: string, resume?: Resume): void {
    let members = this.byTopic.get(topic);
    if (members === undefined) this.byTopic.set(topic, (members = new Set()));
    if (members.has(s)) return;
    members.add(s);
    (s.topics ??= new Set()).add(topic);
    this.outlet?.subscribers(topic, members.size, members.size - 1);
    if (resume === undefined || this.delivery === null) return;
    if (this.stamped !== null && this.delivery.keeps(topic)) {
      // Answered where positions are given (see StampedDelivery).
      this.stamped.subscribe(s, topic, resume.since);
      return;
    }
    const { frames } = answerFrames(this.delivery, topic, resume.since);
    s.deliver(new PreparedMessage(frames[0]!));
    for (let i = 1; i < frames.length; i++) if (s.deliver(new PreparedMessage(frames[i]!))) this.deliveries++;
  }

  unsubscribe(s: Subscriber, topic: string): void {
    if (s.topics === null || !s.topics.delete(topic)) return;
    this.leave(s, topic);
  }

  /** `s` is present in `topic` with `info` (JSON); see Presence. */
  track(s: Subscriber, topic: string, info: string): void {
    this.presence.track(s, topic, info);
  }

  untrack(s: Subscriber, topic: string): void {
    this.presence.untrack(s, topic);
  }

  /** Who is present in `topic`: every connection of this hub, and beyond where the outlet keeps presence. */
  members(topic: string): Promise<Member[]> {
    const here = this.presence.members(topic);
    if (this.outlet?.members === undefined) return Promise.resolve(here);
    return this.outlet.members(topic).then((all) => all ?? here);
  }

  /** The topics `s` is present in, each with its info. */
  presenceOf(s: Subscriber): Record<string, unknown> {
    return this.presence.of(s);
  }

  /** A join or leave here or beyond, for the topic's subscribers here (as a wire event: with delivery only). */
  announce(kind: 'join' | 'leave', topic: string, id: number, info: string): void {
    if (this.delivery === null) return;
    const members = this.byTopic.get(topic);
    if (members === undefined) return;
    const message = new PreparedMessage(presenceFrame(kind, topic, id, info));
    for (const s of members) s.deliver(message);
  }

  /** Ends every subscription and presence of `s` (it is closing): the others hear it leave. */
  unsubscribeAll(s: Subscriber): void {
    this.presence.untrackAll(s);
    const topics = s.topics;
    if (topics === null) return;
    s.topics = null;
    for (const topic of topics) this.leave(s, topic);
  }

  private leave(s: Subscriber, topic: string): void {
    this.stamped?.leave(s, topic);
    const members = this.byTopic.get(topic);
    if (members === undefined || !members.delete(s)) return;
    if (members.size === 0) this.byTopic.delete(topic);
    this.outlet?.subscribers(topic, members.size, members.size + 1);
  }

  /** Subscribers of `topic` on this hub. */
  /** Every topic with subscribers here, and how many. */
  topicCounts(): Array<[topic: string, subscribers: number]> {
    return [...this.byTopic].map(([topic, members]) => [topic, members.size]);
  }

  subscriberCount(topic: string): number {
    return this.byTopic.get(topic)?.size ?? 0;
  }

  /** Subscribers of `topic` everywhere the outlet reaches (on every I/O thread of this server). */
  countEverywhere(topic: string): Promise<number> {
    const here = this.subscriberCount(topic);
    return this.outlet === null ? Promise.resolve(here) : this.outlet.count(topic, here);
  }

  /**
   * Queues a framed message (see `prepareFrame`) to every subscriber of `topic` but `except` (0: none), here and
   * beyond; returns how many here took it.
   */
  publish(topic: string, frame: Buffer, except: number): number {
    this.publishes++;
    if (this.sequencedBeyond && this.delivery!.keeps(topic)) {
      // Its position comes from beyond, and it comes back stamped (see deliverStamped), here too.
      this.outlet!.sequence!(topic, frame, except);
      return 0;
    }
    this.outlet?.publish(topic, frame);
    return this.deliver(topic, frame, except);
  }

  /**
   * Queues a framed message to every connection but `except` (0: none), here and beyond; returns how many here took it.
   */
  broadcast(frame: Buffer, except: number): number {
    this.outlet?.broadcast(frame);
    return this.deliver(null, frame, except);
  }

  /**
   * Queues a framed message to connection `id`. One that is not here is handed to the outlet: true
   * then means it was passed on. False when it is nowhere to be reached, or refused it.
   */
  sendTo(id: number, frame: Buffer): boolean {
    if (this.outlet !== null && !this.connections.has(id)) return this.outlet.sendTo(id, frame);
    return this.deliverTo(id, frame);
  }

  /** Queues a frame published (`topic`) or broadcast (null) here or beyond to this hub's connections but `except`. */
  deliver(topic: string | null, frame: Buffer, except: number): number {
    const members = topic === null ? this.connections.values() : this.byTopic.get(topic);
    if (topic !== null && this.delivery !== null) {
      // Positions given beyond (a topic with history there): one that comes here unstamped goes without a position.
      const beyond = this.stamped !== null && this.delivery.keeps(topic);
      // A topic with history here takes every message, subscribers here or not.
      if (members === undefined && (beyond || !this.delivery.keeps(topic))) return 0;
      frame = beyond ? stampFrame(null, topic, frame) : stampFrame(this.delivery, topic, frame);
    }
    if (members === undefined) return 0;
    const message = new PreparedMessage(frame);
    let n = 0;
    for (const s of members) if (s.id !== except && s.deliver(message)) n++;
    this.deliveries += n;
    return n;
  }

  /**
   * A publication stamped beyond this hub (see `sequencedBeyond`), at `position`: for the subscribers of `topic` but
   * `except`, each once and in offset order (see StampedDelivery).
   */
  deliverStamped(topic: string, frame: Buffer, except: number, position: Position): void {
    this.stamped?.arrived(topic, frame, except, position);
  }

  /**
   * Queues a frame to connection `id` of this hub (sent here or from beyond); false when it is not here or refused it.
   */
  deliverTo(id: number, frame: Buffer): boolean {
    const s = this.connections.get(id);
    if (s === undefined || !s.deliver(new PreparedMessage(frame))) return false;
    this.deliveries++;
    return true;
  }

  /**
   * Flow control beyond this hub: when the outlet is congested, `pause` runs now (the publishing
   * connection stops being read) and `resume` once it is clear. Returns whether it paused.
   */
  throttle(pause: () => void, resume: () => void): boolean {
    if (this.outlet === null || !this.outlet.congested) return false;
    pause();
    this.outlet.whenClear(resume);
    return true;
  }

  stats(): PubSubStats {
    const stamped = this.stamped?.deliveries ?? 0;
    return { topics: this.byTopic.size, publishes: this.publishes, deliveries: this.deliveries + stamped };
  }
}
