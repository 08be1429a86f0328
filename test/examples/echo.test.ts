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

describe('examples/echo with BROADCAST=1', () => {
  it('sends every message to every connection, the sender included', async () => {
    const echo = runExample('examples/echo/server.ts', { BROADCAST: '1', THREADS: '2' });
    const port = await echo.ready;
    // Each is subscribed once its own first message comes back (afterInit subscribes, before any message).
    const a = await RawClient.open(port);
    a.sendFrame(1, 'a is in');
    expect(await a.nextFrame()).toMatchObject({ payload: Buffer.from('a is in') });
    const b = await RawClient.open(port);
    b.sendFrame(1, 'b is in');
    expect(await a.nextFrame()).toMatchObject({ payload: Buffer.from('b is in') });
    expect(await b.nextFrame()).toMatchObject({ payload: Buffer.from('b is in') });
    a.sendFrame(1, 'to everyone');
    expect(await a.nextFrame()).toMatchObject({ opcode: 1, payload: Buffer.from('to everyone') });
    expect(await b.nextFrame()).toMatchObject({ opcode: 1, payload: Buffer.from('to everyone') });
    b.sendFrame(2, Buffer.from([1, 2]));
    expect(await a.nextFrame()).toMatchObject({ opcode: 2, payload: Buffer.from([1, 2]) });
    expect(await b.nextFrame()).toMatchObject({ opcode: 2, payload: Buffer.from([1, 2]) });
    a.destroy();
    b.destroy();
    echo.interrupt();
    expect(await echo.exit).toBe(0);
  });
});
