import { CloseHooks } from '../handler/close-hooks.js';
import type { WorkerHandle } from './hook-records.js';
import { ToWorker } from './messages.js';

/**
 * How connections end on the hook threads, seen from the I/O thread: the close hooks handed to workers and not yet
 * settled (each worker says CloseDone), and, for a handler without a close hook, the questions a stop asks each
 * worker instead (ToWorker.Idle), so that no record crosses per connection for it.
 */
export class HookEndings {
  private readonly closeDone = new Map<number, () => void>();
  private readonly closeHooks = new CloseHooks();
  /** ToWorker.Idle requests not answered yet, by request. */
  private readonly idleWaits = new Map<number, { handle: WorkerHandle; resolve: () => void }>();
  private nextIdle = 1;

  /** Connection `id`'s close hook was handed to its worker: `done` runs once the worker says it settled. */
  started(id: number, done: () => void): void {
    this.closeHooks.started();
    this.closeDone.set(id, done);
  }

  /** The worker said connection `id`'s close hook settled (or it never will: its worker died). */
  finish(id: number): void {
    const done = this.closeDone.get(id);
    if (!done) return;
    this.closeDone.delete(id);
    done();
    this.closeHooks.settled();
  }

  /** Resolves once every close hook started so far has settled. */
  closeHooksIdle(): Promise<void> {
    return this.closeHooks.idle();
  }

  /**
   * Asks each live worker (`send` posts the record) to say when the hooks of every connection closed so far have
   * settled; resolves once all have (or died).
   */
  askWorkers(handles: readonly WorkerHandle[], send: (h: WorkerHandle, kind: number, request: number) => void) {
    const asked: Promise<void>[] = [];
    for (const handle of handles) {
      if (!handle || handle.dead) continue;
      const request = this.nextIdle++;
      asked.push(new Promise((resolve) => this.idleWaits.set(request, { handle, resolve })));
      send(handle, ToWorker.Idle, request);
    }
    return Promise.all(asked).then(() => undefined);
  }

  /** A worker answered ToWorker.Idle `request`. */
  answered(request: number): void {
    const wait = this.idleWaits.get(request);
    this.idleWaits.delete(request);
    wait?.resolve();
  }

  /** A worker died: its hooks ran their last, so nothing waits for it any more. */
  died(handle: WorkerHandle): void {
    for (const [request, wait] of this.idleWaits) if (wait.handle === handle) this.answered(request);
  }
}
