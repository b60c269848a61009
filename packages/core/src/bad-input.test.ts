import { inspect } from 'node:util';
import { listen, startTokenServer, type Misbehaviour, type TokenServer } from '@tokenkit/test-utils';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenProvider, TokenEndpointError, type TokenEvent, type TokenProviderOptions } from './index.ts';
import { parseTokenResponse } from './token-response.ts';

// A real server, a 50 MB answer and Retry-After waits: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const SECRET = 'S3cr3t-client-secret-value';
const PASSWORD = 'hunter2-user-password';
let server: TokenServer;
beforeAll(async () => {
  server = await startTokenServer({ clients: { 'client-id': SECRET }, users: { bob: PASSWORD } });
});
afterAll(() => server.close());
afterEach(() => {
  server.requests.length = 0;
  server.misbehave(undefined);
});

function provider(extra: Partial<TokenProviderOptions> = {}) {
  const events: TokenEvent[] = [];
  const tokens = createTokenProvider({
    tokenEndpoint: server.url,
    clientId: 'client-id',
    clientSecret: SECRET,
    grant: { type: 'password', username: 'bob', password: PASSWORD },
    maxRetries: 0,
    onEvent: (e) => events.push(e),
    ...extra,
  });
  return { tokens, events };
}

/** Every way the error and the provider can be printed: none may show a secret. */
function expectNoSecrets(error: unknown, ...more: unknown[]) {
  const outputs = [
    String(error),
    (error as Error).message,
    (error as Error).stack ?? '',
    inspect(error, { depth: 10, showHidden: true }),
    JSON.stringify(error),
    ...more.map((m) => inspect(m, { depth: 10, showHidden: true }) + JSON.stringify(m) + String(m)),
  ];
  for (const out of outputs) {
    expect(out).not.toContain(SECRET);
    expect(out).not.toContain(PASSWORD);
    expect(out).not.toContain(Buffer.from(`client-id:${SECRET}`).toString('base64'));
    for (const token of server.issued) expect(out).not.toContain(token);
  }
}

// Every answer but the missing one comes at once, so they get the default 10 s budget: on a busy machine a
// short one could run out before a real answer arrives. `timeoutMs` is for the case that must time out.
const cases: {
  name: string;
  answer: Misbehaviour;
  code: string;
  status?: number;
  message: RegExp;
  timeoutMs?: number;
}[] = [
  {
    name: 'HTML with 200',
    answer: { status: 200, body: '<html>login</html>' },
    code: 'invalid_response',
    message: /text\/html\) is not JSON/,
  },
  {
    name: 'JSON without access_token',
    answer: { status: 200, body: { token_type: 'Bearer', expires_in: 60 } },
    code: 'invalid_response',
    message: /has no access_token/,
  },
  {
    name: 'missing token_type',
    answer: { status: 200, body: { access_token: 'abc', expires_in: 60 } },
    code: 'invalid_response',
    message: /has no token_type/,
  },
  {
    name: 'a token type other than Bearer',
    answer: { status: 200, body: { access_token: 'abc', token_type: 'mac', expires_in: 60 } },
    code: 'invalid_response',
    message: /only Bearer/,
  },
  {
    name: 'negative expires_in',
    answer: { status: 200, body: { access_token: 'abc', token_type: 'Bearer', expires_in: -5 } },
    code: 'invalid_response',
    message: /must be positive/,
  },
  {
    name: 'non-numeric expires_in',
    answer: { status: 200, body: { access_token: 'abc', token_type: 'Bearer', expires_in: 'soon' } },
    code: 'invalid_response',
    message: /non-numeric expires_in/,
  },
  {
    name: 'absurdly large expires_in',
    answer: { status: 200, body: { access_token: 'abc', token_type: 'Bearer', expires_in: 1e15 } },
    code: 'invalid_response',
    message: /more than a year/,
  },
  {
    name: 'a token with a newline',
    answer: { status: 200, body: { access_token: 'ab\r\nX-Evil: 1', token_type: 'Bearer', expires_in: 60 } },
    code: 'invalid_response',
    message: /not allowed in an HTTP header/,
  },
  {
    name: '400 invalid_client',
    answer: { status: 400, body: { error: 'invalid_client', error_description: 'unknown client' } },
    code: 'oauth_error',
    status: 400,
    message: /400 invalid_client: unknown client/,
  },
  {
    name: '401 with WWW-Authenticate and no body',
    answer: { status: 401, body: '', headers: { 'www-authenticate': 'Basic realm="x"' } },
    code: 'http_status',
    status: 401,
    message: /HTTP 401/,
  },
  {
    name: '429 with a long Retry-After',
    answer: { status: 429, body: 'slow down', headers: { 'retry-after': '3600' } },
    code: 'http_status',
    status: 429,
    message: /HTTP 429 .*Retry-After 3600/,
  },
  {
    name: 'a redirect',
    answer: { status: 302, body: '', headers: { location: 'https://evil.example/' } },
    code: 'http_status',
    status: 302,
    message: /HTTP 302/,
  },
  {
    name: 'an error that echoes the secret',
    answer: {
      status: 400,
      body: { error: 'invalid_client', error_description: `secret ${SECRET} and password ${PASSWORD} are wrong` },
    },
    code: 'oauth_error',
    status: 400,
    message: /\[REDACTED\] and password \[REDACTED\]/,
  },
  {
    name: 'connection reset',
    answer: { reset: true },
    code: 'network',
    message: /failed: (ECONNRESET|UND_ERR_SOCKET)/,
  },
  { name: 'no answer at all', answer: { hang: true }, code: 'timeout', message: /within 500 ms/, timeoutMs: 500 },
];

describe('bad answers from the token endpoint end in typed errors without secrets', () => {
  for (const c of cases) {
    it(c.name, async () => {
      server.misbehave(() => c.answer);
      const { tokens, events } = provider(c.timeoutMs === undefined ? {} : { timeoutMs: c.timeoutMs });
      const started = Date.now();
      const error = await tokens.getToken().catch((e: unknown) => e);
      // Fails fast: not after the 10 s budget, nor after a Retry-After wait; generous for a busy machine.
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(error).toMatchObject({ code: c.code });
      expect((error as Error).message).toMatch(c.message);
      if (c.status !== undefined) expect(error).toMatchObject({ status: c.status });
      expectNoSecrets(error, tokens, events);
      expect(events.filter((e) => e.type === 'error')).toHaveLength(1);
    });
  }

  it('a 50 MB body is cut off at the size cap', async () => {
    const big = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 'a');
      let sent = 0;
      const write = () => {
        while (sent < 50 && res.write(chunk)) sent++;
        if (sent < 50) res.once('drain', write);
        else res.end();
      };
      write();
    });
    try {
      const tokens = createTokenProvider({
        tokenEndpoint: big.origin + '/token',
        clientId: 'c',
        clientSecret: SECRET,
        maxRetries: 0,
      });
      const used = process.memoryUsage().heapUsed;
      await expect(tokens.getToken()).rejects.toMatchObject({
        code: 'response_too_large',
        message: /larger than 1048576 bytes/,
      });
      expect(process.memoryUsage().heapUsed - used).toBeLessThan(40 * 1024 * 1024);
    } finally {
      await big.close();
    }
  });

  it('a declared oversized Content-Length is refused before reading', async () => {
    server.misbehave(() => ({ status: 200, body: 'x'.repeat(2048) }));
    const { tokens } = provider({ maxResponseBytes: 1024 });
    await expect(tokens.getToken()).rejects.toMatchObject({ code: 'response_too_large' });
  });
});

describe('retries', () => {
  it('503 then success: retried with backoff, one token', async () => {
    server.misbehave((_, n) => (n === 1 ? { status: 503, body: 'unavailable' } : undefined));
    const { tokens, events } = provider({ maxRetries: 2 });
    await expect(tokens.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
    expect(server.count).toBe(2);
    expect(events.filter((e) => e.type === 'retry')).toMatchObject([
      { attempt: 1, reason: 'http_status', status: 503 },
    ]);
  });

  it('429 with Retry-After: 1 waits about a second, then succeeds', async () => {
    server.misbehave((_, n) => (n === 1 ? { status: 429, body: '', headers: { 'retry-after': '1' } } : undefined));
    const { tokens, events } = provider({ maxRetries: 1 });
    const started = Date.now();
    await tokens.getToken();
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(events.find((e) => e.type === 'retry')).toMatchObject({ delayMs: 1000, status: 429 });
  });

  it('connection reset then success', async () => {
    server.misbehave((_, n) => (n === 1 ? { reset: true } : undefined));
    const { tokens } = provider({ maxRetries: 1 });
    await expect(tokens.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
    expect(server.count).toBe(2);
  });

  it('OAuth 4xx errors are never retried', async () => {
    server.misbehave(() => ({ status: 400, body: { error: 'invalid_scope' } }));
    const { tokens } = provider({ maxRetries: 3 });
    await expect(tokens.getToken()).rejects.toMatchObject({ name: 'OAuthError', error: 'invalid_scope' });
    expect(server.count).toBe(1);
  });

  it('gives up after maxRetries with the last answer as the error', async () => {
    server.misbehave(() => ({ status: 502, body: 'bad gateway' }));
    const { tokens } = provider({ maxRetries: 2 });
    await expect(tokens.getToken()).rejects.toMatchObject({ code: 'http_status', status: 502 });
    expect(server.count).toBe(3);
  });
});

describe('the token response parser (property-based)', () => {
  const sentAt = 1_700_000_000_000;

  it('accepts every well-formed response and computes expiresAt from sentAt', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[\x21-\x7e]{1,200}$/),
        fc.constantFrom('Bearer', 'bearer', 'BEARER'),
        fc.oneof(fc.integer({ min: 1, max: 31_536_000 }), fc.integer({ min: 1, max: 31_536_000 }).map(String)),
        (token, type, expiresIn) => {
          const parsed = parseTokenResponse(
            { access_token: token, token_type: type, expires_in: expiresIn },
            sentAt,
            300,
          );
          expect(parsed.accessToken).toBe(token);
          expect(parsed.tokenType).toBe('Bearer');
          expect(parsed.expiresAt).toBe(sentAt + Number(expiresIn) * 1000);
        },
      ),
    );
  });

  it('never throws anything but a TokenEndpointError, and never quotes the token', () => {
    fc.assert(
      fc.property(fc.anything(), fc.string({ minLength: 8 }), (junk, token) => {
        const bodies = [
          junk,
          { access_token: junk, token_type: 'Bearer' },
          { access_token: token, token_type: junk },
          { access_token: token, token_type: 'Bearer', expires_in: junk },
        ];
        for (const body of bodies) {
          let outcome: { parsed: ReturnType<typeof parseTokenResponse> } | { error: unknown };
          try {
            outcome = { parsed: parseTokenResponse(body, sentAt, 300) };
          } catch (error) {
            outcome = { error };
          }
          if ('parsed' in outcome) {
            expect(outcome.parsed.expiresAt).toBeGreaterThanOrEqual(sentAt + 1000);
            expect(outcome.parsed.expiresAt).toBeLessThanOrEqual(sentAt + 366 * 24 * 3600 * 1000);
          } else {
            expect(outcome.error).toBeInstanceOf(TokenEndpointError);
            expect((outcome.error as TokenEndpointError).code).toBe('invalid_response');
            if (/^[\x21-\x7e]{8,}$/.test(token) && !/^(?:token|response|has|no|an?|with|access_token)$/.test(token)) {
              expect((outcome.error as Error).message).not.toContain(token);
            }
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
