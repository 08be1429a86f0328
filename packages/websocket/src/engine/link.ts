import type { Socket } from 'node:net';
import { CloseCode } from '../protocol/close-codes.js';
import type { HandshakeError } from '../protocol/errors.js';
import { RateLimitedFrames } from './rate-limit.js';
import { encodeClosePayload } from '../protocol/frame-writer.js';
import { type MessageSink } from '../protocol/message-assembler.js';
import { Opcode, type MessageType } from '../protocol/opcodes.js';
import { Conn } from '../handler/conn.js';
import { type Compression, type WriteData } from '../sender/write-data.js';
import { type ConnTransport } from '../handler/transport.js';
import { FrameSender } from '../sender/frame-sender.js';
import { LinkOutput, type OutputLink } from './link-output.js';
import type { Handshake } from '../handler/handshake.js';
import { Session } from '../protocol/session.js';
import { CloseHandshake, type CloseHost } from './close-handshake.js';
import type { Hub, Subscriber } from '../pubsub/hub.js';
import type { PreparedMessage } from '../sender/prepared.js';
import { LinkTopics } from './link-topics.js';
import { overHttp2 } from './h2-connect.js';
import type { TopicLimits } from '../pubsub/subscriptions.js';
import type { ConnectionDeflate } from './deflate.js';
import { WRITE_BEFORE_OPEN } from '../handler/transport.js';
import { Liveness, Verdict, verdictLine } from './liveness.js';
import { Opening, type OpeningHost } from './opening.js';
import { listenToSocket } from './socket-events.js';
import { publishHookFailed } from './link-events.js';
import { ReadGate, type GatedLink } from './read-gate.js';
import type { ServerCore } from './server-core.js';

const enum Phase {
  /** Reading the upgrade request. */
  Request,
  /** `init` is running; the socket is paused. */
  Init,
  /** The handshake is done: frames flow. */
  Open,
  /** Refused with an HTTP error, or the socket is gone: nothing more is read or written. */
  Done,
}

const EMPTY = Buffer.alloc(0);

/**
 * The link: one accepted socket through its whole life (the engine's word; handlers hold its Conn):
 * the upgrade request, `init`, the 101, then frames (read through the protocol core, control frames
 * answered here), the close handshake (its state in a Session), liveness, and the end. Handler hooks
 * reach it through the dispatcher and the public {@link Conn}. Writes go through its {@link FrameSender}.
 */
export class Link
  extends LinkTopics
  implements ConnTransport, MessageSink, OutputLink, Subscriber, OpeningHost, CloseHost, GatedLink
{
  readonly id: number;
  readonly server: ServerCore;
  readonly socket: Socket;
  readonly conn: Conn;
  readonly sender: FrameSender;
  /** The peer's address and port, for log lines. */
  readonly peer: string;
  slot: unknown = null;
  /** permessage-deflate, when the handshake agreed on it. */
  deflate: ConnectionDeflate | null = null;

  private phase = Phase.Request;
  /** The opening handshake, until the 101 (kept after a refusal, for its timer). */
  private opening: Opening | null;
  private handlerOpen = false;
  /** Counted in `server.upgraded`. */
  private counted = false;

  /** Frames in and the close handshake (RFC 6455 7.1): the sans-I/O session, the same as the client's. */
  private readonly session = new Session('server');
  /** The close handshake's writing and timers, around the session; its record feeds events and reports. */
  readonly closing: CloseHandshake;
  /** Whether the socket is read (not while the hooks are behind, nor while the relay is congested). */
  private readonly gate: ReadGate;
  /** Bytes were read since the last liveness sweep. */
  private active = false;
  private liveness: Liveness | null = null;

  /**
   * @param readRequest read the upgrade request from the socket (a socket from a listener); false
   *   when it arrives parsed, through {@link Link.requested} (an http server's 'upgrade' event)
   * @param deadline when the handshake (TLS, request and init) must be done, as a Date.now() value;
   *   default: handshake.timeout from now
   */
  constructor(
    id: number,
    socket: Socket,
    server: ServerCore,
    readRequest = true,
    deadline = Date.now() + server.config.handshake.timeout,
  ) {
    super();
    this.id = id;
    this.socket = socket;
    this.server = server;
    this.conn = new Conn(id, socket.remoteAddress ?? '', socket.remotePort ?? 0, this);
    this.peer = `${this.conn.remoteAddress}:${this.conn.remotePort}`;
    this.sender = new FrameSender(new LinkOutput(this), server.loop);
    this.closing = new CloseHandshake(this, this.session);
    this.gate = new ReadGate(this);
    listenToSocket(socket, this, readRequest);
    this.opening = new Opening(this, readRequest, deadline);
  }

  /** Every chunk the socket reads. */
  data(chunk: Buffer): void {
    if (this.phase === Phase.Open) {
      const session = this.session;
      if (!session.readingStarted) this.startReading();
      else if (!session.reading) return; // after a close frame or a protocol error, input is discarded
      const loop = this.server.loop;
      loop.noteReceived(chunk);
      this.active = true;
      loop.reading = this.sender;
      const error = session.receive(chunk);
      loop.reading = null;
      if (error) this.closing.fail(error); // RFC 6455 7.1.7, once the hooks already running settle
      this.sender.flush();
    } else if (this.phase !== Phase.Done) {
      this.opening!.data(chunk);
    }
  }

  // ---- the opening handshake (in its own room: opening.ts) ------------------------------------

  /**
   * The upgrade request, parsed elsewhere (an http server's 'upgrade' event), with the bytes that
   * followed it: the same step a request read from the socket takes next.
   */
  requested(upgrade: Handshake['request'] | HandshakeError, rest: Buffer): void {
    this.opening!.requested(upgrade, rest);
  }

  /** The server is at maxConn: answer 503 at once, without reading the request, and close. */
  overCapacity(): void {
    this.opening!.overCapacity();
  }

  // What the opening handshake may do to this link (OpeningHost; the link is its own host: no closures per link).

  /** The handshake agreed on permessage-deflate. */
  agreed(deflate: ConnectionDeflate): void {
    this.deflate = deflate;
  }

  /** The request is valid: counted against maxConn from here; the handler's `init` runs. */
  init(handshake: Handshake): void | Promise<void> {
    this.counted = true;
    this.server.upgraded++;
    if (overHttp2(this.socket)) this.server.http2++;
    this.server.lifecycle();
    this.phase = Phase.Init;
    return this.server.dispatcher.open(this, handshake, this.server.app);
  }

  /** Refused with an HTTP answer: nothing more is read or written as WebSocket. */
  refused(): void {
    this.phase = Phase.Done;
  }

  /** `init` accepted: the 101 goes out and frames flow. */
  open(protocol: string | undefined, response: string, leftover: Buffer[] | null, url: string): void {
    this.handlerOpen = true;
    this.opening = null;
    if (this.phase !== Phase.Init) {
      // The socket went away while an async init ran: the handler exists, so it gets its close.
      this.server.dispatcher.closed(this);
      return;
    }
    this.conn.protocol = protocol;
    this.socket.write(response, 'latin1');
    this.phase = Phase.Open;
    this.server.opened(this.id);
    this.closing.record.opened(this.conn, url, this.server.tally);
    this.liveness = new Liveness(Date.now());
    this.server.dispatcher.afterInit(this);
    if (leftover) for (const chunk of leftover) this.data(chunk);
    this.gate.opened();
  }

  /** The session's reader, started on the first frame bytes: idle connections never pay for it. */
  private startReading(): void {
    const server = this.server;
    const limit = server.config.rateLimit;
    this.session.startReading(this, {
      maxMessageSize: server.config.maxMessageSize,
      buffers: server.pool,
      handOver: server.ownCopies,
      inflate: this.deflate,
      allowRsv1: this.deflate !== null,
      frames: limit === null ? undefined : (assembler) => new RateLimitedFrames(assembler, limit),
    });
  }

  // ---- frames from the peer (MessageSink) -----------------------------------------------

  onMessage(data: Buffer, type: MessageType, owned: boolean): void {
    this.server.messages++;
    this.closing.record.message(this.id, data.length, type);
    if (this.session.closeSent) {
      if (owned) this.server.pool.release(data);
      return;
    }
    if (owned && this.server.ownCopies) {
      // Gathered in a pool buffer that will hold other messages: inline hooks get a copy of their own
      // (with worker threads, the worker makes it, off this thread).
      const copy = Buffer.from(data);
      this.server.pool.release(data);
      this.server.dispatcher.message(this, copy, type, false);
      return;
    }
    // A message in memory of its own (gathered across reads, or inflated) never changes either: echoing
    // or forwarding it costs no copy, as for a view of a read.
    if (!owned) this.server.loop.noteMessage(data);
    this.server.dispatcher.message(this, data, type, owned);
  }

  onPing(data: Buffer): void {
    if (this.session.closeSent) return;
    if (this.server.dispatcher.hooks.clientPing) this.server.dispatcher.ping(this, data);
    else this.sendFrame(Opcode.Pong, data, true);
  }

  onPong(data: Buffer): void {
    if (this.server.dispatcher.hooks.clientPong) this.server.dispatcher.pong(this, data);
  }

  onClose(code: number, reason: string): void {
    this.closing.peerClosed(code, reason);
  }

  /** The clientClose hook is done: the close handshake the peer started completes, echoing its code. */
  clientCloseDone(code: number): void {
    this.closing.answer(code);
  }

  eventStarted(): void {
    this.closing.eventStarted();
  }

  eventSettled(): void {
    this.closing.eventSettled();
  }

  // ---- writes (ConnTransport, through the sender) -----------------------------------------

  get closed(): boolean {
    return this.session.closeSent || this.phase === Phase.Done;
  }

  /** The handshake completed (or the socket is gone after it did): closing and writing are allowed. */
  get opened(): boolean {
    return this.phase === Phase.Open || (this.phase === Phase.Done && this.handlerOpen);
  }

  get bufferedAmount(): number {
    return this.sender.bufferedAmount;
  }

  get maxBackpressure(): number {
    return this.server.config.maxBackpressure;
  }

  // ---- what the sender asks the link (the rest: LinkOutput) -------------------------------

  canWrite(): boolean {
    if (this.phase === Phase.Open && !this.session.closeSent) return true;
    if (this.phase === Phase.Init || this.phase === Phase.Request) throw new Error(WRITE_BEFORE_OPEN);
    return false;
  }

  overLimit(): void {
    this.sendClose(encodeClosePayload(CloseCode.PolicyViolation, 'backpressure: the client does not read fast enough'));
  }

  sendFrame(opcode: number, data: WriteData, fin: boolean, compression?: Compression): boolean {
    return this.sender.frame(opcode, data, fin, compression);
  }

  sendInPlace(opcode: number, data: Uint8Array, fin: boolean, done: () => void, compression?: Compression): boolean {
    return this.sender.inPlace(opcode, data, fin, done, compression);
  }

  sendParts(opcode: number, parts: readonly Uint8Array[], length: number, fin: boolean): boolean {
    return this.sender.parts(opcode, parts, length, fin);
  }

  sendFramed(bytes: Uint8Array, hasData: boolean): boolean {
    return this.sender.framed(bytes, hasData);
  }

  sendClose(payload: Buffer): void {
    this.closing.close(payload);
  }

  // What the close handshake may do to this link (CloseHost) and the read gate ask (GatedLink).

  /** Past the 101 and the socket still there. */
  isOpen(): boolean {
    return this.phase === Phase.Open;
  }

  /** Our close frame went out. */
  closeSent(): boolean {
    return this.session.closeSent;
  }

  get hasClientCloseHook(): boolean {
    return this.server.dispatcher.hooks.clientClose;
  }

  clientCloseHook(code: number, reason: string): void {
    this.server.dispatcher.clientClose(this, code, reason);
  }

  closeQueued(): void {
    if (this.topics !== null || this.tracked !== null) this.server.hub.unsubscribeAll(this);
    // Hooks see the connection closing at once (writes return false, queued messages are skipped),
    // before the peer can have our close frame.
    this.server.dispatcher.closing(this, this.closing.hooksRunning);
    this.gate.drain();
  }

  // ---- pub/sub (ConnTransport, through the server's hub) -----------------------------------

  override get topicLimits(): TopicLimits {
    return this.server.config.pubsub;
  }

  /** A message prepared for many connections (Subscriber): refused unless open and not closing. */
  override deliver(message: PreparedMessage): boolean {
    if (this.phase !== Phase.Open || this.session.closeSent) return false;
    const compressed = this.deflate?.compressedFrame(message) ?? null;
    if (compressed === null) return this.sender.shared(message.frame);
    const queued = this.sender.shared(compressed);
    if (queued) this.deflate!.sent();
    return queued;
  }

  protected get hub(): Hub {
    return this.server.hub;
  }

  protected get joinable(): boolean {
    return (this.phase === Phase.Open || this.phase === Phase.Init) && !this.session.closeSent;
  }

  protected throttle(): void {
    this.gate.throttle(this.server.hub);
  }

  // ---- flow control and hook failures (DispatchTarget) ----------------------------------

  releaseMessage(data: Buffer): void {
    this.server.pool.release(data);
  }

  hookFailed(hook: string, error: unknown): void {
    const closing = this.phase === Phase.Open && !this.session.closeSent;
    publishHookFailed(this.id, hook, error);
    this.server.log.error(
      `connection ${this.id}: ${hook} hook failed; ${closing ? 'closing with 1011' : 'the connection had ended already'}`,
      error,
    );
    if (closing) this.sendClose(encodeClosePayload(CloseCode.InternalError, 'internal error'));
  }

  pauseReading(): void {
    this.gate.pauseForHooks();
  }

  resumeReading(): void {
    this.gate.resumeForHooks();
  }

  // ---- liveness and the end ----------------------------------------------------------------

  /**
   * Liveness, called by the server's sweep timer: pings a connection quiet for
   * `heartbeat.interval`, drops one that stays silent `heartbeat.timeout` after the ping, and closes
   * (1001) one with no traffic at all, no frame either way, for `idleTimeout`.
   */
  sweep(now: number): void {
    if (this.phase !== Phase.Open || this.session.closeSent) return;
    // Time we spent not reading (hooks behind, or their worker's backlog full) is not the peer's
    // silence: its pongs and frames wait unread in the socket.
    const read = this.active || this.gate.paused;
    this.active = false;
    const sent = this.sender.sent;
    this.sender.sent = false;
    const config = this.server.config;
    const verdict = this.liveness!.sweep(now, read, sent, config);
    if (verdict === Verdict.Alive) return;
    const line = verdictLine(verdict, config);
    if (line !== null) this.server.log.info(`connection ${this.id} (${this.peer}): ${line}`);
    if (verdict === Verdict.Ping) this.sendFrame(Opcode.Ping, EMPTY, true);
    else if (verdict === Verdict.Dead) this.socket.destroy();
    else this.sendClose(encodeClosePayload(CloseCode.GoingAway, 'idle timeout'));
  }

  /** Starts the close handshake for a server stop (1001), or drops a connection still handshaking. */
  shutdown(): void {
    if (this.phase === Phase.Open) this.sendClose(encodeClosePayload(CloseCode.GoingAway, 'server stopping'));
    else this.socket.destroy();
  }

  /** Drops the TCP connection now. */
  destroy(): void {
    this.socket.destroy();
  }

  /** The socket is gone (any cause): release everything, run `close` once. */
  socketClosed(): void {
    this.phase = Phase.Done;
    this.closing.record.gone(this.id, this.conn.remoteAddress, this.server.tally);
    this.closing.socketGone();
    this.opening?.socketGone();
    this.opening = null;
    this.sender.discard();
    this.session.socketGone();
    this.deflate?.close();
    this.uncount();
    if (this.topics !== null || this.tracked !== null) this.server.hub.unsubscribeAll(this);
    this.server.forget(this.id);
    if (this.handlerOpen) this.server.dispatcher.closed(this);
  }

  /** No longer counted against maxConn (refused, or gone). */
  uncount(): void {
    if (this.counted) {
      this.server.upgraded--;
      if (overHttp2(this.socket)) this.server.http2--;
    }
    this.server.lifecycle();
    this.counted = false;
  }
}
