import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RawClient } from '../helpers/raw-client.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('examples/echo', () => {
  it('starts on PORT, prints "listening", echoes text as text and binary as binary, honours MAX_MESSAGE_SIZE, stops on SIGINT', async () => {
    const child = spawn(`${root}node_modules/.bin/tsx`, ['--conditions=wsz-source', 'examples/echo/server.ts'], {
      cwd: root,
      env: { ...process.env, PORT: '0', MAX_MESSAGE_SIZE: '1000', WSZ_LOG_LEVEL: 'silent' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no 'listening' line; got: ${out}`)), 15_000);
      child.stdout.on('data', () => {
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(Number(m[1]));
        }
      });
    });
    const c = await RawClient.open(port);
    c.sendFrame(1, 'text in');
    c.sendFrame(2, Buffer.from([9, 8, 7]));
    expect(await c.nextFrame()).toMatchObject({ opcode: 1, payload: Buffer.from('text in') });
    expect(await c.nextFrame()).toMatchObject({ opcode: 2, payload: Buffer.from([9, 8, 7]) });
    c.sendFrame(2, Buffer.alloc(1001));
    expect((await c.readClose()).code).toBe(1009);
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exit).toBe(0);
  });
});
