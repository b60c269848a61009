// Extra sections of docs/benchmarks.md that a package's own bench writes. Each entry's script runs in a child
// process (in its package's directory) as `node <script> --markdown [--quick] [...args]` and prints the section's
// body as Markdown on stdout (tables, a sentence on what was measured; no heading: the title below is the
// heading); its stderr passes through. A script that does not exist (yet) is left out with a note; one that
// fails is an error of the run. To add a section: write the script (@tokenkit/bench-kit's benchArgs parses
// --markdown and --quick, renderMarkdownBody prints a table), add the package to apps/bench's dependencies if it
// is not there, and add an entry here.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageDir } from './child.ts';

export interface ExtraSection {
  /** The section's heading in docs/benchmarks.md. */
  title: string;
  /** The package whose bench it is, by name. */
  package: string;
  /** The script, relative to the package: `bench/dpop.ts`. */
  script: string;
  /** Arguments after `--markdown` (and `--quick` in a quick run). */
  args?: string[];
}

export const extraSections: ExtraSection[] = [
  {
    title: "got's own cost of the hooks @tokenkit/got needs",
    package: '@tokenkit/got',
    script: 'bench/overhead.ts',
    args: ['--floor'],
  },
  {
    title: "undici's own cost of the interceptor @tokenkit/fetch needs",
    package: '@tokenkit/fetch',
    script: 'bench/overhead.ts',
    args: ['--floor'],
  },
  { title: 'DPoP: a proof per request', package: '@tokenkit/core', script: 'bench/dpop.ts' },
  {
    title: 'OpenTelemetry instrumentation on the cached path',
    package: '@tokenkit/opentelemetry',
    script: 'bench/cached.ts',
  },
];

/** What running one extra section gave. */
export interface SectionResult {
  section: ExtraSection;
  /** The script as the report names it: `packages/got/bench/overhead.ts`. */
  source: string;
  /** The Markdown it printed; undefined when it was left out (see `skipped`). */
  markdown?: string;
  /** Why it was left out. */
  skipped?: string;
}

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

function run(cwd: string, file: string, args: string[]): Promise<string> {
  const child = spawn(process.execPath, [file, ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve(out.trim()) : reject(new Error(`${file} ${args.join(' ')} exited with ${code}`)),
    );
  });
}

/** Runs one extra section's script; rejects when it fails or prints nothing. */
export async function runSection(section: ExtraSection, quick: boolean): Promise<SectionResult> {
  let dir: string;
  try {
    dir = packageDir(section.package);
  } catch (error) {
    return { section, source: `${section.package} ${section.script}`, skipped: (error as Error).message };
  }
  const file = join(dir, section.script);
  const source = relative(repoRoot, file).split('\\').join('/');
  if (!existsSync(file)) return { section, source, skipped: `${source} does not exist` };
  const markdown = await run(dir, file, ['--markdown', ...(quick ? ['--quick'] : []), ...(section.args ?? [])]);
  if (markdown === '') throw new Error(`${source} --markdown printed nothing`);
  return { section, source, markdown };
}
