/**
 * ReconnectingClient (wsz/client) against a handler with delivery: cut from either side, it comes back by itself,
 * resumes its topics from the last position it saw, and delivers every publication once, in order; beyond the
 * history it says it did not recover. Its waits grow exponentially, with jitter, and it gives up on a refusal that
 * retrying cannot change.
 */
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Server } from 'wsz';
import { ReconnectingClient, type Publication, type SubscribedInfo } from 'wsz/client';
import { connect, inMode, mode, useCleanup } from '../helpers/delivery-suite.js';
import { Delivering } from '../helpers/delivering.js';
import { MODES } from '../helpers/modes.js';
import { eventually } from '../helpers/server.js';

const cleanup = useCleanup();

async function start(threads: number): Promise<{ server: Server<Delivering>; url: string }> {
  const server = new Server(Delivering, {
    port: 0,
    logLevel: 'silent',
    closeTimeout: 1000,
    workerCount: mode.workerCount,
    pubsub: { history: [{ topic: 'room:*', messages: 5 }] },
    threadPool: { count: threads },
  });
  const { port } = (await server.listen()) as AddressInfo;
  cleanup.push(() => server.stop());
  return { server, url: `ws://127.0.0.1:${port}/` };
}

/** A reconnecting client that records what it delivers. */
function watch(url: string, options = {}) {
  const client = new ReconnectingClient(url, { minDelay: 50, maxDelay: 200, ...options });
  cleanup.push(() => client.close());
  const got: string[] = [];
  const subscribed: SubscribedInfo[] = [];
  const disconnects: number[] = [];
  const resumed: SubscribedInfo[] = [];
  client.on('resumed', (s) => resumed.push(s));
  client.on('publication', (p: Publication) => got.push(p.data.toString()));
  client.on('subscribed', (s) => subscribed.push(s));
  client.on('disconnected', (code) => disconnects.push(code));
  return { client, got, subscribed, disconnects, resumed };
}

/** A plain publisher: a ReconnectingClient sending the handler's `pub` command. */
async function publisher(url: string) {
  const p = new ReconnectingClient(url);
  cleanup.push(() => p.close());
  await p.whenConnected();
  return (topic: string, ...texts: string[]) => texts.forEach((t) => p.send(`pub ${topic} ${t}`));
}

describe.each(MODES)('ReconnectingClient ($name)', ({ threads, workers }) => {
  inMode(workers);

  for (const side of ['client', 'server'] as const) {
    it(`resumes after the ${side} cuts the connection: every message once, in order`, async () => {
      const { server, url } = await start(threads);
      const w = watch(url);
      w.client.subscribe('room:1');
      await eventually('subscribed', () => w.subscribed.length === 1);
      const pub = await publisher(url);
      pub('room:1', 'm1', 'm2');
      await eventually('m1, m2', () => w.got.length === 2);
      if (side === 'client') w.client.reconnect();
      else {
        const mine = (await server.connections()).find((c) => c.topics.includes('room:1'));
        server.terminate(mine!.id);
      }
      pub('room:1', 'm3', 'm4');
      await eventually('back', () => w.subscribed.length === 2);
      pub('room:1', 'm5');
      await eventually('all five', () => w.got.length >= 5);
      await new Promise((r) => setTimeout(r, 100)); // nothing more comes
      expect(w.got).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
      expect(w.disconnects).toHaveLength(1);
      expect(w.subscribed[1]).toMatchObject({ topic: 'room:1', recovered: true });
      expect(w.resumed).toEqual([w.subscribed[1]]);
      expect(w.client.position('room:1')?.offset).toBe(5);
    });
  }

  it('says it did not recover when more was published meanwhile than history keeps', async () => {
    const { server, url } = await start(threads);
    // A long first wait, so the publishes surely fall in the gap.
    const w = watch(url, { minDelay: 400, maxDelay: 400, jitter: 0 });
    w.client.subscribe('room:1');
    await eventually('subscribed', () => w.subscribed.length === 1);
    const pub = await publisher(url);
    const mine = (await server.connections()).find((c) => c.topics.includes('room:1'));
    server.terminate(mine!.id);
    await eventually('cut', () => w.disconnects.length === 1);
    pub('room:1', ...Array.from({ length: 8 }, (_, i) => `m${i + 1}`));
    await eventually('back', () => w.subscribed.length === 2, 3000);
    expect(w.subscribed[1]).toMatchObject({ recovered: false, reason: 'position too old', position: { offset: 8 } });
    expect(w.got).toEqual([]);
    pub('room:1', 'm9');
    await eventually('m9', () => w.got.length === 1);
    expect(w.got).toEqual(['m9']);
  });
});

describe('ReconnectingClient presence', () => {
  it('hears joins and leaves of its topics and asks who is there', async () => {
    const { url } = await start(0);
    const w = watch(url);
    const seen: string[] = [];
    w.client.on('join', (topic, m) => seen.push(`join ${topic} ${JSON.stringify(m.info)}`));
    w.client.on('leave', (topic, m) => seen.push(`leave ${topic} ${JSON.stringify(m.info)}`));
    w.client.on('members', (topic, members) => seen.push(`members ${topic} ${members.length}`));
    w.client.subscribe('room:1');
    await eventually('subscribed', () => w.subscribed.length === 1);
    const other = new ReconnectingClient(url);
    cleanup.push(() => other.close());
    await other.whenConnected();
    other.send('track room:1 {"user":"bo"}');
    await eventually('the join', () => seen.length === 1);
    expect(w.client.members('room:1')).toBe(true);
    await eventually('the members', () => seen.length === 2);
    await other.close();
    await eventually('the leave', () => seen.length === 3);
    expect(seen).toEqual(['join room:1 {"user":"bo"}', 'members room:1 1', 'leave room:1 {"user":"bo"}']);
  });
});

describe('ReconnectingClient backoff', () => {
  it('waits twice as long after each failed attempt, up to maxDelay, with jitter below the wait', async () => {
    // A port that refuses: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((r) => probe.close(() => r()));
    for (const jitter of [0, 0.5]) {
      const client = new ReconnectingClient(`ws://127.0.0.1:${port}/`, { minDelay: 20, maxDelay: 80, jitter });
      cleanup.push(() => client.close());
      const delays: number[] = [];
      client.on('failed', (_error, delay) => delays.push(delay));
      await eventually('5 attempts', () => delays.length >= 5, 3000);
      await client.close();
      const full = [20, 40, 80, 80, 80];
      delays.slice(0, 5).forEach((d, i) => {
        expect(d).toBeLessThanOrEqual(full[i]!);
        expect(d).toBeGreaterThanOrEqual(full[i]! * (1 - jitter));
      });
    }
  });

  it('gives up on a refusal that retrying cannot change (403), and after maxAttempts', async () => {
    const { url } = await start(0);
    const client = new ReconnectingClient(`${url}forbidden`, { minDelay: 10 });
    cleanup.push(() => client.close());
    const failed: Array<[string, number]> = [];
    client.on('failed', (error, delay) => failed.push([error.message, delay]));
    await eventually('gave up', () => failed.length === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(failed).toEqual([[expect.stringContaining('403'), -1]]);
    const limited = new ReconnectingClient('ws://127.0.0.1:1/', { minDelay: 5, maxAttempts: 2 });
    cleanup.push(() => limited.close());
    const delays: number[] = [];
    limited.on('failed', (_e, delay) => delays.push(delay));
    await eventually('gave up', () => delays.includes(-1));
    expect(delays).toHaveLength(3);
  });
});
