/**
 * The events of each token request, discovery and HTTP attempt (`request_*`, `discovery_*`, `attempt_*`), made only
 * when someone observes the provider. Kept out of `token-provider.ts`, which only says when a step starts and ends.
 */
import type { ClientAuthMethod } from './client-auth.ts';
import { isOAuthError, isTokenEndpointError, TokenEndpointError, TokenKitError } from './errors.ts';
import type { Grant, TokenEvent } from './options.ts';
import type { ParsedToken } from './token-response.ts';
import { describeUrl, type AttemptEnd } from './transport.ts';

/** What the helpers need of an observed provider. */
export interface Observed {
  readonly key: string;
  readonly emit: (event: TokenEvent) => void;
  /** The provider's clock (monotonic within the process), for durations. */
  readonly now: () => number;
}

/** An attempt observer for `TransportOptions.onAttempt`. */
export type OnAttempt = (where: string, attempt: number, method: 'GET' | 'POST') => AttemptEnd;

/** Ids of token and discovery requests in events: unique within the process, so that any observer can pair them. */
let lastRequestId = 0;

/** A failure as events carry it: tokenkit's own errors as they are (their messages are scrubbed), others as `network`. */
export function safeError(error: unknown): TokenKitError {
  return error instanceof TokenKitError
    ? error
    : new TokenEndpointError('network', 'token request failed unexpectedly', { cause: error });
}

/** What a token request is, for its start and end events. */
export interface RequestFacts {
  grant: Grant['type'];
  /** The token endpoint (its query never reaches an event). */
  endpoint: string;
  clientId: string;
  clientAuth: ClientAuthMethod;
  clientAuthReason: string;
  /** The scope requested, space-delimited. */
  scope: string | undefined;
  background: boolean;
}

/** Emits `request_start` now; the caller passes `onAttempt` to the transport and calls `end` once. */
export function observeRequest(p: Observed, facts: RequestFacts) {
  const id = ++lastRequestId;
  const startedAt = p.now();
  const common = {
    key: p.key,
    id,
    grant: facts.grant,
    endpoint: describeUrl(facts.endpoint),
    origin: new URL(facts.endpoint).origin,
    clientId: facts.clientId,
    background: facts.background,
  };
  let attempts = 0;
  p.emit({
    type: 'request_start',
    ...common,
    clientAuth: facts.clientAuth,
    clientAuthReason: facts.clientAuthReason,
    scope: facts.scope?.split(' ') ?? [],
  });
  return {
    origin: common.origin,
    onAttempt: observeAttempts(p, 'token', id, () => attempts++),
    attempts: () => attempts,
    /** The request ended: with `error`, or with the answer's status and the token it gave. */
    end(error: unknown, status?: number, parsed?: ParsedToken): void {
      const end: TokenEvent = { type: 'request_end', ...common, durationMs: p.now() - startedAt, attempts };
      const finalStatus = status ?? (isOAuthError(error) || isTokenEndpointError(error) ? error.status : undefined);
      if (finalStatus !== undefined) end.status = finalStatus;
      if (error !== undefined) end.error = safeError(error);
      if (parsed !== undefined) {
        end.grantedScope = parsed.scope?.split(' ').filter(Boolean);
        end.expiresAt = Math.floor(parsed.expiresAt);
      }
      p.emit(end);
    },
  };
}

/** What discovery found, for its end event. */
export interface DiscoveryFound {
  tokenEndpoint: string;
  authMethods: readonly string[] | undefined;
  clientAuth: ClientAuthMethod;
  clientAuthReason: string;
}

/** Emits `discovery_start` now; the caller passes `onAttempt` to the transport and calls `found` or `failed` once. */
export function observeDiscovery(p: Observed, issuer: string) {
  const id = ++lastRequestId;
  const startedAt = p.now();
  p.emit({ type: 'discovery_start', key: p.key, id, issuer });
  const common = () => ({ type: 'discovery_end' as const, key: p.key, id, issuer, durationMs: p.now() - startedAt });
  return {
    onAttempt: observeAttempts(p, 'discovery', id, () => {}),
    found(result: DiscoveryFound): void {
      p.emit({ ...common(), ...result, tokenEndpoint: describeUrl(result.tokenEndpoint) });
    },
    failed(error: unknown): void {
      p.emit({ ...common(), error: safeError(error) });
    },
  };
}

function observeAttempts(p: Observed, operation: 'token' | 'discovery', id: number, counted: () => void): OnAttempt {
  return (url, attempt, method) => {
    counted();
    const startedAt = p.now();
    const common = { key: p.key, id, operation, attempt, method, url };
    p.emit({ type: 'attempt_start', ...common });
    return (status, error) => {
      const end: TokenEvent = { type: 'attempt_end', ...common, durationMs: p.now() - startedAt };
      if (status !== undefined) end.status = status;
      else end.errorCode = isTokenEndpointError(error) ? error.code : 'network';
      p.emit(end);
    };
  };
}
