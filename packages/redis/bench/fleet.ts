// What the Redis store costs and saves.
// (a) Warm-cache getToken() calls/s with the Redis store attached vs. memory only,
//     in interleaved rounds of one run, and how many Redis commands the warm calls sent.
// (b) Token requests per token lifetime for a fleet of processes calling getToken()
//     continuously, with and without the store (short-lived tokens, several lifetimes).
// Needs redis-server; runs the BUILT packages: build first, then `pnpm -F @tokenkit/redis bench [--quick]`.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { cpuRate, median } from '@tokenkit/bench-kit';
import { createTokenProvider, type TokenProvider } from '@tokenkit/core';
import { redisStore } from '@tokenkit/redis';
import { startRedis, startTokenServer } from '@tokenkit/test-utils';
import { Redis } from 'ioredis';
import type { ChildConfig, ChildResult } from '../src/fixtures/fleet-child.ts';

const CHILD = fileURLToPath(new URL('../src/fixtures/fleet-child.ts', import.meta.url));

export interface WarmRound {
  /** getToken() calls per CPU-second with the Redis store attached. */
  redisPerSecond: number;
  /** getToken() calls per CPU-second without a store. */
  memoryPerSecond: number;
}

export interface WarmResult {
  calls: number;
  rounds: WarmRound[];
  medianRedisPerSecond: number;
  medianMemoryPerSecond: number;
  /** Median of the rounds' redis/memory ratios: 1 means the store costs nothing on a hit. */
  ratio: number;
  /** Commands Redis processed during all measured calls (hits stay in process: 0). */
  redisCommandsDuringWarmCalls: number;
}

export interface FleetRun {
  withStore: boolean;
  processes: number;
  tokenLifetimeMs: number;
  durationMs: number;
  /** getToken() calls made by the whole fleet. */
  calls: number;
  /** getToken() calls that failed (expected 0). */
  failures: number;
  tokenRequests: number;
  /** tokenRequests / (durationMs / tokenLifetimeMs). */
  requestsPerLifetime: number;
}

/** Warm getToken() calls per CPU-second of this process (bench-kit's cpuRate). */
const callsPerSecond = (tokens: TokenProvider, calls: number) => cpuRate(() => tokens.getToken(), calls);

const commandsProcessed = (cli: (...args: string[]) => string) =>
  Number(/total_commands_processed:(\d+)/.exec(cli('info', 'stats'))?.[1] ?? NaN);

/** (a) Warm-cache throughput with and without the Redis store, against servers it starts and stops itself. */
export async function measureWarmThroughput({
  calls = 500_000,
  rounds = 15,
}: {
  calls?: number;
  rounds?: number;
} = {}): Promise<WarmResult> {
  const [redis, server] = await Promise.all([startRedis(), startTokenServer()]);
  const client = new Redis({
    host: '127.0.0.1',
    port: redis.port,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 500,
  });
  try {
    const options = { tokenEndpoint: server.url, clientId: 'client-id', clientSecret: 'client-secret' };
    // Encrypted at rest, as recommended: a hit never reaches the store, so encryption costs nothing here either.
    const withRedis = createTokenProvider({
      ...options,
      store: redisStore({ client, encryptionKey: randomBytes(32) }),
    });
    const memoryOnly = createTokenProvider(options);
    await Promise.all([withRedis.getToken(), memoryOnly.getToken()]);
    await callsPerSecond(withRedis, Math.min(100_000, calls)); // JIT warm-up
    await callsPerSecond(memoryOnly, Math.min(100_000, calls));
    await new Promise((resolve) => setTimeout(resolve, 50)); // the store write and lock release land
    const commandsBefore = commandsProcessed(redis.cli);
    const results: WarmRound[] = [];
    for (let round = 0; round < rounds; round++) {
      // Alternate which goes first so drift (GC, CPU frequency) hits both alike.
      const first = round % 2 === 0 ? withRedis : memoryOnly;
      const a = await callsPerSecond(first, calls);
      const b = await callsPerSecond(first === withRedis ? memoryOnly : withRedis, calls);
      results.push(
        first === withRedis ? { redisPerSecond: a, memoryPerSecond: b } : { redisPerSecond: b, memoryPerSecond: a },
      );
    }
    // Each INFO call is itself one command.
    const redisCommands = commandsProcessed(redis.cli) - commandsBefore - 1;
    const medianRedisPerSecond = median(results.map((r) => r.redisPerSecond));
    const medianMemoryPerSecond = median(results.map((r) => r.memoryPerSecond));
    const ratio = median(results.map((r) => r.redisPerSecond / r.memoryPerSecond));
    return {
      calls,
      rounds: results,
      medianRedisPerSecond,
      medianMemoryPerSecond,
      ratio,
      redisCommandsDuringWarmCalls: redisCommands,
    };
  } finally {
    await client.quit().catch(() => client.disconnect());
    await Promise.all([redis.stop(), server.close()]);
  }
}

function runChild(config: ChildConfig): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildResult)
        : reject(new Error(`fleet process exited with ${code}`)),
    );
  });
}

/**
 * (b) `processes` processes call getToken() every `intervalMs` for `lifetimes`
 * token lifetimes, once with the Redis store and once without; counts token requests.
 */
export async function measureFleetRequests({
  processes = 16,
  tokenLifetimeSeconds = 3,
  lifetimes = 4,
  intervalMs = 10,
}: {
  processes?: number;
  tokenLifetimeSeconds?: number;
  lifetimes?: number;
  intervalMs?: number;
} = {}): Promise<FleetRun[]> {
  const [redis, server] = await Promise.all([startRedis(), startTokenServer({ expiresIn: tokenLifetimeSeconds })]);
  const encryptionKey = randomBytes(32).toString('base64'); // one key for the whole fleet, as a deployment shares one
  try {
    const runs: FleetRun[] = [];
    for (const withStore of [true, false]) {
      server.requests.length = 0;
      const durationMs = tokenLifetimeSeconds * 1000 * lifetimes;
      const config: ChildConfig = {
        tokenEndpoint: server.url,
        mode: 'run',
        durationMs,
        intervalMs,
        ...(withStore ? { redis: { port: redis.port }, encryptionKey } : {}),
      };
      const results = await Promise.all(Array.from({ length: processes }, () => runChild(config)));
      runs.push({
        withStore,
        processes,
        tokenLifetimeMs: tokenLifetimeSeconds * 1000,
        durationMs,
        calls: results.reduce((sum, r) => sum + r.calls, 0),
        failures: results.reduce((sum, r) => sum + r.failures, 0),
        tokenRequests: server.count,
        requestsPerLifetime: server.count / lifetimes,
      });
    }
    return runs;
  } finally {
    await Promise.all([redis.stop(), server.close()]);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const warm = await measureWarmThroughput(quick ? { calls: 100_000, rounds: 7 } : {});
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(
    `(a) warm-cache getToken(), ${fmt(warm.calls)} sequential calls x ${warm.rounds.length} rounds (medians):`,
  );
  console.log(
    `    with Redis store ${fmt(warm.medianRedisPerSecond)} calls/CPU-s, memory only ${fmt(warm.medianMemoryPerSecond)} calls/CPU-s, ratio ${warm.ratio.toFixed(2)}`,
  );
  console.log(`    Redis commands sent during the measured calls: ${warm.redisCommandsDuringWarmCalls}`);
  const fleet = await measureFleetRequests(quick ? { lifetimes: 2 } : {});
  for (const run of fleet) {
    console.log(
      `(b) ${run.processes} processes, ${run.tokenLifetimeMs / 1000} s tokens, ${run.durationMs / 1000} s, ${run.withStore ? 'Redis store' : 'no store   '}: ` +
        `${run.tokenRequests} token requests = ${run.requestsPerLifetime.toFixed(1)} per token lifetime (${fmt(run.calls)} calls, ${run.failures} failed)`,
    );
  }
  const failed = fleet.some((run) => run.failures > 0) || warm.redisCommandsDuringWarmCalls !== 0;
  if (failed) {
    console.error('bench: unexpected failures or Redis traffic on warm hits');
    process.exitCode = 1;
  }
}
