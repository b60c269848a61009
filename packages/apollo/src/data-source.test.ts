// What is particular to OAuthRESTDataSource; where the token goes, redirects, the 401 retry, abort and timeouts and
// no token in errors are the shared adapter contract (contract.test.ts).
import { inspect } from 'node:util';
import {
  listen,
  startApi,
  startRecorder,
  startTokenServer,
  waitFor,
  type ApiServer,
  type Recorder,
  type RunningServer,
  type TokenServer,
} from '@tokenkit/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ConfigurationError,
  createTokenProvider,
  findTokenKitError,
  UPSTREAM_AUTHENTICATION_FAILED,
  type TokenProvider,
  type TokenProviderOptions,
} from './index.ts';
import { apiAt, recordingCache, startGraphQL, TestAPI } from './test-helpers.ts';

// Real servers and a GraphQL server: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let tokenServer: TokenServer;
let api: ApiServer;
let caching: ApiServer;
let varying: ApiServer; // public, max-age=60 and a Vary header: HTTPCache then keeps the request's headers
let maxAge: ApiServer; // max-age without `public`: a shared cache must not keep it for an authorized request
let recorder: Recorder;
let loop: RunningServer;
let echo: RunningServer;
let gql: Awaited<ReturnType<typeof startGraphQL>>;

beforeAll(async () => {
  tokenServer = await startTokenServer({ clients: { 'client-id': 'client-secret' } });
  api = await startApi({ isValid: (t) => tokenServer.isValid(t) });
  caching = await startApi({
    isValid: (t) => tokenServer.isValid(t),
    headers: { 'cache-control': 'public, max-age=60' },
  });
  varying = await startApi({
    isValid: (t) => tokenServer.isValid(t),
    headers: { 'cache-control': 'public, max-age=60', vary: 'accept-encoding' },
  });
  maxAge = await startApi({ isValid: (t) => tokenServer.isValid(t), headers: { 'cache-control': 'max-age=60' } });
  recorder = await startRecorder();
  // Redirects to itself forever.
  loop = await listen((req, res) => void res.writeHead(302, { location: req.url ?? '/' }).end());
  // An API whose error answers quote the request's Authorization header.
  echo = await listen(
    (req, res) =>
      void res
        .writeHead(500, { 'content-type': 'application/json' })
        .end(JSON.stringify({ got: req.headers.authorization })),
  );
  gql = await startGraphQL();
});
afterAll(async () => {
  await gql.server.stop();
  await Promise.all([tokenServer, api, caching, varying, maxAge, recorder, loop, echo].map((s) => s.close()));
});
afterEach(() => {
  tokenServer.requests.length = 0;
  tokenServer.misbehave(undefined);
  for (const s of [api, caching, varying, maxAge]) s.requests.length = 0;
  recorder.authorizations.length = 0;
});

function provider(extra: Partial<TokenProviderOptions> = {}): TokenProvider {
  return createTokenProvider({
    tokenEndpoint: tokenServer.url,
    clientId: 'client-id',
    clientSecret: 'client-secret',
    maxRetries: 0,
    ...extra,
  });
}
const bearer = (token: string | undefined) => `Bearer ${token}`;

describe('the data source', () => {
  it('works with a subclass that overrides willSendRequest and calls super', async () => {
    class Traced extends TestAPI {
      override baseURL = api.origin;
      protected override async willSendRequest(path: string, request: Parameters<TestAPI['willSendRequest']>[1]) {
        request.headers['x-trace'] = 'abc';
        await super.willSendRequest(path, request);
      }
    }
    const { data } = await gql.execute(() => new Traced({ tokens: provider() }).call('GET', '/traced'));
    expect(data).toMatchObject({ ok: true, path: '/traced' });
    expect(api.requests[0]?.authorization).toBe(bearer(tokenServer.issued.at(-1)));
  });

  it('rejects a missing provider at construction and a data source with nowhere to send the token at request time', async () => {
    expect(() => new TestAPI({} as never)).toThrow(ConfigurationError);
    expect(() => new TestAPI({} as never)).toThrow('tokens: must be a TokenProvider from createTokenProvider()');
    expect(() => new TestAPI({ tokens: provider(), origins: ['ftp://files.example.com'] })).toThrow(
      'origins: ftp://files.example.com is not an http(s) URL',
    );
    expect(() => new TestAPI({ tokens: provider(), origins: ['http://files.example.com'] })).toThrow(
      /origins: http:\/\/files\.example\.com is not HTTPS/,
    );
    const { errors } = await gql.execute(() => new TestAPI({ tokens: provider() }).call('GET', api.origin + '/x'));
    expect(errors?.[0]?.message).toBe(
      'origins: the client has no base URL: pass `origins` to say which API may receive the token',
    );
    expect(errors?.[0]?.extensions?.['tokenkit']).toEqual({ code: 'invalid_option', name: 'ConfigurationError' });
    expect(api.requests).toHaveLength(0);
  });

  it('judges the URL actually fetched: a resolveURL assigned in the constructor, or a class field', async () => {
    class Assigned extends TestAPI {
      override baseURL = api.origin;
      constructor(config: ConstructorParameters<typeof TestAPI>[0]) {
        super(config);
        this.resolveURL = (path) => new URL(path, `${recorder.origin}/`);
      }
    }
    class Tenant extends TestAPI {
      override baseURL = api.origin;
      override resolveURL = (path: string) => new URL(`/tenants/7/${path}`, api.origin);
    }
    const tokens = provider();
    expect((await gql.execute(() => new Assigned({ tokens }).call('GET', 'payments'))).data).toEqual({
      recorded: true,
    });
    expect(recorder.authorizations).toEqual([undefined]);
    expect((await gql.execute(() => new Tenant({ tokens }).call('GET', 'payments'))).data).toMatchObject({
      ok: true,
      path: '/tenants/7/payments',
    });
    expect(api.requests.map((r) => r.authorization)).toEqual([bearer(tokenServer.issued.at(-1))]);
  });

  it('removes the token from its errors, even where the API quoted it', async () => {
    const error = await new (apiAt(echo.origin))({ tokens: provider() }).call('GET', '/fail').catch((e: unknown) => e);
    expect(error).toMatchObject({ extensions: { response: { status: 500 } } });
    expect(inspect(error, { depth: Infinity })).not.toContain(tokenServer.issued.at(-1));
  });

  it('util.inspect of a data source that sent a token does not show it', async () => {
    const ds = new (apiAt(api.origin))({ tokens: provider() });
    await gql.execute(() => ds.call('GET', '/x'));
    const token = tokenServer.issued.at(-1)!;
    expect(api.requests[0]?.authorization).toBe(bearer(token));
    expect(inspect(ds, { depth: 10, showHidden: true })).not.toContain(token);
    expect(inspect(ds, { depth: 10 })).not.toContain('client-secret');
  });
});

describe('redirects, which the data source follows itself', () => {
  it('a 303 after a POST is followed with a GET and no body; a 307 keeps method and body', async () => {
    const tokens = provider();
    const see = await gql.execute(() =>
      new (apiAt(api.origin))({ tokens }).call('POST', '/redirect?to=/done&status=303', { body: { amount: 5 } }),
    );
    expect(see.data).toMatchObject({ ok: true, path: '/done', method: 'GET', body: '' });
    const temp = await gql.execute(() =>
      new (apiAt(api.origin))({ tokens }).call('POST', '/redirect?to=/done&status=307', { body: { amount: 5 } }),
    );
    expect(temp.data).toMatchObject({ ok: true, path: '/done', method: 'POST', body: '{"amount":5}' });
  });

  it('gives up after 20 redirects', async () => {
    const { errors } = await gql.execute(() => new (apiAt(loop.origin))({ tokens: provider() }).call('GET', '/again'));
    expect(errors?.[0]?.message).toBe(`more than 20 redirects from ${loop.origin}`);
  });
});

describe('the HTTP cache', () => {
  it('the retried answer is the one cached, under the provider key and without the token; the 401 is not', async () => {
    const { entries, cache } = recordingCache();
    const tokens = provider();
    const API = apiAt(caching.origin);
    await new API({ tokens }).call('GET', '/warm-up');
    tokenServer.revoke(tokenServer.issued.at(-1)!);
    const first = await new API({ tokens, cache }).result('/doc');
    await first.httpCache.cacheWritePromise;
    const again = await new API({ tokens, cache }).result('/doc');
    expect(caching.requests.map((r) => r.path)).toEqual(['/warm-up', '/doc', '/doc']); // the 401, then its retry
    expect(again.parsedBody).toEqual(first.parsedBody); // from the cache: no further request
    expect([...entries.keys()]).toEqual([`httpcache:GET ${caching.origin}/doc tokenkit:${tokens.key}`]);
    for (const token of tokenServer.issued) expect(JSON.stringify([...entries])).not.toContain(token);
  });

  it('sees the Authorization it was sent with: an answer without `public` is not kept for other requests', async () => {
    const { entries, cache } = recordingCache();
    const tokens = provider();
    const API = apiAt(maxAge.origin);
    await new API({ tokens, cache }).result('/doc').then((r) => r.httpCache.cacheWritePromise);
    await new API({ tokens, cache }).result('/doc');
    expect(maxAge.requests).toHaveLength(2);
    expect(entries.size).toBe(0);
  });

  it('keeps no token in a cache entry, also when the answer varies and HTTPCache stores the request headers', async () => {
    const { entries, cache } = recordingCache();
    const tokens = provider();
    const API = apiAt(varying.origin);
    await new API({ tokens, cache }).result('/doc').then((r) => r.httpCache.cacheWritePromise);
    const again = await new API({ tokens, cache }).result('/doc');
    expect(again.responseFromCache).toBe(true);
    expect(varying.requests).toHaveLength(1);
    expect(entries.size).toBe(1);
    for (const token of tokenServer.issued) expect(JSON.stringify([...entries])).not.toContain(token);
  });
});

describe('waiting for a token', () => {
  it("the caller's abort reason is passed on as it is; other failures say only that upstream authentication failed", async () => {
    tokenServer.misbehave(() => ({ hang: true }));
    const API = apiAt(api.origin);
    const reason = new Error('caller gave up');
    const controller = new AbortController();
    const aborted = new API({ tokens: provider() })
      .call('GET', '/x', { signal: controller.signal })
      .catch((e: unknown) => e);
    await waitFor(() => tokenServer.count === 1, { what: 'the token request' });
    controller.abort(reason);
    expect(await aborted).toBe(reason);
    const timedOut = await new API({ tokens: provider() }).call('GET', '/x', { timeout: 50 }).catch((e: unknown) => e);
    expect(timedOut).toMatchObject({
      message: 'upstream authentication failed',
      extensions: { code: UPSTREAM_AUTHENTICATION_FAILED },
    });
    expect(findTokenKitError(timedOut)).toMatchObject({ name: 'TokenEndpointError', code: 'timeout' });
    expect(api.requests).toHaveLength(0);
  });
});
