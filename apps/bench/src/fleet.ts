// 5. Fleet: N processes share one client's token, with and without @tokenkit/redis.
// The measuring code is @tokenkit/redis's own (its bench/fleet.ts), run in a process of its own.
import { hasRedis } from '@tokenkit/test-utils';
import { runBench } from './child.ts';

/** One fleet run, as @tokenkit/redis's bench/fleet.ts measureFleetRequests() answers it. */
export interface FleetRun {
  withStore: boolean;
  processes: number;
  tokenLifetimeMs: number;
  durationMs: number;
  calls: number;
  failures: number;
  tokenRequests: number;
  requestsPerLifetime: number;
}

/** Warm-cache throughput with and without the store, as its measureWarmThroughput() answers it. */
export interface WarmResult {
  calls: number;
  rounds: { redisPerSecond: number; memoryPerSecond: number }[];
  medianRedisPerSecond: number;
  medianMemoryPerSecond: number;
  ratio: number;
  redisCommandsDuringWarmCalls: number;
}

export interface FleetSettings {
  processes: number;
  tokenLifetimeSeconds: number;
  lifetimes: number;
  intervalMs: number;
  warmCalls: number;
  warmRounds: number;
}

export interface FleetResult {
  settings: FleetSettings;
  runs: FleetRun[];
  warm?: WarmResult;
  /** Set when the fleet could not run (redis-server not installed). */
  skipped?: string;
}

export async function measureFleet(settings: FleetSettings): Promise<FleetResult> {
  if (!hasRedis()) {
    return {
      settings,
      runs: [],
      skipped: 'redis-server is not installed: the fleet measurement was skipped (apt-get install redis-server)',
    };
  }
  const { processes, tokenLifetimeSeconds, lifetimes, intervalMs } = settings;
  const bench = { package: '@tokenkit/redis', script: 'bench/fleet.ts' };
  const runs = await runBench<FleetRun[]>({
    ...bench,
    export: 'measureFleetRequests',
    options: { processes, tokenLifetimeSeconds, lifetimes, intervalMs },
  });
  const warm = await runBench<WarmResult>({
    ...bench,
    export: 'measureWarmThroughput',
    options: { calls: settings.warmCalls, rounds: settings.warmRounds },
  });
  if (!Array.isArray(runs) || warm === undefined) throw new Error('@tokenkit/redis has no bench/fleet.ts');
  return { settings, runs, warm };
}
