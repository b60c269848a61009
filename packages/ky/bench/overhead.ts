// What tokenHooks costs per request: sequential loopback requests through a ky
// instance with the hooks vs. the same ky setup with a static Authorization
// header, in interleaved rounds. Build first, then: `node bench/overhead.ts [--quick]`.
// A third variant, the static header plus a no-op afterResponse hook, shows what ky charges
// for any afterResponse hook — the reason tokenHooks retries 401s in ky's `fetch` instead.
import { fileURLToPath } from 'node:url';
import ky, { type KyInstance } from 'ky';
import { createTokenProvider, tokenHooks } from '@tokenkit/ky';
import { startApi, startTokenServer } from '@tokenkit/test-utils';

export interface OverheadRound {
  /** Wall time of the requests with tokenHooks, ms. */
  adapterMs: number;
  /** Wall time of the requests with a static Authorization header, ms. */
  staticMs: number;
  /**
   * The static header plus one no-op afterResponse hook. ky clones every response for each such
   * hook; this is why tokenHooks does its 401 retry in ky's `fetch` instead.
   */
  hookFloorMs: number;
  /** staticMs / adapterMs: 1 means no overhead. */
  ratio: number;
  /** staticMs / hookFloorMs: the best ratio an adapter watching responses through afterResponse could reach. */
  floorRatio: number;
}

export interface OverheadResult {
  requests: number;
  rounds: OverheadRound[];
  /** Median of the rounds' ratios (static time / adapter time). */
  medianRatio: number;
  /** Median of the rounds' floor ratios (static time / no-op afterResponse hook time). */
  medianFloorRatio: number;
  /** Median extra time per request with the hooks, µs (negative: noise). */
  medianOverheadUsPerRequest: number;
}

const BLOCK = 50;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function run(api: KyInstance, requests: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < requests; i++) await api.get('payments').json();
  return performance.now() - started;
}

/** Runs the comparison against local servers it starts and stops itself. */
export async function measureOverhead({ requests = 5000, rounds = 5 }: { requests?: number; rounds?: number } = {}): Promise<OverheadResult> {
  const tokenServer = await startTokenServer();
  const apiServer = await startApi({ isValid: (token) => tokenServer.isValid(token) });
  try {
    const tokens = createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: 'client-id', clientSecret: 'client-secret' });
    const withHooks = ky.create({ baseUrl: apiServer.origin, hooks: tokenHooks(tokens) });
    const withStatic = ky.create({ baseUrl: apiServer.origin, headers: { authorization: await tokens.authorizationHeader() } });
    const withFloor = withStatic.extend({ hooks: { afterResponse: [() => {}] } });
    const variants = [withHooks, withStatic, withFloor];
    // Warm up every path (JIT, connection pool) before measuring.
    for (const variant of variants) await run(variant, Math.min(500, requests));

    const results: OverheadRound[] = [];
    for (let round = 0; round < rounds; round++) {
      // Within a round the variants take turns in blocks of BLOCK requests, the first of each turn
      // rotating, so a burst of other load on the machine hits all of them alike.
      const ms = [0, 0, 0];
      for (let done = 0, turn = 0; done < requests; done += BLOCK, turn++) {
        const size = Math.min(BLOCK, requests - done);
        for (let i = 0; i < variants.length; i++) {
          const which = (turn + i) % variants.length;
          ms[which]! += await run(variants[which]!, size);
        }
      }
      const [adapterMs, staticMs, hookFloorMs] = ms as [number, number, number];
      results.push({ adapterMs, staticMs, hookFloorMs, ratio: staticMs / adapterMs, floorRatio: staticMs / hookFloorMs });
    }
    if (tokenServer.count !== 1) throw new Error(`expected one token request, saw ${tokenServer.count}`);
    return {
      requests,
      rounds: results,
      medianRatio: median(results.map((r) => r.ratio)),
      medianFloorRatio: median(results.map((r) => r.floorRatio)),
      medianOverheadUsPerRequest: (median(results.map((r) => r.adapterMs - r.staticMs)) * 1000) / requests,
    };
  } finally {
    await Promise.all([apiServer.close(), tokenServer.close()]);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const requests = quick ? 500 : 5000;
  const rounds = quick ? 5 : 7;
  console.log(`@tokenkit/ky overhead: ${requests} sequential GETs per variant and round, ${rounds} interleaved rounds (Node ${process.versions.node})`);
  const result = await measureOverhead({ requests, rounds });
  result.rounds.forEach((r, i) => {
    console.log(
      `round ${i + 1}: tokenHooks ${r.adapterMs.toFixed(0)} ms (${((r.adapterMs * 1000) / requests).toFixed(1)} µs/req), ` +
        `static header ${r.staticMs.toFixed(0)} ms (${((r.staticMs * 1000) / requests).toFixed(1)} µs/req), ` +
        `static + no-op afterResponse ${r.hookFloorMs.toFixed(0)} ms, ratio ${r.ratio.toFixed(3)} (floor ${r.floorRatio.toFixed(3)})`,
    );
  });
  console.log(`median ratio (static / tokenHooks): ${result.medianRatio.toFixed(3)} (target >= 0.97)`);
  console.log(`for comparison, a no-op afterResponse hook alone: median ratio ${result.medianFloorRatio.toFixed(3)}`);
  console.log(`median overhead: ${result.medianOverheadUsPerRequest.toFixed(1)} µs per request`);
}
