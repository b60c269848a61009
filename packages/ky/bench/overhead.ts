// What the hooks cost per request: sequential loopback requests through a ky
// instance with the hooks (withTokens) vs. the same ky setup with a static Authorization
// header, taking turns request by request, in rounds after a warm-up (the shared
// harness, @tokenkit/bench-kit, packages/bench-kit/src/paired.ts). Build first, then:
//   pnpm -F @tokenkit/ky bench [--quick] [--floor] [--requests N] [--rounds N]
//
// `--floor` measures ky's own cost of what the adapter needs, with nothing of ours in
// it: an init hook that wraps `fetch` (where the token goes on and the 401 retry
// lives, see src/index.ts) in an async function that sets the same static header.
// No adapter on ky that re-sends after a 401 without an afterResponse hook (which
// clones every response) can be cheaper.
import ky, { type Hooks } from 'ky';
import { createTokenProvider, withTokens } from '@tokenkit/ky';
import {
  benchArgs,
  measurePaired,
  medianOverheadMicros,
  printPaired,
  withBenchServers,
  type PairedResult,
} from '@tokenkit/bench-kit';

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

/** Hooks that do what ky makes every token adapter pay for, and nothing else. */
function floorHooks(header: string): Hooks {
  return {
    init: [
      (o) => {
        const send = o.fetch ?? globalThis.fetch;
        o.fetch = async (input, init) => {
          (input as Request).headers.set('authorization', header);
          return send(input, init);
        };
      },
    ],
  };
}

/** The comparison as the harness reports it, against local servers it starts and stops itself. */
async function measure({
  requests,
  rounds,
  floor = false,
}: {
  requests: number;
  rounds: number;
  floor?: boolean;
}): Promise<PairedResult> {
  return withBenchServers(async ({ tokenServer, api }) => {
    const tokens = createTokenProvider({
      tokenEndpoint: tokenServer.url,
      clientId: 'client-id',
      clientSecret: 'client-secret',
    });
    const header = await tokens.authorizationHeader();
    const withHooks = floor
      ? ky.create({ baseUrl: api.origin, hooks: floorHooks(header) })
      : withTokens(ky.create({ baseUrl: api.origin }), tokens);
    const withStatic = ky.create({ baseUrl: api.origin, headers: { authorization: header } });
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
export async function measureOverhead({
  requests = 5000,
  rounds = 5,
}: {
  requests?: number;
  rounds?: number;
} = {}): Promise<OverheadResult> {
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
  const options = benchArgs({ full: { requests: 5000, rounds: 7 }, quick: { requests: 500, rounds: 5 } }, ['floor']);
  const floor = options.flags['floor'] === true;
  const title = floor ? "ky's own cost of an init hook wrapping fetch to set the header" : '@tokenkit/ky overhead';
  printPaired(title, await measure({ ...options, floor }), { adapter: floor ? 'no-op hooks' : 'tokenHooks' });
}
