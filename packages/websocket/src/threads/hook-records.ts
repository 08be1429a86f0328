/**
 * The I/O thread's side of a hook thread: its handle (rings, batch, connections), and the reading of
 * the batches it sends back (frames to send, init results, pub/sub, progress that frees ring space).
 */
import type { Worker } from 'node:worker_threads';
import type { IoTarget } from '../handler/dispatcher.js';
import type { Handshake } from '../handler/handshake.js';
import { HandshakeError, type HandshakeErrorCode } from '../protocol/errors.js';
import { ownCopy } from '../protocol/copy.js';
import type { Position } from '../delivery/history.js';
import type { Hub } from '../pubsub/hub.js';
import { Compression } from '../sender/write-data.js';
import { COMPRESS_THERE, DEFLATED } from './hook-target.js';
import {
  BatchWriter,
  FromWorker,
  FromWorkerField as F,
  ToWorker,
  extraBytes,
  forEachRecord,
  type Batch,
} from './messages.js';
import type { RingReader, RingWriter } from './ring.js';

/**
 * Frames from a worker's ring at least this long go to the socket in place: the kernel copies them
 * straight from shared memory (V8 copies shared memory word by word, slowly when another core has
 * just written it). Shorter ones are copied into the connection's outbox with the tick's other
 * frames: for a few cache lines that costs less than a write callback and a ring hold.
 */
const IN_PLACE = 2048;

/** A stretch of a worker's outbound ring, up to `position`, whose in-place frames are not all written yet. */
export interface Hold {
  position: number;
  frames: number;
}

/** One worker thread as the I/O thread sees it. */
export class WorkerHandle {
  readonly index: number;
  readonly worker: Worker;
  readonly inbound: RingWriter;
  readonly outbound: RingReader;
  readonly targets = new Map<number, IoTarget>();
  /** This tick's batch for the worker. */
  readonly out = new BatchWriter('toWorker');
  /** The batch holds a record the worker must see this tick (not only records that can wait: see LATER_MS). */
  urgent = false;
  /** Outbound ring space to give back in order, each once its in-place frames are written. */
  readonly holds: Hold[] = [];
  /** Messages sent and not yet finished by the worker. */
  pending = 0;
  paused = false;
  ready = false;
  dead = false;

  constructor(index: number, worker: Worker, inbound: RingWriter, outbound: RingReader) {
    this.index = index;
    this.worker = worker;
    this.inbound = inbound;
    this.outbound = outbound;
  }

  attach(value: unknown): number {
    return this.out.attach(value);
  }
}

export interface PendingInit {
  handshake: Handshake;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** What reading a hook thread's batch needs from the hook threads' dispatcher. */
export interface HookBatchContext {
  /** threadPool.backlog: reading resumes once fewer events wait. */
  backlog: number;
  hub: Hub;
  /** Pool buffers a worker reads in place, by token. */
  lent: Map<number, { data: Buffer; target: IoTarget; handle: WorkerHandle }>;
  inits: Map<number, PendingInit>;
  send(h: WorkerHandle, kind: number, ...fields: number[]): void;
  /** A connection's close hook finished on its worker. */
  finishClose(id: number): void;
  /** The worker answered ToWorker.Idle `request`. */
  idleAnswered(request: number): void;
}

/** Carries out the records of one batch from hook thread `h`, in order. */
export function readHookBatch(h: WorkerHandle, { records: r, extra }: Batch, ctx: HookBatchContext): void {
  let released = -1;
  // This batch's stretch of the ring, held while frames are sent from it in place.
  const hold: Hold = { position: -1, frames: 0 };
  const written = (): void => {
    if (--hold.frames === 0 && hold.position >= 0) releaseHeld(h);
  };
  forEachRecord('fromWorker', r, (kind, at) => {
    switch (kind) {
      case FromWorker.Progress: {
        h.pending -= r[at + F.Progress.done]!;
        released = r[at + F.Progress.position]!;
        if (h.paused && h.pending < ctx.backlog) {
          h.paused = false;
          for (const t of h.targets.values()) t.resumeReading();
        }
        return;
      }
      case FromWorker.Released: {
        const token = r[at + F.Released.token]!;
        const lent = ctx.lent.get(token);
        if (lent) {
          ctx.lent.delete(token);
          lent.target.releaseMessage(lent.data);
        }
        return;
      }
      case FromWorker.Count:
        void ctx.hub.countEverywhere(extra[r[at + F.Count.topic]!] as string).then((n) => {
          if (!h.dead) ctx.send(h, ToWorker.Count, r[at + F.Count.request]!, n);
        });
        return;
      case FromWorker.Members:
        void ctx.hub.members(extra[r[at + F.Members.topic]!] as string).then((members) => {
          if (!h.dead) ctx.send(h, ToWorker.Members, r[at + F.Members.request]!, h.attach(members));
        });
        return;
      case FromWorker.Idle:
        ctx.idleAnswered(r[at + F.Idle.request]!);
        return;
    }
    // Every other record starts with a connection id.
    const id = r[at]!;
    const target = h.targets.get(id);
    switch (kind) {
      case FromWorker.Frame: {
        const raw = r[at + F.Frame.opcode]!;
        const fin = r[at + F.Frame.fin] === 1;
        const offset = r[at + F.Frame.offset]!;
        const length = r[at + F.Frame.length]!;
        if (!target) break;
        // The worker compressed it (RSV1), or decided it goes as it is, or (under 'drop' with context
        // takeover) left it to this thread, which compresses only what it admits.
        const opcode = raw & 0x0f;
        const compression =
          (raw & DEFLATED) !== 0 ? Compression.Done : (raw & COMPRESS_THERE) !== 0 ? Compression.Auto : Compression.Off;
        if (offset < 0) {
          // A copy made for this frame alone (the ring was full): nothing else uses its memory.
          target.sendInPlace(opcode, extra[length] as Uint8Array, fin, noop, compression);
        } else if (length >= IN_PLACE) {
          hold.frames++;
          target.sendInPlace(opcode, h.outbound.view(offset, length), fin, written, compression);
        } else {
          target.sendFrame(opcode, h.outbound.view(offset, length), fin, compression);
        }
        break;
      }
      case FromWorker.Framed: {
        const offset = r[at + F.Framed.offset]!;
        const length = r[at + F.Framed.length]!;
        target?.sendFramed(
          offset >= 0 ? h.outbound.view(offset, length) : (extra[length] as Buffer),
          r[at + F.Framed.hasData] === 1,
        );
        break;
      }
      case FromWorker.InitOk: {
        const init = ctx.inits.get(id);
        ctx.inits.delete(id);
        const result = extra[r[at + F.InitOk.result]!] as {
          protocol: string | undefined;
          headers: Array<[string, string]>;
        };
        if (init) {
          init.handshake.protocol = result.protocol;
          init.handshake.responseHeaders.push(...result.headers);
          init.resolve();
        }
        break;
      }
      case FromWorker.InitFailed: {
        const info = extra[r[at + F.InitFailed.info]!] as {
          message: string;
          headers: Record<string, string>;
          code?: HandshakeErrorCode;
        };
        h.targets.delete(id);
        const init = ctx.inits.get(id);
        ctx.inits.delete(id);
        if (init) init.reject(new HandshakeError(r[at + F.InitFailed.status]!, info.message, info.headers, info.code));
        else target?.hookFailed('handler constructor', info.message); // upgraded already (no init)
        break;
      }
      case FromWorker.Close:
        target?.sendClose(Buffer.from(extra[r[at + F.Close.payload]!] as Uint8Array));
        break;
      case FromWorker.ClientCloseDone:
        target?.clientCloseDone(r[at + F.ClientCloseDone.code]!);
        break;
      case FromWorker.HookFailed: {
        const info = extra[r[at + F.HookFailed.info]!] as { hook: string; message: string };
        target?.hookFailed(info.hook, info.message);
        break;
      }
      case FromWorker.Settled:
        target?.eventSettled();
        break;
      case FromWorker.CloseDone:
        h.targets.delete(id);
        ctx.finishClose(id);
        break;
      case FromWorker.Subscribe:
        target?.subscribe(extra[r[at + F.Subscribe.topic]!] as string);
        break;
      case FromWorker.Resume:
        target?.subscribe(extra[r[at + F.Resume.topic]!] as string, {
          since: extra[r[at + F.Resume.since]!] as Position | null,
        });
        break;
      case FromWorker.Unsubscribe:
        target?.unsubscribe(extra[r[at + F.Unsubscribe.topic]!] as string);
        break;
      case FromWorker.Track:
        target?.track(extra[r[at + F.Track.topic]!] as string, extra[r[at + F.Track.info]!] as string);
        break;
      case FromWorker.Untrack:
        target?.untrack(extra[r[at + F.Untrack.topic]!] as string);
        break;
      case FromWorker.Publish: {
        // id is the publisher's (which may have closed since: a close hook announcing a leave).
        const topic = extra[r[at + F.Publish.topic]!] as string;
        const frame = preparedFrame(h, r[at + F.Publish.offset]!, r[at + F.Publish.length]!, extra);
        ctx.hub.publish(topic, frame, r[at + F.Publish.self] === 1 ? 0 : id);
        break;
      }
      case FromWorker.Broadcast: {
        const frame = preparedFrame(h, r[at + F.Broadcast.offset]!, r[at + F.Broadcast.length]!, extra);
        ctx.hub.broadcast(frame, r[at + F.Broadcast.self] === 1 ? 0 : id);
        break;
      }
      case FromWorker.SendTo:
        // id is the recipient's, on any worker.
        ctx.hub.sendTo(id, preparedFrame(h, r[at + F.SendTo.offset]!, r[at + F.SendTo.length]!, extra));
        break;
      case FromWorker.PauseReading:
        target?.pauseReading();
        break;
      case FromWorker.ResumeReading:
        if (!h.paused) target?.resumeReading();
        break;
    }
  });
  // Frames were copied into connections' outboxes above, or are held until written: the worker
  // may reuse that ring space once the earlier holds are done too.
  if (released < 0) return;
  if (hold.frames === 0) {
    // Nothing of this batch is still being written: the space goes back now, or with the last hold
    // (so a client that stops reading pins at most one hold per in-place frame still in the ring).
    if (h.holds.length === 0) h.outbound.release(released);
    else h.holds[h.holds.length - 1]!.position = released;
    return;
  }
  hold.position = released;
  h.holds.push(hold);
}

/**
 * A frame a worker prepared for other connections: copied out of the ring (recipients may hold it
 * for as long as they read slowly, and the ring must come back), or its own memory as it came.
 */
function preparedFrame(h: WorkerHandle, offset: number, length: number, extra: unknown[]): Buffer {
  return offset >= 0 ? ownCopy(h.outbound.view(offset, length)) : extraBytes(extra[length]);
}

/** Gives back the ring space of the holds at the front of the queue whose frames are all written. */
function releaseHeld(h: WorkerHandle): void {
  let position = -1;
  while (h.holds.length > 0 && h.holds[0]!.frames === 0) position = h.holds.shift()!.position;
  if (position >= 0) h.outbound.release(position);
}

function noop(): void {}
