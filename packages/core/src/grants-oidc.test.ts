import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { startOidcProvider, type OidcServer, type TestGrants } from '@tokenkit/test-utils';
import { createRemoteJWKSet, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createTokenProvider,
  isOAuthError,
  memoryStore,
  type TokenEvent,
  type TokenProvider,
  type TokenProviderOptions,
} from './index.ts';

// A real OpenID provider with token exchange, JWT-bearer and an extension grant registered through its
// registerGrantType API: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const LEDGER = 'https://ledger.example.test/';

let op: OidcServer;
let grants: TestGrants;
beforeAll(async () => {
  op = await startOidcProvider({ accessTokenTtl: 120, grants: true });
  grants = op.grants!;
});
afterAll(() => op.close());

async function claimsOf(accessToken: string): Promise<JWTPayload> {
  const { payload } = await jwtVerify(accessToken, createRemoteJWKSet(new URL(op.jwksUri)), { issuer: op.issuer });
  return payload;
}

/** A client_credentials provider of the Basic client: its tokens are the subject tokens (`sub` 'basic client'). */
function basicTokens(extra: Partial<TokenProviderOptions> = {}): TokenProvider {
  return createTokenProvider({
    tokenEndpoint: op.tokenEndpoint,
    clientId: op.clients.basic.clientId,
    clientSecret: op.clients.basic.clientSecret,
    resource: op.resource,
    ...extra,
  });
}

/** A subject token for `sub`, as the provider issues them (signed by its key). */
async function subjectFor(clientId: string, clientSecret: string): Promise<string> {
  const tokens = createTokenProvider({
    tokenEndpoint: op.tokenEndpoint,
    clientId,
    clientSecret,
    clientAuthMethod: 'client_secret_post',
    resource: op.resource,
  });
  return (await tokens.getToken()).accessToken;
}

/** The exchanging client: the client_secret_post client. */
function exchange(
  grant: Omit<Extract<TokenProviderOptions['grant'], { type: 'token_exchange' }>, 'type'>,
  extra: Partial<TokenProviderOptions> = {},
) {
  return createTokenProvider({
    tokenEndpoint: op.tokenEndpoint,
    clientId: op.clients.post.clientId,
    clientSecret: op.clients.post.clientSecret,
    clientAuthMethod: 'client_secret_post',
    audience: LEDGER,
    grant: { type: 'token_exchange', ...grant },
    ...extra,
  });
}

const exchanges = () => grants.issued.filter((i) => i.grantType === grants.tokenExchange).length;

describe('token exchange (RFC 8693) against oidc-provider', () => {
  it('a fixed subject token: the exchanged token is for its subject, with the audience; the key holds only a hash', async () => {
    const subject = (await basicTokens().getToken()).accessToken;
    const tokens = exchange({ subjectToken: subject, subjectTokenType: ACCESS }, { scope: 'payments:read' });
    const token = await tokens.getToken();
    const claims = await claimsOf(token.accessToken);
    expect(claims.sub).toBe('basic client');
    expect(claims['client_id']).toBe('post-client');
    expect(claims.aud).toEqual([LEDGER]);
    expect(claims['scope']).toBe('payments:read');
    expect(grants.issued.at(-1)).toMatchObject({ audience: [LEDGER], resource: [], requestedTokenType: undefined });
    expect(token.tokenType).toBe('Bearer');
    expect(token.issuedTokenType).toBe(ACCESS);
    // Served from the cache after that.
    const before = op.tokenRequests;
    expect(await tokens.getToken()).toBe(token);
    expect(op.tokenRequests).toBe(before);
    // The key depends on the subject, but does not show it (nor does anything else about the provider).
    const other = exchange({ subjectToken: `${subject}x`, subjectTokenType: ACCESS }, { scope: 'payments:read' });
    expect(other.key).not.toBe(tokens.key);
    expect(exchange({ subjectToken: subject, subjectTokenType: ACCESS }, { scope: 'payments:read' }).key).toBe(
      tokens.key,
    );
    for (const out of [
      tokens.key,
      inspect(tokens, { showHidden: true, depth: 5 }),
      JSON.stringify(tokens),
      String(tokens),
    ]) {
      expect(out).not.toContain(subject);
      expect(out).not.toContain(subject.split('.')[2]!);
    }
  });

  it('what changes the exchanged token changes the key: token types, actor, audience, resource', () => {
    const base = { subjectToken: 'subject-token-1', subjectTokenType: ACCESS };
    const keys = [
      exchange(base).key,
      exchange({ ...base, subjectTokenType: JWT }).key,
      exchange({ ...base, requestedTokenType: JWT }).key,
      exchange({ ...base, actorToken: 'actor-1', actorTokenType: ACCESS }).key,
      exchange({ ...base, actorToken: 'actor-2', actorTokenType: ACCESS }).key,
      exchange(base, { audience: 'https://other.example.test/' }).key,
      exchange(base, { resource: op.resource }).key,
      exchange({ ...base, subjectToken: () => 'subject-token-1' }).key,
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('a subject from a function: called on every call, a changed subject is exchanged again (never served the old token)', async () => {
    const subjects = [
      await subjectFor(op.clients.post.clientId, op.clients.post.clientSecret),
      (await basicTokens().getToken()).accessToken,
    ];
    let current = subjects[0]!;
    let calls = 0;
    const tokens = exchange({
      subjectToken: () => {
        calls++;
        return current;
      },
      subjectTokenType: ACCESS,
    });
    const first = await tokens.getToken();
    expect((await claimsOf(first.accessToken)).sub).toBe('post-client');
    const sent = exchanges();
    expect(await tokens.getToken()).toBe(first);
    expect(tokens.cachedAuthorizationHeader()).toBe(`Bearer ${first.accessToken}`);
    expect(exchanges()).toBe(sent);
    expect(calls).toBeGreaterThanOrEqual(3);

    current = subjects[1]!;
    // The synchronous path never serves the old subject's token either.
    expect(tokens.cachedAuthorizationHeader()).toBeUndefined();
    const second = await tokens.getToken();
    expect(second.accessToken).not.toBe(first.accessToken);
    expect((await claimsOf(second.accessToken)).sub).toBe('basic client');
    expect(exchanges()).toBe(sent + 1);
    expect(await tokens.authorizationHeader()).toBe(`Bearer ${second.accessToken}`);
    expect(tokens.cachedAuthorizationHeader()).toBe(`Bearer ${second.accessToken}`);
  });

  it('an async subject function works the same; the synchronous path then defers to the async one', async () => {
    const subject = (await basicTokens().getToken()).accessToken;
    const tokens = exchange({ subjectToken: async () => subject, subjectTokenType: ACCESS });
    const token = await tokens.getToken();
    expect((await claimsOf(token.accessToken)).sub).toBe('basic client');
    expect(tokens.cachedAuthorizationHeader()).toBeUndefined();
    expect(await tokens.authorizationHeader()).toBe(`Bearer ${token.accessToken}`);
  });

  it('a subject from another TokenProvider against the same server, with an actor token and a resource', async () => {
    const subject = basicTokens();
    const actor = createTokenProvider({
      tokenEndpoint: op.tokenEndpoint,
      clientId: op.clients.privateKeyJwt.clientId,
      clientAuthMethod: 'private_key_jwt',
      privateKey: op.clients.privateKeyJwt.privateJwk,
      resource: op.resource,
    });
    const tokens = exchange(
      { subjectToken: subject, subjectTokenType: ACCESS, actorToken: actor, actorTokenType: JWT },
      { audience: undefined, resource: op.resource, scope: 'payments:write' },
    );
    const first = await tokens.getToken();
    const claims = await claimsOf(first.accessToken);
    expect(claims.sub).toBe('basic client');
    expect(claims['act']).toEqual({ sub: 'jwt-client' });
    expect(claims.aud).toEqual([op.resource]);
    expect(grants.issued.at(-1)).toMatchObject({ resource: [op.resource], audience: [], actorSub: 'jwt-client' });
    expect(await tokens.getToken()).toBe(first);
    expect(tokens.cachedAuthorizationHeader()).toBe(`Bearer ${first.accessToken}`);

    // The subject's token is replaced: the token exchanged from the old one is no longer served.
    const sent = exchanges();
    await subject.invalidate((await subject.getToken()).accessToken);
    expect(tokens.cachedAuthorizationHeader()).toBeUndefined();
    const second = await tokens.getToken();
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(exchanges()).toBe(sent + 1);
    expect((await claimsOf(second.accessToken)).sub).toBe('basic client');
    expect(tokens.key).toBe(
      exchange(
        { subjectToken: basicTokens(), subjectTokenType: ACCESS, actorToken: actor, actorTokenType: JWT },
        { audience: undefined, resource: op.resource, scope: 'payments:write' },
      ).key,
    );
  });

  it('a requested token type that is not an access token (token_type N_A) is served by getToken(), never as a header', async () => {
    const subject = (await basicTokens().getToken()).accessToken;
    const tokens = exchange({ subjectToken: subject, subjectTokenType: ACCESS, requestedTokenType: JWT });
    const token = await tokens.getToken();
    expect(token.tokenType).toBe('N_A');
    expect(token.issuedTokenType).toBe(JWT);
    expect((await claimsOf(token.accessToken)).sub).toBe('basic client');
    expect(tokens.cachedAuthorizationHeader()).toBeUndefined();
    await expect(tokens.authorizationHeader()).rejects.toMatchObject({
      code: 'invalid_option',
      option: 'grant.requestedTokenType',
    });
  });

  it('a requested access token type: a Bearer token, its issued_token_type kept', async () => {
    const subject = (await basicTokens().getToken()).accessToken;
    const tokens = exchange({ subjectToken: subject, subjectTokenType: ACCESS, requestedTokenType: ACCESS });
    const token = await tokens.getToken();
    expect(token).toMatchObject({ tokenType: 'Bearer', issuedTokenType: ACCESS });
    expect(grants.issued.at(-1)!.requestedTokenType).toBe(ACCESS);
    expect(inspect(token)).toContain(`issuedTokenType: "${ACCESS}"`);
    expect(inspect(token)).not.toContain(token.accessToken);
  });

  it('with a shared store, a peer bound to another subject does not take the stored token; one with the same subject does', async () => {
    const store = memoryStore();
    const subjectA = (await basicTokens().getToken()).accessToken;
    const subjectB = await subjectFor(op.clients.post.clientId, op.clients.post.clientSecret);
    const events: TokenEvent[] = [];
    const make = (subject: string) =>
      exchange({ subjectToken: () => subject, subjectTokenType: ACCESS }, { store, onEvent: (e) => events.push(e) });
    const first = await make(subjectA).getToken();
    const peerB = make(subjectB);
    expect(peerB.key).toBe(make(subjectA).key);
    const other = await peerB.getToken();
    expect(other.accessToken).not.toBe(first.accessToken);
    expect((await claimsOf(other.accessToken)).sub).toBe('post-client');
    expect(events.filter((e) => e.type === 'store_hit')).toHaveLength(0);
    const peerA = make(subjectA);
    // The store now holds B's token (the last write): A's peer does not take it, and exchanges its own.
    expect((await claimsOf((await peerA.getToken()).accessToken)).sub).toBe('basic client');
    const peerA2 = make(subjectA);
    expect((await peerA2.getToken()).accessToken).toBe((await peerA.getToken()).accessToken);
    expect(events.filter((e) => e.type === 'store_hit')).toHaveLength(1);
  });

  it('a refused subject token is an OAuthError that quotes no token; a throwing function is a grant_input error', async () => {
    const subject = (await basicTokens().getToken()).accessToken;
    const forged = `${subject.slice(0, -4)}AAAA`;
    const tokens = exchange({ subjectToken: forged, subjectTokenType: ACCESS });
    const error = await tokens.getToken().catch((e: unknown) => e);
    expect(isOAuthError(error) && error.error).toBe('invalid_grant');
    for (const out of [String(error), inspect(error, { depth: 10, showHidden: true }), JSON.stringify(error)])
      expect(out).not.toContain(forged);

    const cause = new Error('vault unreachable');
    const failing = exchange({
      subjectToken: () => {
        throw cause;
      },
      subjectTokenType: ACCESS,
    });
    await expect(failing.getToken()).rejects.toMatchObject({ code: 'grant_input', cause });
    const empty = exchange({ subjectToken: async () => '', subjectTokenType: ACCESS });
    await expect(empty.getToken()).rejects.toMatchObject({
      code: 'grant_input',
      message: expect.stringContaining('grant.subjectToken'),
    });
  });
});

describe('JWT bearer (RFC 7523 §2.1) against oidc-provider', () => {
  const partnerAssertion = (sub: string) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'partner-1' })
      .setIssuer(grants.assertionIssuer.issuer)
      .setSubject(sub)
      .setAudience(op.tokenEndpoint)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .setJti(randomUUID())
      .sign(grants.assertionIssuer.privateKey);
  };
  const bearer = (grant: TokenProviderOptions['grant'], extra: Partial<TokenProviderOptions> = {}) =>
    createTokenProvider({
      tokenEndpoint: op.tokenEndpoint,
      clientId: op.clients.post.clientId,
      clientSecret: op.clients.post.clientSecret,
      clientAuthMethod: 'client_secret_post',
      resource: op.resource,
      grant,
      ...extra,
    });

  it("a user's assertion (a string): the token is for its subject; used twice, the server refuses it, quoting nothing", async () => {
    const assertion = await partnerAssertion('user-42');
    const events: TokenEvent[] = [];
    const tokens = bearer({ type: 'jwt_bearer', assertion }, { onEvent: (e) => events.push(e) });
    const token = await tokens.getToken();
    expect((await claimsOf(token.accessToken)).sub).toBe('user-42');
    expect(events.find((e) => e.type === 'fetch')).toMatchObject({ grant: 'jwt_bearer' });

    // A second request with the same assertion: RFC 7523 lets the server refuse a jti it saw.
    await tokens.invalidate(token.accessToken);
    const error = await tokens.getToken().catch((e: unknown) => e);
    expect(isOAuthError(error) && error.errorDescription).toContain('used before');
    const outputs = [
      String(error),
      inspect(error, { depth: 10, showHidden: true }),
      JSON.stringify(error),
      JSON.stringify(events),
      inspect(tokens, { showHidden: true }),
      tokens.key,
    ];
    for (const out of outputs) {
      expect(out).not.toContain(assertion);
      expect(out).not.toContain(assertion.split('.')[2]!);
    }
  });

  it('an assertion from a function: a fresh one for every token request', async () => {
    let calls = 0;
    const tokens = bearer({
      type: 'jwt_bearer',
      assertion: () => {
        calls++;
        return partnerAssertion('user-43');
      },
    });
    const first = await tokens.getToken();
    await tokens.invalidate(first.accessToken);
    const second = await tokens.getToken();
    expect(second.accessToken).not.toBe(first.accessToken);
    expect((await claimsOf(second.accessToken)).sub).toBe('user-43');
    expect(calls).toBe(2);
  });

  it('tokenkit signs the assertion with the client key (iss = client id, aud = token endpoint), a new jti each request', async () => {
    const tokens = createTokenProvider({
      tokenEndpoint: op.tokenEndpoint,
      clientId: op.clients.privateKeyJwt.clientId,
      clientAuthMethod: 'private_key_jwt',
      privateKey: op.clients.privateKeyJwt.privateKey,
      resource: op.resource,
      grant: {
        type: 'jwt_bearer',
        sign: { privateKey: op.clients.privateKeyJwt.privateJwk, claims: { sub: 'user-7' } },
      },
    });
    const first = await tokens.getToken();
    expect((await claimsOf(first.accessToken)).sub).toBe('user-7');
    // The server refuses a jti it saw: a second token request goes through only with a new assertion.
    await tokens.invalidate(first.accessToken);
    const second = await tokens.getToken();
    expect((await claimsOf(second.accessToken)).sub).toBe('user-7');
    expect(second.accessToken).not.toBe(first.accessToken);
  });

  it("signs for another issuer (a partner's key, aud the issuer, extra claims) with client_secret_post", async () => {
    const tokens = bearer({
      type: 'jwt_bearer',
      sign: {
        privateKey: grants.assertionIssuer.privateJwk,
        claims: { iss: grants.assertionIssuer.issuer, sub: 'user-9', aud: op.issuer, tenant: 'acme' },
      },
    });
    expect((await claimsOf((await tokens.getToken()).accessToken)).sub).toBe('user-9');
    const wrongKey = bearer({
      type: 'jwt_bearer',
      sign: {
        privateKey: op.clients.privateKeyJwt.privateKey,
        claims: { iss: grants.assertionIssuer.issuer, sub: 'x' },
      },
    });
    await expect(wrongKey.getToken()).rejects.toMatchObject({ name: 'OAuthError', error: 'invalid_grant' });
  });
});

describe('an extension grant by its URI against oidc-provider', () => {
  it('sends its parameters; a secret parameter is never quoted and only hashed into the key', async () => {
    const events: TokenEvent[] = [];
    const make = (apiKey: string) =>
      createTokenProvider({
        tokenEndpoint: op.tokenEndpoint,
        clientId: op.clients.post.clientId,
        clientSecret: op.clients.post.clientSecret,
        clientAuthMethod: 'client_secret_post',
        resource: op.resource,
        grant: {
          type: 'extension',
          grantType: grants.apiKeyGrant,
          params: { tenant: 'acme' },
          secretParams: { api_key: apiKey },
        },
        onEvent: (e) => events.push(e),
      });
    const tokens = make(grants.apiKey);
    const token = await tokens.getToken();
    expect((await claimsOf(token.accessToken)).sub).toBe('tenant:acme');
    expect(events.find((e) => e.type === 'fetch')).toMatchObject({ grant: 'extension' });

    const wrong = `${grants.apiKey}-revoked`;
    const refused = make(wrong);
    expect(refused.key).not.toBe(tokens.key);
    const error = await refused.getToken().catch((e: unknown) => e);
    expect(isOAuthError(error) && error.error).toBe('invalid_grant');
    for (const out of [
      String(error),
      inspect(error, { depth: 10, showHidden: true }),
      JSON.stringify(events),
      inspect(refused),
      refused.key,
    ]) {
      expect(out).not.toContain(grants.apiKey);
    }
  });
});
