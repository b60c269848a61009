import type { AfterResponseHook, BeforeErrorHook, BeforeRequestHook, Hooks, NormalizedOptions } from 'got';
import { createRequestAuthorizer, type GetTokenOptions, type RequestAuthOptions, type RequestAuthorizer, type TokenProvider } from '@tokenkit/core';

export {
  ConfigurationError, OAuthError, TokenEndpointError, TokenKitError, createTokenProvider, findTokenKitError,
  isOAuthError, isTokenEndpointError, isTokenKitError, memoryStore,
} from '@tokenkit/core';
export type {
  AccessToken, ClientAuthMethod, GetTokenOptions, Grant, PrivateKeyInput, RequestAuthOptions, StoredToken,
  TokenEndpointErrorCode, TokenEvent, TokenKitErrorCode, TokenProvider, TokenProviderOptions, TokenStore,
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
 * Our mark in `options.context`, which got copies to every redirect hop and retry: the request
 * was re-sent after a 401. A string key: got merges context with Object.entries, dropping symbols.
 */
const RETRIED = 'tokenkitRetried';
/** Authorizers kept per prefixUrl; more distinct prefixes than this are built per request. */
const MAX_PREFIXES = 32;
/** How many recent Authorization values are recognised as ours (tokens rotate rarely). */
const REMEMBERED = 8;

/**
 * got hooks that put `Authorization: Bearer <token>` from `tokens` on every
 * request to the instance's `prefixUrl` origin (or to `origins`), and nowhere
 * else: not to absolute URLs of other origins, and not on a redirect hop to
 * another origin (got strips it there; `beforeRequest` runs on every hop and
 * removes ours on a hop that is not allowed). A 401 answer to a request that carried the token drops that
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

  // The Authorization values we have set: on a redirect hop, a 401 or an error, a header holding
  // one of them is ours. (A mark in options.context per request showed in the benchmark.)
  const issued = new Set<string>();
  const ours = (value: unknown): value is string => typeof value === 'string' && issued.has(value);
  const remember = (value: string): string => {
    if (!issued.has(value)) {
      if (issued.size === REMEMBERED) issued.delete(issued.values().next().value!);
      issued.add(value);
    }
    return value;
  };
  const beforeRequest: BeforeRequestHook = (request) => {
    const url = request.url;
    if (url === undefined) return;
    const href = url.href;
    const auth = authorizerFor(request.prefixUrl);
    const headers = request.headers;
    const current = headers['authorization'];
    if (current !== undefined) {
      // Ours, carried over from the previous hop of a redirect: only while the hop is allowed.
      if (ours(current) && !auth.allows(href)) delete headers['authorization'];
      return; // the caller's own, or ours on an allowed hop
    }
    // The caller's `undefined` ("send none"), or ours that got stripped on a cross-origin hop.
    if (request.isHeaderExplicitlySet?.('authorization') || !auth.allows(href)) return;
    // While a token is cached, core answers at once: no promise for got to await.
    const cached = auth.authorizeSync(href);
    if (typeof cached === 'string') {
      headers['authorization'] = remember(cached);
      return;
    }
    return auth.authorize(href, waitOptions(request)).then((value) => {
      if (value !== undefined) headers['authorization'] = remember(value);
    });
  };

  const afterResponse: AfterResponseHook = (response, retryWithMergedOptions) => {
    if (response.statusCode !== 401) return response;
    const request = response.request.options as NormalizedOptions;
    const sent = request.headers['authorization'];
    if (!ours(sent) || request.url === undefined) return response;
    const href = request.url.href;
    const auth = authorizerFor(request.prefixUrl);
    const state = { retried: request.context[RETRIED] === true, replayable: !isStream(request.body) };
    return auth.shouldRetry(401, sent, state).then(async (retry) => {
      const fresh = retry ? await auth.authorize(href, waitOptions(request)) : undefined;
      if (fresh === undefined) return response;
      // preserveHooks: afterResponse hooks after ours still see the retried response. Neither that
      // nor retry.limit bounds retryWithMergedOptions: the RETRIED mark is what stops a second retry.
      return retryWithMergedOptions({ headers: { authorization: remember(fresh) }, context: { [RETRIED]: true }, preserveHooks: true });
    });
  };

  // got's errors carry the request options, headers included: keep the token out of util.inspect and JSON.
  const beforeError: BeforeErrorHook = (error) => {
    const request = error.options as NormalizedOptions | undefined;
    if (ours(request?.headers['authorization'])) delete request!.headers['authorization'];
    return error;
  };

  // Without 401 retries, no afterResponse hook: got snapshots the request's state before each one.
  return { beforeRequest: [beforeRequest], afterResponse: options.retryOn401 === false ? [] : [afterResponse], beforeError: [beforeError] };
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
