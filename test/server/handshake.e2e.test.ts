import { afterEach, describe, expect, it } from 'vitest';
import { HandshakeError, type Handshake } from 'wsz';
import { ACCEPT, KEY, RawClient, frame, upgradeRequest } from '../helpers/raw-client.js';
import { eventually, recordingHandler, startServer, type Events } from '../helpers/server.js';

let stop: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(stop.map((s) => s()));
  stop = [];
});

async function serve(events: Events, behaviour = {}, config = {}, app?: unknown) {
  const s = await startServer(recordingHandler(events, behaviour), config, app);
  stop.push(() => s.server.stop());
  return s;
}

function request(lines: string[]): string {
  return [...lines, '', ''].join('\r\n');
}
const base = ['Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${KEY}`, 'Sec-WebSocket-Version: 13'];

describe('opening handshake over a real socket', () => {
  it('answers a valid upgrade with 101 and the RFC accept value, then runs init and afterInit', async () => {
    const events: Events = [];
    const { port } = await serve(events);
    const c = await RawClient.connect(port);
    const res = await c.readResponse();
    expect(res.status).toBe(101);
    expect(res.headers).toMatchObject({ upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-accept': ACCEPT });
    await eventually('afterInit', () => events.includes('afterInit'));
    expect(events).toEqual(['init /', 'afterInit']);
    c.destroy();
  });

  const refusals: Array<[string, string, number, RegExp]> = [
    ['a method other than GET', request(['POST / HTTP/1.1', ...base]), 405, /GET/],
    ['a missing Upgrade header', request(['GET / HTTP/1.1', ...base.filter((l) => !l.startsWith('Upgrade'))]), 400, /Upgrade/],
    ['a missing Connection header', request(['GET / HTTP/1.1', ...base.filter((l) => !l.startsWith('Connection'))]), 400, /Connection/],
    ['an invalid Sec-WebSocket-Key', request(['GET / HTTP/1.1', ...base.filter((l) => !l.startsWith('Sec-WebSocket-Key')), 'Sec-WebSocket-Key: short']), 400, /Sec-WebSocket-Key/],
    ['Sec-WebSocket-Version 12', request(['GET / HTTP/1.1', ...base.filter((l) => !l.startsWith('Sec-WebSocket-Version')), 'Sec-WebSocket-Version: 12']), 426, /version 13/],
    ['garbage instead of HTTP', 'HELLO THERE\r\n\r\n', 400, /request line/],
  ];
  for (const [what, req, status, reason] of refusals) {
    it(`refuses ${what} with HTTP ${status} and a reason, then closes`, async () => {
      const events: Events = [];
      const { port } = await serve(events);
      const c = await RawClient.connect(port, req);
      const res = await c.readResponse();
      expect(res.status).toBe(status);
      expect(res.body).toMatch(reason);
      expect(await c.waitClosed()).toBe(true);
      expect(events).toEqual([]);
    });
  }

  it('sends Sec-WebSocket-Version: 13 with a 426', async () => {
    const { port } = await serve([]);
    const c = await RawClient.connect(port, request(['GET / HTTP/1.1', ...base.filter((l) => !l.startsWith('Sec-WebSocket-Version')), 'Sec-WebSocket-Version: 8']));
    expect((await c.readResponse()).headers['sec-websocket-version']).toBe('13');
  });

  it('answers a request larger than handshake.maxSize with 431 and closes', async () => {
    const { port } = await serve([], {}, { handshake: { maxSize: 256 } });
    const c = await RawClient.connect(port, upgradeRequest('/', [`X-Big: ${'a'.repeat(300)}`]));
    const res = await c.readResponse();
    expect(res.status).toBe(431);
    expect(res.body).toMatch(/256 bytes/);
    expect(await c.waitClosed()).toBe(true);
  });

  it('answers 431 also when the oversized request arrives in small pieces', async () => {
    const { port } = await serve([], {}, { handshake: { maxSize: 256 } });
    const c = await RawClient.connect(port, null);
    for (let i = 0; i < 30; i++) c.send(`X-H${i}: ${'b'.repeat(20)}\r\n`);
    expect((await c.readResponse()).status).toBe(431);
  });

  it('closes a connection that does not complete its handshake within handshake.timeout', async () => {
    const { port } = await serve([], {}, { handshake: { timeout: 200 } });
    const c = await RawClient.connect(port, 'GET / HTTP/1.1\r\nHost: x\r\n');
    expect(await c.waitClosed(3000)).toBe(true);
  });

  it('answers 503 once maxConn connections are open, leaving the open ones untouched', async () => {
    const events: Events = [];
    const { port } = await serve(events, {}, { maxConn: 2 });
    const a = await RawClient.open(port);
    const b = await RawClient.open(port);
    const c = await RawClient.connect(port);
    const res = await c.readResponse();
    expect(res.status).toBe(503);
    expect(res.body).toMatch(/limit of 2 connections/);
    a.sendFrame(1, 'still here');
    expect((await a.nextFrame()).payload.toString()).toBe('still here');
    b.destroy();
    await eventually('a slot to free up', () => events.filter((e) => e === 'close').length === 1);
    const d = await RawClient.open(port);
    d.sendFrame(1, 'welcome');
    expect((await d.nextFrame()).payload.toString()).toBe('welcome');
    a.destroy();
    d.destroy();
  });

  it('keeps frames pipelined in the same packet as the request', async () => {
    const events: Events = [];
    const { port } = await serve(events);
    const c = await RawClient.connect(port, Buffer.concat([Buffer.from(upgradeRequest()), frame(1, 'first'), frame(2, Buffer.from([1, 2]))]));
    expect((await c.readResponse()).status).toBe(101);
    expect((await c.nextFrame()).payload.toString()).toBe('first');
    expect((await c.nextFrame()).payload).toEqual(Buffer.from([1, 2]));
    expect(events).toEqual(['init /', 'afterInit', 'message text first', 'message binary 0102']);
    c.destroy();
  });

  it('keeps pipelined frames when the request itself arrived in pieces', async () => {
    const { port } = await serve([]);
    const req = Buffer.concat([Buffer.from(upgradeRequest()), frame(1, 'after')]);
    const c = await RawClient.connect(port, null);
    await c.trickle(req);
    expect((await c.readResponse()).status).toBe(101);
    expect((await c.nextFrame()).payload.toString()).toBe('after');
    c.destroy();
  });

  it('keeps frames that arrive while an async init runs', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { port } = await serve([], { init: () => gate });
    const c = await RawClient.connect(port);
    c.sendFrame(1, 'early');
    await new Promise((r) => setTimeout(r, 50));
    release();
    expect((await c.readResponse()).status).toBe(101);
    expect((await c.nextFrame()).payload.toString()).toBe('early');
    c.destroy();
  });

  it('gives init the method, path, query, headers, raw target and remote address', async () => {
    let seen: Handshake | undefined;
    const { port } = await serve([], { init: (h: Handshake) => { seen = h; } });
    const c = await RawClient.open(port, '/room/1?user=ann&tag=a%20b', ['X-Trace: abc', 'x-multi: 1', 'X-Multi: 2']);
    expect(seen!.method).toBe('GET');
    expect(seen!.path).toBe('/room/1');
    expect(seen!.url).toBe('/room/1?user=ann&tag=a%20b');
    expect(seen!.query.get('user')).toBe('ann');
    expect(seen!.query.get('tag')).toBe('a b');
    expect(seen!.headers.get('x-trace')).toBe('abc');
    expect(seen!.headers.get('X-TRACE')).toBe('abc');
    expect(seen!.headers.get('x-multi')).toBe('1, 2');
    expect(seen!.headers.getAll('x-multi')).toEqual(['1', '2']);
    expect([...seen!.headers].map(([n]) => n)).toContain('sec-websocket-key');
    expect(seen!.remoteAddress).toBe('127.0.0.1');
    expect(seen!.remotePort).toBe(c.socket.localPort);
    c.destroy();
  });

  it('lets init pick a subprotocol and add response headers', async () => {
    const { port } = await serve([], {
      init: (h: Handshake) => {
        h.selectProtocol(h.protocols.includes('v2') ? 'v2' : h.protocols[0]!);
        h.setHeader('X-Server', 'wsz');
      },
    });
    const c = await RawClient.connect(port, upgradeRequest('/', ['Sec-WebSocket-Protocol: v1, v2']));
    const res = await c.readResponse();
    expect(res.status).toBe(101);
    expect(res.headers['sec-websocket-protocol']).toBe('v2');
    expect(res.headers['x-server']).toBe('wsz');
    c.destroy();
  });

  it('refuses with 400 when init throws a plain error, without revealing it', async () => {
    const events: Events = [];
    const { port } = await serve(events, { init: () => { throw new Error('database password is hunter2'); } });
    const c = await RawClient.connect(port);
    const res = await c.readResponse();
    expect(res.status).toBe(400);
    expect(res.body).not.toMatch(/hunter2/);
    expect(await c.waitClosed()).toBe(true);
    expect(events).toEqual(['init /']); // no afterInit, no close: the handler never opened
  });

  it('refuses with the status an error carries (401, 403), sync or async', async () => {
    const { port } = await serve([], {
      init: async (h: Handshake) => {
        if (h.path === '/private') throw new HandshakeError(401, 'token required');
        throw Object.assign(new Error('not on the list'), { status: 403 });
      },
    });
    const a = await RawClient.connect(port, upgradeRequest('/private'));
    expect(await a.readResponse()).toMatchObject({ status: 401, body: 'token required\n' });
    const b = await RawClient.connect(port, upgradeRequest('/other'));
    expect(await b.readResponse()).toMatchObject({ status: 403, body: 'not on the list\n' });
  });

  it('passes the app given to listen to init and to this.app', async () => {
    const app = { name: 'the app' };
    let fromInit: unknown;
    const { port } = await serve([], { init: (_h: Handshake, _c: unknown, a: unknown) => { fromInit = a; } }, {}, app);
    const c = await RawClient.open(port);
    expect(fromInit).toBe(app);
    c.destroy();
  });

  it('runs close once when the peer leaves during an async init that then succeeds', async () => {
    const events: Events = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { port } = await serve(events, { init: () => gate });
    const c = await RawClient.connect(port);
    await eventually('init', () => events.length === 1);
    c.destroy();
    await c.closed;
    await new Promise((r) => setTimeout(r, 20));
    release();
    await eventually('close', () => events.includes('close'));
    expect(events).toEqual(['init /', 'close']);
  });
});
