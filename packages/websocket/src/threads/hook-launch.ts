import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { HandlerClass, HandlerHooks } from '../handler/handler.js';
import { resourceLimits, withHeapFloor } from './thread-heap.js';

/** The programs our threads run: a hook worker, or an I/O thread that owns sockets (`workerCount`). */
export type ThreadEntry = 'hooks' | 'io';

/** How a thread of ours is started for the user's class: why it needs one, and the setting that avoids it. */
export interface ThreadReason {
  /** e.g. 'threadPool.count is 4, so handlers run on worker threads' */
  why: string;
  /** e.g. 'set threadPool.count: 0 to run handlers on the I/O thread' */
  instead: string;
}

/** How to start a handler worker: its entry module, Node flags, and where the handler class lives. */
export interface WorkerLaunch {
  moduleUrl: string;
  exportName: string;
  /** The app as workers receive it (a structured clone), or a clear error when that cannot be. */
  cloneableApp(app: unknown): unknown;
  /**
   * Starts a worker thread running `entry` (a hook worker by default, or an I/O thread) with
   * `workerData` and the app's Node flags, less those Node refuses in a worker: the first refusal
   * names them, and they are left out from then on.
   */
  start(workerData: unknown, entry?: ThreadEntry): Worker;
}

/**
 * The flags out of `execArgv` that Node named in an ERR_WORKER_INVALID_EXEC_ARGV error: V8 and
 * process-wide flags (`--max-old-space-size`, `--title`, `--perf-basic-prof`...). They apply to the
 * whole process, workers included, so workers need not be given them.
 */
function refusedFlags(error: unknown): string[] | null {
  if ((error as { code?: unknown })?.code !== 'ERR_WORKER_INVALID_EXEC_ARGV') return null;
  const message = (error as Error).message;
  const at = message.indexOf(': ');
  return at < 0 ? null : message.slice(at + 2).split(', ');
}

const TS = /\.[cm]?tsx?$/;
/** What Node loads itself where it strips types (Node 22.18+, 23.6+, 24): `.ts`, `.mts`, `.cts`, not `.tsx`. */
const STRIPPABLE = /\.[cm]?ts$/;

/**
 * Whether a worker needs tsx to import `moduleUrl`. The library's own source does (its imports name `.js` files
 * that are `.ts` ones); a TypeScript handler does when this Node cannot strip types, or when the app runs under tsx
 * (whose resolution, `./x.js` finding `./x.ts`, the handler's imports may rely on). Otherwise Node imports it itself.
 */
export function needsTsx(
  moduleUrl: string,
  fromSource: boolean,
  node: { stripsTypes: boolean; underTsx: boolean } = {
    stripsTypes: Boolean((process.features as { typescript?: unknown }).typescript),
    underTsx: process.execArgv.some((a) => a.includes('tsx')),
  },
): boolean {
  if (fromSource) return true;
  if (!TS.test(moduleUrl)) return false;
  return node.underTsx || !node.stripsTypes || !STRIPPABLE.test(moduleUrl);
}

/** The URL of tsx's ESM API (its `register()` installs TypeScript hooks in the calling thread), or null. */
function tsxApi(): string | null {
  for (const from of [import.meta.url, pathToFileURL(join(process.cwd(), 'noop.js')).href]) {
    try {
      const path = createRequire(from).resolve('tsx/esm/api');
      const esm = path.replace(/\.cjs$/, '.mjs');
      return pathToFileURL(existsSync(esm) ? esm : path).href;
    } catch {
      // not resolvable from there
    }
  }
  return null;
}

/**
 * Works out how workers will load `HandlerClass`, or throws an error that says what to do.
 * Workers import the module named by the class's `static module = import.meta.url` and take the
 * export of the class's name. TypeScript (the app under tsx, or this library from source under a
 * test runner) needs a TypeScript loader in the worker where Node does not strip types itself (see
 * {@link needsTsx}): the app's own flags are passed on, and tsx is registered in the worker.
 */
export function workerLaunch(HandlerClass: HandlerClass<HandlerHooks<any>>, reason: ThreadReason): WorkerLaunch {
  const name = HandlerClass.name || 'the handler class';
  const moduleUrl = (HandlerClass as unknown as { module?: unknown }).module;
  if (typeof moduleUrl !== 'string' || moduleUrl === '') {
    throw new TypeError(
      `${reason.why}, which import the module that defines ${name}. ` +
        `Add \`static module = import.meta.url;\` to class ${name} and export the class, or ${reason.instead}.`,
    );
  }
  if (!/^(file|data|https?):/.test(moduleUrl)) {
    throw new TypeError(
      `${name}: static module must be the module's own URL, \`static module = import.meta.url;\` (got ${JSON.stringify(moduleUrl)}; ` +
        'worker threads import it, and a relative path would be resolved from the library, not from your file)',
    );
  }
  const fromSource = TS.test(import.meta.url);
  const ext = fromSource ? '.ts' : '.js';
  const entries: Record<ThreadEntry, string> = {
    hooks: new URL(`./hook-main${ext}`, import.meta.url).href,
    io: new URL(`../io/io-main${ext}`, import.meta.url).href,
  };
  // Module hooks registered by --import do not reach worker threads on Node 20: a worker that must
  // load TypeScript registers tsx itself, before importing anything else.
  // Where Node strips types itself (and the app does not run under tsx), a worker imports a .ts handler as Node does.
  let tsx: string | null = null;
  if (needsTsx(moduleUrl, fromSource)) {
    tsx = tsxApi();
    if (!tsx) {
      throw new TypeError(
        `${name} is defined in TypeScript (${moduleUrl}) and worker threads need tsx to load it on this Node ` +
          `(${process.version} does not strip types${STRIPPABLE.test(moduleUrl) ? '' : ', and never does for .tsx'}): ` +
          `run Node 22.18 or later (24 LTS), install tsx (npm i -D tsx), compile the handler to JavaScript, or ${reason.instead}.`,
      );
    }
  }
  let execArgv = process.execArgv.filter(
    (a, i, all) => !a.includes('tsx') && !(a === '--import' || a === '--require' ? all[i + 1]?.includes('tsx') : false),
  );
  if (fromSource && !execArgv.some((a) => a.includes('wsz-source'))) execArgv.push('--conditions=wsz-source');
  const bootstrap = (entry: string): string =>
    `(async () => {` +
    (tsx ? `(await import(${JSON.stringify(tsx)})).register();` : '') +
    `await import(${JSON.stringify(entry)});` +
    `})().catch((e) => require('node:worker_threads').parentPort.postMessage({ ready: false, error: String(e && e.stack || e) }));`;
  const initThread = (HandlerClass as unknown as { initThread?: unknown }).initThread;
  return {
    moduleUrl,
    exportName: HandlerClass.name,
    cloneableApp(app: unknown): unknown {
      try {
        return structuredClone(app);
      } catch (error) {
        if (typeof initThread === 'function') return undefined;
        throw new TypeError(
          `listen(app): the app cannot be copied to worker threads (${(error as Error).message}). ` +
            `Give ${name} a \`static initThread(app, index)\` that builds each thread's app (a database pool, a socket), ` +
            `pass only plain data, or ${reason.instead}.`,
        );
      }
    },
    start(workerData: unknown, entry: ThreadEntry = 'hooks'): Worker {
      for (;;) {
        try {
          return withHeapFloor(
            () => new Worker(bootstrap(entries[entry]), { eval: true, workerData, execArgv, resourceLimits }),
          );
        } catch (error) {
          const refused = refusedFlags(error);
          const kept = refused ? execArgv.filter((a) => !refused.includes(a)) : execArgv;
          if (kept.length === execArgv.length) throw error;
          execArgv = kept;
        }
      }
    },
  };
}
