import type { AfterResponseHook, BeforeErrorHook, BeforeRequestHook, Hooks, NormalizedOptions } from 'got';
import { createRequestAuthorizer, type GetTokenOptions, type RequestAuthOptions, type RequestAuthorizer, type TokenProvider } from '@tokenkit/core';

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
  memoryStore,
} from '@tokenkit/core';
export type {
  AccessToken,
  ClientAuthMethod,
  GetTokenOptions,
  Grant,
  PrivateKeyInput,
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
 * instance's `prefixUrl`, and `retryOn401` (default true).
 *
 * @example
 * ```ts
 * const options: TokenHooksOptions = { origins: ['https://files.example.com'], retryOn401: true };
 * ```
 */
export type TokenHooksOptions = RequestAuthOptions;

/** The hooks {@link tokenHooks} returns: pass them as `hooks` to `got.extend()`. */
export type TokenHooks = Pick<Hooks, 'beforeRequest' | 'afterResponse' | 'beforeError'>;

/**
 * Our mark in `options.context`, which got copies to every redirect hop and retry:
 * 'sent' (the Authorization header is ours) or 'retried' (ours, and re-sent after a 401).
 * A string key: got merges context with Object.entries, which drops symbols.
 */
const MARK = 'tokenkit';
/** Authorizers kept per prefixUrl; more distinct prefixes than this are built per request. */
const MAX_PREFIXES = 32;

/**
 * got hooks that put `Authorization: Bearer <token>` from `tokens` on every
 * request to the instance's `prefixUrl` origin (or to `origins`), and nowhere
 * else: not to absolute URLs of other origins, and not on a redirect hop to an
 * origin that is not allowed (got runs `beforeRequest` on every hop; each hop
 * is checked). A 401 answer to a request that carried the token drops that
 * token and re-sends the request once with a fresh one (not when the body is a
 * stream). An `authorization` header set by the caller (also `undefined`:
 * "send none") is left alone.
 *
 * The wait for a token ends with the request's `signal` or its
 * `timeout.request`. Token failures reject the request with a got
 * `RequestError` whose `cause` is core's typed error (`findTokenKitError(err)`).
 * Without a `prefixUrl` and without `origins`, requests fail with a `ConfigurationError`.
 *
 * @example
 * ```ts
 * import got from 'got';
 * import { createTokenProvider, tokenHooks } from '@tokenkit/got';
 *
 * const tokens = createTokenProvider({ tokenEndpoint: 'https://auth.example.com/oauth2/token', clientId, clientSecret });
 * const api = got.extend({ prefixUrl: 'https://api.example.com', hooks: tokenHooks(tokens) });
 * const payments = await api.get('payments').json();
 * ```
 */
export function tokenHooks(tokens: TokenProvider, options: TokenHooksOptions = {}): TokenHooks {
  const settings = { origins: options.origins, retryOn401: options.retryOn401 };
  // The hooks exist before got.extend() gives them a prefixUrl: one authorizer per prefix, built on first use.
  const authorizers = new Map<string, RequestAuthorizer>();
  const authorizerFor = (prefixUrl: string): RequestAuthorizer => {
    let auth = authorizers.get(prefixUrl);
    if (auth === undefined) {
      auth = createRequestAuthorizer(tokens, { ...settings, baseUrl: prefixUrl === '' ? undefined : prefixUrl });
      if (authorizers.size < MAX_PREFIXES) authorizers.set(prefixUrl, auth);
    }
    return auth;
  };
  // Checked now when possible: bad `tokens` or `origins` throw here, not on the first request.
  if (options.origins !== undefined && options.origins.length > 0) authorizerFor('');

  const beforeRequest: BeforeRequestHook = (request) => {
    const url = request.url;
    if (url === undefined) return;
    const href = url.href;
    const auth = authorizerFor(request.prefixUrl);
    const headers = request.headers;
    const context = request.context;
    const current = headers['authorization'];
    if (context[MARK] !== undefined) {
      // Ours, carried over from the previous hop of a redirect: only while the hop is allowed.
      // (Stripped by got on a cross-origin hop, it is set again below if this hop is allowed.)
      if (current !== undefined) {
        if (!auth.allows(href)) delete headers['authorization'];
        return;
      }
    } else if (current !== undefined || request.isHeaderExplicitlySet?.('authorization')) {
      return; // the caller's own, or the caller's `undefined`: send none
    }
    return auth.authorize(href, waitOptions(request)).then((value) => {
      if (value === undefined) return;
      headers['authorization'] = value;
      context[MARK] ??= 'sent';
    });
  };

  const afterResponse: AfterResponseHook = (response, retryWithMergedOptions) => {
    if (response.statusCode !== 401) return response;
    const request = response.request.options as NormalizedOptions;
    const mark = request.context[MARK];
    const sent = request.headers['authorization'];
    if (mark === undefined || typeof sent !== 'string' || request.url === undefined) return response;
    const href = request.url.href;
    const auth = authorizerFor(request.prefixUrl);
    const state = { retried: mark === 'retried', replayable: !isStream(request.body) };
    return auth.shouldRetry(401, sent, state).then(async (retry) => {
      const fresh = retry ? await auth.authorize(href, waitOptions(request)) : undefined;
      if (fresh === undefined) return response;
      // preserveHooks: afterResponse hooks after ours still see the retried response. Neither that
      // nor retry.limit bounds retryWithMergedOptions: the 'retried' mark is what stops a second retry.
      return retryWithMergedOptions({ headers: { authorization: fresh }, context: { [MARK]: 'retried' }, preserveHooks: true });
    });
  };

  // got's errors carry the request options, headers included: keep the token out of util.inspect and JSON.
  const beforeError: BeforeErrorHook = (error) => {
    const request = error.options as NormalizedOptions | undefined;
    if (request?.context[MARK] !== undefined) delete request.headers['authorization'];
    return error;
  };

  return { beforeRequest: [beforeRequest], afterResponse: [afterResponse], beforeError: [beforeError] };
}

/** The request's signal and overall timeout bound the wait for a token: got's own timers do not cover hooks. */
function waitOptions(request: NormalizedOptions): GetTokenOptions | undefined {
  const signal = request.signal;
  const timeoutMs = request.timeout.request;
  return signal === undefined && timeoutMs === undefined ? undefined : { signal, timeoutMs };
}

/** A body that is read once: a Node stream, a web ReadableStream, an iterator or async iterable. */
function isStream(body: unknown): boolean {
  if (typeof body !== 'object' || body === null) return false;
  const value = body as { pipe?: unknown; getReader?: unknown; next?: unknown; [Symbol.asyncIterator]?: unknown };
  return typeof value.pipe === 'function' || typeof value.getReader === 'function' || typeof value.next === 'function' || typeof value[Symbol.asyncIterator] === 'function';
}
