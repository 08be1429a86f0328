/** RFC 6455 5.2 frame opcodes. */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** One of the six opcodes RFC 6455 defines. */
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** The type of a complete data message. */
export type MessageType = 'text' | 'binary';

/** True for the opcodes RFC 6455 defines (everything else is reserved and a protocol error). */
export function opcodeIsKnown(op: number): boolean {
  return Number.isInteger(op) && ((op >= 0 && op <= 2) || (op >= 8 && op <= 10));
}

/** RFC 6455 5.5: control frames have the high bit of the opcode set. */
export function opcodeIsControl(op: number): boolean {
  return (op & 0x8) !== 0;
}
