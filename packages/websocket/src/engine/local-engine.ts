import type { UpgradeRequest } from '../protocol/handshake.js';
import type { HandshakeError } from '../protocol/errors.js';
import type { IncomingMessage } from 'node:http';
import { Tally } from '../observe/tally.js';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TlsOptions } from 'node:tls';
import { BufferPool } from '../buffers/pool.js';
import type { ResolvedConfig } from '../config/config.js';
import type { Dispatcher } from '../handler/dispatcher.js';
import { deliveryOf, type HandlerClass, type HandlerHooks } from '../handler/handler.js';
import { HookRunner } from '../handler/hook-runner.js';
import { plainHttpOf, type PlainHttpHandler } from '../handler/plain-http.js';
import { RejectionTracker } from '../handler/rejections.js';
import type { Logger } from '../logging/log.js';
import { Hub } from '../pubsub/hub.js';
import { HistoryStore } from '../delivery/history.js';
import { BackplaneOutlet, type Outlet } from '../pubsub/outlet.js';
import { prepareFrame } from '../sender/prepared.js';
import { encodeClosePayload } from '../protocol/frame-writer.js';
import { LoopData } from '../sender/loop-data.js';
import type { WriteData } from '../sender/write-data.js';
import { HookThreads } from '../threads/hook-threads.js';
import { SharedCodecs } from './deflate.js';
import type { ConnectionInfo, ControlAction, Engine, EngineReport } from './engine.js';
import { describe } from './link-events.js';
import { upgradeFromIncoming } from './http-upgrade.js';
import { Link } from './link.js';
import type { ServerCore } from './server-core.js';
import { durationStats, type ServerStats } from './stats.js';
import { TlsAcceptor } from './tls-accept.js';

/** What makes a local engine one of several I/O threads' engines: the relay to the others. */
export interface IoThreadRole {
  /** Reaches the other I/O threads; told of connections opened and closed here. */
  relay: Outlet & { opened(id: number): void; closed(id: number): void };
  /** Connections came or went: publish the counters soon. */
  lifecycle(): void;
  /** Answers plain HTTP requests on the main thread (see io/http-relay.ts), when the handler class has httpRequest. */
  plainHttp: PlainHttpHandler | null;
}

/**
 * One thread's engine: its sockets and connections, the hub of their topics, the buffer pool, the
 * write batching of its event loop, and the hooks (run inline, or on this engine's hook threads).
 * The Server facade runs one when `workerCount` is 1; each I/O thread runs one of its own.
 */
export class LocalEngine implements Engine, ServerCore {
  readonly config: ResolvedConfig;
  readonly log: Logger;
  readonly pool: BufferPool;
  readonly loop = new LoopData();
  readonly dispatcher: Dispatcher;
  readonly hub: Hub;
  readonly plainHttp: PlainHttpHandler | null;
  readonly ownCopies: boolean;
  readonly pauseOnConnect: boolean;
  app: unknown = undefined;
  upgraded = 0;
  http2 = 0;
  messages = 0;
  writes = 0;
  readonly tally = new Tally();
  backpressureDrops = 0;
  backpressureCloses = 0;
  private sharedCodecs: SharedCodecs | null = null;
  private readonly connections = new Map<number, Link>();
  private readonly role: IoThreadRole | null;
  private readonly headBuffers: Buffer[] = [];
  /** TLS done by this engine (null without tls; on an I/O thread the thread's entry does it). */
  private readonly tls: TlsAcceptor | null;
  /** Sockets still in their TLS handshake: they count against maxConn. */
  private securing = 0;
  private nextId = 1;
  private stopped = false;
  /** The Server facade (static httpRequest's third argument); unset on an I/O thread, which forwards those. */
  facade: unknown = undefined;
  /** Async inits running: stop() waits for them, so their close hooks run before it resolves. */
  private readonly inits = new Set<Promise<unknown>>();
  private sweeper: NodeJS.Timeout | null = null;

  /**
   * @param role set on an I/O thread: the relay to the other threads (whose sockets the main thread
   *   accepts, numbers and counts against maxConn)
   */
  constructor(
    HandlerClass: HandlerClass<HandlerHooks<any>>,
    config: ResolvedConfig,
    log: Logger,
    role: IoThreadRole | null = null,
  ) {
    this.config = config;
    this.log = log;
    this.role = role;
    this.plainHttp = role ? role.plainHttp : plainHttpOf(HandlerClass);
    // With hook threads, messages are assembled in shared memory and read in place by the hook thread.
    this.pool = new BufferPool({ ...config.buffers, shared: config.threadPool.count > 0 });
    this.ownCopies = !config.borrowData && config.threadPool.count === 0;
    // One outlet: the relay to the other I/O threads (whose main thread speaks to the backplane), or the backplane.
    const backplane = config.backplane;
    const { pubsub } = config;
    const history = deliveryOf(HandlerClass)
      ? new HistoryStore(pubsub.history, { maxBytes: pubsub.historyMaxBytes, maxTopics: pubsub.historyTopics })
      : null;
    this.hub = new Hub(
      this.connections,
      role ? () => role.relay : backplane ? (hub) => new BackplaneOutlet(backplane, hub, history) : null,
      history,
    );
    this.dispatcher =
      config.threadPool.count > 0
        ? new HookThreads(HandlerClass, config, log, this.hub)
        : new HookRunner(
            HandlerClass,
            config.threadPool.backlog,
            config.attributeRejections || role !== null ? new RejectionTracker() : null,
          );
    // TLS is ours (not tls.createServer's): a socket counts against maxConn from accept, and one
    // deadline bounds the TLS handshake, the request and init.
    this.tls = !role && config.tls ? new TlsAcceptor(config.tls as TlsOptions) : null;
    this.pauseOnConnect = this.tls !== null;
  }

  /** Compression state shared by the connections (permessage-deflate), made on first use. */
  get codecs(): SharedCodecs {
    return (this.sharedCodecs ??= new SharedCodecs());
  }

  async start(app: unknown, firstId = 1): Promise<void> {
    this.nextId = firstId;
    this.app = app;
    await this.dispatcher.start(app);
    this.startSweeper();
  }

  /** Stops what {@link LocalEngine.start} started, after a start that failed. */
  async undoStart(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    await this.dispatcher.stop();
  }

  accept(socket: Socket): void {
    if (this.stopped) socket.destroy();
    else if (this.tls) this.secure(this.tls, socket);
    else this.adopt(socket, true);
  }

  readonly upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    this.upgradeParsed(upgradeFromIncoming(req), socket, head);
  };

  readonly upgradeParsed = (request: UpgradeRequest | HandshakeError, socket: Duplex, head: Buffer): void => {
    if (this.stopped) socket.destroy();
    else this.adopt(socket as Socket, false).requested(request, head);
  };

  /** On an I/O thread: a socket the main thread accepted (id and maxConn decided there) becomes a connection. */
  adoptSocket(socket: Socket, id: number, over: boolean, deadline?: number): void {
    socket.setNoDelay(true);
    if (this.stopped) {
      socket.destroy();
      this.role?.relay.closed(id);
    } else this.adopt(socket, true, id, over, deadline);
  }

  /**
   * A socket of our TLS listener: counted from now (past maxConn it is closed at once), a connection once TLS is done.
   */
  private secure(tls: TlsAcceptor, socket: Socket): void {
    if (this.connections.size + this.securing >= this.config.maxConn) {
      this.log.debug('a TLS socket over maxConn closed at accept (a 503 would cost a TLS handshake first)');
      socket.destroy();
      return;
    }
    this.securing++;
    const deadline = Date.now() + this.config.handshake.timeout;
    tls.secure(
      socket,
      deadline,
      (secure) => {
        this.securing--;
        if (this.stopped) secure.destroy();
        else this.adopt(secure as unknown as Socket, true, this.nextId++, false, deadline);
      },
      () => void this.securing--,
    );
  }

  /**
   * A socket becomes a connection, however it arrived (a listener, an http server's upgrade, the
   * main thread of I/O threads, which numbers it and counts maxConn server-wide).
   */
  private adopt(
    socket: Socket,
    readRequest: boolean,
    id = this.nextId++,
    over = this.connections.size >= this.config.maxConn,
    deadline?: number,
  ): Link {
    const connection = new Link(id, socket, this, readRequest, deadline);
    // maxConn bounds every open socket, handshaking ones included (as websocket.zig's max_conn).
    this.connections.set(id, connection);
    if (over) connection.overCapacity();
    else if (this.config.buffers.smallPool === null) this.pool.smallLimit = this.connections.size;
    return connection;
  }

  timeHooks(): void {
    this.dispatcher.timeHooks();
  }

  stats(): ServerStats {
    const free = this.pool.free;
    return {
      connections: this.connections.size + this.securing,
      upgraded: this.upgraded,
      http2: this.http2,
      messages: this.messages,
      writes: this.writes,
      bytes: { in: this.tally.bytesIn, out: this.tally.bytesOut },
      handshakes: { ...this.tally.handshakes },
      closes: { ...this.tally.closes },
      buffered: this.bufferedBytes(),
      pool: { ...this.pool.stats, freeSmall: free.small, freeLarge: free.large },
      queued: this.dispatcher.queued,
      crossed: { ...this.dispatcher.crossed },
      ...this.hub.stats(),
      ...durationStats(this.dispatcher.hookDurations, this.tally.handshakeSeconds),
      backpressure: { dropped: this.backpressureDrops, closed: this.backpressureCloses },
      compression: { inflated: this.sharedCodecs?.inflated ?? 0, deflated: this.sharedCodecs?.deflated ?? 0 },
      ...(this.config.backplane && !this.role ? { backplane: this.config.backplane.stats() } : {}),
    };
  }

  /** Bytes waiting to be sent on every connection (an I/O thread's board reads it every 20 ms: no array per call). */
  private bufferedBytes(): number {
    let sum = 0;
    for (const c of this.connections.values()) sum += c.bufferedAmount;
    return sum;
  }

  control(id: number, action: ControlAction): boolean {
    const link = this.connections.get(id);
    if (link === undefined || !link.isOpen()) return false;
    if ('close' in action) link.sendClose(encodeClosePayload(action.close.code, action.close.reason));
    else if ('terminate' in action) link.destroy();
    else if ('subscribe' in action) {
      const topics = link.topics;
      const limit = this.config.pubsub.maxTopicsPerConnection;
      if (topics !== null && topics.size >= limit && !topics.has(action.subscribe)) {
        this.log.warn(
          `server.subscribe(${id}, ...): connection ${id} is subscribed to ${topics.size} topics, the limit ` +
            '(pubsub.maxTopicsPerConnection); not subscribed',
        );
        return false;
      }
      link.subscribe(action.subscribe);
    } else if ('unsubscribe' in action) link.unsubscribe(action.unsubscribe);
    else this.dispatcher.signal(link, action.signal);
    return true;
  }

  report(): Promise<EngineReport> {
    return Promise.resolve(this.reportNow());
  }

  /** This thread's open connections and topics now. */
  reportNow(): EngineReport {
    const connections: ConnectionInfo[] = [];
    for (const link of this.connections.values()) if (link.isOpen()) connections.push(describe(link));
    return { connections, topics: this.hub.topicCounts() };
  }

  publish(topic: string, opcode: number, data: WriteData): number {
    return this.hub.publish(topic, prepareFrame(opcode, data), 0);
  }

  broadcast(opcode: number, data: WriteData, except: number): number {
    return this.hub.broadcast(prepareFrame(opcode, data), except);
  }

  sendTo(id: number, opcode: number, data: WriteData): boolean {
    return this.hub.sendTo(id, prepareFrame(opcode, data));
  }

  subscriberCount(topic: string): number {
    return this.hub.subscriberCount(topic);
  }

  /** One timer for every connection's heartbeat and idle checks, when either is on. */
  private startSweeper(): void {
    const { heartbeat, idleTimeout } = this.config;
    const periods = [heartbeat.interval, heartbeat.interval > 0 ? heartbeat.timeout : 0, idleTimeout].filter(
      (p) => p > 0,
    );
    if (periods.length === 0) return;
    const every = Math.min(1000, Math.max(10, Math.floor(Math.min(...periods) / 4)));
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const c of this.connections.values()) c.sweep(now);
    }, every);
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const c of this.connections.values()) c.shutdown();
    const deadline = Date.now() + this.config.closeTimeout;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const c of this.connections.values()) c.destroy();
    await this.within(Promise.allSettled(this.inits), 'inits still running (an init that never settles?)');
    // Close hooks wait for the hooks before them; one that never settles holds stop() no longer than closeTimeout.
    await this.within(this.dispatcher.idle(), 'close hooks still waiting (a hook that never settles?)');
    await this.dispatcher.stop();
    this.sharedCodecs?.close();
  }

  /** Waits for `work` at most closeTimeout; says so when it did not finish. */
  private async within(work: Promise<unknown>, what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      work.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), this.config.closeTimeout))),
    ]);
    clearTimeout(timer);
    if (late) this.log.warn(`stop: ${what} after ${this.config.closeTimeout} ms; stopping without them`);
  }

  // ---- what connections need (ServerCore) --------------------------------------------------------

  trackInit(init: Promise<unknown>): void {
    const settled: Promise<unknown> = init.then(
      (): void => void this.inits.delete(settled),
      (): void => void this.inits.delete(settled),
    );
    this.inits.add(settled);
  }

  lifecycle(): void {
    this.role?.lifecycle();
  }

  opened(id: number): void {
    this.role?.relay.opened(id);
  }

  forget(id: number): void {
    this.connections.delete(id);
    this.role?.relay.closed(id);
  }

  takeHeadBuffer(): Buffer {
    return this.headBuffers.pop() ?? Buffer.allocUnsafe(this.config.handshake.maxSize);
  }

  returnHeadBuffer(buffer: Buffer): void {
    if (this.headBuffers.length < this.config.handshake.count) this.headBuffers.push(buffer);
  }
}
