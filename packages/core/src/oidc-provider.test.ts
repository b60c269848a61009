import { inspect } from 'node:util';
import { startOidcProvider, type OidcServer } from '@tokenkit/test-utils';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenProvider, isOAuthError, OAuthError } from './index.ts';

// A real OpenID provider: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let op: OidcServer;
beforeAll(async () => {
  op = await startOidcProvider({ accessTokenTtl: 120 });
});
afterAll(() => op.close());

async function verify(accessToken: string) {
  const { payload } = await jwtVerify(accessToken, createRemoteJWKSet(new URL(op.jwksUri)), {
    issuer: op.issuer,
    audience: op.resource,
  });
  return payload;
}

describe('against a real OpenID provider (oidc-provider)', () => {
  it('client_secret_basic with an id and secret that need RFC 6749 Appendix B encoding', async () => {
    const tokens = createTokenProvider({
      tokenEndpoint: op.tokenEndpoint,
      clientId: op.clients.basic.clientId,
      clientSecret: op.clients.basic.clientSecret,
      scope: ['payments:read'],
      resource: op.resource,
    });
    const token = await tokens.getToken();
    const claims = await verify(token.accessToken);
    expect(claims['client_id']).toBe('basic client');
    expect(claims['scope']).toBe('payments:read');
    expect(token.expiresAt - Date.now()).toBeGreaterThan(100_000);
    expect(token.expiresAt - Date.now()).toBeLessThanOrEqual(120_000);
  });

  it('client_secret_post', async () => {
    const tokens = createTokenProvider({
      tokenEndpoint: op.tokenEndpoint,
      clientId: op.clients.post.clientId,
      clientSecret: op.clients.post.clientSecret,
      clientAuthMethod: 'client_secret_post',
      scope: 'payments:read payments:write',
      resource: op.resource,
    });
    const claims = await verify((await tokens.getToken()).accessToken);
    expect(claims['client_id']).toBe('post-client');
    expect(String(claims['scope']).split(' ').sort()).toEqual(['payments:read', 'payments:write']);
  });

  it('private_key_jwt with a JWK and with a KeyObject', async () => {
    for (const privateKey of [op.clients.privateKeyJwt.privateJwk, op.clients.privateKeyJwt.privateKey]) {
      const tokens = createTokenProvider({
        tokenEndpoint: op.tokenEndpoint,
        clientId: op.clients.privateKeyJwt.clientId,
        clientAuthMethod: 'private_key_jwt',
        privateKey,
        scope: 'payments:write',
        resource: op.resource,
      });
      const claims = await verify((await tokens.getToken()).accessToken);
      expect(claims['client_id']).toBe('jwt-client');
    }
  });

  it('discovers the token endpoint from the issuer', async () => {
    const events: string[] = [];
    const tokens = createTokenProvider({
      issuer: op.issuer,
      clientId: op.clients.post.clientId,
      clientSecret: op.clients.post.clientSecret,
      clientAuthMethod: 'client_secret_post',
      resource: op.resource,
      scope: 'payments:read',
      onEvent: (e) => events.push(e.type),
    });
    const claims = await verify((await tokens.getToken()).accessToken);
    expect(claims.aud).toBe(op.resource);
    // Discovery, then the token request: each with its HTTP attempt.
    expect(events).toEqual([
      'miss',
      'discovery_start',
      'attempt_start',
      'attempt_end',
      'discovery_end',
      'request_start',
      'attempt_start',
      'attempt_end',
      'request_end',
      'fetch',
    ]);
  });

  it('a wrong secret is an OAuthError invalid_client that quotes no secret', async () => {
    const secret = 'definitely-wrong-secret-42';
    const tokens = createTokenProvider({
      tokenEndpoint: op.tokenEndpoint,
      clientId: op.clients.basic.clientId,
      clientSecret: secret,
      resource: op.resource,
    });
    const error = await tokens.getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect(isOAuthError(error) && error.error).toBe('invalid_client');
    expect(isOAuthError(error) && error.status).toBe(401);
    const outputs = [
      String(error),
      inspect(error, { depth: 10, showHidden: true }),
      JSON.stringify(error),
      inspect(tokens, { showHidden: true }),
    ];
    for (const out of outputs) expect(out).not.toContain(secret);
  });

  it('an unknown resource indicator is an OAuthError invalid_target', async () => {
    const tokens = createTokenProvider({
      tokenEndpoint: op.tokenEndpoint,
      clientId: op.clients.post.clientId,
      clientSecret: op.clients.post.clientSecret,
      clientAuthMethod: 'client_secret_post',
      resource: 'https://other.example.test/',
    });
    await expect(tokens.getToken()).rejects.toMatchObject({ name: 'OAuthError', error: 'invalid_target', status: 400 });
  });
});
