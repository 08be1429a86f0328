/**
 * A member of examples/chat over wsz's Client, speaking the delivery wire format as the page does: it joins with
 * /chat?room=ROOM&user=USER, subscribes to its room's topic, and reads the chat's events out of publications.
 */
import { Client, type ClientMessage } from 'wsz/client';
import type { DeliveryEvent } from 'wsz';
import type { ChatEvent } from '../../examples/chat/handler.js';

/** Connects as `user` to `room` and subscribes to it; resolves once the server answered the subscribe. */
export async function joinChat(port: number, room: string, user: string): Promise<Client> {
  const c = await Client.connect(
    `ws://127.0.0.1:${port}/chat?room=${encodeURIComponent(room)}&user=${encodeURIComponent(user)}`,
  );
  c.writeText(JSON.stringify({ wsz: 'subscribe', topic: `room:${room}` }));
  const answer = await c.read(10_000);
  const event = answer?.type === 'text' ? (JSON.parse(answer.data.toString()) as DeliveryEvent) : null;
  if (event?.wsz !== 'subscribed') {
    c.destroy();
    throw new Error(`expected the answer to the subscribe, got ${JSON.stringify(event ?? answer)}`);
  }
  return c;
}

/** The next chat event `c` receives, past presence events (joins, leaves and member lists); null: none in `ms`. */
export async function nextChatEvent(c: Client, ms = 10_000): Promise<ChatEvent | null> {
  for (;;) {
    const m = await c.read(ms);
    if (m === null) return null;
    const e = chatEvent(m);
    if (e !== null) return e;
    if (m.type !== 'text' || !/^\{"wsz":"(join|leave|members)"/.test(m.data.toString())) {
      throw new Error(`expected a chat event, got ${m.type === 'text' ? m.data.toString() : m.type}`);
    }
  }
}

/** The chat event a message carries (a publication of the room), or null for anything else. */
export function chatEvent(m: ClientMessage | null): ChatEvent | null {
  if (m === null || m.type !== 'text') return null;
  const event = JSON.parse(m.data.toString()) as DeliveryEvent;
  return event.wsz === 'pub' ? (JSON.parse(event.data) as ChatEvent) : null;
}
