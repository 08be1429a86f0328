/**
 * Entry point of an I/O thread (`workerCount` > 1): imports the user's handler module and runs a
 * local engine of its own, without a listener, for the sockets the main thread hands it. Everything a
 * connection does happens here for its whole life; hooks run inline or on this thread's hook
 * workers. Pub/sub beyond this thread goes through the main thread (see ThreadRelay).
 */
import type { Socket } from 'node:net';
import { forwardEvents } from '../observe/channels.js';
import type { TlsOptions } from 'node:tls';
import { TlsAcceptor } from '../engine/tls-accept.js';
import { parentPort, workerData } from 'node:worker_threads';
import { LocalEngine } from '../engine/local-engine.js';
import { resolveConfig, type ServerConfig } from '../config/config.js';
import { scopedLogger, type Logger, type LogLevel } from '../logging/log.js';
import { loadHandler } from '../threads/load-handler.js';
import { ThreadRelay } from './thread-relay.js';
import { BOARD_PERIOD, writeBoard } from './stats-board.js';
import type { RelayBatch } from './relay-batch.js';
import { HttpForwarder, type ForwardedRequest } from './http-relay.js';
import { plainHttpOf, type HttpReply } from '../handler/plain-http.js';

/** What the main thread gives an I/O thread at start. */
export interface IoWorkerData {
  moduleUrl: string;
  exportName: string;
  app: unknown;
  index: number;
  /** The user's config, less what cannot cross threads (logger, backplane), made for this thread. */
  config: ServerConfig;
  /** Hooks run inline here (0), or on this many hook workers of this thread's own. */
  hookThreads: number;
  /** The user gave a logger: lines go to the main thread, which calls it. */
  forwardLog: boolean;
  board: Float64Array;
  /** This thread's open connections, counted up by the main thread as it hands one over and down here as one ends. */
  live: Int32Array;
  /** Bytes relayed to each I/O thread and not yet taken by it (see relayLimit), shared by every thread. */
  load: Int32Array;
  /** The server's relayLimit. */
  relayLimit: number;
  /** Which diagnostics channels have subscribers on the main thread (kept there): events for those go to it. */
  events: Int32Array;
  /** Time hooks from the start (the main thread was asked for stats before this thread started). */
  timeHooks: boolean;
}

/** Messages from the main thread. */
export type ToIoThread =
  | { socket: Socket; id: number; over: boolean }
  | { relay: RelayBatch; bytes: number }
  | { httpReply: number; reply: HttpReply | null }
  | { timeHooks: true }
  | { stop: true };

/** Messages to the main thread. */
export type FromIoThread =
  | { ready: true }
  | { ready: false; error: string }
  | { relay: RelayBatch }
  | { log: LogLevel; line: string }
  | { event: number; message: object }
  | { http: number; request: ForwardedRequest }
  | { stopped: true };

const data = workerData as IoWorkerData;
const port = parentPort!;

function forwardingLogger(): Logger {
  const line =
    (level: LogLevel) =>
    (message: string, ...details: unknown[]) =>
      port.postMessage({
        log: level,
        line: details.length === 0 ? message : `${message} ${details.map(String).join(' ')}`,
      } satisfies FromIoThread);
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

async function main(): Promise<void> {
  // Events whose channel has subscribers on the main thread go there too (one message each).
  forwardEvents(data.events, (event, message) => port.postMessage({ event, message } satisfies FromIoThread));
  const H = await loadHandler(data.moduleUrl, data.exportName);
  const relay = new ThreadRelay(
    (batch, transfer) => port.postMessage({ relay: batch } satisfies FromIoThread, transfer),
    data.live,
    data.load,
    data.index,
    data.relayLimit,
  );
  const userConfig: ServerConfig = {
    ...data.config,
    workerCount: 1,
    threadPool: { ...data.config.threadPool, count: data.hookThreads },
    ...(data.forwardLog ? { logger: forwardingLogger() } : {}),
  };
  const board = data.board;
  let boardSoon = false;
  const lifecycle = (): void => {
    if (boardSoon) return;
    boardSoon = true;
    setImmediate(() => {
      boardSoon = false;
      writeBoard(board, engine.stats());
    });
  };
  const config = resolveConfig(userConfig);
  const log = scopedLogger(`wsz io ${data.index}`, config.logLevel, config.logger);
  const http = new HttpForwarder((ask, request) => port.postMessage({ http: ask, request } satisfies FromIoThread));
  const plainHttp = plainHttpOf(H) === null ? null : http.handler;
  const engine = new LocalEngine(H, config, log, { relay, lifecycle, plainHttp });
  // Hooks inline here get this thread's app; hook workers build their own from the copy.
  const initThread = (H as unknown as { initThread?: (app: unknown, index: number) => unknown }).initThread;
  const app =
    data.hookThreads === 0 && typeof initThread === 'function'
      ? await initThread.call(H, data.app, data.index)
      : data.app;
  await engine.start(app);
  if (data.timeHooks) engine.timeHooks();

  const tls = data.config.tls as TlsOptions | null | undefined;
  const acceptor = tls ? new TlsAcceptor(tls) : null;
  const handshakeTimeout = config.handshake.timeout;
  /**
   * Under TLS, the socket becomes a connection once its TLS handshake is done; one deadline from
   * here bounds TLS, the request and init. A socket over maxConn is closed at once (a 503 would cost
   * a TLS handshake first).
   */
  const adopt = (socket: Socket, id: number, over: boolean): void => {
    if (acceptor === null) {
      engine.adoptSocket(socket, id, over);
      socket.resume();
      return;
    }
    if (over) {
      socket.destroy();
      relay.closed(id);
      return;
    }
    const deadline = Date.now() + handshakeTimeout;
    acceptor.secure(
      socket,
      deadline,
      (secure) => engine.adoptSocket(secure as unknown as Socket, id, false, deadline),
      () => relay.closed(id),
    );
  };

  const refresh = setInterval(() => writeBoard(board, engine.stats()), BOARD_PERIOD);
  port.on('message', (m: ToIoThread) => {
    if ('socket' in m) adopt(m.socket, m.id, m.over);
    else if ('relay' in m) relay.receive(m.relay, engine.hub, m.bytes, engine);
    else if ('httpReply' in m) http.answered(m.httpReply, m.reply);
    else if ('timeHooks' in m) engine.timeHooks();
    else if ('stop' in m) {
      void engine.stop().then(() => {
        log.info('stopped');
        clearInterval(refresh);
        writeBoard(board, engine.stats());
        relay.flush();
        relay.stop();
        port.postMessage({ stopped: true } satisfies FromIoThread);
        port.close();
      });
    }
  });
  port.postMessage({ ready: true } satisfies FromIoThread);
}

main().catch((error: Error) =>
  port.postMessage({ ready: false, error: String(error.stack ?? error) } satisfies FromIoThread),
);
