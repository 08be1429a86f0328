import type { Socket } from 'node:net';

/** Size of a batch buffer: most ticks' writes for one connection fit in one. */
const BATCH_SIZE = 16 * 1024;
/** Free batch buffers kept for reuse across connections. */
const FREE_LIMIT = 64;
const free: Buffer[] = [];

function acquire(size: number): Buffer {
  if (size <= BATCH_SIZE) return free.pop() ?? Buffer.allocUnsafeSlow(BATCH_SIZE);
  return Buffer.allocUnsafeSlow(size);
}

function release(buffer: Buffer): void {
  if (buffer.length === BATCH_SIZE && free.length < FREE_LIMIT) free.push(buffer);
}

/**
 * The bytes one connection wrote during the current tick, gathered in one buffer and handed to
 * the socket in one write. Between ticks a connection holds no buffer at all: the batch buffer
 * goes back to a free list shared by all connections once the kernel has taken its bytes.
 */
export class Outbox {
  private buffer: Buffer | null = null;
  private length = 0;

  /** Bytes gathered and not yet flushed. */
  get pending(): number {
    return this.length;
  }

  /** Room for `n` more bytes; returns the buffer and the offset to write them at. */
  reserve(n: number): Buffer {
    const b = this.buffer;
    if (b === null) {
      this.buffer = acquire(n);
    } else if (b.length - this.length < n) {
      const grown = Buffer.allocUnsafeSlow(Math.max(b.length * 2, this.length + n));
      b.copy(grown, 0, 0, this.length);
      release(b);
      this.buffer = grown;
    }
    return this.buffer!;
  }

  /** Offset where the next reserved bytes go. */
  get offset(): number {
    return this.length;
  }

  /** Marks bytes up to `offset` as written into the buffer from {@link reserve}. */
  commit(offset: number): void {
    this.length = offset;
  }

  /**
   * Writes the gathered bytes (and then `extra`, by reference, in the same system call) to the
   * socket. Returns false when the socket can no longer be written.
   */
  flush(socket: Socket, extra?: Uint8Array): boolean {
    const b = this.buffer;
    const n = this.length;
    this.buffer = null;
    this.length = 0;
    if (!socket.writable) {
      if (b) release(b);
      return false;
    }
    if (extra) socket.cork();
    if (b !== null && n > 0) {
      if (socket.writableLength === 0) {
        socket.write(n === b.length ? b : b.subarray(0, n));
        // Written through to the kernel already: the buffer is free for the next connection.
        if (socket.writableLength === 0) release(b);
      } else if (n * 2 > b.length) {
        socket.write(b.subarray(0, n));
      } else {
        // Bytes queue behind earlier ones: queue an exact-size copy, not a mostly empty buffer.
        socket.write(Buffer.from(b.subarray(0, n)));
        release(b);
      }
    } else if (b !== null) {
      release(b);
    }
    if (extra) {
      socket.write(extra);
      socket.uncork();
    }
    return true;
  }

  /** Drops anything gathered (the connection is gone). */
  discard(): void {
    if (this.buffer) release(this.buffer);
    this.buffer = null;
    this.length = 0;
  }
}
