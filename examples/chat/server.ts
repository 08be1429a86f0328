/**
 * A chat on one port: GET / serves the page, WebSocket upgrades to /chat?room=ROOM&user=USER join a
 * room, and (with one I/O thread) GET /metrics answers Prometheus. Rooms are pub/sub topics, so it
 * works the same on every thread.
 *   PORT=9001 pnpm chat    then open http://127.0.0.1:9001/ in two browser windows
 * env THREADS sets threadPool.count (default 4; 0 = inline), WORKERS workerCount (I/O threads, Node 24+),
 * ADDRESS the address to bind, REDIS_URL a Redis server (redis://host:port/db) through which rooms span
 * every chat process that uses it, ADMIN_TOKEN enables POST /admin/kick?user=NAME (one I/O thread).
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { METRICS_CONTENT_TYPE, RedisBackplane, Server, type ServerConfig } from 'wsz';
import { Chat, pageReply } from './handler.ts';

const env = process.env;
const port = Number(env.PORT ?? 9001);
const address = env.ADDRESS ?? '127.0.0.1';
const workers = Number(env.WORKERS ?? 1);
const config: ServerConfig = {
  ...(env.THREADS !== undefined ? { threadPool: { count: Number(env.THREADS) } } : {}),
  // Browsers send at most this much in one message here; a chat line is short.
  maxMessageSize: 16 * 1024,
  // Several chat processes (behind a load balancer) share their rooms through Redis.
  ...(env.REDIS_URL ? { backplane: new RedisBackplane(env.REDIS_URL, { prefix: 'chat' }) } : {}),
};

let stop: () => Promise<void>;
if (workers > 1) {
  // I/O threads take their sockets from wsz's own listener: the page comes from Chat.httpRequest, same port.
  const chat = new Server(Chat, { ...config, workerCount: workers, port, address });
  const bound = (await chat.listen()) as { address: string; port: number };
  console.log(
    `chat listening on ${bound.address}:${bound.port} (${workers} I/O threads): open http://${bound.address}:${bound.port}/`,
  );
  stop = () => chat.stop();
} else {
  // One I/O thread: the chat attaches to the app's own HTTP server, which serves the page.
  const http = createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] === '/admin/kick') {
      void kick(req, res, chat);
      return;
    }
    if (req.method === 'GET' && req.url === '/metrics') {
      // The chat's counters for Prometheus (see docs/operations.md).
      res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE }).end(chat.metrics());
      return;
    }
    const reply =
      req.method === 'GET' || req.method === 'HEAD'
        ? pageReply((req.url ?? '/').split('?')[0]!)
        : { status: 405, body: 'GET only\n' };
    const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : Buffer.from(reply.body ?? '');
    res.writeHead(reply.status ?? 200, {
      'Content-Type': 'text/plain; charset=utf-8',
      ...reply.headers,
      'Content-Length': body.length,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  const chat = new Server(Chat, config);
  await chat.attach(http, { path: '/chat' });
  await new Promise<void>((resolve) => http.listen(port, address, resolve));
  const bound = http.address() as { address: string; port: number };
  console.log(`chat listening on ${bound.address}:${bound.port}: open http://${bound.address}:${bound.port}/`);
  stop = async () => {
    await chat.stop();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  };
}

// Ctrl-C: members get 1001 (their pages reconnect to the next server), then the server closes.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void stop().then(() => process.exit(0));
  });
}

/**
 * POST /admin/kick?user=NAME with `Authorization: Bearer $ADMIN_TOKEN`: closes every connection of that user with
 * 4001, wherever its hooks run, and answers 200 with how many. Without ADMIN_TOKEN the route does not exist (404);
 * a wrong token gets 401.
 */
async function kick(req: IncomingMessage, res: ServerResponse, chat: Server<Chat>): Promise<void> {
  const answer = (status: number, body: string): void =>
    void res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(body + '\n');
  const token = env.ADMIN_TOKEN;
  if (!token) return answer(404, 'not found');
  if (req.method !== 'POST') return answer(405, 'POST only');
  const given = Buffer.from(req.headers.authorization ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return answer(401, 'wrong token');
  const user = new URL(req.url ?? '/', 'http://x').searchParams.get('user');
  if (!user) return answer(400, 'say who: /admin/kick?user=NAME');
  req.resume(); // a body, if any, is not read
  const sessions = await chat.connections((c) => new URL(c.url, 'http://x').searchParams.get('user') === user);
  let closed = 0;
  for (const c of sessions) if (chat.close(c.id, 4001, 'kicked by an admin')) closed++;
  answer(200, String(closed));
}
