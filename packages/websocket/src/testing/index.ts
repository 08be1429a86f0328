/**
 * The wsz testing harness (`wsz/testing`): real connections for unit-testing handlers, with no
 * dependency on a test runner (failures are node:assert AssertionErrors).
 *
 * ```ts
 * import * as testing from 'wsz/testing';
 * const t = await testing.init();
 * t.conn.write('hello');
 * await t.expectMessage('text', 'hello');
 * await t.deinit();
 * ```
 * @module
 */
export { init, handler, TestConn, TestHandler, type InitOptions, type HandlerOptions } from './harness.js';
export { PeerAssertions, show } from './assertions.js';
