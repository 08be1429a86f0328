import { Handler, HandshakeError, type Handshake, type MessageType } from 'wsz';

/** The app: what the server knows about (here, just its name). */
export interface App {
  name: string;
}

/**
 * A small command handler: `?user=` is required, the user is greeted, and each text message is a
 * command: `/echo text`, `/upper text`, `/whoami`, `/quit`. Binary messages are refused with 1003.
 */
export class Commands extends Handler<App> {
  static module = import.meta.url;
  private user = '';

  init(handshake: Handshake): void {
    const user = handshake.query.get('user');
    if (!user) throw new HandshakeError(401, 'connect with ?user=<name>');
    this.user = user;
  }

  afterInit(): void {
    this.conn.write(`welcome to ${this.app.name}, ${this.user}`);
  }

  clientMessage(data: Buffer, type: MessageType): void {
    if (type === 'binary') return this.conn.close({ code: 1003, reason: 'text commands only' });
    const [command, ...rest] = data.toString().split(' ');
    const arg = rest.join(' ');
    switch (command) {
      case '/echo':
        this.conn.write(arg);
        break;
      case '/upper':
        this.conn.write(arg.toUpperCase());
        break;
      case '/whoami':
        this.conn.write(this.user);
        break;
      case '/quit':
        this.conn.close({ code: 1000, reason: `bye ${this.user}` });
        break;
      default:
        this.conn.write(`unknown command ${JSON.stringify(command)}; try /echo, /upper, /whoami, /quit`);
    }
  }
}
