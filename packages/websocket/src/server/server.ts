import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { renderMetrics } from './metrics.js';
import { ServerControl } from './control.js';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { connectRequest, streamSocket } from '../engine/h2-connect.js';
import { resolveConfig, type ResolvedConfig, type ServerConfig } from '../config/config.js';
import type { Engine } from '../engine/engine.js';
import { attachRoute, detachRoute, routeTaken } from '../engine/http-upgrade.js';
import { Lifecycle } from '../engine/lifecycle.js';
import { listen, refuseInHookThread } from '../engine/listener.js';
import { LocalEngine } from '../engine/local-engine.js';
import type { ServerStats } from '../engine/stats.js';
import { hookShape, type AppOf, type HandlerClass, type HandlerHooks } from '../handler/handler.js';
import { IoPool } from '../io/io-pool.js';
import { scopedLogger, type Logger } from '../logging/log.js';
import { claimBackplane } from '../pubsub/backplane.js';

export type { ServerStats } from '../engine/stats.js';

const EMPTY = Buffer.alloc(0);
export type { ServerSendOptions, ReportOptions, ServerReport } from './control.js';

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
export class Server<H extends HandlerHooks<any>> extends ServerControl {
  /** The configuration in force, defaults filled in. */
  readonly config: ResolvedConfig;
  /** The server's logger (scope 'wsz'). */
  readonly log: Logger;
  protected readonly hasServerMessage: boolean;
  /** Where the sockets run: this thread's engine, or the I/O threads (`workerCount` > 1). */
  protected readonly engine: Engine;
  private listener: NetServer | null = null;
  private readonly life = new Lifecycle();
  /** The HTTP server and path of {@link Server.attach}. */
  private attached: { httpServer: HttpServer; path: string } | null = null;

  /**
   * @param HandlerClass the handler class; the server calls `new HandlerClass()` per connection
   * @param config settings in websocket.zig's shape; invalid ones throw a TypeError here
   * @throws TypeError for a class without `clientMessage`, an unknown config field or a value out of
   *   range (naming the field, the value and what it takes), and with worker or I/O threads for a class
   *   without `static module` or config that cannot be copied to a thread
   * @throws Error for `workerCount` above 1 on a Node before 24
   */
  constructor(HandlerClass: HandlerClass<H>, config: ServerConfig = {}) {
    super();
    if (typeof HandlerClass !== 'function' || !hookShape(HandlerClass).clientMessage) {
      throw new TypeError(
        'new Server(HandlerClass, config): HandlerClass must be a class with a clientMessage(data, type) method',
      );
    }
    this.hasServerMessage = hookShape(HandlerClass).serverMessage;
    this.config = resolveConfig(config);
    this.log = scopedLogger('wsz', this.config.logLevel, this.config.logger);
    this.engine =
      this.config.workerCount > 1
        ? new IoPool(HandlerClass, config, this.config, this.log)
        : new LocalEngine(HandlerClass, this.config, this.log);
    this.engine.facade = this;
    if (this.config.backplane) claimBackplane(this.config.backplane, this.log);
  }

  /**
   * Starts listening; `app` reaches every handler's `init` (and `this.app` on {@link Handler}s).
   * Resolves with the bound address once the server accepts connections.
   * @throws Error when the server already runs or was stopped, when called inside a wsz thread (the
   *   handler module starts a server when imported), or when the address cannot be bound (the cause
   *   attached); a TypeError when the app cannot be copied to worker threads
   */
  async listen(app?: AppOf<H>): Promise<AddressInfo | string> {
    refuseInHookThread();
    await this.begin('server.listen()', app, async () => {
      this.listener = await listen(this.config, this.log, this.engine.pauseOnConnect, (socket) =>
        this.life.stopping ? socket.destroy() : this.engine.accept(socket),
      );
    });
    return this.listener!.address()!;
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
    this.upgrades('server.attach()');
    if (!path.startsWith('/') || path.includes('?'))
      throw new TypeError(
        `server.attach(): path must be a path such as '/chat', without a query; got ${JSON.stringify(path)}`,
      );
    // Refused before any thread starts; should routing fail after all, what started stops again (as a failed listen).
    if (routeTaken(httpServer as HttpServer, path))
      throw new Error(`server.attach(): a wsz server is already attached at ${path} on this HTTP server`);
    await this.begin('server.attach()', app, async () => attachRoute(httpServer as HttpServer, path, this));
    this.attached = { httpServer: httpServer as HttpServer, path };
  }

  /**
   * Starts the server without a listener of its own (hook workers, liveness timers), for an app that
   * routes upgrades itself to {@link Server.handleUpgrade} (ws's `noServer`). `listen` and `attach`
   * start the server themselves.
   */
  async start(app?: AppOf<H>): Promise<void> {
    this.upgrades('server.start()');
    await this.begin('server.start()', app, async () => {});
  }

  /** Starts the engine, then `open`s; see {@link Lifecycle.begin}. */
  private begin(call: string, app: unknown, open: () => Promise<unknown>): Promise<void> {
    return this.life.begin(
      call,
      async () => this.engine.start(app, await this.joinBackplane()),
      open,
      () => this.engine.undoStart(),
    );
  }

  /** The engine that takes upgrade requests from an http server; throws with I/O threads, which cannot. */
  private upgrades(call: string): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
    const upgrade = this.engine.upgrade;
    if (upgrade === null) {
      throw new Error(
        `${call}: with workerCount ${this.config.workerCount}, I/O threads take sockets from the server's own listener; ` +
          'use server.listen(), or workerCount: 1 to share an HTTP server',
      );
    }
    return upgrade;
  }

  /**
   * Takes one upgrade request from an http server's 'upgrade' event (ws's `handleUpgrade`): the
   * socket, the parsed request and the bytes that followed it become a connection of this server.
   * Use it to route upgrades yourself, after {@link Server.start}; {@link Server.attach} does it all
   * for you. Before the server has started (or once it stops), the socket is destroyed.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const upgrade = this.upgrades('server.handleUpgrade()');
    // A socket already gone (the app routed it late, after the client left) would never report its close.
    if (this.life.stopping || !this.life.started || socket.destroyed || !socket.readable || !socket.writable)
      socket.destroy();
    else upgrade(req, socket, head);
  }

  /**
   * Takes one extended CONNECT stream of a node:http2 server (RFC 8441: `:method CONNECT`, `:protocol websocket`)
   * as a connection of this server, as {@link handleUpgrade} takes an HTTP/1.1 upgrade; {@link attach} on an http2
   * server (created with `settings: { enableConnectProtocol: true }`, or attach turns it on) does it for you.
   */
  handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const upgrade = this.upgrades('server.handleStream()') && this.engine.upgradeParsed!;
    if (this.life.stopping || !this.life.started || stream.destroyed) stream.close?.();
    else upgrade(connectRequest(headers), streamSocket(stream), EMPTY);
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
    return this.life.stop(() => this.shutdown());
  }

  private async shutdown(): Promise<void> {
    await this.life.started;
    if (this.attached) detachRoute(this.attached.httpServer, this.attached.path);
    const listener = this.listener;
    const closed = listener ? new Promise<void>((resolve) => listener.close(() => resolve())) : Promise.resolve();
    await this.engine.stop();
    await closed;
    this.config.backplane?.close();
    this.log.info('stopped');
  }

  /** Connection and buffer pool counters. */
  stats(): ServerStats {
    this.engine.timeHooks(); // hook durations are recorded from the first read on
    return this.engine.stats();
  }

  /**
   * The counters of {@link Server.stats} in the Prometheus text format (0.0.4), for a scrape endpoint: answer with
   * content type `METRICS_CONTENT_TYPE`. Built when called; see docs/operations.md for the metric names.
   */
  metrics(): string {
    return renderMetrics(this.stats());
  }
}
