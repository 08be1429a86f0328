/** Every example says what it shows and how to run it, and the suite runs it. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const examples = readdirSync(join(root, 'examples'), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory()
      ? d.name === 'node_modules'
        ? []
        : testFiles(join(dir, d.name))
      : d.name.endsWith('.test.ts')
        ? [join(dir, d.name)]
        : [],
  );
}

describe.each(examples)('examples/%s', (name) => {
  it('has a README that says how to run it', () => {
    const readme = join(root, 'examples', name, 'README.md');
    expect(existsSync(readme), `examples/${name}/README.md`).toBe(true);
    expect(readFileSync(readme, 'utf8')).toMatch(/```sh\n[^`]*pnpm /);
  });

  it('is run by a test of the suite', () => {
    const own = testFiles(join(root, 'examples', name));
    const elsewhere = testFiles(join(root, 'test')).filter((f) =>
      readFileSync(f, 'utf8').includes(`examples/${name}/`),
    );
    expect(own.length + elsewhere.length).toBeGreaterThan(0);
  });
});
