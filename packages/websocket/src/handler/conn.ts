import { checkFrameToWrite, checkServerFrames, encodeClosePayload } from '../protocol/frame-writer.js';
import { Opcode, opcodeIsControl, type MessageType } from '../protocol/opcodes.js';
import { Subscriptions, checkTopic, type TopicLimits } from '../pubsub/subscriptions.js';
import type { Position } from '../delivery/history.js';
import type { Member } from '../delivery/wire.js';
import { presenceInfo } from '../pubsub/presence.js';
import { MessageOrder } from './message-order.js';
import { WRITE_BEFORE_OPEN, type ConnTransport } from './transport.js';
import { Compression, checkText, type WriteData } from '../sender/write-data.js';
import { Writer, type WriterOptions } from './writer.js';

/** The owner of raw `writeFrame` calls, for message order. */
const RAW = Symbol('writeFrame');

/** Options of {@link Conn.close}. */
export interface CloseOptions {
  /** Close code (default 1000): 1000-1003, 1007-1014 or 3000-4999. */
  code?: number;
  /** Reason, at most 123 bytes of UTF-8. */
  reason?: string;
}

/** Options of {@link Conn.write}, {@link Conn.writeText} and {@link Conn.writeBin}. */
export interface WriteOptions {
  /**
   * With permessage-deflate agreed, `false` sends this message uncompressed (data already compressed,
   * such as images, or latency-critical messages). Default true: compressed from the threshold.
   */
  compress?: boolean;
}

/** Options of {@link Conn.subscribe}. */
export interface SubscribeOptions {
  /**
   * With delivery (docs/delivery.md): null to be told the position the subscription starts after; the position the
   * client last saw to resume after it. Without delivery it changes nothing.
   */
  since?: Position | null;
}

/** Options of {@link Conn.publish} and {@link Conn.broadcast}. */
export interface PublishOptions {
  /** Send a binary message (default false: text, as `conn.write`; bytes must then be valid UTF-8). */
  binary?: boolean;
  /**
   * Deliver to this connection too when it is a recipient (subscribed to the topic, or open for a
   * broadcast). Default true: every subscriber gets the message, the publisher included (unlike
   * uWebSockets.js and Bun, whose `ws.publish` skips the sender). `self: false` skips it.
   */
  self?: boolean;
}

/**
 * A WebSocket connection as handlers see it. Writes are queued and flushed together at the end
 * of the current tick, so several writes from one hook leave in one system call.
 *
 * Every write returns false, and sends nothing, once the connection is closing or closed: a
 * handler racing a disconnect need not check first.
 */
export class Conn {
  /** A number unique among this server's connections. */
  readonly id: number;
  /** The peer's IP address ('' on a Unix socket). */
  readonly remoteAddress: string;
  /** The peer's port (0 on a Unix socket). */
  readonly remotePort: number;
  /** The subprotocol agreed in the handshake, or undefined. */
  protocol: string | undefined;
  private readonly transport: ConnTransport;
  private readonly order: MessageOrder;
  /** Made on the first subscribe: most connections of a plain server never pay for it. */
  private subscriptions: Subscriptions | null = null;
  /** The topics this connection is present in (`track`). */
  private tracked: Set<string> | null = null;

  /** Built by the server; handlers receive theirs in `init`. */
  constructor(id: number, remoteAddress: string, remotePort: number, transport: ConnTransport) {
    this.id = id;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.transport = transport;
    this.order = new MessageOrder(transport);
  }

  /** Sends `data` as a text message (websocket.zig's `write`). Bytes must be valid UTF-8 (a TypeError otherwise). */
  write(data: WriteData, options?: WriteOptions): boolean {
    if (typeof data !== 'string') checkText('conn.write()', data);
    return this.message(Opcode.Text, data, options);
  }

  /**
   * Sends `data` as a text message. Bytes must be valid UTF-8: others throw a TypeError (a text frame
   * that is not UTF-8 makes the peer fail the connection, RFC 6455 8.1); send them with writeBin.
   */
  writeText(data: WriteData, options?: WriteOptions): boolean {
    if (typeof data !== 'string') checkText('conn.writeText()', data);
    return this.message(Opcode.Text, data, options);
  }

  /** Sends `data` as a binary message. */
  writeBin(data: WriteData, options?: WriteOptions): boolean {
    return this.message(Opcode.Binary, data, options);
  }

  /** One whole message, compressed from the threshold unless `compress: false`, in order with the rest. */
  private message(opcode: number, data: WriteData, options: WriteOptions | undefined): boolean {
    const compression = options?.compress === false ? Compression.Off : Compression.Auto;
    return this.order.frame(opcode, data, true, undefined, compression);
  }

  /** Sends a ping (payload at most 125 bytes). */
  writePing(data: WriteData = ''): boolean {
    return this.writeFrame(Opcode.Ping, data);
  }

  /** Sends a pong (payload at most 125 bytes), e.g. from a `clientPing` hook. */
  writePong(data: WriteData = ''): boolean {
    return this.writeFrame(Opcode.Pong, data);
  }

  /**
   * Sends one frame with any data or control opcode. With `fin: false` on a text or binary
   * frame, it starts a fragmented message to be continued with `Opcode.Continuation` frames;
   * other data writes made meanwhile are held and sent after its last frame (RFC 6455 5.4).
   * Throws a RangeError for an opcode other than 0-2, 9 or 10, a control frame over 125 bytes or
   * without FIN, a continuation with no message open, or a new message inside an open one.
   */
  writeFrame(opcode: number, data: WriteData, options?: { fin?: boolean }): boolean {
    const fin = options?.fin ?? true;
    // Only control frames need their length checked: skip measuring text for data frames.
    const length = opcodeIsControl(opcode) ? (typeof data === 'string' ? Buffer.byteLength(data) : data.length) : 0;
    checkFrameToWrite(opcode, length, fin, 'conn.close()');
    return this.order.frame(opcode, data, fin, RAW);
  }

  /**
   * A {@link Writer} that builds one message of `type` from many writes and sends it on
   * `flush()`; with `fragmentSize`, it sends fragments as they fill.
   */
  writeBuffer(type: MessageType = 'text', options?: WriterOptions): Writer {
    return new Writer(this.order, this.transport, type === 'text' ? Opcode.Text : Opcode.Binary, options);
  }

  /**
   * Sends frames built beforehand with `frameText` / `frameBin` (no encoding work per send: the
   * building block of broadcast). Throws a TypeError on bytes that are not whole messages of
   * complete unmasked frames (pings and pongs may stand between them; close frames may not: use
   * {@link Conn.close}).
   */
  writeFramed(frame: Uint8Array): boolean {
    const summary = checkServerFrames(frame);
    if (typeof summary === 'string') throw new TypeError(`writeFramed: ${summary}`);
    return this.order.framed(frame, summary.dataFrames > 0);
  }

  /**
   * Bytes written to this connection and not yet taken by the kernel: a client that does not read
   * makes it grow. (In a worker thread, the figure the I/O thread last reported.)
   */
  get bufferedAmount(): number {
    return this.transport.bufferedAmount + this.order.pending;
  }

  /**
   * Starts the close handshake: sends a close frame with `code` (default 1000) and `reason`,
   * then ends the TCP connection when the peer answers, or after `closeTimeout`. Throws a
   * RangeError for a code that may not be sent or a reason over 123 bytes, and an Error when called
   * from `init` (throw from `init` to refuse the upgrade instead). Closing twice is a no-op.
   */
  close(options: CloseOptions = {}): void {
    if (!this.transport.opened) {
      throw new Error(
        'cannot close before the handshake completes: to refuse the upgrade, throw from init (a HandshakeError, or an error with a `status`, e.g. 403)',
      );
    }
    const payload = encodeClosePayload(options.code ?? 1000, options.reason ?? '');
    if (this.transport.closed) return;
    this.transport.sendClose(payload);
  }

  /** Whether the connection is closing or closed (no more writes go out). */
  isClosed(): boolean {
    return this.transport.closed;
  }

  // ---- pub/sub ------------------------------------------------------------------------------

  /**
   * Subscribes this connection to `topic`: messages published to it (from any thread, by any
   * connection or by the server) reach this peer from now on. Returns false when it already was
   * subscribed, or the connection is closing. Throws a TypeError or RangeError for a topic that is
   * not a string of 1 to `pubsub.maxTopicLength` characters, and a RangeError past
   * `pubsub.maxTopicsPerConnection` topics. Subscribing in `init` is allowed: the subscription is in
   * place when the client sees the 101 (nothing is delivered before it). Subscriptions end when the
   * connection closes, before its `close` hook runs.
   *
   * With a handler that opts into delivery (`static delivery = true`, docs/delivery.md), `options.since` makes this a
   * subscribe of the delivery wire format: the client gets a `subscribed` event with the position it starts after,
   * and with a position (the last the client saw) first every message the topic's history holds after it, or word
   * that they cannot all be given. Clients' own `subscribe` commands take this path after `canSubscribe` allowed them.
   * @throws TypeError or RangeError for a bad topic name; RangeError past `pubsub.maxTopicsPerConnection`
   */
  subscribe(topic: string, options?: SubscribeOptions): boolean {
    checkTopic('conn.subscribe()', topic, this.transport.topicLimits.maxTopicLength);
    if (this.transport.closed) return this.forgetTopics();
    if (!(this.subscriptions ??= new Subscriptions(this.transport.topicLimits)).add(topic)) return false;
    if (options !== undefined && options.since !== undefined) this.transport.subscribe(topic, { since: options.since });
    else this.transport.subscribe(topic);
    return true;
  }

  /** Ends this connection's subscription to `topic`; false when it was not subscribed. */
  unsubscribe(topic: string): boolean {
    checkTopic('conn.unsubscribe()', topic, this.transport.topicLimits.maxTopicLength);
    if (this.transport.closed) return this.forgetTopics();
    if (this.subscriptions === null || !this.subscriptions.remove(topic)) return false;
    this.transport.unsubscribe(topic);
    return true;
  }

  /** Whether this connection is subscribed to `topic` (never, once it is closing). */
  isSubscribed(topic: string): boolean {
    if (this.transport.closed) return false;
    return this.subscriptions?.has(topic) ?? false;
  }

  /** The topics this connection is subscribed to, in the order it subscribed ([] once it is closing). */
  get topics(): string[] {
    if (this.transport.closed) return [];
    return this.subscriptions?.list() ?? [];
  }

  /** A closing connection has no subscriptions left: forget them. */
  private forgetTopics(): false {
    this.subscriptions?.clear();
    return false;
  }

  /**
   * Publishes a message to every subscriber of `topic`, on any thread: it is framed once and the
   * same bytes go to each (each subscriber's `maxBackpressure` applies to it alone). Subscribers
   * receive one publisher's messages in the order published, and this connection's own writes and
   * publishes in the order made. Works after the connection closed too (a `close` hook announcing a
   * leave). See `self` in {@link PublishOptions}.
   */
  publish(topic: string, data: WriteData, options?: PublishOptions): void {
    checkTopic('conn.publish()', topic, this.transport.topicLimits.maxTopicLength);
    const opcode = options?.binary === true ? Opcode.Binary : Opcode.Text;
    if (opcode === Opcode.Text && typeof data !== 'string') checkText('conn.publish()', data);
    if (options?.self !== false && this.order.holding && this.isSubscribed(topic)) {
      // Writes of ours wait behind a second writer's fragmented message: our own copy waits with them.
      this.transport.publish(topic, opcode, data, false);
      this.order.frame(opcode, data, true);
      return;
    }
    this.transport.publish(topic, opcode, data, options?.self !== false);
  }

  /** Sends a message to every open connection of the server (this one too unless `self: false`), framed once. */
  broadcast(data: WriteData, options?: PublishOptions): void {
    const opcode = options?.binary === true ? Opcode.Binary : Opcode.Text;
    if (opcode === Opcode.Text && typeof data !== 'string') checkText('conn.broadcast()', data);
    if (options?.self !== false && this.order.holding && !this.transport.closed) {
      this.transport.broadcast(opcode, data, false);
      this.order.frame(opcode, data, true);
      return;
    }
    this.transport.broadcast(opcode, data, options?.self !== false);
  }

  /**
   * Sends a message to the connection with id `id`, whichever thread runs its handler (the Hub's
   * `getConnection(id)`). An id that is not open is ignored; `server.sendTo` says whether it was.
   */
  sendTo(id: number, data: WriteData, options?: { binary?: boolean }): void {
    const opcode = options?.binary === true ? Opcode.Binary : Opcode.Text;
    if (opcode === Opcode.Text && typeof data !== 'string') checkText('conn.sendTo()', data);
    if (id === this.id) {
      this.order.frame(opcode, data, true);
      return;
    }
    this.transport.sendTo(id, opcode, data);
  }

  /** How many connections are subscribed to `topic` (asked of the thread that owns the topics). */
  subscriberCount(topic: string): Promise<number> {
    checkTopic('conn.subscriberCount()', topic, this.transport.topicLimits.maxTopicLength);
    return this.transport.subscriberCount(topic);
  }

  // ---- presence -----------------------------------------------------------------------------

  /**
   * Makes this connection present in `topic`, with `info` (JSON of at most 1 KiB: who it is, say `{ user: 'ann' }`),
   * until {@link untrack} or its end (Phoenix's `Presence.track`). With delivery, the topic's subscribers get a
   * `join` event (and a `leave` one when it goes); {@link members} lists who is present. Tracking again changes the
   * info (a leave, then a join). Returns false once the connection is closing. See docs/delivery.md.
   * @throws TypeError or RangeError for a bad topic name or info; RangeError past `pubsub.maxTopicsPerConnection`
   */
  track(topic: string, info: unknown = null): boolean {
    checkTopic('conn.track()', topic, this.transport.topicLimits.maxTopicLength);
    const json = presenceInfo('conn.track()', info);
    if (this.transport.closed) return false;
    const tracked = (this.tracked ??= new Set());
    if (!tracked.has(topic) && tracked.size >= this.transport.topicLimits.maxTopicsPerConnection)
      throw new RangeError(
        `conn.track(): this connection is present in ${tracked.size} topics, the limit (pubsub.maxTopicsPerConnection)`,
      );
    tracked.add(topic);
    this.transport.track(topic, json);
    return true;
  }

  /** Ends this connection's presence in `topic`; false when it was not present. */
  untrack(topic: string): boolean {
    checkTopic('conn.untrack()', topic, this.transport.topicLimits.maxTopicLength);
    if (this.transport.closed || this.tracked === null || !this.tracked.delete(topic)) return false;
    this.transport.untrack(topic);
    return true;
  }

  /** Who is present in `topic`, on every thread and, with a backplane that keeps presence, every server. */
  members(topic: string): Promise<Member[]> {
    checkTopic('conn.members()', topic, this.transport.topicLimits.maxTopicLength);
    return this.transport.members(topic);
  }
}
