const MARKER = Symbol.for('@tokenkit/core/error');

/** Stable codes of {@link TokenEndpointError}. */
export type TokenEndpointErrorCode =
  /** No answer within `timeoutMs`. */
  | 'timeout'
  /** Connection refused, reset, DNS failure and the like. */
  | 'network'
  /** A non-2xx answer that is not an RFC 6749 §5.2 error response. */
  | 'http_status'
  /** A 2xx answer that is not a usable token response (HTML, no `access_token`, ...). */
  | 'invalid_response'
  /** The answer was larger than the response size cap. */
  | 'response_too_large'
  /** OpenID Connect / RFC 8414 discovery failed or returned an unusable document. */
  | 'discovery_failed'
  /** The token endpoint (configured or discovered) is not HTTPS and not loopback. */
  | 'insecure_endpoint'
  /**
   * With `grant: { type: 'refresh_token' }`, the server refused the refresh token (or another process may still be
   * using it): there is nothing to fall back to, a new refresh token is needed. The server's answer is the `cause`.
   */
  | 'refresh_token_refused';

/** Codes of every tokenkit error. */
export type TokenKitErrorCode =
  | TokenEndpointErrorCode
  | 'oauth_error'
  | 'invalid_option'
  | 'store'
  /**
   * A function given in the grant (a subject or actor token, an assertion, a secret parameter) threw or returned no
   * token. Its error is the `cause`; the message names the option.
   */
  | 'grant_input';

/**
 * Base class of every error tokenkit throws. Check with {@link isTokenKitError},
 * which also recognises errors from a second copy of the package.
 *
 * No message, `cause` or serialisation of a tokenkit error contains a client
 * secret, a password, an assertion or a token.
 *
 * @example
 * ```ts
 * try { await tokens.getToken(); } catch (err) {
 *   if (isTokenKitError(err)) console.error(err.code, err.message);
 * }
 * ```
 */
export class TokenKitError extends Error {
  override name = 'TokenKitError';
  /** Stable, machine-readable reason. */
  readonly code: TokenKitErrorCode;

  constructor(code: TokenKitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    Object.defineProperty(this, MARKER, { value: true });
  }

  /** What `JSON.stringify` shows: name, code and message, nothing else. */
  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message };
  }
}

/**
 * The token endpoint answered with an RFC 6749 §5.2 error response, for
 * example `invalid_client`, `invalid_grant` or `invalid_scope`. Never retried.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 * @example
 * ```ts
 * if (isOAuthError(err) && err.error === 'invalid_client') rotateCredentials();
 * ```
 */
export class OAuthError extends TokenKitError {
  override name = 'OAuthError';
  declare readonly code: 'oauth_error';
  /** The `error` parameter, e.g. `invalid_client`. */
  readonly error: string;
  /** The `error_description` parameter, if any. */
  readonly errorDescription: string | undefined;
  /** The `error_uri` parameter, if any. */
  readonly errorUri: string | undefined;
  /** HTTP status of the answer. */
  readonly status: number;

  constructor(fields: {
    error: string;
    errorDescription?: string | undefined;
    errorUri?: string | undefined;
    status: number;
    /** What tokenkit suggests, appended to the message (e.g. which Basic encoding was used). */
    hint?: string | undefined;
  }) {
    const description = fields.errorDescription ? `: ${fields.errorDescription}` : '';
    const hint = fields.hint ? ` (${fields.hint})` : '';
    super('oauth_error', `token endpoint answered ${fields.status} ${fields.error}${description}${hint}`);
    this.error = fields.error;
    this.errorDescription = fields.errorDescription;
    this.errorUri = fields.errorUri;
    this.status = fields.status;
  }

  override toJSON(): Record<string, unknown> {
    return {
      ...super.toJSON(),
      error: this.error,
      errorDescription: this.errorDescription,
      errorUri: this.errorUri,
      status: this.status,
    };
  }
}

/**
 * Anything else that went wrong getting a token: timeouts, network failures,
 * unexpected HTTP statuses, unusable answers, failed discovery.
 * Tell them apart by {@link TokenEndpointError.code}.
 *
 * @example
 * ```ts
 * if (isTokenEndpointError(err) && err.code === 'timeout') metrics.count('token_timeout');
 * ```
 */
export class TokenEndpointError extends TokenKitError {
  override name = 'TokenEndpointError';
  declare readonly code: TokenEndpointErrorCode;
  /** HTTP status, when the endpoint answered. */
  readonly status: number | undefined;

  constructor(
    code: TokenEndpointErrorCode,
    message: string,
    options?: { cause?: unknown; status?: number | undefined },
  ) {
    super(code, message, options);
    this.status = options?.status;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), status: this.status };
  }
}

/**
 * An option passed to tokenkit is missing or invalid. Thrown synchronously by
 * `createTokenProvider()` and the adapters' install functions.
 */
export class ConfigurationError extends TokenKitError {
  override name = 'ConfigurationError';
  declare readonly code: 'invalid_option';
  /** The name of the offending option. */
  readonly option: string;

  constructor(option: string, message: string, options?: { cause?: unknown }) {
    super('invalid_option', `${option}: ${message}`, options);
    this.option = option;
  }
}

function hasMarker(value: unknown): value is TokenKitError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
}

/**
 * True for every tokenkit error, also one created by another copy of the package.
 * @example
 * ```ts
 * if (isTokenKitError(err)) log.warn({ code: err.code }, err.message);
 * ```
 */
export function isTokenKitError(value: unknown): value is TokenKitError {
  return value instanceof TokenKitError || hasMarker(value);
}

/**
 * True for an {@link OAuthError}, also one from another copy of the package.
 * @example
 * ```ts
 * if (isOAuthError(err)) console.log(err.error, err.status);
 * ```
 */
export function isOAuthError(value: unknown): value is OAuthError {
  return value instanceof OAuthError || (hasMarker(value) && value.name === 'OAuthError');
}

/**
 * True for a {@link TokenEndpointError}, also one from another copy of the package.
 * @example
 * ```ts
 * if (isTokenEndpointError(err) && err.code === 'network') retryLater();
 * ```
 */
export function isTokenEndpointError(value: unknown): value is TokenEndpointError {
  return value instanceof TokenEndpointError || (hasMarker(value) && value.name === 'TokenEndpointError');
}

/**
 * Finds a tokenkit error in `value` or its `cause` chain — adapters' HTTP
 * clients often wrap the error thrown in a hook.
 * @example
 * ```ts
 * const tk = findTokenKitError(axiosError); // OAuthError | TokenEndpointError | ...
 * ```
 */
export function findTokenKitError(value: unknown): TokenKitError | undefined {
  for (let current = value, depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    if (isTokenKitError(current)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
