/**
 * A token as a {@link TokenStore} keeps it: plain JSON, so a database or Redis
 * can hold it as text. It contains secrets (the access and refresh token):
 * protect it at rest.
 */
export interface StoredToken {
  accessToken: string;
  /** `DPoP`: bound to the provider's DPoP key (RFC 9449); `N_A`: a token exchange issued something that is not an
   * access token (RFC 8693 §2.2.1). */
  tokenType: 'Bearer' | 'DPoP' | 'N_A';
  /** RFC 8693 `issued_token_type`, when the server said. */
  issuedTokenType?: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  /** Epoch milliseconds at which the token was received. */
  receivedAt: number;
  scope?: string;
  refreshToken?: string;
  /** Epoch milliseconds until which the refresh token may be used: the server's `refresh_expires_in`, else a default. */
  refreshExpiresAt?: number;
  /**
   * Token exchange with a subject token from a function or another provider: the SHA-256 (base64url) of the subject
   * token it was exchanged from. A process whose current subject differs does not take this token.
   */
  subjectHash?: string;
}

/**
 * A second cache tier behind the provider's own memory: tokens survive
 * restarts or are shared between processes. A store that throws or times out
 * counts as a miss — `getToken()` never fails because of its store.
 *
 * @example
 * ```ts
 * const store: TokenStore = {
 *   async get(key) { const row = await db.get(key); return row && JSON.parse(row.json); },
 *   async set(key, token) { await db.put(key, JSON.stringify(token)); },
 *   async delete(key) { await db.delete(key); },
 * };
 * ```
 */
export interface TokenStore {
  /** The token stored under `key`, or undefined. */
  get(key: string): Promise<StoredToken | undefined>;
  /**
   * Stores `token`; after `ttlMs` the store may drop it. That is the time left until the entry is useless: until its
   * `expiresAt`, or its `refreshExpiresAt` when it holds a refresh token (which outlives the access token).
   */
  set(key: string, token: StoredToken, ttlMs: number): Promise<void>;
  /** Removes the token stored under `key`. */
  delete(key: string): Promise<void>;
  /**
   * Removes the entry under `key` only if its access token is `accessToken`, atomically: a successor another
   * process wrote in the meantime stays. Used by `invalidate()`; without it, the provider reads, compares and
   * deletes, and a successor written between the read and the delete is lost (one extra token request). Optional.
   */
  deleteIf?(key: string, accessToken: string): Promise<void>;
  /**
   * Takes a lock for fetching `key`, held for at most `ttlMs`. Resolves to a
   * release function, or to undefined when another holder has it (the
   * caller then waits for the store to fill). Optional.
   */
  lock?(key: string, ttlMs: number): Promise<(() => Promise<void>) | undefined>;
}

/** Stores made by {@link memoryStore}: in-process, so a generated DPoP key may be used with them. */
const inProcess = new WeakSet<object>();

/** True for a store made by {@link memoryStore} (never shared with another process). */
export function isMemoryStore(store: unknown): boolean {
  return typeof store === 'object' && store !== null && inProcess.has(store);
}

/**
 * An in-process {@link TokenStore}: entries expire with their token. Useful to
 * share tokens between providers in one process, and as a reference
 * implementation; a provider without a `store` keeps its own token in memory
 * anyway.
 *
 * @example
 * ```ts
 * const store = memoryStore();
 * const tokens = createTokenProvider({ tokenEndpoint, clientId, clientSecret, store });
 * ```
 */
export function memoryStore(options: { now?: () => number } = {}): TokenStore & { readonly size: number } {
  const now = options.now ?? Date.now;
  const entries = new Map<string, { token: StoredToken; until: number }>();
  const locks = new Map<string, { id: symbol; until: number }>();
  // Expired entries whose key is never read again (tenant churn) are swept once the map has doubled since the
  // last sweep: memory stays proportional to the live entries, at an amortised constant cost per write.
  let sweepAt = 64;
  const sweep = () => {
    const time = now();
    for (const [key, entry] of entries) if (entry.until <= time) entries.delete(key);
    for (const [key, lock] of locks) if (lock.until <= time) locks.delete(key);
    sweepAt = Math.max(64, 2 * (entries.size + locks.size));
  };
  const store = {
    /** Entries held, expired ones not yet swept included; for tests and monitoring. */
    get size() {
      return entries.size;
    },
    async get(key) {
      const entry = entries.get(key);
      if (entry === undefined) return undefined;
      if (entry.until <= now()) {
        entries.delete(key);
        return undefined;
      }
      return { ...entry.token };
    },
    async set(key, token, ttlMs) {
      entries.set(key, { token: { ...token }, until: now() + ttlMs });
      if (entries.size + locks.size >= sweepAt) sweep();
    },
    async delete(key) {
      entries.delete(key);
    },
    async deleteIf(key, accessToken) {
      if (entries.get(key)?.token.accessToken === accessToken) entries.delete(key);
    },
    async lock(key, ttlMs) {
      const held = locks.get(key);
      if (held !== undefined && held.until > now()) return undefined;
      const id = Symbol(key);
      locks.set(key, { id, until: now() + ttlMs });
      if (entries.size + locks.size >= sweepAt) sweep();
      return async () => {
        if (locks.get(key)?.id === id) locks.delete(key);
      };
    },
  } satisfies TokenStore & { readonly size: number };
  inProcess.add(store);
  return store;
}
