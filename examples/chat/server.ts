/**
 * A chat on one port: GET / serves the page, WebSocket upgrades to /chat?room=ROOM&user=USER join a
 * room. Rooms are pub/sub topics, so it works the same on every worker thread.
 *   PORT=9001 pnpm chat    then open http://127.0.0.1:9001/ in two browser windows
 * env THREADS sets threadPool.count (default 4; 0 = inline), ADDRESS the address to bind, REDIS_URL a Redis
 * server (redis://host:port/db) through which rooms span every chat process that uses it.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { RedisBackplane, Server } from 'wsz';
import { Chat } from './handler.js';

const env = process.env;
const page = readFileSync(new URL('./page.html', import.meta.url));

const http = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if ((req.method === 'GET' || req.method === 'HEAD') && (path === '/' || path === '/index.html')) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': page.length, 'Cache-Control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : page);
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
});

const chat = new Server(Chat, {
  ...(env.THREADS !== undefined ? { threadPool: { count: Number(env.THREADS) } } : {}),
  // Browsers send at most this much in one message here; a chat line is short.
  maxMessageSize: 16 * 1024,
  // Several chat processes (behind a load balancer) share their rooms through Redis.
  ...(env.REDIS_URL ? { backplane: new RedisBackplane(env.REDIS_URL, { prefix: 'chat', log: (m) => console.error(`[chat] ${m}`) }) } : {}),
});
await chat.attach(http, { path: '/chat' });

http.listen(Number(env.PORT ?? 9001), env.ADDRESS ?? '127.0.0.1', () => {
  const bound = http.address() as { address: string; port: number };
  console.log(`chat listening on ${bound.address}:${bound.port}: open http://${bound.address}:${bound.port}/`);
});

// Ctrl-C: members get 1001 (their pages reconnect to the next server), then the HTTP server closes.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    chat.stop().then(() => {
      http.closeAllConnections();
      http.close(() => process.exit(0));
    });
  });
}
