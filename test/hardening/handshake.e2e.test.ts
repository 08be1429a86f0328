/**
 * What reaches the wire in a refusal (issue 10, items 20-22), in both modes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MODES, inMode, serve, type Cleanup } from '../helpers/modes.js';
import { RawClient, upgradeRequest } from '../helpers/raw-client.js';

let cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

describe.each(MODES)('refusals ($name)', ({ threads, workers }) => {
  inMode(workers);
  async function ask(request: string | Buffer) {
    const s = await serve(threads, { behaviour: 'echoHeaderRefusal' });
    cleanup.push(() => s.stop());
    const c = await RawClient.connect(s.port, request);
    cleanup.unshift(() => c.destroy());
    const raw: Buffer[] = [];
    c.socket.on('data', (d) => raw.push(d));
    await c.closed;
    return Buffer.concat(raw);
  }

  it('a request header value with a bare LF is refused with 400 before init sees it', async () => {
    const res = await ask(upgradeRequest('/', ['X-Echo: a\nSet-Cookie: session=attacker']));
    expect(res.toString('latin1')).toMatch(/^HTTP\/1\.1 400 /);
    expect(res.toString('latin1')).not.toContain('Set-Cookie');
  });

  it('a refusal header that is not visible ASCII is left out; the UTF-8 body has its byte length', async () => {
    const res = await ask(Buffer.from(upgradeRequest('/', ['X-Echo: caf\xe9 \xff']), 'latin1'));
    const text = res.toString('latin1');
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
    expect(text).not.toContain('X-Echo');
    const body = Buffer.from('accès refusé €\n', 'utf8');
    expect(text).toContain(`Content-Length: ${body.length}\r\n`);
    expect(res.subarray(res.length - body.length).equals(body)).toBe(true);
  });

  it('a request with two Host headers is refused with 400', async () => {
    const res = await ask(upgradeRequest('/', ['Host: evil.example']));
    expect(res.toString('latin1')).toMatch(/^HTTP\/1\.1 400 .*\r\n[\s\S]*more than one Host/);
  });
});
