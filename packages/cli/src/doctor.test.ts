import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startOidcProvider,
  startTokenServer,
  type Misbehaviour,
  type OidcServer,
  type TokenRequest,
  type TokenServer,
} from '@tokenkit/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaks, runCli, type Run } from './fixtures/run.ts';

// Id and secret that RFC 6749 form encoding changes, so Basic form-encoded and Basic plain differ.
const CLIENT = { id: 'doctor client', secret: 'd0ctor s3cret:+%/' };
const plainBasic = `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64')}`;

let oidc: OidcServer;
let dir: string;
const servers: TokenServer[] = [];

beforeAll(async () => {
  oidc = await startOidcProvider({ scopes: ['payments:read', 'payments:write'] });
  dir = await mkdtemp(join(tmpdir(), 'tokenkit-doctor-'));
});
afterAll(async () => {
  await oidc.close();
  await Promise.all(servers.map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

async function tokenServer(
  misbehave?: (request: TokenRequest, n: number) => Misbehaviour | undefined,
  options: Parameters<typeof startTokenServer>[0] = {},
): Promise<TokenServer> {
  const server = await startTokenServer({ clients: { [CLIENT.id]: CLIENT.secret }, ...options });
  servers.push(server);
  server.misbehave(misbehave);
  return server;
}

const clientEnv = (endpoint: string) => ({
  TOKENKIT_TOKEN_ENDPOINT: endpoint,
  TOKENKIT_CLIENT_ID: CLIENT.id,
  TOKENKIT_CLIENT_SECRET: CLIENT.secret,
});

/** No secret of the client, no token the server issued, no refresh token, no JWT in any output. */
function expectNothingSecret(run: Run, extra: (string | { secret: string; clientId: string })[] = []): void {
  const issued = servers.flatMap((s) => s.issued);
  expect(leaks(run, [{ secret: CLIENT.secret, clientId: CLIENT.id }, ...issued, ...extra])).toEqual([]);
  expect(run.stdout + run.stderr).not.toMatch(/rt-[0-9a-f]{32}/);
  expect(run.stdout + run.stderr).not.toMatch(/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/);
}

describe('tokenkit doctor against oidc-provider', () => {
  it('issuer + Basic client: discovery and what it advertises, the token, the options to use; exit 0', async () => {
    const { clientId, clientSecret } = oidc.clients.basic;
    const run = await runCli(['doctor', '--scope', 'payments:read', '--scope', 'payments:write'], {
      env: { TOKENKIT_ISSUER: oidc.issuer, TOKENKIT_CLIENT_ID: clientId, TOKENKIT_CLIENT_SECRET: clientSecret },
    });
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const out = run.stdout;
    expect(out).toMatch(/client secret +set, 13 characters {2}\(TOKENKIT_CLIENT_SECRET\)/);
    expect(out).toContain(`${oidc.issuer}/.well-known/openid-configuration: HTTP 200`);
    expect(out).toMatch(/ok {4}metadata found; issuer .* matches/);
    expect(out).toContain(`token endpoint: ${oidc.tokenEndpoint}`);
    expect(out).toMatch(/client authentication: client_secret_basic, .*client_secret_post, private_key_jwt/);
    expect(out).toMatch(/grants: .*client_credentials/);
    expect(out).toMatch(
      /ok {4}client_secret_basic \(id and secret form-encoded, RFC 6749\), chosen by tokenkit: a token/,
    );
    expect(out).toMatch(/ok {4}token_type: Bearer/);
    expect(out).toMatch(/ok {4}scope: granted as requested/);
    expect(out).toMatch(/ok {4}lifetime: 5 min, from expires_in \(300\); the JWT exp agrees/);
    expect(out).toMatch(/the access token is a JWT \(RS256, at\+jwt\): .*aud https:\/\/api\.example\.test\//);
    expect(out).toMatch(/ok {4}clock: the server's Date header agrees with this machine/);
    expect(out).toContain(
      [
        'const tokens = createTokenProvider({',
        `  issuer: '${oidc.issuer}',`,
        `  clientId: 'basic client',`,
        '  clientSecret: process.env.CLIENT_SECRET, // from the environment or a secret store, never in code',
        `  clientAuthMethod: 'client_secret_basic',`,
        `  scope: ['payments:read', 'payments:write'],`,
        '});',
      ].join('\n'),
    );
    expect(out).toMatch(/^Result: the configuration works\.$/m);
    expectNothingSecret(run, [{ secret: clientSecret, clientId }]);
  });

  it('private_key_jwt with a JWK file: the snippet reads the key from its file', async () => {
    const { clientId, privateJwk } = oidc.clients.privateKeyJwt;
    const keyFile = join(dir, 'client-key.json');
    await writeFile(keyFile, JSON.stringify(privateJwk), { mode: 0o600 });
    const run = await runCli([
      'doctor',
      '--issuer',
      oidc.issuer,
      '--client-id',
      clientId,
      '--private-key-file',
      keyFile,
      '--resource',
      oidc.resource,
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`ok    audience: the JWT's aud names ${oidc.resource}`);
    expect(run.stdout).toMatch(/ok {4}private_key_jwt, as configured: a token/);
    expect(run.stdout).toContain("import { readFileSync } from 'node:fs';");
    expect(run.stdout).toContain(`  privateKey: JSON.parse(readFileSync('${keyFile}', 'utf8')),`);
    expect(run.stdout).not.toContain('clientSecret');
    // The private key's secret part never shows.
    expectNothingSecret(run, [String(privateJwk.d)]);
    expect(await readFile(keyFile, 'utf8')).toContain(String(privateJwk.d));
  });

  it('a wrong secret: every method refused, exit 1, no secret of either in the output', async () => {
    const wrong = 'not the s3cret:+%';
    const { clientId, clientSecret } = oidc.clients.basic;
    const run = await runCli(['doctor'], {
      env: { TOKENKIT_ISSUER: oidc.issuer, TOKENKIT_CLIENT_ID: clientId, TOKENKIT_CLIENT_SECRET: wrong },
    });
    expect(run.code).toBe(1);
    const fails = run.stdout.match(/^ {2}FAIL {2}client_secret_\w+.*: HTTP 40\d$/gm) ?? [];
    expect(fails, run.stdout).toHaveLength(3); // Basic form-encoded (chosen), Basic plain (oidc-provider: 400), post
    expect(run.stdout).toMatch(/invalid_client/);
    expect(run.stdout).not.toMatch(/Use these options/);
    expect(run.stdout).toMatch(/^Result: no token: the server refused all 3 ways of client authentication tried\./m);
    expectNothingSecret(run, [
      { secret: wrong, clientId },
      { secret: clientSecret, clientId },
    ]);
  });

  it('an issuer without metadata: discovery fails, said in plain words, exit 1', async () => {
    const server = await tokenServer();
    const run = await runCli(['doctor'], {
      env: { ...clientEnv(''), TOKENKIT_ISSUER: server.origin },
    });
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`${server.origin}/.well-known/openid-configuration: HTTP 404`);
    expect(run.stdout).toContain(`${server.origin}/.well-known/oauth-authorization-server: HTTP 404`);
    expect(run.stdout).toMatch(/FAIL {2}discovery of .* failed/);
    expect(run.stdout).toMatch(/Give the token endpoint itself with --token-endpoint/);
    expectNothingSecret(run);
  });
});

describe('tokenkit doctor against odd token endpoints', () => {
  it('plain Basic only (no RFC 6749 decoding): the default fails, basicEncoding plain works; exit 1', async () => {
    const server = await tokenServer();
    // The test server form-decodes Basic; this one must not: it accepts exactly the unencoded pair.
    server.misbehave((request) =>
      request.headers.authorization === plainBasic
        ? { status: 200, body: { access_token: 'at-plain-0123456789abcdef', token_type: 'Bearer', expires_in: 600 } }
        : { status: 401, body: { error: 'invalid_client', error_description: 'bad client' } },
    );
    const run = await runCli(['doctor'], { env: clientEnv(server.url) });
    expect(run.code).toBe(1);
    const out = run.stdout;
    expect(out).toMatch(/not used: the token endpoint is configured/);
    expect(out).toMatch(
      /FAIL {2}client_secret_basic \(id and secret form-encoded, RFC 6749\), chosen by tokenkit: HTTP 401/,
    );
    expect(out).toMatch(/ok {4}client_secret_basic \(id:secret unencoded, basicEncoding: 'plain'\): a token/);
    expect(out).toMatch(/FAIL {2}client_secret_post: HTTP 401/);
    expect(out).toContain(`  clientAuthMethod: 'client_secret_basic',\n  basicEncoding: 'plain',\n`);
    expect(out).toMatch(
      /^Result: the configuration as given gets no token; with client_secret_basic \(id:secret unencoded/m,
    );
    expectNothingSecret(run, ['at-plain-0123456789abcdef']);
    // Three token requests: one per method.
    expect(server.count).toBe(3);
  });

  it('form post only, Basic answered 403 with an empty body (as Glewlwyd does): client_secret_post found', async () => {
    const server = await tokenServer((request) =>
      request.headers.authorization !== undefined ? { status: 403, body: '' } : undefined,
    );
    const run = await runCli(['doctor'], { env: clientEnv(server.url) });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /FAIL {2}client_secret_basic \(id and secret form-encoded, RFC 6749\), chosen by tokenkit: HTTP 403/,
    );
    expect(run.stdout).toMatch(/FAIL {2}client_secret_basic \(id:secret unencoded, basicEncoding: 'plain'\): HTTP 403/);
    expect(run.stdout).toMatch(/ok {4}client_secret_post: a token/);
    expect(run.stdout).toContain(`  clientAuthMethod: 'client_secret_post',\n`);
    expect(run.stdout).not.toMatch(/^ +basicEncoding:/m);
    expectNothingSecret(run);
  });

  it('a server that echoes the credentials in its error: neither shows in any encoding', async () => {
    const server = await tokenServer((request) => ({
      status: 401,
      body: {
        error: 'invalid_client',
        error_description: `bad ${request.headers.authorization ?? ''} ${String(request.params['client_secret'])} ${request.raw}`,
      },
    }));
    const run = await runCli(['doctor'], { env: clientEnv(server.url) });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/invalid_client: bad/);
    expectNothingSecret(run);
  });

  it('--all-methods tries every method although the configured one works; exit 0', async () => {
    const server = await tokenServer(undefined, { refreshTokens: true });
    const run = await runCli(['doctor', '--all-methods', '--auth-method', 'client_secret_post'], {
      env: clientEnv(server.url),
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/ok {4}client_secret_post, as configured: a token/);
    expect(run.stdout).toMatch(/ok {4}client_secret_basic \(id and secret form-encoded, RFC 6749\): a token/);
    // The test server form-decodes Basic, so the unencoded pair is refused.
    expect(run.stdout).toMatch(/FAIL {2}client_secret_basic \(id:secret unencoded, basicEncoding: 'plain'\): HTTP 401/);
    expect(run.stdout).toMatch(/a refresh token came with it/);
    expect(run.stdout).toMatch(/^Result: the configuration works\.$/m);
    expect(server.count).toBe(3);
    expectNothingSecret(run);
  });

  it('no token_type, no expires_in, a JWT: the missing option is named, the lifetime comes from exp', async () => {
    const server = await tokenServer(undefined, { jwt: true, expiresIn: null });
    server.misbehave((request, n) => {
      if (request.client?.secret !== CLIENT.secret) return { status: 401, body: { error: 'invalid_client' } };
      const now = Math.floor(Date.now() / 1000);
      const jwt = [{ alg: 'none' }, { sub: 'svc', iat: now, exp: now + 900 }, `sig${n}`]
        .map((part) => (typeof part === 'string' ? part : Buffer.from(JSON.stringify(part)).toString('base64url')))
        .join('.');
      server.issued.push(jwt);
      return { status: 200, body: { access_token: jwt } };
    });
    const run = await runCli(['doctor'], { env: clientEnv(server.url) });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /ok {4}client_secret_basic .*, chosen by tokenkit, plus defaultTokenType: 'Bearer': a token/,
    );
    expect(run.stdout).toMatch(/FAIL {2}token_type: missing; tokenkit refuses .*defaultTokenType: 'Bearer'/);
    expect(run.stdout).toMatch(/ok {4}lifetime: 15 min, from the JWT exp \(no expires_in; exp - iat = 900 s\)/);
    expect(run.stdout).toContain(`  defaultTokenType: 'Bearer',\n`);
    expect(run.stdout).toMatch(
      /^Result: the configuration as given gets no token; with .* and defaultTokenType: 'Bearer' it does/m,
    );
    expectNothingSecret(run);
  });

  it("the server's clock 2 minutes behind: a warning; --strict makes warnings exit 1", async () => {
    const server = await tokenServer(undefined, {});
    server.misbehave(() => ({
      status: 200,
      body: { access_token: 'at-skewed-0123456789abcdef', token_type: 'Bearer', expires_in: 3600 },
      headers: { date: new Date(Date.now() - 120_000).toUTCString() },
    }));
    const run = await runCli(['doctor'], { env: clientEnv(server.url) });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/warn {2}clock: the server is (1 min 5\d s|2 min( [0-3] s)?) behind this machine/);
    expect(run.stdout).toMatch(/^Result: the configuration works \(1 warning above\)\.$/m);
    const strict = await runCli(['doctor', '--strict'], { env: clientEnv(server.url) });
    expect(strict.code).toBe(1);
    expectNothingSecret(run, ['at-skewed-0123456789abcdef']);
  });

  it('a narrowed scope is a warning; a slow endpoint gets progress lines on stderr, not in the report', async () => {
    const server = await tokenServer(undefined, { latencyMs: 1500 });
    server.misbehave(() => ({
      status: 200,
      body: { access_token: 'at-narrow-0123456789abcdef', token_type: 'Bearer', expires_in: 3600, scope: 'read' },
    }));
    const run = await runCli(['doctor', '--scope', 'read write'], { env: clientEnv(server.url) });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/warn {2}scope: granted "read"; missing from the request: write/);
    expect(run.stderr).toMatch(/^tokenkit: waiting for the token endpoint \(.*\) \(\d+ s\)\.\.\.$/m);
    expect(run.stdout).not.toMatch(/waiting/);
  });

  it('a JWT whose aud is not the requested audience: a warning that says what an API will do', async () => {
    const server = await tokenServer(() => {
      const claims = { sub: 'svc', aud: 'https://other.example.com', exp: Math.floor(Date.now() / 1000) + 600 };
      const jwt = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.x`;
      return { status: 200, body: { access_token: jwt, token_type: 'Bearer', expires_in: 600 } };
    });
    const run = await runCli(['doctor', '--audience', 'https://api.example.com'], { env: clientEnv(server.url) });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /warn {2}audience: the JWT's aud is https:\/\/other\.example\.com, not https:\/\/api\.example\.com: an API that checks aud will refuse it/,
    );
    expect(run.stdout).toContain(`  audience: 'https://api.example.com',\n`);
  });

  it('a ConfigurationError is a usage error (exit 2) before anything is sent', async () => {
    const server = await tokenServer();
    const run = await runCli(['doctor', '--basic-encoding', 'plain', '--client-id', 'a:b'], {
      env: clientEnv(server.url),
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/configuration: basicEncoding: 'plain' cannot send a client id that contains ':'/);
    expect(server.count).toBe(0);
  });

  it('localhost: the DNS answer is shown', async () => {
    const server = await tokenServer();
    const run = await runCli(['doctor'], { env: clientEnv(server.url.replace('127.0.0.1', 'localhost')) });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/ok {4}DNS: localhost is [\d.:, ]*127\.0\.0\.1/);
  });
});

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasOpenssl)('tokenkit doctor over TLS', () => {
  let https: Server;
  let url: string;
  let certFile: string;

  beforeAll(async () => {
    const keyFile = join(dir, 'tls-key.pem');
    certFile = join(dir, 'tls-cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        certFile,
        '-days',
        '30',
        '-subj',
        '/CN=tokenkit test',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    https = createServer({ key: await readFile(keyFile), cert: await readFile(certFile) }, (req, res) => {
      req.resume().on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: 'at-tls-0123456789abcdef', token_type: 'Bearer', expires_in: 60 }));
      });
    });
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(https.address() as AddressInfo).port}/token`;
  });
  afterAll(async () => {
    https.closeAllConnections();
    await new Promise((resolve) => https.close(resolve));
  });

  it('a trusted certificate (NODE_EXTRA_CA_CERTS): protocol and certificate shown; exit 0', async () => {
    const run = await runCli(['doctor'], { env: { ...clientEnv(url), NODE_EXTRA_CA_CERTS: certFile } });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/ok {4}TLS: TLSv1\.3 in \d+ ms; certificate trusted/);
    expect(run.stdout).toMatch(
      /certificate: tokenkit test, names IP Address:127\.0\.0\.1, issued by tokenkit test, valid until/,
    );
    expect(run.stdout).toMatch(/warn {2}a lifetime under 60 s|ok {4}lifetime: 1 min/);
  });

  it('an untrusted certificate: the reason and the way out in plain words; exit 1', async () => {
    const run = await runCli(['doctor'], { env: { ...clientEnv(url), NODE_EXTRA_CA_CERTS: '' } });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/FAIL {2}TLS: the certificate is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
    expect(run.stdout).toMatch(/NODE_EXTRA_CA_CERTS=/);
    expect(run.stdout).toMatch(/FAIL {2}client_secret_basic .*: no answer/);
    expect(run.stdout).toMatch(/other methods not tried: this failure is not about client authentication/);
    expectNothingSecret(run);
  });
});
