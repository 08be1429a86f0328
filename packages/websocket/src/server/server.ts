import { rmSync } from 'node:fs';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TlsOptions } from 'node:tls';
import { TlsAcceptor } from '../accept/tls-accept.js';
import { attachRoute, detachRoute, routeTaken, upgradeFromIncoming } from '../accept/http-upgrade.js';
import { BufferPool } from '../buffers/pool.js';
import { resolveConfig, type ResolvedConfig, type ServerConfig } from './config.js';
import { Connection } from './connection.js';
import type { Dispatcher } from './dispatcher.js';
import { hookShape, type AppOf, type HandlerClass, type HandlerHooks } from './handler.js';
import { HookRunner } from './hook-runner.js';
import { RejectionTracker } from './rejections.js';
import { ThreadDispatcher } from '../threads/thread-dispatcher.js';
import { scopedLogger, type Logger } from './log.js';
import { Hub } from '../pubsub/hub.js';
import { claimBackplane, type BackplaneStats } from '../pubsub/backplane.js';
import { SharedCodecs } from './compression.js';
import { checkTopic } from '../pubsub/subscriptions.js';
import { Opcode } from '../protocol/opcodes.js';
import { checkText, type WriteData } from './conn.js';
import { IoPool } from '../io/io-pool.js';
import { plainHttpOf, type PlainHttpHandler } from './plain-http.js';
import { prepareFrame } from '../pubsub/prepared.js';
import type { ThreadRelay } from '../io/thread-relay.js';

/** What makes a Server one of several I/O threads' servers (`workerCount` > 1): set by wsz itself, never by users. */
export interface IoThreadRole {
  relay: ThreadRelay;
  index: number;
  /** Connections came or went: publish the counters soon. */
  lifecycle(): void;
}

/** Counters a server keeps; see {@link Server.stats}. */
export interface ServerStats {
  /** Open sockets, handshaking ones included. */
  connections: number;
  /** Connections past the handshake (or running `init`). */
  upgraded: number;
  /** Text and binary messages received since the server started. */
  messages: number;
  /** Socket writes issued: everything a connection writes in one tick is one write. */
  writes: number;
  /** Bytes written and not yet taken by the kernel, over all connections (bounded by maxBackpressure each). */
  buffered: number;
  /** Buffer pool counters: hits, misses, one-off (dynamic) allocations, and free buffers on hand. */
  pool: { hits: number; misses: number; dynamic: number; freeSmall: number; freeLarge: number };
  /** Messages handed to handlers and not finished yet (waiting for a worker, or behind an async hook). */
  queued: number;
  /**
   * How messages crossed to worker threads: `shared`, read in place in the pool buffer they were
   * assembled in; `copied`, copied once into the worker's ring (messages that arrived whole in one
   * network read). Both 0 inline.
   */
  crossed: { shared: number; copied: number };
  /** Topics with at least one subscriber. */
  topics: number;
  /** Messages published (each once, however many subscribers it reached). */
  publishes: number;
  /** Frames queued to connections by publish, broadcast and sendTo (one per recipient). */
  deliveries: number;
  /** What `backpressurePolicy` did: data messages dropped ('drop'), connections closed with 1008 ('close'). */
  backpressure: { dropped: number; closed: number };
  /** permessage-deflate: compressed messages received (inflated) and sent (deflated). */
  compression: { inflated: number; deflated: number };
  /** The backplane's counters, when there is one (see `backplane`). */
  backplane?: BackplaneStats;
  /** With `workerCount` > 1: I/O threads running now, and how many were replaced after dying. */
  ioThreads?: { count: number; restarts: number };
}

/** Options of {@link Server.publish}, {@link Server.broadcast} and {@link Server.sendTo}. */
export interface ServerSendOptions {
  /** Send a binary message (default false: text; bytes must then be valid UTF-8). */
  binary?: boolean;
}

/**
 * A WebSocket server generic over the user's handler class: one handler per connection, its hooks
 * called in order (see {@link HandlerHooks}).
 *
 * ```ts
 * const server = new Server(Echo, { port: 9001 });
 * await server.listen(app);
 * // ...
 * await server.stop();
 * ```
 */
// Connections see it as a ServerCore (structurally: the internal members are left out of the published types).
export class Server<H extends HandlerHooks<any>> {
  /** The configuration in force, defaults filled in. */
  readonly config: ResolvedConfig;
  /** The server's logger (scope 'wsz'). */
  readonly log: Logger;
  /** @internal */ readonly pool: BufferPool;
  /** @internal */ readonly dispatcher: Dispatcher;
  /** @internal */ app: unknown = undefined;
  /** @internal */ readonly ownCopies: boolean;
  /** @internal */ readonly plainHttp: PlainHttpHandler | null;
  /** @internal */ upgraded = 0;
  /** @internal */ messages = 0;
  /** @internal */ writes = 0;
  /** @internal */ backpressureDrops = 0;
  /** @internal */ backpressureCloses = 0;
  /** @internal Topics and cross-connection sends, owned by this (the I/O) thread. */
  readonly hub: Hub;
  private sharedCodecs: SharedCodecs | null = null;
  /** @internal Compression state shared by the connections (permessage-deflate). */
  get codecs(): SharedCodecs {
    return (this.sharedCodecs ??= new SharedCodecs());
  }

  private readonly connections = new Map<number, Connection>();
  /** The I/O threads, when `workerCount` > 1 (this thread then only accepts and relays). */
  private readonly io: IoPool | null = null;
  /** Set when this server runs on one of those I/O threads. */
  private readonly role: IoThreadRole | null;
  private readonly headBuffers: Buffer[] = [];
  private listener: NetServer | null = null;
  /** TLS done by this server's own listener (null without tls, or with I/O threads, which do it). */
  private tls: TlsAcceptor | null = null;
  /** Sockets of our TLS listener still in their TLS handshake: they count against maxConn. */
  private securing = 0;
  private nextId = 1;
  private stopping: Promise<void> | null = null;
  private starting = false;
  /** Settles when a listen() in progress has bound (or failed): stop() waits for it. */
  private started: Promise<unknown> | null = null;
  /** Async inits running: stop() waits for them, so their close hooks run before it resolves. */
  private readonly inits = new Set<Promise<unknown>>();
  private sweeper: NodeJS.Timeout | null = null;
  /** The HTTP server and path of {@link Server.attach}. */
  private attached: { httpServer: HttpServer; path: string } | null = null;

  /**
   * @param HandlerClass the handler class; the server calls `new HandlerClass()` per connection
   * @param config settings in websocket.zig's shape; invalid ones throw a TypeError here
   * @param role internal: set by an I/O thread for its own server
   * @throws TypeError for a class without `clientMessage`, an unknown config field or a value out of
   *   range (naming the field, the value and what it takes), and with worker or I/O threads for a class
   *   without `static module` or config that cannot be copied to a thread
   * @throws Error for `workerCount` above 1 on a Node before 24
   */
  constructor(HandlerClass: HandlerClass<H>, config: ServerConfig = {}, role?: IoThreadRole) {
    if (typeof HandlerClass !== 'function' || !hookShape(HandlerClass).clientMessage) {
      throw new TypeError('new Server(HandlerClass, config): HandlerClass must be a class with a clientMessage(data, type) method');
    }
    this.config = resolveConfig(config);
    this.role = role ?? null;
    this.plainHttp = plainHttpOf(HandlerClass);
    this.log = scopedLogger(role ? `wsz io ${role.index}` : 'wsz', this.config.logLevel, this.config.logger);
    // With worker threads, messages are assembled in shared memory and read in place by the worker.
    this.pool = new BufferPool({ ...this.config.buffers, shared: this.config.threadPool.count > 0 });
    this.ownCopies = !this.config.borrowData && this.config.threadPool.count === 0;
    this.hub = new Hub(this.connections, role ? null : this.config.backplane, role?.relay ?? null);
    if (this.config.workerCount > 1) this.io = new IoPool(HandlerClass, config, this.config, this.log);
    this.dispatcher =
      this.config.threadPool.count > 0 && this.io === null
        ? new ThreadDispatcher(HandlerClass, this.config, this.log, this.hub)
        : new HookRunner(HandlerClass, this.config.threadPool.backlog, this.config.attributeRejections || role !== undefined ? new RejectionTracker() : null);
    if (!role && this.config.backplane) claimBackplane(this.config.backplane, this.log);
  }

  /**
   * Starts listening; `app` reaches every handler's `init` (and `this.app` on {@link Handler}s).
   * Resolves with the bound address once the server accepts connections.
   * @throws Error when the server already runs or was stopped, when called inside a wsz thread (the
   *   handler module starts a server when imported), or when the address cannot be bound (the cause
   *   attached); a TypeError when the app cannot be copied to worker threads
   */
  async listen(app?: AppOf<H>): Promise<AddressInfo | string> {
    if ((globalThis as Record<symbol, unknown>)[Symbol.for('wsz.inWorker')]) {
      throw new Error(
        'server.listen() ran inside a wsz handler thread: worker threads import the module that defines your handler class, ' +
          'and that module starts a server when imported. Move the handler class to a module of its own, or start the server only ' +
          "when `isMainThread` (from 'node:worker_threads') is true.",
      );
    }
    if (this.stopping) throw new Error('server.listen(): this server was stopped; create a new Server to listen again');
    if (this.listener || this.starting) throw new Error('server.listen(): this server is already listening; create another Server to listen twice');
    this.starting = true;
    this.app = app;
    const starting = this.startListening();
    this.started = starting.catch(() => {});
    const address = await starting;
    if (this.stopping) throw new Error('server.listen(): server.stop() was called before listening completed; the server is stopped');
    return address;
  }

  private async startListening(): Promise<AddressInfo | string> {
    try {
      if (this.io) await this.io.start(this.app);
      else await this.dispatcher.start(this.app);
      this.startSweeper();
      return await this.bind();
    } catch (error) {
      this.starting = false;
      await this.dispatcher.stop();
      await this.io?.stop();
      throw error;
    }
  }

  private noIoThreads(what: string): void {
    if (this.io) throw new Error(`${what}: with workerCount ${this.config.workerCount}, I/O threads take sockets from the server's own listener; use server.listen(), or workerCount: 1 to share an HTTP server`);
  }

  /**
   * Serves WebSocket upgrades for `path` on an HTTP or HTTPS server your app owns (Express, Fastify
   * and Koa sit on one): every other request, and upgrades for other paths, stay the app's. Several
   * wsz servers may attach to one HTTP server at different paths; an upgrade for a path none took is
   * answered 404 (unless the app has 'upgrade' listeners of its own). Handshake checks, `init`,
   * limits and thread mode work as with {@link Server.listen}. `stop()` closes this server's
   * connections and detaches, leaving the HTTP server running. Resolves once hook workers are ready.
   *
   * ```ts
   * const http = createServer(app);
   * await new Server(Chat, config).attach(http, { path: '/chat' }, appContext);
   * http.listen(8080);
   * ```
   *
   * @throws TypeError for a path that does not start with '/' or has a query; Error with `workerCount`
   *   above 1 (I/O threads take sockets from the server's own listener only)
   */
  async attach(httpServer: HttpServer | HttpsServer, options: { path?: string } = {}, app?: AppOf<H>): Promise<void> {
    const path = options.path ?? '/';
    this.noIoThreads('server.attach()');
    if (!path.startsWith('/') || path.includes('?')) throw new TypeError(`server.attach(): path must be a path such as '/chat', without a query; got ${JSON.stringify(path)}`);
    // Refused before any thread starts; should routing fail after all, what started stops again (as a failed listen).
    if (routeTaken(httpServer as HttpServer, path)) throw new Error(`server.attach(): a wsz server is already attached at ${path} on this HTTP server`);
    await this.start(app);
    try {
      attachRoute(httpServer as HttpServer, path, this);
    } catch (error) {
      await this.undoStart();
      throw error;
    }
    this.attached = { httpServer: httpServer as HttpServer, path };
  }

  /**
   * Starts the server without a listener of its own (hook workers, liveness timers), for an app that
   * routes upgrades itself to {@link Server.handleUpgrade} (ws's `noServer`). `listen` and `attach`
   * start the server themselves.
   */
  async start(app?: AppOf<H>): Promise<void> {
    if (!this.role) this.noIoThreads('server.start()');
    if (this.stopping) throw new Error('server.start(): this server was stopped; create a new Server');
    if (this.listener || this.starting) throw new Error('server.start(): this server already runs (listen, attach or start); create another Server for another endpoint');
    this.starting = true;
    this.app = app;
    const starting = (async () => {
      try {
        await this.dispatcher.start(app);
      } catch (error) {
        await this.undoStart();
        throw error;
      }
      this.startSweeper();
    })();
    this.started = starting.catch(() => {});
    await starting;
    if (this.stopping) throw new Error('server.start(): server.stop() was called before starting completed; the server is stopped');
  }

  /** Stops what {@link Server.start} started, so a failed start or attach leaves no thread or timer running. */
  private async undoStart(): Promise<void> {
    this.starting = false;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    await this.dispatcher.stop();
  }

  /**
   * Takes one upgrade request from an http server's 'upgrade' event (ws's `handleUpgrade`): the
   * socket, the parsed request and the bytes that followed it become a connection of this server.
   * Use it to route upgrades yourself, after {@link Server.start}; {@link Server.attach} does it all
   * for you. Before the server has started (or once it stops), the socket is destroyed.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A socket already gone (the app routed it late, after the client left) would never report its close.
    if (this.stopping || !this.started || socket.destroyed || !socket.readable || !socket.writable) {
      socket.destroy();
      return;
    }
    this.adopt(socket as Socket, false).requested(upgradeFromIncoming(req), head);
  }

  private bind(): Promise<AddressInfo | string> {
    // I/O threads take the sockets before anything is read (and do TLS themselves). TLS is ours too
    // (not tls.createServer's): a socket counts against maxConn from accept, and one deadline bounds
    // the TLS handshake, the request and init.
    this.tls = this.io || !this.config.tls ? null : new TlsAcceptor(this.config.tls as TlsOptions);
    const listener: NetServer = createServer({ noDelay: true, allowHalfOpen: false, pauseOnConnect: this.io !== null || this.tls !== null }, (socket) => this.accept(socket));
    this.listener = listener;
    const { unixPath, port, address } = this.config;
    return new Promise((resolve, reject) => {
      listener.once('error', (error) => {
        this.listener = null;
        reject(new Error(`server.listen(): cannot listen on ${unixPath ?? `${address}:${port}`}: ${error.message}`, { cause: error }));
      });
      const ready = (): void => {
        listener.on('error', (error) => this.log.error(`listener error: ${error.message}`));
        const bound = listener.address()!;
        this.log.info(`listening on ${typeof bound === 'string' ? bound : `${bound.address}:${bound.port}`}`);
        resolve(bound);
      };
      if (unixPath) {
        rmSync(unixPath, { force: true });
        listener.listen({ path: unixPath, backlog: 1024 }, ready);
      } else {
        listener.listen({ port, host: address, backlog: 1024 }, ready);
      }
    });
  }

  /** The bound address (`{ address, family, port }`, or the Unix path), or null when not listening. */
  get address(): AddressInfo | string | null {
    return this.listener?.address() ?? null;
  }

  /**
   * Stops gracefully: stops accepting, sends 1001 (going away) to every connection, waits for the
   * close handshakes up to `closeTimeout`, drops what remains, and resolves once every `close`
   * hook has run. Safe to call more than once (later calls get the same promise).
   */
  stop(): Promise<void> {
    return (this.stopping ??= this.shutdown());
  }

  /** Connection and buffer pool counters. */
  stats(): ServerStats {
    if (this.io) return this.io.stats();
    const free = this.pool.free;
    return {
      connections: this.connections.size + this.securing,
      upgraded: this.upgraded,
      messages: this.messages,
      writes: this.writes,
      buffered: this.bufferedBytes(),
      pool: { ...this.pool.stats, freeSmall: free.small, freeLarge: free.large },
      queued: this.dispatcher.queued,
      crossed: { ...this.dispatcher.crossed },
      ...this.hub.stats(),
      backpressure: { dropped: this.backpressureDrops, closed: this.backpressureCloses },
      compression: { inflated: this.sharedCodecs?.inflated ?? 0, deflated: this.sharedCodecs?.deflated ?? 0 },
      ...(this.config.backplane ? { backplane: this.config.backplane.stats() } : {}),
    };
  }

  /** Bytes waiting to be sent on every connection (an I/O thread's board reads it every 20 ms: no array per call). */
  private bufferedBytes(): number {
    let sum = 0;
    for (const c of this.connections.values()) sum += c.bufferedAmount;
    return sum;
  }

  // ---- pub/sub from the main thread (hooks use their Conn) -------------------------------------

  /**
   * Publishes a message to every connection subscribed to `topic` (see `conn.subscribe`), whatever
   * thread runs their handlers: framed once, the same bytes queued to each, each subscriber's
   * `maxBackpressure` applying to it alone. Returns how many connections it was queued for.
   */
  publish(topic: string, data: WriteData, options?: ServerSendOptions): number {
    checkTopic('server.publish()', topic, this.config.pubsub.maxTopicLength);
    if (options?.binary !== true && typeof data !== 'string') checkText('server.publish()', data);
    if (this.io) return this.io.publish(topic, prepareFrame(options?.binary === true ? Opcode.Binary : Opcode.Text, data));
    return this.hub.publish(topic, options?.binary === true ? Opcode.Binary : Opcode.Text, data, 0);
  }

  /** Sends a message to every open connection except the one with id `except`, framed once; returns how many took it. */
  broadcast(data: WriteData, options?: ServerSendOptions & { except?: number }): number {
    if (options?.binary !== true && typeof data !== 'string') checkText('server.broadcast()', data);
    if (this.io) return this.io.broadcast(prepareFrame(options?.binary === true ? Opcode.Binary : Opcode.Text, data), options?.except ?? 0);
    return this.hub.broadcast(options?.binary === true ? Opcode.Binary : Opcode.Text, data, options?.except ?? 0);
  }

  /** Sends a message to connection `id` (a `conn.id`); false when no such connection is open or it refused it (backpressure). */
  sendTo(id: number, data: WriteData, options?: ServerSendOptions): boolean {
    if (options?.binary !== true && typeof data !== 'string') checkText('server.sendTo()', data);
    if (this.io) return this.io.sendTo(id, prepareFrame(options?.binary === true ? Opcode.Binary : Opcode.Text, data));
    return this.hub.sendTo(id, options?.binary === true ? Opcode.Binary : Opcode.Text, data);
  }

  /** How many connections are subscribed to `topic` now. */
  subscriberCount(topic: string): number {
    checkTopic('server.subscriberCount()', topic, this.config.pubsub.maxTopicLength);
    if (this.io) return this.io.subscriberCount(topic);
    return this.hub.subscriberCount(topic);
  }

  /** One timer for every connection's heartbeat and idle checks, when either is on. */
  private startSweeper(): void {
    const { heartbeat, idleTimeout } = this.config;
    const periods = [heartbeat.interval, heartbeat.interval > 0 ? heartbeat.timeout : 0, idleTimeout].filter((p) => p > 0);
    if (periods.length === 0) return;
    const every = Math.min(1000, Math.max(10, Math.floor(Math.min(...periods) / 4)));
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const c of this.connections.values()) c.sweep(now);
    }, every);
    this.sweeper.unref();
  }

  private async shutdown(): Promise<void> {
    await this.started;
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.attached) detachRoute(this.attached.httpServer, this.attached.path);
    const listener = this.listener;
    const closed = listener ? new Promise<void>((resolve) => listener.close(() => resolve())) : Promise.resolve();
    await this.io?.stop();
    for (const c of this.connections.values()) c.shutdown();
    const deadline = Date.now() + this.config.closeTimeout;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const c of this.connections.values()) c.destroy();
    await closed;
    await this.within(Promise.allSettled(this.inits), 'inits still running (an init that never settles?)');
    // Close hooks wait for the hooks before them; one that never settles holds stop() no longer than closeTimeout.
    await this.within(this.dispatcher.idle(), 'close hooks still waiting (a hook that never settles?)');
    await this.dispatcher.stop();
    this.sharedCodecs?.close();
    this.config.backplane?.close();
    this.log.info('stopped');
  }

  /** Waits for `work` at most closeTimeout; says so when it did not finish. */
  private async within(work: Promise<unknown>, what: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([work.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), this.config.closeTimeout)))]);
    clearTimeout(timer);
    if (late) this.log.warn(`stop: ${what} after ${this.config.closeTimeout} ms; stopping without them`);
  }

  /** @internal An async init started; stop() waits for it. */
  trackInit(init: Promise<unknown>): void {
    const settled: Promise<unknown> = init.then(
      (): void => void this.inits.delete(settled),
      (): void => void this.inits.delete(settled),
    );
    this.inits.add(settled);
  }

  private accept(socket: Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    if (this.io) this.io.hand(socket);
    else if (this.tls) this.secure(this.tls, socket);
    else this.adopt(socket, true);
  }

  /** A socket of our TLS listener: counted from now (past maxConn it is closed at once), a connection once TLS is done. */
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
        if (this.stopping) secure.destroy();
        else this.adopt(secure as unknown as Socket, true, this.nextId++, false, deadline);
      },
      () => void this.securing--,
    );
  }

  /** @internal On an I/O thread: a socket the main thread accepted (id and maxConn decided there) becomes a connection. */
  adoptSocket(socket: Socket, id: number, over: boolean, deadline?: number): void {
    socket.setNoDelay(true);
    if (this.stopping) {
      socket.destroy();
      this.role?.relay.closed(id);
    } else this.adopt(socket, true, id, over, deadline);
  }

  /**
   * A socket becomes a connection, however it arrived (our listener, an http server's upgrade, the
   * main thread of I/O threads, which numbers it and counts maxConn server-wide).
   */
  private adopt(socket: Socket, readRequest: boolean, id = this.nextId++, over = this.connections.size >= this.config.maxConn, deadline?: number): Connection {
    const connection = new Connection(id, socket, this, readRequest, deadline);
    // maxConn bounds every open socket, handshaking ones included (as websocket.zig's max_conn).
    this.connections.set(id, connection);
    if (over) connection.overCapacity();
    else if (this.config.buffers.smallPool === null) this.pool.smallLimit = this.connections.size;
    return connection;
  }

  /** @internal */
  lifecycle(): void {
    this.role?.lifecycle();
  }

  /** @internal */
  opened(id: number): void {
    this.role?.relay.opened(id);
  }

  /** @internal */
  forget(connection: Connection): void {
    this.connections.delete(connection.id);
    this.role?.relay.closed(connection.id);
  }

  /** @internal */
  takeHeadBuffer(): Buffer {
    return this.headBuffers.pop() ?? Buffer.allocUnsafe(this.config.handshake.maxSize);
  }

  /** @internal */
  returnHeadBuffer(buffer: Buffer): void {
    if (this.headBuffers.length < this.config.handshake.count) this.headBuffers.push(buffer);
  }
}
