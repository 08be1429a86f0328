/**
 * Echo server: text comes back as text, binary as binary.
 *   PORT=9001 pnpm echo
 * env MAX_MESSAGE_SIZE sets maxMessageSize, THREADS sets threadPool.count (default 4; 0 = inline), THREAD_BUFFER
 * threadPool.bufferSize (bytes per hook thread and direction), WORKERS sets
 * workerCount (I/O threads, Node 24+),
 * ORIGINS the allowed browser origins (comma-separated), TLS_CERT and TLS_KEY (PEM files) serve wss://,
 * BROADCAST=1 publishes every message to every connection, the sender included (a fan-out benchmark),
 * DEFLATE=1 accepts permessage-deflate (compression) offers (DEFLATE=takeover: with context takeover both ways),
 * REDIS_URL shares BROADCAST's topic with every echo process on that Redis (the backplane).
 */
import { readFileSync } from 'node:fs';
import { RedisBackplane, Server } from 'wsz';
import { Broadcast, Echo } from './handler.ts';

const env = process.env;
const server = new Server(env.BROADCAST === '1' ? Broadcast : Echo, {
  port: Number(env.PORT ?? 9001),
  address: env.ADDRESS ?? '127.0.0.1',
  ...(env.MAX_MESSAGE_SIZE ? { maxMessageSize: Number(env.MAX_MESSAGE_SIZE) } : {}),
  threadPool: {
    ...(env.THREADS !== undefined ? { count: Number(env.THREADS) } : {}),
    ...(env.THREAD_BUFFER ? { bufferSize: Number(env.THREAD_BUFFER) } : {}),
  },
  ...(env.WORKERS ? { workerCount: Number(env.WORKERS) } : {}),
  ...(env.MAX_CONN ? { maxConn: Number(env.MAX_CONN) } : {}),
  ...(env.DEFLATE === '1' ? { perMessageDeflate: true } : {}),
  ...(env.REDIS_URL ? { backplane: new RedisBackplane(env.REDIS_URL, { prefix: 'echo' }) } : {}),
  ...(env.DEFLATE === 'takeover'
    ? { perMessageDeflate: { serverNoContextTakeover: false, clientNoContextTakeover: false } }
    : {}),
  // TLS_CERT and TLS_KEY name PEM files: serve wss://.
  ...(env.TLS_CERT && env.TLS_KEY ? { tls: { cert: readFileSync(env.TLS_CERT), key: readFileSync(env.TLS_KEY) } } : {}),
  // ORIGINS=https://a.example,https://b.example: browsers from other origins get 403.
  ...(env.ORIGINS
    ? {
        allowedOrigins: env.ORIGINS.split(',')
          .map((o) => o.trim())
          .filter(Boolean),
      }
    : {}),
});

const address = await server.listen();
console.log(`echo server listening on ${typeof address === 'string' ? address : `${address.address}:${address.port}`}`);

// Ctrl-C or a TERM: close every connection with 1001, run their close hooks, end the workers.
// A Ctrl-C reaches every process of the group (pnpm, tsx, node), and some pass it on again: stop once.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    server.stop().then(() => process.exit(0));
  });
}
