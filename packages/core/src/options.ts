import type { CertificateInput, ClientAuthMethod, PrivateKeyInput } from './client-auth.ts';
import { clockFrom, systemClock, type Clock } from './clock.ts';
import { basicCredentials, withDebugOutput } from './debug.ts';
import { createDPoPBinding, type DPoPBinding, type DPoPOptions } from './dpop.ts';
import { ConfigurationError, type TokenEndpointErrorCode, type TokenKitError } from './errors.ts';
import { resolveOtherGrant, type ExtensionGrant, type JwtBearerGrant, type TokenExchangeGrant } from './grants.ts';
import { isMemoryStore, type StoredToken, type TokenStore } from './memory-store.ts';
import { resolveTls, type MutualTlsOptions, type ResolvedTls } from './mtls.ts';
import type { FetchLike } from './transport.ts';
import { isSecureUrl, tryParseUrl } from './url.ts';

/**
 * The grant used to get a token.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4 (client_credentials)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.3 (password)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-6 (refresh_token)
 * @see https://www.rfc-editor.org/rfc/rfc8693 (token_exchange)
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.1 (jwt_bearer)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.5 (extension: any other grant by its URI)
 */
export type Grant =
  | { type: 'client_credentials' }
  | { type: 'password'; username: string; password: string }
  | { type: 'refresh_token'; refreshToken: string }
  | TokenExchangeGrant
  | JwtBearerGrant
  | ExtensionGrant;

/**
 * Everything a provider reports to `onEvent`. Events never carry a token or a secret: URLs are origin and path (no
 * query), errors are tokenkit's own (scrubbed) errors. New event types may be added in minor releases: ignore the
 * ones you do not know.
 *
 * Every event has `type` and `key` (the provider's cache key, `TokenProvider.key`). Events of one token or
 * discovery request share an `id` (unique within the process), so start and end can be paired (spans). Events are
 * read-only: every cache hit of a provider is the same frozen object, so that serving from memory allocates nothing.
 */
export type TokenEvent =
  /**
   * A token request succeeded. `background`: started by refresh-ahead, no caller waited. `expiresAt`: epoch ms.
   * `origin`: the token endpoint's; `requestedScope`/`grantedScope`: as sent and as the server said (`undefined`: it
   * did not say, which means as requested); `attempts`: HTTP attempts it took (1 without retries).
   */
  | {
      type: 'fetch';
      key: string;
      grant: Grant['type'];
      durationMs: number;
      expiresAt: number;
      background: boolean;
      origin: string;
      clientId: string;
      requestedScope: readonly string[];
      grantedScope: readonly string[] | undefined;
      attempts: number;
    }
  /** A call was served from memory. */
  | { type: 'hit'; key: string; durationMs: number }
  /**
   * A `getToken()` or `authorizationHeader()` call found no token it could serve at once: it waits for the token
   * request (one for all waiting calls) or the store. `cachedAuthorizationHeader()` reports no miss.
   */
  | { type: 'miss'; key: string }
  /** A call in the refresh-ahead window started a background refresh. */
  | { type: 'refresh'; key: string; expiresAt: number }
  /** A token request is retried after a network error, timeout, 5xx or 429. */
  | { type: 'retry'; key: string; attempt: number; delayMs: number; reason: string; status?: number }
  /** Getting a token failed (`background`: the still-valid token stays in service), or the store failed (`error.code === 'store'`, once per outage). */
  | { type: 'error'; key: string; error: TokenKitError; durationMs: number; background: boolean }
  /** A token was taken from the store instead of the token endpoint. `expiresAt`: epoch ms. */
  | { type: 'store_hit'; key: string; durationMs: number; expiresAt: number }
  /** The store answers again after failing. */
  | { type: 'store_recovered'; key: string }
  /** `invalidate()` was called; `dropped`: the token was the cached one and is gone. */
  | { type: 'invalidate'; key: string; dropped: boolean }
  /**
   * A refresh request failed and the refresh token was dropped: the configured grant is used instead (at once, in the
   * same `getToken()`). `reason`: the error's code and HTTP status, never the token.
   */
  | { type: 'refresh_token_dropped'; key: string; reason: string }
  /** The server granted fewer scopes than requested without an error: `missing` lists the requested ones it left out. */
  | {
      type: 'scope_narrowed';
      key: string;
      requested: readonly string[];
      granted: readonly string[];
      missing: readonly string[];
    }
  /** Discovery of the issuer's metadata starts (once per provider, again only after a failure). */
  | { type: 'discovery_start'; key: string; id: number; issuer: string }
  /**
   * Discovery ended. On success: the token endpoint found (origin and path), the client authentication methods the
   * server lists (`undefined`: it lists none) and the method chosen, with why (`clientAuthReason`). On failure:
   * `error` (`discovery_failed`, `insecure_endpoint`, `timeout`).
   */
  | {
      type: 'discovery_end';
      key: string;
      id: number;
      issuer: string;
      durationMs: number;
      tokenEndpoint?: string;
      authMethods?: readonly string[] | undefined;
      clientAuth?: ClientAuthMethod;
      clientAuthReason?: string;
      error?: TokenKitError;
    }
  /**
   * A token request starts: one grant sent to the token endpoint (with its retries). `endpoint`: origin and path;
   * `clientAuth` and why it was chosen (`configured`, `default`, or what discovery found); `scope`: requested scopes
   * (empty: none). A refresh that fails and falls back to the configured grant is two token requests.
   */
  | {
      type: 'request_start';
      key: string;
      id: number;
      grant: Grant['type'];
      endpoint: string;
      origin: string;
      clientId: string;
      clientAuth: ClientAuthMethod;
      clientAuthReason: string;
      scope: readonly string[];
      background: boolean;
    }
  /**
   * A token request ended: `error` unset on success (then `grantedScope` as the server said and `expiresAt`, epoch
   * ms). `status`: the last answer's HTTP status, if there was one; `attempts`: HTTP attempts made.
   */
  | {
      type: 'request_end';
      key: string;
      id: number;
      grant: Grant['type'];
      endpoint: string;
      origin: string;
      clientId: string;
      durationMs: number;
      attempts: number;
      background: boolean;
      status?: number;
      error?: TokenKitError;
      grantedScope?: readonly string[] | undefined;
      expiresAt?: number;
    }
  /** One HTTP attempt of a token request (`operation: 'token'`) or discovery starts. `attempt` counts from 1. */
  | {
      type: 'attempt_start';
      key: string;
      id: number;
      operation: 'token' | 'discovery';
      attempt: number;
      method: 'GET' | 'POST';
      url: string;
    }
  /**
   * One HTTP attempt ended: with the answer's `status`, or without an answer (`errorCode`: `network`, `timeout`,
   * `response_too_large`). A `retry` event follows when it is tried again.
   */
  | {
      type: 'attempt_end';
      key: string;
      id: number;
      operation: 'token' | 'discovery';
      attempt: number;
      method: 'GET' | 'POST';
      url: string;
      durationMs: number;
      status?: number;
      errorCode?: TokenEndpointErrorCode;
    }
  /**
   * An adapter decided whether a request to `url` (origin and path) carries the token: `sent`, or not and why —
   * `origin_not_allowed` (not the client's base URL nor in `origins`), `caller_authorization` (the caller set their
   * own `Authorization`), `lost_on_redirect` (an earlier hop went to another origin; it never comes back).
   */
  | {
      type: 'authorize';
      key: string;
      url: string;
      sent: boolean;
      reason?: 'origin_not_allowed' | 'caller_authorization' | 'lost_on_redirect';
    }
  /** A redirect hop of a request that carried the token: `kept` on the hop to `url`, or dropped for good. */
  | { type: 'redirect'; key: string; url: string; kept: boolean }
  /**
   * An API answered 401 through an adapter. `retried`: the token was invalidated and the request is sent again with
   * another. Else `reason`: `not_ours` (the hop that answered did not carry our token), `already_retried`,
   * `retry_disabled` (`retryOn401: false`), `not_replayable` (a streamed body), `token_kept` (no other token to
   * send: see {@link TokenProvider.invalidate}).
   */
  | {
      type: 'unauthorized';
      key: string;
      retried: boolean;
      reason?: 'not_ours' | 'already_retried' | 'retry_disabled' | 'not_replayable' | 'token_kept';
    };

/**
 * The capability a provider made by {@link createTokenProvider} offers adapters: emit an event into the provider's
 * `onEvent` (and debug output). Undefined when nobody observes, so adapters pay nothing then. `Symbol.for`: two
 * copies of core understand each other.
 */
export const OBSERVE: unique symbol = Symbol.for('@tokenkit/core/observe');

/** A provider's emitter, as {@link OBSERVE} gives it. */
export type EmitEvent = (event: TokenEvent) => void;

/**
 * Options of {@link createTokenProvider}. Either `tokenEndpoint` or `issuer` is required.
 */
export interface TokenProviderOptions {
  /** The token endpoint URL. HTTPS, or HTTP on a loopback address. */
  tokenEndpoint?: string | URL | undefined;
  /**
   * Discover the token endpoint from this issuer: `{issuer}/.well-known/openid-configuration`,
   * then RFC 8414 `/.well-known/oauth-authorization-server`. The document's issuer must match.
   */
  issuer?: string | URL | undefined;
  /** The OAuth client id. `undefined` (an unset environment variable) throws a `ConfigurationError` naming it. */
  clientId: string | undefined;
  /** The client secret (`client_secret_basic`, `client_secret_post`). Never logged, never in errors. */
  clientSecret?: string | undefined;
  /**
   * How the client authenticates. Default `client_secret_basic` (RFC 6749 Appendix B encoding);
   * with `issuer` and no explicit choice, `client_secret_post` is used when the server does not support Basic.
   */
  clientAuthMethod?: ClientAuthMethod | undefined;
  /**
   * How `client_secret_basic` encodes id and secret before base64. `form` (default): RFC 6749 Appendix B, each
   * form-urlencoded (a space becomes `+`, `:` becomes `%3A`). `plain`: `id:secret` as they are, for servers that do
   * not decode them (Glewlwyd, LemonLDAP::NG, many hand-built endpoints); the id must not contain `:`.
   */
  basicEncoding?: 'form' | 'plain' | undefined;
  /** For `private_key_jwt`: a private JWK, a PEM string or a `KeyObject`. */
  privateKey?: PrivateKeyInput | undefined;
  /**
   * For `private_key_jwt` with providers that know the key by its certificate (Microsoft Entra ID):
   * the client's X.509 certificate, PEM or `X509Certificate`, holding `privateKey`'s public key.
   * The assertion then carries its SHA-256 thumbprint as `x5t#S256` and `typ: JWT`, and an RSA
   * key signs PS256 (unless a JWK names its own `alg`).
   */
  certificate?: CertificateInput | undefined;
  /**
   * Mutual TLS (RFC 8705): the client certificate and key (`{ cert, key, ca? }`, Node's TLS option names) presented on
   * token requests. Required by `clientAuthMethod` `tls_client_auth` and `self_signed_tls_client_auth`; with any other
   * method it asks for certificate-bound access tokens (`cnf.x5t#S256`), which an API accepts only from a client that
   * presents the same certificate. With `issuer`, the server's `mtls_endpoint_aliases.token_endpoint` is used. Token and
   * discovery requests are then sent with `node:https` (unless `fetch` is given: then that `fetch` must present the
   * certificate). The token endpoint must be HTTPS.
   * @see https://www.rfc-editor.org/rfc/rfc8705
   */
  tls?: MutualTlsOptions | undefined;
  /** Request body encoding. `json` for providers that accept only a JSON body. Default `form`. */
  bodyFormat?: 'form' | 'json' | undefined;
  /**
   * The grant. Default `{ type: 'client_credentials' }`. Also token exchange (`token_exchange`), JWT bearer
   * (`jwt_bearer`) and any other grant by its URI (`extension`); see {@link Grant}.
   */
  grant?: Grant | undefined;
  /** Scopes: a space-delimited string or an array. */
  scope?: string | readonly string[] | undefined;
  /** `audience` parameter (Auth0 and others; with token exchange, RFC 8693's target service). */
  audience?: string | undefined;
  /** RFC 8707 resource indicator(s); an array is sent as repeated parameters. */
  resource?: string | readonly string[] | undefined;
  /** More token request parameters. They are part of the cache key. */
  extraParams?: Readonly<Record<string, string | readonly string[]>> | undefined;
  /** A token is never served later than `expiresAt` minus this (at most half its lifetime). Default 30. */
  refreshSkewSeconds?: number | undefined;
  /** Calls this long before the skew cutoff start one background refresh (not before half the usable life). Default 60. */
  refreshAheadSeconds?: number | undefined;
  /** Lifetime assumed when the response has neither `expires_in` nor a JWT `exp`. Default 300. */
  defaultExpiresInSeconds?: number | undefined;
  /**
   * The token type assumed when a token response has no `token_type` (some gateways leave it out). Without it, such
   * a response is an `invalid_response` error.
   */
  defaultTokenType?: 'Bearer' | undefined;
  /**
   * How long a refresh token is kept in the store when the server does not say (`refresh_expires_in`). The newest
   * refresh token outlives its access token, so a process started later, or another member of the fleet, refreshes
   * with it instead of a rotated-away one. Default 2592000 (30 days).
   */
  refreshTokenLifetimeSeconds?: number | undefined;
  /** A second cache tier: survive restarts, share tokens between processes. */
  store?: TokenStore | undefined;
  /**
   * DPoP (RFC 9449): tokens bound to a key, unusable by anyone who steals them. `true` generates a P-256 key for
   * this provider (in memory only: with a `store` other than `memoryStore()` that is a `ConfigurationError`, since
   * no other process could use the tokens it would share; give every process the same `key` instead). Token
   * requests then carry a proof, `token_type` must be `DPoP`, the cache key includes the key's thumbprint, and
   * adapters send `Authorization: DPoP <token>` with a fresh proof per request.
   * @see https://www.rfc-editor.org/rfc/rfc9449
   */
  dpop?: boolean | DPoPOptions | undefined;
  /** How long a store operation may take before it counts as a miss. Default 1000. */
  storeTimeoutMs?: number | undefined;
  /** The `fetch` used for token and discovery requests. Default: global `fetch`. */
  fetch?: FetchLike | undefined;
  /** Bounds the whole acquisition: discovery, every attempt, backoff and Retry-After waits. Default 10000. */
  timeoutMs?: number | undefined;
  /** Retries after network errors, timeouts, 5xx and 429 (Retry-After honoured up to 10 s). Default 2. */
  maxRetries?: number | undefined;
  /** Largest token endpoint answer read. Default 1 MiB. */
  maxResponseBytes?: number | undefined;
  /** Observer of what the provider does; see {@link TokenEvent}. Exceptions it throws are ignored. */
  onEvent?: ((event: TokenEvent) => void) | undefined;
  /**
   * Debug output: one readable line per decision — discovery, the client authentication chosen and why, each attempt
   * and its answer's status, cache hit/miss/refresh, which requests got the token and why others did not, 401
   * retries — with every secret replaced. `true`: to stderr; a function: each line to it. Default: on when the
   * environment variable `TOKENKIT_DEBUG` is set (to anything but `0` or `false`); `false` keeps it off even then.
   */
  debug?: boolean | ((line: string) => void) | undefined;
  /**
   * One clock for everything, in epoch milliseconds; for tests. By default lifetimes within the process are counted
   * on a monotonic clock (a wall clock stepping back never keeps an expired token in service) and what is stored or
   * signed uses `Date.now()`.
   */
  now?: (() => number) | undefined;
}

export interface ResolvedOptions {
  endpoint: { tokenEndpoint: string } | { issuer: string; issuerFromUrlObject: boolean };
  clientId: string;
  clientSecret: string | undefined;
  clientAuthMethod: ClientAuthMethod;
  autoAuthMethod: boolean;
  basicEncoding: 'form' | 'plain';
  privateKey: PrivateKeyInput | undefined;
  certificate: CertificateInput | undefined;
  tls: ResolvedTls | undefined;
  bodyFormat: 'form' | 'json';
  grant: Grant;
  scope: string | undefined;
  audience: string | undefined;
  resource: readonly string[];
  extraParams: Readonly<Record<string, string | readonly string[]>>;
  skewMs: number;
  aheadMs: number;
  defaultExpiresInSeconds: number;
  defaultTokenType: 'Bearer' | undefined;
  refreshLifetimeMs: number;
  store: TokenStore | undefined;
  storeTimeoutMs: number;
  dpop: DPoPBinding | undefined;
  fetch: FetchLike;
  timeoutMs: number;
  maxRetries: number;
  maxResponseBytes: number;
  onEvent: ((event: TokenEvent) => void) | undefined;
  clock: Clock;
}

const RESERVED_PARAMS = new Set([
  'grant_type',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'username',
  'password',
  'refresh_token',
  'scope',
  'audience',
  'resource',
  // Set by the grants that send them (grant: token_exchange, jwt_bearer); an extension grant takes its own.
  'assertion',
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'requested_token_type',
]);

/** Validates options eagerly; every message names the option. */
export function resolveOptions(options: TokenProviderOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new ConfigurationError('options', 'must be an object');
  const endpoint = resolveEndpoint(options);
  if (typeof options.clientId !== 'string' || options.clientId === '') {
    throw new ConfigurationError('clientId', 'must be a non-empty string');
  }
  if (options.clientSecret !== undefined && typeof options.clientSecret !== 'string') {
    throw new ConfigurationError('clientSecret', 'must be a string');
  }
  const bodyFormat = options.bodyFormat ?? 'form';
  if (bodyFormat !== 'form' && bodyFormat !== 'json')
    throw new ConfigurationError('bodyFormat', "must be 'form' or 'json'");
  const store = options.store;
  if (
    store !== undefined &&
    (typeof store?.get !== 'function' || typeof store.set !== 'function' || typeof store.delete !== 'function')
  ) {
    throw new ConfigurationError('store', 'must implement get, set and delete');
  }
  const clientAuthMethod = options.clientAuthMethod ?? 'client_secret_basic';
  const tls = resolveTls(options.tls, clientAuthMethod);
  if (tls !== undefined && 'tokenEndpoint' in endpoint && !endpoint.tokenEndpoint.startsWith('https:')) {
    throw new ConfigurationError('tokenEndpoint', 'must use https with tls (mutual TLS)');
  }
  const fetchFn = options.fetch ?? tls?.fetch ?? globalThis.fetch;
  if (typeof fetchFn !== 'function') throw new ConfigurationError('fetch', 'must be a function');
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function')
    throw new ConfigurationError('onEvent', 'must be a function');
  const debug = options.debug;
  if (debug !== undefined && typeof debug !== 'boolean' && typeof debug !== 'function')
    throw new ConfigurationError('debug', 'must be a boolean or a function');
  if (options.now !== undefined && typeof options.now !== 'function')
    throw new ConfigurationError('now', 'must be a function');
  const basicEncoding = options.basicEncoding ?? 'form';
  if (basicEncoding !== 'form' && basicEncoding !== 'plain')
    throw new ConfigurationError('basicEncoding', "must be 'form' or 'plain'");
  if (options.defaultTokenType !== undefined && options.defaultTokenType !== 'Bearer') {
    throw new ConfigurationError('defaultTokenType', "must be 'Bearer'");
  }

  const clock = options.now !== undefined ? clockFrom(options.now) : systemClock();
  const dpop = resolveDPoP(options.dpop, store, clock.wall);

  const grant = resolveGrant(options.grant);
  const clientId = options.clientId;
  return {
    endpoint,
    clientId: options.clientId,
    clientSecret: options.clientSecret,
    clientAuthMethod,
    autoAuthMethod: options.clientAuthMethod === undefined,
    basicEncoding,
    privateKey: options.privateKey,
    certificate: options.certificate,
    tls,
    bodyFormat,
    grant,
    scope: resolveScope(options.scope),
    audience: optionalString(options.audience, 'audience'),
    resource: resolveResources(options.resource),
    extraParams: resolveExtraParams(options.extraParams),
    skewMs: seconds(options.refreshSkewSeconds, 30, 'refreshSkewSeconds') * 1000,
    aheadMs: seconds(options.refreshAheadSeconds, 60, 'refreshAheadSeconds') * 1000,
    defaultExpiresInSeconds: positive(options.defaultExpiresInSeconds, 300, 'defaultExpiresInSeconds'),
    defaultTokenType: options.defaultTokenType,
    refreshLifetimeMs:
      positive(options.refreshTokenLifetimeSeconds, 30 * 24 * 3600, 'refreshTokenLifetimeSeconds') * 1000,
    store,
    storeTimeoutMs: positive(options.storeTimeoutMs, 1000, 'storeTimeoutMs'),
    dpop,
    fetch: fetchFn,
    timeoutMs: positive(options.timeoutMs, 10_000, 'timeoutMs'),
    maxRetries: integer(options.maxRetries, 2, 'maxRetries'),
    maxResponseBytes: positive(options.maxResponseBytes, 1024 * 1024, 'maxResponseBytes'),
    onEvent: withDebugOutput(options.onEvent, debug, () => [
      options.clientSecret,
      grant.type === 'password' ? grant.password : undefined,
      grant.type === 'refresh_token' ? grant.refreshToken : undefined,
      ...basicCredentials(clientId, options.clientSecret),
    ]),
    clock,
  };
}

/**
 * The DPoP binding, or undefined when DPoP is off. A generated key lives in this process only: with a store shared
 * beyond it, other processes would adopt tokens bound to a key they do not hold, so that is refused.
 */
function resolveDPoP(
  option: TokenProviderOptions['dpop'],
  store: TokenStore | undefined,
  wall: () => number,
): DPoPBinding | undefined {
  if (option === undefined || option === false) return undefined;
  if (option !== true && (typeof option !== 'object' || option === null))
    throw new ConfigurationError('dpop', 'must be true, false or an object { key?, alg? }');
  const binding = createDPoPBinding(option, wall);
  if (binding.generated && store !== undefined && !isMemoryStore(store)) {
    throw new ConfigurationError(
      'dpop',
      'a generated DPoP key lives in this process only, and tokens bound to it are useless to any other process ' +
        'sharing the store: give every process the same key (dpop: { key }), or keep DPoP tokens out of the shared store',
    );
  }
  return binding;
}

function resolveEndpoint(options: TokenProviderOptions): ResolvedOptions['endpoint'] {
  const { tokenEndpoint, issuer } = options;
  if ((tokenEndpoint === undefined) === (issuer === undefined)) {
    throw new ConfigurationError('tokenEndpoint', 'give exactly one of tokenEndpoint and issuer');
  }
  const name = tokenEndpoint !== undefined ? 'tokenEndpoint' : 'issuer';
  const raw = (tokenEndpoint ?? issuer)!;
  const url = typeof raw === 'string' || raw instanceof URL ? tryParseUrl(raw) : undefined;
  if (url === undefined) throw new ConfigurationError(name, 'must be an absolute URL');
  if (!isSecureUrl(url))
    throw new ConfigurationError(name, 'must use https (plain http is allowed only for loopback addresses)');
  if (url.username !== '' || url.password !== '') throw new ConfigurationError(name, 'must not contain credentials');
  // An issuer is compared to the discovery document's as given, so keep the caller's spelling.
  // A URL object always has a path: new URL('https://id.example.com') reads back with a '/' the issuer may not have.
  return tokenEndpoint !== undefined
    ? { tokenEndpoint: url.href }
    : { issuer: String(issuer), issuerFromUrlObject: issuer instanceof URL };
}

function resolveGrant(grant: Grant | undefined): Grant {
  if (grant === undefined) return { type: 'client_credentials' };
  switch (grant?.type) {
    case 'client_credentials':
      return { type: 'client_credentials' };
    case 'password':
      if (typeof grant.username !== 'string' || grant.username === '')
        throw new ConfigurationError('grant.username', 'must be a non-empty string');
      if (typeof grant.password !== 'string') throw new ConfigurationError('grant.password', 'must be a string');
      return { type: 'password', username: grant.username, password: grant.password };
    case 'refresh_token':
      if (typeof grant.refreshToken !== 'string' || grant.refreshToken === '') {
        throw new ConfigurationError('grant.refreshToken', 'must be a non-empty string');
      }
      return { type: 'refresh_token', refreshToken: grant.refreshToken };
    default:
      if (typeof grant !== 'object' || grant === null) throw new ConfigurationError('grant', 'must be an object');
      return resolveOtherGrant(grant);
  }
}

function resolveScope(scope: string | readonly string[] | undefined): string | undefined {
  if (scope === undefined) return undefined;
  const list = typeof scope === 'string' ? scope.split(/\s+/).filter(Boolean) : scope;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || s === '' || /\s/.test(s))) {
    throw new ConfigurationError('scope', 'must be a space-delimited string or an array of scope names without spaces');
  }
  return list.length > 0 ? list.join(' ') : undefined;
}

function resolveList(value: string | readonly string[] | undefined, name: string): readonly string[] {
  if (value === undefined) return [];
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || s === '')) {
    throw new ConfigurationError(name, 'must be a string or an array of non-empty strings');
  }
  return [...list];
}

/** RFC 8707 §2: each resource is an absolute URI without a fragment (and, here, without white space). */
function resolveResources(value: string | readonly string[] | undefined): readonly string[] {
  const list = resolveList(value, 'resource');
  for (const resource of list) {
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    const url = /[\s\x00-\x1f\x7f]/.test(resource) ? undefined : tryParseUrl(resource);
    if (url === undefined || resource.includes('#')) {
      throw new ConfigurationError(
        'resource',
        `must be absolute URIs without a fragment or white space (RFC 8707), got ${JSON.stringify(resource.slice(0, 100))}`,
      );
    }
  }
  return list;
}

function resolveExtraParams(params: TokenProviderOptions['extraParams']): ResolvedOptions['extraParams'] {
  if (params === undefined) return {};
  if (typeof params !== 'object' || params === null) throw new ConfigurationError('extraParams', 'must be an object');
  const out: Record<string, string | readonly string[]> = {};
  for (const [name, value] of Object.entries(params)) {
    if (RESERVED_PARAMS.has(name))
      throw new ConfigurationError(`extraParams.${name}`, 'is set by tokenkit; use the dedicated option');
    out[name] = typeof value === 'string' ? value : resolveList(value, `extraParams.${name}`);
  }
  return out;
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new ConfigurationError(name, 'must be a non-empty string');
  return value;
}

function seconds(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new ConfigurationError(name, 'must be a number >= 0');
  return value;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new ConfigurationError(name, 'must be a number > 0');
  return value;
}

function integer(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0 || value > 10)
    throw new ConfigurationError(name, 'must be an integer from 0 to 10');
  return value;
}

/** Reads a value from a store defensively: anything malformed is a miss. */
export function asStoredToken(value: unknown): StoredToken | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const t = value as Record<string, unknown>;
  if (typeof t['accessToken'] !== 'string' || !/^[\x21-\x7e]+$/.test(t['accessToken'])) return undefined;
  if (typeof t['expiresAt'] !== 'number' || typeof t['receivedAt'] !== 'number') return undefined;
  if (!Number.isFinite(t['expiresAt']) || !Number.isFinite(t['receivedAt']) || t['expiresAt'] <= t['receivedAt'])
    return undefined;
  const token: StoredToken = {
    accessToken: t['accessToken'],
    tokenType: t['tokenType'] === 'N_A' || t['tokenType'] === 'DPoP' ? t['tokenType'] : 'Bearer',
    expiresAt: t['expiresAt'],
    receivedAt: t['receivedAt'],
  };
  if (typeof t['scope'] === 'string') token.scope = t['scope'];
  if (typeof t['refreshToken'] === 'string' && t['refreshToken'] !== '') token.refreshToken = t['refreshToken'];
  if (typeof t['refreshExpiresAt'] === 'number' && Number.isFinite(t['refreshExpiresAt']))
    token.refreshExpiresAt = t['refreshExpiresAt'];
  if (typeof t['subjectHash'] === 'string') token.subjectHash = t['subjectHash'];
  if (typeof t['issuedTokenType'] === 'string') token.issuedTokenType = t['issuedTokenType'];
  return token;
}
