import type { MessageType } from '../protocol/opcodes.js';
import type { Conn } from './conn.js';
import type { Handshake } from './handshake.js';
import type { PlainHttpHandler } from './plain-http.js';

/** What a hook may return: nothing, or a promise the server waits for before the next hook of the connection. */
export type HookResult = void | Promise<void>;

/**
 * The hooks a handler may define. Only `clientMessage` is required; the server detects the rest.
 * A server creates one handler per connection (`new HandlerClass()`) and calls its hooks one at a
 * time, in order, never overlapping, even when a hook returns a promise.
 */
export interface HandlerHooks<App = unknown> {
  /**
   * Runs before the 101 response. Throw (or reject) to refuse the upgrade: the client gets HTTP
   * 400, or the `status` the error carries (a {@link HandshakeError}, or any error with a numeric
   * `status` from 400 to 599, such as 401 or 403).
   */
  init?(handshake: Handshake, conn: Conn, app: App): HookResult;
  /** Runs after the 101 response was written; the first hook that may write frames. */
  afterInit?(): HookResult;
  /**
   * A complete text or binary message. `data` is the hook's to keep: it never changes afterwards.
   * (With `borrowData: true` it is lent instead: valid until the hook returns or its promise settles,
   * then reused; copy it with `Buffer.from(data)` to keep it.)
   */
  clientMessage(data: Buffer, type: MessageType): HookResult;
  /** A ping; when absent the server answers with a pong carrying the same payload. */
  clientPing?(data: Buffer): HookResult;
  /** A pong. */
  clientPong?(data: Buffer): HookResult;
  /**
   * The peer's close frame (`code` is 1005 when it had none). When absent the server answers the
   * close handshake echoing the code; when present, call `conn.close()` to answer (if the hook
   * does not, the server answers after it).
   */
  clientClose?(code: number, reason: string): HookResult;
  /**
   * The connection's queue of unsent bytes emptied after it had backed up (a slow reader caught
   * up): the handler may write again. See `maxBackpressure`.
   */
  drain?(): HookResult;
  /** `count` messages were dropped by the 'drop' backpressure policy since the last call. */
  dropped?(count: number): HookResult;
  /**
   * A message from the application, not the peer: `server.signal(conn.id, data)` ("your session was revoked",
   * "reload your permissions"). Runs on the thread that owns the connection's handler, in order with its other
   * hooks (one at a time). `data` arrives as the structured clone of what was signalled.
   */
  serverMessage?(data: unknown): HookResult;
  /** Runs exactly once when a connection whose `init` succeeded ends, for whatever reason. */
  close?(): HookResult;
  /**
   * With delivery (`static delivery = true`, docs/delivery.md): whether this connection may subscribe to `topic`,
   * asked for each `subscribe` command the client sends; `resume` is true when it asks for history after a position.
   * Without this hook every client subscribe is refused. It runs in order with the connection's other hooks.
   */
  canSubscribe?(topic: string, resume: boolean): boolean | Promise<boolean>;
}

/**
 * A handler class: the server calls `new HandlerClass()` once per connection. With worker threads
 * (`threadPool.count` above 0) the class must be exported and say where it lives, so that workers
 * can import it: `static module = import.meta.url`. It may also define
 * `static initThread(app, index)`, run once per worker, returning that thread's app (for what
 * cannot be copied to a thread, such as a database pool), and `static httpRequest(request, app)`,
 * which answers plain HTTP GETs on the server's own port (a page, a health check; see
 * {@link PlainHttpHandler}). `static delivery = true` opts into delivery (docs/delivery.md): publications reach
 * clients in envelopes with their topic and position, and clients subscribe and resume with commands.
 */
export type HandlerClass<H extends HandlerHooks<any> = HandlerHooks<any>> = new () => H;

/** The app type a handler expects from `listen(app)`. */
export type AppOf<H> = H extends { app: infer A }
  ? A
  : H extends { init(h: Handshake, c: Conn, app: infer A): HookResult }
    ? A
    : unknown;

/**
 * A convenient base class: `conn` and `app` are set before `init` runs, so hooks can use
 * `this.conn` and `this.app` without an `init` of their own.
 *
 * ```ts
 * class Echo extends Handler {
 *   clientMessage(data: Buffer, type: MessageType) {
 *     type === 'text' ? this.conn.writeText(data) : this.conn.writeBin(data);
 *   }
 * }
 * ```
 */
export abstract class Handler<App = unknown> implements HandlerHooks<App> {
  /** This handler's connection (set by the server before `init`). */
  conn!: Conn;
  /** The app given to `listen(app)` (set by the server before `init`). */
  app!: App;

  abstract clientMessage(data: Buffer, type: MessageType): HookResult;
}

/** Which optional hooks the I/O side must route to the handler (it answers pings and closes itself otherwise). */
export interface OptionalHooks {
  /** Without an init, a worker needs no copy of the request. */
  init: boolean;
  /** Without init and afterInit, nothing waits for a worker to make the handler: that news can ride a later batch. */
  afterInit: boolean;
  /** Without a close hook, nothing waits for a worker to finish a connection. */
  close: boolean;
  /** The class says `static delivery = true`: publications go in envelopes and clients' commands are read. */
  delivery: boolean;
  clientPing: boolean;
  clientPong: boolean;
  clientClose: boolean;
  drain: boolean;
  dropped: boolean;
}

/** Every hook's name; after `init`, in the order of the hook runner's event kinds. */
export const HOOK_NAMES = [
  'init',
  'afterInit',
  'clientMessage',
  'clientPing',
  'clientPong',
  'clientClose',
  'drain',
  'dropped',
  'serverMessage',
  'close',
] as const;

/** Which hooks a handler class has, methods or instance fields alike (an arrow function assigned in the class body). */
export type HookShape = Record<(typeof HOOK_NAMES)[number], boolean>;

const shapes = new WeakMap<object, HookShape>();

/**
 * Detects the hooks a handler class defines (websocket.zig's "hooks are detected, not required").
 * Methods are found on the prototype; hooks written as class fields (`close = () => {...}`) exist
 * only on instances, so one instance is made (once per class and thread, never used) to see them.
 */
export function hookShape(HandlerClass: HandlerClass<HandlerHooks<any>>): HookShape {
  let shape = shapes.get(HandlerClass);
  if (shape) return shape;
  const p = (HandlerClass.prototype ?? {}) as Record<string, unknown>;
  let probe: Record<string, unknown> | null = null;
  if (HOOK_NAMES.some((name) => typeof p[name] !== 'function')) {
    try {
      probe = new HandlerClass() as unknown as Record<string, unknown>;
    } catch {
      // A constructor that needs more than the class (a worker's state, say): methods only.
    }
  }
  shape = Object.fromEntries(
    HOOK_NAMES.map((name) => [name, typeof p[name] === 'function' || typeof probe?.[name] === 'function']),
  ) as HookShape;
  shapes.set(HandlerClass, shape);
  return shape;
}

/** The optional hooks the I/O side must route to the handler (it answers pings and closes itself otherwise). */
export function optionalHooks(HandlerClass: HandlerClass<HandlerHooks<any>>): OptionalHooks {
  const { init, afterInit, clientPing, clientPong, clientClose, drain, dropped, close } = hookShape(HandlerClass);
  return {
    init,
    afterInit,
    close,
    clientPing,
    clientPong,
    clientClose,
    drain,
    dropped,
    delivery: deliveryOf(HandlerClass),
  };
}

/** Whether a handler class opts into delivery (docs/delivery.md). */
export function deliveryOf(HandlerClass: HandlerClass<HandlerHooks<any>>): boolean {
  return (HandlerClass as unknown as { delivery?: unknown }).delivery === true;
}

// A brand that survives two copies of the library (a worker may load src/ while the app loads dist/).
const HANDLER_BRAND = Symbol.for('wsz.handler');
(Handler.prototype as unknown as Record<symbol, boolean>)[HANDLER_BRAND] = true;

/** True for instances of {@link Handler} from any copy of the library. */
export function isHandler(value: unknown): value is Handler<unknown> {
  return (value as Record<symbol, unknown> | null)?.[HANDLER_BRAND] === true;
}
