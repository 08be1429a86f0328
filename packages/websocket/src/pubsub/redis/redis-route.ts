import type { Logger } from '../../logging/log.js';
import { RedisConnection } from './redis-connection.js';
import type { Argument, Reply } from './resp.js';

/** What a command's reply is given to (null: nobody waits for it). */
export type OnReply = ((reply: Reply) => void) | null;

/** Settings every connection of a route shares (the backplane's options, resolved). */
export interface RouteSettings {
  logger: Logger;
  tls?: import('node:tls').ConnectionOptions;
  maxQueue: number;
  maxQueueBytes: number;
  pingInterval: number;
  pingTimeout: number;
}

/** What a route tells the backplane. */
export interface RouteEvents {
  /** A message on a channel this server subscribed to. */
  message(channel: string, payload: Buffer): void;
  /** Every channel the server wants now (resubscribed after a reconnection, or a slot's move in a cluster). */
  channels(): string[];
}

/** The route's share of the backplane's stats. */
export interface RouteStats {
  connected: boolean;
  lost: number;
  errors: number;
  reconnects: number;
  /** Redirections followed (a cluster's MOVED and ASK). */
  redirects: number;
  /** Commands written again after their connection was lost before their reply (publishes with history). */
  resent: number;
}

/**
 * How the backplane reaches Redis: a single Redis (one publisher connection, one subscriber; PUBLISH and SUBSCRIBE),
 * or a Redis Cluster (connections per master, commands sent to the master of their key's slot; sharded pub/sub).
 * `key` names what a command is about (a key, or a channel): a cluster sends the command to its slot's master.
 */
export interface RedisRoute {
  /** 'PUBLISH' on a single Redis, 'SPUBLISH' (sharded, Redis 7) on a cluster. */
  readonly publishCommand: 'PUBLISH' | 'SPUBLISH';
  /** Whether topic channels carry the topic as a hash tag (`{topic}`), so they share the slot of its keys. */
  readonly tagged: boolean;
  /**
   * Sends now, or queues (bounded) while the connection is away or held; false when dropped (counted as lost).
   * `resend`: safe to run twice, so written again if the connection is lost before its reply.
   */
  send(key: string, args: readonly Argument[], onReply?: OnReply, resend?: boolean): boolean;
  /** Sends only if connected now (never queued); false otherwise. */
  ask(key: string, args: readonly Argument[], onReply: OnReply): boolean;
  subscribe(channels: string[]): void;
  unsubscribe(channels: string[]): void;
  stats(): RouteStats;
  close(): void;
}

/**
 * A single Redis: publishes on one connection, subscriptions on another. Publishes are held while the subscriber is
 * away, until it has resubscribed (a PING after the SUBSCRIBE answers once Redis took them all), so that a server
 * hears what it publishes to its own subscribers' topics.
 */
export class SingleRoute implements RedisRoute {
  readonly publishCommand = 'PUBLISH';
  readonly tagged = false;
  private readonly pub: RedisConnection;
  private readonly sub: RedisConnection;
  private subscribed = false;
  private malformed = 0;

  constructor(
    url: URL,
    settings: RouteSettings,
    private readonly events: RouteEvents,
  ) {
    const { maxQueue, ...common } = settings;
    this.pub = new RedisConnection(
      url,
      { ready: () => {}, reply: () => {}, down: () => {} },
      { ...common, name: 'publisher', maxQueue, ordered: true, held: true },
    );
    this.sub = new RedisConnection(
      url,
      { ready: () => this.resubscribe(), reply: (r) => this.pushed(r), down: () => this.subscriberDown() },
      { ...common, name: 'subscriber', maxQueue: 0, ordered: false },
    );
  }

  private resubscribe(): void {
    this.sub.sendIfReady(['SUBSCRIBE', ...this.events.channels()]);
    this.sub.sendIfReady(['PING']);
  }

  private subscriberDown(): void {
    this.subscribed = false;
    this.pub.hold();
  }

  private pushed(reply: Reply): void {
    if (!Array.isArray(reply) || reply.length < 2 || !Buffer.isBuffer(reply[0])) return void this.malformed++;
    const kind = reply[0].toString('latin1');
    if (kind === 'pong') {
      if (!this.subscribed) {
        this.subscribed = true;
        this.pub.release();
      }
      return;
    }
    if (kind !== 'message') return;
    const [, channel, payload] = reply;
    if (reply.length !== 3 || !Buffer.isBuffer(channel) || !Buffer.isBuffer(payload)) return void this.malformed++;
    this.events.message(channel.toString('utf8'), payload);
  }

  send(_key: string, args: readonly Argument[], onReply: OnReply = null, resend = false): boolean {
    return this.pub.send(args, onReply, resend);
  }

  ask(_key: string, args: readonly Argument[], onReply: OnReply): boolean {
    return this.pub.ask(args, onReply);
  }

  subscribe(channels: string[]): void {
    this.sub.sendIfReady(['SUBSCRIBE', ...channels]);
  }

  unsubscribe(channels: string[]): void {
    this.sub.sendIfReady(['UNSUBSCRIBE', ...channels]);
  }

  stats(): RouteStats {
    return {
      connected: this.pub.connected && this.sub.connected && this.subscribed,
      lost: this.pub.lost,
      errors: this.pub.errors + this.sub.errors + this.malformed,
      reconnects: this.pub.reconnects + this.sub.reconnects,
      redirects: 0,
      resent: this.pub.resent,
    };
  }

  close(): void {
    this.pub.close();
    this.sub.close();
  }
}
