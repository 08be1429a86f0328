import type { Member } from '../delivery/wire.js';
import type { Hub, Resume } from '../pubsub/hub.js';
import type { TopicLimits } from '../pubsub/subscriptions.js';
import { prepareFrame, type PreparedMessage } from '../sender/prepared.js';
import type { WriteData } from '../sender/write-data.js';

/**
 * The pub/sub half of a link's ConnTransport: what its Conn asks of the server's hub (subscriptions, publishes,
 * presence), and what the hub keeps on it (Subscriber). The link supplies the hub, whether it may join topics
 * now, and the flow control after a publish.
 */
export abstract class LinkTopics {
  abstract readonly id: number;
  /** Kept by the server's hub (see Subscriber). */
  topics: Set<string> | null = null;
  /** Kept by the server's hub (see Subscriber). */
  tracked: Set<string> | null = null;

  /** The server's hub. */
  protected abstract get hub(): Hub;
  /** Open, or in `init`, and not closing: subscriptions and presence may start (deliveries start with the 101). */
  protected abstract get joinable(): boolean;
  /** After a publish: stops reading while the hub's outlet is congested. */
  protected abstract throttle(): void;
  abstract get topicLimits(): TopicLimits;
  /** A message prepared for many connections (Subscriber). */
  abstract deliver(message: PreparedMessage): boolean;

  subscribe(topic: string, resume?: Resume): void {
    // A worker may subscribe before it learns the connection is closing or gone: nothing to deliver to then.
    if (this.joinable) this.hub.subscribe(this, topic, resume);
  }

  unsubscribe(topic: string): void {
    this.hub.unsubscribe(this, topic);
  }

  publish(topic: string, opcode: number, data: WriteData, self: boolean): void {
    this.hub.publish(topic, prepareFrame(opcode, data), self ? 0 : this.id);
    this.throttle();
  }

  broadcast(opcode: number, data: WriteData, self: boolean): void {
    this.hub.broadcast(prepareFrame(opcode, data), self ? 0 : this.id);
    this.throttle();
  }

  sendTo(id: number, opcode: number, data: WriteData): void {
    this.hub.sendTo(id, prepareFrame(opcode, data));
    this.throttle();
  }

  subscriberCount(topic: string): Promise<number> {
    return this.hub.countEverywhere(topic);
  }

  track(topic: string, info: string): void {
    if (this.joinable) this.hub.track(this, topic, info);
  }

  untrack(topic: string): void {
    this.hub.untrack(this, topic);
  }

  members(topic: string): Promise<Member[]> {
    return this.hub.members(topic);
  }

  /** The topics this link is present in, each with its info. */
  presence(): Record<string, unknown> {
    return this.tracked === null ? {} : this.hub.presenceOf(this);
  }
}
