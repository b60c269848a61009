// 2. Request overhead of each tokenkit adapter: sequential loopback requests through
// the adapter vs. the same client with a static Authorization header, in interleaved
// rounds. The measuring code is each adapter's own `bench/overhead.ts` (its `measureOverhead()`),
// run in a fresh process per adapter (child.ts runBench), as it runs on its own.
import { median } from '@tokenkit/bench-kit';
import { runBench } from './child.ts';
import type { Library } from './libraries.ts';

export interface OverheadRound {
  adapterMs: number;
  staticMs: number;
  ratio: number;
}

export interface OverheadRow {
  library: Library;
  requests: number;
  rounds: OverheadRound[];
  /** Median of static time / adapter time over the rounds; 1 = no overhead. */
  medianRatio: number;
  /** The target for medianRatio, as the adapter's bench states it (default 0.97). */
  target: number;
  adapterMicros: number;
  staticMicros: number;
  /** Which code measured it. */
  source: string;
}

/** What every adapter's bench/overhead.ts answers. */
interface AdapterResult {
  requests: number;
  rounds: OverheadRound[];
  medianRatio: number;
  target?: number;
}

export async function measureOverheads(
  libraries: Library[],
  { requests = 5000, rounds = 5 } = {},
): Promise<{ rows: OverheadRow[]; missing: string[] }> {
  const rows: OverheadRow[] = [];
  const missing: string[] = [];
  for (const library of libraries) {
    const pkg = library.overhead?.pkg ?? library.id.replace(/^tokenkit-/, '');
    const source = `packages/${pkg}/bench/overhead.ts`;
    const result = await runBench<Partial<AdapterResult>>({
      package: `@tokenkit/${pkg}`,
      script: 'bench/overhead.ts',
      export: 'measureOverhead',
      options: { ...library.overhead?.options, requests, rounds },
    });
    if (result === undefined) {
      missing.push(`${library.label}: ${source} does not exist, no overhead figure`);
      continue;
    }
    if (
      !Array.isArray(result.rounds) ||
      typeof result.medianRatio !== 'number' ||
      typeof result.requests !== 'number'
    ) {
      throw new Error(`${source}: measureOverhead() answered an unexpected shape`);
    }
    const count = result.requests;
    const perRequest = (ms: number) => (ms * 1000) / count;
    rows.push({
      library,
      requests: result.requests,
      rounds: result.rounds,
      medianRatio: result.medianRatio,
      target: typeof result.target === 'number' ? result.target : 0.97,
      adapterMicros: perRequest(median(result.rounds.map((r) => r.adapterMs))),
      staticMicros: perRequest(median(result.rounds.map((r) => r.staticMs))),
      source,
    });
  }
  return { rows, missing };
}
