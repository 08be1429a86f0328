import { randomBytes } from 'node:crypto';

/** Where a message stands in its topic: `offset` counts the topic's messages from 1; `epoch` names the history. */
export interface Position {
  /** The message's number in its topic: the first is 1, each next one adds 1 (0: none yet). */
  offset: number;
  /**
   * Names one unbroken history of the topic. It changes when what came before may be lost (the history lived in
   * memory that restarted, or was evicted), so a client can tell "I missed nothing" from "I cannot know".
   */
  epoch: string;
}

/** How much of a topic's past to keep (`pubsub.history`): the first rule whose `topic` matches applies. */
export interface HistoryRule {
  /** A topic name, a prefix ending in `*` (`'room:*'`), or `'*'` for every topic. */
  topic: string;
  /** Most messages kept (default 100). */
  messages?: number;
  /** Longest a message is kept, in seconds (default 0: no age limit). */
  seconds?: number;
  /** Most bytes kept for the topic, its messages' frames counted (default 1 MiB). */
  maxBytes?: number;
}

/** A rule with its defaults filled in. */
export interface ResolvedHistoryRule {
  topic: string;
  messages: number;
  seconds: number;
  maxBytes: number;
}

/** The limits of a whole store (`pubsub.historyMaxBytes`, `pubsub.historyTopics`). */
export interface HistoryLimits {
  /** Bytes kept over all topics: past it, the topic published to least recently loses its messages first. */
  maxBytes: number;
  /** Topics whose position is remembered: past it, the one published to least recently is forgotten. */
  maxTopics: number;
}

/** What a resume finds: the messages after the position, or why they cannot be given. */
export type Recovery =
  | { recovered: true; position: Position; frames: Buffer[] }
  | { recovered: false; position: Position; reason: RecoveryFailure };

/** Why a resume did not recover: see docs/delivery.md. */
export type RecoveryFailure = 'no history' | 'epoch changed' | 'position too old' | 'position ahead' | 'unavailable';

/**
 * Bytes counted per kept message besides its frame: its Buffer and ArrayBuffer objects and its slots in the arrays
 * (measured: about 210 bytes a message on Node 20 and 24; docs/delivery.md).
 */
const ENTRY_OVERHEAD = 256;

/** One topic's history: the last messages' frames and offsets, oldest first. */
class TopicHistory {
  readonly epoch: string;
  readonly rule: ResolvedHistoryRule;
  /** Offset of the last message published (0: none). */
  last = 0;
  frames: Buffer[] = [];
  /** When each kept message was published (ms), for `seconds`. */
  times: number[] = [];
  /** Index of the oldest kept message in the arrays (they are compacted now and then). */
  head = 0;
  bytes = 0;

  constructor(epoch: string, rule: ResolvedHistoryRule) {
    this.epoch = epoch;
    this.rule = rule;
  }

  get kept(): number {
    return this.frames.length - this.head;
  }

  /** Offset of the oldest message kept (last + 1 when none is). */
  get first(): number {
    return this.last - this.kept + 1;
  }

  dropOldest(): number {
    const frame = this.frames[this.head]!;
    this.frames[this.head] = EMPTY;
    this.head++;
    const freed = frame.length + ENTRY_OVERHEAD;
    this.bytes -= freed;
    if (this.head > 64 && this.head * 2 > this.frames.length) {
      this.frames = this.frames.slice(this.head);
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return freed;
  }

  dropAll(): number {
    const freed = this.bytes;
    this.frames = [];
    this.times = [];
    this.head = 0;
    this.bytes = 0;
    return freed;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * The recent past of topics that have a history rule, kept in this thread's memory: each message published to
 * such a topic gets the next offset and is kept (its frame as delivered) within the rule's count, age and bytes,
 * and within the store's total. A topic's epoch is drawn when the store first sees it, so a restart (a new store)
 * or a forgotten topic starts a new history that no old position matches.
 */
export class HistoryStore {
  private readonly rules: readonly ResolvedHistoryRule[];
  private readonly limits: HistoryLimits;
  private readonly now: () => number;
  /** Topics by recency of their last publish (a Map keeps insertion order: the first is the stalest). */
  private readonly topics = new Map<string, TopicHistory>();
  /** The topics that keep messages now, by recency of their last publish: where the total's eviction looks. */
  private readonly filled = new Map<string, TopicHistory>();
  /** Each topic name's rule (null: none), so the rules are matched once per name. */
  private readonly ruleCache = new Map<string, ResolvedHistoryRule | null>();
  private readonly prefix = randomBytes(4).toString('hex');
  private epochs = 0;
  private bytes = 0;

  constructor(rules: readonly ResolvedHistoryRule[], limits: HistoryLimits, now: () => number = Date.now) {
    this.rules = rules;
    this.limits = limits;
    this.now = now;
  }

  /** Whether `topic` has a history rule. */
  keeps(topic: string): boolean {
    return this.ruleOf(topic) !== null;
  }

  /** The rule that applies to `topic`, or null. */
  ruleOf(topic: string): ResolvedHistoryRule | null {
    let rule = this.ruleCache.get(topic);
    if (rule !== undefined) return rule;
    rule = this.rules.find((r) => r.topic === '*' || r.topic === topic || matchesPrefix(r.topic, topic)) ?? null;
    // Bounded like the topics: a cache, not a record.
    if (this.ruleCache.size >= this.limits.maxTopics) this.ruleCache.clear();
    this.ruleCache.set(topic, rule);
    return rule;
  }

  private historyOf(topic: string, rule: ResolvedHistoryRule): TopicHistory {
    let h = this.topics.get(topic);
    if (h === undefined) {
      h = new TopicHistory(`${this.prefix}${(this.epochs++).toString(36)}`, rule);
      this.topics.set(topic, h);
      while (this.topics.size > this.limits.maxTopics) this.forget(this.topics.keys().next().value!);
    }
    return h;
  }

  private forget(topic: string): void {
    const h = this.topics.get(topic)!;
    this.bytes -= h.dropAll();
    this.topics.delete(topic);
    this.filled.delete(topic);
  }

  /**
   * The position the next message of `topic` will follow: where a new subscriber starts. Null when the topic has no
   * history rule.
   */
  position(topic: string): Position | null {
    const rule = this.ruleOf(topic);
    if (rule === null) return null;
    const h = this.historyOf(topic, rule);
    return { offset: h.last, epoch: h.epoch };
  }

  /**
   * Gives the next message of `topic` its position and keeps `frame` (made by `frameOf` from that position, as
   * subscribers will receive it). Returns the frame, or null when the topic has no history rule.
   */
  append(topic: string, frameOf: (position: Position) => Buffer): Buffer | null {
    const rule = this.ruleOf(topic);
    if (rule === null) return null;
    const h = this.historyOf(topic, rule);
    // Most recently published last: the total's eviction takes the stalest topic first.
    this.topics.delete(topic);
    this.topics.set(topic, h);
    const frame = own(frameOf({ offset: ++h.last, epoch: h.epoch }));
    const at = this.now();
    h.frames.push(frame);
    h.times.push(at);
    const size = frame.length + ENTRY_OVERHEAD;
    h.bytes += size;
    this.bytes += size;
    this.filled.delete(topic);
    this.filled.set(topic, h);
    this.trim(topic, h, at);
    // Past the store's total, the stalest topics lose their oldest messages first (never this one's newest).
    for (const [name, other] of this.filled) {
      if (this.bytes <= this.limits.maxBytes) break;
      while (this.bytes > this.limits.maxBytes && other.kept > (other === h ? 1 : 0)) this.drop(name, other);
    }
    return frame;
  }

  /** Drops the oldest message of `topic`. */
  private drop(topic: string, h: TopicHistory): void {
    this.bytes -= h.dropOldest();
    if (h.kept === 0) this.filled.delete(topic);
  }

  /** Drops what the rule no longer allows: beyond the count, the bytes, or the age. */
  private trim(topic: string, h: TopicHistory, now: number): void {
    const { messages, maxBytes, seconds } = h.rule;
    while (h.kept > messages || (h.kept > 1 && h.bytes > maxBytes)) this.drop(topic, h);
    if (seconds > 0) {
      const oldest = now - seconds * 1000;
      while (h.kept > 0 && h.times[h.head]! < oldest) this.drop(topic, h);
    }
  }

  /**
   * The messages of `topic` after `since`, oldest first, and the position after them; or why they cannot all be
   * given (the caller then tells the client it did not recover, with the current position to start from).
   */
  since(topic: string, since: Position): Recovery {
    const rule = this.ruleOf(topic);
    if (rule === null) return { recovered: false, position: { offset: 0, epoch: '' }, reason: 'no history' };
    const h = this.historyOf(topic, rule);
    const position = { offset: h.last, epoch: h.epoch };
    if (rule.seconds > 0) this.trim(topic, h, this.now());
    if (since.epoch !== h.epoch) return { recovered: false, position, reason: 'epoch changed' };
    if (since.offset > h.last) return { recovered: false, position, reason: 'position ahead' };
    if (since.offset < h.first - 1) return { recovered: false, position, reason: 'position too old' };
    const from = h.head + (since.offset - h.first + 1);
    return { recovered: true, position, frames: h.frames.slice(from) };
  }

  /** Bytes and topics held now (for stats, and the tests of the bounds). */
  usage(): { bytes: number; topics: number; messages: number } {
    let messages = 0;
    for (const h of this.topics.values()) messages += h.kept;
    return { bytes: this.bytes, topics: this.topics.size, messages };
  }
}

/**
 * `frame` in memory of its own: a short frame is often a slice of Node's shared 8 KiB pool, which it would keep
 * whole for as long as history keeps the frame (with whatever else shares it).
 */
function own(frame: Buffer): Buffer {
  if (frame.buffer.byteLength <= frame.length + 64) return frame;
  const copy = Buffer.allocUnsafeSlow(frame.length);
  frame.copy(copy);
  return copy;
}

function matchesPrefix(pattern: string, topic: string): boolean {
  return pattern.endsWith('*') && topic.startsWith(pattern.slice(0, -1));
}
