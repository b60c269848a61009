import type { RequestAuthOptions, TokenProvider } from '@tokenkit/core';
import {
  createTokenClient,
  followRedirects,
  isRedirect,
  isReplayableBody,
  type HopInit,
  type HopResponse,
} from '@tokenkit/core/adapter';

/** Any function shaped like `fetch`: the global one, node-fetch, undici's, a wrapper of your own. */
export type FetchFunction = (input: never, init?: never) => Promise<unknown>;

/**
 * Options of {@link withTokens}.
 *
 * @example
 * ```ts
 * const options: WithTokensOptions = { origins: ['https://api.example.com'], retryOn401: true };
 * ```
 */
export interface WithTokensOptions<F extends FetchFunction = typeof fetch> extends RequestAuthOptions {
  /** The origins that receive the token, e.g. `['https://api.example.com']`; every other origin gets none. */
  origins: readonly (string | URL)[];
  /**
   * The `fetch` that sends the requests (node-fetch, undici's, an SDK's). Default: the global `fetch`, looked up
   * at each call. It must send each request to the URL it is given, and honour `redirect: 'manual'`.
   */
  fetch?: F | undefined;
}

/** What is read of a `Request` given as input (WHATWG's or node-fetch's). */
interface RequestLike {
  url: string;
  method: string;
  headers: unknown;
  body: unknown;
  signal?: AbortSignal | null;
  redirect?: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}

interface InitLike {
  method?: string | undefined;
  headers?: unknown;
  body?: unknown;
  signal?: AbortSignal | null | undefined;
  redirect?: string | undefined;
  [option: string]: unknown;
}

interface ResponseLike extends HopResponse {
  redirected?: boolean;
  url?: string;
}

type Send = (input: unknown, init?: InitLike | HopInit) => Promise<ResponseLike>;

/**
 * Wraps `fetch` so that requests to `origins` carry `Authorization: Bearer <token>` from `tokens`; the result has
 * the exact signature of the `fetch` it wraps. Every decision is taken on the URL this function is given: other
 * origins get no token, and neither does a redirect hop to one, nor any hop after it (redirects of requests that
 * carry the token are followed here, not by the wrapped `fetch`, unless the caller asked for `redirect: 'manual'`
 * or `'error'`). A caller's own `Authorization` stays. A 401 to our token drops it and sends the request once
 * more with a fresh one (not a body that is a stream). `init.signal` ends the wait for a token.
 *
 * @example
 * ```ts
 * const tokens = createTokenProvider({ tokenEndpoint: 'https://auth.example.com/oauth2/token', clientId, clientSecret });
 * const api = withTokens(tokens, { origins: ['https://api.example.com'] });
 * const payments = await (await api('https://api.example.com/payments')).json();
 * ```
 */
export function withTokens<F extends FetchFunction = typeof fetch>(
  tokens: TokenProvider,
  options: WithTokensOptions<F>,
): F {
  const client = createTokenClient(tokens, { origins: options.origins, retryOn401: options.retryOn401 });
  const send = (options.fetch ??
    ((input: string, init?: RequestInit) => globalThis.fetch(input, init))) as unknown as Send;

  async function fetchWithTokens(input: string | URL | RequestLike, init?: InitLike): Promise<unknown> {
    const source = typeof input === 'object' && !(input instanceof URL) ? input : undefined;
    const url = source?.url ?? String(input);
    // init is read field by field (no destructuring into a rest object): this runs on every request.
    const headers = headerRecord(init?.headers ?? source?.headers);
    const method = ifUndefined(init?.method, source?.method);
    const replayable = isReplayableBody(init?.body); // a Request's own body is read into memory below: replayable
    const request = client.start({ callerAuthorization: hasAuthorization(headers), replayable, method });
    const now = request.headerSync(url);
    if (now === null) return send(input, init); // the caller's own header, or not an origin of ours: untouched
    const signal = ifUndefined(init?.signal, source?.signal);
    try {
      const value = now ?? (await request.header(url, { signal: signal ?? undefined }));
      if (value === undefined) return await send(input, init);
      const redirect = ifUndefined(init?.redirect, source?.redirect) ?? 'follow';
      // The caller's options with ours: their headers and ours, redirects followed here unless they chose a mode.
      // A Request's body is read once, here, so that a redirect or the 401 retry can send it again.
      const options: InitLike = {
        ...init,
        method,
        signal,
        body: init?.body ?? (source?.body == null ? undefined : await source.arrayBuffer()),
        redirect: redirect === 'follow' ? 'manual' : redirect,
      };
      // The first hop is sent here, not through sendFollowingRedirects: one async step less per request.
      let first = withHeader(options, headers, value, request.dpop);
      let response = await send(url, first);
      let status = response.status;
      if (redirect === 'follow' && isRedirect(status)) {
        response = await followRedirects(send, url, first, response, request, replayable);
        status = response.status;
      }
      if (response.redirected === true && response.url) request.answeredBy(response.url); // a fetch that followed anyway
      if (request.mayRetry(status, response.headers) && (await request.retryAfter(status, response.headers))) {
        const fresh = await request.header(url, { signal: signal ?? undefined });
        if (fresh !== undefined) {
          await response.arrayBuffer?.().catch(() => undefined); // frees the connection
          first = withHeader(options, headers, fresh, request.dpop);
          response = await send(url, first);
          if (redirect === 'follow' && isRedirect(response.status))
            response = await followRedirects(send, url, first, response, request, replayable);
        }
      }
      return response;
    } catch (error) {
      throw client.conceal(error);
    }
  }
  return fetchWithTokens as unknown as F;
}

/** `value`, or `fallback` when `value` is undefined (as a destructuring default: null stays null). */
function ifUndefined<T, U>(value: T | undefined, fallback: U): T | U {
  return value === undefined ? fallback : value;
}

/** One attempt's options: `options` with the caller's `headers`, our `Authorization` and (DPoP) proof. */
function withHeader(
  options: InitLike,
  headers: Record<string, string>,
  authorization: string,
  dpop: string | undefined,
): HopInit {
  const all: Record<string, string> = { ...headers, authorization };
  if (dpop !== undefined) all['dpop'] = dpop;
  return { ...options, headers: all } as HopInit; // redirect: 'manual' unless the caller chose a mode
}

/** `fetch`'s `HeadersInit` (a record, pairs, `Headers` of any implementation) as a record. */
function headerRecord(init: unknown): Record<string, string> {
  if (init == null) return {};
  const proto: unknown = Object.getPrototypeOf(init);
  if (proto === Object.prototype || proto === null) return { ...(init as Record<string, string>) };
  const record: Record<string, string> = {};
  for (const [name, value] of new Headers(init as ConstructorParameters<typeof Headers>[0])) record[name] = value;
  return record;
}

function hasAuthorization(headers: Record<string, string>): boolean {
  for (const name in headers) if (name.length === 13 && name.toLowerCase() === 'authorization') return true;
  return false;
}
