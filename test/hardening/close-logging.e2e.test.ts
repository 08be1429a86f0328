/**
 * Closes the server decides are visible at the default log level (info), with the reason, in every mode.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MODES, inMode, serve } from '../helpers/modes.js';
import { RawClient, closeBody } from '../helpers/raw-client.js';
import { eventually } from '../helpers/server.js';
import { recordingLogger } from '../helpers/log.js';

describe.each(MODES)('logging of closes ($name)', ({ threads, workers }) => {
  inMode(workers);
  let cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup) await c();
    cleanup = [];
  });

  it('logs a 1009, a rate limit, an idle timeout at info, naming the connection, its peer and the reason', async () => {
    const logger = recordingLogger();
    const lines = logger.lines;
    const s = await serve(threads, {
      config: {
        logLevel: 'info',
        logger,
        maxMessageSize: 100,
        idleTimeout: 300,
        rateLimit: { messagesPerSecond: 1, burst: 1 },
      },
    });
    cleanup.push(() => s.stop());
    const big = await RawClient.open(s.port);
    cleanup.unshift(() => big.destroy());
    big.sendFrame(2, Buffer.alloc(200));
    expect((await big.readClose()).code).toBe(1009);
    const fast = await RawClient.open(s.port);
    cleanup.unshift(() => fast.destroy());
    fast.sendFrame(1, 'one');
    fast.sendFrame(1, 'two');
    expect((await fast.readClose()).code).toBe(1008);
    const quiet = await RawClient.open(s.port);
    cleanup.unshift(() => quiet.destroy());
    expect((await quiet.readClose(5000)).code).toBe(1001);
    quiet.sendFrame(8, closeBody(1001));
    await eventually(
      'the lines',
      () => lines.filter((l) => /^info .*connection \d+ \(127\.0\.0\.1:\d+\)/.test(l)).length >= 3,
      5000,
    );
    expect(lines.some((l) => /^info .*closing with 1009: message over the 100-byte limit/.test(l))).toBe(true);
    expect(lines.some((l) => /^info .*closing with 1008: rate limit: more than 1 messages per second/.test(l))).toBe(
      true,
    );
    expect(lines.some((l) => /^info .*no traffic for 300 ms; closing it with 1001/.test(l))).toBe(true);
  });

  it('a promise a hook did not await that rejects closes only its connection with 1011, logged (attributeRejections inline)', async () => {
    const logger = recordingLogger();
    const lines = logger.lines;
    const s = await serve(threads, {
      behaviour: 'leakRejection',
      config: { logLevel: 'info', logger, attributeRejections: true },
    });
    cleanup.push(() => s.stop());
    const bystanders: RawClient[] = [];
    for (let i = 0; i < 6; i++) {
      const b = await RawClient.open(s.port);
      cleanup.unshift(() => b.destroy());
      bystanders.push(b);
    }
    const leaker = await RawClient.open(s.port);
    cleanup.unshift(() => leaker.destroy());
    leaker.sendFrame(1, 'leak');
    expect((await leaker.readClose(5000)).code).toBe(1011);
    for (const b of bystanders) {
      b.sendFrame(1, 'still here');
      expect((await b.nextFrame()).payload.toString()).toBe('still here');
    }
    await eventually(
      'the line',
      () =>
        lines.some((l) =>
          /^error .*a promise it did not await \(an unhandled rejection\) hook failed; closing with 1011/.test(l),
        ),
      5000,
    );
    expect(lines.find((l) => /did not await/.test(l))).toMatch(/nobody awaited this/);
  });

  it('a close hook that throws is logged as such, not as a 1011 the client never gets', async () => {
    const logger = recordingLogger();
    const lines = logger.lines;
    const s = await serve(threads, { behaviour: 'throwingClose', config: { logLevel: 'info', logger } });
    cleanup.push(() => s.stop());
    const c = await RawClient.open(s.port);
    cleanup.unshift(() => c.destroy());
    c.sendFrame(8, closeBody(1000));
    expect((await c.readClose()).code).toBe(1000);
    await eventually('the line', () => lines.some((l) => /^error .*close hook failed/.test(l)), 5000);
    const line = lines.find((l) => /close hook failed/.test(l))!;
    expect(line).toMatch(/close hook failed; the connection had ended already/);
  });
});
