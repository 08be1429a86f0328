/**
 * wsz on the app's own HTTP server (issue 11, part 1), in both modes.
 */
import { createServer, request as httpGet, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Server, type HandlerClass, type HandlerHooks, type ServerConfig } from 'wsz';
import { MODES, type Cleanup } from '../helpers/modes.js';
import { RawClient, frame, upgradeRequest } from '../helpers/raw-client.js';
import { Recorder, type RecorderApp } from '../helpers/recorder.js';
import { BroadcastChannel } from 'node:worker_threads';
import { eventually } from '../helpers/server.js';

let cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

let nextChannel = 0;
async function appServer(): Promise<{ http: HttpServer; port: number }> {
  const http = createServer((req, res) => {
    if (req.url === '/health') res.writeHead(200).end('ok');
    else res.writeHead(404).end('nope');
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => http.close(() => r())));
  return { http, port: (http.address() as AddressInfo).port };
}
async function attach(http: HttpServer, path: string, threads: number, config: ServerConfig = {}, tag = path) {
  const name = `wsz-attach-${process.pid}-${nextChannel++}`;
  const events: string[] = [];
  const channel = new BroadcastChannel(name);
  channel.onmessage = (e) => events.push((e as MessageEvent).data as string);
  const server = new Server(Recorder as HandlerClass<HandlerHooks<any>>, {
    logLevel: 'silent',
    closeTimeout: 1000,
    ...config,
    threadPool: { count: threads },
  });
  await server.attach(http, { path }, { channel: name, tag } satisfies RecorderApp as never);
  cleanup.unshift(async () => {
    await server.stop();
    channel.close();
  });
  return { server, events };
}
function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpGet({ port, host: '127.0.0.1', path }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    })
      .on('error', reject)
      .end();
  });
}

// I/O threads take sockets from the server's own listener only (server.attach refuses workerCount > 1).
describe.each(MODES.filter((m) => m.workers === 1))('attach to an HTTP server ($name)', ({ threads }) => {
  it('takes upgrades for its path, leaves other requests to the app, with frames pipelined after the request', async () => {
    const { http, port } = await appServer();
    const { events } = await attach(http, '/echo', threads);
    expect(await get(port, '/health')).toEqual({ status: 200, body: 'ok' });
    const c = await RawClient.connect(
      port,
      Buffer.concat([Buffer.from(upgradeRequest('/echo?x=1')), frame(1, 'pipelined')]),
    );
    cleanup.unshift(() => c.destroy());
    expect((await c.readResponse()).status).toBe(101);
    expect((await c.nextFrame()).payload.toString()).toBe('pipelined');
    c.sendFrame(1, 'hello');
    expect((await c.nextFrame()).payload.toString()).toBe('hello');
    expect(events).toContain('init /echo');
  });

  it('several servers on one HTTP server at different paths; an unknown path gets 404', async () => {
    const { http, port } = await appServer();
    const a = await attach(http, '/a', threads);
    const b = await attach(http, '/b', threads);
    const ca = await RawClient.open(port, '/a');
    const cb = await RawClient.open(port, '/b');
    const none = await RawClient.connect(port, upgradeRequest('/c'));
    cleanup.unshift(
      () => ca.destroy(),
      () => cb.destroy(),
      () => none.destroy(),
    );
    const res = await none.readResponse();
    expect(res.status).toBe(404);
    expect(res.body).toMatch(/no WebSocket endpoint at \/c/);
    expect(a.events).toContain('init /a');
    expect(b.events).toContain('init /b');
    expect(a.events).not.toContain('init /b');
  });

  it('applies the same checks and limits: a bad key gets 400, maxConn 503', async () => {
    const { http, port } = await appServer();
    const { server } = await attach(http, '/ws', threads, { maxConn: 1 });
    const bad = await RawClient.connect(port, upgradeRequest('/ws').replace('dGhlIHNhbXBsZSBub25jZQ==', 'short'));
    cleanup.unshift(() => bad.destroy());
    expect((await bad.readResponse()).status).toBe(400);
    await bad.closed; // a refused socket counts until it is gone
    await eventually('the refused socket gone', () => server.stats().connections === 0);
    const first = await RawClient.open(port, '/ws');
    const second = await RawClient.connect(port, upgradeRequest('/ws'));
    cleanup.unshift(
      () => first.destroy(),
      () => second.destroy(),
    );
    expect((await second.readResponse()).status).toBe(503);
    await second.closed;
    // Refused at once: its init never ran (it did once, after the 503, on an attached server).
    expect(server.stats().handshakes).toMatchObject({ '101': 1, '400': 1, '503': 1 });
  });

  it("routes upgrades the app hands over itself (ws's noServer): start(), then handleUpgrade()", async () => {
    const { http, port } = await appServer();
    const server = new Server(Recorder as HandlerClass<HandlerHooks<any>>, {
      logLevel: 'silent',
      threadPool: { count: threads },
    });
    http.on('upgrade', (req, socket, head) => {
      if (req.url?.startsWith('/mine')) server.handleUpgrade(req, socket, head);
      else socket.destroy();
    });
    await server.start({ channel: `wsz-noserver-${process.pid}` } as never);
    cleanup.unshift(() => server.stop());
    const c = await RawClient.open(port, '/mine');
    cleanup.unshift(() => c.destroy());
    c.sendFrame(1, 'routed by the app');
    expect((await c.nextFrame()).payload.toString()).toBe('routed by the app');
  });

  it('a client that vanishes with a FIN is gone at once, though the HTTP server allows half-open sockets', async () => {
    const { http, port } = await appServer();
    const { server, events } = await attach(http, '/ws', threads, { closeTimeout: 30_000 });
    const c = await RawClient.open(port, '/ws');
    c.socket.end(); // FIN, no close frame
    await eventually('the connection gone', () => server.stats().connections === 0);
    await eventually('its close hook', () => events.includes('close'));
  });

  it('stop() closes its connections with 1001 and leaves the HTTP server serving', async () => {
    const { http, port } = await appServer();
    const { server } = await attach(http, '/ws', threads);
    const c = await RawClient.open(port, '/ws');
    cleanup.unshift(() => c.destroy());
    const stopped = server.stop();
    expect((await c.readClose()).code).toBe(1001);
    c.send(frame(8, Buffer.from([0x03, 0xe9])));
    await stopped;
    expect(await get(port, '/health')).toEqual({ status: 200, body: 'ok' });
    const after = await RawClient.connect(port, upgradeRequest('/ws'));
    cleanup.unshift(() => after.destroy());
    expect((await after.readResponse()).status).toBe(404);
  });
});

describe('a refused attach', () => {
  it('stops what it started: the process ends by itself once the other server stops', async () => {
    const { spawn } = await import('node:child_process');
    const root = new URL('../../', import.meta.url).pathname;
    const child = spawn(
      `${root}node_modules/.bin/tsx`,
      ['--conditions=wsz-source', 'test/deployment/fixtures/attach-twice.ts'],
      { cwd: root, env: { ...process.env, WSZ_LOG_LEVEL: 'silent' } },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const code = await new Promise<number | null | 'still running'>((resolve) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('still running');
      }, 15_000);
      child.on('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    expect(out.trim()).toBe('refused: server.attach(): a wsz server is already attached at /ws on this HTTP server');
    expect(code).toBe(0);
  }, 20_000);
});
