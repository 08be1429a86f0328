/**
 * Counters for `stats()` and `metrics()` that the engine keeps per thread: bytes each way, handshakes by the status
 * they were answered with, closes by the code of the side that closed first. The label values are a fixed list
 * (anything else counts as 'other'), so I/O threads publish them in shared memory like every other counter.
 */
import { durationSlots, observe } from './durations.js';

/** Handshake statuses counted by name: 101 for an upgrade, the HTTP statuses wsz and `init` commonly answer. */
// prettier-ignore
export const HANDSHAKE_STATUSES = [
  '101', '400', '401', '403', '404', '405', '408', '426', '429', '431', '500', '503', 'other',
] as const;

/** Close codes counted by name (RFC 6455 7.4.1, the IANA registry to 1014); others, 4000-4999 included, as other. */
// prettier-ignore
export const CLOSE_CODES = [
  '1000', '1001', '1002', '1003', '1005', '1006', '1007', '1008', '1009', '1010', '1011', '1012', '1013', '1014',
  'other',
] as const;

/** Counts by label value, every listed value present (0 until counted). */
export type LabelCounts<K extends string> = Record<K, number>;

function zeros<K extends string>(keys: readonly K[]): LabelCounts<K> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as LabelCounts<K>;
}

/** One thread's counters. */
export class Tally {
  /** Bytes read from and handed to connections' sockets (WebSocket connections, handshakes included). */
  bytesIn = 0;
  bytesOut = 0;
  readonly handshakes = zeros(HANDSHAKE_STATUSES);
  readonly closes = zeros(CLOSE_CODES);
  /** How long handshakes took, accepted or refused (one histogram, see observe/durations.ts). */
  readonly handshakeSeconds = durationSlots(1, false);

  /** An upgrade answered with `status` (101: accepted), begun at `startedAt` (a performance.now()). */
  handshake(status: number, startedAt: number): void {
    const key = String(status) as (typeof HANDSHAKE_STATUSES)[number];
    this.handshakes[key in this.handshakes ? key : 'other']++;
    observe(this.handshakeSeconds, 0, (performance.now() - startedAt) / 1000);
  }

  /** An open connection ended; `code` is the close code of the side that closed first (1006: neither). */
  close(code: number): void {
    const key = String(code) as (typeof CLOSE_CODES)[number];
    this.closes[key in this.closes ? key : 'other']++;
  }
}
