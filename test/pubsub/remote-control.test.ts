/**
 * Control across processes on a Redis backplane (issue 23): connection ids are unique among the servers, a call for
 * another server's connection reaches it and is carried out there, and report() asks every server, bounded by a
 * timeout, saying plainly when one did not answer. Two servers in this process stand for two processes: they share
 * nothing but a real redis-server. Run in every mode.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackplane } from 'wsz';
import { MODES, inMode, serve, type Cleanup, type Served } from '../helpers/modes.js';
import { RawClient, closeBody } from '../helpers/raw-client.js';
import { eventually } from '../helpers/server.js';
import { redisAvailable, startRedis, type RunningRedis } from '../helpers/redis.js';

let cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

let redis: RunningRedis;
beforeAll(async () => {
  if (redisAvailable) redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

async function connect(s: Served, path = '/'): Promise<{ c: RawClient; id: number }> {
  const c = await RawClient.open(s.port, path);
  cleanup.push(() => c.destroy());
  c.sendFrame(1, 'id?');
  const id = Number((await c.nextFrame()).payload.toString());
  return { c, id };
}

describe.skipIf(!redisAvailable).each(MODES)('control across servers on a Redis backplane ($name)', (mode) => {
  inMode(mode.workers);
  let prefix = 0;
  async function pair(): Promise<[Served, Served]> {
    const name = `remote${prefix++}-${mode.workers}-${mode.threads}`;
    const start = async (): Promise<Served> => {
      const s = await serve(mode.threads, {
        behaviour: 'whoami',
        config: { backplane: new RedisBackplane(redis.url, { prefix: name }) },
      });
      cleanup.push(() => s.stop());
      await eventually('backplane connected', () => s.server.stats().backplane?.connected === true);
      return s;
    };
    return [await start(), await start()];
  }

  it('gives ids unique across servers, and close, terminate, signal, sendTo, subscribe reach the owning server', async () => {
    const [a, b] = await pair();
    const onA = await connect(a, '/?user=ann');
    const onB = await connect(b, '/?user=bob');
    const onB2 = await connect(b, '/?user=bob');
    expect(new Set([onA.id, onB.id, onB2.id]).size).toBe(3);
    expect(Math.floor(onA.id / 2 ** 32)).not.toBe(Math.floor(onB.id / 2 ** 32));

    // From A, to a connection of B.
    expect(a.server.sendTo(onB.id, 'from A')).toBe(true);
    expect((await onB.c.nextFrame()).payload.toString()).toBe('from A');
    expect(a.server.signal(onB.id, { revoked: true })).toBe(true);
    expect((await onB.c.nextFrame()).payload.toString()).toBe('{"signal":{"revoked":true}}');
    expect(a.server.subscribe(onB.id, 'news')).toBe(true);
    await eventually('subscribed on B', () => b.server.subscriberCount('news') === 1);
    a.server.publish('news', 'headline'); // over Redis to B's subscriber
    expect((await onB.c.nextFrame()).payload.toString()).toBe('headline');
    expect(a.server.unsubscribe(onB.id, 'news')).toBe(true);
    await eventually('unsubscribed on B', () => b.server.subscriberCount('news') === 0);

    expect(a.server.close(onB.id, 4001, 'kicked')).toBe(true);
    expect((await onB.c.readClose()).code).toBe(4001);
    onB.c.sendFrame(8, closeBody(4001));
    expect(await onB.c.waitClosed()).toBe(true);
    expect(a.server.terminate(onB2.id)).toBe(true);
    expect(await onB2.c.waitClosed()).toBe(true);
    await eventually('both close hooks ran on B', () => b.events.filter((e) => e === 'close').length === 2);
    // A's own connection was never touched; the checks are the same as for a local id.
    expect(() => a.server.close(onB.id, 1006)).toThrow(RangeError);
    onA.c.sendFrame(1, 'still here');
    expect((await onA.c.nextFrame()).payload.toString()).toBe('still here');
  });

  it('report() lists the connections and topics of every server, and says when one does not answer', async () => {
    const [a, b] = await pair();
    const ann = await connect(a, '/?user=ann');
    const bob = await connect(b, '/?user=bob');
    const bob2 = await connect(b, '/?user=bob');
    a.server.subscribe(ann.id, 'lobby');
    b.server.subscribe(bob.id, 'lobby');
    b.server.subscribe(bob2.id, 'bob-only');
    await eventually('subscribed', () => b.server.subscriberCount('lobby') === 1);

    const report = await a.server.report();
    expect(report.complete).toBe(true);
    expect(report.servers).toBe(2);
    expect(report.connections.map((c) => c.id)).toEqual([ann.id, bob.id, bob2.id].sort((x, y) => x - y));
    expect(report.topics).toEqual([
      { topic: 'bob-only', subscribers: 1 },
      { topic: 'lobby', subscribers: 2 },
    ]);
    expect((await a.server.connections(undefined, { local: true })).map((c) => c.id)).toEqual([ann.id]);

    // "Kick every connection of user bob", from A: found on B, closed there.
    const bobs = await a.server.connections((c) => new URLSearchParams(c.url.split('?')[1]).get('user') === 'bob');
    expect(bobs.map((c) => c.id).sort()).toEqual([bob.id, bob2.id].sort());
    for (const c of bobs) a.server.close(c.id, 4001, 'kicked');
    for (const c of [bob.c, bob2.c]) expect((await c.readClose()).code).toBe(4001);

    // A third member of the backplane that hears the question and never answers: the report waits for the timeout,
    // then says it is incomplete.
    const mute = new RedisBackplane(redis.url, { prefix: `remote${prefix - 1}-${mode.workers}-${mode.threads}` });
    cleanup.push(() => mute.close());
    await mute.join();
    await eventually('mute joined', () => mute.stats().connected);
    const started = Date.now();
    const partial = await a.server.report({ timeout: 300 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(partial.complete).toBe(false);
    expect(partial.servers).toBe(2);
    expect(partial.connections.map((c) => c.id)).toContain(ann.id);
  });
});
