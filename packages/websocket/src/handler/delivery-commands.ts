import { isWireMessage, membersEvent, parseCommand, refused, unsubscribed } from '../delivery/wire.js';
import { checkTopic } from '../pubsub/subscriptions.js';
import type { Conn } from './conn.js';
import type { HandlerHooks, HookResult } from './handler.js';

/** Whether a message is a delivery command for the server to carry out, rather than one for `clientMessage`. */
export function isCommand(data: Buffer): boolean {
  return isWireMessage(data);
}

/**
 * Carries out a client's delivery command (docs/delivery.md) on the handler's thread: `unsubscribe` at once,
 * `subscribe` once the handler's `canSubscribe` allowed it (refused without that hook). What the client gets back:
 * `subscribed` from the thread that owns the topics (with its position and, resuming, the history after it), or
 * `unsubscribed`, or `refused` with the reason.
 */
export function runCommand(handler: HandlerHooks<unknown>, conn: Conn, data: Buffer): HookResult {
  const command = parseCommand(data);
  if (typeof command === 'string') return void conn.writeText(refused(command));
  const { topic } = command;
  try {
    // The name's form here; its length when subscribing (conn.subscribe knows the limit).
    checkTopic(command.wsz, topic, Number.MAX_SAFE_INTEGER);
    if (command.wsz === 'members') {
      if (!conn.isSubscribed(topic)) return void conn.writeText(refused('subscribe to the topic first', topic));
      return conn.members(topic).then((members) => void conn.writeText(membersEvent(topic, members)));
    }
    if (command.wsz === 'unsubscribe') {
      conn.unsubscribe(topic);
      return void conn.writeText(unsubscribed(topic));
    }
  } catch (error) {
    return void conn.writeText(refused((error as Error).message, topic));
  }
  const since = command.since ?? null;
  const allowed = handler.canSubscribe?.call(handler, topic, since !== null) ?? false;
  const go = (ok: boolean): void => {
    if (!ok) return void conn.writeText(refused('not allowed', topic));
    try {
      if (!conn.subscribe(topic, { since })) conn.writeText(refused('already subscribed', topic));
    } catch (error) {
      conn.writeText(refused((error as Error).message, topic));
    }
  };
  if (typeof allowed === 'boolean') return go(allowed);
  return allowed.then((ok) => go(ok === true));
}
