import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { startAdapterServers, startApi, startTokenServer, type ApiServer, type Recorder, type TokenServer } from '@tokenkit/test-utils';
import axios, { AxiosError } from 'axios';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ConfigurationError,
  createTokenProvider,
  findTokenKitError,
  installTokenInterceptor,
  isOAuthError,
  OAuthError,
  TokenEndpointError,
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

function client(options: Parameters<typeof installTokenInterceptor>[2] = {}, tokens = provider()) {
  const http = axios.create({ baseURL: api.origin });
  const uninstall = installTokenInterceptor(http, tokens, options);
  return { http, tokens, uninstall };
}

/** Requests the API received since `from`. */
const since = (from: number) => api.requests.slice(from);
const rejection = (promise: Promise<unknown>) => promise.then(() => expect.fail('expected a rejection'), (error: unknown) => error);

describe('installTokenInterceptor: where the token goes', () => {
  it('sends a token from the provider to the base URL and reuses it', async () => {
    const { http } = client();
    const from = api.requests.length;
    const tokenRequests = tokenServer.count;
    const first = await http.get('/payments');
    const second = await http.post('/payments', { amount: 5 });
    expect(first.status).toBe(200);
    expect(second.data).toMatchObject({ ok: true, method: 'POST', body: '{"amount":5}' });
    const [a, b] = since(from);
    expect(a?.authorization).toMatch(/^Bearer at-/);
    expect(b?.authorization).toBe(a?.authorization);
    expect(tokenServer.count - tokenRequests).toBe(1);
  });

  it('sends no token to an absolute URL of another origin, nor to a per-request baseURL elsewhere', async () => {
    const { http } = client();
    const from = recorder.count;
    await http.get(`${recorder.origin}/elsewhere`);
    await http.get('/elsewhere', { baseURL: recorder.origin });
    await http.get(`${api.origin}/ok`, { baseURL: recorder.origin, allowAbsoluteUrls: true });
    expect(recorder.authorizations.slice(from)).toEqual([undefined, undefined]);
    expect(api.requests.at(-1)?.authorization).toMatch(/^Bearer /);
  });

  it('sends the token to an origin listed in `origins`', async () => {
    const { http } = client({ origins: [recorder.origin] });
    const from = recorder.count;
    await http.get(`${recorder.origin}/files/1`);
    expect(recorder.authorizations.slice(from)).toEqual([expect.stringMatching(/^Bearer at-/)]);
  });

  it('works without a baseURL when `origins` is given, and refuses to guess when neither is', () => {
    const tokens = provider();
    expect(() => installTokenInterceptor(axios.create(), tokens, { origins: [api.origin] })).not.toThrow();
    const error = (() => {
      try {
        installTokenInterceptor(axios.create(), tokens);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ code: 'invalid_option', option: 'origins', message: expect.stringContaining('no base URL') });
    expect(() => installTokenInterceptor(axios.create({ baseURL: 'http://api.example.com' }), tokens)).toThrow(/not HTTPS/);
  });

  it('drops the token on a redirect to another origin and keeps it on a same-origin redirect', async () => {
    const seen: string[] = [];
    const http = axios.create({ baseURL: api.origin, beforeRedirect: (options) => void seen.push(String(options['href'])) });
    installTokenInterceptor(http, provider());
    const from = recorder.count;
    const away = await http.get('/redirect', { params: { to: `${recorder.origin}/landing` } });
    expect(away.data).toEqual({ recorded: true });
    expect(recorder.authorizations.slice(from)).toEqual([undefined]);

    const apiFrom = api.requests.length;
    const home = await http.get('/redirect', { params: { to: '/home' } });
    expect(home.data).toMatchObject({ ok: true, path: '/home' });
    const [hop1, hop2] = since(apiFrom);
    expect(hop2?.authorization).toBe(hop1?.authorization);
    expect(hop2?.authorization).toMatch(/^Bearer /);
    // The caller's own beforeRedirect still runs, after ours.
    expect(seen).toEqual([`${recorder.origin}/landing`, `${api.origin}/home`]);
  });

  it('drops the token on a redirect to a subdomain of the API host', async () => {
    // follow-redirects keeps Authorization for subdomains; sub.localhost is not an allowed origin.
    const port = new URL(api.origin).port;
    const http = axios.create({ baseURL: `http://localhost:${port}`, lookup: async () => ({ address: '127.0.0.1', family: 4 }) });
    installTokenInterceptor(http, provider());
    const from = api.requests.length;
    await http.get('/redirect', { params: { to: `http://sub.localhost:${port}/public` } });
    const [hop1, hop2] = since(from);
    expect(hop1?.authorization).toMatch(/^Bearer /);
    expect(hop2).toMatchObject({ path: '/public', authorization: undefined });
  });

  it('its redirect hook drops our token for a target that is not allowed, also where axios would keep it', async () => {
    // axios 1.21 already drops Authorization on a cross-origin redirect; older 1.x and
    // follow-redirects keep it for a subdomain. Call the hook the request carried directly.
    const { http, tokens } = client();
    const res = await http.get('/ok');
    const hook = res.config.beforeRedirect!;
    expect(http.defaults.beforeRedirect).toBe(hook);
    const token = await tokens.authorizationHeader();
    const hop = (href: string, authorization = token) => {
      const options = { href, headers: { Accept: 'application/json', Authorization: authorization } };
      hook(options, { headers: {}, statusCode: 302 }, { headers: {}, url: `${api.origin}/ok`, method: 'GET' });
      return options.headers;
    };
    expect(hop(`http://sub.${new URL(api.origin).host}/x`)).toEqual({ Accept: 'application/json' });
    expect(hop(`${recorder.origin}/x`)).toEqual({ Accept: 'application/json' });
    expect(hop(`${api.origin}/elsewhere`)).toEqual({ Accept: 'application/json', Authorization: token });
    // A header that is not ours is the caller's business.
    expect(hop(`${recorder.origin}/x`, 'Bearer callers-own')).toEqual({ Accept: 'application/json', Authorization: 'Bearer callers-own' });
  });

  it('uninstall restores the instance: no interceptors, its own beforeRedirect back', async () => {
    const own = () => {};
    const http = axios.create({ baseURL: api.origin, beforeRedirect: own });
    const uninstall = installTokenInterceptor(http, provider());
    expect(http.defaults.beforeRedirect).not.toBe(own);
    uninstall();
    expect(http.defaults.beforeRedirect).toBe(own);
    const bare = axios.create({ baseURL: api.origin });
    installTokenInterceptor(bare, provider())();
    expect('beforeRedirect' in bare.defaults).toBe(false);
  });

  it('never touches an Authorization header the caller set', async () => {
    const { http } = client();
    const from = api.requests.length;
    const tokenRequests = tokenServer.count;
    const error = await rejection(http.get('/payments', { headers: { Authorization: 'Bearer callers-own' } }));
    expect(error).toBeInstanceOf(AxiosError);
    expect((error as AxiosError).response?.status).toBe(401);
    expect(since(from).map((r) => r.authorization)).toEqual(['Bearer callers-own']); // and no retry
    expect(tokenServer.count).toBe(tokenRequests);
  });

  it('stops when uninstalled', async () => {
    const { http, uninstall } = client();
    await http.get('/ok');
    uninstall();
    const error = await rejection(http.get('/ok'));
    expect((error as AxiosError).response?.status).toBe(401);
    expect(api.requests.at(-1)?.authorization).toBeUndefined();
  });
});

describe('installTokenInterceptor: 401 answers', () => {
  it('drops a rejected token and retries once with a fresh one, body and all', async () => {
    const { http, tokens } = client();
    const stale = (await tokens.getToken()).accessToken;
    tokenServer.revoke(stale);
    const from = api.requests.length;
    const res = await http.post('/payments', { amount: 7 });
    expect(res.data).toMatchObject({ ok: true, body: '{"amount":7}' });
    const [first, second] = since(from);
    expect(first?.authorization).toBe(`Bearer ${stale}`);
    expect(second?.authorization).toMatch(/^Bearer at-/);
    expect(second?.authorization).not.toBe(first?.authorization);
    expect(second?.body).toBe('{"amount":7}');
  });

  it('retries at most once: an API that always answers 401 gets exactly two requests', async () => {
    const denying = await startApi({ isValid: () => false });
    try {
      const http = axios.create({ baseURL: denying.origin });
      installTokenInterceptor(http, provider());
      const error = await rejection(http.get('/payments'));
      expect(error).toBeInstanceOf(AxiosError);
      expect((error as AxiosError).response?.status).toBe(401);
      expect(denying.requests).toHaveLength(2);
      expect(denying.requests[0]?.authorization).not.toBe(denying.requests[1]?.authorization);
    } finally {
      await denying.close();
    }
  });

  it('retries when validateStatus lets the 401 through as a response', async () => {
    const { http, tokens } = client();
    tokenServer.revoke((await tokens.getToken()).accessToken);
    const from = api.requests.length;
    const res = await http.get('/payments', { validateStatus: () => true });
    expect(res.status).toBe(200);
    expect(since(from)).toHaveLength(2);
  });

  it('does not retry a request whose body was a stream', async () => {
    const { http, tokens } = client();
    tokenServer.revoke((await tokens.getToken()).accessToken);
    const from = api.requests.length;
    const error = await rejection(http.post('/upload', Readable.from(['chunk']), { headers: { 'content-type': 'text/plain' } }));
    expect((error as AxiosError).response?.status).toBe(401);
    expect(since(from)).toHaveLength(1);
  });

  it('keeps the token out of a failed request\'s util.inspect and JSON, and a re-send of error.config gets a fresh header', async () => {
    const { http, tokens } = client();
    const token = (await tokens.getToken()).accessToken;
    const error = (await rejection(http.get('/status/503'))) as AxiosError;
    expect(error.response?.status).toBe(503);
    expect(api.requests.at(-1)?.authorization).toBe(`Bearer ${token}`);
    const shown = inspect(error, { depth: 6 });
    expect(shown).toContain('[REDACTED]');
    expect(shown).toContain('Request failed with status code 503');
    expect(shown).not.toContain(token);
    expect(JSON.stringify(error)).not.toContain(token);
    // What axios-retry and similar do: re-send the error's config through the instance.
    tokenServer.revoke(token);
    const from = api.requests.length;
    const again = await http.request({ ...error.config!, url: '/ok' });
    expect(again.status).toBe(200);
    expect(since(from).map((r) => r.authorization)).toEqual([`Bearer ${token}`, expect.stringMatching(/^Bearer at-/)]);
  });

  it('does not retry with retryOn401: false', async () => {
    const { http, tokens } = client({ retryOn401: false });
    tokenServer.revoke((await tokens.getToken()).accessToken);
    const from = api.requests.length;
    const error = await rejection(http.get('/payments'));
    expect((error as AxiosError).response?.status).toBe(401);
    expect(since(from)).toHaveLength(1);
  });
});

describe('installTokenInterceptor: token failures, abort and timeout', () => {
  it('rejects with the OAuthError and shows no secret', async () => {
    const secret = 'sk-live-Zq8dV1TOKENKIT-distinctive';
    tokenServer.misbehave(() => ({ status: 400, body: { error: 'invalid_client', error_description: 'unknown client' } }));
    const { http } = client({}, provider({ clientSecret: secret }));
    const from = api.requests.length;
    const error = await rejection(http.get('/payments'));
    expect(error).toBeInstanceOf(OAuthError);
    const found = findTokenKitError(error);
    expect(isOAuthError(found)).toBe(true);
    expect(found).toMatchObject({ code: 'oauth_error', error: 'invalid_client', status: 400, message: 'token endpoint answered 400 invalid_client: unknown client' });
    expect(String(error)).not.toContain(secret);
    expect(inspect(error, { depth: 10 })).not.toContain(secret);
    expect(JSON.stringify(error)).not.toContain(secret);
    expect(since(from)).toHaveLength(0);
  });

  it("the request's signal ends the wait for a token with axios's CanceledError", async () => {
    tokenServer.misbehave(() => ({ hang: true }));
    const { http } = client({}, provider({ timeoutMs: 30_000, maxRetries: 0 }));
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(), 50);
    const error = await rejection(http.get('/payments', { signal: controller.signal }));
    // The abort, not the provider's 30 s, ended it; generous for a busy machine.
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(axios.isCancel(error)).toBe(true);
    expect(error).toMatchObject({ code: 'ERR_CANCELED', name: 'CanceledError', message: 'canceled' });
  });

  it("the request's timeout bounds the wait for a token", async () => {
    tokenServer.misbehave(() => ({ hang: true }));
    const { http } = client({}, provider({ timeoutMs: 30_000, maxRetries: 0 }));
    const started = performance.now();
    const error = await rejection(http.get('/payments', { timeout: 100 }));
    // The 100 ms, not the provider's 30 s, ended it; generous for a busy machine.
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(error).toBeInstanceOf(TokenEndpointError);
    expect(error).toMatchObject({ code: 'timeout', message: 'no access token within 100 ms' });
  });
});

describe('installTokenInterceptor: token lifetime', () => {
  it('fetches a new token once the cached one expires, and a failure then reaches the caller (no stray rejection)', async () => {
    let clock = Date.now();
    const { http } = client({}, provider({ now: () => clock }));
    const tokenRequests = tokenServer.count;
    await http.get('/ok');
    await http.get('/ok'); // served from the cache
    expect(tokenServer.count - tokenRequests).toBe(1);
    clock += 3_600_000; // past expiry
    await http.get('/ok');
    expect(tokenServer.count - tokenRequests).toBe(2);
    expect(api.requests.at(-1)?.authorization).not.toBe(api.requests.at(-2)?.authorization);

    clock += 3_600_000;
    tokenServer.misbehave(() => ({ status: 400, body: { error: 'invalid_client' } }));
    const error = await rejection(http.get('/ok'));
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({ code: 'oauth_error', error: 'invalid_client' });
  });
});

describe('installTokenInterceptor: concurrency', () => {
  it('100 concurrent requests on a cold cache make exactly one token request', async () => {
    const fresh = await startTokenServer({ latencyMs: 20 });
    const guarded = await startApi({ isValid: (token) => fresh.isValid(token) });
    try {
      const http = axios.create({ baseURL: guarded.origin });
      installTokenInterceptor(http, createTokenProvider({ tokenEndpoint: fresh.url, clientId: 'client-id', clientSecret: 'client-secret' }));
      const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => http.get(`/item/${i}`)));
      expect(answers.every((res) => res.status === 200)).toBe(true);
      expect(fresh.count).toBe(1);
      expect(new Set(guarded.requests.map((r) => r.authorization)).size).toBe(1);
    } finally {
      await Promise.all([fresh.close(), guarded.close()]);
    }
  });
});
