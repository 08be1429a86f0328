/**
 * Gives the memory of socket reads back promptly: after every {@link READ_BYTES} a thread reads, it
 * asks V8 for a young-generation collection.
 *
 * Node gives each socket read an ArrayBuffer of its own, outside the JavaScript heap. V8 frees the
 * dead ones in its young collections, which it runs when the young generation fills with
 * JavaScript objects; an I/O thread of wsz allocates few, so on a thread whose young generation has
 * grown to V8's 16 MiB (the main thread, once an application's modules have loaded) they are rare.
 * Meanwhile V8 counts every byte of ArrayBuffer allocated since its last full collection against
 * the old generation's limit, and a small heap gets a small one: the reads' memory then triggers
 * full mark-compacts, each marking the whole heap (measured on the main thread under 16 KiB echo:
 * 55-60 in 5 s). A young collection where nearly everything young is dead costs a fraction of a
 * millisecond; one per 8 MiB read left one mark-compact in 5 s and took the default mode from
 * 330-460 to 640-690 MiB/s on Node 24 (docs/benchmarks.md). The application's own objects are collected
 * as V8 would: a young collection only moves survivors on.
 *
 * Not on Node 20, which allocates each read with malloc and gives it back when V8 frees it: freeing 8 MiB of
 * them at once made glibc return the memory to the system and fault it back in on the next reads (155-165
 * instead of 225-235 MiB/s), and its main thread ran no mark-compacts under the same load anyway.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Bytes read on one thread between two young collections we ask for. */
export const READ_BYTES = 8 * 1024 * 1024;

type Collect = (options: { type: 'minor' }) => void;

/** V8's collector for this thread (undefined until first needed, null if it cannot be had). */
let collector: Collect | null | undefined;

/**
 * V8's `gc` function: the global one when Node runs with --expose-gc, else one from a context created
 * while the flag is on for that moment alone (so no global appears in the application's contexts).
 */
function v8Collector(): Collect | null {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return exposed as Collect;
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as Collect;
  } catch {
    return null;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

/** Node 22 and later (see above). */
const ENABLED = Number(process.versions.node.split('.')[0]) >= 22;

let read = 0;
let planned = false;

/** Counts `bytes` read from a socket on this thread; past READ_BYTES, a young collection follows this tick. */
export function countRead(bytes: number): void {
  if ((read += bytes) < READ_BYTES || planned || !ENABLED) return;
  read = 0;
  planned = true;
  setImmediate(collectYoung);
}

function collectYoung(): void {
  planned = false;
  if (collector === undefined) collector = v8Collector();
  collector?.({ type: 'minor' });
}
