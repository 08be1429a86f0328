/**
 * Hash server: answers every message with its SHA-256 stretched ROUNDS times (see README.md).
 *   THREADS=2 PORT=9002 pnpm hash
 */
import { Server } from 'wsz';
import { Hasher } from './handler.ts';

const env = process.env;
const server = new Server(Hasher, {
  port: Number(env.PORT ?? 9002),
  ...(env.THREADS !== undefined ? { threadPool: { count: Number(env.THREADS) } } : {}),
});
const address = await server.listen();
console.log(
  `hash server listening on ${typeof address === 'string' ? address : `${address.address}:${address.port}`} with ${server.config.threadPool.count} handler threads`,
);

// A Ctrl-C reaches every process of the group (pnpm, tsx, node), and some pass it on again: stop once.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    server.stop().then(() => process.exit(0));
  });
}
