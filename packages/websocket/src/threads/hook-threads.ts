import { CloseCode } from '../protocol/close-codes.js';
import { HandshakeError } from '../protocol/errors.js';
import { encodeClosePayload } from '../protocol/frame-writer.js';
import { copyInto } from '../protocol/copy.js';
import type { MessageType } from '../protocol/opcodes.js';
import type { ResolvedConfig } from '../config/config.js';
import type { Dispatcher, IoTarget } from '../handler/dispatcher.js';
import { HOOK_NAMES, optionalHooks, type HandlerClass, type HandlerHooks } from '../handler/handler.js';
import { addSlots, durationSlots, switchOn } from '../observe/durations.js';
import type { Handshake } from '../handler/handshake.js';
import type { Logger } from '../logging/log.js';
import { LATER_MS, ToWorker, ownBytes, type Batch, type WorkerHello } from './messages.js';
import { RingReader, RingWriter, ringMemory } from './ring.js';
import type { WorkerData } from './hook-main.js';
import { workerLaunch, type WorkerLaunch } from './hook-launch.js';
import { HookEndings } from './hook-endings.js';
import type { Hub } from '../pubsub/hub.js';
import { readHookBatch, WorkerHandle, type HookBatchContext, type PendingInit } from './hook-records.js';

/**
 * Runs hooks on a pool of worker threads. Each connection belongs to one worker for its whole
 * life (the least loaded when it arrives); its events travel in per-tick batches, payloads
 * through a shared-memory ring. When `backlog` messages wait on a worker, the connections it owns
 * stop reading until it catches up, so memory stays bounded whatever the clients send.
 */
export class HookThreads implements Dispatcher {
  readonly hooks: Dispatcher['hooks'];
  private readonly config: ResolvedConfig;
  private readonly log: Logger;
  private readonly launch: WorkerLaunch;
  private readonly handles: WorkerHandle[] = [];
  private readonly inits = new Map<number, PendingInit>();
  /** Pool buffers a worker reads in place, by token, until it says it is done with them. */
  private readonly lent = new Map<number, { data: Buffer; target: IoTarget; handle: WorkerHandle }>();
  private nextToken = 1;
  readonly crossed = { shared: 0, copied: 0 };
  private app: unknown;
  private flushScheduled = false;
  /** Posts the records that could wait (see {@link later}) when no other batch took them first. */
  private laterTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private readonly endings = new HookEndings();
  /** Upgrades waiting for a worker to be ready (all were restarting when they arrived). */
  private readyWaiters: Array<() => void> = [];

  /** What reading a worker's batch needs from here. */
  private readonly context: HookBatchContext;

  constructor(HandlerClass: HandlerClass<HandlerHooks<any>>, config: ResolvedConfig, log: Logger, hub: Hub) {
    this.config = config;
    this.log = log;
    this.hooks = optionalHooks(HandlerClass);
    this.context = {
      backlog: config.threadPool.backlog,
      hub,
      lent: this.lent,
      inits: this.inits,
      send: (h, kind, ...fields) => this.send(h, kind, ...fields),
      finishClose: (id) => this.endings.finish(id),
      idleAnswered: (request) => this.endings.answered(request),
    };
    this.launch = workerLaunch(HandlerClass, {
      why: `threadPool.count is ${config.threadPool.count}, so handlers run on worker threads`,
      instead: 'set threadPool.count: 0 to run handlers on the I/O thread',
    });
  }

  /** Each hook thread's hook durations (see HookRunner.hookDurations), kept for its index across restarts. */
  private readonly durations: Float64Array[] = [];

  private timing = false;

  timeHooks(): void {
    this.timing = true;
    for (const d of this.durations) switchOn(d);
  }

  /** Every hook thread's hook durations, added up. */
  get hookDurations(): Float64Array {
    const total = durationSlots(HOOK_NAMES.length, false);
    for (const d of this.durations) addSlots(total, d);
    return total;
  }

  get queued(): number {
    let n = 0;
    for (const h of this.handles) n += h.pending;
    return n;
  }

  async start(app: unknown): Promise<void> {
    this.app = this.launch.cloneableApp(app);
    const started = await Promise.allSettled(
      Array.from({ length: this.config.threadPool.count }, (_, i) => this.spawn(i)),
    );
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await this.stop();
      throw failed.reason;
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.laterTimer) clearTimeout(this.laterTimer);
    await Promise.all(this.handles.map((h) => h.worker.terminate()));
  }

  private spawn(index: number): Promise<void> {
    const inbound = ringMemory(this.config.threadPool.bufferSize);
    const outbound = ringMemory(this.config.threadPool.bufferSize);
    const data: WorkerData = {
      moduleUrl: this.launch.moduleUrl,
      exportName: this.launch.exportName,
      app: this.app,
      index,
      inbound,
      outbound,
      backlog: this.config.threadPool.backlog,
      maxHeaders: this.config.handshake.maxHeaders,
      logLevel: this.config.logLevel,
      borrowData: this.config.borrowData,
      maxBackpressure: this.config.maxBackpressure,
      backpressurePolicy: this.config.backpressurePolicy,
      pubsub: this.config.pubsub,
      durations: (this.durations[index] ??= durationSlots(HOOK_NAMES.length, true)),
    };
    if (this.timing) switchOn(data.durations);
    const worker = this.launch.start(data);
    const handle = new WorkerHandle(
      index,
      worker,
      new RingWriter(inbound.buffer, inbound.control),
      new RingReader(outbound.buffer, outbound.control),
    );
    this.handles[index] = handle;
    return new Promise((resolve, reject) => {
      worker.once('message', (hello: WorkerHello) => {
        if (!hello.ready) {
          handle.dead = true;
          void worker.terminate();
          reject(new Error(`handler worker ${index} could not start: ${hello.error}`));
          return;
        }
        handle.ready = true;
        worker.on('message', (batch: Batch) => this.fromWorker(handle, batch));
        resolve();
        for (const w of this.readyWaiters.splice(0)) w();
      });
      worker.on('error', (error) => {
        if (!handle.ready) reject(new Error(`handler worker ${index} could not start: ${error.message}`));
        else this.crashed(handle, error.message);
      });
      worker.on('exit', (code) => {
        if (!handle.ready) reject(new Error(`handler worker ${index} exited with code ${code} while starting`));
        else this.crashed(handle, `exited with code ${code}`);
      });
    });
  }

  /** A worker died: its connections close with 1011 (their close hooks cannot run), a new worker takes its place. */
  private crashed(handle: WorkerHandle, why: string): void {
    if (handle.dead) return;
    handle.dead = true;
    if (this.stopping) return;
    this.log.error(
      `handler worker ${handle.index} crashed (${why}); closing its ${handle.targets.size} connections with 1011 and starting a new worker`,
    );
    for (const [id, target] of handle.targets) {
      const init = this.inits.get(id);
      if (init) {
        this.inits.delete(id);
        init.reject(new HandshakeError(503, 'handler thread restarting; try again', {}, 'WSZ_ERR_UNAVAILABLE'));
      }
      target.slot = null;
      target.sendClose(encodeClosePayload(CloseCode.InternalError, 'handler thread crashed'));
      this.endings.finish(id);
    }
    handle.targets.clear();
    // Its hooks ran their last: a stop waiting for them need not wait for this worker.
    this.endings.died(handle);
    // Buffers the dead worker was reading go back to the pool.
    for (const [token, lent] of this.lent) {
      if (lent.handle !== handle) continue;
      this.lent.delete(token);
      lent.target.releaseMessage(lent.data);
    }
    this.spawn(handle.index).catch((error: Error) =>
      this.log.error(`could not replace handler worker ${handle.index}: ${error.message}`),
    );
  }

  private pick(): WorkerHandle | undefined {
    let best: WorkerHandle | undefined;
    for (const h of this.handles) {
      if (!h || !h.ready || h.dead) continue;
      if (!best || h.pending < best.pending || (h.pending === best.pending && h.targets.size < best.targets.size))
        best = h;
    }
    return best;
  }

  /** Adds one record (`kind`, then its fields: see the ToWorker schema) to the worker's batch for this tick. */
  private send(handle: WorkerHandle, kind: number, ...fields: number[]): void {
    this.queue(handle, kind, fields);
  }

  /** Sends a record that runs a hook on the worker: the connection counts it until the worker says it settled. */
  private sendEvent(handle: WorkerHandle, target: IoTarget, kind: number, ...fields: number[]): void {
    target.eventStarted();
    this.queue(handle, kind, fields);
  }

  private queue(handle: WorkerHandle, kind: number, fields: readonly number[]): void {
    handle.out.addFields(kind, fields);
    handle.urgent = true;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After the poll phase: every socket read in this loop turn goes out in one batch per worker.
      setImmediate(() => this.flush(false));
    }
  }

  /**
   * Adds a record that needs no prompt answer: it goes with the worker's next batch, or within LATER_MS. (A
   * connection's records stay in order: they share the one batch.)
   */
  private later(handle: WorkerHandle, kind: number, ...fields: number[]): void {
    handle.out.addFields(kind, fields);
    this.laterTimer ??= setTimeout(() => {
      this.laterTimer = null;
      this.flush(true);
    }, LATER_MS);
  }

  /** Posts each worker's batch: those with a record that cannot wait, or (`all`) every one that is not empty. */
  private flush(all: boolean): void {
    if (!all) this.flushScheduled = false;
    for (const h of this.handles) {
      if (!h || h.out.empty || !(all || h.urgent)) continue;
      h.urgent = false;
      h.out.add(ToWorker.End, h.inbound.position);
      const { batch, transfer } = h.out.take();
      if (!h.dead) h.worker.postMessage(batch, transfer);
    }
  }

  /** Copies a payload into the worker's ring (or the batch, when the ring is full): `offset, length`. */
  private payload(h: WorkerHandle, data: Buffer): [number, number] {
    const offset = h.inbound.allocate(data.length);
    if (offset >= 0) {
      copyInto(h.inbound.bytesView, offset, data);
      return [offset, data.length];
    }
    const copy = ownBytes(data.length, h.out.transfer);
    copy.set(data);
    return [-1, h.attach(copy)];
  }

  private handleOf(target: IoTarget): WorkerHandle | null {
    const h = target.slot as WorkerHandle | null;
    return h && !h.dead ? h : null;
  }

  open(target: IoTarget, handshake: Handshake): void | Promise<void> {
    const h = this.pick();
    if (!h) {
      if (this.stopping) return Promise.reject(new HandshakeError(503, 'server stopping', {}, 'WSZ_ERR_UNAVAILABLE'));
      // Every worker is restarting: wait for one (the handshake timeout still bounds the wait).
      return new Promise<void>((resolve) => this.readyWaiters.push(resolve)).then(() => this.open(target, handshake));
    }
    const id = target.conn.id;
    target.slot = h;
    h.targets.set(id, target);
    // The request crosses only for an init to read: most of a handshake's bytes are headers nobody else uses.
    const request = this.hooks.init ? handshake.request : null;
    // With permessage-deflate agreed, the worker compresses this connection's messages itself, with the same settings.
    const deflate = target.deflate?.deflater.settings ?? null;
    const open = h.attach({
      request,
      remoteAddress: handshake.remoteAddress,
      remotePort: handshake.remotePort,
      deflate,
    });
    // With neither init nor afterInit no hook runs until the connection's first event, and that event's batch
    // carries this record first: making the handler can wait for it, or LATER_MS, and costs no wake-up of its own.
    if (this.hooks.init || this.hooks.afterInit) this.send(h, ToWorker.Open, id, open);
    else this.later(h, ToWorker.Open, id, open);
    // Without init there is nothing to wait for: the 101 leaves now, and every later event for the
    // connection reaches the worker after its Open. (Should the handler's constructor throw, the
    // worker says so and the connection closes with 1011.)
    if (!this.hooks.init) return;
    return new Promise((resolve, reject) => this.inits.set(id, { handshake, resolve, reject }));
  }

  afterInit(target: IoTarget): void {
    if (!this.hooks.afterInit) return;
    const h = this.handleOf(target);
    if (h) this.sendEvent(h, target, ToWorker.AfterInit, target.conn.id);
  }

  message(target: IoTarget, data: Buffer, type: MessageType, owned: boolean): void {
    const h = this.handleOf(target);
    if (!h) {
      if (owned) target.releaseMessage(data);
      return;
    }
    const binary = type === 'binary' ? 1 : 0;
    // Into the ring when it fits: one copy, and the I/O thread's buffer is free again at once. Lending a pool
    // buffer instead costs more than the copy saves (the buffer's memory crosses with every batch, and a
    // message assembled in a one-off buffer would need a new one for the next).
    const offset = h.inbound.allocate(data.length);
    if (offset >= 0) {
      copyInto(h.inbound.bytesView, offset, data);
      this.crossed.copied++;
      this.sendEvent(h, target, ToWorker.Message, target.conn.id, binary, offset, data.length);
      this.countPending(h);
      if (owned) target.releaseMessage(data);
      return;
    }
    if (owned && data.buffer instanceof SharedArrayBuffer) {
      // Too large for the ring now, and assembled in shared memory: the worker reads it in place, and gives it back.
      const token = this.nextToken++;
      this.lent.set(token, { data, target, handle: h });
      this.crossed.shared++;
      this.sendEvent(
        h,
        target,
        ToWorker.SharedMessage,
        target.conn.id,
        binary,
        h.attach(data.buffer),
        data.byteOffset,
        data.length,
        token,
      );
      this.countPending(h);
      return;
    }
    // Memory of its own, moved with the batch.
    const copy = ownBytes(data.length, h.out.transfer);
    copy.set(data);
    this.crossed.copied++;
    this.sendEvent(h, target, ToWorker.Message, target.conn.id, binary, -1, h.attach(copy));
    this.countPending(h);
    if (owned) target.releaseMessage(data);
  }

  /** One more message waiting on `h`: at the backlog, its connections stop reading. */
  private countPending(h: WorkerHandle): void {
    if (++h.pending >= this.config.threadPool.backlog && !h.paused) {
      h.paused = true;
      for (const t of h.targets.values()) t.pauseReading();
    }
  }

  ping(target: IoTarget, data: Buffer): void {
    const h = this.handleOf(target);
    if (h) this.sendEvent(h, target, ToWorker.Ping, target.conn.id, ...this.payload(h, data));
  }

  pong(target: IoTarget, data: Buffer): void {
    const h = this.handleOf(target);
    if (h) this.sendEvent(h, target, ToWorker.Pong, target.conn.id, ...this.payload(h, data));
  }

  clientClose(target: IoTarget, code: number, reason: string): void {
    const h = this.handleOf(target);
    if (h) this.sendEvent(h, target, ToWorker.ClientClose, target.conn.id, code, h.attach(reason));
    else target.clientCloseDone(code);
  }

  buffered(target: IoTarget, bytes: number): void {
    const h = this.handleOf(target);
    if (h) this.send(h, ToWorker.Buffered, target.conn.id, bytes);
  }

  drain(target: IoTarget): void {
    const h = this.handleOf(target);
    if (!h) return;
    // Only a hook that exists is an event the connection waits for; otherwise the worker just learns the queue is
    // empty.
    if (this.hooks.drain) this.sendEvent(h, target, ToWorker.Drain, target.conn.id);
    else this.send(h, ToWorker.Buffered, target.conn.id, 0);
  }

  closing(target: IoTarget, hooksRunning: boolean): void {
    const h = this.handleOf(target);
    if (!h) return;
    // With hooks running or messages waiting on the worker, posted now, before our close frame reaches the
    // socket: the hooks learn the connection is closing before the peer can see the close frame (and act
    // on it). With none (a close answered after the hooks settled), the record can wait for the next batch.
    if (!hooksRunning) return this.later(h, ToWorker.Closing, target.conn.id);
    this.send(h, ToWorker.Closing, target.conn.id);
    this.flush(false);
  }

  signal(target: IoTarget, data: unknown): void {
    const h = this.handleOf(target);
    if (h) this.sendEvent(h, target, ToWorker.Signal, target.conn.id, h.attach(data));
  }

  dropped(target: IoTarget, count: number): void {
    const h = this.handleOf(target);
    if (h && this.hooks.dropped) this.sendEvent(h, target, ToWorker.Dropped, target.conn.id, count);
  }

  closed(target: IoTarget, done?: () => void): void {
    const h = this.handleOf(target);
    const id = target.conn.id;
    if (!h || !h.targets.has(id)) {
      done?.();
      return;
    }
    // The close hook runs with the worker's next batch, within LATER_MS: no wake-up of its own.
    this.later(h, ToWorker.Closed, id);
    if (!this.hooks.close) {
      // No hook to wait for: the connection is done here, and the worker will not write back to say so (a stop
      // asks each worker instead: see idle).
      h.targets.delete(id);
      done?.();
      return;
    }
    this.endings.started(id, done ?? (() => {}));
  }

  /**
   * Resolves once every close hook started so far has settled. Without a close hook, once each worker has settled
   * the hooks of every connection closed so far (an async hook may outlive its connection).
   */
  idle(): Promise<void> {
    if (this.hooks.close) return this.endings.closeHooksIdle();
    return this.endings.askWorkers(this.handles, (h, kind, request) => this.send(h, kind, request));
  }

  private fromWorker(h: WorkerHandle, batch: Batch): void {
    readHookBatch(h, batch, this.context);
  }
}
