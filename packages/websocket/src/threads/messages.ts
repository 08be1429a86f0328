/**
 * The batches the I/O thread and the workers exchange: one postMessage per direction per tick,
 * carrying a flat array of numbers (cheap to clone) and a side list for the rare values that are
 * not numbers (handshakes, reasons, payloads that did not fit in the ring).
 *
 * Each record is `kind, ...fields`, as the schemas below describe.
 */
export interface Batch {
  records: number[];
  extra: unknown[];
}

/**
 * How long a record that needs no prompt answer (a connection closed, its close hook done) may wait
 * for the next batch to the same thread, at most. Waking a sleeping thread costs more CPU than most
 * hooks (10-20 us of system time here), so such records ride along with the next batch that wakes it.
 */
export const LATER_MS = 5;

/** Payloads from this size travel in `extra` by transfer rather than by copy. */
const TRANSFER_FROM = 4096;

/**
 * `length` bytes of memory of their own, for a payload that travels in a batch's `extra` (the ring
 * was full). From 4 KiB their buffer joins `transfer`, so postMessage moves it to the other thread
 * rather than copying it; shorter ones are cloned, which costs less. (A Buffer from Node's shared
 * allocation pool would not do: cloning a view copies its whole underlying buffer.)
 */
export function ownBytes(length: number, transfer: ArrayBuffer[]): Buffer {
  const bytes = Buffer.allocUnsafeSlow(length); // not from the pool, and not zeroed: it is written over at once
  if (length >= TRANSFER_FROM) transfer.push(bytes.buffer as ArrayBuffer);
  return bytes;
}

/** A payload that arrived in `extra`, as a Buffer over the same memory (nothing else uses it). */
export function extraBytes(value: unknown): Buffer {
  const bytes = value as Uint8Array;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * A record schema: each kind's fields after the kind, by name, in order. From it come the kinds'
 * codes (1, 2, ... in declaration order), each record's length, and each field's offset within its
 * record, so the side that builds a batch ({@link BatchWriter}, which checks every record's length)
 * and the side that reads it ({@link forEachRecord}, reading `r[at + Field.X.name]`) work from one
 * description.
 */
export function schema<const T extends Record<string, readonly string[]>>(kinds: T) {
  const code = {} as { [K in keyof T]: number };
  const field = {} as { [K in keyof T]: { [F in T[K][number]]: number } };
  const size: number[] = [0];
  let n = 1;
  for (const [name, fields] of Object.entries(kinds)) {
    (code as Record<string, number>)[name] = n;
    (field as Record<string, Record<string, number>>)[name] = Object.fromEntries(fields.map((f, i) => [f, i]));
    size[n++] = fields.length;
  }
  return { code, field, size };
}

/**
 * I/O thread -> worker. `id` is the connection's; a payload is `offset, length` in the ring, or
 * `-1, index` into `extra` when it travels as a copy; a field named for a value in `extra` holds its index.
 */
const toWorker = schema({
  /** extra: { request, remoteAddress, remotePort, deflate } */
  Open: ['id', 'open'],
  AfterInit: ['id'],
  Message: ['id', 'binary', 'offset', 'length'],
  Ping: ['id', 'offset', 'length'],
  Pong: ['id', 'offset', 'length'],
  ClientClose: ['id', 'code', 'reason'],
  Closed: ['id'],
  /** The ring position the batch ends at (last in every batch). */
  End: ['position'],
  /** Bytes queued for the peer (reported when a backlog forms). */
  Buffered: ['id', 'bytes'],
  /** The backlog drained. */
  Drain: ['id'],
  /** Messages dropped by backpressure. */
  Dropped: ['id', 'count'],
  /**
   * A message read in place in a shared pool buffer (`memory`: extra index of its SharedArrayBuffer), given back by
   * token.
   */
  SharedMessage: ['id', 'binary', 'memory', 'byteOffset', 'length', 'token'],
  /** The I/O thread sent its close frame (a hook failed, stop, idle timeout, backpressure). */
  Closing: ['id'],
  /** The answer to a FromWorker.Count. */
  Count: ['request', 'count'],
  /** The answer to a FromWorker.Members: extra holds the members. */
  Members: ['request', 'members'],
  /** server.signal: extra holds the value for the serverMessage hook. */
  Signal: ['id', 'value'],
  /** Say (FromWorker.Idle) once the hooks of every connection closed so far have settled (a stop, no close hook). */
  Idle: ['request'],
} as const);

/** Worker -> I/O thread. */
const fromWorker = schema({
  /** extra: { protocol, headers } */
  InitOk: ['id', 'result'],
  /** extra: { message, headers } */
  InitFailed: ['id', 'status', 'info'],
  /** opcode: with the DEFLATED bit when the worker compressed it. */
  Frame: ['id', 'opcode', 'fin', 'offset', 'length'],
  /** extra: the encoded close payload (Uint8Array) */
  Close: ['id', 'payload'],
  ClientCloseDone: ['id', 'code'],
  /** extra: { hook, message } */
  HookFailed: ['id', 'info'],
  /** The close hook settled. */
  CloseDone: ['id'],
  /** Events finished since the last batch, and the inbound ring position released (last in every batch). */
  Progress: ['done', 'position'],
  PauseReading: ['id'],
  ResumeReading: ['id'],
  /** Complete pre-encoded frames. */
  Framed: ['id', 'hasData', 'offset', 'length'],
  /** A shared message is done; its pool buffer may be reused. */
  Released: ['token'],
  /** A hook event (anything but close) settled. */
  Settled: ['id'],
  Subscribe: ['id', 'topic'],
  /** A subscribe through the delivery wire format: extra `since` is a Position or null. */
  Resume: ['id', 'topic', 'since'],
  Unsubscribe: ['id', 'topic'],
  /** One frame, framed by the worker, for the subscribers of `topic` (the publisher's id; self 0/1). */
  Publish: ['id', 'self', 'topic', 'offset', 'length'],
  /** One frame for every open connection. */
  Broadcast: ['id', 'self', 'offset', 'length'],
  /** One frame for connection `id` (the recipient's). */
  SendTo: ['id', 'offset', 'length'],
  /** How many subscribers `topic` has (answered with ToWorker.Count). */
  Count: ['request', 'topic'],
  /** conn.track: extra holds the topic and the info (JSON). */
  Track: ['id', 'topic', 'info'],
  Untrack: ['id', 'topic'],
  /** Who is present in `topic` (answered with ToWorker.Members). */
  Members: ['request', 'topic'],
  /** The answer to a ToWorker.Idle. */
  Idle: ['request'],
} as const);

/** Record kinds, I/O thread -> worker. */
export const ToWorker = toWorker.code;
/** Field offsets within each ToWorker record (after its kind). */
export const ToWorkerField = toWorker.field;
/** Record kinds, worker -> I/O thread. */
export const FromWorker = fromWorker.code;
/** Field offsets within each FromWorker record (after its kind). */
export const FromWorkerField = fromWorker.field;

/** Which direction's schema a batch follows. */
export type Direction = 'toWorker' | 'fromWorker';
const SIZES: Record<Direction, number[]> = { toWorker: toWorker.size, fromWorker: fromWorker.size };

/**
 * One batch being built (either direction, on either side): records, the side list, and the
 * buffers to move rather than copy. Every record's length is checked against the schema.
 */
export class BatchWriter {
  records: number[] = [];
  extra: unknown[] = [];
  /** Buffers of `extra` that move to the other thread rather than being copied. */
  transfer: ArrayBuffer[] = [];
  private readonly sizes: readonly number[];

  /** @param direction the schema records follow: a direction's, or another schema's `size` */
  constructor(direction: Direction | readonly number[]) {
    this.sizes = typeof direction === 'string' ? SIZES[direction] : direction;
  }

  get empty(): boolean {
    return this.records.length === 0;
  }

  /** Appends one record: its kind, then exactly the fields the schema names for it. */
  add(kind: number, ...fields: number[]): void {
    this.addFields(kind, fields);
  }

  /** {@link add} for callers that already hold the fields in an array (no second array per record). */
  addFields(kind: number, fields: readonly number[]): void {
    if (fields.length !== this.sizes[kind])
      throw new Error(`thread batch: record ${kind} takes ${this.sizes[kind]} fields, got ${fields.length}`);
    const r = this.records;
    r.push(kind);
    for (let i = 0; i < fields.length; i++) r.push(fields[i]!);
  }

  /** Adds a value to the side list; returns its index (the field to record). */
  attach(value: unknown): number {
    return this.extra.push(value) - 1;
  }

  /** The batch so far, and its transfer list; the writer starts the next. */
  take(): { batch: Batch; transfer: ArrayBuffer[] } {
    const out = { batch: { records: this.records, extra: this.extra }, transfer: this.transfer };
    this.records = [];
    this.extra = [];
    this.transfer = [];
    return out;
  }
}

/** Calls `visit(kind, at)` for each record of `records`, `at` being the index of its first field. */
export function forEachRecord(
  direction: Direction | readonly number[],
  records: readonly number[],
  visit: (kind: number, at: number) => void,
): void {
  const sizes = typeof direction === 'string' ? SIZES[direction] : direction;
  for (let i = 0; i < records.length;) {
    const kind = records[i]!;
    const size = sizes[kind];
    if (size === undefined) throw new Error(`thread batch: unknown record ${kind} at ${i}`);
    visit(kind, i + 1);
    i += 1 + size;
  }
}

/** Sent once by a worker when it is ready, or when it could not load the handler. */
export type WorkerHello = { ready: true } | { ready: false; error: string };
