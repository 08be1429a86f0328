import { randomFillSync } from 'node:crypto';
import { maskWord } from '../protocol/mask.js';

// Crypto-random masking keys, drawn 1024 at a time: one system call per 1024 frames, not per frame.
const BATCH = 4096;
const keys = Buffer.allocUnsafe(BATCH);
let offset = BATCH;

/** A fresh masking key (RFC 6455 5.3), as a word for `applyMask` / `writeFrameHeader`. */
export function nextMaskKey(): number {
  if (offset === BATCH) {
    randomFillSync(keys);
    offset = 0;
  }
  const word = maskWord(keys, offset);
  offset += 4;
  return word;
}
