import { frameHeaderLength, writeFrameHeader } from '../protocol/frame-writer.js';
import { copyInto } from '../protocol/copy.js';
import { SHARE_FROM } from '../sender/prepared.js';
import type { TopicLimits } from '../pubsub/subscriptions.js';
import type { Resume } from '../pubsub/hub.js';
import type { Member } from '../delivery/wire.js';
import { MessageDeflater, type DeflaterSettings } from '../protocol/deflate-codec.js';
import { Compression, type WriteData } from '../sender/write-data.js';
import { Conn } from '../handler/conn.js';
import { WRITE_BEFORE_OPEN } from '../handler/transport.js';
import type { DispatchTarget } from '../handler/dispatcher.js';
import type { Batch } from './messages.js';
import { BatchWriter, FromWorker, LATER_MS, ownBytes } from './messages.js';
import type { RingWriter } from './ring.js';

/** A frame record's opcode with this bit carries a payload the worker deflated: the I/O thread sets RSV1. */
export const DEFLATED = 0x40;
/** Opcode bit of a frame the I/O thread compresses (when worth it) after admitting it: 'drop' with context takeover. */
export const COMPRESS_THERE = 0x20;

/**
 * What a worker sends to the I/O thread, gathered over one tick and posted as one batch: frames
 * (payloads copied into the outbound ring), closes, hook failures and progress.
 */
export class WorkerOutbox {
  /** This tick's batch for the I/O thread. */
  private readonly out = new BatchWriter('fromWorker');
  private scheduled = false;
  /** Messages finished since the last batch (the I/O thread's backlog count). */
  private done = 0;
  private readonly ring: RingWriter;
  private readonly post: (batch: Batch, transfer: ArrayBuffer[]) => void;

  constructor(ring: RingWriter, post: (batch: Batch, transfer: ArrayBuffer[]) => void) {
    this.ring = ring;
    this.post = post;
  }

  /** Adds one record (`kind`, then its fields: see the FromWorker schema) to this tick's batch. */
  record(kind: number, ...fields: number[]): void {
    this.out.addFields(kind, fields);
    this.schedule();
  }

  /** Adds a value to the batch's side list and returns its index. */
  attach(value: unknown): number {
    return this.out.attach(value);
  }

  /**
   * Copies `length` bytes from `parts` into the ring (or one copy in the batch) and records `kind, id, ...head, offset,
   * length`.
   */
  private payload(kind: number, id: number, head: number[], parts: readonly Uint8Array[], length: number): void {
    const ring = this.ring;
    const offset = ring.allocate(length);
    let at = offset;
    const target = offset >= 0 ? ring.bytesView : ownBytes(length, this.out.transfer);
    if (offset < 0) at = 0;
    for (const p of parts) {
      copyInto(target, at, p);
      at += p.length;
    }
    if (offset >= 0) this.record(kind, id, ...head, offset, length);
    else this.record(kind, id, ...head, -1, this.attach(target));
  }

  frameParts(id: number, opcode: number, parts: readonly Uint8Array[], length: number, fin: boolean): void {
    this.payload(FromWorker.Frame, id, [opcode, fin ? 1 : 0], parts, length);
  }

  framed(id: number, bytes: Uint8Array, hasData: boolean): void {
    this.payload(FromWorker.Framed, id, [hasData ? 1 : 0], [bytes], bytes.length);
  }

  frame(id: number, opcode: number, data: WriteData, fin: boolean): void {
    if (typeof data !== 'string') return this.payload(FromWorker.Frame, id, [opcode, fin ? 1 : 0], [data], data.length);
    // Text is encoded straight into the ring (or into one copy when it does not fit).
    const length = Buffer.byteLength(data);
    const offset = this.ring.allocate(length);
    if (offset >= 0) {
      this.ring.bytesView.write(data, offset, 'utf8');
      this.record(FromWorker.Frame, id, opcode, fin ? 1 : 0, offset, length);
    } else {
      const copy = ownBytes(length, this.out.transfer);
      copy.write(data, 0, 'utf8');
      this.record(FromWorker.Frame, id, opcode, fin ? 1 : 0, -1, this.attach(copy));
    }
  }

  /**
   * A message for other connections (publish, broadcast, sendTo), framed here once: small ones in
   * the ring (the I/O thread copies them out: a slow subscriber must never pin the ring), larger
   * ones in memory of their own that the I/O thread shares among recipients as it is.
   */
  prepared(kind: number, head: number[], opcode: number, data: WriteData): void {
    const length = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length;
    const size = frameHeaderLength(length, false) + length;
    const offset = size < SHARE_FROM ? this.ring.allocate(size) : -1;
    const target = offset >= 0 ? this.ring.bytesView : ownBytes(size, this.out.transfer);
    const start = offset >= 0 ? offset : 0;
    const at = writeFrameHeader(target, start, opcode, length, { fin: true });
    if (typeof data === 'string') target.write(data, at, 'utf8');
    else copyInto(target, at, data);
    if (offset >= 0) this.record(kind, ...head, offset, size);
    else this.record(kind, ...head, -1, this.attach(target));
  }

  private queries = new Map<number, (count: number) => void>();
  private nextQuery = 1;

  /** Asks the I/O thread how many subscribers `topic` has. */
  subscriberCount(topic: string): Promise<number> {
    const id = this.nextQuery++;
    this.record(FromWorker.Count, id, this.attach(topic));
    return new Promise((resolve) => this.queries.set(id, resolve));
  }

  /** The I/O thread's answer to a {@link subscriberCount}. */
  answer(id: number, count: number): void {
    const resolve = this.queries.get(id);
    this.queries.delete(id);
    resolve?.(count);
  }

  private memberQueries = new Map<number, (members: Member[]) => void>();

  /** Asks the I/O thread who is present in `topic`. */
  members(topic: string): Promise<Member[]> {
    const id = this.nextQuery++;
    this.record(FromWorker.Members, id, this.attach(topic));
    return new Promise((resolve) => this.memberQueries.set(id, resolve));
  }

  /** The I/O thread's answer to a {@link members}. */
  answerMembers(id: number, members: Member[]): void {
    const resolve = this.memberQueries.get(id);
    this.memberQueries.delete(id);
    resolve?.(members);
  }

  messageDone(): void {
    this.done++;
    this.schedule();
  }

  private laterTimer: NodeJS.Timeout | null = null;

  /**
   * Adds a record the I/O thread need not wake for (see LATER_MS): it goes with the next batch, or
   * within LATER_MS.
   */
  later(kind: number, ...fields: number[]): void {
    this.out.addFields(kind, fields);
    this.laterTimer ??= setTimeout(() => {
      this.laterTimer = null;
      if (!this.out.empty) this.flush();
    }, LATER_MS);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  /** Posts everything gathered this tick as one batch. */
  flush(): void {
    this.scheduled = false;
    this.out.add(FromWorker.Progress, this.done, this.ring.position);
    this.done = 0;
    const { batch, transfer } = this.out.take();
    this.post(batch, transfer);
  }
}

/**
 * A connection as a worker thread sees it: the public Conn's transport (writes go into the
 * worker's outbox) and the hook runner's target (releases, failures, flow control go back to the
 * I/O thread, which owns the socket).
 */
export class WorkerTarget implements DispatchTarget {
  readonly conn: Conn;
  slot: unknown = null;
  /** `init` succeeded: writes are allowed. */
  opened = false;
  /** Bytes queued for the peer, as the I/O thread last reported. */
  bufferedAmount = 0;
  /** The server's limit (see ConnTransport). */
  readonly maxBackpressure: number;
  readonly topicLimits: TopicLimits;
  private closeSent = false;
  /** Compression where the handler runs: the worker deflates its own messages, the I/O thread only frames them. */
  private readonly compression: MessageDeflater | null;
  /** The I/O thread compresses this connection's messages (see the constructor). */
  private readonly compressThere: boolean;
  private readonly id: number;
  private readonly outbox: WorkerOutbox;
  private readonly release: (data: Buffer) => void;

  constructor(
    id: number,
    remoteAddress: string,
    remotePort: number,
    outbox: WorkerOutbox,
    release: (data: Buffer) => void,
    limits: { maxBackpressure: number; backpressurePolicy: 'close' | 'drop'; pubsub: TopicLimits },
    deflate: DeflaterSettings | null = null,
  ) {
    this.id = id;
    // Under 'drop' with context takeover the I/O thread compresses, after deciding to send: a message
    // compressed with context takeover is never dropped (the peer's inflater would miss its bytes).
    this.compressThere = deflate !== null && deflate.takeover && limits.backpressurePolicy === 'drop';
    this.compression = deflate === null || this.compressThere ? null : new MessageDeflater(deflate);
    this.maxBackpressure = limits.maxBackpressure;
    this.topicLimits = limits.pubsub;
    this.outbox = outbox;
    this.release = release;
    this.conn = new Conn(id, remoteAddress, remotePort, this);
  }

  get closed(): boolean {
    return this.closeSent;
  }

  /** The I/O thread reported the connection gone: later writes are dropped here already. */
  markClosed(): void {
    this.closeSent = true;
  }

  /** The connection ended: free its compressor. */
  dispose(): void {
    this.compression?.close();
  }

  sendFrame(opcode: number, data: WriteData, fin: boolean, compression = Compression.Auto): boolean {
    if (!this.opened) throw new Error(WRITE_BEFORE_OPEN);
    if (this.closeSent) return false;
    if (this.compression !== null && compression === Compression.Auto && fin && (opcode === 1 || opcode === 2)) {
      if (this.compression.worthCompressing(typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length)) {
        this.outbox.frame(
          this.id,
          opcode | DEFLATED,
          this.compression.compress(typeof data === 'string' ? Buffer.from(data, 'utf8') : data),
          true,
        );
        return true;
      }
    }
    this.outbox.frame(
      this.id,
      this.compressThere && compression === Compression.Auto ? opcode | COMPRESS_THERE : opcode,
      data,
      fin,
    );
    return true;
  }

  sendParts(opcode: number, parts: readonly Uint8Array[], length: number, fin: boolean): boolean {
    if (!this.opened) throw new Error(WRITE_BEFORE_OPEN);
    if (this.closeSent) return false;
    if (this.compression !== null && fin && opcode !== 0 && this.compression.worthCompressing(length)) {
      // A whole message from a Writer (a fragmented one goes uncompressed, which RFC 7692 allows).
      this.outbox.frame(
        this.id,
        opcode | DEFLATED,
        this.compression.compress(parts.length === 1 ? parts[0]! : Buffer.concat(parts, length)),
        true,
      );
      return true;
    }
    this.outbox.frameParts(this.id, this.compressThere ? opcode | COMPRESS_THERE : opcode, parts, length, fin);
    return true;
  }

  sendFramed(bytes: Uint8Array, hasData: boolean): boolean {
    if (!this.opened) throw new Error(WRITE_BEFORE_OPEN);
    if (this.closeSent) return false;
    this.outbox.framed(this.id, bytes, hasData);
    return true;
  }

  sendClose(payload: Buffer): void {
    if (this.closeSent) return;
    this.closeSent = true;
    this.outbox.record(FromWorker.Close, this.id, this.outbox.attach(payload));
  }

  releaseMessage(data: Buffer): void {
    this.release(data);
  }

  // Pub/sub: records for the I/O thread, in order with this connection's frames.

  subscribe(topic: string, resume?: Resume): void {
    if (resume === undefined) this.outbox.record(FromWorker.Subscribe, this.id, this.outbox.attach(topic));
    else this.outbox.record(FromWorker.Resume, this.id, this.outbox.attach(topic), this.outbox.attach(resume.since));
  }

  unsubscribe(topic: string): void {
    this.outbox.record(FromWorker.Unsubscribe, this.id, this.outbox.attach(topic));
  }

  publish(topic: string, opcode: number, data: WriteData, self: boolean): void {
    this.outbox.prepared(FromWorker.Publish, [this.id, self ? 1 : 0, this.outbox.attach(topic)], opcode, data);
  }

  broadcast(opcode: number, data: WriteData, self: boolean): void {
    this.outbox.prepared(FromWorker.Broadcast, [this.id, self ? 1 : 0], opcode, data);
  }

  sendTo(id: number, opcode: number, data: WriteData): void {
    this.outbox.prepared(FromWorker.SendTo, [id], opcode, data);
  }

  subscriberCount(topic: string): Promise<number> {
    return this.outbox.subscriberCount(topic);
  }

  track(topic: string, info: string): void {
    this.outbox.record(FromWorker.Track, this.id, this.outbox.attach(topic), this.outbox.attach(info));
  }

  untrack(topic: string): void {
    this.outbox.record(FromWorker.Untrack, this.id, this.outbox.attach(topic));
  }

  members(topic: string): Promise<Member[]> {
    return this.outbox.members(topic);
  }

  hookFailed(hook: string, error: unknown): void {
    // The I/O thread closes the connection with 1011: the hooks queued behind this one must not run.
    this.closeSent = true;
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    this.outbox.record(FromWorker.HookFailed, this.id, this.outbox.attach({ hook, message }));
  }

  /** The I/O thread counted the event when it sent it. */
  eventStarted(): void {}

  /** Tells the I/O thread, which keeps the connection's count. */
  eventSettled(): void {
    this.outbox.record(FromWorker.Settled, this.id);
  }

  clientCloseDone(code: number): void {
    this.outbox.record(FromWorker.ClientCloseDone, this.id, code);
  }

  pauseReading(): void {
    this.outbox.record(FromWorker.PauseReading, this.id);
  }

  resumeReading(): void {
    this.outbox.record(FromWorker.ResumeReading, this.id);
  }
}
