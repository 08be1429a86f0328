/**
 * A publish to a topic with history whose connection to Redis drops before Redis answers (docs/delivery.md): it is
 * sent again on the next connection, and the publish script skips it when it ran already. Every subscriber gets
 * each message once, at consecutive positions, whether the lost command reached Redis or not.
 */
import { once } from 'node:events';
import { createServer, connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { RedisBackplane, Server } from 'wsz';
import type { Client } from 'wsz/client';
import { ReplyParser, encodeCommand } from '../../packages/websocket/src/pubsub/redis/resp.js';
import { connect, next, useCleanup } from '../helpers/delivery-suite.js';
import { Delivering } from '../helpers/delivering.js';
import { redisAvailable, startRedis } from '../helpers/redis.js';
import { eventually } from '../helpers/server.js';

const cleanup = useCleanup();

/**
 * A TCP proxy to Redis that cuts the connection carrying the next EVAL when told: after Redis ran it, its answer
 * withheld (`ran`), or before the command reached Redis (`unsent`).
 */
async function cuttingProxy(redisPort: number): Promise<{ url: string; cutNext(how: 'ran' | 'unsent'): void }> {
  let cut: 'ran' | 'unsent' | null = null;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = netConnect(redisPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => (client.destroy(), upstream.destroy()));
    }
    let answering = true;
    client.on('data', (chunk: Buffer) => {
      const how = cut;
      if (how !== null && chunk.includes('EVAL')) {
        cut = null;
        answering = false;
        if (how === 'unsent') return void client.destroy();
        upstream.write(chunk);
        setTimeout(() => client.destroy(), 200); // Redis has run it by then
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => answering && client.write(chunk));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanup.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server.close(r));
  });
  return { url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`, cutNext: (how) => void (cut = how) };
}

/** Entries in the topic streams of Redis at `port`, asked directly. */
async function streamLength(port: number): Promise<number> {
  const socket = netConnect(port, '127.0.0.1');
  cleanup.push(() => socket.destroy());
  const parser = new ReplyParser();
  const replies: unknown[] = [];
  socket.on('data', (chunk) => replies.push(...parser.push(chunk)));
  socket.write(encodeCommand(['KEYS', '*:s']));
  await eventually('the keys', () => replies.length === 1);
  const keys = replies[0] as Buffer[];
  expect(keys).toHaveLength(1);
  socket.write(encodeCommand(['XLEN', keys[0]!]));
  await eventually('the length', () => replies.length === 2);
  return replies[1] as number;
}

describe.skipIf(!redisAvailable).each(['ran', 'unsent'] as const)(
  'a publish whose connection drops before Redis answers (%s)',
  (how) => {
    it('is sent again on the next connection and reaches every subscriber once, in order', async () => {
      const r = await startRedis();
      cleanup.push(() => r.stop());
      const proxy = await cuttingProxy(r.port);
      const backplane = new RedisBackplane(proxy.url, { prefix: `t${process.pid}` });
      const s = new Server(Delivering, {
        port: 0,
        logLevel: 'silent',
        closeTimeout: 1000,
        threadPool: { count: 0 },
        backplane,
        pubsub: { history: [{ topic: 'room:*', messages: 50 }] },
      });
      const { port } = (await s.listen()) as AddressInfo;
      cleanup.push(() => s.stop());
      const c: Client = await connect(port, cleanup, 5000);
      c.writeText(JSON.stringify({ wsz: 'subscribe', topic: 'room:1' }));
      expect(await next(c)).toMatchObject({ wsz: 'subscribed', offset: 0 });
      c.writeText('pub room:1 m1');
      expect(await next(c)).toMatchObject({ offset: 1, data: 'm1' });
      proxy.cutNext(how);
      c.writeText('pub room:1 m2');
      expect(await next(c)).toMatchObject({ offset: 2, data: 'm2' });
      await eventually('connected again', () => backplane.stats().reconnects > 0 && backplane.stats().connected, 5000);
      // Nothing repeated in between: the next publish comes next.
      c.writeText('pub room:1 m3');
      expect(await next(c)).toMatchObject({ offset: 3, data: 'm3' });
      expect(await streamLength(r.port)).toBe(3);
      expect(s.stats().backplane).toMatchObject({ resent: 1, lost: 0 });
    });
  },
);
