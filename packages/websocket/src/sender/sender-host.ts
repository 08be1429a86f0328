import type { Socket } from 'node:net';

/** Compression as the sender needs it (permessage-deflate, agreed in the handshake). */
export interface SenderDeflate {
  /** Whether a whole message of `length` bytes is compressed. */
  worthCompressing(length: number): boolean;
  /** The deflated payload of a whole message. */
  compress(data: Uint8Array): Buffer;
  /** A compressed message went out (stats). */
  sent(): void;
}

/**
 * What the sender needs from its connection, server or client side: the socket, the backpressure
 * limit and policy, whether frames are masked, and where its reports go.
 */
export interface SenderHost {
  readonly socket: Socket;
  /** Bytes that may wait unsent before `backpressurePolicy` applies to the next data message (0: no limit). */
  readonly limits: { readonly maxBackpressure: number; readonly backpressurePolicy: 'close' | 'drop' };
  /** A client's sender: every frame masked with a fresh key, so every payload is copied (masking changes it). */
  readonly masked: boolean;
  /** permessage-deflate, when agreed: whole data messages from its threshold are compressed. */
  readonly deflate: SenderDeflate | null;
  /** Whether frames may go out now: throws before the handshake completes, false once closing. */
  canWrite(): boolean;
  /** The backpressure limit was hit under the 'close' policy. */
  overLimit(): void;
  /** Whether `data` lives in reused memory (a pool buffer, shared memory): copied, never referenced. */
  reused(data: Uint8Array): boolean;
  /** Bytes stayed queued after a flush (the peer reads slowly); 'drain' follows. */
  backlogged(bytes: number): void;
  /** The queue emptied after a backlog. */
  drainedBacklog(): void;
  /** The 'drop' policy dropped `count` data messages since the last report. */
  droppedMessages(count: number): void;
  /** Counters: a socket write issued, a data message dropped. */
  countWrite(bytes: number): void;
  countDrop(): void;
}
