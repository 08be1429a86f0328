/**
 * The chat page itself, in headless Chromium: two pages in one room and one in another. What is
 * typed in one reaches the other and not the third; a page whose socket is cut resumes and shows what it missed,
 * exactly once, in order; and the pages reconnect after a server restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser, chromiumAvailable, type Page } from '../../test/helpers/chromium.js';
import { runExample, type RunningExample } from '../../test/helpers/example.js';
import { IO_THREADS } from '../../test/helpers/io-threads.js';
import { redisAvailable, startRedis } from '../../test/helpers/redis.js';
import { selfSigned } from '../../test/helpers/tls.js';

if (!chromiumAvailable && process.env.CI) throw new Error('chromium is missing: .ci/run installs it with apt-get');

/** The page's log, one string per line ("annhello": the sender's name, then the text). */
function log(page: Page): Promise<string[]> {
  return page.evaluate<string[]>(`[...document.querySelectorAll('#log li')].map((li) => li.textContent)`);
}

async function joinAs(page: Page, room: string, user: string): Promise<void> {
  await page.evaluate(`document.getElementById('room').value = ''`);
  await page.type('room', room);
  await page.type('user', user);
  await page.click('join');
  await page.until(`${user} to connect`, `document.body.dataset.state === 'connected'`);
}

async function say(page: Page, text: string): Promise<void> {
  await page.type('text', text);
  await page.click('send');
}

/** Hook threads behind node:http, and (on Node 24) I/O threads with wsz serving the page itself. */
const MODES: Array<{ name: string; env: Record<string, string> }> = [
  { name: '2 hook threads', env: { THREADS: '2' } },
  ...(IO_THREADS ? [{ name: '2 I/O threads', env: { THREADS: '0', WORKERS: '2' } }] : []),
];

describe.skipIf(!chromiumAvailable).each(MODES)('examples/chat in headless Chromium ($name)', ({ env }) => {
  let browser: Browser;
  let server: RunningExample;
  let port: number;

  beforeAll(async () => {
    server = runExample('examples/chat/server.ts', env);
    port = await server.ready;
    browser = await Browser.launch();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    server?.interrupt();
    await server?.exit;
  });

  it('shows what one member types to the other member of its room, not to a third in another room, and reconnects after a restart', async () => {
    const url = `http://127.0.0.1:${port}/`;
    const [ann, bob, cy] = [await browser.open(url), await browser.open(url), await browser.open(url)];
    await joinAs(ann!, 'garden', 'ann');
    await joinAs(bob!, 'garden', 'bob');
    await joinAs(cy!, 'kitchen', 'cy');
    await ann!.until("bob joining, on ann's page", `document.getElementById('log').textContent.includes('bob joined')`);
    // Presence: each page lists who is in its room.
    for (const page of [ann!, bob!])
      await page.until('the members of the garden', `document.getElementById('members').textContent === 'ann, bob'`);
    await cy!.until('the members of the kitchen', `document.getElementById('members').textContent === 'cy'`);

    await say(ann!, 'hello from ann');
    await bob!.until(
      "ann's message on bob's page",
      `document.getElementById('log').textContent.includes('hello from ann')`,
    );
    await say(cy!, 'cy in the kitchen');
    await cy!.until("cy's own message", `document.getElementById('log').textContent.includes('cy in the kitchen')`);
    await say(bob!, 'bob answers');
    await ann!.until(
      "bob's answer on ann's page",
      `document.getElementById('log').textContent.includes('bob answers')`,
    );

    // A page subscribes to its room once joined: it sees who joins after it, not its own join.
    expect(await log(ann!)).toEqual(['bob joined', 'annhello from ann', 'bobbob answers']);
    expect(await log(bob!)).toEqual(['annhello from ann', 'bobbob answers']);
    expect(await log(cy!)).toEqual(['cycy in the kitchen']);

    // Ann's socket is cut while bob talks: once back, her page shows what she missed, once each, in order.
    await ann!.evaluate(`window.chatSocket().reconnect()`);
    for (const text of ['while', 'ann', 'was away']) await say(bob!, text);
    await bob!.until("bob's last line", `document.getElementById('log').textContent.includes('bobwas away')`);
    await ann!.until('the lines ann missed', `document.getElementById('log').textContent.includes('bobwas away')`);
    await say(bob!, 'and after');
    for (const page of [ann!, bob!])
      await page.until('the next line', `document.getElementById('log').textContent.includes('boband after')`);
    // The same transcript on both pages from bob's arrival on: the drop shows as ann leaving and joining again.
    const annLog = (await log(ann!)).slice(1);
    const bobLog = await log(bob!);
    expect(annLog).toEqual(bobLog);
    expect(bobLog.filter((l) => l.startsWith('bob'))).toEqual([
      'bobbob answers',
      'bobwhile',
      'bobann',
      'bobwas away',
      'boband after',
    ]);
    expect(bobLog).toContain('ann left');

    // The server restarts on the same port: the pages notice, retry, and chat again.
    server.interrupt();
    expect(await server.exit).toBe(0);
    await ann!.until('ann to see the drop', `document.body.dataset.state === 'disconnected'`);
    server = runExample('examples/chat/server.ts', { ...env, PORT: String(port) });
    await server.ready;
    for (const page of [ann!, bob!, cy!])
      await page.until('a reconnect', `document.body.dataset.state === 'connected'`, 20_000);
    await say(bob!, 'back again');
    await ann!.until(
      "bob's message after the restart",
      `document.getElementById('log').textContent.includes('back again')`,
    );
    expect(await cy!.evaluate(`document.getElementById('log').textContent.includes('back again')`)).toBe(false);
  }, 90_000);
});

describe.skipIf(!chromiumAvailable || !redisAvailable)(
  'examples/chat in headless Chromium, two processes on Redis',
  () => {
    it('restarts the process of one page: once back, that page shows what was said meanwhile, once each, in order', async () => {
      const redis = await startRedis();
      const env = { THREADS: '2', REDIS_URL: redis.url };
      let a = runExample('examples/chat/server.ts', env);
      const b = runExample('examples/chat/server.ts', env);
      const [portA, portB] = [await a.ready, await b.ready];
      const browser = await Browser.launch();
      try {
        const ann = await browser.open(`http://127.0.0.1:${portA}/`);
        const bob = await browser.open(`http://127.0.0.1:${portB}/`);
        await joinAs(ann, 'porch', 'ann');
        await joinAs(bob, 'porch', 'bob');
        await ann.until(
          "bob's join on ann's page",
          `document.getElementById('log').textContent.includes('bob joined')`,
        );
        await say(bob, 'before');
        await ann.until('the first line', `document.getElementById('log').textContent.includes('bobbefore')`);
        // Ann's process restarts; bob talks on while it is away.
        a.interrupt();
        expect(await a.exit).toBe(0);
        await ann.until('ann to see the drop', `document.body.dataset.state === 'disconnected'`);
        for (const text of ['while', 'ann', 'was away']) await say(bob, text);
        await bob.until("bob's lines", `document.getElementById('log').textContent.includes('bobwas away')`);
        a = runExample('examples/chat/server.ts', { ...env, PORT: String(portA) });
        await a.ready;
        await ann.until(
          'the lines ann missed',
          `document.getElementById('log').textContent.includes('bobwas away')`,
          20_000,
        );
        await say(bob, 'and after');
        for (const page of [ann, bob])
          await page.until('the next line', `document.getElementById('log').textContent.includes('boband after')`);
        const annLog = (await log(ann)).slice(1);
        const bobLog = await log(bob);
        expect(annLog).toEqual(bobLog);
        expect(bobLog.filter((l) => l.startsWith('bob'))).toEqual([
          'bobbefore',
          'bobwhile',
          'bobann',
          'bobwas away',
          'boband after',
        ]);
        expect(annLog).not.toContain('(some messages were missed)');
      } finally {
        await browser.close();
        a.interrupt();
        b.interrupt();
        await Promise.all([a.exit, b.exit]);
        await redis.stop();
      }
    }, 90_000);
  },
);

describe.skipIf(!chromiumAvailable || selfSigned() === null)('examples/chat in headless Chromium over HTTP/2', () => {
  const RUNS: Array<[threads: string, flags: string[]]> = [
    ['2', []],
    ['0', []],
    ['2', ['--disable-http2']],
  ];
  for (const [threads, flags] of RUNS) {
    const over = flags.length === 0 ? 'HTTP/2 (RFC 8441)' : 'HTTP/1.1 on the same port';
    it(`chats with its WebSocket over ${over} (THREADS=${threads})`, async () => {
      const tls = selfSigned()!;
      const server = runExample('examples/chat/server.ts', {
        THREADS: threads,
        TLS_CERT: tls.certPath,
        TLS_KEY: tls.keyPath,
      });
      const port = await server.ready;
      const browser = await Browser.launch(['--ignore-certificate-errors', ...flags]);
      try {
        const url = `https://127.0.0.1:${port}/`;
        const [ann, bob] = [await browser.open(url), await browser.open(url)];
        expect(await ann.evaluate(`performance.getEntriesByType('navigation')[0].nextHopProtocol`)).toBe(
          flags.length === 0 ? 'h2' : 'http/1.1',
        );
        await joinAs(ann, 'roof', 'ann');
        await joinAs(bob, 'roof', 'bob');
        await say(bob, 'over the top');
        await ann.until("bob on ann's page", `document.getElementById('log').textContent.includes('over the top')`);
        // The server saw the pages' WebSockets as streams of their HTTP/2 connections (or as upgrades).
        const h2 = await ann.evaluate<string>(
          `fetch('/metrics').then((r) => r.text()).then((t) => /wsz_connections_http2 (\\d+)/.exec(t)[1])`,
        );
        expect(Number(h2)).toBe(flags.length === 0 ? 2 : 0);
      } finally {
        await browser.close();
        server.interrupt();
        await server.exit;
      }
    }, 60_000);
  }
});
