/**
 * How pub/sub reaches beyond one process: a backplane carries published messages between servers.
 * The hub tells it which topics have local subscribers and hands it every local publish; it hands back
 * what other servers published. Redis is built in (`RedisBackplane`); NATS or Postgres LISTEN/NOTIFY can
 * implement the same four calls.
 */
export interface Backplane {
  /** A topic got its first local subscriber: receive it from other servers from now on. */
  subscribe(topic: string): void;
  /** Its last local subscriber left. */
  unsubscribe(topic: string): void;
  /** A message published here (framed: the bytes go as they are); null topic: a broadcast. */
  publish(topic: string | null, frame: Buffer): void;
  /** Set by the server: a message another server published (null topic: a broadcast). */
  onMessage: ((topic: string | null, frame: Buffer) => void) | null;
  /** Counters for `server.stats().backplane`. */
  stats(): BackplaneStats;
  /** Ends its connections (the server's stop calls it). */
  close(): void;
}

/** What a backplane reports. */
export interface BackplaneStats {
  /** Connected to its broker now. */
  connected: boolean;
  /** Messages sent to other servers, and received from them. */
  published: number;
  received: number;
  /** Messages that could not be sent (the broker was away and the bounded queue full). Redis pub/sub is at most once. */
  lost: number;
  /** Reconnections since the start. */
  reconnects: number;
}
