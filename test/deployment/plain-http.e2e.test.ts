/**
 * Plain HTTP on the WebSocket port: a handler class's `static httpRequest` answers GETs without
 * Upgrade that reach the server's own listener (a page, a health check), on the thread that owns
 * the socket, inline, with hook threads and on I/O threads.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Server } from 'wsz';
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

describe.each(MODES)('static httpRequest ($name)', ({ threads, workers }) => {
  it('answers plain GETs on the WebSocket port; nothing returned means 426; a throw means 500; upgrades go on as before', async () => {
    const server = new Server(WithPage, { port: 0, logLevel: 'silent', workerCount: workers, threadPool: { count: threads } });
    const { port } = (await server.listen({ name: 'app' })) as AddressInfo;
    cleanup.push(() => server.stop());
    const health = await get(port, 'GET /health?v=2 HTTP/1.1\r\nHost: x\r\n\r\n');
    expect([health.status, health.headers['content-type'], health.body]).toEqual([200, 'text/plain; charset=utf-8', 'ok app 2']);
    expect(health.headers.connection).toBe('close');
    const page = await get(port, 'GET /page HTTP/1.1\r\nHost: x\r\nUser-Agent: tester\r\n\r\n');
    expect([page.status, page.headers['content-type'], page.headers['x-agent'], page.body]).toEqual([200, 'text/html; charset=utf-8', 'tester', '<p>hi</p>']);
    const bytes = await get(port, 'GET /bytes HTTP/1.1\r\nHost: x\r\n\r\n');
    expect([bytes.status, bytes.headers['content-type'], bytes.headers['content-length']]).toEqual([202, 'application/octet-stream', '3']);
    expect((await get(port, 'GET /other HTTP/1.1\r\nHost: x\r\n\r\n')).status).toBe(426);
    expect((await get(port, 'GET /boom HTTP/1.1\r\nHost: x\r\n\r\n')).status).toBe(500);
    expect((await get(port, 'POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n')).status).toBe(405);
    const ws = await get(port, upgradeRequest('/health'));
    expect(ws.status).toBe(101);
  });
});
