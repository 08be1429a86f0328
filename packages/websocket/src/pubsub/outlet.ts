import type { Position } from '../delivery/history.js';
import { brokerAnswer, envelopeFrame, type Answer } from './delivery-frames.js';
import type { HistoryStore } from '../delivery/history.js';
import type { Member } from '../delivery/wire.js';
import { prepareFrame } from '../sender/prepared.js';
import { messageOfFrame, type Backplane } from './backplane.js';

/**
 * Where a hub hands what goes beyond its own connections: the relay to this server's other I/O
 * threads, the backplane to other servers, or both composed ({@link joinOutlets}). The hub delivers
 * locally and calls exactly one outlet; what comes back from beyond, the hub takes with `deliver`.
 */
export interface Outlet {
  /** A message published here (framed), for subscribers beyond this hub. */
  publish(topic: string, frame: Buffer): void;
  /** A broadcast from here, for every connection beyond this hub. */
  broadcast(frame: Buffer): void;
  /** A message for connection `id`, which is not this hub's: true when it was passed on to where it may be. */
  sendTo(id: number, frame: Buffer): boolean;
  /** `topic` has `count` subscribers on this hub now (`before` until now). */
  subscribers(topic: string, count: number, before: number): void;
  /** Subscribers of `topic` everywhere the outlet reaches (`here` of them on this hub). */
  count(topic: string, here: number): Promise<number>;
  /** The outlet holds more than its bound: publishers here should stop being read (flow control). */
  readonly congested: boolean;
  /** Runs `resume` once the outlet is no longer congested. */
  whenClear(resume: () => void): void;
  /**
   * Where positions are given beyond the hub (I/O threads: the main thread, docs/delivery.md): takes a publication
   * to a topic with history, which comes back stamped to every hub that has subscribers (the publisher's too).
   */
  sequence?(topic: string, frame: Buffer, except: number): void;
  /**
   * With `sequence`: asks for the answer to a subscribe through the wire format (`since` null: a plain one) and
   * calls `answer` with its frames, in order with the stamped publications that come back (none in between).
   */
  resume?(topic: string, since: Position | null, answer: (answer: Answer) => void): void;
  /** Where presence is kept beyond the hub (Redis): a join or leave here, for the topic's subscribers there. */
  presence?(kind: 'join' | 'leave', topic: string, id: number, info: string): void;
  /** With `presence`: who is present in `topic` everywhere (null: it cannot say now). */
  members?(topic: string): Promise<Member[] | null>;
}

/** What an outlet delivers into: the hub's own connections. */
export interface Inlet {
  /** A message published (topic) or broadcast (null) beyond this hub: for its connections but `except`. */
  deliver(topic: string | null, frame: Buffer, except: number): number;
  /** A publication stamped beyond this hub (docs/delivery.md), at `position`. */
  deliverStamped?(topic: string, frame: Buffer, except: number, position: Position): void;
  /** A join or leave beyond this hub, for the topic's subscribers here. */
  announce?(kind: 'join' | 'leave', topic: string, id: number, info: string): void;
}

/**
 * The backplane as an outlet: publishes and broadcasts go to other servers as messages (type and
 * payload); a topic is subscribed there while it has a subscriber here. Sends to one connection do
 * not cross servers. Messages other servers published are framed here and delivered to `inlet` only.
 */
export class BackplaneOutlet implements Outlet {
  readonly congested = false;
  private readonly backplane: Backplane;
  sequence?: Outlet['sequence'];
  resume?: Outlet['resume'];
  presence?: Outlet['presence'];
  members?: Outlet['members'];

  /**
   * @param history with a handler that opts into delivery, its store's rules: when the backplane can give positions
   * (`sequence`), topics with history are sequenced there, for one order across servers (docs/delivery.md)
   */
  constructor(backplane: Backplane, inlet: Inlet, history: HistoryStore | null = null) {
    this.backplane = backplane;
    backplane.onMessage = (topic, binary, payload) =>
      void inlet.deliver(topic, prepareFrame(binary ? 2 : 1, payload), 0);
    if (backplane.track && backplane.untrack && backplane.members && inlet.announce) {
      const keeper = backplane as Required<Pick<Backplane, 'track' | 'untrack' | 'members'>>;
      this.presence = (kind, topic, id, info) =>
        kind === 'join' ? keeper.track(topic, id, info) : keeper.untrack(topic, id);
      this.members = (topic) => keeper.members(topic);
      backplane.onPresence = (kind, topic, id, info) => inlet.announce!(kind, topic, id, info);
    }
    if (history === null || !backplane.sequence || !backplane.history || !inlet.deliverStamped) return;
    const { sequence, history: kept } = backplane as Required<Pick<Backplane, 'sequence' | 'history'>>;
    this.sequence = (topic, frame, except) => {
      const { binary, payload } = messageOfFrame(frame);
      sequence.call(backplane, topic, binary, payload, except, history.ruleOf(topic)!);
    };
    this.resume = (topic, since, answer) => {
      const rule = history.ruleOf(topic)!;
      void kept.call(backplane, topic, since, rule).then((h) => answer(brokerAnswer(topic, since, h, rule)));
    };
    backplane.onStamped = (topic, m) =>
      inlet.deliverStamped!(topic, envelopeFrame(topic, m.position, m.binary, m.payload), m.except, m.position);
  }

  publish(topic: string, frame: Buffer): void {
    toBackplane(this.backplane, topic, frame);
  }

  broadcast(frame: Buffer): void {
    toBackplane(this.backplane, null, frame);
  }

  sendTo(): boolean {
    return false;
  }

  subscribers(topic: string, count: number, before: number): void {
    if (before === 0 && count > 0) this.backplane.subscribe(topic);
    else if (count === 0 && before > 0) this.backplane.unsubscribe(topic);
  }

  count(_topic: string, here: number): Promise<number> {
    return Promise.resolve(here);
  }

  whenClear(resume: () => void): void {
    resume();
  }
}

/** Two outlets as one: each gets every message; a send goes to the first that takes it; counts are the first's. */
export function joinOutlets(first: Outlet, second: Outlet): Outlet {
  return {
    publish: (topic, frame) => (first.publish(topic, frame), second.publish(topic, frame)),
    broadcast: (frame) => (first.broadcast(frame), second.broadcast(frame)),
    sendTo: (id, frame) => first.sendTo(id, frame) || second.sendTo(id, frame),
    subscribers: (topic, count, before) => (
      first.subscribers(topic, count, before),
      second.subscribers(topic, count, before)
    ),
    count: (topic, here) => first.count(topic, here),
    get congested() {
      return first.congested || second.congested;
    },
    whenClear: (resume) => first.whenClear(() => second.whenClear(resume)),
  };
}

/** Hands a framed message to a backplane as what it carries: the type and the payload. */
export function toBackplane(backplane: Backplane, topic: string | null, frame: Uint8Array): void {
  const { binary, payload } = messageOfFrame(frame);
  backplane.publish(topic, binary, payload);
}
