import { checkFrameToWrite, checkServerFrames, encodeClosePayload } from '../protocol/frame-writer.js';
import { Opcode, opcodeIsControl, type MessageType } from '../protocol/opcodes.js';
import { MessageOrder } from './message-order.js';
import { Writer, type WriterOptions } from './writer.js';

/** The owner of raw `writeFrame` calls, for message order. */
const RAW = Symbol('writeFrame');

/** Why writes and closes before the 101 throw (one wording for both modes). */
export const WRITE_BEFORE_OPEN = 'cannot write before the handshake completes: write from afterInit or later hooks';

/** Data a write accepts: text (UTF-8 encoded on the way out) or bytes. */
export type WriteData = string | Uint8Array;

/** Options of {@link Conn.close}. */
export interface CloseOptions {
  /** Close code (default 1000): 1000-1003, 1007-1014 or 3000-4999. */
  code?: number;
  /** Reason, at most 123 bytes of UTF-8. */
  reason?: string;
}

/**
 * Where a {@link Conn} sends its frames: the I/O connection itself when handlers run inline, or
 * a proxy to it from a worker thread. Not for users.
 */
export interface ConnTransport {
  /** Queues one frame; false when the connection is closing or closed (nothing is sent). */
  sendFrame(opcode: number, data: WriteData, fin: boolean): boolean;
  /** Queues one frame whose payload is the concatenation of `parts` (`length` bytes in all). */
  sendParts(opcode: number, parts: readonly Uint8Array[], length: number, fin: boolean): boolean;
  /** Queues complete, already encoded frames; `hasData` when they hold data frames (whole messages), not only pings and pongs. */
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
}

/**
 * A WebSocket connection as handlers see it. Writes are queued and flushed together at the end
 * of the current tick, so several writes from one hook leave in one system call.
 *
 * Every write returns false, and sends nothing, once the connection is closing or closed: a
 * handler racing a disconnect need not check first.
 */
export class Conn {
  /** A number unique among this server's connections. */
  readonly id: number;
  /** The peer's IP address ('' on a Unix socket). */
  readonly remoteAddress: string;
  /** The peer's port (0 on a Unix socket). */
  readonly remotePort: number;
  /** The subprotocol agreed in the handshake, or undefined. */
  protocol: string | undefined;
  private readonly transport: ConnTransport;
  private readonly order: MessageOrder;

  /** Built by the server; handlers receive theirs in `init`. */
  constructor(id: number, remoteAddress: string, remotePort: number, transport: ConnTransport) {
    this.id = id;
    this.remoteAddress = remoteAddress;
    this.remotePort = remotePort;
    this.transport = transport;
    this.order = new MessageOrder(transport);
  }

  /** Sends `data` as a text message (websocket.zig's `write`). */
  write(data: WriteData): boolean {
    return this.order.frame(Opcode.Text, data, true);
  }

  /** Sends `data` as a text message. Bytes must be valid UTF-8. */
  writeText(data: WriteData): boolean {
    return this.order.frame(Opcode.Text, data, true);
  }

  /** Sends `data` as a binary message. */
  writeBin(data: WriteData): boolean {
    return this.order.frame(Opcode.Binary, data, true);
  }

  /** Sends a ping (payload at most 125 bytes). */
  writePing(data: WriteData = ''): boolean {
    return this.writeFrame(Opcode.Ping, data);
  }

  /** Sends a pong (payload at most 125 bytes), e.g. from a `clientPing` hook. */
  writePong(data: WriteData = ''): boolean {
    return this.writeFrame(Opcode.Pong, data);
  }

  /**
   * Sends one frame with any data or control opcode. With `fin: false` on a text or binary
   * frame, it starts a fragmented message to be continued with `Opcode.Continuation` frames;
   * other data writes made meanwhile are held and sent after its last frame (RFC 6455 5.4).
   * Throws a RangeError for an opcode other than 0-2, 9 or 10, a control frame over 125 bytes or
   * without FIN, a continuation with no message open, or a new message inside an open one.
   */
  writeFrame(opcode: number, data: WriteData, options?: { fin?: boolean }): boolean {
    const fin = options?.fin ?? true;
    // Only control frames need their length checked: skip measuring text for data frames.
    const length = opcodeIsControl(opcode) ? (typeof data === 'string' ? Buffer.byteLength(data) : data.length) : 0;
    checkFrameToWrite(opcode, length, fin, 'conn.close()');
    return this.order.frame(opcode, data, fin, RAW);
  }

  /**
   * A {@link Writer} that builds one message of `type` from many writes and sends it on
   * `flush()`; with `fragmentSize`, it sends fragments as they fill.
   */
  writeBuffer(type: MessageType = 'text', options?: WriterOptions): Writer {
    return new Writer(this.order, this.transport, type === 'text' ? Opcode.Text : Opcode.Binary, options);
  }

  /**
   * Sends frames built beforehand with `frameText` / `frameBin` (no encoding work per send: the
   * building block of broadcast). Throws a TypeError on bytes that are not whole messages of
   * complete unmasked frames (pings and pongs may stand between them; close frames may not: use
   * {@link Conn.close}).
   */
  writeFramed(frame: Uint8Array): boolean {
    const summary = checkServerFrames(frame);
    if (typeof summary === 'string') throw new TypeError(`writeFramed: ${summary}`);
    return this.order.framed(frame, summary.dataFrames > 0);
  }

  /**
   * Bytes written to this connection and not yet taken by the kernel: a client that does not read
   * makes it grow. (In a worker thread, the figure the I/O thread last reported.)
   */
  get bufferedAmount(): number {
    return this.transport.bufferedAmount + this.order.pending;
  }

  /**
   * Starts the close handshake: sends a close frame with `code` (default 1000) and `reason`,
   * then ends the TCP connection when the peer answers, or after `closeTimeout`. Throws a
   * RangeError for a code that may not be sent or a reason over 123 bytes, and an Error when called
   * from `init` (throw from `init` to refuse the upgrade instead). Closing twice is a no-op.
   */
  close(options: CloseOptions = {}): void {
    if (!this.transport.opened) {
      throw new Error('cannot close before the handshake completes: to refuse the upgrade, throw from init (a HandshakeError, or an error with a `status`, e.g. 403)');
    }
    const payload = encodeClosePayload(options.code ?? 1000, options.reason ?? '');
    if (this.transport.closed) return;
    this.transport.sendClose(payload);
  }

  /** Whether the connection is closing or closed (no more writes go out). */
  isClosed(): boolean {
    return this.transport.closed;
  }
}
