/**
 * What code outside handlers can do to a server's connections, in every mode (inline, hook threads, I/O threads):
 * pub/sub, and acting on one connection by its id (an admin endpoint kicking a user, a revoked session). The
 * {@link Server} has all of it; hooks use their `Conn`.
 */
import type { ResolvedConfig } from '../config/config.js';
import type { ConnectionInfo, ControlAction, Engine } from '../engine/engine.js';
import { encodeClosePayload } from '../protocol/frame-writer.js';
import { Opcode } from '../protocol/opcodes.js';
import { checkTopic } from '../pubsub/subscriptions.js';
import { checkText, type WriteData } from '../sender/write-data.js';
import type { Logger } from '../logging/log.js';
import { canJoin, RemoteControl } from './remote.js';
import type { Member } from '../delivery/wire.js';

/** Options of {@link ServerControl.publish}, {@link ServerControl.broadcast} and {@link ServerControl.sendTo}. */
export interface ServerSendOptions {
  /** Send a binary message (default false: text; bytes must then be valid UTF-8). */
  binary?: boolean;
}

/** Options of {@link ServerControl.report}, {@link ServerControl.connections} and {@link ServerControl.topics}. */
export interface ReportOptions {
  /** Only this server's connections, not those of other servers on the backplane (default false). */
  local?: boolean;
  /** How long to wait for other servers' answers, in ms (default 3000). */
  timeout?: number;
}

/** What {@link ServerControl.report} gathered. */
export interface ServerReport {
  /** Every open connection, sorted by id. */
  connections: ConnectionInfo[];
  /** Every topic with subscribers and how many, sorted by topic. */
  topics: Array<{ topic: string; subscribers: number }>;
  /** Servers whose connections are listed: this one, and the others on the backplane that answered in time. */
  servers: number;
  /**
   * Whether every thread of this server and every other server that heard the question answered in time. False
   * means the lists lack what those had (a server busy or gone, or the broker away).
   */
  complete: boolean;
}

/** The part of a {@link Server} that acts from outside handlers: pub/sub, and control of one connection by id. */
export abstract class ServerControl {
  /** The resolved configuration. */
  abstract readonly config: ResolvedConfig;
  /** The server's logger. */
  abstract readonly log: Logger;
  protected abstract readonly engine: Engine;
  /** Control across processes, once joined to a backplane that carries it (see remote.ts). */
  private remote: RemoteControl | null = null;

  /**
   * Joins the backplane, when it carries control between servers; resolves with the first connection id to give
   * (ids then name one connection among every server on it).
   */
  protected async joinBackplane(): Promise<number> {
    const backplane = this.config.backplane;
    if (!canJoin(backplane)) return 1;
    this.remote = new RemoteControl(
      backplane,
      {
        act: (id, action) => this.act(id, action),
        sendTo: (id, data, binary) => this.sendTo(id, data, { binary }),
        report: () => this.engine.report(),
      },
      this.log,
    );
    return this.remote.join();
  }

  /** Carries out `action` here, or sends it to the server that owns connection `id`. */
  private act(id: number, action: ControlAction): boolean {
    if ('close' in action)
      encodeClosePayload(action.close.code, action.close.reason); // a RangeError when invalid
    else if ('subscribe' in action)
      checkTopic('server.subscribe()', action.subscribe, this.config.pubsub.maxTopicLength);
    else if ('unsubscribe' in action)
      checkTopic('server.unsubscribe()', action.unsubscribe, this.config.pubsub.maxTopicLength);
    else if ('signal' in action && !this.hasServerMessage) {
      throw new TypeError(
        'server.signal(id, data): the handler class has no serverMessage(data) hook to receive it; add one',
      );
    }
    if (this.remote?.elsewhere(id)) return this.remote.control(id, action);
    return this.engine.control(id, action);
  }

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
    const opcode = this.opcode('server.sendTo()', data, options);
    if (this.remote?.elsewhere(id)) return this.remote.sendTo(id, data, opcode === Opcode.Binary);
    return this.engine.sendTo(id, opcode, data);
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
    return this.act(id, { close: { code, reason } });
  }

  /**
   * Drops connection `id` at once, without a close handshake (ws's `terminate`): the peer sees the TCP connection
   * end, its `close` hook still runs once. False when no such connection is open.
   */
  terminate(id: number): boolean {
    return this.act(id, { terminate: true });
  }

  /**
   * Subscribes connection `id` to `topic`, as its handler's `conn.subscribe(topic)` would (the per-connection
   * topic limit applies). False when no such connection is open.
   */
  subscribe(id: number, topic: string): boolean {
    return this.act(id, { subscribe: topic });
  }

  /** Unsubscribes connection `id` from `topic`. False when no such connection is open. */
  unsubscribe(id: number, topic: string): boolean {
    return this.act(id, { unsubscribe: topic });
  }

  /**
   * Calls the `serverMessage(data)` hook of connection `id`'s handler, on the thread that runs it, in order with
   * its other hooks: how the app tells one handler "your session was revoked" or "reload your permissions".
   * `data` must survive a structured clone (it may cross threads). False when no such connection is open.
   * @throws TypeError when the handler class has no serverMessage hook
   */
  signal(id: number, data: unknown): boolean {
    return this.act(id, { signal: data });
  }

  /** Whether the handler class has a serverMessage hook. */
  protected abstract readonly hasServerMessage: boolean;

  // ---- what is open now ---------------------------------------------------------------------------

  /**
   * Every open connection (past its handshake, not gone) and every topic with its subscriber count, gathered when
   * called from every thread and, with a backplane that carries control (Redis), from every other server on it:
   * exact at that moment, not a running view. A thread that does not answer within 2 s, or a server within
   * `timeout`, is left out, and `complete` says so.
   */
  async report(options: ReportOptions = {}): Promise<ServerReport> {
    const remote = options.local === true ? null : this.remote;
    const [own, others] = await Promise.all([this.engine.report(), remote?.gather(options.timeout ?? 3000)]);
    const reports = [own, ...(others?.reports ?? [])];
    const counts = new Map<string, number>();
    for (const r of reports) for (const [topic, n] of r.topics) counts.set(topic, (counts.get(topic) ?? 0) + n);
    return {
      connections: reports.flatMap((r) => r.connections).sort((a, b) => a.id - b.id),
      topics: [...counts]
        .map(([topic, subscribers]) => ({ topic, subscribers }))
        .sort((a, b) => (a.topic < b.topic ? -1 : 1)),
      servers: reports.length,
      complete: !own.missing && (others?.complete ?? true),
    };
  }

  /**
   * Every open connection, as {@link ServerControl.report} gathers them (every server on the backplane unless
   * `local`): id, address, request target, subprotocol, since when, topics, bytes and messages, buffered bytes.
   * `filter` picks some (it runs here, on the calling thread). Use `report()` to learn whether every server answered.
   */
  async connections(
    filter?: (connection: ConnectionInfo) => boolean,
    options?: ReportOptions,
  ): Promise<ConnectionInfo[]> {
    const { connections } = await this.report(options);
    return filter ? connections.filter(filter) : connections;
  }

  /**
   * Who is present in `topic` (`conn.track`): each connection's id and info, on every thread and (with a backplane
   * that carries control) every server, gathered as {@link ServerControl.report} gathers connections, sorted by id.
   */
  async members(topic: string, options?: ReportOptions): Promise<Member[]> {
    checkTopic('server.members()', topic, this.config.pubsub.maxTopicLength);
    const { connections } = await this.report(options);
    return connections.filter((c) => topic in c.presence).map((c) => ({ id: c.id, info: c.presence[topic] }));
  }

  /**
   * Every topic with subscribers and how many, as {@link ServerControl.report} counts them (exact when asked, where
   * {@link ServerControl.subscriberCount} keeps this thread's running view), sorted by topic.
   */
  async topics(options?: ReportOptions): Promise<Array<{ topic: string; subscribers: number }>> {
    return (await this.report(options)).topics;
  }
}
