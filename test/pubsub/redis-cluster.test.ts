/**
 * The backplane on a Redis Cluster (Redis 7, sharded pub/sub): given one node's URL, as for a single Redis, the
 * server finds the cluster, subscribes each topic on the master of its slot (SSUBSCRIBE) and publishes there
 * (SPUBLISH); it follows MOVED when a slot moves, subscribes again where the slot now lives, and comes back with a
 * restarted master. Topic history on Redis Streams and presence work on it too (a topic's keys and channel share
 * the topic's slot).
 */
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { RedisBackplane, Server } from 'wsz';
import { Client } from 'wsz/client';
import { connect, next, useCleanup } from '../helpers/delivery-suite.js';
import { Delivering } from '../helpers/delivering.js';
import { redisAvailable } from '../helpers/redis.js';
import { cli, startCluster, type RedisCluster } from '../helpers/redis-cluster.js';
import { eventually } from '../helpers/server.js';
import { Topical } from '../helpers/topical.js';

if (!redisAvailable && process.env.CI) throw new Error('redis-server is missing: .ci/run installs it with apt-get');

const cleanup = useCleanup();

async function cluster(): Promise<RedisCluster> {
  const c = await startCluster(3);
  cleanup.push(() => c.stop());
  return c;
}

async function serve(url: string, threads: number): Promise<{ server: Server<Topical>; port: number }> {
  const server = new Server(Topical, {
    port: 0,
    logLevel: 'silent',
    closeTimeout: 1000,
    threadPool: { count: threads },
    backplane: new RedisBackplane(url),
  });
  const { port } = (await server.listen()) as AddressInfo;
  cleanup.push(() => server.stop());
  return { server, port };
}

async function client(port: number): Promise<Client> {
  const c = await Client.connect(`ws://127.0.0.1:${port}/`, { readTimeout: 5000 });
  cleanup.push(() => c.destroy());
  expect(await c.read()).toMatchObject({ type: 'text' }); // its id
  return c;
}

async function text(c: Client, ms?: number): Promise<string | null> {
  const m = await c.read(ms);
  return m !== null && m.type === 'text' ? m.data.toString() : null;
}

/** Subscribes `c` to `topic` and waits until a publication from `from` reaches it (the subscription is in Redis). */
async function subscribed(c: Client, from: Client, topic: string): Promise<void> {
  c.writeText(`sub ${topic}`);
  expect(await text(c)).toBe(`sub ${topic} true`);
  for (let i = 0; i < 100; i++) {
    from.writeText(`pub ${topic} ready`);
    if ((await text(c, 100)) === 'ready') break;
  }
  // Drain the extra 'ready's that were on their way.
  while ((await text(c, 200)) === 'ready');
}

/** Topics whose slots lie on each master of `c`, one per master. */
function topicsOnEachMaster(c: RedisCluster, masters = 3): string[] {
  const found = new Map<number, string>();
  for (let i = 0; found.size < masters && i < 10_000; i++) {
    const topic = `room${i}`;
    const owner = c.ownerOf(`wsz:topic:{${topic}}`);
    if (!found.has(owner)) found.set(owner, topic);
  }
  return [...found.values()];
}

/**
 * `writer` publishes a numbered message to `topic` every 10 ms while `fault` runs, and until 20 more have arrived
 * after it; `reader` must get them at most once each and in order, and what is missing must be no more than the
 * publishing server counted as lost or unheard.
 */
async function chatThrough(
  publisher: Server<Topical>,
  writer: Client,
  reader: Client,
  topic: string,
  fault: () => Promise<void>,
): Promise<void> {
  let sent = 0;
  const got: number[] = [];
  let stopped = false;
  const reading = (async () => {
    // Through the fault (a failover takes seconds), then until a second passes without a message.
    for (;;) {
      const m = await text(reader, stopped ? 1000 : 500);
      if (m !== null) got.push(Number(m));
      else if (stopped) break;
    }
  })();
  const publishing = setInterval(() => writer.writeText(`pub ${topic} ${++sent}`), 10);
  await new Promise((r) => setTimeout(r, 300));
  await fault();
  const before = sent;
  await eventually('messages after the fault arriving', () => got.some((n) => n > before + 20), 5000);
  clearInterval(publishing);
  stopped = true;
  await reading;
  expect(got).toEqual([...got].sort((x, y) => x - y));
  expect(new Set(got).size).toBe(got.length);
  const counted = publisher.stats().backplane!;
  expect(sent - got.length).toBeLessThanOrEqual(counted.lost + (counted.unheard ?? 0));
}

describe.skipIf(!redisAvailable).each([
  { name: 'inline', threads: 0 },
  { name: 'hook threads', threads: 2 },
])('the backplane on a Redis Cluster ($name)', ({ threads }) => {
  it('finds the cluster from one URL and carries topics on every shard, with sharded pub/sub only', async () => {
    const c = await cluster();
    const a = await serve(c.url, threads);
    const b = await serve(`redis://127.0.0.1:${c.ports[2]}`, threads);
    const [writer, reader] = [await client(a.port), await client(b.port)];
    const topics = topicsOnEachMaster(c);
    for (const t of topics) await subscribed(reader, writer, t);
    for (const t of topics) writer.writeText(`pub ${t} to ${t}`);
    // Each shard keeps its own order; across shards, messages may arrive in any order.
    const arrived = [];
    for (const _ of topics) arrived.push(await text(reader));
    expect(arrived.sort()).toEqual(topics.map((t) => `to ${t}`).sort());
    // Each topic's channel is subscribed on its own master; nothing uses the cluster-wide (classic) pub/sub.
    for (const t of topics) {
      const channel = `wsz:topic:{${t}}`;
      const owner = c.ownerOf(channel);
      expect(cli(owner, 'PUBSUB', 'SHARDNUMSUB', channel).split('\n')[1]).toBe('1');
    }
    for (const p of c.ports) expect(cli(p, 'PUBSUB', 'CHANNELS')).toBe('');
    // A broadcast, and the servers' own messages (connection counts across servers).
    writer.writeText('all everyone');
    expect(await text(reader)).toBe('everyone');
    expect(await a.server.report()).toMatchObject({ servers: 2, complete: true });
    expect((await a.server.report()).connections).toHaveLength(2);
    expect(a.server.stats().backplane).toMatchObject({ connected: true, lost: 0 });
  });

  it('a master restarted mid-chat: publishing goes on, no message twice or out of order, what is lost counted', async () => {
    const c = await cluster();
    const a = await serve(c.url, threads);
    const b = await serve(c.url, threads);
    const [writer, reader] = [await client(a.port), await client(b.port)];
    const [topic] = topicsOnEachMaster(c);
    await subscribed(reader, writer, topic!);
    const owner = c.ownerOf(`wsz:topic:{${topic}}`);
    await chatThrough(a.server, writer, reader, topic!, async () => {
      await c.restart(owner);
      await eventually(
        'the servers back on the restarted master',
        () => [a, b].every((s) => s.server.stats().backplane?.connected === true),
        5000,
      );
    });
    const counted = a.server.stats().backplane!;
    expect(counted.reconnects).toBeGreaterThan(0);
  });

  it('a busy topic whose slot moves to another master (resharding): followed, in order, nothing twice', async () => {
    const c = await cluster();
    const a = await serve(c.url, threads);
    const b = await serve(c.url, threads);
    const [writer, reader] = [await client(a.port), await client(b.port)];
    const [topic] = topicsOnEachMaster(c);
    await subscribed(reader, writer, topic!);
    const channel = `wsz:topic:{${topic}}`;
    const from = c.ownerOf(channel);
    const to = c.ports.find((p) => p !== from)!;
    await chatThrough(a.server, writer, reader, topic!, async () => {
      c.moveSlot(c.slotOf(channel), to);
      expect(c.ownerOf(channel)).toBe(to);
    });
    expect(cli(to, 'PUBSUB', 'SHARDNUMSUB', channel).split('\n')[1]).toBe('1');
    expect(cli(from, 'PUBSUB', 'SHARDNUMSUB', channel).split('\n')[1]).toBe('0');
    expect(a.server.stats().backplane!.redirects).toBeGreaterThan(0);
  });
});

describe.skipIf(!redisAvailable)('a master failed over to its replica', () => {
  it('finds the promoted replica, subscribes there, and the chat goes on: in order, nothing twice', async () => {
    const c = await startCluster(3, 1);
    cleanup.push(() => c.stop());
    const a = await serve(c.url, 0);
    const b = await serve(`redis://127.0.0.1:${c.ports[1]}`, 2);
    const [writer, reader] = [await client(a.port), await client(b.port)];
    // A topic whose master is not the node the servers were given (so that node's loss is a failover, not a seed's).
    const topic = topicsOnEachMaster(c).find((t) => ![c.ports[0], c.ports[1]].includes(c.ownerOf(`wsz:topic:{${t}}`)))!;
    await subscribed(reader, writer, topic);
    const channel = `wsz:topic:{${topic}}`;
    const master = c.ownerOf(channel);
    await chatThrough(a.server, writer, reader, topic, async () => {
      await c.kill(master);
      expect(c.ownerOf(channel)).not.toBe(master);
    });
    expect(cli(c.ownerOf(channel), 'PUBSUB', 'SHARDNUMSUB', channel).split('\n')[1]).toBe('1');
    await eventually('both servers connected to every master', () =>
      [a, b].every((s) => s.server.stats().backplane?.connected === true),
    );
  }, 60_000);
});

describe.skipIf(!redisAvailable)('topic history and presence on a Redis Cluster', () => {
  it('gives one order on both servers and resumes on the other one; presence crosses servers', async () => {
    const c = await cluster();
    const make = async (threads: number) => {
      const s = new Server(Delivering, {
        port: 0,
        logLevel: 'silent',
        closeTimeout: 1000,
        threadPool: { count: threads },
        backplane: new RedisBackplane(c.url),
        pubsub: { history: [{ topic: 'room:*', messages: 50 }] },
      });
      const { port } = (await s.listen()) as AddressInfo;
      cleanup.push(() => s.stop());
      return port;
    };
    const [one, two] = [await make(0), await make(2)];
    const reader = await connect(one, cleanup, 5000);
    const writer = await connect(two, cleanup, 5000);
    for (const w of [reader, writer]) w.writeText(JSON.stringify({ wsz: 'subscribe', topic: 'room:1' }));
    const start = (await next(reader)) as { offset: number; epoch: string };
    expect(start).toMatchObject({ wsz: 'subscribed', offset: 0 });
    expect(await next(writer)).toMatchObject({ wsz: 'subscribed', epoch: start.epoch });
    for (const t of ['m1', 'm2', 'm3']) writer.writeText(`pub room:1 ${t}`);
    for (const w of [reader, writer])
      for (let i = 1; i <= 3; i++)
        expect(await next(w)).toMatchObject({ offset: i, epoch: start.epoch, data: `m${i}` });
    const back = await connect(one, cleanup, 5000);
    back.writeText(JSON.stringify({ wsz: 'subscribe', topic: 'room:1', since: { offset: 1, epoch: start.epoch } }));
    expect(await next(back)).toMatchObject({ wsz: 'subscribed', recovered: true, offset: 3 });
    expect(await next(back)).toMatchObject({ offset: 2, data: 'm2' });
    expect(await next(back)).toMatchObject({ offset: 3, data: 'm3' });
    // Presence: a member tracked on one server is listed by the other.
    writer.writeText('track room:1 {"name":"ann"}');
    let m = await next(reader);
    while ((m as { wsz?: string }).wsz !== 'join') m = await next(reader);
    expect(m).toMatchObject({ wsz: 'join', topic: 'room:1', info: { name: 'ann' } });
    reader.writeText(JSON.stringify({ wsz: 'members', topic: 'room:1' }));
    m = await next(reader);
    while ((m as { wsz?: string }).wsz !== 'members') m = await next(reader);
    expect((m as { members: Array<{ info: unknown }> }).members.map((x) => x.info)).toEqual([{ name: 'ann' }]);
  });
});
