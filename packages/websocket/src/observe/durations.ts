/**
 * Duration histograms for `stats()` and `metrics()`: how long hooks and handshakes take. Each histogram is a run
 * of numbers in a Float64Array (one count per bucket, one for longer ones, the sum of seconds, the count), so a
 * hook thread or an I/O thread keeps its own in shared memory and the main thread adds them up when asked: no
 * message per observation, no lock (one writer per array).
 */

/** The buckets' upper bounds, in seconds (Prometheus `le`): 50 us to 10 s. */
// prettier-ignore
export const DURATION_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** Numbers per histogram: a count per bucket, one past the last bound (+Inf), the sum, the count. */
export const HISTOGRAM_SLOTS = DURATION_BUCKETS.length + 3;
const SUM = DURATION_BUCKETS.length + 1;
const COUNT = DURATION_BUCKETS.length + 2;

/** One histogram as `stats()` reports it. */
export interface Histogram {
  /**
   * Observations per bucket, not cumulative: `counts[i]` took at most `DURATION_BUCKETS[i]` seconds and more than
   * the bound before it; the last entry counts those longer than every bound.
   */
  counts: number[];
  /** Seconds observed in all. */
  sum: number;
  /** Observations. */
  count: number;
}

/**
 * Room for `n` histograms, in shared memory when other threads read it, and a switch after them: hooks are timed
 * only once it is on ({@link switchOn}), so a server nobody asks for metrics pays no clock reads per hook.
 */
export function durationSlots(n: number, shared: boolean): Float64Array {
  const bytes = (n * HISTOGRAM_SLOTS + 1) * Float64Array.BYTES_PER_ELEMENT;
  return new Float64Array(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
}

/** Whether `slots`' switch is on. */
export function timingOn(slots: Float64Array): boolean {
  return slots[slots.length - 1] === 1;
}

/** Turns `slots`' switch on. */
export function switchOn(slots: Float64Array): void {
  slots[slots.length - 1] = 1;
}

/** Records one observation of `seconds` in histogram `index` of `slots`. */
export function observe(slots: Float64Array, index: number, seconds: number): void {
  const base = index * HISTOGRAM_SLOTS;
  let bucket = 0;
  while (bucket < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[bucket]!) bucket++;
  slots[base + bucket]!++;
  slots[base + SUM]! += seconds;
  slots[base + COUNT]!++;
}

/** Histogram `index` of `slots`, as a plain object. */
export function readHistogram(slots: Float64Array, index: number): Histogram {
  const base = index * HISTOGRAM_SLOTS;
  return {
    counts: Array.from(slots.subarray(base, base + DURATION_BUCKETS.length + 1)),
    sum: slots[base + SUM]!,
    count: slots[base + COUNT]!,
  };
}

/** Adds `from` (slots of the same layout) into `into` (the switch aside). */
export function addSlots(into: Float64Array, from: Float64Array): void {
  for (let i = 0; i < into.length - 1; i++) into[i]! += from[i]!;
}

/** The histogram as slots (the inverse of {@link readHistogram}), appended to `out`. */
export function histogramSlots(h: Histogram): number[] {
  return [...h.counts, h.sum, h.count];
}

/** An empty histogram. */
export function emptyHistogram(): Histogram {
  return { counts: new Array<number>(DURATION_BUCKETS.length + 1).fill(0), sum: 0, count: 0 };
}
