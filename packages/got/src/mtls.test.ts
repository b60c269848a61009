// Certificate-bound access tokens (RFC 8705 §3): a token from oidc-provider bound to the client certificate is
// accepted by an API that checks cnf.x5t#S256 only when the API call presents that certificate too (got's
// https.certificate and https.key).
import {
  hasOpenssl,
  startMtlsStack,
  type MtlsApi,
  type MtlsStack,
  type OidcServer,
  type TestCertificates,
} from '@tokenkit/test-utils';
import got, { HTTPError } from 'got';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenProvider, tokenHooks, type TokenProvider } from './index.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const run = hasOpenssl();
let stack: MtlsStack | undefined, certs: TestCertificates, op: OidcServer, api: MtlsApi, tokens: TokenProvider;

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
  await stack?.close();
});

const client = (https: { certificate?: string; key?: string }) =>
  got.extend({
    prefixUrl: api.origin,
    https: { ...https, certificateAuthority: certs.ca },
    retry: { limit: 0 },
    hooks: tokenHooks(tokens, { retryOn401: false }),
  });

describe.skipIf(!run)('a certificate-bound token through got', () => {
  it('with https.certificate and https.key: accepted', async () => {
    const body = await client({ certificate: certs.client.cert, key: certs.client.key })
      .get('payments')
      .json<{ boundTo: string }>();
    expect(body.boundTo).toBe(certs.client.thumbprint);
  });

  it('without the certificate: refused', async () => {
    const error: unknown = await client({})
      .get('payments')
      .catch((e: unknown) => e);
    expect(error instanceof HTTPError && error.response.statusCode).toBe(401);
    expect(api.requests.at(-1)?.reason).toBe('no certificate');
  });
});
