import type { MessageBuffers } from '../protocol/message-assembler.js';

/** Released one-off buffers kept for reuse. */
const SPARE_LIMIT = 4;

/** Sizes and counts of a {@link BufferPool} (websocket.zig's `buffers` config). */
export interface BufferPoolOptions {
  smallSize: number;
  /** How many free small buffers to keep; null keeps as many as there are connections. */
  smallPool: number | null;
  largeSize: number;
  largePool: number;
  /** Allocate on SharedArrayBuffer, so worker threads can read a message where it was assembled. */
  shared?: boolean;
}

/** Counters of a {@link BufferPool}. */
export interface BufferPoolStats {
  /** Buffers handed out from a free list. */
  hits: number;
  /** Pool-sized buffers that had to be allocated because the free list was empty. */
  misses: number;
  /** Buffers larger than `largeSize` that had to be allocated (a few released ones are kept for reuse). */
  dynamic: number;
}

/**
 * Two free lists of fixed-size buffers, small and large, for message assembly and outgoing
 * batches. A request above `largeSize` gets a one-off ("dynamic") buffer. Each pooled buffer
 * owns its whole ArrayBuffer, so its size class is known from any view of it.
 */
export class BufferPool implements MessageBuffers {
  private readonly options: BufferPoolOptions;
  private readonly small: ArrayBufferLike[] = [];
  private readonly large: ArrayBufferLike[] = [];
  /** A few released one-off buffers, reused for later messages that fit: big messages tend to come in runs. */
  private readonly spare: ArrayBufferLike[] = [];
  private readonly allocate: (size: number) => Buffer;
  /** Every one-off buffer handed out, since it may be reused: never written by reference. */
  private readonly issued = new WeakSet<ArrayBufferLike>();
  /** Bound of the small free list when `smallPool` is null (the server sets it to its connection count). */
  smallLimit: number;
  /** Counters since the pool was made. */
  readonly stats: BufferPoolStats = { hits: 0, misses: 0, dynamic: 0 };

  /** @param options sizes and counts, as resolved from the server's `buffers` config */
  constructor(options: BufferPoolOptions) {
    this.options = options;
    this.allocate = options.shared ? (n) => Buffer.from(new SharedArrayBuffer(n)) : (n) => Buffer.allocUnsafeSlow(n);
    this.smallLimit = options.smallPool ?? 0;
  }

  /** A buffer of at least `size` bytes: small, large, or one-off by size; from a free list when one is there. */
  acquire(size: number): Buffer {
    const { smallSize, largeSize } = this.options;
    let free: ArrayBufferLike[] | null = null;
    let capacity = size;
    if (size <= smallSize) {
      free = this.small;
      capacity = smallSize;
    } else if (size <= largeSize) {
      free = this.large;
      capacity = largeSize;
    }
    if (free === null) {
      for (let i = 0; i < this.spare.length; i++) {
        if (this.spare[i]!.byteLength >= size) {
          this.stats.hits++;
          return Buffer.from(this.spare.splice(i, 1)[0]!, 0, size);
        }
      }
      this.stats.dynamic++;
      const b = this.allocate(size);
      this.issued.add(b.buffer);
      return b;
    }
    const reused = free.pop();
    if (reused) {
      this.stats.hits++;
      return Buffer.from(reused);
    }
    this.stats.misses++;
    return this.allocate(capacity);
  }

  /** Takes back a buffer (any view of it) from `acquire`, keeping it when its free list has room. */
  release(buffer: Buffer): void {
    const ab = buffer.buffer;
    const { smallSize, largeSize, largePool, smallPool } = this.options;
    if (ab.byteLength === smallSize) {
      if (this.small.length < (smallPool ?? this.smallLimit)) this.small.push(ab);
    } else if (ab.byteLength === largeSize) {
      if (this.large.length < largePool) this.large.push(ab);
    } else if (ab.byteLength > largeSize && this.spare.length < SPARE_LIMIT) {
      this.spare.push(ab);
    }
  }

  /** True when `buffer` may be a view of a pooled buffer (it will be reused after release). */
  owns(buffer: Uint8Array): boolean {
    const n = buffer.buffer.byteLength;
    return n === this.options.smallSize || n === this.options.largeSize || this.issued.has(buffer.buffer);
  }

  /** Free buffers on hand, for stats. */
  get free(): { small: number; large: number } {
    return { small: this.small.length, large: this.large.length };
  }
}
