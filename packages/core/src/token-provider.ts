import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from './clock.ts';
import { createClientAuth, type ClientAuth, type TokenParams } from './client-auth.ts';
import { discover, type ServerMetadata } from './discovery.ts';
import type { DPoPBinding } from './dpop.ts';
import { tokenEndpointFor } from './mtls.ts';
import {
  ConfigurationError,
  isOAuthError,
  isTokenEndpointError,
  OAuthError,
  TokenEndpointError,
  TokenKitError,
} from './errors.ts';
import {
  ACCESS_TOKEN_TYPE,
  prepareGrant,
  secretHash,
  type GrantBinding,
  type GrantRequest,
  type PreparedGrant,
} from './grants.ts';
import type { StoredToken } from './memory-store.ts';
import {
  asStoredToken,
  OBSERVE,
  resolveOptions,
  type EmitEvent,
  type Grant,
  type ResolvedOptions,
  type TokenEvent,
  type TokenProviderOptions,
} from './options.ts';
import { parseJson, readTokenAnswer, type ParsedToken } from './token-response.ts';
import { cutoffOf, nextRefreshAttemptAfter, pauseAfter, refreshStartOf } from './refresh-timing.ts';
import { scrub, sentSecrets } from './scrub.ts';
import { observeDiscovery, observeRequest, type Observed } from './observe.ts';
import { deadlineIn, describeUrl, sendWithRetries, type Deadline, type TransportOptions } from './transport.ts';

/** An access token as `getToken()` serves it. The same object is returned until the token is replaced. */
export interface AccessToken {
  /** The token to send as `Authorization: <tokenType> <accessToken>`. */
  readonly accessToken: string;
  /**
   * `Bearer`; `DPoP` with the `dpop` option (then every request also needs a proof: see `requestHeaders`); or `N_A`
   * for a token exchange that asked for another type of token than an access token (`grant.requestedTokenType`,
   * RFC 8693 §2.2.1): such a token is never put into an `Authorization` header. Other token types are rejected.
   */
  readonly tokenType: 'Bearer' | 'DPoP' | 'N_A';
  /** Token exchange: the `issued_token_type` the server answered (RFC 8693 §2.2.1), e.g. `...:token-type:jwt`. */
  readonly issuedTokenType?: string | undefined;
  /** When the token expires, epoch milliseconds, counted from when it was requested. */
  readonly expiresAt: number;
  /** The scope the server granted, when it said. */
  readonly scope: string | undefined;
}

/** What {@link TokenProvider.requestHeaders} gives: `authorization`, and `dpop` with the `dpop` option. */
export type RequestHeaders = { readonly authorization: string } & Readonly<Record<string, string>>;

/** Per-call options of {@link TokenProvider.getToken}. */
export interface GetTokenOptions {
  /** Stops this caller's wait for a token (the shared token request goes on for others). */
  signal?: AbortSignal | undefined;
  /** Longest this caller waits for a token, in ms; then it gets a `TokenEndpointError` `timeout`. */
  timeoutMs?: number | undefined;
}

/**
 * Gets access tokens and keeps them until shortly before they expire.
 * Create one per client and share it: it is safe for any number of concurrent callers.
 */
export interface TokenProvider {
  /** The cache key: derived from every parameter that changes the token, never from a secret. */
  readonly key: string;
  /**
   * A valid access token: from memory when there is one, else from the store,
   * else from the token endpoint — one request however many callers wait.
   */
  getToken(options?: GetTokenOptions): Promise<AccessToken>;
  /** `Bearer <token>` (`DPoP <token>` with the `dpop` option), ready for an `Authorization` header. */
  authorizationHeader(options?: GetTokenOptions): Promise<string>;
  /**
   * The headers a request of `method` to `url` needs: `authorization`, and with the `dpop` option a fresh `dpop`
   * proof for that method and URL (with `ath`, and the latest nonce its origin gave). For callers without an adapter;
   * give it the URL and method actually sent. With DPoP, the API's `DPoP-Nonce` answers go to `dpop.setNonce()`.
   * @see https://www.rfc-editor.org/rfc/rfc9449#section-7.1
   */
  requestHeaders(method: string, url: string | URL, options?: GetTokenOptions): Promise<RequestHeaders>;
  /** The DPoP binding with the `dpop` option (its key's thumbprint, proofs, nonces), else undefined. */
  readonly dpop: DPoPBinding | undefined;
  /**
   * `Bearer <token>` at once when a token can be served without waiting (the
   * same rule as `getToken()`, including starting a background refresh in the
   * refresh-ahead window), else undefined: then await `authorizationHeader()`.
   * For hot paths that can stay synchronous.
   */
  cachedAuthorizationHeader(): string | undefined;
  /**
   * Drops `accessToken` (after an API answered 401) if it is still the cached
   * one, here and in the store; a newer token is left alone. A token that
   * itself replaced a rejected one less than 10 s ago is kept: when every
   * token is rejected, the API is the problem, and fetching again per 401
   * would hammer the token endpoint. Resolves to true when the token was dropped.
   */
  invalidate(accessToken: string): Promise<boolean>;
}

/** The token endpoint and the client authentication used there. */
interface Target {
  endpoint: string;
  auth: ClientAuth;
  /** Why this client authentication, for events and debug output. */
  reason: string;
}

/**
 * The client authentication for a discovered server: the configured method; without an explicit one,
 * `client_secret_post` when the server lists it and not `client_secret_basic`.
 */
function clientAuthFor(o: ResolvedOptions, metadata: ServerMetadata): Target {
  const methods = metadata.tokenEndpointAuthMethods;
  const postOnly =
    methods !== undefined && !methods.includes('client_secret_basic') && methods.includes('client_secret_post');
  const switched = o.autoAuthMethod && o.clientSecret !== undefined && postOnly;
  const method = switched ? 'client_secret_post' : o.clientAuthMethod;
  const auth = createClientAuth(method, o.clientId, o.clientSecret, o.privateKey, o.certificate, o.basicEncoding);
  const reason = switched
    ? 'the server lists client_secret_post and not client_secret_basic'
    : o.autoAuthMethod
      ? methods === undefined
        ? 'the default; the server lists no methods'
        : `the default; the server lists ${methods.includes(method) ? 'it' : 'other methods only'}`
      : 'configured';
  return { endpoint: tokenEndpointFor(metadata, o.tls), auth, reason };
}

/** A cached token. Times are on the provider's `now()` scale (monotonic within the process). */
interface Entry {
  token: AccessToken;
  promise: Promise<AccessToken>;
  header: Promise<string>;
  /** Undefined for a token that is not an access token (`N_A`): `header` then rejects. */
  headerValue: string | undefined;
  expiresAt: number;
  receivedAt: number;
  /** Served until here: expiresAt minus the skew. */
  cutoff: number;
  /** From here a call starts a background refresh. */
  refreshAt: number;
  /** Token exchange with a changing subject: the hash of the subject token it was exchanged from. */
  subjectHash: string | undefined;
}

/** What taking the fleet lock gave: it, someone else has it, or the store failed (then we go on alone). */
type LockResult = { kind: 'held'; release: () => Promise<void> } | { kind: 'taken' } | { kind: 'store-failed' };

/** The newest refresh token this provider knows of, from its own answers or the store. Times as in {@link Entry}. */
interface HeldRefreshToken {
  token: string;
  /** When the answer that carried it was received: a newer one, from anywhere in the fleet, wins. */
  receivedAt: number;
  /** Only when the server said (`refresh_expires_in`). */
  expiresAt: number | undefined;
}

/** A token as it came from the token endpoint or the store, on the provider's `now()` scale. */
interface FreshToken {
  accessToken: string;
  tokenType: 'Bearer' | 'DPoP' | 'N_A';
  issuedTokenType: string | undefined;
  expiresAt: number;
  receivedAt: number;
  scope: string | undefined;
  refreshToken: string | undefined;
  refreshExpiresAt: number | undefined;
  subjectHash: string | undefined;
}

/** A grant request's parameters, and what must be added to each attempt (a signed assertion). */
type GrantSend = Pick<GrantRequest, 'params'> & Partial<Pick<GrantRequest, 'secrets' | 'perAttempt' | 'subjectHash'>>;

const MIN_POLL_MS = 25;
/** A token fetched to replace a rejected one is not dropped again within this time. */
const REJECTION_COOLDOWN_MS = 10_000;
const MAX_POLL_MS = 500;
/** Served hits between two checks of the monotonic clock against the wall clock. */
const RESYNC_EVERY = 64;

/**
 * Creates a {@link TokenProvider}. Options are validated at once; a bad one
 * throws a `ConfigurationError` naming it.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
 * @example
 * ```ts
 * const tokens = createTokenProvider({
 *   tokenEndpoint: 'https://auth.example.com/oauth2/token',
 *   clientId: process.env.CLIENT_ID!,
 *   clientSecret: process.env.CLIENT_SECRET,
 *   scope: ['read_payment', 'refund_payment'],
 * });
 * const res = await fetch(url, { headers: { authorization: await tokens.authorizationHeader() } });
 * ```
 */
export function createTokenProvider(options: TokenProviderOptions): TokenProvider {
  return new OAuthTokenProvider(resolveOptions(options));
}

class OAuthTokenProvider implements TokenProvider {
  readonly key: string;
  readonly dpop: DPoPBinding | undefined;
  readonly #o: ResolvedOptions;
  readonly #transport: TransportOptions;
  /** Where and how to ask: fixed, or chosen once from the server's metadata (a failed discovery is not kept). */
  #target: Target | Promise<Target> | undefined;
  #entry: Entry | undefined;
  #inflight: Promise<Entry> | undefined;
  /** Newest refresh token, kept across invalidation; dropped when a refresh with it fails. */
  #refresh: HeldRefreshToken | undefined;
  /** The last refresh token that failed: never taken again from the store. */
  #deadRefreshToken: string | undefined;
  /** The last token invalidated: never adopted again from the store. */
  #rejected: string | undefined;
  /** Its `expiresAt` (wall clock), when it was the cached token: the store never hands back anything older. */
  #rejectedExpiresAt: number | undefined;
  /** When invalidate() last dropped the cached token. */
  #lastDropAt: number | undefined;
  #storeFailing = false;
  /** Consecutive failed loads, the last error and until when new loads are paced. */
  #failure: { error: TokenKitError; count: number; until: number } | undefined;
  #untilResync = RESYNC_EVERY;
  /** The token exchange, JWT-bearer or extension grant (grants.ts); undefined for the three built into this file. */
  readonly #grant: PreparedGrant | undefined;
  /** Set when tokens are bound to a subject token that can change (token exchange from a function or provider). */
  readonly #binding: GrantBinding | undefined;
  /** Token exchange asking for another token type than an access token: `token_type: N_A` is then accepted. */
  readonly #allowNotApplicable: boolean;
  /** The subject token last seen and its hash: every call compares, a changed subject is hashed once. */
  #subject: { token: string; hash: string } | undefined;
  // Hoisted from #o: read on every call.
  readonly #clock: Clock;
  readonly #now: () => number;
  readonly #observed: boolean;
  /** For the events of each request, discovery and attempt (observe.ts); undefined when nobody observes. */
  readonly #observer: Observed | undefined;
  /** The same event object for every cache hit: the hot path allocates nothing for its observer. */
  #hitEvent: TokenEvent | undefined;

  constructor(o: ResolvedOptions) {
    this.#o = o;
    this.#clock = o.clock;
    this.#now = o.clock.now;
    this.#observed = o.onEvent !== undefined;
    const auth = createClientAuth(
      o.clientAuthMethod,
      o.clientId,
      o.clientSecret,
      o.privateKey,
      o.certificate,
      o.basicEncoding,
    );
    if ('tokenEndpoint' in o.endpoint)
      this.#target = { endpoint: o.endpoint.tokenEndpoint, auth, reason: o.autoAuthMethod ? 'default' : 'configured' };
    const grant = o.grant;
    const builtIn = grant.type === 'client_credentials' || grant.type === 'password' || grant.type === 'refresh_token';
    this.#grant = builtIn ? undefined : prepareGrant(grant, o.clientId);
    this.#binding = this.#grant?.binding;
    this.#allowNotApplicable =
      grant.type === 'token_exchange' &&
      grant.requestedTokenType !== undefined &&
      grant.requestedTokenType !== ACCESS_TOKEN_TYPE;
    if (o.grant.type === 'refresh_token')
      this.#refresh = { token: o.grant.refreshToken, receivedAt: -Infinity, expiresAt: undefined };
    this.dpop = o.dpop;
    this.key = cacheKey(o, this.#grant);
    this.#observer = this.#observed ? { key: this.key, emit: (event) => this.#emit(event), now: this.#now } : undefined;
    this.#transport = {
      fetch: o.fetch,
      timeoutMs: o.timeoutMs,
      maxRetries: o.maxRetries,
      maxResponseBytes: o.maxResponseBytes,
      random: Math.random,
      now: o.clock.wall,
      onRetry: o.onEvent && ((info) => this.#emit({ type: 'retry', key: this.key, ...info })),
    };
  }

  getToken(options?: GetTokenOptions): Promise<AccessToken> {
    if (this.#binding !== undefined) return this.#boundEntry(options).then((e) => e.token);
    const entry = this.#servable();
    if (entry !== undefined) return entry.promise;
    // A caller who already gave up starts no token request (and leaves no rejection unhandled).
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    this.#emit({ type: 'miss', key: this.key });
    return this.#wait(this.#acquire(undefined), options).then((e) => e.token);
  }

  authorizationHeader(options?: GetTokenOptions): Promise<string> {
    if (this.#binding !== undefined) return this.#boundEntry(options).then((e) => e.header);
    const entry = this.#servable();
    if (entry !== undefined) return entry.header;
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    this.#emit({ type: 'miss', key: this.key });
    return this.#wait(this.#acquire(undefined), options).then((e) => e.header);
  }

  /** Lets an adapter report its decisions into this provider's events; undefined when nobody observes. */
  get [OBSERVE](): EmitEvent | undefined {
    return this.#observer?.emit;
  }

  cachedAuthorizationHeader(): string | undefined {
    if (this.#binding !== undefined) {
      const subject = this.#binding.peek();
      if (subject === undefined) return undefined;
      this.#sawSubject(subject);
    }
    return this.#servable()?.headerValue;
  }

  /**
   * A token bound to the subject token as it is now: the subject is read first (from its function or provider), and
   * the cached token is served only when it was exchanged from that very subject.
   */
  async #boundEntry(options: GetTokenOptions | undefined): Promise<Entry> {
    if (options?.signal?.aborted) throw options.signal.reason;
    const timeoutMs = options?.timeoutMs ?? this.#o.timeoutMs;
    this.#sawSubject(await this.#wait(this.#binding!.current(timeoutMs), options));
    const seen = this.#subject!.hash;
    const entry = this.#servable();
    if (entry !== undefined) return entry;
    if (options?.signal?.aborted) throw options.signal.reason;
    const fetched = await this.#wait(this.#acquire(undefined), options);
    // A token request already under way when the subject changed was made for the old subject: one more, for this one.
    if (fetched.subjectHash === seen) return fetched;
    return this.#wait(this.#acquire(undefined), options);
  }

  /** Notes the current subject token; the cached token is served only while it matches. */
  #sawSubject(token: string): void {
    if (this.#subject?.token !== token) this.#subject = { token, hash: secretHash(token) };
  }

  async requestHeaders(method: string, url: string | URL, options?: GetTokenOptions): Promise<RequestHeaders> {
    const token = await this.getToken(options);
    // A token that is not an access token (N_A) is refused as authorizationHeader() refuses it.
    if (token.tokenType === 'N_A') await this.authorizationHeader(options);
    const authorization = `${token.tokenType} ${token.accessToken}`;
    if (this.dpop === undefined) return { authorization };
    return { authorization, dpop: this.dpop.proof(method, url, token.accessToken) };
  }

  /** The cached entry when it may be served now (starting a background refresh in its window), else undefined. */
  #servable(): Entry | undefined {
    const entry = this.#entry;
    if (entry === undefined) return undefined;
    if (this.#binding !== undefined && entry.subjectHash !== this.#subject?.hash) return undefined;
    if (--this.#untilResync === 0) {
      this.#untilResync = RESYNC_EVERY;
      this.#clock.resync();
    }
    const now = this.#now();
    if (now < entry.refreshAt) {
      if (this.#observed) this.#emit((this.#hitEvent ??= Object.freeze({ type: 'hit', key: this.key, durationMs: 0 })));
      return entry;
    }
    if (now < entry.cutoff) {
      this.#refreshInBackground(entry, now);
      return entry;
    }
    return undefined;
  }

  async invalidate(accessToken: string): Promise<boolean> {
    const entry = this.#entry;
    const now = this.#now();
    const current = entry !== undefined && entry.token.accessToken === accessToken;
    // The token that replaced a rejected one is rejected too, at once: the API (a wrong audience, a
    // misconfigured client), not the token, is the problem. Fetching again for every such 401 would
    // hammer the token endpoint, so a replacement is dropped only after a cooldown.
    const refused =
      current &&
      this.#lastDropAt !== undefined &&
      entry.receivedAt >= this.#lastDropAt &&
      now - this.#lastDropAt < REJECTION_COOLDOWN_MS;
    const dropped = current && !refused;
    if (dropped) {
      this.#entry = undefined;
      this.#lastDropAt = now;
      this.#rejectedExpiresAt = entry.token.expiresAt;
    }
    if (!refused) {
      this.#rejected = accessToken;
      const store = this.#o.store;
      if (store?.deleteIf !== undefined) {
        await this.#storeCall('deleteIf', () => store.deleteIf!(this.key, accessToken));
      } else if (store !== undefined) {
        const stored = await this.#storeCall('get', () => store.get(this.key));
        if (stored?.accessToken === accessToken) await this.#storeCall('delete', () => store.delete(this.key));
      }
    }
    this.#emit({ type: 'invalidate', key: this.key, dropped });
    return dropped;
  }

  // ---- acquisition -------------------------------------------------------

  /**
   * Single flight: every caller shares one load. After consecutive failures new loads are paced: within the
   * window callers get the last error at once, so a broken endpoint is not hammered (see {@link pauseAfter}).
   */
  #acquire(current: Entry | undefined): Promise<Entry> {
    if (this.#inflight === undefined) {
      this.#clock.resync();
      const started = this.#now();
      if (this.#failure !== undefined && started < this.#failure.until) return Promise.reject(this.#failure.error);
      const background = current !== undefined;
      this.#inflight = this.#load(current).then(
        (entry) => {
          this.#inflight = undefined;
          this.#failure = undefined;
          return entry;
        },
        (error: unknown) => {
          this.#inflight = undefined;
          const safe =
            error instanceof TokenKitError
              ? error
              : new TokenEndpointError('network', 'token request failed unexpectedly', { cause: error });
          const count = (this.#failure?.count ?? 0) + 1;
          this.#failure = { error: safe, count, until: this.#now() + pauseAfter(count) };
          this.#emit({ type: 'error', key: this.key, error: safe, durationMs: this.#now() - started, background });
          throw safe;
        },
      );
    }
    return this.#inflight;
  }

  #refreshInBackground(entry: Entry, now: number): void {
    if (this.#inflight !== undefined) return;
    // Until this refresh settles (or if it fails), calls keep the current token without retrying at once.
    entry.refreshAt = nextRefreshAttemptAfter(entry.cutoff, now);
    this.#emit({ type: 'refresh', key: this.key, expiresAt: entry.token.expiresAt });
    this.#acquire(entry).catch(() => {
      // Reported as an 'error' event; the still-valid token stays in service.
    });
  }

  async #load(current: Entry | undefined): Promise<Entry> {
    const store = this.#o.store;
    if (store === undefined) return this.#fetchAndKeep(current, undefined, true);
    const stored = await this.#readStore();
    if (stored !== undefined && this.#isFresher(stored, current)) return this.#adopt(stored);
    this.#takeRefreshToken(stored);
    if (store.lock === undefined) return this.#fetchAndKeep(current, undefined, true);
    return this.#loadLocked(current);
  }

  /**
   * With a locking store: one process fetches, the others wait for the store to fill. The holder refreshes with
   * the newest refresh token in the store, so a one-time refresh token is presented by one process only.
   */
  async #loadLocked(current: Entry | undefined): Promise<Entry> {
    // The lock outlives the holder's whole acquisition (bounded by timeoutMs) and its store write.
    const lockTtlMs = this.#o.timeoutMs + this.#o.storeTimeoutMs + 1000;
    // Long enough for a holder that died (its lock expires) and a waiter's takeover fetch.
    const deadline = this.#now() + 2 * lockTtlMs;
    let pollMs = MIN_POLL_MS;
    for (;;) {
      const lock = await this.#tryLock(lockTtlMs);
      if (lock.kind === 'store-failed') return this.#fetchAndKeep(current, undefined, true); // alone, as without a store
      if (lock.kind === 'held') {
        const stored = await this.#readStore();
        if (stored !== undefined && this.#isFresher(stored, current)) {
          void lock.release().catch(() => {});
          return this.#adopt(stored);
        }
        this.#takeRefreshToken(stored);
        return this.#fetchAndKeep(current, lock.release, true);
      }
      // Someone else is fetching. A background refresh keeps its valid token and looks again later —
      // unless invalidate() dropped that token meanwhile: then callers wait here for the peer's token.
      if (current !== undefined && this.#entry === current && this.#now() < current.cutoff) return current;
      // The holder may still be presenting a refresh token: fetch without one, with the configured grant.
      if (this.#now() >= deadline) return this.#fetchAndKeep(current, undefined, false);
      await sleep(pollMs);
      pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
      const stored = await this.#readStore();
      if (stored !== undefined && this.#isFresher(stored, current)) return this.#adopt(stored);
    }
  }

  async #fetchAndKeep(
    current: Entry | undefined,
    release: (() => Promise<void>) | undefined,
    useRefreshToken: boolean,
  ): Promise<Entry> {
    let entry: Entry;
    try {
      entry = this.#keep(await this.#fetchToken(current !== undefined, useRefreshToken, deadlineIn(this.#o.timeoutMs)));
    } catch (error) {
      if (release !== undefined) void release().catch(() => {});
      throw error;
    }
    // The write is issued before callers get the token; the lock is released once it landed.
    const written = this.#writeStore(entry);
    if (release !== undefined) void written.then(release).catch(() => {});
    return entry;
  }

  /**
   * refresh_token first when one is held. Any failure of a refresh request drops that refresh token (the server
   * refused it, or may have rotated it before its answer was lost), and the configured grant is used at once. With
   * `grant: { type: 'refresh_token' }` there is nothing to fall back to: a refusal is a `refresh_token_refused` error.
   */
  async #fetchToken(background: boolean, useRefreshToken: boolean, deadline: Deadline): Promise<FreshToken> {
    const grant = this.#o.grant;
    const held = useRefreshToken ? this.#usableRefreshToken() : undefined;
    if (grant.type === 'refresh_token') {
      if (held === undefined) throw this.#noRefreshToken(useRefreshToken);
      try {
        return await this.#refreshWith(held, background, deadline);
      } catch (error) {
        if (!isRefusal(error)) throw error;
        this.#dropRefreshToken(held, error);
        throw new TokenEndpointError(
          'refresh_token_refused',
          `the token endpoint refused the refresh token (${failureReason(error)}); grant refresh_token has nothing to fall back to: a new refresh token is needed`,
          { cause: error, status: statusOf(error) },
        );
      }
    }
    if (held !== undefined) {
      try {
        return await this.#refreshWith(held, background, deadline);
      } catch (error) {
        this.#dropRefreshToken(held, error);
      }
    }
    return this.#request(await this.#grantSend(deadline), grant.type, background, this.#transport, deadline);
  }

  /** The configured grant's parameters for one token request. */
  async #grantSend(deadline: Deadline): Promise<GrantSend> {
    const grant = this.#o.grant;
    if (this.#grant === undefined) return { params: builtInGrantParams(grant) };
    const request = await this.#grant.request(Math.max(1, deadline.at - performance.now()));
    if (request.subjectHash !== undefined) this.#sawSubject(String(request.params['subject_token']));
    return request;
  }

  /**
   * A refresh request is sent once: after a timeout or a lost answer the server may already have rotated it. It has
   * half the acquisition's time, so that a hanging refresh leaves the configured grant the other half.
   */
  #refreshWith(refreshToken: string, background: boolean, deadline: Deadline): Promise<FreshToken> {
    const once = { ...this.#transport, maxRetries: 0 };
    const half: Deadline = {
      at: Math.min(deadline.at, performance.now() + deadline.budgetMs / 2),
      budgetMs: deadline.budgetMs / 2,
    };
    return this.#request(
      { params: { grant_type: 'refresh_token', refresh_token: refreshToken } },
      'refresh_token',
      background,
      once,
      half,
    );
  }

  #usableRefreshToken(): string | undefined {
    const held = this.#refresh;
    if (held === undefined || (held.expiresAt !== undefined && held.expiresAt <= this.#now())) return undefined;
    return held.token;
  }

  #dropRefreshToken(token: string, error: unknown): void {
    this.#deadRefreshToken = token;
    if (this.#refresh?.token === token) this.#refresh = undefined;
    this.#emit({ type: 'refresh_token_dropped', key: this.key, reason: failureReason(error) });
  }

  #noRefreshToken(useRefreshToken: boolean): TokenKitError {
    return useRefreshToken
      ? new TokenEndpointError(
          'refresh_token_refused',
          'the refresh token was refused or has expired; grant refresh_token needs a new one',
        )
      : new TokenEndpointError(
          'refresh_token_refused',
          'another process holds the lock for this refresh token and did not finish in time; not presenting it a second time',
        );
  }

  async #request(
    send: GrantSend,
    grant: Grant['type'],
    background: boolean,
    transport: TransportOptions,
    deadline: Deadline,
  ): Promise<FreshToken> {
    const o = this.#o;
    const target = await this.#targetFor(deadline);
    const { endpoint, auth } = target;
    const params: TokenParams = { ...send.params };
    if (o.scope !== undefined) params['scope'] = o.scope;
    if (o.audience !== undefined) params['audience'] = o.audience;
    if (o.resource.length > 0) params['resource'] = o.resource.length === 1 ? o.resource[0]! : o.resource;
    Object.assign(params, o.extraParams);
    const dpop = o.dpop;
    let sentAt = this.#now();
    let sent: string[] = [];
    const observed =
      this.#observer &&
      observeRequest(this.#observer, {
        grant,
        endpoint,
        clientId: o.clientId,
        clientAuth: auth.method,
        clientAuthReason: target.reason,
        scope: o.scope,
        background,
      });
    const post = () =>
      sendWithRetries(
        endpoint,
        async () => {
          const body = { ...params };
          const headers: Record<string, string> = { accept: 'application/json' };
          await auth.apply(body, headers, endpoint, this.#clock.wall());
          await send.perAttempt?.(body, endpoint, this.#clock.wall());
          sent = sentSecrets(body, headers);
          if (send.secrets !== undefined) sent.push(...send.secrets);
          headers['content-type'] = o.bodyFormat === 'json' ? 'application/json' : 'application/x-www-form-urlencoded';
          // A fresh proof per attempt (RFC 9449 §4.2: a new jti), with the endpoint's latest nonce.
          if (dpop !== undefined) headers['dpop'] = dpop.proof('POST', endpoint);
          return { method: 'POST', headers, body: encodeBody(body, o.bodyFormat) };
        },
        observed === undefined ? transport : { ...transport, onAttempt: observed.onAttempt },
        deadline,
      ).catch((error: unknown) => {
        observed?.end(error);
        throw error;
      });
    let answer = await post();
    if (dpop !== undefined && this.#tookNonce(dpop, endpoint, answer)) {
      // RFC 9449 §8: the server asks for a nonce; sent once more with it (once: a second refusal is the answer).
      sentAt = this.#now();
      answer = await post();
      this.#tookNonce(dpop, endpoint, answer);
    }
    const receivedAt = this.#now();
    // Expiry is computed on the wall clock (a JWT's exp, the Date header) and brought back to ours.
    const offset = this.#clock.wall() - receivedAt;
    let parsed: ParsedToken;
    try {
      parsed = readTokenAnswer(answer, sentAt + offset, o.defaultExpiresInSeconds, (text) => this.#scrub(text, sent), {
        receivedAt: receivedAt + offset,
        defaultTokenType: o.defaultTokenType,
        allowNotApplicable: this.#allowNotApplicable,
        tokenType: dpop === undefined ? 'Bearer' : 'DPoP',
      });
    } catch (error) {
      const reported = auth.hint !== undefined && isClientRefusal(error) ? withHint(error, auth.hint) : error;
      observed?.end(reported, answer.status);
      throw reported;
    }
    const refreshExpiresAt = parsed.refreshExpiresAt;
    const token: FreshToken = {
      accessToken: parsed.accessToken,
      tokenType: parsed.tokenType,
      issuedTokenType: parsed.issuedTokenType,
      expiresAt: parsed.expiresAt - offset,
      receivedAt,
      scope: parsed.scope,
      refreshToken: parsed.refreshToken,
      refreshExpiresAt: refreshExpiresAt === undefined ? undefined : refreshExpiresAt - offset,
      // The subject this very request was made for (a newer one may have been seen meanwhile).
      subjectHash: send.subjectHash,
    };
    observed?.end(undefined, answer.status, parsed);
    if (observed !== undefined)
      this.#emit({
        type: 'fetch',
        key: this.key,
        grant,
        durationMs: receivedAt - sentAt,
        expiresAt: Math.floor(parsed.expiresAt),
        background,
        origin: observed.origin,
        clientId: o.clientId,
        requestedScope: o.scope?.split(' ') ?? [],
        grantedScope: parsed.scope?.split(' ').filter(Boolean),
        attempts: observed.attempts(),
      });
    this.#checkScope(parsed.scope);
    return token;
  }

  /**
   * Keeps the `DPoP-Nonce` of a token endpoint answer; true when the answer is a 400 `use_dpop_nonce` that gave one,
   * so the request earns its one re-send with it.
   */
  #tookNonce(dpop: DPoPBinding, endpoint: string, answer: { status: number; headers: Headers; text: string }): boolean {
    const nonce = answer.headers.get('dpop-nonce');
    if (nonce === null) return false;
    dpop.setNonce(endpoint, nonce);
    if (answer.status !== 400) return false;
    const body = parseJson(answer.text) as { error?: unknown } | undefined;
    return typeof body === 'object' && body !== null && body.error === 'use_dpop_nonce';
  }

  /** RFC 6749 §5.1: a granted scope that differs from the requested one is named; an absent one means "as requested". */
  #checkScope(granted: string | undefined): void {
    const requested = this.#o.scope;
    if (requested === undefined || granted === undefined) return;
    const grantedList = granted.split(' ').filter(Boolean);
    const requestedList = requested.split(' ');
    const missing = requestedList.filter((scope) => !grantedList.includes(scope));
    if (missing.length > 0)
      this.#emit({ type: 'scope_narrowed', key: this.key, requested: requestedList, granted: grantedList, missing });
  }

  #targetFor(deadline: Deadline): Target | Promise<Target> {
    const o = this.#o;
    if (this.#target !== undefined || 'tokenEndpoint' in o.endpoint) return this.#target!;
    const observed = this.#observer && observeDiscovery(this.#observer, o.endpoint.issuer);
    const transport = observed ? { ...this.#transport, onAttempt: observed.onAttempt } : this.#transport;
    const discovered = discover(o.endpoint.issuer, transport, deadline, {
      issuerFromUrlObject: o.endpoint.issuerFromUrlObject,
    })
      // Choosing may fail too (an alias that is not HTTPS): that failure is not kept either.
      .then((metadata): Target => {
        const target = clientAuthFor(o, metadata);
        observed?.found({
          tokenEndpoint: target.endpoint,
          authMethods: metadata.tokenEndpointAuthMethods,
          clientAuth: target.auth.method,
          clientAuthReason: target.reason,
        });
        return target;
      })
      .then(
        (target) => (this.#target = target),
        (error: unknown) => {
          this.#target = undefined; // failures are never cached
          observed?.failed(error);
          throw error;
        },
      );
    this.#target = discovered;
    return discovered;
  }

  // ---- cache entries -----------------------------------------------------

  #keep(token: FreshToken): Entry {
    const cutoff = cutoffOf(token.expiresAt, token.receivedAt, this.#o.skewMs);
    const wallExpiresAt = Math.floor(token.expiresAt + (this.#clock.wall() - this.#now()));
    const tokenType = token.tokenType === 'N_A' ? 'N_A' : this.dpop === undefined ? 'Bearer' : 'DPoP';
    const accessToken: AccessToken = Object.freeze(
      new ServedToken(token.accessToken, wallExpiresAt, token.scope, tokenType, token.issuedTokenType),
    );
    const headerValue = tokenType === 'N_A' ? undefined : `${tokenType} ${token.accessToken}`;
    const entry: Entry = {
      token: accessToken,
      promise: Promise.resolve(accessToken),
      header: headerValue === undefined ? notAnAccessToken() : Promise.resolve(headerValue),
      headerValue,
      expiresAt: token.expiresAt,
      receivedAt: token.receivedAt,
      cutoff,
      refreshAt: refreshStartOf(cutoff, token.receivedAt, this.#o.aheadMs),
      subjectHash: token.subjectHash,
    };
    this.#entry = entry;
    if (token.refreshToken !== undefined)
      this.#holdRefreshToken(token.refreshToken, token.receivedAt, token.refreshExpiresAt);
    return entry;
  }

  /** Keeps `token` unless a newer refresh token is already held. */
  #holdRefreshToken(token: string, receivedAt: number, expiresAt: number | undefined): void {
    // A refresh token would renew the token of the subject it was issued for, not of the subject now: not kept.
    if (this.#binding !== undefined) return;
    if (token === this.#deadRefreshToken) return;
    if (expiresAt !== undefined && expiresAt <= this.#now()) return;
    if (this.#refresh !== undefined && this.#refresh.receivedAt > receivedAt) return;
    this.#refresh = { token, receivedAt, expiresAt };
  }

  /** A stored entry's refresh token, when it is newer than ours: another process may have rotated it since. */
  #takeRefreshToken(stored: StoredToken | undefined): void {
    if (stored?.refreshToken === undefined) return;
    const offset = this.#clock.wall() - this.#now();
    const expiresAt = stored.refreshExpiresAt === undefined ? undefined : stored.refreshExpiresAt - offset;
    this.#holdRefreshToken(stored.refreshToken, stored.receivedAt - offset, expiresAt);
  }

  #adopt(stored: StoredToken): Entry {
    this.#emit({ type: 'store_hit', key: this.key, durationMs: 0, expiresAt: stored.expiresAt });
    const offset = this.#clock.wall() - this.#now();
    return this.#keep({
      accessToken: stored.accessToken,
      tokenType: stored.tokenType,
      issuedTokenType: stored.issuedTokenType,
      expiresAt: stored.expiresAt - offset,
      receivedAt: stored.receivedAt - offset,
      scope: stored.scope,
      refreshToken: stored.refreshToken,
      refreshExpiresAt: stored.refreshExpiresAt === undefined ? undefined : stored.refreshExpiresAt - offset,
      subjectHash: stored.subjectHash,
    });
  }

  /**
   * A stored token is taken only if it is newer than what this process holds, or held last: an older value written
   * back into the store (a replay by whoever can write to it) never displaces a newer token, not even right after
   * `invalidate()` dropped it.
   */
  #isFresher(stored: StoredToken, current: Entry | undefined): boolean {
    if (stored.accessToken === this.#rejected) return false;
    if (this.#binding !== undefined && stored.subjectHash !== this.#subject?.hash) return false;
    if (this.#clock.wall() >= cutoffOf(stored.expiresAt, stored.receivedAt, this.#o.skewMs)) return false;
    if (current !== undefined && stored.accessToken === current.token.accessToken) return false;
    const newest = current?.token.expiresAt ?? this.#rejectedExpiresAt;
    return newest === undefined || stored.expiresAt > newest;
  }

  // ---- store tier --------------------------------------------------------

  async #readStore(): Promise<StoredToken | undefined> {
    const store = this.#o.store!;
    return asStoredToken(await this.#storeCall('get', () => store.get(this.key)));
  }

  /** Writes the entry with the newest refresh token; the entry lives as long as either token is of use. */
  #writeStore(entry: Entry): Promise<void> {
    const store = this.#o.store;
    if (store === undefined) return Promise.resolve();
    const now = this.#now();
    const offset = this.#clock.wall() - now;
    const refresh = this.#refresh;
    const refreshUntil =
      refresh === undefined ? -Infinity : (refresh.expiresAt ?? entry.receivedAt + this.#o.refreshLifetimeMs);
    const ttlMs = Math.floor(Math.max(entry.expiresAt, refreshUntil) - now);
    if (ttlMs <= 0) return Promise.resolve();
    const token: StoredToken = {
      accessToken: entry.token.accessToken,
      tokenType: entry.token.tokenType,
      expiresAt: Math.floor(entry.expiresAt + offset),
      receivedAt: Math.floor(entry.receivedAt + offset),
    };
    if (entry.token.scope !== undefined) token.scope = entry.token.scope;
    if (entry.subjectHash !== undefined) token.subjectHash = entry.subjectHash;
    if (entry.token.issuedTokenType !== undefined) token.issuedTokenType = entry.token.issuedTokenType;
    if (refresh !== undefined) {
      token.refreshToken = refresh.token;
      if (refresh.expiresAt !== undefined) token.refreshExpiresAt = Math.floor(refresh.expiresAt + offset);
    }
    return this.#storeCall('set', () => store.set(this.key, token, ttlMs)).then(() => undefined);
  }

  async #tryLock(ttlMs: number): Promise<LockResult> {
    const store = this.#o.store!;
    let failed = false;
    const release = await this.#storeCall(
      'lock',
      () => store.lock!(this.key, ttlMs),
      () => (failed = true),
    );
    if (failed) return { kind: 'store-failed' };
    return release === undefined ? { kind: 'taken' } : { kind: 'held', release };
  }

  /** Runs a store operation with a timeout; a failure is a miss, reported once per outage. */
  async #storeCall<T>(operation: string, call: () => Promise<T>, onFailure?: () => void): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        call(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`timed out after ${this.#o.storeTimeoutMs} ms`)),
            this.#o.storeTimeoutMs,
          );
        }),
      ]);
      if (this.#storeFailing) {
        this.#storeFailing = false;
        this.#emit({ type: 'store_recovered', key: this.key });
      }
      return result;
    } catch (error) {
      onFailure?.();
      if (!this.#storeFailing) {
        this.#storeFailing = true;
        // The store's own error may quote the command and its arguments (a token): say only what kind it was.
        const reason =
          error instanceof Error ? this.#scrub(`${error.name}: ${error.message}`).slice(0, 120) : 'unknown error';
        const safe = new TokenKitError(
          'store',
          `token store ${operation} failed (${reason}); fetching directly until it recovers`,
        );
        this.#emit({ type: 'error', key: this.key, error: safe, durationMs: 0, background: false });
      }
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- waiting, events, secrets -----------------------------------------

  #wait<T>(promise: Promise<T>, options: GetTokenOptions | undefined): Promise<T> {
    const signal = options?.signal;
    const timeoutMs = options?.timeoutMs;
    if (signal === undefined && timeoutMs === undefined) return promise;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        done();
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          done();
          reject(new TokenEndpointError('timeout', `no access token within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      promise.then(
        (value) => {
          done();
          resolve(value);
        },
        (error: unknown) => {
          done();
          reject(error);
        },
      );
    });
  }

  #emit(event: TokenEvent): void {
    const observer = this.#o.onEvent;
    if (observer === undefined) return;
    try {
      observer(event);
    } catch {
      // An observer's failure is not ours to report.
    }
  }

  /** Removes every secret this provider knows from a text it is about to quote. */
  #scrub(text: string, sent: readonly string[] = []): string {
    const o = this.#o;
    const password = o.grant.type === 'password' ? o.grant.password : undefined;
    const configuredRefresh = o.grant.type === 'refresh_token' ? o.grant.refreshToken : undefined;
    return scrub(text, [
      o.clientSecret,
      password,
      configuredRefresh,
      this.#refresh?.token,
      this.#deadRefreshToken,
      this.#entry?.token.accessToken,
      ...(this.#grant?.secrets ?? []),
      ...sent,
    ]);
  }

  #describe(): string {
    const where =
      'tokenEndpoint' in this.#o.endpoint
        ? describeUrl(this.#o.endpoint.tokenEndpoint)
        : `issuer ${this.#o.endpoint.issuer}`;
    return `TokenProvider { ${where}, clientId: ${JSON.stringify(this.#o.clientId)}, key: ${this.key} }`;
  }

  toString(): string {
    return this.#describe();
  }

  toJSON(): { key: string } {
    return { key: this.key };
  }

  [inspect.custom](): string {
    return this.#describe();
  }
}

/** The object callers get; its `util.inspect` output does not show the token. */
class ServedToken implements AccessToken {
  constructor(
    readonly accessToken: string,
    readonly expiresAt: number,
    readonly scope: string | undefined,
    readonly tokenType: 'Bearer' | 'DPoP' | 'N_A' = 'Bearer',
    readonly issuedTokenType: string | undefined = undefined,
  ) {}

  [inspect.custom](): string {
    const issued =
      this.issuedTokenType === undefined ? '' : `, issuedTokenType: ${JSON.stringify(this.issuedTokenType)}`;
    return `AccessToken { tokenType: '${this.tokenType}'${issued}, expiresAt: ${new Date(this.expiresAt).toISOString()}, scope: ${JSON.stringify(this.scope)}, accessToken: [REDACTED] }`;
  }
}

/** The `header` of a token that is not an access token: it must never become an Authorization header. */
function notAnAccessToken(): Promise<string> {
  const refused = Promise.reject<string>(
    new ConfigurationError(
      'grant.requestedTokenType',
      'the exchanged token is not an access token (token_type N_A, RFC 8693 §2.2.1): read it with getToken(), it is never sent as an Authorization header',
    ),
  );
  refused.catch(() => {}); // rejects for whoever asks, not as an unhandled rejection
  return refused;
}

/** An answer that says the refresh token will not do: any 4xx (servers answer 400 with or without a body, 401, ...). */
function isRefusal(error: unknown): boolean {
  const status = statusOf(error);
  return status !== undefined && status >= 400 && status < 500;
}

function statusOf(error: unknown): number | undefined {
  return isOAuthError(error) || isTokenEndpointError(error) ? error.status : undefined;
}

/** What went wrong, for events and messages: codes and statuses only, never a token. */
function failureReason(error: unknown): string {
  if (isOAuthError(error)) return `HTTP ${error.status} ${error.error}`;
  if (isTokenEndpointError(error))
    return error.status === undefined ? error.code : `${error.code} HTTP ${error.status}`;
  return 'unexpected error';
}

/** The server refused the client's authentication: `invalid_client`, or a bare 401/403 (Glewlwyd answers 403 with no body). */
function isClientRefusal(error: unknown): boolean {
  if (isOAuthError(error)) return error.error === 'invalid_client';
  return isTokenEndpointError(error) && error.code === 'http_status' && (error.status === 401 || error.status === 403);
}

/** The same error, with what tokenkit suggests appended to its message. */
function withHint(error: unknown, hint: string): unknown {
  if (isOAuthError(error)) {
    return new OAuthError({
      error: error.error,
      errorDescription: error.errorDescription,
      errorUri: error.errorUri,
      status: error.status,
      hint,
    });
  }
  if (isTokenEndpointError(error))
    return new TokenEndpointError(error.code, `${error.message} (${hint})`, {
      cause: error.cause,
      status: error.status,
    });
  return error;
}

/** The parameters of the three grants built in here; the others come from grants.ts. */
function builtInGrantParams(grant: Grant): TokenParams {
  switch (grant.type) {
    case 'client_credentials':
      return { grant_type: 'client_credentials' };
    case 'password':
      return { grant_type: 'password', username: grant.username, password: grant.password };
    case 'refresh_token':
      return { grant_type: 'refresh_token', refresh_token: grant.refreshToken };
    default:
      throw new TypeError(`grant ${grant.type} is prepared in grants.ts`);
  }
}

function encodeBody(params: TokenParams, format: 'form' | 'json'): string {
  if (format === 'json') return JSON.stringify(params);
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (typeof value === 'string') body.append(name, value);
    else for (const item of value) body.append(name, item);
  }
  return body.toString();
}

/**
 * The cache key: a hash of every parameter that changes the token, as one structure (lists stay lists, so no two
 * configurations can join into the same text). Secrets stay out; a configured refresh token enters only as its hash.
 */
function cacheKey(o: ResolvedOptions, prepared: PreparedGrant | undefined): string {
  const grant = o.grant;
  const identity = {
    endpoint: 'tokenEndpoint' in o.endpoint ? o.endpoint.tokenEndpoint : null,
    issuer: 'issuer' in o.endpoint ? o.endpoint.issuer : null,
    client: o.clientId,
    grant: grant.type,
    user: grant.type === 'password' ? grant.username : null,
    refresh: grant.type === 'refresh_token' ? createHash('sha256').update(grant.refreshToken).digest('hex') : null,
    // token_exchange, jwt_bearer, extension: what changes the token (a secret only as its hash; see grants.ts).
    ...(prepared === undefined ? {} : { grantInputs: prepared.identity }),
    scope: o.scope === undefined ? null : [...new Set(o.scope.split(' '))].sort(),
    audience: o.audience ?? null,
    resource: [...o.resource].sort(),
    extra: Object.entries(o.extraParams)
      .map(([name, value]): [string, readonly string[]] => [name, typeof value === 'string' ? [value] : value])
      .sort(([a], [b]) => (a < b ? -1 : 1)),
    // A certificate-bound token is of use only with its certificate (absent without mutual TLS: keys stay as they were).
    ...(o.tls === undefined ? {} : { x5t: o.tls.thumbprint }),
    // Only with DPoP, so Bearer keys stay as they are: a token bound to one key is of no use with another.
    ...(o.dpop === undefined ? {} : { dpopJkt: o.dpop.thumbprint }),
  };
  return 'tk2.' + createHash('sha256').update(JSON.stringify(identity)).digest('base64url').slice(0, 32);
}
