/**
 * permessage-deflate on the server, over real sockets, inline and on worker threads: the handshake,
 * compressed messages in (whole, fragmented, cut across reads, interleaved between clients), replies
 * compressed from the threshold, and the limits.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerConfig } from 'wsz';
import { Compressor, Decompressor } from 'wsz/protocol';
import { MODES, inMode, serve, type Served } from '../helpers/modes.js';
import { RawClient, frame, upgradeRequest, type Frame } from '../helpers/raw-client.js';
import { Topical } from '../helpers/topical.js';
import { eventually } from '../helpers/server.js';

const BROWSER_OFFER = 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits';
const DEFLATE: ServerConfig = { perMessageDeflate: true };

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function server(threads: number, config: ServerConfig = DEFLATE, behaviour?: string): Promise<Served> {
  const s = await serve(threads, { config, behaviour });
  cleanup.push(() => s.stop());
  return s;
}

async function open(port: number, offer = BROWSER_OFFER): Promise<RawClient> {
  const c = await RawClient.connect(port, upgradeRequest('/', offer ? [offer] : []));
  cleanup.push(() => c.destroy());
  const res = await c.readResponse();
  expect(res.status).toBe(101);
  return c;
}

/**
 * The client's compressor and the reader of the server's compressed frames (both without context takeover, as agreed by
 * default).
 */
const deflate = (data: string | Buffer, takeover?: Compressor) =>
  (takeover ?? new Compressor({ windowBits: 15, takeover: false, level: 6, memLevel: 8 })).compress(
    typeof data === 'string' ? Buffer.from(data) : data,
  );

function inflate(f: Frame, d = new Decompressor({ windowBits: 15, takeover: false })): Buffer {
  const parts: Buffer[] = [];
  const n = d.inflate(f.payload, true, 1 << 30, parts);
  return Buffer.concat(parts, n);
}

describe.each(MODES)('permessage-deflate on the server ($name)', ({ threads, workers }) => {
  inMode(workers);
  it('agrees on the browser offer with no context takeover either way; without an offer, or with one it cannot take, it goes on uncompressed', async () => {
    const s = await server(threads);
    const c = await open(s.port);
    expect(c.response!.headers['sec-websocket-extensions']).toBe(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=15',
    );
    const plain = await open(s.port, '');
    expect(plain.response!.headers['sec-websocket-extensions']).toBeUndefined();
    const declined = await open(
      s.port,
      'Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8, x-unknown',
    );
    expect(declined.response!.headers['sec-websocket-extensions']).toBeUndefined();
    const bad = await RawClient.connect(
      s.port,
      upgradeRequest('/', ['Sec-WebSocket-Extensions: permessage-deflate; =']),
    );
    cleanup.push(() => bad.destroy());
    expect((await bad.readResponse()).status).toBe(400);
    // Off by default: the offer is ignored.
    const off = await server(threads, {});
    expect((await open(off.port)).response!.headers['sec-websocket-extensions']).toBeUndefined();
  });

  it('inflates compressed messages and compresses replies from the threshold (1024 bytes); smaller replies go uncompressed', async () => {
    const s = await server(threads);
    const c = await open(s.port);
    const big = 'a compressible line of text\n'.repeat(100);
    c.sendFrame(1, deflate(big), { rsv: 4 });
    const reply = await c.nextFrame();
    expect([reply.opcode, reply.rsv, reply.payload.length < 200]).toEqual([1, 4, true]);
    expect(inflate(reply).toString()).toBe(big);
    c.sendFrame(1, deflate('short'), { rsv: 4 });
    expect(await c.nextFrame()).toMatchObject({ opcode: 1, rsv: 0, payload: Buffer.from('short') });
    c.sendFrame(2, deflate(Buffer.alloc(5000, 7)), { rsv: 4 });
    const bin = await c.nextFrame();
    expect([bin.opcode, bin.rsv]).toEqual([2, 4]);
    expect(inflate(bin).equals(Buffer.alloc(5000, 7))).toBe(true);
    // An uncompressed message on the same connection is fine too.
    c.sendFrame(1, 'plain');
    expect(await c.nextFrame()).toMatchObject({ rsv: 0, payload: Buffer.from('plain') });
    // Hooks report on another channel than the socket: their last report may come just after the reply.
    await eventually('four messages recorded', () => s.events.filter((e) => e.startsWith('message')).length === 4);
    expect(s.events.filter((e) => e.startsWith('message'))).toEqual([
      `message text ${big}`,
      'message text short',
      'message binary 5000 bytes',
      'message text plain',
    ]);
  });

  it('takes compressed messages fragmented, and cut across reads while another client sends its own (no state mixes)', async () => {
    const s = await server(threads);
    const [a, b] = [await open(s.port), await open(s.port)];
    const text = (who: string) => `${who}: ${'some words that compress well, '.repeat(60)}`;
    const za = deflate(text('a'));
    a.sendFrame(1, za.subarray(0, 20), { rsv: 4, fin: false });
    a.sendFrame(0, za.subarray(20));
    expect(inflate(await a.nextFrame()).toString()).toBe(text('a'));
    // Byte by byte from a, while b sends whole compressed messages in between.
    const bytes = frame(1, deflate(text('a2')), { rsv: 4 });
    for (let i = 0; i < bytes.length; i++) {
      a.send(bytes.subarray(i, i + 1));
      if (i % 50 === 0) b.sendFrame(1, deflate(text(`b${i}`)), { rsv: 4 });
      await new Promise((r) => setImmediate(r));
    }
    expect(inflate(await a.nextFrame()).toString()).toBe(text('a2'));
    for (let i = 0; i < bytes.length; i += 50) expect(inflate(await b.nextFrame()).toString()).toBe(text(`b${i}`));
  });

  it('applies maxMessageSize to the inflated size (1009) and checks inflated text as UTF-8 (1007)', async () => {
    const s = await server(threads, { ...DEFLATE, maxMessageSize: 4096 });
    const c = await open(s.port);
    c.sendFrame(2, deflate(Buffer.alloc(4096)), { rsv: 4 });
    expect((await c.nextFrame()).rsv).toBe(4); // exactly the limit passes
    c.sendFrame(2, deflate(Buffer.alloc(1 << 20)), { rsv: 4 }); // 1 MiB in about 1 KB
    expect((await c.readClose()).code).toBe(1009);
    const t = await open(s.port);
    t.sendFrame(1, deflate(Buffer.from([0x61, 0x62, 0xc3, 0x28])), { rsv: 4 });
    expect((await t.readClose()).code).toBe(1007);
    const r = await open(s.port);
    r.sendFrame(1, deflate('x'.repeat(2000)), { rsv: 4, fin: false });
    r.sendFrame(0, Buffer.from([0]), { rsv: 4 });
    expect((await r.readClose()).code).toBe(1002);
  });

  it('sends a message uncompressed when the handler says compress: false', async () => {
    const s = await server(threads, DEFLATE, 'uncompressed');
    const c = await open(s.port);
    const big = 'x'.repeat(4000);
    c.sendFrame(1, big);
    const [first, second] = [await c.nextFrame(), await c.nextFrame()];
    expect([first.rsv, inflate(first).toString() === big]).toEqual([4, true]);
    expect([second.rsv, second.payload.toString() === big]).toEqual([0, true]);
  });

  it('compresses a published message once for every subscriber without context takeover; others get it plain', async () => {
    const s = await serve(threads, { config: DEFLATE, handler: Topical });
    cleanup.push(() => s.stop());
    const members = [await open(s.port), await open(s.port), await open(s.port, '')];
    for (const m of members) {
      expect((await m.nextFrame()).payload.toString()).toMatch(/^id /);
      m.sendFrame(1, 'sub room');
      expect((await m.nextFrame()).payload.toString()).toBe('sub room true');
    }
    const big = 'news for the whole room, '.repeat(80);
    members[0]!.sendFrame(1, `pub room ${big}`);
    const [a, b, plain] = [await members[0]!.nextFrame(), await members[1]!.nextFrame(), await members[2]!.nextFrame()];
    expect([a.rsv, b.rsv, plain.rsv]).toEqual([4, 4, 0]);
    expect(a.payload.equals(b.payload)).toBe(true); // the same bytes: compressed once
    expect(inflate(a).toString()).toBe(big);
    expect(plain.payload.toString()).toBe(big);
  });

  it('keeps context takeover when the client asks for it in both directions', async () => {
    const s = await server(threads, {
      perMessageDeflate: { serverNoContextTakeover: false, clientNoContextTakeover: false },
    });
    const c = await open(s.port, 'Sec-WebSocket-Extensions: permessage-deflate');
    expect(c.response!.headers['sec-websocket-extensions']).toBe('permessage-deflate');
    const mine = new Compressor({ windowBits: 15, takeover: true, level: 6, memLevel: 8 });
    const theirs = new Decompressor({ windowBits: 15, takeover: true });
    const line = 'the same line again and again, '.repeat(50);
    const sizes: number[] = [];
    for (let i = 0; i < 3; i++) {
      c.sendFrame(1, deflate(line, mine), { rsv: 4 });
      const f = await c.nextFrame();
      sizes.push(f.payload.length);
      expect(inflate(f, theirs).toString()).toBe(line);
    }
    // The second and third replies refer back to the first: much shorter.
    expect(sizes[1]!).toBeLessThan(sizes[0]! / 2);
  });

  it('sends fragmented Writer messages and pre-framed messages uncompressed, which RFC 7692 allows', async () => {
    const s = await server(threads, { ...DEFLATE, perMessageDeflate: { threshold: 0 } }, 'writer');
    const c = await open(s.port);
    c.sendFrame(1, 'fragments');
    const frames = [];
    for (let i = 0; i < 4; i++) frames.push(await c.nextFrame());
    expect(frames.map((f) => [f.opcode, f.rsv, f.fin])).toEqual([
      [2, 0, false],
      [0, 0, false],
      [0, 0, false],
      [0, 0, true],
    ]);
    c.sendFrame(1, 'build'); // a whole Writer message: compressed (threshold 0)
    const built = await c.nextFrame();
    expect([built.rsv, inflate(built).toString()]).toEqual([4, 'abc-7']);
    const f = await server(threads, { perMessageDeflate: { threshold: 0 } }, 'framed');
    const p = await open(f.port);
    p.sendFrame(1, 'go');
    expect(await p.nextFrame()).toMatchObject({ rsv: 0, payload: Buffer.from('hello, pre-framed') });
  });
});
