import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startDemoStack, startPaymentsApi, type DemoStack } from './stack.ts';

// A real OpenID provider and API: vitest's 5 s default is too short on a busy machine.
vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

let stack: DemoStack;
/** Added to the API's clock: moves the API past a token's expiry without sleeping. */
let apiClockAheadMs = 0;

// Tokens live long enough that none expires on its own while a busy machine runs a test; expiry is
// tested by moving the API's clock.
beforeAll(async () => {
  stack = await startDemoStack({ tokenTtlSeconds: 600, apiNow: () => Date.now() + apiClockAheadMs });
});
afterAll(() => stack.close());

/** A token straight from the provider's token endpoint (client_secret_post), no tokenkit involved. */
async function getToken(
  scope = 'payments:read payments:write',
  resource = stack.provider.resource,
): Promise<{ token: string; jti: string }> {
  const { clientId, clientSecret } = stack.provider.clients.post;
  const res = await fetch(stack.provider.tokenEndpoint, {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
      scope,
      resource,
    }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { access_token: string; token_type: string };
  expect(body.token_type).toBe('Bearer');
  const claims = JSON.parse(Buffer.from(body.access_token.split('.')[1]!, 'base64url').toString('utf8')) as {
    jti: string;
  };
  return { token: body.access_token, jti: claims.jti };
}

function call(path: string, token?: string, init: RequestInit = {}, origin = stack.api.origin) {
  const headers = new Headers(init.headers);
  if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
  return fetch(origin + path, { ...init, headers });
}

async function expectRejected(res: Response, status: number, challenge: RegExp, description: RegExp) {
  expect(res.status).toBe(status);
  expect(res.headers.get('www-authenticate')).toMatch(challenge);
  const body = (await res.json()) as { error_description: string };
  expect(body.error_description).toMatch(description);
}

describe('the payments API behind the demo provider', () => {
  it('accepts a token from the provider and counts the calls per client', async () => {
    const before = stack.api.stats();
    const { token } = await getToken();
    const created = await call('/payments', token, {
      method: 'POST',
      body: JSON.stringify({ amount: 12.5, currency: 'EUR' }),
    });
    expect(created.status).toBe(201);
    const payment = (await created.json()) as { id: string; createdBy: string };
    expect(payment.createdBy).toBe('post-client');

    const one = await call(`/payments/${payment.id}`, token);
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ id: payment.id, amount: 12.5, status: 'captured' });
    const list = await call('/payments', token);
    expect(((await list.json()) as { payments: unknown[] }).payments).toContainEqual(
      expect.objectContaining({ id: payment.id }),
    );

    const after = stack.api.stats();
    expect(after.accepted - before.accepted).toBe(3);
    expect(after.byClient['post-client']?.tokens).toBe((before.byClient['post-client']?.tokens ?? 0) + 1);
  });

  it('rejects a request without a token: 401 with a challenge and no error code (RFC 6750 §3.1)', async () => {
    const res = await call('/payments');
    await expectRejected(res, 401, /^Bearer realm="payments"$/, /bearer token is required/);
  });

  it('rejects an expired token with 401 invalid_token', async () => {
    const { token } = await getToken();
    expect((await call('/payments', token)).status).toBe(200);
    apiClockAheadMs = (stack.tokenTtlSeconds + 1) * 1000;
    try {
      await expectRejected(
        await call('/payments', token),
        401,
        /^Bearer realm="payments", error="invalid_token", error_description="the token expired"$/,
        /expired/,
      );
    } finally {
      apiClockAheadMs = 0;
    }
  });

  it('rejects a token issued for another audience with 401 invalid_token', async () => {
    const other = await startPaymentsApi({
      issuer: stack.provider.issuer,
      jwksUri: stack.provider.jwksUri,
      audience: 'https://ledger.tokenkit.test/',
    });
    try {
      const { token } = await getToken();
      await expectRejected(
        await call('/payments', token, {}, other.origin),
        401,
        /error="invalid_token"/,
        /aud claim is not accepted/,
      );
      expect(other.stats()).toMatchObject({ requests: 1, accepted: 0, unauthorized: 1 });
    } finally {
      await other.close();
    }
  });

  it('rejects a revoked token with 401 invalid_token while other tokens keep working', async () => {
    const revoked = await getToken();
    const kept = await getToken();
    expect((await call('/payments', revoked.token)).status).toBe(200);
    const res = await fetch(`${stack.api.origin}/admin/revoke`, {
      method: 'POST',
      body: JSON.stringify({ jti: revoked.jti }),
    });
    expect(res.status).toBe(204);
    await expectRejected(
      await call('/payments', revoked.token),
      401,
      /error="invalid_token", error_description="the token was revoked"/,
      /revoked/,
    );
    expect((await call('/payments', kept.token)).status).toBe(200);
  });

  it('rejects a token whose signature does not verify', async () => {
    const { token } = await getToken();
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const tampered = `${header}.${payload}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    await expectRejected(await call('/payments', tampered), 401, /error="invalid_token"/, /signature is invalid/);
  });

  it('answers 403 insufficient_scope when the token lacks the scope the endpoint needs', async () => {
    const { token } = await getToken('payments:read');
    expect((await call('/payments', token)).status).toBe(200);
    const res = await call('/payments', token, { method: 'POST', body: JSON.stringify({ amount: 1 }) });
    await expectRejected(res, 403, /error="insufficient_scope".*scope="payments:write"/, /needs payments:write/);
  });

  it('gives each client the environment its sample reads', () => {
    expect(stack.env('basic', 'issuer')).toEqual({
      TOKEN_ISSUER: stack.provider.issuer,
      CLIENT_ID: 'basic client',
      CLIENT_SECRET: stack.provider.clients.basic.clientSecret,
      SCOPE: 'payments:read payments:write',
      RESOURCE: 'https://payments.tokenkit.test/',
      API_URL: stack.api.origin,
    });
    const jwt = stack.env('privateKeyJwt');
    expect(jwt['TOKEN_URL']).toBe(stack.provider.tokenEndpoint);
    expect(JSON.parse(jwt['PRIVATE_KEY']!)).toMatchObject({ kty: 'EC', kid: 'client-key-1', alg: 'ES256' });
  });
});
