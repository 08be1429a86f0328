/**
 * Liveness and closing agree in both modes (issue 10, items 8-11, 13, 15).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MODES, inMode, openGate, serve, serveAndOpen, type Cleanup } from '../helpers/modes.js';
import { RawClient, closeBody, frame } from '../helpers/raw-client.js';
import { CloseRecorder, StuckCloseRecorder } from '../helpers/recorder.js';
import { eventually } from '../helpers/server.js';

let cleanup: Cleanup = [];
afterEach(async () => {
  for (const c of cleanup) await c();
  cleanup = [];
});

const messages = (events: string[]) => events.filter((e) => e.startsWith('message '));

describe.each(MODES)('liveness counts only the peer’s silence ($name)', ({ threads, workers }) => {
  inMode(workers);
  it('a connection the server stopped reading (hooks behind) is neither pinged out nor idle-closed', async () => {
    const { client, shared, events } = await serveAndOpen(cleanup, threads, 'gatedMessages', {
      heartbeat: { interval: 50, timeout: 100 },
      idleTimeout: 200,
      threadPool: { count: threads, backlog: 2 },
    });
    for (let i = 0; i < 6; i++) client.sendFrame(1, `m${i}`);
    // Reading pauses at the backlog; the sweep runs many times over both limits meanwhile.
    await new Promise((r) => setTimeout(r, 1200));
    openGate(shared);
    const got: string[] = [];
    while (got.length < 6) {
      const f = await client.nextFrame();
      if (f.opcode === 1) got.push(f.payload.toString());
      else if (f.opcode === 9) client.sendFrame(10, f.payload);
      else throw new Error(`unexpected frame ${f.opcode} ${f.payload.toString()}`);
    }
    expect(got).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    expect(events).not.toContain('close');
  });
});

describe('liveness with one worker behind (threads)', () => {
  it('a well-behaved neighbour on a worker whose backlog another client filled is not dropped', async () => {
    const s = await serve(1, {
      behaviour: 'gatedMessages',
      config: { heartbeat: { interval: 50, timeout: 100 }, threadPool: { count: 1, backlog: 2 } },
    });
    cleanup.push(() => s.stop());
    const flooder = await RawClient.open(s.port);
    const neighbour = await RawClient.open(s.port);
    cleanup.unshift(
      () => flooder.destroy(),
      () => neighbour.destroy(),
    );
    for (let i = 0; i < 6; i++) flooder.sendFrame(1, `f${i}`);
    // The neighbour answers every ping it gets; the worker's full backlog keeps the server from reading it.
    let answering = true;
    const answer = (async () => {
      while (answering) {
        const f = await neighbour.nextFrame(300).catch(() => null);
        if (f?.opcode === 9) neighbour.sendFrame(10, f.payload);
      }
    })();
    await new Promise((r) => setTimeout(r, 1000));
    answering = false;
    await answer;
    openGate(s.shared);
    neighbour.sendFrame(1, 'still here');
    for (;;) {
      const f = await neighbour.nextFrame();
      if (f.opcode === 1) {
        expect(f.payload.toString()).toBe('still here');
        break;
      }
    }
  });
});

describe.each(MODES)('closes the I/O side starts reach the hooks ($name)', ({ threads, workers }) => {
  inMode(workers);
  it('after a hook throws (1011), the messages queued behind it do not reach clientMessage', async () => {
    const { client, events } = await serveAndOpen(cleanup, threads, 'boomFirst');
    client.send(Buffer.concat([frame(1, 'boom'), frame(1, 'after-1'), frame(1, 'after-2')]));
    expect((await client.readClose()).code).toBe(1011);
    client.send(frame(8, closeBody(1000)));
    await eventually('close hook', () => events.includes('close'));
    expect(messages(events)).toEqual(['message text boom']);
  });

  it('during stop, a running hook sees isClosed() and its writes return false', async () => {
    const { client, server, shared, events } = await serveAndOpen(cleanup, threads, 'probeAfterGate');
    client.sendFrame(1, 'probe');
    await eventually('message', () => events.includes('message text probe'));
    const stopped = server.stop();
    expect((await client.readClose()).code).toBe(1001);
    openGate(shared);
    client.send(frame(8, closeBody(1001)));
    await stopped;
    await eventually('probe', () => events.some((e) => e.startsWith('probe ')));
    expect(events).toContain('probe true false');
  });

  it('after a backpressured reply with no drain hook, a later close is answered without waiting for closeTimeout', async () => {
    const { client } = await serveAndOpen(cleanup, threads, 'bigWrite', {
      closeTimeout: 8000,
      maxMessageSize: 2 << 20,
    });
    client.sendFrame(1, 'big');
    const big = await client.nextFrame(5000);
    expect(big.payload.length).toBe(1 << 20);
    await new Promise((r) => setTimeout(r, 50)); // the socket drains
    client.send(frame(8, closeBody(1000)));
    expect((await client.readClose(4000)).code).toBe(1000);
  });

  it('a clientClose hook that never settles does not keep the peer from its answer past closeTimeout', async () => {
    const { client, events } = await serveAndOpen(
      cleanup,
      threads,
      undefined,
      { closeTimeout: 300 },
      StuckCloseRecorder,
    );
    client.send(frame(8, closeBody(4001, 'bye')));
    expect((await client.readClose(4000)).code).toBe(4001);
    expect(events).toContain('clientClose 4001');
  });

  it('conn.close() in init throws, saying to throw from init to refuse', async () => {
    const s = await serve(threads, { behaviour: 'closeInInit' });
    cleanup.push(() => s.stop());
    const c = await RawClient.open(s.port);
    cleanup.unshift(() => c.destroy());
    await eventually('init', () => s.events.some((e) => e.startsWith('init close:')));
    expect(s.events.find((e) => e.startsWith('init close:'))).toMatch(
      /cannot close before the handshake completes: to refuse the upgrade, throw from init/,
    );
    c.sendFrame(1, 'still open');
    expect((await c.nextFrame()).payload.toString()).toBe('still open');
  });

  it('stats().queued counts every message handed to hooks and not settled, the same in both modes', async () => {
    const { client, server, shared } = await serveAndOpen(cleanup, threads, 'gatedMessages');
    for (let i = 0; i < 7; i++) client.sendFrame(1, `q${i}`);
    await eventually('7 queued', () => server.stats().queued === 7);
    openGate(shared);
    for (let i = 0; i < 7; i++) await client.nextFrame();
    await eventually('none queued', () => server.stats().queued === 0);
  });
});

describe.each(MODES)('clientClose answered by the handler ($name)', ({ threads, workers }) => {
  inMode(workers);
  it('still answers once with the hook’s own close', async () => {
    const { client } = await serveAndOpen(cleanup, threads, 'answerClose', {}, CloseRecorder);
    client.send(frame(8, closeBody(1000)));
    const close = await client.readClose();
    expect([close.code, close.reason]).toEqual([1000, 'see you']);
    expect(await client.waitClosed()).toBe(true);
  });
});
