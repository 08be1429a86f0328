import type { ServerStats } from 'wsz';

/** Waits until `predicate` holds, polling; throws after `ms` naming `what`. */
export async function eventually(what: string, predicate: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * `server.stats()` once it shows everything that happened so far: with I/O threads (`workerCount`)
 * each thread publishes its counters every 20 ms, so this waits a few periods first.
 */
export async function freshStats(server: {
  readonly config: { workerCount: number };
  stats(): ServerStats;
}): Promise<ServerStats> {
  if (server.config.workerCount > 1) await new Promise((r) => setTimeout(r, 60));
  return server.stats();
}
