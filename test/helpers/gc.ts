import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Runs a full garbage collection in this thread (V8's gc, exposed for the test process only). */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** Bytes of ArrayBuffers (Buffers included) this thread holds live: measured after a full collection. */
export function liveBuffers(): number {
  collectGarbage();
  return process.memoryUsage().arrayBuffers;
}
