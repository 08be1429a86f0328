/**
 * Control from outside handlers (issue 23): server.close, terminate, subscribe and unsubscribe act on one connection
 * by its id, in every mode, the connection's close hook running once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MODES, inMode, serve, type Cleanup, type Served } from '../helpers/modes.js';
import { RawClient, closeBody } from '../helpers/raw-client.js';
import { eventually } from '../helpers/server.js';

let cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

async function connect(s: Served): Promise<{ c: RawClient; id: number }> {
  const c = await RawClient.open(s.port);
  c.sendFrame(1, 'id?');
  const id = Number((await c.nextFrame()).payload.toString());
  expect(id).toBeGreaterThan(0);
  return { c, id };
}

describe.each(MODES)('control of one connection from outside handlers ($name)', ({ threads, workers }) => {
  inMode(workers);
  async function start(): Promise<Served> {
    const s = await serve(threads, { behaviour: 'whoami' });
    cleanup.push(() => s.stop());
    return s;
  }

  it('server.close(id, code, reason) sends that close frame; the close hook runs once; unknown ids answer false', async () => {
    const s = await start();
    const { c, id } = await connect(s);
    expect(s.server.close(id, 4001, 'kicked')).toBe(true);
    const f = await c.nextFrame();
    expect(f.opcode).toBe(8);
    expect(f.payload).toEqual(closeBody(4001, 'kicked'));
    c.sendFrame(8, closeBody(4001));
    expect(await c.waitClosed()).toBe(true);
    await eventually('close hook', () => s.events.filter((e) => e === 'close').length === 1);
    await eventually('gone', () => s.server.close(id) === false);
    expect(s.server.close(999_999)).toBe(false);
    expect(() => s.server.close(id, 1006)).toThrow(RangeError);
    expect(() => s.server.close(id, 4000, 'x'.repeat(124))).toThrow(RangeError);
  });

  it('server.terminate(id) drops the TCP connection without a close frame; the close hook runs once', async () => {
    const s = await start();
    const { c, id } = await connect(s);
    const other = await connect(s);
    expect(s.server.terminate(id)).toBe(true);
    expect(await c.waitClosed()).toBe(true);
    await eventually('close hook', () => s.events.filter((e) => e === 'close').length === 1);
    // The other connection is untouched.
    other.c.sendFrame(1, 'still here');
    expect((await other.c.nextFrame()).payload.toString()).toBe('still here');
    other.c.destroy();
  });

  it('server.subscribe(id, topic) and server.unsubscribe(id, topic) change what server.publish reaches', async () => {
    const s = await start();
    const { c, id } = await connect(s);
    expect(s.server.subscribe(id, 'news')).toBe(true);
    await eventually('subscribed', () => s.server.subscriberCount('news') === 1);
    expect(s.server.publish('news', 'extra! extra!')).toBeGreaterThanOrEqual(0);
    expect((await c.nextFrame()).payload.toString()).toBe('extra! extra!');
    expect(s.server.unsubscribe(id, 'news')).toBe(true);
    await eventually('unsubscribed', () => s.server.subscriberCount('news') === 0);
    s.server.publish('news', 'nobody hears this');
    c.sendFrame(1, 'after');
    expect((await c.nextFrame()).payload.toString()).toBe('after');
    expect(s.server.subscribe(999_999, 'news')).toBe(false);
    expect(() => s.server.subscribe(id, '')).toThrow(/topic/);
    c.destroy();
  });

  it('server.connections() lists every open connection from every thread; server.topics() counts exactly', async () => {
    const s = await start();
    const a = await RawClient.open(s.port, '/room?user=ann');
    a.sendFrame(1, 'id?');
    const idA = Number((await a.nextFrame()).payload.toString());
    const b = await RawClient.open(s.port, '/room?user=bob');
    b.sendFrame(1, 'id?');
    const idB = Number((await b.nextFrame()).payload.toString());
    expect(s.server.subscribe(idA, 'lobby')).toBe(true);
    expect(s.server.subscribe(idB, 'lobby')).toBe(true);
    expect(s.server.subscribe(idB, 'bob-only')).toBe(true);
    await eventually('subscribed', () => s.server.subscriberCount('lobby') === 2);
    const all = await s.server.connections();
    expect(all.map((c) => c.id)).toEqual([idA, idB].sort((x, y) => x - y));
    const ann = all.find((c) => c.id === idA)!;
    expect(ann).toMatchObject({
      remoteAddress: '127.0.0.1',
      url: '/room?user=ann',
      protocol: undefined,
      messagesIn: 1,
      messagesOut: 1,
      buffered: 0,
    });
    expect(ann.topics).toEqual(['lobby']);
    expect(ann.bytesIn).toBeGreaterThan(100); // the upgrade request and a frame
    expect(ann.bytesOut).toBeGreaterThan(100); // the 101 and the answer
    expect(Date.now() - ann.since).toBeLessThan(10_000);
    // The filter runs on the caller's thread: kick every connection of user bob.
    const bobs = await s.server.connections((c) => new URLSearchParams(c.url.split('?')[1]).get('user') === 'bob');
    expect(bobs.map((c) => c.id)).toEqual([idB]);
    expect(await s.server.topics()).toEqual([
      { topic: 'bob-only', subscribers: 1 },
      { topic: 'lobby', subscribers: 2 },
    ]);
    for (const c of bobs) s.server.close(c.id, 4001, 'kicked');
    expect((await b.readClose()).code).toBe(4001);
    b.sendFrame(8, closeBody(4001));
    expect(await b.waitClosed()).toBe(true);
    for (let i = 0; (await s.server.connections()).length !== 1; i++) {
      if (i > 300) throw new Error('bob is still listed');
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await s.server.topics()).toEqual([{ topic: 'lobby', subscribers: 1 }]);
    a.destroy();
  });

  it('server.signal(id, data) runs the serverMessage hook on the thread that owns the handler, in order with its hooks', async () => {
    const s = await start();
    const { c, id } = await connect(s);
    c.sendFrame(1, 'first');
    expect(s.server.signal(id, { reason: 'revoked', at: 42 })).toBe(true);
    c.sendFrame(1, 'last');
    const got = [await c.nextFrame(), await c.nextFrame(), await c.nextFrame()].map((f) => f.payload.toString());
    // The signal runs between the hooks of the messages that reached the server before and after it.
    const signal = '{"signal":{"reason":"revoked","at":42}}';
    expect(got).toContain(signal);
    expect(got.filter((g) => g !== signal)).toEqual(['first', 'last']);
    await eventually('recorded', () => s.events.includes('serverMessage {"reason":"revoked","at":42}'));
    expect(s.server.signal(999_999, 'nobody')).toBe(false);
    c.destroy();
  });
});
