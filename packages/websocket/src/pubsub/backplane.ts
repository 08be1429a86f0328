import type { Position, ResolvedHistoryRule } from '../delivery/history.js';
import type { Member } from '../delivery/wire.js';
import type { Logger } from '../logging/log.js';

/**
 * How pub/sub reaches beyond one process: a backplane carries published messages between servers.
 * The hub tells it which topics have local subscribers and hands it every local publish; it hands back
 * what other servers published. Messages cross as messages (text or binary, and the payload), never as
 * WebSocket frames: the receiving server frames them itself, so nothing on the broker can put a frame
 * of its choosing on a client's wire. Redis is built in (`RedisBackplane`); NATS or Postgres
 * LISTEN/NOTIFY can implement the same calls.
 */
export interface Backplane {
  /** A topic got its first local subscriber: receive it from other servers from now on. */
  subscribe(topic: string): void;
  /** Its last local subscriber left. */
  unsubscribe(topic: string): void;
  /** A message published here; null topic: a broadcast. The payload is the caller's: copy what you keep. */
  publish(topic: string | null, binary: boolean, payload: Buffer): void;
  /**
   * Set by the server: a message another server published (null topic: a broadcast). A text message's
   * payload must be valid UTF-8 (the server delivers one that is not as binary).
   */
  onMessage: ((topic: string | null, binary: boolean, payload: Buffer) => void) | null;
  /**
   * Optional, for acting on connections of other servers (`server.close(id)` and the like, `server.report()`):
   * claims a node number unique among the servers on this broker, from 1 to 2^21 - 1, and from then on receives
   * messages sent to it. The server calls it once, before it accepts connections, and puts the number in its
   * connection ids. It must resolve even when the broker is away (with a number picked otherwise).
   */
  join?(): Promise<number>;
  /**
   * Sends `payload` to the server that joined as `node`, or to every other server (null); resolves with how many
   * received it (0 when the broker is away). Required with `join`.
   */
  tell?(node: number | null, payload: Buffer): Promise<number>;
  /** Set by the server, with `join`: a message another server sent to this one or to all. */
  onTell?: ((payload: Buffer) => void) | null;
  /**
   * Optional, for delivery across servers (docs/delivery.md): gives a message published to a topic with history its
   * position in one order for every server, keeps it within `rule`, and carries it to every server (this one too)
   * through `onStamped`. `except` (0: none) is a connection of this server to skip.
   */
  sequence?(topic: string, binary: boolean, payload: Buffer, except: number, rule: ResolvedHistoryRule): void;
  /**
   * With `sequence`: the topic's epoch and last offset, and with `since` the messages kept after it; null when the
   * broker cannot answer now.
   */
  history?(topic: string, since: Position | null, rule: ResolvedHistoryRule): Promise<BrokerHistory | null>;
  /** Set by the server, with `sequence`: a message with its position (`except`: 0 unless this server published it). */
  onStamped?: ((topic: string, message: StampedPublication) => void) | null;
  /**
   * Optional, for presence across servers (docs/delivery.md): connection `id` of this server is present in `topic`
   * with `info` (JSON), until `untrack`; the other servers hear it through `onPresence`. A server that dies without
   * untracking must not stay present for long (Redis: a few seconds).
   */
  track?(topic: string, id: number, info: string): void;
  untrack?(topic: string, id: number): void;
  /** With `track`: who is present in `topic` on every server (null: the broker cannot say now). */
  members?(topic: string): Promise<Member[] | null>;
  /** Set by the server, with `track`: a join or leave on another server (or of a server that died). */
  onPresence?: ((kind: 'join' | 'leave', topic: string, id: number, info: string) => void) | null;
  /**
   * Called once by the server that uses it, with the server's logger. Optional; a backplane serves one
   * server (the server refuses one that serves another already).
   */
  attach?(logger: Logger): void;
  /** Counters for `server.stats().backplane`. */
  stats(): BackplaneStats;
  /** Ends its connections (the server's stop calls it). */
  close(): void;
}

/** What a broker keeps of a topic (see {@link Backplane.history}). */
export interface BrokerHistory {
  epoch: string;
  /** The offset of the topic's last message (0: none yet). */
  last: number;
  /** The messages after the position asked for that are still kept, oldest first (null: none asked for). */
  entries: Array<{ offset: number; binary: boolean; at: number; payload: Buffer }> | null;
}

/** A message with its position, as a broker carries it to every server (see {@link Backplane.onStamped}). */
export interface StampedPublication {
  position: Position;
  except: number;
  binary: boolean;
  payload: Buffer;
}

/** What a backplane reports. */
export interface BackplaneStats {
  /** Connected to its broker and usable now (authenticated, subscribed). */
  connected: boolean;
  /** Messages sent to other servers, and received from them. */
  published: number;
  received: number;
  /**
   * Messages that could not be sent: the broker was away or not reading and the bounded queue was full; or sent on a
   * connection that dropped before the broker answered (they may or may not have gone out). Redis pub/sub is at most
   * once.
   */
  lost: number;
  /** Messages the broker took but reported reaching no other server (no server had subscribers then). */
  unheard?: number;
  /** Error replies from the broker (each also logged at error level). */
  errors?: number;
  /** Reconnections since the start. */
  reconnects: number;
  /** On a Redis Cluster: redirections followed (MOVED and ASK, as slots move between masters). */
  redirects?: number;
  /**
   * Publishes to topics with history sent again because their connection dropped before the broker answered (the
   * broker skips those it ran already: none is lost or delivered twice).
   */
  resent?: number;
}

/** Backplanes in use by a server: one serves one server. */
const inUse = new WeakSet<Backplane>();

/** Claims `backplane` for a server; throws when another server has it. */
export function claimBackplane(backplane: Backplane, logger: Logger): void {
  if (inUse.has(backplane)) {
    throw new TypeError(
      'invalid config backplane: this backplane serves another Server already. Give each Server its own ' +
        '(new RedisBackplane(url) per server: they share topics through the broker)',
    );
  }
  inUse.add(backplane);
  backplane.attach?.(logger);
}

/** The payload of a frame that wsz made (unmasked, FIN, one frame), and whether it is binary. */
export function messageOfFrame(frame: Uint8Array): { binary: boolean; payload: Buffer } {
  const n = frame[1]! & 0x7f;
  const head = n < 126 ? 2 : n === 126 ? 4 : 10;
  const bytes = Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.length);
  return { binary: (frame[0]! & 0x0f) === 2, payload: bytes.subarray(head) };
}
