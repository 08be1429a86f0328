// Runs the vitest suite and ends with a plain "N passed, N failed" line that CI can read,
// exiting with vitest's own status.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';

const out = '.vitest/results.json';
mkdirSync('.vitest', { recursive: true });
rmSync(out, { force: true });
const run = spawnSync(
  'vitest',
  [
    'run',
    '--config',
    'test/vitest.config.ts',
    '--reporter=default',
    '--reporter=json',
    `--outputFile=${out}`,
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit', shell: true },
);
let summary = 'Tests: 0 passed, 1 failed (vitest wrote no results)';
try {
  const r = JSON.parse(readFileSync(out, 'utf8'));
  summary =
    `Tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` +
    (r.numPendingTests ? `, ${r.numPendingTests} skipped` : '');
} catch {}
console.log(summary);
process.exit(run.status ?? 1);
