/**
 * RESP, Redis's protocol (version 2), as much as a pub/sub backplane needs: commands are arrays of bulk
 * strings; replies are simple strings, errors, integers, bulk strings and arrays, parsed incrementally
 * from any chunking, in time linear in the bytes received, and refused (never looped on, never thrown)
 * when malformed.
 */

/** A parsed reply. Errors are their own class so that a reply array can hold them. */
export type Reply = string | number | Buffer | null | RedisReplyError | Reply[];

/** An error reply (`-ERR ...`). */
export class RedisReplyError extends Error {}

/** One argument of a command: text, bytes, or pieces of bytes sent as one argument (not joined first). */
export type Argument = string | Buffer | readonly Buffer[];

/** Encodes one command into one buffer: `*N\r\n` then `$len\r\narg\r\n` per argument. */
export function encodeCommand(args: readonly Argument[]): Buffer {
  let size = 0;
  const heads: string[] = [];
  for (const a of args) {
    let length = 0;
    if (typeof a === 'string') length = Buffer.byteLength(a);
    else if (Buffer.isBuffer(a)) length = a.length;
    else for (const p of a) length += p.length;
    const head = `$${length}\r\n`;
    heads.push(head);
    size += head.length + length + 2;
  }
  const first = `*${args.length}\r\n`;
  const out = Buffer.allocUnsafe(first.length + size);
  let at = out.write(first, 0, 'latin1');
  for (let i = 0; i < args.length; i++) {
    at += out.write(heads[i]!, at, 'latin1');
    const a = args[i]!;
    if (typeof a === 'string') at += out.write(a, at, 'utf8');
    else if (Buffer.isBuffer(a)) at += a.copy(out, at);
    else for (const p of a) at += p.copy(out, at);
    out[at++] = 0x0d;
    out[at++] = 0x0a;
  }
  return out;
}

/** Longest header line (type byte to CRLF) a reply may have; a longer one is not RESP from a Redis. */
export const MAX_LINE = 64 * 1024;
/** Largest bulk string accepted (Redis's own proto-max-bulk-len default). */
export const MAX_BULK = 512 * 1024 * 1024;
/** Deepest nesting of arrays accepted. */
export const MAX_DEPTH = 32;

interface OpenArray {
  items: Reply[];
  left: number;
}

/**
 * Incremental reply parser: `push` bytes, get the complete replies they finish. Bytes are looked at
 * once: a header line is searched for only in bytes not yet searched, and a bulk string is copied
 * into memory of its exact size as its pieces arrive. A malformed stream sets {@link error} (and
 * nothing more is parsed): the caller drops the connection. The same bytes give the same replies and
 * the same error whatever their chunking.
 */
export class ReplyParser {
  /** Why the stream was refused, or null while it is well-formed. */
  error: string | null = null;
  /** Bytes of a header line not yet ended by CRLF. */
  private line: Buffer | null = null;
  /**
   * The bulk string being received: its pieces (views of the chunks, joined once when whole), the bytes
   * still missing, and whether its CRLF is still due. Memory grows with what arrives, never with what
   * a length announces.
   */
  private bulk: Buffer[] | null = null;
  private bulkLeft = 0;
  private crlfDue = 0;
  private readonly stack: OpenArray[] = [];

  push(chunk: Buffer): Reply[] {
    const out: Reply[] = [];
    if (this.error !== null) return out;
    let at = 0;
    while (at < chunk.length && this.error === null) {
      if (this.crlfDue > 0) {
        // The CRLF after a bulk string's bytes.
        const expected = this.crlfDue === 2 ? 0x0d : 0x0a;
        if (chunk[at] !== expected) return this.fail(out, 'a bulk string is not followed by CRLF');
        at++;
        if (--this.crlfDue === 0) {
          const pieces = this.bulk!;
          this.bulk = null;
          this.complete(pieces.length === 1 ? Buffer.from(pieces[0]!) : Buffer.concat(pieces), out);
        }
        continue;
      }
      if (this.bulk !== null) {
        const n = Math.min(this.bulkLeft, chunk.length - at);
        this.bulk.push(chunk.subarray(at, at + n));
        this.bulkLeft -= n;
        at += n;
        if (this.bulkLeft === 0) this.crlfDue = 2;
        continue;
      }
      // A header line: find its LF in the bytes of this chunk only (earlier ones were searched already).
      const lf = chunk.indexOf(0x0a, at);
      if (lf < 0) {
        const piece = chunk.subarray(at);
        this.line = this.line === null ? Buffer.from(piece) : Buffer.concat([this.line, piece]);
        if (this.line.length > MAX_LINE) return this.fail(out, `a reply line is longer than ${MAX_LINE} bytes`);
        return out;
      }
      let line = chunk.subarray(at, lf + 1);
      at = lf + 1;
      if (this.line !== null) {
        line = Buffer.concat([this.line, line]);
        this.line = null;
      }
      if (line.length > MAX_LINE + 2) return this.fail(out, `a reply line is longer than ${MAX_LINE} bytes`);
      if (line.length < 3 || line[line.length - 2] !== 0x0d)
        return this.fail(out, 'a reply line does not end with CRLF');
      this.header(line, out);
    }
    return out;
  }

  /** One header line (with its CRLF): a whole value, or the start of a bulk string or array. */
  private header(line: Buffer, out: Reply[]): void {
    const text = line.toString('latin1', 1, line.length - 2);
    if (text.includes('\r') || text.includes('\n')) return void this.fail(out, 'a reply line holds a bare CR or LF');
    switch (line[0]) {
      case 0x2b: // +
        return this.complete(text, out);
      case 0x2d: // -
        return this.complete(new RedisReplyError(text), out);
      case 0x3a: {
        // :
        const n = integer(text);
        if (n === null)
          return void this.fail(out, `an integer reply is not an integer: ${JSON.stringify(text.slice(0, 40))}`);
        return this.complete(n, out);
      }
      case 0x24: {
        // $
        const n = integer(text);
        if (n === null || n < -1 || n > MAX_BULK)
          return void this.fail(out, `a bulk string's length is not a length: ${JSON.stringify(text.slice(0, 40))}`);
        if (n === -1) return this.complete(null, out);
        this.bulk = [];
        this.bulkLeft = n;
        if (n === 0) this.crlfDue = 2;
        return;
      }
      case 0x2a: {
        // *
        const n = integer(text);
        if (n === null || n < -1 || n > 0x7fffffff)
          return void this.fail(out, `an array's length is not a length: ${JSON.stringify(text.slice(0, 40))}`);
        if (n === -1) return this.complete(null, out);
        if (n === 0) return this.complete([], out);
        if (this.stack.length >= MAX_DEPTH) return void this.fail(out, `arrays nest deeper than ${MAX_DEPTH}`);
        this.stack.push({ items: [], left: n });
        return;
      }
      default:
        return void this.fail(out, `not RESP: a reply starts with byte 0x${line[0]!.toString(16).padStart(2, '0')}`);
    }
  }

  /** A value is whole: it fills its array (closing every array it completes) or is a reply of its own. */
  private complete(value: Reply, out: Reply[]): void {
    for (;;) {
      const top = this.stack[this.stack.length - 1];
      if (top === undefined) {
        out.push(value);
        return;
      }
      top.items.push(value);
      if (--top.left > 0) return;
      this.stack.pop();
      value = top.items;
    }
  }

  private fail(out: Reply[], why: string): Reply[] {
    this.error = why;
    this.line = this.bulk = null;
    this.stack.length = 0;
    return out;
  }
}

/** A RESP integer (optional minus, 1 to 18 digits), or null. */
function integer(text: string): number | null {
  if (!/^-?[0-9]{1,18}$/.test(text)) return null;
  return Number(text);
}
