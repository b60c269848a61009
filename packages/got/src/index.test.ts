import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { startAdapterServers, startApi, startTokenServer, type ApiServer, type Recorder, type TokenServer } from '@tokenkit/test-utils';
import got, { HTTPError, Options, RequestError, type NormalizedOptions } from 'got';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ConfigurationError,
  createTokenProvider,
  findTokenKitError,
  isOAuthError,
  isTokenEndpointError,
  tokenHooks,
  type TokenHooksOptions,
  type TokenProviderOptions,
} from './index.ts';

// Real servers and up to 100 concurrent requests: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let tokenServer: TokenServer, api: ApiServer, recorder: Recorder, close: () => Promise<void>;
beforeAll(async () => void ({ tokenServer, api, recorder, close } = await startAdapterServers()));
afterAll(() => close());
afterEach(() => tokenServer.misbehave(undefined));

function provider(overrides: Partial<TokenProviderOptions> = {}) {
  return createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: 'client-id', clientSecret: 'client-secret', ...overrides } as TokenProviderOptions);
}

function client(options: TokenHooksOptions = {}, tokens = provider()) {
  return { http: got.extend({ prefixUrl: api.origin, hooks: tokenHooks(tokens, options) }), tokens };
}

/** Requests the API received since `from`. */
const since = (from: number) => api.requests.slice(from);
const rejection = (promise: Promise<unknown>) => promise.then(() => expect.fail('expected a rejection'), (error: unknown) => error);

describe('tokenHooks: where the token goes', () => {
  it('sends a token from the provider to the prefixUrl and reuses it', async () => {
    const { http } = client();
    const from = api.requests.length;
    const tokenRequests = tokenServer.count;
    const first = await http.get('payments').json();
    const second = await http.post('payments', { json: { amount: 5 } }).json();
    expect(first).toMatchObject({ ok: true, path: '/payments' });
    expect(second).toMatchObject({ ok: true, method: 'POST', body: '{"amount":5}' });
    const [a, b] = since(from);
    expect(a?.authorization).toMatch(/^Bearer at-/);
    expect(b?.authorization).toBe(a?.authorization);
    expect(tokenServer.count - tokenRequests).toBe(1);
  });

  it('sends no token to an absolute URL of another origin', async () => {
    const { http } = client();
    const from = recorder.count;
    await http.get(`${recorder.origin}/elsewhere`);
    await http.get(new URL('/elsewhere', recorder.origin));
    expect(recorder.authorizations.slice(from)).toEqual([undefined, undefined]);
  });

  it('sends the token to an origin listed in `origins`', async () => {
    const { http } = client({ origins: [recorder.origin] });
    const from = recorder.count;
    await http.get(`${recorder.origin}/files/1`);
    expect(recorder.authorizations.slice(from)).toEqual([expect.stringMatching(/^Bearer at-/)]);
  });

  it('keeps one authorizer per prefixUrl when the same hooks serve two instances', async () => {
    const hooks = tokenHooks(provider());
    const apiClient = got.extend({ prefixUrl: api.origin, hooks });
    const recorderClient = got.extend({ prefixUrl: recorder.origin, hooks });
    const from = recorder.count;
    await recorderClient.get('own-base'); // its own prefixUrl: allowed
    await apiClient.get(`${recorder.origin}/not-for-you`); // another instance's base: not allowed
    expect(recorder.authorizations.slice(from)).toEqual([expect.stringMatching(/^Bearer /), undefined]);
    expect((await apiClient.get('ok').json<{ ok: boolean }>()).ok).toBe(true);
  });

  it('works without a prefixUrl when `origins` is given, and fails requests when neither is', async () => {
    const tokens = provider();
    const withOrigins = got.extend({ hooks: tokenHooks(tokens, { origins: [api.origin] }) });
    expect((await withOrigins.get(`${api.origin}/ok`).json<{ ok: boolean }>()).ok).toBe(true);

    const neither = got.extend({ hooks: tokenHooks(tokens) });
    const error = await rejection(neither.get(`${api.origin}/ok`));
    expect(error).toBeInstanceOf(RequestError);
    const cause = findTokenKitError(error);
    expect(cause).toBeInstanceOf(ConfigurationError);
    expect(cause).toMatchObject({ code: 'invalid_option', option: 'origins', message: expect.stringContaining('no base URL') });
    // Bad origins are reported at once.
    expect(() => tokenHooks(tokens, { origins: ['http://api.example.com'] })).toThrow(ConfigurationError);
    expect(() => tokenHooks(tokens, { origins: ['http://api.example.com'] })).toThrow(/not HTTPS/);
  });

  it('drops the token on a redirect to another origin, even an allowed one, and keeps it on a same-origin hop', async () => {
    const { http } = client();
    let from = recorder.count;
    const away = await http.get('redirect', { searchParams: { to: `${recorder.origin}/landing` } }).json();
    expect(away).toEqual({ recorded: true });
    expect(recorder.authorizations.slice(from)).toEqual([undefined]);

    const { http: withRecorder } = client({ origins: [recorder.origin] });
    from = recorder.count;
    await withRecorder.get('redirect', { searchParams: { to: `${recorder.origin}/allowed` } });
    await withRecorder.get(`${recorder.origin}/direct`);
    // Sent when asked for directly, not when the API redirects there.
    expect(recorder.authorizations.slice(from)).toEqual([undefined, expect.stringMatching(/^Bearer at-/)]);

    const apiFrom = api.requests.length;
    const home = await http.get('redirect', { searchParams: { to: '/home' } }).json();
    expect(home).toMatchObject({ ok: true, path: '/home' });
    const [hop1, hop2] = since(apiFrom);
    expect(hop1?.authorization).toMatch(/^Bearer /);
    expect(hop2?.authorization).toBe(hop1?.authorization);
  });

  it('puts no token on a redirect hop when the first request went without one', async () => {
    const other = await startApi();
    try {
      const { http } = client();
      const from = api.requests.length;
      const error = await rejection(http.get(`${other.origin}/redirect`, { searchParams: { to: `${api.origin}/payments` } }));
      expect((error as HTTPError).response.statusCode).toBe(401); // and no 401 retry: the token never went out
      expect(other.requests.map((r) => r.authorization)).toEqual([undefined]);
      expect(since(from).map((r) => r.authorization)).toEqual([undefined]);
    } finally {
      await other.close();
    }
  });

  it("keeps the token on got's own retries", async () => {
    const { http } = client();
    const from = api.requests.length;
    const error = await rejection(http.get('status/503', { retry: { limit: 1, calculateDelay: ({ computedValue }) => (computedValue > 0 ? 1 : 0) } }));
    expect((error as HTTPError).response.statusCode).toBe(503);
    const sent = since(from).map((r) => r.authorization);
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatch(/^Bearer at-/);
    expect(sent[1]).toBe(sent[0]);
  });

  it('checks each hop: a header it set is removed when a hop goes where the token may not', async () => {
    // got 16 already strips Authorization on a cross-origin redirect; this drives the
    // hook as got does on a hop that kept the header (older got, or a hook-changed URL).
    const [beforeRequest] = tokenHooks(provider()).beforeRequest;
    const options = new Options('payments', { prefixUrl: api.origin }) as unknown as NormalizedOptions;
    await beforeRequest!(options, { retryCount: 0 });
    expect(options.headers['authorization']).toMatch(/^Bearer at-/);
    options.url = `${api.origin}/next-hop`;
    await beforeRequest!(options, { retryCount: 0 });
    expect(options.headers['authorization']).toMatch(/^Bearer at-/);
    options.url = `${recorder.origin}/next-hop`;
    await beforeRequest!(options, { retryCount: 0 });
    expect('authorization' in options.headers).toBe(false);
  });

  it("never touches an authorization header the caller set, nor the caller's `undefined` (send none)", async () => {
    const { http } = client();
    const from = api.requests.length;
    const tokenRequests = tokenServer.count;
    const error = await rejection(http.get('payments', { headers: { authorization: 'Bearer callers-own' } }));
    expect(error).toBeInstanceOf(HTTPError);
    expect((error as HTTPError).response.statusCode).toBe(401);
    const none = await http.get('public', { headers: { authorization: undefined } }).json();
    expect(none).toMatchObject({ ok: true, path: '/public' });
    expect(since(from).map((r) => r.authorization)).toEqual(['Bearer callers-own', undefined]); // and no retry
    expect(tokenServer.count).toBe(tokenRequests);
  });
});

describe('tokenHooks: 401 answers', () => {
  it('drops a rejected token and retries once with a fresh one, body and all', async () => {
    const { http, tokens } = client();
    const stale = (await tokens.getToken()).accessToken;
    tokenServer.revoke(stale);
    const from = api.requests.length;
    const body = await http.post('payments', { json: { amount: 7 } }).json();
    expect(body).toMatchObject({ ok: true, body: '{"amount":7}' });
    const [first, second] = since(from);
    expect(first?.authorization).toBe(`Bearer ${stale}`);
    expect(second?.authorization).toMatch(/^Bearer at-/);
    expect(second?.authorization).not.toBe(first?.authorization);
    expect(second?.body).toBe('{"amount":7}');
  });

  it('retries at most once: an API that always answers 401 gets exactly two requests', async () => {
    const denying = await startApi({ isValid: () => false });
    try {
      const http = got.extend({ prefixUrl: denying.origin, hooks: tokenHooks(provider()) });
      const error = await rejection(http.get('payments'));
      expect(error).toBeInstanceOf(HTTPError);
      expect((error as HTTPError).response.statusCode).toBe(401);
      expect(denying.requests).toHaveLength(2);
      expect(denying.requests[0]?.authorization).not.toBe(denying.requests[1]?.authorization);
      const shown = inspect(error, { depth: 8 }) + JSON.stringify(error);
      for (const request of denying.requests) expect(shown).not.toContain(request.authorization!.slice(7));
    } finally {
      await denying.close();
    }
  });

  it('runs afterResponse hooks added after ours on the retried response', async () => {
    const { http, tokens } = client();
    tokenServer.revoke((await tokens.getToken()).accessToken);
    const seen: number[] = [];
    const logged = http.extend({ hooks: { afterResponse: [(response) => (seen.push(response.statusCode), response)] } });
    const res = await logged.get('payments');
    expect(res.statusCode).toBe(200);
    expect(seen).toEqual([200]);
  });

  it('does not retry a request whose body is a stream', async () => {
    const { http, tokens } = client();
    tokenServer.revoke((await tokens.getToken()).accessToken);
    const from = api.requests.length;
    const error = await rejection(http.post('upload', { body: Readable.from(['chunk']), headers: { 'content-type': 'text/plain' } }));
    expect(error).toBeInstanceOf(HTTPError);
    expect((error as HTTPError).response.statusCode).toBe(401);
    expect(since(from)).toHaveLength(1);
  });

  it('does not retry with retryOn401: false (and adds no afterResponse hook)', async () => {
    expect(tokenHooks(provider(), { retryOn401: false }).afterResponse).toEqual([]);
    const { http, tokens } = client({ retryOn401: false });
    tokenServer.revoke((await tokens.getToken()).accessToken);
    const from = api.requests.length;
    const error = await rejection(http.get('payments'));
    expect((error as HTTPError).response.statusCode).toBe(401);
    expect(since(from)).toHaveLength(1);
  });

  it("keeps the token out of a failed request's util.inspect and JSON", async () => {
    const { http, tokens } = client();
    const token = (await tokens.getToken()).accessToken;
    const error = (await rejection(http.get('status/503', { retry: { limit: 0 } }))) as HTTPError;
    expect(error.response.statusCode).toBe(503);
    expect(api.requests.at(-1)?.authorization).toBe(`Bearer ${token}`);
    const shown = inspect(error, { depth: 8 });
    expect(shown).toContain('Request failed with status code 503');
    expect(shown).not.toContain(token);
    expect(JSON.stringify(error)).not.toContain(token);
  });
});

describe('tokenHooks: token failures, abort and timeout', () => {
  it("rejects with got's RequestError around the OAuthError and shows no secret", async () => {
    const secret = 'sk-live-Zq8dV1TOKENKIT-distinctive';
    tokenServer.misbehave(() => ({ status: 400, body: { error: 'invalid_client', error_description: 'unknown client' } }));
    const { http } = client({}, provider({ clientSecret: secret }));
    const from = api.requests.length;
    const error = await rejection(http.get('payments'));
    expect(error).toBeInstanceOf(RequestError);
    const found = findTokenKitError(error);
    expect(isOAuthError(found)).toBe(true);
    expect(found).toMatchObject({ code: 'oauth_error', error: 'invalid_client', status: 400, message: 'token endpoint answered 400 invalid_client: unknown client' });
    expect(error).toMatchObject({ code: 'oauth_error', message: 'token endpoint answered 400 invalid_client: unknown client' });
    expect(String(error)).not.toContain(secret);
    expect(inspect(error, { depth: 10 })).not.toContain(secret);
    expect(JSON.stringify(error)).not.toContain(secret);
    expect(since(from)).toHaveLength(0);
  });

  it("the request's signal ends the request and the hook's own wait for a token", async () => {
    tokenServer.misbehave(() => ({ hang: true }));
    const tokens = provider({ timeoutMs: 30_000, maxRetries: 0 });
    const { http } = client({}, tokens);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const started = performance.now();
    const error = await rejection(http.get('payments', { signal: controller.signal }));
    // The abort, not the provider's 30 s; generous for a busy machine (here and below).
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(error).toBeInstanceOf(RequestError);
    expect(error).toMatchObject({ name: 'AbortError', code: 'ERR_ABORTED' });

    // The hook itself stops waiting too, so nothing is left pending until the token request times out.
    const [beforeRequest] = tokenHooks(tokens).beforeRequest;
    const hookController = new AbortController();
    const options = new Options('payments', { prefixUrl: api.origin, signal: hookController.signal }) as unknown as NormalizedOptions;
    setTimeout(() => hookController.abort(), 50);
    const hookStarted = performance.now();
    const hookError = await rejection(Promise.resolve(beforeRequest!(options, { retryCount: 0 })));
    expect(performance.now() - hookStarted).toBeLessThan(10_000);
    expect(hookError).toMatchObject({ name: 'AbortError' });
  });

  it("an AbortSignal.timeout() ends the wait for a token", async () => {
    tokenServer.misbehave(() => ({ hang: true }));
    const { http } = client({}, provider({ timeoutMs: 30_000, maxRetries: 0 }));
    const from = api.requests.length;
    const started = performance.now();
    const error = await rejection(http.get('payments', { signal: AbortSignal.timeout(50) }));
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(error).toBeInstanceOf(RequestError);
    expect(error).toMatchObject({ name: 'TimeoutError', message: expect.stringMatching(/timed out|aborted/i) });
    expect(since(from)).toHaveLength(0);
  });

  it("the request's timeout.request bounds the wait for a token", async () => {
    tokenServer.misbehave(() => ({ hang: true }));
    const { http } = client({}, provider({ timeoutMs: 30_000, maxRetries: 0 }));
    const started = performance.now();
    const error = await rejection(http.get('payments', { timeout: { request: 100 }, retry: { limit: 0 } }));
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(error).toBeInstanceOf(RequestError);
    const found = findTokenKitError(error);
    expect(isTokenEndpointError(found)).toBe(true);
    expect(found).toMatchObject({ code: 'timeout', message: 'no access token within 100 ms' });
  });
});

describe('tokenHooks: token lifetime', () => {
  it('fetches a new token once the cached one expires, and a failure then reaches the caller (no stray rejection)', async () => {
    let clock = Date.now();
    const { http } = client({}, provider({ now: () => clock }));
    const tokenRequests = tokenServer.count;
    await http.get('ok');
    await http.get('ok'); // served from the cache
    expect(tokenServer.count - tokenRequests).toBe(1);
    clock += 3_600_000; // past expiry
    await http.get('ok');
    expect(tokenServer.count - tokenRequests).toBe(2);
    expect(api.requests.at(-1)?.authorization).not.toBe(api.requests.at(-2)?.authorization);

    clock += 3_600_000;
    tokenServer.misbehave(() => ({ status: 400, body: { error: 'invalid_client' } }));
    const error = await rejection(http.get('ok'));
    expect(error).toBeInstanceOf(RequestError);
    expect(findTokenKitError(error)).toMatchObject({ name: 'OAuthError', code: 'oauth_error', error: 'invalid_client' });
  });
});

describe('tokenHooks: concurrency', () => {
  it('100 concurrent requests on a cold cache make exactly one token request', async () => {
    const fresh = await startTokenServer({ latencyMs: 20 });
    const guarded = await startApi({ isValid: (token) => fresh.isValid(token) });
    try {
      const tokens = createTokenProvider({ tokenEndpoint: fresh.url, clientId: 'client-id', clientSecret: 'client-secret' });
      const http = got.extend({ prefixUrl: guarded.origin, hooks: tokenHooks(tokens) });
      const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => http.get(`item/${i}`)));
      expect(answers.every((res) => res.statusCode === 200)).toBe(true);
      expect(fresh.count).toBe(1);
      expect(new Set(guarded.requests.map((r) => r.authorization)).size).toBe(1);
    } finally {
      await Promise.all([fresh.close(), guarded.close()]);
    }
  });
});
