// 5. Fleet: N processes share one client's token, with and without @tokenkit/redis.
// The measuring code is @tokenkit/redis's own (packages/redis/bench/fleet.ts).
import { hasRedis } from '@tokenkit/test-utils';
import {
  measureFleetRequests,
  measureWarmThroughput,
  type FleetRun,
  type WarmResult,
} from '../../../packages/redis/bench/fleet.ts';

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
  const runs = await measureFleetRequests({ processes, tokenLifetimeSeconds, lifetimes, intervalMs });
  const warm = await measureWarmThroughput({ calls: settings.warmCalls, rounds: settings.warmRounds });
  return { settings, runs, warm };
}
