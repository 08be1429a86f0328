import { isUtf8 } from 'node:buffer';
import type { Reply } from './resp.js';
import { randomBytes } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from '../../logging/log.js';
import type { Position, ResolvedHistoryRule } from '../../delivery/history.js';
import type { Backplane, BackplaneStats, BrokerHistory, StampedPublication } from '../backplane.js';
import type { Member } from '../../delivery/wire.js';
import { ClusterRoute } from './cluster/cluster-route.js';
import { parseStamped, RedisHistory } from './redis-history.js';
import { ALIVE_EVERY, parsePresence, RedisPresence } from './redis-presence.js';
import { SingleRoute, type RedisRoute, type RouteEvents, type RouteSettings } from './redis-route.js';

/** Options of {@link RedisBackplane}. */
export interface RedisBackplaneOptions {
  /** Prefix of the Redis channels (default 'wsz'): servers with the same prefix (and database) share topics. */
  prefix?: string;
  /** Publishes kept while Redis is away; past it they are dropped and counted as lost (default 1000). */
  maxQueue?: number;
  /**
   * Bytes of publishes that may wait for Redis, queued while it is away or written while it does not
   * read; past it publishes are dropped and counted as lost (default 16 MiB).
   */
  maxQueueBytes?: number;
  /** A connection silent this long (ms) is sent a PING (default 10000). */
  pingInterval?: number;
  /**
   * A PING (or the connection setup) unanswered this long (ms) drops the connection, which is made again (default
   * 5000).
   */
  pingTimeout?: number;
  /** node:tls options for rediss:// URLs: `ca` for a private CA, `cert`/`key` for client certificates, `servername`. */
  tls?: ConnectionOptions;
  /** Where its lines go (default: the logger of the server it serves). */
  logger?: Logger;
  /**
   * A Redis Cluster or a single Redis. By default the server asks the URL's node when it starts (`INFO cluster`) and
   * runs on the cluster (sharded pub/sub, Redis 7) when the node is part of one; `true` or `false` skips the question.
   */
  cluster?: boolean;
}

/** Bytes that tag each message with the server that published it. */
const ORIGIN = 8;
/** A wsz message on a channel: 0xFF 'w' 1 type, then the origin, then the payload. 0xFF never starts UTF-8 text. */
const MAGIC0 = 0xff;
const MAGIC1 = 0x77;
const VERSION = 1;
const HEAD = 4 + ORIGIN;
const TEXT = 1;
const BINARY = 2;
/** A message between servers (see {@link RedisBackplane.tell}), not for clients. */
const CONTROL = 3;
/** A message with its position in the topic's history (docs/delivery.md), published by the history script. */
const STAMPED = 4;
/** A join or leave (docs/delivery.md, presence), published by the presence scripts. */
const PRESENCE = 5;
/** Node numbers from Redis are 1 to 2^20 - 1; a server that cannot ask Redis picks one above. */
const COUNTED_NODES = 2 ** 20 - 1;

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * A Redis pub/sub backplane (the engine of Socket.IO's Redis adapter and ActionCable): one connection
 * publishes, one subscribes, both speaking RESP over node:net (rediss:// over node:tls; AUTH from the
 * URL). A server subscribes only to the topics it has local subscribers for; its own messages come back
 * from Redis and are skipped (they were delivered locally already).
 *
 * Channels are `<prefix>:topic:<topic>` and `<prefix>:broadcast`; with a database in the URL other
 * than 0, `<prefix>:<db>:topic:<topic>` and `<prefix>:<db>:broadcast` (Redis pub/sub ignores SELECT, so
 * the number goes into the names). A plain `PUBLISH wsz:topic:room "hello"` from any other service
 * reaches the room's subscribers as a text message (binary when it is not UTF-8). wsz's own messages
 * carry a 12-byte tag (0xFF 'w' 1, the type, the publishing server).
 *
 * Delivery is at most once. When Redis is away the server keeps serving its own connections,
 * reconnects with backoff and resubscribes by itself; publishes wait in a bounded queue until this
 * server's own subscriber is back, and past its bounds are dropped and counted (`lost`).
 */
export class RedisBackplane implements Backplane {
  onMessage: ((topic: string | null, binary: boolean, payload: Buffer) => void) | null = null;
  onTell: ((payload: Buffer) => void) | null = null;
  onStamped: ((topic: string, message: StampedPublication) => void) | null = null;
  onPresence: ((kind: 'join' | 'leave', topic: string, id: number, info: string) => void) | null = null;
  private readonly origin = randomBytes(ORIGIN);
  private readonly heads: [Buffer, Buffer];
  private readonly controlHead: Buffer;
  private readonly stampedHead: Buffer;
  /** Topic history in Redis Streams (docs/delivery.md), run on the publisher's connection. */
  private readonly streams: RedisHistory;
  /** Presence in Redis hashes (docs/delivery.md), and the topics seen to use it (swept for dead servers). */
  private readonly presence: RedisPresence;
  private readonly presenceHead: Buffer;
  /** The head of leaves published for a dead server's members: no origin, so every server takes them. */
  private readonly sweepHead: Buffer;
  private readonly presenceTopics = new Set<string>();
  private sweeper: NodeJS.Timeout | null = null;
  private readonly base: string;
  /** This server's channel and every server's, once it joined (see {@link join}). */
  private controlChannels: string[] = [];
  private readonly topicPrefix: string;
  private readonly broadcastChannel: string;
  private readonly topics = new Set<string>();
  /** A single Redis until the server learns (at {@link join}) that the URL's node is part of a cluster. */
  private route: RedisRoute;
  private readonly url: URL;
  private readonly settings: RouteSettings;
  private readonly events: RouteEvents;
  private readonly cluster: boolean | undefined;
  private readonly logger: { current: Logger };
  private readonly explicitLogger: boolean;
  private published = 0;
  /** Publishes whose connection dropped before Redis answered (counted as lost: they may not have gone out). */
  private unanswered = 0;
  private received = 0;
  private unheard = 0;
  private malformed = 0;

  constructor(url: string | URL, options: RedisBackplaneOptions = {}) {
    const parsed = new URL(url);
    const prefix = options.prefix ?? 'wsz';
    const db = database(parsed);
    const base = db === 0 ? prefix : `${prefix}:${db}`;
    this.topicPrefix = `${base}:topic:`;
    this.broadcastChannel = `${base}:broadcast`;
    this.heads = [head(TEXT, this.origin), head(BINARY, this.origin)];
    this.controlHead = head(CONTROL, this.origin);
    this.stampedHead = head(STAMPED, this.origin);
    this.base = base;
    // The database is in the channel names; the connection itself needs no SELECT.
    parsed.pathname = '';
    this.logger = { current: options.logger ?? quiet };
    const log: Logger = {
      debug: (m, ...d) => this.logger.current.debug(m, ...d),
      info: (m, ...d) => this.logger.current.info(m, ...d),
      warn: (m, ...d) => this.logger.current.warn(m, ...d),
      error: (m, ...d) => this.logger.current.error(m, ...d),
    };
    this.settings = {
      logger: log,
      tls: options.tls,
      maxQueue: options.maxQueue ?? 1000,
      maxQueueBytes: positive('maxQueueBytes', options.maxQueueBytes ?? 16 * 1024 * 1024),
      pingInterval: positive('pingInterval', options.pingInterval ?? 10_000),
      pingTimeout: positive('pingTimeout', options.pingTimeout ?? 5_000),
    };
    this.url = parsed;
    this.cluster = options.cluster;
    this.events = {
      message: (channel, payload) => this.delivered(channel, payload),
      channels: () => [this.broadcastChannel, ...this.controlChannels, ...[...this.topics].map((t) => this.channel(t))],
    };
    this.route =
      this.cluster === true
        ? new ClusterRoute(parsed, this.settings, this.events)
        : new SingleRoute(parsed, this.settings, this.events);
    this.explicitLogger = options.logger !== undefined;
    this.streams = new RedisHistory(() => this.route, base);
    this.presence = new RedisPresence(
      () => this.route,
      base,
      this.origin.toString('hex'),
      () => this.presenceTopics,
    );
    this.presenceHead = head(PRESENCE, this.origin);
    this.sweepHead = head(PRESENCE, Buffer.alloc(ORIGIN));
  }

  /** The server's logger, unless the options gave one (the server refuses a backplane that serves another). */
  attach(logger: Logger): void {
    if (!this.explicitLogger) this.logger.current = logger;
  }

  /** A topic's channel: on a cluster the topic is its hash tag, so the channel shares the slot of its history keys. */
  private channel(topic: string): string {
    return this.route.tagged ? `${this.topicPrefix}{${topic}}` : this.topicPrefix + topic;
  }

  subscribe(topic: string): void {
    this.topics.add(topic);
    this.route.subscribe([this.channel(topic)]);
  }

  unsubscribe(topic: string): void {
    this.topics.delete(topic);
    this.route.unsubscribe([this.channel(topic)]);
  }

  publish(topic: string | null, binary: boolean, payload: Buffer): void {
    const channel = topic === null ? this.broadcastChannel : this.channel(topic);
    // Our own subscriber hears it too when this server has subscribers of the topic (or it is a broadcast).
    const self = topic === null || this.topics.has(topic) ? 1 : 0;
    // The tag and the payload go as one argument, copied once, into the command.
    const route = this.route;
    const command = [route.publishCommand, channel, [this.heads[binary ? 1 : 0], payload]];
    const sent = route.send(channel, command, (reply) => {
      if (typeof reply !== 'number')
        this.unanswered++; // the connection went first: it may not have gone out
      else if (reply - self <= 0) this.unheard++;
    });
    if (sent) this.published++;
  }

  /**
   * Gives a message published to a topic with history its position (one script: the next offset, the stream entry
   * capped at the rule's count, and the PUBLISH that carries it stamped to every server, this one included).
   * Queued while Redis is away, within the publish queue's bounds (past them counted as lost).
   */
  sequence(topic: string, binary: boolean, payload: Buffer, except: number, rule: ResolvedHistoryRule): void {
    if (this.streams.publish(topic, rule, this.channel(topic), this.stampedHead, binary, payload, except))
      this.published++;
  }

  /** The topic's epoch and last offset, and the entries after `since` its stream still holds (null: no answer). */
  history(topic: string, since: Position | null, rule: ResolvedHistoryRule): Promise<BrokerHistory | null> {
    return this.streams.since(topic, since, rule);
  }

  /** Connection `id` of this server is present in `topic` with `info` (JSON): kept in Redis, its join published. */
  track(topic: string, id: number, info: string): void {
    this.sweepPresence(topic);
    this.presence.track(topic, id, info, this.channel(topic), this.presenceHead);
  }

  untrack(topic: string, id: number): void {
    this.presence.untrack(topic, id, this.channel(topic), this.presenceHead);
  }

  /** Who is present in `topic` on every live server; the members of a dead one are removed (and their leaves sent). */
  members(topic: string): Promise<Member[] | null> {
    return this.presence.members(topic, this.channel(topic), this.sweepHead);
  }

  /**
   * Looks at `topic` every few seconds while this server has subscribers of it, so that the members of a server that
   * died leave within about 6 s (ALIVE_FOR).
   */
  private sweepPresence(topic: string): void {
    this.presenceTopics.add(topic);
    this.sweeper ??= setInterval(() => {
      for (const t of this.presenceTopics) {
        if (this.topics.has(t)) void this.members(t);
        else this.presenceTopics.delete(t);
      }
    }, ALIVE_EVERY);
    this.sweeper.unref();
  }

  /**
   * Claims a node number unique among the servers on this Redis and prefix (INCR of `<prefix>:nodes`) and listens
   * for messages to it (`<prefix>:node:<n>`) and to every server (`<prefix>:nodes`). When Redis does not answer
   * within `timeout` ms, a random number from a range Redis never gives is taken (and a warning logged): the server
   * starts anyway.
   */
  async join(timeout = 2000): Promise<number> {
    const deadline = Date.now() + timeout;
    if (this.cluster === undefined) {
      const info = await this.askUntil(deadline, '', ['INFO', 'cluster'], (r) => (Buffer.isBuffer(r) ? r : null));
      if (info !== null && /cluster_enabled:1/.test(info.toString('latin1'))) this.useCluster();
    }
    const key = `${this.base}:nodes`;
    const counted = await this.askUntil(deadline, key, ['INCR', key], (reply) =>
      typeof reply === 'number' ? ((reply - 1) % COUNTED_NODES) + 1 : null,
    );
    let node = counted;
    if (node === null) {
      node = COUNTED_NODES + 1 + Math.floor(Math.random() * COUNTED_NODES);
      this.logger.current.warn(
        `redis backplane: Redis did not give this server a node number within ${timeout} ms; took ${node} at random ` +
          '(connection ids are unique across servers only with high likelihood)',
      );
    }
    this.controlChannels = [`${this.base}:node:${node}`, `${this.base}:nodes`];
    this.route.subscribe(this.controlChannels);
    return node;
  }

  /**
   * Asks Redis, once it is connected, and resolves with `read` of the answer; null past `deadline`. Nothing is queued
   * for a Redis that is away. The timers are not unref'd: a server starting keeps the process alive while it waits.
   */
  private askUntil<T>(deadline: number, key: string, args: string[], read: (r: Reply) => T | null): Promise<T | null> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (value: T | null): void => {
        clearTimeout(timer);
        resolve(value);
      };
      const attempt = (): void => {
        if (this.route.ask(key, args, (reply) => settle(read(reply))))
          timer = setTimeout(() => settle(null), Math.max(0, deadline - Date.now()));
        else if (Date.now() >= deadline) settle(null);
        else timer = setTimeout(attempt, 20);
      };
      attempt();
    });
  }

  /** The URL's node is part of a Redis Cluster: from now on commands go to their slot's master, pub/sub is sharded. */
  private useCluster(): void {
    const single = this.route;
    this.route = new ClusterRoute(this.url, this.settings, this.events);
    single.close();
    this.logger.current.info(`redis backplane: ${this.url.host} is part of a Redis Cluster; using sharded pub/sub`);
  }

  /**
   * Sends `payload` to the server that joined as `node`, or to every other server (null). Resolves with how many
   * servers received it (0 when none, or when Redis is away: nothing waits for it).
   */
  tell(node: number | null, payload: Buffer): Promise<number> {
    const channel = node === null ? this.controlChannels[1] : `${this.base}:node:${node}`;
    if (channel === undefined) return Promise.resolve(0);
    return new Promise((resolve) => {
      const route = this.route;
      const sent = route.send(channel, [route.publishCommand, channel, [this.controlHead, payload]], (reply) => {
        // Every server hears a message to all, this one too.
        resolve(typeof reply === 'number' ? Math.max(0, reply - (node === null ? 1 : 0)) : 0);
      });
      if (!sent) resolve(0);
    });
  }

  /** A message on a channel this server subscribed to. */
  private delivered(channel: string, payload: Buffer): void {
    if (this.controlChannels.includes(channel)) return this.told(payload);
    let topic: string | null;
    if (channel === this.broadcastChannel) topic = null;
    else if (channel.startsWith(this.topicPrefix) && channel.length > this.topicPrefix.length)
      topic = this.route.tagged
        ? channel.slice(this.topicPrefix.length + 1, -1)
        : channel.slice(this.topicPrefix.length);
    else return;
    if (payload.length >= HEAD && payload[0] === MAGIC0 && payload[1] === MAGIC1 && payload[3] === STAMPED)
      return this.stamped(topic, payload);
    if (payload.length >= HEAD && payload[0] === MAGIC0 && payload[1] === MAGIC1 && payload[3] === PRESENCE)
      return this.presenceEvent(topic, payload);
    let binary: boolean;
    let body: Buffer;
    if (
      payload.length >= HEAD &&
      payload[0] === MAGIC0 &&
      payload[1] === MAGIC1 &&
      payload[2] === VERSION &&
      (payload[3] === TEXT || payload[3] === BINARY)
    ) {
      if (payload.subarray(4, HEAD).equals(this.origin)) return; // ours: delivered locally already
      body = payload.subarray(HEAD);
      binary = payload[3] === BINARY || !isUtf8(body);
    } else {
      // Published by another service: text when it is UTF-8.
      body = payload;
      binary = !isUtf8(body);
    }
    this.received++;
    this.onMessage?.(topic, binary, body);
  }

  /** A message with its position, from the history script: for every server, the one that published it too. */
  private stamped(topic: string | null, payload: Buffer): void {
    const m = topic === null ? null : parseStamped(payload.subarray(HEAD));
    if (m === null) return void this.malformed++;
    this.received++;
    const ours = payload.subarray(4, HEAD).equals(this.origin);
    if (this.onStamped !== null) this.onStamped(topic!, { ...m, except: ours ? m.except : 0 });
    // A server without delivery takes it as a plain message (not its own: it sequences nothing).
    else if (!ours) this.onMessage?.(topic, m.binary || !isUtf8(m.payload), m.payload);
  }

  /** A join or leave on another server (this one's were announced here already). */
  private presenceEvent(topic: string | null, payload: Buffer): void {
    if (payload.subarray(4, HEAD).equals(this.origin)) return;
    const m = topic === null ? null : parsePresence(payload.subarray(HEAD));
    if (m === null) return void this.malformed++;
    this.sweepPresence(topic!);
    this.onPresence?.(m.kind, topic!, m.id, m.info);
  }

  /** A message on a control channel: a server's (not this one's), or it is ignored. */
  private told(payload: Buffer): void {
    if (payload.length < HEAD || payload[0] !== MAGIC0 || payload[1] !== MAGIC1 || payload[3] !== CONTROL)
      return void this.malformed++;
    if (payload.subarray(4, HEAD).equals(this.origin)) return;
    this.onTell?.(payload.subarray(HEAD));
  }

  stats(): BackplaneStats {
    const route = this.route.stats();
    return {
      ...route,
      published: this.published,
      received: this.received,
      unheard: this.unheard,
      lost: route.lost + this.unanswered,
      errors: route.errors + this.malformed,
    };
  }

  close(): void {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.presence.close();
    this.route.close();
  }
}

function head(type: number, origin: Buffer): Buffer {
  const b = Buffer.alloc(HEAD);
  b[0] = MAGIC0;
  b[1] = MAGIC1;
  b[2] = VERSION;
  b[3] = type;
  origin.copy(b, 4);
  return b;
}

/** The database number of a redis:// URL's path (0 when none); throws for anything else. */
function database(url: URL): number {
  const path = url.pathname.replace(/^\//, '');
  if (path === '') return 0;
  if (!/^[0-9]{1,5}$/.test(path)) {
    throw new TypeError(
      `RedisBackplane: the URL's path must be a database number (redis://host:port/2), got ${JSON.stringify(url.pathname)}`,
    );
  }
  return Number(path);
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0)
    throw new TypeError(`RedisBackplane: ${name} must be a positive number, got ${value}`);
  return value;
}
