import { OAuthError, TokenEndpointError, type TokenKitError } from './errors.ts';
import type { HttpAnswer } from './transport.ts';

/** What a successful token response gives us; internal (the refresh token never leaves core). */
export interface ParsedToken {
  accessToken: string;
  tokenType: 'Bearer';
  /** Epoch milliseconds, counted from when the request was sent. */
  expiresAt: number;
  scope: string | undefined;
  refreshToken: string | undefined;
}

/** Longest `expires_in` accepted; a larger value is treated as a broken answer. */
export const MAX_EXPIRES_IN_SECONDS = 366 * 24 * 3600;

// Visible ASCII only: anything else cannot go into an Authorization header.
const TOKEN_CHARS = /^[\x21-\x7e]+$/;

/**
 * Validates a decoded token response body (RFC 6749 §5.1) and computes its
 * expiry from `sentAt`. Throws {@link TokenEndpointError} `invalid_response`
 * for anything unusable; the message never quotes a token.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1
 */
export function parseTokenResponse(body: unknown, sentAt: number, defaultExpiresInSeconds: number): ParsedToken {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('is not a JSON object');
  }
  const fields = body as Record<string, unknown>;
  const accessToken = fields['access_token'];
  if (typeof accessToken !== 'string' || accessToken === '') throw invalid('has no access_token');
  if (!TOKEN_CHARS.test(accessToken)) throw invalid('has an access_token with characters not allowed in an HTTP header');
  const tokenType = fields['token_type'];
  if (typeof tokenType !== 'string' || tokenType === '') throw invalid('has no token_type');
  if (tokenType.toLowerCase() !== 'bearer') throw invalid(`has token_type ${JSON.stringify(tokenType.slice(0, 40))}; only Bearer is supported`);

  const expiresAt = computeExpiry(fields['expires_in'], accessToken, sentAt, defaultExpiresInSeconds);
  const scope = typeof fields['scope'] === 'string' ? fields['scope'] : undefined;
  const refresh = fields['refresh_token'];
  const refreshToken = typeof refresh === 'string' && refresh !== '' ? refresh : undefined;
  return { accessToken, tokenType: 'Bearer', expiresAt, scope, refreshToken };
}

function computeExpiry(raw: unknown, accessToken: string, sentAt: number, defaultSeconds: number): number {
  if (raw !== undefined && raw !== null) {
    const seconds = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isFinite(seconds)) throw invalid('has a non-numeric expires_in');
    if (seconds < 1) throw invalid(`has expires_in ${seconds}; it must be positive (at least 1 second)`);
    if (seconds > MAX_EXPIRES_IN_SECONDS) throw invalid(`has expires_in ${seconds}, more than a year`);
    return sentAt + seconds * 1000;
  }
  const claims = jwtClaims(accessToken);
  if (claims !== undefined && typeof claims.exp === 'number' && Number.isFinite(claims.exp)) {
    // Prefer the lifetime the issuer stated (exp - iat) from our own clock, so clock skew
    // between us and the issuer does not shorten or stretch it.
    const lifetimeMs =
      typeof claims.iat === 'number' && Number.isFinite(claims.iat) ? (claims.exp - claims.iat) * 1000 : claims.exp * 1000 - sentAt;
    if (lifetimeMs < 1000) throw invalid('has no expires_in and its JWT has already expired');
    return sentAt + Math.min(lifetimeMs, MAX_EXPIRES_IN_SECONDS * 1000);
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

/**
 * Turns a token endpoint answer into a token or a typed error.
 * `scrub` removes the request's secrets from any server text we quote.
 */
export function readTokenAnswer(
  answer: HttpAnswer,
  sentAt: number,
  defaultExpiresInSeconds: number,
  scrub: (text: string) => string,
): ParsedToken {
  const body = parseJson(answer.text);
  const oauth = oauthErrorFrom(body, answer.status, scrub);
  if (oauth !== undefined) throw oauth;
  if (answer.status < 200 || answer.status >= 300) throw statusError(answer, 'token endpoint');
  if (body === undefined) {
    throw invalid(`(HTTP ${answer.status}, ${contentType(answer)}) is not JSON`, answer.status);
  }
  try {
    return parseTokenResponse(body, sentAt, defaultExpiresInSeconds);
  } catch (error) {
    if (error instanceof TokenEndpointError) throw new TokenEndpointError(error.code, error.message, { status: answer.status });
    throw error;
  }
}

/** A non-2xx answer that is not an OAuth error response. */
function statusError(answer: HttpAnswer, what: string): TokenKitError {
  const retryAfter = answer.headers.get('retry-after');
  const hint = retryAfter === null ? '' : `, Retry-After ${retryAfter.slice(0, 40)}`;
  return new TokenEndpointError('http_status', `${what} answered HTTP ${answer.status} (${contentType(answer)}${hint})`, {
    status: answer.status,
  });
}

function oauthErrorFrom(body: unknown, status: number, scrub: (text: string) => string): OAuthError | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { error, error_description: description, error_uri: uri } = body as Record<string, unknown>;
  if (typeof error !== 'string' || error === '') return undefined;
  return new OAuthError({
    error: scrub(error.slice(0, 100)),
    errorDescription: typeof description === 'string' ? scrub(description.slice(0, 500)) : undefined,
    errorUri: typeof uri === 'string' ? scrub(uri.slice(0, 500)) : undefined,
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
