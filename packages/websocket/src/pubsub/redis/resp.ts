/**
 * RESP, Redis's protocol (version 2), as much as a pub/sub backplane needs: commands are arrays of bulk
 * strings; replies are simple strings, errors, integers, bulk strings and arrays, parsed incrementally
 * from any chunking.
 */

/** A parsed reply. Errors are their own class so that a reply array can hold them. */
export type Reply = string | number | Buffer | null | RedisReplyError | Reply[];

/** An error reply (`-ERR ...`). */
export class RedisReplyError extends Error {}

/** One argument of a command: text, bytes, or pieces of bytes sent as one argument (not joined first). */
export type Argument = string | Buffer | readonly Buffer[];

/** Encodes one command into one buffer: `*N\r\n` then `$len\r\narg\r\n` per argument. */
export function encodeCommand(args: readonly Argument[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const pieces = typeof a === 'string' ? [Buffer.from(a)] : Buffer.isBuffer(a) ? [a] : a;
    let length = 0;
    for (const p of pieces) length += p.length;
    parts.push(Buffer.from(`$${length}\r\n`), ...pieces, CRLF);
  }
  return Buffer.concat(parts);
}

const CRLF = Buffer.from('\r\n');

/** Incremental reply parser: `push` bytes, get the complete replies they finish. */
export class ReplyParser {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Reply[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Reply[] = [];
    for (;;) {
      const r = this.parse(0);
      if (r === undefined) break;
      out.push(r.value);
      this.buf = this.buf.subarray(r.end);
    }
    return out;
  }

  /** One reply starting at `at`, or undefined when it is not complete yet. */
  private parse(at: number): { value: Reply; end: number } | undefined {
    const b = this.buf;
    if (at >= b.length) return undefined;
    const eol = b.indexOf(CRLF, at);
    if (eol < 0) return undefined;
    const line = b.toString('latin1', at + 1, eol);
    switch (b[at]) {
      case 0x2b: // +
        return { value: line, end: eol + 2 };
      case 0x2d: // -
        return { value: new RedisReplyError(line), end: eol + 2 };
      case 0x3a: // :
        return { value: Number(line), end: eol + 2 };
      case 0x24: {
        // $
        const n = Number(line);
        if (n < 0) return { value: null, end: eol + 2 };
        if (b.length < eol + 2 + n + 2) return undefined;
        return { value: Buffer.from(b.subarray(eol + 2, eol + 2 + n)), end: eol + 2 + n + 2 };
      }
      case 0x2a: {
        // *
        const n = Number(line);
        if (n < 0) return { value: null, end: eol + 2 };
        const items: Reply[] = [];
        let end = eol + 2;
        for (let i = 0; i < n; i++) {
          const r = this.parse(end);
          if (r === undefined) return undefined;
          items.push(r.value);
          end = r.end;
        }
        return { value: items, end };
      }
      default:
        throw new RedisReplyError(`not RESP: unexpected byte 0x${b[at]!.toString(16)}`);
    }
  }
}
