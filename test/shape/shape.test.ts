/**
 * The shape of the library (issue 21), checked on every run: the layers import downward only, no two
 * files import each other in a circle, files stay small enough to read, and lines stay within 120
 * characters (`pnpm format` runs Prettier with the settings in package.json; this suite checks the result). Anything
 * listed under "debts" is a known exception on its way out: the lists must
 * shrink, never grow (a debt paid must be struck from the list too).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const src = join(root, 'packages/websocket/src');

/**
 * The layers, bottom first. A file may import its own layer's files and lower layers' files, never a
 * higher layer's. Rooms (folders) of one layer do not depend on each other in a circle either.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['protocol', 'logging', 'observe', 'delivery'], // RFC 6455 / 7692 without I/O; the logger interface; diagnostics
  // channels; delivery's history store and wire format
  ['buffers'], // pooled memory
  ['sender'], // frames on their way out: admission, batching, prepared frames, close payloads
  ['pubsub', 'client'], // topics, hub, backplane; the client
  ['config', 'handler'], // the resolved config; what a handler sees: Handler, Conn, Writer, order, hook runner
  ['threads'], // hook threads
  ['engine'], // one thread's sockets: accept, handshake, the socket-level link
  ['io'], // I/O threads, each running an engine
  ['server'], // the Server facade
  ['testing', 'index.ts'], // the harness; the package's entry
];

const rankOf = new Map<string, number>();
LAYERS.forEach((rooms, rank) => rooms.forEach((room) => rankOf.set(room, rank)));

function walk(dir: string, extensions = ['.ts']): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name === 'node_modules' || name === 'dist') return [];
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return walk(path, extensions);
    return extensions.some((e) => path.endsWith(e)) ? [path] : [];
  });
}

/** The room of a file: its first folder under src (or the file's own name at the top). */
const room = (file: string): string => relative(src, file).split('/')[0]!;

const files = walk(src).sort();
const imports = new Map<string, string[]>();
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'|import\('(\.[^']+)'\)/g)];
  imports.set(
    file,
    specs.map((m) => resolve(dirname(file), (m[1] ?? m[2])!).replace(/\.js$/, '.ts')),
  );
}
const rel = (f: string): string => relative(src, f);

/** Known files over the size limit, to be split (the facade's limit is 250). */
const SIZE_DEBTS: readonly string[] = [];

describe('the library shape', () => {
  it('puts every room in a layer', () => {
    const unplaced = [...new Set(files.map(room))].filter((r) => !rankOf.has(r));
    expect(unplaced).toEqual([]);
  });

  it('imports downward only: no file imports a higher layer', () => {
    const upward: string[] = [];
    for (const [file, targets] of imports) {
      for (const target of targets) {
        if (rankOf.get(room(target))! > rankOf.get(room(file))!) upward.push(`${rel(file)} -> ${rel(target)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no import cycles, between files or between rooms', () => {
    const fileCycles = cycles(new Map([...imports].map(([f, ts]) => [rel(f), ts.map(rel)])));
    expect(fileCycles).toEqual([]);
    const rooms = new Map<string, string[]>();
    for (const [file, targets] of imports) {
      const from = room(file);
      const list = rooms.get(from) ?? rooms.set(from, []).get(from)!;
      for (const t of targets) if (room(t) !== from && !list.includes(room(t))) list.push(room(t));
    }
    expect(cycles(rooms)).toEqual([]);
  });

  it('keeps lines within 120 characters (as ESLint max-len with ignoreStrings, ignoreTemplateLiterals and ignoreRegExpLiterals)', () => {
    const over: string[] = [];
    for (const dir of ['packages/websocket/src', 'packages/websocket/scripts', 'test', 'examples']) {
      for (const file of walk(join(root, dir), ['.ts', '.mjs'])) {
        readFileSync(file, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            if (line.length <= 120) return;
            const comment = /^\s*(\/\/|\/?\*)/.test(line);
            // A long message or pattern may stay whole (so it can be searched for); code and comments wrap.
            if (comment || !/['"`/]/.test(line.replace(/\/\/.*$/, ''))) over.push(`${relative(root, file)}:${i + 1}`);
          });
      }
    }
    expect(over).toEqual([]);
  });

  it('keeps files under 450 lines and the Server facade under 250', () => {
    const lines = (f: string): number => readFileSync(f, 'utf8').split('\n').length;
    const big = files.filter((f) => lines(f) > (rel(f) === 'server/server.ts' ? 250 : 450)).map(rel);
    expect(big.sort()).toEqual([...SIZE_DEBTS].sort());
  });
});

/** The strongly connected components of more than one node (Tarjan), each sorted, as strings. */
function cycles(graph: Map<string, string[]>): string[] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort().join(' <-> '));
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out.sort();
}
