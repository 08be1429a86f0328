/**
 * The client under a hostile or broken server, and its own limits (issue 10, items 3, 6, 7, 16-18).
 */
import { mkdtempSync } from 'node:fs';
import { createServer as netServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as tlsServer, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, HandshakeStatusError } from 'wsz/client';
import { acceptKey } from 'wsz/protocol';
import { serve } from '../helpers/modes.js';
import { clientFrames, ok101, scriptedServer } from '../helpers/scripted-server.js';
import { selfSigned } from '../helpers/tls.js';

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});
async function scripted(respond: Parameters<typeof scriptedServer>[0]) {
  const s = await scriptedServer(respond);
  cleanup.push(() => s.close());
  return s;
}
function listening(server: NetServer, where: number | string): Promise<void> {
  return new Promise((resolve) =>
    typeof where === 'string' ? server.listen(where, resolve) : server.listen(where, '127.0.0.1', resolve),
  );
}
/** Answers every upgrade request on `socket` with a 101, then lets `then` go on. */
function answerUpgrade(socket: Socket, then: (s: Socket) => void = () => {}): void {
  let head = '';
  socket.on('error', () => {});
  const onData = (d: Buffer) => {
    head += d.toString('latin1');
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    socket.off('data', onData);
    const key = /sec-websocket-key: (.*)/i.exec(head)![1]!.trim();
    socket.write(ok101(acceptKey(key)));
    then(socket);
  };
  socket.on('data', onData);
}

describe('wss:// over a Unix socket', () => {
  it('speaks TLS over the socket path, with the URL host as SNI', async (ctx) => {
    const tls = selfSigned();
    if (!tls) return ctx.skip();
    const path = join(mkdtempSync(join(tmpdir(), 'wsz-unix-')), 's');
    let servername: string | false | null | undefined;
    const server = tlsServer({ key: tls.key, cert: tls.cert }, (s: TLSSocket) => {
      servername = s.servername;
      answerUpgrade(s, (up) =>
        up.on('data', (d) => up.write(Buffer.concat([Buffer.from([0x81, d.length - 6]), clientFrames(d)[0]!.payload]))),
      );
    });
    await listening(server, path);
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    const c = await Client.connect('wss://localhost/chat', { socketPath: path, tls: { ca: tls.cert } });
    cleanup.unshift(() => c.destroy());
    c.write('over tls');
    const m = await c.read(3000);
    expect(m && 'data' in m ? m.data.toString() : m).toBe('over tls');
    expect(servername).toBe('localhost');
  });

  it('refuses a plaintext server: the TLS handshake fails', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'wsz-unix-')), 's');
    const server = netServer((s) => answerUpgrade(s));
    await listening(server, path);
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    await expect(Client.connect('wss://localhost/', { socketPath: path, handshakeTimeout: 2000 })).rejects.toThrow();
  });
});

describe('a refusal (a status other than 101)', () => {
  it('with an endless body reports the status, keeping at most 16 KiB of the body, at little cost', async () => {
    const s = await scripted((socket) => {
      socket.write('HTTP/1.1 401 Unauthorized\r\nContent-Length: 1000000000\r\n\r\n');
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = () => {
        while (!socket.destroyed && socket.write(chunk));
        if (!socket.destroyed) socket.once('drain', pump);
      };
      pump();
    });
    const before = process.cpuUsage();
    const error = (await Client.connect(`ws://127.0.0.1:${s.port}/`).catch((e) => e)) as HandshakeStatusError;
    expect(error).toBeInstanceOf(HandshakeStatusError);
    expect(error.status).toBe(401);
    expect(error.body.length).toBe(16 * 1024);
    const cpu = process.cpuUsage(before);
    expect(cpu.user + cpu.system).toBeLessThan(2_000_000); // the body is not read in full
  });

  it('keeps a body without Content-Length (read to the end) and decodes a chunked one', async () => {
    const plain = await scripted((socket) =>
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\nno origin'),
    );
    const e1 = (await Client.connect(`ws://127.0.0.1:${plain.port}/`).catch((e) => e)) as HandshakeStatusError;
    expect([e1.status, e1.body]).toEqual([403, 'no origin']);
    const chunked = await scripted((socket) =>
      socket.write(
        'HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nslow \r\n4;x=1\r\ndown\r\n0\r\n\r\n',
      ),
    );
    const e2 = (await Client.connect(`ws://127.0.0.1:${chunked.port}/`).catch((e) => e)) as HandshakeStatusError;
    expect([e2.status, e2.body]).toEqual([429, 'slow down']);
  });

  it('whose body never completes still reports the status, not a timeout', async () => {
    const s = await scripted((socket) =>
      socket.write('HTTP/1.1 401 Unauthorized\r\nContent-Length: 100\r\n\r\ntoken requ'),
    );
    const error = (await Client.connect(`ws://127.0.0.1:${s.port}/`, { handshakeTimeout: 5000 }).catch(
      (e) => e,
    )) as HandshakeStatusError;
    expect(error).toBeInstanceOf(HandshakeStatusError);
    expect([error.status, error.body]).toEqual([401, 'token requ']);
  });
});

describe('connect', () => {
  it('rejects (never throws) for a bad URL or bad options', async () => {
    const results = [
      Client.connect('not a url'),
      Client.connect('http://x/'),
      Client.connect('ws://x/', { protocols: ['a b'] }),
    ];
    for (const r of results) await expect(r).rejects.toThrow(TypeError);
  });

  it('sends no SNI for an IP literal, IPv6 included', async (ctx) => {
    const tls = selfSigned();
    if (!tls) return ctx.skip();
    const seen: Array<string | false | null> = [];
    const server = tlsServer({ key: tls.key, cert: tls.cert }, (s: TLSSocket) => {
      seen.push(s.servername);
      answerUpgrade(s);
    });
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(0, '::1', () => resolve(true));
    });
    if (!ok) return ctx.skip();
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    const c = await Client.connect(`wss://[::1]:${(server.address() as AddressInfo).port}/`, {
      tls: { rejectUnauthorized: false },
    });
    cleanup.unshift(() => c.destroy());
    expect(seen).toEqual([false]);
  });
});

describe('reading', () => {
  it('an idle readLoop does not spin: read() without a timeout sets no timer', async () => {
    const s = await scripted((socket, accept) => socket.write(ok101(accept)));
    const c = await Client.connect(`ws://127.0.0.1:${s.port}/`);
    cleanup.unshift(() => c.destroy());
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    cleanup.push(() => void process.off('warning', onWarning));
    const before = process.cpuUsage();
    const loop = c.readLoop({ serverMessage() {} });
    await new Promise((r) => setTimeout(r, 500));
    const cpu = process.cpuUsage(before);
    expect(warnings).not.toContain('TimeoutOverflowWarning');
    expect(cpu.user + cpu.system).toBeLessThan(60_000); // the 1 ms spin cost about 80 ms per 500 ms
    c.destroy();
    await loop;
  });

  it('a second pending read() rejects once the close has been read', async () => {
    const s = await scripted((socket, accept) => socket.write(ok101(accept)));
    const c = await Client.connect(`ws://127.0.0.1:${s.port}/`);
    cleanup.unshift(() => c.destroy());
    const first = c.read();
    const second = c.read();
    c.destroy();
    expect((await first)?.type).toBe('close');
    await expect(second).rejects.toThrow(/closed/);
  });

  it('frames that came with the 101 reach the readLoop hooks, which answer them', async () => {
    const s = await scripted((socket, accept) =>
      socket.write(
        Buffer.concat([
          Buffer.from(ok101(accept)),
          Buffer.from([0x89, 2]),
          Buffer.from('hi'),
          Buffer.from([0x88, 2, 0x03, 0xe8]),
        ]),
      ),
    );
    const c = await Client.connect(`ws://127.0.0.1:${s.port}/`, { closeTimeout: 200 });
    cleanup.unshift(() => c.destroy());
    const seen: string[] = [];
    await c.readLoop({
      serverMessage() {},
      serverPing: (d) => void seen.push(`ping ${d}`),
      serverClose: (code) => {
        seen.push(`close ${code}`);
        void c.close({ code: 4000, reason: 'mine' });
      },
    });
    expect(seen).toEqual(['ping hi', 'close 1000']);
    const sent = clientFrames(s.received());
    expect(sent.map((f) => f.opcode)).toEqual([8]); // no automatic pong, and our own close, once
    expect(sent[0]!.payload.readUInt16BE(0)).toBe(4000);
  });

  it('serverClose runs only for a close frame from the server, not for a TCP end', async () => {
    const s = await scripted((socket, accept) => {
      socket.write(ok101(accept));
      setTimeout(() => socket.destroy(), 50);
    });
    const c = await Client.connect(`ws://127.0.0.1:${s.port}/`);
    const seen: string[] = [];
    await c.readLoop({
      serverMessage() {},
      serverClose: (code) => void seen.push(`close ${code}`),
      close: () => void seen.push('end'),
    });
    expect(seen).toEqual(['end']);
  });
});

describe('writing', () => {
  it('has backpressure: past maxBackpressure a write is refused and the connection closes with 1008', async () => {
    const s = await scripted((socket, accept) => {
      socket.write(ok101(accept));
      socket.pause(); // never reads
    });
    const c = await Client.connect(`ws://127.0.0.1:${s.port}/`, { maxBackpressure: 1 << 20 });
    cleanup.unshift(() => c.destroy());
    const chunk = Buffer.alloc(1 << 20);
    const results: boolean[] = [];
    for (let i = 0; i < 200; i++) results.push(c.writeBin(chunk));
    // Frames leave for the kernel as they are written (the socket buffers of loopback take a few MiB);
    // what stays with us is bounded by the limit, and the next message past it closes the connection.
    expect(results.filter(Boolean).length).toBeLessThanOrEqual(16);
    expect(c.isClosed()).toBe(true);
    expect(c.bufferedAmount).toBeLessThan(3 << 20);
  });

  it("'drop' refuses messages while over the limit, and drained() says when to write again", async () => {
    const { port, stop } = await serve(0, { behaviour: 'silent', config: { maxMessageSize: 2 << 20 } });
    cleanup.push(stop);
    const c = await Client.connect(`ws://127.0.0.1:${port}/`, {
      maxBackpressure: 256 * 1024,
      backpressurePolicy: 'drop',
    });
    cleanup.unshift(() => c.destroy());
    const chunk = Buffer.alloc(1 << 20);
    expect(c.writeBin(chunk)).toBe(true);
    // The kernel takes what it can at once; past that, 256 KiB waiting with us refuses the next message.
    let refused = 0;
    for (let i = 0; i < 64 && refused === 0; i++) if (!c.writeBin(chunk)) refused++;
    expect(refused).toBe(1);
    expect(c.bufferedAmount).toBeGreaterThan(0);
    await c.drained();
    expect(c.bufferedAmount).toBe(0);
    expect(c.writeBin(chunk)).toBe(true);
    expect(c.isClosed()).toBe(false);
  });
});
