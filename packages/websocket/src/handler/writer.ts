import { format } from 'node:util';
import { SEGMENT_SIZE as SEGMENT, acquireSegment, releaseSegment } from '../buffers/segments.js';
import type { ConnTransport } from './transport.js';
import type { MessageOrder } from './message-order.js';

/** Options of `conn.writeBuffer()`. */
export interface WriterOptions {
  /**
   * Send the message in frames of about this many bytes as it is written, instead of holding it
   * whole until `flush()` (0, the default: one frame at flush).
   */
  fragmentSize?: number;
}

/**
 * Builds one message from many writes (websocket.zig's `writeBuffer`): nothing is sent until
 * {@link Writer.flush}, which sends exactly one message. Bytes gather in pooled 16 KiB segments; a
 * long message takes more segments instead of copying what it holds into a bigger buffer. With
 * `fragmentSize`, full fragments leave as they fill, so a large message is never held whole.
 *
 * A writer that is never flushed sends nothing; {@link Writer.discard} gives its segments back at once.
 */
export class Writer {
  private readonly order: MessageOrder;
  private readonly transport: ConnTransport;
  private readonly opcode: number;
  private readonly fragmentSize: number;
  private readonly sealed: Buffer[] = [];
  private current: Buffer | null = null;
  private used = 0;
  private total = 0;
  private started = false;
  private state: 'open' | 'flushed' | 'discarded' = 'open';

  /** Made by `conn.writeBuffer(type)`. */
  constructor(order: MessageOrder, transport: ConnTransport, opcode: number, options: WriterOptions = {}) {
    this.order = order;
    this.transport = transport;
    this.opcode = opcode;
    this.fragmentSize = options.fragmentSize ?? 0;
  }

  /** Bytes written and not yet sent. */
  get length(): number {
    return this.total;
  }

  /** Appends text (UTF-8 encoded) or bytes. On a closed connection it does nothing (as `conn.write` returns false). */
  write(chunk: string | Uint8Array): this {
    if (this.closed()) return this;
    this.check('write');
    if (typeof chunk === 'string') {
      const n = Buffer.byteLength(chunk);
      if (this.current !== null && SEGMENT - this.used >= n) {
        this.current.write(chunk, this.used, 'utf8');
        this.used += n;
        this.total += n;
      } else {
        this.append(Buffer.from(chunk, 'utf8'));
      }
    } else {
      this.append(chunk);
    }
    if (this.fragmentSize > 0 && this.total >= this.fragmentSize) this.send(false);
    return this;
  }

  /** Appends `util.format(template, ...args)`, e.g. `w.format('%s scored %d', name, points)`. */
  format(template: string, ...args: unknown[]): this {
    return this.write(format(template, ...args));
  }

  /**
   * Sends the message (or its last fragment). Returns false when backpressure dropped it or the
   * connection is closed. A writer sends once: writing or flushing again is an error.
   */
  flush(): boolean {
    if (this.closed()) {
      this.state = 'flushed';
      return false;
    }
    this.check('flush');
    const sent = this.send(true);
    this.state = 'flushed';
    return sent;
  }

  /**
   * Drops what was written and not yet sent, and gives the segments back. A streamed writer that
   * already sent fragments ends its message with an empty last fragment, so the connection's other
   * writes (held until then) can go out.
   */
  discard(): void {
    if (this.state !== 'open') return;
    this.release();
    if (this.started && !this.transport.closed) this.order.parts(0, [], 0, true, this);
    this.state = 'discarded';
  }

  /** The connection is closed (the peer left, or a close was sent): what was written is given back, nothing is sent. */
  private closed(): boolean {
    if (this.state !== 'open' || !this.transport.closed) return false;
    this.release();
    return true;
  }

  private check(what: string): void {
    if (this.state !== 'open') {
      throw new Error(
        `cannot ${what}: this Writer was already ${this.state}; a Writer sends exactly one message, get a new one from conn.writeBuffer()`,
      );
    }
  }

  private append(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      if (this.current === null || this.used === SEGMENT) {
        if (this.current !== null) this.sealed.push(this.current);
        this.current = acquireSegment();
        this.used = 0;
      }
      const n = Math.min(SEGMENT - this.used, bytes.length - at);
      this.current.set(bytes.subarray(at, at + n), this.used);
      this.used += n;
      at += n;
    }
    this.total += bytes.length;
  }

  private send(fin: boolean): boolean {
    const parts: Buffer[] = [...this.sealed];
    if (this.current !== null && this.used > 0) parts.push(this.current.subarray(0, this.used));
    const sent = this.order.parts(this.started ? 0 : this.opcode, parts, this.total, fin, this);
    this.started = true;
    this.release(); // the transport copied the bytes
    return sent;
  }

  private release(): void {
    for (const s of this.sealed) releaseSegment(s);
    if (this.current !== null) releaseSegment(this.current);
    this.sealed.length = 0;
    this.current = null;
    this.used = 0;
    this.total = 0;
  }
}
