// Reads the log of `turbo run test` and prints one summary of every package: passed, failed, skipped, and the
// failures in full. The last line, `tests: N passed, N failed, N skipped`, is what CI reads.
import { readFileSync } from 'node:fs';

// eslint-disable-next-line no-control-regex -- ANSI colour codes start with ESC
const log = readFileSync(process.argv[2] ?? '.tmp/test.log', 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
const packages = new Map<
  string,
  { passed: number; failed: number; skipped: number; summary: boolean; lines: string[] }
>();
for (const line of log.split('\n')) {
  const match = /^(\S+?):test: ?(.*)$/.exec(line);
  if (match === null) continue;
  const [, name, text] = match as unknown as [string, string, string];
  const entry = packages.get(name) ?? { passed: 0, failed: 0, skipped: 0, summary: false, lines: [] };
  packages.set(name, entry);
  entry.lines.push(text);
  // vitest's closing line: "Tests  1 failed | 262 passed | 3 skipped (266)"
  const tests = /^\s*Tests\s+(.*)\(\d+\)\s*$/.exec(text);
  if (tests !== null) {
    entry.summary = true;
    for (const [, count, kind] of tests[1]!.matchAll(/(\d+) (passed|failed|skipped|todo)/g)) {
      if (kind === 'passed' || kind === 'failed') entry[kind] = Number(count);
      else entry.skipped += Number(count);
    }
  }
}
const failedTasks = new Set(
  [...log.matchAll(/(\S+)#test/g)].map((m) => m[1]!).filter((name) => new RegExp(`Failed:.*${name}#test`).test(log)),
);

let passed = 0;
let failed = 0;
let skipped = 0;
const rows: string[] = [];
for (const [name, entry] of [...packages].sort(([a], [b]) => a.localeCompare(b))) {
  const broken = !entry.summary || failedTasks.has(name);
  if (broken || entry.failed > 0) {
    // The failures in full: vitest's FAIL blocks and the error summary, without the passing noise.
    const start = entry.lines.findIndex((l) => /Failed Tests|FAIL|Error/.test(l));
    console.log(`\n--- ${name}: what failed ---\n${entry.lines.slice(Math.max(0, start)).join('\n').trim()}\n`);
  }
  const failures = entry.failed + (broken && entry.failed === 0 ? 1 : 0);
  passed += entry.passed;
  failed += failures;
  skipped += entry.skipped;
  const counts = [
    `${entry.passed} passed`,
    entry.failed > 0 ? `${entry.failed} failed` : '',
    entry.skipped > 0 ? `${entry.skipped} skipped` : '',
  ]
    .filter(Boolean)
    .join(', ');
  rows.push(
    `  ${failures > 0 ? '✗' : '✓'} ${name.padEnd(28)} ${entry.summary ? counts : 'did not finish (see above)'}`,
  );
}
// Real-server suites skipped by name (their server is not installed) are said plainly.
const skippedSuites = new Set(
  [...log.matchAll(/↓ (.*\((?:python3-django-oauth-toolkit|Debian glewlwyd)\))/g)].map((m) => m[1]!.trim()),
);
console.log('\ntests by package');
console.log(rows.join('\n'));
for (const suite of skippedSuites)
  console.log(`  skipped: ${suite} — its server is not installed (see scripts/servers.sh)`);
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || packages.size === 0 ? 1 : 0);
