import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Client } from 'wsz/client';
import { RawClient, upgradeRequest } from '../helpers/raw-client.js';
import { runExample } from '../helpers/example.js';
import { selfSigned } from '../helpers/tls.js';

describe('examples/attach', () => {
  it('answers GET /health with 200, echoes at /echo, refuses other upgrade paths with 404, stops on SIGINT', async () => {
    const app = runExample('examples/attach/server.ts', { THREADS: '1' });
    const port = await app.ready;
    const health = await new Promise<{ status: number; body: string }>((resolve, reject) =>
      request({ port, host: '127.0.0.1', path: '/health' }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      })
        .on('error', reject)
        .end(),
    );
    expect(health).toEqual({ status: 200, body: 'ok\n' });
    const c = await RawClient.open(port, '/echo');
    c.sendFrame(1, 'attached');
    expect((await c.nextFrame()).payload.toString()).toBe('attached');
    const other = await RawClient.connect(port, upgradeRequest('/other'));
    expect((await other.readResponse()).status).toBe(404);
    c.destroy();
    other.destroy();
    app.interrupt();
    expect(await app.exit).toBe(0);
  });
});

describe.skipIf(!selfSigned())('examples/echo over TLS', () => {
  it('serves wss:// when TLS_CERT and TLS_KEY name PEM files', async () => {
    const tls = selfSigned()!;
    const echo = runExample('examples/echo/server.ts', { TLS_CERT: tls.certPath, TLS_KEY: tls.keyPath, THREADS: '0' });
    const port = await echo.ready;
    const c = await Client.connect(`wss://localhost:${port}/`, { tls: { ca: tls.cert } });
    c.write('secure echo');
    expect(await c.read(5000)).toEqual({ type: 'text', data: Buffer.from('secure echo') });
    await c.close();
    echo.interrupt();
    expect(await echo.exit).toBe(0);
  });
});
