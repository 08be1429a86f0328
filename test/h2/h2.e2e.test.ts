/**
 * WebSockets over HTTP/2 (RFC 8441): `server.attach()` on a node:http2 server announces the extended CONNECT
 * protocol, and a CONNECT stream with `:protocol websocket` on the attached path becomes a connection: the same
 * init, hooks, frames and close handshake as an HTTP/1.1 upgrade, on the stream.
 */
import {
  connect,
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type ServerHttp2Session,
} from 'node:http2';
import diagnostics from 'node:diagnostics_channel';
import { createServer as httpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisBackplane, Server, type ServerConfig } from 'wsz';
import { Client } from 'wsz/client';
import { Opcode } from 'wsz/protocol';
import { H2Socket, h2Session } from '../helpers/h2-client.js';
import { FrameType, H2Error, RawH2 } from '../helpers/raw-h2.js';
import { Recorder, type RecorderApp } from '../helpers/recorder.js';
import { redisAvailable, startRedis } from '../helpers/redis.js';
import { Topical } from '../helpers/topical.js';
import { eventually } from '../helpers/server.js';
import { selfSigned } from '../helpers/tls.js';

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** An h2c server (with `allowHTTP1`, HTTP/1.1 too) with a wsz server attached at /ws; its origin. */
async function start(
  threads: number,
  allowHTTP1 = false,
  config: ServerConfig = {},
  handler: typeof Topical | typeof Recorder = Topical,
  app?: RecorderApp,
): Promise<{ server: Server<Topical>; origin: string; sessions: () => number }> {
  const http2 = createServer({ allowHTTP1 } as never, (_req, res) => res.end('page\n')) as Http2Server;
  const server = new Server(handler as typeof Topical, {
    logLevel: 'silent',
    closeTimeout: 1000,
    ...config,
    threadPool: { count: threads },
  });
  await server.attach(http2 as never, { path: '/ws' }, app as never);
  let sessions = 0;
  const open = new Set<ServerHttp2Session>();
  http2.on('session', (s) => {
    sessions++;
    open.add(s);
    s.once('close', () => open.delete(s));
  });
  await new Promise<void>((resolve) => http2.listen(0, '127.0.0.1', resolve));
  cleanup.push(async () => {
    await server.stop();
    // Node 20 never closes a session after its own GOAWAY for a protocol error (Node 24 does): ended here.
    for (const s of open) s.destroy();
    await new Promise((resolve) => http2.close(resolve));
  });
  return { server, origin: `http://127.0.0.1:${(http2.address() as AddressInfo).port}`, sessions: () => sessions };
}

async function session(origin: string) {
  const s = await h2Session(origin);
  cleanup.push(() => s.session.destroy());
  return s;
}

describe.each([
  { name: 'inline', threads: 0 },
  { name: 'hook threads', threads: 2 },
])('WebSockets over HTTP/2 ($name)', ({ threads }) => {
  it('announces extended CONNECT and runs a WebSocket on a CONNECT stream: text, binary, ping, close', async () => {
    const { server, origin } = await start(threads);
    const { session: s, connectProtocol } = await session(origin);
    expect(connectProtocol).toBe(true);
    const ws = await H2Socket.open(s, '/ws?x=1');
    expect(ws.status).toBe(200);
    expect(await ws.nextText()).toMatch(/^id \d+$/);
    ws.text('say hello over h2');
    expect(await ws.nextText()).toBe('hello over h2');
    ws.send(Opcode.Ping, 'p');
    expect(await ws.next()).toMatchObject({ opcode: Opcode.Pong, data: Buffer.from('p') });
    const [info] = await server.connections();
    expect(info!.url).toBe('/ws?x=1');
    // The close handshake, then the stream ends (END_STREAM).
    ws.send(Opcode.Close, Buffer.from([0x03, 0xe8]));
    expect(await ws.next()).toMatchObject({ opcode: Opcode.Close });
    await eventually('the stream ending', () => ws.ended);
  });

  it('answers an offer of permessage-deflate in the 200, as in the 101', async () => {
    const { origin } = await start(threads, false, { perMessageDeflate: true });
    const { session: s } = await session(origin);
    const ws = await H2Socket.open(s, '/ws', {
      'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
    });
    expect(ws.status).toBe(200);
    expect(ws.headers['sec-websocket-extensions']).toMatch(/^permessage-deflate/);
    expect(ws.headers['sec-websocket-accept']).toBeUndefined();
  });

  it('carries 100 WebSockets on one session; a stream reset by the peer closes only its own', async () => {
    const { server, origin } = await start(threads);
    const { session: s } = await session(origin);
    const sockets = await Promise.all(Array.from({ length: 100 }, () => H2Socket.open(s, '/ws')));
    const ids = await Promise.all(sockets.map((w) => w.nextText()));
    expect(new Set(ids).size).toBe(100);
    const closes: Array<{ code: number; by: string }> = [];
    const onClose = (e: unknown): void => void closes.push(e as { code: number; by: string });
    diagnostics.subscribe('wsz:connection:close', onClose);
    cleanup.push(() => diagnostics.unsubscribe('wsz:connection:close', onClose));
    sockets[0]!.stream.close(0x8); // RST_STREAM CANCEL
    let left = 100;
    for (const end = Date.now() + 3000; left !== 99 && Date.now() < end; await new Promise((r) => setTimeout(r, 20)))
      left = (await server.connections()).length;
    expect(left).toBe(99);
    // The connection ended without a close frame: 1006, by the transport.
    expect(closes).toMatchObject([{ code: 1006, by: 'transport' }]);
    for (const w of sockets.slice(1, 4)) {
      w.text('say still here');
      expect(await w.nextText()).toBe('still here');
    }
  });

  it('refuses what RFC 8441 and RFC 6455 refuse: another version, another path; leaves a plain CONNECT to Node', async () => {
    const { origin } = await start(threads);
    const { session: s } = await session(origin);
    const v12 = await H2Socket.open(s, '/ws', { 'sec-websocket-version': '12' });
    expect(v12.status).toBe(426);
    expect(v12.headers['sec-websocket-version']).toBe('13');
    const nowhere = await H2Socket.open(s, '/elsewhere');
    expect(nowhere.status).toBe(404);
    // A CONNECT without :protocol is a tunnel, not a WebSocket: Node answers 405 (no 'connect' listener of the app).
    const tunnel = s.request({ ':method': 'CONNECT', ':authority': 'example.com:443' }, { endStream: false });
    const tunnelStatus = await new Promise<number>((resolve) =>
      tunnel.once('response', (h) => resolve(Number(h[':status']))),
    );
    expect(tunnelStatus).toBe(405);
    tunnel.close();
    // A plain request on the same session is the app's.
    const page = s.request({ ':path': '/' });
    let body = '';
    page.on('data', (d) => (body += d));
    await new Promise((resolve) => page.on('end', resolve));
    expect(body).toBe('page\n');
  });
});

describe.each([
  { name: 'inline', threads: 0 },
  { name: 'hook threads', threads: 2 },
])('bad input and backpressure over HTTP/2 ($name)', ({ threads }) => {
  /** An extended CONNECT for /ws as raw header fields, `change` applied (a value of null drops the field). */
  const request = (port: number, change: Record<string, string | null> = {}): Array<[string, string]> => {
    const fields: Record<string, string> = {
      ':method': 'CONNECT',
      ':protocol': 'websocket',
      ':scheme': 'http',
      ':path': '/ws',
      ':authority': `127.0.0.1:${port}`,
      'sec-websocket-version': '13',
    };
    for (const [name, value] of Object.entries(change))
      if (value === null) delete fields[name];
      else fields[name] = value;
    return Object.entries(fields);
  };

  it('applies allowedOrigins, maxConn and handshake.timeout (a slow init) as to an HTTP/1.1 upgrade', async () => {
    const shared = new SharedArrayBuffer(8);
    const app = { channel: `h2-limits-${threads}`, behaviour: 'gatedInit', shared };
    const config = { allowedOrigins: ['https://good.example'], maxConn: 2, handshake: { timeout: 300 } };
    const { server, origin } = await start(threads, false, config, Recorder, app);
    const { session: s } = await session(origin);
    const stranger = await H2Socket.open(s, '/ws', { origin: 'https://evil.example' });
    expect(stranger.status).toBe(403);
    // init waits on a gate: no answer within handshake.timeout, and the stream is reset.
    const slow = s.request(
      {
        ':method': 'CONNECT',
        ':protocol': 'websocket',
        ':path': '/ws',
        ':scheme': 'http',
        'sec-websocket-version': '13',
        origin: 'https://good.example',
      },
      { endStream: false },
    );
    slow.on('error', () => {});
    let answered = false;
    slow.once('response', () => (answered = true));
    await new Promise<void>((resolve) => slow.once('close', resolve));
    expect(answered).toBe(false);
    expect(slow.rstCode).toBe(8); // CANCEL: the WebSocket dropped (RFC 8441 6)
    Atomics.store(new Int32Array(shared), 0, 1);
    const [a, b] = await Promise.all([0, 1].map(() => H2Socket.open(s, '/ws', { origin: 'https://good.example' })));
    expect([a!.status, b!.status]).toEqual([200, 200]);
    const third = await H2Socket.open(s, '/ws', { origin: 'https://good.example' });
    expect(third.status).toBe(503);
    expect(server.stats().handshakes).toMatchObject({ '101': 2, '403': 1, '503': 1 });
  });

  it('resets a CONNECT without :authority, :path or :scheme (PROTOCOL_ERROR); the session lives on', async () => {
    const { server, origin } = await start(threads);
    const port = Number(new URL(origin).port);
    const h2 = await RawH2.open(port);
    cleanup.push(() => h2.close());
    h2.headers(1, request(port, { ':authority': null }));
    h2.headers(3, request(port, { ':path': null }));
    h2.headers(5, request(port, { ':scheme': null }));
    for (const stream of [1, 3, 5]) {
      const reset = await h2.waitFor((f) => f.stream === stream && f.type === FrameType.RST_STREAM);
      expect(reset && RawH2.errorCode(reset)).toBe(H2Error.PROTOCOL_ERROR);
    }
    // The same session still takes a good one: 200, then the hook's first message as a DATA frame.
    h2.headers(7, request(port));
    const ok = await h2.waitFor((f) => f.stream === 7 && f.type === FrameType.HEADERS);
    expect(ok && RawH2.status(ok)).toBe(200);
    const data = await h2.waitFor((f) => f.stream === 7 && f.type === FrameType.DATA);
    expect(data?.payload.subarray(2).toString()).toMatch(/^id \d+$/);
    expect(server.stats().connections).toBe(1);
  });

  it('ends a refused stream with RST_STREAM NO_ERROR after its answer; DATA sent on it after changes nothing', async () => {
    const { server, origin } = await start(threads, false, { heartbeat: { interval: 200, timeout: 1000 } });
    const port = Number(new URL(origin).port);
    const h2 = await RawH2.open(port);
    cleanup.push(() => h2.close());
    h2.headers(1, request(port, { 'sec-websocket-version': '12' }));
    const body = await h2.waitFor((f) => f.stream === 1 && f.type === FrameType.DATA && (f.flags & 1) === 1);
    expect(body?.payload.toString()).toMatch(/Sec-WebSocket-Version/i);
    const reset = await h2.waitFor((f) => f.stream === 1 && f.type === FrameType.RST_STREAM);
    expect(reset && RawH2.errorCode(reset)).toBe(H2Error.NO_ERROR);
    // A WebSocket frame on the refused stream, and DATA on a stream never opened (a connection error, RFC 9113 5.1).
    h2.data(1, Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]));
    h2.headers(3, request(port));
    const ok = await h2.waitFor((f) => f.stream === 3 && f.type === FrameType.DATA);
    expect(ok?.payload.subarray(2).toString()).toMatch(/^id \d+$/);
    expect(server.stats()).toMatchObject({ connections: 1, messages: 0 });
    h2.data(99, Buffer.from('nobody'));
    const away = await h2.waitFor((f) => f.type === FrameType.GOAWAY);
    expect(away && RawH2.errorCode(away)).toBe(H2Error.PROTOCOL_ERROR);
    // The peer closes TCP after the GOAWAY. Node 24 then closes the session and its streams; Node 20 notices neither
    // (it stops reading the socket after its GOAWAY): there the heartbeat finds the WebSocket dead.
    h2.close();
    await eventually('the WebSocket on the dead session closing', () => server.stats().connections === 0, 5000);
    // The server serves new sessions.
    const { session: s } = await session(origin);
    const ws = await H2Socket.open(s, '/ws');
    expect(await ws.nextText()).toMatch(/^id \d+$/);
  });

  it("a stream whose reader stops costs at most maxBackpressure: then it is closed; the session's others live", async () => {
    const limit = 256 * 1024;
    const { server, origin } = await start(threads, false, { maxBackpressure: limit });
    const { session: s } = await session(origin);
    const [slow, other, publisher] = await Promise.all([0, 1, 2].map(() => H2Socket.open(s, '/ws')));
    for (const w of [slow!, other!, publisher!]) expect(await w.nextText()).toMatch(/^id \d+$/);
    slow!.text('sub room');
    await slow!.next();
    // The client stops reading the slow stream: its flow-control window closes and the server's writes wait.
    slow!.stream.pause();
    let peak = 0;
    const sample = setInterval(() => (peak = Math.max(peak, server.stats().buffered)), 5);
    publisher!.text(`flood room 64 ${64 * 1024}`);
    await eventually('the slow stream closed by the backpressure policy', () => server.stats().connections === 2, 8000);
    clearInterval(sample);
    expect(peak).toBeLessThanOrEqual(limit + 2 * 64 * 1024);
    other!.text('say still here');
    expect(await other!.nextText()).toBe('still here');
  });
});

describe.each([
  { name: 'inline', threads: 0 },
  { name: 'hook threads', threads: 2 },
])('wsz/client over HTTP/2 ($name)', ({ threads }) => {
  it('exchanges text, binary, 16 MiB, pings, and closes; ten WebSockets share one session', async () => {
    const { server, origin, sessions } = await start(threads, false, { maxMessageSize: 32 * 1024 * 1024 });
    const url = `${origin.replace('http', 'ws')}/ws`;
    const clients = await Promise.all(
      Array.from({ length: 10 }, () =>
        Client.connect(url, { http2: true, readTimeout: 10_000, maxMessageSize: 32 * 1024 * 1024 }),
      ),
    );
    cleanup.push(() => clients.forEach((c) => c.destroy()));
    for (const c of clients) expect(await c.read()).toMatchObject({ type: 'text' });
    const infos = await server.connections();
    expect(infos.map((i) => i.http)).toEqual(Array(10).fill('2'));
    expect(server.stats().http2).toBe(10);
    expect(sessions()).toBe(1);
    const c = clients[0]!;
    c.writeText('say over h2');
    expect((await c.read())?.type === 'text').toBe(true);
    c.writePing('p');
    expect(await c.read()).toMatchObject({ type: 'pong' });
    // Topical echoes nothing binary: subscribe, publish a 16 MiB binary message to ourselves.
    c.writeText('sub big');
    await c.read();
    c.writeText(`flood big 1 ${16 * 1024 * 1024}`);
    const big = await c.read();
    expect(big?.type === 'binary' && big.data.length).toBe(16 * 1024 * 1024);
    await c.close({ code: 1000 });
    let left = 10;
    for (const end = Date.now() + 3000; left !== 9 && Date.now() < end; await new Promise((r) => setTimeout(r, 20)))
      left = (await server.connections()).length;
    expect(left).toBe(9);
  });

  it('compresses (permessage-deflate), publishes, and keeps the heartbeat over a stream', async () => {
    const { origin } = await start(threads, false, {
      perMessageDeflate: true,
      heartbeat: { interval: 200, timeout: 2000 },
    });
    const url = `${origin.replace('http', 'ws')}/ws`;
    const [a, b] = await Promise.all(
      [0, 1].map(() => Client.connect(url, { http2: true, perMessageDeflate: true, readTimeout: 3000 })),
    );
    cleanup.push(
      () => a!.destroy(),
      () => b!.destroy(),
    );
    expect(a!.extensions).toMatch(/^permessage-deflate/);
    for (const c of [a!, b!]) {
      expect(await c.read()).toMatchObject({ type: 'text' });
      c.writeText('sub room');
      expect((await c.read())?.type).toBe('text');
    }
    const long = 'squeeze me '.repeat(500);
    a!.writeText(`pub room ${long}`);
    for (const c of [a!, b!]) {
      const m = await c.read();
      expect(m?.type === 'text' && m.data.toString()).toBe(long);
    }
    // The server pings a quiet connection (heartbeat.interval); the client answers by itself.
    let m = await b!.read(2000);
    while (m !== null && m.type !== 'ping') m = await b!.read(2000);
    expect(m?.type).toBe('ping');
  });

  it('fails with the status when the server refuses, and when it does not announce extended CONNECT', async () => {
    const { origin } = await start(threads);
    const url = origin.replace('http', 'ws');
    await expect(Client.connect(`${url}/nowhere`, { http2: true })).rejects.toMatchObject({ status: 404 });
    const plain = createServer();
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise((resolve) => plain.close(resolve)));
    const bare = `ws://127.0.0.1:${(plain.address() as AddressInfo).port}/ws`;
    await expect(Client.connect(bare, { http2: true })).rejects.toThrow(/does not announce the extended CONNECT/);
  });
});

/** A TLS http2 server with `allowHTTP1` and a wsz server attached at /ws; its port and how many sessions it saw. */
async function startTls(): Promise<{
  server: Server<Topical>;
  h2: Http2SecureServer;
  port: number;
  sessions: () => number;
}> {
  const tls = selfSigned()!;
  const h2 = createSecureServer({ key: tls.key, cert: tls.cert, allowHTTP1: true }, (_req, res) => res.end('page\n'));
  const server = new Server(Topical, { logLevel: 'silent', closeTimeout: 1000, threadPool: { count: 0 } });
  await server.attach(h2 as never, { path: '/ws' });
  let sessions = 0;
  h2.on('session', () => sessions++);
  await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
  cleanup.push(async () => {
    await server.stop();
    await new Promise((resolve) => h2.close(resolve));
  });
  return { server, h2, port: (h2.address() as AddressInfo).port, sessions: () => sessions };
}

describe.skipIf(!redisAvailable)('the Redis backplane with WebSockets over HTTP/2', () => {
  it('carries a publication from an HTTP/1.1 client of one server to an HTTP/2 client of another', async () => {
    const redis = await startRedis();
    cleanup.push(() => redis.stop());
    const h2 = await start(2, false, { backplane: new RedisBackplane(redis.url) });
    const h1 = new Server(Topical, {
      port: 0,
      address: '127.0.0.1',
      logLevel: 'silent',
      threadPool: { count: 0 },
      backplane: new RedisBackplane(redis.url),
    });
    const { port } = (await h1.listen()) as AddressInfo;
    cleanup.push(() => h1.stop());
    const over2 = await Client.connect(`${h2.origin.replace('http', 'ws')}/ws`, { http2: true, readTimeout: 3000 });
    const over1 = await Client.connect(`ws://127.0.0.1:${port}/ws`, { readTimeout: 3000 });
    cleanup.push(
      () => over2.destroy(),
      () => over1.destroy(),
    );
    for (const c of [over2, over1]) expect(await c.read()).toMatchObject({ type: 'text' });
    over2.writeText('sub room');
    await over2.read();
    // The subscription reaches Redis asynchronously: publish until the first one arrives.
    let got: Awaited<ReturnType<Client['read']>> = null;
    for (let i = 0; i < 50 && got === null; i++) {
      over1.writeText('pub room across');
      got = await over2.read(100);
    }
    expect(got).toMatchObject({ type: 'text', data: Buffer.from('across') });
  });
});

describe.skipIf(selfSigned() === null)('HTTP/1.1 and HTTP/2 on one TLS port (allowHTTP1)', () => {
  it('takes HTTP/1.1 upgrades and CONNECT streams alike', async () => {
    const tls = selfSigned()!;
    const { server, port } = await startTls();
    // HTTP/1.1 (the client offers no h2 in ALPN): an upgrade.
    const c = await Client.connect(`wss://127.0.0.1:${port}/ws`, { readTimeout: 3000, tls: { ca: tls.cert } });
    cleanup.push(() => c.destroy());
    const first = await c.read();
    expect(first?.type === 'text' && first.data.toString()).toMatch(/^id \d+$/);
    // HTTP/2 on the same port: a CONNECT stream.
    const session = connect(`https://127.0.0.1:${port}`, { ca: tls.cert });
    cleanup.push(() => session.destroy());
    await new Promise((resolve) => session.once('remoteSettings', resolve));
    const ws = await H2Socket.open(session, '/ws', { ':scheme': 'https' });
    expect(ws.status).toBe(200);
    expect(await ws.nextText()).toMatch(/^id \d+$/);
    const kinds = (await server.connections()).length;
    expect(kinds).toBe(2);
  });

  it("http2: 'auto' takes h2 by ALPN where the server announces extended CONNECT, one session for the origin", async () => {
    const tls = selfSigned()!;
    const { server, port, sessions } = await startTls();
    const url = `wss://127.0.0.1:${port}/ws`;
    const a = await Client.connect(url, { http2: 'auto', readTimeout: 3000, tls: { ca: tls.cert } });
    const b = await Client.connect(url, { http2: 'auto', readTimeout: 3000, tls: { ca: tls.cert } });
    cleanup.push(
      () => a.destroy(),
      () => b.destroy(),
    );
    for (const c of [a, b]) expect(await c.read()).toMatchObject({ type: 'text' });
    expect((await server.connections()).map((i) => i.http)).toEqual(['2', '2']);
    expect(sessions()).toBe(1);
    a.writeText('say auto');
    expect(await a.read()).toMatchObject({ type: 'text', data: Buffer.from('auto') });
  });

  it("http2: 'auto' falls back to HTTP/1.1: a server that picks h2 without the setting, or picks http/1.1", async () => {
    const tls = selfSigned()!;
    const { server, h2, port, sessions } = await startTls();
    // New sessions are told no extended CONNECT: the client opens a second connection and upgrades over HTTP/1.1.
    h2.updateSettings({ enableConnectProtocol: false });
    const c = await Client.connect(`wss://127.0.0.1:${port}/ws`, {
      http2: 'auto',
      readTimeout: 3000,
      tls: { ca: tls.cert },
    });
    cleanup.push(() => c.destroy());
    expect(await c.read()).toMatchObject({ type: 'text' });
    expect((await server.connections()).map((i) => i.http)).toEqual(['1.1']);
    expect(sessions()).toBe(1); // the h2 session ALPN chose, told no and closed
    // An HTTPS server (HTTP/1.1 only): ALPN picks http/1.1 and the upgrade goes on that socket.
    const https = httpsServer({ key: tls.key, cert: tls.cert });
    const own = new Server(Topical, { logLevel: 'silent', closeTimeout: 1000, threadPool: { count: 0 } });
    await own.attach(https, { path: '/ws' });
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    cleanup.push(async () => {
      await own.stop();
      await new Promise((resolve) => https.close(resolve));
    });
    const d = await Client.connect(`wss://127.0.0.1:${(https.address() as AddressInfo).port}/ws`, {
      http2: 'auto',
      readTimeout: 3000,
      tls: { ca: tls.cert },
    });
    cleanup.push(() => d.destroy());
    expect(await d.read()).toMatchObject({ type: 'text' });
  });
});
