import { Opcode } from '../protocol/opcodes.js';
import { Compression, type WriteData } from '../sender/write-data.js';
import { type ConnTransport } from './transport.js';

/** A data frame written while another writer's fragmented message was open, kept to send after it. */
interface Held {
  owner: unknown;
  opcode: number;
  /** A payload of its own (copied when held): the caller may reuse its buffer at once. */
  data: WriteData | null;
  parts: readonly Uint8Array[] | null;
  length: number;
  fin: boolean;
  /** Pre-framed bytes with data frames. */
  framed: boolean;
  compression: Compression;
}

/** The owner of writes that are whole messages (never left open). */
const WHOLE = Symbol('whole message');

/**
 * Keeps data messages whole on the wire (RFC 6455 5.4: the fragments of a message are not
 * interleaved with other data frames). While one writer (a streamed {@link Writer}, or raw
 * `writeFrame` calls with `fin: false`) has a fragmented message open, data frames from anyone else
 * are copied and held, and go out in order once that message ends; control frames pass at once.
 * It sits in {@link Conn}, so inline and worker-thread handlers keep the same order. Held bytes count
 * against `maxBackpressure`: a new message that would pass it is refused (the write returns false).
 */
export class MessageOrder {
  private readonly transport: ConnTransport;
  /** Who has a fragmented message open, or null. */
  private owner: unknown = null;
  private held: Held[] | null = null;
  private heldBytes = 0;
  /** Writers whose held message start was refused (over the limit): their fragments are dropped too. */
  private refused: Set<unknown> | null = null;

  constructor(transport: ConnTransport) {
    this.transport = transport;
  }

  /** Writes wait here (behind a second writer's fragmented message): a new whole message would be held here too. */
  get holding(): boolean {
    return this.held !== null;
  }

  /** Bytes held behind an open fragmented message. */
  get pending(): number {
    return this.heldBytes;
  }

  /** One frame from `owner` (undefined: a whole message written in one call). */
  frame(
    opcode: number,
    data: WriteData,
    fin: boolean,
    owner: unknown = WHOLE,
    compression = Compression.Auto,
  ): boolean {
    // The usual case, first: a whole message (or a control frame) with no fragmented message open. A
    // whole message while one is open, and nothing waits here, goes on too: the connection's sender
    // holds it behind that message, in one queue with publishes and other connections' sends.
    if (
      (fin && opcode !== Opcode.Continuation && (this.owner === null || (owner === WHOLE && this.held === null))) ||
      opcode >= Opcode.Close
    ) {
      return this.transport.sendFrame(opcode, data, fin, compression);
    }
    if (this.transport.closed) return this.clear();
    if (this.refused !== null && this.dropRefused(owner, opcode, fin)) return false;
    this.check(owner, opcode);
    if (!this.mayPass(owner)) {
      const copy = typeof data === 'string' ? data : Buffer.from(data);
      return this.hold({
        owner,
        opcode,
        data: copy,
        parts: null,
        length: typeof copy === 'string' ? Buffer.byteLength(copy) : copy.length,
        fin,
        framed: false,
        compression,
      });
    }
    const sent = this.transport.sendFrame(opcode, data, fin, compression);
    this.passed(owner, opcode, fin);
    return sent;
  }

  /** One frame whose payload is `parts` (a Writer's segments, reused once this returns). */
  parts(opcode: number, parts: readonly Uint8Array[], length: number, fin: boolean, owner: unknown): boolean {
    if (this.transport.closed) return this.clear();
    if (this.refused !== null && this.dropRefused(owner, opcode, fin)) return false;
    this.check(owner, opcode);
    if (!this.mayPass(owner)) {
      return this.hold({
        owner,
        opcode,
        data: null,
        parts: [Buffer.concat(parts, length)],
        length,
        fin,
        framed: false,
        compression: Compression.Auto,
      });
    }
    const sent = this.transport.sendParts(opcode, parts, length, fin);
    this.passed(owner, opcode, fin);
    return sent;
  }

  /** Pre-framed bytes: whole messages (and control frames), checked by the caller. */
  framed(bytes: Uint8Array, hasData: boolean): boolean {
    if (!hasData) return this.transport.sendFramed(bytes, false);
    if (this.transport.closed) return this.clear();
    if (this.held !== null)
      return this.hold({
        owner: WHOLE,
        opcode: Opcode.Binary,
        data: Buffer.from(bytes),
        parts: null,
        length: bytes.length,
        fin: true,
        framed: true,
        compression: Compression.Off,
      });
    return this.transport.sendFramed(bytes, true);
  }

  private mayPass(owner: unknown): boolean {
    return this.owner === null || this.owner === owner;
  }

  private heldFor(owner: unknown): boolean {
    return owner !== WHOLE && this.held !== null && this.held.some((h) => h.owner === owner);
  }

  /** Throws for a frame that would break the message it belongs to. */
  private check(owner: unknown, opcode: number): void {
    if (opcode === Opcode.Continuation && this.owner !== owner && !this.heldFor(owner)) {
      throw new RangeError(
        'cannot write a continuation frame: no fragmented message is open (start one with a text or binary frame and fin: false)',
      );
    }
    if (opcode !== Opcode.Continuation && this.owner === owner && owner !== null) {
      throw new RangeError(
        'cannot start a message inside a fragmented one: finish it first with a continuation frame with fin: true (RFC 6455 5.4)',
      );
    }
  }

  private passed(owner: unknown, opcode: number, fin: boolean): void {
    if (!fin && opcode !== Opcode.Continuation) this.owner = owner;
    else if (fin && opcode === Opcode.Continuation) {
      this.owner = null;
      if (this.held !== null) this.release();
    }
  }

  /** A continuation of a message whose start was refused is dropped with it (true); the last one ends that. */
  private dropRefused(owner: unknown, opcode: number, fin: boolean): boolean {
    if (opcode !== Opcode.Continuation || !this.refused!.has(owner)) return false;
    if (fin) this.refused!.delete(owner);
    return true;
  }

  private hold(h: Held): boolean {
    // What waits here counts against the connection's limit: beyond it, a new message is refused
    // (with its later fragments); a held message's continuations are kept, or it would go out cut.
    const limit = this.transport.maxBackpressure;
    if (
      limit > 0 &&
      h.opcode !== Opcode.Continuation &&
      this.heldBytes + this.transport.bufferedAmount + h.length > limit
    ) {
      if (!h.fin) (this.refused ??= new Set()).add(h.owner);
      return false;
    }
    (this.held ??= []).push(h);
    this.heldBytes += h.length;
    return true;
  }

  private clear(): false {
    this.held = null;
    this.heldBytes = 0;
    return false;
  }

  /** Sends what was held, in order, until another fragmented message is open and only other writers' frames remain. */
  private release(): void {
    const held = this.held!;
    let i = 0;
    while (i < held.length) {
      const h = held[i]!;
      if (this.owner !== null && h.owner !== this.owner) {
        i++;
        continue;
      }
      held.splice(i, 1);
      this.heldBytes -= h.length;
      if (this.transport.closed) return void this.clear();
      if (h.framed) this.transport.sendFramed(h.data as Uint8Array, true);
      else if (h.parts) this.transport.sendParts(h.opcode, h.parts, h.length, h.fin);
      else this.transport.sendFrame(h.opcode, h.data!, h.fin, h.compression);
      const before = this.owner;
      if (!h.fin && h.opcode !== Opcode.Continuation) this.owner = h.owner;
      else if (h.fin && h.opcode === Opcode.Continuation) this.owner = null;
      if (before !== null && this.owner === null) i = 0;
    }
    if (held.length === 0) this.held = null;
  }
}
