import { startTokenServer, waitFor, type TokenServer } from '@tokenkit/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createTokenProvider,
  memoryStore,
  type TokenEvent,
  type TokenProviderOptions,
  type TokenStore,
} from './index.ts';

// Real servers and up to 1,000 concurrent calls: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let server: TokenServer;
beforeAll(async () => {
  server = await startTokenServer({ users: { alice: 'wonder land' }, clients: { 'client-id': 'client-secret' } });
});
afterAll(() => server.close());
afterEach(() => {
  server.requests.length = 0;
  server.misbehave(undefined);
  server.configure({ expiresIn: 3600, latencyMs: 0, jwt: false });
});

/** A clock the test moves by hand. */
function clock(start = Date.now()) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function provider(extra: Partial<TokenProviderOptions> = {}) {
  const events: TokenEvent[] = [];
  const tokens = createTokenProvider({
    tokenEndpoint: server.url,
    clientId: 'client-id',
    clientSecret: 'client-secret',
    maxRetries: 0,
    onEvent: (e) => events.push(e),
    ...extra,
  });
  return { tokens, events };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Waits until a refresh-ahead fetch has succeeded, and the provider has taken its token: no fixed sleep. */
const backgroundFetch = (events: TokenEvent[]) =>
  waitFor(() => events.some((e) => e.type === 'fetch' && e.background), { what: 'the background refresh' });

describe('single flight', () => {
  it('1,000 concurrent getToken() calls on a cold cache make exactly one token request', async () => {
    server.configure({ latencyMs: 30 });
    const { tokens } = provider();
    const results = await Promise.all(Array.from({ length: 1000 }, () => tokens.getToken()));
    expect(server.count).toBe(1);
    expect(new Set(results.map((t) => t.accessToken)).size).toBe(1);
  });

  it('1,000 concurrent calls at expiry make exactly one token request', async () => {
    const c = clock();
    const { tokens } = provider({ now: c.now });
    const first = await tokens.getToken();
    c.advance(3600_000); // past expiresAt
    server.configure({ latencyMs: 30 });
    const results = await Promise.all(Array.from({ length: 1000 }, () => tokens.getToken()));
    expect(server.count).toBe(2);
    expect(new Set(results.map((t) => t.accessToken))).toEqual(new Set([results[0]!.accessToken]));
    expect(results[0]!.accessToken).not.toBe(first.accessToken);
  });

  it('a failure is shared by the waiting callers and never cached', async () => {
    server.misbehave((_, n) => (n === 1 ? { status: 503, body: 'down' } : undefined));
    const { tokens } = provider();
    const settled = await Promise.allSettled(Array.from({ length: 50 }, () => tokens.getToken()));
    expect(settled.every((s) => s.status === 'rejected')).toBe(true);
    expect(server.count).toBe(1);
    await expect(tokens.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
    expect(server.count).toBe(2);
  });
});

describe('expiry and refresh-ahead', () => {
  it('serves the cached token until expiresAt - skew, counting from when the request was sent', async () => {
    const c = clock();
    server.configure({ expiresIn: 600 });
    const { tokens, events } = provider({ now: c.now, refreshSkewSeconds: 30, refreshAheadSeconds: 0 });
    const t1 = await tokens.getToken();
    expect(t1.expiresAt).toBe(c.now() + 600_000);
    c.advance(569_999);
    expect((await tokens.getToken()).accessToken).toBe(t1.accessToken);
    expect(server.count).toBe(1);
    c.advance(1); // at the cutoff: never served
    const t2 = await tokens.getToken();
    expect(t2.accessToken).not.toBe(t1.accessToken);
    expect(server.count).toBe(2);
    expect(events.filter((e) => e.type === 'hit')).toHaveLength(1);
  });

  it('in the refresh-ahead window the caller gets the current token and one background refresh runs', async () => {
    const c = clock();
    server.configure({ expiresIn: 600 });
    const { tokens, events } = provider({ now: c.now, refreshSkewSeconds: 30, refreshAheadSeconds: 60 });
    const t1 = await tokens.getToken();
    c.advance(600_000 - 30_000 - 60_000 + 1); // inside the window
    server.configure({ latencyMs: 50 });
    const during = await Promise.all(Array.from({ length: 100 }, () => tokens.getToken()));
    expect(during.every((t) => t.accessToken === t1.accessToken)).toBe(true);
    await backgroundFetch(events);
    expect(server.count).toBe(2); // one refresh for the 100 calls
    const t2 = await tokens.getToken();
    expect(t2.accessToken).not.toBe(t1.accessToken);
    expect(events.filter((e) => e.type === 'refresh')).toHaveLength(1);
    expect(events.find((e) => e.type === 'fetch' && e.background)).toBeDefined();
  });

  it('cachedAuthorizationHeader() follows the same rules synchronously', async () => {
    const c = clock();
    server.configure({ expiresIn: 600 });
    const { tokens, events } = provider({ now: c.now });
    expect(tokens.cachedAuthorizationHeader()).toBeUndefined();
    const t1 = await tokens.getToken();
    expect(tokens.cachedAuthorizationHeader()).toBe(`Bearer ${t1.accessToken}`);
    c.advance(600_000 - 30_000 - 1_000); // refresh-ahead window: still served, one refresh starts
    expect(tokens.cachedAuthorizationHeader()).toBe(`Bearer ${t1.accessToken}`);
    await backgroundFetch(events);
    expect(server.count).toBe(2);
    const t2 = await tokens.getToken();
    c.advance(600_000);
    expect(tokens.cachedAuthorizationHeader()).toBeUndefined(); // past the cutoff: never served
    expect(t2.accessToken).not.toBe(t1.accessToken);
  });

  it('refresh-ahead never starts before half the usable life has passed', async () => {
    const c = clock();
    server.configure({ expiresIn: 100 }); // usable life 70 s with 30 s skew; window would start at 10 s
    const { tokens, events } = provider({ now: c.now, refreshSkewSeconds: 30, refreshAheadSeconds: 60 });
    await tokens.getToken();
    c.advance(34_000);
    await tokens.getToken();
    await tick();
    // A refresh is announced by the call that starts it, before any request goes out.
    expect(events.filter((e) => e.type === 'refresh')).toHaveLength(0);
    expect(server.count).toBe(1);
    c.advance(2_000); // 36 s > 35 s (half of 70 s)
    await tokens.getToken();
    expect(events.filter((e) => e.type === 'refresh')).toHaveLength(1);
    await backgroundFetch(events);
    expect(server.count).toBe(2);
  });

  it('a failed background refresh keeps the valid token in service and is reported once', async () => {
    const c = clock();
    server.configure({ expiresIn: 600 });
    const { tokens, events } = provider({ now: c.now });
    const t1 = await tokens.getToken();
    server.misbehave(() => ({ status: 500, body: 'boom' }));
    c.advance(600_000 - 30_000 - 30_000);
    for (let i = 0; i < 20; i++) expect((await tokens.getToken()).accessToken).toBe(t1.accessToken);
    await waitFor(() => events.some((e) => e.type === 'error'), { what: 'the failed refresh' });
    expect(server.count).toBe(2); // one refresh attempt, not one per call
    expect(events.filter((e) => e.type === 'error')).toMatchObject([
      { background: true, error: { code: 'http_status', status: 500 } },
    ]);
  });

  it('tokens shorter-lived than twice the skew are served for half their life', async () => {
    const c = clock();
    server.configure({ expiresIn: 10 });
    const { tokens } = provider({ now: c.now, refreshAheadSeconds: 0 });
    const t1 = await tokens.getToken();
    c.advance(4_999);
    expect((await tokens.getToken()).accessToken).toBe(t1.accessToken);
    c.advance(1);
    expect((await tokens.getToken()).accessToken).not.toBe(t1.accessToken);
  });

  it('an idle provider keeps no timer alive and makes no requests', async () => {
    const timers = () =>
      (process as unknown as { getActiveResourcesInfo(): string[] })
        .getActiveResourcesInfo()
        .filter((r) => r === 'Timeout').length;
    const before = timers();
    const c = clock();
    const { tokens, events } = provider({ now: c.now });
    await tokens.getToken();
    c.advance(3600_000 - 60_000);
    await tokens.getToken(); // in the refresh-ahead window: a background refresh, then idle
    await backgroundFetch(events);
    expect(server.count).toBe(2);
    expect(timers()).toBeLessThanOrEqual(before);
  });
});

describe('expires_in variants', () => {
  it('accepts a numeric string', async () => {
    server.configure({ expiresIn: '120' });
    const c = clock();
    const { tokens } = provider({ now: c.now });
    const token = await tokens.getToken();
    expect(token.expiresAt).toBe(c.now() + 120_000);
  });

  it('falls back to the JWT exp when expires_in is absent: never later than exp, translated with the Date header', async () => {
    server.configure({ expiresIn: null, jwt: true });
    const c = clock(Date.now() + 5 * 3600_000); // our clock far from the issuer's: the Date header translates exp
    const { tokens } = provider({ now: c.now });
    const token = await tokens.getToken();
    // The test server's JWTs live 300 s when expires_in is absent; the Date header's 1 s resolution costs up to 2 s.
    expect(token.expiresAt).toBeLessThanOrEqual(c.now() + 300_000);
    expect(token.expiresAt).toBeGreaterThan(c.now() + 297_000);
  });

  it('uses defaultExpiresInSeconds for an opaque token without expires_in', async () => {
    server.configure({ expiresIn: null });
    const c = clock();
    const { tokens } = provider({ now: c.now, defaultExpiresInSeconds: 42 });
    expect((await tokens.getToken()).expiresAt).toBe(c.now() + 42_000);
  });
});

describe('grants', () => {
  it('password grant sends username and password; the refresh token is used first next time', async () => {
    const c = clock();
    server.configure({ expiresIn: 600 });
    const { tokens, events } = provider({
      now: c.now,
      grant: { type: 'password', username: 'alice', password: 'wonder land' },
    });
    await tokens.getToken();
    expect(server.requests[0]!.params).toMatchObject({
      grant_type: 'password',
      username: 'alice',
      password: 'wonder land',
    });
    c.advance(600_000);
    await tokens.getToken();
    expect(server.requests[1]!.params).toMatchObject({ grant_type: 'refresh_token' });
    expect(server.requests[1]!.params['refresh_token']).toMatch(/^rt-/);
    expect(events.filter((e) => e.type === 'fetch').map((e) => (e as { grant: string }).grant)).toEqual([
      'password',
      'refresh_token',
    ]);
  });

  it('falls back to the original grant when the refresh token is rejected with invalid_grant', async () => {
    const c = clock();
    server.configure({ expiresIn: 600 });
    const { tokens } = provider({
      now: c.now,
      grant: { type: 'password', username: 'alice', password: 'wonder land' },
    });
    await tokens.getToken();
    server.misbehave((req) =>
      req.params['grant_type'] === 'refresh_token' ? { status: 400, body: { error: 'invalid_grant' } } : undefined,
    );
    c.advance(600_000);
    const token = await tokens.getToken();
    expect(token.accessToken).toMatch(/^at-/);
    expect(server.requests.map((r) => r.params['grant_type'])).toEqual(['password', 'refresh_token', 'password']);
  });

  it('a configured refresh_token grant rotates to the newest refresh token', async () => {
    const c = clock();
    server.configure({ expiresIn: 600 });
    const issuedRefresh = await refreshTokenFromServer();
    server.requests.length = 0;
    const { tokens } = provider({ now: c.now, grant: { type: 'refresh_token', refreshToken: issuedRefresh } });
    await tokens.getToken();
    c.advance(600_000);
    await tokens.getToken();
    const presented = server.requests.map((r) => r.params['refresh_token']);
    expect(presented[0]).toBe(issuedRefresh);
    expect(presented[1]).toMatch(/^rt-/);
    expect(presented[1]).not.toBe(issuedRefresh);
  });
});

/** Gets a refresh token by doing a password grant by hand. */
async function refreshTokenFromServer(): Promise<string> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=password&username=alice&password=wonder+land&client_id=client-id&client_secret=client-secret',
  });
  return ((await res.json()) as { refresh_token: string }).refresh_token;
}

describe('request shape', () => {
  it('form body with scope, audience, repeated resource and extra params', async () => {
    const { tokens } = provider({
      scope: ['read_payment', 'refund_payment'],
      audience: 'https://api.example.com',
      resource: ['https://a.example.com/', 'https://b.example.com/'],
      extraParams: { tenant: 'acme' },
    });
    await tokens.getToken();
    const req = server.requests[0]!;
    expect(req.contentType).toBe('application/x-www-form-urlencoded');
    expect(req.client).toEqual({ id: 'client-id', secret: 'client-secret', via: 'basic' });
    expect(req.params).toEqual({
      grant_type: 'client_credentials',
      scope: 'read_payment refund_payment',
      audience: 'https://api.example.com',
      resource: ['https://a.example.com/', 'https://b.example.com/'],
      tenant: 'acme',
    });
    expect(req.headers['accept']).toBe('application/json');
  });

  it('JSON body with client_secret_post (Bindeo style)', async () => {
    const { tokens } = provider({ bodyFormat: 'json', clientAuthMethod: 'client_secret_post' });
    await tokens.getToken();
    const req = server.requests[0]!;
    expect(req.contentType).toBe('application/json');
    expect(JSON.parse(req.raw)).toEqual({
      grant_type: 'client_credentials',
      client_id: 'client-id',
      client_secret: 'client-secret',
    });
    expect(req.headers.authorization).toBeUndefined();
  });
});

describe('invalidate', () => {
  it('drops the cached token only if it is still the cached one', async () => {
    const { tokens, events } = provider();
    const t1 = await tokens.getToken();
    await tokens.invalidate(t1.accessToken);
    const t2 = await tokens.getToken();
    expect(t2.accessToken).not.toBe(t1.accessToken);
    await tokens.invalidate(t1.accessToken); // a late 401 for the old token
    expect((await tokens.getToken()).accessToken).toBe(t2.accessToken);
    expect(server.count).toBe(2);
    expect(events.filter((e) => e.type === 'invalidate').map((e) => (e as { dropped: boolean }).dropped)).toEqual([
      true,
      false,
    ]);
  });
});

describe('an API that rejects every token', () => {
  it('drops a rejected token, but keeps its replacement for 10 s if that is rejected too: no token request per 401', async () => {
    const c = clock();
    const { tokens, events } = provider({ now: c.now });
    const t1 = await tokens.getToken();
    expect(await tokens.invalidate(t1.accessToken)).toBe(true);
    const t2 = await tokens.getToken();
    for (let i = 0; i < 50; i++) expect(await tokens.invalidate(t2.accessToken)).toBe(false);
    expect((await tokens.getToken()).accessToken).toBe(t2.accessToken);
    expect(server.count).toBe(2);
    c.advance(10_000);
    expect(await tokens.invalidate(t2.accessToken)).toBe(true);
    expect((await tokens.getToken()).accessToken).not.toBe(t2.accessToken);
    expect(server.count).toBe(3);
    expect(events.filter((e) => e.type === 'invalidate' && e.dropped)).toHaveLength(2);
  });
});

describe('store tier', () => {
  it('a second provider (a restarted process) takes the stored token without a token request', async () => {
    const store = memoryStore();
    const first = provider({ store });
    const t1 = await first.tokens.getToken();
    const second = provider({ store });
    const t2 = await second.tokens.getToken();
    expect(t2.accessToken).toBe(t1.accessToken);
    expect(server.count).toBe(1);
    expect(second.events.map((e) => e.type)).toEqual(['miss', 'store_hit']);
  });

  it('with a lock, two processes on a cold cache make one token request', async () => {
    const store = memoryStore();
    server.configure({ latencyMs: 80 });
    const a = provider({ store });
    const b = provider({ store });
    const [ta, tb] = await Promise.all([a.tokens.getToken(), b.tokens.getToken()]);
    expect(ta.accessToken).toBe(tb.accessToken);
    expect(server.count).toBe(1);
  });

  it('invalidate removes the token from the store too, so other processes drop it', async () => {
    const store = memoryStore();
    const a = provider({ store });
    const t1 = await a.tokens.getToken();
    await a.tokens.invalidate(t1.accessToken);
    const b = provider({ store });
    expect((await b.tokens.getToken()).accessToken).not.toBe(t1.accessToken);
    expect(server.count).toBe(2);
  });

  it('a store that throws or hangs is a miss: getToken() succeeds, one error event per outage', async () => {
    let mode: 'throw' | 'hang' | 'ok' = 'throw';
    const inner = memoryStore();
    const flaky: TokenStore = {
      get: (key) =>
        mode === 'throw'
          ? Promise.reject(new Error('ECONNREFUSED secret-ish'))
          : mode === 'hang'
            ? new Promise(() => {})
            : inner.get(key),
      set: (key, token, ttl) => (mode === 'ok' ? inner.set(key, token, ttl) : Promise.reject(new Error('down'))),
      delete: (key) => inner.delete(key),
    };
    const c = clock();
    const { tokens, events } = provider({ store: flaky, storeTimeoutMs: 50, now: c.now });
    const t1 = await tokens.getToken();
    await tokens.invalidate(t1.accessToken);
    mode = 'hang';
    const started = Date.now();
    await tokens.getToken();
    // storeTimeoutMs (50 ms) and a local fetch; a generous bound for a busy machine, far from hanging.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(events.filter((e) => e.type === 'error')).toHaveLength(1);
    expect(events.find((e) => e.type === 'error')).toMatchObject({ error: { code: 'store' } });
    mode = 'ok';
    const t3 = await tokens.getToken(); // memory hit: the store is not asked
    c.advance(10_000); // past the cooldown for dropping a replacement token
    await tokens.invalidate(t3.accessToken);
    await tokens.getToken();
    expect(events.filter((e) => e.type === 'store_recovered')).toHaveLength(1);
  });

  it('ignores a malformed stored value', async () => {
    const inner = memoryStore();
    const store: TokenStore = { ...inner, get: async () => ({ accessToken: 42 }) as never };
    const { tokens } = provider({ store });
    await expect(tokens.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
    expect(server.count).toBe(1);
  });
});

describe('cache key', () => {
  it('differs for every parameter that changes the token and never contains the secret', () => {
    const base = { tokenEndpoint: server.url, clientId: 'client-id', clientSecret: 'client-secret' };
    const keys = [
      createTokenProvider(base).key,
      createTokenProvider({ ...base, clientSecret: 'other' }).key,
      createTokenProvider({ ...base, scope: 'a' }).key,
      createTokenProvider({ ...base, scope: 'b' }).key,
      createTokenProvider({ ...base, audience: 'x' }).key,
      createTokenProvider({ ...base, resource: 'https://r.example/' }).key,
      createTokenProvider({ ...base, extraParams: { tenant: 't' } }).key,
      createTokenProvider({ ...base, clientId: 'other' }).key,
      createTokenProvider({ ...base, grant: { type: 'password', username: 'u1', password: 'p' } }).key,
      createTokenProvider({ ...base, grant: { type: 'password', username: 'u2', password: 'p' } }).key,
      createTokenProvider({ ...base, tokenEndpoint: server.url + '2' }).key,
    ];
    expect(keys[0]).toBe(keys[1]); // the secret does not change the token's identity
    expect(new Set(keys.slice(1)).size).toBe(keys.length - 1);
    expect(createTokenProvider({ ...base, scope: 'b a' }).key).toBe(
      createTokenProvider({ ...base, scope: ['a', 'b'] }).key,
    );
    for (const key of keys) expect(key).not.toContain('client-secret');
  });
});

describe('waiting', () => {
  it("the caller's signal ends its wait; the shared request goes on for others", async () => {
    server.configure({ latencyMs: 200 });
    const { tokens } = provider();
    const controller = new AbortController();
    const patient = tokens.getToken();
    const impatient = tokens.getToken({ signal: controller.signal });
    // Abort while the token request is at the server: its answer is 200 ms behind, a timer due later than our check.
    await waitFor(() => server.count === 1, { intervalMs: 1, what: 'the token request' });
    controller.abort(new Error('caller gave up'));
    await expect(impatient).rejects.toThrow('caller gave up');
    await expect(patient).resolves.toMatchObject({ tokenType: 'Bearer' });
    expect(server.count).toBe(1);
  });

  it('a per-call timeoutMs rejects with TokenEndpointError timeout', async () => {
    server.misbehave(() => ({ hang: true })); // only the 30 ms can end this wait
    const { tokens } = provider();
    await expect(tokens.getToken({ timeoutMs: 30 })).rejects.toMatchObject({
      name: 'TokenEndpointError',
      code: 'timeout',
    });
  });
});
