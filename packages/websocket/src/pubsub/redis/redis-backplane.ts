import { randomBytes } from 'node:crypto';
import type { Backplane, BackplaneStats } from '../backplane.js';
import { RedisConnection } from './redis-connection.js';
import type { Reply } from './resp.js';

/** Options of {@link RedisBackplane}. */
export interface RedisBackplaneOptions {
  /** Prefix of the Redis channels (default 'wsz'): servers with the same prefix share topics. */
  prefix?: string;
  /** Publishes kept while Redis is away; past it they are dropped and counted as lost (default 1000). */
  maxQueue?: number;
  /** Told when the connection to Redis drops or comes back. */
  log?: (message: string) => void;
}

/** Bytes that tag each message with the server that published it. */
const ORIGIN = 8;

/**
 * A Redis pub/sub backplane (the engine of Socket.IO's Redis adapter and ActionCable): one connection
 * publishes, one subscribes, both speaking RESP over node:net (rediss:// over node:tls; AUTH and the
 * database from the URL). A server subscribes only to the topics it has local subscribers for; its own
 * messages come back from Redis and are skipped (they were delivered locally already). When Redis is
 * away the server keeps serving its own connections, reconnects with backoff and resubscribes by itself;
 * Redis pub/sub is at most once, so what is published meanwhile beyond a small queue is lost, and counted.
 */
export class RedisBackplane implements Backplane {
  onMessage: ((topic: string | null, frame: Buffer) => void) | null = null;
  private readonly origin = randomBytes(ORIGIN);
  private readonly prefix: string;
  private readonly topics = new Set<string>();
  private readonly pub: RedisConnection;
  private readonly sub: RedisConnection;
  private published = 0;
  private received = 0;
  private readonly broadcastChannel: string;

  constructor(url: string | URL, options: RedisBackplaneOptions = {}) {
    this.prefix = options.prefix ?? 'wsz';
    this.broadcastChannel = `${this.prefix}:broadcast`;
    const log = options.log ?? (() => {});
    this.pub = new RedisConnection(url, { ready: () => log('redis publisher connected'), reply: () => {}, down: (why) => log(`redis publisher: ${why}; reconnecting`) }, options.maxQueue ?? 1000);
    this.sub = new RedisConnection(url, { ready: () => this.resubscribe(), reply: (r) => this.pushed(r), down: (why) => log(`redis subscriber: ${why}; reconnecting`) }, 0);
  }

  private channel(topic: string): string {
    return `${this.prefix}:topic:${topic}`;
  }

  /** (Re)connected: subscribe to every topic with local subscribers, and to broadcasts, in one command. */
  private resubscribe(): void {
    this.sub.sendIfReady(['SUBSCRIBE', this.broadcastChannel, ...[...this.topics].map((t) => this.channel(t))]);
  }

  subscribe(topic: string): void {
    this.topics.add(topic);
    this.sub.sendIfReady(['SUBSCRIBE', this.channel(topic)]);
  }

  unsubscribe(topic: string): void {
    this.topics.delete(topic);
    this.sub.sendIfReady(['UNSUBSCRIBE', this.channel(topic)]);
  }

  publish(topic: string | null, frame: Buffer): void {
    const channel = topic === null ? this.broadcastChannel : this.channel(topic);
    // The origin tag and the frame go as one argument, copied once, into the command.
    if (this.pub.send(['PUBLISH', channel, [this.origin, frame]])) this.published++;
  }

  /** A message pushed on the subscriber connection: ['message', channel, payload]. */
  private pushed(reply: Reply): void {
    if (!Array.isArray(reply) || reply.length !== 3 || !Buffer.isBuffer(reply[0]) || reply[0].toString() !== 'message') return;
    const channel = (reply[1] as Buffer).toString();
    const payload = reply[2] as Buffer;
    if (payload.length < ORIGIN || payload.subarray(0, ORIGIN).equals(this.origin)) return; // ours: delivered locally already
    const frame = payload.subarray(ORIGIN);
    const topicPrefix = `${this.prefix}:topic:`;
    let topic: string | null;
    if (channel === this.broadcastChannel) topic = null;
    else if (channel.startsWith(topicPrefix)) topic = channel.slice(topicPrefix.length);
    else return;
    this.received++;
    this.onMessage?.(topic, frame);
  }

  stats(): BackplaneStats {
    return {
      connected: this.pub.connected && this.sub.connected,
      published: this.published,
      received: this.received,
      lost: this.pub.lost,
      reconnects: this.pub.reconnects + this.sub.reconnects,
    };
  }

  close(): void {
    this.pub.close();
    this.sub.close();
  }
}
