// Many real processes sharing one Redis: each child runs src/fixtures/fleet-child.ts
// against the built @tokenkit/core and @tokenkit/redis (see vitest.config.ts).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  startRedis,
  startRedisCluster,
  startRedisSentinel,
  startTokenServer,
  waitFor,
  type RedisCluster,
  type RedisSentinel,
  type RedisServer,
  type TokenServer,
} from '@tokenkit/test-utils';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChildConfig, ChildResult } from './fixtures/fleet-child.ts';
import { redisStore } from './index.ts';

const CHILD = fileURLToPath(new URL('./fixtures/fleet-child.ts', import.meta.url));
const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));

let redis: RedisServer;
let server: TokenServer;
/** When each token request arrived (ms). */
let arrivals: number[];

function run(config: Omit<ChildConfig, 'tokenEndpoint'>): { process: ChildProcess; result: Promise<ChildResult> } {
  const child = spawn(process.execPath, [CHILD, JSON.stringify({ tokenEndpoint: server.url, ...config })], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const result = new Promise<ChildResult>((resolve, reject) => {
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildResult);
      else reject(new Error(`child exited with ${code ?? signal}: ${stderr}`));
    });
  });
  return { process: child, result };
}

const fleet = (n: number, config: Omit<ChildConfig, 'tokenEndpoint'>) =>
  Promise.all(Array.from({ length: n }, () => run(config).result));

// Sixteen Node processes starting at once take many seconds on a busy 2-core machine (a few when idle).
const FLEET_TIMEOUT = { timeout: 180_000 };
const SERVERS_TIMEOUT = 120_000;

beforeAll(async () => {
  [redis, server] = await Promise.all([startRedis(), startTokenServer()]);
});
afterAll(async () => {
  await Promise.all([redis.stop(), server.close()]);
});
beforeEach(() => {
  redis.cli('flushall');
  server.requests.length = 0;
  server.configure({ latencyMs: 0 });
  arrivals = [];
  server.misbehave(() => void arrivals.push(Date.now()));
});

describe('a fleet of processes on one Redis', () => {
  it('a token stored by one process is reused by another with zero token requests; encrypted at rest; another key is a miss', async () => {
    const encryptionKey = randomBytes(32).toString('base64');
    const first = await run({ redis: { port: redis.port }, encryptionKey }).result;
    expect(first.events).toEqual(['fetch']);
    expect(server.count).toBe(1);

    const second = await run({ redis: { port: redis.port }, encryptionKey }).result;
    expect(second).toMatchObject({ accessToken: first.accessToken, failures: 0, events: ['store_hit'] });
    expect(server.count).toBe(1);

    const raw = redis.cli('get', `tokenkit:{${first.key}}`);
    expect(raw).toMatch(/^tkenc1\./);
    expect(raw).not.toContain(first.accessToken);

    const otherKey = await run({ redis: { port: redis.port }, encryptionKey: randomBytes(32).toString('base64') })
      .result;
    expect(otherKey).toMatchObject({ failures: 0, events: ['fetch'] });
    expect(otherKey.accessToken).not.toBe(first.accessToken);
    expect(server.count).toBe(2);
  });

  it('16 processes started together on a cold cache make exactly one token request', FLEET_TIMEOUT, async () => {
    server.configure({ latencyMs: 200 });
    const results = await fleet(16, { redis: { port: redis.port } });
    expect(server.count).toBe(1);
    expect(new Set(results.map((r) => r.accessToken)).size).toBe(1);
    expect(results.every((r) => r.failures === 0)).toBe(true);
    expect(results.filter((r) => r.events.includes('fetch'))).toHaveLength(1);
    expect(results.filter((r) => r.events.includes('store_hit'))).toHaveLength(15);
  });

  it(
    'the lock holder is killed mid-fetch: another process fetches once the lock expires, and no request fails',
    FLEET_TIMEOUT,
    async () => {
      // The lock lives a few seconds (timeoutMs plus margins); each token request takes 0.5 s.
      // (A waiter gives up waiting after a while from its start, so the waiters start 2 s after the holder:
      // their patience outlasts the dead holder's lock plus the takeover's fetch.)
      server.configure({ latencyMs: 500 });
      // The holder's request is never answered, so it is surely mid-fetch when killed, however slow this machine.
      server.misbehave((_, n) => {
        arrivals.push(Date.now());
        return n === 1 ? { hang: true } : undefined;
      });
      const config = { redis: { port: redis.port }, timeoutMs: 3_000 };
      const holder = run(config);
      const holderDied = holder.result.catch((error: unknown) => error);
      await waitFor(() => server.count > 0, { timeoutMs: 60_000, what: "the holder's token request" });
      const lockedAt = Date.now();
      const lock = redis.cli('keys', '*:lock').trim();
      expect(lock).toMatch(/^tokenkit:\{tk2\.[\w-]+\}:lock$/); // core's cache keys start with tk2.
      // When the dead holder's lock expires at the earliest (PTTL counts from when Redis answered, after `asked`).
      const asked = Date.now();
      const pttl = Number(redis.cli('pttl', lock));
      expect(pttl).toBeGreaterThan(0);
      const lockExpiresAt = asked + pttl;
      holder.process.kill('SIGKILL'); // mid-fetch: the token endpoint has not answered
      expect(await holderDied).toBeInstanceOf(Error);
      expect(redis.cli('keys', '*').trim()).toMatch(/:lock$/); // no entry, only the dead holder's lock
      await new Promise((r) => setTimeout(r, 2_000 - (Date.now() - lockedAt)));
      const waiters = [run(config), run(config)];

      const results = await Promise.all(waiters.map((w) => w.result));
      expect(results.map((r) => r.failures)).toEqual([0, 0]);
      expect(results[0]!.accessToken).toBe(results[1]!.accessToken);
      expect(results.map((r) => r.events.join(',')).sort()).toEqual(['fetch', 'store_hit']);
      expect(server.count).toBe(2); // the killed holder's request and one takeover
      // Not before the lock expired (1 ms for the two clocks' rounding): measured against the lock's own TTL, not
      // against the holder's request, which a busy machine may send long after it took the lock.
      expect(arrivals[1]!).toBeGreaterThanOrEqual(lockExpiresAt - 1);
    },
  );

  it('the CommonJS build loads', () => {
    const out = spawnSync(
      process.execPath,
      [
        '-e',
        "const m = require('@tokenkit/redis'); process.stdout.write(typeof m.redisStore + ' ' + typeof m.createTokenProvider)",
      ],
      {
        cwd: PACKAGE_DIR,
        encoding: 'utf8',
      },
    );
    expect({ stdout: out.stdout, stderr: out.stderr }).toEqual({ stdout: 'function function', stderr: '' });
  });
});

describe('Redis Cluster (three masters)', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
  }, SERVERS_TIMEOUT);
  afterAll(() => cluster?.stop());

  it(
    '16 processes with an ioredis Cluster client make exactly one token request; entry and lock share a slot',
    FLEET_TIMEOUT,
    async () => {
      server.configure({ latencyMs: 200 });
      const results = await fleet(16, { redis: { cluster: [...cluster.ports] } });
      expect(server.count).toBe(1);
      expect(new Set(results.map((r) => r.accessToken)).size).toBe(1);
      expect(results.every((r) => r.failures === 0)).toBe(true);

      const key = results[0]!.key;
      const entry = `tokenkit:{${key}}`;
      const lock = `${entry}:lock`;
      const slot = cluster.cli('cluster', 'keyslot', entry).trim();
      expect(cluster.cli('cluster', 'keyslot', lock).trim()).toBe(slot);

      // Take the lock in this process through a Cluster client: both keys are on the one node that owns the slot.
      const client = new Cluster(
        cluster.ports.map((port) => ({ host: '127.0.0.1', port })),
        { enableOfflineQueue: false },
      );
      try {
        const store = redisStore({ client, plaintext: true }); // the children were given no encryptionKey
        expect((await store.get(key))?.accessToken).toBe(results[0]!.accessToken);
        // The child that fetched releases its lock after its write landed, or (if it quit first) the lock expires.
        const release = await waitFor(() => store.lock!(key, 5_000), {
          timeoutMs: 60_000,
          intervalMs: 50,
          what: 'the lock',
        });
        expect(release).toBeTypeOf('function');
        const holders = cluster.nodes.filter((node) => node.cli('keys', '*').includes(entry));
        expect(holders).toHaveLength(1);
        expect(holders[0]!.cli('keys', '*').split('\n')).toEqual(expect.arrayContaining([entry, lock]));
        await release!();
        expect(holders[0]!.cli('exists', lock).trim()).toBe('0');
        // deleteIf's compare-and-delete runs on the node that owns the entry's slot.
        await store.deleteIf!(key, 'at-another');
        expect(holders[0]!.cli('exists', entry).trim()).toBe('1');
        await store.deleteIf!(key, results[0]!.accessToken);
        expect(holders[0]!.cli('exists', entry).trim()).toBe('0');
      } finally {
        await client.quit();
      }
    },
  );
});

describe('Redis Sentinel', () => {
  let sentinel: RedisSentinel;
  beforeAll(async () => {
    sentinel = await startRedisSentinel();
  }, SERVERS_TIMEOUT);
  afterAll(() => sentinel?.stop());

  it(
    '16 processes whose ioredis clients find the master through Sentinel make exactly one token request',
    FLEET_TIMEOUT,
    async () => {
      server.configure({ latencyMs: 200 });
      const results = await fleet(16, { redis: { sentinel: sentinel.port, name: sentinel.name } });
      expect(server.count).toBe(1);
      expect(new Set(results.map((r) => r.accessToken)).size).toBe(1);
      expect(results.every((r) => r.failures === 0)).toBe(true);
      // The entry is on the master Sentinel named.
      const entry = `tokenkit:{${results[0]!.key}}`;
      expect(sentinel.master.cli('keys', '*')).toContain(entry);
      // deleteIf through a client that finds the master through Sentinel.
      const client = new Redis({
        sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
        name: sentinel.name,
        enableOfflineQueue: false,
      });
      try {
        const store = redisStore({ client, plaintext: true }); // the children were given no encryptionKey
        await store.deleteIf!(results[0]!.key, 'at-another');
        expect(sentinel.master.cli('exists', entry).trim()).toBe('1');
        await store.deleteIf!(results[0]!.key, results[0]!.accessToken);
        expect(sentinel.master.cli('exists', entry).trim()).toBe('0');
      } finally {
        await client.quit();
      }
    },
  );
});

describe('Redis Sentinel failover', () => {
  let sentinel: RedisSentinel;
  beforeAll(async () => {
    sentinel = await startRedisSentinel('tokenkit-failover', { replica: true });
  }, SERVERS_TIMEOUT);
  afterAll(() => sentinel?.stop());

  it(
    'after the master dies and Sentinel promotes its replica, a new process takes the replicated token (no second token request) and new keys are stored on the new master',
    FLEET_TIMEOUT,
    async () => {
      const redisConfig = { sentinel: sentinel.port, name: sentinel.name };
      const replica = sentinel.replica!;
      const first = await run({ redis: redisConfig }).result;
      expect(first.events).toEqual(['fetch']);
      expect(server.count).toBe(1);
      const entry = `tokenkit:{${first.key}}`;
      // The entry reached the replica before its master goes (WAIT answers how many replicas have it).
      expect(sentinel.master.cli('wait', '1', '5000').trim()).toBe('1');
      expect(replica.cli('exists', entry).trim()).toBe('1');

      await sentinel.master.stop();
      await sentinel.waitForMaster(replica.port);

      const second = await run({ redis: redisConfig }).result;
      expect(second).toMatchObject({ accessToken: first.accessToken, failures: 0, events: ['store_hit'] });
      expect(server.count).toBe(1);

      // The promoted replica takes writes: another key is locked, fetched once and stored there.
      const other = await run({ redis: redisConfig, scope: 'after-failover' }).result;
      expect(other).toMatchObject({ failures: 0, events: ['fetch'] });
      expect(server.count).toBe(2);
      expect(replica.cli('exists', `tokenkit:{${other.key}}`).trim()).toBe('1');
    },
  );
});
