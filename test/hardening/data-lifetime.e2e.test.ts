import { afterEach, describe, expect, it } from 'vitest';
import { MODES, inMode, serve, type Cleanup } from '../helpers/modes.js';
import { RawClient, frame } from '../helpers/raw-client.js';
import { historyMessage } from '../helpers/recorder.js';

let cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

/** Sends `count` history messages as two fragments each, in reads that split frames. */
async function sendHistory(c: RawClient, tag: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const m = historyMessage(tag, i);
    const bytes = Buffer.concat([frame(2, m.subarray(0, 700), { fin: false }), frame(0, m.subarray(700))]);
    c.send(bytes.subarray(0, 333));
    c.send(bytes.subarray(333));
    if (i % 20 === 19) await new Promise((r) => setTimeout(r, 5));
  }
}

describe.each(MODES)('a hook may keep its data ($name)', ({ threads, workers }) => {
  inMode(workers);
  it("kept data never changes afterwards, nor shows another connection's bytes", async () => {
    const s = await serve(threads, {
      behaviour: 'history',
      config: { threadPool: { count: threads, bufferSize: 4096 } },
    });
    cleanup.push(() => s.stop());
    const a = await RawClient.open(s.port);
    const b = await RawClient.open(s.port);
    cleanup.unshift(
      () => a.destroy(),
      () => b.destroy(),
    );
    // Single-frame messages too (in thread mode they cross through the ring).
    await Promise.all([sendHistory(a, 'A', 120), sendHistory(b, 'B', 120)]);
    for (let i = 120; i < 200; i++) {
      a.sendFrame(2, historyMessage('A', i));
      b.sendFrame(2, historyMessage('B', i));
    }
    a.sendFrame(1, 'dump');
    b.sendFrame(1, 'dump');
    expect((await a.nextFrame(10_000)).payload.toString()).toBe('history 200 0');
    expect((await b.nextFrame(10_000)).payload.toString()).toBe('history 200 0');
  });
});
