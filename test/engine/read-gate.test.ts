/**
 * When a link reads its socket: paused while its hooks are behind and while the relay to another I/O
 * thread is congested, each reason lifted on its own; drained (read and dropped) once we closed.
 */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ReadGate } from '../../packages/websocket/src/engine/read-gate.js';

function gated(state = { open: true, closing: false }) {
  const calls: string[] = [];
  const socket = { pause: () => calls.push('pause'), resume: () => calls.push('resume') } as unknown as Socket;
  const gate = new ReadGate({ socket, isOpen: () => state.open, closeSent: () => state.closing });
  return { gate, calls, state };
}

describe('the read gate', () => {
  it('resumes only when both the hooks and the relay let it', () => {
    const { gate, calls } = gated();
    gate.pauseForHooks();
    gate.pauseForRelay();
    gate.resumeForHooks(); // the relay still holds it
    expect(calls).toEqual(['pause', 'pause']);
    expect(gate.paused).toBe(true);
    gate.resumeForRelay();
    expect(calls).toEqual(['pause', 'pause', 'resume']);
    expect(gate.paused).toBe(false);
  });

  it('asks a congested relay once, and passes the same two functions every time', () => {
    const { gate } = gated();
    const seen: Array<[() => void, () => void]> = [];
    const relay = {
      throttle: (pause: () => void, resume: () => void) => {
        seen.push([pause, resume]);
        pause();
        return true;
      },
    };
    gate.throttle(relay);
    gate.throttle(relay); // already paused by the relay: not asked again
    expect(seen.length).toBe(1);
    seen[0]![1]();
    gate.throttle(relay);
    expect(seen[1]![0]).toBe(seen[0]![0]); // no closures per publish
  });

  it('does not pause once closing, and drains what the peer still sends', () => {
    const { gate, calls, state } = gated();
    gate.pauseForHooks();
    state.closing = true;
    gate.drain();
    gate.pauseForRelay();
    expect(calls).toEqual(['pause', 'resume']);
  });

  it('after the 101, reads unless the hooks fell behind during init', () => {
    const a = gated();
    a.gate.opened();
    expect(a.calls).toEqual(['resume']);
    const b = gated();
    b.gate.pauseForHooks();
    b.gate.opened();
    expect(b.calls).toEqual(['pause']);
  });
});
