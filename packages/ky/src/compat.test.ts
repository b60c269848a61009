// The peer range is ky ^2.0.0. contract.test.ts runs the shared contract on ky 2.0.0 and the current ky; these are
// the ky-specific behaviours that lean on ky's internals, on both: withTokens reads the instance's defaults through
// extend(fn); a JSON body's size is learnt through `stringifyJson`; ky builds its request in the redirect mode the
// init hook sets; `timeout` and `totalTimeout` bound `fetch`, in which the token goes on, and reject with ky's own
// TimeoutError.
import { inspect } from 'node:util';
import { rejectionOf, startAdapterServers, type ApiServer, type TokenServer } from '@tokenkit/test-utils';
import ky20, { TimeoutError as TimeoutError20 } from 'ky-2.0';
import kyCurrent, { TimeoutError, type KyInstance } from 'ky';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenProvider, findTokenKitError, isOAuthError, withTokens } from './index.ts';

// Real servers: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

/** Each version with its own TimeoutError class: a call that runs out of time waiting for a token rejects with it. */
const versions: [string, KyInstance, new (...args: never[]) => Error][] = [
  ['ky 2.0.0', ky20 as unknown as KyInstance, TimeoutError20],
  ['current ky', kyCurrent, TimeoutError],
];

let tokenServer: TokenServer, api: ApiServer, close: () => Promise<void>;
beforeAll(async () => void ({ tokenServer, api, close } = await startAdapterServers()));
afterAll(() => close());
afterEach(() => tokenServer.misbehave(undefined));

const provider = (clientSecret = 'client-secret') =>
  createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: 'client-id', clientSecret });

describe.each(versions)('withTokens on %s', (_name, ky, KyTimeoutError) => {
  const client = (tokens = provider()) => withTokens(ky.create({ baseUrl: `${api.origin}/` }), tokens);

  it('reads the base from an absolute `prefix` when there is no baseUrl', async () => {
    const http = withTokens(ky.create({ prefix: api.origin }), provider());
    const from = api.requests.length;
    expect(await http.get('/v1/items').json()).toMatchObject({ ok: true, path: '/v1/items' });
    expect(api.requests.slice(from).map((r) => r.authorization)).toEqual([`Bearer ${tokenServer.issued.at(-1)}`]);
  });

  it('re-sends a JSON body after a 401, and follows a 307 with it', async () => {
    const tokens = provider();
    const http = client(tokens);
    await http.get('payments');
    tokenServer.revoke((await tokens.getToken()).accessToken);
    const from = api.requests.length;
    const to = encodeURIComponent('/refunds');
    expect(await http.post(`redirect?status=307&to=${to}`, { json: { amount: 1 }, retry: 0 }).json()).toMatchObject({
      ok: true,
      path: '/refunds',
      body: '{"amount":1}',
    });
    expect(api.requests.slice(from).map((r) => [r.path, r.body])).toEqual([
      [`/redirect?status=307&to=${to}`, '{"amount":1}'],
      ['/refunds', '{"amount":1}'], // 401: the revoked token
      [`/redirect?status=307&to=${to}`, '{"amount":1}'],
      ['/refunds', '{"amount":1}'],
    ]);
  });

  it('rejects with the typed error, findable, with no secret in it', async () => {
    const from = api.requests.length;
    const error = await rejectionOf(client(provider('wrong-secret')).get('payments').json());
    expect(isOAuthError(findTokenKitError(error))).toBe(true);
    expect(inspect(error, { depth: 8 })).not.toContain('wrong-secret');
    expect(api.requests.length).toBe(from); // the request never went out
  });

  it.each([
    ['totalTimeout', { totalTimeout: 150 }],
    ['the per-attempt timeout', { timeout: 150 }],
  ])('ends the wait for a token at %s with ky’s TimeoutError, and sends nothing', async (_option, limit) => {
    tokenServer.misbehave(() => ({ hang: true }));
    const from = api.requests.length;
    const started = performance.now();
    const error = await rejectionOf(client().get('payments', limit).json());
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(140);
    // Not ky's default 10 s timeout, nor the provider's own; generous for a busy machine.
    expect(elapsed).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(KyTimeoutError);
    expect(findTokenKitError(error)).toBeUndefined();
    expect(api.requests.length).toBe(from);
  });
});
