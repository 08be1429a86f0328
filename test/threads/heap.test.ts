import { PerformanceObserver, constants } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { READ_BYTES, countRead } from '../../packages/websocket/src/buffers/read-memory.js';
import { withHeapFloor } from '../../packages/websocket/src/threads/thread-heap.js';

const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/** The kinds of the garbage collections this thread runs while `during` runs (and a tick after). */
async function collections(during: () => Promise<void>): Promise<number[]> {
  const kinds: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) kinds.push((entry as unknown as { detail: { kind: number } }).detail.kind);
  });
  observer.observe({ entryTypes: ['gc'] });
  await during();
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  return kinds;
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("the memory of socket reads (a thread's young generation)", () => {
  it.runIf(NODE_MAJOR >= 22)('asks V8 for a young collection once a thread has read READ_BYTES', async () => {
    const kinds = await collections(async () => {
      countRead(READ_BYTES);
      await tick();
    });
    expect(kinds).toContain(constants.NODE_PERFORMANCE_GC_MINOR);
  });

  it('asks for none below READ_BYTES, and exposes no gc global to the application', async () => {
    countRead(READ_BYTES); // whatever was counted before: the next collection is planned now
    await tick();
    const kinds = await collections(async () => {
      countRead(1024);
      await tick();
    });
    expect(kinds.filter((k) => k === constants.NODE_PERFORMANCE_GC_MINOR).length).toBeLessThanOrEqual(1);
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  });
});

describe('the threads wsz starts', () => {
  it('start under the heap floor: the thread runs, and a start that throws is thrown again', async () => {
    const worker = withHeapFloor(
      () => new Worker("require('node:worker_threads').parentPort.postMessage('up')", { eval: true }),
    );
    expect(await new Promise((resolve) => worker.once('message', resolve))).toBe('up');
    await worker.terminate();
    expect(() =>
      withHeapFloor(() => {
        throw new Error('no thread');
      }),
    ).toThrow('no thread');
  });
});
