/**
 * `server.metrics()`: the server's counters in the Prometheus text exposition format, version 0.0.4, which
 * Prometheus, the OpenTelemetry collector's Prometheus receiver, VictoriaMetrics and Grafana Agent scrape. Built
 * from `stats()` when asked (nothing is kept for it between scrapes), so it is as exact as `stats()`: with I/O
 * threads, every thread's counters summed, at most a few ms old.
 */
import type { ServerStats } from '../engine/stats.js';
import { DURATION_BUCKETS, type Histogram } from '../observe/durations.js';

/** The content type to answer a scrape with. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Sample = [labels: Record<string, string> | null, value: number];

/** One metric family: its name, type, help line and samples (a histogram's: `_bucket`, `_sum`, `_count`). */
interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  samples: Sample[] | Array<[labels: Record<string, string> | null, histogram: Histogram]>;
}

/** A label value escaped as the format requires (backslash, double quote, line feed). */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A HELP text escaped as the format requires (backslash, line feed). */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelText(labels: Record<string, string> | null): string {
  if (labels === null) return '';
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

function number(value: number): string {
  return Number.isFinite(value) ? String(value) : value > 0 ? '+Inf' : value < 0 ? '-Inf' : 'NaN';
}

/** A histogram's lines: cumulative buckets by `le`, the +Inf bucket (equal to the count), the sum and the count. */
function histogramLines(name: string, labels: Record<string, string> | null, h: Histogram): string {
  let out = '';
  let cumulative = 0;
  for (let i = 0; i < DURATION_BUCKETS.length; i++) {
    cumulative += h.counts[i]!;
    out += `${name}_bucket${labelText({ ...labels, le: String(DURATION_BUCKETS[i]) })} ${cumulative}\n`;
  }
  out += `${name}_bucket${labelText({ ...labels, le: '+Inf' })} ${h.count}\n`;
  out += `${name}_sum${labelText(labels)} ${number(h.sum)}\n${name}_count${labelText(labels)} ${h.count}\n`;
  return out;
}

function render(families: readonly Family[]): string {
  let out = '';
  for (const f of families) {
    if (f.samples.length === 0) continue;
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    for (const [labels, value] of f.samples) {
      if (typeof value === 'number') out += `${f.name}${labelText(labels)} ${number(value)}\n`;
      else out += histogramLines(f.name, labels, value);
    }
  }
  return out;
}

const one = (value: number): Sample[] => [[null, value]];
const byLabel = (label: string, counts: Record<string, number>): Sample[] =>
  Object.entries(counts).map(([k, v]) => [{ [label]: k }, v]);

/** The metric families of `stats`, rendered. */
export function renderMetrics(s: ServerStats): string {
  const families: Family[] = [
    {
      name: 'wsz_connections',
      type: 'gauge',
      help: 'Open sockets, handshaking ones included.',
      samples: one(s.connections),
    },
    {
      name: 'wsz_connections_upgraded',
      type: 'gauge',
      help: 'Connections past the handshake (or running init).',
      samples: one(s.upgraded),
    },
    {
      name: 'wsz_connections_http2',
      type: 'gauge',
      help: 'Upgraded connections on HTTP/2 streams (RFC 8441).',
      samples: one(s.http2 ?? 0),
    },
    {
      name: 'wsz_handshakes_total',
      type: 'counter',
      help: 'Upgrade requests by the status they were answered with (101: accepted; other: statuses not listed).',
      samples: byLabel('status', s.handshakes),
    },
    {
      name: 'wsz_closes_total',
      type: 'counter',
      help: 'Connections that had opened and ended, by the close code of the side that closed first (1006: neither sent one).',
      samples: byLabel('code', s.closes),
    },
    {
      name: 'wsz_messages_received_total',
      type: 'counter',
      help: 'Text and binary messages received.',
      samples: one(s.messages),
    },
    {
      name: 'wsz_received_bytes_total',
      type: 'counter',
      help: 'Bytes read from connections, upgrade requests included.',
      samples: one(s.bytes.in),
    },
    {
      name: 'wsz_sent_bytes_total',
      type: 'counter',
      help: 'Bytes of frames handed to sockets.',
      samples: one(s.bytes.out),
    },
    {
      name: 'wsz_socket_writes_total',
      type: 'counter',
      help: 'Socket writes issued (all a connection writes in one tick is one).',
      samples: one(s.writes),
    },
    {
      name: 'wsz_buffered_bytes',
      type: 'gauge',
      help: 'Bytes written and not yet taken by the kernel, over all connections.',
      samples: one(s.buffered),
    },
    {
      name: 'wsz_queued_messages',
      type: 'gauge',
      help: 'Messages handed to handlers and not finished yet (waiting for a hook thread, or behind an async hook).',
      samples: one(s.queued),
    },
    { name: 'wsz_topics', type: 'gauge', help: 'Topics with at least one subscriber.', samples: one(s.topics) },
    {
      name: 'wsz_publishes_total',
      type: 'counter',
      help: 'Messages published (each once).',
      samples: one(s.publishes),
    },
    {
      name: 'wsz_deliveries_total',
      type: 'counter',
      help: 'Frames queued to connections by publish, broadcast and sendTo (one per recipient).',
      samples: one(s.deliveries),
    },
    {
      name: 'wsz_backpressure_dropped_messages_total',
      type: 'counter',
      help: "Data messages dropped under backpressurePolicy 'drop'.",
      samples: one(s.backpressure.dropped),
    },
    {
      name: 'wsz_backpressure_closes_total',
      type: 'counter',
      help: "Connections closed with 1008 under backpressurePolicy 'close'.",
      samples: one(s.backpressure.closed),
    },
    {
      name: 'wsz_compressed_messages_total',
      type: 'counter',
      help: 'permessage-deflate messages inflated (in) and deflated (out).',
      samples: [
        [{ direction: 'in' }, s.compression.inflated],
        [{ direction: 'out' }, s.compression.deflated],
      ],
    },
    {
      name: 'wsz_pool_acquisitions_total',
      type: 'counter',
      help: 'Buffer pool requests: from a free list (hit), a new pool-sized buffer (miss), a one-off larger one (dynamic).',
      samples: [
        [{ result: 'hit' }, s.pool.hits],
        [{ result: 'miss' }, s.pool.misses],
        [{ result: 'dynamic' }, s.pool.dynamic],
      ],
    },
    {
      name: 'wsz_handshake_duration_seconds',
      type: 'histogram',
      help: 'Upgrade requests from the socket reaching its thread to the 101 or the refusal written, init included.',
      samples: [[null, s.handshakeSeconds]],
    },
    {
      name: 'wsz_hook_duration_seconds',
      type: 'histogram',
      help: 'Hook calls by hook, from the call to its return or its promise settling (hooks never called are left out).',
      samples: Object.entries(s.hookSeconds)
        .filter(([, h]) => h.count > 0)
        .map(([hook, h]) => [{ hook }, h] as [Record<string, string>, Histogram]),
    },
  ];
  if (s.ioThreads) {
    families.push(
      { name: 'wsz_io_threads', type: 'gauge', help: 'I/O threads running.', samples: one(s.ioThreads.count) },
      {
        name: 'wsz_io_thread_connections',
        type: 'gauge',
        help: 'Open sockets on each I/O thread (how evenly they are loaded).',
        samples: s.ioThreads.connections.map((n, i) => [{ thread: String(i) }, n] as Sample),
      },
      {
        name: 'wsz_io_thread_restarts_total',
        type: 'counter',
        help: 'I/O threads replaced after dying.',
        samples: one(s.ioThreads.restarts),
      },
    );
  }
  const b = s.backplane;
  if (b) {
    families.push(
      {
        name: 'wsz_backplane_connected',
        type: 'gauge',
        help: 'The backplane is connected to its broker and usable (1) or not (0).',
        samples: one(b.connected ? 1 : 0),
      },
      {
        name: 'wsz_backplane_messages_total',
        type: 'counter',
        help: 'Messages sent to other servers (published), received from them, lost (queue full while the broker was away), unheard (no other server subscribed).',
        samples: [
          [{ result: 'published' }, b.published],
          [{ result: 'received' }, b.received],
          [{ result: 'lost' }, b.lost],
          [{ result: 'unheard' }, b.unheard ?? 0],
        ],
      },
      {
        name: 'wsz_backplane_errors_total',
        type: 'counter',
        help: 'Error replies from the broker.',
        samples: one(b.errors ?? 0),
      },
      {
        name: 'wsz_backplane_reconnects_total',
        type: 'counter',
        help: 'Reconnections to the broker.',
        samples: one(b.reconnects),
      },
      {
        name: 'wsz_backplane_redirects_total',
        type: 'counter',
        help: 'Redirections followed on a Redis Cluster (MOVED, ASK) as slots move between masters.',
        samples: one(b.redirects ?? 0),
      },
      {
        name: 'wsz_backplane_resent_total',
        type: 'counter',
        help: 'Publishes to topics with history sent again after their connection dropped before the broker answered.',
        samples: one(b.resent ?? 0),
      },
    );
  }
  return render(families);
}
