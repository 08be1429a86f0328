import { afterEach, describe, expect, it } from 'vitest';
import { ACCEPT, KEY, RawClient, frame, upgradeRequest } from '../helpers/raw-client.js';
import { MODES, inMode, openGate, serve, type Served } from '../helpers/modes.js';
import { eventually } from '../helpers/server.js';
import type { ServerConfig } from 'wsz';

function request(lines: string[]): string {
  return [...lines, '', ''].join('\r\n');
}
const base = [
  'Host: 127.0.0.1',
  'Upgrade: websocket',
  'Connection: Upgrade',
  `Sec-WebSocket-Key: ${KEY}`,
  'Sec-WebSocket-Version: 13',
];

describe.each(MODES)('opening handshake over a real socket ($name)', ({ threads, workers }) => {
  inMode(workers);
  let cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup) await c();
    cleanup = [];
  });
  async function start(behaviour?: string, config?: ServerConfig, tag?: string): Promise<Served> {
    const s = await serve(threads, { behaviour, config, tag });
    cleanup.push(() => s.stop());
    return s;
  }
  async function client(c: Promise<RawClient>): Promise<RawClient> {
    const r = await c;
    cleanup.unshift(() => r.destroy());
    return r;
  }

  it('answers a valid upgrade with 101 and the RFC accept value, then runs init and afterInit', async () => {
    const { port, events } = await start();
    const c = await client(RawClient.connect(port));
    const res = await c.readResponse();
    expect(res.status).toBe(101);
    expect(res.headers).toMatchObject({ upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': ACCEPT });
    await eventually('afterInit', () => events.includes('afterInit'));
    expect(events).toEqual(['init /', 'afterInit']);
  });

  const refusals: Array<[string, string, number, RegExp]> = [
    ['a method other than GET', request(['POST / HTTP/1.1', ...base]), 405, /GET/],
    [
      'a missing Upgrade header (plain HTTP)',
      request(['GET / HTTP/1.1', ...base.filter((l) => !l.startsWith('Upgrade'))]),
      426,
      /WebSocket endpoint/,
    ],
    [
      'Upgrade: h2c',
      request(['GET / HTTP/1.1', ...base.filter((l) => !l.startsWith('Upgrade')), 'Upgrade: h2c']),
      400,
      /Upgrade/,
    ],
    [
      'a missing Connection header',
      request(['GET / HTTP/1.1', ...base.filter((l) => !l.startsWith('Connection'))]),
      400,
      /Connection/,
    ],
    [
      'an invalid Sec-WebSocket-Key',
      request([
        'GET / HTTP/1.1',
        ...base.filter((l) => !l.startsWith('Sec-WebSocket-Key')),
        'Sec-WebSocket-Key: short',
      ]),
      400,
      /Sec-WebSocket-Key/,
    ],
    [
      'Sec-WebSocket-Version 12',
      request([
        'GET / HTTP/1.1',
        ...base.filter((l) => !l.startsWith('Sec-WebSocket-Version')),
        'Sec-WebSocket-Version: 12',
      ]),
      426,
      /version 13/,
    ],
    ['garbage instead of HTTP', 'HELLO THERE\r\n\r\n', 400, /request line/],
  ];
  for (const [what, req, status, reason] of refusals) {
    it(`refuses ${what} with HTTP ${status} and a reason, then closes`, async () => {
      const { port, events } = await start();
      const c = await client(RawClient.connect(port, req));
      const res = await c.readResponse();
      expect(res.status).toBe(status);
      expect(res.body).toMatch(reason);
      expect(await c.waitClosed()).toBe(true);
      expect(events).toEqual([]);
    });
  }

  it('sends Sec-WebSocket-Version: 13 with a 426', async () => {
    const { port } = await start();
    const c = await client(
      RawClient.connect(
        port,
        request([
          'GET / HTTP/1.1',
          ...base.filter((l) => !l.startsWith('Sec-WebSocket-Version')),
          'Sec-WebSocket-Version: 8',
        ]),
      ),
    );
    expect((await c.readResponse()).headers['sec-websocket-version']).toBe('13');
  });

  it('answers a request larger than handshake.maxSize with 431 and closes', async () => {
    const { port } = await start(undefined, { handshake: { maxSize: 256 } });
    const c = await client(RawClient.connect(port, upgradeRequest('/', [`X-Big: ${'a'.repeat(300)}`])));
    const res = await c.readResponse();
    expect(res.status).toBe(431);
    expect(res.body).toMatch(/256 bytes/);
    expect(await c.waitClosed()).toBe(true);
  });

  it('answers 431 also when the oversized request arrives in small pieces', async () => {
    const { port } = await start(undefined, { handshake: { maxSize: 256 } });
    const c = await client(RawClient.connect(port, null));
    for (let i = 0; i < 30; i++) c.send(`X-H${i}: ${'b'.repeat(20)}\r\n`);
    expect((await c.readResponse()).status).toBe(431);
  });

  it('closes a connection that does not complete its handshake within handshake.timeout', async () => {
    const { port } = await start(undefined, { handshake: { timeout: 200 } });
    const c = await client(RawClient.connect(port, 'GET / HTTP/1.1\r\nHost: x\r\n'));
    expect(await c.waitClosed(3000)).toBe(true);
  });

  it('answers 503 once maxConn connections are open, leaving the open ones untouched', async () => {
    const { port, events } = await start(undefined, { maxConn: 2 });
    const a = await client(RawClient.open(port));
    const b = await client(RawClient.open(port));
    const c = await client(RawClient.connect(port));
    const res = await c.readResponse();
    expect(res.status).toBe(503);
    expect(res.body).toMatch(/limit of 2 connections/);
    a.sendFrame(1, 'still here');
    expect((await a.nextFrame()).payload.toString()).toBe('still here');
    b.destroy();
    await eventually('a slot to free up', () => events.filter((e) => e === 'close').length === 1);
    const d = await client(RawClient.open(port));
    d.sendFrame(1, 'welcome');
    expect((await d.nextFrame()).payload.toString()).toBe('welcome');
  });

  it('keeps frames pipelined in the same packet as the request', async () => {
    const { port, events } = await start();
    const c = await client(
      RawClient.connect(
        port,
        Buffer.concat([Buffer.from(upgradeRequest()), frame(1, 'first'), frame(2, Buffer.from([1, 2]))]),
      ),
    );
    expect((await c.readResponse()).status).toBe(101);
    expect((await c.nextFrame()).payload.toString()).toBe('first');
    expect((await c.nextFrame()).payload).toEqual(Buffer.from([1, 2]));
    await eventually('messages', () => events.length === 4);
    expect(events).toEqual(['init /', 'afterInit', 'message text first', 'message binary 0102']);
  });

  it('keeps pipelined frames when the request itself arrived in pieces', async () => {
    const { port } = await start();
    const c = await client(RawClient.connect(port, null));
    await c.trickle(Buffer.concat([Buffer.from(upgradeRequest()), frame(1, 'after')]));
    expect((await c.readResponse()).status).toBe(101);
    expect((await c.nextFrame()).payload.toString()).toBe('after');
  });

  it('keeps frames that arrive while an async init runs', async () => {
    const { port, shared } = await start('gatedInit');
    const c = await client(RawClient.connect(port));
    c.sendFrame(1, 'early');
    await new Promise((r) => setTimeout(r, 50));
    openGate(shared);
    expect((await c.readResponse()).status).toBe(101);
    expect((await c.nextFrame()).payload.toString()).toBe('early');
  });

  it('gives init the method, path, query, headers, raw target, remote address and the app', async () => {
    const { port, events } = await start('inspectInit', undefined, 'the app');
    const c = await client(
      RawClient.open(port, '/room/1?user=ann&tag=a%20b', ['X-Trace: abc', 'x-multi: 1', 'X-Multi: 2']),
    );
    await eventually('handshake', () => events.some((e) => e.startsWith('handshake ')));
    const seen = JSON.parse(events.find((e) => e.startsWith('handshake '))!.slice(10));
    expect(seen).toMatchObject({
      method: 'GET',
      path: '/room/1',
      url: '/room/1?user=ann&tag=a%20b',
      user: 'ann',
      tag: 'a b',
      trace: 'abc',
      TRACE: 'abc',
      multi: '1, 2',
      multiAll: ['1', '2'],
      remoteAddress: '127.0.0.1',
      remotePort: c.socket.localPort,
      appTag: 'the app',
    });
    expect(seen.names).toContain('sec-websocket-key');
  });

  it('lets init pick a subprotocol and add response headers', async () => {
    const { port } = await start('protocolAndHeader');
    const c = await client(RawClient.connect(port, upgradeRequest('/', ['Sec-WebSocket-Protocol: v1, v2'])));
    const res = await c.readResponse();
    expect(res.status).toBe(101);
    expect(res.headers['sec-websocket-protocol']).toBe('v2');
    expect(res.headers['x-server']).toBe('wsz');
  });

  it('refuses with 400 when init throws a plain error, without revealing it', async () => {
    const { port, events } = await start('initThrows');
    const c = await client(RawClient.connect(port));
    const res = await c.readResponse();
    expect(res.status).toBe(400);
    expect(res.body).not.toMatch(/hunter2/);
    expect(await c.waitClosed()).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toEqual(['init /']); // no afterInit, no close: the handler never opened
  });

  it('refuses with the status an error carries (401, 403), sync or async', async () => {
    const { port } = await start('initStatus');
    const a = await client(RawClient.connect(port, upgradeRequest('/private')));
    expect(await a.readResponse()).toMatchObject({ status: 401, body: 'token required\n' });
    const b = await client(RawClient.connect(port, upgradeRequest('/other')));
    expect(await b.readResponse()).toMatchObject({ status: 403, body: 'not on the list\n' });
  });

  it('runs close once when the peer leaves during an async init that then succeeds', async () => {
    const { port, events, shared } = await start('gatedInit');
    const c = await client(RawClient.connect(port));
    await eventually('init', () => events.length === 1);
    c.destroy();
    await c.closed;
    await new Promise((r) => setTimeout(r, 20));
    openGate(shared);
    await eventually('close', () => events.includes('close'));
    expect(events).toEqual(['init /', 'close']);
  });
});
