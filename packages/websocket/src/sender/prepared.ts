import { frameHeaderLength, writeFrameHeader } from '../protocol/frame-writer.js';
import type { WriteData } from './write-data.js';
import type { Compressor } from '../protocol/deflate-codec.js';

/**
 * Frames from this size are shared by reference among the connections they go to (each outbox
 * points at the same bytes); smaller ones are copied into each connection's batch, which costs
 * less than a buffer part of their own in a vectored write.
 */
export const SHARE_FROM = 1024;

/**
 * A message framed once for many connections (uWebSockets.js calls it a prepared message): header
 * and payload in one buffer that nothing ever writes again. Large ones get memory of their own,
 * so a slow subscriber holding one pins exactly its bytes, never a shared slab or a worker's ring.
 */
export function prepareFrame(opcode: number, data: WriteData): Buffer {
  const length = typeof data === 'string' ? Buffer.byteLength(data, 'utf8') : data.length;
  const size = frameHeaderLength(length, false) + length;
  const out = size >= SHARE_FROM ? Buffer.allocUnsafeSlow(size) : Buffer.allocUnsafe(size);
  const at = writeFrameHeader(out, 0, opcode, length, { fin: true });
  if (typeof data === 'string') out.write(data, at, 'utf8');
  else out.set(data, at);
  return out;
}

/**
 * One message on its way to many connections: the plain frame, and, for recipients that agreed on
 * permessage-deflate without server context takeover, the same message compressed once per window
 * size (made when the first such recipient takes it, then shared like the plain frame).
 */
export class PreparedMessage {
  /** The frame, uncompressed (RSV1 clear). */
  readonly frame: Buffer;
  private deflated: Map<number, Buffer> | null = null;

  constructor(frame: Buffer) {
    this.frame = frame;
  }

  /** The payload's length (what a compression threshold is compared with). */
  get payloadLength(): number {
    return this.frame.length - this.headerLength;
  }

  private get headerLength(): number {
    const n = this.frame[1]! & 0x7f;
    return n < 126 ? 2 : n === 126 ? 4 : 10;
  }

  /**
   * The message compressed by `compressor` (a shared one of `windowBits`), framed with RSV1: compressed at most once
   * per window size.
   */
  compressed(windowBits: number, compressor: Compressor): Buffer {
    let frame = this.deflated?.get(windowBits);
    if (frame === undefined) {
      const payload = compressor.compress(this.frame.subarray(this.headerLength));
      const size = frameHeaderLength(payload.length, false) + payload.length;
      frame = size >= SHARE_FROM ? Buffer.allocUnsafeSlow(size) : Buffer.allocUnsafe(size);
      payload.copy(frame, writeFrameHeader(frame, 0, this.frame[0]! & 0x0f, payload.length, { fin: true, rsv1: true }));
      (this.deflated ??= new Map()).set(windowBits, frame);
    }
    return frame;
  }
}
