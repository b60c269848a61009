import { inspect } from 'node:util';
import type { BeforeErrorHook, InitHook, Options } from 'ky';
import { requestAuthorizerPerBase, type RequestAuthOptions, type RequestAuthorizer, type TokenProvider } from '@tokenkit/core';

export {
  ConfigurationError, OAuthError, TokenEndpointError, TokenKitError, createTokenProvider, findTokenKitError,
  isOAuthError, isTokenEndpointError, isTokenKitError, memoryStore,
} from '@tokenkit/core';
export type {
  AccessToken, CertificateInput, ClientAuthMethod, GetTokenOptions, Grant, PrivateKeyInput, RequestAuthOptions, StoredToken,
  TokenEndpointErrorCode, TokenEvent, TokenKitErrorCode, TokenProvider, TokenProviderOptions, TokenStore,
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
 * // Add hooks of your own with extend(): ky appends them to ours.
 * const api = ky.create({ baseUrl: 'https://api.example.com/', hooks }).extend({ hooks: { beforeError: [logError] } });
 * ```
 */
export interface TokenHooks {
  /**
   * Wraps ky's `fetch` for each call: puts `Authorization: Bearer <token>` on requests to the
   * allowed origins as ky sends them, and re-sends a request once with a fresh token after a 401.
   */
  init: InitHook[];
  /** Removes our token from the `request` of a ky error, so logging the error does not show it. */
  beforeError: BeforeErrorHook[];
}

type Fetch = NonNullable<Options['fetch']>;

/** One ky call (all its attempts): the last token we sent and the one a 401 retry replaced. */
class Call {
  sent: string | undefined = undefined;
  spent: string | undefined = undefined;
  // ky's errors keep the options, so the context and this: util.inspect must not show the tokens.
  [inspect.custom](): string {
    return 'TokenHooksCall {}';
  }
}

const globalFetch: Fetch = (input, init) => globalThis.fetch(input, init);

/**
 * ky hooks that put tokens from `tokens` on requests to the instance's origin (`baseUrl`, else
 * `prefix`) and to `options.origins` only, never over a caller's `Authorization`, and re-send a
 * request once with a fresh token after a 401. The token goes on in ky's `fetch`, so ky's own
 * `timeout`, `totalTimeout` and the caller's `signal` bound the wait for it; failing to get one
 * rejects with core's typed error.
 *
 * @example
 * ```ts
 * const tokens = createTokenProvider({ tokenEndpoint: 'https://auth.example.com/oauth2/token', clientId, clientSecret });
 * const api = ky.create({ baseUrl: 'https://api.example.com/', hooks: tokenHooks(tokens) });
 * const payments = await api.get('payments').json();
 * ```
 */
export function tokenHooks(tokens: TokenProvider, options: TokenHooksOptions = {}): TokenHooks {
  // Core keeps one authorizer per base; with explicit origins everything is checked now, otherwise
  // at the first request, when the base is known.
  const authorizerPerBase = requestAuthorizerPerBase(tokens, options);
  const retryOn401 = options.retryOn401 !== false;
  // Per-call state goes on ky's per-call context object (ky copies the caller's context for each
  // call when there are init hooks) under a symbol of these hooks, for beforeError.
  const key = Symbol('tokenkit.call');

  // The init hooks' options become the call's options once they have all run: read the base then.
  const authorizerFor = (o: Options): RequestAuthorizer => authorizerPerBase(o.baseUrl ? String(o.baseUrl) : String(o.prefix || ''));

  /** Sends `request` with our `value` on it; after a 401 to it, once per call, with a fresh token. */
  async function sendWithToken(call: Call, authorizer: RequestAuthorizer, send: Fetch, request: Request, init: RequestInit | undefined, value: string, replayable: boolean): Promise<Response> {
    request.headers.set('authorization', value);
    call.sent = value;
    if (!retryOn401 || call.spent !== undefined) return send(request, init);
    const copy = replayable && request.body !== null ? request.clone() : request;
    const response = await send(request, init);
    // Not ours when the caller's own fetch replaced it; and fetch drops it on a redirect to another origin.
    if (response.status !== 401 || request.headers.get('authorization') !== value) return response;
    const crossed = response.redirected && new URL(response.url).origin !== new URL(request.url).origin;
    if (!(await authorizer.shouldRetry(401, crossed ? undefined : value, { retried: false, replayable }))) return response;
    call.spent = value; // from here on, never again for this call
    void response.body?.cancel().catch(() => {}); // frees the connection, also if no fresh token comes
    const fresh = await authorizer.authorize(request.url, { signal: request.signal });
    if (fresh === undefined) return response; // cannot happen: the URL got a token before
    call.sent = fresh;
    const headers = new Headers(copy.headers);
    headers.set('authorization', fresh);
    return send(new Request(copy, { headers }), init);
  }

  return {
    init: [
      (o) => {
        // The token goes on in ky's fetch, not in a beforeRequest hook: inside fetch ky's `timeout`
        // and `totalTimeout` bound the wait for a token (hook time escapes the per-attempt
        // `timeout`), each of ky's own retries starts from its clean copy of the request, and ky
        // skips a beforeRequest hook's per-call work. The 401 retry lives here too, not in an
        // afterResponse hook: ky clones every response for each afterResponse hook (a no-op one
        // added 30+ µs, ~11%, to a loopback request), and ky.retry() from there cannot retry at
        // all under `retry.limit: 0`.
        const call = new Call();
        ((o.context ??= {}) as Record<symbol, Call>)[key] = call;
        const send = o.fetch ?? globalFetch;
        // The 401 retry sends the body again; a stream can be read once only.
        const replayable = !(o.body instanceof ReadableStream);
        o.fetch = async function fetchWithToken(input, init) {
          const request = input as Request; // ky always passes a Request
          // The caller's own header (options, a Request input, a hook of theirs) stays untouched.
          if (request.headers.has('authorization')) return send(request, init);
          const authorizer = authorizerFor(o);
          const url = request.url;
          const cached = authorizer.authorizeSync(url); // null: not for this origin; undefined: must wait
          if (cached === null) return send(request, init);
          const value = cached ?? (await authorizer.authorize(url, { signal: request.signal }));
          return value === undefined ? send(request, init) : sendWithToken(call, authorizer, send, request, init, value, replayable);
        };
      },
    ],
    beforeError: [
      ({ error, options: o }) => {
        // HTTPError, TimeoutError and NetworkError keep the request, and util.inspect shows its headers.
        const request = (error as { request?: unknown }).request;
        const call = (o.context as Record<symbol, Call | undefined>)[key];
        const header = request instanceof Request ? request.headers.get('authorization') : null;
        if (header !== null && call?.sent !== undefined && (header === call.sent || header === call.spent)) {
          (request as Request).headers.delete('authorization');
        }
        return error;
      },
    ],
  };
}
