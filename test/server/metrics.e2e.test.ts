/**
 * server.metrics() (issue 23): the Prometheus text exposition format 0.0.4, checked by a strict parser of the format
 * written here, and its values against a scripted workload in every mode.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { METRICS_CONTENT_TYPE } from 'wsz';
import { MODES, inMode, serve, type Cleanup } from '../helpers/modes.js';
import { RawClient, closeBody, upgradeRequest } from '../helpers/raw-client.js';
import { eventually } from '../helpers/server.js';

let cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

interface Family {
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  samples: Map<string, number>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Parses one label set `{a="x",b="y"}` strictly (escapes \\, \", \n only); returns a canonical key. */
function parseLabels(text: string): string {
  const labels: Array<[string, string]> = [];
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    const name = text.slice(i, eq);
    if (!LABEL.test(name) || text[eq + 1] !== '"') throw new Error(`bad label at '${text.slice(i)}'`);
    let value = '';
    let j = eq + 2;
    for (; text[j] !== '"'; j++) {
      if (j >= text.length) throw new Error(`unterminated label value in '${text}'`);
      if (text[j] === '\\') {
        const e = text[++j];
        if (e === '\\' || e === '"') value += e;
        else if (e === 'n') value += '\n';
        else throw new Error(`bad escape \\${e} in '${text}'`);
      } else value += text[j];
    }
    labels.push([name, value]);
    i = j + 1;
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`expected ',' in '${text}'`);
      i++;
    }
  }
  if (new Set(labels.map(([n]) => n)).size !== labels.length) throw new Error(`repeated label in '${text}'`);
  return JSON.stringify(labels.sort());
}

/** A strict reader of the text format: HELP and TYPE once per family, before its samples; no repeated series. */
function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a line feed');
  const families = new Map<string, Family>();
  let current: string | null = null;
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (!NAME.test(name!)) throw new Error(`bad metric name ${name}`);
      if (kind === 'HELP') {
        if (families.has(name!)) throw new Error(`HELP for ${name} twice, or after its samples`);
        families.set(name!, { type: 'gauge', help: rest!, samples: new Map() });
        current = null;
      } else {
        if (!families.has(name!) || current !== null) throw new Error(`TYPE for ${name} without its HELP just before`);
        if (rest !== 'counter' && rest !== 'gauge' && rest !== 'histogram') throw new Error(`unexpected type ${rest}`);
        families.get(name!)!.type = rest;
        current = name!;
      }
      continue;
    }
    if (line.startsWith('#') || line === '') throw new Error(`unexpected line '${line}'`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`bad sample line '${line}'`);
    const [, name, labels, value] = m;
    const family = current === null ? undefined : families.get(current);
    const suffix = family?.type === 'histogram' ? /_(bucket|sum|count)$/.exec(name!)?.[0] : '';
    if (suffix === undefined || name !== current + suffix)
      throw new Error(`sample of ${name} outside its family (${current})`);
    const v = Number(value);
    if (!/^(-?\d+(\.\d+)?(e[+-]?\d+)?|[+-]Inf|NaN)$/.test(value!)) throw new Error(`bad value '${value}'`);
    if (family!.type === 'counter' && !name!.endsWith('_total')) throw new Error(`counter ${name} without _total`);
    if (family!.type === 'counter' && v < 0) throw new Error(`negative counter ${line}`);
    const key = suffix + (labels === undefined ? '' : parseLabels(labels));
    if (family!.samples.has(key)) throw new Error(`series ${line} twice`);
    family!.samples.set(key, v);
  }
  for (const [name, f] of families) {
    if (f.samples.size === 0) throw new Error(`family ${name} has no samples`);
    if (f.type === 'histogram') checkHistogram(name, f);
  }
  return families;
}

/**
 * A histogram's series, per label set: `_bucket` samples with an `le` label, cumulative (never less for a larger
 * bound), the last `le="+Inf"` equal to `_count`, and a `_sum`.
 */
function checkHistogram(name: string, f: Family): void {
  const sets = new Map<string, Array<[le: number, count: number]>>();
  for (const [key, v] of f.samples) {
    if (!key.startsWith('_bucket')) continue;
    const labels = JSON.parse(key.slice('_bucket'.length) || '[]') as Array<[string, string]>;
    const le = labels.find(([n]) => n === 'le');
    if (!le) throw new Error(`${name}_bucket without le`);
    const rest = JSON.stringify(labels.filter(([n]) => n !== 'le'));
    if (!sets.has(rest)) sets.set(rest, []);
    sets.get(rest)!.push([le[1] === '+Inf' ? Infinity : Number(le[1]), v]);
  }
  if (sets.size === 0) throw new Error(`histogram ${name} without buckets`);
  for (const [rest, buckets] of sets) {
    buckets.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < buckets.length; i++)
      if (buckets[i]![1] < buckets[i - 1]![1]) throw new Error(`${name} buckets not cumulative at ${rest}`);
    const last = buckets[buckets.length - 1]!;
    const labelKey = rest === '[]' ? '' : rest;
    if (last[0] !== Infinity) throw new Error(`${name} without a +Inf bucket at ${rest}`);
    if (f.samples.get('_count' + labelKey) !== last[1]) throw new Error(`${name}_count differs from +Inf at ${rest}`);
    if (!f.samples.has('_sum' + labelKey)) throw new Error(`${name}_sum missing at ${rest}`);
  }
}

/** A histogram's count and its cumulative count at bound `le` (labels besides `le`). */
function histogram(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): { count: number; sum: number; at: (le: string) => number } {
  const f = families.get(name)!;
  const key = (extra: Record<string, string>): string => {
    const all = Object.entries({ ...labels, ...extra }).sort();
    return all.length === 0 ? '' : JSON.stringify(all);
  };
  return {
    count: f.samples.get('_count' + key({}))!,
    sum: f.samples.get('_sum' + key({}))!,
    at: (le) => f.samples.get('_bucket' + key({ le }))!,
  };
}

/** The value of `name` with `labels` (none: the unlabelled sample). */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  return families
    .get(name)
    ?.samples.get(Object.keys(labels).length === 0 ? '' : JSON.stringify(Object.entries(labels).sort()));
}

describe('the strict parser used below', () => {
  it('rejects what the format forbids', () => {
    expect(() => parseExposition('# HELP a x\n# TYPE a counter\na 1\n')).toThrow(/_total/);
    expect(() => parseExposition('# HELP a_total x\n# TYPE a_total counter\na_total{l="\\q"} 1\n')).toThrow(/escape/);
    expect(() => parseExposition('# HELP g x\n# TYPE g gauge\ng 1\ng 2\n')).toThrow(/twice/);
    expect(() => parseExposition('# HELP g x\n# TYPE g gauge\nh 1\n')).toThrow(/outside/);
    expect(() => parseExposition('# HELP g x\n# TYPE g gauge\ng 1')).toThrow(/line feed/);
    expect(parseExposition('# HELP g x\n# TYPE g gauge\ng{a="q\\"\\n\\\\"} 1\n').get('g')!.samples.size).toBe(1);
    const h = (lines: string): string => `# HELP h x\n# TYPE h histogram\n${lines}`;
    const good = 'h_bucket{le="0.1"} 1\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 2\nh_sum 0.5\nh_count 2\n';
    expect(histogram(parseExposition(h(good)), 'h').at('1')).toBe(2);
    expect(() => parseExposition(h(good.replace('le="1"} 2', 'le="1"} 0')))).toThrow(/cumulative/);
    expect(() => parseExposition(h(good.replace('h_count 2', 'h_count 3')))).toThrow(/differs/);
    expect(() => parseExposition(h(good.replace('h_sum 0.5\n', '')))).toThrow(/_sum missing/);
    expect(() => parseExposition(h(good.replace('h_bucket{le="+Inf"} 2\n', '')))).toThrow(/\+Inf/);
    expect(() => parseExposition(h(good.replace('h_sum', 'h_total')))).toThrow(/outside/);
  });
});

describe.each(MODES)('server.metrics() ($name)', ({ threads, workers }) => {
  inMode(workers);
  it('is valid text format 0.0.4 and counts a scripted workload: handshakes by status, messages, bytes, closes by code', async () => {
    const s = await serve(threads, { config: { allowedOrigins: ['https://good.example'] } });
    cleanup.push(() => s.stop());
    expect(METRICS_CONTENT_TYPE).toBe('text/plain; version=0.0.4; charset=utf-8');
    const before = parseExposition(s.server.metrics());
    expect(value(before, 'wsz_handshakes_total', { status: '101' })).toBe(0);
    expect(before.get('wsz_connections')!.type).toBe('gauge');

    const a = await RawClient.open(s.port);
    const b = await RawClient.open(s.port);
    if (workers > 1) {
      // Per I/O thread: the sockets each holds, together the two open connections.
      const during = parseExposition(s.server.metrics()).get('wsz_io_thread_connections')!;
      expect(during.samples.size).toBe(workers);
      expect([...during.samples.values()].reduce((x, y) => x + y, 0)).toBe(2);
    }
    const refused = await RawClient.connect(s.port, upgradeRequest('/', ['Origin: https://evil.example']));
    expect((await refused.readResponse()).status).toBe(403);
    a.sendFrame(1, 'hello'); // 5 bytes each way
    a.sendFrame(2, Buffer.alloc(200));
    b.sendFrame(1, 'x');
    await a.nextFrame();
    await a.nextFrame();
    await b.nextFrame();
    a.sendFrame(8, closeBody(4001, 'kicked')); // a code not listed: 'other'
    await a.nextFrame();
    b.destroy(); // no close frame either way: 1006

    await eventually('both closes counted', () => {
      const m = parseExposition(s.server.metrics());
      return (
        value(m, 'wsz_closes_total', { code: '1006' }) === 1 &&
        value(m, 'wsz_connections') === 0 &&
        histogram(m, 'wsz_hook_duration_seconds', { hook: 'close' }).count === 2
      );
    });
    const m = parseExposition(s.server.metrics());
    expect(value(m, 'wsz_handshakes_total', { status: '101' })).toBe(2);
    expect(value(m, 'wsz_handshakes_total', { status: '403' })).toBe(1);
    expect(value(m, 'wsz_messages_received_total')).toBe(3);
    expect(value(m, 'wsz_closes_total', { code: 'other' })).toBe(1);
    expect(value(m, 'wsz_closes_total', { code: '1000' })).toBe(0);
    // In: three upgrade requests, three data frames (masked: 6 + 5, 8 + 200, 6 + 1), a close frame (6 + 8).
    expect(value(m, 'wsz_received_bytes_total')).toBeGreaterThan(206 + 225);
    // Out: the three echoes (2 + 5, 4 + 200, 2 + 1) and the close answer (2 + 2).
    expect(value(m, 'wsz_sent_bytes_total')).toBe(7 + 204 + 3 + 4);
    expect(value(m, 'wsz_socket_writes_total')).toBeGreaterThanOrEqual(1);
    for (const [name, f] of m) expect(f.help.length, name).toBeGreaterThan(10);
    // Three handshakes timed (two accepted, one refused), each well under the 5 s timeout.
    const handshakes = histogram(m, 'wsz_handshake_duration_seconds');
    expect(handshakes.count).toBe(3);
    expect(handshakes.at('5')).toBe(3);
    expect(handshakes.sum).toBeGreaterThan(0);
    // The echo handler's clientMessage ran three times, wherever it ran; hooks it lacks are left out.
    const messages = histogram(m, 'wsz_hook_duration_seconds', { hook: 'clientMessage' });
    expect(messages.count).toBe(3);
    expect(messages.at('+Inf')).toBe(3);
    expect(histogram(m, 'wsz_hook_duration_seconds', { hook: 'close' }).count).toBe(2);
    expect(m.get('wsz_hook_duration_seconds')!.samples.has('_count' + JSON.stringify([['hook', 'drain']]))).toBe(false);
    refused.destroy();
  });

  it('times hooks only from the first read of stats() or metrics() on: a server nobody asks reads no clock per hook', async () => {
    const s = await serve(threads);
    cleanup.push(() => s.stop());
    const a = await RawClient.open(s.port);
    a.sendFrame(1, 'before anyone asked');
    await a.nextFrame();
    expect(parseExposition(s.server.metrics()).has('wsz_hook_duration_seconds')).toBe(false);
    // From then on (I/O threads hear of it through a thread message: within a moment) each hook call is timed.
    let timed = 0;
    for (let i = 0; timed === 0; i++) {
      if (i === 100) throw new Error('hooks were never timed');
      a.sendFrame(1, 'after');
      await a.nextFrame();
      await new Promise((r) => setTimeout(r, 25)); // an I/O thread's counters are at most 20 ms old
      const m = parseExposition(s.server.metrics());
      if (m.has('wsz_hook_duration_seconds'))
        timed = histogram(m, 'wsz_hook_duration_seconds', { hook: 'clientMessage' }).count;
    }
    expect(timed).toBeGreaterThanOrEqual(1);
    a.destroy();
  });
});
