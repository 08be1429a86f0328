/**
 * The hub without sockets (issue 21): it delivers to its own connections and hands what goes beyond
 * them to exactly one outlet; what comes from beyond is delivered here only. Fake subscribers record
 * what they are given; fake outlets record what they are handed.
 */
import { describe, expect, it } from 'vitest';
import { Hub, type Subscriber } from '../../packages/websocket/src/pubsub/hub.js';
import { BackplaneOutlet, joinOutlets, type Outlet } from '../../packages/websocket/src/pubsub/outlet.js';
import type { Backplane } from '../../packages/websocket/src/pubsub/backplane.js';
import { prepareFrame } from '../../packages/websocket/src/sender/prepared.js';

class FakeSubscriber implements Subscriber {
  topics: Set<string> | null = null;
  tracked: Set<string> | null = null;
  readonly got: string[] = [];
  constructor(
    readonly id: number,
    private readonly refuses = false,
  ) {}
  deliver(message: { frame: Buffer }): boolean {
    if (this.refuses) return false;
    this.got.push(message.frame.subarray(2).toString());
    return true;
  }
}

class FakeOutlet implements Outlet {
  readonly calls: string[] = [];
  congested = false;
  private resumes: Array<() => void> = [];
  publish(topic: string, frame: Buffer): void {
    this.calls.push(`publish ${topic} ${frame.subarray(2)}`);
  }
  broadcast(frame: Buffer): void {
    this.calls.push(`broadcast ${frame.subarray(2)}`);
  }
  sendTo(id: number, frame: Buffer): boolean {
    this.calls.push(`sendTo ${id} ${frame.subarray(2)}`);
    return id < 100;
  }
  subscribers(topic: string, count: number, before: number): void {
    this.calls.push(`subscribers ${topic} ${before}->${count}`);
  }
  count(_topic: string, here: number): Promise<number> {
    return Promise.resolve(here + 10);
  }
  whenClear(resume: () => void): void {
    this.resumes.push(resume);
  }
  clear(): void {
    this.congested = false;
    for (const r of this.resumes.splice(0)) r();
  }
}

function setup(ids: number[], outlet: Outlet | null = new FakeOutlet()) {
  const members = ids.map((id) => new FakeSubscriber(id));
  const connections = new Map(members.map((m) => [m.id, m] as [number, Subscriber]));
  const hub = new Hub(connections, outlet === null ? null : () => outlet);
  return { hub, members, connections, outlet: outlet as FakeOutlet };
}
const text = (s: string): Buffer => prepareFrame(1, s);

describe('Hub', () => {
  it('publishes to its subscribers but the one left out, and hands the frame to its outlet once', () => {
    const {
      hub,
      members: [a, b, c],
      outlet,
    } = setup([1, 2, 3]);
    for (const m of [a!, b!]) hub.subscribe(m, 'room');
    expect(hub.publish('room', text('hi'), a!.id)).toBe(1);
    expect([a!.got, b!.got, c!.got]).toEqual([[], ['hi'], []]);
    expect(outlet.calls.filter((c) => c.startsWith('publish'))).toEqual(['publish room hi']);
    expect(hub.stats()).toEqual({ topics: 1, publishes: 1, deliveries: 1 });
  });

  it("tells the outlet each topic's count as it changes; a subscriber that refuses is not counted as a delivery", () => {
    const outlet = new FakeOutlet();
    const refusing = new FakeSubscriber(7, true);
    const hub = new Hub(new Map([[7, refusing]]), () => outlet);
    const s = new FakeSubscriber(8);
    hub.subscribe(refusing, 't');
    hub.subscribe(s, 't');
    hub.subscribe(s, 't'); // twice is once
    expect(hub.publish('t', text('x'), 0)).toBe(1);
    hub.unsubscribe(s, 't');
    hub.unsubscribeAll(refusing);
    expect(outlet.calls.filter((c) => c.startsWith('subscribers'))).toEqual([
      'subscribers t 0->1',
      'subscribers t 1->2',
      'subscribers t 2->1',
      'subscribers t 1->0',
    ]);
    expect(hub.stats().topics).toBe(0);
  });

  it('delivers what comes from beyond to its own connections only (never back to the outlet)', () => {
    const {
      hub,
      members: [a, b],
      outlet,
    } = setup([1, 2]);
    hub.subscribe(a!, 'room');
    expect(hub.deliver('room', text('from afar'), 0)).toBe(1);
    expect(hub.deliver(null, text('to all'), 2)).toBe(1);
    expect(hub.deliverTo(2, text('just b'))).toBe(true);
    expect([a!.got, b!.got]).toEqual([['from afar', 'to all'], ['just b']]);
    expect(outlet.calls.filter((c) => !c.startsWith('subscribers'))).toEqual([]);
  });

  it('sends to its own connection itself, and hands a send to any other id to the outlet', () => {
    const {
      hub,
      members: [a],
      outlet,
    } = setup([1]);
    expect(hub.sendTo(1, text('mine'))).toBe(true);
    expect(hub.sendTo(42, text('elsewhere'))).toBe(true); // passed on
    expect(hub.sendTo(400, text('nowhere'))).toBe(false);
    expect(a!.got).toEqual(['mine']);
    expect(outlet.calls).toEqual(['sendTo 42 elsewhere', 'sendTo 400 nowhere']);
    expect(setup([1], null).hub.sendTo(42, text('x'))).toBe(false);
  });

  it('broadcasts to every connection but the one left out, and to the outlet', () => {
    const {
      hub,
      members: [a, b],
      outlet,
    } = setup([1, 2]);
    expect(hub.broadcast(text('all'), 1)).toBe(1);
    expect([a!.got, b!.got]).toEqual([[], ['all']]);
    expect(outlet.calls).toEqual(['broadcast all']);
  });

  it('counts subscribers everywhere through the outlet, and here alone without one', async () => {
    const {
      hub,
      members: [a],
    } = setup([1]);
    hub.subscribe(a!, 'room');
    expect(await hub.countEverywhere('room')).toBe(11);
    const alone = setup([1], null);
    alone.hub.subscribe(alone.members[0]!, 'room');
    expect(await alone.hub.countEverywhere('room')).toBe(1);
  });

  it('throttles a publisher while the outlet is congested, and resumes it once clear', () => {
    const { hub, outlet } = setup([1]);
    const log: string[] = [];
    const pause = () => log.push('pause');
    const resume = () => log.push('resume');
    expect(hub.throttle(pause, resume)).toBe(false);
    outlet.congested = true;
    expect(hub.throttle(pause, resume)).toBe(true);
    expect(log).toEqual(['pause']);
    outlet.clear();
    expect(log).toEqual(['pause', 'resume']);
  });
});

describe('outlets', () => {
  function fakeBackplane() {
    const calls: string[] = [];
    const backplane: Backplane = {
      subscribe: (t) => void calls.push(`sub ${t}`),
      unsubscribe: (t) => void calls.push(`unsub ${t}`),
      publish: (t, binary, payload) => void calls.push(`pub ${t} ${binary ? 'bin' : 'text'} ${payload}`),
      onMessage: null,
      stats: () => ({}) as ReturnType<Backplane['stats']>,
      close: () => {},
    };
    return { backplane, calls };
  }

  it('the backplane outlet subscribes a topic there while it has subscribers here, and carries messages, not frames', () => {
    const { backplane, calls } = fakeBackplane();
    const members = [new FakeSubscriber(1), new FakeSubscriber(2)];
    const hub = new Hub(
      new Map(members.map((m) => [m.id, m] as [number, Subscriber])),
      (h) => new BackplaneOutlet(backplane, h),
    );
    hub.subscribe(members[0]!, 'room');
    hub.subscribe(members[1]!, 'room');
    hub.publish('room', text('hello'), 0);
    hub.broadcast(prepareFrame(2, Buffer.from('bytes')), 0);
    hub.unsubscribe(members[0]!, 'room');
    hub.unsubscribe(members[1]!, 'room');
    expect(calls).toEqual(['sub room', 'pub room text hello', 'pub null bin bytes', 'unsub room']);
    // From another server: framed here, delivered here only.
    hub.subscribe(members[0]!, 'news');
    backplane.onMessage!('news', false, Buffer.from('extra'));
    expect(members[0]!.got.at(-1)).toBe('extra');
    expect(calls.filter((c) => c.startsWith('pub'))).toHaveLength(2);
  });

  it('joined outlets each get every message; a send goes to the first that takes it', () => {
    const a = new FakeOutlet();
    const b = new FakeOutlet();
    const both = joinOutlets(a, b);
    both.publish('t', text('x'));
    expect(both.sendTo(500, text('y'))).toBe(false);
    expect(both.sendTo(5, text('z'))).toBe(true);
    expect(a.calls).toEqual(['publish t x', 'sendTo 500 y', 'sendTo 5 z']);
    expect(b.calls).toEqual(['publish t x', 'sendTo 500 y']);
    b.congested = true;
    expect(both.congested).toBe(true);
  });
});
