// `pnpm demo`: starts the demo stack, runs every sample and every lane against
// it in parallel, stops the stack and prints one table. Exits 1 if any failed.
//
// The samples (apps/<x>-sample) show one token for many calls, background
// refresh and the 401 retry, each through its adapter. The lanes (src/lanes)
// show the other promises: `origins`, no token to another host or across a
// redirect; `errors`, typed errors without secrets; `fleet`, one token request
// for several processes sharing Redis (skipped, not failed, without redis-server);
// `dpop`, tokens bound to a key (RFC 9449): a proof per request, the nonces, a copied token refused;
// `mtls`, tokens bound to a certificate (RFC 8705), on an HTTPS provider and API of its own (skipped without openssl).
//
// Each sample prints narration, then, as its last stdout line, its report:
//   {"report":"tokenkit-sample","sample":"axios","apiCalls":61,"tokensFetched":4,"retries":3,"failures":0}
// (with "skipped":"why" when a lane cannot run on this machine).
// apiCalls: requests the sample's code made to the payments API (a 401 retry is not a second call);
// tokensFetched: token endpoint answers (the provider's `fetch` events); retries: 401s recovered by
// the adapter (`invalidate` events); failures: calls that failed plus checks that did not hold.
//
// TOKENKIT_DEMO_TOKEN_TTL      access token lifetime in seconds (default 5)
// TOKENKIT_DEMO_TIMEOUT        seconds a sample or lane may run before it is stopped (default 120)
// TOKENKIT_DEMO_SAMPLES        comma-separated subset to run, e.g. `axios,ky,fleet` (default: all)
// TOKENKIT_DEMO_FLEET          processes in the Redis fleet lane (default 4)
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { plural } from './sample-kit.ts';
import { startDemoStack, type DemoStack } from './stack.ts';

interface SampleReport {
  report: 'tokenkit-sample';
  sample: string;
  apiCalls: number;
  tokensFetched: number;
  retries: number;
  failures: number;
  /** Why a lane could not run here (not a failure). */
  skipped?: string;
}

interface Outcome {
  name: string;
  ownApi: boolean;
  auth: string;
  report: SampleReport | undefined;
  exitCode: number | null;
  seconds: number;
  problem: string | undefined;
}

interface Runnable {
  name: string;
  /** Lanes run after the samples, so they add no load to the samples' timing on a busy machine. */
  lane?: true;
  /** Its API calls go to servers it starts itself, not the payments API: left out of the API's cross-check. */
  ownApi?: true;
  auth: string;
  /** The script, relative to this file. */
  main: string;
  env: (stack: DemoStack) => Record<string, string>;
}

const sample = (name: string, auth: string, env: Runnable['env']): Runnable => ({
  name,
  auth,
  main: `../../${name}-sample/src/main.ts`,
  env,
});
const ALL_SAMPLES: Runnable[] = [
  sample('axios', 'client_secret_basic', (s) => s.env('basic')),
  sample('got', 'client_secret_post', (s) => s.env('post')),
  sample('ky', 'private_key_jwt', (s) => s.env('privateKeyJwt')),
  sample('apollo', 'basic + discovery', (s) => s.env('basic', 'issuer')),
  sample('fetch', 'post + discovery', (s) => s.env('post', 'issuer')),
  // The lanes, on @tokenkit/fetch.
  {
    name: 'origins',
    lane: true,
    auth: 'client_secret_post',
    main: './lanes/other-origins.ts',
    env: (s) => ({ ...s.env('post'), SECOND_ORIGIN_URL: s.secondOrigin.origin }),
  },
  {
    name: 'errors',
    lane: true,
    auth: 'basic, wrong secret',
    main: './lanes/wrong-secret.ts',
    env: (s) => s.env('basic'),
  },
  { name: 'fleet', lane: true, auth: 'post + redis', main: './lanes/redis-fleet.ts', env: (s) => s.env('post') },
  { name: 'dpop', lane: true, auth: 'post + DPoP', main: './lanes/dpop.ts', env: (s) => s.env('post') },
  { name: 'mtls', lane: true, ownApi: true, auth: 'tls_client_auth', main: './lanes/mtls.ts', env: () => ({}) },
];
const only = process.env['TOKENKIT_DEMO_SAMPLES']
  ?.split(',')
  .map((name) => name.trim())
  .filter(Boolean);
const SAMPLES = only?.length ? ALL_SAMPLES.filter((s) => only.includes(s.name)) : ALL_SAMPLES;
if (SAMPLES.length === 0)
  throw new Error(`TOKENKIT_DEMO_SAMPLES names no sample; known: ${ALL_SAMPLES.map((s) => s.name).join(', ')}`);
/** Variables a sample reads: never inherited from the caller's shell, so a pasted `export` cannot redirect the demo. */
const SAMPLE_VARS = [
  'TOKEN_ISSUER',
  'TOKEN_URL',
  'CLIENT_ID',
  'CLIENT_SECRET',
  'CLIENT_AUTH_METHOD',
  'PRIVATE_KEY',
  'SCOPE',
  'RESOURCE',
  'AUDIENCE',
  'API_URL',
  'SECOND_ORIGIN_URL',
];

const ttl = Number(process.env['TOKENKIT_DEMO_TOKEN_TTL'] ?? 5);
const timeoutMs = Number(process.env['TOKENKIT_DEMO_TIMEOUT'] ?? 120) * 1000;
const started = Date.now();

const stack = await startDemoStack({ tokenTtlSeconds: ttl });
console.log(
  `demo stack: OpenID provider ${stack.provider.issuer}, payments API ${stack.api.origin}, access tokens live ${ttl} s`,
);
const samples = SAMPLES.filter((s) => !s.lane);
const lanes = SAMPLES.filter((s) => s.lane);
const names = (list: Runnable[]) => list.map((s) => s.name).join(', ');
console.log(
  samples.length > 0 && lanes.length > 0
    ? `running the samples ${names(samples)} side by side, then the lanes ${names(lanes)}\n`
    : `running ${names(SAMPLES)} side by side\n`,
);

let outcomes: Outcome[];
try {
  outcomes = await Promise.all(samples.map((s) => runSample(s, s.env(stack))));
  if (lanes.length > 0 && samples.length > 0) console.log('');
  outcomes.push(...(await Promise.all(lanes.map((s) => runSample(s, s.env(stack))))));
} finally {
  await stack.close();
}

const stats = stack.api.stats();
const width = Math.max(11, ...SAMPLES.map((s) => s.name.length));
const rows = outcomes.map((o) => [
  o.name.padEnd(width),
  o.auth.padEnd(19),
  fmt(o.report?.apiCalls, 9),
  fmt(o.report?.tokensFetched, 14),
  fmt(o.report?.retries, 7),
  fmt(o.report?.failures, 8),
  `${o.seconds.toFixed(1)} s`.padStart(6),
  o.problem !== undefined
    ? `FAILED: ${o.problem}`
    : o.report?.skipped !== undefined
      ? `skipped: ${o.report.skipped}`
      : 'ok',
]);
const header = [
  'sample/lane'.padEnd(width),
  'client auth'.padEnd(19),
  'API calls',
  'tokens fetched',
  'retries',
  'failures',
  '  time',
  'result',
];
console.log(`\n${header.join('  ')}`);
console.log(header.map((h) => '-'.repeat(h.length)).join('  '));
for (const row of rows) console.log(row.join('  '));

/** A figure summed over the samples and lanes that use the stack (not those with servers of their own). */
const reported = (key: 'apiCalls' | 'tokensFetched' | 'retries') =>
  outcomes.filter((o) => !o.ownApi).reduce((sum, o) => sum + (o.report?.[key] ?? 0), 0);
console.log(
  `\npayments API saw ${plural(stats.requests, 'request')}: ${stats.accepted} accepted, ${stats.unauthorized} rejected with 401, ${stats.forbidden} with 403;` +
    ` the provider answered ${plural(stack.provider.tokenRequests, 'token request')}${tokenRequestsNote()}. (${((Date.now() - started) / 1000).toFixed(1)} s)`,
);

/** The provider counts every token request; the reports count tokens received: the rest got none. */
function tokenRequestsNote(): string {
  const withoutToken = stack.provider.tokenRequests - reported('tokensFetched');
  if (withoutToken <= 0) return '';
  const ran = (name: string) => outcomes.some((o) => o.name === name && o.report !== undefined);
  const known = [
    ...(ran('errors') ? ["the errors lane's wrong secret"] : []),
    ...(ran('dpop') ? ["the dpop lane's first, answered 400 use_dpop_nonce"] : []),
  ];
  const list = known.join(' and ');
  const which =
    known.length === 0
      ? ''
      : known.length === withoutToken
        ? `: ${list}`
        : ` (${list} ${known.length === 1 ? 'is one' : 'among them'})`;
  return `, ${withoutToken} of them without a token${which}`;
}

const failed = outcomes.filter((o) => o.problem !== undefined);
if (failed.length === 0 && stats.accepted !== reported('apiCalls')) {
  console.log(`FAILED: the samples report ${reported('apiCalls')} API calls but the API accepted ${stats.accepted}`);
  process.exitCode = 1;
} else if (failed.length > 0) {
  console.log(`FAILED: ${failed.map((o) => o.name).join(', ')}`);
  process.exitCode = 1;
} else {
  const skipped = outcomes.filter((o) => o.report?.skipped !== undefined).map((o) => o.name);
  console.log(`all passed${skipped.length > 0 ? ` (skipped here: ${skipped.join(', ')}; see above)` : ''}`);
}

function runSample({ name, auth, main: script, ownApi }: Runnable, env: Record<string, string>): Promise<Outcome> {
  const main = fileURLToPath(new URL(script, import.meta.url));
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !SAMPLE_VARS.includes(key)));
  const child = spawn(process.execPath, [main], { env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const begin = Date.now();
  const label = `${name.padEnd(Math.max(...SAMPLES.map((s) => s.name.length)))} │ `;
  let report: SampleReport | undefined;
  let stdoutTail = '';
  let stderrTail = '';

  const lines = (chunk: string, tail: string, onLine: (line: string) => void): string => {
    const parts = (tail + chunk).split('\n');
    for (const line of parts.slice(0, -1)) onLine(line);
    return parts.at(-1)!;
  };
  const onStdout = (line: string) => {
    const parsed = parseReport(line);
    if (parsed !== undefined) report = parsed;
    else console.log(label + line);
  };
  const onStderr = (line: string) => console.log(`${label}[stderr] ${line}`);
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdoutTail = lines(chunk, stdoutTail, onStdout)));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderrTail = lines(chunk, stderrTail, onStderr)));

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);

  return new Promise((resolve) => {
    child.on('close', (exitCode) => {
      clearTimeout(timer);
      if (stdoutTail) onStdout(stdoutTail);
      if (stderrTail) onStderr(stderrTail);
      let problem: string | undefined;
      if (timedOut) problem = `stopped after ${timeoutMs / 1000} s`;
      else if (exitCode !== 0) problem = `exit code ${exitCode}`;
      else if (report === undefined) problem = 'no report line';
      else if (report.failures > 0) problem = `${report.failures} failure(s)`;
      resolve({ name, ownApi: ownApi === true, auth, report, exitCode, seconds: (Date.now() - begin) / 1000, problem });
    });
  });
}

function parseReport(line: string): SampleReport | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as Partial<SampleReport>;
    const numbers = [value.apiCalls, value.tokensFetched, value.retries, value.failures];
    if (value.report !== 'tokenkit-sample' || numbers.some((n) => !Number.isInteger(n))) return undefined;
    if (value.skipped !== undefined && typeof value.skipped !== 'string') return undefined;
    return value as SampleReport;
  } catch {
    return undefined;
  }
}

function fmt(value: number | undefined, width: number): string {
  return (value === undefined ? '-' : String(value)).padStart(width);
}
