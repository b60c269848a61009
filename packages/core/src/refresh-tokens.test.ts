import { startTokenServer, type TokenServer } from '@tokenkit/test-utils';
import { inspect } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createTokenProvider,
  isTokenEndpointError,
  memoryStore,
  type StoredToken,
  type TokenEvent,
  type TokenProviderOptions,
  type TokenStore,
} from './index.ts';

let server: TokenServer;
beforeAll(async () => {
  server = await startTokenServer({
    users: { alice: 'wonder land' },
    clients: { 'client-id': 'client-secret', 'odd id': 'a+b c' },
  });
});
afterAll(() => server.close());
beforeEach(() => server.configure({ expiresIn: 600, latencyMs: 0, jwt: false }));
afterEach(() => {
  server.requests.length = 0;
  server.misbehave(undefined);
  vi.useRealTimers();
});

function clock(start = Date.now()) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

const password = { type: 'password', username: 'alice', password: 'wonder land' } as const;

function provider(extra: Partial<TokenProviderOptions> = {}) {
  const events: TokenEvent[] = [];
  const tokens = createTokenProvider({
    tokenEndpoint: server.url,
    clientId: 'client-id',
    clientSecret: 'client-secret',
    maxRetries: 2,
    onEvent: (e) => events.push(e),
    ...extra,
  });
  return { tokens, events };
}

const grants = () => server.requests.map((r) => r.params['grant_type']);
const presented = () =>
  server.requests.filter((r) => r.params['grant_type'] === 'refresh_token').map((r) => r.params['refresh_token']);
const refreshAnswers = (answer: { status: number; body?: string | object }) =>
  server.misbehave((req) => (req.params['grant_type'] === 'refresh_token' ? answer : undefined));

/** Gets a refresh token with a password grant by hand, as a user would before configuring grant refresh_token. */
async function refreshTokenFromServer(): Promise<string> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=password&username=alice&password=wonder+land&client_id=client-id&client_secret=client-secret',
  });
  const body = (await res.json()) as { refresh_token: string };
  server.requests.length = 0;
  return body.refresh_token;
}

describe('a refresh token the server refuses', () => {
  // What real servers answer for a revoked, expired or unknown refresh token (see docs/interop.md).
  const refusals = [
    ['a bare 400 with an empty body (Glewlwyd)', { status: 400, body: '' }],
    ['400 invalid_request (LemonLDAP::NG)', { status: 400, body: { error: 'invalid_request' } }],
    ['401 invalid_client', { status: 401, body: { error: 'invalid_client' } }],
    [
      '500 (Django OAuth Toolkit 1.7 after the access token was revoked)',
      { status: 500, body: '<h1>Server Error (500)</h1>' },
    ],
  ] as const;

  it.each(refusals)('%s: dropped, and the configured grant is used in the same getToken()', async (_, answer) => {
    const c = clock();
    const { tokens, events } = provider({ now: c.now, grant: password });
    await tokens.getToken();
    refreshAnswers(answer);
    c.advance(600_000);
    const token = await tokens.getToken();
    expect(token.accessToken).toMatch(/^at-/);
    // Sent once, not retried: after a 5xx the server may have rotated it anyway.
    expect(grants()).toEqual(['password', 'refresh_token', 'password']);
    expect(events.some((e) => e.type === 'refresh_token_dropped')).toBe(true);

    // The dead refresh token is never presented again; the new one is.
    server.misbehave(undefined);
    c.advance(600_000);
    await tokens.getToken();
    expect(presented()).toHaveLength(2);
    expect(presented()[1]).not.toBe(presented()[0]);
  });

  it('a refresh request that times out is not retried with the same refresh token', async () => {
    const c = clock();
    const { tokens } = provider({ now: c.now, grant: password, timeoutMs: 4000 });
    await tokens.getToken();
    server.misbehave((req, n) =>
      req.params['grant_type'] === 'refresh_token' && n === 2 ? { hang: true } : undefined,
    );
    c.advance(600_000);
    await tokens.getToken();
    expect(presented()).toHaveLength(1);
    expect(grants()).toEqual(['password', 'refresh_token', 'password']);
  });

  it('with grant refresh_token, a refusal says plainly that a new refresh token is needed, and is not presented again', async () => {
    const c = clock();
    const initial = await refreshTokenFromServer();
    const { tokens } = provider({ now: c.now, grant: { type: 'refresh_token', refreshToken: initial } });
    await tokens.getToken(); // initial -> rotated
    refreshAnswers({ status: 400, body: { error: 'invalid_grant' } });
    c.advance(600_000);
    const error = await tokens.getToken().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isTokenEndpointError(error) && error.code).toBe('refresh_token_refused');
    expect(String((error as Error).message)).toMatch(/new refresh token is needed/);
    expect(inspect(error, { depth: Infinity })).not.toContain('rt-');

    // Neither the refused one nor the configured one (spent at the first rotation) is sent again.
    const before = server.count;
    await expect(tokens.getToken()).rejects.toMatchObject({ code: 'refresh_token_refused' });
    expect(server.count).toBe(before);
    expect(presented().filter((rt) => rt === initial)).toHaveLength(1);
  });
});

describe('the newest refresh token, across restarts and processes', () => {
  it('a store entry outlives its access token while it holds a refresh token', async () => {
    const c = clock();
    const writes: number[] = [];
    const store = memoryStore({ now: c.now });
    const recording: TokenStore = {
      ...store,
      set: (key, token, ttlMs) => (writes.push(ttlMs), store.set(key, token, ttlMs)),
    };
    const { tokens } = provider({ now: c.now, grant: password, store: recording, refreshTokenLifetimeSeconds: 86_400 });
    await tokens.getToken();
    expect(writes[0]).toBeGreaterThan(600_000);
    expect(writes[0]).toBeLessThanOrEqual(86_400_000);
  });

  it('refresh_expires_in from the server sets how long the refresh token is kept', async () => {
    const c = clock();
    let ttl = 0;
    const store = memoryStore({ now: c.now });
    server.misbehave(() => ({
      status: 200,
      body: {
        access_token: 'at-x',
        token_type: 'Bearer',
        expires_in: 60,
        refresh_token: 'rt-x',
        refresh_expires_in: 1800,
      },
    }));
    const { tokens } = provider({
      now: c.now,
      grant: password,
      store: { ...store, set: (k, t, ms) => ((ttl = ms), store.set(k, t, ms)) },
    });
    await tokens.getToken();
    expect(ttl).toBe(1_800_000);
  });

  it('a process started after the access token expired refreshes with the rotated refresh token from the store', async () => {
    const c = clock();
    const store = memoryStore({ now: c.now });
    const initial = await refreshTokenFromServer();
    const grant = { type: 'refresh_token', refreshToken: initial } as const;
    const first = provider({ now: c.now, grant, store }).tokens;
    await first.getToken(); // initial -> RT1, stored

    c.advance(3600_000); // the access token is long gone; the process restarts
    const restarted = provider({ now: c.now, grant, store }).tokens;
    const token = await restarted.getToken();
    expect(token.accessToken).toMatch(/^at-/);
    expect(presented()[0]).toBe(initial);
    expect(presented()[1]).not.toBe(initial);
    expect(presented()).toHaveLength(2);
  });

  it('a fleet member holding an older refresh token in memory uses the newer one a peer stored', async () => {
    const c = clock();
    const store = memoryStore({ now: c.now });
    const a = provider({ now: c.now, grant: password, store }).tokens;
    const b = provider({ now: c.now, grant: password, store }).tokens;
    await a.getToken();
    await b.getToken(); // adopts A's token and its refresh token RT1
    c.advance(600_000);
    await a.getToken(); // A refreshes: RT1 -> RT2, stored
    expect(presented()).toHaveLength(1);
    c.advance(600_000);
    await b.getToken(); // B must present RT2, not its own RT1 (already rotated away)
    expect(presented()).toHaveLength(2);
    expect(presented()[1]).not.toBe(presented()[0]);
    expect(grants().filter((g) => g === 'password')).toHaveLength(1);
  });

  it('with a locking store, processes refreshing at once present a refresh token once in all', async () => {
    const c = clock();
    const store = memoryStore({ now: c.now });
    const fleet = Array.from({ length: 5 }, () => provider({ now: c.now, grant: password, store }).tokens);
    await fleet[0]!.getToken();
    await Promise.all(fleet.map((p) => p.getToken()));
    c.advance(600_000);
    server.configure({ latencyMs: 50 });
    await Promise.all(fleet.map((p) => p.getToken()));
    expect(presented()).toHaveLength(1);
    expect(grants()).toEqual(['password', 'refresh_token']);
  });

  it('the fleet lock outlives the whole acquisition, and a waiter whose wait ran out never presents a refresh token', async () => {
    const c = clock();
    const inner = memoryStore({ now: c.now });
    const lockTtls: number[] = [];
    const store: TokenStore = { ...inner, lock: (key, ttlMs) => (lockTtls.push(ttlMs), inner.lock!(key, ttlMs)) };
    const { tokens } = provider({ now: c.now, grant: password, store, timeoutMs: 2_000, storeTimeoutMs: 500 });
    await tokens.getToken(); // password: a token and a refresh token
    expect(lockTtls[0]).toBeGreaterThanOrEqual(2_000 + 500); // timeoutMs bounds every attempt and wait, then the write

    const peer = await inner.lock!(tokens.key, 3600_000); // another process holds the lock and never finishes
    c.advance(600_000); // the token is past its cutoff: a load must wait for the peer
    const waiting = tokens.getToken();
    // The provider polls the store; move its clock past the wait's end while it does.
    while (server.requests.length === 1) {
      c.advance(10_000);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await waiting;
    expect(grants()).toEqual(['password', 'password']); // the peer may still be presenting the refresh token
    await peer!();
  });

  it('a stored refresh token whose refresh_expires_in has passed is not presented', async () => {
    const c = clock();
    const entries = new Map<string, StoredToken>();
    const store: TokenStore = {
      get: async (key) => entries.get(key),
      set: async (key, token) => void entries.set(key, token),
      delete: async (key) => void entries.delete(key),
    };
    const { tokens } = provider({ now: c.now, grant: password, store });
    entries.set(tokens.key, {
      accessToken: 'at-old',
      tokenType: 'Bearer',
      expiresAt: c.now() - 1000,
      receivedAt: c.now() - 61_000,
      refreshToken: 'rt-stale',
      refreshExpiresAt: c.now() - 1,
    });
    await tokens.getToken();
    expect(grants()).toEqual(['password']);
  });
});

describe('HTTP Basic encoding', () => {
  it("basicEncoding 'plain' sends id:secret unencoded; the invalid_client error says which encoding was used and what to try", async () => {
    const { tokens } = provider({ clientId: 'odd id', clientSecret: 'a+b c', basicEncoding: 'plain' });
    const error = (await tokens.getToken().catch((e: unknown) => e)) as Error;
    expect(server.requests[0]!.headers.authorization).toBe('Basic ' + Buffer.from('odd id:a+b c').toString('base64'));
    // This server form-decodes (a '+' becomes a space), so the plain form fails here.
    expect(error.message).toMatch(/invalid_client.*unencoded \(basicEncoding: 'plain'\); try basicEncoding: 'form'/);
    expect(error.message).not.toContain('a+b c');
  });

  it("the default form encoding names basicEncoding 'plain' when the server answers invalid_client", async () => {
    const { tokens } = provider({ clientId: 'odd id', clientSecret: 'a+b c wrong' });
    await expect(tokens.getToken()).rejects.toThrow(/form-encoded \(RFC 6749 Appendix B\).*basicEncoding: 'plain'/);
  });

  it("'plain' refuses a client id containing ':' at creation", () => {
    expect(() => provider({ clientId: 'a:b', basicEncoding: 'plain' })).toThrow(/basicEncoding/);
  });
});

describe('scopes', () => {
  it('a granted scope missing a requested one is reported as an event', async () => {
    server.misbehave(() => ({
      status: 200,
      body: { access_token: 'at-narrow', token_type: 'Bearer', expires_in: 60, scope: 'read' },
    }));
    const { tokens, events } = provider({ scope: ['read', 'write'] });
    await tokens.getToken();
    expect(events.find((e) => e.type === 'scope_narrowed')).toEqual({
      type: 'scope_narrowed',
      key: tokens.key,
      requested: ['read', 'write'],
      granted: ['read'],
      missing: ['write'],
    });
  });

  it('no scope in the answer means the requested one (RFC 6749 §5.1): no event', async () => {
    server.misbehave(() => ({ status: 200, body: { access_token: 'at-same', token_type: 'Bearer', expires_in: 60 } }));
    const { tokens, events } = provider({ scope: ['read', 'write'] });
    await tokens.getToken();
    expect(events.some((e) => e.type === 'scope_narrowed')).toBe(false);
  });
});

describe('the clock', () => {
  it('a wall clock stepping back does not keep an expired token in service', async () => {
    server.configure({ expiresIn: 1 });
    vi.useFakeTimers({ toFake: ['Date'] }); // the wall clock: stands still until set
    const { tokens } = provider();
    const first = await tokens.getToken();
    vi.setSystemTime(Date.now() - 2 * 3600_000); // an NTP correction two hours back
    // The token lives one second (served for half of it): a new one must come, by the monotonic clock.
    const deadline = performance.now() + 20_000;
    let next = first;
    while (next.accessToken === first.accessToken && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      next = await tokens.getToken();
    }
    expect(next.accessToken).not.toBe(first.accessToken);
  }, 30_000);
});
