// The axios adapter against Django OAuth Toolkit 1.7 (Debian's python3-django-oauth-toolkit), a real authorization
// server with the password grant and rotating refresh tokens: password -> refresh -> revoke -> 401 -> retry -> recover.
import { hasDjangoOAuth, startDjangoOAuth, type DjangoOAuthServer } from '@tokenkit/test-utils';
import axios, { isAxiosError, type AxiosAdapter } from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenProvider, installTokenInterceptor, type TokenEvent } from './index.ts';

const TTL = 300;

describe.skipIf(!hasDjangoOAuth())('Django OAuth Toolkit (python3-django-oauth-toolkit)', { timeout: 60_000 }, () => {
  let dot: DjangoOAuthServer;
  beforeAll(async () => {
    dot = await startDjangoOAuth({ accessTokenTtl: TTL });
  }, 90_000);
  afterAll(async () => {
    await dot?.stop();
  }, 30_000);

  it('password grant, a rotating refresh, then a revoked token: 401, invalidated, retried once, recovered', async () => {
    let now = Date.now();
    const events: TokenEvent[] = [];
    const { clientId, username } = dot.clients.password;
    const tokens = createTokenProvider({
      ...dot.passwordGrant(),
      now: () => now,
      onEvent: (event) => events.push(event),
    });

    // The instance's own transport, which tokenkit wraps: it sees every attempt as sent, the 401 and the retry included
    // (response interceptors see only the final answer).
    const seen: { status: number | undefined; authorization: unknown }[] = [];
    const transport = axios.getAdapter('http');
    const recording: AxiosAdapter = async (config) => {
      const authorization = config.headers.get('Authorization');
      try {
        const response = await transport(config);
        seen.push({ status: response.status, authorization });
        return response;
      } catch (error) {
        seen.push({ status: isAxiosError(error) ? error.response?.status : undefined, authorization });
        throw error;
      }
    };
    const http = axios.create({ baseURL: dot.url, adapter: recording });
    installTokenInterceptor(http, tokens);

    const path = new URL(dot.apiUrl).pathname;
    const passwordGrants = await dot.tokenRequests('password');
    const refreshGrants = await dot.tokenRequests('refresh_token');

    const first = await http.get(path);
    expect(first.status).toBe(200);
    expect(first.data).toMatchObject({ hello: username, client_id: clientId });
    expect(await dot.tokenRequests('password')).toBe(passwordGrants + 1);

    now += TTL * 1000; // past the cutoff: the next call renews with the refresh token before it is sent
    const second = await http.get(path);
    expect(second.status).toBe(200);
    expect(await dot.tokenRequests('refresh_token')).toBe(refreshGrants + 1);
    expect(await dot.tokenRequests('password')).toBe(passwordGrants + 1);
    const renewed = await tokens.getToken();
    expect(seen.map((s) => s.authorization)).toEqual([
      expect.stringMatching(/^Bearer /),
      `Bearer ${renewed.accessToken}`,
    ]);
    expect(seen[0]!.authorization).not.toBe(seen[1]!.authorization);

    // DOT keeps the refresh token of a revoked access token, but answers it with HTTP 500: the provider drops the
    // refresh token and falls back to the password grant at once, within the adapter's one retry.
    await dot.revoke(renewed.accessToken, 'access_token');
    const third = await http.get(path);
    expect(third.status).toBe(200);
    expect(third.data).toMatchObject({ hello: username, client_id: clientId });

    const fresh = await tokens.getToken();
    expect(fresh.accessToken).not.toBe(renewed.accessToken);
    expect(seen).toEqual([
      { status: 200, authorization: expect.stringMatching(/^Bearer /) },
      { status: 200, authorization: `Bearer ${renewed.accessToken}` },
      { status: 401, authorization: `Bearer ${renewed.accessToken}` },
      { status: 200, authorization: `Bearer ${fresh.accessToken}` },
    ]);
    expect(await dot.tokenRequests('password')).toBe(passwordGrants + 2);
    expect(await dot.tokenRequests('refresh_token')).toBe(refreshGrants + 2); // the rotation, then the one refused
    expect(events.flatMap((e) => (e.type === 'fetch' ? [e.grant] : []))).toEqual([
      'password',
      'refresh_token',
      'password',
    ]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'invalidate', dropped: true }));
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'refresh_token_dropped', reason: expect.stringMatching(/500/) as unknown }),
    );
    expect(dot.logs()).toMatch(/Traceback|Internal Server Error/);
  });
});
