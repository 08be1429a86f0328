import type { Socket } from 'node:net';
import { SEGMENT_SIZE, acquireSegment, releaseSegment } from '../buffers/segments.js';

// A shared segment holds most ticks' writes for one connection; a frame larger than a segment gets
// a buffer of its own.
function acquire(size: number): Buffer {
  return size <= SEGMENT_SIZE ? acquireSegment() : Buffer.allocUnsafeSlow(size);
}

/**
 * The bytes one connection wrote during the current tick, handed to the socket in one system
 * call. Frames are encoded into a 16 KiB segment; when it is full the next frame starts a new
 * segment (nothing is copied into a bigger buffer), and large payloads join the chain by
 * reference. One segment leaves in one `write`, a chain in one `writev`. Between ticks a
 * connection holds no buffer: segments go back to a free list shared by all connections once the
 * kernel has taken their bytes.
 */
export class Outbox {
  private buffer: Buffer | null = null;
  private length = 0;
  /** Earlier parts of this tick, in order: filled segments and referenced payloads. */
  private chain: Uint8Array[] | null = null;
  /** The segments among `chain`, to reuse once written. */
  private segments: Buffer[] | null = null;
  private chained = 0;
  /** Callbacks of lent payloads in the chain: they run once the socket has taken this tick's bytes. */
  private lent: Array<() => void> | null = null;

  /** Bytes gathered and not yet flushed. */
  get pending(): number {
    return this.chained + this.length;
  }

  /** Room for `n` more contiguous bytes; returns the segment to write them into, at {@link offset}. */
  reserve(n: number): Buffer {
    const b = this.buffer;
    if (b === null) {
      this.buffer = acquire(n);
    } else if (b.length - this.length < n) {
      this.seal();
      this.buffer = acquire(n);
    }
    return this.buffer!;
  }

  /** Offset in the current segment where the next reserved bytes go. */
  get offset(): number {
    return this.length;
  }

  /** Marks bytes up to `offset` of the current segment as written. */
  commit(offset: number): void {
    this.length = offset;
  }

  /** Appends `data` without copying it; it must not change until flushed. */
  reference(data: Uint8Array): void {
    this.seal();
    (this.chain ??= []).push(data);
    this.chained += data.length;
  }

  /**
   * Appends `data` without copying it, for memory that is reused once `done` runs: when the
   * socket has taken the bytes (written through or failed), or when they are discarded.
   */
  lend(data: Uint8Array, done: () => void): void {
    this.reference(data);
    (this.lent ??= []).push(done);
  }

  /** Moves the current segment into the chain. */
  private seal(): void {
    const b = this.buffer;
    if (b === null) return;
    if (this.length > 0) {
      (this.chain ??= []).push(b.subarray(0, this.length));
      (this.segments ??= []).push(b);
      this.chained += this.length;
    } else {
      releaseSegment(b);
    }
    this.buffer = null;
    this.length = 0;
  }

  /**
   * Writes what was gathered to the socket: everything, or, past `budget` bytes, whole parts up to
   * it (the rest stays here, in order, for the next flush). Returns false when the socket can no
   * longer be written.
   */
  flush(socket: Socket, budget = Infinity): boolean {
    if (!socket.writable) {
      this.discard();
      return false;
    }
    if (this.chain === null) {
      const b = this.buffer;
      const n = this.length;
      this.buffer = null;
      this.length = 0;
      if (b === null) return true;
      if (n === 0) {
        releaseSegment(b);
      } else if (socket.writableLength === 0) {
        socket.write(n === b.length ? b : b.subarray(0, n));
        // Written through to the kernel already: the segment is free for the next connection.
        if (socket.writableLength === 0) releaseSegment(b);
      } else if (n * 2 > b.length) {
        socket.write(b.subarray(0, n));
      } else {
        // Bytes queue behind earlier ones: queue an exact-size copy, not a mostly empty segment.
        socket.write(Buffer.from(b.subarray(0, n)));
        releaseSegment(b);
      }
      return true;
    }
    this.seal();
    let chain = this.chain;
    let segments = this.segments;
    let take = 0;
    if (this.chained > budget) {
      let bytes = 0;
      while (take < chain.length && bytes < budget) bytes += chain[take++]!.length;
    }
    if (take > 0 && take < chain.length) {
      // Hand over the first parts only: a slow reader's queue then shrinks visibly, part by part.
      const rest = chain.slice(take);
      chain = chain.slice(0, take);
      this.chain = rest;
      let bytes = 0;
      for (const part of chain) bytes += part.length;
      this.chained -= bytes;
      // Segments written now may go back to the free list (checked below); the ones in `rest` stay listed.
      const kept = new Set(rest.map((p) => p.buffer));
      segments = this.segments?.filter((s) => !kept.has(s.buffer)) ?? null;
      this.segments = this.segments?.filter((s) => kept.has(s.buffer)) ?? null;
      socket.cork();
      for (const part of chain) socket.write(part);
      socket.uncork();
      if (segments !== null && socket.writableLength === 0) for (const s of segments) releaseSegment(s);
      return true;
    }
    const lent = this.lent;
    this.chain = null;
    this.segments = null;
    this.lent = null;
    this.chained = 0;
    if (chain.length === 1 && lent === null && segments === null) {
      // One referenced payload (a shared frame): one plain write.
      socket.write(chain[0]!);
      return true;
    }
    socket.cork();
    const last = chain.length - 1;
    for (let i = 0; i < last; i++) socket.write(chain[i]!);
    // Node calls a write's callback once that write is done or failed, in order: the last one covers the chain.
    if (lent === null) socket.write(chain[last]!);
    else socket.write(chain[last]!, () => runAll(lent));
    socket.uncork();
    if (segments !== null && socket.writableLength === 0) for (const s of segments) releaseSegment(s);
    return true;
  }

  /** Drops anything gathered (the connection is gone). */
  discard(): void {
    if (this.buffer) releaseSegment(this.buffer);
    for (const s of this.segments ?? []) releaseSegment(s);
    const lent = this.lent;
    this.buffer = null;
    this.length = 0;
    this.chain = null;
    this.segments = null;
    this.lent = null;
    this.chained = 0;
    if (lent !== null) runAll(lent);
  }
}

function runAll(callbacks: ReadonlyArray<() => void>): void {
  for (const c of callbacks) c();
}
