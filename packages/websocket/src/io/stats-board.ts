import type { ServerStats } from '../engine/stats.js';
import { CLOSE_CODES, HANDSHAKE_STATUSES } from '../observe/tally.js';
import { HISTOGRAM_SLOTS, type Histogram } from '../observe/durations.js';
import { HOOK_NAMES } from '../handler/handler.js';

/**
 * The counters each I/O thread publishes for `server.stats()` on the main thread: numbers in shared
 * memory, written by the thread every {@link BOARD_PERIOD} ms and read (and summed) by the main
 * thread without asking, so `stats()` stays synchronous.
 */
interface Field {
  /** The counter in a thread's stats. */
  read(stats: ServerStats): number;
  /** Adds `value` to the counter in a total. */
  add(total: ServerStats, value: number): void;
  /** Whether it only grows (the others, such as buffered bytes, are the state of a moment). */
  cumulative: boolean;
}

const counter = (read: Field['read'], add: Field['add']): Field => ({ read, add, cumulative: true });

/** Place `k` of a histogram: a bucket's count, then the sum, then the count (observe/durations.ts). */
function slot(h: Histogram, k: number): number {
  const buckets = h.counts.length;
  return k < buckets ? h.counts[k]! : k === buckets ? h.sum : h.count;
}

function addSlot(h: Histogram, k: number, v: number): void {
  const buckets = h.counts.length;
  if (k < buckets) h.counts[k]! += v;
  else if (k === buckets) h.sum += v;
  else h.count += v;
}

/** One place per number of the histogram `of` picks. */
const histogram = (of: (s: ServerStats) => Histogram): Field[] =>
  Array.from({ length: HISTOGRAM_SLOTS }, (_, k) =>
    counter(
      (s) => slot(of(s), k),
      (t, v) => addSlot(of(t), k, v),
    ),
  );
const gauge = (read: Field['read'], add: Field['add']): Field => ({ read, add, cumulative: false });

/** The board's places, in order; each names its ServerStats member twice, both checked by the compiler. */
const FIELDS: readonly Field[] = [
  counter(
    (s) => s.upgraded,
    (t, v) => void (t.upgraded += v),
  ),
  counter(
    (s) => s.messages,
    (t, v) => void (t.messages += v),
  ),
  counter(
    (s) => s.writes,
    (t, v) => void (t.writes += v),
  ),
  gauge(
    (s) => s.buffered,
    (t, v) => void (t.buffered += v),
  ),
  counter(
    (s) => s.pool.hits,
    (t, v) => void (t.pool.hits += v),
  ),
  counter(
    (s) => s.pool.misses,
    (t, v) => void (t.pool.misses += v),
  ),
  counter(
    (s) => s.pool.dynamic,
    (t, v) => void (t.pool.dynamic += v),
  ),
  gauge(
    (s) => s.pool.freeSmall,
    (t, v) => void (t.pool.freeSmall += v),
  ),
  gauge(
    (s) => s.pool.freeLarge,
    (t, v) => void (t.pool.freeLarge += v),
  ),
  gauge(
    (s) => s.queued,
    (t, v) => void (t.queued += v),
  ),
  counter(
    (s) => s.crossed.shared,
    (t, v) => void (t.crossed.shared += v),
  ),
  counter(
    (s) => s.crossed.copied,
    (t, v) => void (t.crossed.copied += v),
  ),
  counter(
    (s) => s.publishes,
    (t, v) => void (t.publishes += v),
  ),
  counter(
    (s) => s.deliveries,
    (t, v) => void (t.deliveries += v),
  ),
  counter(
    (s) => s.backpressure.dropped,
    (t, v) => void (t.backpressure.dropped += v),
  ),
  counter(
    (s) => s.backpressure.closed,
    (t, v) => void (t.backpressure.closed += v),
  ),
  counter(
    (s) => s.compression.inflated,
    (t, v) => void (t.compression.inflated += v),
  ),
  counter(
    (s) => s.compression.deflated,
    (t, v) => void (t.compression.deflated += v),
  ),
  counter(
    (s) => s.bytes.in,
    (t, v) => void (t.bytes.in += v),
  ),
  counter(
    (s) => s.bytes.out,
    (t, v) => void (t.bytes.out += v),
  ),
  // One place per label value (the lists are fixed: see observe/tally.ts).
  ...HANDSHAKE_STATUSES.map((k) =>
    counter(
      (s) => s.handshakes[k],
      (t, v) => void (t.handshakes[k] += v),
    ),
  ),
  ...CLOSE_CODES.map((k) =>
    counter(
      (s) => s.closes[k],
      (t, v) => void (t.closes[k] += v),
    ),
  ),
  ...histogram((s) => s.handshakeSeconds),
  ...HOOK_NAMES.flatMap((name) => histogram((s) => s.hookSeconds[name])),
];

/** How often an I/O thread refreshes its board, in ms. */
export const BOARD_PERIOD = 20;

/** Shared memory for one thread's counters. */
export function statsBoard(): Float64Array {
  return new Float64Array(new SharedArrayBuffer(FIELDS.length * Float64Array.BYTES_PER_ELEMENT));
}

/** Copies a thread's counters onto its board. */
export function writeBoard(board: Float64Array, stats: ServerStats): void {
  for (let i = 0; i < FIELDS.length; i++) board[i] = FIELDS[i]!.read(stats);
}

/** Adds the cumulative counters of a thread that ended to `retired`, so totals never go backwards. */
export function retireBoard(retired: Float64Array, board: Float64Array): void {
  for (let i = 0; i < FIELDS.length; i++) if (FIELDS[i]!.cumulative) retired[i]! += board[i]!;
}

/** Adds a board's counters to `total`. */
export function addBoard(total: ServerStats, board: Float64Array): void {
  for (let i = 0; i < FIELDS.length; i++) FIELDS[i]!.add(total, board[i]!);
}
