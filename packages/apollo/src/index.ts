import {
  RESTDataSource,
  type AugmentedRequest,
  type CacheOptions,
  type DataSourceConfig,
  type DataSourceFetchResult,
  type DataSourceRequest,
  type RequestOptions,
} from '@apollo/datasource-rest';
import { assertTokenProvider, ConfigurationError, createRequestAuthorizer, type RequestAuthOptions, type RequestAuthorizer, type TokenProvider } from '@tokenkit/core';

// One install is enough: core's provider, errors and option types, re-exported by name.
export {
  ConfigurationError, OAuthError, TokenEndpointError, TokenKitError, createTokenProvider, findTokenKitError,
  isOAuthError, isTokenEndpointError, isTokenKitError, memoryStore,
} from '@tokenkit/core';
export type {
  AccessToken, CertificateInput, ClientAuthMethod, GetTokenOptions, Grant, PrivateKeyInput, RequestAuthOptions, StoredToken,
  TokenEndpointErrorCode, TokenEvent, TokenKitErrorCode, TokenProvider, TokenProviderOptions, TokenStore,
} from '@tokenkit/core';

type Fetcher = NonNullable<DataSourceConfig['fetch']>;
type FetcherInit = NonNullable<Parameters<Fetcher>[1]>;
type FetcherResponse = Awaited<ReturnType<Fetcher>>;

/**
 * What {@link OAuthRESTDataSource} accepts: RESTDataSource's own config
 * (`cache`, `fetch`, `logger`), the provider and the shared adapter options.
 * @example
 * ```ts
 * const config: OAuthDataSourceConfig = { tokens, cache: server.cache, origins: ['https://files.example.com'] };
 * ```
 */
export interface OAuthDataSourceConfig extends DataSourceConfig, RequestAuthOptions {
  /** The token provider; share one across requests (it caches the token). */
  tokens: TokenProvider;
}

/** Set on a request by `fetch()` so `willSendRequest` can say which token it sent. */
const SENT = Symbol('tokenkit.sent');
type Tracked = { [SENT]?: (authorization: string) => void };
const REDIRECT = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 20;
const CREDENTIALS = new Set(['authorization', 'proxy-authorization', 'cookie', 'cookie2']);
const BODY_HEADERS = new Set(['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location']);

/**
 * A `RESTDataSource` that sends a `@tokenkit/core` access token to its own
 * API (`baseURL`, plus `origins`) and nowhere else, follows redirects itself
 * so the token never crosses to another origin, retries once with a fresh
 * token after a 401, and keys the shared HTTP cache by the provider so
 * tenants never see each other's responses.
 *
 * Subclasses that override `willSendRequest`, `cacheKeyFor` or `fetch` must call `super`.
 *
 * @example
 * ```ts
 * class PaymentsAPI extends OAuthRESTDataSource {
 *   override baseURL = 'https://api.example.com/';
 *   getPayment(id: string) { return this.get(`payments/${encodeURIComponent(id)}`); }
 * }
 * // Apollo Server 5: one data source per request, one provider for all of them.
 * context: async () => ({ payments: new PaymentsAPI({ tokens, cache: server.cache }) })
 * ```
 */
export class OAuthRESTDataSource<CO extends CacheOptions = CacheOptions> extends RESTDataSource<CO> {
  /** The provider whose tokens this data source sends. */
  protected readonly tokens: TokenProvider;
  readonly #options: RequestAuthOptions;
  #auth: RequestAuthorizer | undefined;
  #authBase: string | undefined;
  /** resolveURL is RESTDataSource's own: resolve synchronously. */
  readonly #plainResolve: boolean;

  constructor(config: OAuthDataSourceConfig) {
    super(config);
    const { tokens, origins, retryOn401 } = config ?? ({} as Partial<OAuthDataSourceConfig>);
    assertTokenProvider(tokens);
    this.tokens = tokens;
    this.#options = { origins, retryOn401 };
    if (origins !== undefined && (!Array.isArray(origins) || origins.length > 0)) createRequestAuthorizer(tokens, this.#options); // fail fast on a bad origin
    // node-fetch 2 (the default) keeps Authorization on a redirect that only changes the port: follow redirects here instead.
    const cache = this.httpCache as unknown as { httpFetch?: Fetcher };
    const inner = cache.httpFetch;
    if (typeof inner !== 'function') throw new ConfigurationError('fetch', 'this @apollo/datasource-rest version is not supported');
    cache.httpFetch = (url, init = {}) => {
      if (init.redirect === 'manual' || init.redirect === 'error') return inner(url, init);
      const hop: FetcherInit = { ...init, redirect: 'manual' };
      return inner(url, hop).then((response) => (REDIRECT.has(response.status) ? this.#follow(inner, url, hop, response) : response));
    };
    this.#plainResolve = this.resolveURL === RESTDataSource.prototype['resolveURL'];
  }

  /** Made lazily: `baseURL` is a class field, set after this constructor ran. */
  #authorizer(): RequestAuthorizer {
    if (this.#auth === undefined || this.#authBase !== this.baseURL) {
      this.#auth = createRequestAuthorizer(this.tokens, { ...this.#options, baseUrl: this.baseURL });
      this.#authBase = this.baseURL;
    }
    return this.#auth;
  }

  /** Sets `authorization` unless the caller did; overrides must call `super.willSendRequest(path, request)`. */
  protected override willSendRequest(path: string, request: AugmentedRequest<CO>): void | Promise<void> {
    if (request.headers['authorization'] !== undefined) return;
    const auth = this.#authorizer();
    const timeout = (request as { timeout?: unknown }).timeout; // node-fetch 2's own per-request timeout
    const wait = request.signal === undefined && timeout === undefined ? undefined : { signal: request.signal as AbortSignal | undefined, timeoutMs: typeof timeout === 'number' && timeout > 0 ? timeout : undefined };
    const url = this.#plainResolve && this.baseURL !== undefined ? (staysOnBase(path) ? this.baseURL : new URL(path, this.baseURL).href) : undefined;
    const header = url !== undefined ? auth.authorize(url, wait) : Promise.resolve(this.resolveURL(path, request)).then((resolved) => auth.authorize(resolved.href, wait));
    return header.then((value) => {
      if (value === undefined) return;
      request.headers['authorization'] = value;
      (request as Tracked)[SENT]?.(value);
    });
  }

  /** The shared-cache and de-duplication key carries the provider's identity (`tokens.key`, never the token). */
  protected override cacheKeyFor(url: URL, request: RequestOptions<CO>): string {
    return `${super.cacheKeyFor(url, request)} tokenkit:${this.tokens.key}`;
  }

  /** Retries once with a fresh token when a request that carried ours got 401. */
  override fetch<TResult>(path: string, request: DataSourceRequest<CO> = {}): Promise<DataSourceFetchResult<TResult>> {
    let sent: string | undefined;
    const tracked: DataSourceRequest<CO> & Tracked = { ...request };
    tracked[SENT] = (header) => void (sent = header);
    return super.fetch<TResult>(path, tracked).catch(async (error: unknown) => {
      const status = (error as { extensions?: { response?: { status?: unknown } } } | null)?.extensions?.response?.status;
      if (typeof status !== 'number' || sent === undefined) throw error;
      const retry = await this.#authorizer().shouldRetry(status, sent, { retried: false, replayable: isReplayable(request.body) });
      if (!retry) throw error;
      return super.fetch<TResult>(path, request);
    });
  }

  /** Follows redirects from `response` (the answer to `url`), re-deciding credentials per hop. */
  async #follow(inner: Fetcher, url: string, hop: FetcherInit, response: FetcherResponse): Promise<FetcherResponse> {
    let current = url;
    let first: URL | undefined;
    for (let hops = 0; ; hops++) {
      const location = REDIRECT.has(response.status) ? response.headers.get('location') : null;
      if (location === null) return response;
      const toGet = response.status === 303 ? hop.method !== 'HEAD' : response.status <= 302 && hop.method === 'POST';
      if (!toGet && !isReplayable(hop.body)) return response; // a stream cannot be sent again
      if (hops >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects from ${new URL(url).origin}`);
      await response.arrayBuffer().catch(() => undefined); // frees the connection
      const next = new URL(location, current);
      first ??= new URL(url);
      // Credentials stay on the first origin, or move between origins that may all get the token.
      const keep = next.origin === first.origin || (this.#authorizer().allows(first) && this.#authorizer().allows(next));
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(hop.headers ?? {})) {
        const lower = name.toLowerCase();
        if ((keep || !CREDENTIALS.has(lower)) && !(toGet && BODY_HEADERS.has(lower))) headers[name] = value;
      }
      if (toGet) {
        const { body: _dropped, ...rest } = hop;
        hop = { ...rest, method: 'GET', headers };
      } else hop = { ...hop, headers };
      current = next.href;
      response = await inner(current, hop);
    }
  }
}

/**
 * True when `path`, resolved against an http(s) base URL, surely lands on the base's origin: a relative
 * path with no scheme and no authority. Conservative: anything unusual returns false and is parsed instead.
 */
function staysOnBase(path: string): boolean {
  let maybeScheme = true; // until the first '/', '?' or '#', a ':' would end a scheme
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    // Backslash (a slash to the URL parser), tab and newlines (removed by it), a leading control or space (stripped).
    if (c === 92 || c === 9 || c === 10 || c === 13 || (i === 0 && c <= 32)) return false;
    if (c === 47 || c === 63 || c === 35) {
      if (i === 1 && c === 47 && path.charCodeAt(0) === 47) return false; // '//host': another authority
      maybeScheme = false;
    } else if (c === 58 && maybeScheme) return false;
  }
  return true;
}

/** Strings, buffers, plain objects (sent as JSON) can be sent twice; streams and async iterables cannot. */
function isReplayable(body: unknown): boolean {
  if (body === undefined || body === null || typeof body !== 'object') return true;
  const b = body as { pipe?: unknown; getReader?: unknown };
  return typeof b.pipe !== 'function' && typeof b.getReader !== 'function' && !(Symbol.asyncIterator in body);
}
