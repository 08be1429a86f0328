import type { FrameHeader, FrameSink } from '../protocol/frame-reader.js';
import { CloseCode } from '../protocol/close-codes.js';
import { ProtocolError } from '../protocol/errors.js';
import { opcodeIsControl } from '../protocol/opcodes.js';

/** A token bucket: `rate` tokens a second, at most `burst` saved up; starts full. */
export class TokenBucket {
  private tokens: number;
  private at = 0;
  private readonly rate: number;
  private readonly burst: number;

  constructor(rate: number, burst: number) {
    this.rate = rate;
    this.burst = burst;
    this.tokens = burst;
  }

  /** Takes one token; false when none is left. */
  take(): boolean {
    const now = Date.now();
    if (this.at !== 0) this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.rate) / 1000);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** The resolved `rateLimit` config. */
export interface RateLimit {
  messagesPerSecond: number;
  burst: number;
  framesPerSecond: number;
  frameBurst: number;
}

/**
 * Counts every frame a peer sends (data frames, fragments, pings, pongs, closes) against `rateLimit`'s
 * frame allowance before the assembler sees it: 20,000 empty continuations or pings a second cost what
 * they are. Each message is counted against `messagesPerSecond` at the header of its last frame.
 * Either allowance spent fails the connection with 1008.
 */
export class RateLimitedFrames implements FrameSink {
  private readonly next: FrameSink;
  private readonly frames: TokenBucket;
  private readonly messages: TokenBucket;
  private readonly limit: RateLimit;

  constructor(next: FrameSink, limit: RateLimit) {
    this.next = next;
    this.limit = limit;
    this.frames = new TokenBucket(limit.framesPerSecond, limit.frameBurst);
    this.messages = new TokenBucket(limit.messagesPerSecond, limit.burst);
  }

  onFrameHeader(header: FrameHeader): ProtocolError | undefined {
    if (!this.frames.take()) return this.exceeded(`${this.limit.framesPerSecond} frames`);
    const error = this.next.onFrameHeader(header);
    if (error !== undefined) return error;
    if (header.fin && !opcodeIsControl(header.opcode) && !this.messages.take())
      return this.exceeded(`${this.limit.messagesPerSecond} messages`);
    return undefined;
  }

  onFramePayload(data: Buffer, start: number, end: number, last: boolean): ProtocolError | undefined {
    return this.next.onFramePayload(data, start, end, last);
  }

  private exceeded(what: string): ProtocolError {
    return new ProtocolError(
      CloseCode.PolicyViolation,
      `rate limit: more than ${what} per second`,
      'WSZ_ERR_RATE_LIMIT',
    );
  }
}
