// Type tests, checked by `tsc -p tsconfig.json` (the typecheck script): every
// `@ts-expect-error` line must fail to compile, every other line must compile.
import ky, { type Hooks } from 'ky';
import { expectTypeOf } from 'vitest';
import { createTokenProvider, tokenHooks, type TokenHooks, type TokenProvider } from './index.ts';

const tokens: TokenProvider = createTokenProvider({ tokenEndpoint: 'https://auth.example.com/token', clientId: 'id', clientSecret: 's' });

// The intended uses compile.
ky.create({ baseUrl: 'https://api.example.com/', hooks: tokenHooks(tokens) });
ky.create({ prefix: 'https://api.example.com', hooks: tokenHooks(tokens, { origins: ['https://files.example.com', new URL('https://cdn.example.com')] }) });
ky.create({ baseUrl: 'https://api.example.com/', hooks: tokenHooks(tokens, { retryOn401: false }) }).extend({ hooks: { beforeError: [({ error }) => error] } });
expectTypeOf(tokenHooks(tokens)).toEqualTypeOf<TokenHooks>();
expectTypeOf(tokenHooks(tokens)).toExtend<Hooks>();

// Misuse does not.
// @ts-expect-error the provider is required
tokenHooks();
// @ts-expect-error a token string is not a provider
tokenHooks('eyJhbGciOi...');
// @ts-expect-error a plain getter is not a provider (invalidate() is needed for the 401 retry)
tokenHooks({ getToken: async () => ({ accessToken: 'x' }) });
// @ts-expect-error origins is a list
tokenHooks(tokens, { origins: 'https://files.example.com' });
// @ts-expect-error retryOn401 is a boolean
tokenHooks(tokens, { retryOn401: 'yes' });
// @ts-expect-error the base comes from ky's own baseUrl/prefix, not from tokenHooks
tokenHooks(tokens, { baseUrl: 'https://api.example.com' });
// @ts-expect-error the hooks go into `hooks`, not at the top level of ky's options
ky.create({ baseUrl: 'https://api.example.com/', init: tokenHooks(tokens).init });
