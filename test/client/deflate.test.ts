/**
 * The client's permessage-deflate (offer, answer checks, both directions) and its strict failure
 * order: messages that came before a protocol violation reach the application, and its replies
 * leave before our close frame.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Server } from 'wsz';
import { Client, HandshakeExtensionError } from 'wsz/client';
import { Compressor } from 'wsz/protocol';
import { Recorder } from '../helpers/recorder.js';
import { clientFrames, ok101, scriptedServer } from '../helpers/scripted-server.js';

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** An unmasked server frame. */
function serverFrame(opcode: number, payload: Buffer, b0extra = 0): Buffer {
  const head =
    payload.length < 126
      ? Buffer.from([0x80 | b0extra | opcode, payload.length])
      : Buffer.from([0x80 | b0extra | opcode, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, payload]);
}

describe('Client permessage-deflate', () => {
  it('offers it as browsers do, and exchanges compressed messages with a wsz server in both directions', async () => {
    const server = new Server(Recorder, {
      port: 0,
      logLevel: 'silent',
      threadPool: { count: 0 },
      perMessageDeflate: true,
    });
    const { port } = (await server.listen({ channel: 'unused' } as never)) as AddressInfo;
    cleanup.push(() => server.stop());
    const c = await Client.connect(`ws://127.0.0.1:${port}/`, { perMessageDeflate: true });
    cleanup.push(() => c.destroy());
    expect(c.extensions).toBe(
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=15',
    );
    const big = 'round trip, compressed both ways; '.repeat(100);
    for (let i = 0; i < 3; i++) {
      c.write(big);
      expect(await c.read(5000)).toEqual({ type: 'text', data: Buffer.from(big) });
    }
    c.writeBin(Buffer.alloc(3000, 9), { compress: false });
    expect(await c.read(5000)).toEqual({ type: 'binary', data: Buffer.alloc(3000, 9) });
  });

  it('sends compressed frames with RSV1 (from the threshold) and reads compressed ones with context takeover', async () => {
    const compressor = new Compressor({ windowBits: 15, takeover: true, level: 6, memLevel: 8 });
    const line = 'the server says the same thing twice. '.repeat(40);
    const s = await scriptedServer((socket, accept) => {
      socket.write(ok101(accept, ['Sec-WebSocket-Extensions: permessage-deflate']));
      socket.write(
        Buffer.concat([
          serverFrame(1, compressor.compress(Buffer.from(line)), 0x40),
          serverFrame(1, compressor.compress(Buffer.from(line)), 0x40),
        ]),
      );
    });
    cleanup.push(() => s.close());
    const c = await Client.connect(`ws://127.0.0.1:${s.port}/`, { perMessageDeflate: { threshold: 100 } });
    cleanup.push(() => c.destroy());
    expect(s.request()).toMatch(/\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits(\r\n|$)/);
    expect(await c.read(5000)).toEqual({ type: 'text', data: Buffer.from(line) });
    expect(await c.read(5000)).toEqual({ type: 'text', data: Buffer.from(line) });
    c.write('short');
    c.write('x'.repeat(500));
    await new Promise((r) => setTimeout(r, 100));
    const frames = clientFrames(s.received());
    expect(frames.map((f) => [f.rsv1, f.opcode])).toEqual([
      [false, 1],
      [true, 1],
    ]);
  });

  it('refuses an answer with an extension or parameter it did not offer, with a HandshakeExtensionError', async () => {
    for (const [answer, options] of [
      ['permessage-deflate', undefined],
      ['permessage-deflate; client_max_window_bits=10', { clientMaxWindowBits: false }],
      ['permessage-deflate; unknown_parameter', {}],
      ['x-webkit-deflate-frame', {}],
      ['permessage-deflate; server_max_window_bits=15', { serverMaxWindowBits: 10 }],
    ] as const) {
      const s = await scriptedServer((socket, accept) =>
        socket.write(ok101(accept, [`Sec-WebSocket-Extensions: ${answer}`])),
      );
      const attempt = Client.connect(
        `ws://127.0.0.1:${s.port}/`,
        options === undefined ? {} : { perMessageDeflate: options },
      );
      await expect(attempt).rejects.toBeInstanceOf(HandshakeExtensionError);
      await s.close();
    }
  });
});

describe('Client failure order (strict conformance)', () => {
  it('hands over the message before a violation, lets the reply to it leave, then closes with 1002', async () => {
    const s = await scriptedServer((socket, accept) => {
      socket.write(ok101(accept));
      // A text message, then a frame with RSV2 set, in one write.
      socket.write(Buffer.concat([serverFrame(1, Buffer.from('first')), serverFrame(1, Buffer.from('bad'), 0x20)]));
    });
    cleanup.push(() => s.close());
    const c = await Client.connect(`ws://127.0.0.1:${s.port}/`);
    cleanup.push(() => c.destroy());
    const first = await c.read(5000);
    expect(first).toEqual({ type: 'text', data: Buffer.from('first') });
    c.write('reply to first');
    const close = await c.read(5000);
    expect(close).toMatchObject({ type: 'close', code: 1002 });
    await new Promise((r) => setTimeout(r, 100));
    const frames = clientFrames(s.received());
    expect(frames.map((f) => f.opcode)).toEqual([1, 8]);
    expect(frames[0]!.payload.toString()).toBe('reply to first');
    expect(frames[1]!.payload.readUInt16BE(0)).toBe(1002);
  });

  it('closes at once when nothing unread came before the violation', async () => {
    const s = await scriptedServer((socket, accept) => {
      socket.write(ok101(accept));
      setTimeout(() => socket.write(serverFrame(1, Buffer.from('bad'), 0x20)), 50);
    });
    cleanup.push(() => s.close());
    const c = await Client.connect(`ws://127.0.0.1:${s.port}/`);
    cleanup.push(() => c.destroy());
    await new Promise((r) => setTimeout(r, 200));
    expect(clientFrames(s.received()).map((f) => f.opcode)).toEqual([8]);
  });
});
