import http, { type RequestOptions } from 'node:http';
import https from 'node:https';
import type {
  AfterResponseHook,
  BeforeErrorHook,
  BeforeRedirectHook,
  BeforeRequestHook,
  Hooks,
  InitHook,
  NativeRequestOptions,
  NormalizedOptions,
  Options,
  RequestFunction,
} from 'got';
import type { RequestAuthOptions, TokenProvider } from '@tokenkit/core';
import {
  assertTokenProvider,
  createTokenClient,
  isReplayableBody,
  type OutgoingRequest,
  type TokenClient,
} from '@tokenkit/core/adapter';

export * from '@tokenkit/core';

/**
 * Options of {@link tokenHooks}: `origins` that receive the token besides the instance's `prefixUrl`, and
 * `retryOn401` (default true).
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
 * Where a request's {@link Flight} is found: `options.context`, which got copies to every redirect hop and retry.
 * A string key: got copies a context holding a symbol key on a slower path, which a loopback benchmark notices.
 */
const FLIGHT = 'tokenkitFlight';
/** got 14 empties `prefixUrl` before beforeRequest hooks run: our init hook keeps it here (see `init`). */
const PREFIX = 'tokenkitPrefixUrl';
/** How many prefixes get a client of their own kept; per-call prefixes from varying input cannot grow memory. */
const MAX_BASES = 32;

/**
 * got hooks that put `Authorization: Bearer <token>` from `tokens` on requests to the instance's `prefixUrl`
 * origin (or to `origins`), and nowhere else. Where the token goes is decided on the URL actually sent, after every
 * `beforeRequest` hook, on every redirect hop and retry: by our `beforeRequest` hook when it runs last, else in got's
 * `request` function (ours wraps it), which got calls after the hooks added later. A 401 answer to a
 * hop that carried the token drops that token and re-sends the request once with a fresh one (not when the body is
 * a stream). An `authorization` header set by the caller or another hook (or `undefined`, "send none", on got 15+)
 * is left alone. The token is removed from the errors got throws.
 *
 * The wait for a token ends with the request's `signal` or its `timeout.request`. Token failures reject the
 * request with a got `RequestError` whose `cause` is core's typed error (`findTokenKitError(err)`). Without a
 * `prefixUrl` and without `origins`, requests fail with a `ConfigurationError`.
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
  const clientFor = clientPerBase(tokens, options);

  // got runs init hooks when options are merged: at got.extend() (its `self` becomes the defaults every request
  // copies, context included) and for a request's own options, where the prefix is still known.
  // A request's own options are merged into its options object after the instance's: a `prefixUrl` one call gives
  // is remembered here for that object, and the instance's prefix (from extend()) stays its base. Options that bring
  // these hooks along configure tokenkit themselves: their prefix counts.
  const init: InitHook = (plain, self) => {
    if (plain.prefixUrl !== undefined && !plain.hooks?.init?.includes(init))
      instancePrefix.set(self, String(self.context[PREFIX] ?? ''));
    const prefix = plain.prefixUrl ?? self.prefixUrl;
    if (prefix !== undefined && prefix !== '') self.context[PREFIX] = String(prefix);
  };
  const instancePrefix = new WeakMap<object, string>();

  // Starts the request's lifecycle once (hops and retries find it in the context), then decides on the URL sent.
  const beforeRequest: BeforeRequestHook = (options) => {
    let flight = flightOf(options);
    if (flight === undefined) {
      const client = clientFor(
        instancePrefix.get(options) ?? (options.prefixUrl || String(options.context[PREFIX] ?? '')),
      );
      const request = client.start({
        callerAuthorization: options.isHeaderExplicitlySet?.('authorization'),
        replayable: isReplayableBody(options.body),
        method: options.method,
      });
      const started: Flight = { client, request, send: undefined };
      options.context[FLIGHT] = () => started;
      flight = started;
    }
    const hooks = options.hooks.beforeRequest;
    // Ours runs last: the URL it sees is the URL sent. (Deciding here spares got's costlier custom-request path.)
    if (hooks[hooks.length - 1] === beforeRequest)
      return authorize(flight, options.url!.href, headersOf(options), options);
    // Hooks after ours may change the URL: our request function, which got calls after them, decides.
    if (flight.send === undefined || options.request !== flight.send)
      options.request = flight.send = sendThrough(flight, options, options.request);
  };

  const beforeRedirect: BeforeRedirectHook = (next) => void flightOf(next)?.request.redirect(next.url!, next.method);

  const afterResponse: AfterResponseHook = (response, retryWithMergedOptions) => {
    const flight = flightOf(response.request.options);
    // got awaits what a hook returns: most answers go back as they are, without a promise.
    if (flight === undefined || !flight.request.mayRetry(response.statusCode, response.headers)) return response;
    // preserveHooks: afterResponse hooks after ours (and ours: no second retry) see the retried response.
    return flight.request
      .retryAfter(response.statusCode, response.headers)
      .then((again) => (again ? retryWithMergedOptions({ preserveHooks: true }) : response));
  };

  // got's options hold their headers where only their own inspect and toJSON reach: concealed there too.
  const beforeError: BeforeErrorHook = (error) => {
    const client = flightOf(error.options)?.client;
    client?.conceal(headersOf(error.options));
    return client?.conceal(error) ?? error;
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

/** One got request: its client, its lifecycle (every hop and retry) and our request function, once installed. */
interface Flight {
  client: TokenClient;
  request: OutgoingRequest;
  send: RequestFunction | undefined;
}

/**
 * The request's {@link Flight}. The context holds a function returning it: what got's errors reach of it
 * (`error.options.context`) shows nothing when logged, and concealing an error does not walk into it.
 */
function flightOf(options: { context: object } | undefined): Flight | undefined {
  return (options?.context as Record<string, (() => Flight) | undefined> | undefined)?.[FLIGHT]?.();
}

type HeaderMap = Record<string, string | string[] | undefined>;

/** The headers got will send, written past got 15+'s header Proxy (which would mark ours as the caller's). */
function headersOf(options: NormalizedOptions | Options): HeaderMap {
  return (options as { getInternalHeaders?: () => HeaderMap }).getInternalHeaders?.() ?? options.headers;
}

/**
 * Puts our header on `headers` for a request to `url`, or takes ours off; undefined when done, a promise while a
 * token is waited for. A value that is not ours (the caller's, another hook's, got's Basic from URL credentials)
 * stays.
 */
function authorize(
  { client, request }: Flight,
  url: string,
  headers: HeaderMap,
  options: NormalizedOptions,
): Promise<void> | undefined {
  const current = headers['authorization'];
  if (current !== undefined && !client.isOurs(current)) return undefined;
  const value = request.headerSync(url);
  if (value !== undefined) return put(headers, current, url, value, request);
  // The request's signal and overall timeout bound the wait: got's own timers do not cover hook time.
  const wait = { signal: options.signal, timeoutMs: options.timeout.request };
  return request.header(url, wait).then((later) => put(headers, current, url, later ?? null, request));
}

/** got's request function, wrapped: it gets the URL actually sent and the headers about to go out. */
function sendThrough(flight: Flight, options: NormalizedOptions, inner: RequestFunction | undefined): RequestFunction {
  return (first, second, callback) => {
    // got calls it as (url, options, callback); through its `cache` option, as (options, callback).
    const cached = !(first instanceof URL);
    const target = cached ? (first as unknown as Target) : second;
    const pending = authorize(
      flight,
      cached ? hrefOf(target as Target) : first.href,
      target.headers as HeaderMap,
      options,
    );
    const send = () => forward(inner, first, second, callback, cached && options);
    return pending === undefined ? send() : pending.then(send);
  };
}

/** What cacheable-request passes a request function: Node's request options, with the URL in parts. */
interface Target {
  protocol: string;
  hostname: string;
  port?: string | number | null;
  path?: string | null;
  headers: Record<string, unknown>;
}

function hrefOf({ protocol, hostname, port, path }: Target): string {
  return `${protocol}//${hostname.includes(':') ? `[${hostname}]` : hostname}${port ? `:${port}` : ''}${path ?? '/'}`;
}

/**
 * Calls the request function ours wraps; without one, undefined: got calls its own. Only got 14 (whose options still
 * have `getFallbackRequestFunction`), through its cache, needs a request from us then.
 */
function forward(
  inner: RequestFunction | undefined,
  first: URL,
  second: NativeRequestOptions,
  callback: unknown,
  cached: false | object,
): ReturnType<RequestFunction> {
  const result = inner?.(first, second, callback as never);
  if (result !== undefined || cached === false || !('getFallbackRequestFunction' in cached)) return result;
  // Through the cache: (options, callback).
  const options = first as unknown as RequestOptions;
  return (options.protocol === 'https:' ? https : http).request(options, second as unknown as () => void);
}

/** Puts `value` on `headers`; null: this hop goes without, and ours (from an earlier hop) comes off. */
function put(
  headers: HeaderMap,
  current: unknown,
  url: string,
  value: string | null,
  request: OutgoingRequest,
): undefined {
  if (value !== null) {
    headers['authorization'] = value;
    if (request.dpop !== undefined) headers['dpop'] = request.dpop;
  } else {
    if (current !== undefined) delete headers['authorization'];
    // An earlier hop's proof is ours: a hop that goes without the token goes without it too.
    if (request.sent !== undefined) delete headers['dpop'];
    // If an earlier hop carried the token, a 401 from this one is not about it.
    request.answeredBy(url);
  }
  return undefined;
}

/**
 * The hooks exist before got.extend() gives them a `prefixUrl`: one {@link TokenClient} per prefix, built on
 * first use. With `origins`, bad `tokens` or `origins` throw at once, not on the first request.
 */
function clientPerBase(tokens: TokenProvider, options: RequestAuthOptions): (base: string) => TokenClient {
  assertTokenProvider(tokens);
  const kept = new Map<string, TokenClient>();
  // The last one at hand: an instance sends all its requests with one prefix.
  let last: [string, TokenClient] | undefined;
  const clientFor = (base: string): TokenClient => {
    if (last?.[0] === base) return last[1];
    let client = kept.get(base);
    if (client === undefined) {
      client = createTokenClient(tokens, { ...options, baseUrl: base });
      if (kept.size < MAX_BASES) kept.set(base, client);
    }
    last = [base, client];
    return client;
  };
  const { origins } = options;
  if (origins !== undefined && (!Array.isArray(origins) || origins.length > 0)) clientFor('');
  return clientFor;
}
