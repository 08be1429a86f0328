/**
 * What a real deployment meets from browsers and load balancers (issue 11, part 3 and the 426 of part 1).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MODES, inMode, serve, type Cleanup } from '../helpers/modes.js';
import { RawClient, frame, upgradeRequest } from '../helpers/raw-client.js';
import { eventually } from '../helpers/server.js';

let cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

/** A Chromium-like upgrade request: 24 headers, a 4 KiB cookie, an Origin and an extension offer. */
function chromiumRequest(path = '/'): string {
  const cookie = Array.from({ length: 64 }, (_, i) => `c${i}=${'v'.repeat(58)}`).join('; ');
  return upgradeRequest(path, [
    'Pragma: no-cache',
    'Cache-Control: no-cache',
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36',
    'Origin: https://app.example.com',
    'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits',
    'Accept-Encoding: gzip, deflate, br, zstd',
    'Accept-Language: en-US,en;q=0.9',
    `Cookie: ${cookie}`,
    'Sec-CH-UA: "Chromium";v="156", "Not-A.Brand";v="24"',
    'Sec-CH-UA-Mobile: ?0',
    'Sec-CH-UA-Platform: "Linux"',
    'Sec-Fetch-Dest: websocket',
    'Sec-Fetch-Mode: websocket',
    'Sec-Fetch-Site: same-origin',
    'DNT: 1',
    'Priority: u=0, i',
    'X-Forwarded-For: 203.0.113.7',
    'X-Forwarded-Proto: https',
    'X-Request-Id: 5f0c6a3e-2b7e-4c1e-9d55-0a1b2c3d4e5f',
  ]);
}

describe.each(MODES)('browser-ready defaults ($name)', ({ threads, workers }) => {
  inMode(workers);
  it('a Chromium-like request (24 headers, 4 KiB cookie) upgrades, and init sees every header', async () => {
    const s = await serve(threads, { behaviour: 'headerCount' });
    cleanup.push(() => s.stop());
    const req = chromiumRequest();
    expect(req.split('\r\n').filter((l) => l.includes(':')).length).toBe(24);
    const c = await RawClient.connect(s.port, req);
    cleanup.unshift(() => c.destroy());
    expect((await c.readResponse()).status).toBe(101);
    await eventually('init', () => s.events.some((e) => e.startsWith('headers ')));
    expect(s.events.find((e) => e.startsWith('headers '))).toBe(
      'headers 24 cookie 4084 origin https://app.example.com extensions permessage-deflate; client_max_window_bits',
    );
  });

  it('a plain GET (a health check, a browser typing the URL) gets 426 with Upgrade: websocket', async () => {
    const s = await serve(threads);
    cleanup.push(() => s.stop());
    const c = await RawClient.connect(s.port, 'GET /health HTTP/1.1\r\nHost: example.com\r\n\r\n');
    cleanup.unshift(() => c.destroy());
    const res = await c.readResponse();
    expect(res.status).toBe(426);
    expect(res.headers.upgrade).toBe('websocket');
    expect(res.body).toMatch(/WebSocket endpoint/);
  });
});

describe('size limits are never silent', () => {
  it('logs at warn when a request is refused for size, and when headers are dropped', async () => {
    const lines: string[] = [];
    const logger = { debug() {}, info() {}, warn: (m: string) => void lines.push(m), error() {} };
    const s = await serve(0, { config: { logLevel: 'warn', logger, handshake: { maxSize: 512, maxHeaders: 3 } } });
    cleanup.push(() => s.stop());
    const big = await RawClient.connect(s.port, upgradeRequest('/', [`Cookie: ${'x'.repeat(600)}`]));
    const many = await RawClient.connect(s.port, upgradeRequest('/', ['X-A: 1', 'X-B: 2']));
    cleanup.unshift(
      () => big.destroy(),
      () => many.destroy(),
    );
    expect((await big.readResponse()).status).toBe(431);
    expect((await many.readResponse()).status).toBe(101);
    expect(lines.join('\n')).toMatch(/431: handshake request larger than 512 bytes \(raise handshake.maxSize\)/);
    expect(lines.join('\n')).toMatch(/the request has 7 headers; init sees the first 3 \(raise handshake.maxHeaders\)/);
  });
});

describe.each(MODES)('allowedOrigins ($name)', ({ threads, workers }) => {
  inMode(workers);
  it('refuses a browser from another origin with 403 before init; allows listed origins and clients without Origin', async () => {
    const s = await serve(threads, { config: { allowedOrigins: ['https://App.example.com'] } });
    cleanup.push(() => s.stop());
    const evil = await RawClient.connect(s.port, upgradeRequest('/', ['Origin: https://evil.example']));
    const good = await RawClient.connect(s.port, upgradeRequest('/', ['Origin: https://app.example.com']));
    const cli = await RawClient.connect(s.port, upgradeRequest('/'));
    cleanup.unshift(
      () => evil.destroy(),
      () => good.destroy(),
      () => cli.destroy(),
    );
    const refused = await evil.readResponse();
    expect(refused.status).toBe(403);
    expect(refused.body).toMatch(/origin https:\/\/evil.example is not allowed/);
    expect((await good.readResponse()).status).toBe(101);
    expect((await cli.readResponse()).status).toBe(101);
    await eventually('two inits', () => s.events.filter((e) => e.startsWith('init')).length === 2);
  });

  // A function cannot be copied to I/O threads: `new Server` refuses it there (test/io).
  it.skipIf(workers > 1)('takes a function too', async () => {
    const s = await serve(threads, { config: { allowedOrigins: (o: string) => o.endsWith('.example.com') } });
    cleanup.push(() => s.stop());
    const a = await RawClient.connect(s.port, upgradeRequest('/', ['Origin: https://x.example.com']));
    const b = await RawClient.connect(s.port, upgradeRequest('/', ['Origin: https://example.org']));
    cleanup.unshift(
      () => a.destroy(),
      () => b.destroy(),
    );
    expect((await a.readResponse()).status).toBe(101);
    expect((await b.readResponse()).status).toBe(403);
  });
});

describe.each(MODES)('limits on what one message may cost ($name)', ({ threads, workers }) => {
  inMode(workers);
  it('closes a message in more than 1024 frames with 1008, rate limit or not (empty fragments cost a header each)', async () => {
    const s = await serve(threads);
    cleanup.push(() => s.stop());
    const c = await RawClient.open(s.port);
    cleanup.unshift(() => c.destroy());
    c.send(
      Buffer.concat([
        frame(1, 'a', { fin: false }),
        ...Array.from({ length: 1022 }, () => frame(0, '', { fin: false })),
        frame(0, 'b'),
      ]),
    );
    expect((await c.nextFrame()).payload.toString()).toBe('ab'); // 1024 frames: fine
    c.send(
      Buffer.concat([
        frame(1, 'a', { fin: false }),
        ...Array.from({ length: 20_000 }, () => frame(0, '', { fin: false })),
      ]),
    );
    expect(await c.readClose(10_000)).toMatchObject({ code: 1008, reason: 'message in more than 1024 frames' });
  });

  it("counts a compressed message's bytes on the wire against maxMessageSize (deflate blocks that inflate to nothing)", async () => {
    const s = await serve(threads, { config: { perMessageDeflate: true } });
    cleanup.push(() => s.stop());
    // An empty stored block (not final): five bytes that inflate to nothing.
    const empty = Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]);
    const blocks = Buffer.concat(Array.from({ length: 12_000 }, () => empty)); // 60,000 bytes
    const c = await RawClient.open(s.port, '/', ['Sec-WebSocket-Extensions: permessage-deflate']);
    cleanup.unshift(() => c.destroy());
    c.send(Buffer.concat([frame(2, blocks, { fin: false, rsv: 4 }), frame(0, blocks, { fin: false })]));
    expect(await c.readClose(10_000)).toMatchObject({
      code: 1009,
      reason: 'compressed message over the 65536-byte limit on the wire',
    });
    const d = await RawClient.open(s.port, '/', ['Sec-WebSocket-Extensions: permessage-deflate']);
    cleanup.unshift(() => d.destroy());
    // A header announcing 4 GiB is refused at once, before any of it is read.
    const head = Buffer.from([0xc2, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4]);
    d.send(head);
    expect((await d.readClose(10_000)).code).toBe(1009);
  });
});

describe.each(MODES)('rateLimit ($name)', ({ threads, workers }) => {
  inMode(workers);
  it('closes a connection that sends faster than messagesPerSecond beyond its burst with 1008', async () => {
    const s = await serve(threads, { config: { rateLimit: { messagesPerSecond: 5, burst: 10 } } });
    cleanup.push(() => s.stop());
    const c = await RawClient.open(s.port);
    cleanup.unshift(() => c.destroy());
    for (let i = 0; i < 30; i++) c.sendFrame(1, `m${i}`);
    const close = await c.readClose();
    expect(close.code).toBe(1008);
    expect(close.reason).toMatch(/rate limit/);
    // The burst of 10 passes (a token or two more may refill if the machine is slow to read the 30 frames).
    const echoed = close.before.map((f) => f.payload.toString());
    expect(echoed.length).toBeGreaterThanOrEqual(10);
    expect(echoed.length).toBeLessThanOrEqual(12);
    expect(echoed).toEqual(Array.from({ length: echoed.length }, (_, i) => `m${i}`));
  });

  it('counts every frame a peer sends: pings and fragments have an allowance of their own (framesPerSecond)', async () => {
    const s = await serve(threads, { config: { rateLimit: { messagesPerSecond: 10 } } });
    cleanup.push(() => s.stop());
    const pinger = await RawClient.open(s.port);
    cleanup.unshift(() => pinger.destroy());
    pinger.send(Buffer.concat(Array.from({ length: 20_000 }, () => frame(9, 'p'))));
    const closed = await pinger.readClose(10_000);
    expect(closed).toMatchObject({ code: 1008, reason: 'rate limit: more than 40 frames per second' });
    expect(closed.before.filter((f) => f.opcode === 10).length).toBeLessThanOrEqual(45);
    const fragmenter = await RawClient.open(s.port);
    cleanup.unshift(() => fragmenter.destroy());
    fragmenter.send(
      Buffer.concat([
        frame(1, 'a', { fin: false }),
        ...Array.from({ length: 20_000 }, () => frame(0, '', { fin: false })),
      ]),
    );
    expect(await fragmenter.readClose(10_000)).toMatchObject({
      code: 1008,
      reason: 'rate limit: more than 40 frames per second',
    });
  });

  it('is off by default', async () => {
    const s = await serve(threads);
    cleanup.push(() => s.stop());
    const c = await RawClient.open(s.port);
    cleanup.unshift(() => c.destroy());
    for (let i = 0; i < 300; i++) c.sendFrame(1, `m${i}`);
    for (let i = 0; i < 300; i++) expect((await c.nextFrame()).payload.toString()).toBe(`m${i}`);
  });
});
