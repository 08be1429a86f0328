import { HandshakeError } from '../protocol/errors.js';
import {
  findHeadEnd,
  parseRequestHead,
  PlainRequest,
  validateUpgrade,
  type UpgradeRequest,
} from '../protocol/handshake.js';

/** Where request heads that arrive in several reads are gathered (a small pool on the server). */
export interface HeadBuffers {
  takeHeadBuffer(): Buffer;
  returnHeadBuffer(buffer: Buffer): void;
}

/** A complete, valid upgrade request, and the bytes that followed it in the same reads (the first frames). */
export interface RequestRead {
  upgrade: UpgradeRequest;
  rest: Buffer[];
}

/**
 * Gathers an opening handshake from socket reads, bounded by `handshake.maxSize`. The usual
 * request, whole in the first read, is parsed in place; one cut across reads is gathered in a
 * pooled head buffer. Bytes after the request are kept: they are frames the client pipelined.
 */
export class RequestReader {
  private readonly maxSize: number;
  private readonly buffers: HeadBuffers;
  private head: Buffer | null = null;
  private length = 0;

  constructor(maxSize: number, buffers: HeadBuffers) {
    this.maxSize = maxSize;
    this.buffers = buffers;
  }

  /**
   * Feeds one read. Returns the request once complete, the HandshakeError to refuse it with (400,
   * 405, 426, 431, 505), or null while more bytes are needed.
   */
  push(chunk: Buffer): RequestRead | HandshakeError | null {
    const max = this.maxSize;
    if (this.head === null && chunk.length >= 4) {
      const end = findHeadEnd(chunk, 0, Math.min(chunk.length, max));
      if (end > 0) return this.complete(chunk, end, end < chunk.length ? [chunk.subarray(end)] : []);
    }
    const head = (this.head ??= this.buffers.takeHeadBuffer());
    const from = this.length;
    const take = Math.min(chunk.length, max - from);
    chunk.copy(head, from, 0, take);
    this.length += take;
    const end = findHeadEnd(head, from, this.length);
    if (end < 0)
      return this.length >= max
        ? new HandshakeError(431, `handshake request larger than ${max} bytes`, {}, 'WSZ_ERR_REQUEST_TOO_LARGE')
        : null;
    const rest: Buffer[] = [];
    // Copied out: the head buffer goes back to the pool.
    if (end < this.length) rest.push(Buffer.from(head.subarray(end, this.length)));
    if (take < chunk.length) rest.push(chunk.subarray(take));
    return this.complete(head, end, rest);
  }

  private complete(buf: Buffer, end: number, rest: Buffer[]): RequestRead | HandshakeError {
    const parsed = parseRequestHead(buf.toString('latin1', 0, end - 4));
    this.release();
    const upgrade = parsed instanceof HandshakeError ? parsed : validateUpgrade(parsed);
    if (upgrade instanceof PlainRequest) upgrade.rest = rest; // the start of its body, if it has one
    return upgrade instanceof HandshakeError ? upgrade : { upgrade, rest };
  }

  /** Gives the head buffer back (the request is done, or the connection is gone). */
  release(): void {
    if (this.head) this.buffers.returnHeadBuffer(this.head);
    this.head = null;
    this.length = 0;
  }
}
