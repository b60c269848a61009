// What is particular to axios. Where the token goes, redirects, the caller's header, the 401 retry, streams, abort,
// timeout, cold-cache storms and tokens in errors are the shared adapter contract (contract.test.ts), on both releases.
import { inspect } from 'node:util';
import {
  authorizationsSince,
  rejectionOf,
  startAdapterServers,
  type ApiServer,
  type Recorder,
  type TokenServer,
} from '@tokenkit/test-utils';
import axios, {
  type AxiosAdapter,
  type AxiosError,
  type CreateAxiosDefaults,
  type InternalAxiosRequestConfig,
} from 'axios';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ConfigurationError,
  createTokenProvider,
  installTokenInterceptor,
  TokenEndpointError,
  type TokenProviderOptions,
} from './index.ts';

// Real servers: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let tokenServer: TokenServer, api: ApiServer, recorder: Recorder, close: () => Promise<void>;
beforeAll(async () => void ({ tokenServer, api, recorder, close } = await startAdapterServers()));
afterAll(() => close());
afterEach(() => tokenServer.misbehave(undefined));

function provider(overrides: Partial<TokenProviderOptions> = {}) {
  return createTokenProvider({
    tokenEndpoint: tokenServer.url,
    clientId: 'client-id',
    clientSecret: 'client-secret',
    ...overrides,
  } as TokenProviderOptions);
}

function client(
  options: Parameters<typeof installTokenInterceptor>[2] = {},
  tokens = provider(),
  defaults: CreateAxiosDefaults = {},
) {
  const http = axios.create({ baseURL: api.origin, ...defaults });
  const uninstall = installTokenInterceptor(http, tokens, options);
  return { http, tokens, uninstall };
}

const bearer = expect.stringMatching(/^Bearer at-/);

describe('installTokenInterceptor: the instance', () => {
  it('reads the base URL from the instance; without one it needs `origins`, and only HTTPS (or loopback) ones', () => {
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
    expect(error).toMatchObject({
      code: 'invalid_option',
      option: 'origins',
      message: expect.stringContaining('no base URL'),
    });
    expect(() => installTokenInterceptor(axios.create({ baseURL: 'http://api.example.com' }), tokens)).toThrow(
      /not HTTPS/,
    );
  });

  it("wraps the instance's own adapter, which sees every attempt as sent: the 401 and the retry", async () => {
    const seen: unknown[] = [];
    const http = axios.getAdapter('http');
    const recording: AxiosAdapter = (config) => {
      seen.push(config.headers.get('Authorization'));
      return http(config);
    };
    const { http: instance, tokens } = client({}, provider(), { adapter: recording });
    await instance.get('/ok');
    const stale = tokens.cachedAuthorizationHeader()!;
    tokenServer.revoke(stale.slice('Bearer '.length));
    const answers: number[] = [];
    instance.interceptors.response.use((response) => (answers.push(response.status), response));
    expect((await instance.get('/payments')).status).toBe(200);
    expect(seen).toEqual([stale, stale, bearer]);
    expect(seen[2]).not.toBe(stale);
    expect(answers).toEqual([200]); // response interceptors see only the final answer
  });

  it('a request with an `adapter` of its own bypasses the wrapped transport: it goes without the token', async () => {
    const { http } = client();
    const from = api.requests.length;
    const error = await rejectionOf(http.get('/payments', { adapter: 'http' }));
    expect((error as AxiosError).response?.status).toBe(401);
    expect(authorizationsSince(api, from)).toEqual([undefined]);
  });

  it('uninstall puts the adapter back and removes the interceptor; requests then go without the token', async () => {
    const own: AxiosAdapter = axios.getAdapter('http');
    const { http, uninstall } = client({}, provider(), { adapter: own });
    expect(http.defaults.adapter).not.toBe(own);
    await http.get('/ok');
    uninstall();
    expect(http.defaults.adapter).toBe(own);
    let interceptors = 0;
    (http.interceptors.response as unknown as { forEach(count: () => void): void }).forEach(() => interceptors++);
    expect(interceptors).toBe(0);
    const error = await rejectionOf(http.get('/ok'));
    expect((error as AxiosError).response?.status).toBe(401);
    expect(api.requests.at(-1)?.authorization).toBeUndefined();
    const bare = axios.create({ baseURL: api.origin });
    const before = bare.defaults.adapter;
    installTokenInterceptor(bare, provider())();
    expect(bare.defaults.adapter).toBe(before);
  });
});

describe('installTokenInterceptor: redirects (follow-redirects)', () => {
  it("the caller's own beforeRedirect still runs, after ours, and sees each hop as it is sent", async () => {
    const seen: [string, unknown][] = [];
    const beforeRedirect = (options: Record<string, unknown>) => {
      const headers = options['headers'] as Record<string, unknown>;
      seen.push([String(options['href']), headers['Authorization']]);
    };
    const { http } = client({}, provider(), { beforeRedirect });
    await http.get('/redirect', { params: { to: `${recorder.origin}/landing` } });
    await http.get('/redirect', { params: { to: '/home' } });
    expect(seen).toEqual([
      [`${recorder.origin}/landing`, undefined],
      [`${api.origin}/home`, bearer],
    ]);
    expect(http.defaults.beforeRedirect).toBe(beforeRedirect); // only each request's copy is wrapped
  });

  it('a redirect to another origin the client was made for carries the token, which follow-redirects would drop', async () => {
    const { http } = client({ origins: [recorder.origin] });
    const from = recorder.count;
    await http.get('/redirect', { params: { to: `${recorder.origin}/files` } });
    expect(recorder.authorizations.slice(from)).toEqual([bearer]);
  });
});

describe('installTokenInterceptor: errors', () => {
  it('a failed request holds no token, and re-sending error.config (as axios-retry does) gets a fresh header', async () => {
    const { http, tokens } = client();
    const token = (await tokens.getToken()).accessToken;
    const error = (await rejectionOf(http.get('/status/503'))) as AxiosError;
    expect(error.response?.status).toBe(503);
    expect(api.requests.at(-1)?.authorization).toBe(`Bearer ${token}`);
    expect(inspect(error, { depth: 6 })).not.toContain(token);
    expect(error.config?.headers.get('Authorization')).toBeUndefined();
    tokenServer.revoke(token);
    const from = api.requests.length;
    const again = await http.request({ ...error.config!, url: '/ok' });
    expect(again.status).toBe(200);
    expect(authorizationsSince(api, from)).toEqual([`Bearer ${token}`, bearer]);
  });

  it('an error axios raises after the transport (a response transform that fails) holds no token either', async () => {
    const { http, tokens } = client();
    const token = (await tokens.getToken()).accessToken;
    // As axios's own JSON transform does when parsing fails: the error keeps the answer, and the answer its request.
    const failing = function (this: InternalAxiosRequestConfig & { response?: unknown }) {
      throw Object.assign(new Error('cannot read the answer'), { response: this.response });
    };
    const error = await rejectionOf(http.get('/ok', { transformResponse: [failing] }));
    expect(error).toMatchObject({ message: 'cannot read the answer', response: { status: 200 } });
    expect(inspect(error, { depth: Infinity })).not.toContain(token);
  });

  it("the request's signal ends the wait for a token with axios's CanceledError", async () => {
    tokenServer.misbehave(() => ({ hang: true }));
    const { http } = client({}, provider({ timeoutMs: 30_000, maxRetries: 0 }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await rejectionOf(http.get('/payments', { signal: controller.signal }));
    expect(axios.isCancel(error)).toBe(true);
    expect(error).toMatchObject({ code: 'ERR_CANCELED', name: 'CanceledError', message: 'canceled' });
  });

  it("the request's timeout bounds the wait for a token: a TokenEndpointError `timeout`", async () => {
    tokenServer.misbehave(() => ({ hang: true }));
    const { http } = client({}, provider({ timeoutMs: 30_000, maxRetries: 0 }));
    const error = await rejectionOf(http.get('/payments', { timeout: 100 }));
    expect(error).toBeInstanceOf(TokenEndpointError);
    expect(error).toMatchObject({ code: 'timeout', message: 'no access token within 100 ms' });
  });
});
