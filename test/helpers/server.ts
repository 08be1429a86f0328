import type { AddressInfo } from 'node:net';
import { Handler, Server, type HandlerHooks, type MessageType, type ServerConfig } from 'wsz';
import type { Conn, Handshake } from 'wsz';

/** What a recording handler saw, in order, as readable strings. */
export type Events = string[];

/** Hooks a test may override; defaults record and echo. */
export interface Behaviour {
  init?(h: Handshake, conn: Conn, app: unknown): void | Promise<void>;
  afterInit?(conn: Conn): void | Promise<void>;
  clientMessage?(conn: Conn, data: Buffer, type: MessageType): void | Promise<void>;
  clientPing?: (conn: Conn, data: Buffer) => void | Promise<void>;
  clientPong?: (conn: Conn, data: Buffer) => void | Promise<void>;
  clientClose?: (conn: Conn, code: number, reason: string) => void | Promise<void>;
  close?(conn: Conn): void | Promise<void>;
}

/** A handler class that records every hook call into `events` and echoes messages unless told otherwise. */
export function recordingHandler(events: Events, b: Behaviour = {}): new () => HandlerHooks<unknown> {
  class Recorder extends Handler {
    init(h: Handshake, conn: Conn, app: unknown) {
      events.push(`init ${h.path}`);
      return b.init?.(h, conn, app);
    }
    afterInit() {
      events.push('afterInit');
      return b.afterInit?.(this.conn);
    }
    clientMessage(data: Buffer, type: MessageType) {
      events.push(`message ${type} ${type === 'text' ? data.toString() : data.toString('hex')}`);
      if (b.clientMessage) return b.clientMessage(this.conn, data, type);
      if (type === 'text') this.conn.writeText(data);
      else this.conn.writeBin(data);
    }
    close() {
      events.push('close');
      return b.close?.(this.conn);
    }
  }
  const proto = Recorder.prototype as unknown as Record<string, unknown>;
  if (b.clientPing) proto.clientPing = function (this: Recorder, d: Buffer) { events.push(`ping ${d.toString()}`); return b.clientPing!(this.conn, d); };
  if (b.clientPong) proto.clientPong = function (this: Recorder, d: Buffer) { events.push(`pong ${d.toString()}`); return b.clientPong!(this.conn, d); };
  if (b.clientClose) proto.clientClose = function (this: Recorder, code: number, reason: string) { events.push(`clientClose ${code} ${reason}`); return b.clientClose!(this.conn, code, reason); };
  return Recorder;
}

/** Starts a server on an ephemeral 127.0.0.1 port; returns it and its port. */
export async function startServer(HandlerClass: new () => HandlerHooks<unknown>, config: ServerConfig = {}, app?: unknown): Promise<{ server: Server<HandlerHooks<unknown>>; port: number }> {
  const server = new Server(HandlerClass, { port: 0, logLevel: 'silent', closeTimeout: 1000, ...config, threadPool: { count: 0, ...config.threadPool } });
  const address = (await server.listen(app)) as AddressInfo;
  return { server, port: address.port };
}

/** Waits until `predicate` holds, polling; throws after `ms` naming `what`. */
export async function eventually(what: string, predicate: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
