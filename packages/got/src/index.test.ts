// tokenHooks itself: when configuration errors surface, and the hooks it returns. What every got major does with
// them is in compat.test.ts; the behaviour all adapters share is the contract suite's (contract.test.ts).
import { rejectionOf, startAdapterServers, type AdapterServers } from '@tokenkit/test-utils';
import got, { RequestError } from 'got';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigurationError, createTokenProvider, findTokenKitError, tokenHooks, type TokenProvider } from './index.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let servers: AdapterServers;
let tokens: TokenProvider;
beforeAll(async () => {
  servers = await startAdapterServers();
  tokens = createTokenProvider({
    tokenEndpoint: servers.tokenServer.url,
    clientId: 'client-id',
    clientSecret: 'client-secret',
  });
});
afterAll(() => servers.close());

describe('tokenHooks', () => {
  it('throws at once for bad tokens or origins; without a prefixUrl or origins, requests fail with a ConfigurationError', async () => {
    expect(() => tokenHooks(tokens, { origins: ['http://api.example.com'] })).toThrow(/not HTTPS/);
    expect(() => tokenHooks({} as TokenProvider)).toThrow(ConfigurationError);

    const neither = got.extend({ hooks: tokenHooks(tokens) });
    const before = servers.api.requests.length;
    const error = await rejectionOf(neither.get(`${servers.api.origin}/payments`));
    expect(error).toBeInstanceOf(RequestError);
    expect(findTokenKitError(error)).toMatchObject({
      code: 'invalid_option',
      option: 'origins',
      message: expect.stringContaining('no base URL'),
    });
    expect(servers.api.requests.length).toBe(before);
  });

  it('adds no afterResponse hook with retryOn401: false (got snapshots the request before each one)', () => {
    expect(tokenHooks(tokens, { retryOn401: false }).afterResponse).toEqual([]);
    expect(tokenHooks(tokens).afterResponse).toHaveLength(1);
  });
});
