import { startTokenServer, type TokenServer } from '@tokenkit/test-utils';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigurationError, createRequestAuthorizer, createTokenProvider, requestAuthorizerPerBase } from './index.ts';

// A real server: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let server: TokenServer;
beforeAll(async () => {
  server = await startTokenServer();
});
afterAll(() => server.close());

const tokens = () =>
  createTokenProvider({ tokenEndpoint: server.url, clientId: 'client-id', clientSecret: 'client-secret' });

describe('which URLs get the token', () => {
  // Two origins (a base URL and `origins`), and one (only a base URL), which takes a path of its own in allows().
  const two = () =>
    createRequestAuthorizer(tokens(), {
      baseUrl: 'https://api.example.com/v1/',
      origins: ['https://files.example.com:8443'],
    });
  const one = () => createRequestAuthorizer(tokens(), { baseUrl: 'https://api.example.com/v1/' });

  it.each([
    // url, allowed with two origins, allowed with one
    ['https://api.example.com/v1/payments', true, true],
    ['https://api.example.com', true, true],
    ['https://api.example.com?x=1', true, true],
    ['https://api.example.com#top', true, true],
    ['https://API.EXAMPLE.COM/other', true, true],
    ['https://api.example.com:443/x', true, true],
    ['https://files.example.com:8443/a', true, false],
    ['https://files.example.com/a', false, false],
    ['http://api.example.com/v1/payments', false, false],
    ['https://api.example.com.evil.com/x', false, false],
    ['https://api.example.com@evil.com/x', false, false],
    ['https://api.example.com:444/x', false, false],
    ['https://api.example.comx/', false, false],
    ['https://evil.com/https://api.example.com/', false, false],
    ['not a url', false, false],
    ['', false, false],
  ])('%s → %s (two origins), %s (one)', (url, withTwo, withOne) => {
    const asUrl = url.startsWith('http') && URL.canParse(url) ? new URL(url) : url;
    expect(two().allows(url)).toBe(withTwo);
    expect(two().allows(asUrl)).toBe(withTwo);
    expect(one().allows(url)).toBe(withOne);
    expect(one().allows(asUrl)).toBe(withOne);
  });

  it('authorize() gives the header for allowed URLs and undefined for others, without a token request for the latter', async () => {
    const a = createRequestAuthorizer(tokens(), { baseUrl: 'https://api.example.com' });
    const before = server.count;
    expect(await a.authorize('https://evil.example/')).toBeUndefined();
    expect(server.count).toBe(before);
    expect(await a.authorize('https://api.example.com/x')).toMatch(/^Bearer at-/);
  });

  it('authorizeSync() answers at once: the header when cached, null for other origins, undefined when it would wait', async () => {
    const a = createRequestAuthorizer(tokens(), { baseUrl: 'https://api.example.com' });
    expect(a.authorizeSync('https://evil.example/')).toBeNull();
    expect(a.authorizeSync('https://api.example.com/x')).toBeUndefined(); // cold: nothing cached yet
    const header = await a.authorize('https://api.example.com/x');
    expect(a.authorizeSync('https://api.example.com/y')).toBe(header);
    await a.tokens.invalidate(header!.slice('Bearer '.length));
    expect(a.authorizeSync('https://api.example.com/y')).toBeUndefined();
  });

  it('refuses to be created without any origin, or with a plain-http public origin', () => {
    expect(() => createRequestAuthorizer(tokens(), {})).toThrow(ConfigurationError);
    expect(() => createRequestAuthorizer(tokens(), {})).toThrow(/origins: the client has no base URL/);
    expect(() => createRequestAuthorizer(tokens(), { baseUrl: 'http://api.example.com' })).toThrow(/is not HTTPS/);
    expect(() => createRequestAuthorizer(tokens(), { origins: ['ftp://x'] })).toThrow(/not an http\(s\) URL/);
    expect(() => createRequestAuthorizer({} as never, { baseUrl: 'https://a.example' })).toThrow(
      /tokens: must be a TokenProvider/,
    );
  });
});

describe('when a 401 earns a retry', () => {
  it('retries once, only for our own token, only for replayable bodies; invalidates the rejected token', async () => {
    const provider = tokens();
    const a = createRequestAuthorizer(provider, { baseUrl: 'https://api.example.com' });
    const sent = (await a.authorize('https://api.example.com/'))!;
    expect(await a.shouldRetry(500, sent, { retried: false, replayable: true })).toBe(false);
    expect(await a.shouldRetry(401, undefined, { retried: false, replayable: true })).toBe(false);
    expect(await a.shouldRetry(401, 'Basic abc', { retried: false, replayable: true })).toBe(false);
    expect(await a.shouldRetry(401, sent, { retried: true, replayable: true })).toBe(false);
    expect(await a.authorize('https://api.example.com/')).toBe(sent);
    expect(await a.shouldRetry(401, sent, { retried: false, replayable: true })).toBe(true);
    const fresh = (await a.authorize('https://api.example.com/'))!;
    expect(fresh).not.toBe(sent);
    // The replacement rejected at once too: kept for a while (the API is the problem), so no retry.
    expect(await a.shouldRetry(401, fresh, { retried: false, replayable: true })).toBe(false);
    expect(await a.authorize('https://api.example.com/')).toBe(fresh);
  });

  it('a stream body is not re-sent, but the rejected token is dropped all the same', async () => {
    const a = createRequestAuthorizer(tokens(), { baseUrl: 'https://api.example.com' });
    const sent = (await a.authorize('https://api.example.com/'))!;
    expect(await a.shouldRetry(401, sent, { retried: false, replayable: false })).toBe(false);
    expect(await a.authorize('https://api.example.com/')).not.toBe(sent);
  });

  it('retryOn401: false never retries', async () => {
    const a = createRequestAuthorizer(tokens(), { baseUrl: 'https://api.example.com', retryOn401: false });
    const sent = (await a.authorize('https://api.example.com/'))!;
    expect(await a.shouldRetry(401, sent, { retried: false, replayable: true })).toBe(false);
  });
});

describe('requestAuthorizerPerBase (for hooks that learn the base per request)', () => {
  it('gives each base its own origin rule, the same authorizer again for a kept base, and works past the 32 it keeps', () => {
    const authorizerFor = requestAuthorizerPerBase(tokens(), { origins: ['https://files.example.com'] });
    const a = authorizerFor('https://a.example.com/v1/');
    expect(authorizerFor('https://b.example.com/')).not.toBe(a);
    expect(authorizerFor('https://a.example.com/v1/')).toBe(a);
    expect(a.allows('https://a.example.com/x')).toBe(true);
    expect(a.allows('https://b.example.com/x')).toBe(false);
    expect(a.allows('https://files.example.com/x')).toBe(true);
    expect(authorizerFor('').allows('https://files.example.com/x')).toBe(true); // no base: origins only
    expect(authorizerFor('').allows('https://a.example.com/x')).toBe(false);
    for (let i = 0; i < 40; i++) {
      const base = `https://t${i}.example.com/`;
      expect(authorizerFor(base).allows(`${base}x`)).toBe(true);
      expect(authorizerFor(base).allows('https://b.example.com/x')).toBe(false);
    }
    expect(authorizerFor('https://a.example.com/v1/')).toBe(a); // kept from before the limit
  });

  it('checks tokens and origins at once when origins are given; without them, at the first base', () => {
    expect(() => requestAuthorizerPerBase({} as never)).toThrow(ConfigurationError);
    expect(() => requestAuthorizerPerBase(tokens(), { origins: ['http://files.example.com'] })).toThrow(
      /origins: .*not HTTPS/,
    );
    expect(() => requestAuthorizerPerBase(tokens(), { origins: 'https://files.example.com' as never })).toThrow(
      /origins: must be an array/,
    );
    const authorizerFor = requestAuthorizerPerBase(tokens());
    expect(() => authorizerFor('')).toThrow(/origins: the client has no base URL/);
    expect(authorizerFor('https://a.example.com/').allows('https://a.example.com/x')).toBe(true);
  });
});
