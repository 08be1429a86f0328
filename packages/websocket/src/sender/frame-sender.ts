import { frameHeaderLength, writeFrameHeader } from '../protocol/frame-writer.js';
import { applyMask } from '../protocol/mask.js';
import { Opcode } from '../protocol/opcodes.js';
import { Compression, type WriteData } from './write-data.js';
import { Outbox } from './outbox.js';
import { SHARE_FROM } from './prepared.js';
import { nextMaskKey } from './mask-keys.js';
import type { LoopData } from './loop-data.js';
import type { SenderHost } from './sender-host.js';
import { DropReport } from './drop-report.js';

export type { SenderDeflate, SenderHost } from './sender-host.js';

/**
 * Payloads are copied into the batch unless large: from 8 KiB, a view of the socket read being
 * processed or of the message being delivered from it (their bytes never change once unmasked, and
 * Node never reuses a read's buffer: echo and forwarding cost no copy), any other payload from 64 KiB
 * unless it lives in reused memory (a pooled buffer, a worker's shared ring). Referenced user buffers
 * must not change until sent, as with Node streams.
 */
const RECEIVED_BY_REFERENCE = 8 * 1024;
const BY_REFERENCE = 64 * 1024;

/**
 * A tick's writes leave early once this much is gathered: batching pays for small messages, while
 * a burst is better handed to the kernel now than held here (and counted against maxBackpressure).
 */
const FLUSH_AT = 64 * 1024;

/** Bytes handed to the socket in one write at most, when more are waiting (see `FrameSender.flush`). */
const HANDOVER = 256 * 1024;

/**
 * The write half of a connection: frames are encoded (header only) into the tick's outbox and
 * leave in one socket write; data frames pass the backpressure limit first. Control frames are
 * never refused by it, and the fragments of one message go or are dropped together.
 */
export class FrameSender {
  private readonly host: SenderHost;
  private readonly outbox = new Outbox();
  /** A frame went out since the liveness sweep last looked. */
  sent = false;
  private flushQueued = false;
  /**
   * The handler's own fragmented message is being dropped (its first frame was): its continuations
   * go with it, up to its last. Whole messages dropped meanwhile (publishes) leave this alone.
   */
  private dropping = false;
  private readonly drops: DropReport;

  /** The socket passed its high-water mark; its 'drain' is awaited. */
  private backlogged = false;
  /**
   * A pong held back while over the limit: only the latest is kept (RFC 6455 5.5.3 allows answering
   * the most recent ping only), so a peer that pings without reading cannot grow our queue.
   */
  private owedPong: Buffer | null = null;
  /** Waits for the outbox to empty (the TCP end after our close). */
  private whenEmpty: (() => void) | null = null;
  /** The handler's own fragmented message is between its first and last frame. */
  private fragmented = false;
  /** Shared frames (publishes, broadcasts, sends from other connections) waiting for that message to end. */
  private waiting: Buffer[] | null = null;
  private waitingBytes = 0;

  private readonly loop: LoopData;

  /** @param loop the batching of the event loop this sender's socket belongs to */
  constructor(host: SenderHost, loop: LoopData) {
    this.host = host;
    this.loop = loop;
    this.drops = new DropReport((n) => this.host.canWrite() && this.host.droppedMessages(n));
  }

  /** Bytes written and not yet taken by the kernel (this tick's outbox plus the socket's queue). */
  get bufferedAmount(): number {
    return this.host.socket.writableLength + this.outbox.pending + this.waitingBytes;
  }

  /** Over the backpressure limit (bytes waiting for a peer that reads slowly). */
  private get over(): boolean {
    const limit = this.host.limits.maxBackpressure;
    return limit > 0 && this.bufferedAmount >= limit;
  }

  /**
   * Whether a frame may be queued: control frames unless over the limit (a close always), data frames
   * under the backpressure limit, past it per policy. Decided before anything is compressed here: a
   * message compressed with context takeover must never be dropped (the peer's inflater would miss
   * its bytes), so hook threads leave those to this thread under 'drop' (see WorkerTarget).
   */
  /** Data messages admitted for the peer (a batch of pre-encoded frames counts as one). */
  messagesOut = 0;

  private admit(opcode: number, fin: boolean): boolean {
    // A close frame comes from the connection's session, which has decided it is due (and that nothing follows it).
    if (opcode === Opcode.Close) return (this.sent = true);
    if (!this.host.canWrite()) return false;
    this.sent = true;
    if (opcode >= Opcode.Ping) return !this.over; // pongs are held (see frame), pings dropped

    if (opcode === Opcode.Continuation) {
      if (!this.dropping) return true;
      if (fin) this.dropping = false; // the dropped message ends with this frame
      return false;
    }
    if (!this.over) {
      this.drops.cycleEnded();
      this.messagesOut++;
      return true;
    }
    if (this.host.limits.backpressurePolicy === 'close') {
      this.host.overLimit();
      return false;
    }
    if (!fin) this.dropping = true;
    this.host.countDrop();
    this.drops.dropped();
    return false;
  }

  /**
   * Follows the handler's own fragmented messages (admitted frames only): while one is open, shared
   * frames wait (RFC 6455 5.4 forbids other data frames between its fragments); its last frame lets
   * them go, after it.
   */
  private track(opcode: number, fin: boolean): void {
    if (opcode === Opcode.Continuation) {
      if (fin && this.fragmented) {
        this.fragmented = false;
        if (this.waiting !== null) this.releaseWaiting();
      }
    } else if (opcode < Opcode.Close) {
      this.fragmented = !fin;
    }
  }

  /**
   * A frame prepared once for many connections (publish, broadcast, sendTo): admitted as a whole
   * data message, then copied into the batch when small or queued by reference (never copied) when
   * large; the bytes must never change.
   */
  shared(frame: Buffer): boolean {
    if (!this.admit(Opcode.Binary, true)) return false;
    if (this.fragmented) {
      this.wait(frame);
      return true;
    }
    this.append(frame);
    this.scheduleFlush();
    return true;
  }

  /** A text or binary frame (a new message), as opposed to a continuation or a control frame. */
  private isNewMessage(opcode: number): boolean {
    return opcode === Opcode.Text || opcode === Opcode.Binary;
  }

  /** Queues a whole frame behind the handler's open fragmented message, in order with everything else waiting. */
  private wait(frame: Buffer): void {
    (this.waiting ??= []).push(frame);
    this.waitingBytes += frame.length;
  }

  /**
   * A whole message of the handler's own written while its fragmented message is open (RFC 6455 5.4:
   * nothing may come between the fragments): framed now, in memory of its own (compressed first when
   * it would be), and sent after that message's last frame, in the order it came with publishes and
   * the other connections' sends. One queue, so every member sees one order.
   */
  private holdWhole(opcode: number, payload: Uint8Array, compression: Compression): void {
    let rsv1 = compression === Compression.Done;
    if (this.compressible(opcode, true, payload.length, compression)) {
      payload = this.host.deflate!.compress(payload);
      rsv1 = true;
    }
    if (rsv1) this.host.deflate?.sent();
    const mask = this.host.masked ? nextMaskKey() : undefined;
    const frame = Buffer.allocUnsafe(frameHeaderLength(payload.length, mask !== undefined) + payload.length);
    const at = writeFrameHeader(frame, 0, opcode, payload.length, { fin: true, rsv1, mask });
    frame.set(payload, at);
    if (mask !== undefined) applyMask(frame, at, frame.length, mask, 0);
    this.wait(frame);
  }

  private append(frame: Buffer): void {
    const outbox = this.outbox;
    // Alone in this tick's batch, a frame leaves as it is: no segment to take (a fan-out to a
    // thousand connections would take a thousand) and nothing to copy.
    if (frame.length >= SHARE_FROM || outbox.pending === 0) return outbox.reference(frame);
    const buf = outbox.reserve(frame.length);
    buf.set(frame, outbox.offset);
    outbox.commit(outbox.offset + frame.length);
  }

  private releaseWaiting(): void {
    const waiting = this.waiting!;
    this.waiting = null;
    this.waitingBytes = 0;
    for (const frame of waiting) this.append(frame);
  }

  /** One frame; strings are UTF-8 encoded straight into the outbox. */
  frame(opcode: number, data: WriteData, fin: boolean, compression = Compression.Auto): boolean {
    if (!this.admit(opcode, fin)) {
      if (opcode !== Opcode.Pong || !this.host.canWrite()) return false;
      // Sent once the queue drains (or on a later flush under the limit).
      this.owedPong = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
      return true;
    }
    if (this.fragmented && this.isNewMessage(opcode)) {
      this.holdWhole(opcode, typeof data === 'string' ? Buffer.from(data, 'utf8') : data, compression);
      return true;
    }
    if (compression === Compression.Done) {
      this.deflated(opcode, data as Uint8Array);
      this.scheduleFlush();
      return true;
    }
    const length = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length;
    if (this.compressible(opcode, fin, length, compression)) {
      this.deflated(opcode, this.host.deflate!.compress(typeof data === 'string' ? Buffer.from(data, 'utf8') : data));
      this.scheduleFlush();
      return true;
    }
    if (
      typeof data !== 'string' &&
      !this.host.masked &&
      length >= RECEIVED_BY_REFERENCE &&
      (this.loop.received(data) || (length >= BY_REFERENCE && !this.host.reused(data)))
    ) {
      this.header(opcode, length, fin);
      this.outbox.reference(data);
    } else {
      this.put(opcode, data, length, fin, false);
    }
    if (this.fragmented || !fin) this.track(opcode, fin);
    this.scheduleFlush();
    return true;
  }

  /**
   * A whole data message that permessage-deflate (when agreed) compresses: at least its threshold, and not sent as it
   * is by request.
   */
  private compressible(opcode: number, fin: boolean, length: number, compression: Compression): boolean {
    return (
      this.host.deflate !== null &&
      compression === Compression.Auto &&
      fin &&
      (opcode === Opcode.Text || opcode === Opcode.Binary) &&
      this.host.deflate.worthCompressing(length)
    );
  }

  /** Copies one frame into the batch: header, payload (UTF-8 encoded when text), masked on a client. */
  private put(opcode: number, data: WriteData, length: number, fin: boolean, rsv1: boolean): void {
    const mask = this.host.masked ? nextMaskKey() : undefined;
    const outbox = this.outbox;
    const buf = outbox.reserve(frameHeaderLength(length, mask !== undefined) + length);
    const at = writeFrameHeader(buf, outbox.offset, opcode, length, { fin, rsv1, mask });
    if (typeof data === 'string') buf.write(data, at, 'utf8');
    else buf.set(data, at);
    if (mask !== undefined) applyMask(buf, at, at + length, mask, 0);
    outbox.commit(at + length);
  }

  /**
   * One frame whose payload is sent in place (see `IoTarget.sendInPlace`): `done` runs once, when the socket has taken
   * it or it was refused.
   */
  inPlace(opcode: number, data: Uint8Array, fin: boolean, done: () => void, compression = Compression.Auto): boolean {
    if (!this.admit(opcode, fin)) {
      done();
      return false;
    }
    if (this.fragmented && this.isNewMessage(opcode)) {
      this.holdWhole(opcode, data, compression);
      done();
      return true;
    }
    if (compression === Compression.Done) {
      this.host.deflate?.sent();
      this.header(opcode, data.length, true, true);
      this.outbox.lend(data, done);
      this.scheduleFlush();
      return true;
    }
    if (this.compressible(opcode, fin, data.length, compression)) {
      // Compressed into memory of its own: the lent bytes are free at once.
      this.deflated(opcode, this.host.deflate!.compress(data));
      done();
      this.scheduleFlush();
      return true;
    }
    this.header(opcode, data.length, fin);
    this.outbox.lend(data, done);
    if (this.fragmented || !fin) this.track(opcode, fin);
    this.scheduleFlush();
    return true;
  }

  /** A whole message's deflated payload, with RSV1 set; payloads of memory of their own from 1 KiB are referenced. */
  private deflated(opcode: number, payload: Uint8Array): void {
    this.host.deflate?.sent();
    if (!this.host.masked && payload.length >= SHARE_FROM && !(payload.buffer instanceof SharedArrayBuffer)) {
      this.header(opcode, payload.length, true, true);
      this.outbox.reference(payload);
      return;
    }
    this.put(opcode, payload, payload.length, true, true);
  }

  /** Encodes a frame header alone: its payload joins the outbox by reference next. */
  private header(opcode: number, length: number, fin: boolean, rsv1 = false): void {
    const outbox = this.outbox;
    const buf = outbox.reserve(10);
    outbox.commit(writeFrameHeader(buf, outbox.offset, opcode, length, { fin, rsv1 }));
  }

  /** One frame whose payload is `parts` one after another (a Writer's segments). */
  parts(opcode: number, parts: readonly Uint8Array[], length: number, fin: boolean): boolean {
    if (!this.admit(opcode, fin)) return false;
    if (this.fragmented && this.isNewMessage(opcode) && fin) {
      this.holdWhole(opcode, parts.length === 1 ? parts[0]! : Buffer.concat(parts, length), Compression.Auto);
      return true;
    }
    if (this.compressible(opcode, fin, length, Compression.Auto)) {
      // A whole message from a Writer (a fragmented one goes uncompressed, which RFC 7692 allows).
      this.deflated(opcode, this.host.deflate!.compress(parts.length === 1 ? parts[0]! : Buffer.concat(parts, length)));
      this.scheduleFlush();
      return true;
    }
    const mask = this.host.masked ? nextMaskKey() : undefined;
    const outbox = this.outbox;
    const buf = outbox.reserve(frameHeaderLength(length, mask !== undefined) + length);
    const start = writeFrameHeader(buf, outbox.offset, opcode, length, { fin, mask });
    let at = start;
    for (const part of parts) {
      buf.set(part, at);
      at += part.length;
    }
    if (mask !== undefined) applyMask(buf, start, at, mask, 0);
    outbox.commit(at);
    if (this.fragmented || !fin) this.track(opcode, fin);
    this.scheduleFlush();
    return true;
  }

  /**
   * Frames encoded beforehand: whole messages (checked by `writeFramed`), admitted together as one
   * data message when they hold any data frame, as control frames otherwise.
   */
  framed(bytes: Uint8Array, hasData: boolean): boolean {
    if (!this.admit(hasData ? Opcode.Binary : Opcode.Ping, true)) return false;
    if (this.fragmented && hasData) {
      this.wait(Buffer.from(bytes));
      return true;
    }
    const outbox = this.outbox;
    const buf = outbox.reserve(bytes.length);
    buf.set(bytes, outbox.offset);
    outbox.commit(outbox.offset + bytes.length);
    this.scheduleFlush();
    return true;
  }

  private scheduleFlush(): void {
    if (this.outbox.pending >= FLUSH_AT) return this.flush();
    if (this.loop.reading === this || this.flushQueued) return;
    this.flushQueued = true;
    this.loop.defer(this);
  }

  /**
   * Hands what was written to the socket, in writes of at most {@link HANDOVER} bytes, while Node's
   * queue holds less than that. Beyond it (a slow reader) the rest stays in the outbox until 'drain':
   * Node's own queue then never holds much more than one handover, so the progress of a slow reader
   * shows in `bufferedAmount` (Node counts a large write as queued until its last byte is taken).
   */
  flush(): void {
    this.flushQueued = false;
    const socket = this.host.socket;
    // (Node's count includes what the kernel took during this tick until the tick ends: it is the
    // length, not the high-water mark, that decides, so a burst may use the kernel's room.)
    while (this.outbox.pending > 0 && socket.writableLength < HANDOVER) {
      const pending = this.outbox.pending;
      const written = this.outbox.flush(socket, HANDOVER);
      this.host.countWrite(pending - this.outbox.pending);
      if (!written) break;
    }
    this.afterFlush();
    if (this.owedPong !== null) this.payOwedPong();
    if (this.outbox.pending === 0 && this.whenEmpty !== null) this.runWhenEmpty();
  }

  /** Past the socket's high-water mark (a slow reader): tell the handler side once; 'drain' follows. */
  private afterFlush(): void {
    if (this.backlogged || !this.host.socket.writableNeedDrain) return;
    this.backlogged = true;
    this.host.backlogged(this.bufferedAmount);
  }

  /** The socket's queue emptied: hand it more of the outbox, or, once all is out, report the drain. */
  drained(): void {
    if (this.outbox.pending > 0) {
      this.flush();
      if (this.outbox.pending > 0) return;
    }
    this.payOwedPong();
    this.drops.cycleEnded();
    if (!this.backlogged) return;
    this.backlogged = false;
    if (this.host.canWrite()) this.host.drainedBacklog();
  }

  /** Runs `then` once everything written so far is with the socket (at once when nothing waits). */
  afterOutbox(then: () => void): void {
    this.flush();
    if (this.outbox.pending === 0) return then();
    this.whenEmpty = then;
  }

  private runWhenEmpty(): void {
    const then = this.whenEmpty!;
    this.whenEmpty = null;
    then();
  }

  private payOwedPong(): void {
    const pong = this.owedPong;
    if (pong === null || this.over) return;
    this.owedPong = null;
    this.frame(Opcode.Pong, pong, true);
  }

  /** Drops anything gathered (the socket is gone). */
  discard(): void {
    this.owedPong = null;
    this.waiting = null;
    this.waitingBytes = 0;
    this.whenEmpty = null;
    this.outbox.discard();
  }
}
