/**
 * The close timer, the timing half of the close handshake (what is due is the session's: see
 * protocol/session.ts). Server connections and the client both use it.
 */

/**
 * Waits for the peer's side of the close handshake: `drop` runs once the peer has had `timeout` ms since
 * our close frame reached the kernel. While bytes queued before the frame still wait (`buffered`), a peer
 * that reads them, however slowly, keeps the connection: each `timeout` with progress starts the wait anew;
 * one with none cuts off a peer that stopped reading. `arm` receives each timer (to clear it), then null.
 */
export function awaitPeerClose(
  timeout: number,
  buffered: () => number,
  drop: () => void,
  arm: (timer: NodeJS.Timeout | null) => void,
): void {
  let left = buffered();
  const check = (): void => {
    const now = buffered();
    if (left > 0 && now < left) {
      left = now;
      arm(setTimeout(check, timeout));
      return;
    }
    arm(null);
    drop();
  };
  arm(setTimeout(check, timeout));
}
