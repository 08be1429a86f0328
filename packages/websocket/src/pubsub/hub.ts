import type { WriteData } from '../sender/write-data.js';
import { PreparedMessage, prepareFrame } from '../sender/prepared.js';
import { messageOfFrame, type Backplane } from './backplane.js';

/** A connection as the hub sees it: implemented by the server's Connection (on the I/O thread). */
export interface Subscriber {
  readonly id: number;
  /** Its topics, kept by the hub (null: none). */
  topics: Set<string> | null;
  /** Queues a prepared message for the peer; false when refused (closing, or backpressure). */
  deliver(message: PreparedMessage): boolean;
}

/**
 * How a hub on one of several I/O threads (`workerCount`) reaches the others: through the main
 * thread, which knows which threads have subscribers of a topic and which owns a connection id.
 */
export interface HubRelay {
  /** A message published on this thread (framed): for subscribers on other threads and servers. */
  publish(topic: string, frame: Buffer): void;
  /** A broadcast from this thread: for every connection on other threads and servers. */
  broadcast(frame: Buffer): void;
  /** A message for connection `id`, which is not on this thread. */
  sendTo(id: number, frame: Buffer): void;
  /** `topic` has `count` subscribers on this thread now. */
  subscribers(topic: string, count: number): void;
  /** How many subscribers `topic` has on every thread. */
  count(topic: string): Promise<number>;
  /** Another thread has more relayed bytes waiting for it than the bound (`relayLimit`). */
  readonly congested: boolean;
  /** Runs `resume` once no thread is over the bound any more. */
  whenClear(resume: () => void): void;
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
  private readonly relay: HubRelay | null;

  /**
   * @param connections the server's connections by id (open or not: `deliver` refuses the others)
   * @param backplane carries publishes and broadcasts to and from other servers (optional)
   * @param relay reaches the other I/O threads of this server, when there are several (`workerCount`)
   */
  constructor(connections: ReadonlyMap<number, Subscriber>, backplane: Backplane | null = null, relay: HubRelay | null = null) {
    this.connections = connections;
    this.backplane = backplane;
    this.relay = relay;
    if (backplane !== null) {
      // Messages other servers published, framed here: delivered here only (never sent on again).
      backplane.onMessage = (topic, binary, payload) => {
        const frame = prepareFrame(binary ? 2 : 1, payload);
        if (topic === null) this.deliverAll(frame, 0);
        else this.deliverTopic(topic, frame, 0);
      };
    }
  }

  subscribe(s: Subscriber, topic: string): void {
    let members = this.byTopic.get(topic);
    if (members === undefined) {
      this.byTopic.set(topic, (members = new Set()));
      this.backplane?.subscribe(topic);
    }
    if (members.has(s)) return;
    members.add(s);
    (s.topics ??= new Set()).add(topic);
    this.relay?.subscribers(topic, members.size);
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
    this.relay?.subscribers(topic, members.size);
    if (members.size === 0) {
      this.byTopic.delete(topic);
      this.backplane?.unsubscribe(topic);
    }
  }

  /** Subscribers of `topic` on this thread. */
  subscriberCount(topic: string): number {
    return this.byTopic.get(topic)?.size ?? 0;
  }

  /** Subscribers of `topic` on every I/O thread of this server. */
  countEverywhere(topic: string): Promise<number> {
    return this.relay === null ? Promise.resolve(this.subscriberCount(topic)) : this.relay.count(topic);
  }

  /** Frames `data` once and queues it to every subscriber of `topic` except connection `except` (0: none); returns how many took it. */
  publish(topic: string, opcode: number, data: WriteData, except: number): number {
    return this.publishFrame(topic, prepareFrame(opcode, data), except);
  }

  /** Queues an already framed message (see {@link prepareFrame}) to the subscribers of `topic`. */
  publishFrame(topic: string, frame: Buffer, except: number): number {
    this.publishes++;
    if (this.backplane !== null) toBackplane(this.backplane, topic, frame);
    this.relay?.publish(topic, frame);
    return this.deliverTopic(topic, frame, except);
  }

  /** Queues a frame that was published elsewhere (another server, another I/O thread) to this thread's subscribers. */
  deliverTopic(topic: string, frame: Buffer, except: number): number {
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
    if (this.backplane !== null) toBackplane(this.backplane, null, frame);
    this.relay?.broadcast(frame);
    return this.deliverAll(frame, except);
  }

  /** Queues a frame broadcast elsewhere to every connection of this thread except `except`. */
  deliverAll(frame: Buffer, except: number): number {
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

  /**
   * Queues a frame to connection `id`. A connection on another I/O thread is reached through the
   * relay: true then means it was passed on.
   */
  sendFrameTo(id: number, frame: Buffer): boolean {
    if (this.relay !== null && !this.connections.has(id)) {
      this.relay.sendTo(id, frame);
      return true;
    }
    return this.deliverTo(id, frame);
  }

  /** Queues a frame to connection `id` of this thread (sent here or from another I/O thread); false when it is not here or refused it. */
  deliverTo(id: number, frame: Buffer): boolean {
    const s = this.connections.get(id);
    if (s === undefined || !s.deliver(new PreparedMessage(frame))) return false;
    this.deliveries++;
    return true;
  }

  /**
   * Flow control between I/O threads: when the relay to another thread is over its bound, `pause`
   * runs now (the publishing connection stops being read) and `resume` once it is clear. Returns
   * whether it paused.
   */
  throttle(pause: () => void, resume: () => void): boolean {
    if (this.relay === null || !this.relay.congested) return false;
    pause();
    this.relay.whenClear(resume);
    return true;
  }

  stats(): PubSubStats {
    return { topics: this.byTopic.size, publishes: this.publishes, deliveries: this.deliveries };
  }
}

/** Hands a framed message to a backplane as what it carries: the type and the payload. */
export function toBackplane(backplane: Backplane, topic: string | null, frame: Uint8Array): void {
  const { binary, payload } = messageOfFrame(frame);
  backplane.publish(topic, binary, payload);
}
