/**
 * The batches the main thread and the I/O threads exchange (`workerCount` > 1): pub/sub traffic and
 * connection bookkeeping, one postMessage per direction per tick. One schema for both directions:
 * {@link RelayWriter} builds a batch, {@link readRelay} takes it apart, on either side.
 *
 * A batch is a flat list of numbers (records `op, ...fields`, cheap to clone), a side list of topics,
 * and one buffer holding every frame of the batch back to back, moved (not copied) to the other thread.
 */
import { SHARE_FROM } from '../sender/prepared.js';
import { BatchWriter, extraBytes, forEachRecord, schema, type Batch } from '../threads/messages.js';
import type { Position } from '../delivery/history.js';
import type { Answer } from '../pubsub/delivery-frames.js';
import type { Member } from '../delivery/wire.js';
import type { ControlAction, EngineReport } from '../engine/engine.js';

/**
 * The operations and their fields, checked as the hook threads' batches are (`schema` of
 * threads/messages.ts). A topic is an index into `extra`; a frame is `offset, length` in `frames`.
 */
const relay = schema({
  /** Published (thread -> main), or to deliver to a topic's subscribers (main -> thread). */
  Publish: ['topic', 'offset', 'length'],
  /** A broadcast; `except` is a connection id (0: none). */
  Broadcast: ['except', 'offset', 'length'],
  /** A message for one connection. */
  SendTo: ['id', 'offset', 'length'],
  /** The topic's subscribers on the sending thread now (thread -> main). */
  Subscribers: ['topic', 'count'],
  /** The connection ended, its socket is gone (thread -> main). */
  Closed: ['id'],
  /** How many subscribers has the topic? (thread -> main: on every thread; main -> thread: on yours) */
  Count: ['request', 'topic'],
  /** The answer (main -> thread: the total; thread -> main: its own). */
  Counted: ['request', 'count'],
  /** The connection is open, past its handshake (thread -> main). */
  Opened: ['id'],
  /** Done to connection `id` from outside handlers (main -> thread): `action` indexes a ControlAction in extra. */
  Control: ['id', 'action'],
  /** Report your connections and topics (main -> thread). */
  Report: ['request'],
  /** The answer: `report` indexes an EngineReport in extra (thread -> main). */
  Reported: ['request', 'report'],
  /** Published to a topic with history (thread -> main, which gives it its position); `except`: 0 or a connection. */
  Sequence: ['topic', 'except', 'offset', 'length'],
  /** A publication at offset `seq` of `epoch` (extra), for the topic's subscribers on every thread (main -> thread). */
  Stamped: ['topic', 'except', 'seq', 'epoch', 'offset', 'length'],
  /** A subscribe through the delivery wire format: `since` indexes a Position or null in extra (thread -> main). */
  Resume: ['request', 'topic', 'since'],
  /** A join (kind 1) or leave (2) of connection `id` in a topic; `info` (JSON) in extra (either way). */
  Presence: ['kind', 'topic', 'id', 'info'],
  /** Who is present in the topic on every thread (thread -> main), answered by Membered (main -> thread). */
  Members: ['request', 'topic'],
  Membered: ['request', 'members'],
  /** Its answer: `frames` indexes the frames to send first, in extra; `last` the offset they reach (main -> thread). */
  Resumed: ['request', 'frames', 'last', 'recovered'],
} as const);
const Op = relay.code;
const F = relay.field;

/** What crosses the thread boundary. */
export interface RelayBatch extends Batch {
  /** Every frame of the batch; records hold offset and length into it. */
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
  control?(id: number, action: ControlAction): void;
  report?(request: number): void;
  reported?(request: number, report: EngineReport): void;
  sequence?(topic: string, except: number, frame: Buffer): void;
  stamped?(topic: string, except: number, position: Position, frame: Buffer): void;
  resume?(request: number, topic: string, since: Position | null): void;
  resumed?(request: number, answer: Answer): void;
  presence?(kind: 'join' | 'leave', topic: string, id: number, info: string): void;
  members?(request: number, topic: string): void;
  membered?(request: number, members: Member[]): void;
}

/** Builds one batch; {@link take} hands it over and starts the next. */
export class RelayWriter {
  private readonly out = new BatchWriter(relay.size);
  private frames: Buffer | null = null;
  private used = 0;

  get empty(): boolean {
    return this.out.empty;
  }

  publish(topic: string, frame: Uint8Array): void {
    this.out.add(Op.Publish, this.out.attach(topic), this.place(frame), frame.length);
  }

  broadcast(except: number, frame: Uint8Array): void {
    this.out.add(Op.Broadcast, except, this.place(frame), frame.length);
  }

  sendTo(id: number, frame: Uint8Array): void {
    this.out.add(Op.SendTo, id, this.place(frame), frame.length);
  }

  subscribers(topic: string, count: number): void {
    this.out.add(Op.Subscribers, this.out.attach(topic), count);
  }

  closed(id: number): void {
    this.out.add(Op.Closed, id);
  }

  opened(id: number): void {
    this.out.add(Op.Opened, id);
  }

  count(request: number, topic: string): void {
    this.out.add(Op.Count, request, this.out.attach(topic));
  }

  counted(request: number, count: number): void {
    this.out.add(Op.Counted, request, count);
  }

  control(id: number, action: ControlAction): void {
    this.out.add(Op.Control, id, this.out.attach(action));
  }

  report(request: number): void {
    this.out.add(Op.Report, request);
  }

  reported(request: number, report: EngineReport): void {
    this.out.add(Op.Reported, request, this.out.attach(report));
  }

  sequence(topic: string, except: number, frame: Uint8Array): void {
    this.out.add(Op.Sequence, this.out.attach(topic), except, this.place(frame), frame.length);
  }

  stamped(topic: string, except: number, position: Position, frame: Uint8Array): void {
    const { offset, epoch } = position;
    this.out.add(
      Op.Stamped,
      this.out.attach(topic),
      except,
      offset,
      this.out.attach(epoch),
      this.place(frame),
      frame.length,
    );
  }

  resume(request: number, topic: string, since: Position | null): void {
    this.out.add(Op.Resume, request, this.out.attach(topic), this.out.attach(since));
  }

  presence(kind: 'join' | 'leave', topic: string, id: number, info: string): void {
    this.out.add(Op.Presence, kind === 'join' ? 1 : 2, this.out.attach(topic), id, this.out.attach(info));
  }

  members(request: number, topic: string): void {
    this.out.add(Op.Members, request, this.out.attach(topic));
  }

  membered(request: number, members: Member[]): void {
    this.out.add(Op.Membered, request, this.out.attach(members));
  }

  resumed(request: number, answer: Answer): void {
    this.out.add(Op.Resumed, request, this.out.attach(answer.frames), answer.last, answer.recovered ? 1 : 0);
  }

  /** The batch so far, and its frame buffer to list in postMessage's transfer list. */
  take(): { batch: RelayBatch; transfer: ArrayBuffer[] } {
    // allocUnsafeSlow memory is the whole ArrayBuffer: it moves as it is, spare room included.
    const frames = this.frames === null ? null : (this.frames.buffer as ArrayBuffer);
    const { batch } = this.out.take();
    this.frames = null;
    this.used = 0;
    return { batch: { ...batch, frames }, transfer: frames === null ? [] : [frames] };
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
  const { records, extra, frames } = batch;
  const frame = (offset: number, length: number): Buffer => {
    const view = Buffer.from(frames!, offset, length);
    if (length < SHARE_FROM) return Buffer.from(view);
    if (frames!.byteLength <= 2 * length) return view;
    const own = Buffer.allocUnsafeSlow(length);
    view.copy(own);
    return own;
  };
  forEachRecord(relay.size, records, (op, at) => {
    switch (op) {
      case Op.Publish:
        return visitor.publish?.(
          extra[records[at + F.Publish.topic]!] as string,
          frame(records[at + F.Publish.offset]!, records[at + F.Publish.length]!),
        );
      case Op.Broadcast:
        return visitor.broadcast?.(
          records[at + F.Broadcast.except]!,
          frame(records[at + F.Broadcast.offset]!, records[at + F.Broadcast.length]!),
        );
      case Op.SendTo:
        return visitor.sendTo?.(
          records[at + F.SendTo.id]!,
          frame(records[at + F.SendTo.offset]!, records[at + F.SendTo.length]!),
        );
      case Op.Subscribers:
        return visitor.subscribers?.(
          extra[records[at + F.Subscribers.topic]!] as string,
          records[at + F.Subscribers.count]!,
        );
      case Op.Closed:
        return visitor.closed?.(records[at + F.Closed.id]!);
      case Op.Opened:
        return visitor.opened?.(records[at + F.Opened.id]!);
      case Op.Count:
        return visitor.count?.(records[at + F.Count.request]!, extra[records[at + F.Count.topic]!] as string);
      case Op.Counted:
        return visitor.counted?.(records[at + F.Counted.request]!, records[at + F.Counted.count]!);
      case Op.Report:
        return visitor.report?.(records[at + F.Report.request]!);
      case Op.Reported:
        return visitor.reported?.(
          records[at + F.Reported.request]!,
          extra[records[at + F.Reported.report]!] as EngineReport,
        );
      case Op.Sequence:
        return visitor.sequence?.(
          extra[records[at + F.Sequence.topic]!] as string,
          records[at + F.Sequence.except]!,
          frame(records[at + F.Sequence.offset]!, records[at + F.Sequence.length]!),
        );
      case Op.Stamped:
        return visitor.stamped?.(
          extra[records[at + F.Stamped.topic]!] as string,
          records[at + F.Stamped.except]!,
          { offset: records[at + F.Stamped.seq]!, epoch: extra[records[at + F.Stamped.epoch]!] as string },
          frame(records[at + F.Stamped.offset]!, records[at + F.Stamped.length]!),
        );
      case Op.Resume:
        return visitor.resume?.(
          records[at + F.Resume.request]!,
          extra[records[at + F.Resume.topic]!] as string,
          extra[records[at + F.Resume.since]!] as Position | null,
        );
      case Op.Resumed:
        return visitor.resumed?.(records[at + F.Resumed.request]!, {
          frames: (extra[records[at + F.Resumed.frames]!] as Uint8Array[]).map(extraBytes),
          last: records[at + F.Resumed.last]!,
          recovered: records[at + F.Resumed.recovered] === 1,
        });
      case Op.Presence:
        return visitor.presence?.(
          records[at + F.Presence.kind] === 1 ? 'join' : 'leave',
          extra[records[at + F.Presence.topic]!] as string,
          records[at + F.Presence.id]!,
          extra[records[at + F.Presence.info]!] as string,
        );
      case Op.Members:
        return visitor.members?.(records[at + F.Members.request]!, extra[records[at + F.Members.topic]!] as string);
      case Op.Membered:
        return visitor.membered?.(
          records[at + F.Membered.request]!,
          extra[records[at + F.Membered.members]!] as Member[],
        );
      case Op.Control:
        return visitor.control?.(records[at + F.Control.id]!, extra[records[at + F.Control.action]!] as ControlAction);
    }
  });
}
