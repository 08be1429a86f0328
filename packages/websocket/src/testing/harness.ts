import type { AddressInfo } from 'node:net';
import { Client } from '../client/client.js';
import type { Conn } from '../handler/conn.js';
import type { ServerConfig } from '../config/config.js';
import { Handler, hookShape, type AppOf, type HandlerClass, type HandlerHooks } from '../handler/handler.js';
import type { Logger } from '../logging/log.js';
import type { Handshake } from '../handler/handshake.js';
import { Server } from '../server/server.js';
import { PeerAssertions, serverSaid } from './assertions.js';

/** Options of {@link init}. */
export interface InitOptions {
  /** Default wait of expectations, in ms (default 2000). */
  timeout?: number;
  /** Server settings for the connection (maxMessageSize, ...). */
  config?: ServerConfig;
}

/**
 * A real server-side {@link Conn} whose peer the harness holds: pass `t.conn` to the code under
 * test, then assert on what the peer received.
 */
export class TestConn extends PeerAssertions {
  /** The server-side connection. */
  readonly conn: Conn;
  private readonly server: Server<HandlerHooks<unknown>>;

  /** @internal */
  constructor(conn: Conn, client: Client, server: Server<HandlerHooks<unknown>>, timeout: number, log: string[] = []) {
    super(client, timeout, log);
    this.conn = conn;
    this.server = server;
  }

  /** Closes the peer and the server behind it. */
  async deinit(): Promise<void> {
    this.client.destroy();
    await this.server.stop();
  }
}

/**
 * What the harness's client accepts: the handler may send anything, whatever the server's own
 * (incoming) maxMessageSize; a larger configured limit is honoured too.
 */
function clientLimit(config: ServerConfig | undefined): number {
  return Math.max(config?.maxMessageSize ?? 0, 64 * 1024 * 1024);
}

/** One line per warn or error the server logs, its details (an error's stack) included. */
function collector(lines: string[]): Logger {
  const push = (message: string, ...details: unknown[]): void =>
    void lines.push(
      [message, ...details.map((d) => (d instanceof Error ? (d.stack ?? d.message) : String(d)))].join(' '),
    );
  return { debug: () => {}, info: () => {}, warn: push, error: push };
}

async function startServer(
  HandlerClass: HandlerClass<HandlerHooks<any>>,
  config: ServerConfig = {},
  app?: unknown,
): Promise<{ server: Server<HandlerHooks<unknown>>; port: number; log: string[] }> {
  // Quiet under a test runner, yet kept: a failed expectation shows what the server said (a hook's error).
  const log: string[] = [];
  const server = new Server(HandlerClass, {
    closeTimeout: 1000,
    ...config,
    logLevel: 'warn',
    logger: collector(log),
    port: 0,
    address: '127.0.0.1',
    threadPool: { count: 0 },
  });
  const { port } = (await server.listen(app as never)) as AddressInfo;
  return { server, port, log };
}

/**
 * Starts a connection for a test: `const t = await testing.init()` gives `t.conn` (server side)
 * and expectations on what its peer receives. Call `t.deinit()` when done.
 */
export async function init(options: InitOptions = {}): Promise<TestConn> {
  let resolveConn!: (c: Conn) => void;
  const opened = new Promise<Conn>((r) => (resolveConn = r));
  class Capture extends Handler {
    init(_h: Handshake, conn: Conn): void {
      resolveConn(conn);
    }
    clientMessage(): void {}
  }
  const { server, port, log } = await startServer(Capture, options.config);
  try {
    const timeout = options.timeout ?? 2000;
    const client = await Client.connect(`ws://127.0.0.1:${port}/`, {
      maxMessageSize: clientLimit(options.config),
      handshakeTimeout: timeout,
    });
    return new TestConn(await opened, client, server, timeout, log);
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/** Options of {@link handler}: the handshake the test describes, and the app. */
export interface HandlerOptions<App> {
  /** What `listen(app)` would pass. */
  app?: App;
  /** Request path (default '/'), which may carry a query of its own; `query` adds to it. */
  path?: string;
  /** Query parameters. */
  query?: Record<string, string>;
  /** Request headers. */
  headers?: Record<string, string>;
  /** Subprotocols offered. */
  protocols?: string[];
  /** Server settings. */
  config?: ServerConfig;
  /** Default wait of expectations, and of the handshake (an `init` that never settles), in ms (default 2000). */
  timeout?: number;
}

/**
 * The user's handler, driven through the real hook path: a server runs `HandlerClass` (hooks on
 * the calling thread) and the harness is its client. Send messages, pings and closes; assert on
 * what the handler wrote; check whether `close` ran.
 */
export class TestHandler<H extends HandlerHooks<any>> extends PeerAssertions {
  private readonly server: Server<HandlerHooks<unknown>>;
  private readonly state: { instance: H | undefined; closed: boolean; closeWaiters: Array<() => void> };

  /** @internal */
  constructor(
    client: Client,
    server: Server<HandlerHooks<unknown>>,
    state: TestHandler<H>['state'],
    timeout: number,
    log: string[] = [],
  ) {
    super(client, timeout, log);
    this.server = server;
    this.state = state;
  }

  /** The handler instance the server created for this connection. */
  get handler(): H {
    return this.state.instance!;
  }

  /** Whether the handler's `close` hook has run (and settled). */
  get closed(): boolean {
    return this.state.closed;
  }

  /** The subprotocol the handler chose. */
  get protocol(): string | undefined {
    return this.client.protocol;
  }

  /** Resolves once the handler's `close` hook has run; rejects after `timeout` ms. */
  waitClosed(timeout = this.timeout): Promise<void> {
    if (this.state.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`timed out after ${timeout} ms waiting for the handler's close hook`)),
        timeout,
      );
      this.state.closeWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Sends a text message to the handler. */
  send(data: string | Uint8Array): void {
    this.client.writeText(data);
  }

  /** Sends a binary message to the handler. */
  sendBin(data: string | Uint8Array): void {
    this.client.writeBin(data);
  }

  /** Sends a ping. */
  ping(data: string | Uint8Array = ''): void {
    this.client.writePing(data);
  }

  /** Sends a pong. */
  pong(data: string | Uint8Array = ''): void {
    this.client.writePong(data);
  }

  /** Starts the close handshake from the client side. */
  close(code = 1000, reason = ''): Promise<void> {
    return this.client.close({ code, reason });
  }

  /**
   * Calls the handler's `serverMessage(data)` hook as `server.signal(conn.id, data)` would (in order with its other
   * hooks); resolves false when the connection is no longer open.
   */
  async signal(data: unknown): Promise<boolean> {
    const [connection] = await this.server.connections();
    return connection !== undefined && this.server.signal(connection.id, data);
  }

  /** Drops the TCP connection without a close handshake (a vanishing peer). */
  disconnect(): void {
    this.client.destroy();
  }

  /** Ends the connection and the server behind it. */
  async deinit(): Promise<void> {
    this.client.destroy();
    await this.server.stop();
  }
}

/**
 * Runs `HandlerClass` for one connection whose handshake the test describes; `app` is typed as
 * the handler's. Rejects with the client's handshake error (a `HandshakeStatusError` from
 * `wsz/client`, with `status` 401, say) when `init` refuses; what the server logged (an `init` that
 * threw) is in the error's message.
 *
 * ```ts
 * const h = await testing.handler(Chat, { app, path: '/room', query: { user: 'ann' } });
 * h.send('hello');
 * await h.expectMessage('text', 'ann: hello');
 * await h.deinit();
 * ```
 */
export async function handler<H extends HandlerHooks<any>>(
  HandlerClass: HandlerClass<H>,
  options: HandlerOptions<AppOf<H>> = {},
): Promise<TestHandler<H>> {
  // The same check as `new Server`, before the wrapper below adds hooks of its own.
  if (typeof HandlerClass !== 'function' || !hookShape(HandlerClass).clientMessage) {
    throw new TypeError(
      'testing.handler(HandlerClass): HandlerClass must be a class with a clientMessage(data, type) method',
    );
  }
  const state: TestHandler<H>['state'] = { instance: undefined, closed: false, closeWaiters: [] };
  const Base = HandlerClass as unknown as new () => HandlerHooks<unknown>;
  const closed = (): void => {
    state.closed = true;
    for (const w of state.closeWaiters.splice(0)) w();
  };
  class Observed extends Base {
    constructor() {
      super();
      state.instance = this as unknown as H;
      // A close hook written as a class field is the instance's own: wrap that one.
      const own = Object.prototype.hasOwnProperty.call(this, 'close')
        ? (this as HandlerHooks<unknown>).close
        : undefined;
      if (typeof own === 'function') {
        (this as HandlerHooks<unknown>).close = async () => {
          try {
            await own.call(this);
          } finally {
            closed();
          }
        };
      }
    }
    override async close() {
      try {
        await (Base.prototype as HandlerHooks<unknown>).close?.call(this);
      } finally {
        closed();
      }
    }
  }
  Object.defineProperty(Observed, 'name', { value: HandlerClass.name });
  const { server, port, log } = await startServer(Observed, options.config, options.app);
  const url = new URL(options.path ?? '/', `ws://127.0.0.1:${port}`);
  for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.append(name, value);
  const timeout = options.timeout ?? 2000;
  try {
    const client = await Client.connect(url, {
      headers: options.headers,
      protocols: options.protocols,
      maxMessageSize: clientLimit(options.config),
      handshakeTimeout: timeout,
    });
    return new TestHandler<H>(client, server, state, timeout, log);
  } catch (error) {
    await server.stop();
    if (error instanceof Error) error.message += serverSaid(log);
    throw error;
  }
}
