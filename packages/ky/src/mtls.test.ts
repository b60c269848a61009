// Certificate-bound access tokens (RFC 8705 §3): a token from oidc-provider bound to the client certificate is
// accepted by an API that checks cnf.x5t#S256 only when the API call presents that certificate too. ky gets it as
// the README shows: a `fetch` that sends ky's Request through undici's fetch with an Agent holding the certificate,
// or, where Node's fetch bundles undici 7, an undici 7 Agent in ky's `dispatcher` option.
import { inspect } from 'node:util';
import {
  hasOpenssl,
  startMtlsStack,
  type MtlsApi,
  type MtlsStack,
  type OidcServer,
  type TestCertificates,
} from '@tokenkit/test-utils';
import ky, { HTTPError, type KyInstance } from 'ky';
import { Agent, fetch } from 'undici';
import { Agent as Agent7 } from 'undici-7.0';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenProvider, withTokens, type TokenProvider } from './index.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const run = hasOpenssl();
let stack: MtlsStack | undefined, certs: TestCertificates, op: OidcServer, api: MtlsApi, tokens: TokenProvider;
const agents: (Agent | Agent7)[] = [];
// Node's own fetch takes a dispatcher only from an undici of the major version it bundles.
const nodeUndici7 = process.versions.undici?.startsWith('7.') === true;

beforeAll(async () => {
  if (!run) return;
  stack = await startMtlsStack();
  ({ certs, op, api } = stack);
  tokens = createTokenProvider({
    issuer: op.issuer,
    clientId: op.mtls!.clients.tlsClientAuth.clientId,
    clientAuthMethod: 'tls_client_auth',
    tls: { cert: certs.client.cert, key: certs.client.key, ca: certs.ca },
    resource: op.resource,
  });
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await stack?.close();
});

/** A ky instance whose calls go through an undici Agent with these connect options: the README's code. */
function client(connect: { cert?: string; key?: string; ca: string }): KyInstance {
  const dispatcher = new Agent({ connect });
  agents.push(dispatcher);
  return withTokens(
    ky.create({
      baseUrl: `${api.origin}/`,
      retry: 0,
      // ky hands fetch a Request; undici's fetch sends it with the agent
      fetch: (input, init) => {
        const request = new Request(input, init);
        return fetch(request.url, {
          method: request.method,
          headers: [...request.headers],
          body: request.body,
          duplex: 'half',
          signal: request.signal,
          redirect: request.redirect,
          dispatcher,
        }) as unknown as Promise<Response>;
      },
    }),
    tokens,
    { retryOn401: false },
  );
}

describe.skipIf(!run)('a certificate-bound token through ky and undici', () => {
  it('with an Agent presenting the certificate: accepted, for a GET and for a POST with a body', async () => {
    const http = client({ cert: certs.client.cert, key: certs.client.key, ca: certs.ca });
    const from = api.requests.length;
    const body = await http.get('payments').json<{ boundTo: string }>();
    expect(body.boundTo).toBe(certs.client.thumbprint);
    const posted = await http.post('payments', { json: { amount: 10 } }).json<{ boundTo: string; path: string }>();
    expect(posted).toMatchObject({ boundTo: certs.client.thumbprint, path: '/payments' });
    expect(api.requests.slice(from)).toEqual([
      { path: '/payments', status: 200, reason: undefined, presented: certs.client.thumbprint },
      { path: '/payments', status: 200, reason: undefined, presented: certs.client.thumbprint },
    ]);
  });

  it('without the certificate, or with another one: refused with a 401 that does not show the token', async () => {
    const token = (await tokens.getToken()).accessToken;
    for (const [connect, reason] of [
      [{ ca: certs.ca }, 'no certificate'],
      [{ cert: certs.otherClient.cert, key: certs.otherClient.key, ca: certs.ca }, 'certificate mismatch'],
    ] as const) {
      const error: unknown = await client(connect)
        .get('payments')
        .catch((e: unknown) => e);
      expect(error instanceof HTTPError && error.response.status).toBe(401);
      expect(api.requests.at(-1)?.reason).toBe(reason);
      expect(inspect(error, { depth: Infinity })).not.toContain(token);
    }
  });

  it.skipIf(!nodeUndici7)("an undici 7 Agent in ky's dispatcher option, with Node's fetch: accepted", async () => {
    const dispatcher = new Agent7({ connect: { cert: certs.client.cert, key: certs.client.key, ca: certs.ca } });
    agents.push(dispatcher);
    // ky passes `dispatcher` on to fetch beside its Request. Its type is Node's undici-types, which differ in
    // detail from undici 7.0.0's own.
    const options = {
      baseUrl: `${api.origin}/`,
      retry: 0,
      dispatcher: dispatcher as unknown as NonNullable<RequestInit['dispatcher']>,
    };
    const http = withTokens(ky.create(options), tokens);
    const body = await http.get('payments').json<{ boundTo: string }>();
    expect(body.boundTo).toBe(certs.client.thumbprint);
  });
});
