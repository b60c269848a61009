// tokenkit against Django OAuth Toolkit 1.7 (Debian's python3-django-oauth-toolkit), a real authorization server
// in Python with the password grant and rotating refresh tokens, started once for this file.
import { inspect } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { hasDjangoOAuth, startDjangoOAuth, type DjangoOAuthServer } from '@tokenkit/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenProvider, OAuthError, type TokenEvent, type TokenProviderOptions } from './index.ts';

const TTL = 300;

/** A clock the test moves by hand: expiry without waiting. */
/** The OAuthError in an error's cause chain. */
function oauthErrorIn(error: unknown): OAuthError | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; depth++) {
    if (current instanceof OAuthError) return current;
    current = current.cause;
  }
  return undefined;
}

/** The grants of the token requests that succeeded, in order. */
function grantsFetched(events: TokenEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'fetch' ? [e.grant] : []));
}

/** Polls until `check` holds: waits for the effect, not for a fixed time. */
async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await sleep(5);
  }
  // One more turn: the provider takes the fetched token in a continuation of the event it reported.
  await sleep(1);
}

function clock(start = Date.now()) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe.skipIf(!hasDjangoOAuth())('Django OAuth Toolkit (python3-django-oauth-toolkit)', { timeout: 60_000 }, () => {
  let dot: DjangoOAuthServer;
  beforeAll(async () => {
    dot = await startDjangoOAuth({ accessTokenTtl: TTL });
  }, 90_000);
  afterAll(async () => {
    await dot?.stop();
  }, 30_000);

  async function callApi(accessToken: string, url = dot.apiUrl) {
    const res = await fetch(url, { headers: { authorization: `Bearer ${accessToken}` } });
    const text = await res.text();
    return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>) };
  }

  function passwordProvider(extra: Partial<TokenProviderOptions> = {}) {
    const events: TokenEvent[] = [];
    const tokens = createTokenProvider({ ...dot.passwordGrant(), onEvent: (event) => events.push(event), ...extra });
    return { tokens, events };
  }

  function expectNoSecret(values: unknown[], ...secrets: string[]) {
    const shown = values
      .map((v) => [String(v), JSON.stringify(v), inspect(v, { depth: 10, showHidden: true })].join('\n'))
      .join('\n');
    for (const secret of secrets) expect(shown).not.toContain(secret);
  }

  it('discovery: the metadata is served only with a trailing slash; the spec URL is answered with a 301', async () => {
    expect(dot.issuer).toBe(`${dot.url}/o`);
    const bare = await fetch(`${dot.issuer}/.well-known/openid-configuration`, { redirect: 'manual' });
    await bare.arrayBuffer();
    expect(bare.status).toBe(301);
    expect(bare.headers.get('location')).toBe('/o/.well-known/openid-configuration/');

    const document = (await (await fetch(dot.discoveryUrl)).json()) as Record<string, unknown>;
    expect(document['issuer']).toBe(dot.issuer);
    expect(document['token_endpoint']).toBe(`${dot.url}/o/token/`);
    expect(document['token_endpoint_auth_methods_supported']).toEqual(['client_secret_post', 'client_secret_basic']);
    // DOT 1.7 does not list its revocation endpoint (nor introspection) in the document.
    expect(document['revocation_endpoint']).toBeUndefined();

    const rfc8414 = await fetch(`${dot.url}/.well-known/oauth-authorization-server/o`);
    await rfc8414.arrayBuffer();
    expect(rfc8414.status).toBe(404);
  });

  it('client_credentials with client_secret_basic: an id and secret that need RFC 6749 Appendix B encoding', async () => {
    const { clientId, clientSecret } = dot.clients.credentials;
    const tokens = createTokenProvider({ tokenEndpoint: dot.tokenEndpoint, clientId, clientSecret });
    const before = Date.now();
    const token = await tokens.getToken();
    expect(token.scope).toBe('read write');
    expect(token.expiresAt).toBeGreaterThanOrEqual(before + TTL * 1000 - 1); // the provider's clock has sub-ms
    expect(token.expiresAt).toBeLessThanOrEqual(Date.now() + TTL * 1000);
    expect(await callApi(token.accessToken)).toEqual({
      status: 200,
      body: { hello: clientId, client_id: clientId, scope: 'read write' },
    });
  });

  it('DOT form-decodes Basic credentials: the same id and secret sent raw in Basic are refused', async () => {
    const { clientId, clientSecret } = dot.clients.credentials;
    const res = await fetch(dot.tokenEndpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'invalid_client' });
  });

  it('client_credentials with client_secret_post', async () => {
    const { clientId, clientSecret } = dot.clients.credentials;
    const tokens = createTokenProvider({
      tokenEndpoint: dot.tokenEndpoint,
      clientId,
      clientSecret,
      clientAuthMethod: 'client_secret_post',
    });
    const token = await tokens.getToken();
    expect((await callApi(token.accessToken)).status).toBe(200);
  });

  it('a wrong client secret is an OAuthError invalid_client (401) that quotes no secret', async () => {
    const secret = 'wrong-secret-for-dot-0123';
    const clientId = dot.clients.credentials.clientId;
    const tokens = createTokenProvider({ tokenEndpoint: dot.tokenEndpoint, clientId, clientSecret: secret });
    const error = await tokens.getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({ error: 'invalid_client', status: 401 });
    expectNoSecret([error, tokens], secret);
  });

  it('a wrong password is an OAuthError invalid_grant (400) that quotes neither password nor client secret', async () => {
    const { clientId, clientSecret, username } = dot.clients.password;
    const password = 'not-alices-password-42';
    const grant = { type: 'password', username, password } as const;
    const tokens = createTokenProvider({ tokenEndpoint: dot.tokenEndpoint, clientId, clientSecret, grant });
    const error = await tokens.getToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({
      error: 'invalid_grant',
      errorDescription: 'Invalid credentials given.',
      status: 400,
    });
    expectNoSecret([error, tokens], password, clientSecret);
  });

  it('password grant: an access and a refresh token; past the cutoff the refresh token renews it (rotated)', async () => {
    const c = clock();
    const { tokens, events } = passwordProvider({ now: c.now });
    const passwordGrants = await dot.tokenRequests('password');
    const refreshGrants = await dot.tokenRequests('refresh_token');

    const first = await tokens.getToken();
    const hello = dot.clients.password.username;
    expect(await callApi(first.accessToken)).toMatchObject({ status: 200, body: { hello } });
    expect(await dot.tokenRequests('password')).toBe(passwordGrants + 1);

    c.advance(TTL * 1000); // past expiresAt - skew: the next call must renew before it answers
    const second = await tokens.getToken();
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(await dot.tokenRequests('refresh_token')).toBe(refreshGrants + 1);
    expect(await dot.tokenRequests('password')).toBe(passwordGrants + 1);
    expect(grantsFetched(events)).toEqual(['password', 'refresh_token']);
    expect((await callApi(second.accessToken)).status).toBe(200);
    // Rotation revokes the old refresh token, and with it its access token, although it had not expired yet.
    expect((await callApi(first.accessToken)).status).toBe(401);

    c.advance(TTL * 1000); // and again: the rotated refresh token is the one kept and sent
    const third = await tokens.getToken();
    expect(third.accessToken).not.toBe(second.accessToken);
    expect(await dot.tokenRequests('refresh_token')).toBe(refreshGrants + 2);
    expect((await callApi(third.accessToken)).status).toBe(200);
  });

  it('a refresh ahead of expiry runs in the background; DOT kills the token still being served at once', async () => {
    const c = clock();
    const { tokens, events } = passwordProvider({ now: c.now, refreshSkewSeconds: 30, refreshAheadSeconds: 60 });
    const first = await tokens.getToken();
    c.advance((TTL - 60) * 1000); // inside the refresh-ahead window, before the cutoff
    expect(await tokens.getToken()).toBe(first);
    await until(() => events.some((e) => e.type === 'fetch' && e.background), 'the background refresh');
    expect(grantsFetched(events)).toEqual(['password', 'refresh_token']);
    const second = await tokens.getToken();
    expect(second.accessToken).not.toBe(first.accessToken);
    expect((await callApi(second.accessToken)).status).toBe(200);
    // A request that took the old token just before the refresh gets a 401 (adapters retry it once).
    expect((await callApi(first.accessToken)).status).toBe(401);
  });

  it('the API accepts the token, 401 after revoke(); DOT’s own ProtectedResourceView answers 403', async () => {
    const { tokens } = passwordProvider();
    const token = await tokens.getToken();
    expect((await callApi(token.accessToken)).status).toBe(200);
    expect(await callApi(token.accessToken, dot.dotGenericApiUrl)).toEqual({ status: 200, body: { hello: 'generic' } });

    await dot.revoke(token.accessToken, 'access_token');
    const rejected = await fetch(dot.apiUrl, { headers: { authorization: `Bearer ${token.accessToken}` } });
    expect(rejected.status).toBe(401);
    expect(rejected.headers.get('www-authenticate')).toBe('Bearer realm="api", error="invalid_token"');
    expect(await rejected.json()).toEqual({ error: 'invalid_token' });
    expect(await callApi(token.accessToken, dot.dotGenericApiUrl)).toEqual({ status: 403, body: undefined });

    // What an adapter does after that 401: drop the token, get another. DOT kept the refresh token but answers it
    // with HTTP 500 now that its access token is gone; tokenkit then falls back to the password grant.
    expect(await tokens.invalidate(token.accessToken)).toBe(true);
    const fresh = await tokens.getToken();
    expect(fresh.accessToken).not.toBe(token.accessToken);
    expect((await callApi(fresh.accessToken)).status).toBe(200);
  });

  it('revoking a refresh token revokes its access token too; an unknown token: 200 (RFC 7009)', async () => {
    const answer = await dot.passwordGrantByHand();
    expect(answer).toMatchObject({ token_type: 'Bearer', expires_in: TTL, scope: 'read write' });
    expect(typeof answer.refresh_token).toBe('string');

    await dot.revoke(answer.refresh_token, 'refresh_token');
    expect((await callApi(answer.access_token)).status).toBe(401);
    await dot.revoke('no-such-token-at-all');
  });

  it('an unknown refresh token is invalid_grant (400) without an error_description; tokenkit says so', async () => {
    const { clientId, clientSecret } = dot.clients.password;
    const refreshToken = 'unknown-refresh-token-123';
    const res = await fetch(dot.tokenEndpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_grant' });

    const tokens = createTokenProvider({
      tokenEndpoint: dot.tokenEndpoint,
      clientId,
      clientSecret,
      grant: { type: 'refresh_token', refreshToken },
      maxRetries: 0,
    });
    const error = await tokens.getToken().catch((e: unknown) => e);
    // The OAuthError itself, or the cause of an error that explains there is nothing to fall back to.
    expect(oauthErrorIn(error)).toMatchObject({ error: 'invalid_grant', errorDescription: undefined, status: 400 });
    expectNoSecret([error, tokens], refreshToken, clientSecret);
  });
});
