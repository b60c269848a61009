import type { AfterResponseHook, BeforeErrorHook, BeforeRedirectHook, BeforeRequestHook, Headers, Hooks, InitHook, NormalizedOptions } from 'got';
import { requestAuthorizerPerBase, type GetTokenOptions, type RequestAuthOptions, type TokenProvider } from '@tokenkit/core';

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
 * instance's `prefixUrl`, and `retryOn401` (default true).
 *
 * @example
 * ```ts
 * const options: TokenHooksOptions = { origins: ['https://files.example.com'], retryOn401: true };
 * ```
 */
export type TokenHooksOptions = RequestAuthOptions;

/** The hooks {@link tokenHooks} returns: pass them as `hooks` to `got.extend()`. */
export type TokenHooks = Pick<Hooks, 'init' | 'beforeRequest' | 'beforeRedirect' | 'afterResponse' | 'beforeError'>;

/**
 * Our mark in `options.context`, which got copies to every redirect hop and retry: the request
 * was re-sent after a 401. A string key: got merges context with Object.entries, dropping symbols.
 */
const RETRIED = 'tokenkitRetried';
/** Our mark in `options.context` of a request that got redirected (set by our beforeRedirect hook). */
const REDIRECTED = 'tokenkitRedirected';
/** got 14 only: the instance's prefixUrl, kept in `options.context` by our init hook (see `init`). */
const PREFIX = 'tokenkitPrefixUrl';
/** How many recent Authorization values are recognised as ours (tokens rotate rarely). */
const REMEMBERED = 8;

/**
 * got hooks that put `Authorization: Bearer <token>` from `tokens` on every
 * request to the instance's `prefixUrl` origin (or to `origins`), and nowhere
 * else: not to absolute URLs of other origins, and not on a redirect hop to
 * another origin (got strips it there; `beforeRequest` runs on every hop and
 * removes ours on a hop that is not allowed). A redirect hop never gains the
 * token: once dropped, or never sent, it stays off. A 401 answer to a request that carried the token drops that
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
  // The hooks exist before got.extend() gives them a prefixUrl: core keeps one authorizer per prefix.
  // With `origins`, bad `tokens` or `origins` throw here, not on the first request.
  const authorizerFor = requestAuthorizerPerBase(tokens, options);

  // The Authorization values we have set: on a redirect hop, a 401 or an error, a header holding
  // one of them is ours. (A mark in options.context per request showed in the benchmark.)
  const issued = new Set<string>();
  let lastIssued: string | undefined;
  const ours = (value: unknown): value is string => typeof value === 'string' && (value === lastIssued || issued.has(value));
  const remember = (value: string): string => {
    if (value === lastIssued) return value;
    lastIssued = value;
    if (!issued.has(value)) {
      if (issued.size === REMEMBERED) issued.delete(issued.values().next().value!);
      issued.add(value);
    }
    return value;
  };
  const beforeRequest: BeforeRequestHook = (request) => {
    const url = request.url;
    if (url === undefined) return;
    const current = headersOf(request)['authorization'];
    if (current !== undefined) {
      // The caller's own (left alone), or ours carried to a redirect hop or a got retry: kept only
      // while this URL may have it (got 16 strips it on a cross-origin hop itself; older got did not).
      if (ours(current) && !authorizerFor(prefixOf(request)).allows(url.href)) deleteHeader(request);
      return;
    }
    // The caller's `undefined` ("send none"); or a redirect hop: a token dropped on the way
    // (or never sent) is not put back, not even on an origin that may have it.
    if (request.context[REDIRECTED] === true || request.isHeaderExplicitlySet?.('authorization')) return;
    const href = url.href;
    const auth = authorizerFor(prefixOf(request));
    // While a token is cached, core answers at once: no promise for got to await.
    const cached = auth.authorizeSync(href);
    if (typeof cached === 'string') {
      setHeader(request, remember(cached));
      return;
    }
    if (cached === null) return; // an origin that may not have the token
    return auth.authorize(href, waitOptions(request)).then((value) => {
      if (value !== undefined) setHeader(request, remember(value));
    });
  };

  // got 14 empties `prefixUrl` before it runs beforeRequest hooks (got 15 and newer keep it). got runs
  // init hooks when options are merged: at got.extend() (where `self` becomes the instance's defaults,
  // which every request copies, context included) and for a request's own options. There the prefix is
  // still known, so it goes into the context.
  const init: InitHook = (plain, self) => {
    if (typeof (self as unknown as InternalHeaders).getInternalHeaders === 'function') return; // got 15+
    const prefix = plain.prefixUrl ?? self.prefixUrl;
    if (prefix !== undefined && prefix !== '') self.context[PREFIX] = String(prefix);
  };

  // Runs on every redirect, before got's next beforeRequest: marks the request as redirected.
  const beforeRedirect: BeforeRedirectHook = (next) => {
    next.context[REDIRECTED] = true;
  };

  const afterResponse: AfterResponseHook = (response, retryWithMergedOptions) => {
    if (response.statusCode !== 401) return response;
    const request = response.request.options as NormalizedOptions;
    const sent = headersOf(request)['authorization'];
    if (!ours(sent) || request.url === undefined) return response;
    const href = request.url.href;
    const auth = authorizerFor(prefixOf(request));
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
    if (request !== undefined && ours(headersOf(request)['authorization'])) deleteHeader(request);
    return error;
  };

  // Without 401 retries, no afterResponse hook: got snapshots the request's state before each one.
  return {
    init: [init],
    beforeRequest: [beforeRequest],
    beforeRedirect: [beforeRedirect],
    afterResponse: options.retryOn401 === false ? [] : [afterResponse],
    beforeError: [beforeError],
  };
}

/**
 * got 15+ keeps headers behind a Proxy that marks every header written through it as the
 * caller's; writing around it costs half as much per request, and leaves our token
 * unmarked, so got's own rules (a cross-origin hop strips it) apply to it as to a generated header.
 * got 14 has a plain headers object.
 */
type InternalHeaders = {
  getInternalHeaders?: () => Headers;
  setInternalHeader?: (name: string, value: string) => void;
  deleteInternalHeader?: (name: string) => void;
};
function headersOf(request: NormalizedOptions): Headers {
  const internal = request as unknown as InternalHeaders;
  return internal.getInternalHeaders === undefined ? request.headers : internal.getInternalHeaders();
}
function setHeader(request: NormalizedOptions, value: string): void {
  const internal = request as unknown as InternalHeaders;
  if (internal.setInternalHeader === undefined) request.headers['authorization'] = value;
  else internal.setInternalHeader('authorization', value);
}
function deleteHeader(request: NormalizedOptions): void {
  const internal = request as unknown as InternalHeaders;
  if (internal.deleteInternalHeader === undefined) delete request.headers['authorization'];
  else internal.deleteInternalHeader('authorization');
}

/** The base the request was made against: its `prefixUrl`, or on got 14 what our init hook kept of it. */
function prefixOf(request: NormalizedOptions): string {
  const prefix = request.prefixUrl;
  if (prefix !== '') return prefix;
  const kept = request.context[PREFIX];
  return typeof kept === 'string' ? kept : '';
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
