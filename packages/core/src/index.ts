export { createTokenProvider } from './token-provider.ts';
export type { AccessToken, GetTokenOptions, RequestHeaders, TokenProvider } from './token-provider.ts';
export type { DPoPAlgorithm, DPoPBinding, DPoPKeyInput, DPoPOptions } from './dpop.ts';
export type { Grant, TokenEvent, TokenProviderOptions } from './options.ts';
export { memoryStore } from './memory-store.ts';
export type { StoredToken, TokenStore } from './memory-store.ts';
export { basicAuthorization } from './client-auth.ts';
export type { CertificateInput, ClientAuthMethod, PrivateKeyInput } from './client-auth.ts';
export { assertTokenProvider, createRequestAuthorizer, requestAuthorizerPerBase } from './request-auth.ts';
export type { RequestAuthOptions, RequestAuthorizer } from './request-auth.ts';
export { parseTokenResponse } from './token-response.ts';
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
