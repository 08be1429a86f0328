/**
 * Delivery across servers on a real redis-server (docs/delivery.md): positions and history live in Redis Streams,
 * so every server gives the same positions, a client resumes on another server than the one it left, and a Redis
 * restarted with persistence loses nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RedisBackplane, Server, type DeliveryEvent } from 'wsz';
import { Client, ReconnectingClient, type Publication } from 'wsz/client';
import { connect, next, useCleanup } from '../helpers/delivery-suite.js';
import { Delivering } from '../helpers/delivering.js';
import { IO_THREADS } from '../helpers/io-threads.js';
import { redisAvailable, startRedis, type RunningRedis } from '../helpers/redis.js';
import { eventually } from '../helpers/server.js';

if (!redisAvailable && process.env.CI) throw new Error('redis-server is missing: .ci/run installs it with apt-get');

const cleanup = useCleanup();

async function redis(port?: number, args: string[] = []): Promise<RunningRedis> {
  const r = await startRedis(port, args);
  cleanup.push(() => r.stop());
  return r;
}

/** A server with delivery on the Redis at `url`: `threads` hook threads, `workers` I/O threads. */
async function server(url: string, threads: number, workers = 1): Promise<{ s: Server<Delivering>; port: number }> {
  const s = new Server(Delivering, {
    port: 0,
    logLevel: 'silent',
    closeTimeout: 1000,
    workerCount: workers,
    threadPool: { count: threads },
    backplane: new RedisBackplane(url, { prefix: `t${process.pid}` }),
    pubsub: { history: [{ topic: 'room:*', messages: 50 }] },
  });
  const { port } = (await s.listen()) as AddressInfo;
  cleanup.push(() => s.stop());
  return { s, port };
}

function subscribe(c: Client, topic: string, since?: { offset: number; epoch: string }): void {
  c.writeText(JSON.stringify({ wsz: 'subscribe', topic, ...(since ? { since } : {}) }));
}

/** The two servers of a test: hook threads and inline, and (on Node 24) I/O threads and inline. */
const PAIRS = [
  { name: 'inline + hook threads', a: [0, 1], b: [2, 1] },
  ...(IO_THREADS ? [{ name: 'inline + I/O threads', a: [0, 1], b: [0, 2] }] : []),
];

describe.skipIf(!redisAvailable).each(PAIRS)('delivery on Redis Streams ($name)', ({ a, b }) => {
  it('gives the same positions on both servers, and resumes on the other server exactly', async () => {
    const r = await redis();
    const one = await server(r.url, a[0]!, a[1]);
    const two = await server(r.url, b[0]!, b[1]);
    const reader = await connect(one.port, cleanup, 5000);
    const writer = await connect(two.port, cleanup, 5000);
    subscribe(reader, 'room:1');
    subscribe(writer, 'room:1');
    const start = (await next(reader)) as { offset: number; epoch: string };
    expect(start).toMatchObject({ wsz: 'subscribed', offset: 0 });
    expect(await next(writer)).toMatchObject({ wsz: 'subscribed', offset: 0, epoch: start.epoch });
    for (const t of ['m1', 'm2', 'm3']) writer.writeText(`pub room:1 ${t}`);
    for (const c of [reader, writer])
      for (let i = 1; i <= 3; i++)
        expect(await next(c)).toMatchObject({ offset: i, epoch: start.epoch, data: `m${i}` });
    reader.destroy();
    for (const t of ['m4', 'm5', 'm6']) writer.writeText(`pub room:1 ${t}`);
    for (let i = 4; i <= 6; i++) expect(await next(writer)).toMatchObject({ offset: i });
    // Back on the other server, from the last position seen.
    const back = await connect(two.port, cleanup, 5000);
    subscribe(back, 'room:1', { offset: 3, epoch: start.epoch });
    expect(await next(back)).toEqual({
      wsz: 'subscribed',
      topic: 'room:1',
      offset: 6,
      epoch: start.epoch,
      recovered: true,
    });
    for (let i = 4; i <= 6; i++) expect(await next(back)).toMatchObject({ wsz: 'pub', offset: i, data: `m${i}` });
    writer.writeText('pub room:1 m7');
    expect(await next(back)).toMatchObject({ offset: 7, data: 'm7' });
    // Beyond the stream's 50 entries: told plainly.
    const old = await connect(one.port, cleanup, 5000);
    for (let i = 8; i <= 60; i++) writer.writeText(`pub room:1 m${i}`);
    for (let i = 8; i <= 60; i++) await next(writer);
    subscribe(old, 'room:1', { offset: 3, epoch: start.epoch });
    expect(await next(old)).toMatchObject({ recovered: false, reason: 'position too old', offset: 60 });
  });

  it('gives one order per topic: 4 publishers on two servers, 8 subscribers see the same consecutive offsets', async () => {
    const r = await redis();
    const servers = [await server(r.url, a[0]!, a[1]), await server(r.url, b[0]!, b[1])];
    const subs = await Promise.all(Array.from({ length: 8 }, (_, i) => connect(servers[i % 2]!.port, cleanup, 5000)));
    for (const c of subs) subscribe(c, 'room:order');
    for (const c of subs) expect(await next(c)).toMatchObject({ wsz: 'subscribed', offset: 0 });
    const pubs = await Promise.all(Array.from({ length: 4 }, (_, i) => connect(servers[i % 2]!.port, cleanup, 5000)));
    pubs.forEach((p, j) => {
      for (let i = 0; i < 20; i++) p.writeText(`pub room:order p${j}-${i}`);
    });
    const seen = await Promise.all(
      subs.map(async (c) => {
        const got: string[] = [];
        for (let i = 1; i <= 80; i++) {
          const e = (await next(c)) as { offset: number; data: string };
          expect(e.offset).toBe(i);
          got.push(e.data);
        }
        return got;
      }),
    );
    for (const got of seen) expect(got).toEqual(seen[0]);
    for (let j = 0; j < 4; j++)
      expect(seen[0]!.filter((d) => d.startsWith(`p${j}-`))).toEqual(
        Array.from({ length: 20 }, (_, i) => `p${j}-${i}`),
      );
  });

  it('shares presence: joins and leaves reach the other server, and members lists both', async () => {
    const r = await redis();
    const one = await server(r.url, a[0]!, a[1]);
    const two = await server(r.url, b[0]!, b[1]);
    const watcher = await connect(one.port, cleanup, 5000);
    subscribe(watcher, 'room:p');
    expect(await next(watcher)).toMatchObject({ wsz: 'subscribed' });
    const far = await connect(two.port, cleanup, 5000);
    far.writeText('track room:p {"user":"far"}');
    expect(await next(watcher)).toMatchObject({ wsz: 'join', topic: 'room:p', info: { user: 'far' } });
    watcher.writeText('track room:p {"user":"near"}');
    expect(await next(watcher)).toMatchObject({ wsz: 'join', info: { user: 'near' } });
    watcher.writeText(JSON.stringify({ wsz: 'members', topic: 'room:p' }));
    const { members } = (await next(watcher)) as { members: Array<{ info: { user: string } }> };
    expect(members.map((m) => m.info.user).sort()).toEqual(['far', 'near']);
    expect((await two.s.members('room:p', { local: true })).map((m) => m.info)).toEqual([{ user: 'far' }]);
    far.destroy();
    expect(await next(watcher)).toMatchObject({ wsz: 'leave', info: { user: 'far' } });
  });
});

describe.skipIf(!redisAvailable)('delivery on Redis Streams through a Redis restart', () => {
  it('loses and repeats nothing for any member when Redis restarts with persistence mid-chat', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsz-redis-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const persist = ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir];
    let r = await redis(undefined, persist);
    const servers = [await server(r.url, 0), await server(r.url, 2)];
    const members = servers.flatMap(({ port }) =>
      [0, 1].map(() => {
        const client = new ReconnectingClient(`ws://127.0.0.1:${port}/`, { minDelay: 50, maxDelay: 500 });
        cleanup.push(() => client.close());
        const got: number[] = [];
        client.on('publication', (p: Publication) => got.push(Number(p.data.toString())));
        client.subscribe('room:chat');
        return { client, got };
      }),
    );
    await Promise.all(members.map((m) => m.client.whenConnected()));
    const publisher = await connect(servers[0]!.port, cleanup, 5000);
    await eventually('subscribed', () => members.every((m) => m.client.position('room:chat') !== undefined), 5000);
    let n = 0;
    const say = (count: number) => {
      for (let i = 0; i < count; i++) publisher.writeText(`pub room:chat ${++n}`);
    };
    say(20);
    await eventually('the first 20', () => members.every((m) => m.got.length === 20), 5000);
    // Redis goes away; what is published meanwhile waits in the publisher's queue; Redis comes back with its data.
    await r.stop();
    say(10);
    await new Promise((res) => setTimeout(res, 300));
    r = await redis(r.port, persist);
    // Both servers back on Redis: what either missed meanwhile is filled from the stream at the next message.
    await eventually('both servers back', () => servers.every(({ s }) => s.stats().backplane!.connected), 15_000);
    say(10);
    await eventually('all 40', () => members.every((m) => m.got.length >= 40), 15_000);
    await new Promise((res) => setTimeout(res, 200));
    for (const m of members) expect(m.got).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const stats = servers[0]!.s.stats().backplane!;
    expect(stats.reconnects).toBeGreaterThan(0);
    expect(stats.lost).toBe(0);
  }, 60_000);
});
