/**
 * What a peer can make the server hold, and how writes keep their order and shape under
 * backpressure (issue 10, items 5, 12, 26, 27).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MODES, inMode, serve, serveAndOpen, type Cleanup } from '../helpers/modes.js';
import { RawClient, closeBody, frame } from '../helpers/raw-client.js';
import { eventually } from '../helpers/server.js';

let cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

describe.each(MODES)('per-connection memory stays bounded ($name)', ({ threads, workers }) => {
  inMode(workers);
  it('a peer that pings without reading holds at most the limit, plus one owed pong', async () => {
    const limit = 64 * 1024;
    const { server, client, events } = await serveAndOpen(cleanup, threads, 'silent', { maxBackpressure: limit });
    client.pauseReading();
    const ping = frame(9, Buffer.alloc(125, 7));
    const burst = Buffer.concat(Array.from({ length: 1000 }, () => ping));
    for (let i = 0; i < 150; i++) client.send(burst); // 150,000 pings, 19.6 MB with their headers
    client.sendFrame(1, 'done');
    await eventually('the last message', () => events.includes('message text done'), 20_000);
    expect(server.stats().buffered).toBeLessThan(limit + 16 * 1024);
    expect(server.stats().connections).toBe(1);
    // Reading again, the peer gets pongs (the owed one last), and the connection still works.
    client.resumeReading();
    client.sendFrame(9, 'last');
    for (;;) {
      const f = await client.nextFrame(10_000);
      if (f.opcode === 10 && f.payload.toString() === 'last') break;
    }
  });
});

describe.each(MODES)("writes keep RFC 6455's message shape ($name)", ({ threads, workers }) => {
  inMode(workers);
  it('a streamed Writer across awaits is not interleaved with other data frames; control frames may pass', async () => {
    const { client } = await serveAndOpen(cleanup, threads, 'streamed');
    client.sendFrame(1, 'go');
    const got: string[] = [];
    for (;;) {
      const f = await client.nextFrame();
      got.push(`${f.opcode}${f.fin ? '' : '+'}:${f.payload.toString()}`);
      if (f.payload.toString() === 'after') break;
    }
    expect(got).toEqual(['1+:abcd', '9:p', '0+:efgh', '0:', '1:other', '2:bin', '1:after']);
  });

  it("'drop' drops a pre-framed buffer whole and does not spoil the next fragmented message", async () => {
    const { client, events } = await serveAndOpen(cleanup, threads, 'dropFramed', {
      maxBackpressure: 100,
      backpressurePolicy: 'drop',
    });
    client.sendFrame(1, 'go');
    expect((await client.nextFrame()).payload).toEqual(Buffer.alloc(200, 1));
    // (Inline the write says it was dropped; from a worker it cannot know yet, and says true.)
    await eventually('framed', () => events.some((e) => e.startsWith('framed ')));
    client.sendFrame(1, 'next');
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const f = await client.nextFrame();
      got.push(`${f.opcode}${f.fin ? '' : '+'}:${f.payload.toString()}`);
    }
    expect(got).toEqual(['2+:CCC', '0:DDD', '2:EEE']);
  });
});

describe.each(MODES)('closing a slow reader for backpressure ($name)', ({ threads, workers }) => {
  inMode(workers);
  it('ends with a 1008 close frame that a peer reading slowly past closeTimeout still gets, and a clean TCP close', async () => {
    // 32 MiB may queue before the 1008: reading that takes longer than closeTimeout.
    const s = await serve(threads, {
      behaviour: 'flood',
      config: { closeTimeout: 3000, maxBackpressure: 32 << 20, threadPool: { count: threads, backlog: 4 } },
    });
    cleanup.push(() => s.stop());
    const c = await RawClient.open(s.port);
    cleanup.unshift(() => c.destroy());
    let reset = false;
    c.socket.on('error', () => (reset = true));
    c.pauseReading();
    c.sendFrame(1, 'flood 800'); // 50 MiB of replies: beyond kernel buffers plus the limit
    // Input keeps coming while the server is closing: it must be read, or our close becomes a reset.
    for (let i = 0; i < 300; i++) c.sendFrame(1, `more ${i}`);
    await new Promise((r) => setTimeout(r, 200));
    // Then it reads, slowly: 64 KiB every 10 ms (the paused socket's read() hands it to the client's
    // 'data' listener), so taking what is queued lasts past closeTimeout; and it goes on sending.
    let reading = true;
    const slow = (async () => {
      for (let i = 0; reading; i++) {
        c.socket.read(Math.min(c.socket.readableLength, 64 * 1024) || undefined);
        c.sendFrame(1, `still talking ${i}`);
        await new Promise((r) => setTimeout(r, 10));
      }
      c.resumeReading();
    })();
    const close = await c.readClose(40_000).finally(() => (reading = false));
    await slow;
    expect(close.code).toBe(1008);
    c.send(frame(8, closeBody(1008)));
    await c.closed;
    expect(reset).toBe(false);
  }, 60_000);
});
