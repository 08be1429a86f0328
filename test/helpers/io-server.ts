import type { AddressInfo } from 'node:net';
import { Server, type ServerConfig } from 'wsz';
import { Topical } from './topical.js';

/** A Topical server on two I/O threads with hooks inline (unless `config` says otherwise); `cleanup` stops it. */
export async function startIo(
  cleanup: Array<() => unknown>,
  config: ServerConfig = {},
): Promise<{ server: Server<Topical>; port: number }> {
  const server = new Server(Topical, {
    port: 0,
    logLevel: 'silent',
    closeTimeout: 1000,
    workerCount: 2,
    threadPool: { count: 0 },
    ...config,
  });
  const { port } = (await server.listen()) as AddressInfo;
  cleanup.push(() => server.stop());
  return { server, port };
}
