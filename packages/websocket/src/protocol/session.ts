/**
 * The state of one WebSocket connection after its opening handshake, the same for both roles and
 * free of I/O (RFC 6455 5.5.1, 7.1): bytes in (frames parsed and checked, messages assembled, handed
 * to a sink as events), whether close frames went each way and who sent first, what may still be
 * sent, what answers a close, and who ends TCP. The server's connection and the client keep one
 * each; they do the socket I/O and the timing, and ask the session what is due. (The model is
 * python-websockets' sans-I/O `Protocol`.)
 */
import { CloseCode, fitCloseReason } from './close-codes.js';
import type { ProtocolError } from './errors.js';
import { FrameReader, type FrameSink } from './frame-reader.js';
import { encodeClosePayload } from './frame-writer.js';
import { MessageAssembler, type MessageAssemblerOptions, type MessageSink } from './message-assembler.js';

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

/** How a {@link Session} reads: the assembler's options, and what else sees frames on their way. */
export interface SessionReading extends MessageAssemblerOptions {
  /** Accept RSV1 on data frames (permessage-deflate was agreed). */
  allowRsv1: boolean;
  /** Wraps the assembler as the frame reader's sink (for instance to count frames against a rate limit). */
  frames?: (assembler: FrameSink) => FrameSink;
}

/** The close handshake and what it allows, for one connection (server or client side). */
export class Session {
  /** 'server' or 'client': the server ends TCP once the close frames are exchanged, the client waits for it. */
  readonly role: 'server' | 'client';
  private sent = false;
  private received = false;
  private gone = false;
  private ending = false;
  private first: 'us' | 'peer' | null = null;
  private reader: FrameReader | null = null;
  private assembler: MessageAssembler | null = null;

  constructor(role: 'server' | 'client') {
    this.role = role;
  }

  /**
   * Starts reading: frames parsed from {@link Session.receive}'s bytes become events on `sink`
   * (messages, pings, pongs, the peer's close). A server starts on the first frame bytes, so idle
   * connections never pay for a reader.
   */
  startReading(sink: MessageSink, options: SessionReading): void {
    const assembler = (this.assembler = new MessageAssembler(sink, options));
    const frames = options.frames === undefined ? assembler : options.frames(assembler);
    this.reader = new FrameReader(frames, { role: this.role, allowRsv1: options.allowRsv1 });
  }

  /** Whether {@link Session.startReading} ran. */
  get readingStarted(): boolean {
    return this.reader !== null;
  }

  /** Whether input is still read: not after a protocol error, the peer's close frame or {@link Session.stopReading}. */
  get reading(): boolean {
    return this.reader !== null && !this.reader.failed;
  }

  /**
   * Bytes from the peer (masked payloads are unmasked in place): their events go to the sink, in
   * order. Returns the first protocol error met, after which all input is ignored; the caller
   * fails the connection with it ({@link Session.fail}).
   */
  receive(chunk: Buffer): ProtocolError | undefined {
    return this.reader!.push(chunk);
  }

  /** Ignores all further input (a limit the caller enforces was hit). */
  stopReading(): void {
    this.reader?.stop();
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
    this.reader?.stop(); // nothing after a close frame is parsed
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

  /** The TCP connection is gone: nothing more may be sent, and a partly read message is released. */
  socketGone(): void {
    this.gone = true;
    this.assembler?.reset();
    this.reader?.stop();
  }
}
