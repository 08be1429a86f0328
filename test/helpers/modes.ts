import type { AddressInfo } from 'node:net';
import { BroadcastChannel } from 'node:worker_threads';
import { Server, type HandlerClass, type HandlerHooks, type ServerConfig } from 'wsz';
import { RawClient } from './raw-client.js';
import { eventually } from './server.js';
import { Recorder, type RecorderApp } from './recorder.js';
import { afterAll, beforeAll } from 'vitest';
import { IO_THREADS } from './io-threads.js';

/** A way to run a server: hook threads (0: inline), and I/O threads (`workerCount`). */
export interface Mode {
  name: string;
  threads: number;
  workers: number;
}

/**
 * The ways to run handlers; end-to-end suites run in each: inline, on hook threads, and (on Node
 * 24, which can move sockets between threads) on two I/O threads with hooks inline.
 */
export const MODES: readonly Mode[] = [
  { name: 'inline', threads: 0, workers: 1 },
  { name: 'threads', threads: 2, workers: 1 },
  ...(IO_THREADS ? [{ name: 'I/O threads', threads: 0, workers: 2 }] : []),
];

/** I/O threads for the servers {@link serve} starts; see {@link inMode}. */
let workerCount = 1;

/** Makes the servers a describe block starts with {@link serve} run on `workers` I/O threads. */
export function inMode(workers: number): void {
  beforeAll(() => void (workerCount = workers));
  afterAll(() => void (workerCount = 1));
}

let nextChannel = 0;

/** A running test server and the hook events its handlers reported, in order. */
export interface Served {
  server: Server<HandlerHooks<unknown>>;
  port: number;
  events: string[];
  shared: SharedArrayBuffer;
  stop(): Promise<void>;
}

/**
 * Starts a server on an ephemeral port with `threads` worker threads (0 = inline) running
 * `HandlerClass` (a recorder) with behaviour `behaviour`.
 */
export async function serve(
  threads: number,
  opts: { behaviour?: string; handler?: HandlerClass<HandlerHooks<any>>; config?: ServerConfig; tag?: string } = {},
): Promise<Served> {
  const name = `wsz-test-${process.pid}-${nextChannel++}`;
  const events: string[] = [];
  const listener = new BroadcastChannel(name);
  listener.onmessage = (e) => events.push((e as MessageEvent).data as string);
  const shared = new SharedArrayBuffer(64);
  const app: RecorderApp = { channel: name, behaviour: opts.behaviour, shared, tag: opts.tag };
  const config = opts.config ?? {};
  const server = new Server((opts.handler ?? Recorder) as HandlerClass<HandlerHooks<any>>, {
    port: 0,
    logLevel: 'silent',
    closeTimeout: 1000,
    workerCount,
    ...config,
    threadPool: { count: threads, ...config.threadPool },
  });
  const { port } = (await server.listen(app as never)) as AddressInfo;
  return {
    server,
    port,
    events,
    shared,
    async stop() {
      await server.stop();
      listener.close();
    },
  };
}

/** Opens gate `index` of a served app's shared memory. */
export function openGate(shared: SharedArrayBuffer, index = 0): void {
  Atomics.store(new Int32Array(shared), index, 1);
}

/** Things to undo after a test, in order (clients before servers). */
export type Cleanup = Array<() => Promise<void> | void>;

/**
 * Serves `behaviour` with `threads` workers and opens one upgraded client to it, registering both
 * in `cleanup`; resolves once the handler's afterInit ran.
 */
export async function serveAndOpen(
  cleanup: Cleanup,
  threads: number,
  behaviour?: string,
  config?: ServerConfig,
  handler?: HandlerClass<HandlerHooks<any>>,
): Promise<Served & { client: RawClient }> {
  const s = await serve(threads, { behaviour, config, handler });
  const client = await RawClient.open(s.port);
  cleanup.push(
    () => client.destroy(),
    () => s.stop(),
  );
  await eventually('afterInit', () => s.events.includes('afterInit'));
  return { ...s, client };
}
