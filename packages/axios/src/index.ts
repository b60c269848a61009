import axios, {
  type AxiosAdapter,
  type AxiosInstance,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
import { ConfigurationError, type GetTokenOptions, type RequestAuthOptions, type TokenProvider } from '@tokenkit/core';
import { createTokenClient, isReplayableBody, type OutgoingRequest, type TokenClient } from '@tokenkit/core/adapter';

export * from '@tokenkit/core';

/**
 * Options of {@link installTokenInterceptor}: `origins` that receive the token
 * besides the instance's `baseURL`, and `retryOn401` (default true).
 *
 * @example
 * ```ts
 * const options: TokenInterceptorOptions = { origins: ['https://files.example.com'], retryOn401: true };
 * ```
 */
export type TokenInterceptorOptions = RequestAuthOptions;

type Config = InternalAxiosRequestConfig;
type Headers = Record<string, unknown>;

/** axios's own test (`isAbsoluteURL`, the same in every 1.x) for whether `url` replaces `baseURL`. */
const ABSOLUTE = /^([a-z][a-z\d+\-.]*:)?\/\//i;
const AUTHORIZATION = 'Authorization';
const DPOP = 'DPoP';

/**
 * Puts `Authorization: Bearer <token>` from `tokens` on every request `api`
 * sends to its `baseURL` origin (or to `origins`), and nowhere else. The
 * decision is taken in axios's transport adapter, on the URL it is about to
 * send after every request interceptor ran. A redirect hop keeps the token
 * only to an allowed origin, and once dropped it never comes back. A 401 to a
 * hop that carried the token drops that token and sends the request once more
 * with a fresh one (not when the body is a stream); response interceptors see
 * only the final answer. An `Authorization` header set by the caller is left
 * alone. Errors the request rejects with hold no token.
 *
 * The wait for a token ends with the request's `signal` (axios then rejects
 * with its `CanceledError`) or its `timeout` (a `TokenEndpointError` with code
 * `timeout`). Token failures reject the request with core's typed errors.
 *
 * @returns A function that removes it again.
 * @throws {ConfigurationError} When `api` has no `baseURL` and no `origins` are given, or on axios 1.2 to 1.4
 *   (outside the peer range), which cannot resolve a named adapter for a wrapper.
 * @example
 * ```ts
 * import axios from 'axios';
 * import { createTokenProvider, installTokenInterceptor } from '@tokenkit/axios';
 *
 * const tokens = createTokenProvider({ tokenEndpoint: 'https://auth.example.com/oauth2/token', clientId, clientSecret });
 * const api = axios.create({ baseURL: 'https://api.example.com' });
 * const uninstall = installTokenInterceptor(api, tokens);
 * const { data } = await api.get('/payments');
 * ```
 */
export function installTokenInterceptor(
  api: AxiosInstance,
  tokens: TokenProvider,
  options: TokenInterceptorOptions = {},
): () => void {
  const { origins, retryOn401 } = options;
  const client = createTokenClient(tokens, { baseUrl: api.defaults.baseURL, origins, retryOn401 });
  const previous = api.defaults.adapter;
  const inner = previous ?? axios.defaults.adapter;
  const getAdapter = (axios as { getAdapter?: typeof axios.getAdapter }).getAdapter;
  if (typeof inner !== 'function' && getAdapter === undefined) {
    const why =
      'axios 1.2 to 1.4 keep their adapters private, so tokenkit cannot wrap a named one: use axios 1.5 or later';
    throw new ConfigurationError('adapter', why);
  }

  const transport: AxiosAdapter = async (config) => {
    const send = typeof inner === 'function' ? inner : getAdapter!(inner, config);
    const headers = config.headers as unknown as Headers;
    const found = authorizationName(headers);
    const name = found ?? AUTHORIZATION;
    // A value of ours on the config (a re-sent response.config) is not the caller's: it is decided afresh.
    const callerAuthorization = found !== undefined && !client.isOurs(headers[found]);
    const request = client.start({
      callerAuthorization,
      replayable: isReplayableBody(config.data),
      method: config.method,
    });
    const url = fullUrl(config);
    const own = config.beforeRedirect;
    config.beforeRedirect = (hop, response, details) => {
      redirect(client, request, hop);
      own?.(hop, response, details);
    };
    try {
      for (;;) {
        const value = request.headerSync(url) ?? (await request.header(url, waitOf(config)));
        if (value !== undefined) headers[name] = value;
        else if (client.isOurs(headers[name])) delete headers[name];
        if (request.dpop !== undefined) headers[DPOP] = request.dpop;
        let answer: AxiosResponse | undefined;
        try {
          answer = await send(config);
          if (!(await request.retryAfter(answer.status, answer.headers))) return answer;
        } catch (error) {
          answer = (error as { response?: AxiosResponse }).response;
          if (!(await request.retryAfter(answer?.status ?? 0, answer?.headers))) throw client.conceal(error);
        }
        (answer?.data as { destroy?: () => void } | undefined)?.destroy?.(); // a stream answer frees its socket
      }
    } finally {
      if (own === undefined) delete config.beforeRedirect;
      else config.beforeRedirect = own;
      if (request.sent !== undefined) {
        delete headers[name]; // a re-sent config gets a fresh one; logs show none
        delete headers[DPOP];
      }
    }
  };
  api.defaults.adapter = transport;
  // Errors axios raises after the transport (a transformResponse that throws) still hold the raw request.
  const concealing = api.interceptors.response.use(undefined, (error: unknown) =>
    Promise.reject(client.conceal(error)),
  );
  return () => {
    api.interceptors.response.eject(concealing);
    if (api.defaults.adapter !== transport) return;
    if (previous === undefined) delete api.defaults.adapter;
    else api.defaults.adapter = previous;
  };
}

/** A follow-redirects hop: our header stays (or comes back, where follow-redirects dropped it) only when core says so. */
function redirect(client: TokenClient, request: OutgoingRequest, hop: Record<string, unknown>): void {
  const headers = (hop['headers'] ??= {}) as Headers;
  for (const name in headers) {
    const lower = name.toLowerCase();
    if (lower === 'authorization' && client.isOurs(headers[name])) delete headers[name];
    // A proof is for one hop: the one our token carried there is ours (a fresh one follows, or none).
    else if (lower === 'dpop' && request.sent !== undefined) delete headers[name];
  }
  const method = typeof hop['method'] === 'string' ? hop['method'] : undefined;
  if (request.redirect(String(hop['href']), method)) {
    headers[AUTHORIZATION] = request.sent;
    if (request.dpop !== undefined) headers[DPOP] = request.dpop;
  }
}

/**
 * Where axios's transport sends `config` (`buildFullPath`), as far as the origin goes: a relative URL is joined to
 * `baseURL` keeping its origin. Releases differ on `allowAbsoluteUrls`: before 1.8 it is ignored, and the http
 * adapter honours it from 1.8.2 only. An absolute URL with it false could go to either place: unless both are the
 * same origin, the answer is one no origin matches.
 */
function sentUrl({ url = '', baseURL, allowAbsoluteUrls }: Config): string {
  if (!baseURL) return url;
  if (!ABSOLUTE.test(url)) return baseURL;
  return allowAbsoluteUrls !== false || URL.parse(url)?.origin === URL.parse(baseURL)?.origin ? url : '';
}

/**
 * {@link sentUrl} with the path (a DPoP proof names it): axios's `combineURLs` of `baseURL` and a relative `url`.
 * The query is left as it is; core reads what it needs.
 */
function fullUrl(config: Config): string {
  const url = sentUrl(config);
  const relative = config.url ?? '';
  if (url !== config.baseURL || !relative || ABSOLUTE.test(relative)) return url;
  return `${url.replace(/\/+$/, '')}/${relative.replace(/^\/+/, '')}`;
}

/** The request's own `signal` and `timeout` bound the wait for a token: axios's timer starts only once it sends. */
function waitOf({ signal, timeout }: Config): GetTokenOptions | undefined {
  const timeoutMs = timeout !== undefined && timeout > 0 ? timeout : undefined;
  const wait = { signal: signal instanceof AbortSignal ? signal : undefined, timeoutMs };
  return wait.signal === undefined && wait.timeoutMs === undefined ? undefined : wait;
}

/** The name `headers` hold an Authorization value under (axios keeps the caller's spelling; `false`: send none). */
function authorizationName(headers: Headers): string | undefined {
  for (const name in headers) {
    if (name.length === 13 && name.toLowerCase() === 'authorization' && headers[name] !== undefined) return name;
  }
  return undefined;
}
