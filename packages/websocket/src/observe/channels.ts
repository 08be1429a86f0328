/**
 * What a running server tells whoever listens, on Node's `diagnostics_channel` (no dependency: undici does the
 * same): connections opened and closed, handshakes refused, messages in, hooks that failed. A stable interface:
 * the channel names and the fields of each event below change only with a major version. An OpenTelemetry or
 * logging setup subscribes by name without wrapping handlers:
 *
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * subscribe('wsz:connection:close', (e) => log.info(e)); // e: ConnectionCloseEvent
 * ```
 *
 * Nothing is built for a channel nobody subscribes to: each publication is one `hasSubscribers` check. Events
 * are published on the thread that owns the connection's socket: the main thread inline and with hook threads;
 * with I/O threads (`workerCount`), the I/O thread's, which passes them on to the main thread while it has
 * subscribers there (see docs/operations.md).
 */
import { channel } from 'node:diagnostics_channel';

/** The channel names, by event. */
export const CHANNELS = {
  /** A connection upgraded (the 101 went out): {@link ConnectionOpenEvent}. */
  connectionOpen: 'wsz:connection:open',
  /** A connection that had upgraded is gone: {@link ConnectionCloseEvent}. */
  connectionClose: 'wsz:connection:close',
  /** An upgrade was answered with an HTTP error instead of 101: {@link HandshakeRefusedEvent}. */
  handshakeRefused: 'wsz:handshake:refused',
  /** A whole message arrived (before its hook runs): {@link MessageInEvent}. */
  messageIn: 'wsz:message:in',
  /** A hook threw or its promise rejected (the connection closes with 1011): {@link HookFailedEvent}. */
  hookFailed: 'wsz:hook:failed',
} as const;

/** `wsz:connection:open` */
export interface ConnectionOpenEvent {
  /** The connection's id (`conn.id`). */
  id: number;
  remoteAddress: string;
  remotePort: number;
  /** The request target of the upgrade: path and query. */
  url: string;
  /** The subprotocol agreed, if any. */
  protocol: string | undefined;
}

/** `wsz:connection:close` */
export interface ConnectionCloseEvent {
  id: number;
  remoteAddress: string;
  /**
   * The close code of the side that closed first: the client's, the server's, or 1006 when the TCP connection
   * ended without a close frame either way.
   */
  code: number;
  /** The reason that side gave ('' when none). */
  reason: string;
  /** Who started closing: 'client' and 'server' by a close frame, 'transport' when TCP ended without one. */
  by: 'client' | 'server' | 'transport';
  /** Milliseconds from the 101 to the end of the TCP connection. */
  durationMs: number;
}

/** `wsz:handshake:refused` */
export interface HandshakeRefusedEvent {
  /** The HTTP status of the answer (400, 403, 404, 426, 431, 503, or what `init` chose). */
  status: number;
  /** The reason in the answer's body. */
  reason: string;
  /** The error's code (e.g. 'WSZ_ERR_ORIGIN'), when it has one. */
  code: string | undefined;
  remoteAddress: string;
}

/** `wsz:message:in` */
export interface MessageInEvent {
  id: number;
  /** Payload bytes (after decompression). */
  size: number;
  type: 'text' | 'binary';
}

/** `wsz:hook:failed` */
export interface HookFailedEvent {
  id: number;
  /** The hook's name ('clientMessage', 'afterInit', ...). */
  hook: string;
  /** What it threw (from a hook thread: the error's text, as it crossed). */
  error: unknown;
}

/** The channels, in a fixed order (an event's index crosses threads). */
const LIST = [
  channel(CHANNELS.connectionOpen),
  channel(CHANNELS.connectionClose),
  channel(CHANNELS.handshakeRefused),
  channel(CHANNELS.messageIn),
  channel(CHANNELS.hookFailed),
];

/** Each channel's index in {@link LIST}. */
export const Ch = { connectionOpen: 0, connectionClose: 1, handshakeRefused: 2, messageIn: 3, hookFailed: 4 } as const;

/** How many channels there are (the length of the shared flags of {@link forwardEvents}). */
export const CHANNEL_COUNT = LIST.length;

/**
 * On an I/O thread: the channels the main thread has subscribers on (one flag each, in shared memory, kept by the
 * main thread), and how to send it an event to publish there. Null elsewhere.
 */
let forward: { wanted: Int32Array; send: (index: number, event: object) => void } | null = null;

/** Makes this thread pass the events the main thread listens to on to it (see {@link watchMain}). */
export function forwardEvents(wanted: Int32Array, send: (index: number, event: object) => void): void {
  forward = { wanted, send };
}

/** Whether anyone listens to channel `index`: on this thread, or on the main thread through {@link forward}. */
export function watched(index: number): boolean {
  return LIST[index]!.hasSubscribers || (forward !== null && Atomics.load(forward.wanted, index) === 1);
}

/** Publishes `event` on channel `index` here, and passes it to the main thread when it listens. */
export function emit(index: number, event: object): void {
  const ch = LIST[index]!;
  if (ch.hasSubscribers) ch.publish(event);
  if (forward !== null && Atomics.load(forward.wanted, index) === 1) forward.send(index, event);
}

/** On the main thread: publishes an event an I/O thread passed on. */
export function publishForwarded(index: number, event: object): void {
  LIST[index]?.publish(event);
}

/**
 * On the main thread: keeps `wanted` (shared with the I/O threads) saying which channels have subscribers here,
 * checked every `period` ms (a subscriber added meanwhile misses at most that much). Returns a stop function.
 */
export function watchMain(wanted: Int32Array, period = 200): () => void {
  const check = (): void => {
    for (let i = 0; i < LIST.length; i++) Atomics.store(wanted, i, LIST[i]!.hasSubscribers ? 1 : 0);
  };
  check();
  const timer = setInterval(check, period);
  timer.unref();
  return () => clearInterval(timer);
}
