// What is specific to ky: setting up (withTokens, tokenHooks, ky's prefix and per-call options), the token going on
// in ky's fetch (Request inputs, ky's own hooks, retries and timeouts), bodies kept for the re-send, and the
// redirects core follows hop by hop. What every adapter shares is in contract.test.ts.
import { inspect } from 'node:util';
import ky, { TimeoutError, type HTTPError, type Input, type KyInstance } from 'ky';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  authorizationsSince,
  listen,
  rejectionOf,
  startAdapterServers,
  type ApiServer,
  type Recorder,
  type TokenServer,
} from '@tokenkit/test-utils';
import {
  ConfigurationError,
  DEFAULT_MAX_REPLAY_BYTES,
  TokenEndpointError,
  createTokenProvider,
  findTokenKitError,
  tokenHooks,
  withTokens,
  type TokenHooksOptions,
  type TokenProvider,
} from './index.ts';

// Real servers: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let tokenServer: TokenServer, api: ApiServer, recorder: Recorder, close: () => Promise<void>;
beforeAll(async () => void ({ tokenServer, api, recorder, close } = await startAdapterServers()));
afterAll(() => close());
afterEach(() => tokenServer.misbehave(undefined));

const newTokens = (extra: { maxRetries?: number; timeoutMs?: number } = {}): TokenProvider =>
  createTokenProvider({
    tokenEndpoint: tokenServer.url,
    clientId: 'client-id',
    clientSecret: 'client-secret',
    ...extra,
  });
const client = (tokens = newTokens(), options?: TokenHooksOptions): KyInstance =>
  withTokens(ky.create({ baseUrl: `${api.origin}/` }), tokens, options);
const sentSince = (from: number) => authorizationsSince(api, from);
const bearer = expect.stringMatching(/^Bearer at-/);

/** A client with a cached token that the API then refuses: the next request gets a 401 first. */
async function revoked(options?: TokenHooksOptions): Promise<KyInstance> {
  const tokens = newTokens();
  const http = client(tokens, options);
  await http.get('warm-up');
  tokenServer.revoke((await tokens.getToken()).accessToken);
  return http;
}

describe('setting up', () => {
  it('withTokens trusts an absolute `prefix` of the instance', async () => {
    const http = withTokens(ky.create({ prefix: api.origin }), newTokens());
    const from = api.requests.length;
    await expect(http.get('/v1/items').json()).resolves.toMatchObject({ ok: true, path: '/v1/items' });
    expect(sentSince(from)).toEqual([bearer]);
  });

  it('a base a single call or a later extend() supplies gets no token: neither `prefix` nor `baseUrl`', async () => {
    const http = client();
    await http.get('warm-up');
    const from = recorder.count;
    await http.get('a', { prefix: recorder.origin });
    await http.extend({ baseUrl: `${recorder.origin}/` }).get('b');
    expect(recorder.authorizations.slice(from)).toEqual([undefined, undefined]);
  });

  it('fails at once without a TokenProvider, without origins or a base, and with bad options', () => {
    const tokens = newTokens();
    expect(() => tokenHooks({} as never, { origins: [api.origin] })).toThrow(/tokens: must be a TokenProvider/);
    expect(() => tokenHooks(tokens, {} as never)).toThrow(ConfigurationError);
    expect(() => withTokens(ky, tokens)).toThrow(
      expect.objectContaining({ code: 'invalid_option', option: 'origins' }),
    );
    expect(() => withTokens(ky.create({ baseUrl: 'http://api.example.com/' }), tokens)).toThrow(
      /baseUrl: http:\/\/api\.example\.com is not HTTPS/,
    );
    expect(() => tokenHooks(tokens, { origins: ['ftp://files.example.com'] })).toThrow(ConfigurationError);
    expect(() => tokenHooks(tokens, { origins: [api.origin], maxReplayBytes: -1 })).toThrow(/maxReplayBytes/);
  });
});

describe('the token goes on in ky’s fetch', () => {
  it('takes a Request as input: the token for the base origin, none for another, the Request’s own header untouched', async () => {
    const http = client();
    const from = api.requests.length;
    const recorded = recorder.count;
    await expect(http(new Request(`${api.origin}/payments`)).json()).resolves.toMatchObject({
      ok: true,
      path: '/payments',
    });
    await http(new Request(`${recorder.origin}/collect`));
    await http(new Request(`${api.origin}/public`, { headers: { authorization: 'Basic dXNlcjpwdw==' } }));
    expect(sentSince(from)).toEqual([bearer, 'Basic dXNlcjpwdw==']);
    expect(recorder.authorizations.slice(recorded)).toEqual([undefined]);
  });

  it('leaves a header set by a beforeRequest hook of the caller alone, and its 401 to the caller', async () => {
    const http = client().extend({
      hooks: { beforeRequest: [({ request }) => request.headers.set('authorization', 'Bearer replaced')] },
    });
    const from = api.requests.length;
    expect(((await rejectionOf(http.get('payments'))) as HTTPError).response.status).toBe(401);
    expect(sentSince(from)).toEqual(['Bearer replaced']);
  });

  it('re-sends a 401 at once, not as one of ky’s retries: the caller’s hooks never see it, and the JSON body goes again', async () => {
    const kyRetries: string[] = [];
    const statuses: number[] = [];
    const http = (await revoked()).extend({
      retry: { delay: () => 60_000 }, // a retry by ky would take a minute
      hooks: {
        beforeRetry: [({ error }) => void kyRetries.push(error.name)],
        afterResponse: [({ response }) => void statuses.push(response.status)],
      },
    });
    const from = api.requests.length;
    await expect(http.post('refunds', { json: { amount: 42 } }).json()).resolves.toMatchObject({
      ok: true,
      body: '{"amount":42}',
    });
    expect(api.requests.slice(from).map((r) => r.body)).toEqual(['{"amount":42}', '{"amount":42}']);
    expect(kyRetries).toEqual([]);
    expect(statuses).toEqual([200]);
  });

  it('re-sends under retry.limit 0 too, through the caller’s own fetch', async () => {
    const fetched: string[] = [];
    const fetch = (input: Input, init?: RequestInit) => {
      fetched.push((input as Request).method);
      return globalThis.fetch(input, init);
    };
    const tokens = newTokens();
    const http = withTokens(ky.create({ baseUrl: api.origin, retry: 0, fetch }), tokens);
    await http.get('payments');
    tokenServer.revoke((await tokens.getToken()).accessToken);
    await expect(http.post('refunds', { json: { amount: 1 } }).json()).resolves.toMatchObject({
      ok: true,
      body: '{"amount":1}',
    });
    expect(fetched).toEqual(['GET', 'POST', 'POST']);
  });

  it('a retry by ky itself after the re-send carries the fresh token, and the re-send is not repeated', async () => {
    const http = (await revoked()).extend({ retry: { limit: 2, delay: () => 0 } });
    const from = api.requests.length;
    const error = await rejectionOf(http.get('status/503'));
    expect((error as HTTPError).response.status).toBe(503);
    const [rejected, fresh, ...kyRetries] = sentSince(from);
    expect(rejected).not.toBe(fresh);
    expect(kyRetries).toEqual([fresh, fresh]);
    expect(inspect(error, { depth: 8 })).not.toContain(fresh!.slice('Bearer '.length));
  });
});

describe('bodies kept for the re-send after a 401', () => {
  it('one within maxReplayBytes is sent again; a larger one, or a JSON body that serialises larger, once', async () => {
    const http = await revoked({ maxReplayBytes: 1024 });
    const small = 'x'.repeat(1024);
    let from = api.requests.length;
    await expect(http.post('uploads', { body: small }).json()).resolves.toMatchObject({ ok: true });
    expect(api.requests.slice(from).map((r) => r.body.length)).toEqual([1024, 1024]);

    for (const body of [
      { body: 'y'.repeat(1025) },
      { body: new Blob(['z'.repeat(2048)]) },
      { json: { text: 'é'.repeat(600) } },
    ]) {
      const large = await revoked({ maxReplayBytes: 1024 }); // (the 401 drops the token all the same)
      from = api.requests.length;
      expect(((await rejectionOf(large.post('uploads', body))) as HTTPError).response.status).toBe(401);
      expect(api.requests.length - from).toBe(1);
    }
  });

  it(`the default is ${DEFAULT_MAX_REPLAY_BYTES} bytes, and a caller’s stringifyJson is still used`, async () => {
    const http = await revoked();
    const from = api.requests.length;
    expect(
      ((await rejectionOf(http.post('uploads', { body: new Uint8Array(DEFAULT_MAX_REPLAY_BYTES + 1) }))) as HTTPError)
        .response.status,
    ).toBe(401);
    const stringifyJson = (data: unknown) => JSON.stringify(data).toUpperCase();
    await expect(http.post('uploads', { json: { a: 'b' }, stringifyJson }).json()).resolves.toMatchObject({
      body: '{"A":"B"}',
    });
    expect(api.requests.length - from).toBe(2);
  });
});

describe('redirects, followed hop by hop', () => {
  it('a 307 on the same origin sends the body again with the token; a 303 turns into a GET without it', async () => {
    const http = client();
    let from = api.requests.length;
    await expect(
      http.post(`redirect?status=307&to=${encodeURIComponent('/after')}`, { body: 'payload' }).json(),
    ).resolves.toMatchObject({ path: '/after', method: 'POST', body: 'payload' });
    expect(api.requests.slice(from).map((r) => [r.authorization, r.body])).toEqual([
      [bearer, 'payload'],
      [bearer, 'payload'],
    ]);
    from = api.requests.length;
    await expect(
      http.post(`redirect?status=303&to=${encodeURIComponent('/after')}`, { body: 'payload' }).json(),
    ).resolves.toMatchObject({ path: '/after', method: 'GET', body: '' });
    expect(api.requests.slice(from).map((r) => [r.method, r.authorization])).toEqual([
      ['POST', bearer],
      ['GET', bearer],
    ]);
  });

  it('a 401 after a same-origin redirect reached our token: re-sent with a fresh one', async () => {
    const http = await revoked();
    const from = api.requests.length;
    await expect(http.get(`redirect?to=${encodeURIComponent('/payments')}`).json()).resolves.toMatchObject({
      ok: true,
      path: '/payments',
    });
    const [first, hop, again, hopAgain] = sentSince(from);
    expect([hop, hopAgain]).toEqual([first, again]);
    expect(again).not.toBe(first);
  });

  it('the caller’s redirect: "manual" gets the redirect answer itself', async () => {
    const from = recorder.count;
    const response = await client().get(`redirect?to=${encodeURIComponent(`${recorder.origin}/x`)}`, {
      redirect: 'manual',
      throwHttpErrors: false,
    });
    expect(response.status).toBe(302);
    expect(recorder.count).toBe(from);
  });
});

describe('errors and time limits', () => {
  it('a token failure rejects with core’s typed error itself, without the secret, and nothing is sent', async () => {
    tokenServer.misbehave(() => ({ status: 401, body: { error: 'invalid_client' } }));
    const from = api.requests.length;
    const error = await rejectionOf(client().get('payments'));
    expect(findTokenKitError(error)).toBe(error);
    expect(error).toMatchObject({ name: 'OAuthError', error: 'invalid_client', status: 401 });
    expect(inspect(error, { depth: 8 })).not.toContain('client-secret');
    expect(api.requests.length).toBe(from);
  });

  it('so does a failure to get the fresh token for the re-send', async () => {
    const http = await revoked();
    tokenServer.misbehave(() => ({ status: 400, body: { error: 'invalid_client' } }));
    const from = api.requests.length;
    expect(findTokenKitError(await rejectionOf(http.get('payments')))).toMatchObject({
      error: 'invalid_client',
      status: 400,
    });
    expect(api.requests.length - from).toBe(1);
  });

  it('with timeout: false and no totalTimeout, the provider’s own timeoutMs ends the wait', async () => {
    tokenServer.misbehave(() => ({ hang: true }));
    const http = client(newTokens({ timeoutMs: 150, maxRetries: 0 }));
    const error = await rejectionOf(http.get('payments', { timeout: false }));
    expect(error).toBeInstanceOf(TokenEndpointError);
    expect(error).toMatchObject({ code: 'timeout' });
  });

  it('a timeout after the token went on: ky’s TimeoutError, with our token removed from its request', async () => {
    const seen: (string | undefined)[] = [];
    const silent = await listen((req) => void seen.push(req.headers.authorization)); // never answers
    try {
      const tokens = newTokens();
      const header = await tokens.authorizationHeader();
      const error = await rejectionOf(
        withTokens(ky.create({ baseUrl: silent.origin }), tokens).get('payments', { timeout: 2_000, retry: 0 }),
      );
      expect(error).toBeInstanceOf(TimeoutError);
      expect(seen).toEqual([header]);
      expect((error as TimeoutError).request.headers.get('authorization')).toBeNull();
      expect(inspect(error, { depth: 8 })).not.toContain(header.slice('Bearer '.length));
    } finally {
      await silent.close();
    }
  });
});
