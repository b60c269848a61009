// What the contract suite does not cover: fetch's own inputs (a Request with its body, FormData, URL objects,
// redirect modes), a wrapped fetch that cannot be trusted with redirects (node-fetch 2), and the interceptor under
// fetch, Node's own fetch and the global dispatcher.
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import {
  authorizationsSince,
  startAdapterServers,
  type ApiServer,
  type Recorder,
  type TokenServer,
} from '@tokenkit/test-utils';
import * as undici from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OAuthError, createTokenProvider, tokenInterceptor, withTokens, type TokenProvider } from './index.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

/** node-fetch 2 (untyped): Node's fetch-like client whose redirects keep Authorization when only the port changes. */
const nodeFetch = createRequire(import.meta.url)('node-fetch') as (
  url: string,
  init?: object,
) => Promise<{ status: number; text(): Promise<string> }>;

let tokenServer: TokenServer, api: ApiServer, recorder: Recorder, close: () => Promise<void>;
beforeAll(async () => void ({ tokenServer, api, recorder, close } = await startAdapterServers()));
const agents: undici.Dispatcher[] = [];
afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.close()));
  await close();
});

const provider = () =>
  createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: 'client-id', clientSecret: 'client-secret' });
const sentSince = (from: number) => authorizationsSince(api, from);
const bearer = expect.stringMatching(/^Bearer at-/);
/** A provider whose cached token the API now refuses: the next request gets a 401. */
async function revokedProvider(): Promise<TokenProvider> {
  const tokens = provider();
  tokenServer.revoke((await tokens.getToken()).accessToken);
  return tokens;
}
const redirectTo = (to: string, status = 302) => `${api.origin}/redirect?status=${status}&to=${encodeURIComponent(to)}`;

describe('withTokens', () => {
  it('a Request with its own body and headers gets the token, and the body is sent again after a 401', async () => {
    const fetchApi = withTokens(await revokedProvider(), { origins: [api.origin] });
    const from = api.requests.length;
    const body = '{"amount":2}';
    const res = await fetchApi(
      new Request(`${api.origin}/payments`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }),
    );
    expect(res.status).toBe(200);
    expect(((await res.json()) as { body: string }).body).toBe(body);
    const [first, second] = api.requests.slice(from);
    expect([first?.body, second?.body]).toEqual([body, body]);
    expect(first?.authorization).not.toBe(second?.authorization);
  });

  it("a Request with the caller's own Authorization goes untouched, without a token request", async () => {
    const before = tokenServer.count;
    const from = api.requests.length;
    const res = await withTokens(provider(), { origins: [api.origin] })(
      new Request(`${api.origin}/payments`, { headers: { Authorization: 'Bearer mine' } }),
    );
    expect(res.status).toBe(401);
    expect(sentSince(from)).toEqual(['Bearer mine']);
    expect(tokenServer.count).toBe(before);
  });

  it('init overrides a Request as in fetch: its headers replace the Request’s', async () => {
    const from = api.requests.length;
    const input = new Request(`${api.origin}/payments`, { headers: { authorization: 'Bearer from-request' } });
    const res = await withTokens(provider(), { origins: [api.origin] })(input, { headers: { 'x-trace': '1' } });
    expect(res.status).toBe(200);
    expect(sentSince(from)).toEqual([bearer]);
  });

  it('FormData is sent again, as multipart, after a 401', async () => {
    const fetchApi = withTokens(await revokedProvider(), { origins: [api.origin] });
    const form = new FormData();
    form.set('amount', '3');
    form.set('receipt', new Blob(['%PDF-1.7']), 'receipt.pdf');
    const from = api.requests.length;
    expect((await fetchApi(`${api.origin}/upload`, { method: 'POST', body: form })).status).toBe(200);
    const sent = api.requests.slice(from);
    expect(sent).toHaveLength(2);
    for (const request of sent)
      expect(request.body).toMatch(/name="amount"\r\n\r\n3\r\n[\s\S]*filename="receipt.pdf"[\s\S]*%PDF-1.7/);
  });

  it('takes a URL object, and the response of a followed redirect tells its final URL', async () => {
    const res = await withTokens(provider(), { origins: [api.origin] })(new URL(redirectTo('/after')));
    expect(res.status).toBe(200);
    expect(res.url).toBe(`${api.origin}/after`);
  });

  it("redirect: 'manual' hands the redirect to the caller; 'error' rejects it", async () => {
    const fetchApi = withTokens(provider(), { origins: [api.origin] });
    const from = recorder.count;
    const res = await fetchApi(redirectTo(`${recorder.origin}/landing`), { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`${recorder.origin}/landing`);
    await expect(fetchApi(redirectTo(`${recorder.origin}/landing`), { redirect: 'error' })).rejects.toThrow();
    expect(recorder.count).toBe(from);
  });

  it("a token endpoint's refusal rejects the request with core's typed error, and nothing is sent", async () => {
    const from = api.requests.length;
    const fetchApi = withTokens(
      createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: 'client-id', clientSecret: 'wrong' }),
      { origins: [api.origin] },
    );
    await expect(fetchApi(`${api.origin}/payments`)).rejects.toBeInstanceOf(OAuthError);
    expect(api.requests.length).toBe(from);
  });

  describe('around node-fetch 2', () => {
    it('(node-fetch on its own keeps Authorization on a redirect to another port of the same host)', async () => {
      const from = recorder.count;
      await nodeFetch(redirectTo(`${recorder.origin}/landing`), { headers: { authorization: 'Bearer static' } });
      expect(recorder.authorizations.slice(from)).toEqual(['Bearer static']);
    });

    it('the token does not follow that redirect: withTokens follows it itself', async () => {
      const fetchApi = withTokens(provider(), { origins: [api.origin], fetch: nodeFetch });
      const from = recorder.count;
      expect((await fetchApi(redirectTo(`${recorder.origin}/landing`))).status).toBe(200);
      expect(recorder.authorizations.slice(from)).toEqual([undefined]);
    });

    it('a 401 is retried with a fresh token, the body sent again', async () => {
      const fetchApi = withTokens(await revokedProvider(), { origins: [api.origin], fetch: nodeFetch });
      const from = api.requests.length;
      const res = await fetchApi(`${api.origin}/payments`, { method: 'POST', body: '{"amount":4}' });
      expect(res.status).toBe(200);
      expect(api.requests.slice(from).map((r) => r.body)).toEqual(['{"amount":4}', '{"amount":4}']);
    });
  });
});

describe('tokenInterceptor', () => {
  const agent = (tokens: TokenProvider, ...more: undici.Dispatcher.DispatcherComposeInterceptor[]) => {
    const composed = new undici.Agent().compose(tokenInterceptor(tokens, { origins: [api.origin] }), ...more);
    agents.push(composed);
    return composed;
  };

  it("undici's FormData is sent again after a 401", async () => {
    const dispatcher = agent(await revokedProvider());
    const form = new undici.FormData();
    form.set('amount', '5');
    const from = api.requests.length;
    const { statusCode, body } = await undici.request(`${api.origin}/upload`, {
      dispatcher,
      method: 'POST',
      body: form,
    });
    await body.dump();
    expect(statusCode).toBe(200);
    const sent = api.requests.slice(from);
    expect(sent).toHaveLength(2);
    for (const request of sent) expect(request.body).toMatch(/name="amount"\r\n\r\n5\r\n/);
  });

  it('a request that starts on another origin never gets the token on a redirect to the API, nor one with your own header', async () => {
    const dispatcher = agent(provider(), undici.interceptors.redirect({ maxRedirections: 3 }));
    const from = api.requests.length;
    const away = `${recorder.origin}/redirect?status=302&to=${encodeURIComponent(`${api.origin}/payments`)}`;
    for (const headers of [{}, { authorization: 'Bearer for-the-recorder' }]) {
      const { statusCode, body } = await undici.request(away, { dispatcher, headers });
      await body.dump();
      expect(statusCode).toBe(401);
    }
    expect(sentSince(from)).toEqual([undefined, undefined]);
  });

  it('a 401 that is not retried reaches the caller whole, its body included', async () => {
    const dispatcher = agent(await revokedProvider());
    const from = api.requests.length;
    const { statusCode, headers, body } = await undici.request(`${api.origin}/upload`, {
      dispatcher,
      method: 'POST',
      body: Readable.from(['{"a":1}']),
    });
    expect(statusCode).toBe(401);
    expect(headers['www-authenticate']).toBe('Bearer realm="api", error="invalid_token"');
    expect(await body.json()).toEqual({ error: 'unauthorized' });
    expect(sentSince(from)).toHaveLength(1);
  });

  it("a token endpoint's refusal rejects the request with core's typed error, and nothing is sent", async () => {
    const from = api.requests.length;
    const dispatcher = agent(
      createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: 'client-id', clientSecret: 'wrong' }),
    );
    await expect(undici.request(`${api.origin}/payments`, { dispatcher })).rejects.toBeInstanceOf(OAuthError);
    expect(api.requests.length).toBe(from);
  });

  describe('under fetch(url, { dispatcher }): fetch follows redirects itself, each hop a request of its own', () => {
    it('the token goes to the API and not to a redirect hop on another origin', async () => {
      const dispatcher = agent(provider());
      const apiFrom = api.requests.length;
      const recFrom = recorder.count;
      const res = await undici.fetch(redirectTo(`${recorder.origin}/landing`), { dispatcher });
      expect(res.status).toBe(200);
      expect(sentSince(apiFrom)).toEqual([bearer]);
      expect(recorder.authorizations.slice(recFrom)).toEqual([undefined]);
    });

    it('a 401 to a GET is retried with a fresh token', async () => {
      const from = api.requests.length;
      const res = await undici.fetch(`${api.origin}/payments`, { dispatcher: agent(await revokedProvider()) });
      expect(res.status).toBe(200);
      const [first, second] = sentSince(from);
      expect(first).not.toBe(second);
    });

    it('a body reaches the dispatcher as a stream: a 401 to a POST reaches the caller', async () => {
      const from = api.requests.length;
      const res = await undici.fetch(`${api.origin}/payments`, {
        dispatcher: agent(await revokedProvider()),
        method: 'POST',
        body: '{}',
      });
      expect(res.status).toBe(401);
      expect(sentSince(from)).toHaveLength(1);
    });

    it("the caller's abort ends the wait for a token, and nothing is sent", async () => {
      tokenServer.configure({ latencyMs: 20_000 });
      try {
        const from = api.requests.length;
        const controller = new AbortController();
        const sent = undici.fetch(`${api.origin}/payments`, {
          dispatcher: agent(provider()),
          signal: controller.signal,
        });
        setTimeout(() => controller.abort(new Error('caller gave up')), 50);
        await expect(sent).rejects.toThrow('caller gave up');
        expect(api.requests.length).toBe(from);
      } finally {
        tokenServer.configure({ latencyMs: 0 });
      }
    });
  });

  it("Node's own fetch with the composed agent as its dispatcher: the token, or undici's refusal of its handler, never a hang", async () => {
    // Node 22 and 24 bundle undici 6 and 7, whose fetch hands dispatchers a handler undici 8 refuses; with the
    // global dispatcher (below) undici 8 bridges the two.
    const from = api.requests.length;
    const outcome = await fetch(`${api.origin}/payments`, {
      dispatcher: agent(provider()),
    } as unknown as RequestInit).then(
      (res) => res.status,
      (error: unknown) => (error as { cause?: { code?: string } }).cause?.code,
    );
    expect([200, 'UND_ERR_INVALID_ARG']).toContain(outcome);
    expect(sentSince(from)).toEqual(outcome === 200 ? [bearer] : []);
  });

  it('on the global dispatcher, every fetch and undici.request in the process carries the token to the API only', async () => {
    const previous = undici.getGlobalDispatcher();
    undici.setGlobalDispatcher(agent(provider(), undici.interceptors.redirect({ maxRedirections: 3 })));
    try {
      const apiFrom = api.requests.length;
      const recFrom = recorder.count;
      expect((await fetch(`${api.origin}/payments`)).status).toBe(200);
      expect((await undici.request(`${api.origin}/payments`)).statusCode).toBe(200);
      expect((await undici.request(redirectTo(`${recorder.origin}/landing`))).statusCode).toBe(200);
      expect(sentSince(apiFrom)).toEqual([bearer, bearer, bearer]);
      expect(recorder.authorizations.slice(recFrom)).toEqual([undefined]);
    } finally {
      undici.setGlobalDispatcher(previous);
    }
  });
});
