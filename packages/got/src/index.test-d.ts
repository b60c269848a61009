// Type tests: checked by `tsc -p tsconfig.json` (pnpm typecheck); every @ts-expect-error must be an error.
import got, { type Hooks } from 'got';
import { expectTypeOf } from 'vitest';
import {
  createTokenProvider,
  tokenHooks,
  type RequestAuthOptions,
  type TokenHooks,
  type TokenHooksOptions,
  type TokenProvider,
} from './index.ts';

declare const tokens: TokenProvider;

expectTypeOf(tokenHooks(tokens)).toEqualTypeOf<TokenHooks>();
expectTypeOf(tokenHooks(tokens)).toExtend<Partial<Hooks>>();
expectTypeOf(
  tokenHooks(tokens, { origins: ['https://files.example.com', new URL('https://cdn.example.com')], retryOn401: false }),
).toHaveProperty('beforeRequest');
expectTypeOf<TokenHooksOptions>().toEqualTypeOf<RequestAuthOptions>();
expectTypeOf(createTokenProvider).returns.toEqualTypeOf<TokenProvider>();
got.extend({ prefixUrl: 'https://api.example.com', hooks: tokenHooks(tokens) });
got.extend(
  { prefixUrl: 'https://api.example.com', hooks: tokenHooks(tokens) },
  { hooks: { beforeRequest: [() => {}] } },
);

// @ts-expect-error the provider is required
tokenHooks();
// @ts-expect-error a token string is not a TokenProvider
tokenHooks('Bearer abc');
// @ts-expect-error misspelt option
tokenHooks(tokens, { origin: 'https://files.example.com' });
// @ts-expect-error origins is a list
tokenHooks(tokens, { origins: 'https://files.example.com' });
// @ts-expect-error retryOn401 is a boolean
tokenHooks(tokens, { retryOn401: 'once' });
// @ts-expect-error `hooks` takes the whole object, not one list
got.extend({ prefixUrl: 'https://api.example.com', hooks: tokenHooks(tokens).beforeRequest });
