/**
 * backpressurePolicy 'drop' under pressure, in every mode: one owner decides what is dropped, before
 * anything is compressed, per message stream; a dropped() hook that writes cannot freeze the server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Decompressor } from '../../packages/websocket/src/protocol/deflate-codec.js';
import { MODES, inMode, serveAndOpen } from '../helpers/modes.js';
import { RawClient, type Frame } from '../helpers/raw-client.js';
import { FlowRecorder, floodText } from '../helpers/recorder.js';
import { eventually } from '../helpers/server.js';

describe.each(MODES)("backpressurePolicy 'drop' ($name)", ({ threads, workers }) => {
  inMode(workers);
  let cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup) await c();
    cleanup = [];
  });

  /** Reads frames until a text frame `last` arrives (the queue has drained by then). */
  async function readUntil(client: RawClient, last: string): Promise<Frame[]> {
    const frames: Frame[] = [];
    for (;;) {
      const f = await client.nextFrame(10_000);
      frames.push(f);
      if (f.opcode === 1 && f.payload.toString() === last) return frames;
    }
  }

  it('a dropped() hook that writes is told at most once per drain cycle, on a macrotask: timers, I/O and new connections go on', async () => {
    const { client, events, port } = await serveAndOpen(
      cleanup,
      threads,
      'dropWrites',
      { maxBackpressure: 256 * 1024, backpressurePolicy: 'drop' },
      FlowRecorder,
    );
    client.pauseReading();
    client.sendFrame(1, 'flood 300');
    await eventually('the first report', () => events.some((e) => e.startsWith('dropped')), 10_000);
    // The server still runs timers and accepts and serves another connection.
    const started = Date.now();
    await new Promise((r) => setTimeout(r, 300));
    expect(Date.now() - started).toBeLessThan(3000);
    const other = await RawClient.open(port);
    cleanup.unshift(() => other.destroy());
    other.sendFrame(1, 'hello');
    expect((await other.nextFrame(5000)).payload.toString()).toBe('hello');
    // One report for this cycle, however many writes the hook's own report caused.
    expect(events.filter((e) => e.startsWith('dropped')).length).toBe(1);
    client.resumeReading();
    await eventually('drain', () => events.includes('drain'), 15_000);
    client.sendFrame(1, 'over');
    const frames = await readUntil(client, 'over');
    // The hook's own write, dropped while over the limit, was reported in the next cycle at most.
    expect(events.filter((e) => e.startsWith('dropped')).length).toBeLessThanOrEqual(2);
    expect(frames.length).toBeLessThan(300);
  }, 40_000);

  it('never drops a message compressed with context takeover: every message the client gets inflates to what was sent', async () => {
    const { client, events, port } = await serveAndOpen(
      cleanup,
      threads,
      'deflood',
      {
        maxBackpressure: 256 * 1024,
        backpressurePolicy: 'drop',
        perMessageDeflate: { serverNoContextTakeover: false, clientNoContextTakeover: false },
      },
      FlowRecorder,
    );
    // (serveAndOpen's client offered no extension: open one that offers permessage-deflate with context takeover.)
    client.destroy();
    const c = await RawClient.open(port, '/', ['Sec-WebSocket-Extensions: permessage-deflate']);
    cleanup.unshift(() => c.destroy());
    expect(c.response!.headers['sec-websocket-extensions']).toBe('permessage-deflate');
    c.pauseReading();
    const N = 3000;
    c.sendFrame(1, `deflood ${N}`);
    await eventually('flooded', () => events.filter((e) => e === 'flooded').length === 1, 30_000);
    await new Promise((r) => setTimeout(r, 200));
    c.resumeReading();
    await eventually('drain', () => events.includes('drain'), 30_000);
    c.sendFrame(1, 'the end');
    const frames = await readUntil(c, 'the end');
    const inflater = new Decompressor({ windowBits: 15, takeover: true });
    let last = -1;
    let compressed = 0;
    for (const f of frames.slice(0, -1)) {
      const parts: Buffer[] = [];
      if (f.rsv === 4) expect(inflater.inflate(f.payload, true, 1 << 30, parts)).toBeTypeOf('number');
      const text = (f.rsv === 4 ? Buffer.concat(parts) : f.payload).toString();
      if (f.rsv === 4) compressed++;
      const seq = Number(/^seq (\d+) /.exec(text)?.[1]);
      expect(text).toBe(floodText(seq));
      expect(seq).toBeGreaterThan(last);
      last = seq;
    }
    expect(compressed).toBeGreaterThan(0);
    expect(frames.length - 1).toBeLessThan(N); // some were dropped
  }, 60_000);

  it("drops a fragmented message of the handler's own whole, even when a publish is dropped between its fragments", async () => {
    const { client, events } = await serveAndOpen(
      cleanup,
      threads,
      'ownStream',
      { maxBackpressure: 256 * 1024, backpressurePolicy: 'drop' },
      FlowRecorder,
    );
    client.pauseReading();
    for (const cmd of ['flood 200', 'stream', 'pub news', 'end']) {
      client.sendFrame(1, cmd);
      await eventually(cmd, () => events.includes(`did ${cmd.split(' ')[0]}`), 10_000);
    }
    client.resumeReading();
    await eventually('the queue to drain', () => events.includes('drain'), 15_000);
    client.sendFrame(1, 'last');
    const frames = await readUntil(client, 'last');
    let open = false;
    for (const f of frames) {
      if (f.opcode === 0)
        expect(open).toBe(true); // never a continuation without its first frame
      else if (f.opcode < 8) expect(open).toBe(false); // never a new message inside an open one
      if (f.opcode < 8) open = !f.fin;
    }
  }, 40_000);
});
