// Type tests: checked by `tsc -p tsconfig.json` (pnpm typecheck); every @ts-expect-error must be an error.
import axios from 'axios';
import { expectTypeOf } from 'vitest';
import {
  createTokenProvider,
  installTokenInterceptor,
  type RequestAuthOptions,
  type TokenInterceptorOptions,
  type TokenProvider,
} from './index.ts';

declare const tokens: TokenProvider;
const api = axios.create({ baseURL: 'https://api.example.com' });

expectTypeOf(installTokenInterceptor(api, tokens)).toEqualTypeOf<() => void>();
expectTypeOf(
  installTokenInterceptor(api, tokens, {
    origins: ['https://files.example.com', new URL('https://cdn.example.com')],
    retryOn401: false,
  }),
).toBeFunction();
expectTypeOf(installTokenInterceptor(axios, tokens, { origins: ['https://api.example.com'] })).returns.toBeVoid();
expectTypeOf<TokenInterceptorOptions>().toEqualTypeOf<RequestAuthOptions>();
expectTypeOf(createTokenProvider).returns.toEqualTypeOf<TokenProvider>();

// @ts-expect-error the provider is required
installTokenInterceptor(api);
// @ts-expect-error a token string is not a TokenProvider
installTokenInterceptor(api, 'Bearer abc');
// @ts-expect-error fetch is not an axios instance
installTokenInterceptor(fetch, tokens);
// @ts-expect-error misspelt option
installTokenInterceptor(api, tokens, { origin: 'https://files.example.com' });
// @ts-expect-error origins is a list
installTokenInterceptor(api, tokens, { origins: 'https://files.example.com' });
// @ts-expect-error retryOn401 is a boolean
installTokenInterceptor(api, tokens, { retryOn401: 'once' });
