import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import Provider, { errors } from 'oidc-provider';
import type { JWK } from 'jose';
import type { TestCertificates } from './certificates.ts';
import { startOidcMtls, type OidcMtls } from './oidc-mtls.ts';
import { registerTestGrants, TEST_GRANT_TYPES, type TestGrants } from './oidc-grants.ts';

export interface OidcClients {
  basic: { clientId: string; clientSecret: string };
  post: { clientId: string; clientSecret: string };
  privateKeyJwt: { clientId: string; privateJwk: JWK; privateKey: KeyObject };
}

export interface OidcServer {
  /** `http://127.0.0.1:<port>` — also the issuer. */
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly jwksUri: string;
  /** The resource indicator (API audience) that gets JWT access tokens. */
  readonly resource: string;
  readonly scopes: readonly string[];
  readonly clients: OidcClients;
  /** Token endpoint requests so far. */
  readonly tokenRequests: number;
  /** With the `mtls` option: the `mtls_endpoint_aliases` listener and the mutual TLS clients. */
  readonly mtls: OidcMtls | undefined;
  /** With the `grants` option: token exchange, JWT-bearer and an extension grant (see `oidc-grants.ts`). */
  readonly grants: TestGrants | undefined;
  close(): Promise<void>;
}

export interface OidcServerOptions {
  /** Access token lifetime in seconds. Default 300. */
  accessTokenTtl?: number;
  /** The API's resource indicator. Default `https://api.example.test/`. */
  resource?: string;
  /** Scopes the API knows. Default `payments:read payments:write`. */
  scopes?: string[];
  /**
   * Mutual TLS (RFC 8705): the provider is served over HTTPS with `certificates.server` (trust `certificates.ca`),
   * `mtls_endpoint_aliases.token_endpoint` is a second HTTPS listener that asks for client certificates, and
   * `features.mTLS` adds tls_client_auth, self_signed_tls_client_auth and certificate-bound tokens (see `mtls`).
   */
  mtls?: TestCertificates;
  /**
   * Register token exchange (RFC 8693), JWT-bearer (RFC 7523 §2.1) and an extension grant with oidc-provider's
   * `registerGrantType`, and allow them to every client. Default false.
   */
  grants?: boolean;
  /**
   * DPoP (RFC 9449) at the token endpoint, with server nonces (`nonceSecret`); `requireNonce`: every token request
   * must carry one (answered `400 use_dpop_nonce` with a `DPoP-Nonce` first). Default: oidc-provider's own default
   * (DPoP accepted, no nonces).
   */
  dpop?: { requireNonce?: boolean } | undefined;
  /**
   * Called on every request to either listener, after it is counted and before it is answered: for a process that
   * mirrors `tokenRequests` elsewhere (see `startMtlsStack`'s Node child).
   */
  onRequest?: (() => void) | undefined;
}

/**
 * A real OpenID provider (`oidc-provider`) on 127.0.0.1 with three
 * client_credentials clients — client_secret_basic (with an id and secret
 * that need RFC 6749 Appendix B encoding), client_secret_post and
 * private_key_jwt — issuing JWT access tokens for one resource indicator.
 */
export async function startOidcProvider(options: OidcServerOptions = {}): Promise<OidcServer> {
  const ttl = options.accessTokenTtl ?? 300;
  const resource = options.resource ?? 'https://api.example.test/';
  const scopes = options.scopes ?? ['payments:read', 'payments:write'];
  const scope = scopes.join(' ');

  const clientKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const privateJwk = { ...(clientKeys.privateKey.export({ format: 'jwk' }) as JWK), kid: 'client-key-1', alg: 'ES256' };
  const publicJwk = {
    ...(clientKeys.publicKey.export({ format: 'jwk' }) as JWK),
    kid: 'client-key-1',
    alg: 'ES256',
    use: 'sig',
  };
  const signing = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const signingJwk = {
    ...(signing.privateKey.export({ format: 'jwk' }) as JWK),
    kid: 'issuer-key-1',
    alg: 'RS256',
    use: 'sig',
  };

  const clients: OidcClients = {
    basic: { clientId: 'basic client', clientSecret: 'p@ss:w/rd+% x' },
    post: { clientId: 'post-client', clientSecret: 'post-secret-0123456789' },
    privateKeyJwt: { clientId: 'jwt-client', privateJwk, privateKey: clientKeys.privateKey },
  };

  const route: { handler?: (req: IncomingMessage, res: ServerResponse) => void } = {};
  let tokenRequests = 0;
  const sockets = new Set<Socket>();
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/token')) tokenRequests++;
    options.onRequest?.();
    route.handler!(req, res);
  };
  const certs = options.mtls;
  const server = certs
    ? createHttpsServer({ cert: certs.server.cert, key: certs.server.key }, handler)
    : createServer(handler);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `${certs ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const mtls = certs && (await startOidcMtls(certs, () => route.handler!, publicJwk, options.onRequest));
  const grantTypes = options.grants ? ['client_credentials', ...TEST_GRANT_TYPES] : ['client_credentials'];
  const common = { grant_types: grantTypes, redirect_uris: [], response_types: [], scope };
  const provider = new Provider(issuer, {
    clients: [
      {
        ...common,
        client_id: clients.basic.clientId,
        client_secret: clients.basic.clientSecret,
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        ...common,
        client_id: clients.post.clientId,
        client_secret: clients.post.clientSecret,
        token_endpoint_auth_method: 'client_secret_post',
      },
      {
        ...common,
        client_id: clients.privateKeyJwt.clientId,
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [publicJwk] },
      },
      ...(mtls?.clients ?? []).map((client) => ({ ...common, ...client })),
    ] as never,
    jwks: { keys: [signingJwk] } as never,
    scopes,
    ...mtls?.configuration,
    features: {
      ...(mtls ? { mTLS: mtls.feature } : {}),
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      ...(options.dpop === undefined
        ? {}
        : {
            dPoP: {
              enabled: true,
              nonceSecret: randomBytes(32),
              requireNonce: () => options.dpop?.requireNonce === true,
            },
          }),
      resourceIndicators: {
        enabled: true,
        defaultResource: () => resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== resource) throw new errors.InvalidTarget();
          return {
            scope,
            audience: resource,
            accessTokenTTL: ttl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    ttl: { ClientCredentials: ttl },
  });
  // oidc-provider logs a warning per request about http on non-production; tests run on loopback.
  provider.proxy = false;
  route.handler = provider.callback();
  const grants = options.grants
    ? registerTestGrants(provider, {
        issuer,
        tokenEndpoint: `${issuer}/token`,
        resource,
        ttl,
        signingKey: signing.privateKey,
        issuerPublicKey: signing.publicKey,
        clientKeys: { [clients.privateKeyJwt.clientId]: clientKeys.publicKey },
      })
    : undefined;

  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    jwksUri: `${issuer}/jwks`,
    resource,
    scopes,
    clients,
    get tokenRequests() {
      return tokenRequests;
    },
    mtls: mtls?.mtls,
    grants,
    close: async () => {
      await mtls?.close();
      await new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      });
    },
  };
}
