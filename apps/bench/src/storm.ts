// 3. Cold-start storm: N concurrent requests on a cold cache. How many token requests, and how long until all
// are answered? Each library runs `repetitions` times, each time in a fresh child process (storm-child.ts), so
// every library starts on a cold JIT and none inherits another's warm code; the order rotates from repetition to
// repetition. The token server and the API run here, in the parent, which is otherwise idle meanwhile: the
// clients' process measures only the clients.
import { median, rotation } from '@tokenkit/bench-kit';
import { startApi, startTokenServer } from '@tokenkit/test-utils';
import { runChild } from './child.ts';
import { fetchStaticHeader, type Library } from './libraries.ts';

/** One storm of one library, in a process of its own. */
export interface StormRun {
  durationMs: number;
  /** CPU time of the client's process (all its threads) during the storm: its work, whatever else the machine ran. */
  cpuMs: number;
  tokenRequests: number;
  /** Requests that did not end in 200. */
  failed: number;
  /** TCP connections the API accepted for the storm's requests. */
  connections: number;
}

export interface StormRow {
  library: Library;
  requests: number;
  /** How long the token endpoint took to answer. */
  latencyMs: number;
  /** In the order they ran. */
  runs: StormRun[];
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Median CPU time of the client's process during the storm. */
  cpuMs: number;
  /** The most token requests any repetition made. */
  tokenRequests: number;
  /** Failed requests over all repetitions. */
  failed: number;
  /** Requests over all repetitions. */
  totalRequests: number;
  /** Median of the repetitions' API connection counts. */
  connections: number;
}

/** What storm-child.ts answers. */
export interface StormChildResult {
  durationMs: number;
  cpuMs: number;
  failed: number;
}

async function stormOnce(library: Library, concurrency: number, latencyMs: number): Promise<StormRun> {
  const tokenServer = await startTokenServer({ latencyMs });
  const api = await startApi({ isValid: (token) => tokenServer.isValid(token) });
  try {
    const staticHeader = library.kind === 'static' ? await fetchStaticHeader(tokenServer.url) : undefined;
    const tokensBefore = tokenServer.count;
    const result = await runChild<StormChildResult>('./storm-child.ts', {
      id: library.id,
      endpoints: { tokenUrl: tokenServer.url, apiOrigin: api.origin },
      concurrency,
      ...(staticHeader === undefined ? {} : { staticHeader }),
    });
    return { ...result, tokenRequests: tokenServer.count - tokensBefore, connections: api.connections };
  } finally {
    await Promise.all([api.close(), tokenServer.close()]);
  }
}

export async function measureStorm(
  libraries: Library[],
  { concurrency = 1000, latencyMs = 100, repetitions = 5 } = {},
): Promise<StormRow[]> {
  const runs = new Map<Library, StormRun[]>(libraries.map((l) => [l, []]));
  for (let rep = 0; rep < repetitions; rep++) {
    for (const library of rotation(libraries, rep, repetitions)) {
      runs.get(library)!.push(await stormOnce(library, concurrency, latencyMs));
    }
  }
  return libraries.map((library) => {
    const list = runs.get(library)!;
    const times = list.map((r) => r.durationMs);
    return {
      library,
      requests: concurrency,
      latencyMs,
      runs: list,
      medianMs: median(times),
      minMs: Math.min(...times),
      maxMs: Math.max(...times),
      cpuMs: median(list.map((r) => r.cpuMs)),
      tokenRequests: Math.max(...list.map((r) => r.tokenRequests)),
      failed: list.reduce((sum, r) => sum + r.failed, 0),
      totalRequests: concurrency * list.length,
      connections: median(list.map((r) => r.connections)),
    };
  });
}
