import type { WriteData } from '../server/conn.js';
import { PreparedMessage, prepareFrame } from './prepared.js';
import type { Backplane } from './backplane.js';

/** A connection as the hub sees it: implemented by the server's Connection (on the I/O thread). */
export interface Subscriber {
  readonly id: number;
  /** Its topics, kept by the hub (null: none). */
  topics: Set<string> | null;
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
 * Topics and cross-connection sends, owned by the thread that owns the sockets (the I/O thread), so
 * every connection is reachable whichever worker runs its handler. A message is framed once and the
 * same bytes are queued to every subscriber; each subscriber's own backpressure limit decides
 * whether it takes them.
 */
export class Hub {
  private readonly byTopic = new Map<string, Set<Subscriber>>();
  private readonly connections: ReadonlyMap<number, Subscriber>;
  publishes = 0;
  deliveries = 0;

  private readonly backplane: Backplane | null;

  /**
   * @param connections the server's connections by id (open or not: `deliver` refuses the others)
   * @param backplane carries publishes and broadcasts to and from other servers (optional)
   */
  constructor(connections: ReadonlyMap<number, Subscriber>, backplane: Backplane | null = null) {
    this.connections = connections;
    this.backplane = backplane;
    if (backplane !== null) {
      // Messages other servers published: delivered here only (never sent on again).
      backplane.onMessage = (topic, frame) => (topic === null ? this.deliverAll(frame, 0) : this.deliverTopic(topic, frame, 0));
    }
  }

  subscribe(s: Subscriber, topic: string): void {
    let members = this.byTopic.get(topic);
    if (members === undefined) {
      this.byTopic.set(topic, (members = new Set()));
      this.backplane?.subscribe(topic);
    }
    members.add(s);
    (s.topics ??= new Set()).add(topic);
  }

  unsubscribe(s: Subscriber, topic: string): void {
    if (s.topics === null || !s.topics.delete(topic)) return;
    this.leave(s, topic);
  }

  /** Ends every subscription of `s` (it is closing). */
  unsubscribeAll(s: Subscriber): void {
    const topics = s.topics;
    if (topics === null) return;
    s.topics = null;
    for (const topic of topics) this.leave(s, topic);
  }

  private leave(s: Subscriber, topic: string): void {
    const members = this.byTopic.get(topic);
    if (members === undefined) return;
    members.delete(s);
    if (members.size === 0) {
      this.byTopic.delete(topic);
      this.backplane?.unsubscribe(topic);
    }
  }

  subscriberCount(topic: string): number {
    return this.byTopic.get(topic)?.size ?? 0;
  }

  /** Frames `data` once and queues it to every subscriber of `topic` except connection `except` (0: none); returns how many took it. */
  publish(topic: string, opcode: number, data: WriteData, except: number): number {
    return this.publishFrame(topic, prepareFrame(opcode, data), except);
  }

  /** Queues an already framed message (see {@link prepareFrame}) to the subscribers of `topic`. */
  publishFrame(topic: string, frame: Buffer, except: number): number {
    this.publishes++;
    this.backplane?.publish(topic, frame);
    return this.deliverTopic(topic, frame, except);
  }

  private deliverTopic(topic: string, frame: Buffer, except: number): number {
    const members = this.byTopic.get(topic);
    if (members === undefined) return 0;
    const message = new PreparedMessage(frame);
    let n = 0;
    for (const s of members) if (s.id !== except && s.deliver(message)) n++;
    this.deliveries += n;
    return n;
  }

  /** Queues a message to every connection except `except` (0: none); returns how many took it. */
  broadcast(opcode: number, data: WriteData, except: number): number {
    return this.broadcastFrame(prepareFrame(opcode, data), except);
  }

  broadcastFrame(frame: Buffer, except: number): number {
    this.backplane?.publish(null, frame);
    return this.deliverAll(frame, except);
  }

  private deliverAll(frame: Buffer, except: number): number {
    const message = new PreparedMessage(frame);
    let n = 0;
    for (const s of this.connections.values()) if (s.id !== except && s.deliver(message)) n++;
    this.deliveries += n;
    return n;
  }

  /** Queues a message to connection `id`; false when it is not open (or refuses it). */
  sendTo(id: number, opcode: number, data: WriteData): boolean {
    return this.sendFrameTo(id, prepareFrame(opcode, data));
  }

  sendFrameTo(id: number, frame: Buffer): boolean {
    const s = this.connections.get(id);
    if (s === undefined || !s.deliver(new PreparedMessage(frame))) return false;
    this.deliveries++;
    return true;
  }

  stats(): PubSubStats {
    return { topics: this.byTopic.size, publishes: this.publishes, deliveries: this.deliveries };
  }
}
