// The peer range is axios ^1.0.0. The same behaviours, on the oldest release of the range and on
// the current one, against real servers.
import { Agent, type AgentOptions } from 'node:http';
import { inspect } from 'node:util';
import { authorizationsSince, rejectionOf, startAdapterServers, startApi, type ApiServer, type Recorder, type TokenServer } from '@tokenkit/test-utils';
import axios from 'axios';
import axios10 from 'axios-1.0';
import type { AxiosInstance } from 'axios';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenProvider, findTokenKitError, installTokenInterceptor, isOAuthError, type TokenInterceptorOptions } from './index.ts';

// Real servers: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

/** What these tests use of an axios instance, the same in 1.0 and now. */
interface Response {
  status: number;
  data: unknown;
  config: { headers: Record<string, unknown> };
}
interface Instance {
  get(url: string, config?: Record<string, unknown>): Promise<Response>;
  post(url: string, data: unknown, config?: Record<string, unknown>): Promise<Response>;
}
interface AxiosLike {
  create(config: Record<string, unknown>): Instance;
  VERSION: string;
}

const releases: [string, AxiosLike][] = [
  ['axios 1.0.0', axios10 as unknown as AxiosLike],
  ['axios (current)', axios as unknown as AxiosLike],
];

let tokenServer: TokenServer, api: ApiServer, recorder: Recorder, close: () => Promise<void>;
beforeAll(async () => void ({ tokenServer, api, recorder, close } = await startAdapterServers()));
afterAll(() => close());

const provider = (clientSecret = 'client-secret') => createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: 'client-id', clientSecret });
const sentSince = (from: number) => authorizationsSince(api, from);
const statusOf = (error: unknown) => (error as { response?: Response }).response?.status;

describe.each(releases)('installTokenInterceptor on %s', (name, lib) => {
  /** An instance of this release with the interceptor installed. */
  const client = (options: TokenInterceptorOptions = {}, tokens = provider(), baseURL = api.origin) => {
    const http = lib.create({ baseURL });
    installTokenInterceptor(http as unknown as AxiosInstance, tokens, options);
    return http;
  };

  it('is the release it claims to be', () => {
    expect(lib.VERSION).toBe(name === 'axios 1.0.0' ? '1.0.0' : axios.VERSION);
  });

  it('sends the token to the baseURL, reuses it, and sends none to an absolute URL of another origin', async () => {
    const http = client();
    const from = api.requests.length;
    const tokenRequests = tokenServer.count;
    expect((await http.get('/payments')).status).toBe(200);
    expect((await http.get('/payments')).status).toBe(200);
    const [first, second] = sentSince(from);
    expect(first).toMatch(/^Bearer at-/);
    expect(second).toBe(first);
    expect(tokenServer.count).toBe(tokenRequests + 1);

    const recorded = recorder.count;
    expect((await http.get(`${recorder.origin}/elsewhere`)).status).toBe(200);
    expect(recorder.authorizations.slice(recorded)).toEqual([undefined]);
  });

  it('drops the token on a redirect to another origin and keeps it on a same-origin hop', async () => {
    const http = client();
    const recorded = recorder.count;
    const from = api.requests.length;
    expect((await http.get('/redirect', { params: { to: `${recorder.origin}/landing` } })).status).toBe(200);
    expect(sentSince(from)).toEqual([expect.stringMatching(/^Bearer at-/)]); // the redirect itself carried it
    expect(recorder.authorizations.slice(recorded)).toEqual([undefined]);

    const hop = api.requests.length;
    expect((await http.get('/redirect', { params: { to: '/home' } })).status).toBe(200);
    const [hop1, hop2] = sentSince(hop);
    expect(hop1).toMatch(/^Bearer at-/);
    expect(hop2).toBe(hop1);
    expect(api.requests.at(-1)?.path).toBe('/home');
  });

  it('drops the token on a redirect to a subdomain of the API host, which follow-redirects would keep it for', async () => {
    // localhost and sub.localhost both resolve to the API (an agent's lookup: axios 1.0 has no `lookup` option).
    const lookup = (_host: string, options: { all?: boolean }, done: (...args: unknown[]) => void) =>
      options.all ? done(null, [{ address: '127.0.0.1', family: 4 }]) : done(null, '127.0.0.1', 4);
    const agent = new Agent({ lookup } as AgentOptions);
    try {
      const port = new URL(api.origin).port;
      const http = lib.create({ baseURL: `http://localhost:${port}`, httpAgent: agent });
      installTokenInterceptor(http as unknown as AxiosInstance, provider());
      const from = api.requests.length;
      expect((await http.get('/redirect', { params: { to: `http://sub.localhost:${port}/public` } })).status).toBe(200);
      const [hop1, hop2] = api.requests.slice(from);
      expect(hop1?.authorization).toMatch(/^Bearer at-/);
      expect(hop2).toMatchObject({ path: '/public', authorization: undefined });
    } finally {
      agent.destroy();
    }
  });

  it('leaves a header the caller set alone, and does not retry its 401', async () => {
    const http = client();
    const from = api.requests.length;
    const tokenRequests = tokenServer.count;
    const error = await rejectionOf(http.get('/payments', { headers: { Authorization: 'Bearer callers-own' } }));
    expect(statusOf(error)).toBe(401);
    expect(sentSince(from)).toEqual(['Bearer callers-own']);
    expect(tokenServer.count).toBe(tokenRequests); // it did not even ask for a token

    const none = api.requests.length;
    expect((await http.get('/public', { headers: { Authorization: false } })).status).toBe(200);
    expect(sentSince(none)).toEqual([undefined]);
  });

  it('retries a 401 once with a fresh token, and never twice', async () => {
    const tokens = provider();
    const http = client({}, tokens);
    expect((await http.get('/payments')).status).toBe(200);
    const stale = tokens.cachedAuthorizationHeader()!;
    expect(stale).toMatch(/^Bearer at-/);
    tokenServer.revoke(stale.slice('Bearer '.length));
    const from = api.requests.length;
    const again = await http.get('/payments', { params: { n: 2 }, headers: { 'X-Request-Id': 'r-1' } });
    expect(again.status).toBe(200);
    const [rejected, fresh] = sentSince(from);
    expect(rejected).toBe(stale);
    expect(fresh).toMatch(/^Bearer at-/);
    expect(fresh).not.toBe(stale);
    expect(api.requests.slice(from).map((r) => r.path)).toEqual(['/payments?n=2', '/payments?n=2']);
    expect(again.config.headers['X-Request-Id']).toBe('r-1'); // the re-sent request kept the caller's headers

    // A POST is re-sent body and all. (Another provider: core keeps a replacement token that is
    // rejected again within seconds, so this one would not fetch a third.)
    const tokens2 = provider();
    const http2 = client({}, tokens2);
    expect((await http2.get('/payments')).status).toBe(200);
    const stale2 = tokens2.cachedAuthorizationHeader()!;
    tokenServer.revoke(stale2.slice('Bearer '.length));
    const posted = api.requests.length;
    const created = await http2.post('/payments', { amount: 5 });
    expect(created.data).toMatchObject({ ok: true, method: 'POST', body: '{"amount":5}' });
    expect(api.requests.slice(posted).map((r) => [r.method, r.body, r.authorization === stale2])).toEqual([
      ['POST', '{"amount":5}', true],
      ['POST', '{"amount":5}', false],
    ]);

    // An API that refuses every token: exactly two requests, then the 401 reaches the caller.
    const refusing = await startApi({ isValid: () => false });
    try {
      const error = await rejectionOf(client({}, provider(), refusing.origin).get('/payments'));
      expect(statusOf(error)).toBe(401);
      expect(refusing.requests).toHaveLength(2);
      expect(refusing.requests.map((r) => r.authorization)).toEqual([expect.stringMatching(/^Bearer at-/), expect.stringMatching(/^Bearer at-/)]);
    } finally {
      await refusing.close();
    }
  });

  it('rejects with the typed error when no token comes, with no secret in it; a failed request shows no token', async () => {
    const from = api.requests.length;
    const error = await rejectionOf(client({}, provider('wrong-secret')).get('/payments'));
    const typed = findTokenKitError(error);
    expect(isOAuthError(typed)).toBe(true);
    expect(isOAuthError(typed) && typed.error).toBe('invalid_client');
    expect(inspect(error, { depth: 8 })).not.toContain('wrong-secret');
    expect(api.requests.length).toBe(from); // nothing went out without a token

    const http = client();
    expect((await http.get('/payments')).status).toBe(200);
    const failed = await rejectionOf(http.get('/status/500'));
    expect(statusOf(failed)).toBe(500);
    expect(api.requests.at(-1)?.authorization).toMatch(/^Bearer at-/);
    expect(inspect(failed, { depth: 8 })).not.toMatch(/Bearer at-/);
  });
});
