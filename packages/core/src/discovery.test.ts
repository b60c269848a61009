import { listen, sendJson, startTokenServer, type RunningServer, type TokenServer } from '@tokenkit/test-utils';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { discover } from './discovery.ts';
import { createTokenProvider } from './index.ts';
import { deadlineIn, type TransportOptions } from './transport.ts';

let tokenServer: TokenServer;
let metadata: RunningServer;
/** Another origin on the same host: a redirect there is cross-origin (another port). */
let elsewhere: RunningServer;
let hits: string[] = [];
let elsewhereHits: string[] = [];
/** What the metadata server answers, by path. */
let documents: Record<string, (origin: string) => unknown> = {};
/** Redirects the metadata server answers, by path: [status, Location]. */
let redirects: Record<string, (origin: string) => [number, string]> = {};
/** Paths the metadata server never answers. */
let hanging = new Set<string>();

beforeAll(async () => {
  tokenServer = await startTokenServer();
  metadata = await listen((req, res) => {
    const path = req.url ?? '';
    hits.push(path);
    if (hanging.has(path)) return;
    const redirect = redirects[path];
    if (redirect !== undefined) {
      const [status, location] = redirect(metadata.origin);
      res.writeHead(status, { location }).end();
      return;
    }
    const doc = documents[path];
    if (doc === undefined) return sendJson(res, 404, { error: 'not found' });
    sendJson(res, 200, doc(metadata.origin));
  });
  elsewhere = await listen((req, res) => {
    elsewhereHits.push(req.url ?? '');
    sendJson(res, 200, { issuer: metadata.origin, token_endpoint: tokenServer.url });
  });
}, 60_000);
afterAll(async () => {
  await tokenServer.close();
  await metadata.close();
  await elsewhere.close();
});
beforeEach(() => {
  hits = [];
  elsewhereHits = [];
  redirects = {};
  hanging = new Set();
});

const transport = (extra: Partial<TransportOptions> = {}): TransportOptions => ({
  fetch: (input, init) => fetch(input, init),
  timeoutMs: 10_000,
  maxRetries: 0,
  maxResponseBytes: 1024 * 1024,
  onRetry: undefined,
  random: Math.random,
  ...extra,
});
const T = { timeout: 60_000 };

function provider(issuer: string, extra: object = {}) {
  return createTokenProvider({ issuer, clientId: 'client-id', clientSecret: 'client-secret', maxRetries: 0, ...extra });
}

describe('discovery', () => {
  it('falls back from OpenID Connect discovery to RFC 8414 (well-known inserted before the path)', async () => {
    hits = [];
    documents = {
      '/.well-known/oauth-authorization-server/tenant-a': (origin) => ({
        issuer: `${origin}/tenant-a`,
        token_endpoint: tokenServer.url,
      }),
    };
    const tokens = provider(`${metadata.origin}/tenant-a`);
    await tokens.getToken();
    expect(hits).toEqual([
      '/tenant-a/.well-known/openid-configuration',
      '/.well-known/oauth-authorization-server/tenant-a',
    ]);
    expect(tokenServer.count).toBeGreaterThan(0);
  });

  it('caches the document: a second token request does not discover again', async () => {
    hits = [];
    documents = {
      '/.well-known/openid-configuration': (origin) => ({ issuer: origin, token_endpoint: tokenServer.url }),
    };
    const tokens = provider(metadata.origin, { refreshSkewSeconds: 0 });
    const t1 = await tokens.getToken();
    await tokens.invalidate(t1.accessToken);
    await tokens.getToken();
    expect(hits).toEqual(['/.well-known/openid-configuration']);
  });

  it('rejects a document whose issuer does not match', async () => {
    documents = {
      '/.well-known/openid-configuration': () => ({ issuer: 'https://evil.example', token_endpoint: tokenServer.url }),
    };
    await expect(provider(metadata.origin).getToken()).rejects.toMatchObject({
      code: 'discovery_failed',
      message: expect.stringMatching(/names issuer "https:\/\/evil\.example", not/),
    });
  });

  it('rejects a discovered token endpoint that is plain http to a public host', async () => {
    documents = {
      '/.well-known/openid-configuration': (origin) => ({
        issuer: origin,
        token_endpoint: 'http://auth.example.com/token',
      }),
    };
    await expect(provider(metadata.origin).getToken()).rejects.toMatchObject({ code: 'insecure_endpoint' });
  });

  it('a failed discovery is not cached', async () => {
    documents = {};
    const tokens = provider(metadata.origin);
    await expect(tokens.getToken()).rejects.toMatchObject({
      code: 'discovery_failed',
      message: expect.stringMatching(/HTTP 404; .*HTTP 404/),
    });
    documents = {
      '/.well-known/openid-configuration': (origin) => ({ issuer: origin, token_endpoint: tokenServer.url }),
    };
    await expect(tokens.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
  });

  it('uses client_secret_post when the server does not support Basic and no method was chosen', async () => {
    documents = {
      '/.well-known/openid-configuration': (origin) => ({
        issuer: origin,
        token_endpoint: tokenServer.url,
        token_endpoint_auth_methods_supported: ['client_secret_post'],
      }),
    };
    const before = tokenServer.requests.length;
    await provider(metadata.origin).getToken();
    expect(tokenServer.requests[before]!.client?.via).toBe('body');
  });
});

describe('discovery: redirects', () => {
  it('follows a same-origin 301 to the trailing-slash URL (Django OAuth Toolkit before 2.4)', T, async () => {
    redirects = { '/.well-known/openid-configuration': () => [301, '/.well-known/openid-configuration/'] };
    documents = {
      '/.well-known/openid-configuration/': (origin) => ({ issuer: origin, token_endpoint: tokenServer.url }),
    };
    await expect(discover(metadata.origin, transport())).resolves.toMatchObject({
      issuer: metadata.origin,
      tokenEndpoint: tokenServer.url,
    });
    expect(hits).toEqual(['/.well-known/openid-configuration', '/.well-known/openid-configuration/']);
    // And end to end, through a provider.
    await expect(provider(metadata.origin).getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
  });

  it('follows up to 3 hops (302, 307, 308; absolute and relative Locations)', T, async () => {
    redirects = {
      '/.well-known/openid-configuration': (origin) => [302, `${origin}/a`],
      '/a': () => [307, 'b'],
      '/b': () => [308, '/.well-known/openid-configuration/'],
    };
    documents = {
      '/.well-known/openid-configuration/': (origin) => ({ issuer: origin, token_endpoint: tokenServer.url }),
    };
    await expect(discover(metadata.origin, transport())).resolves.toMatchObject({ tokenEndpoint: tokenServer.url });
    expect(hits).toEqual(['/.well-known/openid-configuration', '/a', '/b', '/.well-known/openid-configuration/']);
  });

  it('a fourth hop fails that URL, and RFC 8414 is tried next', T, async () => {
    redirects = {
      '/.well-known/openid-configuration': () => [303, '/a'],
      '/a': () => [302, '/b'],
      '/b': () => [302, '/c'],
      '/c': () => [302, '/d'],
    };
    documents = { '/d': (origin) => ({ issuer: origin, token_endpoint: tokenServer.url }) };
    await expect(discover(metadata.origin, transport())).rejects.toMatchObject({
      code: 'discovery_failed',
      message:
        `discovery of ${metadata.origin} failed: ${metadata.origin}/.well-known/openid-configuration redirected more than 3 times; ` +
        `${metadata.origin}/.well-known/oauth-authorization-server answered HTTP 404`,
    });
    expect(hits).not.toContain('/d');
  });

  it(
    'a redirect to another origin is not followed: that URL fails naming both origins, the next one is used',
    T,
    async () => {
      redirects = {
        '/.well-known/openid-configuration': () => [302, `${elsewhere.origin}/.well-known/openid-configuration?x=1`],
      };
      documents = {
        '/.well-known/oauth-authorization-server': (origin) => ({ issuer: origin, token_endpoint: tokenServer.url }),
      };
      await expect(discover(metadata.origin, transport())).resolves.toMatchObject({ tokenEndpoint: tokenServer.url });
      expect(elsewhereHits).toEqual([]);

      documents = {};
      const error = await discover(metadata.origin, transport()).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'discovery_failed' });
      expect((error as Error).message).toBe(
        `discovery of ${metadata.origin} failed: ${metadata.origin}/.well-known/openid-configuration redirected to ${elsewhere.origin}, ` +
          `another origin than ${metadata.origin}; not followed; ${metadata.origin}/.well-known/oauth-authorization-server answered HTTP 404`,
      );
      expect(elsewhereHits).toEqual([]);
    },
  );

  it('after a redirect the document is checked as before: exact issuer, HTTPS token endpoint', T, async () => {
    redirects = { '/.well-known/openid-configuration': () => [301, '/.well-known/openid-configuration/'] };
    documents = {
      '/.well-known/openid-configuration/': (origin) => ({ issuer: `${origin}/`, token_endpoint: tokenServer.url }),
    };
    await expect(discover(metadata.origin, transport())).rejects.toMatchObject({
      code: 'discovery_failed',
      message: /names issuer/,
    });
    documents = {
      '/.well-known/openid-configuration/': (origin) => ({
        issuer: origin,
        token_endpoint: 'http://auth.example.com/token',
      }),
    };
    await expect(discover(metadata.origin, transport())).rejects.toMatchObject({ code: 'insecure_endpoint' });
  });
});

describe('discovery: deadline', () => {
  it('a deadline passed in bounds the whole discovery', T, async () => {
    hanging = new Set(['/.well-known/openid-configuration']);
    const started = performance.now();
    const error = await discover(metadata.origin, transport({ timeoutMs: 60_000 }), deadlineIn(300)).catch(
      (e: unknown) => e,
    );
    expect(performance.now() - started).toBeLessThan(1500);
    expect(error).toMatchObject({ code: 'discovery_failed' });
    expect((error as Error).message).toBe(
      `discovery of ${metadata.origin} failed: no metadata from ${metadata.origin}/.well-known/openid-configuration within 300 ms: 1 attempt, last: no answer`,
    );
  });
});

describe('discovery: an issuer given as a URL object', () => {
  // String(new URL('http://127.0.0.1:1234')) is 'http://127.0.0.1:1234/': a slash the user never wrote.
  it('with issuerFromUrlObject, the document may name the issuer with or without the trailing slash', T, async () => {
    const configured = String(new URL(metadata.origin));
    expect(configured).toBe(`${metadata.origin}/`);
    documents = {
      '/.well-known/openid-configuration': (origin) => ({ issuer: origin, token_endpoint: tokenServer.url }),
    };
    await expect(discover(configured, transport())).rejects.toMatchObject({ message: /names issuer/ });
    await expect(discover(configured, transport(), undefined, { issuerFromUrlObject: true })).resolves.toMatchObject({
      issuer: metadata.origin,
      tokenEndpoint: tokenServer.url,
    });
    documents = {
      '/.well-known/openid-configuration': (origin) => ({ issuer: `${origin}/`, token_endpoint: tokenServer.url }),
    };
    await expect(discover(configured, transport(), undefined, { issuerFromUrlObject: true })).resolves.toMatchObject({
      issuer: configured,
    });
  });

  it('only a bare origin loses its slash: an issuer with a path still matches exactly', T, async () => {
    documents = {
      '/tenant/.well-known/openid-configuration': (origin) => ({
        issuer: `${origin}/tenant`,
        token_endpoint: tokenServer.url,
      }),
    };
    await expect(
      discover(`${metadata.origin}/tenant/`, transport(), undefined, { issuerFromUrlObject: true }),
    ).rejects.toMatchObject({
      message: /names issuer/,
    });
  });
});

describe('mtls_endpoint_aliases (RFC 8705 §5)', () => {
  it('its token_endpoint is read when it is a URL, ignored otherwise', async () => {
    for (const [aliases, expected] of [
      [{ token_endpoint: 'https://mtls.example.com/token' }, 'https://mtls.example.com/token'],
      [{ token_endpoint: 'not a url' }, undefined],
      [{ token_endpoint: 42 }, undefined],
      ['nonsense', undefined],
      [undefined, undefined],
    ] as const) {
      documents = {
        '/.well-known/openid-configuration': (origin) => ({
          issuer: origin,
          token_endpoint: tokenServer.url,
          mtls_endpoint_aliases: aliases,
        }),
      };
      const found = await discover(metadata.origin, transport());
      expect(found.mtlsTokenEndpoint).toBe(expected);
      expect(found.tokenEndpoint).toBe(tokenServer.url);
    }
  });
});
