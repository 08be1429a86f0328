import { describe, expect, it } from 'vitest';
import { applyMask, maskWord } from 'wsz/protocol';
import { simdMask } from '../../packages/websocket/src/protocol/mask-simd.js';

function byteMask(data: Buffer, key: Buffer, phase: number): Buffer {
  const out = Buffer.from(data);
  for (let i = 0; i < out.length; i++) out[i]! ^= key[(phase + i) & 3]!;
  return out;
}

describe('applyMask', () => {
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const word = maskWord(key, 0);

  it('XORs each byte with key byte (index mod 4), RFC 6455 5.3', () => {
    const data = Buffer.from('Hello');
    applyMask(data, 0, data.length, word, 0);
    expect(data).toEqual(Buffer.from([0x7f, 0x9f, 0x4d, 0x51, 0x58])); // RFC 6455 5.7 example
  });

  it('matches a byte-by-byte mask for every length, offset and phase', () => {
    const src = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 31 + 7) & 0xff));
    for (const length of [0, 1, 3, 4, 31, 32, 33, 64, 127, 200]) {
      for (let offset = 0; offset < 5; offset++) {
        for (let phase = 0; phase < 4; phase++) {
          const backing = Buffer.alloc(400);
          const data = backing.subarray(offset, offset + length);
          src.copy(data, 0, 0, length);
          applyMask(data, 0, length, word, phase);
          expect(data).toEqual(byteMask(src.subarray(0, length), key, phase));
        }
      }
    }
  });

  it('has WebAssembly SIMD on Node 20 (else long payloads fall back to the slower word loop)', () => {
    expect(simdMask(Buffer.alloc(16), 0, 16, 0)).toBe(true);
  });

  it('matches it on the SIMD path too: long ranges, ranges past the 64 KiB scratch, inner ranges', () => {
    const src = Buffer.from(Array.from({ length: 140_000 }, (_, i) => (i * 131 + 17) & 0xff));
    for (const length of [511, 512, 513, 1000, 4099, 65_536, 65_536 + 77, 131_072 + 5]) {
      for (const phase of [0, 1, 2, 3]) {
        const data = Buffer.from(src.subarray(0, length + 20));
        applyMask(data, 7, 7 + length, word, phase);
        expect(data.subarray(0, 7)).toEqual(src.subarray(0, 7)); // bytes outside the range are untouched
        expect(data.subarray(7, 7 + length)).toEqual(byteMask(src.subarray(7, 7 + length), key, phase));
        expect(data.subarray(7 + length)).toEqual(src.subarray(7 + length, length + 20));
      }
    }
  });

  it('unmasks when applied twice', () => {
    const data = Buffer.from('a longer payload that takes the word-at-a-time path');
    const copy = Buffer.from(data);
    applyMask(data, 0, data.length, word, 1);
    applyMask(data, 0, data.length, word, 1);
    expect(data).toEqual(copy);
  });
});
