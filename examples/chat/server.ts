/**
 * A chat on one port: GET / serves the page, WebSocket upgrades to /chat?room=ROOM&user=USER join a
 * room, GET /metrics answers Prometheus. Rooms are pub/sub topics, so it works the same on every thread
 * (and, with REDIS_URL, every process).
 *   PORT=9001 pnpm chat    then open http://127.0.0.1:9001/ in two browser windows
 * env THREADS sets threadPool.count (default 4; 0 = inline), WORKERS workerCount (I/O threads, Node 24+),
 * ADDRESS the address to bind, REDIS_URL a Redis server (redis://host:port/db) through which rooms span
 * every chat process that uses it, ADMIN_TOKEN enables POST /admin/kick?user=NAME (kicks on every process),
 * TLS_CERT and TLS_KEY (PEM files) serve https:// over HTTP/2 and HTTP/1.1, the WebSocket over either (RFC 8441).
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse, type Server as HttpServer } from 'node:http';
import { createSecureServer } from 'node:http2';
import { RedisBackplane, Server, type HttpRequest, type ServerConfig } from 'wsz';
import { Chat } from './handler.ts';
import { route } from './routes.ts';

const env = process.env;
const port = Number(env.PORT ?? 9001);
const address = env.ADDRESS ?? '127.0.0.1';
const workers = Number(env.WORKERS ?? 1);
const config: ServerConfig = {
  ...(env.THREADS !== undefined ? { threadPool: { count: Number(env.THREADS) } } : {}),
  // Browsers send at most this much in one message here; a chat line is short.
  maxMessageSize: 16 * 1024,
  // Each room keeps its last 500 messages of the last hour: a page that reconnects gets what it missed.
  pubsub: { history: [{ topic: 'room:*', messages: 500, seconds: 3600 }] },
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
  // One I/O thread: the chat attaches to the app's own HTTP server, which answers the same routes. Given TLS_CERT and
  // TLS_KEY it is an HTTP/2 server that speaks HTTP/1.1 too: browsers then open the WebSocket as a stream of the
  // page's own connection (RFC 8441), or upgrade over HTTP/1.1.
  const tls = env.TLS_CERT && env.TLS_KEY ? { cert: readFileSync(env.TLS_CERT), key: readFileSync(env.TLS_KEY) } : null;
  const handle = (req: IncomingMessage, res: ServerResponse): void => void answer(req, res, chat);
  const http = (
    tls ? createSecureServer({ ...tls, allowHTTP1: true }, handle as never) : createServer(handle)
  ) as HttpServer;
  const chat = new Server(Chat, config);
  await chat.attach(http, { path: '/chat' });
  await new Promise<void>((resolve) => http.listen(port, address, resolve));
  const bound = http.address() as { address: string; port: number };
  const scheme = tls ? 'https' : 'http';
  console.log(`chat listening on ${bound.address}:${bound.port}: open ${scheme}://${bound.address}:${bound.port}/`);
  // An HTTP/2 server's close waits for its sessions: they end with the chat.
  const sessions = new Set<{ destroy(): void }>();
  http.on('session', (s: { destroy(): void; on(e: 'close', f: () => void): void }) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  stop = async () => {
    await chat.stop();
    (http as { closeAllConnections?: () => void }).closeAllConnections?.();
    for (const s of sessions) s.destroy();
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

/** A node:http request answered by the chat's routes (its body, if any, is not needed by them and not read). */
async function answer(req: IncomingMessage, res: ServerResponse, chat: Server<Chat>): Promise<void> {
  req.resume();
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) headers[name] = String(value);
  const request: HttpRequest = {
    method: req.method ?? 'GET',
    url,
    path: q < 0 ? url : url.slice(0, q),
    query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
    headers,
    version: req.httpVersion,
    body: Buffer.alloc(0),
  };
  const reply = await route(request, chat, env.ADMIN_TOKEN);
  const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : Buffer.from(reply.body ?? '');
  res.writeHead(reply.status ?? 200, {
    'Content-Type': 'text/plain; charset=utf-8',
    ...reply.headers,
    'Content-Length': body.length,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
