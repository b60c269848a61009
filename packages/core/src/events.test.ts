import { startOidcProvider, startTokenServer, type OidcServer, type TokenServer } from '@tokenkit/test-utils';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTokenClient } from './adapter.ts';
import { createTokenProvider, memoryStore, type TokenEvent, type TokenProviderOptions } from './index.ts';

// Real servers on a busy machine: generous timeouts.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let server: TokenServer;
let op: OidcServer;
beforeAll(async () => {
  [server, op] = await Promise.all([
    startTokenServer({ clients: { 'client-id': 'client-secret' } }),
    startOidcProvider({ accessTokenTtl: 120 }),
  ]);
});
afterAll(() => Promise.all([server.close(), op.close()]));
beforeEach(() => server.misbehave(undefined));

function observed(options: Partial<TokenProviderOptions> = {}) {
  const events: TokenEvent[] = [];
  const tokens = createTokenProvider({
    tokenEndpoint: server.url,
    clientId: 'client-id',
    clientSecret: 'client-secret',
    onEvent: (e) => events.push(e),
    ...options,
  });
  const of = <T extends TokenEvent['type']>(type: T) =>
    events.filter((e): e is Extract<TokenEvent, { type: T }> => e.type === type);
  return { tokens, events, of };
}

describe('token request events', () => {
  it('a request with a retry: start, two attempts (503, 200), end — paired by id, with origin, client, scopes, attempt numbers', async () => {
    server.misbehave((_, n) => (n === 1 ? { status: 503, body: 'busy' } : undefined));
    const { tokens, events, of } = observed({ scope: ['read', 'write'] });
    await tokens.getToken();
    const origin = new URL(server.url).origin;
    expect(events.map((e) => e.type)).toEqual([
      'miss',
      'request_start',
      'attempt_start',
      'attempt_end',
      'retry',
      'attempt_start',
      'attempt_end',
      'request_end',
      'fetch',
    ]);
    const [start] = of('request_start');
    expect(start).toEqual({
      type: 'request_start',
      key: tokens.key,
      id: expect.any(Number),
      grant: 'client_credentials',
      endpoint: server.url,
      origin,
      clientId: 'client-id',
      clientAuth: 'client_secret_basic',
      clientAuthReason: 'default',
      scope: ['read', 'write'],
      background: false,
    });
    const attempts = of('attempt_end');
    expect(attempts.map((a) => [a.id, a.attempt, a.method, a.url, a.status, a.operation])).toEqual([
      [start!.id, 1, 'POST', server.url, 503, 'token'],
      [start!.id, 2, 'POST', server.url, 200, 'token'],
    ]);
    expect(of('attempt_start').map((a) => a.attempt)).toEqual([1, 2]);
    const [end] = of('request_end');
    expect(end).toMatchObject({ id: start!.id, origin, clientId: 'client-id', attempts: 2, status: 200 });
    expect(end!.error).toBeUndefined();
    expect(end!.expiresAt).toBeGreaterThan(Date.now());
    expect(of('fetch')[0]).toMatchObject({
      origin,
      clientId: 'client-id',
      requestedScope: ['read', 'write'],
      grantedScope: ['read', 'write'],
      attempts: 2,
    });
  });

  it('a refused request ends with its error and status; ids of two requests differ', async () => {
    const { tokens, of } = observed({ clientSecret: 'wrong', maxRetries: 0 });
    await expect(tokens.getToken()).rejects.toThrow(/invalid_client/);
    const [end] = of('request_end');
    expect(end).toMatchObject({ status: 401, attempts: 1, error: { code: 'oauth_error', error: 'invalid_client' } });
    expect(of('attempt_end')[0]).toMatchObject({ status: 401 });

    const second = observed();
    await second.tokens.getToken();
    expect(second.of('request_start')[0]!.id).not.toBe(end!.id);
  });

  it('an attempt without an answer: errorCode network, no status', async () => {
    server.misbehave(() => ({ reset: true }));
    const { tokens, of } = observed({ maxRetries: 1 });
    await expect(tokens.getToken()).rejects.toThrow();
    expect(of('attempt_end').map((a) => [a.attempt, a.status, a.errorCode])).toEqual([
      [1, undefined, 'network'],
      [2, undefined, 'network'],
    ]);
    expect(of('request_end')[0]).toMatchObject({ attempts: 2, error: { code: 'network' } });
    expect(of('request_end')[0]!.status).toBeUndefined();
  });

  it('a cached call is a hit, a waiting call a miss; a store hit carries the expiry', async () => {
    const store = memoryStore();
    const { tokens, of } = observed({ store });
    const token = await tokens.getToken();
    await tokens.getToken();
    expect(of('miss')).toHaveLength(1);
    expect(of('hit')).toHaveLength(1);
    const restarted = observed({ store });
    await restarted.tokens.getToken();
    const [storeHit] = restarted.of('store_hit');
    expect(storeHit).toMatchObject({ type: 'store_hit', key: tokens.key, durationMs: 0 });
    // The stored expiry, on the wall clock: the served token's, give or take the clocks' rounding.
    expect(Math.abs(storeHit!.expiresAt - token.expiresAt)).toBeLessThanOrEqual(2);
  });
});

describe('discovery events (oidc-provider)', () => {
  it('discovery: start, its GET attempt, end with the token endpoint, the methods listed and the choice; then the token request', async () => {
    const { tokens, events, of } = observed({
      tokenEndpoint: undefined,
      issuer: op.issuer,
      clientId: op.clients.post.clientId,
      clientSecret: op.clients.post.clientSecret,
      clientAuthMethod: 'client_secret_post',
      scope: 'payments:read',
      resource: op.resource,
    });
    await tokens.getToken();
    const [start] = of('discovery_start');
    expect(start).toEqual({ type: 'discovery_start', key: tokens.key, id: expect.any(Number), issuer: op.issuer });
    const discoveryAttempts = of('attempt_end').filter((a) => a.operation === 'discovery');
    expect(discoveryAttempts).toEqual([
      expect.objectContaining({
        id: start!.id,
        attempt: 1,
        method: 'GET',
        url: `${op.issuer}/.well-known/openid-configuration`,
        status: 200,
      }),
    ]);
    const [end] = of('discovery_end');
    expect(end).toMatchObject({
      id: start!.id,
      tokenEndpoint: op.tokenEndpoint,
      clientAuth: 'client_secret_post',
      clientAuthReason: 'configured',
    });
    expect(end!.authMethods).toContain('client_secret_post');
    expect(end!.error).toBeUndefined();
    expect(of('request_start')[0]).toMatchObject({
      endpoint: op.tokenEndpoint,
      clientId: op.clients.post.clientId,
      clientAuth: 'client_secret_post',
      clientAuthReason: 'configured',
      scope: ['payments:read'],
    });
    expect(of('request_end')[0]).toMatchObject({ status: 200, grantedScope: ['payments:read'] });
    expect(events.findIndex((e) => e.type === 'discovery_end')).toBeLessThan(
      events.findIndex((e) => e.type === 'request_start'),
    );
  });

  it('a failed discovery ends with discovery_failed', async () => {
    const { tokens, of } = observed({ tokenEndpoint: undefined, issuer: server.origin + '/nowhere' });
    await expect(tokens.getToken()).rejects.toThrow(/discovery/);
    expect(of('discovery_end')[0]!.error?.code).toBe('discovery_failed');
    expect(of('attempt_end').map((a) => a.status)).toEqual([404, 404]);
    expect(of('request_start')).toHaveLength(0);
  });
});

describe('adapter decisions', () => {
  it('sent, withheld (origin, caller header, lost on a redirect), redirect hops, and what became of each 401', async () => {
    const { tokens, of } = observed();
    const client = createTokenClient(tokens, { baseUrl: 'https://api.example.com' });
    expect(await client.start().header('https://api.example.com/a?secret=1')).toMatch(/^Bearer /);
    expect(await client.start().header('https://other.example.com/b')).toBeUndefined();
    expect(await client.start({ callerAuthorization: true }).header('https://api.example.com/c')).toBeUndefined();
    const hopping = client.start();
    hopping.headerSync('https://api.example.com/d');
    expect(hopping.redirect('https://api.example.com/e')).toBe(true);
    expect(hopping.redirect('https://other.example.com/f')).toBe(false);
    expect(hopping.headerSync('https://api.example.com/g')).toBeNull();
    expect(of('authorize').map((e) => [e.url, e.sent, e.reason])).toEqual([
      ['https://api.example.com/a', true, undefined], // no query in events
      ['https://other.example.com/b', false, 'origin_not_allowed'],
      ['https://api.example.com/c', false, 'caller_authorization'],
      ['https://api.example.com/d', true, undefined],
      ['https://api.example.com/g', false, 'lost_on_redirect'],
    ]);
    expect(of('redirect').map((e) => [e.url, e.kept])).toEqual([
      ['https://api.example.com/e', true],
      ['https://other.example.com/f', false],
    ]);

    const rejected = client.start();
    await rejected.header('https://api.example.com/h');
    expect(await rejected.retryAfter(401)).toBe(true);
    await rejected.header('https://api.example.com/h');
    expect(await rejected.retryAfter(401)).toBe(false);
    const replacement = client.start(); // its token replaced a rejected one a moment ago: kept, no retry
    await replacement.header('https://api.example.com/h');
    expect(await replacement.retryAfter(401)).toBe(false);
    const notOurs = client.start();
    await notOurs.header('https://other.example.com/i');
    expect(notOurs.mayRetry(401)).toBe(false);
    const stream = client.start({ replayable: false });
    await stream.header('https://api.example.com/j');
    expect(await stream.retryAfter(401)).toBe(false);
    expect(of('unauthorized').map((e) => [e.retried, e.reason])).toEqual([
      [true, undefined],
      [false, 'already_retried'],
      [false, 'token_kept'],
      [false, 'not_ours'],
      [false, 'not_replayable'],
    ]);
    const noRetry = createTokenClient(tokens, { baseUrl: 'https://api.example.com', retryOn401: false }).start();
    await noRetry.header('https://api.example.com/k');
    expect(await noRetry.retryAfter(401)).toBe(false);
    expect(of('unauthorized').at(-1)).toMatchObject({ retried: false, reason: 'retry_disabled' });
  });

  it('an unobserved provider gives adapters nothing to report to', async () => {
    const tokens = createTokenProvider({
      tokenEndpoint: server.url,
      clientId: 'client-id',
      clientSecret: 'client-secret',
    });
    const { OBSERVE } = await import('./options.ts');
    expect((tokens as unknown as Record<symbol, unknown>)[OBSERVE]).toBeUndefined();
    expect(
      await createTokenClient(tokens, { baseUrl: 'https://api.example.com' })
        .start()
        .header('https://api.example.com/'),
    ).toMatch(/^Bearer /);
  });
});
