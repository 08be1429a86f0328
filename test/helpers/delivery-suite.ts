/**
 * What the delivery suites (test/delivery) share: the things to undo after each test, the mode a describe block
 * runs its servers in, and a client that reads the wire format's events.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { DeliveryEvent } from 'wsz';
import { Client } from 'wsz/client';

/** Things to undo after each test of the calling file, last first (clients before servers). */
export function useCleanup(): Array<() => unknown> {
  const list: Array<() => unknown> = [];
  afterEach(async () => {
    for (const undo of list.splice(0).reverse()) await undo();
  });
  return list;
}

/** The I/O threads (`workerCount`) of the servers the running describe block starts. */
export const mode = { workerCount: 1 };

/** Makes the servers of a describe block run on `workers` I/O threads. */
export function inMode(workers: number): void {
  beforeAll(() => void (mode.workerCount = workers));
  afterAll(() => void (mode.workerCount = 1));
}

/** A client of the server on `port`, destroyed after the test; reads wait up to `readTimeout` ms. */
export async function connect(port: number, cleanup: Array<() => unknown>, readTimeout = 3000): Promise<Client> {
  const c = await Client.connect(`ws://127.0.0.1:${port}/`, { readTimeout });
  cleanup.push(() => c.destroy());
  return c;
}

/** The next message: an event of the wire format when it is one, else its text. */
export async function next(c: Client): Promise<DeliveryEvent | string> {
  const m = await c.read();
  if (m === null || m.type !== 'text')
    throw new Error(`expected a text message, got ${m === null ? 'nothing' : m.type}`);
  const text = m.data.toString();
  return text.startsWith('{"wsz":') ? (JSON.parse(text) as DeliveryEvent) : text;
}
