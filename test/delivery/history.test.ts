/**
 * The history store (delivery/history.ts): positions, what a resume finds, and the bounds that keep its memory
 * within its settings.
 */
import { describe, expect, it } from 'vitest';
import {
  HistoryStore,
  type Position,
  type ResolvedHistoryRule,
} from '../../packages/websocket/src/delivery/history.js';

const rule = (topic: string, over: Partial<ResolvedHistoryRule> = {}): ResolvedHistoryRule => ({
  topic,
  messages: 100,
  seconds: 0,
  maxBytes: 1024 * 1024,
  ...over,
});

function store(rules: ResolvedHistoryRule[], limits = { maxBytes: 64 * 1024 * 1024, maxTopics: 1000 }, now = Date.now) {
  return new HistoryStore(rules, limits, now);
}

/** Appends a message whose frame is its text, and returns the position it got. */
function add(s: HistoryStore, topic: string, text: string): Position {
  let at: Position | null = null;
  s.append(topic, (p) => ((at = p), Buffer.from(text)));
  return at!;
}

const texts = (frames: Buffer[]): string[] => frames.map((f) => f.toString());

describe('HistoryStore', () => {
  it('gives each message of a topic the next offset, from 1, under one epoch per topic', () => {
    const s = store([rule('room:*')]);
    expect(s.position('room:a')).toMatchObject({ offset: 0 });
    const a1 = add(s, 'room:a', 'x');
    const a2 = add(s, 'room:a', 'y');
    const b1 = add(s, 'room:b', 'z');
    expect([a1.offset, a2.offset, b1.offset]).toEqual([1, 2, 1]);
    expect(a1.epoch).toBe(a2.epoch);
    expect(b1.epoch).not.toBe(a1.epoch);
    // Another store (a restart) draws other epochs.
    expect(add(store([rule('room:*')]), 'room:a', 'x').epoch).not.toBe(a1.epoch);
  });

  it('matches rules by name, by prefix and with *, first rule first; other topics keep nothing', () => {
    const s = store([rule('news', { messages: 1 }), rule('room:*', { messages: 2 }), rule('*', { messages: 3 })]);
    expect(s.keeps('news') && s.keeps('room:1') && s.keeps('anything')).toBe(true);
    const none = store([rule('room:*')]);
    expect(none.keeps('news')).toBe(false);
    expect(none.append('news', () => Buffer.from('x'))).toBeNull();
    expect(none.since('news', { offset: 0, epoch: '' })).toMatchObject({ recovered: false, reason: 'no history' });
    for (const [topic, kept] of [
      ['news', 1],
      ['room:1', 2],
      ['other', 3],
    ] as const) {
      for (let i = 0; i < 5; i++) add(s, topic, `${i}`);
      const { epoch } = s.position(topic)!;
      expect(s.since(topic, { offset: 5 - kept, epoch })).toMatchObject({ recovered: true });
      expect(s.since(topic, { offset: 4 - kept, epoch })).toMatchObject({
        recovered: false,
        reason: 'position too old',
      });
    }
  });

  it('answers a resume with the messages after the position, or why not', () => {
    const s = store([rule('t', { messages: 3 })]);
    for (const text of ['1', '2', '3', '4', '5']) add(s, 't', text);
    const { epoch } = s.position('t')!;
    const found = s.since('t', { offset: 3, epoch });
    expect(found.recovered && texts(found.frames)).toEqual(['4', '5']);
    expect(s.since('t', { offset: 2, epoch })).toMatchObject({ recovered: true, position: { offset: 5 } });
    expect(s.since('t', { offset: 5, epoch })).toMatchObject({ recovered: true, frames: [] });
    expect(s.since('t', { offset: 1, epoch })).toMatchObject({ recovered: false, reason: 'position too old' });
    expect(s.since('t', { offset: 6, epoch })).toMatchObject({ recovered: false, reason: 'position ahead' });
    expect(s.since('t', { offset: 5, epoch: 'x' })).toMatchObject({ recovered: false, reason: 'epoch changed' });
  });

  it('drops messages older than the rule allows', () => {
    let now = 1_000_000;
    const s = store([rule('t', { seconds: 10 })], undefined, () => now);
    add(s, 't', 'old');
    now += 6000;
    add(s, 't', 'newer');
    const { epoch } = s.position('t')!;
    now += 5000; // 'old' is 11 s old
    const found = s.since('t', { offset: 0, epoch });
    expect(found).toMatchObject({ recovered: false, reason: 'position too old' });
    const after = s.since('t', { offset: 1, epoch });
    expect(after.recovered && texts(after.frames)).toEqual(['newer']);
    // Once everything expired, a client that saw the last message still recovers: it missed nothing.
    now += 20_000;
    expect(s.since('t', { offset: 2, epoch })).toMatchObject({ recovered: true, frames: [] });
    expect(s.usage().messages).toBe(0);
  });

  it("keeps a topic within its rule's bytes, and all topics within the store's total, stalest topic first", () => {
    const kib = 'x'.repeat(1024);
    const s = store([rule('t:*', { maxBytes: 10 * 1024 })], { maxBytes: 25 * 1024, maxTopics: 100 });
    for (let i = 0; i < 50; i++) add(s, 't:a', kib);
    const a = s.usage();
    expect(a.messages).toBeLessThanOrEqual(10);
    expect(a.bytes).toBeLessThanOrEqual(10 * 1024);
    for (let i = 0; i < 50; i++) add(s, 't:b', kib);
    for (let i = 0; i < 50; i++) add(s, 't:c', kib);
    const all = s.usage();
    expect(all.bytes).toBeLessThanOrEqual(25 * 1024);
    // The stalest topic (a) gave up its messages first; the newest keeps its rule's share.
    const { epoch } = s.position('t:c')!;
    // 1 KiB frames count 1280 bytes each (with their records): 8 fit the rule's 10 KiB.
    const c = s.since('t:c', { offset: 42, epoch });
    expect(c.recovered && c.frames.length).toBe(8);
    const a41 = s.since('t:a', { offset: 41, epoch: s.position('t:a')!.epoch });
    expect(a41).toMatchObject({ recovered: false, reason: 'position too old' });
    // A message larger than every bound is still kept alone (the newest one is never dropped for the total).
    add(s, 't:d', 'y'.repeat(40 * 1024));
    expect(s.since('t:d', { offset: 0, epoch: s.position('t:d')!.epoch })).toMatchObject({ recovered: true });
  });

  it('remembers at most maxTopics positions: a forgotten topic starts over with a new epoch', () => {
    const s = store([rule('*', { messages: 1 })], { maxBytes: 1 << 20, maxTopics: 3 });
    const first = add(s, 'a', '1');
    for (const t of ['b', 'c', 'd']) add(s, t, '1');
    expect(s.usage().topics).toBe(3);
    const again = s.position('a')!;
    expect(again.offset).toBe(0);
    expect(again.epoch).not.toBe(first.epoch);
  });

  it('costs memory within its settings: 1,000 topics of 100 messages of 100 bytes', () => {
    const s = store([rule('*', { messages: 100 })], { maxBytes: 8 * 1024 * 1024, maxTopics: 10_000 });
    const payload = 'p'.repeat(100);
    for (let i = 0; i < 200; i++) for (let t = 0; t < 1000; t++) add(s, `topic-${t}`, payload);
    const u = s.usage();
    expect(u.topics).toBe(1000);
    // 1,000 x 100 x (100 + 256) = 35.6 MB asked for: the total holds it to 8 MiB.
    expect(u.bytes).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(u.messages).toBeLessThanOrEqual(100_000);
  });
});
