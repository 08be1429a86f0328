import { CloseCode, Handler, HandshakeError, type Handshake, type MessageType } from 'wsz';

/** What `listen(app)` gives every handler. */
export interface RoomApp {
  token: string;
}

/**
 * The wsz version of ws-server.mjs: `verifyClient` becomes `init`, the `connection` event `afterInit`, the
 * `message` event `clientMessage`, the `close` event `close`, and the `wss.clients` loop a pub/sub topic.
 */
export class Room extends Handler<RoomApp> {
  static module = import.meta.url;
  private user = 'anonymous';

  init(handshake: Handshake): void {
    if (handshake.query.get('token') !== this.app.token) throw new HandshakeError(401, 'a valid ?token= is required');
    this.user = handshake.query.get('user') ?? 'anonymous';
    this.conn.subscribe('room');
  }

  async afterInit(): Promise<void> {
    const members = await this.conn.subscriberCount('room');
    this.conn.write(JSON.stringify({ type: 'welcome', user: this.user, members }));
  }

  clientMessage(data: Buffer, type: MessageType): void {
    if (type === 'binary') return this.conn.close({ code: CloseCode.UnsupportedData, reason: 'text only' });
    this.conn.publish('room', JSON.stringify({ type: 'message', user: this.user, text: data.toString() }));
  }

  close(): void {
    this.conn.publish('room', JSON.stringify({ type: 'leave', user: this.user }));
  }
}
