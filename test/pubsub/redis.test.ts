/**
 * The Redis backplane: RESP over node:net against a real redis-server (its own instance), two servers in
 * this process standing for two processes.
 */
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisBackplane, Server } from 'wsz';
import { ReplyParser, RedisReplyError, encodeCommand } from '../../packages/websocket/src/pubsub/redis/resp.js';
import { Member } from '../helpers/member.js';
import { eventually } from '../helpers/server.js';
import { freePort, redisAvailable, startRedis } from '../helpers/redis.js';
import { Topical } from '../helpers/topical.js';

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('RESP', () => {
  it('encodes commands as arrays of bulk strings', () => {
    expect(encodeCommand(['PUBLISH', 'ch', Buffer.from([0, 1])]).toString('latin1')).toBe(
      '*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$2\r\n\x00\x01\r\n',
    );
  });

  it('parses every reply type in any chunking, one byte at a time included', () => {
    const bytes = Buffer.from(
      '+OK\r\n-ERR no\r\n:42\r\n$5\r\nhe\r\no\r\n$-1\r\n*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$0\r\n\r\n*0\r\n',
    );
    for (const step of [1, 2, 3, 7, bytes.length]) {
      const p = new ReplyParser();
      const out = [];
      for (let i = 0; i < bytes.length; i += step) out.push(...p.push(bytes.subarray(i, i + step)));
      expect(out.length).toBe(7);
      expect(out[0]).toBe('OK');
      expect(out[1]).toBeInstanceOf(RedisReplyError);
      expect(out[2]).toBe(42);
      expect(out[3]).toEqual(Buffer.from('he\r\no'));
      expect(out[4]).toBeNull();
      expect(out[5]).toEqual([Buffer.from('message'), Buffer.from('ch'), Buffer.alloc(0)]);
      expect(out[6]).toEqual([]);
    }
  });
});

async function server(threads: number, backplane: RedisBackplane): Promise<{ server: Server<Topical>; port: number }> {
  const s = new Server(Topical, {
    port: 0,
    logLevel: 'silent',
    closeTimeout: 1000,
    threadPool: { count: threads },
    backplane,
  });
  const { port } = (await s.listen()) as AddressInfo;
  cleanup.push(() => s.stop());
  return { server: s, port };
}

describe.skipIf(!redisAvailable)('the Redis backplane', () => {
  it('carries publishes and broadcasts between servers once each; a server delivers its own publishes locally, never again via Redis', async () => {
    const r = await startRedis();
    cleanup.push(() => r.stop());
    const a = await server(0, new RedisBackplane(r.url));
    const b = await server(2, new RedisBackplane(r.url));
    const [a1, a2] = [await Member.join(a.port), await Member.join(a.port)];
    const [b1] = [await Member.join(b.port)];
    cleanup.push(() => [a1, a2, b1].forEach((m) => m!.close()));
    for (const m of [a1!, a2!, b1!]) expect(await m.ask('sub room')).toBe('sub room true');
    await eventually(
      'both connected',
      () => a.server.stats().backplane!.connected && b.server.stats().backplane!.connected,
      5000,
    );
    await new Promise((res) => setTimeout(res, 100)); // the SUBSCRIBE commands reach Redis
    a1!.send('pub room from a');
    for (const m of [a1!, a2!, b1!]) expect(await m.next()).toBe('from a');
    b1!.send('pub room from b');
    for (const m of [a1!, a2!, b1!]) expect(await m.next()).toBe('from b');
    expect(b.server.publish('room', 'from the b server')).toBe(1);
    for (const m of [a1!, a2!, b1!]) expect(await m.next()).toBe('from the b server');
    a.server.broadcast('to everyone everywhere');
    for (const m of [a1!, a2!, b1!]) expect(await m.next()).toBe('to everyone everywhere');
    for (const m of [a1!, a2!, b1!]) expect(await m.silent(200)).toBe(true);
    expect(a.server.stats().backplane).toMatchObject({ connected: true, published: 2, received: 2, lost: 0 });
    expect(b.server.stats().backplane).toMatchObject({ connected: true, published: 2, received: 2, lost: 0 });
  });

  it('bounds what waits while Redis is away, and counts what is lost (Redis pub/sub is at most once)', async () => {
    const port = await freePort();
    const backplane = new RedisBackplane(`redis://127.0.0.1:${port}`, { maxQueue: 2 });
    const a = await server(0, backplane);
    const [m] = [await Member.join(a.port)];
    cleanup.push(() => m!.close());
    await m!.ask('sub room');
    for (let i = 0; i < 5; i++) a.server.publish('room', `local ${i}`);
    for (let i = 0; i < 5; i++) expect(await m!.next()).toBe(`local ${i}`); // local delivery goes on
    expect(a.server.stats().backplane).toMatchObject({ connected: false, published: 2, lost: 3 });
    const r = await startRedis(port);
    cleanup.push(() => r.stop());
    await eventually('connected', () => a.server.stats().backplane!.connected, 15_000);
    expect(a.server.stats().backplane!.reconnects).toBeGreaterThan(0);
  }, 30_000);

  it('takes AUTH and the database from the URL, and reports a refusal', async () => {
    const r = await startRedis();
    cleanup.push(() => r.stop());
    const logged: string[] = [];
    const wrong = new RedisBackplane(`redis://:nope@127.0.0.1:${r.port}/2`, {
      logger: { debug() {}, info() {}, warn() {}, error: (line: string) => logged.push(line) },
    });
    cleanup.push(() => wrong.close());
    await eventually('the refusal', () => logged.some((l) => /refused the connection setup/.test(l)), 5000);
    const right = new RedisBackplane(`redis://127.0.0.1:${r.port}/2`);
    cleanup.push(() => right.close());
    await eventually('connected to db 2', () => right.stats().connected, 5000);
  });
});
