/**
 * `server.metrics()`: the server's counters in the Prometheus text exposition format, version 0.0.4, which
 * Prometheus, the OpenTelemetry collector's Prometheus receiver, VictoriaMetrics and Grafana Agent scrape. Built
 * from `stats()` when asked (nothing is kept for it between scrapes), so it is as exact as `stats()`: with I/O
 * threads, every thread's counters summed, at most a few ms old.
 */
import type { ServerStats } from '../engine/stats.js';

/** The content type to answer a scrape with. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Sample = [labels: Record<string, string> | null, value: number];

/** One metric family: its name, type, help line and samples. */
interface Family {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  samples: Sample[];
}

/** A label value escaped as the format requires (backslash, double quote, line feed). */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A HELP text escaped as the format requires (backslash, line feed). */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function render(families: readonly Family[]): string {
  let out = '';
  for (const f of families) {
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    for (const [labels, value] of f.samples) {
      const l =
        labels === null
          ? ''
          : `{${Object.entries(labels)
              .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
              .join(',')}}`;
      out += `${f.name}${l} ${Number.isFinite(value) ? value : value > 0 ? '+Inf' : value < 0 ? '-Inf' : 'NaN'}\n`;
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
  ];
  if (s.ioThreads) {
    families.push(
      { name: 'wsz_io_threads', type: 'gauge', help: 'I/O threads running.', samples: one(s.ioThreads.count) },
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
    );
  }
  return render(families);
}
