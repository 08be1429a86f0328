/**
 * Whether an open connection is alive, decided at each sweep of the server's timer: a connection
 * quiet for `heartbeat.interval` gets a ping, one silent `heartbeat.timeout` after that ping is
 * dropped, and one with no frame either way for `idleTimeout` is closed (1001). No timers of its own:
 * the caller passes the time and acts on the verdict.
 */

/** What a sweep decided for one connection. */
export const Verdict = {
  /** Nothing to do. */
  Alive: 0,
  /** Quiet for heartbeat.interval: send a ping. */
  Ping: 1,
  /** No answer to the ping within heartbeat.timeout: drop the connection. */
  Dead: 2,
  /** No traffic either way for idleTimeout: close it (1001). */
  Idle: 3,
} as const;

/** One of the {@link Verdict} values. */
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/** The liveness settings a sweep applies (from the server's config); 0 turns one off. */
export interface LivenessLimits {
  heartbeat: { interval: number; timeout: number };
  idleTimeout: number;
}

/** The liveness clock of one connection. */
export class Liveness {
  /** When bytes last came from the peer, as seen by the sweeps. */
  private lastActive: number;
  /** When there last was traffic either way. */
  private lastTraffic: number;
  /** When our heartbeat ping went out (0: none is waiting for its answer). */
  private pingSentAt = 0;

  /** @param now the time the connection opened */
  constructor(now: number) {
    this.lastActive = this.lastTraffic = now;
  }

  /**
   * The verdict at `now`. `read`: bytes came from the peer since the last sweep (or we did not read,
   * so its silence is not its own); `sent`: we sent something since the last sweep.
   */
  sweep(now: number, read: boolean, sent: boolean, limits: LivenessLimits): Verdict {
    if (read) {
      this.lastActive = this.lastTraffic = now;
      this.pingSentAt = 0;
    }
    if (sent) this.lastTraffic = now;
    const { heartbeat, idleTimeout } = limits;
    const beating = heartbeat.interval > 0;
    if (beating && this.pingSentAt > 0 && now - this.pingSentAt >= heartbeat.timeout) return Verdict.Dead;
    if (idleTimeout > 0 && now - this.lastTraffic >= idleTimeout) return Verdict.Idle;
    if (beating && this.pingSentAt === 0 && now - this.lastActive >= heartbeat.interval) {
      this.pingSentAt = now;
      return Verdict.Ping;
    }
    return Verdict.Alive;
  }
}

/** What a verdict means, for the log line of the connection it hit (null: nothing worth a line). */
export function verdictLine(verdict: Verdict, limits: LivenessLimits): string | null {
  switch (verdict) {
    case Verdict.Dead:
      return `no answer to a heartbeat ping within ${limits.heartbeat.timeout} ms; dropping it`;
    case Verdict.Idle:
      return `no traffic for ${limits.idleTimeout} ms; closing it with 1001`;
    default:
      return null;
  }
}
