import { ConfigurationError } from './errors.ts';
import type { GetTokenOptions, TokenProvider } from './token-provider.ts';
import { isSecureUrl, tryParseUrl } from './url.ts';

/** Options every adapter accepts. */
export interface RequestAuthOptions {
  /**
   * Origins that receive the token, besides the client's base URL, e.g.
   * `['https://files.example.com']`. A request to any other origin goes out
   * without it. Each must be HTTPS (or loopback).
   */
  origins?: readonly (string | URL)[] | undefined;
  /** Invalidate the token and retry once when a request that carried it gets 401. Default true. */
  retryOn401?: boolean | undefined;
}

/**
 * The decisions an adapter takes about one request, made the same way for
 * every HTTP client: which URLs get the token, and when a 401 earns a retry.
 * Adapters only translate their client's hook shape into these calls.
 */
export interface RequestAuthorizer {
  /** The provider whose tokens are sent. */
  readonly tokens: TokenProvider;
  /** True when a request to `url` may carry the token (its origin is allowed). */
  allows(url: string | URL): boolean;
  /**
   * The `Authorization` value for a request to `url`, or undefined when the
   * request must go out without the token. Waits for a token if none is
   * cached, bounded by `wait.signal` and `wait.timeoutMs`.
   */
  authorize(url: string | URL, wait?: GetTokenOptions): Promise<string | undefined>;
  /**
   * The synchronous form of {@link RequestAuthorizer.authorize} for hot paths:
   * the `Authorization` value when a token is cached, `null` when `url` must
   * not get the token, or `undefined` when no token can be served without
   * waiting — then call `authorize()`.
   */
  authorizeSync(url: string | URL): string | null | undefined;
  /**
   * Called with an answer's status. When the request carried our token
   * (`sent`), got 401 and was not retried yet, the token is invalidated; the
   * result is true when its body can be sent again: retry once, with a fresh
   * token. Otherwise false.
   */
  shouldRetry(
    status: number,
    sent: string | undefined,
    request: { retried: boolean; replayable: boolean },
  ): Promise<boolean>;
}

const NO_HEADER: Promise<undefined> = Promise.resolve(undefined);

/**
 * Throws a `ConfigurationError` naming `tokens` unless `value` is a
 * {@link TokenProvider}; for adapters that check their arguments before they
 * know the client's base URL.
 * @example
 * ```ts
 * assertTokenProvider(config.tokens); // in an adapter's constructor
 * ```
 */
export function assertTokenProvider(value: unknown): asserts value is TokenProvider {
  const tokens = value as Partial<TokenProvider> | undefined;
  if (
    typeof tokens?.authorizationHeader !== 'function' ||
    typeof tokens.cachedAuthorizationHeader !== 'function' ||
    typeof tokens.invalidate !== 'function'
  ) {
    throw new ConfigurationError('tokens', 'must be a TokenProvider from createTokenProvider()');
  }
}
const BEARER = 'Bearer ';

/** `url` is "<origin>" followed by nothing, '/', '?' or '#'. (Anything else is parsed: see allowsParsed.) */
function startsWithOrigin(url: string, origin: string): boolean {
  if (!url.startsWith(origin)) return false;
  const next = url.charCodeAt(origin.length);
  return next !== next /* NaN: the end */ || next === 47 /* / */ || next === 63 /* ? */ || next === 35 /* # */;
}

/** The slow path of an origin check: parse the URL. */
function allowsParsed(url: string | URL, origins: ReadonlySet<string>): boolean {
  const parsed = tryParseUrl(url);
  return parsed !== undefined && origins.has(parsed.origin);
}

/**
 * Creates the {@link RequestAuthorizer} an adapter uses. `baseUrl` is the
 * client's own base URL (axios/Apollo `baseURL`, got `prefixUrl`, ky
 * `baseUrl`/`prefix`); with neither it nor `origins`, the token would go
 * nowhere, which is a `ConfigurationError`.
 *
 * @example
 * ```ts
 * const auth = createRequestAuthorizer(tokens, { baseUrl: 'https://api.example.com', origins: [] });
 * const header = await auth.authorize(url, { signal }); // undefined for other origins
 * ```
 */
export function createRequestAuthorizer(
  tokens: TokenProvider,
  options: RequestAuthOptions & { baseUrl?: string | URL | undefined },
): RequestAuthorizer {
  assertTokenProvider(tokens);
  const origins = new Set<string>();
  const addOrigin = (value: string | URL, name: string) => {
    const url = typeof value === 'string' || value instanceof URL ? tryParseUrl(value) : undefined;
    if (url === undefined || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new ConfigurationError(name, `${String(value)} is not an http(s) URL`);
    }
    if (!isSecureUrl(url))
      throw new ConfigurationError(name, `${url.origin} is not HTTPS; tokens go only over HTTPS (or to loopback)`);
    origins.add(url.origin);
  };
  if (options.baseUrl !== undefined && options.baseUrl !== '') addOrigin(options.baseUrl, 'baseUrl');
  if (options.origins !== undefined) {
    if (!Array.isArray(options.origins)) throw new ConfigurationError('origins', 'must be an array of URLs');
    for (const origin of options.origins) addOrigin(origin, 'origins');
  }
  if (origins.size === 0) {
    throw new ConfigurationError(
      'origins',
      'the client has no base URL: pass `origins` to say which API may receive the token',
    );
  }
  const retryOn401 = options.retryOn401 ?? true;
  const prefixes = [...origins];

  // Runs on every request, right after a network round trip, where every instruction and cache
  // line shows: a small function for the common case (one origin, a URL string that starts with
  // it), and the parse kept out of line.
  const only = prefixes.length === 1 ? prefixes[0] : undefined;
  const allows = (url: string | URL): boolean => {
    if (typeof url === 'string') {
      if (only !== undefined) {
        if (startsWithOrigin(url, only)) return true;
      } else {
        for (let i = 0; i < prefixes.length; i++) if (startsWithOrigin(url, prefixes[i]!)) return true;
      }
    }
    return allowsParsed(url, origins);
  };

  return {
    tokens,
    allows,
    authorize(url, wait) {
      return allows(url) ? tokens.authorizationHeader(wait) : NO_HEADER;
    },
    authorizeSync(url) {
      return allows(url) ? tokens.cachedAuthorizationHeader() : null;
    },
    async shouldRetry(status, sent, request) {
      if (status !== 401 || !retryOn401 || request.retried) return false;
      if (sent === undefined || !sent.startsWith(BEARER)) return false;
      // Rejected: never serve it again, even when this request cannot be re-sent.
      await tokens.invalidate(sent.slice(BEARER.length));
      // Re-sending is worth it only with another token (invalidate may keep one, see there).
      return request.replayable && tokens.cachedAuthorizationHeader() !== sent;
    },
  };
}

/** How many bases {@link requestAuthorizerPerBase} keeps authorizers for. */
const MAX_BASES = 32;

/**
 * For adapters whose hooks learn the client's base URL only per request
 * (got's `prefixUrl`, ky's `baseUrl`/`prefix`): a function that gives the
 * {@link RequestAuthorizer} for a base (`''`: none, so `origins` only). Each
 * is built on first use; up to 32 are kept, so per-call bases from varying
 * input cannot grow memory, and further ones are built per call. With
 * `origins`, bad `tokens` or `origins` throw here, not on the first request.
 *
 * @example
 * ```ts
 * const authorizerFor = requestAuthorizerPerBase(tokens, { origins, retryOn401 });
 * const header = authorizerFor(options.prefixUrl).authorizeSync(url);
 * ```
 */
export function requestAuthorizerPerBase(
  tokens: TokenProvider,
  options: RequestAuthOptions = {},
): (base: string) => RequestAuthorizer {
  assertTokenProvider(tokens);
  const settings = { origins: options.origins, retryOn401: options.retryOn401 };
  const kept = new Map<string, RequestAuthorizer>();
  // The last one at hand: a client sends all its requests with one base, and right after a
  // network round-trip every lookup saved shows in the adapters' overhead.
  let lastBase: string | undefined;
  let last: RequestAuthorizer | undefined;
  const authorizerFor = (base: string): RequestAuthorizer => {
    if (base === lastBase) return last!;
    let authorizer = kept.get(base);
    if (authorizer === undefined) {
      authorizer = createRequestAuthorizer(tokens, { ...settings, baseUrl: base === '' ? undefined : base });
      if (kept.size < MAX_BASES) kept.set(base, authorizer);
    }
    lastBase = base;
    last = authorizer;
    return authorizer;
  };
  const { origins } = options;
  if (origins !== undefined && (!Array.isArray(origins) || origins.length > 0)) authorizerFor('');
  return authorizerFor;
}
