// What tokenHooks costs per request: sequential loopback requests through a ky
// instance with the hooks vs. the same ky setup with a static Authorization
// header, in interleaved rounds. Build first, then: `node bench/overhead.ts [--quick]`.
import { fileURLToPath } from 'node:url';
import ky, { type KyInstance } from 'ky';
import { createTokenProvider, tokenHooks } from '@tokenkit/ky';
import { startApi, startTokenServer } from '@tokenkit/test-utils';

/** One variant's requests in one round. */
export interface VariantTiming {
  /** Sum of the request times, ms. */
  totalMs: number;
  /** Median request time, µs. */
  medianUs: number;
}

export interface OverheadRound {
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

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const timing = (samples: number[]): VariantTiming => ({
  totalMs: samples.reduce((sum, ms) => sum + ms, 0),
  medianUs: median(samples) * 1000,
});

/** Runs the comparison against local servers it starts and stops itself. */
export async function measureOverhead({ requests = 5000, rounds = 5 }: { requests?: number; rounds?: number } = {}): Promise<OverheadResult> {
  const tokenServer = await startTokenServer();
  const apiServer = await startApi({ isValid: (token) => tokenServer.isValid(token) });
  try {
    const tokens = createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: 'client-id', clientSecret: 'client-secret' });
    const withHooks = ky.create({ baseUrl: apiServer.origin, hooks: tokenHooks(tokens) });
    const withStatic = ky.create({ baseUrl: apiServer.origin, headers: { authorization: await tokens.authorizationHeader() } });
    const variants: KyInstance[] = [withHooks, withStatic];
    // Warm up every path (JIT, connection pool) before measuring.
    for (const variant of variants) for (let i = 0; i < Math.min(500, requests); i++) await variant.get('payments').json();

    const results: OverheadRound[] = [];
    for (let round = 0; round < rounds; round++) {
      // The variants take turns request by request, the first of each turn alternating, so a burst
      // of other load on the machine, a GC pause or work one leaves behind falls on both alike.
      const samples: number[][] = variants.map(() => []);
      for (let i = 0; i < requests; i++) {
        for (let j = 0; j < variants.length; j++) {
          const which = (i + j) % variants.length;
          const started = performance.now();
          await variants[which]!.get('payments').json();
          samples[which]!.push(performance.now() - started);
        }
      }
      const [adapter, fixed] = samples.map(timing) as [VariantTiming, VariantTiming];
      results.push({ adapter, static: fixed, ratio: fixed.medianUs / adapter.medianUs, totalRatio: fixed.totalMs / adapter.totalMs });
    }
    if (tokenServer.count !== 1) throw new Error(`expected one token request, saw ${tokenServer.count}`);
    return {
      requests,
      rounds: results,
      medianRatio: median(results.map((r) => r.ratio)),
      medianTotalRatio: median(results.map((r) => r.totalRatio)),
      medianOverheadUs: median(results.map((r) => r.adapter.medianUs - r.static.medianUs)),
    };
  } finally {
    await Promise.all([apiServer.close(), tokenServer.close()]);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes('--quick');
  const requests = quick ? 500 : 5000;
  const rounds = quick ? 5 : 7;
  console.log(`@tokenkit/ky overhead: ${requests} sequential GETs per variant and round, ${rounds} rounds, variants interleaved (Node ${process.versions.node})`);
  const result = await measureOverhead({ requests, rounds });
  const show = (t: VariantTiming) => `${t.totalMs.toFixed(0)} ms, median ${t.medianUs.toFixed(1)} µs`;
  result.rounds.forEach((r, i) => {
    console.log(
      `round ${i + 1}: tokenHooks ${show(r.adapter)} | static header ${show(r.static)} | ratio ${r.ratio.toFixed(3)} (totals ${r.totalRatio.toFixed(3)})`,
    );
  });
  console.log(`median ratio, static / tokenHooks per request: ${result.medianRatio.toFixed(3)} (target >= 0.97); of total times: ${result.medianTotalRatio.toFixed(3)}`);
  console.log(`median overhead: ${result.medianOverheadUs.toFixed(1)} µs per request`);
}
