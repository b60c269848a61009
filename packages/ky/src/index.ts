import ky, { type AfterResponseHook, type BeforeRequestHook, type InitHook, type NormalizedOptions } from 'ky';
import { createRequestAuthorizer, type RequestAuthOptions, type RequestAuthorizer, type TokenProvider } from '@tokenkit/core';

export {
  ConfigurationError,
  OAuthError,
  TokenEndpointError,
  TokenKitError,
  createTokenProvider,
  findTokenKitError,
  isOAuthError,
  isTokenEndpointError,
  isTokenKitError,
} from '@tokenkit/core';
export type {
  AccessToken,
  GetTokenOptions,
  Grant,
  RequestAuthOptions,
  StoredToken,
  TokenEndpointErrorCode,
  TokenEvent,
  TokenKitErrorCode,
  TokenProvider,
  TokenProviderOptions,
  TokenStore,
} from '@tokenkit/core';

/**
 * Options of {@link tokenHooks}: `origins` that receive the token besides the
 * instance's `baseUrl`/`prefix`, and `retryOn401` (default true).
 *
 * @example
 * ```ts
 * const options: TokenHooksOptions = { origins: ['https://files.example.com'], retryOn401: true };
 * ```
 */
export type TokenHooksOptions = RequestAuthOptions;

/**
 * The hooks {@link tokenHooks} returns, ready for ky's `hooks` option.
 *
 * @example
 * ```ts
 * const hooks: TokenHooks = tokenHooks(tokens);
 * const api = ky.create({ baseUrl: 'https://api.example.com/', hooks: { ...hooks, beforeError: [logError] } });
 * ```
 */
export interface TokenHooks {
  /** Notes ky's per-attempt `timeout`, which hooks cannot see, to bound the wait for a token. */
  init: InitHook[];
  /** Adds `Authorization: Bearer <token>` to requests for the allowed origins. */
  beforeRequest: BeforeRequestHook[];
  /** On a 401 to a request that carried our token: drops that token and retries once with a fresh one. */
  afterResponse: AfterResponseHook[];
}

/** What the hooks remember about one ky call (all its attempts), keyed by ky's per-call `context` object. */
interface Call {
  /** ky's `timeout` for this call; undefined when disabled or unknown. */
  timeoutMs: number | undefined;
  /** The Authorization value this adapter put on the request; undefined when it added none. */
  sent: string | undefined;
  /** True once this call was retried for a 401. */
  retried: boolean;
}

/** ky's default per-attempt timeout, used when the options leave it out. */
const KY_DEFAULT_TIMEOUT_MS = 10_000;
/** The `code` of the forced retry, as `beforeRetry` hooks see it on ky's `ForceRetryError`. */
const RETRY_CODE = 'TOKENKIT_TOKEN_REFRESHED';

/**
 * ky hooks that put tokens from `tokens` on requests to the instance's own
 * origin (its `baseUrl`, else its `prefix`) and to `options.origins`, and
 * nowhere else. A request whose caller set `Authorization` is left alone. A
 * 401 to a request that carried our token invalidates that token and retries
 * the request once with a fresh one (within ky's `retry.limit`; a
 * `ReadableStream` body is not retried). The wait for a token ends with the
 * caller's `signal`, ky's `totalTimeout` and ky's per-attempt `timeout`.
 * A failure to get a token rejects the call with core's typed error.
 *
 * @example
 * ```ts
 * import ky from 'ky';
 * import { createTokenProvider, tokenHooks } from '@tokenkit/ky';
 *
 * const tokens = createTokenProvider({ tokenEndpoint: 'https://auth.example.com/oauth2/token', clientId, clientSecret });
 * const api = ky.create({ baseUrl: 'https://api.example.com/', hooks: tokenHooks(tokens) });
 * const payments = await api.get('payments').json();
 * ```
 */
export function tokenHooks(tokens: TokenProvider, options: TokenHooksOptions = {}): TokenHooks {
  const authorizers = new Map<string, RequestAuthorizer>();
  // With explicit origins everything is checked now; otherwise at the first request, when the base is known.
  if (Array.isArray(options.origins) && options.origins.length > 0) authorizers.set('', createRequestAuthorizer(tokens, options));
  const calls = new WeakMap<object, Call>();

  const authorizerFor = (o: NormalizedOptions): RequestAuthorizer => {
    const base = o.baseUrl ? String(o.baseUrl) : o.prefix;
    let authorizer = authorizers.get(base);
    if (authorizer === undefined) {
      authorizer = createRequestAuthorizer(tokens, { ...options, baseUrl: base });
      authorizers.set(base, authorizer);
    }
    return authorizer;
  };

  const callOf = (o: NormalizedOptions): Call => {
    let call = calls.get(o.context);
    if (call === undefined) {
      call = { timeoutMs: undefined, sent: undefined, retried: false };
      calls.set(o.context, call);
    }
    return call;
  };

  return {
    init: [
      (o) => {
        // Hooks get neither `timeout` nor a per-call key, so the per-call `context` object carries both.
        const timeout = o.timeout ?? KY_DEFAULT_TIMEOUT_MS;
        o.context ??= {};
        calls.set(o.context, { timeoutMs: timeout === false ? undefined : timeout, sent: undefined, retried: false });
      },
    ],
    beforeRequest: [
      async ({ request, options: o }) => {
        if (request.headers.has('authorization')) return;
        const call = callOf(o);
        const value = await authorizerFor(o).authorize(request.url, { signal: request.signal, timeoutMs: call.timeoutMs });
        if (value === undefined) return;
        request.headers.set('authorization', value);
        call.sent = value;
      },
    ],
    afterResponse: [
      async ({ request, options: o, response, retryCount }) => {
        if (response.status !== 401) return;
        const call = calls.get(o.context);
        const sent = call?.sent;
        if (call === undefined || sent === undefined || request.headers.get('authorization') !== sent) return;
        const authorizer = authorizerFor(o);
        const replayable = !(o.body instanceof ReadableStream);
        if (!(await authorizer.shouldRetry(401, sent, { retried: call.retried, replayable }))) return;
        call.retried = true;
        // The token is dropped either way; ky refuses a retry beyond `retry.limit` (it would throw ForceRetryError).
        if (retryCount >= o.retry.limit) return;
        const fresh = await authorizer.authorize(request.url, { signal: request.signal, timeoutMs: call.timeoutMs });
        if (fresh === undefined) return;
        call.sent = fresh;
        const headers = new Headers(request.headers);
        headers.set('authorization', fresh);
        return ky.retry({ request: new Request(request, { headers }), delay: 0, code: RETRY_CODE });
      },
    ],
  };
}
