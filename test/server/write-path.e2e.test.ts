import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, closeBody, frame } from '../helpers/raw-client.js';
import { MODES, inMode, serve, serveAndOpen } from '../helpers/modes.js';
import { FlowRecorder } from '../helpers/recorder.js';
import { eventually, freshStats } from '../helpers/server.js';
import type { HandlerClass, HandlerHooks, ServerConfig } from 'wsz';

describe.each(MODES)('write path and liveness ($name)', ({ threads, workers }) => {
  inMode(workers);
  let cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup) await c();
    cleanup = [];
  });
  const open = (behaviour?: string, config?: ServerConfig, handler?: HandlerClass<HandlerHooks<any>>) =>
    serveAndOpen(cleanup, threads, behaviour, config, handler);
  const emitted = (events: string[], prefix: string) =>
    eventually(prefix, () => events.some((e) => e.startsWith(prefix))).then(() =>
      events.find((e) => e.startsWith(prefix))!,
    );

  describe('Writer (conn.writeBuffer)', () => {
    it('sends strings, bytes and formatted text as exactly one message on flush', async () => {
      const { client } = await open('writer');
      client.sendFrame(1, 'build');
      expect(await client.nextFrame()).toMatchObject({ fin: true, opcode: 1, payload: Buffer.from('abc-7') });
    });

    it('sends nothing for a writer that is never flushed', async () => {
      const { client } = await open('writer');
      client.sendFrame(1, 'unflushed');
      expect((await client.nextFrame()).payload.toString()).toBe('after the unflushed writer');
      expect(client.idle).toBe(true);
    });

    it('refuses writing or flushing again after flush, with a clear error', async () => {
      const { client, events } = await open('writer');
      client.sendFrame(1, 'twice');
      expect((await client.nextFrame()).payload.toString()).toBe('once');
      await eventually('two errors', () => events.filter((e) => e.startsWith('writer error')).length === 2);
      expect(events.filter((e) => e.startsWith('writer error'))[0]).toMatch(
        /already flushed; a Writer sends exactly one message, get a new one from conn.writeBuffer\(\)/,
      );
    });

    it('after the connection closed, writes nothing and flush returns false, as conn.write does (no error)', async () => {
      const { client, events } = await open('writer');
      client.sendFrame(1, 'closed');
      expect((await client.readClose()).code).toBe(1000);
      expect(await emitted(events, 'writer after close')).toBe('writer after close: flush false, a new one false');
    });

    it('refuses bytes that are not UTF-8 as a text message (RFC 6455 8.1), with an error that says to send binary', async () => {
      const { client, events } = await open('writer');
      client.sendFrame(1, 'notUtf8');
      expect((await client.nextFrame()).payload.toString()).toBe('still fine ✓');
      await eventually('three refusals', () => events.filter((e) => e.startsWith('notUtf8')).length === 3);
      const refusals = events.filter((e) => e.startsWith('notUtf8'));
      expect(refusals[0]).toMatch(/^notUtf8 error: conn.writeText\(\): these bytes are not valid UTF-8.*writeBin/);
      expect(refusals[1]).toMatch(/^notUtf8 error: conn.write\(\)/);
      expect(refusals[2]).toMatch(/^notUtf8 error: conn.publish\(\)/);
    });

    it('grows past its pooled segments: a 100 KB message arrives whole', async () => {
      const { client, events } = await open('writer', { maxMessageSize: 1 << 20 });
      client.sendFrame(1, 'big');
      const f = await client.nextFrame();
      expect(f).toMatchObject({ fin: true, opcode: 2 });
      expect(f.payload.length).toBe(100_000);
      expect(f.payload[99_999]).toBe(99);
      expect(await emitted(events, 'writer length')).toBe('writer length 100000');
    });

    it('with fragmentSize, sends fragments as they fill: binary, continuations, FIN on the last', async () => {
      const { client } = await open('writer');
      client.sendFrame(1, 'fragments');
      const frames = [];
      do frames.push(await client.nextFrame());
      while (!frames.at(-1)!.fin);
      expect(frames.map((f) => [f.opcode, f.fin, f.payload.length])).toEqual([
        [2, false, 1000],
        [0, false, 1000],
        [0, false, 1000],
        [0, true, 500],
      ]);
      expect(
        Buffer.concat(frames.map((f) => f.payload)).equals(
          Buffer.concat(Array.from({ length: 7 }, (_, i) => Buffer.alloc(500, i))),
        ),
      ).toBe(true);
    });
  });

  describe('pre-framed messages and batching', () => {
    it('writeFramed sends a frame built once, byte for byte', async () => {
      const { client } = await open('framed');
      client.sendFrame(1, 'go');
      expect(await client.nextFrame()).toMatchObject({ opcode: 1, payload: Buffer.from('hello, pre-framed') });
      expect(await client.nextFrame()).toMatchObject({ opcode: 1, payload: Buffer.from('hello, pre-framed') });
    });

    it('writeFramed refuses bytes that are not complete unmasked frames', async () => {
      const { client, events } = await open('framed');
      client.sendFrame(1, 'bad');
      expect(await emitted(events, 'framed error')).toMatch(/masked frame: servers send unmasked frames/);
    });

    it('ten writes in one hook leave in one socket write', async () => {
      const { client, server } = await open('tenWrites');
      const before = (await freshStats(server)).writes;
      client.sendFrame(1, 'go');
      for (let i = 0; i < 10; i++) expect((await client.nextFrame()).payload.toString()).toBe(`w${i}`);
      expect((await freshStats(server)).writes - before).toBe(1);
    });
  });

  describe('backpressure', () => {
    it("policy 'close': a client that never reads is closed with 1008; server memory stays bounded; others are served", async () => {
      const limit = 256 * 1024;
      // closeTimeout long enough that the closing connection (its close frame queued behind what the client has
      // not read) is still there when a busy machine lets this test look (I/O threads report stats every 20 ms).
      const { client, server, port } = await open('flood', { maxBackpressure: limit, closeTimeout: 15_000 });
      client.pauseReading();
      client.sendFrame(1, 'flood 400'); // 25 MiB: far beyond kernel buffers plus the limit
      await eventually(
        'the policy to fire',
        () => server.stats().upgraded === 1 && server.stats().buffered > 0,
        10_000,
      );
      await new Promise((r) => setTimeout(r, 200));
      expect(server.stats().buffered).toBeLessThanOrEqual(limit + 2 * 65 * 1024);
      const other = await RawClient.open(port);
      cleanup.unshift(() => other.destroy());
      other.sendFrame(1, 'still served');
      expect((await other.nextFrame()).payload.toString()).toBe('still served');
      client.resumeReading();
      const got = await client.readClose(10_000);
      expect(got.code).toBe(1008);
      expect(got.reason).toMatch(/backpressure/);
      expect(got.before.length).toBeLessThan(400);
    }, 30_000);

    it("policy 'drop': messages are dropped and reported to dropped(); pongs still go out; drain() fires once the client reads", async () => {
      const { client, server, events } = await open(
        'flood',
        { maxBackpressure: 256 * 1024, backpressurePolicy: 'drop' },
        FlowRecorder,
      );
      client.pauseReading();
      client.sendFrame(1, 'flood 400');
      await emitted(events, 'dropped true');
      client.sendFrame(9, 'ping under pressure');
      await new Promise((r) => setTimeout(r, 100));
      expect(server.stats().buffered).toBeLessThanOrEqual(256 * 1024 + 2 * 65 * 1024);
      client.resumeReading();
      const frames = [];
      for (;;) {
        const f = await client.nextFrame(5000);
        frames.push(f);
        if (f.opcode === 10) break;
      }
      expect(frames.at(-1)!.payload.toString()).toBe('ping under pressure');
      expect(frames.length).toBeLessThan(400);
      await emitted(events, 'drain');
    }, 30_000);
  });

  describe('liveness', () => {
    it('heartbeat: pings a quiet connection; one that answers stays; one that stops answering is dropped, close once', async () => {
      const { client, events } = await open(undefined, { heartbeat: { interval: 100, timeout: 300 } });
      const ping = await client.nextFrame(3000);
      expect(ping.opcode).toBe(9);
      client.sendFrame(10, ping.payload);
      const again = await client.nextFrame(3000); // answered: still open, pinged again after the next quiet interval
      expect(again.opcode).toBe(9);
      expect(await client.waitClosed(5000)).toBe(true); // no answer this time
      await eventually('close hook', () => events.includes('close'));
      expect(events.filter((e) => e === 'close')).toHaveLength(1);
    });

    it('idleTimeout: closes (1001) a connection with no traffic at all', async () => {
      const { client, events } = await open(undefined, { idleTimeout: 200 });
      const got = await client.readClose(5000);
      expect(got).toMatchObject({ code: 1001, reason: 'idle timeout' });
      client.sendFrame(8, closeBody(1001));
      await eventually('close hook', () => events.includes('close'));
    });

    it('any traffic keeps a connection from idling out: messages, or pings alone', async () => {
      const { client } = await open(undefined, { idleTimeout: 300 });
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 100));
        client.send(frame(1, `keepalive ${i}`));
        expect((await client.nextFrame()).payload.toString()).toBe(`keepalive ${i}`);
      }
      for (let i = 0; i < 4; i++) {
        await new Promise((r) => setTimeout(r, 100));
        client.sendFrame(9, `ping ${i}`);
        expect(await client.nextFrame()).toMatchObject({ opcode: 10, payload: Buffer.from(`ping ${i}`) });
      }
    });
  });
});
