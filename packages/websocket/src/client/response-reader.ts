import { HandshakeResponseError, parseResponseHead, type ResponseHead } from '../protocol/client-handshake.js';
import { headerValue } from '../protocol/handshake.js';

/** Largest response head accepted. */
const MAX_HEAD = 16 * 1024;
/** Bytes of a refusal body kept for the error (servers put the reason there); the rest is not read. */
export const MAX_REFUSAL_BODY = 16 * 1024;

/** What reading the server's answer has come to. */
export type ResponseRead =
  | { kind: 'more' }
  | { kind: 'upgraded'; head: ResponseHead; rest: Buffer }
  /** A status other than 101 and its body, whole or cut at {@link MAX_REFUSAL_BODY}. */
  | { kind: 'refused'; head: ResponseHead; body: string }
  | { kind: 'error'; error: HandshakeResponseError };

/**
 * Reads the answer to an upgrade request from socket reads: the head (at most 16 KiB), then for a
 * refusal its body by Content-Length, chunked coding, or up to the end of the connection, keeping
 * at most {@link MAX_REFUSAL_BODY} bytes. Chunks are kept in a list and joined once, so a body that
 * arrives in many small reads costs no repeated copying.
 */
export class ResponseReader {
  private head: Buffer | null = null;
  private response: ResponseHead | null = null;
  private readonly parts: Buffer[] = [];
  private kept = 0;
  private mode: 'length' | 'chunked' | 'close' = 'close';
  private remaining = 0;
  /** Chunked coding: bytes of the current chunk still to read, or -1 while a size line is expected. */
  private chunkLeft = -1;
  private pending: Buffer | null = null;

  /** Feeds one read. */
  push(chunk: Buffer): ResponseRead {
    if (this.response === null) {
      const head = this.head === null ? chunk : Buffer.concat([this.head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_HEAD)
          return {
            kind: 'error',
            error: new HandshakeResponseError("the server's answer has no end of headers within 16 KiB"),
          };
        this.head = head;
        return { kind: 'more' };
      }
      this.head = null;
      const res = parseResponseHead(head.toString('latin1', 0, end));
      if (res instanceof Error) return { kind: 'error', error: res };
      const rest = head.subarray(end + 4);
      if (res.status === 101) return { kind: 'upgraded', head: res, rest };
      this.response = res;
      const length = headerValue(res.headers, 'content-length');
      const coding = headerValue(res.headers, 'transfer-encoding');
      if (coding !== undefined && /(^|,)\s*chunked\s*$/i.test(coding)) this.mode = 'chunked';
      else if (length !== undefined && /^\d+$/.test(length)) {
        this.mode = 'length';
        this.remaining = Math.min(Number(length), MAX_REFUSAL_BODY);
      }
      if (this.mode === 'length' && this.remaining === 0) return this.refused();
      return rest.length > 0 ? this.body(rest) : { kind: 'more' };
    }
    return this.body(chunk);
  }

  /** The connection ended: a refusal is reported with what came of its body. */
  end(): ResponseRead {
    if (this.response !== null) return this.refused();
    return {
      kind: 'error',
      error: new HandshakeResponseError('the server closed the connection during the handshake'),
    };
  }

  /** The refusal so far, for a body that does not complete in time. */
  partial(): ResponseRead | null {
    return this.response === null ? null : this.refused();
  }

  private keep(bytes: Buffer): boolean {
    const room = MAX_REFUSAL_BODY - this.kept;
    const take = bytes.length <= room ? bytes : bytes.subarray(0, room);
    if (take.length > 0) this.parts.push(take);
    this.kept += take.length;
    return this.kept >= MAX_REFUSAL_BODY;
  }

  private body(chunk: Buffer): ResponseRead {
    if (this.mode === 'length') {
      const take = chunk.length <= this.remaining ? chunk : chunk.subarray(0, this.remaining);
      this.remaining -= take.length;
      this.keep(take);
      return this.remaining === 0 ? this.refused() : { kind: 'more' };
    }
    if (this.mode === 'close') return this.keep(chunk) ? this.refused() : { kind: 'more' };
    // RFC 9112 7.1: chunk-size [ext] CRLF data CRLF ... 0 CRLF.
    let data = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = null;
    for (;;) {
      if (this.chunkLeft < 0) {
        const eol = data.indexOf('\r\n');
        if (eol < 0) {
          if (data.length > 1024) return this.refused(); // not chunked coding after all: report what we have
          this.pending = data;
          return { kind: 'more' };
        }
        const size = parseInt(data.toString('latin1', 0, eol).split(';')[0]!.trim(), 16);
        if (!Number.isFinite(size) || size === 0) return this.refused();
        this.chunkLeft = size + 2; // the data and its CRLF
        data = data.subarray(eol + 2);
      }
      const take = Math.min(this.chunkLeft, data.length);
      const dataEnd = Math.min(take, Math.max(0, this.chunkLeft - 2));
      if (this.keep(data.subarray(0, dataEnd))) return this.refused();
      this.chunkLeft -= take;
      data = data.subarray(take);
      if (this.chunkLeft === 0) this.chunkLeft = -1;
      if (data.length === 0) return { kind: 'more' };
    }
  }

  private refused(): ResponseRead {
    return { kind: 'refused', head: this.response!, body: Buffer.concat(this.parts, this.kept).toString('utf8') };
  }
}
