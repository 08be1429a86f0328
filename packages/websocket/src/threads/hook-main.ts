/**
 * Entry point of a handler worker thread: imports the user's handler module, builds the thread's
 * app, then runs hooks for the connections the I/O thread assigns to it, with the same HookRunner
 * as inline mode.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { refusalFor } from '../protocol/errors.js';
import type { UpgradeRequest } from '../protocol/handshake.js';
import type { Member } from '../delivery/wire.js';
import { Handshake } from '../handler/handshake.js';
import { HookRunner } from '../handler/hook-runner.js';
import { RejectionTracker } from '../handler/rejections.js';
import { scopedLogger, type LogLevel } from '../logging/log.js';
import { loadHandler } from './load-handler.js';
import {
  FromWorker,
  ToWorker,
  ToWorkerField as F,
  extraBytes,
  forEachRecord,
  type Batch,
  type WorkerHello,
} from './messages.js';
import { RingReader, RingWriter, type RingMemory } from './ring.js';
import { ownCopy } from '../protocol/copy.js';
import { WorkerOutbox, WorkerTarget } from './hook-target.js';
import type { DeflaterSettings } from '../protocol/deflate-codec.js';
import type { TopicLimits } from '../pubsub/subscriptions.js';

/** What the I/O thread gives a worker at start. */
export interface WorkerData {
  moduleUrl: string;
  exportName: string;
  app: unknown;
  index: number;
  inbound: RingMemory;
  outbound: RingMemory;
  backlog: number;
  maxHeaders: number;
  logLevel: LogLevel | undefined;
  /** Hooks read payloads in place in shared memory (valid during the hook) instead of a copy of their own. */
  borrowData: boolean;
  /** The server's maxBackpressure, for writes held behind an open fragmented message. */
  maxBackpressure: number;
  /** The server's backpressurePolicy: under 'drop' a message is not compressed when over the limit. */
  backpressurePolicy: 'close' | 'drop';
  /** The server's pub/sub limits, checked by each Conn. */
  pubsub: TopicLimits;
  /** Where the thread's hook durations go (shared memory the I/O side reads for stats). */
  durations: Float64Array;
}

const data = workerData as WorkerData;
const port = parentPort!;
const log = scopedLogger(`wsz worker ${data.index}`, data.logLevel);

async function main(): Promise<void> {
  const H = await loadHandler(data.moduleUrl, data.exportName);
  const init = (H as unknown as { initThread?: (app: unknown, index: number) => unknown }).initThread;
  const app = typeof init === 'function' ? await init.call(H, data.app, data.index) : data.app;

  const inbound = new RingReader(data.inbound.buffer, data.inbound.control);
  const outbox = new WorkerOutbox(new RingWriter(data.outbound.buffer, data.outbound.control), (b, transfer) =>
    port.postMessage(b, transfer),
  );
  // A hook thread is ours: a rejection nobody awaited closes the connection whose hook made it, not the thread.
  const rejections = new RejectionTracker();
  rejections.install();
  const runner = new HookRunner(H, data.backlog, rejections, data.durations);
  const borrow = data.borrowData;
  const targets = new Map<number, WorkerTarget>();

  // Inbound ring space is released batch by batch, in order, once every message of a batch is done.
  interface Span {
    end: number;
    pending: number;
    dispatched: boolean;
  }
  const spans: Span[] = [];
  const spanOf = new WeakMap<Buffer, Span>();
  const releaseSpans = (): void => {
    while (spans.length > 0 && spans[0]!.dispatched && spans[0]!.pending === 0) inbound.release(spans.shift()!.end);
  };
  const tokens = new WeakMap<Buffer, number>();
  const release = (buffer: Buffer): void => {
    outbox.messageDone();
    const token = tokens.get(buffer);
    if (token !== undefined) {
      outbox.record(FromWorker.Released, token);
      return;
    }
    const span = spanOf.get(buffer);
    if (span && --span.pending === 0) releaseSpans();
  };

  const onBatch = ({ records: r, extra }: Batch): void => {
    const span: Span = { end: 0, pending: 0, dispatched: false };
    spans.push(span);
    const payload = (offset: number, length: number): Buffer =>
      offset >= 0 ? inbound.view(offset, length) : extraBytes(extra[length]);
    forEachRecord('toWorker', r, (kind, at) => {
      if (kind === ToWorker.End) {
        span.end = r[at + F.End.position]!;
        return;
      }
      if (kind === ToWorker.Count) {
        outbox.answer(r[at + F.Count.request]!, r[at + F.Count.count]!);
        return;
      }
      if (kind === ToWorker.Members) {
        outbox.answerMembers(r[at + F.Members.request]!, extra[r[at + F.Members.members]!] as Member[]);
        return;
      }
      if (kind === ToWorker.Idle) {
        // Every connection closed so far has had its Closed record (they come in order): the runner knows them all.
        const request = r[at + F.Idle.request]!;
        void runner.idle().then(() => outbox.record(FromWorker.Idle, request));
        return;
      }
      // Every other record starts with a connection id.
      const id = r[at]!;
      // Undefined for a connection whose handler could not be made, or after it closed.
      const target = targets.get(id);
      switch (kind) {
        case ToWorker.Open: {
          const o = extra[r[at + F.Open.open]!] as {
            request: UpgradeRequest | null;
            remoteAddress: string;
            remotePort: number;
            deflate: DeflaterSettings | null;
          };
          const created = new WorkerTarget(id, o.remoteAddress, o.remotePort, outbox, release, data, o.deflate);
          targets.set(id, created);
          // No request when the handler has no init: nothing would read the handshake.
          const handshake = o.request ? new Handshake(o.request, o.remoteAddress, o.remotePort, data.maxHeaders) : null;
          const ok = (): void => {
            created.opened = true;
            created.conn.protocol = handshake?.protocol;
            // Without init the I/O thread did not wait: the upgrade is done already.
            if (handshake)
              outbox.record(
                FromWorker.InitOk,
                id,
                outbox.attach({ protocol: handshake.protocol, headers: handshake.responseHeaders }),
              );
          };
          const failed = (error: unknown): void => {
            targets.delete(id);
            if (!handshake) {
              // Upgraded already (no init): the I/O thread closes the connection with 1011 and logs this.
              const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
              outbox.record(FromWorker.InitFailed, id, 1011, outbox.attach({ message, headers: {} }));
              return;
            }
            // Refused here as inline: the I/O thread answers with this status (thrown errors are logged here, not
            // sent).
            const { refusal, explicit } = refusalFor(error);
            if (!explicit) log.warn(`connection ${id}: init threw; refusing the upgrade with 400`, error);
            outbox.record(
              FromWorker.InitFailed,
              id,
              refusal.status,
              outbox.attach({ message: refusal.message, headers: refusal.headers, code: refusal.code }),
            );
          };
          try {
            const pending = runner.open(created, handshake as Handshake, app);
            if (pending) pending.then(ok, failed);
            else ok();
          } catch (error) {
            failed(error);
          }
          break;
        }
        // Without a target (its handler's constructor threw; the I/O thread is closing it) events
        // are dropped and their buffers given back.
        case ToWorker.AfterInit:
          if (target) runner.afterInit(target);
          break;
        case ToWorker.Message: {
          const binary = r[at + F.Message.binary]!;
          const offset = r[at + F.Message.offset]!;
          const view = payload(offset, r[at + F.Message.length]!);
          if (offset >= 0 && borrow) {
            // Lent: the ring space comes back when the hook is done with it.
            span.pending++;
            spanOf.set(view, span);
          }
          // Otherwise the hook gets memory of its own, and the ring space is free with the batch.
          const buf = offset >= 0 && !borrow ? ownCopy(view) : view;
          // Given back (counted done, and its ring span or token released when it has one) once the hook settles.
          if (target) runner.message(target, buf, binary ? 'binary' : 'text', true);
          else release(buf);
          break;
        }
        case ToWorker.SharedMessage: {
          const binary = r[at + F.SharedMessage.binary]!;
          const view = Buffer.from(
            extra[r[at + F.SharedMessage.memory]!] as SharedArrayBuffer,
            r[at + F.SharedMessage.byteOffset]!,
            r[at + F.SharedMessage.length]!,
          );
          const token = r[at + F.SharedMessage.token]!;
          if (!borrow) {
            // Copied out, the pool buffer goes back at once.
            const buf = ownCopy(view);
            outbox.record(FromWorker.Released, token);
            if (target) runner.message(target, buf, binary ? 'binary' : 'text', true);
            else release(buf);
            break;
          }
          tokens.set(view, token);
          if (target) runner.message(target, view, binary ? 'binary' : 'text', true);
          else release(view);
          break;
        }
        // Control payloads: the runner gives hooks a copy (they are short).
        case ToWorker.Ping: {
          const buf = payload(r[at + F.Ping.offset]!, r[at + F.Ping.length]!);
          if (target) runner.ping(target, buf);
          break;
        }
        case ToWorker.Pong: {
          const buf = payload(r[at + F.Pong.offset]!, r[at + F.Pong.length]!);
          if (target) runner.pong(target, buf);
          break;
        }
        case ToWorker.ClientClose: {
          const code = r[at + F.ClientClose.code]!;
          const reason = extra[r[at + F.ClientClose.reason]!] as string;
          if (target) runner.clientClose(target, code, reason);
          break;
        }
        case ToWorker.Buffered: {
          const bytes = r[at + F.Buffered.bytes]!;
          if (target) target.bufferedAmount = bytes;
          break;
        }
        case ToWorker.Closing:
          target?.markClosed();
          break;
        case ToWorker.Drain: {
          if (target) {
            target.bufferedAmount = 0;
            runner.drain(target);
          }
          break;
        }
        case ToWorker.Signal:
          if (target) runner.signal(target, extra[r[at + F.Signal.value]!]);
          break;
        case ToWorker.Dropped: {
          const count = r[at + F.Dropped.count]!;
          if (target) runner.dropped(target, count);
          break;
        }
        case ToWorker.Closed: {
          targets.delete(id);
          if (!target) break;
          target.markClosed();
          // The close hook is the connection's last: tell the I/O thread when it has settled.
          runner.closed(target, () => {
            target.dispose();
            // Nothing waits for it but a server stopping: it rides with the next batch. Without a close hook the I/O
            // thread waits for nothing (a stop asks with ToWorker.Idle instead).
            if (runner.hooks.close) outbox.later(FromWorker.CloseDone, id);
          });
          break;
        }
      }
    });
    span.dispatched = true;
    releaseSpans();
  };

  port.on('message', onBatch);
  port.postMessage({ ready: true } satisfies WorkerHello);
}

main().catch((error: unknown) => {
  port.postMessage({
    ready: false,
    error: error instanceof Error ? error.message : String(error),
  } satisfies WorkerHello);
});
