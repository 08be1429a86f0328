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

/** Each field's path of keys into ServerStats. */
const KEYS = FIELDS.map((f) => f.split('.'));

/** How often an I/O thread refreshes its board, in ms. */
export const BOARD_PERIOD = 20;

/** Shared memory for one thread's counters. */
export function statsBoard(): Float64Array {
  return new Float64Array(new SharedArrayBuffer(FIELDS.length * Float64Array.BYTES_PER_ELEMENT));
}

/** The object holding field `i`'s counter, and the counter's key in it. */
function slot(stats: ServerStats, i: number): [Record<string, number>, string] {
  const keys = KEYS[i]!;
  let into = stats as unknown as Record<string, unknown>;
  for (let k = 0; k < keys.length - 1; k++) into = into[keys[k]!] as Record<string, unknown>;
  return [into as Record<string, number>, keys[keys.length - 1]!];
}

/** Copies a thread's counters onto its board. */
export function writeBoard(board: Float64Array, stats: ServerStats): void {
  for (let i = 0; i < KEYS.length; i++) {
    const [into, key] = slot(stats, i);
    board[i] = into[key]!;
  }
}

/** Adds a board's counters to `total`. */
export function addBoard(total: ServerStats, board: Float64Array): void {
  for (let i = 0; i < KEYS.length; i++) {
    const [into, key] = slot(total, i);
    into[key] = into[key]! + board[i]!;
  }
}
