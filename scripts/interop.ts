// Runs tokenkit's tests against real authorization servers (oidc-provider, Django OAuth Toolkit, Glewlwyd) with
// vitest's JSON reporter and rewrites the matrix of docs/interop.md from their results: a cell is ✅ only if every
// test mapped to it passed. Run with `pnpm interop` (Node >= 22.18 runs this TypeScript file directly).
// Exits 1 if a test failed (the file is still written: ❌ cells are the point).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const DOC = join(ROOT, 'docs/interop.md');
const START = '<!-- matrix:start -->';
const END = '<!-- matrix:end -->';

/** Test files per package. The axios run takes @tokenkit/core from its build, so core is built first. */
const RUNS = [
  {
    pkg: 'core',
    files: [
      'src/glewlwyd.test.ts',
      'src/django-oauth.test.ts',
      'src/django-oauth-refresh.test.ts',
      'src/oidc-provider.test.ts',
      'src/providers.test.ts',
    ],
  },
  { pkg: 'axios', files: ['src/django-oauth.test.ts'] },
];

type Server = 'oidc' | 'dot' | 'glewlwyd';
const SERVERS: Record<Server, string> = {
  oidc: 'oidc-provider 9',
  dot: 'Django OAuth Toolkit 1.7',
  glewlwyd: 'Glewlwyd 2.7',
};

/** The rows: id → [grant, client authentication, feature]. */
const FEATURES: Record<string, [string, string, string]> = {
  'basic-form': ['client_credentials', 'client_secret_basic', 'RFC 6749 form encoding (default): a space, `: / + %`'],
  'basic-plain': ['client_credentials', 'client_secret_basic', "`basicEncoding: 'plain'`: the same sent unencoded"],
  'basic-unreserved': ['client_credentials', 'client_secret_basic', 'an id/secret that form encoding leaves as it is'],
  post: ['client_credentials', 'client_secret_post', 'a token for the client'],
  'jwt-jwk': ['client_credentials', 'private_key_jwt', 'ES256 JWK with `kid`, a new assertion per request'],
  'jwt-keyobject': ['client_credentials', 'private_key_jwt', '`KeyObject` (no `kid` in the assertion)'],
  discovery: ['client_credentials', 'basic / post', '`issuer`: the token endpoint found by discovery'],
  resource: ['client_credentials', 'basic / post', '`resource` (RFC 8707); an unknown one is `invalid_target`'],
  'bad-client': ['client_credentials', 'basic / post', 'wrong client credentials: typed error, no secret in it'],
  password: ['password', 'client_secret_basic', 'a token for the user'],
  'bad-password': ['password', 'client_secret_basic', 'wrong password: `OAuthError`, no password or secret in it'],
  'refresh-rotation': [
    'password, refresh_token',
    'client_secret_basic',
    'renewed past the cutoff, refresh token rotated',
  ],
  'refresh-ahead': ['password, refresh_token', 'client_secret_basic', 'refresh ahead of expiry, in the background'],
  'refresh-store': ['password, refresh_token', 'client_secret_basic', 'newest refresh token shared through a store'],
  'dead-refresh': [
    'password, refresh_token',
    'client_secret_basic',
    'dead refresh token (revoked; a 500): password grant',
  ],
  'unknown-refresh': ['refresh_token', 'basic / post', 'unknown refresh token: typed error, no token in it'],
  'revoke-recover': ['password', 'client_secret_basic', 'revocation → 401 → `invalidate()` → recovery'],
  'adapter-recover': ['password', 'client_secret_basic', 'revocation → 401 → retry → recovery, `@tokenkit/axios`'],
};

/**
 * Test name (`<package>/<file> › <describe> › <test>`) → the cells it proves. `refused`: the test shows the server
 * refuses this (the cell is — when it passes).
 */
const TESTS: [RegExp, Server, string[], 'refused'?][] = [
  [/^core\/oidc-provider\.test\.ts › .* › client_secret_basic with an id/, 'oidc', ['basic-form', 'resource']],
  [/^core\/oidc-provider\.test\.ts › .* › client_secret_post$/, 'oidc', ['post']],
  [/^core\/oidc-provider\.test\.ts › .* › private_key_jwt with a JWK and/, 'oidc', ['jwt-jwk', 'jwt-keyobject']],
  [/^core\/oidc-provider\.test\.ts › .* › discovers the token endpoint/, 'oidc', ['discovery']],
  [/^core\/providers\.test\.ts › Aritma PSD2 .* › discovery, client_secret_post/, 'oidc', ['discovery', 'post']],
  [/^core\/oidc-provider\.test\.ts › .* › a wrong secret is an OAuthError/, 'oidc', ['bad-client']],
  [/^core\/oidc-provider\.test\.ts › .* › an unknown resource indicator/, 'oidc', ['resource']],

  [/^core\/django-oauth\.test\.ts › .* › discovery: the metadata/, 'dot', ['discovery']],
  // Its discovery document lists only client_secret_post and client_secret_basic.
  [/^core\/django-oauth\.test\.ts › .* › discovery: the metadata/, 'dot', ['jwt-jwk', 'jwt-keyobject'], 'refused'],
  [/^core\/django-oauth\.test\.ts › .* › client_credentials with client_secret_basic/, 'dot', ['basic-form']],
  [/^core\/django-oauth\.test\.ts › .* › DOT form-decodes Basic credentials/, 'dot', ['basic-plain'], 'refused'],
  [/^core\/django-oauth\.test\.ts › .* › client_credentials with client_secret_post/, 'dot', ['post']],
  [/^core\/django-oauth\.test\.ts › .* › a wrong client secret/, 'dot', ['bad-client']],
  [/^core\/django-oauth\.test\.ts › .* › a wrong password/, 'dot', ['bad-password']],
  [/^core\/django-oauth\.test\.ts › .* › password grant: .*\(rotated\)/, 'dot', ['password', 'refresh-rotation']],
  [/^core\/django-oauth\.test\.ts › .* › a refresh ahead of expiry/, 'dot', ['refresh-ahead']],
  [/^core\/django-oauth\.test\.ts › .* › the API accepts the token, 401 after revoke/, 'dot', ['revoke-recover']],
  [/^core\/django-oauth\.test\.ts › .* › revoking a refresh token revokes/, 'dot', ['revoke-recover']],
  [/^core\/django-oauth\.test\.ts › .* › an unknown refresh token/, 'dot', ['unknown-refresh']],
  [/^core\/django-oauth-refresh\.test\.ts › .* › a\. a dead refresh token/, 'dot', ['dead-refresh']],
  [/^core\/django-oauth-refresh\.test\.ts › .* › b\. a rotated refresh token/, 'dot', ['refresh-store']],
  [/^core\/django-oauth-refresh\.test\.ts › .* › c\. discovery through/, 'dot', ['discovery']],
  [/^axios\/django-oauth\.test\.ts › .* › password grant, a rotating refresh/, 'dot', ['adapter-recover']],

  [/^core\/glewlwyd\.test\.ts › .* › discovery: /, 'glewlwyd', ['discovery']],
  [/^core\/glewlwyd\.test\.ts › .* › client_secret_post; .* lowercase/, 'glewlwyd', ['post']],
  [/^core\/glewlwyd\.test\.ts › .* › private_key_jwt with an ES256 JWK/, 'glewlwyd', ['jwt-jwk']],
  [/^core\/glewlwyd\.test\.ts › .* › private_key_jwt with a KeyObject/, 'glewlwyd', ['jwt-keyobject'], 'refused'],
  [/^core\/glewlwyd\.test\.ts › .* › client_secret_basic \(the default/, 'glewlwyd', ['basic-unreserved', 'discovery']],
  [/^core\/glewlwyd\.test\.ts › .* › client_secret_basic, secret with /, 'glewlwyd', ['basic-form'], 'refused'],
  [/^core\/glewlwyd\.test\.ts › .* › client_secret_basic with basicEncoding/, 'glewlwyd', ['basic-plain']],
  [/^core\/glewlwyd\.test\.ts › .* › the default \(form\) Basic's refusal/, 'glewlwyd', ['bad-client']],
  [/^core\/glewlwyd\.test\.ts › .* › a wrong client_secret_post secret/, 'glewlwyd', ['bad-client']],
  [/^core\/glewlwyd\.test\.ts › .* › an unknown refresh token/, 'glewlwyd', ['unknown-refresh']],
];

/** Cells that no test can prove, because the server does not have the feature at all. */
const NOT_SUPPORTED: [Server, string[]][] = [
  // No password grant, and client_credentials gets no refresh token.
  ['oidc', ['password', 'bad-password', 'refresh-rotation', 'refresh-ahead', 'refresh-store', 'dead-refresh']],
];

type Status = 'passed' | 'failed' | 'skipped';
interface Result {
  name: string;
  status: Status;
}

interface VitestJson {
  testResults: {
    name: string;
    status: string;
    message?: string;
    assertionResults: { ancestorTitles: string[]; title: string; status: string }[];
  }[];
}

function sh(command: string, args: string[], cwd: string): number {
  const run = spawnSync(command, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
  if (run.error !== undefined) throw run.error;
  return run.status ?? 1;
}

/** Runs each package's files with the JSON reporter; every test by name, with its outcome. */
function runTests(): Result[] {
  if (sh('pnpm', ['-F', '@tokenkit/core', 'build'], ROOT) !== 0) throw new Error('building @tokenkit/core failed');
  const dir = mkdtempSync(join(tmpdir(), 'tokenkit-interop-'));
  try {
    return RUNS.flatMap(({ pkg, files }) => {
      const out = join(dir, `${pkg}.json`);
      sh('npx', ['vitest', 'run', '--reporter=json', `--outputFile=${out}`, ...files], join(ROOT, 'packages', pkg));
      if (!existsSync(out)) throw new Error(`vitest wrote no report for packages/${pkg}`);
      const report = JSON.parse(readFileSync(out, 'utf8')) as VitestJson;
      return report.testResults.flatMap((file) => {
        const prefix = `${pkg}/${basename(file.name)}`;
        // A file that failed to load has no tests to show: its failure must not vanish from the matrix.
        if (file.assertionResults.length === 0 && file.status === 'failed') {
          throw new Error(`${prefix} failed before its tests ran: ${file.message ?? ''}`);
        }
        return file.assertionResults.map(
          (t): Result => ({
            name: [prefix, ...t.ancestorTitles, t.title].join(' › '),
            status: t.status === 'passed' ? 'passed' : t.status === 'failed' ? 'failed' : 'skipped',
          }),
        );
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Installed versions, for the record: what the matrix was produced with. */
function versions(): string {
  const dpkg = (pkg: string) => {
    const run = spawnSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' });
    return run.status === 0 && run.stdout !== '' ? run.stdout : 'not installed';
  };
  const oidcJson = join(ROOT, 'packages/test-utils/node_modules/oidc-provider/package.json');
  const oidc = (JSON.parse(readFileSync(oidcJson, 'utf8')) as { version: string }).version;
  const dot = dpkg('python3-django-oauth-toolkit');
  return `oidc-provider ${oidc}, python3-django-oauth-toolkit ${dot}, glewlwyd ${dpkg('glewlwyd')}`;
}

function render(results: Result[]): string {
  for (const [pattern] of TESTS) {
    if (!results.some((r) => pattern.test(r.name))) throw new Error(`no test matches ${pattern}: update TESTS`);
  }
  const numbers = new Map<string, number>(); // test name → its number in the list under the matrix
  const cell = (server: Server, feature: string): string => {
    const proofs = TESTS.filter(([, s, features]) => s === server && features.includes(feature)).flatMap(
      ([pattern, , , refused]) => results.filter((r) => pattern.test(r.name)).map((r) => ({ ...r, refused })),
    );
    if (proofs.length === 0) {
      return NOT_SUPPORTED.some(([s, features]) => s === server && features.includes(feature)) ? '—' : '·';
    }
    const refs = proofs.map((p) => {
      if (!numbers.has(p.name)) numbers.set(p.name, numbers.size + 1);
      return numbers.get(p.name)!;
    });
    const mark = proofs.some((p) => p.status === 'failed')
      ? '❌'
      : proofs.some((p) => p.status === 'skipped')
        ? '⏭'
        : proofs.every((p) => p.refused)
          ? '—'
          : '✅';
    return `${mark} ${[...new Set(refs)].sort((a, b) => a - b).join(', ')}`;
  };

  const servers = Object.keys(SERVERS) as Server[];
  const lines = [
    `| grant | client authentication | feature | ${servers.map((s) => SERVERS[s]).join(' | ')} |`,
    `| --- | --- | --- |${' :---: |'.repeat(servers.length)}`,
    ...Object.entries(FEATURES).map(
      ([id, [grant, auth, what]]) =>
        `| ${grant} | ${auth} | ${what} | ${servers.map((s) => cell(s, id)).join(' | ')} |`,
    ),
  ];
  const count = (status: Status) => results.filter((r) => r.status === status).length;
  const statusOf = new Map(results.map((r) => [r.name, r.status]));
  const mark = { passed: '✅', failed: '❌', skipped: '⏭' } as const;
  return [
    `Last run: ${new Date().toISOString().slice(0, 10)}, ${versions()}; ` +
      `${count('passed')} passed, ${count('failed')} failed, ${count('skipped')} skipped.`,
    '',
    ...lines,
    '',
    '✅ its tests passed · ❌ a test failed · ⏭ skipped (the server is not installed) · ' +
      '— the server does not do this (shown by the numbered test, when there is one) · ' +
      '`·` not covered by the suite. The numbers are the tests:',
    '',
    ...[...numbers].map(([name, n]) => `${n}. ${mark[statusOf.get(name)!]} \`${name.replace(/ › /, '` › ')}`),
  ].join('\n');
}

const results = runTests();
const doc = readFileSync(DOC, 'utf8');
const start = doc.indexOf(START);
const end = doc.indexOf(END);
if (start < 0 || end < start) throw new Error(`${DOC} lacks the markers ${START} … ${END}`);
writeFileSync(DOC, `${doc.slice(0, start + START.length)}\n${render(results)}\n${doc.slice(end)}`);

const mapped = results.filter((r) => TESTS.some(([pattern]) => pattern.test(r.name)));
const failed = results.filter((r) => r.status === 'failed');
console.log(`docs/interop.md: ${mapped.length} of ${results.length} tests in the matrix, ${failed.length} failed`);
for (const r of failed) console.log(`  failed: ${r.name}`);
process.exitCode = failed.length > 0 ? 1 : 0;
