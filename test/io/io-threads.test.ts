/**
 * workerCount: I/O threads that own their sockets (Node 24 and later). The suites of test/server,
 * test/hardening, test/deflate, test/pubsub and test/interop run in an I/O-thread mode too; this file
 * covers what only several I/O threads have: spreading, server-wide limits and stats, stop, a thread
 * that dies, TLS and logging on the threads, and what cannot work with them.
 */
import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { Handler, Server, type Logger, type ServerConfig } from 'wsz';
import { Client } from 'wsz/client';
import { IO_THREADS } from '../helpers/io-threads.js';
import { Member } from '../helpers/member.js';
import { inMode, serve } from '../helpers/modes.js';
import { RawClient } from '../helpers/raw-client.js';
import { eventually } from '../helpers/server.js';
import { selfSigned } from '../helpers/tls.js';
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

function members(port: number, n: number): Promise<Member[]> {
  return Member.joinAll(port, n, cleanup);
}

/** Lines a logger was given, at every level. */
function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const push = (m: string): void => void lines.push(m);
  return { logger: { debug: push, info: push, warn: push, error: push }, lines };
}

class NoModule extends Handler {
  clientMessage(): void {}
}

describe.skipIf(IO_THREADS)('workerCount on a Node that cannot move sockets between threads', () => {
  it('fails at new Server, naming the Node version it needs and what to do instead', () => {
    expect(() => new Server(Topical, { workerCount: 2 })).toThrow(
      /^workerCount: 2 needs Node 24 or later: .*Use workerCount: 1 \(the default\) on this Node, or run one process per core with a backplane/,
    );
    expect(() => new Server(Topical, { workerCount: 1 })).not.toThrow();
  });
});

describe.runIf(IO_THREADS)('I/O threads (workerCount)', () => {
  it('spreads connections over the threads by fewest connections; each stays on its thread; ids are unique server-wide', async () => {
    const { server, port } = await start();
    const all = await members(port, 6);
    const threadOf = await Promise.all(all.map((m) => m.ask('thread')));
    expect(new Set(threadOf).size).toBe(2);
    for (const t of new Set(threadOf)) expect(threadOf.filter((x) => x === t)).toHaveLength(3);
    expect(await Promise.all(all.map((m) => m.ask('thread')))).toEqual(threadOf);
    expect(new Set(all.map((m) => m.id)).size).toBe(6);
    await eventually('counters from both threads', () => server.stats().messages === 12);
    expect(server.stats()).toMatchObject({
      connections: 6,
      upgraded: 6,
      messages: 12,
      ioThreads: { count: 2, restarts: 0 },
    });
  });

  it('counts maxConn over all threads: the socket past it gets 503 whichever thread takes it', async () => {
    const { port } = await start({ maxConn: 3 });
    await members(port, 3);
    const fourth = await RawClient.connect(port, null);
    cleanup.push(() => fourth.destroy());
    const res = await fourth.readResponse();
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
  });

  describe('stop()', () => {
    inMode(2);
    it('sends 1001 to every connection on every thread and resolves once every close hook has run', async () => {
      const s = await serve(0);
      const clients = await Promise.all(Array.from({ length: 4 }, () => RawClient.open(s.port)));
      cleanup.push(() => clients.forEach((c) => c.destroy()));
      await eventually('four afterInits', () => s.events.filter((e) => e === 'afterInit').length === 4);
      const stopped = s.stop();
      for (const c of clients) {
        const { code } = await c.readClose();
        expect(code).toBe(1001);
        c.sendFrame(8, Buffer.from([0x03, 0xe9]), { mask: true });
      }
      await stopped;
      expect(s.events.filter((e) => e === 'close')).toHaveLength(4);
      expect(s.server.stats().ioThreads).toEqual({ count: 0, restarts: 0, connections: [0, 0] });
    });
  });

  it('replaces a thread that dies: its connections end with it, the others go on untouched, and it is logged', async () => {
    const { logger, lines } = capture();
    const { server, port } = await start({ logger, logLevel: 'error' });
    const all = await members(port, 4);
    const threadOf = await Promise.all(all.map((m) => m.ask('thread')));
    const doomed = threadOf[0]!;
    all[0]!.send('exit');
    for (const [i, m] of all.entries()) {
      if (threadOf[i] === doomed) expect(await m.client.read(5000)).toMatchObject({ type: 'close', code: 1006 });
      else expect(await m.ask('thread')).toBe(threadOf[i]);
    }
    await eventually(
      'a new thread',
      () => server.stats().ioThreads?.restarts === 1 && server.stats().ioThreads?.count === 2,
    );
    expect(server.stats().ioThreads).toMatchObject({ count: 2, restarts: 1 });
    expect(
      lines.some((l) =>
        /^\[wsz\] I\/O thread \d exited \(code 3\); its 2 connections ended with it; starting a new one$/.test(l),
      ),
    ).toBe(true);
    const [late] = await members(port, 1);
    expect(await late!.ask('thread')).toMatch(/^thread \d+$/);
  });

  it('serves wss:// with the TLS handshake done on the I/O threads', async () => {
    const tls = selfSigned();
    if (!tls) return; // no openssl here
    const { port } = await start({ tls: { key: tls.key, cert: tls.cert } });
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const c = await Client.connect(`wss://127.0.0.1:${port}/`, { tls: { rejectUnauthorized: false } });
      cleanup.push(() => c.destroy());
      const hello = await c.read();
      expect(hello).toMatchObject({ type: 'text' });
      c.write('thread');
      const reply = await c.read();
      seen.add(reply?.type === 'text' ? reply.data.toString() : '');
    }
    expect(seen.size).toBe(2);
  });

  it("gives the configured logger the I/O threads' lines, scoped by thread", async () => {
    const { logger, lines } = capture();
    const { port } = await start({ logger, logLevel: 'debug' });
    const bad = await RawClient.connect(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    cleanup.push(() => bad.destroy());
    expect((await bad.readResponse()).status).toBe(426);
    await eventually('the refusal logged', () =>
      lines.some((l) => /^\[wsz io \d\] connection \d+: handshake refused, 426/.test(l)),
    );
  });

  it('refuses what cannot work with I/O threads, saying what to do', async () => {
    expect(() => new Server(Topical, { workerCount: 2, allowedOrigins: () => true })).toThrow(
      'config allowedOrigins cannot be copied to I/O threads (workerCount: 2) (give a list of origins rather than a function); give plain data, or set workerCount: 1',
    );
    expect(() => new Server(NoModule, { workerCount: 2, threadPool: { count: 0 } })).toThrow(
      /^workerCount is 2, so connections run on I\/O threads, which import the module that defines NoModule\. Add `static module = import\.meta\.url;`/,
    );
    expect(() => new Server(Topical, { workerCount: 2, unixPath: '/tmp/wsz.sock' })).toThrow(
      /^workerCount: 2 takes TCP sockets only: Node cannot move a Unix socket connection to another thread/,
    );
    const server = new Server(Topical, { workerCount: 2, logLevel: 'silent' });
    await expect(server.attach(createServer())).rejects.toThrow(
      /^server\.attach\(\): with workerCount 2, I\/O threads take sockets from the server's own listener; use server\.listen\(\)/,
    );
  });
});
