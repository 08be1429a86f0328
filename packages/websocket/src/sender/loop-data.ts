/**
 * The write batching of one event loop (uWebSockets calls its counterpart LoopData): which senders
 * flush at the end of this tick, which sender's read is being processed (it flushes when the read is
 * done), and the memory of the latest read and message, whose bytes a hook may echo without a copy.
 * The engine of a thread owns one and hands it to the senders of its connections; a client has its own.
 */
export class LoopData {
  /**
   * The memory of the latest socket read and of the latest message gathered from reads: a hook run
   * inline writes what it was given while they are current. (Two comparisons instead of a WeakSet of
   * every read, whose additions showed in profiles and whose entries the collector has to visit.)
   */
  lastRead: ArrayBufferLike | null = null;
  lastMessage: ArrayBufferLike | null = null;
  /** The sender whose connection is processing a read: it flushes once the read is done. */
  reading: Flushable | null = null;
  private readonly queued: Flushable[] = [];
  private readonly flushQueued = (): void => {
    const queued = this.queued;
    for (let i = 0; i < queued.length; i++) queued[i]!.flush();
    queued.length = 0;
  };

  /** Notes a socket read, so payloads viewing it may be sent without a copy. */
  noteReceived(chunk: Buffer): void {
    this.lastRead = chunk.buffer;
  }

  /** Notes a message in memory of its own (gathered across reads, or inflated), so it may be sent without a copy. */
  noteMessage(message: Buffer): void {
    if (message.byteOffset === 0 && message.length === message.buffer.byteLength) this.lastMessage = message.buffer;
  }

  /** Whether `data` views the latest read or message (so its bytes do not change: no copy needed). */
  received(data: Uint8Array): boolean {
    return data.buffer === this.lastRead || data.buffer === this.lastMessage;
  }

  /** Flushes `sender` at the end of this tick, with every other sender written to outside a read. */
  defer(sender: Flushable): void {
    if (this.queued.push(sender) === 1) queueMicrotask(this.flushQueued);
  }
}

/** A sender as the loop sees it. */
export interface Flushable {
  flush(): void;
}
