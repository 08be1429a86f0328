import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MODES, inMode, serve } from '../helpers/modes.js';
import { eventually } from '../helpers/server.js';
import { selfSigned } from '../helpers/tls.js';
import { CHROMIUM, headless } from '../helpers/chromium.js';

// Debian's chromium, run headless (installed by .ci/run).
const available = spawnSync(CHROMIUM, ['--version']).status === 0;
if (!available && process.env.CI) throw new Error('chromium is missing: .ci/run installs it with apt-get');

/** The page: exchanges messages with the server, then sends a report of what came back and closes. */
function page(wsPort: number, scheme: 'ws' | 'wss'): string {
  return `<!doctype html><meta charset="utf-8"><script>
const ws = new WebSocket('${scheme}://127.0.0.1:${wsPort}/browser', ['chat']);
ws.binaryType = 'arraybuffer';
const got = [];
const big = 'y'.repeat(50000);
const plan = [() => ws.send('hello from chromium'), () => ws.send(new Uint8Array([1, 2, 3])), () => ws.send(''), () => ws.send(big), () => ws.send('κόσμε 𝄞')];
let next = 0;
ws.onopen = () => plan[next++]();
ws.onmessage = (e) => {
  got.push(typeof e.data === 'string' ? (e.data.length > 100 ? 'text of ' + e.data.length + (e.data === big ? ' (same)' : ' (different)') : 'text ' + e.data) : 'binary ' + new Uint8Array(e.data).join(','));
  if (next < plan.length) plan[next++]();
  else if (!got.reported) { got.reported = true; ws.send('report:' + JSON.stringify({ protocol: ws.protocol, extensions: ws.extensions, got })); ws.close(1000, 'done'); }
};
</script>`;
}

const tls = available ? selfSigned() : null;
const cases = MODES.flatMap((m) => [
  { ...m, scheme: 'ws' as const, deflate: false },
  { ...m, scheme: 'ws' as const, deflate: true },
  ...(tls ? [{ ...m, scheme: 'wss' as const, deflate: false }] : []),
]);

describe.skipIf(!available).each(cases)(
  'interop: headless Chromium ($name, $scheme, permessage-deflate $deflate)',
  ({ threads, workers, scheme, deflate }) => {
    inMode(workers);
    it('exchanges text, binary, empty, 50 KB and UTF-8 messages with a real browser, which then closes cleanly', async () => {
      // wss: our self-signed certificate, which the browser is told to accept.
      const s = await serve(threads, {
        behaviour: 'chatProtocol',
        config: {
          ...(scheme === 'wss' ? { tls: { key: tls!.key, cert: tls!.cert } } : {}),
          perMessageDeflate: deflate,
        },
      });
      const http = createServer((_req, res) =>
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(s.port, scheme)),
      );
      await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
      const profile = mkdtempSync(join(tmpdir(), 'wsz-chromium-'));
      const browser = spawn(
        CHROMIUM,
        [
          ...headless(profile),
          ...(scheme === 'wss' ? ['--ignore-certificate-errors'] : []),
          `http://127.0.0.1:${(http.address() as AddressInfo).port}/`,
        ],
        { stdio: 'ignore', detached: true },
      ); // its own process group: the helpers it starts end with it
      const exited = new Promise<void>((r) => browser.once('exit', () => r()));
      try {
        await eventually(
          'the browser report',
          () => s.events.some((e) => e.startsWith('message text report:')),
          30_000,
        );
        const report = JSON.parse(
          s.events.find((e) => e.startsWith('message text report:'))!.slice('message text report:'.length),
        );
        expect(report).toEqual({
          protocol: 'chat',
          // Chromium offers permessage-deflate with client_max_window_bits.
          extensions: deflate
            ? 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=15'
            : '',
          got: ['text hello from chromium', 'binary 1,2,3', 'text ', 'text of 50000 (same)', 'text κόσμε 𝄞'],
        });
        await eventually('the close hook', () => s.events.includes('close'), 10_000);
        // The 50 kB message went compressed both ways (Chromium compresses what it sends).
        if (deflate) expect(s.server.stats().compression).toMatchObject({ deflated: 1 });
        if (deflate) expect(s.server.stats().compression.inflated).toBeGreaterThanOrEqual(1);
      } finally {
        try {
          process.kill(-browser.pid!, 'SIGKILL'); // the whole group: zygote, renderer, crashpad
        } catch {
          browser.kill('SIGKILL');
        }
        await exited;
        http.close();
        await s.stop();
        // Best effort: a helper still exiting may hold the profile a moment; it is a temp dir either way.
        try {
          rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
        } catch {}
      }
    }, 60_000);
  },
);
