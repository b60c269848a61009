import { startRedis, startTokenServer, type RedisServer, type TokenServer } from '@tokenkit/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenProvider, redisStore, type TokenProviderOptions } from './index.ts';

let redis: RedisServer;
let server: TokenServer;
const clients: Redis[] = [];

beforeAll(async () => {
  [redis, server] = await Promise.all([startRedis(), startTokenServer({ users: { alice: 'wonder land' }, expiresIn: 60 })]);
}, 60_000);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
  await Promise.all([redis.stop(), server.close()]);
});

/** One "process": its own Redis connection and provider, its own clock. */
function process(now: () => number, extra: Partial<TokenProviderOptions> = {}) {
  const client = new Redis({ host: '127.0.0.1', port: redis.port, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  clients.push(client);
  return createTokenProvider({
    tokenEndpoint: server.url,
    clientId: 'client-id',
    clientSecret: 'client-secret',
    grant: { type: 'password', username: 'alice', password: 'wonder land' },
    store: redisStore({ client, encryptionKey: Buffer.alloc(32, 7) }),
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
    const refreshes = server.requests.filter((r) => r.params['grant_type'] === 'refresh_token').map((r) => r.params['refresh_token']);
    expect(refreshes).toHaveLength(2);
    expect(new Set(refreshes).size).toBe(2); // the rotated-away RT1 is never presented again
    expect(server.requests.filter((r) => r.params['grant_type'] === 'password')).toHaveLength(1);
  });
});
