import type { Socket } from 'node:net';
import type { BufferPool } from '../buffers/pool.js';
import { CloseCode } from '../protocol/close-codes.js';
import { HandshakeError, ProtocolError, refusalFor } from '../protocol/errors.js';
import { RateLimitedFrames, TokenBucket } from './rate-limit.js';
import { FrameReader } from '../protocol/frame-reader.js';
import { encodeClosePayload } from '../protocol/frame-writer.js';
import {
  errorResponse,
  headerValue,
  invalidHeader,
  PlainRequest,
  switchingProtocolsResponse,
} from '../protocol/handshake.js';
import { answerPlain, type PlainHttpHandler } from '../handler/plain-http.js';
import { MessageAssembler, type MessageSink } from '../protocol/message-assembler.js';
import { Opcode, type MessageType } from '../protocol/opcodes.js';
import type { ResolvedConfig } from '../config/config.js';
import { Conn } from '../handler/conn.js';
import { type Compression, type WriteData } from '../sender/write-data.js';
import { type ConnTransport } from '../handler/transport.js';
import type { Dispatcher, IoTarget } from '../handler/dispatcher.js';
import { FrameSender, type SenderHost } from '../sender/frame-sender.js';
import type { LoopData } from '../sender/loop-data.js';
import { Handshake } from '../handler/handshake.js';
import type { Logger } from '../logging/log.js';
import { RequestReader, type HeadBuffers } from './request-reader.js';
import { awaitPeerClose } from '../sender/close-timer.js';
import { AfterClose, Session } from '../protocol/session.js';
import type { Hub, Subscriber } from '../pubsub/hub.js';
import { prepareFrame, type PreparedMessage } from '../sender/prepared.js';
import type { TopicLimits } from '../pubsub/subscriptions.js';
import { parseExtensions, negotiateDeflate } from '../protocol/permessage-deflate.js';
import { ConnectionDeflate, type SharedCodecs } from './deflate.js';
import { WRITE_BEFORE_OPEN } from '../handler/transport.js';

/** What a connection needs from its server. */
export interface ServerCore extends HeadBuffers {
  readonly config: ResolvedConfig;
  readonly log: Logger;
  readonly pool: BufferPool;
  /** The write batching of this thread's event loop, shared by the connections' senders. */
  readonly loop: LoopData;
  readonly dispatcher: Dispatcher;
  readonly app: unknown;
  /** Messages gathered in pool buffers are copied before an inline hook sees them (not `borrowData`). */
  readonly ownCopies: boolean;
  /** Connections past their handshake (or with `init` running), counted against maxConn. */
  upgraded: number;
  /** Messages received, for stats. */
  messages: number;
  /** Socket writes issued, for stats. */
  writes: number;
  /** Topics and cross-connection sends. */
  readonly hub: Hub;
  /** Compression state shared by this server's connections (made on first use). */
  readonly codecs: SharedCodecs;
  /** Data messages dropped, and connections closed, by the backpressure policy (stats). */
  backpressureDrops: number;
  backpressureCloses: number;
  /** Called once when the socket is gone. */
  forget(connection: Link): void;
  /** The handler class's `static httpRequest`, which answers plain HTTP GETs (null: 426). */
  readonly plainHttp: PlainHttpHandler | null;
  /** A connection was upgraded or ended (I/O threads publish their counters at once). */
  lifecycle(): void;
  /**
   * Connection `id` is open (its 101 went out): I/O threads tell the main thread, which counts sends and broadcasts.
   */
  opened(id: number): void;
  /** An async init started (stop waits for it). */
  trackInit(init: Promise<unknown>): void;
}

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

const CONNECTION = Symbol('wsz.connection');
const EMPTY = Buffer.alloc(0);
type TaggedSocket = Socket & { [CONNECTION]: Link };

// Socket listeners shared by every connection: no closures per connection.
function onData(this: TaggedSocket, chunk: Buffer): void {
  this[CONNECTION].data(chunk);
}
function onClose(this: TaggedSocket): void {
  this[CONNECTION].socketClosed();
}
function onDrain(this: TaggedSocket): void {
  this[CONNECTION].sender.drained();
}
/** The peer's FIN on a half-open socket (an http server's, which allows half-open): end our side too. */
function onEnd(this: TaggedSocket): void {
  this[CONNECTION].sender.afterOutbox(() => this.end());
}
function onError(this: TaggedSocket, error: Error): void {
  this[CONNECTION].server.log.debug(`connection ${this[CONNECTION].id}: socket error: ${error.message}`);
}

function originAllowed(allowed: (origin: string) => boolean, origin: string, log: Logger): boolean {
  try {
    return allowed(origin) === true;
  } catch (error) {
    log.warn(`allowedOrigins threw for origin ${JSON.stringify(origin)}; refusing it`, error);
    return false;
  }
}

/**
 * The link: one accepted socket through its whole life (the engine's word; handlers hold its Conn):
 * the upgrade request, `init`, the 101, then frames (read through the protocol core, control frames
 * answered here), the close handshake (its state in a Session), liveness, and the end. Handler hooks
 * reach it through the dispatcher and the public {@link Conn}. Writes go through its {@link FrameSender}.
 */
export class Link implements ConnTransport, MessageSink, IoTarget, SenderHost, Subscriber {
  readonly id: number;
  readonly server: ServerCore;
  readonly socket: Socket;
  readonly conn: Conn;
  readonly sender: FrameSender;
  slot: unknown = null;
  /** Kept by the server's hub (see Subscriber). */
  topics: Set<string> | null = null;
  /** permessage-deflate, when the handshake agreed on it. */
  deflate: ConnectionDeflate | null = null;

  private phase = Phase.Request;
  private timer: NodeJS.Timeout | null = null;
  private request: RequestReader | null;
  private leftover: Buffer[] | null = null;
  private key = '';
  private handshake: Handshake | null = null;
  private handlerOpen = false;
  /** Counted in `server.upgraded`. */
  private counted = false;

  private reader: FrameReader | null = null;
  private assembler: MessageAssembler | null = null;
  /** The close handshake's state (RFC 6455 7.1), shared in form with the client. */
  private readonly session = new Session('server');
  private pausedByHooks = false;
  /** Not read while the relay to another I/O thread is over relayLimit (see throttle). */
  private pausedByRelay = false;
  /** Hook events not settled yet (see DispatchTarget). */
  private hooksPending = 0;
  /** A close of ours waiting for the hooks already running to settle: their replies go out first. */
  private deferredClose: (() => void) | null = null;
  /** Liveness: bytes were read since the last sweep, and when there last was traffic either way. */
  private active = false;
  private lastActive = 0;
  private lastTraffic = 0;
  private pingSentAt = 0;
  /** rateLimit's message allowance (frames are counted by a RateLimitedFrames before the assembler). */
  private messageTokens: TokenBucket | null = null;

  /**
   * @param readRequest read the upgrade request from the socket (a socket from a listener); false
   *   when it arrives parsed, through {@link Link.requested} (an http server's 'upgrade' event)
   */
  /**
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
    this.id = id;
    this.socket = socket;
    this.server = server;
    this.conn = new Conn(id, socket.remoteAddress ?? '', socket.remotePort ?? 0, this);
    this.sender = new FrameSender(this, server.loop);
    this.request = readRequest ? new RequestReader(server.config.handshake.maxSize, server) : null;
    // Our listeners set noDelay and refuse half-open sockets when they accept; a socket from an http
    // server's upgrade allows half-open: without ending our side at the peer's FIN, a vanished client
    // would hold its connection until some timer noticed.
    if (!readRequest) {
      socket.setNoDelay?.(true);
      if (socket.allowHalfOpen) socket.on('end', onEnd);
    }
    (socket as TaggedSocket)[CONNECTION] = this;
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onError);
    socket.on('drain', onDrain);
    this.timer = setTimeout(() => this.handshakeTimedOut(), Math.max(0, deadline - Date.now()));
  }

  /** Every chunk the socket reads. */
  data(chunk: Buffer): void {
    if (this.phase === Phase.Open) {
      const reader = this.reader ?? this.startReading();
      if (reader.failed) return; // after a close frame or a protocol error, input is discarded
      const loop = this.server.loop;
      loop.noteReceived(chunk);
      this.active = true;
      loop.reading = this.sender;
      const error = reader.push(chunk);
      loop.reading = null;
      if (error) this.fail(error);
      this.sender.flush();
    } else if (this.phase === Phase.Request) {
      const read = this.request!.push(chunk);
      if (read instanceof HandshakeError) this.refuse(read);
      else if (read) this.upgrade(read.upgrade, read.rest);
    } else if (this.phase === Phase.Init) {
      (this.leftover ??= []).push(chunk); // arrived before pause took effect
    }
  }

  // ---- handshake -------------------------------------------------------------------------

  /**
   * The upgrade request, parsed elsewhere (an http server's 'upgrade' event), with the bytes that
   * followed it: the same step a request read from the socket takes next.
   */
  requested(upgrade: Handshake['request'] | HandshakeError, rest: Buffer): void {
    if (upgrade instanceof HandshakeError) return this.refuse(upgrade);
    this.upgrade(upgrade, rest.length > 0 ? [rest] : []);
  }

  private upgrade(upgrade: Handshake['request'], rest: Buffer[]): void {
    this.request = null;
    const server = this.server;
    const allowed = server.config.allowedOrigins;
    if (allowed !== null) {
      // RFC 6455 10.2: browsers say where the page came from; other clients send no Origin and are let through.
      const origin = headerValue(upgrade.headers, 'origin');
      if (origin !== undefined && !originAllowed(allowed, origin, server.log)) {
        server.log.debug(`connection ${this.id}: origin ${JSON.stringify(origin)} not allowed`);
        return this.refuse(new HandshakeError(403, `origin ${origin} is not allowed to connect`, {}, 'WSZ_ERR_ORIGIN'));
      }
    }
    const deflateConfig = server.config.perMessageDeflate;
    if (deflateConfig !== null && upgrade.extensions !== '') {
      const offers = parseExtensions(upgrade.extensions);
      if (offers === null)
        return this.refuse(
          new HandshakeError(
            400,
            `invalid Sec-WebSocket-Extensions header: ${upgrade.extensions.slice(0, 100)}`,
            {},
            'WSZ_ERR_EXTENSIONS_HEADER',
          ),
        );
      // Offers we cannot accept are declined (the connection goes on uncompressed), never refused.
      const agreement = negotiateDeflate(offers, deflateConfig);
      if (agreement !== null) this.deflate = new ConnectionDeflate(agreement, server.codecs, deflateConfig);
    }
    if (rest.length > 0) this.leftover = rest; // frames the client pipelined after its request
    this.counted = true;
    server.upgraded++;
    server.lifecycle();
    this.key = upgrade.key;
    if (upgrade.headers.length > server.config.handshake.maxHeaders) {
      server.log.warn(
        `connection ${this.id}: the request has ${upgrade.headers.length} headers; init sees the first ${server.config.handshake.maxHeaders} (raise handshake.maxHeaders)`,
      );
    }
    const handshake = new Handshake(
      upgrade,
      this.conn.remoteAddress,
      this.conn.remotePort,
      server.config.handshake.maxHeaders,
    );
    this.handshake = handshake;
    this.phase = Phase.Init;
    let pending: void | Promise<void>;
    try {
      pending = server.dispatcher.open(this, handshake, server.app);
    } catch (error) {
      return this.initRefused(error);
    }
    if (pending) {
      this.socket.pause();
      server.trackInit(
        pending.then(
          () => this.initDone(),
          (error: unknown) => this.initRefused(error),
        ),
      );
    } else {
      this.initDone();
    }
  }

  private initDone(): void {
    this.handlerOpen = true;
    if (this.phase !== Phase.Init) {
      // The socket went away while an async init ran: the handler exists, so it gets its close.
      this.server.dispatcher.closed(this);
      return;
    }
    this.clearTimer();
    const handshake = this.handshake!;
    this.handshake = null;
    this.conn.protocol = handshake.protocol;
    const headers =
      this.deflate === null
        ? handshake.responseHeaders
        : [
            ...handshake.responseHeaders,
            ['Sec-WebSocket-Extensions', this.deflate.agreement.header] as [string, string],
          ];
    this.socket.write(switchingProtocolsResponse(this.key, handshake.protocol, headers), 'latin1');
    this.key = ''; // a slice of the request head: keeping it would keep the whole head alive
    this.phase = Phase.Open;
    this.server.opened(this.id);
    this.lastActive = this.lastTraffic = Date.now();
    this.server.dispatcher.afterInit(this);
    const leftover = this.leftover;
    this.leftover = null;
    if (leftover) for (const chunk of leftover) this.data(chunk);
    if (!this.pausedByHooks) this.socket.resume();
  }

  /** The frame reader and message assembler, made on the first frame bytes: idle connections never pay for them. */
  private startReading(): FrameReader {
    this.assembler = new MessageAssembler(this, {
      maxMessageSize: this.server.config.maxMessageSize,
      buffers: this.server.pool,
      handOver: this.server.ownCopies,
      inflate: this.deflate,
    });
    const limit = this.server.config.rateLimit;
    if (limit !== null) this.messageTokens = new TokenBucket(limit.messagesPerSecond, limit.burst);
    const sink = limit === null ? this.assembler : new RateLimitedFrames(this.assembler, limit);
    return (this.reader = new FrameReader(sink, { role: 'server', allowRsv1: this.deflate !== null }));
  }

  private initRefused(error: unknown): void {
    this.uncount();
    if (this.phase !== Phase.Init) return;
    const { refusal, explicit } = refusalFor(error);
    if (explicit)
      this.server.log.debug(
        `connection ${this.id}: init refused the upgrade with ${refusal.status}: ${refusal.message}`,
      );
    else this.server.log.warn(`connection ${this.id}: init threw; refusing the upgrade with 400`, error);
    this.refuse(refusal);
  }

  /** The server is at maxConn: answer 503 at once, without reading the request, and close. */
  overCapacity(): void {
    const max = this.server.config.maxConn;
    this.refuse(
      new HandshakeError(
        503,
        `server at its limit of ${max} connections; try again later`,
        { 'Retry-After': '1' },
        'WSZ_ERR_MAX_CONN',
      ),
    );
  }

  /** Answers the request with an HTTP error and closes. */
  private refuse(error: HandshakeError): void {
    if (error.status === 431)
      this.server.log.warn(`connection ${this.id}: handshake refused, 431: ${error.message} (raise handshake.maxSize)`);
    else this.server.log.debug(`connection ${this.id}: handshake refused, ${error.status}: ${error.message}`);
    this.phase = Phase.Done;
    this.clearTimer();
    this.request?.release();
    this.request = null;
    this.leftover = null;
    const socket = this.socket;
    const bad = invalidHeader(Object.entries(error.headers));
    if (bad !== undefined)
      this.server.log.warn(
        `connection ${this.id}: refusal header '${bad}' left out: header values may hold only visible ASCII, space and tab`,
      );
    const head = error instanceof PlainRequest ? error.head : null;
    const refusal = (): Buffer => errorResponse(error.status, error.message, error.headers, head?.method === 'HEAD');
    const plain =
      head !== null && this.server.plainHttp !== null
        ? answerPlain(
            this.server.plainHttp,
            head,
            this.server.app,
            this.server.log,
            this.server.config.handshake.timeout,
          )
        : null;
    socket.resume(); // read (and drop) until the peer closes, so its FIN is seen
    if (plain instanceof Promise) {
      // An async httpRequest: the socket waits for its answer (answerPlain bounds the wait).
      void plain.then((bytes) => {
        if (socket.destroyed) return;
        if (socket.writable) socket.end(bytes ?? refusal());
        this.armTimer(this.server.config.closeTimeout);
      });
      return;
    }
    if (socket.writable) socket.end(plain ?? refusal());
    this.armTimer(this.server.config.closeTimeout);
  }

  private handshakeTimedOut(): void {
    this.timer = null;
    this.server.log.info(
      `connection ${this.id} (${this.peer}): no complete handshake within ${this.server.config.handshake.timeout} ms; dropping it`,
    );
    this.socket.destroy();
  }

  // ---- frames from the peer (MessageSink) -----------------------------------------------

  onMessage(data: Buffer, type: MessageType, owned: boolean): void {
    this.server.messages++;
    if (this.session.closeSent || (this.messageTokens !== null && !this.takeToken())) {
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

  /** Token bucket of `rateLimit`: false (and the connection fails with 1008) when the peer sends too fast. */
  private takeToken(): boolean {
    if (this.messageTokens!.take()) return true;
    this.reader!.stop();
    this.fail(
      new ProtocolError(
        CloseCode.PolicyViolation,
        `rate limit: more than ${this.server.config.rateLimit!.messagesPerSecond} messages per second`,
        'WSZ_ERR_RATE_LIMIT',
      ),
    );
    return false;
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
    this.reader!.stop();
    if (this.session.peerClosed()) return this.endTcp(); // the answer to our close
    if (this.server.dispatcher.hooks.clientClose) {
      // The hook may answer with its own close; closeTimeout bounds how long the peer waits for one.
      this.clearTimer();
      this.timer = setTimeout(() => {
        this.timer = null;
        this.clientCloseDone(code);
      }, this.server.config.closeTimeout);
      this.server.dispatcher.clientClose(this, code, reason);
    } else this.afterHooks(() => this.clientCloseDone(code));
  }

  /** Completes the close handshake the peer started, echoing its code (RFC 6455 5.5.1). */
  clientCloseDone(code: number): void {
    if (this.phase === Phase.Open) this.closeWith(this.session.answer(code));
  }

  /**
   * Fails the connection (RFC 6455 7.1.7): close frame with the error's code, then end TCP. Input
   * stops at once; replies to the messages received before the error still go out first.
   */
  private fail(error: ProtocolError): void {
    // A close the server decides is worth a line at info: an operator sees why a client was cut off.
    this.server.log.info(`connection ${this.id} (${this.peer}): closing with ${error.closeCode}: ${error.message}`);
    this.afterHooks(() => {
      if (this.phase === Phase.Open) this.closeWith(this.session.fail(error));
      this.endTcp();
    });
  }

  /**
   * Runs `close` (a close of ours answering the peer's input) once the hooks already given events
   * have settled, so what they write precedes our close frame, as when hooks run one message at a
   * time in order (websocket.zig). Hooks that take longer than closeTimeout do not hold it longer.
   */
  private afterHooks(close: () => void): void {
    if (this.hooksPending === 0 || this.phase !== Phase.Open) return close();
    this.deferredClose = close;
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.runDeferredClose();
    }, this.server.config.closeTimeout);
  }

  private runDeferredClose(): void {
    const close = this.deferredClose;
    this.deferredClose = null;
    close?.();
  }

  eventStarted(): void {
    this.hooksPending++;
  }

  eventSettled(): void {
    if (--this.hooksPending === 0 && this.deferredClose) {
      this.clearTimer();
      this.runDeferredClose();
    }
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

  // ---- the sender's host (SenderHost) -------------------------------------------------------

  /** maxBackpressure and backpressurePolicy, from the server's config. */
  get limits(): ResolvedConfig {
    return this.server.config;
  }

  /** Server frames are not masked. */
  readonly masked = false;

  reused(data: Uint8Array): boolean {
    return this.server.pool.owns(data) || data.buffer instanceof SharedArrayBuffer;
  }

  backlogged(bytes: number): void {
    this.server.dispatcher.buffered(this, bytes);
  }

  drainedBacklog(): void {
    this.server.dispatcher.drain(this);
  }

  droppedMessages(count: number): void {
    this.server.dispatcher.dropped(this, count);
  }

  countWrite(): void {
    this.server.writes++;
  }

  countDrop(): void {
    this.server.backpressureDrops++;
  }

  canWrite(): boolean {
    if (this.phase === Phase.Open && !this.session.closeSent) return true;
    if (this.phase === Phase.Init || this.phase === Phase.Request) throw new Error(WRITE_BEFORE_OPEN);
    return false;
  }

  overLimit(): void {
    this.server.backpressureCloses++;
    this.server.log.info(
      `connection ${this.id} (${this.peer}): ${this.bufferedAmount} bytes queued, over maxBackpressure; closing with 1008`,
    );
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
    if (this.phase === Phase.Open) this.closeWith(this.session.closing(payload));
  }

  /** Sends our close frame (null: none is due, one went already) and waits for the peer's, or ends TCP. */
  private closeWith(payload: Buffer | null): void {
    if (payload === null) return;
    this.sender.frame(Opcode.Close, payload, true);
    if (this.topics !== null) this.server.hub.unsubscribeAll(this);
    // Hooks see the connection closing at once (writes return false, queued messages are skipped),
    // before the peer can have our close frame.
    this.server.dispatcher.closing(this);
    this.sender.flush();
    // What the peer still sends is read and dropped: unread input would turn our TCP close into a reset.
    if (this.pausedByHooks || this.pausedByRelay) this.socket.resume();
    if (this.session.afterClose() === AfterClose.EndTcp) this.endTcp();
    else this.armCloseTimer(); // the peer has closeTimeout to answer
  }

  /**
   * Drops the connection once the peer has had closeTimeout to answer since our close frame reached
   * the kernel. While bytes queued before the frame still wait in our socket, a peer that reads them
   * (slowly) keeps the connection: each closeTimeout with progress starts the wait anew; one with
   * none cuts off a peer that stopped reading.
   */
  private armCloseTimer(): void {
    this.clearTimer();
    awaitPeerClose(
      this.server.config.closeTimeout,
      () => this.bufferedAmount,
      () => this.socket.destroy(),
      (timer) => (this.timer = timer),
    );
  }

  /** Half-closes TCP after our close frame; the peer's FIN (or the close timeout) finishes it. */
  private endTcp(): void {
    if (!this.session.endingTcp()) return;
    // The FIN follows everything queued, our close frame included.
    this.sender.afterOutbox(() => this.socket.end());
    this.armCloseTimer();
  }

  // ---- pub/sub (ConnTransport, through the server's hub) -----------------------------------

  get topicLimits(): TopicLimits {
    return this.server.config.pubsub;
  }

  /**
   * A message prepared for many connections (Subscriber): refused unless open and not closing.
   * With permessage-deflate and no server context takeover it goes compressed, compressed once for
   * all such recipients; with context takeover it goes as it is (compressing it here would cost a
   * compression per recipient).
   */
  deliver(message: PreparedMessage): boolean {
    if (this.phase !== Phase.Open || this.session.closeSent) return false;
    const d = this.deflate;
    if (d !== null && d.agreement.serverNoContextTakeover && d.worthCompressing(message.payloadLength)) {
      const queued = this.sender.shared(message.compressed(d.agreement.serverWindowBits, d.sharedCompressor()));
      if (queued) d.sent();
      return queued;
    }
    return this.sender.shared(message.frame);
  }

  subscribe(topic: string): void {
    // From init too (deliveries start with the 101); a worker may subscribe before it learns the
    // connection is closing or gone: then there is nothing to deliver to.
    if ((this.phase === Phase.Open || this.phase === Phase.Init) && !this.session.closeSent)
      this.server.hub.subscribe(this, topic);
  }

  unsubscribe(topic: string): void {
    this.server.hub.unsubscribe(this, topic);
  }

  publish(topic: string, opcode: number, data: WriteData, self: boolean): void {
    this.server.hub.publish(topic, prepareFrame(opcode, data), self ? 0 : this.id);
    if (!this.pausedByRelay) this.throttle();
  }

  broadcast(opcode: number, data: WriteData, self: boolean): void {
    this.server.hub.broadcast(prepareFrame(opcode, data), self ? 0 : this.id);
    if (!this.pausedByRelay) this.throttle();
  }

  sendTo(id: number, opcode: number, data: WriteData): void {
    this.server.hub.sendTo(id, prepareFrame(opcode, data));
    if (!this.pausedByRelay) this.throttle();
  }

  /**
   * With I/O threads: when what this thread relays to another waits there beyond `relayLimit`, this
   * connection (which publishes) is not read until it is taken, so TCP slows its client as when one
   * thread does everything.
   */
  private throttle(): void {
    this.server.hub.throttle(
      () => {
        this.pausedByRelay = true;
        if (!this.session.closeSent) this.socket.pause();
      },
      () => {
        this.pausedByRelay = false;
        if (this.phase === Phase.Open && !this.pausedByHooks) this.socket.resume();
      },
    );
  }

  subscriberCount(topic: string): Promise<number> {
    return this.server.hub.countEverywhere(topic);
  }

  // ---- flow control and hook failures (DispatchTarget) ----------------------------------

  releaseMessage(data: Buffer): void {
    this.server.pool.release(data);
  }

  /** The peer's address and port, for log lines. */
  private get peer(): string {
    return `${this.conn.remoteAddress}:${this.conn.remotePort}`;
  }

  hookFailed(hook: string, error: unknown): void {
    const closing = this.phase === Phase.Open && !this.session.closeSent;
    this.server.log.error(
      `connection ${this.id}: ${hook} hook failed; ${closing ? 'closing with 1011' : 'the connection had ended already'}`,
      error,
    );
    if (closing) this.sendClose(encodeClosePayload(CloseCode.InternalError, 'internal error'));
  }

  pauseReading(): void {
    this.pausedByHooks = true;
    // Once closing, input is only drained (see sendClose).
    if (!this.session.closeSent) this.socket.pause();
  }

  resumeReading(): void {
    this.pausedByHooks = false;
    if (this.phase === Phase.Open && !this.pausedByRelay) this.socket.resume();
  }

  // ---- liveness and the end ----------------------------------------------------------------

  /**
   * Liveness, called by the server's sweep timer: pings a connection quiet for
   * `heartbeat.interval`, drops one that stays silent `heartbeat.timeout` after the ping, and closes
   * (1001) one with no traffic at all, no frame either way, for `idleTimeout`.
   */
  sweep(now: number): void {
    if (this.phase !== Phase.Open || this.session.closeSent) return;
    const { heartbeat, idleTimeout } = this.server.config;
    // Time we spent not reading (hooks behind, or their worker's backlog full) is not the peer's
    // silence: its pongs and frames wait unread in the socket.
    if (this.pausedByHooks || this.pausedByRelay) this.active = true;
    if (this.active) {
      this.active = false;
      this.lastActive = this.lastTraffic = now;
      this.pingSentAt = 0;
    }
    if (this.sender.sent) {
      this.sender.sent = false;
      this.lastTraffic = now;
    }
    if (heartbeat.interval > 0) {
      if (this.pingSentAt > 0) {
        if (now - this.pingSentAt >= heartbeat.timeout) {
          this.server.log.info(
            `connection ${this.id} (${this.peer}): no answer to a heartbeat ping within ${heartbeat.timeout} ms; dropping it`,
          );
          this.socket.destroy();
          return;
        }
      } else if (now - this.lastActive >= heartbeat.interval) {
        this.pingSentAt = now;
        this.sendFrame(Opcode.Ping, EMPTY, true);
      }
    }
    if (idleTimeout > 0 && now - this.lastTraffic >= idleTimeout) {
      this.server.log.info(
        `connection ${this.id} (${this.peer}): no traffic for ${idleTimeout} ms; closing it with 1001`,
      );
      this.sendClose(encodeClosePayload(CloseCode.GoingAway, 'idle timeout'));
    }
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
    this.deferredClose = null;
    this.clearTimer();
    this.request?.release();
    this.request = null;
    this.leftover = null;
    this.sender.discard();
    this.assembler?.reset();
    this.reader?.stop();
    this.deflate?.close();
    this.uncount();
    if (this.topics !== null) this.server.hub.unsubscribeAll(this);
    this.server.forget(this);
    if (this.handlerOpen) this.server.dispatcher.closed(this);
  }

  private uncount(): void {
    if (this.counted) this.server.upgraded--;
    this.server.lifecycle();
    this.counted = false;
  }

  private armTimer(ms: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.socket.destroy();
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
