import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Handler, Server } from 'wsz';
import { RawClient, closeBody, frame, upgradeRequest } from '../helpers/raw-client.js';
import { MODES, inMode, openGate, serve, type Served } from '../helpers/modes.js';
import { eventually, freshStats } from '../helpers/server.js';
import { PerThread } from './fixtures/init-thread.js';
import { BrokenConstructor, NoInitEcho, SlowNoClose } from './fixtures/no-init.js';
import { Echo } from '../../examples/echo/handler.ts';

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});
async function start(
  threads: number,
  behaviour?: string,
  config?: ConstructorParameters<typeof Server>[1],
): Promise<Served> {
  const s = await serve(threads, { behaviour, config });
  cleanup.push(() => s.stop());
  return s;
}
async function open(port: number): Promise<RawClient> {
  const c = await RawClient.open(port);
  cleanup.unshift(() => c.destroy());
  return c;
}
const cat = (...b: Buffer[]) => Buffer.concat(b);
/** Counts the batches posted to a server's first hook thread from now on (internal state: each is a wake-up). */
function countPosts(server: unknown): () => number {
  const worker = (server as { engine: { dispatcher: { handles: Array<{ worker: { postMessage: Function } }> } } })
    .engine.dispatcher.handles[0]!.worker;
  let posts = 0;
  const post = worker.postMessage;
  worker.postMessage = function (this: unknown, ...args: unknown[]) {
    posts++;
    return post.apply(this, args);
  };
  return () => posts;
}

describe('worker thread pool', () => {
  it('keeps per-connection order under concurrent load with async handlers', async () => {
    const { port } = await start(2, 'asyncRandom');
    const clients = await Promise.all(Array.from({ length: 8 }, () => open(port)));
    for (const [k, c] of clients.entries()) c.send(cat(...Array.from({ length: 50 }, (_, i) => frame(1, `${k}:${i}`))));
    for (const [k, c] of clients.entries()) {
      const got: string[] = [];
      for (let i = 0; i < 50; i++) got.push((await c.nextFrame(5000)).payload.toString());
      expect(got).toEqual(Array.from({ length: 50 }, (_, i) => `${k}:${i}`));
    }
  });

  it('runs different connections in parallel: two handlers blocked in Atomics.wait meet', async () => {
    // Each handler adds 1 and blocks its thread until the count reaches 2: only possible if both run at once.
    const { port } = await start(2, 'rendezvous');
    const a = await open(port);
    const b = await open(port);
    a.sendFrame(1, 'meet');
    b.sendFrame(1, 'meet');
    expect((await a.nextFrame(8000)).payload.toString()).toBe('met');
    expect((await b.nextFrame(8000)).payload.toString()).toBe('met');
  });

  it('a spinning handler does not stall the I/O thread or other workers', async () => {
    const { port, events } = await start(2, 'spin', { handshake: { timeout: 300 }, maxMessageSize: 1000 });
    const spinning = await open(port);
    const other = await open(port); // least-loaded assignment puts it on the other worker
    spinning.sendFrame(1, 'spin 10000'); // long enough for every check below, even on a loaded machine
    await eventually('spin to start', () => events.includes('message text spin 10000'));

    spinning.sendFrame(9, 'ping while spinning');
    expect(await spinning.nextFrame()).toMatchObject({ opcode: 10, payload: Buffer.from('ping while spinning') });
    other.sendFrame(1, 'other worker');
    expect((await other.nextFrame()).payload.toString()).toBe('other worker');
    const fresh = await open(port);
    fresh.sendFrame(1, 'new handshake');
    expect((await fresh.nextFrame()).payload.toString()).toBe('new handshake');
    const slow = await RawClient.connect(port, 'GET / HTTP/1.1\r\n');
    expect(await slow.waitClosed(3000)).toBe(true);
    spinning.sendFrame(2, Buffer.alloc(1001));
    expect((await spinning.readClose()).code).toBe(1009);

    // All of the above happened while the spinning handler still ran: it has not answered yet.
    expect(events).not.toContain('close');
    await eventually('the spin to end', () => events.includes('close'), 20_000);
  }, 40_000);

  it('upgrades a handler without init at once; afterInit and pipelined frames still come in order', async () => {
    const server = new Server(NoInitEcho, { port: 0, logLevel: 'silent', threadPool: { count: 2 } });
    const { port } = (await server.listen()) as { port: number };
    cleanup.push(() => server.stop());
    const c = await RawClient.connect(
      port,
      cat(Buffer.from(upgradeRequest()), frame(1, 'one', { mask: true }), frame(2, 'two', { mask: true })),
    );
    cleanup.unshift(() => c.destroy());
    expect((await c.readResponse()).status).toBe(101);
    expect((await c.nextFrame()).payload.toString()).toBe('hello');
    expect(await c.nextFrame()).toMatchObject({ opcode: 1, payload: Buffer.from('one') });
    expect(await c.nextFrame()).toMatchObject({ opcode: 2, payload: Buffer.from('two') });
  });

  it('closes with 1011 when a handler without init cannot be constructed in its worker', async () => {
    const server = new Server(BrokenConstructor, { port: 0, logLevel: 'silent', threadPool: { count: 1 } });
    const { port } = (await server.listen()) as { port: number };
    cleanup.push(() => server.stop());
    const c = await open(port);
    c.sendFrame(1, 'dropped: there is no handler');
    expect((await c.readClose()).code).toBe(1011);
    // The worker is fine: the next connection gets the same treatment, nothing crashed.
    const d = await open(port);
    expect((await d.readClose()).code).toBe(1011);
  });

  it('starts workers when the app runs with flags Node refuses in a worker (node --max-old-space-size=... app.js)', async () => {
    const flags = ['--max-old-space-size=1024', '--title=wsz-test'];
    process.execArgv.push(...flags);
    let server: Server<NoInitEcho>;
    try {
      server = new Server(NoInitEcho, { port: 0, logLevel: 'silent', threadPool: { count: 2 } });
    } finally {
      process.execArgv.splice(process.execArgv.length - flags.length, flags.length);
    }
    const { port } = (await server.listen()) as { port: number };
    cleanup.push(() => server.stop());
    const c = await open(port);
    expect((await c.nextFrame()).payload.toString()).toBe('hello');
    c.sendFrame(1, 'echo');
    expect((await c.nextFrame()).payload.toString()).toBe('echo');
  });

  it('passes a cloneable app to every worker and builds per-thread apps with initThread', async () => {
    const server = new Server(PerThread, { port: 0, logLevel: 'silent', threadPool: { count: 2 } });
    const { port } = (await server.listen({ greet: () => 'not cloneable' } as never)) as { port: number };
    cleanup.push(() => server.stop());
    const a = await open(port);
    const b = await open(port);
    a.sendFrame(1, 'ann');
    b.sendFrame(1, 'bob');
    const replies = [(await a.nextFrame()).payload.toString(), (await b.nextFrame()).payload.toString()];
    expect(replies[0]).toMatch(/^hello ann from worker \d \(thread \d+, app not copied\)$/);
    expect(replies[1]).toMatch(/^hello bob from worker \d/);
    expect(new Set(replies.map((r) => /worker (\d)/.exec(r)![1])).size).toBe(2);
  });

  it('a message read in place stays intact until its async hook settles, while pool buffers cycle', async () => {
    const { port } = await start(2, 'asyncRandom', { maxMessageSize: 8192 });
    const c = await open(port);
    const sent: string[] = [];
    for (let i = 0; i < 40; i++) {
      const text = `${i}:`.padEnd(3000, String.fromCharCode(97 + (i % 26)));
      sent.push(text);
      c.send(cat(frame(1, text.slice(0, 1000), { fin: false }), frame(0, text.slice(1000))));
    }
    for (const text of sent) expect((await c.nextFrame(5000)).payload.toString()).toBe(text);
  });

  // Replies of 2 KiB and more leave from the worker's ring in place (the kernel copies them from there):
  // that ring space is reused only once the socket has taken them. Larger ones cross in memory of their own.
  const pattern = (k: number, i: number, size: number): Buffer => {
    const b = Buffer.allocUnsafe(size);
    for (let j = 0; j < size; j += 4) b.writeUInt32LE((k * 1_000_003 + i * 7919 + j) >>> 0, j);
    return b;
  };

  it('replies sent in place from the ring, or moved when it is full, arrive intact while the ring is reused', async () => {
    // One worker: every reply passes through one 32 KiB ring.
    const { port } = await start(1, undefined, { threadPool: { bufferSize: 32768 } });
    const sizes = [2048, 6000, 15_000, 40_000];
    const clients = await Promise.all(Array.from({ length: 6 }, () => open(port)));
    for (const [k, c] of clients.entries()) {
      c.send(
        cat(
          ...Array.from({ length: 24 }, (_, i) =>
            frame(2, pattern(k, i, sizes[(k + i) % sizes.length]!), { mask: true }),
          ),
        ),
      );
    }
    for (const [k, c] of clients.entries()) {
      for (let i = 0; i < 24; i++) {
        const f = await c.nextFrame(5000);
        expect(f.opcode).toBe(2);
        expect(f.payload.equals(pattern(k, i, sizes[(k + i) % sizes.length]!))).toBe(true);
      }
    }
  });

  it('a client that stops reading holds its replies, not the other connections: they are served, then it gets all of its own', async () => {
    const { port } = await start(1, undefined, { maxBackpressure: 0, threadPool: { bufferSize: 32768 } });
    const slow = await open(port);
    slow.pauseReading();
    // 18 MB of 6 KB replies: more than the kernel buffers take while nobody reads, so replies wait
    // in the server, some of them in the ring.
    const count = 3000;
    for (let i = 0; i < count; i += 100)
      slow.send(cat(...Array.from({ length: 100 }, (_, j) => frame(2, pattern(9, i + j, 6000), { mask: true }))));
    await new Promise((r) => setTimeout(r, 300));
    const fast = await open(port);
    for (let i = 0; i < 40; i++) {
      fast.sendFrame(2, pattern(1, i, 6000), { mask: true });
      expect((await fast.nextFrame(5000)).payload.equals(pattern(1, i, 6000))).toBe(true);
    }
    slow.resumeReading();
    for (let i = 0; i < count; i++)
      expect((await slow.nextFrame(10_000)).payload.equals(pattern(9, i, 6000))).toBe(true);
  }, 30_000);

  it('a client that stops reading pins a bounded part of the ring while other traffic flows, and frees it when it goes', async () => {
    const { port, server } = await start(1, undefined, { maxBackpressure: 0, threadPool: { bufferSize: 32768 } });
    // Internal state, read to check a memory bound: the stretches of the worker's ring held for in-place replies.
    const holds = (): number =>
      (server as unknown as { engine: { dispatcher: { handles: Array<{ holds: unknown[] }> } } }).engine.dispatcher
        .handles[0]!.holds.length;
    const slow = await open(port);
    slow.pauseReading();
    for (let i = 0; i < 3000; i += 100)
      slow.send(cat(...Array.from({ length: 100 }, (_, j) => frame(2, pattern(9, i + j, 6000), { mask: true }))));
    await new Promise((r) => setTimeout(r, 300));
    const fast = await open(port);
    for (let i = 0; i < 500; i++) {
      fast.sendFrame(2, pattern(1, i, 3000), { mask: true });
      await fast.nextFrame(5000);
    }
    // At most one hold per in-place reply that fits in the 32 KiB ring, however many batches went by.
    expect(holds()).toBeLessThanOrEqual(16);
    slow.destroy();
    await eventually('the ring to be free', () => holds() === 0, 5000);
  }, 30_000);

  it('connections going away wake their hook thread no more: their close hooks ride with a later batch', async () => {
    const { port, server, events } = await start(1);
    const clients = await Promise.all(Array.from({ length: 20 }, () => open(port)));
    await eventually('every afterInit', () => events.filter((e) => e === 'afterInit').length === 20);
    const posts = countPosts(server);
    // One goes every millisecond or so: each in a turn of the server's event loop of its own.
    const began = performance.now();
    for (const c of clients) {
      c.destroy();
      await new Promise((r) => setTimeout(r, 1));
    }
    // Each close hook still runs, within a few milliseconds (LATER_MS), though nothing else is sent.
    await eventually('every close hook', () => events.filter((e) => e === 'close').length === 20);
    // Twenty connections gone in 20-30 ms: the thread was woken at most once per LATER_MS (5 ms) and once for the
    // last, not once per connection.
    expect(posts()).toBeLessThanOrEqual(Math.floor((performance.now() - began) / 5) + 2);
  });

  it('a handler with neither init nor afterInit: connections opening wake its hook thread no more than LATER_MS allows', async () => {
    // The echo example's handler: only clientMessage.
    const server = new Server(Echo, { port: 0, logLevel: 'silent', threadPool: { count: 1 } });
    const { port } = (await server.listen()) as { port: number };
    cleanup.push(() => server.stop());
    const posts = countPosts(server);
    const began = performance.now();
    const clients: RawClient[] = [];
    for (let i = 0; i < 20; i++) {
      clients.push(await open(port)); // upgraded: the 101 did not wait for the worker
      await new Promise((r) => setTimeout(r, 1));
    }
    // The handlers are made with a later batch: at most one per LATER_MS (5 ms), and one more.
    expect(posts()).toBeLessThanOrEqual(Math.floor((performance.now() - began) / 5) + 2);
    // Each is there for its connection's first message, in order.
    for (const [i, c] of clients.entries()) c.sendFrame(1, `m${i}`);
    for (const [i, c] of clients.entries()) expect((await c.nextFrame()).payload.toString()).toBe(`m${i}`);
  });

  it('without a close hook, a worker sends nothing back for connections that end; stop still waits for their hooks', async () => {
    const server = new Server(SlowNoClose, { port: 0, logLevel: 'silent', threadPool: { count: 1 } });
    const { port } = (await server.listen()) as { port: number };
    cleanup.push(() => server.stop());
    const dispatcher = (server as unknown as { engine: { dispatcher: { fromWorker: Function } } }).engine.dispatcher;
    let batches = 0;
    const fromWorker = dispatcher.fromWorker;
    dispatcher.fromWorker = function (this: unknown, ...args: unknown[]) {
      batches++;
      return fromWorker.apply(this, args);
    };
    // Twenty connections open and go, without a message: their worker has nothing to say about them.
    for (let i = 0; i < 20; i++) (await open(port)).destroy();
    await eventually('every connection gone', () => server.stats().connections === 0);
    await new Promise((r) => setTimeout(r, 30)); // several LATER_MS
    expect(batches).toBe(0);
    // A hook still running when its connection ends: stop() waits for it, as it would for a close hook.
    const marker = join(mkdtempSync(join(tmpdir(), 'wsz-idle-')), 'marker');
    const c = await open(port);
    c.sendFrame(1, marker);
    await eventually('the hook to start', () => existsSync(`${marker}.started`));
    c.destroy();
    await server.stop();
    expect(readFileSync(marker, 'utf8')).toBe('done');
  });

  it('closes the connections of a crashed worker with 1011 and replaces the worker', async () => {
    const { port } = await start(1, 'exitThread');
    const a = await open(port);
    a.sendFrame(1, 'exit');
    expect((await a.readClose(5000)).code).toBe(1011);
    const b = await open(port);
    b.sendFrame(9, 'still serving');
    expect((await b.nextFrame(5000)).opcode).toBe(10);
  });
});

describe('clear errors when a handler cannot run on worker threads', () => {
  it('a class without static module', () => {
    class NoModule extends Handler {
      clientMessage(): void {}
    }
    expect(() => new Server(NoModule, { threadPool: { count: 2 } })).toThrow(
      /Add `static module = import.meta.url;` to class NoModule.*or set threadPool.count: 0/,
    );
  });

  it('a class its module does not export', async () => {
    const { HiddenRef } = await import('./fixtures/unexported.js');
    const server = new Server(HiddenRef, { port: 0, logLevel: 'silent', threadPool: { count: 1 } });
    await expect(server.listen()).rejects.toThrow(
      /does not export class Hidden \(it exports HiddenRef\).*set `static module = import.meta.url;` in that class itself.*add `export`/,
    );
  });

  it('a static module that is a path, not import.meta.url', () => {
    class Pathy extends Handler {
      static module = './handler.ts';
      clientMessage(): void {}
    }
    expect(() => new Server(Pathy, { threadPool: { count: 2 } })).toThrow(
      /Pathy: static module must be the module's own URL, `static module = import.meta.url;` \(got ".\/handler.ts"/,
    );
  });

  it('a module that starts a server when imported', async () => {
    const { SelfStarting } = await import('./fixtures/starts-server.js');
    const server = new Server(SelfStarting, { port: 0, logLevel: 'silent', threadPool: { count: 1 } });
    await expect(server.listen()).rejects.toThrow(
      /server.listen\(\) ran inside a wsz handler thread.*Move the handler class to a module of its own/,
    );
    const mod = await import('./fixtures/starts-server.js');
    await mod.server.stop();
  });

  it('an app that cannot be copied to threads, without initThread', async () => {
    const { Recorder } = await import('../helpers/recorder.js');
    const server = new Server(Recorder, { port: 0, logLevel: 'silent', threadPool: { count: 1 } });
    await expect(server.listen({ channel: 'x', fn: () => 1 } as never)).rejects.toThrow(
      /app cannot be copied to worker threads.*static initThread/,
    );
  });
});

describe.each(MODES)('backlog and buffers ($name)', ({ threads, workers }) => {
  inMode(workers);
  it('stops reading at the backlog and resumes when the queue drains: queued messages stay bounded', async () => {
    const { port, server, shared } = await start(threads, 'gatedMessages', {
      threadPool: { backlog: 16 },
      maxMessageSize: 2048,
      maxBackpressure: 0,
    });
    const c = await open(port);
    const count = 16384;
    const body = Buffer.alloc(1000, 0x61);
    const all = cat(...Array.from({ length: count }, () => frame(2, body)));
    c.send(all); // 16 MiB: far more than the kernel buffers hold while the server does not read
    let maxQueued = 0;
    for (let i = 0; i < 50; i++) {
      maxQueued = Math.max(maxQueued, server.stats().queued);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(maxQueued).toBeGreaterThanOrEqual(16);
    expect(maxQueued).toBeLessThanOrEqual(16 + 80); // the backlog, plus what the last read already held
    expect(c.socket.writableLength).toBeGreaterThan(0); // TCP pushed back on the client
    openGate(shared);
    for (let i = 0; i < count; i++) expect((await c.nextFrame(10_000)).payload.length).toBe(1000);
    await eventually('queue drained', () => server.stats().queued === 0);
  }, 60_000);

  it('counts buffer pool hits, misses and dynamic allocations for assembled messages', async () => {
    const { port, server } = await start(threads, undefined, { threadPool: { bufferSize: 32768 } });
    const c = await open(port);
    const fragmented = (n: number) =>
      cat(frame(2, Buffer.alloc(n - 1, 1), { fin: false }), frame(0, Buffer.alloc(1, 1)));
    c.send(fragmented(100));
    await c.nextFrame();
    c.send(fragmented(100));
    await c.nextFrame();
    c.send(fragmented(3000)); // above smallSize 2048, within largeSize 4096
    await c.nextFrame();
    const big = frame(2, Buffer.alloc(10_000, 2)); // above largeSize, split over two reads: a one-off buffer
    c.send(big.subarray(0, 5000));
    await new Promise((r) => setTimeout(r, 30));
    c.send(big.subarray(5000));
    await c.nextFrame();
    c.sendFrame(1, 'whole frames in one read need no buffer');
    await c.nextFrame();
    // Larger than a worker's ring (threadPool.bufferSize, 32 KiB): with threads the worker reads it in place.
    const huge = frame(2, Buffer.alloc(40_000, 3));
    c.send(huge.subarray(0, 20_000));
    await new Promise((r) => setTimeout(r, 30));
    c.send(huge.subarray(20_000));
    expect((await c.nextFrame()).payload.length).toBe(40_000);
    // Inline, the message cut across two reads is gathered in a buffer of its own size, handed to the hook
    // for good (no pool buffer); with threads it is assembled in the shared pool, whence the worker copies it.
    expect(await freshStats(server)).toMatchObject({
      connections: 1,
      upgraded: 1,
      messages: 6,
      queued: 0,
      pool: { hits: 1, misses: 2, dynamic: threads ? 2 : 0 },
    });
    // With threads, every message that fits is copied once into the worker's ring (and its pool buffer is free
    // again at once); the one larger than the ring is read by the worker in the pool buffer itself.
    expect(server.stats().crossed).toEqual(threads ? { shared: 1, copied: 5 } : { shared: 0, copied: 0 });
  });
});
