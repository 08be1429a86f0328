import { rmSync } from 'node:fs';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { ResolvedConfig } from '../config/config.js';
import type { Logger } from '../logging/log.js';

/**
 * The listener of the Server facade: binds `config`'s address (or Unix path) with Nagle off and no
 * half-open sockets, hands each accepted socket to `accept` (paused when `paused`: an engine that
 * hands sockets on or does TLS reads nothing first), and resolves once bound.
 * @throws Error naming the address when it cannot be bound (the cause attached)
 */
export function listen(
  config: ResolvedConfig,
  log: Logger,
  paused: boolean,
  accept: (socket: Socket) => void,
): Promise<NetServer> {
  const listener = createServer({ noDelay: true, allowHalfOpen: false, pauseOnConnect: paused }, accept);
  const { unixPath, port, address } = config;
  return new Promise((resolve, reject) => {
    listener.once('error', (error) => {
      const where = unixPath ?? `${address}:${port}`;
      reject(new Error(`server.listen(): cannot listen on ${where}: ${error.message}`, { cause: error }));
    });
    const ready = (): void => {
      listener.on('error', (error) => log.error(`listener error: ${error.message}`));
      const bound = listener.address()!;
      log.info(`listening on ${typeof bound === 'string' ? bound : `${bound.address}:${bound.port}`}`);
      resolve(listener);
    };
    if (unixPath) {
      rmSync(unixPath, { force: true });
      listener.listen({ path: unixPath, backlog: 1024 }, ready);
    } else {
      listener.listen({ port, host: address, backlog: 1024 }, ready);
    }
  });
}

/** Throws when called on a wsz hook thread: the handler's module started a server as it was imported there. */
export function refuseInHookThread(): void {
  if (!(globalThis as Record<symbol, unknown>)[Symbol.for('wsz.inWorker')]) return;
  throw new Error(
    'server.listen() ran inside a wsz handler thread: worker threads import the module that defines your handler ' +
      'class, and that module starts a server when imported. Move the handler class to a module of its own, or start ' +
      "the server only when `isMainThread` (from 'node:worker_threads') is true.",
  );
}
