export { createTokenProvider } from './token-provider.ts';
export type { AccessToken, GetTokenOptions, RequestHeaders, TokenProvider } from './token-provider.ts';
export type { DPoPAlgorithm, DPoPBinding, DPoPKeyInput, DPoPOptions } from './dpop.ts';
export type { Grant, TokenEvent, TokenProviderOptions } from './options.ts';
export type { ExtensionGrant, JwtBearerGrant, JwtBearerSigning, TokenExchangeGrant, TokenSource } from './grants.ts';
export { memoryStore } from './memory-store.ts';
export type { StoredToken, TokenStore } from './memory-store.ts';
export type { CertificateInput, ClientAuthMethod, PrivateKeyInput } from './client-auth.ts';
export type { RequestAuthOptions } from './adapter.ts';
export type { MutualTlsOptions } from './mtls.ts';
export type { FetchLike } from './transport.ts';
export {
  ConfigurationError,
  OAuthError,
  TokenEndpointError,
  TokenKitError,
  findTokenKitError,
  isOAuthError,
  isTokenEndpointError,
  isTokenKitError,
} from './errors.ts';
export type { TokenEndpointErrorCode, TokenKitErrorCode } from './errors.ts';
