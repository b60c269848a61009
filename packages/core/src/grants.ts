import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, type JWTHeaderParameters } from 'jose';
import { loadPrivateKey, type PrivateKeyInput, type TokenParams } from './client-auth.ts';
import { ConfigurationError, TokenKitError } from './errors.ts';
import type { TokenProvider } from './token-provider.ts';

/** RFC 8693 grant type URI. */
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 7523 §2.1 grant type URI. */
export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** RFC 8693 §3: the token type of an OAuth access token. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/**
 * A token that a grant sends and that may change over time: a fixed string, a function called whenever tokenkit
 * needs the current value (it may return a promise; keep it cheap, e.g. return a value held in memory), or another
 * {@link TokenProvider} whose current access token is used.
 */
export type TokenSource = string | (() => string | Promise<string>) | TokenProvider;

/**
 * RFC 8693 token exchange: a token for `subjectToken` (and, for delegation, `actorToken`). The provider's `audience`
 * and `resource` options name the target service (RFC 8693 §2.1), `scope` the scopes wanted.
 *
 * A token exchanged from a subject that comes from a function or another provider is bound to that subject: when the
 * subject token changes, the cached token is no longer served, and a new exchange is made (refresh tokens in such
 * answers are not used, since they would renew the old subject's token).
 * @see https://www.rfc-editor.org/rfc/rfc8693
 * @example
 * ```ts
 * const own = createTokenProvider({ tokenEndpoint, clientId: 'svc', clientSecret });
 * const downstream = createTokenProvider({
 *   tokenEndpoint,
 *   clientId: 'svc',
 *   clientSecret,
 *   audience: 'https://ledger.example.com',
 *   grant: {
 *     type: 'token_exchange',
 *     subjectToken: own,
 *     subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token',
 *   },
 * });
 * ```
 */
export interface TokenExchangeGrant {
  type: 'token_exchange';
  /** The token that represents the party on whose behalf the request is made. */
  subjectToken: TokenSource;
  /** Its type, an absolute URI, e.g. `urn:ietf:params:oauth:token-type:access_token` or `...:jwt` (RFC 8693 §3). */
  subjectTokenType: string;
  /** The token of the acting party (delegation, RFC 8693 §1.1). Requires `actorTokenType`. */
  actorToken?: TokenSource | undefined;
  /** The type of `actorToken`, an absolute URI. */
  actorTokenType?: string | undefined;
  /**
   * The type of token wanted, an absolute URI. Default: the server's choice (usually an access token). When it is
   * not `urn:ietf:params:oauth:token-type:access_token`, the server may answer `token_type: N_A` (RFC 8693 §2.2.1):
   * such a token is served by `getToken()` with `tokenType: 'N_A'`, never sent as a Bearer token.
   */
  requestedTokenType?: string | undefined;
}

/**
 * How tokenkit signs a fresh JWT-bearer assertion for every token request (RFC 7523 §3). `iss` defaults to the
 * client id, `sub` to `iss`, `aud` to the token endpoint URL; `iat`, `exp` and `jti` are always set by tokenkit.
 * Other claims (`scope` for Google service accounts, for example) are added as given.
 */
export interface JwtBearerSigning {
  /** A private JWK (its `kid` and `alg` are used), a PEM string or a `KeyObject`. */
  privateKey: PrivateKeyInput;
  /** Claims of the assertion. */
  claims?:
    | {
        iss?: string | undefined;
        sub?: string | undefined;
        aud?: string | readonly string[] | undefined;
        [claim: string]: unknown;
      }
    | undefined;
  /** JWS algorithm; default the JWK's `alg`, else ES256/ES384/ES512, RS256, PS256 or EdDSA by key type. */
  alg?: string | undefined;
  /** `kid` header, when the key is not a JWK that names one. */
  kid?: string | undefined;
  /** Lifetime of each assertion. Default 60. */
  lifetimeSeconds?: number | undefined;
}

/**
 * RFC 7523 §2.1 JWT bearer grant: either an `assertion` the caller supplies (a string, or a function called for each
 * token request) or `sign`, and tokenkit signs a fresh assertion for every token request.
 *
 * The cache key holds a fixed assertion's hash, or `sign`'s `iss`, `sub`, `aud` and claims; tokenkit cannot tell two
 * assertion functions apart. Providers with the same options share stored tokens, so do not let providers whose
 * functions assert different subjects share a `store` (memory caches are per provider and never mix).
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.1
 * @example
 * ```ts
 * const tokens = createTokenProvider({
 *   tokenEndpoint,
 *   clientId: 'svc',
 *   clientAuthMethod: 'none',
 *   grant: { type: 'jwt_bearer', sign: { privateKey: pem, claims: { sub: 'user-42' } } },
 * });
 * ```
 */
export type JwtBearerGrant =
  | { type: 'jwt_bearer'; assertion: string | (() => string | Promise<string>); sign?: undefined }
  | { type: 'jwt_bearer'; sign: JwtBearerSigning; assertion?: undefined };

/**
 * Any other grant, by its absolute URI (RFC 6749 §4.5). `params` are sent as they are and are part of the cache key;
 * `secretParams` are sent too, but removed from every error and only hashed into the cache key (a function is
 * called for each token request, and only the fact that it is one enters the key: as with JWT-bearer assertion
 * functions, providers that differ only in such a function must not share a `store`). Names tokenkit sets itself (`grant_type`, `client_id`, `scope`, `audience`,
 * `resource`, ...) are refused: use the dedicated options. A refresh token in the answer is used like any other.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.5
 * @example
 * ```ts
 * const tokens = createTokenProvider({
 *   tokenEndpoint,
 *   clientId: 'svc',
 *   clientSecret,
 *   grant: {
 *     type: 'extension',
 *     grantType: 'urn:example:params:oauth:grant-type:device-key',
 *     params: { device_id: 'dev-7' },
 *     secretParams: { device_key: process.env.DEVICE_KEY! },
 *   },
 * });
 * ```
 */
export interface ExtensionGrant {
  type: 'extension';
  /** The grant type, an absolute URI. */
  grantType: string;
  /** Parameters sent as they are; an array is sent as a repeated parameter. */
  params?: Readonly<Record<string, string | readonly string[]>> | undefined;
  /** Secret parameters: never in errors or events, only their hash in the cache key. */
  secretParams?: Readonly<Record<string, string | (() => string | Promise<string>)>> | undefined;
}

/** A grant's inputs that can change after the provider was created. */
export interface GrantBinding {
  /** The subject token now when it is known without waiting; undefined: wait for {@link current}. */
  peek(): string | undefined;
  current(timeoutMs: number): Promise<string>;
}

/** What one token request of a grant sends. */
export interface GrantRequest {
  params: TokenParams;
  /** Secrets sent that `sentSecrets()` would not recognise by their parameter name. */
  secrets: string[];
  /** Hash of the subject token used, when the grant is bound to a changing subject. */
  subjectHash: string | undefined;
  /** Adds what must be fresh in every attempt (a signed assertion). */
  perAttempt: ((params: TokenParams, tokenEndpoint: string, nowMs: number) => Promise<void>) | undefined;
}

/** A grant ready for use: how to build its requests, what enters the cache key, which secrets it holds. */
export interface PreparedGrant {
  /** Cache key parts (secrets only as hashes). */
  readonly identity: Record<string, unknown>;
  /** Secrets from the configuration, removed from any text tokenkit quotes. */
  readonly secrets: readonly string[];
  /** Set when tokens depend on a subject that can change. */
  readonly binding: GrantBinding | undefined;
  /** The parameters for one token request; `timeoutMs` bounds the wait for a subject from another provider. */
  request(timeoutMs: number): Promise<GrantRequest>;
}

/** The grants handled here, as `resolveGrant()` in options.ts hands them over. */
export type OtherGrant = TokenExchangeGrant | JwtBearerGrant | ExtensionGrant;

/** Parameter names an extension grant may not set: tokenkit sets them, or a dedicated option does. */
const EXTENSION_RESERVED = new Set([
  'grant_type',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'refresh_token',
  'scope',
  'audience',
  'resource',
]);

/** Grant URIs and names with a dedicated `grant.type`, for the message that points there. */
const DEDICATED: Record<string, string> = {
  client_credentials: "{ type: 'client_credentials' }",
  password: "{ type: 'password', username, password }",
  refresh_token: "{ type: 'refresh_token', refreshToken }",
  [TOKEN_EXCHANGE]: "{ type: 'token_exchange', subjectToken, subjectTokenType }",
  [JWT_BEARER]: "{ type: 'jwt_bearer', assertion } or { type: 'jwt_bearer', sign }",
};

/** SHA-256 of a secret, base64url: what enters a cache key or a stored entry instead of the secret. */
export function secretHash(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** Validates one of the grants handled here; every message names the option. */
export function resolveOtherGrant(grant: { type?: unknown }): OtherGrant {
  switch (grant.type) {
    case 'token_exchange':
      return resolveTokenExchange(grant as TokenExchangeGrant);
    case 'jwt_bearer':
      return resolveJwtBearer(grant as JwtBearerGrant);
    case 'extension':
      return resolveExtension(grant as ExtensionGrant);
    default: {
      const dedicated = typeof grant.type === 'string' ? DEDICATED[grant.type] : undefined;
      if (dedicated !== undefined) throw new ConfigurationError('grant.type', `use ${dedicated}`);
      const uri = typeof grant.type === 'string' && isAbsoluteUri(grant.type);
      throw new ConfigurationError(
        'grant.type',
        "must be 'client_credentials', 'password', 'refresh_token', 'token_exchange', 'jwt_bearer' or 'extension'" +
          (uri ? " (for another grant URI: { type: 'extension', grantType: '<URI>', params })" : ''),
      );
    }
  }
}

function resolveTokenExchange(grant: TokenExchangeGrant): TokenExchangeGrant {
  const out: TokenExchangeGrant = {
    type: 'token_exchange',
    subjectToken: tokenSource(grant.subjectToken, 'grant.subjectToken'),
    subjectTokenType: tokenType(grant.subjectTokenType, 'grant.subjectTokenType'),
  };
  if (grant.actorToken !== undefined) {
    out.actorToken = tokenSource(grant.actorToken, 'grant.actorToken');
    if (grant.actorTokenType === undefined)
      throw new ConfigurationError('grant.actorTokenType', 'is required with grant.actorToken (RFC 8693 §2.1)');
    out.actorTokenType = tokenType(grant.actorTokenType, 'grant.actorTokenType');
  } else if (grant.actorTokenType !== undefined) {
    throw new ConfigurationError('grant.actorTokenType', 'is sent only with grant.actorToken');
  }
  if (grant.requestedTokenType !== undefined)
    out.requestedTokenType = tokenType(grant.requestedTokenType, 'grant.requestedTokenType');
  return out;
}

function resolveJwtBearer(grant: JwtBearerGrant): JwtBearerGrant {
  if ((grant.assertion === undefined) === (grant.sign === undefined))
    throw new ConfigurationError('grant.assertion', 'give exactly one of grant.assertion and grant.sign');
  if (grant.assertion !== undefined) {
    const assertion = grant.assertion;
    if (typeof assertion === 'function') return { type: 'jwt_bearer', assertion };
    if (typeof assertion !== 'string' || assertion === '')
      throw new ConfigurationError('grant.assertion', 'must be a non-empty string or a function returning one');
    return { type: 'jwt_bearer', assertion };
  }
  const sign = grant.sign!;
  if (typeof sign !== 'object' || sign === null) throw new ConfigurationError('grant.sign', 'must be an object');
  if (sign.claims !== undefined && (typeof sign.claims !== 'object' || sign.claims === null))
    throw new ConfigurationError('grant.sign.claims', 'must be an object');
  for (const name of ['iss', 'sub'] as const) {
    const value = sign.claims?.[name];
    if (value !== undefined && (typeof value !== 'string' || value === ''))
      throw new ConfigurationError(`grant.sign.claims.${name}`, 'must be a non-empty string');
  }
  const aud = sign.claims?.aud;
  if (aud !== undefined && !(typeof aud === 'string' && aud !== '') && !isStringList(aud))
    throw new ConfigurationError('grant.sign.claims.aud', 'must be a non-empty string or an array of them');
  for (const name of ['iat', 'exp', 'jti', 'nbf'])
    if (sign.claims?.[name] !== undefined)
      throw new ConfigurationError(`grant.sign.claims.${name}`, 'is set by tokenkit for every assertion');
  const lifetime = sign.lifetimeSeconds;
  if (lifetime !== undefined && (typeof lifetime !== 'number' || !Number.isFinite(lifetime) || lifetime < 1))
    throw new ConfigurationError('grant.sign.lifetimeSeconds', 'must be a number >= 1');
  if (sign.kid !== undefined && (typeof sign.kid !== 'string' || sign.kid === ''))
    throw new ConfigurationError('grant.sign.kid', 'must be a non-empty string');
  if (sign.alg !== undefined && typeof sign.alg !== 'string')
    throw new ConfigurationError('grant.sign.alg', 'must be a string');
  // Fails here, not at the first token request, when the key cannot sign.
  loadPrivateKey(sign.privateKey, 'grant.sign.privateKey', sign.alg);
  return { type: 'jwt_bearer', sign: { ...sign, ...(sign.claims ? { claims: { ...sign.claims } } : {}) } };
}

function resolveExtension(grant: ExtensionGrant): ExtensionGrant {
  const grantType = grant.grantType;
  if (typeof grantType !== 'string' || !isAbsoluteUri(grantType))
    throw new ConfigurationError('grant.grantType', 'must be an absolute URI (RFC 6749 §4.5)');
  const dedicated = DEDICATED[grantType];
  if (dedicated !== undefined) throw new ConfigurationError('grant.grantType', `use grant ${dedicated}`);
  const params: Record<string, string | readonly string[]> = {};
  for (const [name, value] of entriesOf(grant.params, 'grant.params')) {
    reserved(name, 'grant.params');
    if (typeof value !== 'string' && !isStringList(value))
      throw new ConfigurationError(`grant.params.${name}`, 'must be a string or an array of strings');
    params[name] = typeof value === 'string' ? value : [...(value as readonly string[])];
  }
  const secretParams: Record<string, string | (() => string | Promise<string>)> = {};
  for (const [name, value] of entriesOf(grant.secretParams, 'grant.secretParams')) {
    reserved(name, 'grant.secretParams');
    if (name in params) throw new ConfigurationError(`grant.secretParams.${name}`, 'is also in grant.params');
    if (typeof value !== 'function' && (typeof value !== 'string' || value === ''))
      throw new ConfigurationError(`grant.secretParams.${name}`, 'must be a non-empty string or a function');
    secretParams[name] = value as string | (() => string | Promise<string>);
  }
  return { type: 'extension', grantType, params, secretParams };
}

function entriesOf(value: unknown, name: string): [string, unknown][] {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigurationError(name, 'must be an object');
  return Object.entries(value);
}

function reserved(name: string, where: string): void {
  if (EXTENSION_RESERVED.has(name))
    throw new ConfigurationError(`${where}.${name}`, 'is set by tokenkit; use the dedicated option');
}

function tokenSource(value: unknown, name: string): TokenSource {
  if (typeof value === 'function' || isTokenProvider(value)) return value as TokenSource;
  if (typeof value !== 'string' || value === '')
    throw new ConfigurationError(name, 'must be a non-empty string, a function returning one, or a TokenProvider');
  return value;
}

function tokenType(value: unknown, name: string): string {
  if (typeof value !== 'string' || !isAbsoluteUri(value))
    throw new ConfigurationError(name, 'must be a token type URI, e.g. urn:ietf:params:oauth:token-type:access_token');
  return value;
}

function isTokenProvider(value: unknown): value is TokenProvider {
  const p = value as Partial<TokenProvider> | null | undefined;
  return (
    typeof p === 'object' &&
    p !== null &&
    typeof p.getToken === 'function' &&
    typeof p.cachedAuthorizationHeader === 'function'
  );
}

function isStringList(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.length > 0 && value.every((s) => typeof s === 'string' && s !== '');
}

/** An absolute URI: a scheme, a colon, something after it, no white space (RFC 3986 §4.3, loosely). */
function isAbsoluteUri(value: string): boolean {
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$/.test(value);
}

// ---- preparing a grant -----------------------------------------------------

/**
 * Builds what token-provider.ts needs of a grant handled here. `clientId` is the default `iss` of a signed assertion.
 */
export function prepareGrant(grant: OtherGrant, clientId: string): PreparedGrant {
  switch (grant.type) {
    case 'token_exchange':
      return prepareTokenExchange(grant);
    case 'jwt_bearer':
      return prepareJwtBearer(grant, clientId);
    case 'extension':
      return prepareExtension(grant);
  }
}

/** How a {@link TokenSource} is read and what of it enters the cache key. */
interface Source {
  identity: string;
  fixed: string | undefined;
  peek(): string | undefined;
  current(timeoutMs: number): Promise<string>;
}

function source(value: TokenSource, name: string): Source {
  if (typeof value === 'string') {
    return { identity: secretHash(value), fixed: value, peek: () => value, current: () => Promise.resolve(value) };
  }
  if (typeof value === 'function') {
    const call = value;
    return {
      // Two functions cannot be told apart: a stored token carries its subject's hash instead (see StoredToken).
      identity: 'function',
      fixed: undefined,
      peek() {
        let result: string | Promise<string>;
        try {
          result = call();
        } catch {
          return undefined; // reported by current(), where the caller waits for it
        }
        if (typeof result === 'string') return result !== '' ? result : undefined;
        // Not waited for here: current() calls again and reports a failure; this promise must not go unhandled.
        Promise.resolve(result).catch(() => {});
        return undefined;
      },
      async current() {
        let result: unknown;
        try {
          result = await call();
        } catch (error) {
          throw new TokenKitError('grant_input', `${name}: the function threw`, { cause: error });
        }
        if (typeof result !== 'string' || result === '')
          throw new TokenKitError('grant_input', `${name}: the function returned no token (a non-empty string)`);
        return result;
      },
    };
  }
  const provider = value;
  // The provider hands out the same header string while its token lasts: cut the token out of it once.
  let lastHeader: string | undefined;
  let lastToken: string | undefined;
  return {
    identity: `provider:${provider.key}`,
    fixed: undefined,
    peek() {
      const header = provider.cachedAuthorizationHeader();
      if (header === undefined) return undefined;
      if (header !== lastHeader) {
        lastHeader = header;
        lastToken = header.slice(header.indexOf(' ') + 1);
      }
      return lastToken;
    },
    async current(timeoutMs) {
      return (await provider.getToken({ timeoutMs })).accessToken;
    },
  };
}

function prepareTokenExchange(grant: TokenExchangeGrant): PreparedGrant {
  const subject = source(grant.subjectToken, 'grant.subjectToken');
  const actor = grant.actorToken === undefined ? undefined : source(grant.actorToken, 'grant.actorToken');
  const bound = subject.fixed === undefined;
  const binding: GrantBinding | undefined = bound ? { peek: subject.peek, current: subject.current } : undefined;
  return {
    identity: {
      subject: subject.identity,
      subjectType: grant.subjectTokenType,
      actor: actor?.identity ?? null,
      actorType: grant.actorTokenType ?? null,
      requested: grant.requestedTokenType ?? null,
    },
    secrets: [subject.fixed, actor?.fixed].filter((s): s is string => s !== undefined),
    binding,
    async request(timeoutMs) {
      const [subjectToken, actorToken] = await Promise.all([subject.current(timeoutMs), actor?.current(timeoutMs)]);
      const params: TokenParams = {
        grant_type: TOKEN_EXCHANGE,
        subject_token: subjectToken,
        subject_token_type: grant.subjectTokenType,
      };
      if (actorToken !== undefined) {
        params['actor_token'] = actorToken;
        params['actor_token_type'] = grant.actorTokenType!;
      }
      if (grant.requestedTokenType !== undefined) params['requested_token_type'] = grant.requestedTokenType;
      return {
        params,
        secrets: [],
        subjectHash: bound ? secretHash(subjectToken) : undefined,
        perAttempt: undefined,
      };
    },
  };
}

function prepareJwtBearer(grant: JwtBearerGrant, clientId: string): PreparedGrant {
  if (grant.assertion !== undefined) {
    const assertion = grant.assertion;
    const read = typeof assertion === 'string' ? undefined : source(assertion, 'grant.assertion');
    return {
      // A supplied assertion changes with every call of its function: what identifies the token is its issuer and
      // subject, which tokenkit does not read. The hash of a fixed one is enough; for a function, the provider's
      // other options (client id, scope, ...) are the key.
      identity: { assertion: typeof assertion === 'string' ? secretHash(assertion) : 'function' },
      secrets: typeof assertion === 'string' ? [assertion] : [],
      binding: undefined,
      async request(timeoutMs) {
        const value = read === undefined ? (assertion as string) : await read.current(timeoutMs);
        return {
          params: { grant_type: JWT_BEARER, assertion: value },
          secrets: [],
          subjectHash: undefined,
          perAttempt: undefined,
        };
      },
    };
  }
  const sign = grant.sign!;
  const { key, alg, kid } = loadPrivateKey(sign.privateKey, 'grant.sign.privateKey', sign.alg);
  const header: JWTHeaderParameters = { alg, typ: 'JWT' };
  const keyId = sign.kid ?? kid;
  if (keyId !== undefined) header.kid = keyId;
  const { iss = clientId, sub, aud, ...other } = sign.claims ?? {};
  const lifetime = sign.lifetimeSeconds ?? 60;
  return {
    identity: {
      // What the server reads from the assertion; the key itself is a secret and not needed to tell tokens apart.
      iss,
      sub: sub ?? iss,
      aud: aud ?? null,
      claims: Object.entries(other).sort(([a], [b]) => (a < b ? -1 : 1)),
    },
    secrets: [],
    binding: undefined,
    request() {
      return Promise.resolve({
        params: { grant_type: JWT_BEARER },
        secrets: [],
        subjectHash: undefined,
        // Signed per attempt: a retried request carries a new jti, which a server that remembers them accepts.
        async perAttempt(params: TokenParams, tokenEndpoint: string, nowMs: number) {
          const now = Math.floor(nowMs / 1000);
          params['assertion'] = await new SignJWT({ ...other })
            .setProtectedHeader(header)
            .setIssuer(iss)
            .setSubject(sub ?? iss)
            .setAudience(aud === undefined ? tokenEndpoint : typeof aud === 'string' ? aud : [...aud])
            .setJti(randomUUID())
            .setIssuedAt(now)
            .setExpirationTime(now + lifetime)
            .sign(key);
        },
      });
    },
  };
}

function prepareExtension(grant: ExtensionGrant): PreparedGrant {
  const params = grant.params ?? {};
  const secretParams = Object.entries(grant.secretParams ?? {}).map(
    ([name, value]) => [name, source(value, `grant.secretParams.${name}`)] as const,
  );
  return {
    identity: {
      grantType: grant.grantType,
      params: Object.entries(params)
        .map(([name, value]): [string, readonly string[]] => [name, typeof value === 'string' ? [value] : value])
        .sort(([a], [b]) => (a < b ? -1 : 1)),
      secrets: secretParams.map(([name, s]) => [name, s.identity]).sort(([a], [b]) => (a! < b! ? -1 : 1)),
    },
    secrets: secretParams.map(([, s]) => s.fixed).filter((s): s is string => s !== undefined),
    binding: undefined,
    async request(timeoutMs) {
      const out: TokenParams = { grant_type: grant.grantType, ...params };
      const secrets: string[] = [];
      for (const [name, s] of secretParams) {
        const value = await s.current(timeoutMs);
        out[name] = value;
        secrets.push(value);
      }
      return { params: out, secrets, subjectHash: undefined, perAttempt: undefined };
    },
  };
}
