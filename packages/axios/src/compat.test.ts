// What differs between axios releases, on the oldest release of the peer range and on the current one, against real
// servers. The shared adapter contract runs on both as well (contract.test.ts).
import { Agent, type AgentOptions } from 'node:http';
import { inspect } from 'node:util';
import {
  authorizationsSince,
  rejectionOf,
  startAdapterServers,
  type ApiServer,
  type Recorder,
  type TokenServer,
} from '@tokenkit/test-utils';
import axios from 'axios';
import axios10 from 'axios-1.0';
import type { AxiosInstance } from 'axios';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createTokenProvider,
  findTokenKitError,
  installTokenInterceptor,
  isOAuthError,
  type TokenInterceptorOptions,
} from './index.ts';

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

const provider = (clientSecret = 'client-secret') =>
  createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: 'client-id', clientSecret });
const sentSince = (from: number) => authorizationsSince(api, from);

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

  it('judges the URL this release builds: an absolute URL with allowAbsoluteUrls: false gets no token either way', async () => {
    // axios before 1.8 ignores allowAbsoluteUrls (1.0 sends to the absolute URL); current axios sends it below the
    // baseURL. Neither reading may carry the token to the recorder, so neither carries it at all.
    const http = client();
    const apiFrom = api.requests.length;
    const recFrom = recorder.count;
    const options = { allowAbsoluteUrls: false, validateStatus: () => true };
    await http.get(`${recorder.origin}/elsewhere`, options);
    const sent = [...authorizationsSince(api, apiFrom), ...recorder.authorizations.slice(recFrom)];
    expect(sent).toEqual([undefined]);
    expect(recorder.count - recFrom).toBe(name === 'axios 1.0.0' ? 1 : 0);
    // An absolute URL on the API's own origin goes there under both readings: it gets the token.
    await http.get(`${api.origin}/payments`, options);
    expect(api.requests.at(-1)?.authorization).toMatch(/^Bearer at-/);
  });

  it('sends no token with `Authorization: false` ("send none")', async () => {
    const http = client();
    const from = api.requests.length;
    expect((await http.get('/public', { headers: { Authorization: false } })).status).toBe(200);
    expect(sentSince(from)).toEqual([undefined]);
  });

  it('retries a 401 that axios rejects (the default validateStatus) once, with the query and headers it had', async () => {
    const tokens = provider();
    const http = client({}, tokens);
    expect((await http.get('/payments')).status).toBe(200);
    const stale = tokens.cachedAuthorizationHeader()!;
    tokenServer.revoke(stale.slice('Bearer '.length));
    const from = api.requests.length;
    const again = await http.get('/payments', { params: { n: 2 }, headers: { 'X-Request-Id': 'r-1' } });
    expect(again.status).toBe(200);
    const [rejected, fresh] = sentSince(from);
    expect(rejected).toBe(stale);
    expect(fresh).toMatch(/^Bearer at-/);
    expect(fresh).not.toBe(stale);
    expect(api.requests.slice(from).map((r) => r.path)).toEqual(['/payments?n=2', '/payments?n=2']);
    expect(again.config.headers['X-Request-Id']).toBe('r-1');
  });

  it('rejects with the typed error when no token comes, with no secret in it, and sends nothing', async () => {
    const from = api.requests.length;
    const error = await rejectionOf(client({}, provider('wrong-secret')).get('/payments'));
    const typed = findTokenKitError(error);
    expect(isOAuthError(typed)).toBe(true);
    expect(isOAuthError(typed) && typed.error).toBe('invalid_client');
    expect(inspect(error, { depth: 8 })).not.toContain('wrong-secret');
    expect(api.requests.length).toBe(from);
  });
});
