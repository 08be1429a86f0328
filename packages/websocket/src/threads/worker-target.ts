import { Conn, WRITE_BEFORE_OPEN, type WriteData } from '../server/conn.js';
import type { DispatchTarget } from '../server/dispatcher.js';
import type { Batch } from './messages.js';
import { FromWorker, ownBytes } from './messages.js';
import type { RingWriter } from './ring.js';

/**
 * What a worker sends to the I/O thread, gathered over one tick and posted as one batch: frames
 * (payloads copied into the outbound ring), closes, hook failures and progress.
 */
export class WorkerOutbox {
  private records: number[] = [];
  private extra: unknown[] = [];
  /** Buffers of `extra` that move to the I/O thread rather than being copied. */
  private transfer: ArrayBuffer[] = [];
  private scheduled = false;
  /** Messages finished since the last batch (the I/O thread's backlog count). */
  private done = 0;
  private readonly ring: RingWriter;
  private readonly post: (batch: Batch, transfer: ArrayBuffer[]) => void;

  constructor(ring: RingWriter, post: (batch: Batch, transfer: ArrayBuffer[]) => void) {
    this.ring = ring;
    this.post = post;
  }

  record(...fields: number[]): void {
    for (const f of fields) this.records.push(f);
    this.schedule();
  }

  /** Adds a value to the batch's side list and returns its index. */
  attach(value: unknown): number {
    return this.extra.push(value) - 1;
  }

  /** Copies `length` bytes from `parts` into the ring (or one copy in the batch) and records `kind, id, ...head, offset, length`. */
  private payload(kind: number, id: number, head: number[], parts: readonly Uint8Array[], length: number): void {
    const ring = this.ring;
    const offset = ring.allocate(length);
    let at = offset;
    const target = offset >= 0 ? ring.bytesView : ownBytes(length, this.transfer);
    if (offset < 0) at = 0;
    for (const p of parts) {
      target.set(p, at);
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
      const copy = ownBytes(length, this.transfer);
      copy.write(data, 0, 'utf8');
      this.record(FromWorker.Frame, id, opcode, fin ? 1 : 0, -1, this.attach(copy));
    }
  }

  messageDone(): void {
    this.done++;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  /** Posts everything gathered this tick as one batch. */
  flush(): void {
    this.scheduled = false;
    this.records.push(FromWorker.Progress, this.done, this.ring.position);
    this.done = 0;
    this.post({ records: this.records, extra: this.extra }, this.transfer);
    this.records = [];
    this.extra = [];
    if (this.transfer.length > 0) this.transfer = [];
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
  private closeSent = false;
  private readonly id: number;
  private readonly outbox: WorkerOutbox;
  private readonly release: (data: Buffer) => void;

  constructor(id: number, remoteAddress: string, remotePort: number, outbox: WorkerOutbox, release: (data: Buffer) => void, maxBackpressure: number) {
    this.id = id;
    this.maxBackpressure = maxBackpressure;
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

  sendFrame(opcode: number, data: WriteData, fin: boolean): boolean {
    if (!this.opened) throw new Error(WRITE_BEFORE_OPEN);
    if (this.closeSent) return false;
    this.outbox.frame(this.id, opcode, data, fin);
    return true;
  }

  sendParts(opcode: number, parts: readonly Uint8Array[], length: number, fin: boolean): boolean {
    if (!this.opened) throw new Error(WRITE_BEFORE_OPEN);
    if (this.closeSent) return false;
    this.outbox.frameParts(this.id, opcode, parts, length, fin);
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
