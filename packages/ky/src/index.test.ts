import { inspect } from 'node:util';
import ky, { HTTPError, TimeoutError, type Input, type KyInstance } from 'ky';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { listen, startApi, startRecorder, startTokenServer, type ApiServer, type Recorder, type TokenServer } from '@tokenkit/test-utils';
import {
  ConfigurationError,
  type OAuthError,
  TokenEndpointError,
  createTokenProvider,
  findTokenKitError,
  isOAuthError,
  tokenHooks,
  type TokenHooksOptions,
  type TokenProvider,
} from './index.ts';

// Real servers and up to 100 concurrent requests: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let tokenServer: TokenServer;
let api: ApiServer;
let deny: ApiServer;
let recorder: Recorder;

beforeAll(async () => {
  tokenServer = await startTokenServer();
  api = await startApi({ isValid: (token) => tokenServer.isValid(token) });
  deny = await startApi({ isValid: () => false });
  recorder = await startRecorder();
});
afterAll(async () => {
  await Promise.all([api.close(), deny.close(), recorder.close(), tokenServer.close()]);
});
afterEach(() => tokenServer.misbehave(undefined));

const newTokens = (extra: { maxRetries?: number; timeoutMs?: number } = {}): TokenProvider =>
  createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: 'client-id', clientSecret: 'client-secret', ...extra });

const client = (tokens: TokenProvider, base = api.origin + '/', options?: TokenHooksOptions): KyInstance =>
  ky.create({ baseUrl: base, hooks: tokenHooks(tokens, options) });

/** Runs `fn` and returns what it threw. */
async function failure(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('which requests get the token', () => {
  it('puts a bearer token on requests to the baseUrl origin', async () => {
    const before = tokenServer.count;
    const body = await client(newTokens()).get('payments').json<{ ok: boolean; path: string }>();
    expect(body).toMatchObject({ ok: true, path: '/payments' });
    const sent = api.requests.at(-1)!.authorization;
    expect(sent).toBe(`Bearer ${tokenServer.issued.at(-1)}`);
    expect(tokenServer.count - before).toBe(1);
  });

  it('keeps working past the 32 bases it keeps authorizers for: per-call bases beyond that are checked per call', async () => {
    const http = ky.create({ hooks: tokenHooks(newTokens()) });
    const from = api.requests.length;
    for (let i = 0; i < 40; i++) await http.get('payments', { baseUrl: `${api.origin}/v${i}/` });
    const sent = api.requests.slice(from).map((r) => [r.path, r.authorization]);
    expect(sent).toHaveLength(40);
    expect(sent.every(([path, authorization], i) => path === `/v${i}/payments` && authorization === sent[0]![1])).toBe(true);
    expect(sent[0]![1]).toMatch(/^Bearer /);
  });

  it('reads the base from `prefix` too', async () => {
    const api2 = ky.create({ prefix: api.origin, hooks: tokenHooks(newTokens()) });
    await expect(api2.get('/v1/items').json()).resolves.toMatchObject({ ok: true, path: '/v1/items' });
    expect(api.requests.at(-1)!.authorization).toMatch(/^Bearer at-/);
  });

  it('sends an absolute URL to another origin without the token', async () => {
    const api2 = client(newTokens());
    await api2.get('payments').json();
    const seen = recorder.count;
    await expect(api2.get(`${recorder.origin}/collect`).json()).resolves.toEqual({ recorded: true });
    expect(recorder.authorizations.slice(seen)).toEqual([undefined]);
  });

  it('sends the token to an origin listed in `origins`', async () => {
    const seen = recorder.count;
    await client(newTokens(), api.origin + '/', { origins: [recorder.origin] }).get(`${recorder.origin}/files`);
    expect(recorder.authorizations.slice(seen)).toEqual([`Bearer ${tokenServer.issued.at(-1)}`]);
  });

  it('keeps one authorizer per base: shared hooks follow each instance its own origin', async () => {
    const hooks = tokenHooks(newTokens());
    const toApi = ky.create({ baseUrl: api.origin, hooks });
    const toRecorder = ky.create({ baseUrl: recorder.origin, hooks });
    const seen = recorder.count;
    await toApi.get(`${recorder.origin}/a`);
    await toRecorder.get('b');
    expect(recorder.authorizations.slice(seen)).toEqual([undefined, `Bearer ${tokenServer.issued.at(-1)}`]);
  });

  it('lets Node fetch drop the token on a redirect to another origin, and keep it on a same-origin one', async () => {
    const api2 = client(newTokens());
    const seen = recorder.count;
    await expect(api2.get(`redirect?to=${encodeURIComponent(`${recorder.origin}/landing`)}`).json()).resolves.toEqual({ recorded: true });
    expect(api.requests.at(-1)).toMatchObject({ path: expect.stringMatching(/^\/redirect\?/), authorization: expect.stringMatching(/^Bearer /) });
    expect(recorder.authorizations.slice(seen)).toEqual([undefined]);

    // Same origin: the protected target answers 200 only because the token was kept.
    await expect(api2.get(`redirect?to=${encodeURIComponent('/after')}`).json()).resolves.toMatchObject({ ok: true, path: '/after' });
  });

  it('takes a Request as input: the token for the base origin, none for another, and the Request’s own header untouched', async () => {
    const tokens = newTokens();
    const api2 = client(tokens);
    const seen = recorder.count;
    await expect(api2(new Request(`${api.origin}/payments`)).json()).resolves.toMatchObject({ ok: true, path: '/payments' });
    expect(api.requests.at(-1)!.authorization).toBe(`Bearer ${tokenServer.issued.at(-1)}`);
    await api2(new Request(`${recorder.origin}/collect`));
    expect(recorder.authorizations.slice(seen)).toEqual([undefined]);

    const before = tokenServer.count;
    await api2(new Request(`${api.origin}/public`, { headers: { authorization: 'Basic dXNlcjpwdw==' } }));
    expect(api.requests.at(-1)!.authorization).toBe('Basic dXNlcjpwdw==');
    expect(tokenServer.count).toBe(before);
  });

  it('never touches an Authorization header the caller set', async () => {
    const before = tokenServer.count;
    const api2 = client(newTokens());
    await api2.get('public', { headers: { authorization: 'Basic dXNlcjpwdw==' } });
    expect(api.requests.at(-1)!.authorization).toBe('Basic dXNlcjpwdw==');

    // Its 401 is the caller's business: no invalidation, no retry with our token.
    const seen = api.requests.length;
    const error = await failure(() => api2.get('payments', { headers: { authorization: 'Bearer callers-own' } }));
    expect(error).toBeInstanceOf(HTTPError);
    expect((error as HTTPError).response.status).toBe(401);
    expect(api.requests.slice(seen).map((r) => r.authorization)).toEqual(['Bearer callers-own']);
    expect(tokenServer.count).toBe(before);

    // Nor one a beforeRequest hook of the caller set.
    const replaced = api2.extend({ hooks: { beforeRequest: [({ request }) => request.headers.set('authorization', 'Bearer replaced')] } });
    const seen2 = api.requests.length;
    const error2 = await failure(() => replaced.get('payments'));
    expect((error2 as HTTPError).response.status).toBe(401);
    expect(api.requests.slice(seen2).map((r) => r.authorization)).toEqual(['Bearer replaced']);
  });
});

describe('401 answers', () => {
  it('invalidates a revoked token and retries once with a fresh one, replaying the JSON body', async () => {
    const tokens = newTokens();
    const kyRetries: string[] = [];
    const statuses: number[] = [];
    const api2 = client(tokens).extend({
      retry: { delay: () => 60_000 }, // the token retry goes at once, not after ky's backoff
      hooks: { beforeRetry: [({ error }) => void kyRetries.push(error.name)], afterResponse: [({ response }) => void statuses.push(response.status)] },
    });
    await api2.get('payments');
    const revoked = tokenServer.issued.at(-1)!;
    tokenServer.revoke(revoked);

    const seen = api.requests.length;
    const before = tokenServer.count;
    const body = await api2.post('refunds', { json: { amount: 42 } }).json<{ ok: boolean; body: string }>();
    expect(body).toMatchObject({ ok: true, body: '{"amount":42}' });
    const fresh = tokenServer.issued.at(-1)!;
    expect(fresh).not.toBe(revoked);
    expect(api.requests.slice(seen).map((r) => [r.authorization, r.body])).toEqual([
      [`Bearer ${revoked}`, '{"amount":42}'],
      [`Bearer ${fresh}`, '{"amount":42}'],
    ]);
    expect(tokenServer.count - before).toBe(1);
    expect(kyRetries).toEqual([]); // not one of ky's retries: the caller's retry.limit is untouched
    expect(statuses).toEqual([200, 200]); // the caller's afterResponse hooks never saw the 401
    // The fresh token is cached for the next call.
    await api2.get('again');
    expect(api.requests.at(-1)!.authorization).toBe(`Bearer ${fresh}`);
  });

  it('retries at most once: an API that always answers 401 sees exactly 2 requests', async () => {
    const seen = deny.requests.length;
    const before = tokenServer.count;
    const error = await failure(() => client(newTokens(), deny.origin).get('payments').json());
    expect(error).toBeInstanceOf(HTTPError);
    expect((error as HTTPError).response.status).toBe(401);
    expect((error as HTTPError).message).toContain('401');
    expect(deny.requests.length - seen).toBe(2);
    expect(tokenServer.count - before).toBe(2);
    const [first, second] = deny.requests.slice(seen).map((r) => r.authorization);
    expect(first).not.toBe(second);
    // Logging the error does not show the token (ky keeps the request on it).
    expect(inspect(error, { depth: 5 })).not.toContain(second!.slice('Bearer '.length));
    expect((error as HTTPError).request.headers.get('authorization')).toBeNull();
  });

  it('does not retry a ReadableStream body: the 401 reaches the caller', async () => {
    const api2 = client(newTokens());
    await api2.get('payments');
    tokenServer.revoke(tokenServer.issued.at(-1)!);
    const seen = api.requests.length;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('streamed'));
        controller.close();
      },
    });
    const error = await failure(() => api2.post('uploads', { body }));
    expect((error as HTTPError).response.status).toBe(401);
    expect(api.requests.slice(seen).map((r) => r.body)).toEqual(['streamed']);
  });

  it('retries with a fresh token under retry.limit 0 too, through the caller’s own fetch', async () => {
    const fetched: string[] = [];
    const fetch = (input: Input, init?: RequestInit) => {
      fetched.push((input as Request).method);
      return globalThis.fetch(input, init);
    };
    const api2 = ky.create({ baseUrl: api.origin, retry: 0, fetch, hooks: tokenHooks(newTokens()) });
    await api2.get('payments');
    const revoked = tokenServer.issued.at(-1)!;
    tokenServer.revoke(revoked);
    const seen = api.requests.length;
    await expect(api2.post('refunds', { json: { amount: 1 } }).json()).resolves.toMatchObject({ ok: true, body: '{"amount":1}' });
    expect(api.requests.slice(seen).map((r) => r.authorization)).toEqual([`Bearer ${revoked}`, `Bearer ${tokenServer.issued.at(-1)}`]);
    expect(fetched).toEqual(['GET', 'POST', 'POST']);
  });

  it('a retry by ky itself after the token retry carries the fresh token, and the token retry is not repeated', async () => {
    const api2 = ky.create({ baseUrl: api.origin, retry: { limit: 2, delay: () => 0 }, hooks: tokenHooks(newTokens()) });
    await api2.get('payments');
    const revoked = tokenServer.issued.at(-1)!;
    tokenServer.revoke(revoked);
    const seen = api.requests.length;
    const error = await failure(() => api2.get('status/503'));
    expect((error as HTTPError).response.status).toBe(503);
    const fresh = `Bearer ${tokenServer.issued.at(-1)}`;
    expect(api.requests.slice(seen).map((r) => r.authorization)).toEqual([`Bearer ${revoked}`, fresh, fresh, fresh]);
    expect((error as HTTPError).request.headers.get('authorization')).toBeNull(); // util.inspect(error) shows no token
    expect(inspect(error, { depth: 5 })).not.toContain(fresh.slice('Bearer '.length));
  });

  it('with retryOn401: false, a 401 reaches the caller and the token stays cached', async () => {
    const api2 = ky.create({ baseUrl: api.origin, hooks: tokenHooks(newTokens(), { retryOn401: false }) });
    await api2.get('payments');
    const revoked = tokenServer.issued.at(-1)!;
    tokenServer.revoke(revoked);
    const seen = api.requests.length;
    const error = await failure(() => api2.get('payments'));
    expect((error as HTTPError).response.status).toBe(401);
    expect(api.requests.length - seen).toBe(1);
    await expect(api2.get('payments')).rejects.toThrow(/401/);
    expect(api.requests.at(-1)!.path).toBe('/payments');
    expect(tokenServer.issued.at(-1)).toBe(revoked);
  });

  it('leaves alone a 401 from another origin a redirect led to (the token did not go there)', async () => {
    const before = tokenServer.count;
    const seen = deny.requests.length;
    const error = await failure(() => client(newTokens()).get(`redirect?to=${encodeURIComponent(`${deny.origin}/elsewhere`)}`));
    expect((error as HTTPError).response.status).toBe(401);
    expect(deny.requests.slice(seen).map((r) => r.authorization)).toEqual([undefined]);
    expect(tokenServer.count - before).toBe(1);
  });

  it('leaves a 401 alone when the request went out without our token', async () => {
    const before = tokenServer.count;
    const error = await failure(() => ky.get(`${deny.origin}/x`, { hooks: tokenHooks(newTokens(), { origins: [api.origin] }) }));
    expect((error as HTTPError).response.status).toBe(401);
    expect(deny.requests.at(-1)!.authorization).toBeUndefined();
    expect(tokenServer.count).toBe(before);
  });
});

describe('token failures', () => {
  it('rejects with core’s OAuthError, findable on the cause chain, without the secret', async () => {
    tokenServer.misbehave(() => ({ status: 401, body: { error: 'invalid_client', error_description: 'client authentication failed' } }));
    const seen = api.requests.length;
    const error = await failure(() => client(newTokens()).get('payments').json());
    expect(isOAuthError(error)).toBe(true);
    expect(findTokenKitError(error)).toBe(error);
    expect(error).toMatchObject({ name: 'OAuthError', code: 'oauth_error', error: 'invalid_client', status: 401 });
    expect((error as OAuthError).message).toBe('token endpoint answered 401 invalid_client: client authentication failed');
    for (const text of [String(error), inspect(error, { depth: 5 }), JSON.stringify(error)]) expect(text).not.toContain('client-secret');
    expect(api.requests.length).toBe(seen); // nothing was sent without a token
  });

  it('rejects with core’s error when the fresh token for a 401 retry cannot be had', async () => {
    const api2 = client(newTokens());
    await api2.get('payments');
    tokenServer.revoke(tokenServer.issued.at(-1)!);
    tokenServer.misbehave(() => ({ status: 400, body: { error: 'invalid_client' } }));
    const seen = api.requests.length;
    const error = await failure(() => api2.get('payments'));
    expect(findTokenKitError(error)).toMatchObject({ name: 'OAuthError', code: 'oauth_error', error: 'invalid_client', status: 400 });
    expect(api.requests.length - seen).toBe(1);
  });

  it('rejects with a TokenEndpointError for an unusable answer', async () => {
    tokenServer.misbehave(() => ({ status: 200, body: '<html>login</html>' }));
    const error = await failure(() => client(newTokens()).get('payments'));
    expect(error).toBeInstanceOf(TokenEndpointError);
    expect(error).toMatchObject({ code: 'invalid_response' });
    expect(inspect(error)).not.toContain('client-secret');
  });

  it('throws ConfigurationError at once for something that is not a TokenProvider', () => {
    expect(() => tokenHooks({} as never)).toThrow(ConfigurationError);
    expect(() => tokenHooks(undefined as never)).toThrow(/tokens: must be a TokenProvider/);
  });

  it('throws ConfigurationError for bad origins at once, and for a client with no base at the first request', async () => {
    const tokens = newTokens();
    expect(() => tokenHooks(tokens, { origins: ['ftp://files.example.com'] })).toThrow(ConfigurationError);
    expect(() => tokenHooks(tokens, { origins: ['http://api.example.com'] })).toThrow(/origins: http:\/\/api\.example\.com is not HTTPS/);
    const error = await failure(() => ky.get(`${api.origin}/payments`, { hooks: tokenHooks(tokens) }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ code: 'invalid_option', option: 'origins' });
  });
});

describe('waiting for a token', () => {
  const hang = () => tokenServer.misbehave(() => ({ hang: true }));

  it('ky’s per-attempt timeout bounds the wait: ky’s TimeoutError, fast, and nothing sent', async () => {
    hang();
    const seen = api.requests.length;
    const started = performance.now();
    const error = await failure(() => ky.get('payments', { baseUrl: api.origin, timeout: 200, hooks: tokenHooks(newTokens()) }));
    // Not ky's default 10 s, nor the provider's; generous for a busy machine (here and below).
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(api.requests.length).toBe(seen);
  });

  it('with timeout: false and no totalTimeout, the provider’s own timeoutMs ends the wait', async () => {
    hang();
    const started = performance.now();
    const error = await failure(() => ky.get('payments', { baseUrl: api.origin, timeout: false, hooks: tokenHooks(newTokens({ timeoutMs: 150, maxRetries: 0 })) }));
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(TokenEndpointError);
    expect(error).toMatchObject({ code: 'timeout' });
  });

  it('a timeout after the token went on: ky’s TimeoutError, with our token removed from its request', async () => {
    const seen: (string | undefined)[] = [];
    const silent = await listen((req) => void seen.push(req.headers.authorization)); // never answers
    try {
      // The token is at hand and the timeout long enough for the request to reach the server on a busy machine.
      const tokens = newTokens();
      await tokens.getToken();
      const error = await failure(() =>
        ky.get('payments', { baseUrl: silent.origin, timeout: 2_000, retry: 0, hooks: tokenHooks(tokens) }),
      );
      expect(error).toBeInstanceOf(TimeoutError);
      expect(seen).toEqual([`Bearer ${tokenServer.issued.at(-1)}`]);
      expect((error as TimeoutError).request.headers.get('authorization')).toBeNull();
      expect(inspect(error, { depth: 5 })).not.toContain(tokenServer.issued.at(-1)!);
    } finally {
      await silent.close();
    }
  });

  it('the caller’s signal ends the wait', async () => {
    hang();
    const started = performance.now();
    const error = await failure(() => client(newTokens()).get('payments', { signal: AbortSignal.timeout(150) }));
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(error).toMatchObject({ name: 'TimeoutError' }); // AbortSignal.timeout's reason, a DOMException
  });

  it('ky’s totalTimeout ends the wait with ky’s TimeoutError', async () => {
    hang();
    const started = performance.now();
    const error = await failure(() => client(newTokens()).get('payments', { totalTimeout: 150 }));
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(TimeoutError);
  });
});

it('100 concurrent requests on a cold cache make exactly one token request', async () => {
  const before = tokenServer.count;
  const seen = api.requests.length;
  const api2 = client(newTokens());
  const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => api2.get(`items/${i}`).json<{ ok: boolean }>()));
  expect(answers.every((a) => a.ok)).toBe(true);
  expect(tokenServer.count - before).toBe(1);
  expect(new Set(api.requests.slice(seen).map((r) => r.authorization))).toEqual(new Set([`Bearer ${tokenServer.issued.at(-1)}`]));
});
