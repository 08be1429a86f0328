/**
 * The state of one WebSocket connection after its opening handshake, the same for both roles and
 * free of I/O (RFC 6455 5.5.1, 7.1): whether close frames went each way and who sent first, what may
 * still be sent, what answers a close, and who ends TCP. The server's connection and the client keep
 * one each; they do the writing and the timing, and ask the session what is due. (The model is
 * python-websockets' sans-I/O `Protocol`.)
 */
import { CloseCode, fitCloseReason } from './close-codes.js';
import type { ProtocolError } from './errors.js';
import { encodeClosePayload } from './frame-writer.js';

/** Where a connection is in its life after the opening handshake. */
export const SessionState = {
  /** No close frame either way: data and control frames flow. */
  Open: 0,
  /** One side has sent its close frame. */
  Closing: 1,
  /** Both close frames were exchanged, or the TCP connection is gone. */
  Closed: 2,
} as const;

/** One of the {@link SessionState} values. */
export type SessionState = (typeof SessionState)[keyof typeof SessionState];

/** What the side that holds the session does once its close frame has gone out. */
export const AfterClose = {
  /** Wait for the peer's close frame, at most the close timeout. */
  AwaitPeer: 0,
  /** Both close frames are exchanged: the server ends TCP now (RFC 6455 7.1.1). */
  EndTcp: 1,
  /** Both close frames are exchanged: the client waits for the server to end TCP, at most the close timeout. */
  AwaitTcpEnd: 2,
} as const;

/** One of the {@link AfterClose} values. */
export type AfterClose = (typeof AfterClose)[keyof typeof AfterClose];

const EMPTY = Buffer.alloc(0);

/** The close handshake and what it allows, for one connection (server or client side). */
export class Session {
  /** 'server' or 'client': the server ends TCP once the close frames are exchanged, the client waits for it. */
  readonly role: 'server' | 'client';
  private sent = false;
  private received = false;
  private gone = false;
  private ending = false;
  private first: 'us' | 'peer' | null = null;

  constructor(role: 'server' | 'client') {
    this.role = role;
  }

  get state(): SessionState {
    if (this.gone || (this.sent && this.received)) return SessionState.Closed;
    return this.sent || this.received ? SessionState.Closing : SessionState.Open;
  }

  /** Whether our close frame went out (nothing may follow it: RFC 6455 5.5.1). */
  get closeSent(): boolean {
    return this.sent;
  }

  /** Whether the peer's close frame arrived. */
  get closeReceived(): boolean {
    return this.received;
  }

  /** Who started the close handshake, if anyone has. */
  get closedFirstBy(): 'us' | 'peer' | null {
    return this.first;
  }

  /** Whether frames may still be sent: not after our close frame, nor once TCP is gone. */
  get canSend(): boolean {
    return !this.sent && !this.gone;
  }

  /**
   * The peer's close frame arrived. True when it answers ours (the handshake is complete: see
   * {@link Session.afterClose}); false when the peer started it, and ours is due: {@link Session.answer}.
   */
  peerClosed(): boolean {
    this.received = true;
    this.first ??= 'peer';
    return this.sent;
  }

  /**
   * Records our close frame with `payload` about to go out; null when none may (one went already, or
   * TCP is gone): then send nothing.
   */
  closing(payload: Buffer): Buffer | null {
    if (!this.canSend) return null;
    this.sent = true;
    this.first ??= 'us';
    return payload;
  }

  /** Our close frame for `code` and `reason` (see {@link Session.closing}). */
  close(code: number = CloseCode.Normal, reason = ''): Buffer | null {
    return this.canSend ? this.closing(encodeClosePayload(code, reason)) : null;
  }

  /** Our answer to the peer's close with `code`: its code echoed, or an empty payload when it sent none (1005). */
  answer(code: number): Buffer | null {
    return this.closing(code === CloseCode.NoStatus ? EMPTY : encodeClosePayload(code));
  }

  /** Our close frame failing the connection for `error`: its close code, and as much of its message as fits. */
  fail(error: ProtocolError): Buffer | null {
    return this.closing(encodeClosePayload(error.closeCode, fitCloseReason(error.message)));
  }

  /** What follows our close frame (or a failure): see {@link AfterClose}. */
  afterClose(): AfterClose {
    if (!this.received) return AfterClose.AwaitPeer;
    return this.role === 'server' ? AfterClose.EndTcp : AfterClose.AwaitTcpEnd;
  }

  /** True the first time our side starts ending TCP (it is done once). */
  endingTcp(): boolean {
    if (this.ending) return false;
    this.ending = true;
    return true;
  }

  /** The TCP connection is gone: nothing more may be sent. */
  socketGone(): void {
    this.gone = true;
  }
}
