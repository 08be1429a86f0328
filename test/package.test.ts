/**
 * The package as a user gets it (issue 11, part 4): packed from this clone, installed with plain npm
 * into a new ESM app, and the README's quick start, in JavaScript, run on default worker threads.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Client } from 'wsz/client';

const pkg = fileURLToPath(new URL('../packages/websocket/', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'wsz-package-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(file: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(
      file,
      args,
      {
        cwd,
        timeout: 120_000,
        env: {
          ...process.env,
          npm_config_audit: 'false',
          npm_config_fund: 'false',
          npm_config_update_notifier: 'false',
        },
      },
      (error, stdout, stderr) =>
        error ? reject(new Error(`${file} ${args.join(' ')} failed: ${stderr || error.message}`)) : resolve(stdout),
    ),
  );
}

const CHAT = `import { Handler } from 'wsz';

export class Chat extends Handler {
  // Hooks run on worker threads (threadPool.count, default 4), which import this module.
  static module = import.meta.url;
  room = '';

  init(handshake) {
    this.room = handshake.query.get('room') ?? '';
    if (!this.room) throw Object.assign(new Error('?room= required'), { status: 400 });
    this.conn.subscribe(this.room);
  }

  afterInit() {
    this.conn.write(this.app.greeting);
  }

  clientMessage(data, type) {
    this.conn.publish(this.room, data, { binary: type === 'binary' });
  }
}
`;

const SERVER = `import { Server } from 'wsz';
import { Chat } from './chat.js';

const server = new Server(Chat, { port: 0 });
const { port } = await server.listen({ greeting: 'hello' });
console.log('listening ' + port);
process.once('SIGTERM', () => server.stop().then(() => process.exit(0)));
`;

describe('the packed package', () => {
  it('packs with dist/, installs with npm into an ESM app, and runs the quick start on worker threads', async () => {
    await run('npm', ['pack', '--pack-destination', work], pkg);
    const tarball = readdirSync(work).find((f) => /^wsz-.*\.tgz$/.test(f));
    expect(tarball).toBeDefined();
    const listing = await run('tar', ['-tzf', join(work, tarball!)], work);
    expect(listing).toMatch(/package\/dist\/index\.js/);
    expect(listing).toMatch(/package\/dist\/index\.d\.ts/);

    const app = join(work, 'app');
    await run('mkdir', ['-p', app], work);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    await run('npm', ['install', '--no-package-lock', join(work, tarball!)], app);
    writeFileSync(join(app, 'chat.js'), CHAT);
    writeFileSync(join(app, 'server.js'), SERVER);

    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['server.js'], {
      cwd: app,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, VITEST: '' },
    });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = '';
        let err = '';
        child.stdout!.on('data', (d) => {
          out += d;
          const m = /listening (\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.stderr!.on('data', (d) => (err += d));
        child.once('exit', (code) => reject(new Error(`the app exited with ${code}: ${err}`)));
      });
      await expect(Client.connect(`ws://127.0.0.1:${port}/`)).rejects.toMatchObject({ status: 400 });
      const [a, b, other] = await Promise.all(
        ['a', 'a', 'b'].map((room) => Client.connect(`ws://127.0.0.1:${port}/?room=${room}`)),
      );
      for (const c of [a!, b!, other!])
        expect(await c.read(5000)).toEqual({ type: 'text', data: Buffer.from('hello') });
      a!.write('hi');
      expect(await a!.read(5000)).toEqual({ type: 'text', data: Buffer.from('hi') });
      expect(await b!.read(5000)).toEqual({ type: 'text', data: Buffer.from('hi') });
      expect(await other!.read(200)).toBeNull();
      other!.destroy();
      b!.destroy();
      const c = a!;
      await c.close();
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }, 180_000);
});
