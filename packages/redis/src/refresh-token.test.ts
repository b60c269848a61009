import { startRedis, startTokenServer, waitFor, type RedisServer, type TokenServer } from '@tokenkit/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenProvider, redisStore, type TokenEvent, type TokenProviderOptions } from './index.ts';

let redis: RedisServer;
let server: TokenServer;
const clients: Redis[] = [];

beforeAll(async () => {
  [redis, server] = await Promise.all([
    startRedis(),
    startTokenServer({ users: { alice: 'wonder land' }, expiresIn: 60 }),
  ]);
}, 60_000);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
  await Promise.all([redis.stop(), server.close()]);
});

const encryptionKey = Buffer.alloc(32, 7);

function connect(): Redis {
  const client = new Redis({ host: '127.0.0.1', port: redis.port, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  clients.push(client);
  return client;
}

/** One "process": its own Redis connection and provider, its own clock. */
function process(now: () => number, extra: Partial<TokenProviderOptions> = {}) {
  const client = connect();
  return createTokenProvider({
    tokenEndpoint: server.url,
    clientId: 'client-id',
    clientSecret: 'client-secret',
    grant: { type: 'password', username: 'alice', password: 'wonder land' },
    store: redisStore({ client, encryptionKey }),
    now,
    ...extra,
  });
}

describe('the newest refresh token in Redis', () => {
  it('outlives its access token (PTTL of the refresh token, not of the access token)', async () => {
    const start = Date.now();
    const tokens = process(() => start, { refreshTokenLifetimeSeconds: 3600 });
    await tokens.getToken();
    const pttl = Number(redis.cli('pttl', `tokenkit:{${tokens.key}}`));
    expect(pttl).toBeGreaterThan(60_000);
    expect(pttl).toBeLessThanOrEqual(3600_000);
  });

  it('a process started after the access token expired refreshes with the rotated refresh token', async () => {
    redis.cli('flushall');
    server.requests.length = 0;
    let now = Date.now();
    const first = process(() => now);
    await first.getToken(); // password
    now += 60_000;
    await first.getToken(); // refresh: RT1 -> RT2, stored
    now += 3600_000; // long after the access token expired, a new process starts
    const restarted = process(() => now);
    await restarted.getToken();
    const refreshes = server.requests
      .filter((r) => r.params['grant_type'] === 'refresh_token')
      .map((r) => r.params['refresh_token']);
    expect(refreshes).toHaveLength(2);
    expect(new Set(refreshes).size).toBe(2); // the rotated-away RT1 is never presented again
    expect(server.requests.filter((r) => r.params['grant_type'] === 'password')).toHaveLength(1);
  });
});

describe('an old encrypted value written back into Redis (replay by someone who can write to Redis)', () => {
  it('decrypts, yet a running provider keeps its newer token and refreshes with its own newer refresh token; a new process takes it', async () => {
    redis.cli('flushall');
    server.requests.length = 0;
    const t0 = Date.now();
    let now = t0;
    const events: TokenEvent[] = [];
    const tokens = process(() => now, { onEvent: (e) => void (e.type === 'hit' || events.push(e)) });
    const entry = `tokenkit:{${tokens.key}}`;
    const lock = `${entry}:lock`;
    const grants = () => server.requests.map((r) => r.params['grant_type']);
    const refreshTokensSent = () =>
      server.requests.filter((r) => r.params['grant_type'] === 'refresh_token').map((r) => r.params['refresh_token']);
    // The fetching process releases its lock once its write landed; the next refresh needs the lock.
    const settled = (requests: number) =>
      waitFor(
        () =>
          server.count === requests && redis.cli('exists', lock).trim() === '0'
            ? redis.cli('get', entry).trim()
            : undefined,
        {
          what: 'the token request and its store write',
        },
      );
    try {
      server.configure({ expiresIn: 3600 });
      const first = await tokens.getToken(); // password grant: AT1, RT1; expires t0+3600 s, cutoff t0+3570 s
      const old = await settled(1);

      // In AT1's refresh-ahead window: served AT1 while a background refresh with RT1 gets AT2 and RT2 (100 s tokens:
      // AT2 expires at t0+3620 s, later than AT1, and its own refresh window starts at t0+3555 s, before AT1's cutoff).
      server.configure({ expiresIn: 100 });
      now = t0 + 3_520_000;
      expect((await tokens.getToken()).accessToken).toBe(first.accessToken);
      const newer = await settled(2);
      expect(newer).not.toBe(old);
      const second = await tokens.getToken();
      expect(second.accessToken).not.toBe(first.accessToken);
      expect(refreshTokensSent()).toHaveLength(1);

      // The replay: AT1/RT1's old value, as someone who can write to Redis kept it. The key does not stop it: it decrypts.
      redis.cli('set', entry, old, 'px', '3600000');
      const replayed = await redisStore({ client: connect(), encryptionKey }).get(tokens.key);
      expect(replayed?.accessToken).toBe(first.accessToken);

      // A process started now has nothing to compare with: it takes the replayed, still unexpired AT1.
      const fresh = process(() => now);
      expect((await fresh.getToken()).accessToken).toBe(first.accessToken);

      // The running provider keeps serving AT2, and in AT2's refresh window it reads the replayed value (AT1 is still
      // before its cutoff) but adopts neither its access token (it expires earlier) nor RT1 (received earlier).
      expect((await tokens.getToken()).accessToken).toBe(second.accessToken);
      now = t0 + 3_556_000;
      expect((await tokens.getToken()).accessToken).toBe(second.accessToken);
      await settled(3);
      const third = await tokens.getToken();
      expect([first.accessToken, second.accessToken]).not.toContain(third.accessToken);
      // RT2, not the rotated-away RT1: RT1 would be refused (invalid_grant) and a password grant would follow.
      expect(grants()).toEqual(['password', 'refresh_token', 'refresh_token']);
      const sent = refreshTokensSent();
      expect(new Set(sent).size).toBe(2);
      expect(
        events.filter((e) => e.type === 'store_hit' || e.type === 'refresh_token_dropped' || e.type === 'error'),
      ).toEqual([]);
      const held = await redisStore({ client: connect(), encryptionKey }).get(tokens.key);
      expect(held?.accessToken).toBe(third.accessToken);
    } finally {
      server.configure({ expiresIn: 60 });
    }
  });
});
