/**
 * A byte ring in a SharedArrayBuffer that carries payloads between the I/O thread and one worker
 * without copying them through postMessage: the writer copies bytes in and sends only their
 * position; the reader gets a view. Positions are byte counts that only grow; the reader returns
 * space by publishing how far it has released (in order).
 */
export class RingWriter {
  readonly buffer: SharedArrayBuffer;
  private readonly bytes: Buffer;
  private readonly released: BigInt64Array;
  private readonly size: number;
  private head = 0;

  /** @param control 8 shared bytes where the reader publishes its released position */
  constructor(buffer: SharedArrayBuffer, control: SharedArrayBuffer) {
    this.buffer = buffer;
    this.bytes = Buffer.from(buffer);
    this.size = buffer.byteLength;
    this.released = new BigInt64Array(control);
  }

  /** Position after everything allocated so far. */
  get position(): number {
    return this.head;
  }

  /**
   * Room for `n` contiguous bytes: returns their offset in the ring (write them into
   * {@link bytesView}), or -1 when the ring is too full (the caller sends a copy instead).
   */
  allocate(n: number): number {
    if (n > this.size) return -1;
    const tail = Number(Atomics.load(this.released, 0));
    let offset = this.head % this.size;
    let skip = 0;
    if (offset + n > this.size) {
      skip = this.size - offset; // do not wrap a payload: waste the end of the ring instead
      offset = 0;
    }
    if (this.head + skip + n - tail > this.size) return -1;
    this.head += skip + n;
    return offset;
  }

  /** The ring's bytes, to copy allocated payloads into. */
  get bytesView(): Buffer {
    return this.bytes;
  }
}

/** The reading side of a {@link RingWriter}. */
export class RingReader {
  private readonly bytes: Buffer;
  private readonly released: BigInt64Array;

  constructor(buffer: SharedArrayBuffer, control: SharedArrayBuffer) {
    this.bytes = Buffer.from(buffer);
    this.released = new BigInt64Array(control);
  }

  /** A view of `length` bytes at `offset` (valid until released). */
  view(offset: number, length: number): Buffer {
    return this.bytes.subarray(offset, offset + length);
  }

  /** Gives back everything before `position`. */
  release(position: number): void {
    Atomics.store(this.released, 0, BigInt(position));
  }
}

/** Shared memory for one direction of one worker's traffic. */
export interface RingMemory {
  buffer: SharedArrayBuffer;
  control: SharedArrayBuffer;
}

/** Allocates ring memory of `size` bytes. */
export function ringMemory(size: number): RingMemory {
  return { buffer: new SharedArrayBuffer(size), control: new SharedArrayBuffer(8) };
}
