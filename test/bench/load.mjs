// wsz's load generator: raw sockets, frames built once and written again and again, replies counted by
// walking frame headers (never parsed into messages). Prints one line of JSON.
//
//   node test/bench/load.mjs SCENARIO PORT [SECONDS]
//
// Scenarios (as ../docs/benchmarks.md describes them):
//   small      50 connections, 16 messages of 32 B text in flight each        -> messages/s
//   deep16k    50 connections, 4 messages of 16 KiB binary in flight each     -> MiB/s
//   rr         100 connections, 1 message of 128 B text in flight each        -> messages/s
//   deflate    50 connections offering permessage-deflate, 16 x 1 KiB text    -> messages/s
//   handshake  20 loops: connect, upgrade, close                               -> handshakes/s
//   idle       10000 connections that stay open (the runner reads server RSS) -> connections
//   fanout     1000 connections; the first keeps 8 messages of 64 B in flight
//              (one more each time its own copy comes back), the server sends
//              every message to everyone                                    -> deliveries/s
//
// Alongside its figure it reports how busy it was itself (`loadCpu`: CPU seconds per second of this
// process): below 1 per thread the generator had time to spare, so the server set the pace. With env
// LOAD_THREADS=N the connections are shared among N threads (fanout: one publisher, in the first); a
// server whose figure does not grow with more load threads was not held back by the generator.
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { isMainThread, Worker, workerData, parentPort } from 'node:worker_threads';

const [scenario = 'small', portText = '9001', secondsText = '5'] = isMainThread
  ? process.argv.slice(2)
  : workerData.argv;
const THREADS = isMainThread ? Math.max(1, Number(process.env.LOAD_THREADS ?? 1)) : 1;
/** This thread's share: its index among the load threads, and how many there are. */
const share = isMainThread ? { index: 0, of: 1 } : workerData.share;
/** This thread's part of `n` connections. */
const part = (n) => Math.floor(n / share.of) + (share.index < n % share.of ? 1 : 0);
const port = Number(portText);
const seconds = Number(secondsText);
const HOST = '127.0.0.1';

function upgradeRequest(extensions) {
  const key = randomBytes(16).toString('base64');
  return Buffer.from(
    `GET / HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extensions ? `Sec-WebSocket-Extensions: ${extensions}\r\n` : ''}\r\n`,
    'latin1',
  );
}

/** One masked client frame (a fixed mask: the server unmasks whatever the key). */
function clientFrame(opcode, payload) {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = Buffer.alloc(head + 4 + n);
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  const mask = [0x12, 0x34, 0x56, 0x78];
  out.set(mask, head);
  for (let i = 0; i < n; i++) out[head + 4 + i] = payload[i] ^ mask[i & 3];
  return out;
}

/**
 * Counts complete server frames in a stream of reads: walks headers, skips payloads, keeps only the
 * state of a frame cut across reads. Calls `onFrame(fin, opcode)` per frame.
 */
class FrameCounter {
  constructor(onFrame) {
    this.onFrame = onFrame;
    this.skip = 0; // payload bytes of the current frame still to come
    this.head = null; // a header cut across reads
  }

  push(chunk) {
    let i = 0;
    const n = chunk.length;
    if (this.skip > 0) {
      const take = Math.min(this.skip, n);
      this.skip -= take;
      i = take;
      if (this.skip === 0) this.onFrame(this.fin, this.opcode);
    }
    if (this.head !== null) {
      chunk = Buffer.concat([this.head, chunk.subarray(i)]);
      this.head = null;
      i = 0;
      return this.walk(chunk, 0);
    }
    return this.walk(chunk, i);
  }

  walk(b, i) {
    const n = b.length;
    while (i < n) {
      if (n - i < 2) break;
      const b0 = b[i];
      let len = b[i + 1] & 0x7f;
      let at = i + 2;
      if (len === 126) {
        if (n - i < 4) break;
        len = b.readUInt16BE(i + 2);
        at = i + 4;
      } else if (len === 127) {
        if (n - i < 10) break;
        len = Number(b.readBigUInt64BE(i + 2));
        at = i + 10;
      }
      const end = at + len;
      if (end > n) {
        this.skip = end - n;
        this.fin = (b0 & 0x80) !== 0;
        this.opcode = b0 & 0x0f;
        return;
      }
      this.onFrame((b0 & 0x80) !== 0, b0 & 0x0f);
      i = end;
    }
    if (i < n) this.head = Buffer.from(b.subarray(i));
  }
}

/** Opens one upgraded connection; resolves with the socket and what followed the 101 in its read. */
function open(extensions) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: HOST, port, noDelay: true });
    let got = Buffer.alloc(0);
    const onData = (d) => {
      got = Buffer.concat([got, d]);
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const head = got.subarray(0, end).toString('latin1');
      if (!head.startsWith('HTTP/1.1 101')) {
        socket.destroy();
        reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
        return;
      }
      resolve({ socket, rest: got.subarray(end + 4), extensions: /sec-websocket-extensions:/i.test(head) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('connect', () => socket.write(upgradeRequest(extensions)));
  });
}

async function openMany(count, extensions) {
  const out = [];
  for (let i = 0; i < count; i += 100)
    out.push(...(await Promise.all(Array.from({ length: Math.min(100, count - i) }, () => open(extensions)))));
  return out;
}

/** Echo: each connection keeps `inflight` messages in flight; every reply sends one more. */
async function echo(conns, size, inflight, opcode, extensions) {
  const frame = clientFrame(
    opcode,
    opcode === 1 ? Buffer.alloc(size, 'abcdefghijklmnopqrstuvwxyz'.repeat(40)) : randomBytes(size),
  );
  // Replies come back in runs: a run of k replies is answered with one write of k frames.
  const batches = [null];
  for (let k = 1; k <= inflight; k++) batches.push(Buffer.concat(Array.from({ length: k }, () => frame)));
  const sockets = await openMany(conns, extensions);
  let agreed = 0;
  let messages = 0;
  let counting = false;
  for (const { socket, rest, extensions: ext } of sockets) {
    if (ext) agreed++;
    let due = 0;
    const counter = new FrameCounter((fin) => {
      if (!fin) return;
      due++;
      if (counting) messages++;
    });
    socket.on('data', (chunk) => {
      counter.push(chunk);
      while (due > 0) {
        const k = Math.min(due, inflight);
        socket.write(batches[k]);
        due -= k;
      }
    });
    socket.on('error', () => {});
    if (rest.length) counter.push(rest);
    socket.write(batches[inflight]);
  }
  const { elapsed, loadCpu } = await measure(sockets, (on) => (counting = on));
  return {
    messages,
    perSecond: messages / elapsed,
    mibPerSecond: (messages * size) / elapsed / 1048576,
    loadCpu,
    agreed,
  };
}

async function handshakes(loops) {
  let done = 0;
  let counting = true;
  const closeFrame = clientFrame(8, Buffer.from([0x03, 0xe8]));
  const cpu = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + seconds * 1000;
  const loop = async () => {
    while (Date.now() < deadline) {
      const { socket } = await open(null);
      await new Promise((resolve) => {
        socket.once('close', resolve);
        socket.on('error', () => {});
        socket.on('data', () => socket.end());
        socket.write(closeFrame);
      });
      if (counting) done++;
    }
  };
  await Promise.all(Array.from({ length: loops }, loop));
  counting = false;
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const used = process.cpuUsage(cpu);
  return { handshakes: done, perSecond: done / elapsed, loadCpu: (used.user + used.system) / 1e6 / elapsed };
}

async function idle(count) {
  const sockets = await openMany(count, null);
  for (const { socket } of sockets) socket.on('error', () => {});
  console.error(`idle: ${sockets.length} open`);
  await sleep(seconds * 1000);
  for (const { socket } of sockets) socket.destroy();
  return { connections: sockets.length };
}

async function fanout(count) {
  const payload = clientFrame(1, Buffer.alloc(64, 'x'));
  const sockets = await openMany(count, null);
  await sleep(300);
  let deliveries = 0;
  let counting = false;
  sockets.forEach(({ socket }, index) => {
    const counter = new FrameCounter((fin) => {
      if (!fin) return;
      if (counting) deliveries++;
      if (index === 0 && share.index === 0) socket.write(payload); // the publisher: its own copy is back, send the next
    });
    socket.on('data', (c) => counter.push(c));
    socket.on('error', () => {});
  });
  // Several in flight: each subscriber then reads a few messages at a time, so the generator's own
  // reads (a system call per socket) cost less than the server's work for the same deliveries.
  if (share.index === 0) for (let i = 0; i < 8; i++) sockets[0].socket.write(payload);
  const { elapsed, loadCpu } = await measure(sockets, (on) => (counting = on));
  return { deliveries, perSecond: deliveries / elapsed, loadCpu };
}

/**
 * The measured window of a running load: half a second of warm-up, then `seconds` with `count(true)`;
 * then the connections end. Returns the window's length and this process's CPU seconds per second in it.
 */
async function measure(sockets, count) {
  await sleep(500);
  count(true);
  const cpu = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await sleep(seconds * 1000);
  count(false);
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
  const used = process.cpuUsage(cpu);
  for (const { socket } of sockets) socket.destroy();
  return { elapsed, loadCpu: (used.user + used.system) / 1e6 / elapsed };
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

const run = {
  small: () => echo(part(50), 32, 16, 1, null),
  deep16k: () => echo(part(50), 16384, 4, 2, null),
  rr: () => echo(part(100), 128, 1, 1, null),
  deflate: () => echo(part(50), 1024, 16, 1, 'permessage-deflate; client_max_window_bits'),
  handshake: () => handshakes(part(20)),
  idle: () => idle(part(Number(process.env.IDLE_CONNECTIONS ?? 10000))),
  fanout: () => fanout(part(1000)),
}[scenario];
if (!run) {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}
if (!isMainThread) {
  parentPort.postMessage(await run());
} else if (THREADS === 1) {
  console.log(JSON.stringify({ scenario, ...(await run()) }));
  process.exit(0);
} else {
  // Several load threads: counts add up; loadCpu (process-wide) is the first thread's.
  const url = new URL(import.meta.url);
  const results = await Promise.all(
    Array.from(
      { length: THREADS },
      (_, index) =>
        new Promise((resolve, reject) => {
          const w = new Worker(url, {
            workerData: { argv: [scenario, portText, secondsText], share: { index, of: THREADS } },
          });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  const total = { ...results[0] };
  for (const r of results.slice(1))
    for (const [k, v] of Object.entries(r)) if (k !== 'loadCpu' && typeof v === 'number') total[k] += v;
  console.log(JSON.stringify({ scenario, threads: THREADS, ...total }));
  process.exit(0);
}
