/** Limits on a connection's topics (the resolved `pubsub` config). */
export interface TopicLimits {
  /** Topics one connection may be subscribed to at once. */
  maxTopicsPerConnection: number;
  /** Longest topic name, in characters (UTF-16 code units, a string's `length`). */
  maxTopicLength: number;
}

/** Throws a TypeError naming what is wrong with a topic name (well-formed Unicode of 1 to `max` UTF-16 code units). */
export function checkTopic(call: string, topic: unknown, max: number): asserts topic is string {
  if (typeof topic !== 'string') throw new TypeError(`${call}: a topic is a string; got ${typeof topic}`);
  if (topic.length === 0) throw new TypeError(`${call}: a topic name may not be empty`);
  if (topic.length > max) {
    throw new RangeError(
      `${call}: topic name of ${topic.length} characters is over the limit of ${max} (pubsub.maxTopicLength)`,
    );
  }
  // A lone surrogate has no UTF-8 form: across threads and servers it would become U+FFFD and meet another topic.
  if (LONE_SURROGATE.test(topic)) {
    throw new TypeError(
      `${call}: a topic name must be well-formed Unicode; ${JSON.stringify(topic)} holds a lone surrogate (half of a UTF-16 pair)`,
    );
  }
}

/** Matches a UTF-16 surrogate that is not half of a pair (in 'u' mode a pair is one code point). */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The topics of one connection, as its {@link Conn} sees them: kept where the handler runs (a worker
 * thread, or the I/O thread inline), so `isSubscribed` and `topics` answer at once, and checked
 * against the limit before anything is sent to the thread that owns the topics. Only the
 * connection's own handler changes them, so this view is exact.
 */
export class Subscriptions {
  private set: Set<string> | null = null;
  private readonly limits: TopicLimits;

  constructor(limits: TopicLimits) {
    this.limits = limits;
  }

  /** Adds `topic` (a name the caller checked); false when already there. Throws past the limit. */
  add(topic: string): boolean {
    const set = (this.set ??= new Set());
    if (set.has(topic)) return false;
    if (set.size >= this.limits.maxTopicsPerConnection) {
      throw new RangeError(
        `conn.subscribe(): this connection is subscribed to ${set.size} topics, the limit (pubsub.maxTopicsPerConnection); ` +
          'unsubscribe from one first, or raise the limit',
      );
    }
    set.add(topic);
    return true;
  }

  /** Removes `topic`; false when it was not there. */
  remove(topic: string): boolean {
    return this.set?.delete(topic) ?? false;
  }

  has(topic: string): boolean {
    return this.set?.has(topic) ?? false;
  }

  list(): string[] {
    return this.set === null ? [] : [...this.set];
  }

  /** The connection closed: its subscriptions ended with it. */
  clear(): void {
    this.set = null;
  }
}
