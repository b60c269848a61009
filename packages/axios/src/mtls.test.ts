// Certificate-bound access tokens (RFC 8705 §3): a token from oidc-provider bound to the client certificate is
// accepted by an API that checks cnf.x5t#S256 only when the API call presents that certificate too (an httpsAgent).
import { Agent } from 'node:https';
import {
  hasOpenssl,
  startMtlsStack,
  type MtlsApi,
  type MtlsStack,
  type OidcServer,
  type TestCertificates,
} from '@tokenkit/test-utils';
import axios from 'axios';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenProvider, installTokenInterceptor, type TokenProvider } from './index.ts';

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
    clientId: op.mtls!.clients.selfSigned.clientId,
    clientAuthMethod: 'self_signed_tls_client_auth',
    tls: { cert: certs.selfSigned.cert, key: certs.selfSigned.key, ca: certs.ca },
    resource: op.resource,
  });
});
afterAll(async () => {
  for (const agent of agents) agent.destroy();
  await stack?.close();
});

function client(agentOptions: ConstructorParameters<typeof Agent>[0]) {
  const httpsAgent = new Agent(agentOptions);
  agents.push(httpsAgent);
  const instance = axios.create({ baseURL: api.origin, httpsAgent });
  installTokenInterceptor(instance, tokens, { retryOn401: false });
  return instance;
}

describe.skipIf(!run)('a certificate-bound token through axios', () => {
  it('with an httpsAgent presenting the certificate: accepted', async () => {
    const res = await client({ cert: certs.selfSigned.cert, key: certs.selfSigned.key, ca: certs.ca }).get<{
      boundTo: string;
    }>('/payments');
    expect(res.status).toBe(200);
    expect(res.data.boundTo).toBe(certs.selfSigned.thumbprint);
  });

  it('without the certificate, or with another one: refused with a 401 that does not show the token', async () => {
    const token = (await tokens.getToken()).accessToken;
    for (const [agentOptions, reason] of [
      [{ ca: certs.ca }, 'no certificate'],
      [{ cert: certs.otherSelfSigned.cert, key: certs.otherSelfSigned.key, ca: certs.ca }, 'certificate mismatch'],
    ] as const) {
      const error: unknown = await client(agentOptions)
        .get('/payments')
        .catch((e: unknown) => e);
      expect(axios.isAxiosError(error) && error.response?.status).toBe(401);
      expect(api.requests.at(-1)?.reason).toBe(reason);
      expect(JSON.stringify((error as { toJSON(): unknown }).toJSON())).not.toContain(token);
    }
  });
});
