import type { Socket } from 'node:net';
import type { DeflateAgreement, DeflateOffer } from '../protocol/permessage-deflate.js';
import type { ClientOptions } from './options.js';

/** A socket (or an HTTP/2 stream) past its opening handshake, with what the server agreed to and what followed. */
export interface Opened {
  socket: Socket;
  protocol: string | undefined;
  rest: Buffer;
  deflate: DeflateAgreement | null;
}

/** What the client offers of permessage-deflate (null: nothing), from its options. */
export function deflateOffer(options: ClientOptions): DeflateOffer | null {
  if (!options.perMessageDeflate) return null;
  return options.perMessageDeflate === true ? {} : options.perMessageDeflate;
}
