import type { MessageType } from '../protocol/opcodes.js';
import type { Compression } from '../sender/write-data.js';
import type { Conn } from './conn.js';
import type { ConnTransport } from './transport.js';
import type { DeflateAgreement } from '../protocol/permessage-deflate.js';
import type { DeflaterSettings } from '../protocol/deflate-codec.js';
import type { OptionalHooks } from './handler.js';
import type { Handshake } from './handshake.js';

/**
 * What the I/O side needs from a connection to hand it events: its public Conn, a slot the
 * dispatcher may keep per-connection state in, and the means to release buffers, fail the
 * connection, and stop or resume reading. Implemented by the engine's Link.
 */
export interface DispatchTarget extends ConnTransport {
  readonly conn: Conn;
  /** Per-connection state owned by the dispatcher (the handler, its queue, ...). */
  slot: unknown;
  /** Returns a message buffer that was delivered with `owned` set. */
  releaseMessage(data: Buffer): void;
  /** Closes the connection after a hook failed (1011). */
  hookFailed(hook: string, error: unknown): void;
  /** Answers the peer's close frame once a `clientClose` hook settled without answering it. */
  clientCloseDone(code: number): void;
  /**
   * A hook event (a message, ping, pong, afterInit, clientClose, drain or dropped) was handed to a
   * hook runner. The connection counts these until {@link eventSettled}.
   */
  eventStarted(): void;
  /** One of those events settled (its hook returned or its promise settled, or it was dropped). */
  eventSettled(): void;
  /** Flow control: stop reading from the socket while hooks fall behind, and resume. */
  pauseReading(): void;
  resumeReading(): void;
}

/**
 * A connection on the I/O thread, as a dispatcher sees it: a {@link DispatchTarget} that can also
 * send a payload from reused memory (a worker's ring) without copying it. Implemented by the
 * engine's Link.
 */
export interface IoTarget extends DispatchTarget {
  /**
   * Queues one frame whose payload the socket takes in place: `data` must stay unchanged until
   * `done` runs, once its bytes are with the kernel or dropped (the frame was refused, or the
   * connection is gone). `done` runs exactly once, possibly before this returns.
   */
  sendInPlace(opcode: number, data: Uint8Array, fin: boolean, done: () => void, compression?: Compression): boolean;
  /** permessage-deflate as agreed in the handshake (known before `open`), or null. */
  readonly deflate: {
    readonly agreement: DeflateAgreement;
    readonly deflater: { readonly settings: DeflaterSettings };
  } | null;
}

/**
 * Runs handler hooks for connections, in order per connection. The inline dispatcher calls them
 * on the I/O thread; the thread pool runs them on workers. The I/O side calls these methods and
 * never touches a handler itself.
 */
export interface Dispatcher {
  /** Which optional hooks the handler class defines (the I/O side answers pings and closes itself otherwise). */
  readonly hooks: OptionalHooks;
  /**
   * Creates the connection's handler and runs `init`. Returns nothing when `init` completed
   * synchronously, a promise when it is async; throws or rejects to refuse the upgrade.
   */
  open(target: IoTarget, handshake: Handshake, app: unknown): void | Promise<void>;
  afterInit(target: IoTarget): void;
  message(target: IoTarget, data: Buffer, type: MessageType, owned: boolean): void;
  ping(target: IoTarget, data: Buffer): void;
  pong(target: IoTarget, data: Buffer): void;
  clientClose(target: IoTarget, code: number, reason: string): void;
  /** Bytes stayed queued after a flush (the peer reads slowly): `bytes` is how many. */
  buffered(target: IoTarget, bytes: number): void;
  /** The queue emptied after a backlog: run `drain`. */
  drain(target: IoTarget): void;
  /** Backpressure dropped `count` messages: run `dropped(count)`. */
  dropped(target: IoTarget, count: number): void;
  /** `server.signal(id, data)`: run `serverMessage(data)` in the connection's order. */
  signal(target: IoTarget, data: unknown): void;
  /**
   * The I/O side started closing the connection (our close frame is out): hooks' writes return false and queued
   * messages are skipped. `hooksRunning`: events handed to the hooks have not all settled yet (a hook may be
   * running, or messages waiting), so they must learn of it at once rather than with the next batch.
   */
  closing(target: IoTarget, hooksRunning: boolean): void;
  /** The connection ended: run `close` once, after every hook already queued; then call `done`. */
  closed(target: IoTarget, done?: () => void): void;
  /** Resolves once every `close` hook started so far has settled. */
  idle(): Promise<void>;
  /** Prepares to run hooks (starts worker threads); `app` is what `listen(app)` was given. */
  start(app: unknown): Promise<void>;
  /** Releases what `start` took (ends worker threads). */
  stop(): Promise<void>;
  /** Messages handed to hooks and not yet finished. */
  readonly queued: number;
  /** How long hooks took: one histogram per name of HOOK_NAMES (observe/durations.ts), every thread's added up. */
  readonly hookDurations: Float64Array;
  /** Times hooks from now on (off until someone reads stats or metrics: no clock reads per hook before). */
  timeHooks(): void;
  /** Messages that crossed to another thread in place (shared) or by one copy. */
  readonly crossed: { shared: number; copied: number };
}
