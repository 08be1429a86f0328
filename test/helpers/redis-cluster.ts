/**
 * A local Redis Cluster for the tests: masters of Debian's redis-server with cluster-enabled, joined by
 * `redis-cli --cluster create` (with or without replicas), each on 127.0.0.1 with its own config file in a
 * temporary folder.
 * A master can be restarted (same port and config: it comes back with its slots, without its keys) and a slot moved
 * from one master to another the way `redis-cli --cluster reshard` does it (IMPORTING, MIGRATING, MIGRATE of its
 * keys, SETSLOT NODE everywhere).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis, type RunningRedis } from './redis.js';

export const REDIS_CLI = '/usr/bin/redis-cli';

/** Runs redis-cli against `port`; its output (throws when it fails). */
export function cli(port: number, ...args: string[]): string {
  const r = spawnSync(REDIS_CLI, ['-p', String(port), ...args], { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`redis-cli ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout.trim();
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer()
      .once('error', () => resolve(false))
      .listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (+10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const p = 20000 + Math.floor(Math.random() * 30000);
    if (taken.has(p) || !(await listening(p)) || !(await listening(p + 10000))) continue;
    taken.add(p);
    return p;
  }
}

export interface RedisCluster {
  /** The masters' ports (slots 0-5460, 5461-10922, 10923-16383 for 3), then the replicas'. */
  ports: number[];
  /** A URL of one node (the first), as users give it. */
  url: string;
  /** The port of the master that serves `key`'s slot now. */
  ownerOf(key: string): number;
  /** The slot of a key. */
  slotOf(key: string): number;
  /** Stops a master (SIGKILL) and starts it again on its port with its config; resolves once the cluster is ok. */
  restart(port: number, downMs?: number): Promise<void>;
  /** Stops a node for good (SIGKILL): with a replica, the cluster fails it over after its node timeout (2 s). */
  kill(port: number): Promise<void>;
  /** Moves `slot`, with its keys, from the master that has it to the master on `to`. */
  moveSlot(slot: number, to: number): void;
  stop(): Promise<void>;
}

export async function startCluster(masters = 3, replicas = 0): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'wsz-cluster-'));
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < masters * (1 + replicas); i++) ports.push(await clusterPort(taken));
  const args = (port: number): string[] => [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    join(dir, `nodes-${port}.conf`),
    '--cluster-node-timeout',
    '2000',
    '--cluster-replica-validity-factor',
    '0',
    '--dir',
    dir,
  ];
  const running = new Map<number, RunningRedis>();
  for (const p of ports) running.set(p, await startRedis(p, args(p)));
  const all = ports.map((p) => `127.0.0.1:${p}`);
  cli(ports[0]!, '--cluster', 'create', ...all, '--cluster-replicas', String(replicas), '--cluster-yes');
  const live = (): number[] => ports.filter((p) => running.has(p));
  const ok = async (): Promise<void> => {
    for (const end = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 100))) {
      const states = live().map((p) => {
        try {
          return /cluster_state:ok/.test(cli(p, 'CLUSTER', 'INFO'));
        } catch {
          return false;
        }
      });
      if (states.every(Boolean)) return;
      if (Date.now() > end) throw new Error('the Redis cluster did not become ok within 20 s');
    }
  };
  await ok();
  // Replicas attach to their masters, and copy them, asynchronously after `--cluster create`.
  for (const end = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 100))) {
    const synced = ports.filter((p) => /master_link_status:up/.test(cli(p, 'INFO', 'replication'))).length;
    if (synced >= masters * replicas) break;
    if (Date.now() > end) throw new Error('the replicas did not attach within 20 s');
  }
  const idOf = (port: number): string => cli(port, 'CLUSTER', 'MYID');
  const slotOf = (key: string): number => Number(cli(live()[0]!, 'CLUSTER', 'KEYSLOT', key));
  const ownerOf = (key: string): number => {
    const slot = slotOf(key);
    const reply = cli(live()[0]!, 'CLUSTER', 'SLOTS').split('\n');
    // Flat lines: start, end, host, port, id, [replicas...], start, end, ...
    for (let i = 0; i + 3 < reply.length; i++) {
      const [start, end, host, port] = reply.slice(i, i + 4);
      if (host === '127.0.0.1' && /^\d+$/.test(start!) && /^\d+$/.test(end!) && /^\d+$/.test(port!)) {
        if (slot >= Number(start) && slot <= Number(end)) return Number(port);
      }
    }
    throw new Error(`no owner of slot ${slot}`);
  };
  return {
    ports,
    url: `redis://127.0.0.1:${ports[0]}`,
    ownerOf,
    slotOf,
    async restart(port, downMs = 300) {
      await running.get(port)!.stop();
      await new Promise((r) => setTimeout(r, downMs));
      running.set(port, await startRedis(port, args(port)));
      await ok();
    },
    async kill(port) {
      await running.get(port)!.stop();
      running.delete(port);
      // Until a replica serves its slots (failure detected after the node timeout, then an election).
      for (const end = Date.now() + 20_000; ; await new Promise((r) => setTimeout(r, 100))) {
        const slots = cli(live()[0]!, 'CLUSTER', 'SLOTS');
        if (!slots.split('\n').includes(String(port))) break;
        if (Date.now() > end) throw new Error(`no replica took the slots of ${port} within 20 s`);
      }
      await ok();
    },
    moveSlot(slot, to) {
      const from = live().find((p) => owns(p, slot))!;
      const [fromId, toId] = [idOf(from), idOf(to)];
      cli(to, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', fromId);
      cli(from, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', toId);
      for (;;) {
        const keys = cli(from, 'CLUSTER', 'GETKEYSINSLOT', String(slot), '100').split('\n').filter(Boolean);
        if (keys.length === 0) break;
        cli(from, 'MIGRATE', '127.0.0.1', String(to), '', '0', '5000', 'KEYS', ...keys);
      }
      for (const p of live()) cli(p, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', toId);
    },
    async stop() {
      for (const r of running.values()) await r.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };

  function owns(port: number, slot: number): boolean {
    const me = cli(port, 'CLUSTER', 'MYID');
    const nodes = cli(port, 'CLUSTER', 'NODES').split('\n');
    const line = nodes.find((l) => l.startsWith(me));
    if (!line) return false;
    return line
      .split(' ')
      .slice(8)
      .some((r) => {
        const [a, b] = r.split('-').map(Number);
        return slot >= a! && slot <= (b ?? a)!;
      });
  }
}
