// Type tests, checked by `tsc -p tsconfig.json` (the typecheck script): every
// `@ts-expect-error` line must fail to compile, every other line must compile.
import { Agent, interceptors, type Dispatcher } from 'undici';
import { expectTypeOf } from 'vitest';
import { createTokenProvider, tokenInterceptor, withTokens, type TokenProvider } from './index.ts';

const tokens: TokenProvider = createTokenProvider({
  tokenEndpoint: 'https://auth.example.com/token',
  clientId: 'id',
  clientSecret: 's',
});
const origins = ['https://api.example.com', new URL('https://files.example.com')];

// withTokens gives exactly the type of the fetch it wraps: the global one by default...
expectTypeOf(withTokens(tokens, { origins })).toEqualTypeOf<typeof fetch>();
expectTypeOf(withTokens(tokens, { origins, fetch, retryOn401: false })).toEqualTypeOf<typeof fetch>();
// ...or another, such as node-fetch's.
type OtherFetch = (
  url: string,
  init?: { method?: string; headers?: Record<string, string> },
) => Promise<{ status: number }>;
declare const otherFetch: OtherFetch;
expectTypeOf(withTokens(tokens, { origins, fetch: otherFetch })).toEqualTypeOf<OtherFetch>();
// So it goes where a fetch goes: an SDK's `fetch` option.
declare function createSdkClient(options: { fetch?: typeof fetch }): void;
createSdkClient({ fetch: withTokens(tokens, { origins }) });

// tokenInterceptor composes with undici's own interceptors, on either side.
expectTypeOf(tokenInterceptor(tokens, { origins })).toEqualTypeOf<Dispatcher.DispatcherComposeInterceptor>();
new Agent().compose(tokenInterceptor(tokens, { origins }), interceptors.redirect({ maxRedirections: 3 }));
new Agent().compose(
  interceptors.redirect({ maxRedirections: 3 }),
  tokenInterceptor(tokens, { origins, retryOn401: false }),
);

// Misuse does not compile.
// @ts-expect-error fetch has no base URL: `origins` says where the token may go
withTokens(tokens, {});
// @ts-expect-error the options are required
withTokens(tokens);
// @ts-expect-error a plain getter is not a provider (invalidate() is needed for the 401 retry)
withTokens({ getToken: async () => ({ accessToken: 'x' }) }, { origins });
// @ts-expect-error `fetch` is a function
withTokens(tokens, { origins, fetch: 'https://api.example.com' });
// @ts-expect-error origins is a list
tokenInterceptor(tokens, { origins: 'https://api.example.com' });
new Agent().compose(
  // @ts-expect-error the interceptor is passed to compose(), not called with a dispatcher's options
  tokenInterceptor(tokens, { origins })({ origin: 'https://api.example.com', path: '/', method: 'GET' }, {}),
);
