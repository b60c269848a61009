// Certificate-bound access tokens (RFC 8705 §3): a token from oidc-provider bound to the client certificate is
// accepted by an API that checks cnf.x5t#S256 only when the API call presents that certificate too, through undici's
// fetch with an Agent whose connect options hold it, and through the undici interceptor.
import {
  hasOpenssl,
  startMtlsStack,
  type MtlsApi,
  type MtlsStack,
  type OidcServer,
  type TestCertificates,
} from '@tokenkit/test-utils';
import { Agent, fetch as undiciFetch, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenProvider, tokenInterceptor, withTokens, type TokenProvider } from './index.ts';

vi.setConfig({ testTimeout: 60_000, hookTimeout: 60_000 });

const run = hasOpenssl();
let stack: MtlsStack | undefined, certs: TestCertificates, op: OidcServer, api: MtlsApi, tokens: TokenProvider;
const agents: Agent[] = [];
const agent = (connect: ConstructorParameters<typeof Agent>[0]) => {
  const made = new Agent(connect);
  agents.push(made);
  return made;
};

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

describe.skipIf(!run)('a certificate-bound token through undici', () => {
  it('withTokens over an undici Agent presenting the certificate: accepted', async () => {
    const dispatcher = agent({ connect: { cert: certs.client.cert, key: certs.client.key, ca: certs.ca } });
    const api$ = withTokens(tokens, {
      origins: [api.origin],
      fetch: (input: string, init?: RequestInit) => undiciFetch(input, { ...init, dispatcher } as never),
    });
    const res = await api$(`${api.origin}/payments`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { boundTo: string }).boundTo).toBe(certs.client.thumbprint);
  });

  it('the same token without the certificate, or with another one: refused', async () => {
    for (const [connect, reason] of [
      [{ ca: certs.ca }, 'no certificate'],
      [{ cert: certs.otherClient.cert, key: certs.otherClient.key, ca: certs.ca }, 'certificate mismatch'],
    ] as const) {
      const dispatcher = agent({ connect });
      const api$ = withTokens(tokens, {
        origins: [api.origin],
        fetch: (input: string, init?: RequestInit) => undiciFetch(input, { ...init, dispatcher } as never),
        retryOn401: false,
      });
      const res = await api$(`${api.origin}/payments`);
      expect(res.status).toBe(401);
      expect(api.requests.at(-1)?.reason).toBe(reason);
    }
  });

  it('tokenInterceptor composed onto an Agent presenting the certificate: accepted, and refused without it', async () => {
    const withCert = agent({ connect: { cert: certs.client.cert, key: certs.client.key, ca: certs.ca } }).compose(
      tokenInterceptor(tokens, { origins: [api.origin] }),
    );
    const ok = await request(`${api.origin}/interceptor`, { dispatcher: withCert });
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();

    const without = agent({ connect: { ca: certs.ca } }).compose(
      tokenInterceptor(tokens, { origins: [api.origin], retryOn401: false }),
    );
    const refused = await request(`${api.origin}/interceptor`, { dispatcher: without });
    expect(refused.statusCode).toBe(401);
    await refused.body.dump();
    expect(api.requests.at(-1)).toMatchObject({ path: '/interceptor', reason: 'no certificate' });
  });
});
