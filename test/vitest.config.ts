import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = fileURLToPath(new URL('../packages/websocket/src/', import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript source; test/dist checks the built package separately.
    alias: [
      { find: /^wsz$/, replacement: `${src}index.ts` },
      { find: /^wsz\/(.+)$/, replacement: `${src}$1/index.ts` },
    ],
  },
  test: {
    // Paths are relative to the repository root (the config lives in test/ to keep the top level lean).
    root: fileURLToPath(new URL('..', import.meta.url)),
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
});
