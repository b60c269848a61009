// 2. Request overhead of each tokenkit adapter: sequential loopback requests through
// the adapter vs. the same client with a static Authorization header, interleaved rounds.
// Each adapter's own `packages/<x>/bench/overhead.ts` is used when it exists; until
// then the same method runs here (marked as such in the report).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startApi, startTokenServer } from '@tokenkit/test-utils';
import { fetchStaticHeader, staticFor, type Library } from './libraries.ts';
import { median } from './stats.ts';

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
  adapterMicros: number;
  staticMicros: number;
  /** Which code measured it. */
  source: string;
}

interface AdapterBench {
  measureOverhead(options: { requests: number; rounds: number }): Promise<{ requests: number; rounds: OverheadRound[]; medianRatio: number }>;
}

const packagesDir = fileURLToPath(new URL('../../../packages/', import.meta.url));

export async function measureOverheads(libraries: Library[], { requests = 5000, rounds = 5 } = {}): Promise<OverheadRow[]> {
  const rows: OverheadRow[] = [];
  for (const library of libraries) {
    const pkg = library.id.replace(/^tokenkit-/, '');
    const file = `${packagesDir}${pkg}/bench/overhead.ts`;
    let result: { requests: number; rounds: OverheadRound[]; medianRatio: number };
    let source: string;
    if (existsSync(file)) {
      const bench = (await import(pathToFileURL(file).href)) as AdapterBench;
      result = await bench.measureOverhead({ requests, rounds });
      source = `packages/${pkg}/bench/overhead.ts`;
    } else {
      result = await fallbackOverhead(library, { requests, rounds });
      source = 'apps/bench (adapter has no bench/overhead.ts yet)';
    }
    const perRequest = (ms: number) => (ms * 1000) / result.requests;
    rows.push({
      library,
      requests: result.requests,
      rounds: result.rounds,
      medianRatio: result.medianRatio,
      adapterMicros: perRequest(median(result.rounds.map((r) => r.adapterMs))),
      staticMicros: perRequest(median(result.rounds.map((r) => r.staticMs))),
      source,
    });
  }
  return rows;
}

/** The adapters' method: warm-up, then rounds that alternate which variant goes first. */
async function fallbackOverhead(library: Library, { requests, rounds }: { requests: number; rounds: number }) {
  const tokenServer = await startTokenServer();
  const api = await startApi({ isValid: (token) => tokenServer.isValid(token) });
  try {
    const endpoints = { tokenUrl: tokenServer.url, apiOrigin: api.origin };
    const adapter = await library.setup(endpoints);
    const plain = await staticFor(library.client).setup(endpoints, { staticHeader: await fetchStaticHeader(tokenServer.url) });
    const run = async (get: (path: string) => Promise<number>, n: number) => {
      const started = performance.now();
      for (let i = 0; i < n; i++) {
        const status = await get(`payments/${i}`);
        if (status !== 200) throw new Error(`${library.label}: unexpected status ${status}`);
      }
      return performance.now() - started;
    };
    const warmup = Math.min(500, requests);
    await run(adapter.get, warmup);
    await run(plain.get, warmup);
    const results: OverheadRound[] = [];
    for (let round = 0; round < rounds; round++) {
      let adapterMs: number;
      let staticMs: number;
      if (round % 2 === 0) {
        adapterMs = await run(adapter.get, requests);
        staticMs = await run(plain.get, requests);
      } else {
        staticMs = await run(plain.get, requests);
        adapterMs = await run(adapter.get, requests);
      }
      results.push({ adapterMs, staticMs, ratio: staticMs / adapterMs });
    }
    // One for the adapter, one for the static header.
    if (tokenServer.count !== 2) throw new Error(`${library.label}: expected one token request, saw ${tokenServer.count - 1}`);
    return { requests, rounds: results, medianRatio: median(results.map((r) => r.ratio)) };
  } finally {
    await Promise.all([api.close(), tokenServer.close()]);
  }
}
