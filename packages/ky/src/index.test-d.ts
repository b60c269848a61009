// Type tests, checked by `tsc -p tsconfig.json` (the typecheck script): every
// `@ts-expect-error` line must fail to compile, every other line must compile.
import ky, { type Hooks, type KyInstance } from 'ky';
import { expectTypeOf } from 'vitest';
import { createTokenProvider, tokenHooks, withTokens, type TokenHooks, type TokenProvider } from './index.ts';

const tokens: TokenProvider = createTokenProvider({
  tokenEndpoint: 'https://auth.example.com/token',
  clientId: 'id',
  clientSecret: 's',
});
const origins = ['https://api.example.com'];

// The intended uses compile.
expectTypeOf(withTokens(ky.create({ baseUrl: 'https://api.example.com/' }), tokens)).toEqualTypeOf<KyInstance>();
withTokens(ky.create({ prefix: 'https://api.example.com' }), tokens, {
  origins: ['https://files.example.com', new URL('https://cdn.example.com')],
  maxReplayBytes: 65_536,
});
ky.create({ baseUrl: 'https://api.example.com/', hooks: tokenHooks(tokens, { origins }) });
ky.create({ baseUrl: 'https://api.example.com/', hooks: tokenHooks(tokens, { origins, retryOn401: false }) }).extend({
  hooks: { beforeError: [({ error }) => error] },
});
expectTypeOf(tokenHooks(tokens, { origins })).toEqualTypeOf<TokenHooks>();
expectTypeOf(tokenHooks(tokens, { origins })).toExtend<Hooks>();

// Misuse does not.
// @ts-expect-error the provider is required
tokenHooks();
// @ts-expect-error ky's hooks cannot see the instance's base: tokenHooks needs the origins (or use withTokens)
tokenHooks(tokens);
// @ts-expect-error the same
tokenHooks(tokens, { retryOn401: false });
// @ts-expect-error a token string is not a provider
withTokens(ky, 'eyJhbGciOi...');
// @ts-expect-error a plain getter is not a provider (invalidate() is needed for the 401 retry)
withTokens(ky, { getToken: async () => ({ accessToken: 'x' }) });
// @ts-expect-error origins is a list
tokenHooks(tokens, { origins: 'https://files.example.com' });
// @ts-expect-error retryOn401 is a boolean
withTokens(ky, tokens, { retryOn401: 'yes' });
// @ts-expect-error maxReplayBytes is a number
withTokens(ky, tokens, { maxReplayBytes: '1 MiB' });
// @ts-expect-error the base comes from the ky instance, not from the options
withTokens(ky, tokens, { baseUrl: 'https://api.example.com' });
// @ts-expect-error withTokens takes a ky instance first
withTokens(tokens, ky);
// @ts-expect-error the hooks go into `hooks`, not at the top level of ky's options
ky.create({ baseUrl: 'https://api.example.com/', init: tokenHooks(tokens, { origins }).init });
