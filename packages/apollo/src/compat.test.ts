// The peer range is @apollo/datasource-rest ^6.2.0; the other tests run on the catalog's 6.4.1.
// OAuthRESTDataSource extends the RESTDataSource that '@apollo/datasource-rest' resolves to, so to run
// the adapter on 6.2.0 this file (and contract.test.ts, which runs the shared contract on both) loads
// src/index.ts a second time with that specifier resolving to the real 6.2.0 release (adapterOn62 in
// test-helpers.ts): nothing is stubbed, the whole of 6.2.0 (its HTTPCache, its node-fetch 2) runs.
// (6.0 and 6.1 run too, but the built declarations need 6.2.0's types: it first exports CacheOptions
// and makes RESTDataSource generic over it.)
import { inspect } from 'node:util';
import { RESTDataSource as RESTDataSource64, type AugmentedRequest } from '@apollo/datasource-rest';
import {
  authorizationsSince,
  rejectionOf,
  startApi,
  startRecorder,
  startTokenServer,
  type ApiServer,
  type Recorder,
  type TokenServer,
} from '@tokenkit/test-utils';
import { RESTDataSource as RESTDataSource62 } from 'datasource-rest-6.2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as current from './index.ts';
import { adapterOn62, recordingCache, versionOf } from './test-helpers.ts';

// Real servers: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

type Adapter = typeof current;
type Base = typeof RESTDataSource64;

const on62: Adapter = await adapterOn62();

const releases: [string, Adapter, Base][] = [
  [versionOf('datasource-rest-6.2'), on62, RESTDataSource62 as unknown as Base],
  [versionOf('@apollo/datasource-rest'), current, RESTDataSource64],
];

let tokenServer: TokenServer;
let api: ApiServer;
let caching: ApiServer;
let recorder: Recorder;
beforeAll(async () => {
  tokenServer = await startTokenServer();
  api = await startApi({ isValid: (token) => tokenServer.isValid(token) });
  caching = await startApi({
    isValid: (token) => tokenServer.isValid(token),
    headers: { 'cache-control': 'public, max-age=60' },
  });
  recorder = await startRecorder();
});
afterAll(() => Promise.all([tokenServer, api, caching, recorder].map((s) => s.close())));

type HttpFetch = (url: string, init?: Record<string, unknown>) => Promise<unknown>;
const httpFetchOf = (source: object) =>
  (source as unknown as { httpCache: { httpFetch?: HttpFetch } }).httpCache.httpFetch;

it('runs the two releases it claims: 6.2.0 and the current one', () => {
  expect(releases.map(([version]) => version)).toEqual(['6.2.0', '6.4.1']);
  expect(RESTDataSource62).not.toBe(RESTDataSource64);
  expect(Object.getPrototypeOf(on62.OAuthRESTDataSource)).toBe(RESTDataSource62);
  expect(Object.getPrototypeOf(current.OAuthRESTDataSource)).toBe(RESTDataSource64);
});

describe.each(releases)('OAuthRESTDataSource on @apollo/datasource-rest %s', (version, adapter, Base) => {
  const provider = (clientSecret = 'client-secret', scope?: string) =>
    adapter.createTokenProvider({
      tokenEndpoint: tokenServer.url,
      clientId: 'client-id',
      clientSecret,
      maxRetries: 0,
      ...(scope === undefined ? {} : { scope }),
    });

  /** A data source the way users write one: `baseURL` as a class field. */
  const apiAt = (base: string) =>
    class extends adapter.OAuthRESTDataSource {
      override baseURL = base;
      call(path: string, init: Record<string, unknown> = {}) {
        return this.fetch<unknown>(path, init as never);
      }
      key(url: string) {
        return this.cacheKeyFor(new URL(url), {});
      }
    };

  it('wraps HTTPCache’s private httpFetch, which this release has', () => {
    // The field the redirect guard wraps: a plain data source of this release has it (node-fetch 2 by default)...
    class Plain extends Base {}
    const plain = httpFetchOf(new Plain());
    expect(typeof plain).toBe('function');
    // ...and the adapter's is a different function, wrapping it.
    const API = apiAt(api.origin);
    const wrapped = httpFetchOf(new API({ tokens: provider() }));
    expect(typeof wrapped).toBe('function');
    expect(wrapped).not.toBe(plain);
    // A `fetch` passed in the config lands in the same field, and the adapter wraps it too.
    const own: HttpFetch = async () => undefined;
    expect(httpFetchOf(new Plain({ fetch: own as never }))).toBe(own);
    expect(httpFetchOf(new API({ tokens: provider(), fetch: own as never }))).not.toBe(own);
  });

  it('its own transport, node-fetch 2, keeps Authorization when a redirect only changes the port', async () => {
    // The leak the wrapper exists to stop (the contract shows the adapter drops it): both servers are on 127.0.0.1.
    class Static extends Base {
      override baseURL = api.origin;
      protected override willSendRequest(_path: string, request: AugmentedRequest) {
        request.headers['authorization'] = 'Bearer static-header';
      }
      go(to: string) {
        return this.get('redirect', { params: { to } });
      }
    }
    const leaked = recorder.count;
    await new Static().go(`${recorder.origin}/landing`);
    expect(recorder.authorizations.slice(leaked)).toEqual(['Bearer static-header']);
  });

  it('a token failure rejects with "upstream authentication failed", core’s typed error behind it, no secret in it', async () => {
    const from = api.requests.length;
    const error = await rejectionOf(new (apiAt(api.origin))({ tokens: provider('wrong-secret') }).call('payments'));
    expect(error).toMatchObject({
      message: 'upstream authentication failed',
      extensions: { code: adapter.UPSTREAM_AUTHENTICATION_FAILED },
    });
    const typed = adapter.findTokenKitError(error);
    expect(adapter.isOAuthError(typed)).toBe(true);
    expect(typed).toMatchObject({ error: 'invalid_client', status: 401 });
    expect(inspect(error, { depth: 8 })).not.toContain('wrong-secret');
    expect(api.requests.length).toBe(from); // nothing went out without a token
  });

  it('keys the shared HTTP cache by tokens.key: one provider’s cached answer is not served to another', async () => {
    const { entries, cache } = recordingCache();
    const API = apiAt(caching.origin);
    const a = provider('client-secret', 'read');
    const b = provider('client-secret', 'write');
    expect(a.key).not.toBe(b.key);
    expect(new API({ tokens: a }).key(`${caching.origin}/doc`)).toBe(`GET ${caching.origin}/doc tokenkit:${a.key}`);

    const from = caching.requests.length;
    const first = await new API({ tokens: a, cache }).call('doc');
    const again = await new API({ tokens: a, cache }).call('doc'); // a new data source: a shared-cache hit, not de-duplication
    const other = await new API({ tokens: b, cache }).call('doc');
    expect(again.parsedBody).toEqual(first.parsedBody);
    expect(other.parsedBody).not.toEqual(first.parsedBody); // `n` counts the API's requests
    const [sentA, sentB] = authorizationsSince(caching, from);
    expect(authorizationsSince(caching, from)).toHaveLength(2);
    expect(sentA).toBe(a.cachedAuthorizationHeader());
    expect(sentB).toBe(b.cachedAuthorizationHeader());
    expect([...entries.keys()].sort()).toEqual(
      [
        `httpcache:GET ${caching.origin}/doc tokenkit:${a.key}`,
        `httpcache:GET ${caching.origin}/doc tokenkit:${b.key}`,
      ].sort(),
    );
    // 6.4 added `responseFromCache` to the result; its absence shows 6.2.0's own fetch() ran.
    expect(again.responseFromCache).toBe(version === '6.2.0' ? undefined : true);
  });
});
