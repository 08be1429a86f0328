import type { BackplaneStats } from '../pubsub/backplane.js';
import { Tally, type CLOSE_CODES, type HANDSHAKE_STATUSES, type LabelCounts } from '../observe/tally.js';
import { durationSlots, readHistogram, type Histogram } from '../observe/durations.js';
import { HOOK_NAMES } from '../handler/handler.js';

/** A hook's name, as the handler class spells it. */
export type HookName = (typeof HOOK_NAMES)[number];

/** Counters a server keeps; see `Server.stats`. */
export interface ServerStats {
  /** Open sockets, handshaking ones included. */
  connections: number;
  /** Connections past the handshake (or running `init`). */
  upgraded: number;
  /** Of those, the ones on HTTP/2 streams (RFC 8441, `attach` to an http2 server); absent with I/O threads. */
  http2?: number;
  /** Text and binary messages received since the server started. */
  messages: number;
  /** Socket writes issued: everything a connection writes in one tick is one write. */
  writes: number;
  /** Bytes read from connections' sockets (`in`, upgrade requests included) and of frames handed to them (`out`). */
  bytes: { in: number; out: number };
  /** Upgrades by the status they were answered with: '101' accepted, an HTTP status refused ('other' for the rest). */
  handshakes: LabelCounts<(typeof HANDSHAKE_STATUSES)[number]>;
  /**
   * Connections that had opened and ended, by the close code of the side that closed first ('1006' when neither
   * sent a close frame; 'other' for codes not listed, 4000-4999 included).
   */
  closes: LabelCounts<(typeof CLOSE_CODES)[number]>;
  /** Bytes written and not yet taken by the kernel, over all connections (bounded by maxBackpressure each). */
  buffered: number;
  /** Buffer pool counters: hits, misses, one-off (dynamic) allocations, and free buffers on hand. */
  pool: { hits: number; misses: number; dynamic: number; freeSmall: number; freeLarge: number };
  /** Messages handed to handlers and not finished yet (waiting for a worker, or behind an async hook). */
  queued: number;
  /**
   * How messages crossed to worker threads: `shared`, read in place in the pool buffer they were
   * assembled in; `copied`, copied once into the worker's ring (messages that arrived whole in one
   * network read). Both 0 inline.
   */
  crossed: { shared: number; copied: number };
  /** Topics with at least one subscriber. */
  topics: number;
  /** Messages published (each once, however many subscribers it reached). */
  publishes: number;
  /** Frames queued to connections by publish, broadcast and sendTo (one per recipient). */
  deliveries: number;
  /** What `backpressurePolicy` did: data messages dropped ('drop'), connections closed with 1008 ('close'). */
  backpressure: { dropped: number; closed: number };
  /** permessage-deflate: compressed messages received (inflated) and sent (deflated). */
  compression: { inflated: number; deflated: number };
  /**
   * How long handshakes took, in seconds: from the socket reaching the thread that serves it (after TLS, for wss) to
   * the 101 or the refusal being written, `init` included.
   */
  handshakeSeconds: Histogram;
  /**
   * How long each hook took, in seconds, on the thread that ran it: from the call to its return, or to its promise
   * settling (the wait behind earlier hooks of the connection not included).
   * Recorded from the first read of `stats()` or `metrics()` on, so that a server nobody asks reads no clock per hook.
   */
  hookSeconds: Record<HookName, Histogram>;
  /** The backplane's counters, when there is one (see `backplane`). */
  backplane?: BackplaneStats;
  /** With `workerCount` > 1: I/O threads running now, how many were replaced after dying, and their sockets. */
  ioThreads?: {
    count: number;
    restarts: number;
    /** Open sockets on each I/O thread, by its index (how evenly the threads are loaded). */
    connections: number[];
  };
}

/** The histograms of `stats()` from a dispatcher's hook durations and a tally's handshake durations. */
export function durationStats(
  hooks: Float64Array,
  handshakes: Float64Array,
): Pick<ServerStats, 'handshakeSeconds' | 'hookSeconds'> {
  return {
    handshakeSeconds: readHistogram(handshakes, 0),
    hookSeconds: Object.fromEntries(HOOK_NAMES.map((name, i) => [name, readHistogram(hooks, i)])) as Record<
      HookName,
      Histogram
    >,
  };
}

/** Counters at zero, for totals to add threads' counts into (I/O threads). */
export function zeroStats(): ServerStats {
  const tally = new Tally();
  return {
    connections: 0,
    upgraded: 0,
    messages: 0,
    writes: 0,
    bytes: { in: 0, out: 0 },
    handshakes: tally.handshakes,
    closes: tally.closes,
    buffered: 0,
    pool: { hits: 0, misses: 0, dynamic: 0, freeSmall: 0, freeLarge: 0 },
    queued: 0,
    crossed: { shared: 0, copied: 0 },
    topics: 0,
    publishes: 0,
    deliveries: 0,
    backpressure: { dropped: 0, closed: 0 },
    compression: { inflated: 0, deflated: 0 },
    ...durationStats(durationSlots(HOOK_NAMES.length, false), durationSlots(1, false)),
  };
}
