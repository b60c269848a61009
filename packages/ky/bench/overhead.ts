// What tokenHooks costs per request: sequential loopback requests through a ky
// instance with the hooks vs. the same ky setup with a static Authorization
// header, taking turns request by request, in rounds after a warm-up (the shared
// harness, packages/test-utils/src/bench.ts). Build first, then:
//   node bench/overhead.ts [--quick] [--requests N] [--rounds N]
import ky from 'ky';
import { createTokenProvider, tokenHooks } from '@tokenkit/ky';
import { benchArgs, measurePaired, medianOverheadMicros, printPaired, withBenchServers, type PairedResult } from '@tokenkit/test-utils';

/** One variant's requests in one round. */
export interface VariantTiming {
  /** Sum of the request times, ms. */
  totalMs: number;
  /** Median request time, µs. */
  medianUs: number;
}

export interface OverheadRound {
  /** Total ms with tokenHooks and with a static header (the shape the other adapters' benches report). */
  adapterMs: number;
  staticMs: number;
  /** With tokenHooks. */
  adapter: VariantTiming;
  /** With a static Authorization header. */
  static: VariantTiming;
  /** static / adapter median request time: 1 means no overhead. */
  ratio: number;
  /** static / adapter total time (sensitive to other load on the machine: one stalled request moves it). */
  totalRatio: number;
}

export interface OverheadResult {
  requests: number;
  rounds: OverheadRound[];
  /** Median of the rounds' ratios (static time / adapter time, per request). */
  medianRatio: number;
  /** Median of the rounds' total-time ratios. */
  medianTotalRatio: number;
  /** Median extra time per request with the hooks, µs. */
  medianOverheadUs: number;
}

/** The comparison as the harness reports it, against local servers it starts and stops itself. */
async function measure({ requests, rounds }: { requests: number; rounds: number }): Promise<PairedResult> {
  return withBenchServers(async ({ tokenServer, api }) => {
    const tokens = createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: 'client-id', clientSecret: 'client-secret' });
    const withHooks = ky.create({ baseUrl: api.origin, hooks: tokenHooks(tokens) });
    const withStatic = ky.create({ baseUrl: api.origin, headers: { authorization: await tokens.authorizationHeader() } });
    const result = await measurePaired({
      adapter: () => withHooks.get('payments').json(),
      baseline: () => withStatic.get('payments').json(),
      requests,
      rounds,
    });
    if (tokenServer.count !== 1) throw new Error(`expected one token request, saw ${tokenServer.count}`);
    return result;
  });
}

/** Runs the comparison against local servers it starts and stops itself. */
export async function measureOverhead({ requests = 5000, rounds = 5 }: { requests?: number; rounds?: number } = {}): Promise<OverheadResult> {
  const result = await measure({ requests, rounds });
  return {
    requests,
    rounds: result.rounds.map((r) => ({
      adapterMs: r.adapterMs,
      staticMs: r.staticMs,
      adapter: { totalMs: r.adapterMs, medianUs: r.adapterP50Micros },
      static: { totalMs: r.staticMs, medianUs: r.staticP50Micros },
      ratio: r.ratio,
      totalRatio: r.totalRatio,
    })),
    medianRatio: result.medianRatio,
    medianTotalRatio: result.medianTotalRatio,
    medianOverheadUs: medianOverheadMicros(result.rounds),
  };
}

if (import.meta.main) {
  const options = benchArgs({ full: { requests: 5000, rounds: 7 }, quick: { requests: 500, rounds: 5 } });
  printPaired('@tokenkit/ky overhead', await measure(options), { adapter: 'tokenHooks' });
}
