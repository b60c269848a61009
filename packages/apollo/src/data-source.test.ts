import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import { listen, startApi, startRecorder, startTokenServer, type ApiServer, type Recorder, type RunningServer, type TokenServer } from '@tokenkit/test-utils';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigurationError, createTokenProvider, type TokenProvider, type TokenProviderOptions } from './index.ts';
import { apiAt, startGraphQL, TestAPI } from './test-helpers.ts';

// Real servers and a GraphQL server: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let tokenServer: TokenServer;
let api: ApiServer;
let otherApi: ApiServer;
let denyAll: ApiServer;
let recorder: Recorder;
let loop: RunningServer;
let gql: Awaited<ReturnType<typeof startGraphQL>>;

beforeAll(async () => {
  tokenServer = await startTokenServer({ clients: { 'client-id': 'client-secret' } });
  api = await startApi({ isValid: (t) => tokenServer.isValid(t) });
  otherApi = await startApi({ isValid: (t) => tokenServer.isValid(t) });
  denyAll = await startApi({ isValid: () => false });
  recorder = await startRecorder();
  // Redirects to itself forever.
  loop = await listen((req, res) => void res.writeHead(302, { location: req.url ?? '/' }).end());
  gql = await startGraphQL();
});
afterAll(async () => {
  await gql.server.stop();
  await Promise.all([tokenServer, api, otherApi, denyAll, recorder, loop].map((s) => s.close()));
});
afterEach(() => {
  tokenServer.requests.length = 0;
  tokenServer.misbehave(undefined);
  tokenServer.configure({ latencyMs: 0 });
  for (const s of [api, otherApi, denyAll]) s.requests.length = 0;
  recorder.authorizations.length = 0;
});

function provider(extra: Partial<TokenProviderOptions> = {}): TokenProvider {
  return createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: 'client-id', clientSecret: 'client-secret', maxRetries: 0, ...extra });
}
const bearer = (token: string | undefined) => `Bearer ${token}`;

describe('authorization in willSendRequest', () => {
  it('sends the provider token to baseURL (a class field) and fetches it once for many requests', async () => {
    const API = apiAt(api.origin + '/v1/');
    const tokens = provider();
    for (let i = 0; i < 3; i++) {
      const { data, errors } = await gql.execute(() => new API({ tokens }).call('GET', 'payments/7'));
      expect(errors).toBeUndefined();
      expect(data).toMatchObject({ ok: true, path: '/v1/payments/7', method: 'GET' });
    }
    expect(tokenServer.count).toBe(1);
    expect(api.requests.map((r) => r.authorization)).toEqual(Array(3).fill(bearer(tokenServer.issued[0])));
  });

  it('never touches an Authorization header the caller set, in any case, and does not retry its 401', async () => {
    const tokens = provider();
    const { errors } = await gql.execute(() => new (apiAt(api.origin))({ tokens }).call('GET', '/mine', { headers: { Authorization: 'Bearer caller-token' } }));
    expect(api.requests.map((r) => r.authorization)).toEqual(['Bearer caller-token']);
    expect(errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    expect(tokenServer.count).toBe(0);
  });

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
    expect(() => new TestAPI({ tokens: provider(), origins: ['ftp://files.example.com'] })).toThrow('origins: ftp://files.example.com is not an http(s) URL');
    expect(() => new TestAPI({ tokens: provider(), origins: ['http://files.example.com'] })).toThrow(/origins: http:\/\/files\.example\.com is not HTTPS/);
    const { errors } = await gql.execute(() => new TestAPI({ tokens: provider() }).call('GET', api.origin + '/x'));
    expect(errors?.[0]?.message).toBe('origins: the client has no base URL: pass `origins` to say which API may receive the token');
    expect(errors?.[0]?.extensions?.['tokenkit']).toEqual({ code: 'invalid_option', name: 'ConfigurationError' });
    expect(api.requests).toHaveLength(0);
  });
});

describe('the token goes only to allowed origins', () => {
  it('an absolute URL to another origin goes out without the token (and no token is fetched for it)', async () => {
    const { data } = await gql.execute(() => new (apiAt(api.origin))({ tokens: provider() }).call('GET', recorder.origin + '/x'));
    expect(data).toEqual({ recorded: true });
    expect(recorder.authorizations).toEqual([undefined]);
    expect(tokenServer.count).toBe(0);
  });

  it('paths that only look relative but leave the base origin go out without the token', async () => {
    const host = new URL(recorder.origin).host;
    const sneaky = [`//${host}/a`, `/\\${host}/b`, `\\\\${host}/c`, ` //${host}/d`, `/\t/${host}/e`, `\n//${host}/f`, `${recorder.origin}/g`, `HTTP://${host}/h`];
    const API = apiAt(api.origin + '/v1/');
    for (const path of sneaky) {
      const { data, errors } = await gql.execute(() => new API({ tokens: provider() }).call('GET', path));
      expect(errors).toBeUndefined();
      expect(data).toEqual({ recorded: true });
    }
    expect(recorder.authorizations).toEqual(Array(sneaky.length).fill(undefined));
    expect(api.requests).toHaveLength(0);
  });

  it('odd relative paths on the base origin get the token', async () => {
    const tokens = provider();
    const API = apiAt(api.origin + '/v1/');
    const paths = { 'x/y:z': '/v1/x/y:z', './/x': '/v1//x', '%2F%2Fx': '/v1/%2F%2Fx', '': '/v1/', '/abs': '/abs', '?q=a:b': '/v1/' };
    for (const [path, expected] of Object.entries(paths)) {
      const { data } = await gql.execute(() => new API({ tokens }).call('GET', path));
      expect(data).toMatchObject({ ok: true, path: expected });
    }
    expect(api.requests.every((r) => r.authorization === bearer(tokenServer.issued.at(-1)))).toBe(true);
  });

  it('an origin listed in `origins` gets the token', async () => {
    const tokens = provider();
    const { data } = await gql.execute(() => new (apiAt(api.origin))({ tokens, origins: [recorder.origin] }).call('GET', recorder.origin + '/x'));
    expect(data).toEqual({ recorded: true });
    expect(recorder.authorizations).toEqual([bearer(tokenServer.issued.at(-1))]);
  });

  it('a redirect to the same host on another port drops the token (node-fetch 2 alone would keep it)', async () => {
    const to = encodeURIComponent(recorder.origin + '/landing');
    for (const status of [301, 302, 307, 308]) {
      const { data, errors } = await gql.execute(() =>
        new (apiAt(api.origin))({ tokens: provider() }).call(status >= 307 ? 'POST' : 'GET', `/redirect?to=${to}&status=${status}`, status >= 307 ? { body: { a: 1 } } : {}),
      );
      expect(errors).toBeUndefined();
      expect(data).toEqual({ recorded: true });
    }
    expect(api.requests.map((r) => r.authorization?.startsWith('Bearer at-'))).toEqual([true, true, true, true]);
    expect(recorder.authorizations).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('a redirect within the API origin, or to another allowed origin, keeps the token', async () => {
    const tokens = provider();
    const { data } = await gql.execute(() => new (apiAt(api.origin))({ tokens }).call('GET', '/redirect?to=/payments'));
    expect(data).toMatchObject({ ok: true, path: '/payments' });
    const to = encodeURIComponent(otherApi.origin + '/elsewhere');
    const second = await gql.execute(() => new (apiAt(api.origin))({ tokens, origins: [otherApi.origin] }).call('GET', `/redirect?to=${to}`));
    expect(second.data).toMatchObject({ ok: true, path: '/elsewhere' });
    const token = bearer(tokenServer.issued.at(-1));
    expect(api.requests.map((r) => r.authorization)).toEqual([token, token, token]);
    expect(otherApi.requests.map((r) => r.authorization)).toEqual([token]);
  });

  it('a 303 after a POST is followed with a GET and no body; a 307 keeps method and body', async () => {
    const tokens = provider();
    const see = await gql.execute(() => new (apiAt(api.origin))({ tokens }).call('POST', '/redirect?to=/done&status=303', { body: { amount: 5 } }));
    expect(see.data).toMatchObject({ ok: true, path: '/done', method: 'GET', body: '' });
    const temp = await gql.execute(() => new (apiAt(api.origin))({ tokens }).call('POST', '/redirect?to=/done&status=307', { body: { amount: 5 } }));
    expect(temp.data).toMatchObject({ ok: true, path: '/done', method: 'POST', body: '{"amount":5}' });
  });

  it('gives up after 20 redirects', async () => {
    const { errors } = await gql.execute(() => new (apiAt(loop.origin))({ tokens: provider() }).call('GET', '/again'));
    expect(errors?.[0]?.message).toBe(`more than 20 redirects from ${loop.origin}`);
  });
});

describe('401 handling', () => {
  it('a revoked token is invalidated and the request retried once with a fresh token', async () => {
    const tokens = provider();
    const API = apiAt(api.origin);
    await gql.execute(() => new API({ tokens }).call('GET', '/first'));
    tokenServer.revoke(tokenServer.issued.at(-1)!);
    const { data, errors } = await gql.execute(() => new API({ tokens }).call('GET', '/second'));
    expect(errors).toBeUndefined();
    expect(data).toMatchObject({ ok: true, path: '/second' });
    const [first, second] = tokenServer.issued.slice(-2);
    expect(api.requests.map((r) => [r.path, r.authorization])).toEqual([
      ['/first', bearer(first)],
      ['/second', bearer(first)],
      ['/second', bearer(second)],
    ]);
    expect(tokenServer.count).toBe(2);
  });

  it('an API that always answers 401 gets exactly two requests and the error reaches the resolver', async () => {
    const { errors } = await gql.execute(() => new (apiAt(denyAll.origin))({ tokens: provider() }).call('GET', '/never'));
    expect(denyAll.requests).toHaveLength(2);
    expect(tokenServer.count).toBe(2);
    expect(errors?.[0]?.message).toBe('401: Unauthorized');
    expect(errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', response: { status: 401 } });
    expect(denyAll.requests[0]?.authorization).not.toBe(denyAll.requests[1]?.authorization);
  });

  it('a stream body is not retried', async () => {
    const { errors } = await gql.execute(() => new (apiAt(denyAll.origin))({ tokens: provider() }).call('POST', '/upload', { body: Readable.from(['chunk']) }));
    expect(denyAll.requests).toHaveLength(1);
    expect(denyAll.requests[0]?.body).toBe('chunk');
    expect(errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('retryOn401: false sends the 401 straight to the resolver', async () => {
    const { errors } = await gql.execute(() => new (apiAt(denyAll.origin))({ tokens: provider(), retryOn401: false }).call('GET', '/never'));
    expect(denyAll.requests).toHaveLength(1);
    expect(errors?.[0]?.message).toBe('401: Unauthorized');
  });
});

describe('token acquisition failures', () => {
  it('reach the resolver with the typed error findable and no secret in the output', async () => {
    const tokens = provider({ clientSecret: 'wrong-secret-value' });
    const { errors, raw } = await gql.execute(() => new (apiAt(api.origin))({ tokens }).call('GET', '/x'));
    expect(errors?.[0]?.message).toBe('token endpoint answered 401 invalid_client: client authentication failed');
    expect(errors?.[0]?.extensions?.['tokenkit']).toEqual({ code: 'oauth_error', name: 'OAuthError' });
    expect(raw).not.toContain('wrong-secret-value');
    expect(api.requests).toHaveLength(0);
  });

  it("a token endpoint timeout is a TokenEndpointError 'timeout'", async () => {
    tokenServer.misbehave(() => ({ hang: true }));
    const { errors } = await gql.execute(() => new (apiAt(api.origin))({ tokens: provider({ timeoutMs: 100 }) }).call('GET', '/x'));
    expect(errors?.[0]?.extensions?.['tokenkit']).toEqual({ code: 'timeout', name: 'TokenEndpointError' });
    expect(api.requests).toHaveLength(0);
  });
});

describe('abort and timeouts', () => {
  it("the request's abort signal ends the wait for a token", async () => {
    tokenServer.misbehave(() => ({ hang: true }));
    const started = Date.now();
    const { errors } = await gql.execute(() => new (apiAt(api.origin))({ tokens: provider() }).call('GET', '/x', { signal: AbortSignal.timeout(50) }));
    expect(Date.now() - started).toBeLessThan(5_000); // not the provider's 10 s; generous for a busy machine
    expect(errors?.[0]?.message).toBe('The operation was aborted due to timeout');
    expect(api.requests).toHaveLength(0);
  });

  it("node-fetch's per-request `timeout` bounds the token wait too", async () => {
    tokenServer.misbehave(() => ({ hang: true }));
    const { errors } = await gql.execute(() => new (apiAt(api.origin))({ tokens: provider() }).call('GET', '/x', { timeout: 50 }));
    expect(errors?.[0]?.message).toBe('no access token within 50 ms');
    expect(errors?.[0]?.extensions?.['tokenkit']).toEqual({ code: 'timeout', name: 'TokenEndpointError' });
  });
});

describe('secrets', () => {
  it('util.inspect of a data source that sent a token does not show it', async () => {
    const ds = new (apiAt(api.origin))({ tokens: provider() });
    await gql.execute(() => ds.call('GET', '/x'));
    const token = tokenServer.issued.at(-1)!;
    expect(api.requests[0]?.authorization).toBe(bearer(token));
    expect(inspect(ds, { depth: 10, showHidden: true })).not.toContain(token);
    expect(inspect(ds, { depth: 10 })).not.toContain('client-secret');
  });
});
