// The one build config every published package uses (`tsdown -c ../../tsdown.config.ts`).
// A package whose `exports` has a `require` condition is built as ESM + CJS,
// otherwise ESM only (got and ky adapters: their clients are ESM-only; the CLI).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'tsdown';

const cwd = process.cwd();
const pkg = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8')) as {
  exports: { '.'?: Record<string, unknown> } & Record<string, unknown>;
  bin?: Record<string, string>;
};
const dual = pkg.exports['.'] !== undefined && 'require' in pkg.exports['.'];
// One entry per export: '.' is src/index.ts, './adapter' is src/adapter.ts; and one per command of `bin`:
// ./dist/cli.mjs is src/cli.ts (@tokenkit/cli has no importable entry, only the command).
const entry = [
  ...Object.keys(pkg.exports)
    .filter((name) => name !== './package.json')
    .map((name) => (name === '.' ? 'src/index.ts' : `src/${name.slice(2)}.ts`)),
  ...Object.values(pkg.bin ?? {}).map((file) => file.replace(/^(\.\/)?dist\/(.*)\.mjs$/, 'src/$2.ts')),
];

export default defineConfig({
  cwd,
  entry,
  format: dual ? ['esm', 'cjs'] : ['esm'],
  // A bin-only package has no types to publish.
  dts: pkg.exports['.'] !== undefined,
  platform: 'node',
  target: 'node22',
  sourcemap: true,
  clean: true,
  fixedExtension: true,
  tsconfig: join(cwd, 'tsconfig.json'),
});
