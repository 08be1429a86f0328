/**
 * 16 KiB segments shared by every outbox and Writer of a thread: a tick's outgoing frames and a
 * Writer's message are built in them, and they come back here once their bytes are taken.
 */

/** Size of a segment. */
export const SEGMENT_SIZE = 16 * 1024;
/** Free segments kept for reuse (1 MiB). */
const FREE_LIMIT = 64;
const free: Buffer[] = [];

/** A segment from the free list, or a new one. */
export function acquireSegment(): Buffer {
  return free.pop() ?? Buffer.allocUnsafeSlow(SEGMENT_SIZE);
}

/** Gives back a segment (any other buffer is left to the garbage collector). */
export function releaseSegment(buffer: Buffer): void {
  if (buffer.length === SEGMENT_SIZE && free.length < FREE_LIMIT) free.push(buffer);
}
