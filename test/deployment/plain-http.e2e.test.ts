/**
 * Plain HTTP on the WebSocket port: a handler class's `static httpRequest` answers requests without
 * Upgrade that reach the server's own listener (a page, a health check, an admin POST with a bounded body),
 * on the main thread with the Server as its third argument, inline, with hook threads and on I/O threads.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Server, type ServerConfig } from 'wsz';
import { WithPage } from '../helpers/with-page.js';
import type { AddressInfo } from 'node:net';
import { MODES } from '../helpers/modes.js';
import { RawClient, upgradeRequest } from '../helpers/raw-client.js';

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function get(port: number, request: string): Promise<Awaited<ReturnType<RawClient['readResponse']>>> {
  const c = await RawClient.connect(port, request);
  cleanup.push(() => c.destroy());
  return c.readResponse();
}

/** Serves WithPage in a mode (stopped after the test); resolves with its port. */
async function servePage(threads: number, workers: number, config: ServerConfig = {}): Promise<number> {
  const server = new Server(WithPage, {
    port: 0,
    logLevel: 'silent',
    workerCount: workers,
    threadPool: { count: threads },
    ...config,
  });
  const { port } = (await server.listen({ name: 'app' })) as AddressInfo;
  cleanup.push(() => server.stop());
  return port;
}

describe.each(MODES)('static httpRequest ($name)', ({ threads, workers }) => {
  it('answers plain GETs on the WebSocket port; nothing returned means 426; a throw means 500; upgrades go on as before', async () => {
    const port = await servePage(threads, workers);
    const health = await get(port, 'GET /health?v=2 HTTP/1.1\r\nHost: x\r\n\r\n');
    expect([health.status, health.headers['content-type'], health.body]).toEqual([
      200,
      'text/plain; charset=utf-8',
      'ok app 2',
    ]);
    expect(health.headers.connection).toBe('close');
    const page = await get(port, 'GET /page HTTP/1.1\r\nHost: x\r\nUser-Agent: tester\r\n\r\n');
    expect([page.status, page.headers['content-type'], page.headers['x-agent'], page.body]).toEqual([
      200,
      'text/html; charset=utf-8',
      'tester',
      '<p>hi</p>',
    ]);
    const bytes = await get(port, 'GET /bytes HTTP/1.1\r\nHost: x\r\n\r\n');
    expect([bytes.status, bytes.headers['content-type'], bytes.headers['content-length']]).toEqual([
      202,
      'application/octet-stream',
      '3',
    ]);
    expect((await get(port, 'GET /other HTTP/1.1\r\nHost: x\r\n\r\n')).status).toBe(426);
    expect((await get(port, 'GET /boom HTTP/1.1\r\nHost: x\r\n\r\n')).status).toBe(500);
    expect((await get(port, 'POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n')).status).toBe(405);
    expect((await get(port, 'POST /post HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n')).status).toBe(405);
    const ws = await get(port, upgradeRequest('/health'));
    expect(ws.status).toBe(101);
  });

  it('reads a POST body whole (bounded by handshake.maxBodySize), gives the Server as third argument, and refuses what it cannot read', async () => {
    const port = await servePage(threads, workers, { handshake: { maxBodySize: 100 } });
    const post = (body: string, extra = ''): string =>
      `POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
    expect((await get(port, post('hello'))).body).toBe('POST 5 hello');
    expect((await get(port, post(''))).body).toBe('POST 0 ');
    expect((await get(port, post('x'.repeat(100)))).body).toBe(`POST 100 ${'x'.repeat(100)}`);
    // The body in later reads than the head.
    const split = await RawClient.connect(port, 'PUT /post HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nab');
    cleanup.push(() => split.destroy());
    await new Promise((r) => setTimeout(r, 30));
    split.socket.write('cd');
    await new Promise((r) => setTimeout(r, 30));
    split.socket.write('ef');
    expect((await split.readResponse()).body).toBe('PUT 6 abcdef');
    // Refused without calling the handler: too large (413), chunked (411), an invalid length (400).
    expect((await get(port, post('x'.repeat(101)))).status).toBe(413);
    const chunked = 'POST /post HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n';
    expect((await get(port, chunked)).status).toBe(411);
    expect((await get(port, 'POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n')).status).toBe(400);
    const twice = 'POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab';
    expect((await get(port, twice)).status).toBe(400);
    // A method the handler does not answer gets 405; the Server itself is the third argument, on the main thread.
    expect((await get(port, 'DELETE /health HTTP/1.1\r\nHost: x\r\n\r\n')).status).toBe(405);
    expect((await get(port, 'GET /server HTTP/1.1\r\nHost: x\r\n\r\n')).body).toBe('function 0 65536');
  });

  it('checks replies: a status that is not an integer 100-599 (or carries CR/LF) is a 500, logged; async replies are awaited within handshake.timeout', async () => {
    const lines: string[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (m: string) => void lines.push(m) };
    const port = await servePage(threads, workers, { logLevel: 'error', logger, handshake: { timeout: 500 } });
    for (const s of ['null', '0', '1000', '99', '200.5', '"200"']) {
      const r = await get(port, `GET /status?s=${encodeURIComponent(s)} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(r.status, s).toBe(s === 'null' ? 200 : 500);
    }
    expect((await get(port, 'GET /status?s=404 HTTP/1.1\r\nHost: x\r\n\r\n')).status).toBe(404);
    const injected = await get(port, 'GET /inject HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(injected.status).toBe(500);
    expect(injected.headers['set-cookie']).toBeUndefined();
    const later = await get(port, 'GET /async HTTP/1.1\r\nHost: x\r\n\r\n');
    expect([later.status, later.body]).toEqual([200, 'later GET 1.1']);
    expect((await get(port, 'GET /async-boom HTTP/1.1\r\nHost: x\r\n\r\n')).status).toBe(500);
    expect((await get(port, 'GET /never HTTP/1.1\r\nHost: x\r\n\r\n')).status).toBe(500);
    await new Promise((r) => setTimeout(r, 100)); // I/O threads forward their log lines
    expect(lines.some((l) => /status 1000 .*integer from 100 to 599/.test(l))).toBe(true);
    expect(lines.some((l) => /did not answer GET \/never within 500 ms/.test(l))).toBe(true);
  });

  it('gives httpRequest the headers in an object without a prototype, and answers HEAD and HTTP/1.0 GETs as HTTP says', async () => {
    const port = await servePage(threads, workers);
    const proto = await get(port, 'GET /proto HTTP/1.1\r\nHost: x\r\nConstructor: c\r\n__proto__: p\r\n\r\n');
    expect(JSON.parse(proto.body)).toEqual(['c', 'p', null]);
    const old = await get(port, 'GET /async HTTP/1.0\r\n\r\n');
    expect([old.status, old.body]).toEqual([200, 'later GET 1.0']);
    const head = await whole(port, 'HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1.1 200 OK\r\n/);
    expect(head).toMatch(/\r\nContent-Length: 7\r\n/i); // "ok app "
    expect(head.endsWith('\r\n\r\n')).toBe(true); // no body
    expect(await whole(port, 'HEAD /other HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1.1 426 [^]*\r\n\r\n$/);
    // An upgrade still needs HTTP/1.1.
    expect((await get(port, upgradeRequest('/').replace('HTTP/1.1', 'HTTP/1.0'))).status).toBe(505);
  });
});

/** Everything the server sends for `request`, until it closes. */
async function whole(port: number, request: string): Promise<string> {
  const c = await RawClient.connect(port, request);
  cleanup.push(() => c.destroy());
  await c.waitClosed(5000);
  return c.received.toString('latin1');
}
