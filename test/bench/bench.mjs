// pnpm bench: wsz against ws and uWebSockets.js under wsz's own load generator (load.mjs), one server at
// a time on 127.0.0.1, every scenario; prints a table (a row per server, a column per scenario, ratios to
// ws) and draws the ratios as an SVG chart. Needs nothing outside the repository but npm (for the peers).
//
//   pnpm bench [--secs 5] [--scenarios small,rr] [--servers ws,wsz-inline] [--svg file.svg] [--markdown]
//   pnpm bench --latency (percentiles: latency.mjs), pnpm bench --crossing (one thread round trip: crossing.mjs)
//
// env UWS_NODE runs uWebSockets.js on another node binary (its build has no native code for Node 24).
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { benchServers, startServer } from './servers.mjs';
import { chart } from './chart.mjs';

const args = process.argv.slice(2);
if (args.includes('--latency')) {
  await import('./latency.mjs'); // latency percentiles instead of throughput: see latency.mjs
  process.exit(0);
}
if (args.includes('--crossing')) {
  await import('./crossing.mjs'); // the cost of one thread round trip on this machine: see crossing.mjs
  process.exit(0);
}
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const secs = Number(option('secs', '5'));
const SCENARIOS = ['small', 'deep16k', 'rr', 'handshake', 'idle', 'fanout', 'deflate'];
const UNITS = {
  small: 'msg/s',
  deep16k: 'MiB/s',
  rr: 'msg/s',
  handshake: '/s',
  idle: 'KiB/conn',
  fanout: 'deliveries/s',
  deflate: 'msg/s',
};
const scenarios = option('scenarios', SCENARIOS.join(',')).split(',');
const SERVERS = benchServers();
const names = option('servers', Object.keys(SERVERS).join(','))
  .split(',')
  .filter((n) => n in SERVERS);

function rss(pid) {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  } catch {
    return NaN;
  }
}

/** CPU seconds the process has used (all its threads), from /proc. */
function cpuSeconds(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
  } catch {
    return NaN;
  }
}

function load(scenario, port) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL('./load.mjs', import.meta.url)), scenario, String(port), String(secs)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)));
      } catch {
        resolve(null);
      }
    });
  });
}

let port = 9800 + (process.pid % 100);
async function measure(name, scenario) {
  const server = SERVERS[name];
  port++;
  let child;
  try {
    child = await startServer(server, scenario, port);
    if (scenario === 'idle') {
      const before = rss(child.pid);
      const loader = load('idle', port);
      await new Promise((r) => setTimeout(r, (secs - 1) * 1000));
      const after = rss(child.pid);
      const result = await loader;
      return result ? { value: (after - before) / result.connections, loadCpu: null } : null;
    }
    const cpu0 = cpuSeconds(child.pid);
    const t0 = Date.now();
    const r = await load(scenario, port);
    if (!r) return null;
    // Including the load generator's connection set-up and warm-up: a lower bound of how busy it was while measured.
    const serverCpu = (cpuSeconds(child.pid) - cpu0) / ((Date.now() - t0) / 1000);
    return { value: scenario === 'deep16k' ? r.mibPerSecond : r.perSecond, loadCpu: r.loadCpu, serverCpu };
  } catch {
    return null;
  } finally {
    await child?.stop();
  }
}

const results = {};
for (const name of names) {
  if (!SERVERS[name]) continue;
  results[name] = {};
  for (const s of scenarios) {
    results[name][s] = await measure(name, s);
    process.stderr.write(`${name} ${s}: ${results[name][s] ? results[name][s].value.toFixed(1) : 'failed'}\n`);
  }
}

const fmt = (v, s) =>
  v === undefined || v === null
    ? 'n/a'
    : s === 'deep16k' || s === 'idle'
      ? v.toFixed(1)
      : Math.round(v).toLocaleString('en-US');
const ratio = (name, s) => {
  const v = results[name]?.[s]?.value;
  const w = results.ws?.[s]?.value;
  if (!v || !w) return null;
  return s === 'idle' ? w / v : v / w; // idle: less memory is better, so ws's over ours
};
const header = ['server', ...scenarios.map((s) => `${s} (${UNITS[s]})`)];
const rows = names
  .filter((n) => results[n])
  .map((n) => [
    n,
    ...scenarios.map(
      (s) =>
        `${fmt(results[n][s]?.value, s)}${n === 'ws' || ratio(n, s) === null ? '' : ` (${ratio(n, s).toFixed(2)}x)`}`,
    ),
  ]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
if (args.includes('--markdown')) {
  console.log(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
} else {
  console.log(header.map((h, i) => h.padEnd(widths[i])).join('  '));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
}
console.log(
  `\nratios to ws in parentheses (idle: ws's memory per connection over the server's); Node ${process.versions.node}; ${secs} s per run.`,
);
// Who set the pace: CPU seconds per second, the server's (all its threads) and the load generator's.
console.log('\nCPU (server / load generator, CPU seconds per second):');
const busy = (x) =>
  x && x.loadCpu !== null && x.serverCpu !== undefined ? `${x.serverCpu.toFixed(2)} / ${x.loadCpu.toFixed(2)}` : '-';
const cpuRows = names.filter((n) => results[n]).map((n) => [n, ...scenarios.map((s) => busy(results[n][s]))]);
const cw = header.map((h, i) =>
  Math.max(i === 0 ? h.length : scenarios[i - 1].length, ...cpuRows.map((r) => r[i].length)),
);
console.log(['server', ...scenarios].map((h, i) => h.padEnd(cw[i])).join('  '));
for (const r of cpuRows) console.log(r.map((c, i) => c.padEnd(cw[i])).join('  '));
const svg = option('svg', null);
if (svg) {
  writeFileSync(
    svg,
    chart(
      scenarios,
      names.filter((n) => n !== 'ws' && results[n]),
      (n, s) => ratio(n, s),
    ),
  );
  console.log(`chart: ${svg}`);
}
