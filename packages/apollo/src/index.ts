import {
  RESTDataSource,
  type AugmentedRequest,
  type CacheOptions,
  type DataSourceConfig,
  type RequestOptions,
} from '@apollo/datasource-rest';
import { ConfigurationError, type RequestAuthOptions, type TokenProvider } from '@tokenkit/core';
import {
  assertTokenProvider,
  createTokenClient,
  isReplayableBody,
  sendFollowingRedirects,
  type HopInit,
  type OutgoingRequest,
  type TokenClient,
} from '@tokenkit/core/adapter';
import { GraphQLError } from 'graphql';

// One install is enough: core's provider, errors and option types.
export * from '@tokenkit/core';

type Fetcher = NonNullable<DataSourceConfig['fetch']>;
/** What HTTPCache hands its fetch: the whole request options, node-fetch 2's own `timeout` included. */
type FetcherInit = NonNullable<Parameters<Fetcher>[1]> & { timeout?: unknown };
type FetcherResponse = Awaited<ReturnType<Fetcher>>;

/** What our Authorization header reads once the request went out (as core's `conceal` writes it). */
const CONCEALED = '[REDACTED]';

/** `extensions.code` of the error a GraphQL client sees when no token could be had for a request. */
export const UPSTREAM_AUTHENTICATION_FAILED = 'UPSTREAM_AUTHENTICATION_FAILED';

/**
 * What {@link OAuthRESTDataSource} accepts: RESTDataSource's own config (`cache`, `fetch`, `logger`), the provider
 * and the shared adapter options.
 * @example
 * ```ts
 * const config: OAuthDataSourceConfig = { tokens, cache: server.cache, origins: ['https://files.example.com'] };
 * ```
 */
export interface OAuthDataSourceConfig extends DataSourceConfig, RequestAuthOptions {
  /** The token provider; share one across requests (it caches the token). */
  tokens: TokenProvider;
}

/**
 * A `RESTDataSource` that sends a `@tokenkit/core` access token to its own API (`baseURL`, plus `origins`) and
 * nowhere else. The token is put on in the HTTP cache's fetch, on the URL actually fetched (after `resolveURL`,
 * however it is defined); redirects are followed there hop by hop, and a 401 to our token is retried there once
 * with a fresh one. The shared HTTP cache is keyed by the provider, so tenants never see each other's responses.
 *
 * Subclasses that override `cacheKeyFor` or `didEncounterError` must call `super`.
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
  #client: TokenClient | undefined;
  #clientBase: string | undefined;

  constructor(config: OAuthDataSourceConfig) {
    super(config);
    const { tokens, origins, retryOn401 } = config ?? ({} as Partial<OAuthDataSourceConfig>);
    assertTokenProvider(tokens);
    this.tokens = tokens;
    this.#options = { origins, retryOn401 };
    if (origins !== undefined && (!Array.isArray(origins) || origins.length > 0))
      createTokenClient(tokens, this.#options); // a bad origin fails here
    const cache = this.httpCache as unknown as { httpFetch?: Fetcher };
    const inner = cache.httpFetch;
    if (typeof inner !== 'function')
      throw new ConfigurationError('fetch', 'this @apollo/datasource-rest version is not supported');
    cache.httpFetch = (url, init) => this.#fetch(inner, url, init ?? {});
  }

  /** Made on the first request: `baseURL` is a class field, set after the constructor ran (and it may change). */
  #tokenClient(): TokenClient {
    if (this.#client === undefined || this.#clientBase !== this.baseURL) {
      this.#client = createTokenClient(this.tokens, { ...this.#options, baseUrl: this.baseURL });
      this.#clientBase = this.baseURL;
    }
    return this.#client;
  }

  /** Does nothing about tokens (they are put on later, on the URL actually fetched); here so overrides may call super. */
  protected override willSendRequest(_path: string, _request: AugmentedRequest<CO>): void | Promise<void> {}

  /** The shared-cache and de-duplication key carries the provider's identity (`tokens.key`, never the token). */
  protected override cacheKeyFor(url: URL, request: RequestOptions<CO>): string {
    return `${super.cacheKeyFor(url, request)} tokenkit:${this.tokens.key}`;
  }

  /** Removes our token from the error (an `errorFromResponse` override may put the request in it). */
  protected override didEncounterError(error: Error, request: RequestOptions<CO>, url?: URL): void {
    this.#client?.conceal(error);
    super.didEncounterError(error, request, url);
  }

  /** One request as HTTPCache sends it, to the URL actually fetched (all hooks have run). */
  async #fetch(inner: Fetcher, url: string, init: FetcherInit): Promise<FetcherResponse> {
    const client = this.#tokenClient();
    // The token goes on these very headers: HTTPCache reads them for its policy after the fetch, and stores an
    // answer to a request with Authorization only when the answer allows a shared cache to (RFC 9111 §3.5).
    const headers = (init.headers ??= {});
    const callerAuthorization = ownAuthorization(headers, client);
    const replayable = isReplayableBody(init.body);
    const request = client.start({ callerAuthorization, replayable, method: init.method });
    // node-fetch 2 (the default) keeps Authorization on a redirect that only changes the port: follow them here.
    const follow = init.redirect !== 'manual' && init.redirect !== 'error';
    const hop = inner as (to: string, next: HopInit) => Promise<FetcherResponse>; // each hop is a plain fetch
    for (;;) {
      const value = request.headerSync(url);
      const header = value === undefined ? await tokenFor(request, url, init) : value;
      if (typeof header === 'string') headers['authorization'] = header;
      if (request.dpop !== undefined) headers['dpop'] = request.dpop;
      let response: FetcherResponse;
      try {
        response = follow
          ? await sendFollowingRedirects(hop, url, { ...init, headers, redirect: 'manual' }, request, replayable)
          : await inner(url, init);
      } finally {
        // Sent: the token leaves these headers, which live on. HTTPCache's policy stores them in the shared cache
        // when an answer varies, and RESTDataSource hands them to errorFromResponse and didEncounterError.
        if (typeof header === 'string') headers['authorization'] = CONCEALED;
        if (request.dpop !== undefined) delete headers['dpop']; // for this attempt only: a re-send gets a fresh one
      }
      if (!(await request.retryAfter(response.status, response.headers))) return response;
      await response.arrayBuffer().catch(() => undefined); // frees the connection; the retry's answer is what HTTPCache sees
    }
  }
}

/**
 * True when the caller set Authorization (any letter case). A value of ours (a request object sent before) is
 * removed instead: it is not the caller's.
 */
function ownAuthorization(headers: Record<string, string>, client: TokenClient): boolean {
  for (const name in headers) {
    if (name.toLowerCase() !== 'authorization') continue;
    if (!client.isOurs(headers[name])) return true;
    delete headers[name];
  }
  return false;
}

/**
 * Waits for a token, bounded by the request's `signal` and node-fetch 2's `timeout`. A failure to get one reaches
 * GraphQL clients only as "upstream authentication failed"; the caller's own abort reason is passed on as it is.
 */
function tokenFor(request: OutgoingRequest, url: string, init: FetcherInit): Promise<string | undefined> {
  const signal = init.signal as AbortSignal | undefined;
  const timeoutMs = typeof init.timeout === 'number' && init.timeout > 0 ? init.timeout : undefined;
  return request.header(url, { signal, timeoutMs }).catch((error: unknown) => {
    throw signal !== undefined && error === signal.reason ? error : upstreamFailure(error);
  });
}

/**
 * The error a resolver gets for a token-endpoint failure. The endpoint's text (its error description, an echoed
 * credential) stays server-side: `originalError` and `cause` (for `findTokenKitError`) hold core's typed error;
 * Apollo serializes neither. Not the constructor's `originalError` option: GraphQLError would take its stack,
 * whose first line is that text, and Apollo shows stacks with `includeStacktraceInErrorResponses`.
 */
function upstreamFailure(cause: unknown): GraphQLError {
  const error = new GraphQLError('upstream authentication failed', {
    extensions: { code: UPSTREAM_AUTHENTICATION_FAILED },
  });
  const hidden = { value: cause, writable: true, configurable: true, enumerable: false };
  return Object.defineProperties(error, { originalError: hidden, cause: hidden });
}
