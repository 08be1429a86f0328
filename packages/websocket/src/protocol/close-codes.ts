/** Close status codes of RFC 6455 7.4.1 and the IANA registry. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  /** Reserved: never on the wire; reported when a close frame had no code. */
  NoStatus: 1005,
  /** Reserved: never on the wire; reported when the TCP connection ended without a close frame. */
  Abnormal: 1006,
  InvalidPayload: 1007,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
} as const;

/**
 * True when `code` may appear in a close frame on the wire: 1000-1003, 1007-1014 (registered)
 * and 3000-4999 (libraries and applications). RFC 6455 7.4: 1004-1006 and 1015 are reserved,
 * everything else is unassigned and a protocol error.
 */
export function closeCodeIsValid(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** RFC 6455 5.5: a control payload is at most 125 bytes, 2 of which a close frame spends on its code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/** Cuts `reason` at a character boundary to what a close frame can carry (123 bytes of UTF-8). */
export function fitCloseReason(reason: string): string {
  let out = reason;
  while (Buffer.byteLength(out) > MAX_CLOSE_REASON_BYTES) out = out.slice(0, -1);
  return out;
}
