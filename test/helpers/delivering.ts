/**
 * A handler with delivery on (docs/delivery.md), driven by text commands, for the delivery suites:
 *   pub T TEXT / pubbin T TEXT     publishes TEXT to T (as text / as binary)
 *   say TEXT                       a direct write (the application's own message)
 *   track T JSON / untrack T       presence in T, with the info JSON
 *   members T                      writes 'members ' + the JSON of conn.members(T)
 * `canSubscribe` allows 'room:*' and 'news', allows 'later:*' after a promise, refuses the rest; and
 * refuses resumes of 'live:*' (plain subscribes only). The path /forbidden is refused with 403.
 */
import { Handler, HandshakeError, type Handshake, type MessageType } from 'wsz';

export class Delivering extends Handler {
  static module = import.meta.url;
  static delivery = true;

  init(handshake: Handshake): void {
    if (handshake.path === '/forbidden') throw new HandshakeError(403, 'not you');
  }

  canSubscribe(topic: string, resume: boolean): boolean | Promise<boolean> {
    if (topic.startsWith('later:')) return new Promise((resolve) => setTimeout(() => resolve(true), 20));
    if (topic.startsWith('live:')) return !resume;
    return topic.startsWith('room:') || topic === 'news';
  }

  async clientMessage(data: Buffer, type: MessageType): Promise<void> {
    if (type === 'binary') return;
    const [cmd = '', topic = '', ...rest] = data.toString().split(' ');
    const text = rest.join(' ');
    if (cmd === 'track') this.conn.track(topic, JSON.parse(text));
    else if (cmd === 'untrack') this.conn.untrack(topic);
    else if (cmd === 'members') this.conn.write(`members ${JSON.stringify(await this.conn.members(topic))}`);
    else if (cmd === 'pub') this.conn.publish(topic, text);
    else if (cmd === 'pubbin') this.conn.publish(topic, Buffer.from(text), { binary: true });
    else if (cmd === 'say') this.conn.write(`${topic} ${text}`.trim());
  }
}
