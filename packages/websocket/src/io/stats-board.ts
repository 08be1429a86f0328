import type { ServerStats } from '../server/server.js';

/**
 * The counters each I/O thread publishes for `server.stats()` on the main thread: numbers in shared
 * memory, written by the thread every {@link BOARD_PERIOD} ms and read (and summed) by the main
 * thread without asking, so `stats()` stays synchronous.
 */
const FIELDS = [
  'upgraded',
  'messages',
  'writes',
  'buffered',
  'pool.hits',
  'pool.misses',
  'pool.dynamic',
  'pool.freeSmall',
  'pool.freeLarge',
  'queued',
  'crossed.shared',
  'crossed.copied',
  'publishes',
  'deliveries',
  'backpressure.dropped',
  'backpressure.closed',
  'compression.inflated',
  'compression.deflated',
] as const;

/** How often an I/O thread refreshes its board, in ms. */
export const BOARD_PERIOD = 20;

/** Shared memory for one thread's counters. */
export function statsBoard(): Float64Array {
  return new Float64Array(new SharedArrayBuffer(FIELDS.length * Float64Array.BYTES_PER_ELEMENT));
}

function path(stats: object, field: string): number {
  let v: unknown = stats;
  for (const key of field.split('.')) v = (v as Record<string, unknown>)[key];
  return v as number;
}

/** Copies a thread's counters onto its board. */
export function writeBoard(board: Float64Array, stats: ServerStats): void {
  for (let i = 0; i < FIELDS.length; i++) board[i] = path(stats, FIELDS[i]!);
}

/** Adds a board's counters to `total`. */
export function addBoard(total: ServerStats, board: Float64Array): void {
  for (let i = 0; i < FIELDS.length; i++) {
    const keys = FIELDS[i]!.split('.');
    let into = total as unknown as Record<string, unknown>;
    for (let k = 0; k < keys.length - 1; k++) into = into[keys[k]!] as Record<string, unknown>;
    const last = keys[keys.length - 1]!;
    into[last] = (into[last] as number) + board[i]!;
  }
}
