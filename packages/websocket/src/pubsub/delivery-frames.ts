import type { HistoryStore, Position, RecoveryFailure, ResolvedHistoryRule } from '../delivery/history.js';
import { publication, subscribed } from '../delivery/wire.js';
import { Opcode } from '../protocol/opcodes.js';
import { prepareFrame } from '../sender/prepared.js';
import { messageOfFrame, type BrokerHistory } from './backplane.js';

/** The answer to a subscribe through the wire format: the frames to send first, and the offset they reach. */
export interface Answer {
  /** The `subscribed` answer, then (resuming) the publications history holds after the position asked for. */
  frames: Buffer[];
  /** The topic's offset the answer stands at (0 for a topic without history). */
  last: number;
  /** False when a resume could not be given whole (the answer says why). */
  recovered: boolean;
}

/** A publication's envelope, framed (docs/delivery.md). */
export function envelopeFrame(topic: string, position: Position | null, binary: boolean, payload: Buffer): Buffer {
  return prepareFrame(Opcode.Text, publication(topic, position, binary, payload));
}

/**
 * A publication as subscribers with delivery receive it (docs/delivery.md): in an envelope, with its position when
 * the topic keeps history (the store gives the next one and keeps the frame). `frame` is the message as published.
 */
export function stampFrame(store: HistoryStore | null, topic: string, frame: Uint8Array): Buffer {
  if (store !== null) return stamp(store, topic, frame).frame;
  const { binary, payload } = messageOfFrame(frame);
  return envelopeFrame(topic, null, binary, payload);
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
    return { frames: [answerFrame(topic, position, resumed)], last: position?.offset ?? 0, recovered: since === null };
  }
  const found = store.since(topic, since);
  const last = found.position.offset;
  if (!found.recovered)
    return {
      frames: [answerFrame(topic, found.position, { recovered: false, reason: found.reason })],
      last,
      recovered: false,
    };
  return { frames: [answerFrame(topic, found.position, { recovered: true }), ...found.frames], last, recovered: true };
}

/** The answer to a subscribe (`since` null) or a resume from what a broker keeps (null: it could not answer). */
export function brokerAnswer(
  topic: string,
  since: Position | null,
  h: BrokerHistory | null,
  rule: ResolvedHistoryRule,
): Answer {
  if (h === null) {
    const resumed = since === null ? null : { recovered: false, reason: 'unavailable' as const };
    return { frames: [answerFrame(topic, null, resumed)], last: 0, recovered: since === null };
  }
  const position = { offset: h.last, epoch: h.epoch };
  const fail = (reason: RecoveryFailure): Answer => ({
    frames: [answerFrame(topic, position, { recovered: false, reason })],
    last: h.last,
    recovered: false,
  });
  if (since === null) return { frames: [answerFrame(topic, position, null)], last: h.last, recovered: true };
  if (since.epoch !== h.epoch) return fail('epoch changed');
  if (since.offset > h.last) return fail('position ahead');
  const entries = h.entries ?? [];
  const oldest = rule.seconds > 0 ? Date.now() - rule.seconds * 1000 : -Infinity;
  if (
    since.offset < h.last &&
    (entries.length !== h.last - since.offset || entries[0]!.offset !== since.offset + 1 || entries[0]!.at < oldest)
  )
    return fail('position too old');
  const frames = [answerFrame(topic, position, { recovered: true })];
  for (const e of entries) frames.push(envelopeFrame(topic, { offset: e.offset, epoch: h.epoch }, e.binary, e.payload));
  return { frames, last: h.last, recovered: true };
}
