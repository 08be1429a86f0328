/**
 * The hook runner without sockets (issue 21): one event at a time per connection, in order, even
 * when hooks are async; `close` exactly once, after the events before it; reading paused past the
 * backlog. A recording target stands for the connection.
 */
import { describe, expect, it } from 'vitest';
import type { DispatchTarget } from '../../packages/websocket/src/handler/dispatcher.js';
import { HookRunner } from '../../packages/websocket/src/handler/hook-runner.js';
import type { Handshake } from '../../packages/websocket/src/handler/handshake.js';

const log: string[] = [];
const gates: Array<() => void> = [];

class Slow {
  async clientMessage(data: Buffer): Promise<void> {
    log.push(`start ${data}`);
    if (data.toString().startsWith('wait')) await new Promise<void>((r) => gates.push(r));
    log.push(`end ${data}`);
  }
  close(): void {
    log.push('close');
  }
}

function target(): DispatchTarget & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    slot: null,
    conn: {},
    releaseMessage: () => {},
    hookFailed: (hook: string) => void events.push(`failed ${hook}`),
    clientCloseDone: () => {},
    eventStarted: () => {},
    eventSettled: () => {},
    pauseReading: () => void events.push('pause'),
    resumeReading: () => void events.push('resume'),
  } as unknown as DispatchTarget & { events: string[] };
}
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('HookRunner', () => {
  it('runs one message at a time, in order, though the hook is async', async () => {
    log.length = 0;
    const runner = new HookRunner(Slow, 16);
    const t = target();
    await runner.open(t, {} as Handshake, undefined);
    for (const m of ['wait a', 'b', 'c']) runner.message(t, Buffer.from(m), 'text', false);
    await settle();
    expect(log).toEqual(['start wait a']);
    gates.shift()!();
    await settle();
    expect(log).toEqual(['start wait a', 'end wait a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('once the socket is gone, runs close after the hook in progress, exactly once; events still waiting are dropped', async () => {
    log.length = 0;
    const runner = new HookRunner(Slow, 16);
    const t = target();
    await runner.open(t, {} as Handshake, undefined);
    for (const m of ['wait a', 'b']) runner.message(t, Buffer.from(m), 'text', false);
    runner.closed(t);
    runner.closed(t);
    await settle();
    expect(log).toEqual(['start wait a']);
    gates.shift()!();
    await settle();
    expect(log).toEqual(['start wait a', 'end wait a', 'close']);
  });

  it('pauses reading while more events wait than the backlog, and resumes once they are done', async () => {
    log.length = 0;
    const runner = new HookRunner(Slow, 2);
    const t = target();
    await runner.open(t, {} as Handshake, undefined);
    for (const m of ['wait 1', '2', '3', '4']) runner.message(t, Buffer.from(m), 'text', false);
    expect(t.events).toContain('pause');
    gates.shift()!();
    await settle();
    expect(t.events.at(-1)).toBe('resume');
    expect(log.filter((l) => l.startsWith('end'))).toEqual(['end wait 1', 'end 2', 'end 3', 'end 4']);
  });
});
