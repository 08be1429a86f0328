import type { HistoryStore, Position, RecoveryFailure } from '../delivery/history.js';
import { publication, subscribed } from '../delivery/wire.js';
import { Opcode } from '../protocol/opcodes.js';
import { prepareFrame } from '../sender/prepared.js';
import { messageOfFrame } from './backplane.js';

/** The answer to a subscribe through the wire format: the frames to send first, and the offset they reach. */
export interface Answer {
  /** The `subscribed` answer, then (resuming) the publications history holds after the position asked for. */
  frames: Buffer[];
  /** The topic's offset the answer stands at (0 for a topic without history). */
  last: number;
}

/** A publication's envelope, framed (docs/delivery.md). */
export function envelopeFrame(topic: string, position: Position | null, binary: boolean, payload: Buffer): Buffer {
  return prepareFrame(Opcode.Text, publication(topic, position, binary, payload));
}

/**
 * A publication as subscribers with delivery receive it (docs/delivery.md): in an envelope, with its position when
 * the topic keeps history (the store gives the next one and keeps the frame). `frame` is the message as published.
 */
export function stampFrame(store: HistoryStore, topic: string, frame: Uint8Array): Buffer {
  return stamp(store, topic, frame).frame;
}

/** {@link stampFrame}, with the position given (null for a topic without history). */
export function stamp(
  store: HistoryStore,
  topic: string,
  frame: Uint8Array,
): { frame: Buffer; position: Position | null } {
  const { binary, payload } = messageOfFrame(frame);
  let given: Position | null = null;
  const kept = store.append(topic, (position) => envelopeFrame(topic, (given = position), binary, payload));
  return { frame: kept ?? envelopeFrame(topic, null, binary, payload), position: given };
}

/** The `subscribed` answer: where the subscriber starts and, for a resume, whether it recovered. */
export function answerFrame(
  topic: string,
  position: Position | null,
  resume: { recovered: boolean; reason?: RecoveryFailure } | null,
): Buffer {
  return prepareFrame(Opcode.Text, subscribed(topic, position, resume));
}

/**
 * What a subscribe through the wire format gets first, before any later publication: the `subscribed` answer with
 * the position it starts after and, resuming from `since`, the publications history holds after it.
 */
export function answerFrames(store: HistoryStore, topic: string, since: Position | null): Answer {
  if (since === null || !store.keeps(topic)) {
    const position = store.position(topic);
    const resumed = since === null ? null : { recovered: false, reason: 'no history' as const };
    return { frames: [answerFrame(topic, position, resumed)], last: position?.offset ?? 0 };
  }
  const found = store.since(topic, since);
  const last = found.position.offset;
  if (!found.recovered)
    return { frames: [answerFrame(topic, found.position, { recovered: false, reason: found.reason })], last };
  return { frames: [answerFrame(topic, found.position, { recovered: true }), ...found.frames], last };
}
