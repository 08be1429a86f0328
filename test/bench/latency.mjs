// pnpm bench --latency: how long until a message arrives, at the tail. wsz against ws and uWebSockets.js in one
// run, one server at a time on 127.0.0.1, measured by wslat.c (open loop: messages are sent on a schedule, and
// each one's latency runs from when it was due, so a stalled server cannot hide behind a waiting generator).
//
//   rr            100 connections to an echo server, RATE messages of 128 B a second in all (--rate, default
//                 20000: about half of what ws answers at most here); latency = echo arrival - due time
//   fanout 1k     1,000 connections to a broadcast server, 50 publishes a second (50,000 deliveries/s)
//   fanout 10k    10,000 connections, 5 publishes a second (50,000 deliveries/s)
//                 latency = arrival at each connection - the publish's due time, on one clock
//
//   pnpm bench --latency [--secs 10] [--rate 20000] [--servers ws,wsz-inline] [--markdown]
//
// Needs a C compiler (cc); not part of CI (timing runs never are).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchServers, startServer } from './servers.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const secs = Number(option('secs', '10'));
const rate = Number(option('rate', '20000'));

/** wslat, compiled into the bench cache when missing or older than its source. */
function wslat() {
  const source = fileURLToPath(new URL('./wslat.c', import.meta.url));
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'wsz-bench');
  mkdirSync(dir, { recursive: true });
  const binary = join(dir, 'wslat');
  if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
    try {
      execFileSync('cc', ['-O2', '-o', binary, source], { stdio: 'inherit' });
    } catch {
      console.error('pnpm bench --latency needs a C compiler: install one (e.g. apt-get install gcc) and run it again');
      process.exit(2);
    }
  }
  return binary;
}

const RUNS = [
  { name: 'rr', scenario: 'echo', args: (port) => ['rr', '127.0.0.1', port, 100, secs, 128, rate] },
  { name: 'fanout 1k', scenario: 'fanout-latency', args: (port) => ['fanout', '127.0.0.1', port, 1000, secs, 64, 50] },
  { name: 'fanout 10k', scenario: 'fanout-latency', args: (port) => ['fanout', '127.0.0.1', port, 10000, secs, 64, 5] },
];

const SERVERS = benchServers();
const names = option('servers', Object.keys(SERVERS).join(','))
  .split(',')
  .filter((n) => SERVERS[n]);
const tool = wslat();
let port = 9900 + (process.pid % 50);

async function measure(server, run) {
  port++;
  let child;
  try {
    child = await startServer(server, run.scenario, port);
    const out = execFileSync(tool, run.args(port).map(String), { encoding: 'utf8', timeout: (secs + 60) * 1000 });
    return Object.fromEntries(
      out
        .trim()
        .split(' ')
        .map((kv) => kv.split('='))
        .map(([k, v]) => [k, Number.isNaN(Number(v)) ? v : Number(v)]),
    );
  } catch (error) {
    process.stderr.write(`  failed: ${String(error.stderr ?? error.message).trim()}\n`);
    return null;
  } finally {
    await child?.stop();
  }
}

const results = {};
for (const name of names) {
  results[name] = {};
  for (const run of RUNS) {
    const r = await measure(SERVERS[name], run);
    results[name][run.name] = r;
    process.stderr.write(
      `${name} ${run.name}: ${r ? `p50 ${r.p50_us} us, p99 ${r.p99_us} us, p99.9 ${r.p999_us} us` : 'failed'}\n`,
    );
  }
}

const ms = (us) => (us / 1000).toFixed(us < 10_000 ? 2 : 1);
const cell = (r) => {
  if (!r) return 'failed';
  const lost = r.expected - r.received;
  return `${ms(r.p50_us)} / ${ms(r.p99_us)} / ${ms(r.p999_us)}${lost > 0 ? ` (${lost} lost)` : ''}`;
};
const header = ['server', ...RUNS.map((r) => `${r.name}: p50 / p99 / p99.9 ms`)];
const rows = names.map((n) => [n, ...RUNS.map((r) => cell(results[n][r.name]))]);
if (args.includes('--markdown')) {
  console.log(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
} else {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  console.log(header.map((h, i) => h.padEnd(widths[i])).join('  '));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
}
const late = names
  .map((n) => `${n} ${RUNS.map((r) => results[n][r.name]?.send_late_p99_us ?? '-').join('/')}`)
  .join('; ');
console.log(
  `\nNode ${process.versions.node}; ${secs} s per run, the first second not counted; rr at ${rate} messages/s.` +
    `\nThe generator's own lateness (p99 of how late it sent, us; rr/1k/10k): ${late}.`,
);
