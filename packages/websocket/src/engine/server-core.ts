import type { BufferPool } from '../buffers/pool.js';
import type { Tally } from '../observe/tally.js';
import type { ResolvedConfig } from '../config/config.js';
import type { Dispatcher } from '../handler/dispatcher.js';
import type { PlainHttpHandler } from '../handler/plain-http.js';
import type { Logger } from '../logging/log.js';
import type { Hub } from '../pubsub/hub.js';
import type { LoopData } from '../sender/loop-data.js';
import type { SharedCodecs } from './deflate.js';
import type { HeadBuffers } from './request-reader.js';

/** What a connection needs from its server. */
export interface ServerCore extends HeadBuffers {
  readonly config: ResolvedConfig;
  readonly log: Logger;
  readonly pool: BufferPool;
  /** The write batching of this thread's event loop, shared by the connections' senders. */
  readonly loop: LoopData;
  readonly dispatcher: Dispatcher;
  readonly app: unknown;
  /** Messages gathered in pool buffers are copied before an inline hook sees them (not `borrowData`). */
  readonly ownCopies: boolean;
  /** Connections past their handshake (or with `init` running), counted against maxConn. */
  upgraded: number;
  /** Of those, the ones on HTTP/2 streams (RFC 8441). */
  http2: number;
  /** Messages received, for stats. */
  messages: number;
  /** Socket writes issued, for stats. */
  writes: number;
  /** Bytes, handshakes by status, closes by code (stats and metrics). */
  readonly tally: Tally;
  /** Topics and cross-connection sends. */
  readonly hub: Hub;
  /** Compression state shared by this server's connections (made on first use). */
  readonly codecs: SharedCodecs;
  /** Data messages dropped, and connections closed, by the backpressure policy (stats). */
  backpressureDrops: number;
  backpressureCloses: number;
  /** Called once when the socket is gone. */
  forget(id: number): void;
  /** The handler class's `static httpRequest`, which answers plain HTTP requests (null: 426 or 405). */
  readonly plainHttp: PlainHttpHandler | null;
  /** The Server facade, httpRequest's third argument. */
  readonly facade: unknown;
  /** A connection was upgraded or ended (I/O threads publish their counters at once). */
  lifecycle(): void;
  /**
   * Connection `id` is open (its 101 went out): I/O threads tell the main thread, which counts sends and broadcasts.
   */
  opened(id: number): void;
  /** An async init started (stop waits for it). */
  trackInit(init: Promise<unknown>): void;
}
