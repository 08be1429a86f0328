// The ws version: a room where every message goes to every member, with a token check, a size limit
// and a heartbeat. Needs `ws` (not a dependency of this project: the suite installs it in a cache folder).
//   PORT=9001 TOKEN=secret node ws-server.mjs
import { createServer } from 'node:http';
import { WebSocketServer, WebSocket } from 'ws';

const token = process.env.TOKEN ?? 'secret';
const http = createServer((req, res) => res.writeHead(426, { Upgrade: 'websocket' }).end('WebSocket only\n'));
const wss = new WebSocketServer({
  server: http,
  maxPayload: 64 * 1024,
  verifyClient: ({ req }, done) => {
    const url = new URL(req.url, 'http://x');
    if (url.searchParams.get('token') !== token) return done(false, 401, 'a valid ?token= is required');
    done(true);
  },
});

wss.on('connection', (ws, req) => {
  const user = new URL(req.url, 'http://x').searchParams.get('user') ?? 'anonymous';
  ws.isAlive = true;
  ws.on('pong', () => (ws.isAlive = true));
  ws.send(JSON.stringify({ type: 'welcome', user, members: wss.clients.size }));
  ws.on('message', (data, isBinary) => {
    if (isBinary) return ws.close(1003, 'text only');
    const out = JSON.stringify({ type: 'message', user, text: data.toString() });
    for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(out);
  });
  ws.on('close', () => {
    const out = JSON.stringify({ type: 'leave', user });
    for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(out);
  });
  ws.on('error', () => {});
});

// Heartbeat: ping everyone every 30 s, terminate who did not answer the last one.
const heartbeat = setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.isAlive) ws.terminate();
    ws.isAlive = false;
    ws.ping();
  }
}, 30_000);

http.listen(Number(process.env.PORT ?? 9001), '127.0.0.1', () => console.log(`ws room listening on 127.0.0.1:${http.address().port}`));
process.once('SIGINT', () => {
  clearInterval(heartbeat);
  for (const ws of wss.clients) ws.close(1001);
  wss.close();
  http.close(() => process.exit(0));
});
