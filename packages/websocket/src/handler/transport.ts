import type { Resume } from '../pubsub/hub.js';
import type { Member } from '../delivery/wire.js';
import type { TopicLimits } from '../pubsub/subscriptions.js';
import type { Compression, WriteData } from '../sender/write-data.js';

/** Why writes and closes before the 101 throw (one wording for both modes). */
export const WRITE_BEFORE_OPEN = 'cannot write before the handshake completes: write from afterInit or later hooks';

/**
 * Where a {@link Conn} sends its frames: the I/O connection itself when handlers run inline, or
 * a proxy to it from a worker thread. Not for users.
 */
export interface ConnTransport {
  /** Queues one frame; false when the connection is closing or closed (nothing is sent). */
  sendFrame(opcode: number, data: WriteData, fin: boolean, compression?: Compression): boolean;
  /** Queues one frame whose payload is the concatenation of `parts` (`length` bytes in all). */
  sendParts(opcode: number, parts: readonly Uint8Array[], length: number, fin: boolean): boolean;
  /**
   * Queues complete, already encoded frames; `hasData` when they hold data frames (whole messages), not only pings and
   * pongs.
   */
  sendFramed(bytes: Uint8Array, hasData: boolean): boolean;
  /** Starts the close handshake with an already encoded close payload. */
  sendClose(payload: Buffer): void;
  /** Whether a close frame was sent or the socket is gone. */
  readonly closed: boolean;
  /** Whether the handshake completed: before it, writing and closing throw. */
  readonly opened: boolean;
  /** The connection's backpressure limit (0: none): writes held behind an open fragmented message count against it. */
  readonly maxBackpressure: number;
  /** Bytes queued for the peer and not yet taken by the kernel. */
  readonly bufferedAmount: number;
  /** The server's `pubsub` limits. */
  readonly topicLimits: TopicLimits;
  /** Pub/sub, carried out by the thread that owns the topics (checked by the Conn first). */
  subscribe(topic: string, resume?: Resume): void;
  unsubscribe(topic: string): void;
  publish(topic: string, opcode: number, data: WriteData, self: boolean): void;
  broadcast(opcode: number, data: WriteData, self: boolean): void;
  sendTo(id: number, opcode: number, data: WriteData): void;
  subscriberCount(topic: string): Promise<number>;
  /** Presence (`conn.track`), carried out by the thread that owns the topics; `info` is JSON, checked. */
  track(topic: string, info: string): void;
  untrack(topic: string): void;
  members(topic: string): Promise<Member[]>;
}
