import { makeTestCertificates, type TestCertificates } from './certificates.ts';
import { startMtlsApi, type MtlsApi } from './mtls-api.ts';
import { startOidcProvider, type OidcServer } from './oidc.ts';

/** What a certificate-bound token test needs: certificates, oidc-provider with mutual TLS, an API that checks the binding. */
export interface MtlsStack {
  certs: TestCertificates;
  op: OidcServer;
  api: MtlsApi;
  close(): Promise<void>;
}

/**
 * Starts {@link MtlsStack}: test certificates (openssl; `certs` to reuse ones already made), oidc-provider with
 * `features.mTLS`, and the mTLS API.
 */
export async function startMtlsStack(certs: TestCertificates = makeTestCertificates()): Promise<MtlsStack> {
  const op = await startOidcProvider({ mtls: certs });
  const api = await startMtlsApi({ certificates: certs, issuer: op.issuer, audience: op.resource });
  return {
    certs,
    op,
    api,
    close: async () => {
      await api.close();
      await op.close();
    },
  };
}
