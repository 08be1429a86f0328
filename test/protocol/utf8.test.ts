import { describe, expect, it } from 'vitest';
import { Utf8Validator } from 'wsz/protocol';

function feedAll(bytes: number[], split: number[] = []): { ok: boolean; failedAtPiece: number; complete: boolean } {
  const v = new Utf8Validator();
  const buf = Buffer.from(bytes);
  const cuts = [0, ...split, buf.length];
  for (let i = 0; i + 1 < cuts.length; i++) {
    if (!v.feed(buf, cuts[i]!, cuts[i + 1]!)) return { ok: false, failedAtPiece: i, complete: v.complete };
  }
  return { ok: true, failedAtPiece: -1, complete: v.complete };
}

describe('Utf8Validator', () => {
  it('accepts ASCII, 2-, 3- and 4-byte sequences in one piece', () => {
    const r = feedAll([...Buffer.from('héllo €𝄞 κόσμε')]);
    expect(r).toEqual({ ok: true, failedAtPiece: -1, complete: true });
  });

  it('accepts valid text split at every byte boundary, incomplete until the last piece', () => {
    const bytes = [...Buffer.from('a€𝄞é')];
    for (let cut = 1; cut < bytes.length; cut++) {
      const v = new Utf8Validator();
      const b = Buffer.from(bytes);
      expect(v.feed(b, 0, cut)).toBe(true);
      expect(v.feed(b, cut, b.length)).toBe(true);
      expect(v.complete).toBe(true);
    }
  });

  it('accepts valid text fed one byte at a time', () => {
    const bytes = [...Buffer.from('κόσμε𝄞€')];
    const r = feedAll(bytes, bytes.map((_, i) => i).slice(1));
    expect(r.ok).toBe(true);
    expect(r.complete).toBe(true);
  });

  it('reports an incomplete code point at the end as not complete', () => {
    const r = feedAll([0xe2, 0x82]);
    expect(r.ok).toBe(true);
    expect(r.complete).toBe(false);
  });

  const invalid: Array<[string, number[]]> = [
    ['a lone continuation byte', [0x80]],
    ['an overlong 2-byte form (C0)', [0xc0, 0xaf]],
    ['an overlong 3-byte form (E0 80..9F)', [0xe0, 0x80, 0xaf]],
    ['an overlong 4-byte form (F0 80..8F)', [0xf0, 0x80, 0x80, 0xaf]],
    ['a UTF-16 surrogate (ED A0..BF)', [0xed, 0xa0, 0x80]],
    ['a code point above U+10FFFF (F4 90)', [0xf4, 0x90, 0x80, 0x80]],
    ['a lead byte F5', [0xf5, 0x80, 0x80, 0x80]],
    ['a lead byte FF', [0xff]],
    ['a lead byte followed by ASCII', [0xe2, 0x41]],
  ];
  for (const [what, bytes] of invalid) {
    it(`rejects ${what}`, () => {
      expect(feedAll(bytes).ok).toBe(false);
    });
  }

  it('fails in the piece that brings the first bad byte, not later', () => {
    // 'ab' | bad F0 9F then 41 | more valid text
    const bytes = [0x61, 0x62, 0xf0, 0x9f, 0x41, 0x63, 0x64];
    expect(feedAll(bytes, [2, 5]).failedAtPiece).toBe(1);
    // The bad byte alone in a piece, right after an incomplete lead byte
    expect(feedAll([0xce, 0xba, 0xe1, 0xbd, 0xc0], [3, 4]).failedAtPiece).toBe(2);
  });

  it('rejects a bad sequence that straddles a piece boundary as soon as its bad byte arrives', () => {
    // ED A0 (surrogate) split between pieces: ED alone is a fine prefix, A0 is the bad byte.
    const r = feedAll([0x61, 0xed, 0xa0, 0x80], [2]);
    expect(r).toMatchObject({ ok: false, failedAtPiece: 1 });
  });

  it('starts fresh after reset', () => {
    const v = new Utf8Validator();
    expect(v.feed(Buffer.from([0xe2]), 0, 1)).toBe(true);
    v.reset();
    expect(v.complete).toBe(true);
    expect(v.feed(Buffer.from('ok'), 0, 2)).toBe(true);
  });
});
