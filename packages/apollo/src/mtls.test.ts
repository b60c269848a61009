// Certificate-bound access tokens (RFC 8705 §3): a token from oidc-provider bound to the client certificate is
// accepted by an API that checks cnf.x5t#S256 only when the API call presents that certificate too. The data source
// gets it as the README shows: RESTDataSource's `fetch` config is undici's fetch with an Agent holding it.
import { inspect } from 'node:util';
import {
  hasOpenssl,
  startMtlsStack,
  type MtlsApi,
  type MtlsStack,
  type OidcServer,
  type TestCertificates,
} from '@tokenkit/test-utils';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenProvider, type TokenProvider } from './index.ts';
import { apiAt, type TestAPI } from './test-helpers.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const run = hasOpenssl();
let stack: MtlsStack | undefined, certs: TestCertificates, op: OidcServer, api: MtlsApi, tokens: TokenProvider;
const agents: Agent[] = [];

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

/** A data source (`override baseURL`, as users write it) whose calls go through an undici Agent: the README's code. */
function dataSource(connect: { cert?: string; key?: string; ca: string }): TestAPI {
  const dispatcher = new Agent({ connect });
  agents.push(dispatcher);
  const PaymentsAPI = apiAt(`${api.origin}/`);
  return new PaymentsAPI({
    tokens,
    retryOn401: false,
    fetch: (url, init) => fetch(url, { ...(init as object), dispatcher }) as never,
  });
}

describe.skipIf(!run)('a certificate-bound token through RESTDataSource and undici', () => {
  it('with an Agent presenting the certificate: accepted, for a GET and for a POST with a body', async () => {
    const payments = dataSource({ cert: certs.client.cert, key: certs.client.key, ca: certs.ca });
    const from = api.requests.length;
    await expect(payments.call('GET', 'payments')).resolves.toMatchObject({ boundTo: certs.client.thumbprint });
    await expect(payments.call('POST', 'payments', { body: { amount: 10 } })).resolves.toMatchObject({
      boundTo: certs.client.thumbprint,
      path: '/payments',
    });
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
      const error: unknown = await dataSource(connect)
        .call('GET', 'payments')
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ extensions: { code: 'UNAUTHENTICATED', response: { status: 401 } } });
      expect(api.requests.at(-1)?.reason).toBe(reason);
      expect(inspect(error, { depth: Infinity })).not.toContain(token);
    }
  });
});
