import { OAuthError, TokenEndpointError, type TokenKitError } from './errors.ts';
import type { HttpAnswer } from './transport.ts';

/** What a successful token response gives us; internal (the refresh token never leaves core). */
export interface ParsedToken {
  accessToken: string;
  /** `DPoP` for a DPoP request; `N_A`: RFC 8693 §2.2.1, the issued token is not an access token (only with
   * `allowNotApplicable`). */
  tokenType: 'Bearer' | 'DPoP' | 'N_A';
  /** RFC 8693 §2.2.1 `issued_token_type`, when the server said. */
  issuedTokenType?: string | undefined;
  /** Epoch milliseconds, counted from when the request was sent; never later than a JWT's own `exp`. */
  expiresAt: number;
  scope: string | undefined;
  refreshToken: string | undefined;
  /**
   * From `refresh_expires_in` (Keycloak and others): epoch ms, counted from when the request was sent.
   * Undefined when the server gave no limit (absent, 0 or malformed).
   */
  refreshExpiresAt?: number | undefined;
}

/** Optional inputs of {@link parseTokenResponse}. */
export interface TokenResponseOptions {
  /** When the answer arrived, on the same clock as `sentAt` (epoch ms). Default: `sentAt`. */
  receivedAt?: number | undefined;
  /** The answer's `Date` header as epoch ms (the server's clock), to translate a JWT's `exp` to ours. */
  serverDate?: number | undefined;
  /** Take a missing or empty `token_type` as this (some servers leave it out). Default: such an answer is an error. */
  defaultTokenType?: 'Bearer' | undefined;
  /**
   * Accept `token_type: N_A` (RFC 8693 §2.2.1: a token exchange issued something that is not an access token).
   * Default: such an answer is an error.
   */
  allowNotApplicable?: boolean | undefined;
  /**
   * The token type asked for. `DPoP` (the request carried a DPoP proof): only `token_type` `DPoP` is accepted; a
   * `Bearer` answer means the server did not bind the token, and is an error rather than a silent downgrade.
   * Default `Bearer`.
   */
  tokenType?: 'Bearer' | 'DPoP' | undefined;
}

/** Longest `expires_in` accepted; a larger value is treated as a broken answer. */
export const MAX_EXPIRES_IN_SECONDS = 366 * 24 * 3600;

// Visible ASCII only: anything else cannot go into an Authorization header.
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

/**
 * Validates a decoded token response body (RFC 6749 §5.1) and computes its
 * expiry from `sentAt`. Throws {@link TokenEndpointError} `invalid_response`
 * for anything unusable; the message never quotes a token.
 *
 * Without `expires_in` (or with `expires_in: 0`, which some gateways send), a JWT's `exp` is used, never
 * later than `exp` itself: translated to our clock with `options.serverDate` when given, else read on our
 * clock; its `iat` may only shorten the lifetime. Else `defaultExpiresInSeconds`.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
export function parseTokenResponse(
  body: unknown,
  sentAt: number,
  defaultExpiresInSeconds: number,
  options: TokenResponseOptions = {},
): ParsedToken {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('is not a JSON object');
  }
  const fields = body as Record<string, unknown>;
  const accessToken = fields['access_token'];
  if (typeof accessToken !== 'string' || accessToken === '') throw invalid('has no access_token');
  if (!TOKEN_CHARS.test(accessToken))
    throw invalid('has an access_token with characters not allowed in an HTTP header');
  let tokenType = fields['token_type'];
  if (tokenType === undefined || tokenType === null || tokenType === '') {
    if (options.defaultTokenType === undefined) {
      throw invalid("has no token_type (to take such answers as Bearer, set the option defaultTokenType: 'Bearer')");
    }
    tokenType = options.defaultTokenType;
  }
  if (typeof tokenType !== 'string') throw invalid('has no token_type (not a string)');
  const notApplicable = tokenType.toUpperCase() === 'N_A';
  if (notApplicable && !options.allowNotApplicable) {
    throw invalid(
      'has token_type N_A: the issued token is not an access token (RFC 8693 §2.2.1); with token exchange, set grant.requestedTokenType to the type you want',
    );
  }
  const expected = options.tokenType ?? 'Bearer';
  if (!notApplicable && tokenType.toLowerCase() !== expected.toLowerCase()) {
    const quoted = JSON.stringify(tokenType.slice(0, 40));
    if (expected === 'DPoP' && tokenType.toLowerCase() === 'bearer')
      throw invalid(
        `has token_type "Bearer" to a DPoP request: the server did not bind the token to the DPoP key (RFC 9449 §5); enable DPoP for this client at the server, or turn the dpop option off`,
      );
    throw invalid(
      expected === 'DPoP'
        ? `has token_type ${quoted}; a DPoP request needs token_type DPoP`
        : `has token_type ${quoted}; only Bearer is supported (DPoP: the dpop option)`,
    );
  }

  const receivedAt = options.receivedAt ?? sentAt;
  const expiresAt = computeExpiry(
    fields['expires_in'],
    accessToken,
    sentAt,
    receivedAt,
    options.serverDate,
    defaultExpiresInSeconds,
  );
  const scope = typeof fields['scope'] === 'string' ? fields['scope'] : undefined;
  const refresh = fields['refresh_token'];
  const refreshToken = typeof refresh === 'string' && refresh !== '' ? refresh : undefined;
  const parsed: ParsedToken = {
    accessToken,
    tokenType: notApplicable ? 'N_A' : expected,
    expiresAt,
    scope,
    refreshToken,
  };
  const issuedType = fields['issued_token_type'];
  if (typeof issuedType === 'string' && issuedType !== '') parsed.issuedTokenType = issuedType.slice(0, 200);
  const refreshSeconds = numeric(fields['refresh_expires_in']);
  // 0 is Keycloak's "no limit" (offline tokens); anything malformed is ignored: the refresh token itself is still usable.
  if (refreshSeconds !== undefined && refreshSeconds > 0 && Number.isFinite(sentAt + refreshSeconds * 1000)) {
    parsed.refreshExpiresAt = sentAt + refreshSeconds * 1000;
  }
  return parsed;
}

/** A number, or a string holding a non-negative decimal number; else undefined. */
function numeric(raw: unknown): number | undefined {
  const value =
    typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
  return Number.isFinite(value) ? value : undefined;
}

function computeExpiry(
  raw: unknown,
  accessToken: string,
  sentAt: number,
  receivedAt: number,
  serverDate: number | undefined,
  defaultSeconds: number,
): number {
  if (raw !== undefined && raw !== null) {
    const seconds = numeric(raw);
    if (seconds === undefined) throw invalid('has a non-numeric expires_in');
    // Some gateways send 0 for "not stated": taken as absent (RFC 6749 only recommends expires_in).
    if (seconds !== 0) {
      if (seconds < 1) throw invalid(`has expires_in ${seconds}; it must be positive (at least 1 second)`);
      if (seconds > MAX_EXPIRES_IN_SECONDS) throw invalid(`has expires_in ${seconds}, more than a year`);
      return sentAt + seconds * 1000;
    }
  }
  const claims = jwtClaims(accessToken);
  if (claims !== undefined && typeof claims.exp === 'number' && Number.isFinite(claims.exp)) {
    // A token service may hand every caller the same cached JWT, issued long ago: it must not outlive its exp.
    // exp is on the issuer's clock; the Date header tells us its offset from ours. The server wrote it at some
    // moment after we sent, up to 1 s after the second it names: counting from our send time, less that second,
    // errs on the early side however long the answer took to arrive.
    let expiresAt = serverDate === undefined ? claims.exp * 1000 : claims.exp * 1000 - serverDate + sentAt - 1000;
    // exp - iat, counted from our own send time, only ever shortens that (it needs no clock agreement at all).
    if (typeof claims.iat === 'number' && Number.isFinite(claims.iat)) {
      expiresAt = Math.min(expiresAt, sentAt + (claims.exp - claims.iat) * 1000);
    }
    if (expiresAt - receivedAt < 1000) throw invalid('has no expires_in and its JWT has already expired');
    return Math.min(expiresAt, sentAt + MAX_EXPIRES_IN_SECONDS * 1000);
  }
  return sentAt + defaultSeconds * 1000;
}

/** The payload of a JWS compact token, or undefined when it is not one. Not verified: used only for `exp`. */
function jwtClaims(token: string): { exp?: unknown; iat?: unknown } | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    return typeof payload === 'object' && payload !== null ? (payload as { exp?: unknown; iat?: unknown }) : undefined;
  } catch {
    return undefined;
  }
}

function invalid(what: string, status?: number): TokenEndpointError {
  return new TokenEndpointError('invalid_response', `token response ${what}`, { status });
}

/** Optional inputs of {@link readTokenAnswer}. */
export interface TokenAnswerOptions {
  /** When the answer arrived, on the same clock as `sentAt` (epoch ms). Default: `sentAt`. */
  receivedAt?: number | undefined;
  /** Take a missing or empty `token_type` as this. */
  defaultTokenType?: 'Bearer' | undefined;
  /** Accept `token_type: N_A` (RFC 8693 §2.2.1). */
  allowNotApplicable?: boolean | undefined;
  /** The token type asked for; see {@link TokenResponseOptions.tokenType}. */
  tokenType?: 'Bearer' | 'DPoP' | undefined;
}

/** The longest piece of a server's error body quoted in a message. */
const EXCERPT_CHARS = 200;

/**
 * Turns a token endpoint answer into a token or a typed error.
 * `scrub` removes the request's secrets from any server text we quote; it always
 * sees a whole text, which is cut to length only afterwards (a cut secret would no longer match).
 * The answer's `Date` header translates a JWT's `exp` to our clock.
 */
export function readTokenAnswer(
  answer: HttpAnswer,
  sentAt: number,
  defaultExpiresInSeconds: number,
  scrub: (text: string) => string,
  options: TokenAnswerOptions = {},
): ParsedToken {
  const body = parseJson(answer.text);
  const oauth = oauthErrorFrom(body, answer.status, scrub);
  if (oauth !== undefined) throw oauth;
  if (answer.status < 200 || answer.status >= 300) throw statusError(answer, 'token endpoint', body, scrub);
  if (body === undefined) {
    throw invalid(`(HTTP ${answer.status}, ${contentType(answer)}) is not JSON`, answer.status);
  }
  const date = Date.parse(answer.headers.get('date') ?? '');
  try {
    return parseTokenResponse(body, sentAt, defaultExpiresInSeconds, {
      receivedAt: options.receivedAt,
      serverDate: Number.isNaN(date) ? undefined : date,
      defaultTokenType: options.defaultTokenType,
      allowNotApplicable: options.allowNotApplicable,
      tokenType: options.tokenType,
    });
  } catch (error) {
    if (error instanceof TokenEndpointError)
      throw new TokenEndpointError(error.code, error.message, { status: answer.status });
    throw error;
  }
}

/** A non-2xx answer that is not an OAuth error response; a JSON body is quoted, scrubbed and short. */
function statusError(answer: HttpAnswer, what: string, body: unknown, scrub: (text: string) => string): TokenKitError {
  const retryAfter = answer.headers.get('retry-after');
  const hint = retryAfter === null ? '' : `, Retry-After ${retryAfter.slice(0, 40)}`;
  const quoted = body === undefined ? '' : `: ${cut(jsonExcerpt(body, answer.text, scrub), EXCERPT_CHARS)}`;
  return new TokenEndpointError(
    'http_status',
    `${what} answered HTTP ${answer.status} (${contentType(answer)}${hint})${quoted}`,
    {
      status: answer.status,
    },
  );
}

/** The whole JSON body on one line, every string in it and then the whole text scrubbed. Not yet cut. */
function jsonExcerpt(body: unknown, raw: string, scrub: (text: string) => string): string {
  let text: string;
  try {
    // Strings are scrubbed decoded, so a secret that JSON escapes (a quote, a backslash) is found too.
    text = JSON.stringify(body, (_key, value: unknown) => (typeof value === 'string' ? scrub(value) : value));
  } catch {
    text = raw; // nested too deep to serialise again
  }
  return scrub(text);
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 3)}...`;
}

function oauthErrorFrom(body: unknown, status: number, scrub: (text: string) => string): OAuthError | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { error, error_description: description, error_uri: uri } = body as Record<string, unknown>;
  if (typeof error !== 'string' || error === '') return undefined;
  return new OAuthError({
    error: scrub(error).slice(0, 100),
    errorDescription: typeof description === 'string' ? scrub(description).slice(0, 500) : undefined,
    errorUri: typeof uri === 'string' ? scrub(uri).slice(0, 500) : undefined,
    status,
  });
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function contentType(answer: HttpAnswer): string {
  return (answer.headers.get('content-type') ?? 'no content-type').split(';')[0]!.trim().slice(0, 60);
}
