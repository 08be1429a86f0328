import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Client,
  HandshakeAcceptError,
  HandshakeConnectionError,
  HandshakeExtensionError,
  HandshakeProtocolError,
  HandshakeStatusError,
  HandshakeTimeoutError,
  HandshakeUpgradeError,
  type ClientMessage,
} from 'wsz/client';
import { Handler, Server, type MessageType } from 'wsz';
import { serve } from '../helpers/modes.js';
import { clientFrames, ok101, scriptedServer } from '../helpers/scripted-server.js';
import { eventually } from '../helpers/server.js';

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});
async function ourServer(behaviour?: string, config = {}) {
  const s = await serve(0, { behaviour, config });
  cleanup.push(() => s.stop());
  return s;
}
async function connect(url: string, options = {}): Promise<Client> {
  const c = await Client.connect(url, options);
  cleanup.unshift(() => c.destroy());
  return c;
}
async function scripted(respond: Parameters<typeof scriptedServer>[0]) {
  const s = await scriptedServer(respond);
  cleanup.push(() => s.close());
  return s;
}
const text = (m: ClientMessage | null) => (m && 'data' in m ? m.data.toString() : m);

describe('Client against the wsz server', () => {
  it('exchanges text, binary, empty and large messages', async () => {
    const { port } = await ourServer(undefined, { maxMessageSize: 1 << 20 });
    const c = await connect(`ws://127.0.0.1:${port}/path?x=1`, { maxMessageSize: 1 << 20 });
    c.write('hello');
    c.writeBin(Buffer.from([1, 2, 3]));
    c.writeText('');
    const big = Buffer.alloc(300_000, 7);
    c.writeBin(big);
    expect(await c.read()).toEqual({ type: 'text', data: Buffer.from('hello') });
    expect(await c.read()).toEqual({ type: 'binary', data: Buffer.from([1, 2, 3]) });
    expect(await c.read()).toEqual({ type: 'text', data: Buffer.alloc(0) });
    const m = await c.read();
    expect(m?.type).toBe('binary');
    expect((m as { data: Buffer }).data.equals(big)).toBe(true);
  });

  it('sends the handshake with Host, a 16-byte key, version 13, subprotocols and extra headers', async () => {
    const s = await scripted((socket, accept) => socket.write(ok101(accept, ['Sec-WebSocket-Protocol: b'])));
    const c = await connect(`ws://127.0.0.1:${s.port}/room?u=1`, {
      protocols: ['a', 'b'],
      headers: { 'X-Token': 't1' },
    });
    const req = s.request();
    expect(req).toMatch(/^GET \/room\?u=1 HTTP\/1.1\r\n/);
    expect(req).toContain(`\r\nHost: 127.0.0.1:${s.port}\r\n`);
    expect(req).toContain('\r\nSec-WebSocket-Version: 13\r\n');
    expect(req).toContain('\r\nSec-WebSocket-Protocol: a, b\r\n');
    expect(req).toMatch(/\r\nX-Token: t1(\r\n|$)/);
    expect(Buffer.from(/Sec-WebSocket-Key: (.*)/.exec(req)![1]!, 'base64')).toHaveLength(16);
    expect(c.protocol).toBe('b');
  });

  it('masks every frame, with a fresh key each time', async () => {
    const s = await scripted((socket, accept) => socket.write(ok101(accept)));
    const c = await connect(`ws://127.0.0.1:${s.port}/`);
    for (let i = 0; i < 20; i++) c.write(`m${i}`);
    c.writePing('p');
    await eventually('frames', () => clientFrames(s.received()).length === 21);
    const frames = clientFrames(s.received());
    expect(frames.every((f) => f.masked)).toBe(true);
    expect(frames.map((f) => f.payload.toString())).toEqual([...Array.from({ length: 20 }, (_, i) => `m${i}`), 'p']);
    expect(new Set(frames.map((f) => f.key)).size).toBe(21);
  });

  it('answers pings with pongs and still returns them from read()', async () => {
    const s = await scripted((socket, accept) =>
      socket.write(Buffer.concat([Buffer.from(ok101(accept)), Buffer.from([0x89, 2, 0x68, 0x69])])),
    );
    const c = await connect(`ws://127.0.0.1:${s.port}/`);
    expect(await c.read()).toEqual({ type: 'ping', data: Buffer.from('hi') });
    await eventually('pong', () => clientFrames(s.received()).length === 1);
    expect(clientFrames(s.received())[0]).toMatchObject({ opcode: 10, payload: Buffer.from('hi') });
  });

  it('read() returns null when nothing arrives within the timeout', async () => {
    const { port } = await ourServer();
    const c = await connect(`ws://127.0.0.1:${port}/`, { readTimeout: 50 });
    expect(await c.read()).toBeNull();
    c.write('late');
    expect(text(await c.read(2000))).toBe('late');
  });

  it('writes fragmented messages with writeFrame', async () => {
    const { port } = await ourServer();
    const c = await connect(`ws://127.0.0.1:${port}/`);
    c.writeFrame(1, 'frag', { fin: false });
    c.writePing('between');
    c.writeFrame(0, 'ment');
    expect(await c.read()).toEqual({ type: 'pong', data: Buffer.from('between') });
    expect(text(await c.read())).toBe('fragment');
  });

  it('closes with a code and reason; the server answers; close() resolves when TCP ends', async () => {
    const { port, events } = await ourServer();
    const c = await connect(`ws://127.0.0.1:${port}/`);
    await c.close({ code: 4000, reason: 'bye' });
    expect(await c.read()).toEqual({ type: 'close', code: 4000, reason: '' });
    await eventually('close hook', () => events.includes('close'));
    await expect(c.read()).rejects.toThrow(/closed/);
    expect(c.write('after')).toBe(false);
  });

  it('answers a close from the server', async () => {
    const { port } = await ourServer('closeOnMessage');
    const c = await connect(`ws://127.0.0.1:${port}/`);
    c.write('x');
    expect(await c.read()).toEqual({ type: 'close', code: 4000, reason: 'bye now' });
    await c.ended;
  });

  it('validates close codes and reasons like the server', () => {
    return ourServer().then(async ({ port }) => {
      const c = await connect(`ws://127.0.0.1:${port}/`);
      expect(() => c.close({ code: 1006 })).toThrow(RangeError);
      expect(() => c.close({ reason: 'x'.repeat(124) })).toThrow(RangeError);
    });
  });

  it('runs readLoop hooks in order and close exactly once', async () => {
    const { port } = await ourServer('closeOnStop');
    const c = await connect(`ws://127.0.0.1:${port}/`);
    const seen: string[] = [];
    const loop = c.readLoop({
      async serverMessage(data: Buffer, type: MessageType) {
        await new Promise((r) => setTimeout(r, 5));
        seen.push(`${type} ${data}`);
      },
      serverClose(code) {
        seen.push(`serverClose ${code}`);
      },
      close() {
        seen.push('close');
      },
    });
    c.write('one');
    c.write('two');
    c.write('stop');
    await loop;
    expect(seen).toEqual(['text one', 'text two', 'serverClose 1000', 'close']);
  });

  it('readLoop refuses a handler without serverMessage', async () => {
    const { port } = await ourServer();
    const c = await connect(`ws://127.0.0.1:${port}/`);
    await expect(c.readLoop({} as never)).rejects.toThrow(/needs a serverMessage\(data, type\) method/);
  });

  it('connects over a Unix socket', async () => {
    class Echo extends Handler {
      clientMessage(d: Buffer) {
        this.conn.writeText(d);
      }
    }
    const path = join(mkdtempSync(join(tmpdir(), 'wsz-')), 's.sock');
    const server = new Server(Echo, { unixPath: path, logLevel: 'silent', threadPool: { count: 0 } });
    await server.listen();
    cleanup.push(() => server.stop());
    const c = await connect('ws://localhost/over-unix', { socketPath: path });
    c.write('unix');
    expect(text(await c.read())).toBe('unix');
  });
});

describe('Client handshake failures: each a distinct, named error', () => {
  const cases: Array<[string, (accept: string) => string, new (...a: never[]) => Error, RegExp]> = [
    [
      'a status other than 101',
      () => 'HTTP/1.1 403 Forbidden\r\nContent-Length: 7\r\n\r\nno way\n',
      HandshakeStatusError,
      /403 Forbidden: no way/,
    ],
    [
      'no Upgrade header',
      (a) => `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${a}\r\n\r\n`,
      HandshakeUpgradeError,
      /Upgrade: websocket/,
    ],
    [
      'no Connection header',
      (a) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: ${a}\r\n\r\n`,
      HandshakeConnectionError,
      /Connection: Upgrade/,
    ],
    [
      'a wrong accept hash',
      () => ok101('s3pPLMBiTxaQ9kYGzzhZRbK+xOo='),
      HandshakeAcceptError,
      /not the hash of our key/,
    ],
    [
      'an extension not offered',
      (a) => ok101(a, ['Sec-WebSocket-Extensions: permessage-deflate']),
      HandshakeExtensionError,
      /permessage-deflate/,
    ],
    ['a subprotocol not offered', (a) => ok101(a, ['Sec-WebSocket-Protocol: mqtt']), HandshakeProtocolError, /mqtt/],
  ];
  for (const [what, answer, ErrorClass, message] of cases) {
    it(`${what} -> ${ErrorClass.name}`, async () => {
      const s = await scripted((socket, accept) => socket.write(answer(accept)));
      const err = await Client.connect(`ws://127.0.0.1:${s.port}/`).catch((e: Error) => e);
      expect(err).toBeInstanceOf(ErrorClass);
      expect((err as Error).name).toBe(ErrorClass.name);
      expect((err as Error).message).toMatch(message);
    });
  }

  it('no answer within handshakeTimeout -> HandshakeTimeoutError', async () => {
    const s = await scripted(() => {});
    const err = await Client.connect(`ws://127.0.0.1:${s.port}/`, { handshakeTimeout: 100 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(HandshakeTimeoutError);
  });

  it("keeps the status and body of a wsz server's refusal", async () => {
    const { port } = await ourServer('initStatus');
    const err = (await Client.connect(`ws://127.0.0.1:${port}/private`).catch((e: Error) => e)) as HandshakeStatusError;
    expect(err).toBeInstanceOf(HandshakeStatusError);
    expect(err.status).toBe(401);
    expect(err.body).toBe('token required\n');
  });
});

describe('Client validation of what the server sends', () => {
  async function afterHandshake(bytes: number[] | Buffer, options = {}) {
    const s = await scripted((socket, accept) =>
      socket.write(Buffer.concat([Buffer.from(ok101(accept)), Buffer.from(bytes)])),
    );
    const c = await connect(`ws://127.0.0.1:${s.port}/`, options);
    const m = await c.read();
    await eventually('close frame sent', () => clientFrames(s.received()).some((f) => f.opcode === 8));
    const sent = clientFrames(s.received()).find((f) => f.opcode === 8)!;
    return { m, sentCode: sent.payload.readUInt16BE(0) };
  }

  it('a masked frame from the server -> 1002', async () => {
    const { m, sentCode } = await afterHandshake([0x81, 0x81, 1, 2, 3, 4, 0x61 ^ 1]);
    expect(m).toMatchObject({ type: 'close', code: 1002 });
    expect(sentCode).toBe(1002);
  });

  it('invalid UTF-8 in a text message -> 1007', async () => {
    const { m, sentCode } = await afterHandshake([0x81, 2, 0xc3, 0x28]);
    expect(m).toMatchObject({ type: 'close', code: 1007 });
    expect(sentCode).toBe(1007);
  });

  it('a message over maxMessageSize -> 1009', async () => {
    const { m, sentCode } = await afterHandshake(
      Buffer.concat([Buffer.from([0x82, 126, 0x04, 0x00]), Buffer.alloc(1024)]),
      { maxMessageSize: 1000 },
    );
    expect(m).toMatchObject({ type: 'close', code: 1009 });
    expect(sentCode).toBe(1009);
  });

  it('a TCP end without a close frame reads as 1006', async () => {
    const s = await scripted((socket, accept) => socket.end(ok101(accept)));
    const c = await connect(`ws://127.0.0.1:${s.port}/`);
    expect(await c.read()).toEqual({ type: 'close', code: 1006, reason: '' });
  });
});
