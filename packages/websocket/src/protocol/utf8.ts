import { isUtf8 } from 'node:buffer';

/**
 * Incremental UTF-8 validator (RFC 3629, as RFC 6455 8.1 requires). Feed it the bytes of a text
 * message in any split; it answers `false` as soon as the bytes seen so far cannot begin a valid
 * UTF-8 text, so a bad byte is caught in the chunk that brings it, even mid-frame or mid-fragment.
 * A code point cut at a chunk boundary is fine until {@link Utf8Validator.complete} is asked.
 *
 * Whole runs of complete code points go to Node's native `isUtf8`; only the at most 3 bytes of a
 * code point that straddles a boundary are checked here, byte by byte.
 */
export class Utf8Validator {
  /** Continuation bytes still owed by the code point cut at the last boundary. */
  private need = 0;
  /** Allowed range of the next continuation byte (narrowed after E0, ED, F0, F4). */
  private lower = 0x80;
  private upper = 0xbf;

  /** Forgets any partial code point, ready for a new message. */
  reset(): void {
    this.need = 0;
    this.lower = 0x80;
    this.upper = 0xbf;
  }

  /** True when the bytes fed so far end on a code point boundary. */
  get complete(): boolean {
    return this.need === 0;
  }

  /** Validates `buf[start..end)`; false when the bytes so far cannot be valid UTF-8. */
  feed(buf: Uint8Array, start: number, end: number): boolean {
    let i = start;
    while (this.need > 0 && i < end) {
      if (!this.continuation(buf[i++]!)) return false;
    }
    if (i >= end) return true;

    const tail = incompleteTailStart(buf, i, end);
    if (tail > i && !isUtf8(buf.subarray(i, tail))) return false;
    for (let j = tail; j < end; j++) {
      if (j === tail ? !this.lead(buf[j]!) : !this.continuation(buf[j]!)) return false;
    }
    return true;
  }

  private lead(b: number): boolean {
    this.lower = 0x80;
    this.upper = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) this.need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      this.need = 2;
      if (b === 0xe0)
        this.lower = 0xa0; // overlong
      else if (b === 0xed) this.upper = 0x9f; // UTF-16 surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      this.need = 3;
      if (b === 0xf0)
        this.lower = 0x90; // overlong
      else if (b === 0xf4) this.upper = 0x8f; // above U+10FFFF
    } else return false;
    return true;
  }

  private continuation(b: number): boolean {
    if (b < this.lower || b > this.upper) return false;
    this.lower = 0x80;
    this.upper = 0xbf;
    this.need--;
    return true;
  }
}

/**
 * Where a code point that `buf[start..end)` does not finish begins, or `end` when the range ends
 * on a boundary (or with bytes that are invalid anyway, which isUtf8 then rejects).
 */
function incompleteTailStart(buf: Uint8Array, start: number, end: number): number {
  let j = end - 1;
  let continuations = 0;
  while (continuations < 3 && j >= start && (buf[j]! & 0xc0) === 0x80) {
    j--;
    continuations++;
  }
  if (j < start) return end;
  const b = buf[j]!;
  if (b < 0xc0) return end;
  const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
  return end - j < length ? j : end;
}

/** True when the whole of `buf` is valid UTF-8 (used for close reasons). */
export function utf8IsValid(buf: Uint8Array): boolean {
  return isUtf8(buf);
}
