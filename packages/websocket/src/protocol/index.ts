/**
 * The pure RFC 6455 core: bytes in, frames and messages out. No sockets, timers or streams;
 * the server and the client are both built on it.
 * @module
 */
export { Opcode, opcodeIsControl, opcodeIsKnown, type MessageType } from './opcodes.js';
export { CloseCode, closeCodeIsValid, MAX_CLOSE_REASON_BYTES } from './close-codes.js';
export { ProtocolError, HandshakeError, type ProtocolErrorCode, type HandshakeErrorCode } from './errors.js';
export { applyMask, maskWord } from './mask.js';
export { Utf8Validator, utf8IsValid } from './utf8.js';
export { FrameReader, type FrameHeader, type FrameSink, type FrameReaderOptions } from './frame-reader.js';
export {
  MessageAssembler,
  allocatingBuffers,
  type MessageBuffers,
  type MessageSink,
  type MessageAssemblerOptions,
} from './message-assembler.js';
export {
  encodeFrame,
  encodeClosePayload,
  frameHeaderLength,
  writeFrameHeader,
  frameText,
  frameBin,
  checkServerFrames,
  checkFrameToWrite,
  type FrameHeaderOptions,
  type FramedSummary,
} from './frame-writer.js';
export {
  acceptKey,
  errorResponse,
  findHeadEnd,
  headerNameIsValid,
  headerTokens,
  headerValue,
  headerValueIsSafe,
  headerValueIsVisible,
  invalidHeader,
  resourceName,
  trimOws,
  parseRequestHead,
  switchingProtocolsResponse,
  validateUpgrade,
  type RequestHead,
  type UpgradeRequest,
} from './handshake.js';
export {
  parseExtensions,
  negotiateDeflate,
  deflateOfferHeader,
  acceptDeflateResponse,
  type Extension,
  type DeflatePolicy,
  type DeflateAgreement,
  type DeflateOffer,
} from './permessage-deflate.js';
export {
  Compressor,
  Decompressor,
  DEFLATE_TAIL,
  deflateSupported,
  type CodecOptions,
  type InflateSource,
} from './deflate-codec.js';
export { Session, SessionState, AfterClose } from './session.js';
