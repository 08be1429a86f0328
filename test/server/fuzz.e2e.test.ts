import { describe, expect, it } from 'vitest';
import { RawClient, frame, upgradeRequest } from '../helpers/raw-client.js';
import { MODES, inMode, serve } from '../helpers/modes.js';
import { eventually } from '../helpers/server.js';

/** A small seeded PRNG (mulberry32): the same inputs on every run, so a failure can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Inputs a hostile or broken peer might send after (or instead of) a valid handshake. */
function hostileInput(rand: () => number): { handshake: boolean; bytes: Buffer } {
  const int = (n: number) => Math.floor(rand() * n);
  const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  switch (int(6)) {
    case 0: // pure garbage after the handshake
      return { handshake: true, bytes: randomBytes(1 + int(300)) };
    case 1: {
      // valid frames with one byte flipped somewhere
      const b = Buffer.concat([
        frame(1, 'hello'),
        frame(2, randomBytes(int(200))),
        frame(9, 'p'),
        frame(1, 'κόσμε', { fin: false }),
        frame(0, 'end'),
      ]);
      b[int(b.length)] ^= 1 << int(8);
      return { handshake: true, bytes: b };
    }
    case 2: {
      // a header announcing a huge or odd length, then little data
      const b = randomBytes(14);
      b[1] = 0x80 | (rand() < 0.5 ? 127 : 126);
      return { handshake: true, bytes: b };
    }
    case 3: // random opcodes and flags on otherwise well-formed frames
      return {
        handshake: true,
        bytes: Buffer.concat(
          Array.from({ length: 1 + int(5) }, () =>
            frame(int(16), randomBytes(int(130)), { fin: rand() < 0.7, rsv: rand() < 0.2 ? int(8) : 0 }),
          ),
        ),
      };
    case 4: {
      // a handshake with random damage
      const req = Buffer.from(upgradeRequest());
      for (let k = 0; k < 1 + int(4); k++) req[int(req.length)] = int(256);
      return { handshake: false, bytes: req };
    }
    default: // a valid frame cut anywhere, then the connection drops
      return { handshake: true, bytes: frame(2, randomBytes(int(2000))).subarray(0, int(2000)) };
  }
}

describe.each(MODES)('hostile input ($name)', ({ threads, workers }) => {
  inMode(workers);
  it('150 seeded hostile peers: no crash, every connection cleaned up, close once each, the server keeps serving', async () => {
    const s = await serve(threads, { config: { closeTimeout: 300, handshake: { timeout: 500 } } });
    try {
      const rand = prng(threads + 2026);
      for (let round = 0; round < 15; round++) {
        await Promise.all(
          Array.from({ length: 10 }, async () => {
            const input = hostileInput(rand);
            const c = input.handshake ? await RawClient.open(s.port) : await RawClient.connect(s.port, null);
            c.send(input.bytes);
            await new Promise((r) => setTimeout(r, 5));
            if (rand() < 0.5) c.destroy();
            else await c.waitClosed(300).then(() => c.destroy());
          }),
        );
      }
      await eventually('every connection to be cleaned up', () => s.server.stats().connections === 0, 10_000);
      const opened = s.events.filter((e) => e === 'afterInit').length;
      await eventually(
        'one close per opened connection',
        () => s.events.filter((e) => e === 'close').length === opened,
        10_000,
      );
      const ok = await RawClient.open(s.port);
      ok.sendFrame(1, 'still alive');
      expect((await ok.nextFrame()).payload.toString()).toBe('still alive');
      ok.destroy();
    } finally {
      await s.stop();
    }
  }, 60_000);
});
