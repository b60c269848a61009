import { CanceledError, type AxiosError, type AxiosInstance, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { createRequestAuthorizer, type RequestAuthOptions, type TokenProvider } from '@tokenkit/core';

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
  memoryStore,
} from '@tokenkit/core';
export type {
  AccessToken,
  ClientAuthMethod,
  GetTokenOptions,
  Grant,
  PrivateKeyInput,
  RequestAuthOptions,
  StoredToken,
  TokenEndpointErrorCode,
  TokenEvent,
  TokenKitErrorCode,
  TokenProvider,
  TokenProviderOptions,
  TokenStore,
} from '@tokenkit/core';

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

type RedirectHook = NonNullable<InternalAxiosRequestConfig['beforeRedirect']> & { original?: RedirectHook };

/** Set on a config re-issued after a 401. A string key: older axios 1.x drops symbol keys when it merges configs. */
const RETRIED = 'tokenkitRetried';
/** axios's own test (`isAbsoluteURL`) for whether `url` replaces `baseURL`. */
const ABSOLUTE = /^([a-z][a-z\d+\-.]*:)?\/\//i;

/**
 * Puts `Authorization: Bearer <token>` from `tokens` on every request `api`
 * sends to its `baseURL` origin (or to `origins`), and nowhere else: not to
 * absolute URLs of other origins, not across redirects to an origin that is
 * not allowed. A 401 answer to a request that carried the token drops that
 * token and re-sends the request once with a fresh one (not when the body is
 * a stream). An `Authorization` header set by the caller is left alone.
 *
 * The wait for a token ends with the request's `signal` (rejecting with
 * axios's `CanceledError`) or its `timeout` (a `TokenEndpointError` with code
 * `timeout`). Token failures reject the request with core's typed errors.
 *
 * @returns A function that removes both interceptors again.
 * @throws {ConfigurationError} When `api` has no `baseURL` and no `origins` are given.
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
export function installTokenInterceptor(api: AxiosInstance, tokens: TokenProvider, options: TokenInterceptorOptions = {}): () => void {
  const auth = createRequestAuthorizer(tokens, { baseUrl: api.defaults.baseURL, origins: options.origins, retryOn401: options.retryOn401 });
  /** The Authorization value we set, per config object. */
  const sent = new WeakMap<object, string>();

  // follow-redirects (axios's Node transport) keeps Authorization on a redirect to a subdomain,
  // and older axios 1.x does not drop it there either: drop ours unless the target is allowed.
  const guardRedirect: RedirectHook = (redirect) => {
    if (auth.allows(String(redirect['href']))) return;
    const headers = redirect['headers'] as Record<string, unknown> | undefined;
    for (const name in headers) if (name.toLowerCase() === 'authorization') delete headers[name];
  };

  const onRequest = (config: InternalAxiosRequestConfig): InternalAxiosRequestConfig | Promise<InternalAxiosRequestConfig> => {
    if (config.headers.has('authorization')) return config; // the caller's own (also `false`: send none)
    const url = config.url ?? '';
    const base = config.baseURL;
    // A relative URL goes to baseURL's origin: checking baseURL itself keeps allows() on its string fast path.
    const target = base && (config.allowAbsoluteUrls === false || !ABSOLUTE.test(url)) ? base : url;
    if (!auth.allows(target)) return config;
    const signal = config.signal instanceof AbortSignal ? config.signal : undefined;
    // axios's `timeout` starts only when the request is sent: let it bound the wait for a token too.
    const timeoutMs = config.timeout !== undefined && config.timeout > 0 ? config.timeout : undefined;
    const wait = signal === undefined && timeoutMs === undefined ? undefined : { signal, timeoutMs };
    return auth.authorize(target, wait).then(
      (value) => {
        if (value === undefined) return config;
        config.headers.set('Authorization', value);
        sent.set(config, value);
        const hook = config.beforeRedirect as RedirectHook | undefined;
        if (hook === undefined) config.beforeRedirect = guardRedirect;
        else {
          const chained: RedirectHook = (redirect, response, request) => {
            guardRedirect(redirect, response, request);
            hook(redirect, response, request);
          };
          chained.original = hook;
          config.beforeRedirect = chained;
        }
        return config;
      },
      (error: unknown) => {
        throw config.signal?.aborted ? new CanceledError(undefined, config) : error;
      },
    );
  };

  /** Takes our header and redirect hook off a config that is done: a re-send of it starts afresh. */
  const release = (config: InternalAxiosRequestConfig): void => {
    sent.delete(config);
    config.headers.delete('Authorization');
    const hook = config.beforeRedirect as RedirectHook | undefined;
    if (hook === guardRedirect) delete config.beforeRedirect;
    else if (hook?.original !== undefined) config.beforeRedirect = hook.original;
  };

  /** Re-sends `config` once with a fresh token when core says a 401 earns it; else undefined. */
  const retry = async (config: InternalAxiosRequestConfig, value: string): Promise<AxiosResponse | undefined> => {
    const marked = config as unknown as Record<string, unknown>;
    const request = { retried: marked[RETRIED] === true, replayable: !isStream(config.data) };
    if (!(await auth.shouldRetry(401, value, request))) return undefined;
    release(config);
    marked[RETRIED] = true;
    return api.request(config);
  };

  const requestId = api.interceptors.request.use(onRequest);
  const responseId = api.interceptors.response.use(
    (response) => {
      const value = response.status === 401 ? sent.get(response.config) : undefined;
      return value === undefined ? response : retry(response.config, value).then((again) => again ?? response);
    },
    async (error: AxiosError | undefined) => {
      const config = error?.config;
      const value = config === undefined ? undefined : sent.get(config);
      if (value === undefined) throw error;
      const again = error!.response?.status === 401 ? await retry(config!, value) : undefined;
      if (again !== undefined) return again;
      release(config!);
      conceal(error!, value);
      throw error;
    },
  );
  return () => {
    api.interceptors.request.eject(requestId);
    api.interceptors.response.eject(responseId);
  };
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');
type Inspect = (value: unknown, options: object) => string;

/**
 * An AxiosError keeps the raw request (`error.request`), headers and all:
 * keep the token out of what util.inspect prints.
 */
function conceal(error: AxiosError, value: string): void {
  const token = value.slice(value.indexOf(' ') + 1);
  Object.defineProperty(error, INSPECT, {
    configurable: true,
    value(_depth: number, options: object, inspect: Inspect): string {
      const plain = Object.defineProperties(Object.create(Object.getPrototypeOf(error) as object), Object.getOwnPropertyDescriptors(error)) as Record<symbol, unknown>;
      delete plain[INSPECT];
      return inspect(plain, options).replaceAll(token, '[REDACTED]');
    },
  });
}

/** A body that is read once: a Node stream, a web ReadableStream or an async iterable. */
function isStream(data: unknown): boolean {
  if (typeof data !== 'object' || data === null) return false;
  const body = data as { pipe?: unknown; getReader?: unknown; [Symbol.asyncIterator]?: unknown };
  return typeof body.pipe === 'function' || typeof body.getReader === 'function' || typeof body[Symbol.asyncIterator] === 'function';
}
