import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createTokenProvider, isOAuthError, type TokenProvider } from '@tokenkit/fetch';
import { hasOpenssl, hasRedis } from '@tokenkit/test-utils';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { findSecret } from './lanes/leaks.ts';
import { startDemoStack, startPaymentsApi, type DemoStack, type ReceivedRequest } from './stack.ts';

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

describe('DPoP at the demo provider and the payments API (the dpop lane)', () => {
  /** A DPoP provider for the post client, straight on core, and the statuses of its token endpoint answers. */
  function dpopTokens() {
    const answers: number[] = [];
    const tokens = createTokenProvider({
      tokenEndpoint: stack.provider.tokenEndpoint,
      clientId: stack.provider.clients.post.clientId,
      clientSecret: stack.provider.clients.post.clientSecret,
      clientAuthMethod: 'client_secret_post',
      resource: stack.provider.resource,
      scope: 'payments:read payments:write',
      dpop: true,
      onEvent: (event) => {
        if (event.type === 'attempt_end' && event.operation === 'token' && event.status !== undefined)
          answers.push(event.status);
      },
    });
    return { tokens, answers };
  }

  /** A request with the provider's two headers for it; the API's `DPoP-Nonce` is kept, as an adapter does. */
  async function dpopCall(tokens: TokenProvider, method: string, path: string, init: RequestInit = {}) {
    const url = stack.api.origin + path;
    const res = await fetch(url, { ...init, method, headers: await tokens.requestHeaders(method, url) });
    const nonce = res.headers.get('dpop-nonce');
    if (nonce !== null) tokens.dpop!.setNonce(url, nonce);
    return res;
  }

  it('the provider asks for its nonce, then binds the token to the key (cnf.jkt)', async () => {
    const before = stack.provider.tokenRequests;
    const { tokens, answers } = dpopTokens();
    const token = await tokens.getToken();
    expect(answers).toEqual([400, 200]);
    expect(stack.provider.tokenRequests - before).toBe(2);
    expect(token.tokenType).toBe('DPoP');
    expect(decodeJwt(token.accessToken)['cnf']).toEqual({ jkt: tokens.dpop!.thumbprint });
  });

  it("asks for the API's nonce (401 use_dpop_nonce, DPoP challenge), then accepts a proof with it", async () => {
    const { tokens } = dpopTokens();
    const before = stack.api.dpop().length;
    const first = await dpopCall(tokens, 'GET', '/payments');
    await expectRejected(
      first,
      401,
      /^DPoP realm="payments", algs="ES256 [^"]*", error="use_dpop_nonce", error_description="[^"]+"$/,
      /nonce/,
    );
    expect(first.headers.get('dpop-nonce')).toBe(stack.api.dpopNonce);
    const second = await dpopCall(tokens, 'GET', '/payments');
    expect(second.status).toBe(200);
    const records = stack.api.dpop().slice(before);
    expect(records).toEqual([
      {
        method: 'GET',
        path: '/payments',
        scheme: 'DPoP',
        accepted: false,
        error: 'use_dpop_nonce',
        description: expect.any(String),
      },
      {
        method: 'GET',
        path: '/payments',
        scheme: 'DPoP',
        accepted: true,
        proof: { htm: 'GET', htu: `${stack.api.origin}/payments`, jti: expect.any(String), iat: expect.any(Number) },
        jkt: tokens.dpop!.thumbprint,
      },
    ]);
    // A changed nonce is asked for again.
    stack.api.rotateDPoPNonce();
    expect((await dpopCall(tokens, 'GET', '/payments')).status).toBe(401);
    expect((await dpopCall(tokens, 'GET', '/payments')).status).toBe(200);
  });

  it('refuses a proof used twice, or made for another method or URL', async () => {
    const { tokens } = dpopTokens();
    await (await dpopCall(tokens, 'GET', '/payments')).arrayBuffer(); // the nonce
    const url = `${stack.api.origin}/payments`;
    const headers = await tokens.requestHeaders('GET', url);
    expect((await fetch(url, { headers })).status).toBe(200);
    await expectRejected(await fetch(url, { headers }), 401, /^DPoP .*error="invalid_dpop_proof"/, /used before/);
    const forPost = await tokens.requestHeaders('POST', url);
    await expectRejected(await fetch(url, { headers: forPost }), 401, /invalid_dpop_proof/, /htm is not GET/);
    const forOther = await tokens.requestHeaders('GET', `${stack.api.origin}/payments/pay_1`);
    await expectRejected(await fetch(url, { headers: forOther }), 401, /invalid_dpop_proof/, /htu is not/);
    const { authorization } = await tokens.requestHeaders('GET', url);
    const forOtherToken = tokens.dpop!.proof('GET', url, 'another token');
    await expectRejected(
      await fetch(url, { headers: { authorization, dpop: forOtherToken } }),
      401,
      /invalid_dpop_proof/,
      /ath is not the hash of this token/,
    );
    const late = (await tokens.requestHeaders('GET', url)).dpop!;
    apiClockAheadMs = 2 * 60_000; // the API's clock two minutes on: the proof's iat is out of its 60 s window
    try {
      await expectRejected(
        await fetch(url, { headers: { authorization, dpop: late } }),
        401,
        /invalid_dpop_proof/,
        /recent/,
      );
    } finally {
      apiClockAheadMs = 0;
    }
    await expectRejected(
      await fetch(url, { headers: { authorization } }),
      401,
      /invalid_dpop_proof/,
      /proof is required/,
    );
  });

  it('refuses the bound token as a plain Bearer token, and a Bearer token sent with the DPoP scheme', async () => {
    const { tokens } = dpopTokens();
    const { accessToken } = await tokens.getToken();
    const before = stack.api.dpop().length;
    await expectRejected(
      await call('/payments', accessToken),
      401,
      /^DPoP realm="payments", .*error="invalid_token"/,
      /bound to a DPoP key/,
    );
    expect(stack.api.dpop().slice(before)).toEqual([
      expect.objectContaining({
        scheme: 'Bearer',
        accepted: false,
        error: 'invalid_token',
        jkt: tokens.dpop!.thumbprint,
      }),
    ]);

    // An unbound token with a valid proof: the proof is fine, the token is not bound to its key.
    const { token: bearer } = await getToken();
    await (await dpopCall(tokens, 'GET', '/payments')).arrayBuffer(); // the nonce
    const url = `${stack.api.origin}/payments`;
    const dpop = tokens.dpop!.proof('GET', url, bearer);
    await expectRejected(
      await fetch(url, { headers: { authorization: `DPoP ${bearer}`, dpop } }),
      401,
      /error="invalid_token"/,
      /not bound to the proof's key \(cnf\.jkt\)/,
    );
    expect(JSON.stringify(stack.api.dpop())).not.toContain(accessToken); // never a token, nor a proof
    expect(JSON.stringify(stack.api.dpop())).not.toContain(dpop);
  });
});

describe('the second origin and the receipt redirect (the origins lane)', () => {
  it('the receipt endpoint needs a token and redirects to the second origin', async () => {
    const { token } = await getToken();
    const created = await call('/payments', token, { method: 'POST', body: JSON.stringify({ amount: 3 }) });
    const { id } = (await created.json()) as { id: string };

    const res = await call(`/payments/${id}/receipt`, token, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(`${stack.secondOrigin.origin}/receipts/${id}.pdf`);
    await expectRejected(await call(`/payments/${id}/receipt`), 401, /^Bearer realm="payments"$/, /required/);
    expect((await call('/payments/pay_none/receipt', token, { redirect: 'manual' })).status).toBe(404);
  });

  it('records what each request carried: header names, and whether an Authorization came along', async () => {
    const before = stack.secondOrigin.received().length;
    await (await fetch(`${stack.secondOrigin.origin}/plain`)).arrayBuffer();
    await (await fetch(`${stack.secondOrigin.origin}/with`, { headers: { authorization: 'Bearer x' } })).arrayBuffer();
    const answer = await fetch(`${stack.secondOrigin.origin}/admin/received`);
    const { received } = (await answer.json()) as { received: ReceivedRequest[] };
    expect(received.slice(before)).toEqual([
      expect.objectContaining({ method: 'GET', path: '/plain', authorization: false }),
      expect.objectContaining({ method: 'GET', path: '/with', authorization: true }),
    ]);
    expect(received.at(-1)?.headers).toContain('authorization');
    expect(JSON.stringify(received)).not.toContain('Bearer x'); // names only, never a value
    expect(stack.secondOrigin.received()).toHaveLength(received.length); // /admin/received is not recorded
  });
});

describe('findSecret (the errors lane)', () => {
  const secret = 'p@ss:w/rd+% x';

  it('finds a secret in any form and rendering: as is, form-encoded, in Basic credentials, in a cause, in JSON', () => {
    expect(findSecret(new Error(`bad secret ${secret}`), secret)).toContain('message: as is');
    expect(findSecret(new Error('body: client_secret=p%40ss%3Aw%2Frd%2B%25+x'), secret)).toContain(
      'message: form-encoded',
    );
    const basic = Buffer.from('id:p%40ss%3Aw%2Frd%2B%25+x').toString('base64');
    const wrapped = new Error('failed', { cause: { headers: { authorization: `Basic ${basic}` } } });
    expect(findSecret(wrapped, secret, 'id')).toContain('util.inspect: in the Basic credentials');
    expect(findSecret(new Error('failed'), secret, 'id')).toEqual([]);
    const withField = Object.assign(new Error('failed'), { sent: JSON.stringify({ secret }) });
    expect(findSecret(withField, secret)).toEqual(expect.arrayContaining(['JSON.stringify: as is']));
  });

  it("finds nothing in core's OAuthError for a wrong secret, from the demo provider", async () => {
    const wrongSecret = `wrong ${secret}`;
    const tokens = createTokenProvider({
      tokenEndpoint: stack.provider.tokenEndpoint,
      clientId: stack.provider.clients.basic.clientId,
      clientSecret: wrongSecret,
      resource: stack.provider.resource,
    });
    const error = await tokens.getToken().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isOAuthError(error) && error.error).toBe('invalid_client');
    expect(findSecret(error, wrongSecret, stack.provider.clients.basic.clientId)).toEqual([]);
  });
});

/** Runs a demo lane against the test's stack, as demo.ts does, and returns its report line. */
async function runLane(script: string, env: Record<string, string>): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, [fileURLToPath(new URL(script, import.meta.url))], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  const last = stdout.trim().split('\n').at(-1) ?? '';
  expect(last.startsWith('{'), `${script} printed no report line:\n${stdout}\n${stderr}`).toBe(true);
  const report = JSON.parse(last) as Record<string, unknown>;
  expect(code, `${script} exited ${code}:\n${stdout}\n${stderr}`).toBe(report['failures'] === 0 ? 0 : 1);
  return report;
}

// A lane is a child process that starts more (the fleet: redis-server and three members): minutes on a machine as
// loaded as a shared CI runner can be.
describe('the demo lanes, run against this stack', { timeout: 180_000 }, () => {
  it('origins: the second origin gets no token, directly nor through the redirect', async () => {
    const env = { ...stack.env('post'), SECOND_ORIGIN_URL: stack.secondOrigin.origin };
    const before = stack.secondOrigin.received().length;
    const report = await runLane('./lanes/other-origins.ts', env);
    expect(report).toMatchObject({ sample: 'origins', apiCalls: 2, tokensFetched: 1, failures: 0 });
    const received = stack.secondOrigin.received().slice(before);
    expect(received.map((r) => r.path)).toEqual(['/public/terms.pdf', expect.stringMatching(/^\/receipts\/.+\.pdf$/)]);
    expect(received.every((r) => !r.authorization)).toBe(true);
  });

  it('errors: a wrong secret and a dead endpoint give typed errors without the secret', async () => {
    const report = await runLane('./lanes/wrong-secret.ts', stack.env('basic'));
    expect(report).toMatchObject({ sample: 'errors', apiCalls: 0, tokensFetched: 0, failures: 0 });
  });

  it.runIf(hasRedis())('fleet: three processes sharing Redis make one token request and use one token', async () => {
    const report = await runLane('./lanes/redis-fleet.ts', { ...stack.env('post'), TOKENKIT_DEMO_FLEET: '3' });
    expect(report).toMatchObject({ sample: 'fleet', apiCalls: 3, tokensFetched: 1, failures: 0 });
    expect(report['skipped']).toBeUndefined();
  });

  it('dpop: a proof per request, both nonces answered, the copied token refused as Bearer and with another key', async () => {
    const tokenRequests = stack.provider.tokenRequests;
    const accepted = stack.api.stats().accepted;
    const before = stack.api.dpop().length;
    const report = await runLane('./lanes/dpop.ts', stack.env('post'));
    expect(report).toMatchObject({ sample: 'dpop', apiCalls: 4, tokensFetched: 1, retries: 0, failures: 0 });
    expect(stack.provider.tokenRequests - tokenRequests).toBe(2); // 400 use_dpop_nonce, then the token
    expect(stack.api.stats().accepted - accepted).toBe(4);
    const records = stack.api.dpop().slice(before);
    expect(records.map((r) => `${r.scheme} ${r.accepted ? 'accepted' : r.error}`)).toEqual([
      'DPoP use_dpop_nonce',
      'DPoP accepted',
      'DPoP accepted',
      'DPoP accepted',
      'DPoP use_dpop_nonce',
      'DPoP accepted',
      'Bearer invalid_token',
      'DPoP use_dpop_nonce',
      'DPoP invalid_token',
    ]);
    // A verified proof for each accepted call, and the other key's (its proof passes; the token is not bound to it).
    const jtis = records.flatMap((r) => (r.proof ? [r.proof.jti] : []));
    expect(jtis).toHaveLength(5);
    expect(new Set(jtis).size).toBe(5);
  });

  it.runIf(hasOpenssl())(
    'mtls: a certificate-bound token, accepted with its certificate, refused without it or with another',
    async () => {
      const report = await runLane('./lanes/mtls.ts', {});
      expect(report).toMatchObject({ sample: 'mtls', apiCalls: 3, tokensFetched: 1, retries: 0, failures: 0 });
      expect(report['skipped']).toBeUndefined();
    },
  );

  it('mtls without openssl: skipped (exit 0, no failure), saying how to get it', async () => {
    const report = await runLane('./lanes/mtls.ts', { PATH: '/nonexistent' });
    expect(report).toMatchObject({ sample: 'mtls', apiCalls: 0, tokensFetched: 0, failures: 0 });
    expect(report['skipped']).toMatch(/apt install openssl.*brew install openssl/);
  });

  it('fleet without redis-server: skipped (exit 0, no failure), saying how to get it', async () => {
    // No PATH entry holds redis-server here; the lane and its processes run on process.execPath.
    const report = await runLane('./lanes/redis-fleet.ts', { ...stack.env('post'), PATH: '/nonexistent' });
    expect(report).toMatchObject({ sample: 'fleet', apiCalls: 0, tokensFetched: 0, failures: 0 });
    expect(report['skipped']).toMatch(/apt install redis-server.*brew install redis/);
  });
});
