// Type-checks every ```ts / ```typescript block of README.md, docs/*.md and packages/*/README.md the way a reader
// who copies it would compile it: as its own module, strict like tsconfig.base.json (module NodeNext), with
// @tokenkit/* and the clients the packages are tested with (axios, got, ky, @apollo/*, ioredis, undici, ...)
// resolved from the workspace. Run with `pnpm check-docs` after `pnpm build`: the packages' types come from dist.
//
// Each block is written to .tmp/docs-check/<file>-<line>.ts (.tmp is gitignored), next to a node_modules of
// symlinks to the published workspace packages and to their peer and dev dependencies, and is compiled as a module
// even without imports (moduleDetection: force), so no block sees another's declarations: a block brings its own
// imports. What a reader obviously has from the surrounding text may be declared on leading lines, e.g.
// `declare const tokens: TokenProvider;`.
// A block that is a fragment on purpose (options that go into an object, a member of a class) has the line
// `// fragment` right after its fence. It is only parsed, not type-checked: it must parse as statements, as the
// members of an object literal or as the members of a class, else its syntax errors (as statements) fail it.
// Keep such blocks rare, and say in the text around them where they belong.
// Prints each failing block's diagnostics as <file>:<line> and exits 1; the temporary directory is removed.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..');
const OUT = join(ROOT, '.tmp/docs-check');
const FRAGMENT = '// fragment';

interface Block {
  doc: string; // path relative to ROOT
  fenceLine: number; // 1-based line of the opening fence
  file: string; // the module written for it
  text: string;
  fragment: boolean;
}

const mdFiles = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  ...readdirSync(join(ROOT, 'packages'))
    .map((p) => `packages/${p}/README.md`)
    .filter((f) => existsSync(join(ROOT, f))),
].sort();

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
linkWorkspace();

const blocks: Block[] = [];
for (const doc of mdFiles) {
  const lines = readFileSync(join(ROOT, doc), 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(?:ts|typescript)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(indent));
    const file = join(OUT, `${doc.replace(/\.md$/, '').replaceAll('/', '_')}-${i + 1}.ts`);
    const text = body.join('\n') + '\n';
    const fragment = body[0]?.trim() === FRAGMENT;
    if (!fragment) writeFileSync(file, text);
    blocks.push({ doc, fenceLine: i + 1, file, text, fragment });
    i = j;
  }
}

const base = ts.readConfigFile(join(ROOT, 'tsconfig.base.json'), (p) => ts.sys.readFile(p));
const { options } = ts.parseJsonConfigFileContent(base.config, ts.sys, OUT);
const program = ts.createProgram(
  blocks.filter((b) => !b.fragment).map((b) => b.file),
  { ...options, noEmit: true, declaration: false, moduleDetection: ts.ModuleDetectionKind.Force },
);

let failed = 0;
let unbuilt = false;
const general = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
for (const d of general) console.error(`error TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
for (const block of blocks) {
  const diagnostics = block.fragment
    ? parseFragment(block.text)
    : ts.getPreEmitDiagnostics(program, program.getSourceFile(block.file));
  if (diagnostics.length === 0) continue;
  failed++;
  unbuilt ||= diagnostics.some((d) => d.code === 2307 && String(d.messageText).includes("'@tokenkit/"));
  const kind = block.fragment ? 'ts fragment does not parse' : 'ts block does not compile';
  console.error(`\n${block.doc}:${block.fenceLine}: this ${kind}`);
  for (const d of diagnostics) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n  ');
    if (d.file && (block.fragment || d.file.fileName === block.file) && d.start !== undefined) {
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      console.error(`  ${block.doc}:${block.fenceLine + 1 + line}:${character + 1} error TS${d.code}: ${message}`);
    } else {
      console.error(`  ${d.file ? relative(ROOT, d.file.fileName) : ''} error TS${d.code}: ${message}`);
    }
  }
}
rmSync(OUT, { recursive: true, force: true });

const fragments = blocks.filter((b) => b.fragment).length;
console.log(
  `\ncheck-docs: ${blocks.length} ts blocks in ${mdFiles.length} files (${fragments} fragments only parsed), ` +
    `${failed} failing${unbuilt ? ' (a @tokenkit package was not found: run pnpm build first)' : ''}`,
);
if (failed > 0 || general.length > 0) process.exit(1);

/** A fragment's syntax errors as statements, or none if it parses as statements, object members or class members. */
function parseFragment(text: string): readonly ts.Diagnostic[] {
  const parse = (code: string) => ts.transpileModule(code, { reportDiagnostics: true }).diagnostics ?? [];
  const asStatements = parse(text);
  if (asStatements.length === 0) return [];
  const wrapped = [`({\n${text}});`, `class Fragment {\n${text}}`];
  return wrapped.some((code) => parse(code).length === 0) ? [] : asStatements;
}

/**
 * Gives OUT the node_modules a reader's project would have: every published workspace package under its name, and
 * the clients and other packages the workspace packages are tested with (their peer and dev dependencies, not the
 * `npm:` aliases of older versions), each linked to the copy that package itself resolves.
 */
function linkWorkspace(): void {
  const link = (name: string, target: string) => {
    const path = join(OUT, 'node_modules', name);
    if (existsSync(path) || !existsSync(target)) return;
    mkdirSync(dirname(path), { recursive: true });
    symlinkSync(realpathSync(target), path, 'dir');
  };
  const packages = readdirSync(join(ROOT, 'packages')).map((p) => join(ROOT, 'packages', p));
  const manifests = packages
    .filter((dir) => existsSync(join(dir, 'package.json')))
    .map((dir) => ({ dir, json: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }));
  for (const { dir, json } of manifests) if (!json.private) link(json.name, dir);
  for (const { dir, json } of manifests) {
    const deps: Record<string, string> = { ...json.peerDependencies, ...json.devDependencies };
    for (const [name, spec] of Object.entries(deps)) {
      if (!spec.startsWith('npm:') && !name.startsWith('@tokenkit/')) link(name, join(dir, 'node_modules', name));
    }
  }
}
