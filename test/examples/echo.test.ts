import { describe, expect, it } from 'vitest';
import { runExample } from '../helpers/example.js';
import { RawClient } from '../helpers/raw-client.js';

describe('examples/echo', () => {
  it('starts on PORT, prints "listening", echoes text as text and binary as binary, honours MAX_MESSAGE_SIZE, stops on SIGINT', async () => {
    const echo = runExample('examples/echo/server.ts', { MAX_MESSAGE_SIZE: '1000' });
    const port = await echo.ready;
    const c = await RawClient.open(port);
    c.sendFrame(1, 'text in');
    c.sendFrame(2, Buffer.from([9, 8, 7]));
    expect(await c.nextFrame()).toMatchObject({ opcode: 1, payload: Buffer.from('text in') });
    expect(await c.nextFrame()).toMatchObject({ opcode: 2, payload: Buffer.from([9, 8, 7]) });
    c.sendFrame(2, Buffer.alloc(1001));
    expect((await c.readClose()).code).toBe(1009);
    echo.interrupt();
    expect(await echo.exit).toBe(0);
  });
});
