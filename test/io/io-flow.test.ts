/**
 * Pub/sub between I/O threads under pressure (Node 24): the relay between threads is bounded and pushes
 * back on publishers, a relayed frame holds only its own bytes, totals survive a replaced thread, and
 * broadcasts and sends count what they count with one thread.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ServerConfig } from 'wsz';
import { RelayWriter, readRelay } from '../../packages/websocket/src/io/relay-batch.js';
import { IO_THREADS } from '../helpers/io-threads.js';
import { Member } from '../helpers/member.js';
import { RawClient, frame } from '../helpers/raw-client.js';
import { eventually, freshStats } from '../helpers/server.js';
import { Topical } from '../helpers/topical.js';
import { startIo } from '../helpers/io-server.js';

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

function start(config: ServerConfig = {}): ReturnType<typeof startIo> {
  return startIo(cleanup, config);
}

describe('relay batches', () => {
  it('give a small frame memory of its own (a slow subscriber holding it must not hold the batch)', () => {
    const w = new RelayWriter();
    for (let i = 0; i < 200; i++) w.publish('room', Buffer.alloc(100, i));
    w.publish('room', Buffer.alloc(4000, 1));
    const { batch } = w.take();
    const held: Buffer[] = [];
    readRelay(batch, { publish: (_topic, f) => void held.push(f) });
    expect(held).toHaveLength(201);
    for (const f of held) expect(f.buffer).not.toBe(batch.frames);
    expect(held[7]!.equals(Buffer.alloc(100, 7))).toBe(true);
  });
});

describe.runIf(IO_THREADS)('I/O threads under pressure', () => {
  it('bounds the relay to a busy thread: the publisher on another thread is not read until it catches up', async () => {
    const limit = 4 * 1024 * 1024;
    const { port } = await start({ relayLimit: limit, maxMessageSize: 128 * 1024 });
    // The busy thread's member first, then the publisher (a raw client sending as fast as TCP lets it),
    // which goes to the other thread (the one with fewer connections).
    const [busy] = await Member.joinAll(port, 1, cleanup);
    const raw = await RawClient.open(port);
    cleanup.push(() => raw.destroy());
    expect((await raw.nextFrame()).payload.toString()).toMatch(/^id \d+$/);
    raw.sendFrame(1, 'thread');
    expect((await raw.nextFrame()).payload.toString()).not.toBe(await busy!.ask('thread'));
    const message = frame(1, `pubbin room ${'x'.repeat(64 * 1024)}`);
    busy!.send('block 6000');
    await new Promise((r) => setTimeout(r, 100));
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const until = Date.now() + 5000;
    let sent = 0;
    while (Date.now() < until) {
      await Promise.race([raw.sendPaced(message), new Promise((r) => setTimeout(r, until - Date.now()))]);
      sent++;
    }
    clearInterval(sampler);
    const grown = peak - before;
    expect(grown, `${sent} publishes of 64 KiB sent in 5 s`).toBeLessThan(limit + 32 * 1024 * 1024);
    expect(await busy!.next(10_000)).toBe('unblocked');
    raw.destroy();
  }, 30_000);

  it('a subscriber that never reads holds its backpressure limit of relayed frames, not the batches they came in', async () => {
    const { port } = await start({ backpressurePolicy: 'drop' });
    // Publisher and subscribers on different threads: every frame the subscribers get was relayed.
    const publisher = await RawClient.open(port);
    cleanup.push(() => publisher.destroy());
    await publisher.nextFrame();
    publisher.sendFrame(1, 'thread');
    const home = (await publisher.nextFrame()).payload.toString();
    // On the subscribers' thread: two that never read, and one that says what the thread holds.
    const others: RawClient[] = [];
    while (others.length < 3) {
      const c = await RawClient.open(port);
      cleanup.push(() => c.destroy());
      await c.nextFrame();
      c.sendFrame(1, 'thread');
      if ((await c.nextFrame()).payload.toString() !== home) others.push(c);
    }
    const [probe, ...stalled] = others as [RawClient, RawClient, RawClient];
    for (const c of stalled) {
      c.sendFrame(1, 'sub room');
      expect((await c.nextFrame()).payload.toString()).toBe('sub room true');
      c.pauseReading();
    }
    const held = async (): Promise<number> => {
      probe.sendFrame(1, 'buffers');
      return Number((await probe.nextFrame(10_000)).payload.toString().split(' ')[1]);
    };
    const before = await held();
    // Paced publishes: the relay carries them in many small batches (each at least 16 KiB).
    const text = `pubbin room ${'m'.repeat(100)}`;
    for (let i = 0; i < 3000; i++) {
      for (let j = 0; j < 20; j++) publisher.sendFrame(1, text);
      publisher.sendFrame(1, 'say paced');
      expect((await publisher.nextFrame(10_000)).payload.toString()).toBe('paced');
    }
    await new Promise((r) => setTimeout(r, 500)); // the other thread has taken every batch
    const grown = (await held()) - before;
    // Two subscribers x 1 MiB of backpressure, the senders' spare and batches not yet collected (measured:
    // 2-8 MiB); frames pinning their batches made this 80 MiB.
    expect(grown).toBeLessThan(16 * 1024 * 1024);
  }, 30_000);

  it('keeps the totals of a thread that was replaced: cumulative stats never go backwards', async () => {
    const { server, port } = await start();
    const all = await Member.joinAll(port, 4, cleanup);
    const threadOf = await Promise.all(all.map((m) => m.ask('thread')));
    for (const m of all) expect(await m.ask('sub room')).toBe('sub room true');
    for (const m of all) m.send('pub room hello');
    for (const m of all) await m.take(4);
    await eventually('counted', () => server.stats().messages >= 12 && server.stats().deliveries >= 16, 5000);
    const before = server.stats();
    const doomed = threadOf[0]!;
    all[0]!.send('exit');
    await eventually(
      'a new thread',
      () => server.stats().ioThreads?.restarts === 1 && server.stats().ioThreads?.count === 2,
      10_000,
    );
    const after = await freshStats(server);
    expect(after.messages).toBeGreaterThanOrEqual(before.messages);
    expect(after.upgraded).toBeGreaterThanOrEqual(before.upgraded);
    expect(after.deliveries).toBeGreaterThanOrEqual(before.deliveries);
    expect(after.publishes).toBeGreaterThanOrEqual(before.publishes);
    expect(threadOf.filter((t) => t === doomed).length).toBeGreaterThan(0);
  }, 20_000);
});

describe.each([{ name: 'one thread', workers: 1 }, ...(IO_THREADS ? [{ name: 'I/O threads', workers: 2 }] : [])])(
  'what server.broadcast and server.sendTo count ($name)',
  ({ workers }) => {
    it('count open connections only (not one still handshaking); a broadcast is not a publish', async () => {
      const { server, port } = await start({ workerCount: workers });
      const [a, b] = await Member.joinAll(port, 2, cleanup);
      const handshaking = await RawClient.connect(port, null);
      cleanup.push(() => handshaking.destroy());
      await eventually('three sockets', () => server.stats().connections === 3, 5000);
      await new Promise((r) => setTimeout(r, 50)); // the threads have told the main thread who is open
      expect(server.broadcast('to all')).toBe(2);
      expect(server.broadcast('to all but a', { except: a!.id })).toBe(1);
      for (const m of [a!, b!]) expect(await m.next()).toBe('to all');
      expect(await b!.next()).toBe('to all but a');
      expect(server.sendTo(b!.id, 'just b')).toBe(true);
      expect(await b!.next()).toBe('just b');
      expect(server.sendTo(b!.id + 100, 'nobody')).toBe(false);
      expect((await freshStats(server)).publishes).toBe(0);
    });
  },
);
