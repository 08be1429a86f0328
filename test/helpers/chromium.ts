/**
 * Headless Chromium driven over the DevTools protocol (CDP), with our own WebSocket client: open
 * pages, run script in them, type into them. Debian's chromium; .ci/run installs it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'wsz/client';

export const CHROMIUM = '/usr/bin/chromium';
export const chromiumAvailable = spawnSync(CHROMIUM, ['--version']).status === 0;

interface Reply {
  id?: number;
  result?: Record<string, unknown>;
  error?: { message: string };
}

/** Chromium's flags for a headless run in `profile` (a fresh folder): no GPU, sandbox, sync or first-run pages. */
export function headless(profile: string): string[] {
  return [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-dev-shm-usage',
    `--user-data-dir=${profile}`,
  ];
}

/** A running browser and its DevTools connection. */
export class Browser {
  private readonly process: ChildProcess;
  private readonly profile: string;
  private readonly cdp: Client;
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: Reply) => void>();
  private readonly exited: Promise<void>;

  private constructor(process: ChildProcess, profile: string, cdp: Client, exited: Promise<void>) {
    this.process = process;
    this.profile = profile;
    this.cdp = cdp;
    this.exited = exited;
    void this.readReplies();
  }

  /** Starts headless Chromium with a fresh profile (and `flags`) and connects to its DevTools endpoint. */
  static async launch(flags: string[] = []): Promise<Browser> {
    const profile = mkdtempSync(join(tmpdir(), 'wsz-chromium-'));
    const child = spawn(
      CHROMIUM,
      [
        ...headless(profile),
        ...flags,
        '--remote-debugging-address=127.0.0.1',
        '--remote-debugging-port=0',
        'about:blank',
      ],
      { stdio: 'ignore', detached: true },
    ); // its own process group: the helpers it starts end with it
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    // Chromium writes its DevTools port and browser path into the profile once it listens.
    const deadline = Date.now() + 20_000;
    let endpoint = '';
    while (!endpoint) {
      try {
        const [port, path] = readFileSync(join(profile, 'DevToolsActivePort'), 'utf8').split('\n');
        if (port && path) endpoint = `ws://127.0.0.1:${port}${path}`;
      } catch {}
      if (!endpoint) {
        if (Date.now() > deadline) throw new Error('chromium did not open its DevTools port within 20 s');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const cdp = await Client.connect(endpoint, { maxMessageSize: 64 * 1024 * 1024 });
    return new Browser(child, profile, cdp, exited);
  }

  private async readReplies(): Promise<void> {
    for (;;) {
      let m;
      try {
        m = await this.cdp.read();
      } catch {
        return;
      }
      if (m === null || m.type === 'close') return;
      if (m.type !== 'text') continue;
      const reply = JSON.parse(m.data.toString()) as Reply;
      if (reply.id !== undefined) {
        this.waiting.get(reply.id)?.(reply);
        this.waiting.delete(reply.id);
      }
    }
  }

  /** Sends a CDP command (to a page's session when given) and resolves with its result. */
  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    this.cdp.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    return new Promise((resolve, reject) =>
      this.waiting.set(id, (reply) =>
        reply.error ? reject(new Error(`${method}: ${reply.error.message}`)) : resolve(reply.result ?? {}),
      ),
    );
  }

  /** Opens `url` in a new tab. */
  async open(url: string): Promise<Page> {
    const { targetId } = (await this.send('Target.createTarget', { url })) as { targetId: string };
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as {
      sessionId: string;
    };
    const page = new Page(this, sessionId);
    // The new tab starts on about:blank, which is "complete" at once: wait for the page asked for.
    await page.until('the page to load', 'location.href !== "about:blank" && document.readyState === "complete"');
    return page;
  }

  /** Ends the browser (its whole process group) and removes its profile. */
  async close(): Promise<void> {
    this.cdp.destroy();
    try {
      process.kill(-this.process.pid!, 'SIGKILL');
    } catch {
      this.process.kill('SIGKILL');
    }
    await this.exited;
    try {
      rmSync(this.profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    } catch {}
  }
}

/** One tab. */
export class Page {
  constructor(
    private readonly browser: Browser,
    private readonly sessionId: string,
  ) {}

  /** Evaluates `expression` in the page and returns its value (promises awaited). */
  async evaluate<T = unknown>(expression: string): Promise<T> {
    const r = (await this.browser.send(
      'Runtime.evaluate',
      { expression, awaitPromise: true, returnByValue: true },
      this.sessionId,
    )) as {
      result: { value?: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (r.exceptionDetails)
      throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** Waits until `expression` is truthy in the page. */
  async until(what: string, expression: string, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await this.evaluate<boolean>(`Boolean(${expression})`))) {
      if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Focuses the element with id `id` and types `text` into it, as a keyboard would. */
  async type(id: string, text: string): Promise<void> {
    await this.evaluate(`document.getElementById(${JSON.stringify(id)}).focus()`);
    await this.browser.send('Input.insertText', { text }, this.sessionId);
  }

  /** Clicks the element with id `id`. */
  async click(id: string): Promise<void> {
    await this.evaluate(`document.getElementById(${JSON.stringify(id)}).click()`);
  }
}
