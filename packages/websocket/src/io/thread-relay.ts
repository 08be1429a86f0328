import type { Hub } from '../pubsub/hub.js';
import type { ControlAction, EngineReport } from '../engine/engine.js';

/** What the main thread's requests reach in this thread's engine. */
export interface RelayedEngine {
  control(id: number, action: ControlAction): boolean;
  reportNow(): EngineReport;
}
import type { Outlet } from '../pubsub/outlet.js';
import type { Position } from '../delivery/history.js';
import type { Answer } from '../pubsub/delivery-frames.js';
import type { Member } from '../delivery/wire.js';
import { readRelay, RelayWriter, type RelayBatch } from './relay-batch.js';

/**
 * An I/O thread's way to the others, through the main thread: what its hub publishes, broadcasts or
 * sends to connections elsewhere, its topics' subscriber counts and its ended connections, gathered
 * into one batch per tick (in the order they happened); and what the main thread passes on to it.
 */
export class ThreadRelay implements Outlet {
  private readonly out = new RelayWriter();
  private scheduled = false;
  private nextRequest = 1;
  private readonly waiting = new Map<number, (count: number) => void>();
  /** Subscribes through the delivery wire format waiting for their answer from the main thread. */
  private readonly answers = new Map<number, (answer: Answer) => void>();
  private readonly memberAnswers = new Map<number, (members: Member[]) => void>();
  private readonly post: (batch: RelayBatch, transfer: ArrayBuffer[]) => void;
  private readonly live: Int32Array;
  private readonly load: Int32Array;
  private readonly index: number;
  private readonly limit: number;
  private resumes: Array<() => void> = [];
  private poll: NodeJS.Timeout | null = null;

  /**
   * @param post sends a batch to the main thread
   * @param live this thread's count of open connections, shared with the main thread (see {@link closed})
   * @param load bytes relayed to each I/O thread (by index) and not yet taken by it, shared by all threads
   * @param index this thread's place in `load`
   * @param limit `relayLimit`
   */
  constructor(
    post: (batch: RelayBatch, transfer: ArrayBuffer[]) => void,
    live: Int32Array,
    load: Int32Array,
    index: number,
    limit: number,
  ) {
    this.post = post;
    this.live = live;
    this.load = load;
    this.index = index;
    this.limit = limit;
  }

  get congested(): boolean {
    for (let i = 0; i < this.load.length; i++)
      if (i !== this.index && Atomics.load(this.load, i) > this.limit) return true;
    return false;
  }

  whenClear(resume: () => void): void {
    this.resumes.push(resume);
    // Looked at every few ms while someone waits (shared memory: no message needed).
    this.poll ??= setInterval(() => {
      if (this.congested) return;
      clearInterval(this.poll!);
      this.poll = null;
      const resumes = this.resumes;
      this.resumes = [];
      for (const r of resumes) r();
    }, 5);
  }

  publish(topic: string, frame: Buffer): void {
    this.out.publish(topic, frame);
    this.schedule();
  }

  broadcast(frame: Buffer): void {
    // The connection left out, if any, is on this thread: every other thread delivers to all.
    this.out.broadcast(0, frame);
    this.schedule();
  }

  /** Passes a message for connection `id` (not on this thread) to the main thread, which knows its thread. */
  sendTo(id: number, frame: Buffer): boolean {
    this.out.sendTo(id, frame);
    this.schedule();
    return true;
  }

  subscribers(topic: string, count: number): void {
    this.out.subscribers(topic, count);
    this.schedule();
  }

  count(topic: string): Promise<number> {
    const request = this.nextRequest++;
    this.out.count(request, topic);
    this.schedule();
    return new Promise((resolve) => this.waiting.set(request, resolve));
  }

  sequence(topic: string, frame: Buffer, except: number): void {
    this.out.sequence(topic, except, frame);
    this.schedule();
  }

  resume(topic: string, since: Position | null, answer: (answer: Answer) => void): void {
    const request = this.nextRequest++;
    this.out.resume(request, topic, since);
    this.schedule();
    this.answers.set(request, answer);
  }

  presence(kind: 'join' | 'leave', topic: string, id: number, info: string): void {
    this.out.presence(kind, topic, id, info);
    this.schedule();
  }

  members(topic: string): Promise<Member[] | null> {
    const request = this.nextRequest++;
    this.out.members(request, topic);
    this.schedule();
    return new Promise((resolve) => this.memberAnswers.set(request, resolve));
  }

  /** A connection of this thread is open (the main thread counts what broadcasts and sends reach). */
  opened(id: number): void {
    this.out.opened(id);
    this.schedule();
  }

  /**
   * A connection of this thread ended. Its place under maxConn is free at once, in shared memory (before its
   * close hook runs): the main thread, which admits new sockets, never waits for the batch that tells it the id.
   */
  closed(id: number): void {
    Atomics.sub(this.live, 0, 1);
    this.out.closed(id);
    this.schedule();
  }

  /**
   * Delivers what the main thread passed on to this thread's connections; `bytes` of the relay's bound are free again
   * after.
   */
  receive(batch: RelayBatch, hub: Hub, bytes: number, engine: RelayedEngine): void {
    this.deliver(batch, hub, engine);
    Atomics.sub(this.load, this.index, bytes);
  }

  private deliver(batch: RelayBatch, hub: Hub, engine: RelayedEngine): void {
    readRelay(batch, {
      control: (id, action) => void engine.control(id, action),
      report: (request) => {
        this.out.reported(request, engine.reportNow());
        this.schedule();
      },
      publish: (topic, frame) => hub.deliver(topic, frame, 0),
      stamped: (topic, except, position, frame) => hub.deliverStamped(topic, frame, except, position),
      presence: (kind, topic, id, info) => hub.announce(kind, topic, id, info),
      membered: (request, members) => {
        this.memberAnswers.get(request)?.(members);
        this.memberAnswers.delete(request);
      },
      resumed: (request, answer) => {
        this.answers.get(request)?.(answer);
        this.answers.delete(request);
      },
      broadcast: (except, frame) => hub.deliver(null, frame, except),
      sendTo: (id, frame) => hub.deliverTo(id, frame),
      // The main thread asks for this thread's own subscribers of a topic (a hook somewhere wants the total).
      count: (query, topic) => {
        this.out.counted(query, hub.subscriberCount(topic));
        this.schedule();
      },
      // The total for a count this thread's hook asked for.
      counted: (request, count) => {
        this.waiting.get(request)?.(count);
        this.waiting.delete(request);
      },
    });
  }

  /** The thread stops: nobody waits any more. */
  stop(): void {
    if (this.poll !== null) clearInterval(this.poll);
    this.poll = null;
    this.resumes = [];
  }

  /** Sends what is gathered now (the thread is stopping). */
  flush(): void {
    this.scheduled = false;
    if (this.out.empty) return;
    const { batch, transfer } = this.out.take();
    this.post(batch, transfer);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // Before this tick's socket writes go out: a subscription a client has been told about is known
    // to the main thread before anything that client can make happen next.
    queueMicrotask(() => this.flush());
  }
}
