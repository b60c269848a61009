// tokenkit against Glewlwyd 2.7, a real OpenID provider written in C (Debian's `glewlwyd`), started per file.
import { inspect } from 'node:util';
import { hasGlewlwyd, startGlewlwyd, type GlewlwydServer } from '@tokenkit/test-utils';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenProvider, isOAuthError, isTokenEndpointError, type TokenKitError } from './index.ts';

const TTL = 120;

describe.skipIf(!hasGlewlwyd())('Glewlwyd 2.7 (Debian glewlwyd)', { timeout: 60_000 }, () => {
  let gl: GlewlwydServer;
  beforeAll(async () => {
    gl = await startGlewlwyd({ accessTokenTtl: TTL });
  }, 90_000);
  afterAll(async () => {
    await gl?.stop();
  }, 30_000);

  async function verify(accessToken: string) {
    const { payload } = await jwtVerify(accessToken, createRemoteJWKSet(new URL(gl.jwksUri)), { issuer: gl.issuer });
    return payload;
  }

  async function failure(promise: Promise<unknown>): Promise<TokenKitError & { readonly status?: number | undefined }> {
    const error = await promise.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error, 'the token request should have failed').toBeDefined();
    return error as TokenKitError;
  }

  function expectNoSecret(error: unknown, ...secrets: string[]) {
    const shown = [String(error), JSON.stringify(error), inspect(error, { depth: 10 })].join('\n');
    for (const secret of secrets) expect(shown).not.toContain(secret);
  }

  it('discovery: the document names the plugin URL as issuer, exactly; tokenkit finds the endpoint', async () => {
    const document = (await (await fetch(gl.discoveryUrl)).json()) as Record<string, unknown>;
    expect(document['issuer']).toBe(gl.issuer);
    expect(gl.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/oidc$/);
    expect(document['token_endpoint']).toBe(gl.tokenEndpoint);
    expect(document['token_endpoint_auth_methods_supported']).toEqual(
      expect.arrayContaining(['client_secret_basic', 'client_secret_post', 'private_key_jwt']),
    );

    const events: string[] = [];
    const tokens = createTokenProvider({
      issuer: gl.issuer,
      clientId: gl.clients.post.clientId,
      clientSecret: gl.clients.post.clientSecret,
      clientAuthMethod: 'client_secret_post',
      scope: 'payments:read',
      onEvent: (event) => events.push(event.type),
    });
    const claims = await verify((await tokens.getToken()).accessToken);
    expect(claims['client_id']).toBe(gl.clients.post.clientId);
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

  it("client_secret_post; Glewlwyd's lowercase token_type `bearer` is accepted", async () => {
    const raw = await fetch(gl.tokenEndpoint, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: gl.clients.post.clientId,
        client_secret: gl.clients.post.clientSecret,
        scope: 'payments:read',
      }),
    });
    expect(((await raw.json()) as Record<string, unknown>)['token_type']).toBe('bearer');

    const tokens = createTokenProvider({
      tokenEndpoint: gl.tokenEndpoint,
      clientId: gl.clients.post.clientId,
      clientSecret: gl.clients.post.clientSecret,
      clientAuthMethod: 'client_secret_post',
      scope: ['payments:read', 'payments:write'],
    });
    const token = await tokens.getToken();
    expect(token.tokenType).toBe('Bearer');
    expect(token.scope?.split(' ').sort()).toEqual(['payments:read', 'payments:write']);
    expect(token.expiresAt - Date.now()).toBeGreaterThan(TTL * 1000 - 60_000);
    expect(token.expiresAt - Date.now()).toBeLessThanOrEqual(TTL * 1000);
    const claims = await verify(token.accessToken);
    expect(claims['client_id']).toBe(gl.clients.post.clientId);
    expect(claims['scope']).toBe('payments:read payments:write');
    expect(await tokens.authorizationHeader()).toBe(`Bearer ${token.accessToken}`);
  });

  it('private_key_jwt with an ES256 JWK (its kid picks the key in the client jwks)', async () => {
    const tokens = createTokenProvider({
      tokenEndpoint: gl.tokenEndpoint,
      clientId: gl.clients.privateKeyJwt.clientId,
      clientAuthMethod: 'private_key_jwt',
      privateKey: gl.clients.privateKeyJwt.privateJwk,
      scope: 'payments:write',
    });
    const claims = await verify((await tokens.getToken()).accessToken);
    expect(claims['client_id']).toBe(gl.clients.privateKeyJwt.clientId);
    expect(claims['scope']).toBe('payments:write');
    // Every request carries a new assertion (new jti): Glewlwyd refuses a replayed jti, so a second fetch proves it.
    await tokens.invalidate((await tokens.getToken()).accessToken);
    expect((await verify((await tokens.getToken()).accessToken))['client_id']).toBe(gl.clients.privateKeyJwt.clientId);
  });

  it('private_key_jwt with a KeyObject: no kid in the assertion, so Glewlwyd finds no key: 403, empty', async () => {
    const tokens = createTokenProvider({
      tokenEndpoint: gl.tokenEndpoint,
      clientId: gl.clients.privateKeyJwt.clientId,
      clientAuthMethod: 'private_key_jwt',
      privateKey: gl.clients.privateKeyJwt.privateKey,
      scope: 'payments:write',
    });
    const error = await failure(tokens.getToken());
    expect(isTokenEndpointError(error) && error.code).toBe('http_status');
    expect(isTokenEndpointError(error) && error.status).toBe(403);
  });

  it('client_secret_basic (the default, also chosen by discovery) when form-encoding changes nothing', async () => {
    for (const where of [{ tokenEndpoint: gl.tokenEndpoint }, { issuer: gl.issuer }]) {
      const tokens = createTokenProvider({
        ...where,
        clientId: gl.clients.basicUnreserved.clientId,
        clientSecret: gl.clients.basicUnreserved.clientSecret,
        scope: 'payments:read',
      });
      const claims = await verify((await tokens.getToken()).accessToken);
      expect(claims['client_id']).toBe(gl.clients.basicUnreserved.clientId);
    }
  });

  it('client_secret_basic, secret with : + % / ~ and a space: Glewlwyd does not form-decode, answers 403', async () => {
    // RFC 6749 Appendix B: tokenkit form-encodes id and secret before base64. Glewlwyd compares the raw value.
    const { clientId, clientSecret } = gl.clients.basic;
    const tokens = createTokenProvider({
      tokenEndpoint: gl.tokenEndpoint,
      clientId,
      clientSecret,
      scope: 'payments:read',
    });
    const error = await failure(tokens.getToken());
    // Not an RFC 6749 §5.2 invalid_client: Glewlwyd refuses a client with 403 and an empty body.
    expect(isOAuthError(error)).toBe(false);
    expect(isTokenEndpointError(error) && error.code).toBe('http_status');
    expect(isTokenEndpointError(error) && error.status).toBe(403);
    expectNoSecret(error, clientSecret, encodeURIComponent(clientSecret));

    // The same secret in the body (client_secret_post is not allowed for this client) is refused the same way,
    // so the refusal above is about authentication, not the encoding of the request body.
    const post = createTokenProvider({
      tokenEndpoint: gl.tokenEndpoint,
      clientId,
      clientSecret,
      clientAuthMethod: 'client_secret_post',
      scope: 'payments:read',
    });
    expect((await failure(post.getToken())).status).toBe(403);
  });

  it("client_secret_basic with basicEncoding: 'plain' (id:secret unencoded) gets a token for the same client", async () => {
    const { clientId, clientSecret } = gl.clients.basic;
    const tokens = createTokenProvider({
      tokenEndpoint: gl.tokenEndpoint,
      clientId,
      clientSecret,
      basicEncoding: 'plain',
      scope: 'payments:read',
    });
    const claims = await verify((await tokens.getToken()).accessToken);
    expect(claims['client_id']).toBe(clientId);
  });

  it("the default (form) Basic's refusal names the encoding it used and the way out, and quotes no secret", async () => {
    const { clientId, clientSecret } = gl.clients.basic;
    const tokens = createTokenProvider({
      tokenEndpoint: gl.tokenEndpoint,
      clientId,
      clientSecret,
      scope: 'payments:read',
    });
    const error = await failure(tokens.getToken());
    expect(error.message).toMatch(/form-encoded/);
    expect(error.message).toContain("basicEncoding: 'plain'");
    expectNoSecret(error, clientSecret, encodeURIComponent(clientSecret));
  });

  it('a wrong client_secret_post secret: 403, empty body: a TokenEndpointError that quotes no secret', async () => {
    const tokens = createTokenProvider({
      tokenEndpoint: gl.tokenEndpoint,
      clientId: gl.clients.post.clientId,
      clientSecret: 'wrong-secret-4242',
      clientAuthMethod: 'client_secret_post',
      scope: 'payments:read',
    });
    const error = await failure(tokens.getToken());
    expect(isTokenEndpointError(error) && error.code).toBe('http_status');
    expect(isTokenEndpointError(error) && error.status).toBe(403);
    expectNoSecret(error, 'wrong-secret-4242');
  });

  it('an unknown refresh token: Glewlwyd answers 400 with an empty body (no invalid_grant)', async () => {
    const refreshToken = 'r'.repeat(128); // Glewlwyd's refresh tokens are 128 characters; shorter ones fail earlier.
    const tokens = createTokenProvider({
      tokenEndpoint: gl.tokenEndpoint,
      clientId: gl.clients.post.clientId,
      clientSecret: gl.clients.post.clientSecret,
      clientAuthMethod: 'client_secret_post',
      grant: { type: 'refresh_token', refreshToken },
    });
    const error = await failure(tokens.getToken());
    expect(isOAuthError(error)).toBe(false);
    expect(error.status).toBe(400);
    expectNoSecret(error, refreshToken, gl.clients.post.clientSecret);
  });
});
