import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Server } from 'wsz';
import { RawClient } from '../../test/helpers/raw-client.js';
import { Hasher, stretch } from './handler.js';

describe('examples/hash', () => {
  it('answers each message with its stretched SHA-256, on worker threads', async () => {
    const server = new Server(Hasher, { port: 0, logLevel: 'silent', threadPool: { count: 2 } });
    const { port } = (await server.listen()) as AddressInfo;
    const c = await RawClient.open(port);
    c.sendFrame(2, Buffer.from('password'));
    expect((await c.nextFrame(5000)).payload.toString()).toBe(stretch(Buffer.from('password'), 500));
    c.destroy();
    await server.stop();
  });
});
