import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { inspect } from 'node:util';
import { startRedis, startTokenServer, waitFor, type RedisServer, type TokenServer } from '@tokenkit/test-utils';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import {
  ConfigurationError,
  createTokenProvider,
  isTokenKitError,
  redisStore,
  type RedisClient,
  type RedisStoreBaseOptions,
  type StoredToken,
  type TokenEvent,
  type TokenProviderOptions,
  type TokenStore,
} from './index.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Which ioredis the project resolves `ioredis` to (vitest.config.ts). */
    ioredis: string;
  }
}

it('runs on the ioredis its project names (5.3.0 or 6, see vitest.config.ts)', () => {
  // ioredis 6 added RESP3 (`protocol`) to the default options; 5.3 has none.
  const defaults = (Redis as unknown as { defaultOptions: object }).defaultOptions;
  expect('protocol' in defaults).toBe(inject('ioredis') === '6');
});

let redis: RedisServer;
let server: TokenServer;
const clients: Redis[] = [];

type Tuning = {
  enableOfflineQueue?: boolean;
  maxRetriesPerRequest?: number | null;
  commandTimeout?: number | undefined;
};

/** The options the README recommends: fail fast instead of queueing while Redis is away. */
function connect(port = redis.port, extra: Tuning = {}): Redis {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 500,
    retryStrategy: () => 50,
    ...extra,
  });
  client.on('error', () => {}); // the provider reports store failures itself
  clients.push(client);
  return client;
}

/** Every store says how it keeps tokens: encrypted with a key, or in clear with `plaintext: true`. */
type StoreChoice = Omit<RedisStoreBaseOptions, 'client'> &
  ({ encryptionKey: Uint8Array | string } | { plaintext: true });

function store(extra: StoreChoice): TokenStore {
  return redisStore({ client: connect(), ...extra });
}

function clock(start = Date.now()) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

// The steps of a token request (for spans and debug output): these tests look at outcomes only.
const STEPS = new Set<string>([
  'miss',
  'discovery_start',
  'discovery_end',
  'request_start',
  'request_end',
  'attempt_start',
  'attempt_end',
]);

function provider(extra: Partial<TokenProviderOptions> = {}) {
  const events: TokenEvent[] = [];
  const tokens = createTokenProvider({
    tokenEndpoint: server.url,
    clientId: 'client-id',
    clientSecret: 'client-secret',
    maxRetries: 0,
    onEvent: (e) => events.push(e),
    ...extra,
  });
  const errors = () => events.filter((e) => e.type === 'error').map((e) => (e.type === 'error' ? e.error : undefined));
  return {
    tokens,
    events,
    errors,
    types: () => events.map((e) => e.type).filter((t) => t !== 'hit' && !STEPS.has(t)),
  };
}

const token = (accessToken = `at-${randomBytes(12).toString('hex')}`): StoredToken => ({
  accessToken,
  tokenType: 'Bearer',
  expiresAt: Date.now() + 60_000,
  receivedAt: Date.now(),
  scope: 'read',
  refreshToken: `rt-${randomBytes(12).toString('hex')}`,
});

/**
 * A real client with a seam for one race: the callback given to `peerWritesAfterNextGet` runs once the next GET has
 * been answered and before its caller sees the answer — a peer's write landing between a read and the command that
 * follows it.
 */
function racing(client: Redis): { client: RedisClient; peerWritesAfterNextGet(write: () => Promise<unknown>): void } {
  let afterNextGet: (() => Promise<unknown>) | undefined;
  const seamed = new Proxy(client, {
    get(target, property) {
      if (property === 'get') {
        return async (key: string) => {
          const value = await target.get(key);
          const write = afterNextGet;
          afterNextGet = undefined;
          await write?.();
          return value;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { client: seamed, peerWritesAfterNextGet: (write) => void (afterNextGet = write) };
}

beforeAll(async () => {
  [redis, server] = await Promise.all([startRedis(), startTokenServer({ refreshTokens: true })]);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
  await Promise.all([redis.stop(), server.close()]);
});
beforeEach(() => {
  redis.cli('flushall');
  server.requests.length = 0;
});
afterEach(() => server.configure({ expiresIn: 3600, latencyMs: 0 }));

describe('entries', () => {
  it('set writes `<prefix>{key}` with the TTL it is given (SET PX); get reads it back; delete removes it', async () => {
    const s = store({ plaintext: true });
    const t = token();
    const started = performance.now();
    await s.set('tk1.abc', t, 45_000);
    expect(redis.cli('keys', '*').trim()).toBe('tokenkit:{tk1.abc}');
    const pttl = Number(redis.cli('pttl', 'tokenkit:{tk1.abc}'));
    // The TTL counts down while the machine works: less than 45 s by at most the time since the write began.
    expect(pttl).toBeGreaterThanOrEqual(45_000 - (performance.now() - started) - 5);
    expect(pttl).toBeLessThanOrEqual(45_000);
    expect(JSON.parse(redis.cli('get', 'tokenkit:{tk1.abc}'))).toEqual(t); // plain JSON with plaintext: true
    expect(await s.get('tk1.abc')).toEqual(t);
    expect(await s.get('tk1.other')).toBeUndefined();
    await s.delete('tk1.abc');
    expect(await s.get('tk1.abc')).toBeUndefined();
    expect(redis.cli('exists', 'tokenkit:{tk1.abc}').trim()).toBe('0');
  });

  it("keeps a token exchange's fields: its subject's hash, issued token type and token_type N_A (encrypted and in clear)", async () => {
    const exchanged: StoredToken = {
      ...token(),
      tokenType: 'N_A',
      issuedTokenType: 'urn:ietf:params:oauth:token-type:jwt',
      subjectHash: 'q4Jt0cS2VZ1m0pUj3Pe1u1xZkq2h9cT2Jf1k3Z7pY9E',
    };
    for (const s of [store({ plaintext: true }), store({ encryptionKey: randomBytes(32) })]) {
      await s.set('tk2.exchange', exchanged, 10_000);
      expect(await s.get('tk2.exchange')).toEqual(exchanged);
    }
  });

  it('keyPrefix names the keys; an unreadable value is a miss', async () => {
    const s = store({ keyPrefix: 'svc-a:', plaintext: true });
    await s.set('k', token(), 10_000);
    expect(redis.cli('keys', '*').trim()).toBe('svc-a:{k}');
    redis.cli('set', 'svc-a:{k}', 'not json');
    expect(await s.get('k')).toBeUndefined();
    redis.cli('set', 'svc-a:{k}', '{"accessToken":42}');
    expect(await s.get('k')).toBeUndefined();
  });

  it('a provider stores what it fetched with the time left until expiresAt, and invalidate() deletes it', async () => {
    server.configure({ expiresIn: 120 });
    const s = store({ plaintext: true });
    // The server issues refresh tokens too; this one ends before the access token, so expiresAt sets the TTL.
    const { tokens } = provider({ store: s, refreshTokenLifetimeSeconds: 60 });
    const started = performance.now();
    const t = await tokens.getToken();
    // The write is issued before getToken() resolves, not necessarily done.
    await waitFor(() => redis.cli('exists', `tokenkit:{${tokens.key}}`).trim() === '1', { what: 'the store write' });
    const pttl = Number(redis.cli('pttl', `tokenkit:{${tokens.key}}`));
    // 120 s from the token request, less the time since (and the provider's skew margin, well under 5 s).
    expect(pttl).toBeGreaterThanOrEqual(115_000 - (performance.now() - started));
    expect(pttl).toBeLessThanOrEqual(120_000);
    expect((await s.get(tokens.key))?.accessToken).toBe(t.accessToken);
    await tokens.invalidate(t.accessToken);
    expect(redis.cli('exists', `tokenkit:{${tokens.key}}`).trim()).toBe('0');
  });
});

describe('lock', () => {
  it('SET NX PX: the second taker gets undefined until the holder releases', async () => {
    const a = store({ plaintext: true });
    const b = store({ plaintext: true });
    const started = performance.now();
    const release = await a.lock!('k', 5_000);
    expect(release).toBeTypeOf('function');
    expect(redis.cli('keys', '*').trim()).toBe('tokenkit:{k}:lock');
    const pttl = Number(redis.cli('pttl', 'tokenkit:{k}:lock'));
    expect(pttl).toBeGreaterThanOrEqual(5_000 - (performance.now() - started) - 5);
    expect(await b.lock!('k', 5_000)).toBeUndefined();
    await release!();
    expect(redis.cli('exists', 'tokenkit:{k}:lock').trim()).toBe('0');
    const again = await b.lock!('k', 5_000);
    expect(again).toBeTypeOf('function');
    await again!();
  });

  it('an expired lock taken over by another process is not deleted by the late release (compare-and-delete)', async () => {
    const a = store({ plaintext: true });
    const b = store({ plaintext: true });
    const lateRelease = await a.lock!('k', 50);
    await waitFor(() => redis.cli('exists', 'tokenkit:{k}:lock').trim() === '0', { what: 'the lock expiry' });
    const current = await b.lock!('k', 5_000);
    expect(current).toBeTypeOf('function');
    await lateRelease!(); // a's value is gone: this must not drop b's lock
    expect(redis.cli('exists', 'tokenkit:{k}:lock').trim()).toBe('1');
    expect(await a.lock!('k', 5_000)).toBeUndefined();
    await current!();
    expect(redis.cli('exists', 'tokenkit:{k}:lock').trim()).toBe('0');
  });
});

describe('deleteIf (what invalidate() uses): compare-and-delete on the value read', () => {
  const choices = [
    ['plaintext', { plaintext: true }],
    ['encrypted', { encryptionKey: randomBytes(32) }],
  ] as const;

  it.each(choices)(
    '%s: deletes the entry only while it holds that access token; another token, an unreadable value or no entry stay',
    async (_, choice) => {
      const s = store(choice);
      const t = token();
      await s.set('k', t, 10_000);
      await s.deleteIf!('k', 'at-another');
      expect(await s.get('k')).toEqual(t);
      await s.deleteIf!('k', t.accessToken);
      expect(redis.cli('exists', 'tokenkit:{k}').trim()).toBe('0');
      await s.deleteIf!('k', t.accessToken); // nothing there: nothing to do
      redis.cli('set', 'tokenkit:{k}', 'garbage');
      await s.deleteIf!('k', t.accessToken);
      expect(redis.cli('get', 'tokenkit:{k}').trim()).toBe('garbage');
    },
  );

  it.each(choices)(
    '%s: a successor a peer wrote between the read and the delete survives (read, compare, DEL would lose it)',
    async (_, choice) => {
      const old = token();
      const successor = token();
      const { client, peerWritesAfterNextGet } = racing(connect());
      const s = redisStore({ client, ...choice });
      const peer = store(choice);

      // What a store without deleteIf gets from the provider: GET, compare, DEL. The peer's write in between is lost.
      await s.set('k', old, 10_000);
      peerWritesAfterNextGet(() => peer.set('k', successor, 10_000));
      if ((await s.get('k'))?.accessToken === old.accessToken) await s.delete('k');
      expect(await peer.get('k')).toBeUndefined();

      // deleteIf: the same write lands between its GET and its EVAL, which finds another value and keeps it.
      await s.set('k', old, 10_000);
      peerWritesAfterNextGet(() => peer.set('k', successor, 10_000));
      await s.deleteIf!('k', old.accessToken);
      expect(await peer.get('k')).toEqual(successor);

      // A peer that wrote the rejected token anew (another value: a new IV, a newer refresh token) does not keep it.
      const rewritten = { ...old, refreshToken: `rt-${randomBytes(12).toString('hex')}` };
      await s.set('k', old, 10_000);
      peerWritesAfterNextGet(() => peer.set('k', rewritten, 10_000));
      await s.deleteIf!('k', old.accessToken);
      expect(redis.cli('exists', 'tokenkit:{k}').trim()).toBe('0');
    },
  );

  it("invalidate(): a token a peer stored between the provider's read and delete survives and is taken next, with no token request", async () => {
    const encryptionKey = randomBytes(32);
    const { client, peerWritesAfterNextGet } = racing(connect());
    const p = provider({ store: redisStore({ client, encryptionKey }) });
    const peer = store({ encryptionKey });
    const rejected = await p.tokens.getToken();
    await waitFor(async () => (await peer.get(p.tokens.key))?.accessToken === rejected.accessToken, {
      what: 'the store write',
    });

    // What a peer process fetched after the API refused `rejected`: newer, so it expires later.
    const successor = { ...token(), expiresAt: rejected.expiresAt + 60_000 };
    peerWritesAfterNextGet(() => peer.set(p.tokens.key, successor, 60_000));
    expect(await p.tokens.invalidate(rejected.accessToken)).toBe(true);
    expect(await peer.get(p.tokens.key)).toEqual(successor);
    expect((await p.tokens.getToken()).accessToken).toBe(successor.accessToken);
    expect(p.types()).toEqual(['fetch', 'invalidate', 'store_hit']);
    expect(server.count).toBe(1);
  });
});

describe('encryption at rest', () => {
  const key = randomBytes(32);

  it('the raw value holds neither the access nor the refresh token; each write uses a new IV', async () => {
    const s = store({ encryptionKey: key.toString('base64') });
    const t = token();
    await s.set('k', t, 10_000);
    const first = redis.cli('get', 'tokenkit:{k}').trim();
    await s.set('k', t, 10_000);
    const second = redis.cli('get', 'tokenkit:{k}').trim();
    for (const raw of [first, second]) {
      expect(raw).toMatch(/^tkenc1\.[\w-]{8}\.[\w-]+$/);
      expect(raw).not.toContain(t.accessToken);
      expect(raw).not.toContain(t.refreshToken);
      expect(raw).not.toContain('accessToken');
    }
    expect(first).not.toBe(second);
    expect(await s.get('k')).toEqual(t);
    expect(await store({ encryptionKey: key }).get('k')).toEqual(t); // Buffer and base64 are the same key
    expect(`${inspect(s, { depth: 10, showHidden: true })} ${JSON.stringify(s)}`).not.toContain(key.toString('base64'));
  });

  it('a provider with encryptionKey: raw value without the token; a wrong key is a miss (one token request, no error)', async () => {
    const writer = provider({ store: store({ encryptionKey: key }) });
    const t = await writer.tokens.getToken();
    const entry = `tokenkit:{${writer.tokens.key}}`;
    const raw = await waitFor(() => redis.cli('get', entry).trim(), { what: 'the store write' });
    expect(raw.startsWith('tkenc1.')).toBe(true);
    expect(raw).not.toContain(t.accessToken);
    expect(server.count).toBe(1);

    const reader = provider({ store: store({ encryptionKey: randomBytes(32) }) });
    const other = await reader.tokens.getToken();
    expect(server.count).toBe(2);
    expect(other.accessToken).not.toBe(t.accessToken);
    expect(reader.types()).toEqual(['fetch']);

    const sameKey = provider({ store: store({ encryptionKey: key.toString('base64url') }) });
    await waitFor(() => redis.cli('get', entry).trim() !== raw, { what: "the wrong-key reader's store write" });
    // The wrong-key reader overwrote the entry: the right key does not read its value either.
    await sameKey.tokens.getToken();
    expect(server.count).toBe(3);
    expect(sameKey.types()).toEqual(['fetch']);
  });

  it('garbage, a plaintext value, a truncated value and a value moved to another key are misses, never crashes', async () => {
    const s = store({ encryptionKey: key });
    const plain = store({ plaintext: true });
    const t = token();
    await plain.set('k', t, 10_000);
    expect(await s.get('k')).toBeUndefined(); // an unencrypted (e.g. injected) value is not trusted
    await s.set('k', t, 10_000);
    expect(await plain.get('k')).toBeUndefined();
    const raw = redis.cli('get', 'tokenkit:{k}').trim();
    redis.cli('set', 'tokenkit:{moved}', raw);
    expect(await s.get('moved')).toBeUndefined(); // the cache key is authenticated data
    redis.cli('set', 'tokenkit:{k}', raw.slice(0, -4));
    expect(await s.get('k')).toBeUndefined();
    redis.cli('set', 'tokenkit:{k}', `${raw.slice(0, 16)}AAAA`);
    expect(await s.get('k')).toBeUndefined();
    redis.cli('set', 'tokenkit:{k}', 'tkenc1.garbage');
    expect(await s.get('k')).toBeUndefined();
  });

  it.each([
    ['a short Buffer', randomBytes(16), 'must be 32 bytes for AES-256-GCM, got 16'],
    ['a hex string', randomBytes(32).toString('hex'), 'must be 32 bytes for AES-256-GCM, got 48'],
    ['text that is not base64', 'correct horse battery staple!', 'must be 32 bytes: a Buffer or a base64 string'],
    ['a number', 42, 'must be 32 bytes: a Buffer or a base64 string'],
  ])('encryptionKey as %s is a ConfigurationError naming the option, without the key', (_, value, message) => {
    let thrown: unknown;
    try {
      redisStore({ client: connect(), encryptionKey: value as string });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigurationError);
    expect(thrown).toMatchObject({ code: 'invalid_option', option: 'encryptionKey', name: 'ConfigurationError' });
    expect((thrown as Error).message).toContain(`encryptionKey: ${message}`);
    if (typeof value !== 'number')
      expect((thrown as Error).message).not.toContain(value.toString('base64').slice(0, 12));
  });

  it('an unset encryptionKey (an environment variable) is a ConfigurationError that says how to make one, never plaintext', () => {
    const unset = process.env[`TOKENKIT_TEST_UNSET_${randomBytes(6).toString('hex')}`];
    for (const options of [{ encryptionKey: unset }, {}, { encryptionKey: undefined, plaintext: false }]) {
      let thrown: unknown;
      try {
        redisStore({ client: connect(), ...options } as never);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigurationError);
      expect(thrown).toMatchObject({ code: 'invalid_option', option: 'encryptionKey' });
      const message = (thrown as Error).message;
      expect(message).toMatch(/^encryptionKey: is required/);
      expect(message).toContain('openssl rand -base64 32');
      expect(message).toContain('`plaintext: true`');
      expect(message).toContain('in clear');
    }
    expect(redis.cli('dbsize').trim()).toBe('0');
  });

  it('plaintext: true stores JSON in clear; with an encryptionKey as well, or not a boolean, it is a ConfigurationError', async () => {
    const t = token();
    await store({ plaintext: true }).set('k', t, 10_000);
    expect(JSON.parse(redis.cli('get', 'tokenkit:{k}'))).toEqual(t);
    const both = () => redisStore({ client: connect(), plaintext: true, encryptionKey: key } as never);
    expect(both).toThrow(ConfigurationError);
    expect(both).toThrow(
      expect.objectContaining({
        option: 'plaintext',
        message: expect.stringContaining('cannot be combined with an encryptionKey'),
      }),
    );
    expect(() => redisStore({ client: connect(), plaintext: 'yes' } as never)).toThrow(
      expect.objectContaining({ option: 'plaintext', code: 'invalid_option' }),
    );
  });

  it('client and keyPrefix are validated eagerly', () => {
    expect(() => redisStore({ client: {} as never, plaintext: true })).toThrow(
      expect.objectContaining({ option: 'client', message: 'client: must be an ioredis Redis or Cluster instance' }),
    );
    expect(() => redisStore({ client: connect(), keyPrefix: 7 as never, plaintext: true })).toThrow(
      expect.objectContaining({ option: 'keyPrefix', code: 'invalid_option' }),
    );
  });
});

describe('when Redis fails', () => {
  it.each([
    ['the recommended client options', {}],
    ["ioredis' queueing defaults", { enableOfflineQueue: true, maxRetriesPerRequest: 20, commandTimeout: undefined }],
  ])(
    'stopped mid-run, then restarted (%s): no getToken() fails, each fails fast; one error event; the store is used again after',
    async (_, options: Tuning) => {
      const c = clock();
      const client = connect(redis.port, options);
      const s = redisStore({ client, plaintext: true });
      // A long storeTimeoutMs: only the store's own fail-fast keeps calls quick while Redis is down.
      const p = provider({ store: s, now: c.now, storeTimeoutMs: 30_000 });
      const first = await p.tokens.getToken();
      expect(server.count).toBe(1);
      // The first write is issued before getToken() resolves; it must land before the stop, or its failure (a set,
      // not a get) would be the outage's one error event.
      await waitFor(async () => (await s.get(p.tokens.key))?.accessToken === first.accessToken, {
        what: 'the first store write',
      });

      await redis.stop();
      // A command sent before the client notices the dead socket waits for ioredis' own retries (bounded by
      // storeTimeoutMs); from the moment it knows, every call fails at once.
      await waitFor(() => client.status !== 'ready', { what: 'the client noticing the stop' });
      const served = new Set([first.accessToken]);
      for (let i = 0; i < 3; i++) {
        c.advance(3_600_000); // past the token's cutoff: a memory miss that asks the store
        const started = performance.now();
        const t = await p.tokens.getToken();
        expect(performance.now() - started).toBeLessThan(5_000); // generous for a busy machine; far from storeTimeoutMs
        served.add(t.accessToken);
      }
      expect(served.size).toBe(4);
      expect(server.count).toBe(4); // fetched directly each time
      const errors = p.errors();
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ code: 'store', name: 'TokenKitError' });
      expect(errors[0]!.message).toMatch(/^token store get failed/);

      await redis.start();
      // Not once(client, 'ready'): a reconnect attempt that failed just before the restart emits 'error' first.
      await waitFor(() => (client.status as string) === 'ready', {
        timeoutMs: 30_000,
        what: 'the client reconnecting',
      });
      c.advance(3_600_000);
      const after = await p.tokens.getToken();
      expect(p.types().filter((t) => t === 'store_recovered')).toHaveLength(1);
      expect(p.errors()).toHaveLength(1); // one error event for the whole outage
      await waitFor(async () => (await s.get(p.tokens.key))?.accessToken === after.accessToken, {
        what: 'the store write',
      });

      const restarted = provider({ store: s, now: c.now });
      expect((await restarted.tokens.getToken()).accessToken).toBe(after.accessToken);
      expect(restarted.types()).toEqual(['store_hit']);
      expect(server.count).toBe(5);
    },
  );

  it('refusing from the start: getToken() succeeds at once with one error event', async () => {
    const stopped = await startRedis();
    await stopped.stop();
    const p = provider({
      store: redisStore({ client: connect(stopped.port), plaintext: true }),
      storeTimeoutMs: 30_000,
    });
    const started = performance.now();
    const results = await Promise.all([p.tokens.getToken(), p.tokens.getToken()]);
    expect(performance.now() - started).toBeLessThan(5_000); // generous for a busy machine; far from storeTimeoutMs
    expect(results[0]!.accessToken).toBe(results[1]!.accessToken);
    expect(server.count).toBe(1);
    expect(p.errors()).toHaveLength(1);
    expect(p.errors()[0]!.message).toContain('redis is not connected');
  });

  it('slow (CLIENT PAUSE): the provider times the store out and fetches directly', async () => {
    // No command timeout of the client's own: only storeTimeoutMs can end the wait for the paused Redis.
    const client = connect(redis.port, { commandTimeout: undefined });
    await once(client, 'ready');
    const p = provider({ store: redisStore({ client, plaintext: true }), storeTimeoutMs: 150 });
    redis.cli('client', 'pause', '20000', 'ALL'); // ended by the unpause below
    try {
      const started = performance.now();
      await p.tokens.getToken();
      expect(performance.now() - started).toBeLessThan(10_000); // generous for a busy machine; far from the pause
      expect(server.count).toBe(1);
      expect(p.errors()).toHaveLength(1);
      expect(p.errors()[0]!.message).toContain('timed out');
    } finally {
      redis.cli('client', 'unpause');
    }
  });

  it('errors never quote the token: a reply that echoes the command arguments is cut and scrubbed', async () => {
    const odd = await startRedis(['--rename-command', 'SET', '']); // every SET is answered "unknown command ... with args ..."
    try {
      const s = redisStore({ client: connect(odd.port), plaintext: true }); // plain JSON: the value holds the token
      const t = token();
      const error = await s.set('k', t, 10_000).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isTokenKitError(error)).toBe(true);
      expect(error).toMatchObject({ code: 'store', name: 'TokenKitError' });
      const text = `${(error as Error).message} ${(error as Error).stack} ${inspect(error, { depth: 5 })} ${JSON.stringify(error)}`;
      expect((error as Error).message).toMatch(/^redis SET failed: ReplyError: ERR unknown command 'set'/);
      expect((error as Error).cause).toBeUndefined(); // the ioredis error holds `command.args`
      expect(text).not.toContain(t.accessToken);
      expect(text).not.toContain(t.refreshToken);

      const p = provider({ store: s });
      const got = await p.tokens.getToken();
      expect(p.errors()).toHaveLength(1);
      expect(JSON.stringify(p.errors()) + p.errors()[0]!.message).not.toContain(got.accessToken);
    } finally {
      await odd.stop();
    }
  });

  it("deleteIf's errors never quote the value or the token: an EVAL reply that echoes its arguments is cut and scrubbed", async () => {
    const odd = await startRedis(['--rename-command', 'EVAL', '']); // every EVAL is answered "unknown command ... with args ..."
    try {
      const s = redisStore({ client: connect(odd.port), plaintext: true }); // plain JSON: the value holds the tokens
      const t = token();
      await s.set('k', t, 10_000);
      const error = await s.deleteIf!('k', t.accessToken).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: 'store', name: 'TokenKitError' });
      expect((error as Error).message).toMatch(
        /^redis EVAL \(compare-and-delete\) failed: ReplyError: ERR unknown command 'eval'/,
      );
      expect((error as Error).cause).toBeUndefined();
      const text = `${(error as Error).message} ${(error as Error).stack} ${inspect(error, { depth: 5 })} ${JSON.stringify(error)}`;
      expect(text).not.toContain(t.accessToken);
      expect(text).not.toContain(t.refreshToken);
      expect(text).not.toContain('accessToken');
    } finally {
      await odd.stop();
    }
  });
});
