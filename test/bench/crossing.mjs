// pnpm bench --crossing: what one round trip between the I/O thread and a hook thread costs on this machine,
// before any wsz code runs: the floor under every event a hook thread handles while it would otherwise sleep.
// Four ways to wake the other thread, each 20,000 round trips of a few numbers:
//   postMessage   a message each way (what wsz's batches use)
//   waitAsync     a shared-memory counter each way, woken by Atomics.notify, awaited by Atomics.waitAsync
//   wait          the hook thread blocks in Atomics.wait (a futex), the I/O thread awaits Atomics.waitAsync
//   spin          both threads poll the counter without sleeping (a core each, busy the whole time)
// Prints wall time and CPU time (both threads) per round trip.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const N = 20_000;
const MODES = ['postMessage', 'waitAsync', 'wait', 'spin'];

if (isMainThread) {
  console.log(`one round trip I/O thread -> hook thread -> I/O thread, ${N} each (node ${process.version})`);
  for (const mode of MODES) {
    const ctl = new Int32Array(new SharedArrayBuffer(8));
    const w = new Worker(new URL(import.meta.url), { workerData: { mode, ctl } });
    await new Promise((resolve) => w.once('message', resolve));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    if (mode === 'postMessage') {
      let i = 0;
      await new Promise((resolve) => {
        w.on('message', () => {
          if (++i === N) resolve();
          else w.postMessage({ records: [1, i, 2, 3, 4], extra: [] });
        });
        w.postMessage({ records: [1, 0, 2, 3, 4], extra: [] });
      });
    } else {
      for (let i = 1; i <= N; i++) {
        Atomics.store(ctl, 0, i);
        Atomics.notify(ctl, 0);
        if (mode === 'spin') {
          while (Atomics.load(ctl, 1) !== i);
          continue;
        }
        const r = Atomics.waitAsync(ctl, 1, i - 1);
        if (r.async) await r.value;
      }
    }
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    await w.terminate();
    console.log(
      `${mode.padEnd(12)} wall ${((wall * 1000) / N).toFixed(1).padStart(6)} us   cpu ${((cpu.user + cpu.system) / N).toFixed(1).padStart(6)} us`,
    );
  }
} else {
  const { mode, ctl } = workerData;
  if (mode === 'postMessage') {
    parentPort.on('message', (m) => parentPort.postMessage({ records: [2, m.records[1], 0], extra: [] }));
    parentPort.postMessage('ready');
  } else if (mode === 'waitAsync') {
    parentPort.on('message', () => {}); // keeps the thread alive while it awaits
    parentPort.postMessage('ready');
    let seen = 0;
    for (;;) {
      const r = Atomics.waitAsync(ctl, 0, seen);
      if (r.async) await r.value;
      seen = Atomics.load(ctl, 0);
      Atomics.store(ctl, 1, seen);
      Atomics.notify(ctl, 1);
    }
  } else {
    parentPort.postMessage('ready');
    let seen = 0;
    for (;;) {
      if (mode === 'spin') while (Atomics.load(ctl, 0) === seen);
      else Atomics.wait(ctl, 0, seen);
      seen = Atomics.load(ctl, 0);
      Atomics.store(ctl, 1, seen);
      Atomics.notify(ctl, 1);
    }
  }
}
