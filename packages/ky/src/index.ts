import type { BeforeErrorHook, BeforeRequestHook, InitHook, NormalizedOptions, Options } from 'ky';
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
export type { AccessToken, GetTokenOptions, Grant, RequestAuthOptions, StoredToken, TokenEvent, TokenStore } from '@tokenkit/core';
export type { TokenEndpointErrorCode, TokenKitErrorCode, TokenProvider, TokenProviderOptions } from '@tokenkit/core';

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
  /** Notes ky's per-attempt `timeout` and wraps ky's `fetch` to re-send a request once after a 401. */
  init: InitHook[];
  /** Adds `Authorization: Bearer <token>` to requests for the allowed origins. */
  beforeRequest: BeforeRequestHook[];
  /** Removes our token from the `request` of a ky error, so logging the error does not show it. */
  beforeError: BeforeErrorHook[];
}

type Fetch = NonNullable<Options['fetch']>;

/** One ky call (all its attempts), keyed by ky's per-call `context` object. */
interface Call {
  /** ky's per-attempt `timeout`; undefined when disabled or unknown. */
  timeoutMs: number | undefined;
  /** The Authorization value we put on the request, and the authorizer that gave it. */
  sent?: { value: string; authorizer: RequestAuthorizer };
  /** Our value the 401 retry replaced: a later retry by ky itself still carries it. */
  spent?: string;
}

const KY_DEFAULT_TIMEOUT_MS = 10_000;

/**
 * ky hooks that put tokens from `tokens` on requests to the instance's own
 * origin (its `baseUrl`, else its `prefix`) and to `options.origins`, and
 * nowhere else. A request whose caller set `Authorization` is left alone. A
 * 401 to a request that carried our token invalidates that token and sends the
 * request once more with a fresh one (not a `ReadableStream` body). The wait
 * for a token ends with the caller's `signal`, ky's `totalTimeout` and ky's
 * per-attempt `timeout`. A failure to get a token rejects the call with
 * core's typed error.
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
  let settled: { promise: Promise<string | undefined> | undefined; value: string | undefined } = { promise: undefined, value: undefined };

  const authorizerFor = (o: NormalizedOptions): RequestAuthorizer => {
    const base = o.baseUrl ? String(o.baseUrl) : o.prefix;
    let authorizer = authorizers.get(base);
    if (authorizer === undefined) {
      authorizer = createRequestAuthorizer(tokens, { ...options, baseUrl: base });
      authorizers.set(base, authorizer);
    }
    return authorizer;
  };

  const track = (context: object, timeoutMs: number | undefined): Call => {
    const call: Call = { timeoutMs };
    calls.set(context, call);
    return call;
  };

  // The 401 retry lives in ky's `fetch`, not in an afterResponse hook: ky clones every response
  // for each afterResponse hook (a no-op one added 30+ µs, ~11%, to a loopback request), and
  // ky.retry() from there cannot retry at all under `retry.limit: 0`.
  const retryOnce = (call: Call, send: Fetch, replayable: boolean): Fetch =>
    async function fetchWithTokenRetry(input, init) {
      const request = input as Request; // ky always passes a Request
      const sent = call.sent;
      if (sent === undefined) return send(request, init);
      const header = request.headers.get('authorization');
      if (call.spent !== undefined) {
        // Already re-sent once. A later retry by ky itself resends its copy, with the spent token.
        if (header === call.spent) request.headers.set('authorization', sent.value);
        return send(request, init);
      }
      if (header !== sent.value) return send(request, init); // the caller's own, or another hook's
      const copy = replayable && request.body !== null ? request.clone() : request;
      const response = await send(request, init);
      if (response.status !== 401) return response;
      // fetch drops Authorization on a redirect to another origin: that 401 did not see our token.
      const crossed = response.redirected && new URL(response.url).origin !== new URL(request.url).origin;
      if (!(await sent.authorizer.shouldRetry(401, crossed ? undefined : sent.value, { retried: false, replayable }))) return response;
      call.spent = sent.value; // from here on, never again for this call
      const fresh = await sent.authorizer.authorize(request.url, { signal: request.signal, timeoutMs: call.timeoutMs });
      if (fresh === undefined) return response;
      void response.body?.cancel().catch(() => {});
      call.sent = { value: fresh, authorizer: sent.authorizer };
      const headers = new Headers(copy.headers);
      headers.set('authorization', fresh);
      return send(new Request(copy, { headers }), init);
    };

  return {
    init: [
      (o) => {
        // Hooks get neither `timeout` nor a per-call key, so the per-call `context` object carries both.
        const timeout = o.timeout ?? KY_DEFAULT_TIMEOUT_MS;
        const call = track((o.context ??= {}), timeout === false ? undefined : timeout);
        if (options.retryOn401 === false) return;
        const send: Fetch = o.fetch ?? ((input, init) => globalThis.fetch(input, init));
        o.fetch = retryOnce(call, send, !(o.body instanceof ReadableStream));
      },
    ],
    beforeRequest: [
      ({ request, options: o }) => {
        if (request.headers.has('authorization')) return;
        const call = calls.get(o.context) ?? track(o.context, undefined);
        const authorizer = authorizerFor(o);
        const pending = authorizer.authorize(request.url, { signal: request.signal, timeoutMs: call.timeoutMs });
        const apply = (value: string | undefined) => {
          if (value === undefined) return;
          request.headers.set('authorization', value);
          call.sent = { value, authorizer };
        };
        // Core hands out one promise per cached token: once seen settled, its value is known and
        // the hook stays synchronous, which spares ky's await chain a few turns per request.
        if (pending === settled.promise) return apply(settled.value);
        return pending.then((value) => {
          settled = { promise: pending, value };
          apply(value);
        });
      },
    ],
    beforeError: [
      ({ error, options: o }) => {
        // HTTPError, TimeoutError and NetworkError keep the request, and util.inspect shows its headers.
        const request = (error as { request?: unknown }).request;
        const call = calls.get(o.context);
        const header = request instanceof Request ? request.headers.get('authorization') : null;
        if (header !== null && call?.sent !== undefined && (header === call.sent.value || header === call.spent)) {
          (request as Request).headers.delete('authorization');
        }
        return error;
      },
    ],
  };
}
