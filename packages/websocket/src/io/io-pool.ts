import type { Socket } from 'node:net';
import { Reports } from './reports.js';
import { CHANNEL_COUNT, publishForwarded, watchMain } from '../observe/channels.js';
import { zeroStats, type ServerStats } from '../engine/stats.js';
import type { Worker } from 'node:worker_threads';
import type { ResolvedConfig, ServerConfig } from '../config/config.js';
import { deliveryOf, type HandlerClass, type HandlerHooks } from '../handler/handler.js';
import { HistoryStore } from '../delivery/history.js';
import { PoolDelivery } from './pool-delivery.js';
import { PoolPresence } from './pool-presence.js';
import { PoolCounts } from './pool-counts.js';
import type { Logger } from '../logging/log.js';
import type { ControlAction, Engine, EngineReport } from '../engine/engine.js';
import type { WriteData } from '../sender/write-data.js';
import { workerLaunch, type WorkerLaunch } from '../threads/hook-launch.js';
import { toBackplane } from '../pubsub/outlet.js';
import { prepareFrame } from '../sender/prepared.js';
import { readRelay, type RelayBatch, type RelayWriter } from './relay-batch.js';
import { checkIoThreadsSupported, cloneableConfig, IoThread, unsupported } from './io-thread.js';
import { addBoard, retireBoard, statsBoard } from './stats-board.js';
import type { FromIoThread, IoWorkerData, ToIoThread } from './io-main.js';
import { replyForwarded } from './http-relay.js';
import { plainHttpOf, type PlainHttpHandler } from '../handler/plain-http.js';

/**
 * The main thread's side of `workerCount` > 1: starts the I/O threads, hands each accepted socket to
 * the one with the fewest connections, keeps what must be server-wide (maxConn, connection ids and
 * who owns them, which threads have subscribers of each topic, stats), relays pub/sub between
 * threads and to the backplane, replaces a thread that dies, and stops them all.
 */
export class IoPool implements Engine {
  /** Sockets are handed to a thread before anything is read. */
  readonly pauseOnConnect = true;
  /** I/O threads take sockets from the facade's own listener only. */
  readonly upgrade = null;
  readonly upgradeParsed = null;
  private readonly config: ResolvedConfig;
  private readonly log: Logger;
  private readonly launch: WorkerLaunch;
  private readonly threadConfig: ServerConfig;
  private readonly hookThreads: number;
  private readonly threads: IoThread[] = [];
  /** Which thread owns each connection id (handshaking or open). */
  private readonly owner = new Map<number, IoThread>();
  /** Connection ids past their handshake: what sends and broadcasts count, as with one thread. */
  private readonly open = new Set<number>();
  private nextId = 1;
  /** The app for the I/O threads (a copy), and as listen() got it (static httpRequest runs here with it). */
  private app: unknown;
  private mainApp: unknown;
  facade: unknown = undefined;
  private readonly plainHttp: PlainHttpHandler | null;
  private stopping = false;
  private flushScheduled = false;
  /** Messages published from the main thread (server.publish, broadcast), and threads replaced. */
  private publishes = 0;
  private restarts = 0;
  private readonly forwardLog: boolean;
  private readonly counts: PoolCounts;
  private readonly presence: PoolPresence;
  /** With delivery: positions of topics with history, given here (or by the broker) for one order per topic. */
  private readonly delivery: PoolDelivery | null;
  /** Reports asked for (server.connections(), topics()) and not complete yet. */
  private readonly reports = new Reports<IoThread>();
  /** Which diagnostics channels have subscribers here, shared with the threads (see observe/channels.ts). */
  private readonly events = new Int32Array(new SharedArrayBuffer(CHANNEL_COUNT * Int32Array.BYTES_PER_ELEMENT));
  private unwatch: () => void = () => {};
  /** Bytes relayed to each thread and not yet delivered by it (relayLimit), shared with every thread. */
  private readonly load: Int32Array;
  /** The cumulative counters of threads that ended (replaced after dying): kept in the totals. */
  private readonly retired = statsBoard();

  constructor(
    HandlerClass: HandlerClass<HandlerHooks<any>>,
    userConfig: ServerConfig,
    config: ResolvedConfig,
    log: Logger,
  ) {
    checkIoThreadsSupported(config.workerCount);
    if (config.unixPath !== null) {
      throw unsupported(
        `workerCount: ${config.workerCount} takes TCP sockets only: Node cannot move a Unix socket connection to another thread. ` +
          'Listen on a port (address 127.0.0.1 keeps it local), or use workerCount: 1 with unixPath.',
      );
    }
    this.config = config;
    this.log = log;
    this.launch = workerLaunch(HandlerClass, {
      why: `workerCount is ${config.workerCount}, so connections run on I/O threads`,
      instead: 'set workerCount: 1 to run every connection on the main thread',
    });
    this.threadConfig = cloneableConfig(userConfig, config);
    this.plainHttp = plainHttpOf(HandlerClass);
    this.load = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * config.workerCount));
    // threadPool.count hook threads in all, shared among the I/O threads.
    this.hookThreads =
      config.threadPool.count === 0 ? 0 : Math.max(1, Math.round(config.threadPool.count / config.workerCount));
    this.forwardLog = config.logger !== undefined;
    this.counts = new PoolCounts((t) => this.out(t), config.backplane, config.workerCount);
    this.presence = new PoolPresence(
      config.backplane,
      this.threads,
      (t) => this.out(t),
      () => this.report(),
    );
    const { pubsub } = config;
    this.delivery = deliveryOf(HandlerClass)
      ? new PoolDelivery(
          new HistoryStore(pubsub.history, { maxBytes: pubsub.historyMaxBytes, maxTopics: pubsub.historyTopics }),
          config.backplane,
          (topic, except, position, frame) => {
            for (const t of this.threads) this.out(t)?.stamped(topic, except, position, frame);
          },
        )
      : null;
    if (config.backplane)
      config.backplane.onMessage = (topic, binary, payload) =>
        this.fromBackplane(topic, prepareFrame(binary ? 2 : 1, payload));
  }

  async start(app: unknown, firstId = 1): Promise<void> {
    this.mainApp = app;
    this.nextId = firstId;
    this.app = this.launch.cloneableApp(app);
    this.unwatch = watchMain(this.events);
    const started = await Promise.allSettled(Array.from({ length: this.config.workerCount }, (_, i) => this.spawn(i)));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await this.stop();
      throw failed.reason;
    }
  }

  private spawn(index: number): Promise<void> {
    const data: IoWorkerData = {
      moduleUrl: this.launch.moduleUrl,
      exportName: this.launch.exportName,
      app: this.app,
      index,
      config: this.threadConfig,
      hookThreads: this.hookThreads,
      forwardLog: this.forwardLog,
      board: statsBoard(),
      live: new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)),
      load: this.load,
      relayLimit: this.config.relayLimit,
      events: this.events,
      timeHooks: this.timing,
    };
    // A new thread starts with nothing waiting for it.
    Atomics.store(this.load, index, 0);
    const worker = this.launch.start(data, 'io');
    const thread = new IoThread(index, worker, data.board, data.live);
    this.threads[index] = thread;
    return new Promise((resolve, reject) => {
      worker.on('message', (m: FromIoThread) => {
        if ('relay' in m) this.fromThread(thread, m.relay);
        else if ('log' in m) this.config.logger![m.log as Exclude<typeof m.log, 'silent'>](m.line);
        else if ('event' in m) publishForwarded(m.event, m.message);
        // Plain HTTP an I/O thread read is answered here, where the Server is (see http-relay.ts).
        else if ('http' in m) {
          const { plainHttp, mainApp: app, facade, log } = this;
          replyForwarded(plainHttp, m.request, { app, facade, timeout: this.config.handshake.timeout, log }, (r) => {
            if (!thread.dead) thread.worker.postMessage({ httpReply: m.http, reply: r } satisfies ToIoThread);
          });
        } else if ('ready' in m) {
          if (m.ready) {
            thread.ready = true;
            resolve();
          } else {
            thread.dead = true;
            void worker.terminate();
            reject(new Error(`I/O thread ${index} could not start: ${m.error}`));
          }
        } else if ('stopped' in m) thread.stopped?.();
      });
      worker.on('error', (error) => {
        if (!thread.ready) reject(new Error(`I/O thread ${index} could not start: ${error.message}`));
        else this.log.error(`I/O thread ${index} failed: ${error.stack ?? error.message}`);
      });
      worker.on('exit', (code) => {
        thread.stopped?.();
        if (!thread.ready) reject(new Error(`I/O thread ${index} exited with code ${code} while starting`));
        else this.crashed(thread, code);
      });
    });
  }

  /** A thread ended on its own: its connections ended with it; the others go on, and a new thread takes its place. */
  private crashed(thread: IoThread, code: number): void {
    if (thread.dead) return;
    thread.dead = true;
    if (this.stopping) return;
    this.restarts++;
    this.log.error(
      `I/O thread ${thread.index} exited (code ${code}); its ${thread.open} connections ended with it; starting a new one`,
    );
    // Its board holds what it counted up to its last refresh (at most a few ms old).
    retireBoard(this.retired, thread.board);
    for (const [id, t] of this.owner) {
      if (t !== thread) continue;
      this.owner.delete(id);
      this.open.delete(id);
    }
    this.counts.threadGone(thread.index);
    this.counts.gone(thread);
    this.spawn(thread.index).catch((error: Error) =>
      this.log.error(`could not replace I/O thread ${thread.index}: ${error.message}`),
    );
  }

  /** Hands an accepted (paused) socket to the thread with the fewest connections. */
  accept(socket: Socket): void {
    let best: IoThread | undefined;
    for (const t of this.threads) if (t && t.ready && !t.dead && (!best || t.open < best.open)) best = t;
    if (best === undefined) {
      socket.destroy(); // every thread is being replaced
      return;
    }
    // maxConn bounds every open socket, handshaking ones included; the thread answers 503 past it.
    const over = this.openConnections() >= this.config.maxConn;
    const id = this.nextId++;
    Atomics.add(best.live, 0, 1);
    try {
      best.worker.postMessage(
        { socket, id, over } satisfies ToIoThread,
        [socket as unknown as ArrayBuffer] /* Node 24 moves the socket's handle */,
      );
    } catch (error) {
      // Node refuses to move a socket that has started reading (it should not have: it was accepted paused).
      Atomics.sub(best.live, 0, 1);
      this.log.error(`could not hand a connection to I/O thread ${best.index}: ${(error as Error).message}`);
      socket.destroy();
      return;
    }
    // One refused with 503 (over maxConn) is nobody's to send to.
    if (!over) this.owner.set(id, best);
  }

  /**
   * Open connections on every thread, as the threads count them (a thread frees a place the moment a connection ends).
   */
  private openConnections(): number {
    let n = 0;
    for (const t of this.threads) if (t && !t.dead) n += t.open;
    return n;
  }

  /** What a thread's hub sent: pass it on to the other threads (and the backplane); keep its bookkeeping. */
  private fromThread(from: IoThread, batch: RelayBatch): void {
    readRelay(batch, {
      publish: (topic, frame) => {
        if (this.config.backplane) toBackplane(this.config.backplane, topic, frame);
        this.toSubscribers(topic, frame, from);
      },
      broadcast: (except, frame) => {
        if (this.config.backplane) toBackplane(this.config.backplane, null, frame);
        for (const t of this.threads) if (t !== from) this.out(t)?.broadcast(except, frame);
      },
      sendTo: (id, frame) => this.out(this.owner.get(id))?.sendTo(id, frame),
      subscribers: (topic, count) => {
        this.counts.set(topic, from.index, count);
      },
      opened: (id) => {
        if (this.owner.get(id) === from) this.open.add(id);
      },
      closed: (id) => {
        if (this.owner.get(id) !== from) return;
        this.owner.delete(id);
        this.open.delete(id);
      },
      // A hook asks: every thread is asked for its own count now, and the sum goes back.
      count: (request, topic) => this.counts.ask(from, request, topic, this.threads),
      // A thread's connections and topics, for server.connections() and server.topics().
      reported: (request, report) => this.reports.answer(request, from, report),
      counted: (query, count) => this.counts.counted(from, query, count),
      presence: (kind, topic, id, info) => this.presence.relay(from, kind, topic, id, info),
      members: (request, topic) => this.presence.members(from, request, topic),
      // Published to a topic with history: stamped here (or by the broker), then to every thread.
      sequence: (topic, except, frame) => this.sequence(topic, frame, except),
      // A subscribe through the delivery wire format: its answer, in order with the stamped publications.
      resume: (request, topic, since) =>
        this.delivery!.answer(topic, since, (answer) => this.out(from)?.resumed(request, answer)),
    });
  }

  private fromBackplane(topic: string | null, frame: Buffer): void {
    if (topic === null) for (const t of this.threads) this.out(t)?.broadcast(0, frame);
    else this.toSubscribers(topic, frame, null);
  }

  /**
   * Passes a publish to every thread but its own, each delivering to its subscribers: the counts reach this thread a
   * moment after a subscription, and a publish must not miss a subscriber whose client has been told it is subscribed.
   */
  private toSubscribers(topic: string, frame: Uint8Array, except: IoThread | null): void {
    // From another server: positions given here (by the broker, it would have come stamped).
    if (this.delivery?.keeps(topic) && !this.delivery.brokered) return this.delivery.publish(topic, frame, 0);
    for (const t of this.threads) if (t !== except) this.out(t)?.publish(topic, frame);
  }

  /** To a topic with history: to other servers as it is (unless the broker stamps), and stamped. */
  private sequence(topic: string, frame: Uint8Array, except: number): void {
    if (this.config.backplane && !this.delivery!.brokered) toBackplane(this.config.backplane, topic, frame);
    this.delivery!.publish(topic, frame, except);
  }

  /** The batch going to thread `t` this tick (null for a thread that is gone). */
  private out(t: IoThread | undefined): RelayWriter | null {
    if (t === undefined || !t.ready || t.dead) return null;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => this.flush());
    }
    return t.out;
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const t of this.threads) {
      if (t.out.empty) continue;
      const { batch, transfer } = t.out.take();
      if (t.dead) continue;
      // Counted against relayLimit until the thread has delivered it (it subtracts the same figure).
      const bytes = batch.frames?.byteLength ?? 0;
      Atomics.add(this.load, t.index, bytes);
      t.worker.postMessage({ relay: batch, bytes } satisfies ToIoThread, transfer);
    }
  }

  // ---- the server's API on the main thread -----------------------------------------------------

  /** Queues a framed message to every subscriber of `topic` on every thread; returns how many subscribers it has. */
  publish(topic: string, opcode: number, data: WriteData): number {
    const frame = prepareFrame(opcode, data);
    this.publishes++;
    if (this.delivery?.keeps(topic)) this.sequence(topic, frame, 0);
    else {
      if (this.config.backplane) toBackplane(this.config.backplane, topic, frame);
      this.toSubscribers(topic, frame, null);
    }
    return this.subscriberCount(topic);
  }

  /**
   * Queues a framed message to every connection (but `except`); returns how many connections are open
   * (past their handshake) now. Not a publish (as with one thread).
   */
  broadcast(opcode: number, data: WriteData, except: number): number {
    const frame = prepareFrame(opcode, data);
    if (this.config.backplane) toBackplane(this.config.backplane, null, frame);
    for (const t of this.threads) this.out(t)?.broadcast(except, frame);
    return this.open.size - (this.open.has(except) ? 1 : 0);
  }

  /** Passes a framed message to the thread that owns connection `id`; false when no thread does. */
  sendTo(id: number, opcode: number, data: WriteData): boolean {
    // As with one thread: only an open connection (past its handshake) takes messages.
    if (!this.open.has(id)) return false;
    const frame = prepareFrame(opcode, data);
    const w = this.out(this.owner.get(id));
    if (w === null) return false;
    w.sendTo(id, frame);
    return true;
  }

  /** Passes `action` to the thread that owns connection `id`; false when it is not open (as this thread knows). */
  control(id: number, action: ControlAction): boolean {
    if (!this.open.has(id)) return false;
    const w = this.out(this.owner.get(id));
    if (w === null) return false;
    w.control(id, action);
    return true;
  }

  /** Asks every running thread for its connections and topics (see reports.ts). */
  report(): Promise<EngineReport> {
    const threads = this.threads.filter((t) => t && t.ready && !t.dead);
    return this.reports.gather(threads, (t, request) => this.out(t)!.report(request));
  }

  subscriberCount(topic: string): number {
    return this.counts.total(topic);
  }

  /** Server-wide counters: every thread's board added up (at most a few ms old), and what only this thread knows. */
  stats(): ServerStats {
    const total: ServerStats = {
      ...zeroStats(),
      connections: this.openConnections(),
      topics: this.counts.topics,
      publishes: this.publishes,
      ioThreads: { count: 0, restarts: this.restarts, connections: this.threads.map((t) => (t.dead ? 0 : t.open)) },
      ...(this.config.backplane ? { backplane: this.config.backplane.stats() } : {}),
    };
    total.ioThreads!.count = this.threads.filter((t) => t.ready && !t.dead).length;
    addBoard(total, this.retired);
    for (const t of this.threads) if (t) addBoard(total, t.board);
    return total;
  }

  private timing = false;

  timeHooks(): void {
    if (this.timing) return;
    this.timing = true;
    for (const t of this.threads) if (t && !t.dead) t.worker.postMessage({ timeHooks: true } satisfies ToIoThread);
  }

  undoStart(): Promise<void> {
    return this.stop();
  }

  /** Stops every thread: each sends 1001 to its connections and runs their close hooks, then ends. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.unwatch();
    this.flush();
    const limit = 3 * this.config.closeTimeout + 1000;
    await Promise.all(
      this.threads.map(async (t) => {
        if (!t || t.dead) return;
        const stopped = new Promise<void>((resolve) => (t.stopped = resolve));
        let timer: NodeJS.Timeout | undefined;
        t.worker.postMessage({ stop: true } satisfies ToIoThread);
        const late = await Promise.race([
          stopped.then(() => false),
          new Promise<boolean>((r) => (timer = setTimeout(() => r(true), limit))),
        ]);
        clearTimeout(timer);
        if (late) this.log.warn(`stop: I/O thread ${t.index} did not stop within ${limit} ms; ending it`);
        t.dead = true;
        await t.worker.terminate();
      }),
    );
    this.owner.clear();
    this.open.clear();
  }
}
