import {
  CloseCode,
  Handler,
  HandshakeError,
  type Handshake,
  type HttpReply,
  type HttpRequest,
  type MessageType,
  type Server,
} from 'wsz';
import { route } from './routes.ts';

/** Longest room and user names the chat accepts. */
const MAX_NAME = 64;

/** What the chat sends: JSON text frames. */
export type ChatEvent =
  | { type: 'message'; room: string; user: string; text: string }
  | { type: 'join' | 'leave'; room: string; user: string };

/**
 * One chat member: `/chat?room=ROOM&user=USER` joins ROOM as USER. Every text message goes to every
 * member of the room, the sender included; joins and leaves are announced to the room. The room is
 * a pub/sub topic, so members on different worker threads reach each other.
 *
 * With delivery on (docs/delivery.md), the page subscribes to its room's topic itself and, after a reconnect,
 * resumes from the last message it saw: what was said meanwhile arrives once, in order.
 */
export class Chat extends Handler {
  // Worker threads import this module to run the handler (threadPool.count > 0, workerCount > 1).
  static module = import.meta.url;
  // Publications reach pages in envelopes with their position; pages subscribe and resume with commands.
  static delivery = true;

  /**
   * Plain HTTP on the WebSocket port, when wsz listens itself (WORKERS > 1): the page, a health check, metrics and
   * the admin route. It runs on the main thread, with the Server.
   */
  static httpRequest(request: HttpRequest, _app: unknown, server: Server<Chat>): Promise<HttpReply> {
    return route(request, server, process.env.ADMIN_TOKEN);
  }
  private room = '';
  private user = '';

  init(handshake: Handshake): void {
    if (handshake.path !== '/chat') throw new HandshakeError(404, 'the chat is at /chat?room=ROOM&user=USER');
    const room = handshake.query.get('room') ?? '';
    const user = handshake.query.get('user') ?? '';
    if (!room || !user) throw new HandshakeError(400, 'join with /chat?room=ROOM&user=USER: both are required');
    if (room.length > MAX_NAME || user.length > MAX_NAME)
      throw new HandshakeError(400, `room and user names are at most ${MAX_NAME} characters`);
    this.room = room;
    this.user = user;
  }

  /** A member may read its own room (the page subscribes to it, and resumes it after a reconnect). */
  canSubscribe(topic: string): boolean {
    return topic === this.topic;
  }

  afterInit(): void {
    // Present in the room until the connection ends: pages list who is here (join and leave events, `members`).
    this.conn.track(this.topic, { user: this.user });
    this.announce({ type: 'join', room: this.room, user: this.user });
  }

  clientMessage(data: Buffer, type: MessageType): void {
    if (type !== 'text') {
      this.conn.close({ code: CloseCode.UnsupportedData, reason: 'the chat takes text messages' });
      return;
    }
    this.announce({ type: 'message', room: this.room, user: this.user, text: data.toString() });
  }

  close(): void {
    // The connection is closed: publishing still reaches the rest of the room.
    this.announce({ type: 'leave', room: this.room, user: this.user });
  }

  /** Rooms are topics of their own namespace (`room:NAME`), so the app may add other topics later. */
  private get topic(): string {
    return `room:${this.room}`;
  }

  private announce(event: ChatEvent): void {
    this.conn.publish(this.topic, JSON.stringify(event));
  }
}
