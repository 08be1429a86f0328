// node test/bench/h2-memory.mjs (after pnpm build): server memory per idle WebSocket, 1,000 as streams of one
// HTTP/2 session against 1,000 HTTP/1.1 upgrades, on the same inline wsz server attached to node:http2 / node:http.
// Stops by itself; 127.0.0.1 only. Figures: docs/benchmarks.md.
import { createServer as h2server } from 'node:http2';
import { createServer as h1server } from 'node:http';
import { fork } from 'node:child_process';
const mode = process.argv[2];
if (mode === 'server') {
  const { Server, Handler } = await import('../../packages/websocket/dist/index.js');
  class Idle extends Handler { clientMessage() {} }
  const kind = process.argv[3];
  const http = kind === 'h2' ? h2server() : h1server();
  const server = new Server(Idle, { logLevel: 'silent', threadPool: { count: 0 } });
  await server.attach(http, { path: '/ws' });
  http.listen(0, '127.0.0.1', () => process.send({ port: http.address().port }));
  process.on('message', (m) => {
    if (m === 'rss') { globalThis.gc?.(); globalThis.gc?.(); process.send({ rss: process.memoryUsage().rss, conns: server.stats().upgraded }); }
  });
} else {
  for (const kind of ['h1', 'h2']) {
    const child = fork(new URL(import.meta.url).pathname, ['server', kind], { execArgv: ['--expose-gc'] });
    const { port } = await new Promise((r) => child.once('message', r));
    const ask = () => new Promise((r) => { child.once('message', r); child.send('rss'); });
    await new Promise((r) => setTimeout(r, 300));
    const before = await ask();
    const N = 1000;
    const keep = [];
    if (kind === 'h2') {
      const { connect } = await import('node:http2');
      const session = connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 65535 } });
      await new Promise((r) => session.once('remoteSettings', r));
      session.setMaxListeners?.(0);
      for (let i = 0; i < N; i++) {
        const s = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/ws', ':scheme': 'http', 'sec-websocket-version': '13' }, { endStream: false });
        keep.push(new Promise((r) => s.once('response', r)));
        keep.push(s);
      }
      await Promise.all(keep.filter((k) => k instanceof Promise));
    } else {
      const { Client } = await import('../../packages/websocket/dist/client/index.js');
      for (let i = 0; i < N; i += 50) keep.push(...(await Promise.all(Array.from({ length: 50 }, () => Client.connect(`ws://127.0.0.1:${port}/ws`)))));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const after = await ask();
    console.log(`${kind}: ${after.conns} WebSockets, server RSS +${((after.rss - before.rss) / 1024 / N).toFixed(2)} KiB each`);
    child.kill();
    for (const k of keep) k?.destroy?.();
  }
  process.exit(0);
}
