import type { Socket } from 'node:net';
import { CloseCode } from '../protocol/close-codes.js';
import type { ProtocolError } from '../protocol/errors.js';
import { checkFrameToWrite, encodeClosePayload } from '../protocol/frame-writer.js';
import type { MessageSink } from '../protocol/message-assembler.js';
import { Opcode, type MessageType } from '../protocol/opcodes.js';
import { LoopData } from '../sender/loop-data.js';
import { FrameSender, type SenderHost } from '../sender/frame-sender.js';
import { Compression } from '../sender/write-data.js';
import { awaitPeerClose } from '../sender/close-timer.js';
import { Session } from '../protocol/session.js';
import { ClientDeflate } from './deflate.js';
import { openHandshake } from './connect.js';
import type { ClientHandler, ClientMessage, ClientOptions } from './options.js';

export type { ClientHandler, ClientMessage, ClientOptions } from './options.js';
import type { DeflateAgreement } from '../protocol/permessage-deflate.js';

/**
 * A WebSocket client on the same protocol core as the server: one session (frame reader, message
 * assembler, close handshake), one writer, one UTF-8 validator. Every frame is masked with a fresh crypto-random key.
 *
 * ```ts
 * const client = await Client.connect('ws://127.0.0.1:9001/chat');
 * client.write('hello');
 * const reply = await client.read();
 * await client.close();
 * ```
 */
export class Client implements MessageSink {
  /** The subprotocol the server chose, if any. */
  readonly protocol: string | undefined;
  /** The Sec-WebSocket-Extensions the server agreed to ('' when none: no compression). */
  readonly extensions: string;
  private readonly deflate: ClientDeflate | null;
  /** Resolves when the TCP connection has ended. */
  readonly ended: Promise<void>;

  private readonly socket: Socket;
  private readonly options: ClientOptions;
  private readonly queue: ClientMessage[] = [];
  private readonly waiters: Array<{ resolve: (m: ClientMessage | null) => void; reject: (e: Error) => void }> = [];
  private drainWaiters: Array<() => void> = [];
  /** Frames in and the close handshake (RFC 6455 7.1): the same sans-I/O session as the server's links. */
  private readonly session = new Session('client');
  /** The write half, the server's own: frames batched per tick (masked here), backpressure admission. */
  private readonly sender: FrameSender;
  private closeDelivered = false;
  private closeQueued = false;
  private autoAnswer = { ping: true, close: true };
  private timer: NodeJS.Timeout | null = null;
  /** A failure's close, waiting for the application to read the messages that came before it. */
  private failing: (() => void) | null = null;

  private constructor(
    socket: Socket,
    protocol: string | undefined,
    leftover: Buffer,
    options: ClientOptions,
    agreement: DeflateAgreement | null,
  ) {
    this.socket = socket;
    this.protocol = protocol;
    this.options = options;
    const deflateOptions = typeof options.perMessageDeflate === 'object' ? options.perMessageDeflate : {};
    this.deflate = agreement ? new ClientDeflate(agreement, deflateOptions) : null;
    this.extensions = agreement?.header ?? '';
    this.session.startReading(this, {
      maxMessageSize: options.maxMessageSize ?? 65536,
      inflate: this.deflate,
      allowRsv1: this.deflate !== null,
    });
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.data(chunk));
    socket.on('close', () => {
      this.socketClosed();
      this.deflate?.close();
    });
    const host: SenderHost = {
      socket,
      // The server's default: max(1 MiB, 2 * maxMessageSize), so echoing the largest accepted message fits.
      limits: {
        maxBackpressure: options.maxBackpressure ?? Math.max(1024 * 1024, 2 * (options.maxMessageSize ?? 65536)),
        backpressurePolicy: options.backpressurePolicy ?? 'close',
      },
      masked: true, // RFC 6455 5.3
      deflate: this.deflate,
      canWrite: () => this.session.canSend && !socket.destroyed,
      overLimit: () => this.overLimit(),
      reused: () => false, // masking copies every payload anyway
      backlogged: () => {},
      drainedBacklog: () => {},
      droppedMessages: () => {},
      countWrite: () => {},
      countDrop: () => {},
    };
    this.sender = new FrameSender(host, new LoopData());
    socket.on('drain', () => {
      this.sender.drained();
      if (this.bufferedAmount === 0) this.wakeDrainWaiters();
    });
    // The socket is paused until after the caller's continuation ran: a readLoop it starts then
    // sees the frames that came with the 101 too (its hooks decide how pings and closes are answered).
    setImmediate(() => {
      if (leftover.length > 0) this.data(leftover);
      socket.resume();
    });
  }

  /**
   * Connects to a `ws://` or `wss://` URL and completes the opening handshake. Rejects with a
   * {@link ClientHandshakeError} subclass naming what went wrong (status, Upgrade, Connection,
   * accept hash, extension, subprotocol, timeout), or the socket's error.
   */
  static connect(url: string | URL, options: ClientOptions = {}): Promise<Client> {
    try {
      return openHandshake(url, options).then((o) => new Client(o.socket, o.protocol, o.rest, options, o.deflate));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // ---- reading --------------------------------------------------------------------------

  /**
   * The next message or control frame from the server; `null` when `timeout` (or the
   * `readTimeout` option) passes first. After the close has been returned, rejects.
   * Pings are answered with a pong automatically; they are still returned here.
   */
  read(timeout = this.options.readTimeout): Promise<ClientMessage | null> {
    const next = this.queue.shift();
    if (next) {
      if (next.type === 'close') {
        this.closeDelivered = true;
        // Replies to what came before have been written: our close frame may follow them now.
        this.failing?.();
      }
      return Promise.resolve(next);
    }
    if (this.closeDelivered) return Promise.reject(new Error('client.read(): the connection is closed'));
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = {
        resolve: (m: ClientMessage | null): void => {
          if (timer) clearTimeout(timer);
          if (m?.type === 'close') this.closeDelivered = true;
          resolve(m);
        },
        reject: (e: Error): void => {
          if (timer) clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.push(waiter);
      // No timer for "wait forever": Node runs setTimeout(Infinity) after 1 ms.
      if (timeout !== undefined && Number.isFinite(timeout) && timeout >= 0) {
        timer = setTimeout(
          () => {
            const i = this.waiters.indexOf(waiter);
            if (i >= 0) this.waiters.splice(i, 1);
            resolve(null);
          },
          Math.min(timeout, 0x7fffffff),
        );
      }
    });
  }

  /**
   * Reads until the connection closes, calling `handler`'s hooks one at a time (websocket.zig's
   * client loop). Hooks the handler defines replace the automatic answers to pings and closes.
   * Resolves after `close` has run, exactly once.
   */
  async readLoop(handler: ClientHandler): Promise<void> {
    if (typeof handler?.serverMessage !== 'function') {
      throw new TypeError('client.readLoop(handler): the handler needs a serverMessage(data, type) method');
    }
    this.autoAnswer = {
      ping: typeof handler.serverPing !== 'function',
      close: typeof handler.serverClose !== 'function',
    };
    try {
      for (;;) {
        const m = (await this.read(Infinity))!;
        if (m.type === 'text' || m.type === 'binary') await handler.serverMessage(m.data, m.type);
        else if (m.type === 'ping') await handler.serverPing?.(m.data);
        else if (m.type === 'pong') await handler.serverPong?.(m.data);
        else if (m.type === 'close') {
          // Only a close frame from the server reaches serverClose: not a TCP end (1006) nor our own failure.
          if (handler.serverClose && m.code !== CloseCode.Abnormal && !m.error) {
            await handler.serverClose(m.code, m.reason);
            if (this.session.canSend) this.answerClose(m.code);
          }
          break;
        }
      }
      await this.ended;
    } finally {
      await handler.close?.();
    }
  }

  private push(m: ClientMessage): void {
    const w = this.waiters.shift();
    if (w) w.resolve(m);
    else this.queue.push(m);
    if (m.type === 'close') {
      // Nothing follows the close: reads still pending reject, as later ones do.
      for (const other of this.waiters.splice(0)) other.reject(new Error('client.read(): the connection is closed'));
    }
  }

  private data(chunk: Buffer): void {
    if (!this.session.reading) return;
    const error = this.session.receive(chunk);
    if (error) this.fail(error);
  }

  onMessage(data: Buffer, type: MessageType): void {
    this.push({ type, data });
  }

  onPing(data: Buffer): void {
    const copy = Buffer.from(data);
    if (this.autoAnswer.ping) this.writeFrame(Opcode.Pong, copy);
    this.push({ type: 'ping', data: copy });
  }

  onPong(data: Buffer): void {
    this.push({ type: 'pong', data: Buffer.from(data) });
  }

  onClose(code: number, reason: string): void {
    this.closeQueued = true;
    this.session.peerClosed();
    if (this.session.canSend && this.autoAnswer.close) this.answerClose(code);
    // The server ends TCP first (RFC 6455 7.1.1; AfterClose.AwaitTcpEnd): do not wait forever.
    if (this.session.closeSent) this.armTimer();
    this.push({ type: 'close', code, reason });
  }

  private answerClose(code: number): void {
    this.sendClose(this.session.answer(code));
    this.armTimer();
  }

  /**
   * Fails the connection: close frame with the error's code, end TCP, and report it to read(). Input
   * stops at once; but messages that arrived before the violation and are not read yet are the
   * application's, and so are its replies to them: our close frame then waits until the application
   * reads past them to this close (or closeTimeout passes), as the server waits for its hooks.
   */
  private fail(error: ProtocolError): void {
    const close = (): void => {
      if (this.failing === null) return;
      this.failing = null;
      this.sendClose(this.session.fail(error));
      this.sender.afterOutbox(() => this.socket.end());
      this.armTimer();
    };
    this.failing = close;
    this.closeQueued = true;
    const unread = this.queue.some((m) => m.type === 'text' || m.type === 'binary');
    this.push({ type: 'close', code: error.closeCode, reason: error.message, error });
    if (this.timer) clearTimeout(this.timer);
    if (unread) this.timer = setTimeout(close, this.options.closeTimeout ?? 5000);
    // A message handed to a waiting read() in this same chunk is answered in the reader's continuation:
    // those run before the next turn of the event loop.
    else setImmediate(close);
  }

  private socketClosed(): void {
    if (this.timer) clearTimeout(this.timer);
    this.sender.discard();
    this.wakeDrainWaiters();
    this.session.socketGone();
    if (!this.closeQueued) {
      this.closeQueued = true;
      this.push({ type: 'close', code: CloseCode.Abnormal, reason: '' });
    }
  }

  /** The server has closeTimeout to end TCP after the close handshake (more while our queued bytes still drain). */
  private armTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    awaitPeerClose(
      this.options.closeTimeout ?? 5000,
      () => this.bufferedAmount,
      () => this.socket.destroy(),
      (timer) => (this.timer = timer),
    );
  }

  // ---- writing --------------------------------------------------------------------------

  /**
   * Sends a text message (websocket.zig's `write`). With permessage-deflate, `compress: false` sends it uncompressed.
   */
  write(data: string | Uint8Array, options?: { compress?: boolean }): boolean {
    return this.message(Opcode.Text, data, options?.compress !== false);
  }

  /** Sends a text message. */
  writeText(data: string | Uint8Array, options?: { compress?: boolean }): boolean {
    return this.message(Opcode.Text, data, options?.compress !== false);
  }

  /** Sends a binary message. */
  writeBin(data: string | Uint8Array, options?: { compress?: boolean }): boolean {
    return this.message(Opcode.Binary, data, options?.compress !== false);
  }

  /** A whole data message: compressed (RSV1) when agreed, allowed and at least the threshold; raw frames never are. */
  private message(opcode: number, data: string | Uint8Array, compress: boolean): boolean {
    if (!this.session.canSend) return false;
    return this.sender.frame(opcode, data, true, compress ? Compression.Auto : Compression.Off);
  }

  /** Sends a ping (at most 125 bytes). */
  writePing(data: string | Uint8Array = ''): boolean {
    return this.writeFrame(Opcode.Ping, data);
  }

  /** Sends a pong (at most 125 bytes). */
  writePong(data: string | Uint8Array = ''): boolean {
    return this.writeFrame(Opcode.Pong, data);
  }

  /**
   * Sends one frame, masked with a fresh key. `fin: false` on a text or binary frame starts a
   * fragmented message, continued with `Opcode.Continuation`. Returns false once closing.
   */
  writeFrame(opcode: number, data: string | Uint8Array, options?: { fin?: boolean }): boolean {
    const fin = options?.fin ?? true;
    const payload = typeof data === 'string' ? Buffer.from(data) : data;
    checkFrameToWrite(opcode, payload.length, fin, 'client.close()');
    if (!this.session.canSend) return false;
    return this.sender.frame(opcode, payload, fin, Compression.Off);
  }

  /** The backpressure limit was hit under the 'close' policy: fail the connection with 1008. */
  private overLimit(): void {
    this.sendClose(
      this.session.closing(
        encodeClosePayload(CloseCode.PolicyViolation, 'backpressure: the server does not read fast enough'),
      ),
    );
    this.armTimer();
  }

  /** Bytes written and not yet taken by the kernel: a server that does not read makes it grow. */
  get bufferedAmount(): number {
    return this.sender.bufferedAmount;
  }

  /**
   * Resolves once the bytes written so far have been taken by the kernel (at once when nothing
   * waits), or the connection has ended. Await it in a loop of large writes to stay under
   * `maxBackpressure`: `if (client.bufferedAmount > limit / 2) await client.drained()`.
   */
  drained(): Promise<void> {
    if (this.bufferedAmount === 0 || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private wakeDrainWaiters(): void {
    for (const w of this.drainWaiters.splice(0)) w();
  }

  /** Sends our close frame; null: none is due (one went already, or the socket is gone). */
  private sendClose(payload: Buffer | null): void {
    if (payload === null) return;
    this.sender.frame(Opcode.Close, payload, true);
    this.sender.flush();
  }

  /**
   * Starts the close handshake with `code` (default 1000) and `reason` (at most 123 bytes), and
   * resolves when the TCP connection has ended (the server ends it, or `closeTimeout` passes).
   */
  close(options: { code?: number; reason?: string } = {}): Promise<void> {
    const payload = encodeClosePayload(options.code ?? 1000, options.reason ?? '');
    if (!this.socket.destroyed && this.session.canSend) {
      this.sendClose(this.session.closing(payload));
      this.armTimer();
    }
    return this.ended;
  }

  /** Whether a close frame was sent or the connection ended. */
  isClosed(): boolean {
    return !this.session.canSend;
  }

  /** Drops the TCP connection without a close handshake. */
  destroy(): void {
    this.socket.destroy();
  }
}
