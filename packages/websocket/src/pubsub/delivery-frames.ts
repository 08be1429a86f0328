import type { HistoryStore, Position } from '../delivery/history.js';
import { publication, subscribed } from '../delivery/wire.js';
import { Opcode } from '../protocol/opcodes.js';
import { prepareFrame } from '../sender/prepared.js';
import { messageOfFrame } from './backplane.js';

/**
 * A publication as subscribers with delivery receive it (docs/delivery.md): in an envelope, with its position when
 * the topic keeps history (the store gives the next one and keeps the frame). `frame` is the message as published.
 */
export function stampFrame(store: HistoryStore, topic: string, frame: Uint8Array): Buffer {
  const { binary, payload } = messageOfFrame(frame);
  const envelope = (position: Position | null): Buffer =>
    prepareFrame(Opcode.Text, publication(topic, position, binary, payload));
  return store.append(topic, envelope) ?? envelope(null);
}

/**
 * What a subscribe through the wire format gets first, before any later publication: the `subscribed` answer with
 * the position it starts after and, resuming from `since`, the publications history holds after it.
 */
export function answerFrames(store: HistoryStore, topic: string, since: Position | null): Buffer[] {
  const text = (answer: string): Buffer => prepareFrame(Opcode.Text, answer);
  if (since === null || !store.keeps(topic)) {
    const resumed = since === null ? null : { recovered: false, reason: 'no history' as const };
    return [text(subscribed(topic, store.position(topic), resumed))];
  }
  const found = store.since(topic, since);
  if (!found.recovered) return [text(subscribed(topic, found.position, { recovered: false, reason: found.reason }))];
  return [text(subscribed(topic, found.position, { recovered: true })), ...found.frames];
}
