import { frameHeaderLength, writeFrameHeader } from '../protocol/frame-writer.js';
import type { WriteData } from '../server/conn.js';

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
