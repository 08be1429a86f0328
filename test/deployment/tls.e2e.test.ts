/**
 * wss:// (issue 11, part 2): the standalone listener with a `tls` config, and attaching to an HTTPS
 * server; our Client and Debian's python3-websockets as peers, in both modes.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createServer as httpsServer } from 'node:https';
import { connect, type AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from 'wsz/client';
import { Server, type ServerConfig } from 'wsz';
import { MODES, serve, type Cleanup } from '../helpers/modes.js';
import { Recorder } from '../helpers/recorder.js';
import { selfSigned } from '../helpers/tls.js';

const tls = selfSigned();
if (!tls && process.env.CI) throw new Error('openssl is missing: .ci/run installs it with apt-get');
const PYTHON = '/usr/bin/python3';
const python = spawnSync(PYTHON, ['-c', 'import websockets']).status === 0;
const pythonClient = fileURLToPath(new URL('../interop/python_client.py', import.meta.url));

function run(file: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(file, args, { timeout: 20_000 }, (_e, stdout, stderr) => resolve({ stdout, stderr })),
  );
}

let cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

async function echoOverTls(url: string): Promise<void> {
  const c = await Client.connect(url, { tls: { ca: tls!.cert }, maxMessageSize: 2 << 20 });
  cleanup.unshift(() => c.destroy());
  c.write('over tls');
  expect(await c.read()).toEqual({ type: 'text', data: Buffer.from('over tls') });
  const big = Buffer.alloc(1 << 20, 7);
  c.writeBin(big);
  const m = (await c.read()) as { data: Buffer };
  expect(m.data.equals(big)).toBe(true);
  await c.close();
}

describe.skipIf(!tls).each(MODES)('wss:// ($name)', ({ threads, workers }) => {
  /** A TLS server in this mode (with I/O threads, each thread runs its sockets' TLS). */
  const serveTls = (config: ServerConfig) =>
    serve(threads, { config: { tls: { key: tls!.key, cert: tls!.cert }, workerCount: workers, ...config } });

  it('the listener serves wss with the tls config (TLS 1.2 at least) to our Client', async () => {
    const s = await serveTls({ maxMessageSize: 2 << 20 });
    cleanup.push(() => s.stop());
    await echoOverTls(`wss://localhost:${s.port}/`);
  });

  it.skipIf(!python)("and to Debian's python3-websockets", async () => {
    const s = await serveTls({ maxMessageSize: 2 << 20 });
    cleanup.push(() => s.stop());
    // Asynchronously: the server runs in this process.
    const r = await run(PYTHON, [pythonClient, `wss://localhost:${s.port}/`, tls!.certPath]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('ok');
  });

  it('drops a client that speaks plain HTTP or garbage to the TLS port, and goes on serving', async () => {
    const s = await serveTls({ maxMessageSize: 2 << 20 });
    cleanup.push(() => s.stop());
    for (const junk of ['GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n', '\x00\x01garbage\xff'.repeat(100)]) {
      const sock = connect(s.port, '127.0.0.1');
      sock.on('error', () => {});
      sock.write(junk);
      await new Promise<void>((r) => sock.on('close', () => r()));
    }
    await echoOverTls(`wss://localhost:${s.port}/`);
    expect(s.server.stats().connections).toBeLessThanOrEqual(1);
  });

  it('a client that never starts its TLS handshake is dropped after handshake.timeout', async () => {
    const s = await serveTls({ handshake: { timeout: 300 } });
    cleanup.push(() => s.stop());
    const sock = connect(s.port, '127.0.0.1');
    sock.on('error', () => {});
    await new Promise<void>((r) => sock.on('close', () => r()));
    expect(s.server.stats().connections).toBe(0);
  });

  it('counts sockets in their TLS handshake against maxConn from accept: past it they are closed at once', async () => {
    const s = await serveTls({ maxConn: 5, maxMessageSize: 2 << 20, handshake: { timeout: 1500 } });
    cleanup.push(() => s.stop());
    const silent = Array.from({ length: 20 }, () => {
      const sock = connect(s.port, '127.0.0.1');
      sock.on('error', () => {});
      cleanup.unshift(() => void sock.destroy());
      return sock;
    });
    await Promise.all(silent.map((sock) => new Promise((r) => sock.once('connect', r))));
    await new Promise((r) => setTimeout(r, 200));
    // Five hold places (counted); the other fifteen were closed at once.
    expect(s.server.stats().connections).toBe(5);
    expect(silent.filter((sock) => sock.destroyed || sock.readableEnded).length).toBeGreaterThanOrEqual(15);
    // Once their handshake time is up, the places are free again.
    await new Promise((r) => setTimeout(r, 1600));
    expect(s.server.stats().connections).toBe(0);
    await echoOverTls(`wss://localhost:${s.port}/`);
  });

  it('bounds TLS, the request and init together by one handshake.timeout, counted from accept', async () => {
    const s = await serveTls({ handshake: { timeout: 1000 } });
    cleanup.push(() => s.stop());
    const started = Date.now();
    const raw = connect(s.port, '127.0.0.1');
    raw.on('error', () => {});
    await new Promise((r) => raw.once('connect', r));
    await new Promise((r) => setTimeout(r, 600)); // the ClientHello comes late; then no request at all
    const secure = tlsConnect({ socket: raw, ca: tls!.cert, servername: 'localhost' });
    secure.on('error', () => {});
    cleanup.unshift(() => void secure.destroy());
    await new Promise((r) => secure.once('secureConnect', r));
    await new Promise<void>((r) => secure.once('close', () => r()));
    // Closed when the one deadline passed (about 1000 ms after accept), not a full timeout after TLS.
    expect(Date.now() - started).toBeLessThan(1450);
  });

  it.skipIf(workers > 1)('attaches to an HTTPS server (one thread: attach shares the HTTP server)', async () => {
    const https = httpsServer({ key: tls!.key, cert: tls!.cert }, (_req, res) => res.writeHead(200).end('ok'));
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => https.close(() => r())));
    const server = new Server(Recorder, {
      logLevel: 'silent',
      maxMessageSize: 2 << 20,
      threadPool: { count: threads },
    });
    await server.attach(https, { path: '/secure' }, { channel: `wsz-tls-${process.pid}` } as never);
    cleanup.unshift(() => server.stop());
    await echoOverTls(`wss://localhost:${(https.address() as AddressInfo).port}/secure`);
  });
});
