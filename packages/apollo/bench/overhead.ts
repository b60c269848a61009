// What the adapter costs per request: sequential loopback requests through an OAuthRESTDataSource
// versus a plain RESTDataSource that sets a static Authorization header.
//
//   pnpm --filter @tokenkit/apollo build && cd packages/apollo && node bench/overhead.ts [--quick] [--control]
//
// Fairness: both data sources use the default transport (node-fetch 2, as users get it) against the
// same real API. Nothing is cached or de-duplicated in either: the API answers `cache-control: no-store`
// (so HTTPCache stores nothing), every request passes `skipCache: true` (no cache lookup), and both
// classes return `do-not-deduplicate`. The bench checks that every request reached the API.
// Requests are interleaved in blocks of 50 (the order alternating) after a warm-up round. Each round's
// ratio is the median of its paired blocks' static time / adapter time (adjacent blocks see the same
// machine load); the figure is the median over rounds (1.0 = no overhead; target >= 0.97). The ratio of
// the rounds' total times is printed too.
import { RESTDataSource, type AugmentedRequest, type RequestDeduplicationPolicy } from '@apollo/datasource-rest';
import { createTokenProvider, OAuthRESTDataSource } from '@tokenkit/apollo';
import { startApi, startTokenServer } from '@tokenkit/test-utils';

export interface OverheadResult {
  requests: number;
  /** Per round: total times, the median ratio of its paired blocks, and the ratio of its totals. */
  rounds: { staticMs: number; adapterMs: number; ratio: number; totalRatio: number }[];
  /** Median over rounds of each round's median paired-block ratio (static / adapter). */
  medianRatio: number;
  /** Median over rounds of totalRatio. */
  medianTotalRatio: number;
  /** Median per-request time of each, microseconds. */
  staticUsPerRequest: number;
  adapterUsPerRequest: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const NO_DEDUP: RequestDeduplicationPolicy = { policy: 'do-not-deduplicate' };

/**
 * Measures the adapter's cost per request. `control: true` runs the same bench with a second static data
 * source in place of the adapter (an A/A run): its ratio shows the bench's own noise and bias.
 */
export async function measureOverhead({ requests = 5000, rounds = 7, control = false }: { requests?: number; rounds?: number; control?: boolean } = {}): Promise<OverheadResult> {
  const tokenServer = await startTokenServer();
  const api = await startApi({ isValid: (t) => tokenServer.isValid(t) });
  try {
    const tokens = createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: 'client-id', clientSecret: 'client-secret' });
    const staticHeader = await tokens.authorizationHeader(); // both send a valid token; the adapter's is cached too

    class StaticAPI extends RESTDataSource {
      override baseURL = api.origin + '/';
      protected override willSendRequest(_path: string, request: AugmentedRequest) {
        request.headers['authorization'] = staticHeader;
      }
      protected override requestDeduplicationPolicyFor() {
        return NO_DEDUP;
      }
      item(i: number) {
        return this.get(`items/${i}`, { skipCache: true });
      }
    }
    class AdapterAPI extends OAuthRESTDataSource {
      override baseURL = api.origin + '/';
      protected override requestDeduplicationPolicyFor() {
        return NO_DEDUP;
      }
      item(i: number) {
        return this.get(`items/${i}`, { skipCache: true });
      }
    }

    // Within a round the two alternate in blocks of 50 requests, the order flipping every block, so drift
    // (GC, sockets in TIME_WAIT, other processes) lands on both sides alike.
    const BLOCK = 50;
    const timeBlock = async (ds: { item(i: number): Promise<unknown> }, from: number, n: number) => {
      const started = process.hrtime.bigint();
      for (let i = from; i < from + n; i++) await ds.item(i);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    const round = async (n: number) => {
      const plain = new StaticAPI();
      const adapter = control ? new StaticAPI() : new AdapterAPI({ tokens });
      let staticMs = 0;
      let adapterMs = 0;
      const pairs: number[] = [];
      for (let from = 0, b = 0; from < n; from += BLOCK, b++) {
        const size = Math.min(BLOCK, n - from);
        let s: number;
        let a: number;
        if (b % 2 === 0) {
          s = await timeBlock(plain, from, size);
          a = await timeBlock(adapter, from, size);
        } else {
          a = await timeBlock(adapter, from, size);
          s = await timeBlock(plain, from, size);
        }
        staticMs += s;
        adapterMs += a;
        pairs.push(s / a);
      }
      const ok = api.requests.filter((r) => r.authorization === staticHeader).length;
      if (api.requests.length !== 2 * n || ok !== 2 * n) throw new Error(`expected ${2 * n} authorized API requests, got ${ok}/${api.requests.length}`);
      api.requests.length = 0;
      return { staticMs, adapterMs, ratio: median(pairs), totalRatio: staticMs / adapterMs };
    };

    await round(Math.min(requests, 500)); // warm-up: JIT, sockets
    const results: OverheadResult['rounds'] = [];
    for (let r = 0; r < rounds; r++) results.push(await round(requests));
    return {
      requests,
      rounds: results,
      medianRatio: median(results.map((x) => x.ratio)),
      medianTotalRatio: median(results.map((x) => x.totalRatio)),
      staticUsPerRequest: (median(results.map((x) => x.staticMs)) * 1000) / requests,
      adapterUsPerRequest: (median(results.map((x) => x.adapterMs)) * 1000) / requests,
    };
  } finally {
    await Promise.all([api.close(), tokenServer.close()]);
  }
}

if (import.meta.main) {
  const quick = process.argv.includes('--quick');
  const control = process.argv.includes('--control');
  const result = await measureOverhead({ ...(quick ? { requests: 500, rounds: 5 } : { requests: 5000, rounds: 7 }), control });
  for (const [i, r] of result.rounds.entries()) {
    console.log(`round ${i + 1}: static ${r.staticMs.toFixed(0)} ms, adapter ${r.adapterMs.toFixed(0)} ms, paired-block median ratio ${r.ratio.toFixed(3)}, total ratio ${r.totalRatio.toFixed(3)}`);
  }
  console.log(
    `${control ? 'A/A control (static vs static)' : '@tokenkit/apollo overhead'}: ${result.requests} sequential requests x ${result.rounds.length} rounds; ` +
      `static ${result.staticUsPerRequest.toFixed(0)} us/req, adapter ${result.adapterUsPerRequest.toFixed(0)} us/req; ` +
      `median ratio (static/adapter) ${result.medianRatio.toFixed(3)} [totals: ${result.medianTotalRatio.toFixed(3)}] (target >= 0.97: ${result.medianRatio >= 0.97 ? 'met' : 'NOT met'})`,
  );
}
