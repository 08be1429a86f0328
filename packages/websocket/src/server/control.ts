/**
 * What code outside handlers can do to a server's connections, in every mode (inline, hook threads, I/O threads):
 * pub/sub, and acting on one connection by its id (an admin endpoint kicking a user, a revoked session). The
 * {@link Server} has all of it; hooks use their `Conn`.
 */
import type { ResolvedConfig } from '../config/config.js';
import type { ConnectionInfo, Engine } from '../engine/engine.js';
import { encodeClosePayload } from '../protocol/frame-writer.js';
import { Opcode } from '../protocol/opcodes.js';
import { checkTopic } from '../pubsub/subscriptions.js';
import { checkText, type WriteData } from '../sender/write-data.js';

/** Options of {@link ServerControl.publish}, {@link ServerControl.broadcast} and {@link ServerControl.sendTo}. */
export interface ServerSendOptions {
  /** Send a binary message (default false: text; bytes must then be valid UTF-8). */
  binary?: boolean;
}

/** The part of a {@link Server} that acts from outside handlers: pub/sub, and control of one connection by id. */
export abstract class ServerControl {
  /** The resolved configuration. */
  abstract readonly config: ResolvedConfig;
  protected abstract readonly engine: Engine;

  // ---- pub/sub from outside handlers (hooks use their Conn) -------------------------------------

  /**
   * Publishes a message to every connection subscribed to `topic` (see `conn.subscribe`), whatever
   * thread runs their handlers: framed once, the same bytes queued to each, each subscriber's
   * `maxBackpressure` applying to it alone. Returns how many connections it was queued for.
   */
  publish(topic: string, data: WriteData, options?: ServerSendOptions): number {
    checkTopic('server.publish()', topic, this.config.pubsub.maxTopicLength);
    return this.engine.publish(topic, this.opcode('server.publish()', data, options), data);
  }

  /**
   * Sends a message to every open connection except the one with id `except`, framed once; returns how many took it.
   */
  broadcast(data: WriteData, options?: ServerSendOptions & { except?: number }): number {
    return this.engine.broadcast(this.opcode('server.broadcast()', data, options), data, options?.except ?? 0);
  }

  /**
   * Sends a message to connection `id` (a `conn.id`); false when no such connection is open or it refused it
   * (backpressure).
   */
  sendTo(id: number, data: WriteData, options?: ServerSendOptions): boolean {
    return this.engine.sendTo(id, this.opcode('server.sendTo()', data, options), data);
  }

  /** How many connections are subscribed to `topic` now. */
  subscriberCount(topic: string): number {
    checkTopic('server.subscriberCount()', topic, this.config.pubsub.maxTopicLength);
    return this.engine.subscriberCount(topic);
  }

  /** The opcode of a message from outside handlers: text unless `binary`, whose bytes must be UTF-8. */
  private opcode(call: string, data: WriteData, options: ServerSendOptions | undefined): number {
    if (options?.binary === true) return Opcode.Binary;
    if (typeof data !== 'string') checkText(call, data);
    return Opcode.Text;
  }

  // ---- one connection, by its id (a `conn.id`) ----------------------------------------------------

  /**
   * Starts the close handshake of connection `id` with `code` (default 1000) and `reason`, as `conn.close` would
   * from its handler: its `close` hook runs once, when the connection is gone. False when no such connection is
   * open (never opened, gone, or closing already counts as open until it is gone).
   */
  close(id: number, code = 1000, reason = ''): boolean {
    encodeClosePayload(code, reason); // throws a RangeError for a code a close frame may not carry, or a long reason
    return this.engine.control(id, { close: { code, reason } });
  }

  /**
   * Drops connection `id` at once, without a close handshake (ws's `terminate`): the peer sees the TCP connection
   * end, its `close` hook still runs once. False when no such connection is open.
   */
  terminate(id: number): boolean {
    return this.engine.control(id, { terminate: true });
  }

  /**
   * Subscribes connection `id` to `topic`, as its handler's `conn.subscribe(topic)` would (the per-connection
   * topic limit applies). False when no such connection is open.
   */
  subscribe(id: number, topic: string): boolean {
    checkTopic('server.subscribe()', topic, this.config.pubsub.maxTopicLength);
    return this.engine.control(id, { subscribe: topic });
  }

  /** Unsubscribes connection `id` from `topic`. False when no such connection is open. */
  unsubscribe(id: number, topic: string): boolean {
    checkTopic('server.unsubscribe()', topic, this.config.pubsub.maxTopicLength);
    return this.engine.control(id, { unsubscribe: topic });
  }

  /**
   * Calls the `serverMessage(data)` hook of connection `id`'s handler, on the thread that runs it, in order with
   * its other hooks: how the app tells one handler "your session was revoked" or "reload your permissions".
   * `data` must survive a structured clone (it may cross threads). False when no such connection is open.
   * @throws TypeError when the handler class has no serverMessage hook
   */
  signal(id: number, data: unknown): boolean {
    if (!this.hasServerMessage) {
      throw new TypeError(
        'server.signal(id, data): the handler class has no serverMessage(data) hook to receive it; add one',
      );
    }
    return this.engine.control(id, { signal: data });
  }

  /** Whether the handler class has a serverMessage hook. */
  protected abstract readonly hasServerMessage: boolean;

  // ---- what is open now ---------------------------------------------------------------------------

  /**
   * Every open connection (past its handshake, not gone), gathered from every thread when called: id, address,
   * request target, subprotocol, since when, topics, bytes and messages, buffered bytes. `filter` picks some (it
   * runs here, on the calling thread). With I/O threads, a thread that does not answer within 2 s is left out.
   */
  async connections(filter?: (connection: ConnectionInfo) => boolean): Promise<ConnectionInfo[]> {
    const { connections } = await this.engine.report();
    connections.sort((a, b) => a.id - b.id);
    return filter ? connections.filter(filter) : connections;
  }

  /**
   * Every topic with subscribers and how many, counted on every thread when called (exact, not the running
   * view {@link ServerControl.subscriberCount} keeps), sorted by topic.
   */
  async topics(): Promise<Array<{ topic: string; subscribers: number }>> {
    const { topics } = await this.engine.report();
    return topics.map(([topic, subscribers]) => ({ topic, subscribers })).sort((a, b) => (a.topic < b.topic ? -1 : 1));
  }
}
