import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import type { DispatchTarget } from './dispatcher.js';

/**
 * Unhandled promise rejections traced to the connection whose hook made them. A hook runs inside an
 * AsyncLocalStorage context of its connection; Node runs 'unhandledRejection' listeners in the context
 * of the promise that was rejected, so a promise a hook created and nobody awaited names its
 * connection: that connection alone is closed with 1011 (and it is logged), instead of the thread
 * (hook threads) or the process (inline) going down with every other connection.
 */
export class RejectionTracker {
  private readonly context = new AsyncLocalStorage<DispatchTarget>();
  private listener: ((reason: unknown) => void) | null = null;

  /**
   * The async scope of `target`'s hooks, made once per connection: running a hook in it costs about
   * 35 ns, where `AsyncLocalStorage.run` per call costs about 330 ns on Node 24 (measured: it copies
   * the context frame each time; entering a resource's scope only switches to the frame it kept).
   */
  scope(target: DispatchTarget): AsyncResource {
    return this.context.run(target, () => new AsyncResource('wsz.hooks'));
  }

  /**
   * Listens to the process's (or this worker thread's) unhandled rejections. One that no hook made is
   * left to Node's own behaviour: it is thrown again, as Node would (the thread or process ends).
   */
  install(): void {
    if (this.listener !== null) return;
    this.listener = (reason: unknown) => {
      const target = this.context.getStore();
      if (target === undefined) throw reason;
      if (!target.closed) target.hookFailed('a promise it did not await (an unhandled rejection)', reason);
    };
    process.on('unhandledRejection', this.listener);
  }

  uninstall(): void {
    if (this.listener !== null) process.off('unhandledRejection', this.listener);
    this.listener = null;
  }
}
