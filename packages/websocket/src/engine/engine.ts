import type { UpgradeRequest } from '../protocol/handshake.js';
import type { HandshakeError } from '../protocol/errors.js';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WriteData } from '../sender/write-data.js';
import type { ServerStats } from './stats.js';

/**
 * What the Server facade runs its sockets on, chosen once when it is made: a {@link LocalEngine} (this
 * thread's sockets, connections, hub and hook runner or hook threads), or the pool of I/O threads,
 * each running a local engine of its own. The facade owns the listener and the lifecycle; the engine
 * owns every connection.
 */
export interface Engine {
  /** The Server facade, set by it: what `static httpRequest` gets as its third argument. */
  facade: unknown;
  /** Whether the listener must accept sockets paused (they are handed on before anything is read). */
  readonly pauseOnConnect: boolean;
  /**
   * Starts the engine's threads and timers; `app` reaches every handler. Connection ids count up from `firstId`
   * (1, or a backplane node's range: see server/remote.ts).
   */
  start(app: unknown, firstId?: number): Promise<void>;
  /** Stops what {@link Engine.start} started, after a start (or the listener's bind) failed. */
  undoStart(): Promise<void>;
  /** A socket the facade's listener accepted. */
  accept(socket: Socket): void;
  /**
   * An upgrade request an http server received (attach, handleUpgrade); null when this engine cannot
   * take one (I/O threads take sockets from the facade's own listener only).
   */
  readonly upgrade: ((req: IncomingMessage, socket: Duplex, head: Buffer) => void) | null;
  /** The same for a request read already (an HTTP/2 extended CONNECT, RFC 8441); null with `upgrade`. */
  readonly upgradeParsed: ((request: UpgradeRequest | HandshakeError, socket: Duplex, head: Buffer) => void) | null;
  /** Closes every connection (1001), waits for their close hooks up to closeTimeout, stops the threads. */
  stop(): Promise<void>;
  stats(): ServerStats;
  /** Times hooks from now on, on every thread (the facade asks when stats or metrics are first read). */
  timeHooks(): void;
  /** Pub/sub from outside handlers (the checks are the facade's). */
  publish(topic: string, opcode: number, data: WriteData): number;
  broadcast(opcode: number, data: WriteData, except: number): number;
  sendTo(id: number, opcode: number, data: WriteData): boolean;
  subscriberCount(topic: string): number;
  /** Acts on connection `id` from outside handlers (arguments checked by the facade); false when it is not open. */
  control(id: number, action: ControlAction): boolean;
  /** Every open connection and topic, gathered from every thread (those that do not answer in time are missing). */
  report(): Promise<EngineReport>;
}

/** What `server.connections()` tells about one open connection. */
export interface ConnectionInfo {
  /** Its id (`conn.id`). */
  id: number;
  remoteAddress: string;
  remotePort: number;
  /** The request target of its upgrade: path and query, e.g. `/chat?room=lobby&user=ann`. */
  url: string;
  /** The subprotocol agreed, if any. */
  protocol: string | undefined;
  /** When the 101 went out (ms since the epoch). */
  since: number;
  /** The HTTP version it came over: '1.1' (an upgrade) or '2' (an extended CONNECT stream, RFC 8441). */
  http: '1.1' | '2';
  /** Its topics (subscribed by its handler or by `server.subscribe`). */
  topics: string[];
  /** The topics it is present in (`conn.track`), each with its info. */
  presence: Record<string, unknown>;
  /** Bytes read from and written to its socket, the handshake included. */
  bytesIn: number;
  bytesOut: number;
  /** Messages received from it. */
  messagesIn: number;
  /** Data messages sent to it (admitted past backpressure; a batch of pre-encoded frames counts as one). */
  messagesOut: number;
  /** Bytes queued for it and not yet taken by the kernel. */
  buffered: number;
}

/** What one thread reports for `server.connections()` and `server.topics()`. */
export interface EngineReport {
  connections: ConnectionInfo[];
  /** Each topic with subscribers on this thread, and how many. */
  topics: Array<[topic: string, subscribers: number]>;
  /** Threads that did not answer in time (their connections and topics are missing). */
  missing?: number;
}

/** One thing done to a connection from outside handlers (see `ServerControl`). */
export type ControlAction =
  | { close: { code: number; reason: string } }
  | { terminate: true }
  | { subscribe: string }
  | { unsubscribe: string }
  | { signal: unknown };
