/**
 * The batches the I/O thread and the workers exchange: one postMessage per direction per tick,
 * carrying a flat array of numbers (cheap to clone) and a side list for the rare values that are
 * not numbers (handshakes, reasons, payloads that did not fit in the ring).
 *
 * Each record is `kind, connection id, ...fields`; a payload is `offset, length` in the ring, or
 * `-1, index` into `extra` when it travels as a copy.
 */
export interface Batch {
  records: number[];
  extra: unknown[];
}

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

/** I/O thread -> worker. */
export const ToWorker = {
  /** id, extra index of { request, remoteAddress, remotePort } */
  Open: 1,
  AfterInit: 2,
  /** id, binary (0/1), offset, length */
  Message: 3,
  /** id, offset, length */
  Ping: 4,
  Pong: 5,
  /** id, code, extra index of reason */
  ClientClose: 6,
  Closed: 7,
  /** (no id) ring position the batch ends at */
  End: 8,
  /** id, bytes queued for the peer (reported when a backlog forms) */
  Buffered: 9,
  /** id: the backlog drained */
  Drain: 10,
  /** id, messages dropped by backpressure */
  Dropped: 11,
  /** id, binary (0/1), extra index of the SharedArrayBuffer, byte offset, length, token: a message read in place */
  SharedMessage: 12,
  /** id: the I/O thread sent its close frame (a hook failed, stop, idle timeout, backpressure) */
  Closing: 13,
  /** request id, count: the answer to a FromWorker.Count */
  Count: 14,
} as const;

/** Worker -> I/O thread. */
export const FromWorker = {
  /** id, extra index of { protocol, headers } */
  InitOk: 1,
  /** id, status, extra index of { message, headers } */
  InitFailed: 2,
  /** id, opcode, fin (0/1), offset, length */
  Frame: 3,
  /** id, extra index of the encoded close payload (Uint8Array) */
  Close: 4,
  /** id, code */
  ClientCloseDone: 5,
  /** id, extra index of { hook, message } */
  HookFailed: 6,
  /** id: the close hook settled */
  CloseDone: 7,
  /** (no id) events finished since the last batch, inbound ring position released */
  Progress: 8,
  /** id */
  PauseReading: 9,
  ResumeReading: 10,
  /** id, hasData (0/1), offset, length: complete pre-encoded frames */
  Framed: 11,
  /** (no id) token: a shared message is done; its pool buffer may be reused */
  Released: 12,
  /** id: a hook event (anything but close) settled */
  Settled: 13,
  /** id, extra index of the topic */
  Subscribe: 14,
  Unsubscribe: 15,
  /** publisher id, self (0/1), extra index of the topic, offset, length: one frame, framed by the worker */
  Publish: 16,
  /** sender id, self (0/1), offset, length: one frame for every open connection */
  Broadcast: 17,
  /** recipient id, offset, length: one frame for one connection */
  SendTo: 18,
  /** request id, extra index of the topic: how many subscribers it has (answered with ToWorker.Count) */
  Count: 19,
} as const;

/** Sent once by a worker when it is ready, or when it could not load the handler. */
export type WorkerHello = { ready: true } | { ready: false; error: string };
