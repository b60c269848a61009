import { listen, sendJson, startTokenServer, type RunningServer, type TokenServer } from '@tokenkit/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenProvider } from './index.ts';

let tokenServer: TokenServer;
let metadata: RunningServer;
let hits: string[] = [];
/** What the metadata server answers, by path. */
let documents: Record<string, (origin: string) => unknown> = {};

beforeAll(async () => {
  tokenServer = await startTokenServer();
  metadata = await listen((req, res) => {
    hits.push(req.url ?? '');
    const doc = documents[req.url ?? ''];
    if (doc === undefined) return sendJson(res, 404, { error: 'not found' });
    sendJson(res, 200, doc(metadata.origin));
  });
});
afterAll(async () => {
  await tokenServer.close();
  await metadata.close();
});

function provider(issuer: string, extra: object = {}) {
  return createTokenProvider({ issuer, clientId: 'client-id', clientSecret: 'client-secret', maxRetries: 0, ...extra });
}

describe('discovery', () => {
  it('falls back from OpenID Connect discovery to RFC 8414 (well-known inserted before the path)', async () => {
    hits = [];
    documents = { '/.well-known/oauth-authorization-server/tenant-a': (origin) => ({ issuer: `${origin}/tenant-a`, token_endpoint: tokenServer.url }) };
    const tokens = provider(`${metadata.origin}/tenant-a`);
    await tokens.getToken();
    expect(hits).toEqual(['/tenant-a/.well-known/openid-configuration', '/.well-known/oauth-authorization-server/tenant-a']);
    expect(tokenServer.count).toBeGreaterThan(0);
  });

  it('caches the document: a second token request does not discover again', async () => {
    hits = [];
    documents = { '/.well-known/openid-configuration': (origin) => ({ issuer: origin, token_endpoint: tokenServer.url }) };
    const tokens = provider(metadata.origin, { refreshSkewSeconds: 0 });
    const t1 = await tokens.getToken();
    await tokens.invalidate(t1.accessToken);
    await tokens.getToken();
    expect(hits).toEqual(['/.well-known/openid-configuration']);
  });

  it('rejects a document whose issuer does not match', async () => {
    documents = { '/.well-known/openid-configuration': () => ({ issuer: 'https://evil.example', token_endpoint: tokenServer.url }) };
    await expect(provider(metadata.origin).getToken()).rejects.toMatchObject({
      code: 'discovery_failed',
      message: expect.stringMatching(/names issuer "https:\/\/evil\.example", not/),
    });
  });

  it('rejects a discovered token endpoint that is plain http to a public host', async () => {
    documents = { '/.well-known/openid-configuration': (origin) => ({ issuer: origin, token_endpoint: 'http://auth.example.com/token' }) };
    await expect(provider(metadata.origin).getToken()).rejects.toMatchObject({ code: 'insecure_endpoint' });
  });

  it('a failed discovery is not cached', async () => {
    documents = {};
    const tokens = provider(metadata.origin);
    await expect(tokens.getToken()).rejects.toMatchObject({ code: 'discovery_failed', message: expect.stringMatching(/HTTP 404; .*HTTP 404/) });
    documents = { '/.well-known/openid-configuration': (origin) => ({ issuer: origin, token_endpoint: tokenServer.url }) };
    await expect(tokens.getToken()).resolves.toMatchObject({ tokenType: 'Bearer' });
  });

  it('uses client_secret_post when the server does not support Basic and no method was chosen', async () => {
    documents = {
      '/.well-known/openid-configuration': (origin) => ({ issuer: origin, token_endpoint: tokenServer.url, token_endpoint_auth_methods_supported: ['client_secret_post'] }),
    };
    const before = tokenServer.requests.length;
    await provider(metadata.origin).getToken();
    expect(tokenServer.requests[before]!.client?.via).toBe('body');
  });
});
