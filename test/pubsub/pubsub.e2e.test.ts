/**
 * Pub/sub, end to end, inline and on worker threads: topics are owned by the I/O thread, so
 * connections whose handlers run on different workers reach each other.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Server, type ServerConfig } from 'wsz';
import { Member } from '../helpers/member.js';
import { RawClient } from '../helpers/raw-client.js';
import { eventually } from '../helpers/server.js';
import { EarlySubscriber, Topical } from '../helpers/topical.js';
import { IO_THREADS } from '../helpers/io-threads.js';

const THREADS = [
  { name: 'inline', threads: 0, workers: 1 },
  { name: '1 worker', threads: 1, workers: 1 },
  { name: '4 workers', threads: 4, workers: 1 },
  // I/O threads (workerCount) need Node 24: connections spread over both threads, so most exchanges cross them.
  ...(IO_THREADS
    ? [
        { name: '2 I/O threads, hooks inline', threads: 0, workers: 2 },
        { name: '2 I/O threads, 2 hook workers', threads: 2, workers: 2 },
      ]
    : []),
];

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

/** The mode of the suite being run: hook threads, and I/O threads. */
let workerCount = 1;

async function start(
  threads: number,
  config: ServerConfig = {},
  Handler: typeof Topical | typeof EarlySubscriber = Topical,
): Promise<{ server: Server<Topical>; port: number }> {
  const server = new Server(Handler as typeof Topical, {
    port: 0,
    logLevel: 'silent',
    closeTimeout: 1000,
    workerCount,
    ...config,
    threadPool: { count: threads },
  });
  const { port } = (await server.listen()) as AddressInfo;
  cleanup.push(() => server.stop());
  return { server, port };
}

function members(port: number, n: number): Promise<Member[]> {
  return Member.joinAll(port, n, cleanup);
}

/** Runs a describe block's servers with `workers` I/O threads. */
function inMode(workers: number): void {
  beforeAll(() => void (workerCount = workers));
  afterAll(() => void (workerCount = 1));
}

describe.each(THREADS)('pub/sub ($name)', ({ threads, workers }) => {
  inMode(workers);
  it('delivers a published message to every subscriber of its topic, the publisher included, and to nobody else', async () => {
    const { port } = await start(threads);
    const [a, b, c] = await members(port, 3);
    expect(await a!.ask('sub room')).toBe('sub room true');
    expect(await b!.ask('sub room')).toBe('sub room true');
    expect(await c!.ask('sub other')).toBe('sub other true');
    a!.send('pub room hello');
    expect(await a!.next()).toBe('hello');
    expect(await b!.next()).toBe('hello');
    // c would have it before this, published later to its own topic.
    b!.send('pub other marker');
    expect(await c!.next()).toBe('marker');
    // self: false skips the publisher; binary stays binary.
    a!.send('pubx room not for a');
    expect(await b!.next()).toBe('not for a');
    a!.send('pubbin room xyz');
    expect(await a!.next()).toBe('binary 3 bytes');
    expect(await b!.next()).toBe('binary 3 bytes');
    expect(await a!.silent()).toBe(true);
  });

  it('subscribes once per topic, unsubscribes, lists topics, counts subscribers (hook and server) and keeps stats', async () => {
    const { server, port } = await start(threads);
    const [a, b] = await members(port, 2);
    expect(await a!.ask('sub x')).toBe('sub x true');
    expect(await a!.ask('sub x')).toBe('sub x false');
    expect(await a!.ask('sub y')).toBe('sub y true');
    expect(await b!.ask('sub x')).toBe('sub x true');
    expect(await a!.ask('topics')).toBe('topics ["x","y"]');
    expect(await a!.ask('is y')).toBe('is y true');
    expect(await b!.ask('is y')).toBe('is y false');
    expect(await b!.ask('count x')).toBe('count x 2');
    expect(server.subscriberCount('x')).toBe(2);
    expect(server.subscriberCount('nobody')).toBe(0);
    expect(server.stats()).toMatchObject({ topics: 2, publishes: 0, deliveries: 0 });
    b!.send('pub x once');
    expect(await a!.next()).toBe('once'); // exactly once, though a said `sub x` twice
    expect(await b!.next()).toBe('once');
    expect(await a!.ask('unsub x')).toBe('unsub x true');
    expect(await a!.ask('unsub x')).toBe('unsub x false');
    expect(await a!.ask('count x')).toBe('count x 1');
    b!.send('pub x again');
    expect(await b!.next()).toBe('again');
    expect(await a!.silent()).toBe(true);
    expect(server.stats()).toMatchObject({ topics: 2, publishes: 2, deliveries: 3 });
  });

  it('reaches a subscriber in the order published, and the publisher gets its writes and publishes in the order made', async () => {
    const { port } = await start(threads);
    const [a, b] = await members(port, 2);
    await a!.ask('sub s');
    await b!.ask('sub s');
    a!.send('seq s 300');
    const seenByA = await a!.take(600);
    expect(seenByA).toEqual(Array.from({ length: 300 }, (_, i) => [`300-${i}`, `direct-${i}`]).flat());
    expect(await b!.take(300)).toEqual(Array.from({ length: 300 }, (_, i) => `300-${i}`));
  });

  it('broadcasts to every open connection (self optional), sends to one connection by id, and serves the main thread', async () => {
    const { server, port } = await start(threads);
    const [a, b, c] = await members(port, 3);
    a!.send('all everyone');
    for (const m of [a!, b!, c!]) expect(await m.next()).toBe('everyone');
    a!.send('allx others');
    expect(await b!.next()).toBe('others');
    expect(await c!.next()).toBe('others');
    a!.send(`to ${c!.id} just c`);
    expect(await c!.next()).toBe('just c');
    expect(await b!.silent()).toBe(true);
    expect(await a!.silent(10)).toBe(true);
    // From outside any hook, on the main thread.
    await b!.ask('sub news');
    // With I/O threads the main thread learns of subscriptions a moment later.
    await eventually('the subscription counted', () => server.subscriberCount('news') === 1);
    expect(server.publish('news', 'from the server')).toBe(1);
    expect(await b!.next()).toBe('from the server');
    expect(server.broadcast('to all but a', { except: a!.id })).toBe(2);
    expect(await b!.next()).toBe('to all but a');
    expect(await c!.next()).toBe('to all but a');
    expect(server.sendTo(a!.id, Buffer.from([1, 2]), { binary: true })).toBe(true);
    expect(await a!.next()).toBe('binary 2 bytes');
    expect(server.sendTo(99_999, 'nobody')).toBe(false);
    expect(await a!.silent()).toBe(true);
  });

  it('ends subscriptions when a connection closes, before its close hook, which may still publish', async () => {
    const { server, port } = await start(threads);
    const [a, b] = await members(port, 2);
    await a!.ask('sub room');
    await b!.ask('sub room');
    a!.send('leaveOnClose room');
    expect(await a!.ask('count room')).toBe('count room 2');
    await a!.client.close();
    expect(await b!.next()).toBe(`left ${a!.id}`);
    await eventually('one subscriber left', () => server.subscriberCount('room') === 1);
    expect(server.stats().topics).toBe(1);
    b!.close();
    await eventually('no topics', () => server.stats().topics === 0);
  });

  it('holds a message published to a connection while its own fragmented message is open, and sends it after the last fragment', async () => {
    const { port } = await start(threads);
    const [b] = await members(port, 1);
    await b!.ask('sub room');
    const raw = await RawClient.open(port);
    cleanup.push(() => raw.destroy());
    const hello = await raw.nextFrame();
    const rawId = Number(/^id (\d+)$/.exec(hello.payload.toString())![1]);
    const command = (text: string) => raw.sendFrame(1, text);
    command('sub room');
    expect((await raw.nextFrame()).payload.toString()).toBe('sub room true');
    command('stream'); // three fragments of 1000 bytes leave, the message stays open
    const opened = [await raw.nextFrame(), await raw.nextFrame(), await raw.nextFrame()];
    expect(opened.map((f) => [f.opcode, f.fin])).toEqual([
      [2, false],
      [0, false],
      [0, false],
    ]);
    b!.send('pub room from b');
    b!.send(`to ${rawId} direct from b`);
    expect(await b!.next()).toBe('from b');
    // b handles its messages in order: once it answers this, its direct send has reached raw's queue.
    expect(await b!.ask('count room')).toBe('count room 2');
    command('say own write'); // held by the connection's own order, behind the open message
    command('pub room own publish'); // its own copy waits behind the own write
    expect(await b!.next()).toBe('own publish');
    command('end');
    const rest = [];
    for (let i = 0; i < 5; i++) rest.push(await raw.nextFrame());
    expect(rest.map((f) => [f.opcode, f.fin, f.opcode === 0 ? f.payload.length : f.payload.toString()])).toEqual([
      [0, true, 500],
      [1, true, 'from b'],
      [1, true, 'direct from b'],
      [1, true, 'own write'],
      [1, true, 'own publish'],
    ]);
  });

  it('gives one order to every member: a publisher with its own fragmented message open sees its copy where the others do', async () => {
    const { port } = await start(threads);
    const [b, c] = await members(port, 2);
    for (const m of [b!, c!]) expect(await m.ask('sub room')).toBe('sub room true');
    const raw = await RawClient.open(port);
    cleanup.push(() => raw.destroy());
    await raw.nextFrame(); // id N
    const command = (text: string) => raw.sendFrame(1, text);
    command('sub room');
    expect((await raw.nextFrame()).payload.toString()).toBe('sub room true');
    command('stream');
    for (let i = 0; i < 3; i++) await raw.nextFrame();
    command('pub room first, from raw'); // raw's copy waits behind its open message
    expect(await c!.next()).toBe('first, from raw');
    b!.send('pub room second, from b');
    expect(await c!.next()).toBe('second, from b');
    expect(await b!.next()).toBe('first, from raw');
    expect(await b!.next()).toBe('second, from b');
    await b!.ask('count room'); // b's publish has reached raw's queue
    command('end');
    const rest = [];
    for (let i = 0; i < 3; i++) rest.push(await raw.nextFrame());
    expect(rest.map((f) => (f.opcode === 0 ? `end ${f.fin}` : f.payload.toString()))).toEqual([
      'end true',
      'first, from raw',
      'second, from b',
    ]);
  });

  it('bounds topics per connection and topic names with errors that say what to do', async () => {
    const { port } = await start(threads, { pubsub: { maxTopicsPerConnection: 3, maxTopicLength: 8 } });
    const [a] = await members(port, 1);
    expect(await a!.ask('subAll')).toBe(
      'error RangeError: conn.subscribe(): this connection is subscribed to 3 topics, the limit (pubsub.maxTopicsPerConnection); unsubscribe from one first, or raise the limit',
    );
    expect(await a!.ask('topics')).toBe('topics ["t0","t1","t2"]');
    expect(await a!.ask('sub much-too-long')).toBe(
      'error RangeError: conn.subscribe(): topic name of 13 characters is over the limit of 8 (pubsub.maxTopicLength)',
    );
    expect(await a!.ask('pub much-too-long x')).toMatch(
      /^error RangeError: conn.publish\(\): topic name of 13 characters/,
    );
  });

  it('refuses topic names that are not well-formed Unicode (a lone surrogate would become U+FFFD elsewhere and meet another topic)', async () => {
    const { server, port } = await start(threads);
    const [a] = await members(port, 1);
    expect(await a!.ask('lone sub')).toMatch(
      /^error TypeError: conn.subscribe\(\): a topic name must be well-formed Unicode; .* lone surrogate/,
    );
    expect(await a!.ask('lone pub')).toMatch(
      /^error TypeError: conn.publish\(\): a topic name must be well-formed Unicode/,
    );
    expect(() => server.publish('room\ud800', 'x')).toThrow(
      /server.publish\(\): a topic name must be well-formed Unicode/,
    );
    expect(await a!.ask('sub room\u{1f600}')).toBe('sub room\u{1f600} true'); // a pair is fine
  });

  it('takes subscriptions made in init: they are in place when the client sees the 101', async () => {
    const { server, port } = await start(threads, {}, EarlySubscriber);
    for (let i = 0; i < 5; i++) {
      const raw = await RawClient.open(port, '/early');
      cleanup.push(() => raw.destroy());
      await eventually('the subscription counted', () => server.subscriberCount('early') === i + 1);
      expect(server.publish('early', `hello ${i}`)).toBe(i + 1);
      expect((await raw.nextFrame()).payload.toString()).toBe(`hello ${i}`);
    }
  });
});

/** Inline, 4 hook workers, and (on Node 24) 2 I/O threads. */
const MAIN_MODES = [THREADS[0]!, THREADS[2]!, ...THREADS.slice(3, 4)];

describe.each(MAIN_MODES)('pub/sub delivery rules with many clients ($name)', ({ threads, workers }) => {
  inMode(workers);
  it("gives every member each room publisher's messages exactly once and in order, and nothing from other rooms", async () => {
    const { server, port } = await start(threads);
    const everyone = await members(port, 12);
    const roomOf = (i: number) => `room${i % 3}`;
    for (const [i, m] of everyone.entries()) expect(await m.ask(`sub ${roomOf(i)}`)).toBe(`sub ${roomOf(i)} true`);
    for (const [i, m] of everyone.entries()) for (let j = 0; j < 50; j++) m.send(`pub ${roomOf(i)} ${i}:${j}`);
    await Promise.all(
      everyone.map(async (m, i) => {
        const got = await m.take(4 * 50);
        const byPublisher = new Map<number, number[]>();
        for (const text of got) {
          const [from, seq] = text.split(':').map(Number);
          expect(roomOf(from!)).toBe(roomOf(i)); // nothing from other rooms
          byPublisher.set(from!, [...(byPublisher.get(from!) ?? []), seq!]);
        }
        expect([...byPublisher.keys()].sort((x, y) => x - y)).toEqual(
          everyone.map((_, k) => k).filter((k) => roomOf(k) === roomOf(i)),
        );
        for (const seqs of byPublisher.values()) expect(seqs).toEqual(Array.from({ length: 50 }, (_, j) => j));
        expect(await m.silent(50)).toBe(true);
      }),
    );
    // I/O threads publish their counters every few ms.
    await eventually('every publish counted', () => server.stats().deliveries === 2400);
    expect(server.stats()).toMatchObject({ topics: 3, publishes: 600, deliveries: 2400 });
  });
});

describe.each(MAIN_MODES)('a slow subscriber ($name)', ({ threads, workers }) => {
  inMode(workers);
  /** Publisher p paces 16 KiB publishes on its own copies; f reads everything; s never reads. */
  async function flood(
    policy: 'close' | 'drop',
  ): Promise<{ server: Server<Topical>; f: Member; s: RawClient; peak: number; count: number }> {
    const { server, port } = await start(threads, { backpressurePolicy: policy });
    const [p, f] = await members(port, 2);
    const s = await RawClient.open(port);
    cleanup.push(() => s.destroy());
    expect((await s.nextFrame()).payload.toString()).toMatch(/^id /);
    s.sendFrame(1, 'sub room', { mask: true });
    expect((await s.nextFrame()).payload.toString()).toBe('sub room true');
    s.pauseReading();
    await p!.ask('sub room');
    await f!.ask('sub room');
    const count = 600; // 9.6 MB: more than the kernel's buffers for s and maxBackpressure (1 MiB) together
    let peak = 0;
    const fastGot = f!.take(count, 20_000);
    for (let i = 0; i < count; i++) {
      expect(await p!.ask('flood room 1 16384')).toBe('binary 16384 bytes');
      peak = Math.max(peak, server.stats().buffered);
    }
    expect((await fastGot).every((m) => m === 'binary 16384 bytes')).toBe(true);
    return { server, f: f!, s, peak, count };
  }

  it("closes it with 1008 under backpressurePolicy 'close' while the others keep receiving; memory stays bounded", async () => {
    const { server, s, peak } = await flood('close');
    await eventually('the slow member closed', () => server.stats().backpressure.closed === 1);
    expect(server.stats().backpressure).toEqual({ dropped: 0, closed: 1 });
    expect(peak).toBeLessThan(1024 * 1024 + 64 * 1024);
    expect(server.subscriberCount('room')).toBe(2);
    s.resumeReading();
    const { code } = await s.readClose(10_000);
    expect(code).toBe(1008);
  });

  it("drops messages for it under 'drop', counting them, while the others receive every one", async () => {
    const { server, peak, count } = await flood('drop');
    const { dropped, closed } = server.stats().backpressure;
    expect(closed).toBe(0);
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBeLessThan(count);
    expect(peak).toBeLessThan(1024 * 1024 + 64 * 1024);
    expect(server.subscriberCount('room')).toBe(3);
  });
});
