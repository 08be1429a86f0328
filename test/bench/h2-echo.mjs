// node test/bench/h2-echo.mjs (after pnpm build): echo throughput over HTTP/2 streams against HTTP/1.1 upgrades,
// 50 connections of wsz's own Node client, 4 s a run, two alternating runs each. Stops by itself; 127.0.0.1 only.
import { createServer as h2server } from 'node:http2';
import { createServer as h1server } from 'node:http';
import { fork } from 'node:child_process';
const [, , role, kind, portArg, sizeArg, depthArg] = process.argv;
if (role === 'server') {
  const { Server, Handler } = await import('../../packages/websocket/dist/index.js');
  class Echo extends Handler { clientMessage(d, t) { t === 'binary' ? this.conn.writeBin(d) : this.conn.writeText(d); } }
  const http = kind === 'h2' ? h2server() : h1server();
  const server = new Server(Echo, { logLevel: 'silent', threadPool: { count: 0 } });
  await server.attach(http, { path: '/ws' });
  http.listen(0, '127.0.0.1', () => process.send({ port: http.address().port }));
} else if (role === 'load') {
  const { Client } = await import('../../packages/websocket/dist/client/index.js');
  const size = Number(sizeArg), depth = Number(depthArg), N = 50, SECS = 4;
  const payload = Buffer.alloc(size, 7);
  const clients = await Promise.all(Array.from({ length: N }, () => Client.connect(`ws://127.0.0.1:${portArg}/ws`, { http2: kind === 'h2', maxMessageSize: 1 << 20 })));
  let count = 0; const end = Date.now() + SECS * 1000;
  await Promise.all(clients.map(async (c) => {
    for (let i = 0; i < depth; i++) c.writeBin(payload);
    while (Date.now() < end) { const m = await c.read(5000); if (!m) break; if (m.type === 'binary') { count++; c.writeBin(payload); } }
  }));
  process.send({ rate: count / SECS });
  process.exit(0);
} else {
  for (const [size, depth] of [[32, 16], [16384, 4]]) {
    const row = [];
    for (const k of ['h1', 'h2', 'h1', 'h2']) {
      const srv = fork(new URL(import.meta.url).pathname, ['server', k]);
      const { port } = await new Promise((r) => srv.once('message', r));
      const load = fork(new URL(import.meta.url).pathname, ['load', k, String(port), String(size), String(depth)]);
      const { rate } = await new Promise((r) => load.once('message', r));
      row.push(`${k} ${Math.round(rate)}`);
      srv.kill();
    }
    console.log(`${size} B x ${depth} in flight, 50 connections, msgs/s:`, row.join(', '));
  }
  process.exit(0);
}
