// The paired harness of the adapters' overhead benches (packages/<x>/bench/overhead.ts):
// the same request through the adapter and with a static Authorization header,
// the two taking turns in one process, in rounds after a warm-up; medians; a printout.
//
// Fairness: the variants alternate turn by turn (one request per turn, or a block
// of `block` requests), the first of each turn flipping, so a burst of other load
// on the machine, a GC pause or work one variant leaves behind falls on both alike.
// The headline ratio compares medians (per request, or of paired blocks): on a
// shared machine a few long preemptions by other processes decide the totals, not
// the adapter; the ratio of totals is reported too.
import { startApi, startTokenServer, type ApiServer, type TokenServer } from '@tokenkit/test-utils';
import { median } from './stats.ts';
import type { Table } from './table.ts';

export interface PairedBenchOptions {
  /** One request through the adapter; `i` is its index in the round. */
  adapter: (i: number) => Promise<unknown>;
  /** The same request with a static Authorization header. */
  baseline: (i: number) => Promise<unknown>;
  /** Requests per variant and round. */
  requests: number;
  rounds: number;
  /** Requests per turn. Default 1: the variants alternate request by request. */
  block?: number;
  /**
   * A round's headline ratio. `p50` (default): the baseline's median request time /
   * the adapter's. `blocks`: the median over the round's turns of baseline time /
   * adapter time of the two adjacent blocks (they see the same machine load).
   */
  ratio?: 'p50' | 'blocks';
  /** Requests per variant of the warm-up round (JIT, connection pools). Default min(500, requests). */
  warmup?: number;
  /** Called after every round, the warm-up included, with its requests per variant: check what the API saw. */
  afterRound?: (requests: number) => void;
}

/** One round's figures (the shape the axios and got benches return). */
export interface PairedRound {
  /** Wall time of the requests through the adapter, ms. */
  adapterMs: number;
  /** Wall time of the same requests with a static header, ms. */
  staticMs: number;
  /** The headline, static / adapter as chosen by the `ratio` option: 1 means no overhead. */
  ratio: number;
  /** staticMs / adapterMs; on a busy machine other processes' preemptions dominate it. */
  totalRatio: number;
  /** Median time of one request, µs. */
  adapterP50Micros: number;
  staticP50Micros: number;
}

export interface PairedResult {
  requests: number;
  rounds: PairedRound[];
  /** Median of the rounds' ratios (1 = no overhead). */
  medianRatio: number;
  /** The adapter's target for `medianRatio`, set by its bench; undefined: the default, 0.97. */
  target?: number;
  /** Median of the rounds' total-time ratios (static ms / adapter ms). */
  medianTotalRatio: number;
  /** Mean time of one request, median over the rounds, µs. */
  adapterMicros: number;
  staticMicros: number;
}

/**
 * Times `requests` requests per variant in each of `rounds` rounds, after a warm-up round.
 *
 * @example
 * ```ts
 * const result = await measurePaired({
 *   adapter: () => withAdapter.get('/payments'),
 *   baseline: () => withStaticHeader.get('/payments'),
 *   requests: 5000,
 *   rounds: 5,
 * });
 * console.log(result.medianRatio); // 1 = no overhead
 * ```
 */
export async function measurePaired(options: PairedBenchOptions): Promise<PairedResult> {
  const { requests, rounds } = options;
  await pairedRound(options, options.warmup ?? Math.min(500, requests));
  const results: PairedRound[] = [];
  for (let r = 0; r < rounds; r++) results.push(await pairedRound(options, requests));
  return {
    requests,
    rounds: results,
    medianRatio: median(results.map((r) => r.ratio)),
    medianTotalRatio: median(results.map((r) => r.totalRatio)),
    adapterMicros: (median(results.map((r) => r.adapterMs)) * 1000) / requests,
    staticMicros: (median(results.map((r) => r.staticMs)) * 1000) / requests,
  };
}

async function pairedRound(options: PairedBenchOptions, requests: number): Promise<PairedRound> {
  const block = options.block ?? 1;
  const adapterTimes = new Float64Array(requests);
  const staticTimes = new Float64Array(requests);
  const turnRatios: number[] = [];
  const run = async (request: (i: number) => Promise<unknown>, times: Float64Array, from: number, to: number) => {
    let sum = 0;
    for (let i = from; i < to; i++) {
      const started = performance.now();
      await request(i);
      const ms = performance.now() - started;
      times[i] = ms;
      sum += ms;
    }
    return sum;
  };
  for (let from = 0, turn = 0; from < requests; from += block, turn++) {
    const to = Math.min(requests, from + block);
    let adapterMs: number;
    let staticMs: number;
    if (turn % 2 === 0) {
      adapterMs = await run(options.adapter, adapterTimes, from, to);
      staticMs = await run(options.baseline, staticTimes, from, to);
    } else {
      staticMs = await run(options.baseline, staticTimes, from, to);
      adapterMs = await run(options.adapter, adapterTimes, from, to);
    }
    turnRatios.push(staticMs / adapterMs);
  }
  options.afterRound?.(requests);
  const adapterMs = adapterTimes.reduce((a, b) => a + b, 0);
  const staticMs = staticTimes.reduce((a, b) => a + b, 0);
  const adapterP50Micros = median([...adapterTimes]) * 1000;
  const staticP50Micros = median([...staticTimes]) * 1000;
  const ratio = options.ratio === 'blocks' ? median(turnRatios) : staticP50Micros / adapterP50Micros;
  return { adapterMs, staticMs, ratio, totalRatio: staticMs / adapterMs, adapterP50Micros, staticP50Micros };
}

/**
 * Starts a token server and a protected API that accepts only its tokens (with
 * `apiHeaders` on every 2xx answer), runs `bench` and stops both.
 *
 * @example
 * ```ts
 * const result = await withBenchServers(async ({ tokenServer, api }) => measurePaired({ ... }));
 * ```
 */
export async function withBenchServers<T>(
  bench: (servers: { tokenServer: TokenServer; api: ApiServer }) => Promise<T>,
  apiHeaders?: Record<string, string>,
): Promise<T> {
  const tokenServer = await startTokenServer();
  try {
    const api = await startApi({
      isValid: (token) => tokenServer.isValid(token),
      ...(apiHeaders ? { headers: apiHeaders } : {}),
    });
    try {
      return await bench({ tokenServer, api });
    } finally {
      await api.close();
    }
  } finally {
    await tokenServer.close();
  }
}

/** The options an adapter bench's token provider is made with: the bench's client at the bench's token server. */
export interface BenchProviderOptions {
  tokenEndpoint: string;
  clientId: string;
  clientSecret: string;
}

/** What {@link measureAdapterOverhead} hands the bench once its servers run and its token is cached. */
export interface AdapterBenchSetup<P> {
  tokens: P;
  /** The provider's current `Authorization` value: what the baseline sends as its static header. */
  authorization: string;
  tokenServer: TokenServer;
  api: ApiServer;
}

/** The two request functions to compare (and how), and what to close after. */
export interface AdapterBenchPair extends Omit<PairedBenchOptions, 'requests' | 'rounds'> {
  close?: () => Promise<unknown>;
}

/**
 * An adapter's overhead bench: a token server and an API ({@link withBenchServers}), a provider made by the adapter's
 * own `createTokenProvider` for them (its token fetched and cached before timing), then the pair `bench` builds,
 * measured with {@link measurePaired}. Every request must have shared that one token: else it throws.
 *
 * @example
 * ```ts
 * const result = await measureAdapterOverhead(createTokenProvider, ({ tokens, authorization, api }) => ({
 *   adapter: () => withTokens(tokens).get(`${api.origin}/payments`),
 *   baseline: () => plain.get(`${api.origin}/payments`, { headers: { authorization } }),
 * }), { requests: 5000, rounds: 5 });
 * ```
 */
export async function measureAdapterOverhead<P extends { authorizationHeader(): Promise<string> }>(
  createTokenProvider: (options: BenchProviderOptions) => P,
  bench: (setup: AdapterBenchSetup<P>) => AdapterBenchPair | Promise<AdapterBenchPair>,
  { requests, rounds, apiHeaders }: { requests: number; rounds: number; apiHeaders?: Record<string, string> },
): Promise<PairedResult> {
  return withBenchServers(async ({ tokenServer, api }) => {
    const tokens = createTokenProvider({
      tokenEndpoint: tokenServer.url,
      clientId: 'client-id',
      clientSecret: 'client-secret',
    });
    const authorization = await tokens.authorizationHeader();
    const { close, ...pair } = await bench({ tokens, authorization, tokenServer, api });
    try {
      const result = await measurePaired({ ...pair, requests, rounds });
      if (tokenServer.count !== 1) throw new Error(`expected one token request, saw ${tokenServer.count}`);
      return result;
    } finally {
      await close?.();
    }
  }, apiHeaders);
}

/**
 * Median over the rounds of how much longer the adapter's median request took, µs.
 *
 * @example
 * ```ts
 * medianOverheadMicros(result.rounds); // 4.2
 * ```
 */
export function medianOverheadMicros(rounds: readonly PairedRound[]): number {
  return median(rounds.map((r) => r.adapterP50Micros - r.staticP50Micros));
}

/**
 * Prints a paired result: one line per round, then the medians against the result's target (default 0.97).
 *
 * @example
 * ```ts
 * printPaired('@tokenkit/axios overhead', result, { adapter: 'interceptor' });
 * ```
 */
export function printPaired(
  title: string,
  result: PairedResult,
  labels: { adapter?: string; baseline?: string; ratio?: string } = {},
): void {
  const target = result.target ?? 0.97;
  const adapter = labels.adapter ?? 'adapter';
  const baseline = labels.baseline ?? 'static header';
  const perRequest = (ms: number) => ((ms * 1000) / result.requests).toFixed(1);
  const show = (ms: number, p50: number) => `${ms.toFixed(1)} ms (${perRequest(ms)} µs/req, p50 ${p50.toFixed(1)} µs)`;
  console.log(
    `${title}: ${result.requests} sequential loopback requests per variant and round, ${result.rounds.length} interleaved rounds (Node ${process.versions.node})`,
  );
  result.rounds.forEach((r, i) => {
    console.log(
      `round ${i + 1}: ${adapter} ${show(r.adapterMs, r.adapterP50Micros)} | ${baseline} ${show(r.staticMs, r.staticP50Micros)} | ratio ${r.ratio.toFixed(3)} (totals ${r.totalRatio.toFixed(3)})`,
    );
  });
  const met = result.medianRatio >= target ? 'met' : 'NOT met';
  console.log(
    `median ratio ${baseline} / ${adapter}: ${result.medianRatio.toFixed(3)} ${labels.ratio ?? 'by median request time'} (target >= ${target}: ${met}); of total times ${result.medianTotalRatio.toFixed(3)}`,
  );
  console.log(
    `µs per request (median over rounds): ${adapter} ${result.adapterMicros.toFixed(1)}, ${baseline} ${result.staticMicros.toFixed(1)}; median extra time per request with ${adapter}: ${medianOverheadMicros(result.rounds).toFixed(1)} µs`,
  );
}

/**
 * A paired result as a table (one row per round, then the medians), for a bench's `--markdown` output.
 *
 * @example
 * ```ts
 * console.log(renderMarkdownBody(pairedTable("got's own hook cost", result, { adapter: 'no-op hooks' })));
 * ```
 */
export function pairedTable(
  title: string,
  result: PairedResult,
  labels: { adapter?: string; baseline?: string; note?: string } = {},
): Table {
  const adapter = labels.adapter ?? 'adapter';
  const baseline = labels.baseline ?? 'static header';
  const perRequest = (ms: number) => ((ms * 1000) / result.requests).toFixed(1);
  return {
    title,
    note:
      `${result.requests.toLocaleString('en')} sequential loopback requests per variant and round, ${result.rounds.length} interleaved rounds after a warm-up (Node ${process.versions.node}); ` +
      `ratio = ${baseline} / ${adapter} (1 = no extra cost).${labels.note ? ` ${labels.note}` : ''}`,
    columns: [
      'round',
      `${adapter} µs/request`,
      `${baseline} µs/request`,
      `${adapter} p50 µs`,
      `${baseline} p50 µs`,
      'ratio',
    ],
    rows: [
      ...result.rounds.map((r, i) => [
        String(i + 1),
        perRequest(r.adapterMs),
        perRequest(r.staticMs),
        r.adapterP50Micros.toFixed(1),
        r.staticP50Micros.toFixed(1),
        r.ratio.toFixed(3),
      ]),
      [
        'median',
        result.adapterMicros.toFixed(1),
        result.staticMicros.toFixed(1),
        '',
        '',
        result.medianRatio.toFixed(3),
      ],
    ],
    footnotes: [
      `Median extra time per request with ${adapter}: ${medianOverheadMicros(result.rounds).toFixed(1)} µs (difference of the median request times).`,
    ],
  };
}
