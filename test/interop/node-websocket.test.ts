import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { MODES, inMode, serve } from '../helpers/modes.js';
import { eventually, freshStats } from '../helpers/server.js';

/** Runs `script` in a child `node --experimental-websocket` (Node 20's built-in WHATWG WebSocket). */
function runClient(
  script: string,
  env: Record<string, string>,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--experimental-websocket', '--no-warnings', '--input-type=module', '-e', script],
      { env: { ...process.env, ...env } },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill(), 15_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

const CLIENT = `
const ws = new WebSocket('ws://127.0.0.1:' + process.env.PORT + '/interop', ['chat']);
ws.binaryType = 'arraybuffer';
const got = [];
const large = 'x'.repeat(200000);
const bytes = new Uint8Array(70000).map((_, i) => i & 255);
const send = [() => ws.send('hello'), () => ws.send(''), () => ws.send(new Uint8Array([1, 2, 3])), () => ws.send(new Uint8Array(0)), () => ws.send(large), () => ws.send(bytes), () => ws.send('κόσμε €𝄞')];
let next = 0;
ws.onopen = () => send[next++]();
ws.onmessage = (e) => {
  if (typeof e.data === 'string') got.push(['text', e.data.length > 50 ? 'len' + e.data.length + ':' + (e.data === large) : e.data]);
  else { const u = new Uint8Array(e.data); got.push(['binary', u.length > 50 ? 'len' + u.length + ':' + u.every((v, i) => v === (i & 255)) : Array.from(u).join(',')]); }
  if (next < send.length) send[next++](); else ws.close(4321, 'done here');
};
ws.onclose = (e) => {
  const { protocol, extensions } = ws;
  console.log(JSON.stringify({ protocol, extensions, got, code: e.code, reason: e.reason, wasClean: e.wasClean }));
};
ws.onerror = (e) => { console.error('error', e.message); };
`;

const CASES = MODES.flatMap((m) => [
  { ...m, deflate: false },
  { ...m, deflate: true },
]);

describe.each(CASES)(
  "interop: Node's built-in WebSocket client ($name, permessage-deflate $deflate)",
  ({ threads, workers, deflate }) => {
    inMode(workers);
    it('exchanges text, binary, empty and large messages, then closes cleanly', async () => {
      const s = await serve(threads, {
        behaviour: 'chatProtocol',
        config: { maxMessageSize: 1 << 20, perMessageDeflate: deflate },
      });
      try {
        const r = await runClient(CLIENT, { PORT: String(s.port) });
        expect(r.err).toBe('');
        expect(JSON.parse(r.out)).toEqual({
          protocol: 'chat',
          // Node's client (undici) offers permessage-deflate.
          extensions: deflate
            ? 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=15'
            : '',
          got: [
            ['text', 'hello'],
            ['text', ''],
            ['binary', '1,2,3'],
            ['binary', ''],
            ['text', 'len200000:true'],
            ['binary', 'len70000:true'],
            ['text', 'κόσμε €𝄞'],
          ],
          code: 4321,
          reason: '', // the server echoes the code only (RFC 6455 5.5.1), as ws does
          wasClean: true,
        });
        await eventually('close hook', () => s.events.at(-1) === 'close');
        // Our replies of 200 kB and 70 kB went compressed (the others are under the 1024-byte threshold);
        // undici inflates what it receives but sends uncompressed.
        if (deflate) expect((await freshStats(s.server)).compression).toEqual({ deflated: 2, inflated: 0 });
      } finally {
        await s.stop();
      }
    });
  },
);
