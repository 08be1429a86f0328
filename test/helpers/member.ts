import { Client } from 'wsz/client';

/** A pub/sub test client: reads what the server sends as strings ('binary N bytes' for binary). */
export class Member {
  readonly client: Client;
  readonly id: number;

  private constructor(client: Client, id: number) {
    this.client = client;
    this.id = id;
  }

  /** Connects to a {@link Topical} server and reads its `id N` greeting. */
  static async join(port: number, path = '/'): Promise<Member> {
    const client = await Client.connect(`ws://127.0.0.1:${port}${path}`, { maxMessageSize: 64 * 1024 * 1024 });
    const hello = await client.read(5000);
    const text = hello !== null && hello.type === 'text' ? hello.data.toString() : String(hello?.type);
    const m = /^id (\d+)$/.exec(text);
    if (!m) throw new Error(`expected 'id N', got ${text}`);
    return new Member(client, Number(m[1]));
  }

  send(command: string): void {
    this.client.write(command);
  }

  /** The next message as a string; throws after `ms` (or on a close, naming its code). */
  async next(ms = 5000): Promise<string> {
    const m = await this.client.read(ms);
    if (m === null) throw new Error(`member ${this.id}: nothing arrived within ${ms} ms`);
    if (m.type === 'close') throw new Error(`member ${this.id}: closed with ${m.code}`);
    if (m.type === 'text') return m.data.toString();
    if (m.type === 'binary') return `binary ${m.data.length} bytes`;
    return this.next(ms); // pings and pongs
  }

  /** Sends `command` and returns the next message (its reply). */
  async ask(command: string): Promise<string> {
    this.send(command);
    return this.next();
  }

  /** The next `n` messages. */
  async take(n: number, ms = 10_000): Promise<string[]> {
    const out: string[] = [];
    while (out.length < n) out.push(await this.next(ms));
    return out;
  }

  /** True when nothing arrives within `ms`. */
  async silent(ms = 150): Promise<boolean> {
    const m = await this.client.read(ms);
    return m === null;
  }

  close(): void {
    this.client.destroy();
  }

  /** `n` members joined one after another (so connections are spread in order); `cleanup` closes them. */
  static async joinAll(port: number, n: number, cleanup: Array<() => unknown>): Promise<Member[]> {
    const out: Member[] = [];
    for (let i = 0; i < n; i++) out.push(await Member.join(port));
    cleanup.push(() => out.forEach((m) => m.close()));
    return out;
  }
}
