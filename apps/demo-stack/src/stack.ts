import { startOidcProvider, type OidcServer } from '@tokenkit/test-utils';
import { startPaymentsApi, type PaymentsApi } from './payments-api.ts';
import { startSecondOrigin, type SecondOrigin } from './second-origin.ts';

export { startPaymentsApi } from './payments-api.ts';
export type { PaymentsApi, PaymentsApiOptions, PaymentsApiStats } from './payments-api.ts';
export { startSecondOrigin } from './second-origin.ts';
export type { ReceivedRequest, SecondOrigin } from './second-origin.ts';

export interface DemoStackOptions {
  /** Access token lifetime in seconds: short, so tokens expire and renew while a sample runs. Default 5. */
  tokenTtlSeconds?: number;
  /** The API's resource indicator (the tokens' audience). Default `https://payments.tokenkit.test/`. */
  resource?: string;
  /** The API's clock (epoch ms); for tests. Default `Date.now`. */
  apiNow?: () => number;
}

export interface DemoStack {
  /** The OpenID provider (oidc-provider): issuer, token endpoint, JWKS and its three clients. */
  readonly provider: OidcServer;
  /** The protected payments API. */
  readonly api: PaymentsApi;
  /** Another origin (a receipts file host) the API's receipt endpoint redirects to; it records what it receives. */
  readonly secondOrigin: SecondOrigin;
  readonly tokenTtlSeconds: number;
  /**
   * Environment variables that configure a sample against this stack, for each
   * client authentication method the provider's clients use.
   */
  env(client: 'basic' | 'post' | 'privateKeyJwt', via?: 'issuer' | 'tokenUrl'): Record<string, string>;
  close(): Promise<void>;
}

/**
 * Starts the local demo stack on 127.0.0.1 with OS-picked ports: a real OpenID
 * provider issuing short-lived JWT access tokens (client_credentials) and a
 * payments API that verifies them against the provider's JWKS.
 *
 * @example
 * ```ts
 * const stack = await startDemoStack({ tokenTtlSeconds: 5 });
 * const env = stack.env('basic'); // TOKEN_ISSUER, CLIENT_ID, CLIENT_SECRET, SCOPE, RESOURCE, API_URL
 * await stack.close();
 * ```
 */
export async function startDemoStack(options: DemoStackOptions = {}): Promise<DemoStack> {
  const tokenTtlSeconds = options.tokenTtlSeconds ?? 5;
  if (!Number.isInteger(tokenTtlSeconds) || tokenTtlSeconds < 2)
    throw new RangeError('tokenTtlSeconds must be an integer >= 2');
  const resource = options.resource ?? 'https://payments.tokenkit.test/';
  const provider = await quietly(() =>
    startOidcProvider({
      accessTokenTtl: tokenTtlSeconds,
      resource,
      scopes: ['payments:read', 'payments:write'],
      // DPoP (RFC 9449) for the dpop lane: a token request with a proof must carry the provider's nonce (asked for
      // with 400 use_dpop_nonce first). Requests without a proof, the other samples', get Bearer tokens as before.
      dpop: { requireNonce: true },
    }),
  );
  let api: PaymentsApi;
  let secondOrigin: SecondOrigin;
  try {
    secondOrigin = await startSecondOrigin();
  } catch (error) {
    await provider.close();
    throw error;
  }
  try {
    api = await startPaymentsApi({
      issuer: provider.issuer,
      jwksUri: provider.jwksUri,
      audience: resource,
      receiptsOrigin: secondOrigin.origin,
      ...(options.apiNow ? { now: options.apiNow } : {}),
    });
  } catch (error) {
    await Promise.all([provider.close(), secondOrigin.close()]);
    throw error;
  }

  return {
    provider,
    api,
    secondOrigin,
    tokenTtlSeconds,
    env(client, via = 'tokenUrl') {
      const endpoint = via === 'issuer' ? { TOKEN_ISSUER: provider.issuer } : { TOKEN_URL: provider.tokenEndpoint };
      const common = { ...endpoint, SCOPE: provider.scopes.join(' '), RESOURCE: resource, API_URL: api.origin };
      switch (client) {
        case 'basic':
          return {
            ...common,
            CLIENT_ID: provider.clients.basic.clientId,
            CLIENT_SECRET: provider.clients.basic.clientSecret,
          };
        case 'post':
          return {
            ...common,
            CLIENT_ID: provider.clients.post.clientId,
            CLIENT_SECRET: provider.clients.post.clientSecret,
            CLIENT_AUTH_METHOD: 'client_secret_post',
          };
        case 'privateKeyJwt':
          return {
            ...common,
            CLIENT_ID: provider.clients.privateKeyJwt.clientId,
            PRIVATE_KEY: JSON.stringify(provider.clients.privateKeyJwt.privateJwk),
          };
      }
    },
    async close() {
      await Promise.all([api.close(), provider.close(), secondOrigin.close()]);
    },
  };
}

/**
 * oidc-provider warns on stderr that its in-memory storage is for development
 * only, which is what this stack is; other warnings still get through.
 */
export async function quietly<T>(start: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).includes('development-only in-memory adapter')) warn(...args);
  };
  try {
    return await start();
  } finally {
    console.warn = warn;
  }
}
