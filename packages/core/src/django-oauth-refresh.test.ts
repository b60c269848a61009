// Refresh-token defects shown against Django OAuth Toolkit 1.7 (Debian's python3-django-oauth-toolkit), a real
// authorization server with the password grant and rotating refresh tokens. These tests describe what tokenkit
// must do; they fail until it does.
import { hasDjangoOAuth, startDjangoOAuth, type DjangoOAuthServer } from '@tokenkit/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoveryUrls } from './discovery.ts';
import {
  createTokenProvider,
  memoryStore,
  type FetchLike,
  type TokenEvent,
  type TokenProviderOptions,
} from './index.ts';

const TTL = 300;

function clock(start = Date.now()) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/**
 * The global fetch, recording what each token request sent and which refresh tokens came back: a process's view
 * of its own traffic (the server is real; nothing is answered here).
 */
function recordingFetch() {
  const sent: URLSearchParams[] = [];
  const issued: string[] = [];
  const fetchFn: FetchLike = async (input, init) => {
    if (typeof init.body === 'string') sent.push(new URLSearchParams(init.body));
    const res = await fetch(input, init);
    if (res.ok && res.headers.get('content-type')?.includes('json')) {
      const body = (await res.clone().json()) as { refresh_token?: unknown };
      if (typeof body.refresh_token === 'string') issued.push(body.refresh_token);
    }
    return res;
  };
  return {
    fetch: fetchFn,
    sent,
    issued,
    grants: () => sent.map((p) => p.get('grant_type')),
    refreshTokensSent: () =>
      sent.filter((p) => p.get('grant_type') === 'refresh_token').map((p) => p.get('refresh_token')),
  };
}

const SUITE = 'Django OAuth Toolkit (python3-django-oauth-toolkit): refresh tokens';

describe.skipIf(!hasDjangoOAuth())(SUITE, { timeout: 60_000 }, () => {
  let dot: DjangoOAuthServer;
  beforeAll(async () => {
    dot = await startDjangoOAuth({ accessTokenTtl: TTL });
  }, 90_000);
  afterAll(async () => {
    await dot?.stop();
  }, 30_000);

  async function apiStatus(accessToken: string) {
    const res = await fetch(dot.apiUrl, { headers: { authorization: `Bearer ${accessToken}` } });
    await res.arrayBuffer();
    return res.status;
  }

  function passwordProvider(extra: Partial<TokenProviderOptions> = {}) {
    const events: TokenEvent[] = [];
    const tokens = createTokenProvider({ ...dot.passwordGrant(), onEvent: (event) => events.push(event), ...extra });
    return { tokens, events };
  }

  /** A refresh token from a password grant made outside tokenkit (as an operator would hand one over). */
  async function refreshTokenFromPasswordGrant(): Promise<string> {
    return (await dot.passwordGrantByHand()).refresh_token;
  }

  describe('a. a dead refresh token does not wedge the provider: the password grant in the same call', () => {
    it('the refresh token was revoked at the revocation endpoint (DOT: 400 invalid_grant)', async () => {
      const c = clock();
      const rec = recordingFetch();
      const { tokens } = passwordProvider({ now: c.now, fetch: rec.fetch });
      await tokens.getToken();
      const refreshToken = rec.issued[0]!;
      await dot.revoke(refreshToken, 'refresh_token');

      c.advance(TTL * 1000);
      const token = await tokens.getToken();
      expect(await apiStatus(token.accessToken)).toBe(200);
      expect(rec.grants()).toEqual(['password', 'refresh_token', 'password']);
    });

    it('the access token was revoked, its refresh token kept (DOT 1.7 answers that refresh with HTTP 500)', async () => {
      const c = clock();
      const rec = recordingFetch();
      const { tokens } = passwordProvider({ now: c.now, fetch: rec.fetch });
      const first = await tokens.getToken();
      await dot.revoke(first.accessToken, 'access_token');

      c.advance(TTL * 1000);
      const token = await tokens.getToken();
      expect(await apiStatus(token.accessToken)).toBe(200);
      // The refresh token is tried (and perhaps retried: a 500 is retryable), then the password grant.
      expect(rec.grants().at(-1)).toBe('password');
      expect(rec.grants()).toContain('refresh_token');
    });
  });

  describe('b. a rotated refresh token is never lost between processes sharing a store', () => {
    it('a process started after the access token expired uses the newest refresh token (RT1), never RT0', async () => {
      const store = memoryStore();
      const start = Date.now();
      const c1 = clock(start);
      const rec1 = recordingFetch();
      const p1 = passwordProvider({ now: c1.now, fetch: rec1.fetch, store });
      await p1.tokens.getToken();
      c1.advance(TTL * 1000); // P1 renews: RT0 -> RT1
      await p1.tokens.getToken();
      expect(rec1.grants()).toEqual(['password', 'refresh_token']);
      const [rt0, rt1] = rec1.issued;
      expect(rt1).toBeDefined();
      expect(rt1).not.toBe(rt0);

      const c2 = clock(start + 3 * TTL * 1000); // past the expiry of P1's second token too
      const rec2 = recordingFetch();
      const p2 = passwordProvider({ now: c2.now, fetch: rec2.fetch, store });
      const token = await p2.tokens.getToken();
      expect(await apiStatus(token.accessToken)).toBe(200);
      expect(rec2.refreshTokensSent()).not.toContain(rt0);
      expect(rec2.refreshTokensSent()).toEqual([rt1]);
      expect(rec2.grants()).toEqual(['refresh_token']);
    });

    it("grant { type: 'refresh_token', refreshToken: RT0 } in both: a later process uses the store's newest", async () => {
      const rt0 = await refreshTokenFromPasswordGrant();
      const store = memoryStore();
      const start = Date.now();
      const { clientId, clientSecret } = dot.clients.password;
      const grant = { type: 'refresh_token', refreshToken: rt0 } as const;
      const options = { tokenEndpoint: dot.tokenEndpoint, clientId, clientSecret, grant };

      const rec1 = recordingFetch();
      const p1 = createTokenProvider({ ...options, now: clock(start).now, fetch: rec1.fetch, store });
      await p1.getToken(); // RT0 -> RT1: RT0 is dead from now on
      expect(rec1.refreshTokensSent()).toEqual([rt0]);
      const rt1 = rec1.issued[0];

      const rec2 = recordingFetch();
      const p2 = createTokenProvider({ ...options, now: clock(start + 2 * TTL * 1000).now, fetch: rec2.fetch, store });
      const token = await p2.getToken();
      expect(await apiStatus(token.accessToken)).toBe(200);
      expect(rec2.refreshTokensSent()).toEqual([rt1]);
    });

    it("a store entry keeps the refresh token after the access token's expiry", async () => {
      const wall = clock();
      const store = memoryStore({ now: wall.now });
      const rec = recordingFetch();
      const p1 = passwordProvider({ now: wall.now, fetch: rec.fetch, store });
      await p1.tokens.getToken();
      const rt0 = rec.issued[0];

      wall.advance(TTL * 1000 + 1); // the access token has expired
      expect(await store.get(p1.tokens.key)).toMatchObject({ refreshToken: rt0 });

      const recNext = recordingFetch();
      const next = passwordProvider({ now: wall.now, fetch: recNext.fetch, store }); // a restarted process
      const token = await next.tokens.getToken();
      expect(await apiStatus(token.accessToken)).toBe(200);
      expect(recNext.refreshTokensSent()).toEqual([rt0]);
      expect(recNext.grants()).toEqual(['refresh_token']);
    });
  });

  describe("c. discovery through DOT's 301 to its trailing-slash URL", () => {
    it('the issuer DOT names has no trailing slash; the URL tokenkit builds from it gets a 301', async () => {
      expect(dot.issuer).toBe(`${dot.url}/o`);
      const [openid] = discoveryUrls(dot.issuer);
      expect(openid).toBe(`${dot.url}/o/.well-known/openid-configuration`);
      const res = await fetch(openid!, { redirect: 'manual' });
      await res.arrayBuffer();
      expect(res.status).toBe(301);
      expect(res.headers.get('location')).toBe('/o/.well-known/openid-configuration/');
    });

    it('createTokenProvider({ issuer }) works: the discovery GET follows a same-origin redirect', async () => {
      const { clientId, clientSecret } = dot.clients.credentials;
      const tokens = createTokenProvider({ issuer: dot.issuer, clientId, clientSecret });
      const token = await tokens.getToken();
      expect(await apiStatus(token.accessToken)).toBe(200);
    });
  });

  // d. password -> refresh -> revoke -> recover through an adapter: @tokenkit/axios is not a dependency of core,
  // so that test lives with the adapter.
});
