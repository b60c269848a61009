import { randomBytes } from 'node:crypto';
import { ConfigurationError, TokenKitError, type TokenStore } from '@tokenkit/core';
import { aesGcmCodec, plainCodec, type Codec } from './codec.ts';

/**
 * What the store needs of its client: an ioredis `Redis` (single node or
 * Sentinel) or `Cluster`, ioredis 5.3 or later.
 *
 * @example
 * ```ts
 * const client: RedisClient = new Cluster([{ host: 'redis-0', port: 6379 }], { enableOfflineQueue: false });
 * ```
 */
export interface RedisClient {
  /** ioredis connection status: `wait`, `connecting`, `connect`, `ready`, `reconnecting`, `close`, `end`, ... */
  readonly status: string;
  connect(): Promise<void>;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, px: 'PX', ttlMs: number): Promise<unknown>;
  set(key: string, value: string, px: 'PX', ttlMs: number, nx: 'NX'): Promise<'OK' | null>;
  del(key: string): Promise<number>;
  eval(script: string, numKeys: number, key: string, arg: string): Promise<unknown>;
  once(event: 'ready' | 'close' | 'end', listener: () => void): unknown;
  removeListener(event: 'ready' | 'close' | 'end', listener: () => void): unknown;
}

/** Options of {@link redisStore} that do not concern encryption. */
export interface RedisStoreBaseOptions {
  /** An ioredis `Redis` or `Cluster`. See the README for options that make it fail fast. */
  client: RedisClient;
  /** Prefix of every key. Entries are `<prefix>{<cache key>}`, locks `<prefix>{<cache key>}:lock`. Default `tokenkit:`. */
  keyPrefix?: string;
}

/**
 * Options of {@link redisStore}: tokens are encrypted with `encryptionKey`, or stored in clear only with
 * `plaintext: true`. An `encryptionKey` that is undefined (an unset environment variable) is an error, never a
 * silent switch to plaintext.
 *
 * @example
 * ```ts
 * const options: RedisStoreOptions = { client, keyPrefix: 'payments:', encryptionKey: process.env.TOKEN_CACHE_KEY };
 * ```
 */
export type RedisStoreOptions = RedisStoreBaseOptions &
  (
    | {
        /**
         * Encrypts tokens at rest with AES-256-GCM: 32 bytes, as a Buffer or a base64 string
         * (`openssl rand -base64 32`). A value that does not decrypt (another key, tampering) is a miss.
         * Undefined is accepted by the type (an environment variable) but throws a `ConfigurationError`.
         */
        encryptionKey: Uint8Array | string | undefined;
        plaintext?: false;
      }
    | {
        /** Stores tokens as JSON in clear: anyone who can read Redis (or its backups) can use them. */
        plaintext: true;
        encryptionKey?: undefined;
      }
  );

/** Deletes the lock only while it still holds our random value, so an expired lock taken over by another process is left alone. */
const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";
/**
 * Deletes the entry only while it still holds exactly the value we read and decoded: a value another process wrote
 * since is left alone (deleteIf reads it anew to see whose token it holds).
 */
const DELETE_IF_UNCHANGED =
  "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
/** Reads before deleteIf() leaves an entry that keeps being rewritten: peers writing that often hold newer tokens. */
const DELETE_IF_ATTEMPTS = 3;
/** Longest wait for a connecting client to become ready; the provider gives up sooner (`storeTimeoutMs`). */
const READY_WAIT_MS = 10_000;

/**
 * A {@link TokenStore} in Redis: one token for a whole fleet of processes.
 * Entries expire with their token (`SET ... PX`); `lock()` is `SET NX PX` with
 * a random value and a compare-and-delete release, so of many processes on a
 * cold cache one fetches and the others wait for the entry. `deleteIf()` (what
 * `invalidate()` uses) deletes an entry only while it still holds the rejected
 * token, by a compare-and-delete on the exact value read, so a successor a peer
 * wrote meanwhile stays. Entry and lock share a hash tag, hence one slot on
 * Redis Cluster.
 *
 * Tokens are encrypted with `encryptionKey` (AES-256-GCM); they are stored in
 * clear only with `plaintext: true`. Neither, or both, is a `ConfigurationError`.
 *
 * The store never queues: while the client is not connected, calls fail at
 * once and the provider fetches directly. Errors are `TokenKitError`s with
 * code `store` whose messages never quote a token.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { createTokenProvider } from '@tokenkit/core';
 * import { redisStore } from '@tokenkit/redis';
 *
 * const client = new Redis(process.env.REDIS_URL!, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500 });
 * client.on('error', (err) => log.warn({ err: err.message }, 'redis'));
 * const tokens = createTokenProvider({
 *   tokenEndpoint: 'https://auth.example.com/oauth2/token',
 *   clientId: process.env.CLIENT_ID!,
 *   clientSecret: process.env.CLIENT_SECRET,
 *   store: redisStore({ client, encryptionKey: process.env.TOKEN_CACHE_KEY }),
 * });
 * ```
 */
export function redisStore(options: RedisStoreOptions): TokenStore {
  if (typeof options !== 'object' || options === null) throw new ConfigurationError('options', 'must be an object');
  const { client } = options;
  if (
    typeof client !== 'object' ||
    client === null ||
    typeof client.get !== 'function' ||
    typeof client.eval !== 'function'
  ) {
    throw new ConfigurationError('client', 'must be an ioredis Redis or Cluster instance');
  }
  const prefix = options.keyPrefix ?? 'tokenkit:';
  if (typeof prefix !== 'string') throw new ConfigurationError('keyPrefix', 'must be a string');
  const codec = chooseCodec(options);
  const entryKey = (key: string) => `${prefix}{${key}}`;
  let connecting: Promise<void> | undefined;

  /** Resolves once the client can take a command; rejects at once while it is down. */
  const ready = (): Promise<void> | undefined => {
    const status = client.status;
    if (status === 'ready') return undefined;
    if (status !== 'wait' && status !== 'connecting' && status !== 'connect') {
      return Promise.reject(new TokenKitError('store', `redis is not connected (status: ${status})`));
    }
    connecting ??= new Promise<void>((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        for (const event of ['ready', 'close', 'end'] as const) client.removeListener(event, settle);
        connecting = undefined;
        if (client.status === 'ready') resolve();
        else reject(new TokenKitError('store', `redis is not connected (status: ${client.status})`));
      };
      const timer = setTimeout(settle, READY_WAIT_MS).unref();
      for (const event of ['ready', 'close', 'end'] as const) client.once(event, settle);
      if (status === 'wait') client.connect().catch(() => {}); // lazyConnect: the failure shows as 'close'/'end'
    });
    return connecting;
  };

  /** Runs a command once the client is ready; its errors are rewrapped without arguments. */
  const run = async <T>(
    operation: string,
    command: () => Promise<T>,
    secrets: readonly (string | undefined)[] = [],
  ): Promise<T> => {
    try {
      await ready();
      return await command();
    } catch (error) {
      throw storeError(operation, error, secrets);
    }
  };

  return {
    async get(key) {
      const value = await run('GET', () => client.get(entryKey(key)));
      return value === null ? undefined : codec.decode(key, value);
    },
    async set(key, token, ttlMs) {
      const ttl = Math.ceil(ttlMs);
      if (!Number.isSafeInteger(ttl) || ttl <= 0) return; // nothing to keep (or no sane expiry to give Redis)
      const value = codec.encode(key, token);
      await run('SET', () => client.set(entryKey(key), value, 'PX', ttl), [
        value,
        token.accessToken,
        token.refreshToken,
      ]);
    },
    async delete(key) {
      await run('DEL', () => client.del(entryKey(key)));
    },
    async deleteIf(key, accessToken) {
      // Redis cannot compare an encrypted token: decode here, then delete only if the value is still the one read.
      const entry = entryKey(key);
      for (let attempt = 0; attempt < DELETE_IF_ATTEMPTS; attempt++) {
        const value = await run('GET', () => client.get(entry));
        if (value === null) return;
        const stored = codec.decode(key, value);
        if (stored?.accessToken !== accessToken) return;
        const deleted = await run(
          'EVAL (compare-and-delete)',
          () => client.eval(DELETE_IF_UNCHANGED, 1, entry, value),
          [value, accessToken, stored.refreshToken],
        );
        if (deleted === 1) return;
        // Rewritten since our read: read again, for a peer may have stored the same rejected token anew.
      }
    },
    async lock(key, ttlMs) {
      const lockKey = `${entryKey(key)}:lock`;
      const id = randomBytes(16).toString('base64url');
      const taken = await run('SET NX', () => client.set(lockKey, id, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'), [id]);
      if (taken !== 'OK') return undefined;
      return async () => {
        await run('EVAL (lock release)', () => client.eval(RELEASE, 1, lockKey, id), [id]);
      };
    },
  };
}

/** AES-GCM with a key, JSON in clear only when asked for by `plaintext: true`; anything else is a ConfigurationError. */
function chooseCodec(options: RedisStoreOptions): Codec {
  const { encryptionKey, plaintext } = options as { encryptionKey?: unknown; plaintext?: unknown };
  if (plaintext !== undefined && typeof plaintext !== 'boolean')
    throw new ConfigurationError('plaintext', 'must be true or false');
  if (plaintext === true) {
    if (encryptionKey !== undefined) {
      throw new ConfigurationError(
        'plaintext',
        'cannot be combined with an encryptionKey: pass `encryptionKey` to encrypt tokens or `plaintext: true` to store them in clear, not both',
      );
    }
    return plainCodec;
  }
  if (encryptionKey === undefined) {
    throw new ConfigurationError(
      'encryptionKey',
      'is required: 32 bytes as a Buffer or a base64 string (generate one with `openssl rand -base64 32`). ' +
        'To store tokens in clear instead, readable by anyone who can read Redis, pass `plaintext: true`.',
    );
  }
  return aesGcmCodec(encryptionKey);
}

/**
 * A store error without the command's arguments: ioredis errors carry them
 * (`command.args`), and Redis quotes them in some replies ("with args beginning with: ...").
 */
function storeError(operation: string, error: unknown, secrets: readonly (string | undefined)[]): TokenKitError {
  if (error instanceof TokenKitError) return error;
  let detail = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
  detail = detail.replace(/,?\s*with args beginning with:[\s\S]*$/i, '');
  for (const secret of secrets) {
    if (secret !== undefined && secret.length >= 4) detail = detail.split(secret).join('[REDACTED]');
  }
  if (detail.length > 200) detail = `${detail.slice(0, 200)}...`;
  return new TokenKitError('store', `redis ${operation} failed: ${detail}`);
}

export {
  ConfigurationError,
  TokenKitError,
  createTokenProvider,
  findTokenKitError,
  isTokenKitError,
  memoryStore,
} from '@tokenkit/core';
export type { StoredToken, TokenEvent, TokenProvider, TokenProviderOptions, TokenStore } from '@tokenkit/core';
