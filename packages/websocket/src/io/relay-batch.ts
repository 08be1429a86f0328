/**
 * The batches the main thread and the I/O threads exchange (`workerCount` > 1): pub/sub traffic and
 * connection bookkeeping, one postMessage per direction per tick. One schema for both directions:
 * {@link RelayWriter} builds a batch, {@link readRelay} takes it apart, on either side.
 *
 * A batch is a flat list of operations (`op, ...fields`, cheap to clone) and one buffer holding
 * every frame of the batch back to back, moved (not copied) to the other thread.
 */
import { SHARE_FROM } from '../sender/prepared.js';

/** The operations, and their fields. */
export const enum RelayOp {
  /** topic, frame: published (thread -> main), or to deliver to a topic's subscribers (main -> thread). */
  Publish = 1,
  /** except id (0: none), frame: a broadcast. */
  Broadcast = 2,
  /** connection id, frame: a message for one connection. */
  SendTo = 3,
  /** topic, count: the topic's subscribers on the sending thread now (thread -> main). */
  Subscribers = 4,
  /** connection id: the connection ended, its socket is gone (thread -> main). */
  Closed = 5,
  /** request id, topic: how many subscribers has the topic? (thread -> main: on every thread; main -> thread: on yours) */
  Count = 6,
  /** request id, count: the answer (main -> thread: the total; thread -> main: its own). */
  Counted = 7,
  /** connection id: the connection is open, past its handshake (thread -> main). */
  Opened = 8,
}

/** What crosses the thread boundary. */
export interface RelayBatch {
  ops: unknown[];
  /** Every frame of the batch; `ops` hold offset and length into it. */
  frames: ArrayBuffer | null;
}

/** What a receiver does with each operation (the ones a direction never carries may be left out). */
export interface RelayVisitor {
  publish?(topic: string, frame: Buffer): void;
  broadcast?(except: number, frame: Buffer): void;
  sendTo?(id: number, frame: Buffer): void;
  subscribers?(topic: string, count: number): void;
  closed?(id: number): void;
  opened?(id: number): void;
  count?(request: number, topic: string): void;
  counted?(request: number, count: number): void;
}

/** Builds one batch; {@link take} hands it over and starts the next. */
export class RelayWriter {
  private ops: unknown[] = [];
  private frames: Buffer | null = null;
  private used = 0;

  get empty(): boolean {
    return this.ops.length === 0;
  }

  publish(topic: string, frame: Uint8Array): void {
    this.ops.push(RelayOp.Publish, topic, this.place(frame), frame.length);
  }

  broadcast(except: number, frame: Uint8Array): void {
    this.ops.push(RelayOp.Broadcast, except, this.place(frame), frame.length);
  }

  sendTo(id: number, frame: Uint8Array): void {
    this.ops.push(RelayOp.SendTo, id, this.place(frame), frame.length);
  }

  subscribers(topic: string, count: number): void {
    this.ops.push(RelayOp.Subscribers, topic, count);
  }

  closed(id: number): void {
    this.ops.push(RelayOp.Closed, id);
  }

  opened(id: number): void {
    this.ops.push(RelayOp.Opened, id);
  }

  count(request: number, topic: string): void {
    this.ops.push(RelayOp.Count, request, topic);
  }

  counted(request: number, count: number): void {
    this.ops.push(RelayOp.Counted, request, count);
  }

  /** The batch so far, and its frame buffer to list in postMessage's transfer list. */
  take(): { batch: RelayBatch; transfer: ArrayBuffer[] } {
    // allocUnsafeSlow memory is the whole ArrayBuffer: it moves as it is, spare room included.
    const frames = this.frames === null ? null : (this.frames.buffer as ArrayBuffer);
    const batch: RelayBatch = { ops: this.ops, frames };
    this.ops = [];
    this.frames = null;
    this.used = 0;
    return { batch, transfer: frames === null ? [] : [frames] };
  }

  /** Copies `frame` into the batch's buffer; returns its offset. */
  private place(frame: Uint8Array): number {
    const need = this.used + frame.length;
    if (this.frames === null || need > this.frames.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(need, 2 * (this.frames?.length ?? 0), 16384));
      if (this.frames !== null) this.frames.copy(grown, 0, 0, this.used);
      this.frames = grown;
    }
    const at = this.used;
    this.frames.set(frame, at);
    this.used = need;
    return at;
  }
}

/**
 * Calls `visitor` for each operation of `batch`, in order. A frame may be queued to a slow subscriber,
 * which must then hold its own bytes, never the whole batch: a frame under {@link SHARE_FROM} bytes is
 * copied out (into Node's pool, a few bytes among others'), one from that size that is much smaller
 * than the batch gets memory of its own, and only one that is most of the batch stays a view of it.
 */
export function readRelay(batch: RelayBatch, visitor: RelayVisitor): void {
  const { ops, frames } = batch;
  const frame = (offset: number, length: number): Buffer => {
    const view = Buffer.from(frames!, offset, length);
    if (length < SHARE_FROM) return Buffer.from(view);
    if (frames!.byteLength <= 2 * length) return view;
    const own = Buffer.allocUnsafeSlow(length);
    view.copy(own);
    return own;
  };
  for (let i = 0; i < ops.length; ) {
    const op = ops[i++] as RelayOp;
    switch (op) {
      case RelayOp.Publish: {
        const topic = ops[i++] as string;
        visitor.publish?.(topic, frame(ops[i++] as number, ops[i++] as number));
        break;
      }
      case RelayOp.Broadcast: {
        const except = ops[i++] as number;
        visitor.broadcast?.(except, frame(ops[i++] as number, ops[i++] as number));
        break;
      }
      case RelayOp.SendTo: {
        const id = ops[i++] as number;
        visitor.sendTo?.(id, frame(ops[i++] as number, ops[i++] as number));
        break;
      }
      case RelayOp.Subscribers:
        visitor.subscribers?.(ops[i++] as string, ops[i++] as number);
        break;
      case RelayOp.Closed:
        visitor.closed?.(ops[i++] as number);
        break;
      case RelayOp.Opened:
        visitor.opened?.(ops[i++] as number);
        break;
      case RelayOp.Count:
        visitor.count?.(ops[i++] as number, ops[i++] as string);
        break;
      case RelayOp.Counted:
        visitor.counted?.(ops[i++] as number, ops[i++] as number);
        break;
      default:
        throw new Error(`relay batch: unknown operation ${String(op)} at ${i - 1}`);
    }
  }
}
