/**
 * What a {@link ConfigError} is about, stable across releases (match these, not messages):
 * - `WSZ_ERR_INVALID_CONFIG`: a known field with a value it does not take (the message names the
 *   field, the value and what it takes)
 * - `WSZ_ERR_UNKNOWN_CONFIG`: a field wsz does not know (the message suggests the one meant)
 * - `WSZ_ERR_UNSUPPORTED_CONFIG`: a setting this Node or this combination cannot run (I/O threads
 *   before Node 24, or with a Unix socket; config that cannot be copied to threads)
 */
export type ConfigErrorCode = 'WSZ_ERR_INVALID_CONFIG' | 'WSZ_ERR_UNKNOWN_CONFIG' | 'WSZ_ERR_UNSUPPORTED_CONFIG';

/**
 * A server config that cannot run, thrown by `new Server(...)` (and `resolveConfig`). A TypeError
 * (its name stays 'TypeError'), with a {@link ConfigErrorCode}.
 */
export class ConfigError extends TypeError {
  /** Why, for programs (see {@link ConfigErrorCode}). */
  readonly code: ConfigErrorCode;

  /** @param message what is wrong and what to do @param code why (default `WSZ_ERR_INVALID_CONFIG`) */
  constructor(message: string, code: ConfigErrorCode = 'WSZ_ERR_INVALID_CONFIG') {
    super(message);
    this.code = code;
  }
}
