import { describe, expect, it } from 'vitest';
import { MEMMOVE_FROM, copyInto, ownCopy } from '../../packages/websocket/src/protocol/copy.js';

const bytes = (n: number, seed: number): Buffer =>
  Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

describe('copies into and out of shared memory', () => {
  for (const n of [0, 1, MEMMOVE_FROM - 1, MEMMOVE_FROM, 16384]) {
    it(`copies ${n} bytes into a shared buffer at an offset, touching nothing around them`, () => {
      const shared = Buffer.from(new SharedArrayBuffer(n + 16)).fill(0xee);
      const source = bytes(n, 7);
      copyInto(shared, 8, source);
      expect(shared.subarray(8, 8 + n).equals(source)).toBe(true);
      expect([...shared.subarray(0, 8), ...shared.subarray(8 + n)]).toEqual(new Array(16).fill(0xee));
    });

    it(`gives ${n} bytes of shared memory back as memory of their own`, () => {
      const shared = Buffer.from(new SharedArrayBuffer(n + 4));
      copyInto(shared, 4, bytes(n, 3));
      const own = ownCopy(shared.subarray(4));
      expect(own.equals(bytes(n, 3))).toBe(true);
      expect(own.buffer).not.toBeInstanceOf(SharedArrayBuffer);
      shared.fill(0);
      expect(own.equals(bytes(n, 3))).toBe(true); // the copy does not change under its owner
    });
  }
});
