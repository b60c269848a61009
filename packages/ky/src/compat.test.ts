// The peer range is ky ^2.0.0. The same behaviours on the oldest release of the range, ky 2.0.0,
// and on the current ky, against real servers. Both have the `init` hook, the per-call `context`,
// the `fetch` option and both `baseUrl` and `prefix`, which the hooks read. Both bound `fetch`, in
// which the token goes on, by `timeout` and what `totalTimeout` leaves, and reject with their own
// TimeoutError.
import { inspect } from 'node:util';
import { authorizationsSince, rejectionOf, startAdapterServers, startApi, type ApiServer, type Recorder, type TokenServer } from '@tokenkit/test-utils';
import ky20, { TimeoutError as TimeoutError20 } from 'ky-2.0';
import kyCurrent, { TimeoutError } from 'ky';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenProvider, findTokenKitError, isOAuthError, tokenHooks, type TokenHooksOptions } from './index.ts';

// Real servers: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

/** What these tests use of a ky instance, the same in both versions (their hook types differ in detail). */
interface ResponsePromise extends Promise<Response> {
  json(): Promise<unknown>;
}
interface Client {
  get(url: string, options?: Record<string, unknown>): ResponsePromise;
}
interface KyLike {
  create(options: Record<string, unknown>): Client;
}

/** Each version with its own TimeoutError class: a call that runs out of time waiting for a token rejects with it. */
const versions: [string, KyLike, new (...args: never[]) => Error][] = [
  ['ky 2.0.0', ky20 as unknown as KyLike, TimeoutError20],
  ['current ky', kyCurrent as unknown as KyLike, TimeoutError],
];

let tokenServer: TokenServer, api: ApiServer, recorder: Recorder, close: () => Promise<void>;
beforeAll(async () => void ({ tokenServer, api, recorder, close } = await startAdapterServers()));
afterAll(() => close());
afterEach(() => tokenServer.misbehave(undefined));

const provider = (clientSecret = 'client-secret') => createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: 'client-id', clientSecret });
const sentSince = (from: number) => authorizationsSince(api, from);
const statusOf = (error: unknown) => (error as { response?: Response }).response?.status;

describe.each(versions)('tokenHooks on %s', (_name, ky, KyTimeoutError) => {
  const client = (options: TokenHooksOptions = {}, tokens = provider()) => ky.create({ baseUrl: `${api.origin}/`, hooks: tokenHooks(tokens, options) });

  it('sends the token to the baseUrl, reuses it, and sends none to an absolute URL of another origin', async () => {
    const http = client();
    const from = api.requests.length;
    const tokenRequests = tokenServer.count;
    expect(await http.get('payments').json()).toMatchObject({ ok: true, path: '/payments' });
    expect(await http.get('payments').json()).toMatchObject({ ok: true, path: '/payments' });
    const [first, second] = sentSince(from);
    expect(first).toBe(`Bearer ${tokenServer.issued.at(-1)}`);
    expect(second).toBe(first);
    expect(tokenServer.count).toBe(tokenRequests + 1);

    const recorded = recorder.count;
    expect(await http.get(`${recorder.origin}/elsewhere`).json()).toEqual({ recorded: true });
    expect(recorder.authorizations.slice(recorded)).toEqual([undefined]);
  });

  it('reads the base from `prefix` when there is no baseUrl', async () => {
    const http = ky.create({ prefix: api.origin, hooks: tokenHooks(provider()) });
    const from = api.requests.length;
    expect(await http.get('/v1/items').json()).toMatchObject({ ok: true, path: '/v1/items' });
    expect(sentSince(from)).toEqual([`Bearer ${tokenServer.issued.at(-1)}`]);
  });

  it('drops the token on a redirect to another origin and keeps it on a same-origin hop', async () => {
    // The recorder is an allowed origin, so only fetch's redirect rule keeps the token from it.
    const http = client({ origins: [recorder.origin] });
    const recorded = recorder.count;
    const from = api.requests.length;
    expect(await http.get('redirect', { searchParams: { to: `${recorder.origin}/landing` } }).json()).toEqual({ recorded: true });
    expect(sentSince(from)).toEqual([expect.stringMatching(/^Bearer at-/)]);
    expect(recorder.authorizations.slice(recorded)).toEqual([undefined]);

    const hopFrom = api.requests.length;
    expect(await http.get('redirect', { searchParams: { to: '/home' } }).json()).toMatchObject({ ok: true, path: '/home' });
    const [hop1, hop2] = sentSince(hopFrom);
    expect(hop1).toMatch(/^Bearer at-/);
    expect(hop2).toBe(hop1);
  });

  it('leaves a header the caller set alone, and does not retry its 401', async () => {
    const http = client();
    const from = api.requests.length;
    const tokenRequests = tokenServer.count;
    const error = await rejectionOf(http.get('payments', { headers: { authorization: 'Bearer callers-own' }, retry: 0 }));
    expect(statusOf(error)).toBe(401);
    expect(sentSince(from)).toEqual(['Bearer callers-own']);
    expect(tokenServer.count).toBe(tokenRequests);
  });

  it('retries a 401 once with a fresh token, and never twice', async () => {
    const tokens = provider();
    const http = client({}, tokens);
    await http.get('payments').json();
    const stale = tokens.cachedAuthorizationHeader()!;
    expect(stale).toMatch(/^Bearer at-/);
    tokenServer.revoke(stale.slice('Bearer '.length));
    const from = api.requests.length;
    expect(await http.get('payments', { retry: 0 }).json()).toMatchObject({ ok: true, path: '/payments' });
    const [rejected, fresh, ...more] = sentSince(from);
    expect(rejected).toBe(stale);
    expect(fresh).toBe(`Bearer ${tokenServer.issued.at(-1)}`);
    expect(fresh).not.toBe(stale);
    expect(more).toEqual([]);

    // An API that refuses every token: exactly two requests, then the 401 reaches the caller.
    const refusing = await startApi({ isValid: () => false });
    try {
      const http2 = ky.create({ baseUrl: `${refusing.origin}/`, hooks: tokenHooks(provider()) });
      const error = await rejectionOf(http2.get('payments').json());
      expect(statusOf(error)).toBe(401);
      expect(refusing.requests.map((r) => r.authorization)).toEqual([expect.stringMatching(/^Bearer at-/), expect.stringMatching(/^Bearer at-/)]);
      expect(refusing.requests[1]!.authorization).not.toBe(refusing.requests[0]!.authorization);
    } finally {
      await refusing.close();
    }
  });

  it('rejects with the typed error, findable, with no secret or token in it', async () => {
    const http = client({}, provider('wrong-secret'));
    const from = api.requests.length;
    const error = await rejectionOf(http.get('payments').json());
    const found = findTokenKitError(error);
    expect(isOAuthError(found)).toBe(true);
    expect(found).toMatchObject({ error: 'invalid_client' });
    expect(inspect(error, { depth: 8 })).not.toContain('wrong-secret');
    expect(api.requests.length).toBe(from); // the request never went out

    const ok = client();
    await ok.get('payments').json();
    const failed = await rejectionOf(ok.get('status/500', { retry: 0 }).json());
    expect(statusOf(failed)).toBe(500);
    expect(api.requests.at(-1)!.authorization).toMatch(/^Bearer at-/);
    expect(inspect(failed, { depth: 8 })).not.toMatch(/Bearer at-/);
  });

  it.each([
    ['totalTimeout', { totalTimeout: 150 }],
    ['the per-attempt timeout', { timeout: 150 }],
  ])('ends the wait for a token at %s with ky’s TimeoutError, and sends nothing', async (_option, limit) => {
    tokenServer.misbehave(() => ({ hang: true }));
    const http = client();
    const from = api.requests.length;
    const started = performance.now();
    const error = await rejectionOf(http.get('payments', limit).json());
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(140);
    // Not ky's default 10 s timeout, nor the provider's own; generous for a busy machine.
    expect(elapsed).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(KyTimeoutError);
    expect(findTokenKitError(error)).toBeUndefined();
    expect(api.requests.length).toBe(from);
  });
});
