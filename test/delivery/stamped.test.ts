/**
 * StampedDelivery (pubsub/stamped.ts): publications stamped beyond a hub (by the main thread, or by Redis) reach
 * each subscriber once and in offset order, whatever order the answers and the live publications arrive in.
 */
import { describe, expect, it } from 'vitest';
import type { Position } from '../../packages/websocket/src/delivery/history.js';
import type { Answer } from '../../packages/websocket/src/pubsub/delivery-frames.js';
import { StampedDelivery, type StampedMember } from '../../packages/websocket/src/pubsub/stamped.js';
import type { PreparedMessage } from '../../packages/websocket/src/sender/prepared.js';

const EPOCH = 'e1';

/** A subscriber that records the frames it is given (their text). */
function member(id: number, topics = ['t']): StampedMember & { got: string[] } {
  const got: string[] = [];
  return { id, topics: new Set(topics), got, deliver: (m: PreparedMessage) => (got.push(m.frame.toString()), true) };
}

/** A delivery whose asks wait until the test answers them. */
function setup(members: StampedMember[]) {
  const asks: Array<{ since: Position | null; answer: (a: Answer) => void }> = [];
  const d = new StampedDelivery(
    () => members,
    (_topic, since, answer) => asks.push({ since, answer }),
  );
  const live = (offset: number, except = 0) =>
    d.arrived('t', Buffer.from(`m${offset}`), except, { offset, epoch: EPOCH });
  const answer = (last: number, frames: string[], recovered = true) =>
    asks.shift()!.answer({ frames: [Buffer.from('answer'), ...frames.map((f) => Buffer.from(f))], last, recovered });
  return { d, asks, live, answer };
}

describe('StampedDelivery', () => {
  it('delivers live publications in order, each once: a repeat is dropped, `except` is skipped', () => {
    const a = member(1);
    const b = member(2);
    const { d, live } = setup([a, b]);
    live(1);
    live(2, 2);
    live(2);
    live(3);
    expect(a.got).toEqual(['m1', 'm2', 'm3']);
    expect(b.got).toEqual(['m1', 'm3']);
    expect(d.repeats).toBe(1);
  });

  it('fills a gap from history before what follows it', () => {
    const a = member(1);
    const { d, asks, live, answer } = setup([a]);
    live(1);
    live(4); // 2 and 3 were missed
    live(5);
    expect(a.got).toEqual(['m1']);
    expect(asks[0]!.since).toEqual({ offset: 1, epoch: EPOCH });
    answer(5, ['m2', 'm3', 'm4', 'm5']);
    expect(a.got).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(d.gaps).toBe(1);
    // Without recovery, what was held goes on: the client sees the gap in the offsets.
    live(8);
    live(9);
    answer(9, [], false);
    expect(a.got.slice(5)).toEqual(['m8', 'm9']);
  });

  it("holds a resuming subscriber's publications until its answer, then sends only those after it", () => {
    const a = member(1);
    const r = member(2);
    const members = [a];
    const { d, asks, live, answer } = setup(members);
    live(1);
    members.push(r); // the hub adds it, then asks for its answer
    d.subscribe(r, 't', { offset: 1, epoch: EPOCH });
    expect(asks).toHaveLength(1);
    live(2);
    live(3);
    live(4);
    // The answer was taken when 3 was the last: it replays 2 and 3; 4 was held and follows; 2 and 3 are not repeated.
    answer(3, ['m2', 'm3']);
    expect(r.got).toEqual(['answer', 'm2', 'm3', 'm4']);
    live(5);
    expect(r.got).toEqual(['answer', 'm2', 'm3', 'm4', 'm5']);
    expect(a.got).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
  });

  it('skips live publications the answer already covered when they come after it', () => {
    const r = member(2);
    const members: StampedMember[] = [];
    const { d, live, answer } = setup(members);
    live(1);
    members.push(r);
    d.subscribe(r, 't', { offset: 1, epoch: EPOCH });
    // Redis answered first (it stood at 3), then the live 2 and 3 arrive on the subscriber connection.
    answer(3, ['m2', 'm3']);
    live(2);
    live(3);
    live(4);
    expect(r.got).toEqual(['answer', 'm2', 'm3', 'm4']);
  });

  it('forgets a subscriber that left before its answer came', () => {
    const r = member(2);
    const { d, live, answer } = setup([r]);
    d.subscribe(r, 't', null);
    live(1);
    d.leave(r, 't');
    r.topics = null;
    answer(1, []);
    expect(r.got).toEqual([]);
  });

  it('starts over on a new epoch (a Redis that lost its data): no gap to fill', () => {
    const a = member(1);
    const { d, asks } = setup([a]);
    d.arrived('t', Buffer.from('old7'), 0, { offset: 7, epoch: 'old' });
    d.arrived('t', Buffer.from('new1'), 0, { offset: 1, epoch: 'new' });
    d.arrived('t', Buffer.from('new2'), 0, { offset: 2, epoch: 'new' });
    expect(a.got).toEqual(['old7', 'new1', 'new2']);
    expect(asks).toHaveLength(0);
  });
});
