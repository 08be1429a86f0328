import type { Worker } from 'node:worker_threads';
import type { ResolvedConfig, ServerConfig } from '../config/config.js';
import { ConfigError, type ConfigErrorCode } from '../config/config-error.js';
import { RelayWriter } from './relay-batch.js';

/** The first Node major that can move an accepted socket to another thread. */
export const IO_THREADS_NODE = 24;

/** An Error (as documented for `new Server`) with the code of config this Node or setup cannot run. */
export function unsupported(message: string): Error {
  return Object.assign(new Error(message), { code: 'WSZ_ERR_UNSUPPORTED_CONFIG' satisfies ConfigErrorCode });
}

/** Throws when this Node cannot run I/O threads. */
export function checkIoThreadsSupported(workerCount: number): void {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= IO_THREADS_NODE) return;
  throw unsupported(
    `workerCount: ${workerCount} needs Node ${IO_THREADS_NODE} or later: I/O threads take over accepted sockets, which Node ${process.versions.node} ` +
      'cannot move between threads. Use workerCount: 1 (the default) on this Node, or run one process per core with a backplane (docs/scaling.md).',
  );
}

/** One I/O thread as the main thread sees it. */
export class IoThread {
  readonly index: number;
  readonly worker: Worker;
  readonly board: Float64Array;
  /** Connections handed to it and not yet ended: counted up here, down by the thread (shared memory). */
  readonly live: Int32Array;
  ready = false;
  dead = false;
  stopped: (() => void) | null = null;
  readonly out = new RelayWriter();

  constructor(index: number, worker: Worker, board: Float64Array, live: Int32Array) {
    this.index = index;
    this.worker = worker;
    this.board = board;
    this.live = live;
  }

  /** Its open connections now. */
  get open(): number {
    return Atomics.load(this.live, 0);
  }
}

/**
 * The user's config as I/O threads receive it (a structured clone): without the logger (its lines
 * come to the main thread) and the backplane (the main thread speaks to it for all). maxConn is
 * counted by the main thread, which tells a thread when a socket is one too many. Anything else
 * that cannot be copied is named.
 */
export function cloneableConfig(user: ServerConfig, config: ResolvedConfig): ServerConfig {
  const { logger: _logger, backplane: _backplane, ...rest } = user;
  for (const [key, value] of Object.entries(rest)) {
    try {
      structuredClone(value);
    } catch {
      const hint = key === 'allowedOrigins' ? ' (give a list of origins rather than a function)' : '';
      throw new ConfigError(
        `config ${key} cannot be copied to I/O threads (workerCount: ${config.workerCount})${hint}; give plain data, or set workerCount: 1`,
        'WSZ_ERR_UNSUPPORTED_CONFIG',
      );
    }
  }
  return { ...rest, logLevel: config.logLevel };
}
