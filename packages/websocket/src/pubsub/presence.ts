import { presenceEvent, type Member } from '../delivery/wire.js';
import { Opcode } from '../protocol/opcodes.js';
import { prepareFrame } from '../sender/prepared.js';

/** Longest presence info, as JSON (`conn.track(topic, info)`). */
export const MAX_PRESENCE_INFO = 1024;

/** A connection as presence sees it (the hub's Subscriber). */
export interface PresentMember {
  readonly id: number;
  /** The topics it is present in, kept by the presence (null: none). */
  tracked: Set<string> | null;
}

/** Checks presence info and gives its JSON; throws a TypeError or RangeError saying what is wrong. */
export function presenceInfo(call: string, info: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(info ?? null);
  } catch (error) {
    throw new TypeError(`${call}: presence info must be JSON (${(error as Error).message})`);
  }
  if (json === undefined) throw new TypeError(`${call}: presence info must be JSON; got ${typeof info}`);
  if (json.length > MAX_PRESENCE_INFO)
    throw new RangeError(`${call}: presence info is ${json.length} characters of JSON, over ${MAX_PRESENCE_INFO}`);
  return json;
}

/**
 * Who is present in each topic among one hub's connections (docs/delivery.md, presence): a connection is present
 * from `conn.track(topic, info)` until `untrack` or its end. Each join and leave becomes one event frame, framed once
 * for every subscriber of the topic (`announce`).
 */
export class Presence {
  private readonly byTopic = new Map<string, Map<PresentMember, string>>();
  private readonly announce: Announce;

  /** @param announce tells the topic's subscribers (here, and beyond where there is a beyond) of a join or leave */
  constructor(announce: Announce) {
    this.announce = announce;
  }

  /** `m` is present in `topic` with `info` (JSON); tracked again, its info changes (a leave, then a join). */
  track(m: PresentMember, topic: string, info: string): void {
    let members = this.byTopic.get(topic);
    if (members === undefined) this.byTopic.set(topic, (members = new Map()));
    const before = members.get(m);
    if (before === info) return;
    if (before !== undefined) this.announce('leave', topic, m.id, before);
    members.set(m, info);
    (m.tracked ??= new Set()).add(topic);
    this.announce('join', topic, m.id, info);
  }

  untrack(m: PresentMember, topic: string): void {
    if (m.tracked === null || !m.tracked.delete(topic)) return;
    this.leave(m, topic);
  }

  /** `m` ended: it leaves every topic it was present in. */
  untrackAll(m: PresentMember): void {
    const topics = m.tracked;
    if (topics === null) return;
    m.tracked = null;
    for (const topic of topics) this.leave(m, topic);
  }

  private leave(m: PresentMember, topic: string): void {
    const members = this.byTopic.get(topic);
    const info = members?.get(m);
    if (members === undefined || info === undefined) return;
    members.delete(m);
    if (members.size === 0) this.byTopic.delete(topic);
    this.announce('leave', topic, m.id, info);
  }

  /** The topics `m` is present in, each with its info. */
  of(m: PresentMember): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const topic of m.tracked ?? []) {
      const info = this.byTopic.get(topic)?.get(m);
      if (info !== undefined) out[topic] = JSON.parse(info) as unknown;
    }
    return out;
  }

  /** Who is present in `topic` here, by connection id. */
  members(topic: string): Member[] {
    const members = this.byTopic.get(topic);
    if (members === undefined) return [];
    return [...members]
      .map(([m, info]) => ({ id: m.id, info: JSON.parse(info) as unknown }))
      .sort((a, b) => a.id - b.id);
  }
}

/** Tells a topic's subscribers that connection `id` joined or left it (`info`: JSON). */
export type Announce = (kind: 'join' | 'leave', topic: string, id: number, info: string) => void;

/** The event frame of a join or leave. */
export function presenceFrame(kind: 'join' | 'leave', topic: string, id: number, info: string): Buffer {
  return prepareFrame(Opcode.Text, presenceEvent(kind, topic, id, info));
}
