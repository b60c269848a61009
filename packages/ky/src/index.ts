import { inspect } from 'node:util';
import type { BeforeErrorHook, BeforeRequestHook, InitHook, NormalizedOptions, Options } from 'ky';
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
  /** Notes ky's per-attempt `timeout` and wraps ky's `fetch` to re-send a request once after a 401. */
  init: InitHook[];
  /** Adds `Authorization: Bearer <token>` to requests for the allowed origins. */
  beforeRequest: BeforeRequestHook[];
  /** Removes our token from the `request` of a ky error, so logging the error does not show it. */
  beforeError: BeforeErrorHook[];
}

type Fetch = NonNullable<Options['fetch']>;

/**
 * One ky call (all its attempts): ky's `timeout` for it, when its `totalTimeout` runs out, the
 * token we sent and the one a 401 retry replaced.
 */
class Call {
  sent: string | undefined = undefined;
  authorizer: RequestAuthorizer | undefined = undefined;
  spent: string | undefined = undefined;
  readonly timeoutMs: number | undefined;
  readonly deadline: number | undefined;
  constructor(timeoutMs: number | undefined, deadline: number | undefined) {
    this.timeoutMs = timeoutMs;
    this.deadline = deadline;
  }
  // ky's errors keep the options, so the context and this: util.inspect must not show the tokens.
  [inspect.custom](): string {
    return 'TokenHooksCall {}';
  }
}

const KY_DEFAULT_TIMEOUT_MS = 10_000;
// ky 2.1+ bounds hook time by `totalTimeout` itself and rejects with its TimeoutError; ky 2.0.x
// checks it only before fetch, after the hooks. So the wait for a token ends at the call's
// totalTimeout plus this grace: on 2.1+ ky's own timer (set a little earlier) always wins.
const TOTAL_TIMEOUT_GRACE_MS = 20;

/** How long a call may still wait for a token: ky's `timeout`, and what its `totalTimeout` leaves. */
function waitMs(call: Call): number | undefined {
  if (call.deadline === undefined) return call.timeoutMs;
  const left = Math.max(0, call.deadline - performance.now());
  return call.timeoutMs === undefined ? left : Math.min(call.timeoutMs, left);
}

const globalFetch: Fetch = (input, init) => globalThis.fetch(input, init);

function put(request: Request, call: Call, authorizer: RequestAuthorizer, value: string | null | undefined): void {
  if (value === undefined || value === null) return;
  request.headers.set('authorization', value);
  call.sent = value;
  call.authorizer = authorizer;
}

/**
 * ky hooks that put tokens from `tokens` on requests to the instance's origin (`baseUrl`, else
 * `prefix`) and to `options.origins` only, never over a caller's `Authorization`, and re-send a
 * request once with a fresh token after a 401. The wait for a token ends with the caller's
 * `signal`, ky's `totalTimeout` and ky's `timeout`; failing to get one rejects with core's typed error.
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
  // Per-call state goes on ky's per-call context object (ky copies the caller's context for each
  // call when there are init hooks) under a symbol of these hooks: cheaper than a WeakMap.
  const key = Symbol('tokenkit.call');
  const callOf = (context: object) => (context as Record<symbol, Call | undefined>)[key];

  const authorizerFor = (o: NormalizedOptions): RequestAuthorizer => authorizerPerBase(o.baseUrl ? String(o.baseUrl) : o.prefix);

  const track = (context: object, timeoutMs: number | undefined, deadline: number | undefined): Call => {
    const call = new Call(timeoutMs, deadline);
    (context as Record<symbol, Call>)[key] = call;
    return call;
  };

  // The 401 retry lives in ky's `fetch`, not in an afterResponse hook: ky clones every response
  // for each afterResponse hook (a no-op one added 30+ µs, ~11%, to a loopback request), and
  // ky.retry() from there cannot retry at all under `retry.limit: 0`.
  const retryOnce = (call: Call, send: Fetch, replayable: boolean): Fetch =>
    async function fetchWithTokenRetry(input, init) {
      const request = input as Request; // ky always passes a Request
      const { sent, authorizer } = call;
      if (sent === undefined || authorizer === undefined) return send(request, init);
      if (call.spent !== undefined) {
        // Already re-sent once. A later retry by ky itself resends its copy, with the spent token.
        if (request.headers.get('authorization') === call.spent) request.headers.set('authorization', sent);
        return send(request, init);
      }
      const copy = replayable && request.body !== null ? request.clone() : request;
      const response = await send(request, init);
      // Not ours when another hook of the caller replaced it; and fetch drops it on a redirect to another origin.
      if (response.status !== 401 || request.headers.get('authorization') !== sent) return response;
      const crossed = response.redirected && new URL(response.url).origin !== new URL(request.url).origin;
      if (!(await authorizer.shouldRetry(401, crossed ? undefined : sent, { retried: false, replayable }))) return response;
      call.spent = sent; // from here on, never again for this call
      void response.body?.cancel().catch(() => {}); // frees the connection, also if no fresh token comes
      const fresh = await authorizer.authorize(request.url, { signal: request.signal, timeoutMs: waitMs(call) });
      if (fresh === undefined) return response; // cannot happen: the URL got a token before
      call.sent = fresh;
      const headers = new Headers(copy.headers);
      headers.set('authorization', fresh);
      return send(new Request(copy, { headers }), init);
    };

  return {
    init: [
      (o) => {
        // Hooks get neither `timeout` nor a per-call key, so the per-call `context` object carries both.
        const timeout = o.timeout ?? KY_DEFAULT_TIMEOUT_MS;
        const total = o.totalTimeout;
        const deadline = typeof total === 'number' ? performance.now() + total + TOTAL_TIMEOUT_GRACE_MS : undefined;
        const call = track((o.context ??= {}), timeout === false ? undefined : timeout, deadline);
        if (options.retryOn401 === false) return;
        o.fetch = retryOnce(call, o.fetch ?? globalFetch, !(o.body instanceof ReadableStream));
      },
    ],
    beforeRequest: [
      ({ request, options: o }) => {
        if (request.headers.has('authorization')) return;
        const call = callOf(o.context) ?? track(o.context, undefined, undefined);
        const authorizer = authorizerFor(o);
        const url = request.url;
        // With a cached token the hook stays synchronous, which spares ky's await chain a few turns.
        const cached = authorizer.authorizeSync(url); // null: not for this origin; undefined: must wait
        if (cached !== undefined) return put(request, call, authorizer, cached);
        const wait = { signal: request.signal, timeoutMs: waitMs(call) };
        return authorizer.authorize(url, wait).then((value) => put(request, call, authorizer, value));
      },
    ],
    beforeError: [
      ({ error, options: o }) => {
        // HTTPError, TimeoutError and NetworkError keep the request, and util.inspect shows its headers.
        const request = (error as { request?: unknown }).request;
        const call = callOf(o.context);
        const header = request instanceof Request ? request.headers.get('authorization') : null;
        if (header !== null && call?.sent !== undefined && (header === call.sent || header === call.spent)) {
          (request as Request).headers.delete('authorization');
        }
        return error;
      },
    ],
  };
}
