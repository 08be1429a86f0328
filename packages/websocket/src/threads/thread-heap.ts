import { setFlagsFromString } from 'node:v8';
import type { Worker } from 'node:worker_threads';

/**
 * V8's young generation of each thread we start, in MiB (`resourceLimits.maxYoungGenerationSizeMb`).
 * A thread that reads sockets allocates little JavaScript but a Buffer per read: with V8's default
 * (which grows to 16 MiB and more while modules load) young collections are rare, the reads' memory
 * piles up outside the heap and V8 answers with full mark-compacts, ten a second under 16 KiB echo.
 * At 2 MiB cheap young collections free it first: measured 17-20 instead of 28-35 µs of CPU per
 * 16 KiB message on two I/O threads, 65 instead of 86 with the default hook threads, and no change on
 * small messages (docs/benchmarks.md).
 */
const YOUNG_GENERATION_MB = 2;

/** The `resourceLimits` of every thread we start. */
export const resourceLimits = { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB };

/**
 * The old generation each thread we start may fill before V8 first collects it in full, in MiB
 * (V8's `--initial-old-space-size`, given to our threads alone).
 *
 * V8 counts the memory of every Buffer allocated since the last full collection as if it were old
 * generation. A thread of ours keeps little JavaScript (8-14 MiB of heap) and so gets a small limit,
 * while it allocates a Buffer per socket read or per message (a hook's own copy): under 16 KiB echo
 * each thread ran 6-10 full mark-compacts a second, marking its whole heap each time, for memory
 * that young collections free anyway. With this floor they run none: measured 1.9x the 16 KiB echo
 * throughput with the default hook threads (docs/benchmarks.md). A thread whose heap really grows
 * past it is collected as V8 would without it.
 */
export const THREAD_OLD_SPACE_MB = 32;

/** The user set a heap size for the process: theirs applies to our threads too, as Node would have it. */
const userChose = /--initial[-_](old[-_]space|heap)[-_]size/.test(
  [...process.execArgv, process.env.NODE_OPTIONS ?? ''].join(' '),
);

/** Threads being started under the floor. */
let starting = 0;

/**
 * Starts a worker thread whose isolate gets the heap floor: V8's flags are the process's, so the
 * flag is set while our threads' isolates are created (until each is online) and cleared after, and
 * isolates the application creates later keep V8's default. (I/O threads start hook threads of their own,
 * counted on their own: should one clear the flag while another's thread is still starting, that thread
 * just runs with V8's default.)
 */
export function withHeapFloor(start: () => Worker): Worker {
  if (userChose) return start();
  if (starting++ === 0) setFlagsFromString(`--initial-old-space-size=${THREAD_OLD_SPACE_MB}`);
  let counted = true;
  const done = (): void => {
    if (!counted) return;
    counted = false;
    if (--starting === 0) setFlagsFromString('--initial-old-space-size=0');
  };
  try {
    const worker = start();
    worker.once('online', done);
    worker.once('exit', done);
    return worker;
  } catch (error) {
    done();
    throw error;
  }
}
