/**
 * The server's events on node:diagnostics_channel (issue 23): who subscribes sees connections open and close (code,
 * reason, who closed, how long), refused handshakes, messages in and failed hooks, in order, without wrapping a
 * handler; the names and fields are the CHANNELS and event types wsz exports.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { CHANNELS } from 'wsz';
import { MODES, inMode, serve, type Cleanup } from '../helpers/modes.js';
import { RawClient, closeBody, upgradeRequest } from '../helpers/raw-client.js';
import { eventually } from '../helpers/server.js';

let cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

/** Subscribes to every wsz channel; returns what arrived, as [channel, event], in order. */
function listen(): Array<[string, Record<string, unknown>]> {
  const seen: Array<[string, Record<string, unknown>]> = [];
  for (const name of Object.values(CHANNELS)) {
    const fn = (event: unknown) => seen.push([name, event as Record<string, unknown>]);
    subscribe(name, fn);
    cleanup.push(() => void unsubscribe(name, fn));
  }
  return seen;
}

// Events are published on the thread that owns the socket; I/O threads pass them on to the main thread while it
// has subscribers (which every test here subscribes before its server starts).
describe.each(MODES)('diagnostics_channel events ($name)', ({ threads, workers }) => {
  inMode(workers);
  it('a connection: open (id, address, url, protocol), each message in (size, type), close by the client with its code and reason', async () => {
    const seen = listen();
    const s = await serve(threads);
    cleanup.push(() => s.stop());
    const c = await RawClient.open(s.port, '/room?user=ann');
    c.sendFrame(1, 'hello');
    await c.nextFrame();
    c.sendFrame(2, Buffer.alloc(300));
    await c.nextFrame();
    c.sendFrame(8, closeBody(4000, 'bye'));
    await c.nextFrame();
    await eventually('close event', () => seen.some(([n]) => n === CHANNELS.connectionClose));
    const id = seen[0]![1].id;
    expect(seen.map(([n]) => n)).toEqual([
      CHANNELS.connectionOpen,
      CHANNELS.messageIn,
      CHANNELS.messageIn,
      CHANNELS.connectionClose,
    ]);
    expect(seen[0]![1]).toEqual({
      id,
      remoteAddress: '127.0.0.1',
      remotePort: expect.any(Number),
      url: '/room?user=ann',
      protocol: undefined,
    });
    expect(seen[1]![1]).toEqual({ id, size: 5, type: 'text' });
    expect(seen[2]![1]).toEqual({ id, size: 300, type: 'binary' });
    expect(seen[3]![1]).toEqual({
      id,
      remoteAddress: '127.0.0.1',
      code: 4000,
      reason: 'bye',
      by: 'client',
      durationMs: expect.any(Number),
    });
    c.destroy();
  });

  it('a hook that throws: hook failed (which hook, the error), then the server closes with 1011', async () => {
    const seen = listen();
    const s = await serve(threads, { behaviour: 'throws' });
    cleanup.push(() => s.stop());
    const c = await RawClient.open(s.port);
    c.sendFrame(1, 'boom');
    expect((await c.nextFrame()).opcode).toBe(8);
    c.sendFrame(8, closeBody(1011));
    await eventually('close event', () => seen.some(([n]) => n === CHANNELS.connectionClose));
    const failed = seen.find(([n]) => n === CHANNELS.hookFailed)![1];
    expect(failed).toMatchObject({ hook: 'clientMessage' });
    expect(String((failed.error as Error)?.message ?? failed.error)).toContain('boom');
    expect(seen.find(([n]) => n === CHANNELS.connectionClose)![1]).toMatchObject({ code: 1011, by: 'server' });
    c.destroy();
  });

  it('a TCP connection dropped without a close frame: close by the transport, 1006', async () => {
    const seen = listen();
    const s = await serve(threads);
    cleanup.push(() => s.stop());
    const c = await RawClient.open(s.port);
    c.destroy();
    await eventually('close event', () => seen.some(([n]) => n === CHANNELS.connectionClose));
    expect(seen.find(([n]) => n === CHANNELS.connectionClose)![1]).toMatchObject({
      code: 1006,
      reason: '',
      by: 'transport',
    });
  });

  it('a refused upgrade: handshake refused (status, reason, code), and no open or close', async () => {
    const seen = listen();
    const s = await serve(threads, { config: { allowedOrigins: ['https://good.example'] } });
    cleanup.push(() => s.stop());
    const c = await RawClient.connect(s.port, upgradeRequest('/', ['Origin: https://evil.example']));
    expect((await c.readResponse()).status).toBe(403);
    await eventually('refusal event', () => seen.length > 0);
    expect(seen).toEqual([
      [
        CHANNELS.handshakeRefused,
        {
          status: 403,
          reason: expect.stringContaining('evil.example'),
          code: 'WSZ_ERR_ORIGIN',
          remoteAddress: '127.0.0.1',
        },
      ],
    ]);
    c.destroy();
  });
});
