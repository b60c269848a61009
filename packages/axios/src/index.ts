import { CanceledError, type AxiosError, type AxiosInstance, type AxiosResponse, type InternalAxiosRequestConfig } from 'axios';
import { createRequestAuthorizer, type RequestAuthOptions, type TokenProvider } from '@tokenkit/core';

export {
  ConfigurationError, OAuthError, TokenEndpointError, TokenKitError, createTokenProvider, findTokenKitError,
  isOAuthError, isTokenEndpointError, isTokenKitError, memoryStore,
} from '@tokenkit/core';
export type {
  AccessToken, CertificateInput, ClientAuthMethod, GetTokenOptions, Grant, PrivateKeyInput, RequestAuthOptions, StoredToken,
  TokenEndpointErrorCode, TokenEvent, TokenKitErrorCode, TokenProvider, TokenProviderOptions, TokenStore,
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

type RedirectHook = NonNullable<InternalAxiosRequestConfig['beforeRedirect']>;

/** Set on a config re-sent after a 401. A string key: older axios 1.x drops symbol keys when it merges configs. */
const RETRIED = 'tokenkitRetried';
/** axios's own test (`isAbsoluteURL`) for whether `url` replaces `baseURL`. */
const ABSOLUTE = /^([a-z][a-z\d+\-.]*:)?\/\//i;
/** How many recent Authorization values are recognised as ours (tokens rotate rarely). */
const REMEMBERED = 8;

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
 * It adds two request interceptors (one synchronous, used while a token is
 * cached, so axios can skip its promise chain; one that waits for a token), a
 * response interceptor, and a `beforeRedirect` default.
 *
 * @returns A function that removes all of that again.
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
  // The Authorization values we have set. Nothing else marks a config as ours: every property added
  // to axios's config showed in the benchmark. On a 401, an error or a redirect, a header holding
  // one of these values is ours.
  const issued = new Set<string>();
  const ours = (value: unknown): value is string => typeof value === 'string' && issued.has(value);

  // follow-redirects (axios's Node transport) keeps Authorization on a redirect to a subdomain,
  // and older axios 1.x does not drop it there either: drop ours unless the target is allowed.
  const guard: RedirectHook = (redirect) => {
    const headers = redirect['headers'] as Record<string, unknown> | undefined;
    for (const name in headers) if (name.toLowerCase() === 'authorization' && ours(headers[name]) && !auth.allows(String(redirect['href']))) delete headers[name];
  };
  const chain = (hook: RedirectHook): RedirectHook => (redirect, response, request) => {
    guard(redirect, response, request);
    hook(redirect, response, request);
  };
  const previousHook = api.defaults.beforeRedirect;
  const defaultHook = previousHook === undefined ? guard : chain(previousHook);
  api.defaults.beforeRedirect = defaultHook;

  /** Where the token would go, or undefined: the caller set Authorization (also `false`: send none), or the origin is not allowed. */
  const targetOf = (config: InternalAxiosRequestConfig): string | undefined => {
    if (hasAuthorization(config.headers)) return undefined;
    const url = config.url ?? '';
    const base = config.baseURL;
    // A relative URL goes to baseURL's origin: checking baseURL itself keeps allows() on its string fast path.
    const target = base && (config.allowAbsoluteUrls === false || !ABSOLUTE.test(url)) ? base : url;
    return auth.allows(target) ? target : undefined;
  };
  const attach = (config: InternalAxiosRequestConfig, value: string): InternalAxiosRequestConfig => {
    // targetOf() found no authorization header under any spelling, and core checked the token's
    // characters: a plain assignment does what headers.set() would, without searching again.
    config.headers['Authorization'] = value;
    const hook = config.beforeRedirect;
    if (hook !== defaultHook) config.beforeRedirect = hook === undefined ? guard : chain(hook);
    return config;
  };

  const remember = (value: string): string => {
    if (!issued.has(value)) {
      if (issued.size === REMEMBERED) issued.delete(issued.values().next().value!);
      issued.add(value);
    }
    return value;
  };
  // While a token is cached core answers synchronously, so a synchronous interceptor (picked per
  // request with runWhen, which axios evaluates before running the chain) spares axios its promise
  // chain; otherwise the async interceptor waits for a token.
  let judged: InternalAxiosRequestConfig | undefined;
  let judgedValue: string | null | undefined;
  const judge = (config: InternalAxiosRequestConfig): string | null | undefined => {
    if (judged !== config) {
      judged = config;
      const target = targetOf(config);
      judgedValue = target === undefined ? null : auth.authorizeSync(target);
    }
    return judgedValue;
  };
  const isHot = (config: InternalAxiosRequestConfig): boolean => typeof judge(config) === 'string';
  const onHot = (config: InternalAxiosRequestConfig): InternalAxiosRequestConfig => {
    const value = judge(config);
    judged = undefined; // a re-sent config (the 401 retry) is judged again
    return typeof value === 'string' ? attach(config, remember(value)) : config;
  };
  const onCold = (config: InternalAxiosRequestConfig): InternalAxiosRequestConfig | Promise<InternalAxiosRequestConfig> => {
    judged = undefined;
    const target = targetOf(config);
    if (target === undefined) return config;
    const signal = config.signal instanceof AbortSignal ? config.signal : undefined;
    // axios's `timeout` starts only when the request is sent: let it bound the wait for a token too.
    const timeoutMs = config.timeout !== undefined && config.timeout > 0 ? config.timeout : undefined;
    const wait = signal === undefined && timeoutMs === undefined ? undefined : { signal, timeoutMs };
    return auth.authorize(target, wait).then(
      (value) => (value === undefined ? config : attach(config, remember(value))),
      (error: unknown) => {
        throw config.signal?.aborted ? new CanceledError(undefined, config) : error;
      },
    );
  };

  /** Re-sends `config` once with a fresh token when core says a 401 earns it; else undefined. */
  const retry = async (config: InternalAxiosRequestConfig, value: string): Promise<AxiosResponse | undefined> => {
    const marked = config as InternalAxiosRequestConfig & { [RETRIED]?: true };
    if (!(await auth.shouldRetry(401, value, { retried: marked[RETRIED] === true, replayable: !isStream(config.data) }))) return undefined;
    config.headers.delete('Authorization'); // ours and stale: the interceptor sets a fresh one
    marked[RETRIED] = true;
    // Re-sent as a plain object: axios 1.0 cannot merge an AxiosHeaders instance into a new config (it
    // loses every header, and for GET takes the instance's get() method for the method's defaults).
    // Current axios makes the same copy itself (mergeConfig's headersToObject).
    config.headers = { ...config.headers } as InternalAxiosRequestConfig['headers'];
    return api.request(config);
  };

  const ids = [
    api.interceptors.request.use(onHot, null, { synchronous: true, runWhen: isHot }),
    api.interceptors.request.use(onCold, null, { runWhen: (config) => !isHot(config) }),
  ];
  const responseId = api.interceptors.response.use(
    (response) => {
      const value: unknown = response.status === 401 ? response.config.headers?.get?.('Authorization') : undefined;
      return ours(value) ? retry(response.config, value).then((again) => again ?? response) : response;
    },
    async (error: AxiosError | undefined) => {
      const config = error?.config;
      const value: unknown = config?.headers?.get?.('Authorization'); // any error at all comes through here
      if (!ours(value)) throw error;
      const again = error!.response?.status === 401 ? await retry(config!, value) : undefined;
      if (again !== undefined) return again;
      // A re-send of error.config (as axios-retry does) then gets a fresh header, and logs show no token.
      config!.headers.delete('Authorization');
      conceal(error!, value);
      throw error;
    },
  );
  return () => {
    for (const id of ids) api.interceptors.request.eject(id);
    api.interceptors.response.eject(responseId);
    if (api.defaults.beforeRedirect !== defaultHook) return;
    if (previousHook === undefined) delete api.defaults.beforeRedirect;
    else api.defaults.beforeRedirect = previousHook;
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

/** What `headers.has('authorization')` answers, without normalising and searching through every name. */
function hasAuthorization(headers: InternalAxiosRequestConfig['headers']): boolean {
  for (const name in headers) if (name.length === 13 && name.toLowerCase() === 'authorization' && headers[name] !== undefined) return true;
  return false;
}

/** A body that is read once: a Node stream, a web ReadableStream or an async iterable. */
function isStream(data: unknown): boolean {
  if (typeof data !== 'object' || data === null) return false;
  const body = data as { pipe?: unknown; getReader?: unknown; [Symbol.asyncIterator]?: unknown };
  return typeof body.pipe === 'function' || typeof body.getReader === 'function' || typeof body[Symbol.asyncIterator] === 'function';
}
