/**
 * The Server facade's lifecycle: started once (listen, attach or start), stopped once. A start in
 * progress that stop() overtakes fails with that said; a start that fails undoes what it started.
 */
export class Lifecycle {
  /** Set by the first stop(): later calls get the same promise. */
  stopping: Promise<void> | null = null;
  /** Settles when a start in progress has started (or failed): stop() waits for it. */
  started: Promise<unknown> | null = null;
  private starting = false;

  /**
   * Runs `start` (the engine), then `open` (bind the listener, route upgrades); should `open` fail,
   * `undo` stops what `start` started, so no thread or timer is left running.
   * @param call the public call, for messages ('server.listen()')
   */
  async begin(call: string, start: () => Promise<void>, open: () => Promise<unknown>, undo: () => Promise<void>) {
    if (this.stopping) throw new Error(`${call}: this server was stopped; create a new Server`);
    if (this.starting) {
      throw new Error(
        `${call}: this server already runs (listen, attach or start); create another Server for another endpoint`,
      );
    }
    this.starting = true;
    const starting = (async () => {
      await start();
      try {
        await open();
      } catch (error) {
        await undo();
        throw error;
      }
    })();
    this.started = starting.catch(() => {});
    try {
      await starting;
    } catch (error) {
      this.starting = false;
      throw error;
    }
    if (this.stopping) {
      const what = call === 'server.listen()' ? 'listening' : 'starting';
      throw new Error(`${call}: server.stop() was called before ${what} completed; the server is stopped`);
    }
  }

  /** Runs `shutdown` the first time; every call gets its promise. */
  stop(shutdown: () => Promise<void>): Promise<void> {
    return (this.stopping ??= shutdown());
  }
}
