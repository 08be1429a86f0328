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

/** Each field's place in ServerStats: the keys of the object holding it, and its own key. */
const HOLDER = FIELDS.map((f) => f.split('.').slice(0, -1));
const KEY = FIELDS.map((f) => f.split('.').at(-1)!);

/** How often an I/O thread refreshes its board, in ms. */
export const BOARD_PERIOD = 20;

/** Shared memory for one thread's counters. */
export function statsBoard(): Float64Array {
  return new Float64Array(new SharedArrayBuffer(FIELDS.length * Float64Array.BYTES_PER_ELEMENT));
}

/** The object holding field `i`'s counter (under key `KEY[i]`). */
function holder(stats: ServerStats, i: number): Record<string, number> {
  let into = stats as unknown as Record<string, unknown>;
  for (const key of HOLDER[i]!) into = into[key] as Record<string, unknown>;
  return into as Record<string, number>;
}

/** Copies a thread's counters onto its board. */
export function writeBoard(board: Float64Array, stats: ServerStats): void {
  for (let i = 0; i < KEY.length; i++) board[i] = holder(stats, i)[KEY[i]!]!;
}

/** Counters that only grow (the others, such as buffered bytes, are the state of a moment). */
const CUMULATIVE = FIELDS.map((f) => !['buffered', 'pool.freeSmall', 'pool.freeLarge', 'queued'].includes(f));

/** Adds the cumulative counters of a thread that ended to `retired`, so totals never go backwards. */
export function retireBoard(retired: Float64Array, board: Float64Array): void {
  for (let i = 0; i < KEY.length; i++) if (CUMULATIVE[i]) retired[i]! += board[i]!;
}

/** Adds a board's counters to `total`. */
export function addBoard(total: ServerStats, board: Float64Array): void {
  for (let i = 0; i < KEY.length; i++) holder(total, i)[KEY[i]!]! += board[i]!;
}
