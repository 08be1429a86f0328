import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from 'wsz/client';
import { MODES, inMode, serve } from '../helpers/modes.js';
import { selfSigned } from '../helpers/tls.js';

// Debian's python3-websockets (installed by .ci/run) runs under the system interpreter.
const PYTHON = '/usr/bin/python3';
const available = spawnSync(PYTHON, ['-c', 'import websockets']).status === 0;
if (!available && process.env.CI) throw new Error('python3-websockets is missing: .ci/run installs it with apt-get');
const script = fileURLToPath(new URL('./python_echo_server.py', import.meta.url));
const deflateClient = fileURLToPath(new URL('./python_deflate_client.py', import.meta.url));

function startPython(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(PYTHON, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const t = setTimeout(() => reject(new Error(`python server did not start: ${err}`)), 10_000);
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ child, port: Number(m[1]) });
      }
    });
  });
}

async function exchange(c: Client): Promise<void> {
  expect(c.protocol).toBe('chat');
  c.write('hello python');
  expect(await c.read()).toEqual({ type: 'text', data: Buffer.from('hello python') });
  const big = Buffer.alloc(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = i & 0xff;
  c.writeBin(big);
  const m = (await c.read()) as { type: string; data: Buffer };
  expect(m.type).toBe('binary');
  expect(m.data.equals(big)).toBe(true);
  c.writePing('py?');
  expect(await c.read()).toEqual({ type: 'pong', data: Buffer.from('py?') });
  c.write('κόσμε');
  expect(await c.read()).toEqual({ type: 'text', data: Buffer.from('κόσμε') });
  c.write('close');
  expect(await c.read()).toEqual({ type: 'close', code: 4001, reason: 'python says bye' });
  await c.ended;
}

describe.skipIf(!available)("interop: the Client against Debian's python3-websockets server", () => {
  let plain: { child: ChildProcess; port: number };
  let tls: { child: ChildProcess; port: number };
  let ca: Buffer;

  beforeAll(async () => {
    // A self-signed certificate for localhost and 127.0.0.1 (the one helper every TLS test uses).
    const made = selfSigned();
    if (!made) throw new Error('openssl is missing: .ci/run installs it with apt-get');
    ca = made.cert;
    plain = await startPython([]);
    tls = await startPython([made.certPath, made.keyPath]);
  });
  afterAll(() => {
    plain?.child.kill();
    tls?.child.kill();
  });

  it('ws://: text, 1 MiB binary, ping, UTF-8, and the server-initiated close', async () => {
    await exchange(
      await Client.connect(`ws://127.0.0.1:${plain.port}/`, { protocols: ['chat'], maxMessageSize: 2 << 20 }),
    );
  });

  it('wss:// with the self-signed certificate as CA, and servername', async () => {
    await exchange(
      await Client.connect(`wss://localhost:${tls.port}/`, {
        protocols: ['chat'],
        maxMessageSize: 2 << 20,
        tls: { ca, servername: 'localhost' },
      }),
    );
  });

  it('wss:// refuses the self-signed certificate without the CA, and accepts it with rejectUnauthorized: false', async () => {
    await expect(Client.connect(`wss://localhost:${tls.port}/`)).rejects.toThrow(/self[- ]signed/i);
    const c = await Client.connect(`wss://127.0.0.1:${tls.port}/`, {
      protocols: ['chat'],
      tls: { rejectUnauthorized: false },
    });
    c.write('insecure but fine');
    expect(await c.read()).toEqual({ type: 'text', data: Buffer.from('insecure but fine') });
    await c.close();
  });
});

describe.skipIf(!available).each(MODES)(
  "interop: permessage-deflate with Debian's python3-websockets ($name)",
  ({ threads, workers }) => {
    inMode(workers);
    it('its client (which offers deflate) and our server agree on it and exchange compressed messages', async () => {
      const s = await serve(threads, { config: { perMessageDeflate: true, maxMessageSize: 1 << 20 } });
      try {
        const r = await new Promise<{ stdout: string; stderr: string }>((resolve) => {
          const child = spawn(PYTHON, [deflateClient, `ws://127.0.0.1:${s.port}/`]);
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (d) => (stdout += d));
          child.stderr.on('data', (d) => (stderr += d));
          child.on('close', () => resolve({ stdout, stderr }));
        });
        expect(r.stderr).toBe('');
        expect(r.stdout.trim().split('\n')).toEqual([
          'permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=15',
          'ok',
        ]);
        // Both directions were compressed: 21 messages each way (the binary one too, above the threshold).
        expect(s.server.stats().compression).toEqual({ inflated: 21, deflated: 21 });
      } finally {
        await s.stop();
      }
    });

    it('our Client against its server (which accepts deflate) exchanges compressed messages', async () => {
      const py = await startPython([]);
      try {
        const c = await Client.connect(`ws://127.0.0.1:${py.port}/`, {
          protocols: ['chat'],
          perMessageDeflate: true,
          maxMessageSize: 2 << 20,
        });
        expect(c.extensions).toMatch(/^permessage-deflate/);
        await exchange(c);
      } finally {
        py.child.kill();
      }
    });
  },
);
