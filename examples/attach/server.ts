/**
 * One port for the app and its WebSocket endpoint: a node:http server answers GET /health (a load
 * balancer's check) and anything else it likes; wsz takes the upgrades for /echo.
 *   PORT=9001 pnpm attach
 * env THREADS sets threadPool.count (default 4; 0 = inline).
 */
import { createServer } from 'node:http';
import { Server } from 'wsz';
import { Echo } from '../echo/handler.ts';

const env = process.env;
const http = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') {
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
});

const ws = new Server(Echo, {
  ...(env.THREADS !== undefined ? { threadPool: { count: Number(env.THREADS) } } : {}),
});
await ws.attach(http, { path: '/echo' });

const port = Number(env.PORT ?? 9001);
http.listen(port, env.ADDRESS ?? '127.0.0.1', () => {
  const bound = http.address() as { address: string; port: number };
  console.log(`attach example listening on ${bound.address}:${bound.port} (GET /health, ws://.../echo)`);
});

// Ctrl-C: close the WebSocket connections (1001), then the HTTP server.
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    ws.stop().then(() => http.close(() => process.exit(0)));
  });
}
