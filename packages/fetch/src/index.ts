/**
 * `@tokenkit/fetch`: `@tokenkit/core` access tokens on requests made with `fetch` ({@link withTokens}) or through
 * undici's dispatchers ({@link tokenInterceptor}), to the origins you name and nowhere else.
 * @packageDocumentation
 */
export * from '@tokenkit/core';
export { tokenInterceptor, type TokenInterceptorOptions } from './interceptor.ts';
export { withTokens, type FetchFunction, type WithTokensOptions } from './with-tokens.ts';
