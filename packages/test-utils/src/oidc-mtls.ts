import { X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { JWK } from 'jose';
import type { TestCertificates } from './certificates.ts';

/** The clients of a provider started with `mtls`; each gets certificate-bound access tokens (`cnf.x5t#S256`). */
export interface OidcMtlsClients {
  /** `tls_client_auth`: registered with the subject DN of `certificates.client` (issued by the test CA). */
  tlsClientAuth: { clientId: string };
  /** `self_signed_tls_client_auth`: `certificates.selfSigned` is registered in its jwks (x5c). */
  selfSigned: { clientId: string };
  /** `private_key_jwt` with the `privateKeyJwt` client's key, plus bound tokens (the FAPI 2.0 combination). */
  privateKeyJwt: { clientId: string };
}

/** What a provider started with `mtls` adds. */
export interface OidcMtls {
  /** The origin of `mtls_endpoint_aliases`: a second HTTPS listener that asks for client certificates. */
  readonly origin: string;
  /** `mtls_endpoint_aliases.token_endpoint`. */
  readonly tokenEndpoint: string;
  readonly clients: OidcMtlsClients;
  /** Token requests that reached the alias listener. */
  readonly tokenRequests: number;
}

/** The peer certificate of a TLS connection, as PEM, when the client presented one. */
export function peerCertificate(socket: unknown): X509Certificate | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  const peer = socket.getPeerCertificate();
  return peer?.raw === undefined ? undefined : new X509Certificate(peer.raw);
}

/**
 * The mutual TLS part of the test provider: a listener for `mtls_endpoint_aliases` that asks for (and does not itself
 * refuse) client certificates, three clients, and oidc-provider's `features.mTLS` reading the peer certificate.
 * `onRequest` is called on each of its requests after it is counted, before it is answered.
 */
export async function startOidcMtls(
  certificates: TestCertificates,
  handler: () => (req: IncomingMessage, res: ServerResponse) => void,
  clientJwk: JWK,
  onRequest?: () => void,
): Promise<{
  mtls: OidcMtls;
  clients: Record<string, unknown>[];
  feature: Record<string, unknown>;
  /** Provider configuration: `discovery`, `clientAuthMethods`. */
  configuration: Record<string, unknown>;
  close(): Promise<void>;
}> {
  let tokenRequests = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer(
    {
      cert: certificates.server.cert,
      key: certificates.server.key,
      ca: certificates.ca,
      requestCert: true,
      // oidc-provider decides: a self-signed certificate is fine for self_signed_tls_client_auth.
      rejectUnauthorized: false,
    },
    (req, res) => {
      if (req.url?.startsWith('/token')) tokenRequests++;
      onRequest?.();
      handler()(req, res);
    },
  );
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients: OidcMtlsClients = {
    tlsClientAuth: { clientId: 'mtls-client' },
    selfSigned: { clientId: 'self-signed-client' },
    privateKeyJwt: { clientId: 'jwt-mtls-client' },
  };
  const selfSigned = new X509Certificate(certificates.selfSigned.cert);
  const common = { tls_client_certificate_bound_access_tokens: true };
  return {
    mtls: {
      origin,
      tokenEndpoint: `${origin}/token`,
      clients,
      get tokenRequests() {
        return tokenRequests;
      },
    },
    clients: [
      {
        ...common,
        client_id: clients.tlsClientAuth.clientId,
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_subject_dn: certificates.client.subject,
      },
      {
        ...common,
        client_id: clients.selfSigned.clientId,
        token_endpoint_auth_method: 'self_signed_tls_client_auth',
        jwks: {
          keys: [
            { ...selfSigned.publicKey.export({ format: 'jwk' }), use: 'sig', x5c: [selfSigned.raw.toString('base64')] },
          ],
        },
      },
      {
        ...common,
        client_id: clients.privateKeyJwt.clientId,
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [clientJwk] },
      },
    ],
    feature: {
      enabled: true,
      certificateBoundAccessTokens: true,
      tlsClientAuth: true,
      selfSignedTlsClientAuth: true,
      getCertificate: (ctx: { socket: unknown }) => peerCertificate(ctx.socket)?.toString(),
      certificateAuthorized: (ctx: { socket: unknown }) => (ctx.socket as TLSSocket).authorized === true,
      certificateSubjectMatches: (ctx: { socket: unknown }, property: string, expected: string) =>
        property === 'tls_client_auth_subject_dn' && peerCertificate(ctx.socket)?.subject === expected,
    },
    configuration: {
      discovery: { mtls_endpoint_aliases: { token_endpoint: `${origin}/token` } },
      clientAuthMethods: [
        'client_secret_basic',
        'client_secret_post',
        'private_key_jwt',
        'none',
        'tls_client_auth',
        'self_signed_tls_client_auth',
      ],
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
