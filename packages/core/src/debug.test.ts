import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import {
  startOidcProvider,
  startTokenServer,
  type Misbehaviour,
  type OidcServer,
  type TokenRequest,
  type TokenServer,
} from '@tokenkit/test-utils';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTokenClient } from './adapter.ts';
import { createTokenProvider, memoryStore, type TokenProviderOptions } from './index.ts';
import { secretForms } from './scrub.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

// Secrets that look different in every encoding: a space, '+', ':', '%', '&', '/', '='.
const CLIENT_ID = 'debug client:1';
const CLIENT_SECRET = 'S3cr3t p@ss:w/rd+%&=x';
const PASSWORD = 'hunter2 pass+word/=';

let server: TokenServer;
let op: OidcServer;
beforeAll(async () => {
  [server, op] = await Promise.all([
    startTokenServer({ clients: { [CLIENT_ID]: CLIENT_SECRET }, users: { alice: PASSWORD } }),
    startOidcProvider(),
  ]);
});
afterAll(() => Promise.all([server.close(), op.close()]));
beforeEach(() => server.misbehave(undefined));

/** Every form a secret could take in a line: scrub.ts's forms, and the Basic pair (both encodings) in base64. */
function forbidden(secrets: readonly string[], basicPairs: readonly [string, string][]): string[] {
  const out = new Set<string>();
  for (const secret of secrets) for (const form of secretForms(secret)) out.add(form);
  const form = (v: string) => new URLSearchParams([['', v]]).toString().slice(1);
  for (const [id, secret] of basicPairs) {
    for (const pair of [`${id}:${secret}`, `${form(id)}:${form(secret)}`]) {
      out.add(pair);
      out.add(Buffer.from(pair).toString('base64'));
    }
  }
  return [...out];
}

function expectNoSecret(lines: readonly string[], secrets: readonly string[], basicPairs: [string, string][] = []) {
  expect(lines.length).toBeGreaterThan(0);
  const forms = forbidden(secrets, basicPairs);
  for (const line of lines) for (const form of forms) expect(line, `a secret in: ${line}`).not.toContain(form);
}

function debugged(options: Partial<TokenProviderOptions>) {
  const lines: string[] = [];
  const tokens = createTokenProvider({
    tokenEndpoint: server.url,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    debug: (line) => lines.push(line),
    ...options,
  } as TokenProviderOptions);
  return { tokens, lines };
}

/** An answer quoting what the client sent: its body and its Authorization header, as careless servers do. */
const echo =
  (status: number, json: boolean) =>
  (request: TokenRequest): Misbehaviour => {
    const quoted = `${request.raw} ${request.headers.authorization ?? ''}`;
    return json
      ? { status, body: { error: 'invalid_client', error_description: `bad credentials: ${quoted}` } }
      : { status, body: `<html>upstream failed for ${quoted}</html>` };
  };

describe('debug output', () => {
  it('token endpoint errors that echo every credential: each decision is a line, no secret in any form', async () => {
    let n = 0;
    server.misbehave((request) => (++n === 1 ? echo(503, false)(request) : echo(401, true)(request)));
    const { tokens, lines } = debugged({ grant: { type: 'password', username: 'alice', password: PASSWORD } });
    await expect(tokens.getToken()).rejects.toThrow(/invalid_client/);
    const text = lines.join('\n');
    expect(text).toMatch(
      /token request #\d+: grant password to http:\/\/127\.0\.0\.1:\d+\/token, client "debug client:1" with client_secret_basic \(default\)/,
    );
    expect(text).toMatch(/cache miss/);
    expect(text).toMatch(/attempt 1: POST http:\/\/127\.0\.0\.1:\d+\/token → HTTP 503 in \d+ ms/);
    expect(text).toMatch(/retrying in \d+ ms after HTTP 503/);
    expect(text).toMatch(/attempt 2: POST .* → HTTP 401/);
    expect(text).toMatch(
      /token request #\d+ failed after 2 attempts, \d+ ms: oauth_error: token endpoint answered 401 invalid_client/,
    );
    expect(text).toMatch(/getting a token failed/);
    expect(text).toMatch(/\[REDACTED\]/); // the server's echo is quoted, scrubbed
    expectNoSecret(lines, [CLIENT_SECRET, PASSWORD], [[CLIENT_ID, CLIENT_SECRET]]);
  });

  it('private_key_jwt against an endpoint that quotes the assertion it got: no part of it in any line', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    server.misbehave(echo(400, true));
    const { tokens, lines } = debugged({ clientAuthMethod: 'private_key_jwt', privateKey, maxRetries: 0 });
    await expect(tokens.getToken()).rejects.toThrow(/invalid_client/);
    const assertion = server.requests.at(-1)!.params['client_assertion'] as string;
    expect(assertion.split('.')).toHaveLength(3);
    expect(lines.join('\n')).toMatch(/with private_key_jwt \(configured\)/);
    expect(lines.join('\n')).toMatch(/client_assertion=\[REDACTED\]/); // the echo reached the line, scrubbed
    expectNoSecret(lines, [assertion, assertion.split('.')[2]!]);
  });

  it('client_secret_post, success, cache hits counted, refresh ahead, invalidate, a refresh token: no token, no secret', async () => {
    let now = Date.now();
    const store = memoryStore();
    const { tokens, lines } = debugged({
      clientAuthMethod: 'client_secret_post',
      grant: { type: 'password', username: 'alice', password: PASSWORD },
      scope: 'read',
      store,
      now: () => now,
    });
    const first = await tokens.getToken();
    for (let i = 0; i < 5; i++) await tokens.getToken();
    now = first.expiresAt - 60_000; // in the refresh-ahead window
    await tokens.getToken();
    await vi.waitFor(() => expect(lines.join('\n')).toMatch(/in the background[\s\S]*got a token/), {
      timeout: 30_000,
    });
    const second = await tokens.getToken();
    await tokens.invalidate(second.accessToken);
    server.misbehave(echo(400, true));
    await tokens.getToken().catch(() => undefined);
    const text = lines.join('\n');
    expect(text).toMatch(/with client_secret_post \(configured\), scope "read"/);
    expect(text).toMatch(/got a token expiring at .* \(in \d+ s\), granted scope "read", 1 attempt/);
    expect(text).toMatch(/cache hit: served from memory/);
    expect(text).toMatch(/\d+ more cache hits/);
    expect(text).toMatch(/refresh ahead: the token expires at/);
    expect(text).toMatch(/grant refresh_token to/);
    expect(text).toMatch(/invalidate\(\): dropped the cached token/);
    expect(text).toMatch(/refresh token dropped \(HTTP 400 invalid_client\)/);
    const stored = await store.get(tokens.key);
    const secrets = [CLIENT_SECRET, PASSWORD, ...server.issued];
    if (stored?.refreshToken !== undefined) secrets.push(stored.refreshToken);
    expectNoSecret(lines, secrets, [[CLIENT_ID, CLIENT_SECRET]]);
  });

  it('discovery (oidc-provider) and the adapter seam: the choice of client authentication and every request decision', async () => {
    const lines: string[] = [];
    const { clientId, clientSecret } = op.clients.basic;
    const tokens = createTokenProvider({
      issuer: op.issuer,
      clientId,
      clientSecret,
      scope: 'payments:read',
      resource: op.resource,
      debug: (line) => lines.push(line),
    });
    const client = createTokenClient(tokens, { baseUrl: 'https://api.example.com' });
    const request = client.start();
    await request.header('https://api.example.com/orders?card=4111');
    await request.retryAfter(401);
    await client.start().header('https://elsewhere.example.com/');
    const hop = client.start();
    await hop.header('https://api.example.com/');
    hop.answeredBy('https://elsewhere.example.com/landing');
    const text = lines.join('\n');
    expect(text).toMatch(/discovery #\d+: fetching the metadata of issuer http:\/\/127\.0\.0\.1:\d+/);
    expect(text).toMatch(
      /discovery #\d+ attempt 1: GET http:\/\/127\.0\.0\.1:\d+\/\.well-known\/openid-configuration → HTTP 200/,
    );
    expect(text).toMatch(
      /client authentication methods .*client_secret_basic.*; using client_secret_basic \(the default; the server lists it\)/,
    );
    expect(text).toMatch(/request to https:\/\/api\.example\.com\/orders: token sent/);
    expect(text).not.toMatch(/4111/); // no query
    expect(text).toMatch(/API answered 401 to our token: invalidated it; sending the request again with a new token/);
    expect(text).toMatch(/request to https:\/\/elsewhere\.example\.com\/: no token \(its origin is neither/);
    expect(text).toMatch(/redirect to https:\/\/elsewhere\.example\.com\/landing: token removed/);
    expectNoSecret(lines, [clientSecret], [[clientId, clientSecret]]);
  });
});

describe('TOKENKIT_DEBUG', () => {
  const coreDir = fileURLToPath(new URL('..', import.meta.url));
  // The built package, as users get it (tests run after `pnpm build`).
  const script = (options: string, before = '') => `
    const { createTokenProvider } = await import('@tokenkit/core');
    ${before}
    const tokens = createTokenProvider({ tokenEndpoint: ${JSON.stringify(server.url)}, clientId: ${JSON.stringify(CLIENT_ID)}, clientSecret: ${JSON.stringify(CLIENT_SECRET)}${options} });
    globalThis.restore?.(); // fetch itself reads the environment
    await tokens.getToken();
    await tokens.getToken();
    console.log('ok');`;
  // Asynchronous: the token server runs in this process. `node` (Node's flags), whichever runtime runs the tests.
  const run = async (env: Record<string, string | undefined>, options = '', before = '') => {
    const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
    if (env['TOKENKIT_DEBUG'] === undefined) delete childEnv['TOKENKIT_DEBUG'];
    const out = await promisify(execFile)('node', ['--input-type=module', '-e', script(options, before)], {
      cwd: coreDir,
      env: childEnv,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(out.stdout.trim(), out.stderr).toBe('ok');
    return out.stderr.split('\n').filter(Boolean);
  };

  it('=1 writes the decisions to stderr, without a secret', async () => {
    const lines = await run({ TOKENKIT_DEBUG: '1' });
    expect(lines.some((l) => /tokenkit\[[\w-]+\] token request #\d+: grant client_credentials/.test(l))).toBe(true);
    expect(lines.some((l) => /cache hit/.test(l))).toBe(true);
    expectNoSecret(lines, [CLIENT_SECRET, ...server.issued], [[CLIENT_ID, CLIENT_SECRET]]);
  });

  it('unset, 0, or debug: false: nothing on stderr', async () => {
    expect(await run({ TOKENKIT_DEBUG: undefined })).toEqual([]);
    expect(await run({ TOKENKIT_DEBUG: '0' })).toEqual([]);
    expect(await run({ TOKENKIT_DEBUG: '1' }, ', debug: false')).toEqual([]);
  });

  it('a runtime without process.env, or one whose env access throws (Deno without --allow-env): no debug, no crash', async () => {
    const denied = `const env = process.env;
      Object.defineProperty(process, 'env', { get() { throw new Error('denied'); }, configurable: true });
      globalThis.restore = () => Object.defineProperty(process, 'env', { value: env, configurable: true });`;
    expect(await run({ TOKENKIT_DEBUG: '1' }, '', denied)).toEqual([]);
    const edge = `const p = globalThis.process;
      Object.defineProperty(globalThis, 'process', { value: undefined, configurable: true });
      globalThis.restore = () => Object.defineProperty(globalThis, 'process', { value: p, configurable: true });`;
    expect(await run({ TOKENKIT_DEBUG: '1' }, '', edge)).toEqual([]);
  });

  it('a bad debug option is a ConfigurationError naming it', () => {
    expect(() =>
      createTokenProvider({ tokenEndpoint: server.url, clientId: 'c', debug: 'yes' as unknown as boolean }),
    ).toThrow(/debug/);
  });
});
