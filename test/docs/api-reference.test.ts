/**
 * docs/api.md is generated from the TSDoc in the source (`pnpm api`): it cannot drift from the code,
 * and it shows the public surface only.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { apiReference, OUTPUT } from '../../packages/websocket/scripts/api-reference.js';

describe('docs/api.md', () => {
  const generated = apiReference();

  it('is what the source generates now (run `pnpm api` after changing a public name or its doc comment)', () => {
    expect(readFileSync(OUTPUT, 'utf8') === generated, 'docs/api.md is out of date: run pnpm api').toBe(true);
  });

  it('covers every entry point and their main names, without internal members', () => {
    for (const heading of [
      '## `wsz`',
      '## `wsz/client`',
      '## `wsz/testing`',
      '## `wsz/protocol`',
      '### `Server` (class)',
      '### `Conn` (class)',
      '### `Client` (class)',
      '### `ServerConfig` (interface)',
    ]) {
      expect(generated).toContain(heading);
    }
    expect(generated).toContain('- `readonly id: number`');
    expect(generated).toMatch(/- `workerCount\?: number`/);
    for (const internal of ['adoptSocket', 'takeHeadBuffer', 'trackInit', 'ServerCore'])
      expect(generated).not.toContain(internal);
  });
});
