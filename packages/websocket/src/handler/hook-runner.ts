import type { MessageType } from '../protocol/opcodes.js';
import { CloseHooks } from './close-hooks.js';
import type { AsyncResource } from 'node:async_hooks';
import type { RejectionTracker } from './rejections.js';
import type { Dispatcher, DispatchTarget } from './dispatcher.js';
import {
  HOOK_NAMES,
  isHandler,
  optionalHooks,
  type HandlerClass,
  type HandlerHooks,
  type HookResult,
} from './handler.js';
import type { Handshake } from './handshake.js';
import type { Conn } from './conn.js';
import { isCommand, runCommand } from './delivery-commands.js';
import { durationSlots, observe, switchOn, timingOn } from '../observe/durations.js';

const enum Kind {
  AfterInit,
  Message,
  Ping,
  Pong,
  ClientClose,
  Drain,
  Dropped,
  Signal,
  Close,
}

/** A hook call waiting for the connection's previous hook to settle. */
interface Pending {
  kind: Kind;
  data: Buffer | null;
  type: MessageType;
  owned: boolean;
  code: number;
  reason: string;
}

/** Per-connection state: the handler and the hooks waiting behind an unsettled promise. */
class Slot {
  handler: HandlerHooks<unknown>;
  readonly conn: Conn;
  busy = false;
  closed = false;
  /** Called when the close hook has settled. */
  onClosed: (() => void) | undefined = undefined;
  queue: Pending[] | null = null;
  /** Values of `server.signal` waiting for their serverMessage hook, in order. */
  signals: unknown[] | null = null;
  /** The async scope its hooks run in (see RejectionTracker), or null. */
  scope: AsyncResource | null = null;
  constructor(handler: HandlerHooks<unknown>, conn: Conn) {
    this.handler = handler;
    this.conn = conn;
  }
}

function isPromise(value: unknown): value is Promise<void> {
  return typeof (value as Promise<void> | undefined)?.then === 'function';
}

/**
 * Runs a handler's hooks, in order per connection: on the I/O thread when `threadPool.count` is 0
 * (it is then the server's dispatcher), and inside each worker thread otherwise (fed by the thread
 * pool). A hook that returns synchronously costs a direct call; one that returns a promise makes
 * the connection's later events wait in a queue until it settles, so hooks of one connection never
 * overlap. When `backlog` events are waiting, the target is asked to stop reading until it drains.
 */
export class HookRunner implements Dispatcher {
  readonly hooks: Dispatcher['hooks'];
  private readonly HandlerClass: HandlerClass;
  private readonly backlog: number;
  private readonly closeHooks = new CloseHooks();

  /** Traces unhandled rejections to the connection whose hook made them (null: Node's own behaviour). */
  private readonly rejections: RejectionTracker | null;
  /**
   * How long each hook took, one histogram per name of HOOK_NAMES (observe/durations.ts): from the call to its
   * return, or to its promise settling. In shared memory on a hook thread, where the I/O side reads it.
   */
  readonly hookDurations: Float64Array;

  constructor(
    HandlerClass: HandlerClass,
    backlog: number,
    rejections: RejectionTracker | null = null,
    durations = durationSlots(HOOK_NAMES.length, false),
  ) {
    this.HandlerClass = HandlerClass;
    this.backlog = backlog;
    this.rejections = rejections;
    this.hooks = optionalHooks(HandlerClass);
    this.hookDurations = durations;
  }

  open(target: DispatchTarget, handshake: Handshake, app: unknown): void | Promise<void> {
    const handler: HandlerHooks<unknown> = new this.HandlerClass();
    if (isHandler(handler)) {
      handler.conn = target.conn;
      handler.app = app;
    }
    const init = (handler as HandlerHooks<unknown>).init;
    const start = init !== undefined && timingOn(this.hookDurations) ? performance.now() : -1;
    const opened = (): void => {
      if (start >= 0) this.took(0, start);
      target.slot = new Slot(handler, target.conn);
    };
    let result: HookResult;
    try {
      result = init?.call(handler, handshake, target.conn, app);
    } catch (error) {
      if (start >= 0) this.took(0, start);
      throw error;
    }
    if (!isPromise(result)) return opened();
    return result.then(opened, (error: unknown) => {
      if (start >= 0) this.took(0, start);
      throw error;
    });
  }

  afterInit(target: DispatchTarget): void {
    this.run(target, Kind.AfterInit, null, 'binary', false, 0, '');
  }

  message(target: DispatchTarget, data: Buffer, type: MessageType, owned: boolean): void {
    this.run(target, Kind.Message, data, type, owned, 0, '');
  }

  ping(target: DispatchTarget, data: Buffer): void {
    this.run(target, Kind.Ping, Buffer.from(data), 'binary', false, 0, '');
  }

  pong(target: DispatchTarget, data: Buffer): void {
    this.run(target, Kind.Pong, Buffer.from(data), 'binary', false, 0, '');
  }

  clientClose(target: DispatchTarget, code: number, reason: string): void {
    this.run(target, Kind.ClientClose, null, 'binary', false, code, reason);
  }

  signal(target: DispatchTarget, data: unknown): void {
    const slot = target.slot as Slot | null;
    if (!slot || slot.closed) return;
    (slot.signals ??= []).push(data);
    this.run(target, Kind.Signal, null, 'binary', false, 0, '');
  }

  buffered(): void {
    // Inline, conn.bufferedAmount reads the socket directly.
  }

  closing(): void {
    // Inline, the target itself says it is closed.
  }

  drain(target: DispatchTarget): void {
    if (this.hooks.drain) this.run(target, Kind.Drain, null, 'binary', false, 0, '');
  }

  dropped(target: DispatchTarget, count: number): void {
    if (this.hooks.dropped) this.run(target, Kind.Dropped, null, 'binary', false, count, '');
  }

  closed(target: DispatchTarget, done?: () => void): void {
    const slot = target.slot as Slot | null;
    if (!slot || slot.closed) {
      done?.();
      return;
    }
    slot.closed = true;
    slot.onClosed = done;
    this.closeHooks.started();
    // Events still waiting will never matter: the peer is gone. Only `close` remains to run.
    if (slot.queue) {
      for (const p of slot.queue) {
        if (p.owned && p.data) target.releaseMessage(p.data);
        if (p.kind === Kind.Message) this.queued--;
        target.eventSettled();
      }
      slot.queue = null;
    }
    this.run(target, Kind.Close, null, 'binary', false, 0, '');
  }

  /**
   * Messages handed to hooks and not settled yet (running, or waiting behind an unsettled hook), over all connections.
   */
  queued = 0;
  /** Inline, nothing crosses threads. */
  readonly crossed = { shared: 0, copied: 0 };

  start(): Promise<void> {
    this.rejections?.install();
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.rejections?.uninstall();
    return Promise.resolve();
  }

  idle(): Promise<void> {
    return this.closeHooks.idle();
  }

  private run(
    target: DispatchTarget,
    kind: Kind,
    data: Buffer | null,
    type: MessageType,
    owned: boolean,
    code: number,
    reason: string,
  ): void {
    const slot = target.slot as Slot;
    if (slot.closed && kind !== Kind.Close) {
      if (owned && data) target.releaseMessage(data);
      return;
    }
    if (kind !== Kind.Close) target.eventStarted();
    if (kind === Kind.Message) this.queued++;
    if (slot.busy) {
      const queue = (slot.queue ??= []);
      queue.push({ kind, data, type, owned, code, reason });
      if (queue.length === this.backlog) target.pauseReading();
      return;
    }
    this.invoke(target, slot, kind, data, type, owned, code, reason);
  }

  private invoke(
    target: DispatchTarget,
    slot: Slot,
    kind: Kind,
    data: Buffer | null,
    type: MessageType,
    owned: boolean,
    code: number,
    reason: string,
  ): void {
    if (kind === Kind.Message && target.closed) {
      // RFC 6455 1.4: once our close frame is out, further data is discarded, whichever hook sent it.
      this.settled(target, slot, kind, data, owned, code, undefined, false, -1);
      return;
    }
    const start = timingOn(this.hookDurations) ? performance.now() : -1;
    let result: HookResult;
    try {
      result =
        this.rejections === null
          ? this.call(slot, kind, data, type, code, reason)
          : (slot.scope ??= this.rejections.scope(target)).runInAsyncScope(
              this.call,
              this,
              slot,
              kind,
              data,
              type,
              code,
              reason,
            );
    } catch (error) {
      this.settled(target, slot, kind, data, owned, code, error, true, start);
      return;
    }
    if (isPromise(result)) {
      slot.busy = true;
      result.then(
        () => this.settled(target, slot, kind, data, owned, code, undefined, false, start),
        (error: unknown) => this.settled(target, slot, kind, data, owned, code, error, true, start),
      );
    } else {
      this.settled(target, slot, kind, data, owned, code, undefined, false, start);
    }
  }

  private call(
    slot: Slot,
    kind: Kind,
    data: Buffer | null,
    type: MessageType,
    code: number,
    reason: string,
  ): HookResult {
    const h = slot.handler;
    switch (kind) {
      case Kind.Message:
        // With delivery, the client's subscribe and unsubscribe commands are the server's to carry out.
        if (this.hooks.delivery && type === 'text' && isCommand(data!)) return runCommand(h, slot.conn, data!);
        return h.clientMessage(data!, type);
      case Kind.AfterInit:
        return h.afterInit?.();
      case Kind.Ping:
        return h.clientPing!(data!);
      case Kind.Pong:
        return h.clientPong!(data!);
      case Kind.ClientClose:
        return h.clientClose!(code, reason);
      case Kind.Drain:
        return h.drain!();
      case Kind.Dropped:
        return h.dropped!(code);
      case Kind.Close:
        return h.close?.();
      case Kind.Signal:
        return h.serverMessage?.(slot.signals!.shift());
    }
  }

  /** Times hooks from now on (the first read of stats or metrics asks for it). */
  timeHooks(): void {
    switchOn(this.hookDurations);
  }

  /** Hook `index` (of HOOK_NAMES) ran from `start` (a performance.now()) until now. */
  private took(index: number, start: number): void {
    observe(this.hookDurations, index, (performance.now() - start) / 1000);
  }

  private settled(
    target: DispatchTarget,
    slot: Slot,
    kind: Kind,
    data: Buffer | null,
    owned: boolean,
    code: number,
    error: unknown,
    failed: boolean,
    start: number,
  ): void {
    if (start >= 0) this.took(kind + 1, start);
    if (owned && data) target.releaseMessage(data);
    if (kind === Kind.Message) this.queued--;
    if (failed) target.hookFailed(hookName(kind), error);
    if (kind === Kind.ClientClose) target.clientCloseDone(code);
    if (kind !== Kind.Close) target.eventSettled();
    if (kind === Kind.Close) {
      slot.onClosed?.();
      this.closeHooks.settled();
      return;
    }
    slot.busy = false;
    const queue = slot.queue;
    if (queue && queue.length > 0) {
      const next = queue.shift()!;
      if (queue.length === this.backlog - 1) target.resumeReading();
      this.invoke(target, slot, next.kind, next.data, next.type, next.owned, next.code, next.reason);
    }
  }
}

/** The hook an event kind runs (the kinds follow HOOK_NAMES after `init`). */
function hookName(kind: Kind): string {
  return HOOK_NAMES[kind + 1]!;
}
