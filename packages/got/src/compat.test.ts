// The peer range is got >=14.6 <17. got 15 introduced the header Proxy and setInternalHeader,
// which the hooks use when present; got 14 has a plain headers object. The same behaviours,
// on the oldest release of the range, on got 15 and on got 16, against real servers.
import { inspect } from 'node:util';
import { authorizationsSince, rejectionOf, startAdapterServers, startApi, type ApiServer, type Recorder, type TokenServer } from '@tokenkit/test-utils';
import got14 from 'got-14';
import got15 from 'got-15';
import got16 from 'got';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenProvider, findTokenKitError, isOAuthError, tokenHooks, type TokenHooksOptions } from './index.ts';

// Real servers: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

/** What these tests use of a got instance, the same in all three majors. */
interface Response {
  statusCode: number;
  body: string;
}
interface Client {
  (url: string): Promise<Response>;
  get(url: string, options?: Record<string, unknown>): Promise<Response>;
  extend(options: Record<string, unknown>): Client;
}
interface GotLike {
  extend(options: Record<string, unknown>): Client;
}

const majors: [string, GotLike][] = [
  ['got 14.6.0', got14 as unknown as GotLike],
  ['got 15.1.0', got15 as unknown as GotLike],
  ['got 16', got16 as unknown as GotLike],
];

let tokenServer: TokenServer, api: ApiServer, recorder: Recorder, close: () => Promise<void>;
beforeAll(async () => void ({ tokenServer, api, recorder, close } = await startAdapterServers()));
afterAll(() => close());

const provider = (clientSecret = 'client-secret') => createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: 'client-id', clientSecret });
const sentSince = (from: number) => authorizationsSince(api, from);

describe.each(majors)('tokenHooks on %s', (_name, got) => {
  const client = (options: TokenHooksOptions = {}, tokens = provider()) => got.extend({ prefixUrl: api.origin, hooks: tokenHooks(tokens, options) });

  it('sends the token to the prefixUrl, reuses it, and sends none to another origin', async () => {
    const http = client();
    const from = api.requests.length;
    const tokenRequests = tokenServer.count;
    expect((await http.get('payments')).statusCode).toBe(200);
    expect((await http.get('payments')).statusCode).toBe(200);
    const [first, second] = sentSince(from);
    expect(first).toMatch(/^Bearer at-/);
    expect(second).toBe(first);
    expect(tokenServer.count).toBe(tokenRequests + 1);

    // got 14 puts the prefix before any URL; an instance without one takes absolute URLs everywhere.
    const bare = got.extend({ hooks: tokenHooks(provider(), { origins: [api.origin] }) });
    const recorded = recorder.count;
    await bare.get(`${recorder.origin}/elsewhere`);
    expect(recorder.authorizations.slice(recorded)).toEqual([undefined]);
    expect((await bare.get(`${api.origin}/payments`)).statusCode).toBe(200);
  });

  it('finds the base however the instance got it: a later extend(), a call without options, hooks shared by two instances', async () => {
    const other = await startApi({ isValid: (token) => tokenServer.isValid(token) });
    try {
      const hooks = tokenHooks(provider());
      const first = got.extend({ hooks }).extend({ prefixUrl: api.origin });
      const second = got.extend({ prefixUrl: other.origin, hooks });
      const from = api.requests.length;
      expect((await first('payments')).statusCode).toBe(200);
      expect((await second.get('payments')).statusCode).toBe(200);
      expect(sentSince(from)).toEqual([expect.stringMatching(/^Bearer at-/)]);
      expect(other.requests.map((r) => r.authorization)).toEqual([expect.stringMatching(/^Bearer at-/)]);
    } finally {
      await other.close();
    }
  });

  it('drops the token on a redirect to another origin and keeps it on a same-origin hop', async () => {
    const http = client({ origins: [recorder.origin] });
    const recorded = recorder.count;
    await http.get('redirect', { searchParams: { to: `${recorder.origin}/landing` } });
    expect(recorder.authorizations.slice(recorded)).toEqual([undefined]);

    const from = api.requests.length;
    await http.get('redirect', { searchParams: { to: '/home' } });
    const [hop1, hop2] = sentSince(from);
    expect(hop1).toMatch(/^Bearer at-/);
    expect(hop2).toBe(hop1);
  });

  it('leaves a header the caller set alone', async () => {
    const http = client();
    const from = api.requests.length;
    const error = await rejectionOf(http.get('payments', { headers: { authorization: 'Bearer callers-own' } }));
    expect((error as { response?: Response }).response?.statusCode).toBe(401);
    expect(sentSince(from)).toEqual(['Bearer callers-own']); // and no 401 retry
  });

  it('retries a 401 once with a fresh token, and never twice', async () => {
    const tokens = provider();
    const http = client({}, tokens);
    await http.get('payments');
    const stale = tokens.cachedAuthorizationHeader()!;
    tokenServer.revoke(stale.slice('Bearer '.length));
    const from = api.requests.length;
    expect((await http.get('payments')).statusCode).toBe(200);
    const [rejected, fresh] = sentSince(from);
    expect(rejected).toBe(stale);
    expect(fresh).toMatch(/^Bearer at-/);
    expect(fresh).not.toBe(stale);

    // An API that refuses every token: exactly two requests, then the 401 reaches the caller.
    const refusing = await startApi({ isValid: () => false });
    try {
      const http2 = got.extend({ prefixUrl: refusing.origin, hooks: tokenHooks(provider()) });
      const error = await rejectionOf(http2.get('payments'));
      expect((error as { response?: Response }).response?.statusCode).toBe(401);
      expect(refusing.requests).toHaveLength(2);
    } finally {
      await refusing.close();
    }
  });

  it('rejects with the typed error as the cause when no token comes, with no secret or token in it', async () => {
    const http = client({}, provider('wrong-secret'));
    const error = await rejectionOf(http.get('payments'));
    expect(isOAuthError(findTokenKitError(error))).toBe(true);
    expect(inspect(error, { depth: 8 })).not.toContain('wrong-secret');

    const ok = client();
    await ok.get('payments');
    const failed = await rejectionOf(ok.get('status/500', { retry: { limit: 0 } }));
    expect(inspect(failed, { depth: 8 })).not.toMatch(/Bearer at-/);
  });
});
