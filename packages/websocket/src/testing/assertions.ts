import { AssertionError } from 'node:assert';
import type { Client, ClientMessage } from '../client/client.js';

/** How a payload is shown in a failure: text as a quoted string, bytes as hex (long ones cut). */
export function show(type: string, data: Uint8Array | string | undefined): string {
  if (data === undefined) return `a ${type} message`;
  if (type === 'text' || typeof data === 'string')
    return `${type} ${JSON.stringify(Buffer.from(data).toString('utf8'))}`;
  const hex = Buffer.from(data)
    .subarray(0, 48)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');
  return `${type} <${hex}${data.length > 48 ? ` ... (${data.length} bytes)` : ''}>`;
}

function describe(m: ClientMessage): string {
  if (m.type === 'close') return `close ${m.code}${m.reason ? ` ${JSON.stringify(m.reason)}` : ''}`;
  return show(m.type, m.data);
}

/** What the server logged, for an error message ('' when nothing). */
export function serverSaid(log: readonly string[]): string {
  return log.length === 0 ? '' : `\nthe server logged:\n${log.map((l) => `  ${l.replace(/\n/g, '\n  ')}`).join('\n')}`;
}

/**
 * Assertions on what the peer of a test connection received. Each waits for the next message up
 * to a timeout and fails with an AssertionError showing expected and received (text as text,
 * binary as hex), so any test runner shows a readable diff.
 */
export class PeerAssertions {
  protected readonly client: Client;
  /** Default wait of every expectation, in ms. */
  timeout: number;
  /**
   * What the server logged at warn and error level for this test (a hook that threw, with its
   * stack; a refused upgrade), though logging is silent under a test runner. Failed expectations
   * show it too.
   */
  readonly serverLog: string[];

  /** @internal */
  constructor(client: Client, timeout: number, serverLog: string[] = []) {
    this.client = client;
    this.timeout = timeout;
    this.serverLog = serverLog;
  }

  /** A failed expectation, with what the server logged (a hook's error explains most surprises). */
  private fail(options: ConstructorParameters<typeof AssertionError>[0] & { message: string }): AssertionError {
    return new AssertionError({ ...options, message: options.message + serverSaid(this.serverLog) });
  }

  /** The next message, before `deadline` (a time from Date.now()): skipped frames do not restart the wait. */
  private async next(awaited: string, deadline: number, timeout: number): Promise<ClientMessage> {
    let m: ClientMessage | null;
    try {
      m = await this.client.read(Math.max(0, deadline - Date.now()));
    } catch {
      throw this.fail({
        message: `expected ${awaited}, but the connection was already closed`,
        stackStartFn: this.next,
      });
    }
    if (m === null)
      throw this.fail({ message: `timed out after ${timeout} ms waiting for ${awaited}`, stackStartFn: this.next });
    return m;
  }

  /**
   * Waits for a text or binary message and checks its type and, when given, its data (a string
   * for text, bytes or a string for binary). Pings and pongs in between are skipped. Returns the data.
   */
  async expectMessage(
    type: 'text' | 'binary',
    data?: string | Uint8Array,
    options: { timeout?: number } = {},
  ): Promise<Buffer> {
    const awaited = show(type, data);
    const timeout = options.timeout ?? this.timeout;
    const deadline = Date.now() + timeout;
    for (;;) {
      const m = await this.next(awaited, deadline, timeout);
      if (m.type === 'ping' || m.type === 'pong') continue;
      const got = m.type === 'close' ? undefined : m.data;
      const sameType = m.type === type;
      const sameData = data === undefined || (got !== undefined && Buffer.compare(got, Buffer.from(data)) === 0);
      if (!sameType || !sameData) {
        throw this.fail({
          message: `expected ${awaited}, received ${describe(m)}`,
          expected: data === undefined ? type : show(type, data),
          actual: describe(m),
          operator: 'expectMessage',
          stackStartFn: this.expectMessage,
        });
      }
      return got!;
    }
  }

  /** Waits for a ping (or pong) and checks its payload when given. */
  async expectControl(
    type: 'ping' | 'pong',
    data?: string | Uint8Array,
    options: { timeout?: number } = {},
  ): Promise<Buffer> {
    const timeout = options.timeout ?? this.timeout;
    const m = await this.next(show(type, data), Date.now() + timeout, timeout);
    const ok = m.type === type && (data === undefined || Buffer.compare(m.data, Buffer.from(data)) === 0);
    if (!ok) {
      throw this.fail({
        message: `expected ${show(type, data)}, received ${describe(m)}`,
        expected: show(type, data),
        actual: describe(m),
        operator: 'expectControl',
        stackStartFn: this.expectControl,
      });
    }
    return (m as { data: Buffer }).data;
  }

  /** Waits for the close frame (skipping messages) and checks its code and reason when given. */
  async expectClose(
    code?: number,
    reason?: string,
    options: { timeout?: number } = {},
  ): Promise<{ code: number; reason: string }> {
    const awaited = `close${code === undefined ? '' : ` ${code}`}${reason === undefined ? '' : ` ${JSON.stringify(reason)}`}`;
    const timeout = options.timeout ?? this.timeout;
    const deadline = Date.now() + timeout;
    for (;;) {
      const m = await this.next(awaited, deadline, timeout);
      if (m.type !== 'close') continue;
      if ((code !== undefined && m.code !== code) || (reason !== undefined && m.reason !== reason)) {
        throw this.fail({
          message: `expected ${awaited}, received ${describe(m)}`,
          expected: awaited,
          actual: describe(m),
          operator: 'expectClose',
          stackStartFn: this.expectClose,
        });
      }
      return { code: m.code, reason: m.reason };
    }
  }

  /** Fails if any message arrives within `ms` (default 50). */
  async expectNoMessage(ms = 50): Promise<void> {
    const m = await this.client.read(ms).catch(() => null);
    if (m !== null) {
      throw this.fail({
        message: `expected no message within ${ms} ms, received ${describe(m)}`,
        operator: 'expectNoMessage',
        stackStartFn: this.expectNoMessage,
      });
    }
  }
}
