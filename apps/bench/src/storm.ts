// 3. Cold-start storm: N concurrent requests on a cold cache. How many token requests?
import { startApi, startTokenServer } from '@tokenkit/test-utils';
import type { Library } from './libraries.ts';

export interface StormRow {
  library: Library;
  requests: number;
  tokenRequests: number;
  /** Requests that did not end in 200. */
  failed: number;
  durationMs: number;
  /** How long the token endpoint took to answer. */
  latencyMs: number;
}

export async function measureStorm(
  libraries: Library[],
  { concurrency = 1000, latencyMs = 100 } = {},
): Promise<StormRow[]> {
  const rows: StormRow[] = [];
  for (const library of libraries) {
    const tokenServer = await startTokenServer({ latencyMs });
    const api = await startApi({ isValid: (token) => tokenServer.isValid(token) });
    try {
      const contender = await library.setup({ tokenUrl: tokenServer.url, apiOrigin: api.origin });
      const started = performance.now();
      // Distinct paths: Apollo would otherwise de-duplicate concurrent identical GETs into one.
      const statuses = await Promise.all(Array.from({ length: concurrency }, (_, i) => contender.get(`payments/${i}`)));
      const durationMs = performance.now() - started;
      contender.close?.();
      rows.push({
        library,
        requests: concurrency,
        tokenRequests: tokenServer.count,
        failed: statuses.filter((s) => s !== 200).length,
        durationMs,
        latencyMs,
      });
    } finally {
      await Promise.all([api.close(), tokenServer.close()]);
    }
  }
  return rows;
}
