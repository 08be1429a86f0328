import { describe, expect, it } from 'vitest';
import { needsTsx } from '../../packages/websocket/src/threads/hook-launch.js';
import { runExample } from '../helpers/example.js';
import { RawClient } from '../helpers/raw-client.js';

/** Node 22.18+, 23.6+ and 24 strip TypeScript types themselves. */
const stripsTypes = Boolean((process.features as { typescript?: unknown }).typescript);

describe('which TypeScript handler modules a worker loads with tsx', () => {
  const native = { stripsTypes: true, underTsx: false };
  it('none where Node strips types and the app does not run under tsx: Node imports the .ts module itself', () => {
    expect(needsTsx('file:///app/handler.ts', false, native)).toBe(false);
    expect(needsTsx('file:///app/handler.mts', false, native)).toBe(false);
  });
  it('a .ts module where Node does not strip types (Node 20), or when the app runs under tsx (its resolution)', () => {
    expect(needsTsx('file:///app/handler.ts', false, { stripsTypes: false, underTsx: false })).toBe(true);
    expect(needsTsx('file:///app/handler.ts', false, { stripsTypes: true, underTsx: true })).toBe(true);
  });
  it('a .tsx module always (Node never strips JSX), JavaScript never, the library from its source always', () => {
    expect(needsTsx('file:///app/handler.tsx', false, native)).toBe(true);
    expect(needsTsx('file:///app/handler.js', false, { stripsTypes: false, underTsx: false })).toBe(false);
    expect(needsTsx('file:///app/handler.js', true, native)).toBe(true);
  });
});

describe.runIf(stripsTypes)('examples under plain node, no tsx (Node that strips types)', () => {
  for (const [mode, env] of [
    ['hook threads (the default)', {}],
    ['hooks inline', { THREADS: '0' }],
    ['I/O threads', { WORKERS: '2', THREADS: '0' }],
  ] as const) {
    it(`examples/echo starts with \`node examples/echo/server.ts\`, echoes and stops: ${mode}`, async () => {
      const echo = runExample('examples/echo/server.ts', env, true);
      const port = await echo.ready;
      const c = await RawClient.open(port);
      c.sendFrame(1, 'typescript, stripped by node');
      expect(await c.nextFrame()).toMatchObject({ opcode: 1, payload: Buffer.from('typescript, stripped by node') });
      c.destroy();
      echo.interrupt();
      expect(await echo.exit).toBe(0);
    });
  }
});
