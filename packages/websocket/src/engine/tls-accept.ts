import type { Socket } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext, type TlsOptions } from 'node:tls';

/**
 * TLS on sockets our own listener accepted (one thread, or an I/O thread after the main thread moved
 * the socket): the socket counts against maxConn from accept, and one deadline, taken at accept,
 * bounds the TLS handshake, the upgrade request and `init` together.
 */
export class TlsAcceptor {
  private readonly options: TlsOptions;
  private readonly context: SecureContext;

  /** @param options the server's `tls` config (TLS 1.2 at least unless it says otherwise) */
  constructor(options: TlsOptions) {
    this.options = options;
    this.context = createSecureContext({ minVersion: 'TLSv1.2', ...options });
  }

  /**
   * Runs the TLS handshake on `socket` until `deadline` (a Date.now() value): `secured` gets the TLS
   * socket, or `gone` runs once when the handshake failed, timed out or the peer left.
   */
  secure(socket: Socket, deadline: number, secured: (secure: TLSSocket) => void, gone: () => void): void {
    const secure = new TLSSocket(socket, {
      isServer: true,
      secureContext: this.context,
      requestCert: this.options.requestCert === true,
      rejectUnauthorized: this.options.rejectUnauthorized !== false,
      ALPNProtocols: this.options.ALPNProtocols as string[] | undefined,
      SNICallback: this.options.SNICallback,
    });
    let settled = false;
    /** Not a connection after all: told once, at the moment it is known (before the close event). */
    const fail = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      gone();
      secure.destroy();
    };
    const timer = setTimeout(fail, Math.max(0, deadline - Date.now()));
    // A failed TLS handshake; once adopted, the connection handles errors.
    secure.on('error', () => void (settled || fail()));
    secure.once('close', fail);
    secure.once('secure', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      secured(secure);
    });
    socket.resume();
  }
}
