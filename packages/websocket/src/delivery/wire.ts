import type { Position, RecoveryFailure } from './history.js';

/**
 * The delivery wire format (docs/delivery.md): JSON text messages whose first key is `"wsz"`, exchanged with a
 * handler that opts in (`static delivery = true`). The server sends publications as envelopes carrying the topic
 * and, for topics with history, the message's position; a client subscribes (from a position, to resume) and
 * unsubscribes with commands. Every other message is the application's, as without delivery.
 */

/** A command from a client. */
export type DeliveryCommand =
  | { wsz: 'subscribe'; topic: string; since?: Position }
  | { wsz: 'unsubscribe'; topic: string }
  | { wsz: 'members'; topic: string };

/** A connection present in a topic (`conn.track`): its id, and what its handler said about it. */
export interface Member {
  id: number;
  info: unknown;
}

/** What the server sends about subscriptions and publications. */
export type DeliveryEvent =
  | { wsz: 'pub'; topic: string; offset?: number; epoch?: string; binary?: true; data: string }
  | {
      wsz: 'subscribed';
      topic: string;
      offset?: number;
      epoch?: string;
      /** Only for a subscribe `since` a position: whether every message after it follows. */
      recovered?: boolean;
      reason?: RecoveryFailure;
    }
  | { wsz: 'unsubscribed'; topic: string }
  | { wsz: 'refused'; topic?: string; reason: string }
  | { wsz: 'join' | 'leave'; topic: string; id: number; info: unknown }
  | { wsz: 'members'; topic: string; members: Member[] };

/** The bytes every command and event starts with. */
export const WIRE_PREFIX = '{"wsz":';
const PREFIX = Buffer.from(WIRE_PREFIX);

/** Whether a text message is a delivery command (or event): it starts with `{"wsz":`. */
export function isWireMessage(data: Uint8Array): boolean {
  return data.length > PREFIX.length && PREFIX.compare(data, 0, PREFIX.length) === 0;
}

/**
 * The envelope of a publication: `payload` is the message as published (text as UTF-8, valid; binary as is, sent
 * in base64).
 */
export function publication(topic: string, position: Position | null, binary: boolean, payload: Buffer): string {
  const where = position === null ? '' : `,"offset":${position.offset},"epoch":${JSON.stringify(position.epoch)}`;
  const data = binary ? `,"binary":true,"data":"${payload.toString('base64')}"` : `,"data":${jsonText(payload)}`;
  return `{"wsz":"pub","topic":${JSON.stringify(topic)}${where}${data}}`;
}

function jsonText(payload: Buffer): string {
  return JSON.stringify(payload.toString('utf8'));
}

/** The answer to a subscribe: the position the subscriber starts after, and for a resume whether it recovered. */
export function subscribed(
  topic: string,
  position: Position | null,
  resume: { recovered: boolean; reason?: RecoveryFailure } | null,
): string {
  const event: DeliveryEvent = { wsz: 'subscribed', topic };
  if (position !== null) Object.assign(event, { offset: position.offset, epoch: position.epoch });
  if (resume !== null) {
    event.recovered = resume.recovered;
    if (resume.reason !== undefined) event.reason = resume.reason;
  }
  return JSON.stringify(event);
}

/** The answer to an unsubscribe. */
export function unsubscribed(topic: string): string {
  return JSON.stringify({ wsz: 'unsubscribed', topic } satisfies DeliveryEvent);
}

/** A command the server did not carry out, and why. */
export function refused(reason: string, topic?: string): string {
  return JSON.stringify({ wsz: 'refused', ...(topic === undefined ? {} : { topic }), reason } satisfies DeliveryEvent);
}

/** A connection became present in a topic, or left it (`info` as JSON, checked when tracked). */
export function presenceEvent(kind: 'join' | 'leave', topic: string, id: number, info: string): string {
  return `{"wsz":"${kind}","topic":${JSON.stringify(topic)},"id":${id},"info":${info}}`;
}

/** The answer to a `members` command. */
export function membersEvent(topic: string, members: Member[]): string {
  return JSON.stringify({ wsz: 'members', topic, members } satisfies DeliveryEvent);
}

/** A command as the client sends it. */
export function command(c: DeliveryCommand): string {
  return JSON.stringify(c);
}

/**
 * Reads a command (a message for which {@link isWireMessage} is true): the command, or a string saying what is
 * wrong with it (sent back in a `refused`).
 */
export function parseCommand(data: Buffer): DeliveryCommand | string {
  let value: unknown;
  try {
    value = JSON.parse(data.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  const c = value as Record<string, unknown>;
  if (typeof c !== 'object' || c === null) return 'not a JSON object';
  if (c.wsz !== 'subscribe' && c.wsz !== 'unsubscribe' && c.wsz !== 'members')
    return `unknown command ${JSON.stringify(c.wsz)}`;
  if (typeof c.topic !== 'string') return `${c.wsz} needs a topic (a string)`;
  if (c.wsz !== 'subscribe') return { wsz: c.wsz, topic: c.topic };
  if (c.since === undefined) return { wsz: 'subscribe', topic: c.topic };
  const since = c.since as Record<string, unknown>;
  if (
    typeof since !== 'object' ||
    since === null ||
    !Number.isSafeInteger(since.offset) ||
    (since.offset as number) < 0 ||
    typeof since.epoch !== 'string'
  ) {
    return 'since is { "offset": a whole number of at least 0, "epoch": a string }';
  }
  return { wsz: 'subscribe', topic: c.topic, since: { offset: since.offset as number, epoch: since.epoch } };
}

/**
 * Reads a server event (for clients): the event, or null for a message that is not one (the application's own).
 */
export function parseEvent(text: string): DeliveryEvent | null {
  if (!text.startsWith(WIRE_PREFIX)) return null;
  try {
    const value = JSON.parse(text) as DeliveryEvent;
    return typeof value === 'object' && value !== null && typeof value.wsz === 'string' ? value : null;
  } catch {
    return null;
  }
}
