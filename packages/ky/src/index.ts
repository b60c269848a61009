import type { BeforeErrorHook, InitHook, KyInstance, Options } from 'ky';
import { ConfigurationError, type RequestAuthOptions, type TokenProvider } from '@tokenkit/core';
import { createTokenClient, sendFollowingRedirects, type HopInit, type OutgoingRequest } from '@tokenkit/core/adapter';
import type { TokenClientOptions } from '@tokenkit/core/adapter';

export * from '@tokenkit/core';

/** Default of {@link TokenHooksOptions.maxReplayBytes}: 1 MiB. */
export const DEFAULT_MAX_REPLAY_BYTES = 1024 * 1024;

/**
 * Options of {@link tokenHooks} and {@link withTokens}.
 *
 * @example
 * ```ts
 * const options: TokenHooksOptions = { origins: ['https://files.example.com'], retryOn401: true, maxReplayBytes: 65_536 };
 * ```
 */
export interface TokenHooksOptions extends RequestAuthOptions {
  /**
   * The largest request body, in bytes, kept for the one re-send after a 401. A larger body, or one of unknown
   * size (a `ReadableStream`), is sent once and its 401 reaches the caller. Default {@link DEFAULT_MAX_REPLAY_BYTES}.
   */
  maxReplayBytes?: number | undefined;
}

/**
 * The hooks {@link tokenHooks} returns, ready for ky's `hooks` option.
 *
 * @example
 * ```ts
 * const hooks: TokenHooks = tokenHooks(tokens, { origins: ['https://api.example.com'] });
 * const api = ky.create({ baseUrl: 'https://api.example.com/', hooks }).extend({ hooks: { beforeError: [logError] } });
 * ```
 */
export interface TokenHooks {
  /** Wraps ky's `fetch` for each call: the token goes on as ky sends a request, and a 401 is re-sent there once. */
  init: InitHook[];
  /** Removes our token from ky's errors: their `request` and everything else they hold. */
  beforeError: BeforeErrorHook[];
}

type Fetch = NonNullable<Options['fetch']>;
const globalFetch: Fetch = (input, init) => globalThis.fetch(input, init);

/**
 * ky hooks that put tokens from `tokens` on requests to `options.origins` only, never over a caller's
 * `Authorization`, and re-send a request once with a fresh token after a 401. ky's hooks cannot tell the instance's
 * `baseUrl`/`prefix` from one a single call passes, so the API's origins are named here; {@link withTokens} reads
 * them from the instance instead. The token goes on in ky's `fetch`, so ky's `timeout`, `totalTimeout` and the
 * caller's `signal` bound the wait for it.
 *
 * @example
 * ```ts
 * const api = ky.create({ baseUrl: 'https://api.example.com/', hooks: tokenHooks(tokens, { origins: ['https://api.example.com'] }) });
 * ```
 */
export function tokenHooks(
  tokens: TokenProvider,
  options: TokenHooksOptions & { origins: readonly (string | URL)[] },
): TokenHooks {
  return hooksFor(tokens, options);
}

/**
 * `instance.extend()` with {@link tokenHooks} for the instance's own base (`baseUrl`, and `prefix` when it is an
 * absolute URL) and `options.origins`. The base is read from the instance's defaults now: one a single call passes,
 * or a later `extend()` sets, gets no token.
 *
 * @example
 * ```ts
 * const api = withTokens(ky.create({ baseUrl: 'https://api.example.com/', timeout: 5000 }), tokens);
 * const payments = await api.get('payments').json();
 * ```
 */
export function withTokens(instance: KyInstance, tokens: TokenProvider, options: TokenHooksOptions = {}): KyInstance {
  return instance.extend((defaults) => {
    const prefix = String(defaults.prefix ?? '');
    const origins = URL.canParse(prefix) ? [...(options.origins ?? []), prefix] : options.origins;
    return { hooks: hooksFor(tokens, { ...options, baseUrl: defaults.baseUrl, origins }) };
  });
}

function hooksFor(tokens: TokenProvider, options: TokenHooksOptions & TokenClientOptions): TokenHooks {
  const client = createTokenClient(tokens, options);
  const limit = options.maxReplayBytes ?? DEFAULT_MAX_REPLAY_BYTES;
  if (typeof limit !== 'number' || !(limit >= 0)) {
    throw new ConfigurationError('maxReplayBytes', 'must be a number of bytes, 0 or more');
  }
  return {
    init: [
      (o) => {
        // In ky's fetch, not a beforeRequest hook: ky's timeouts cover fetch, the URL is the one actually sent
        // (after every hook of the caller's), and each of ky's own retries starts from its clean copy.
        const send = o.fetch ?? globalFetch;
        const body = knownSize(o);
        // fetch would follow redirects out of sight (a hop to another origin and back looks like an answer our
        // token reached): ky builds the request in 'manual' mode and core follows the hops, when the caller lets
        // fetch follow them. Set here, it costs nothing per request; fetch's own init would copy every header.
        const follow = o.redirect === undefined || o.redirect === 'follow';
        if (follow) o.redirect = 'manual';
        let request: OutgoingRequest | undefined;
        o.fetch = async function fetchWithToken(input, init) {
          const sending = input as Request; // ky always passes a Request
          const replayable = body.size !== undefined && body.size <= limit;
          request ??= client.start({
            callerAuthorization: sending.headers.has('authorization'),
            replayable,
            method: sending.method,
          });
          let value = request.headerSync(sending.url);
          if (value === undefined) value = (await request.header(sending.url, { signal: sending.signal })) ?? null;
          if (value !== null) sending.headers.set('authorization', value);
          if (request.dpop !== undefined) sending.headers.set('dpop', request.dpop);
          const copy = replayable && sending.body !== null ? sending.clone() : undefined; // for a 307, a 308, a 401
          const hops = { request, send, copy, init, follow };
          const response = await sendHops(hops, sending);
          // mayRetry first: most answers need no promise.
          if (
            !request.mayRetry(response.status, response.headers) ||
            !(await request.retryAfter(response.status, response.headers))
          )
            return response;
          void response.body?.cancel().catch(() => {}); // frees the connection, also if no fresh token comes
          const fresh = await request.header(sending.url, { signal: sending.signal });
          const headers = new Headers(sending.headers);
          if (fresh === undefined) headers.delete('authorization');
          else headers.set('authorization', fresh);
          if (request.dpop !== undefined) headers.set('dpop', request.dpop);
          else headers.delete('dpop');
          return sendHops(hops, new Request(copy?.clone() ?? sending, { headers }));
        };
      },
    ],
    beforeError: [
      ({ error }) => {
        // A Request's headers are out of conceal()'s reach (private fields): the one that carried our token loses it.
        const request = (error as { request?: unknown }).request;
        if (request instanceof Request && client.isOurs(request.headers.get('authorization')))
          request.headers.delete('authorization');
        return client.conceal(error);
      },
    ],
  };
}

interface Hops {
  request: OutgoingRequest;
  send: Fetch;
  /** A copy of the body, cloned for each 307/308 hop; without one such a hop ends the chain. */
  copy: Request | undefined;
  init: RequestInit | undefined;
  /** The caller lets fetch follow redirects. */
  follow: boolean;
}

/** Sends `first` and, when the caller lets fetch follow redirects, follows a redirect answer hop by hop through core. */
async function sendHops({ request, send, copy, init, follow }: Hops, first: Request): Promise<Response> {
  const response = await send(first, init);
  // A fetch of the caller's own that followed redirects itself anyway: judged by where the answer came from.
  if (response.redirected) request.answeredBy(response.url);
  if (!follow || response.status < 300 || response.status > 399) return response;
  const start: HopInit = {
    method: first.method,
    get headers() {
      return Object.fromEntries(first.headers);
    },
    body: first.body === null ? undefined : copy,
    redirect: 'manual',
  };
  const hop = (url: string, h: HopInit): Promise<Response> => {
    if (h === start) return Promise.resolve(response);
    const body = h.body === undefined ? null : (h.body as Request).clone().body;
    const next = {
      method: h.method ?? 'GET',
      headers: h.headers,
      body,
      signal: first.signal,
      redirect: 'manual',
      duplex: 'half',
    };
    return send(new Request(url, next as RequestInit), init);
  };
  return sendFollowingRedirects(hop, first.url, start, request, first.body === null || copy !== undefined);
}

/**
 * The size in bytes of the body ky was given, when known without reading it; a `json` body's once ky has
 * serialised it (by wrapping `stringifyJson`). Undefined for a stream or anything else of unknown size.
 */
function knownSize(o: Options): { size: number | undefined } {
  if (o.json === undefined) return { size: sizeOf(o.body) };
  const known: { size: number | undefined } = { size: undefined };
  const stringify = o.stringifyJson ?? ((data: unknown) => JSON.stringify(data));
  o.stringifyJson = (data) => {
    const text = stringify(data);
    known.size = typeof text === 'string' ? Buffer.byteLength(text) : undefined;
    return text;
  };
  return known;
}

function sizeOf(body: unknown): number | undefined {
  if (body === undefined || body === null) return 0;
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return body.byteLength;
  if (body instanceof Blob) return body.size;
  if (body instanceof URLSearchParams) return body.toString().length;
  if (body instanceof FormData) {
    let size = 0;
    for (const [, value] of body) size += typeof value === 'string' ? Buffer.byteLength(value) : value.size;
    return size;
  }
  return undefined;
}
