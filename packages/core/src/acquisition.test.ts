import {
  listen,
  sendJson,
  startOidcProvider,
  startTokenServer,
  type OidcServer,
  type TokenServer,
} from '@tokenkit/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenProvider, isTokenEndpointError } from './index.ts';

// Issue items wired through createTokenProvider: the pieces are tested on their own in transport, discovery and
// token-response tests; these prove the provider passes them what they need.
let server: TokenServer;
let op: OidcServer;
beforeAll(async () => {
  [server, op] = await Promise.all([startTokenServer(), startOidcProvider()]);
}, 60_000);
afterAll(() => Promise.all([server.close(), op.close()]));

const base = { clientId: 'client-id', clientSecret: 'client-secret' };

describe('timeoutMs bounds the whole acquisition', () => {
  it('attempts, backoff and retries of a hanging endpoint end within the budget, and the message says what happened', async () => {
    server.misbehave(() => ({ hang: true }));
    try {
      const tokens = createTokenProvider({ ...base, tokenEndpoint: server.url, timeoutMs: 500, maxRetries: 2 });
      const started = performance.now();
      const error = await tokens.getToken().catch((e: unknown) => e);
      // Generous: the budget is 500 ms; before, each of three attempts had its own 500 ms.
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(isTokenEndpointError(error) && error.code).toBe('timeout');
      expect((error as Error).message).toMatch(/within 500 ms: 1 attempt/);
    } finally {
      server.misbehave(undefined);
    }
  });

  it('a hanging refresh has half the budget: the configured grant still gets a token within timeoutMs', async () => {
    const users = await startTokenServer({ users: { alice: 'wonder land' } });
    let now = Date.now();
    try {
      const password = { type: 'password', username: 'alice', password: 'wonder land' } as const;
      const tokens = createTokenProvider({
        ...base,
        tokenEndpoint: users.url,
        timeoutMs: 3000,
        now: () => now,
        grant: password,
      });
      await tokens.getToken();
      users.misbehave((req) => (req.params['grant_type'] === 'refresh_token' ? { hang: true } : undefined));
      now += 3600_000;
      const started = performance.now();
      await expect(tokens.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(users.requests.map((r) => r.params['grant_type'])).toEqual(['password', 'refresh_token', 'password']);
    } finally {
      await users.close();
    }
  });
});

describe('issuer given as a URL object', () => {
  it('matches an issuer without a path, though String(url) adds a slash', async () => {
    expect(op.issuer.endsWith('/')).toBe(false);
    const tokens = createTokenProvider({
      issuer: new URL(op.issuer),
      clientId: op.clients.post.clientId,
      clientSecret: op.clients.post.clientSecret,
      clientAuthMethod: 'client_secret_post',
      scope: op.scopes[0],
      resource: op.resource,
    });
    await expect(tokens.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
  });
});

describe('answers that bend the rules, through the provider', () => {
  const jwt = (claims: object) =>
    [
      Buffer.from('{"alg":"none"}').toString('base64url'),
      Buffer.from(JSON.stringify(claims)).toString('base64url'),
      'sig',
    ].join('.');

  it('a JWT handed out again long after its iat is never kept past its exp', async () => {
    const nowS = Math.floor(Date.now() / 1000);
    const token = jwt({ iat: nowS - 3600, exp: nowS + 60 });
    const endpoint = await listen((_req, res) => sendJson(res, 200, { access_token: token, token_type: 'Bearer' }));
    try {
      const tokens = createTokenProvider({ ...base, tokenEndpoint: endpoint.origin + '/token' });
      const served = await tokens.getToken();
      expect(served.expiresAt).toBeLessThanOrEqual((nowS + 60) * 1000);
    } finally {
      await endpoint.close();
    }
  });

  it('a missing token_type is taken as Bearer with defaultTokenType, and expires_in 0 as absent', async () => {
    const endpoint = await listen((_req, res) => sendJson(res, 200, { access_token: 'opaque-1', expires_in: 0 }));
    try {
      const refused = createTokenProvider({ ...base, tokenEndpoint: endpoint.origin + '/token' });
      await expect(refused.getToken()).rejects.toThrow(/defaultTokenType: 'Bearer'/);
      const before = Date.now();
      const tokens = createTokenProvider({
        ...base,
        tokenEndpoint: endpoint.origin + '/token',
        defaultTokenType: 'Bearer',
        defaultExpiresInSeconds: 120,
      });
      const served = await tokens.getToken();
      expect(served.tokenType).toBe('Bearer');
      expect(served.expiresAt).toBeGreaterThanOrEqual(before + 119_000);
      expect(served.expiresAt).toBeLessThanOrEqual(Date.now() + 120_000);
    } finally {
      await endpoint.close();
    }
  });
});
