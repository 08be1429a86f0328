// The scale run (docs/scaling.md, "100k members"): N wsz processes on one Redis, G generator processes of room
// members (members.c) from source addresses 127.0.0.10, .11, ... so that 100k connections do not run out of ports.
//
//   node test/bench/scale/run.mjs [--conns 100000] [--servers 6] [--generators 6] [--rooms 1] [--rate 2]
//                                 [--churn 0] [--secs 10] [--threads 0] [--redis redis://...]
//
// --rooms 1: every member in one room, --rate publishes a second to it; --rooms 1000: 1,000 rooms, publishes to
// each in turn. --churn: connections closed and opened again per second, in all. Without --redis it starts its own
// redis-server on a free port (a Redis Cluster URL works too). Prints the figures (connections, server RSS per
// connection, publishes/s, deliveries/s, p50/p99/p99.9 delivery latency, churn, CPU) and a markdown row.
// After `pnpm build`; needs a C compiler and redis-server. Stops by itself; 127.0.0.1 only; ends only what it began.
import { execFileSync, fork, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const conns = Number(option('conns', '100000'));
const servers = Number(option('servers', '6'));
const generators = Number(option('generators', '6'));
const rooms = Number(option('rooms', '1'));
const rate = Number(option('rate', '2'));
const churn = Number(option('churn', '0'));
const secs = Number(option('secs', '10'));
const threads = option('threads', '0');
const HZ = 100; // clock ticks per second of /proc/PID/stat (Linux's USER_HZ)

function members() {
  const source = fileURLToPath(new URL('./members.c', import.meta.url));
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'wsz-bench');
  mkdirSync(dir, { recursive: true });
  const binary = join(dir, 'members');
  if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs)
    execFileSync('cc', ['-O2', '-o', binary, source], { stdio: 'inherit' });
  return binary;
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const cpuTicks = (pid) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch {
    return 0;
  }
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const started = [];
let redisUrl = option('redis', '');
const work = mkdtempSync(join(tmpdir(), 'wsz-scale-'));
try {
  if (!redisUrl) {
    const port = await freePort();
    const redis = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    );
    started.push(redis);
    redisUrl = `redis://127.0.0.1:${port}`;
    await sleep(300);
  }
  const redisPid = started[0]?.pid;
  const children = [];
  for (let i = 0; i < servers; i++) {
    const child = fork(fileURLToPath(new URL('./server.mjs', import.meta.url)), [], {
      env: { ...process.env, REDIS_URL: redisUrl, THREADS: threads },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    started.push(child);
    children.push({ child, port: await new Promise((resolve) => child.once('message', (m) => resolve(m.port))) });
  }
  await sleep(500);
  const baseRss = children.map(({ child }) => rssKiB(child.pid));
  const binary = members();
  // Connecting is given one second per 3,000 connections (at least 10 s); counting starts after it.
  const connectMs = Math.max(10_000, Math.ceil(conns / 3));
  const startNs = process.hrtime.bigint() + BigInt(connectMs) * 1_000_000n;
  const per = Math.ceil(conns / generators);
  const gens = [];
  for (let g = 0; g < generators; g++) {
    const n = Math.min(per, conns - g * per);
    const hist = join(work, `hist-${g}`);
    const proc = spawn(
      binary,
      [
        children.map((c) => c.port).join(','),
        String(n),
        String(g * per),
        String(rooms),
        `127.0.0.${10 + g}`,
        String(startNs),
        String(secs),
        String(g === 0 ? rate : 0),
        String(churn / generators),
        hist,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    started.push(proc);
    let out = '';
    proc.stdout.on('data', (d) => (out += d));
    gens.push({ proc, hist, done: new Promise((resolve) => proc.once('exit', () => resolve(out))) });
  }
  await sleep(connectMs + 500);
  const pids = {
    servers: children.map((c) => c.child.pid),
    redis: redisPid ? [redisPid] : [],
    members: gens.map((g) => g.proc.pid),
  };
  const rss = children.map(({ child }) => rssKiB(child.pid));
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, ps]) => [k, ps.reduce((s, p) => s + cpuTicks(p), 0)]));
  await sleep(secs * 1000);
  const cpu1 = Object.fromEntries(Object.entries(pids).map(([k, ps]) => [k, ps.reduce((s, p) => s + cpuTicks(p), 0)]));
  const outs = await Promise.all(gens.map((g) => g.done));
  const figure = (name) => outs.reduce((s, o) => s + Number(new RegExp(`${name}=(-?\\d+)`).exec(o)?.[1] ?? 0), 0);
  const hist = new Map();
  for (const g of gens)
    for (const line of existsSync(g.hist) ? readFileSync(g.hist, 'utf8').split('\n') : []) {
      const [us, n] = line.split(' ').map(Number);
      if (n) hist.set(us, (hist.get(us) ?? 0) + n);
    }
  const sorted = [...hist].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((s, [, n]) => s + n, 0);
  const pct = (q) => {
    let seen = 0;
    for (const [us, n] of sorted) if ((seen += n) >= q * total) return us;
    return 0;
  };
  const opened = figure('opened');
  const perConn = rss.reduce((s, r, i) => s + r - baseRss[i], 0) / Math.max(1, opened);
  const cpuPct = (k) => (((cpu1[k] - cpu0[k]) / HZ / secs) * 100).toFixed(0);
  const result = {
    connections: opened,
    servers,
    rooms,
    serverRssMiB: +(rss.reduce((s, r) => s + r, 0) / 1024).toFixed(0),
    perConnectionKiB: +perConn.toFixed(2),
    publishesPerSec: +(figure('sent') / secs).toFixed(1),
    deliveriesPerSec: Math.round(figure('received') / secs),
    expectedDeliveries: Math.round((figure('sent') * opened) / rooms),
    delivered: figure('received'),
    p50ms: pct(0.5) / 1000,
    p99ms: pct(0.99) / 1000,
    p999ms: pct(0.999) / 1000,
    churnPerSec: +(figure('reopened') / secs).toFixed(0),
    dropped: figure('dropped'),
    refused: figure('refused'),
    cpuPercent: { servers: cpuPct('servers'), redis: cpuPct('redis'), members: cpuPct('members') },
    connectMs: Math.max(...outs.map((o) => Number(/connect_ms=(-?\d+)/.exec(o)?.[1] ?? -1))),
  };
  console.log(JSON.stringify(result, null, 1));
  console.log(
    `| ${result.connections} | ${servers} x ${Math.round(result.connections / servers)} | ${rooms} | ` +
      `${result.perConnectionKiB} KiB | ${result.publishesPerSec} | ${result.deliveriesPerSec} | ` +
      `${result.p50ms} / ${result.p99ms} ms | ${result.churnPerSec} | ${result.cpuPercent.servers} / ` +
      `${result.cpuPercent.redis} / ${result.cpuPercent.members} % |`,
  );
} finally {
  for (const p of started.reverse()) p.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
