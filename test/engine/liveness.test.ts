/**
 * Liveness verdicts (heartbeat and idle timeout), without sockets or timers: each sweep passes the
 * time, whether the peer sent anything and whether we did, and gets what to do.
 */
import { describe, expect, it } from 'vitest';
import { Liveness, Verdict, verdictLine as say } from '../../packages/websocket/src/engine/liveness.js';

const limits = (interval: number, timeout: number, idleTimeout: number) => ({
  heartbeat: { interval, timeout },
  idleTimeout,
});

describe('liveness', () => {
  it('pings a peer quiet for heartbeat.interval, and drops it when the ping stays unanswered for heartbeat.timeout', () => {
    const l = new Liveness(0);
    const hb = limits(1000, 500, 0);
    expect(l.sweep(500, false, false, hb)).toBe(Verdict.Alive);
    expect(l.sweep(1000, false, false, hb)).toBe(Verdict.Ping);
    expect(l.sweep(1200, false, true, hb)).toBe(Verdict.Alive); // our ping went out; its answer may come
    expect(l.sweep(1500, false, false, hb)).toBe(Verdict.Dead);
    expect(say(Verdict.Dead, hb)).toMatch(/no answer to a heartbeat ping within 500 ms/);
  });

  it('takes any bytes from the peer as an answer, and starts counting again', () => {
    const l = new Liveness(0);
    const hb = limits(1000, 500, 0);
    expect(l.sweep(1000, false, false, hb)).toBe(Verdict.Ping);
    expect(l.sweep(1400, true, false, hb)).toBe(Verdict.Alive);
    expect(l.sweep(2000, false, false, hb)).toBe(Verdict.Alive);
    expect(l.sweep(2400, false, false, hb)).toBe(Verdict.Ping);
  });

  it('closes a connection with no traffic either way for idleTimeout; our own sends count as traffic', () => {
    const l = new Liveness(0);
    const idle = limits(0, 0, 3000);
    expect(l.sweep(2000, false, true, idle)).toBe(Verdict.Alive);
    expect(l.sweep(4000, false, false, idle)).toBe(Verdict.Alive);
    expect(l.sweep(5000, false, false, idle)).toBe(Verdict.Idle);
    expect(say(Verdict.Idle, idle)).toBe('no traffic for 3000 ms; closing it with 1001');
    expect(say(Verdict.Ping, idle)).toBeNull(); // a ping is no news for the log
  });

  it('does nothing with both turned off', () => {
    const l = new Liveness(0);
    expect(l.sweep(1e9, false, false, limits(0, 0, 0))).toBe(Verdict.Alive);
  });
});
