import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Client } from 'wsz/client';
import { RawClient, upgradeRequest } from '../helpers/raw-client.js';
import { selfSigned } from '../helpers/tls.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function start(example: string, env: Record<string, string>): { ready: Promise<number>; exit: Promise<number | null>; kill(): void } {
  const child = spawn(`${root}node_modules/.bin/tsx`, ['--conditions=wsz-source', example], { cwd: root, env: { ...process.env, PORT: '0', WSZ_LOG_LEVEL: 'silent', ...env } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const ready = new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no 'listening' line; got: ${out}`)), 15_000);
    child.stdout.on('data', () => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { ready, exit, kill: () => child.kill('SIGINT') };
}

describe('examples/attach', () => {
  it('answers GET /health with 200, echoes at /echo, refuses other upgrade paths with 404, stops on SIGINT', async () => {
    const app = start('examples/attach/server.ts', { THREADS: '1' });
    const port = await app.ready;
    const health = await new Promise<{ status: number; body: string }>((resolve, reject) =>
      request({ port, host: '127.0.0.1', path: '/health' }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      }).on('error', reject).end(),
    );
    expect(health).toEqual({ status: 200, body: 'ok\n' });
    const c = await RawClient.open(port, '/echo');
    c.sendFrame(1, 'attached');
    expect((await c.nextFrame()).payload.toString()).toBe('attached');
    const other = await RawClient.connect(port, upgradeRequest('/other'));
    expect((await other.readResponse()).status).toBe(404);
    c.destroy();
    other.destroy();
    app.kill();
    expect(await app.exit).toBe(0);
  });
});

describe.skipIf(!selfSigned())('examples/echo over TLS', () => {
  it('serves wss:// when TLS_CERT and TLS_KEY name PEM files', async () => {
    const tls = selfSigned()!;
    const echo = start('examples/echo/server.ts', { TLS_CERT: tls.certPath, TLS_KEY: tls.keyPath, THREADS: '0' });
    const port = await echo.ready;
    const c = await Client.connect(`wss://localhost:${port}/`, { tls: { ca: tls.cert } });
    c.write('secure echo');
    expect(await c.read(5000)).toEqual({ type: 'text', data: Buffer.from('secure echo') });
    await c.close();
    echo.kill();
    expect(await echo.exit).toBe(0);
  });
});
