import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RawClient } from './helpers/raw-client.js';

// The suite runs against src/; this checks that the built package (what users install) works too.
const dist = fileURLToPath(new URL('../packages/websocket/dist/index.js', import.meta.url));

describe('the built package', () => {
  it('exports a working Server from dist/', async () => {
    const wsz = (await import(dist)) as typeof import('wsz');
    class Echo extends wsz.Handler {
      clientMessage(data: Buffer) {
        this.conn.writeText(data);
      }
    }
    const server = new wsz.Server(Echo, { port: 0, logLevel: 'silent', threadPool: { count: 0 } });
    const { port } = (await server.listen()) as AddressInfo;
    const c = await RawClient.open(port);
    c.sendFrame(1, 'from dist');
    expect((await c.nextFrame()).payload.toString()).toBe('from dist');
    c.destroy();
    await server.stop();
  });

  it('runs a compiled JavaScript handler on worker threads', async () => {
    const wsz = (await import(dist)) as typeof import('wsz');
    const { CompiledEcho } = await import('./fixtures/compiled-handler.mjs');
    const server = new wsz.Server(CompiledEcho, { port: 0, logLevel: 'silent', threadPool: { count: 2 } });
    const { port } = (await server.listen()) as AddressInfo;
    const c = await RawClient.open(port);
    c.sendFrame(1, 'js');
    expect((await c.nextFrame(5000)).payload.toString()).toBe('compiled: js');
    c.destroy();
    await server.stop();
  });
});
