import {
  createTokenProvider,
  type AccessToken,
  type ClientAuthMethod,
  type TokenEvent,
  type TokenProviderOptions,
} from '@tokenkit/core';
import type { Output } from './io.ts';
import { observingFetch, type Exchange } from './observe.ts';

/** One run of core's `getToken()` with what the CLI saw of it. */
export interface Attempt {
  options: TokenProviderOptions;
  exchanges: Exchange[];
  events: TokenEvent[];
  token?: AccessToken;
  error?: unknown;
  /** Wall clock when `getToken()` was called, epoch ms. */
  startedAt: number;
  durationMs: number;
}

/** The options that choose how the client authenticates, which the doctor varies. */
export interface Variant {
  clientAuthMethod?: ClientAuthMethod | undefined;
  basicEncoding?: 'form' | 'plain' | undefined;
  defaultTokenType?: 'Bearer' | undefined;
  /** Use this token endpoint instead of the configured one or discovery (what discovery found already). */
  tokenEndpoint?: string | undefined;
}

/**
 * Gets one token with core, observing its HTTP exchanges and events. Every secret core's answer carries (access and
 * refresh tokens) is registered with the output's masker before anything is printed.
 */
export async function runAttempt(base: TokenProviderOptions, out: Output, variant: Variant = {}): Promise<Attempt> {
  const exchanges: Exchange[] = [];
  const events: TokenEvent[] = [];
  const options: TokenProviderOptions = { ...base };
  if (variant.clientAuthMethod !== undefined) options.clientAuthMethod = variant.clientAuthMethod;
  if (variant.basicEncoding !== undefined) options.basicEncoding = variant.basicEncoding;
  if (variant.defaultTokenType !== undefined) options.defaultTokenType = variant.defaultTokenType;
  if (variant.tokenEndpoint !== undefined) {
    delete options.issuer;
    options.tokenEndpoint = variant.tokenEndpoint;
  }
  options.fetch = observingFetch(exchanges, out, {
    clientId: options.clientId ?? '',
    clientSecret: options.clientSecret,
  });
  options.onEvent = (event) => {
    events.push(event);
    if (event.type === 'retry') {
      const why = event.status === undefined ? `${event.reason.replace('_', ' ')} error` : `HTTP ${event.status}`;
      out.progress(`${why}; retrying in ${(event.delayMs / 1000).toFixed(1)} s (retry ${event.attempt})`);
    }
  };
  const attempt: Attempt = { options, exchanges, events, startedAt: Date.now(), durationMs: 0 };
  const started = performance.now();
  try {
    // createTokenProvider throws ConfigurationError synchronously: the caller handles that as a usage error.
    const provider = createTokenProvider(options);
    attempt.token = await provider.getToken();
  } catch (error) {
    attempt.error = error;
  }
  attempt.durationMs = performance.now() - started;
  await registerSecrets(attempt, out);
  return attempt;
}

async function registerSecrets(attempt: Attempt, out: Output): Promise<void> {
  out.secrets.add(attempt.token?.accessToken);
  for (const exchange of attempt.exchanges) {
    if (exchange.kind !== 'token') continue;
    const body = await responseJson(exchange);
    for (const field of ['access_token', 'refresh_token', 'id_token']) {
      const value = body?.[field];
      if (typeof value === 'string') {
        out.secrets.add(value);
        // A JWT's signature alone is what makes it usable: hide it wherever it shows up.
        out.secrets.add(value.split('.')[2]);
      }
    }
  }
}

/** The JSON object an exchange answered with, or undefined. */
export async function responseJson(exchange: Exchange): Promise<Record<string, unknown> | undefined> {
  const text = await exchange.body;
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The last token request of an attempt. */
export function lastTokenExchange(attempt: Attempt): Exchange | undefined {
  return attempt.exchanges.findLast((e) => e.kind === 'token');
}
