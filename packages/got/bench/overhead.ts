// What tokenHooks costs per request, against the same got
// client sending a static Authorization header. Build first, then:
//   node bench/overhead.ts [--quick] [--requests N] [--rounds N]
// Import `measureOverhead` to run it from elsewhere (apps/bench).
// The two clients alternate request by request. The headline ratio compares
// per-request medians: on a shared machine a few long preemptions by other
// processes decide the totals (also printed), not the adapter.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createTokenProvider, tokenHooks } from '@tokenkit/got';
import { startApi, startTokenServer } from '@tokenkit/test-utils';
import got, { type Got } from 'got';

export interface OverheadRound {
  /** Wall time of the requests through the hooks, ms. */
  adapterMs: number;
  /** Wall time of the same requests with a static header, ms. */
  staticMs: number;
  /** staticP50Micros / adapterP50Micros: 1 means no overhead. */
  ratio: number;
  /** staticMs / adapterMs; on a busy machine other processes' preemptions dominate it. */
  totalRatio: number;
  /** Median time of one request, µs. */
  adapterP50Micros: number;
  staticP50Micros: number;
}

export interface OverheadResult {
  client: 'got';
  requests: number;
  rounds: OverheadRound[];
  /** Median of the rounds' ratios (static p50 / adapter p50); the target is >= 0.97. */
  medianRatio: number;
  /** Median of the rounds' total-time ratios (static ms / adapter ms). */
  medianTotalRatio: number;
  /** Mean time of one request, median over the rounds, µs. */
  adapterMicros: number;
  staticMicros: number;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** One request, timed. */
async function timed(http: Got): Promise<number> {
  const started = performance.now();
  const res = await http.get('payments');
  if (res.statusCode !== 200) throw new Error(`unexpected status ${res.statusCode}`);
  return performance.now() - started;
}

/**
 * `requests` requests per client, the two clients alternating request by
 * request in ABBA order, so load from other processes falls on both alike.
 */
async function round(adapter: Got, plain: Got, requests: number): Promise<OverheadRound> {
  const adapterTimes = new Float64Array(requests);
  const staticTimes = new Float64Array(requests);
  for (let i = 0; i < requests; i++) {
    if ((i & 1) === ((i >> 1) & 1)) {
      adapterTimes[i] = await timed(adapter);
      staticTimes[i] = await timed(plain);
    } else {
      staticTimes[i] = await timed(plain);
      adapterTimes[i] = await timed(adapter);
    }
  }
  const adapterMs = adapterTimes.reduce((a, b) => a + b, 0);
  const staticMs = staticTimes.reduce((a, b) => a + b, 0);
  const adapterP50Micros = median([...adapterTimes]) * 1000;
  const staticP50Micros = median([...staticTimes]) * 1000;
  return { adapterMs, staticMs, ratio: staticP50Micros / adapterP50Micros, totalRatio: staticMs / adapterMs, adapterP50Micros, staticP50Micros };
}

/**
 * Sequential loopback requests to a real API, with the adapter and with a
 * static header: a warm-up, then `rounds` rounds of `requests` requests per
 * client, the two clients interleaved request by request.
 */
export async function measureOverhead({ requests = 5000, rounds = 5 }: { requests?: number; rounds?: number } = {}): Promise<OverheadResult> {
  const tokenServer = await startTokenServer();
  const api = await startApi({ isValid: (token) => tokenServer.isValid(token) });
  try {
    const tokens = createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: 'client-id', clientSecret: 'client-secret' });
    const adapter = got.extend({ prefixUrl: api.origin, hooks: tokenHooks(tokens) });
    const plain = got.extend({ prefixUrl: api.origin, headers: { authorization: await tokens.authorizationHeader() } });
    await round(adapter, plain, Math.min(500, requests)); // warm-up
    const results: OverheadRound[] = [];
    for (let r = 0; r < rounds; r++) results.push(await round(adapter, plain, requests));
    if (tokenServer.count !== 1) throw new Error(`expected one token request, saw ${tokenServer.count}`);
    return {
      client: 'got',
      requests,
      rounds: results,
      medianRatio: median(results.map((r) => r.ratio)),
      medianTotalRatio: median(results.map((r) => r.totalRatio)),
      adapterMicros: (median(results.map((r) => r.adapterMs)) * 1000) / requests,
      staticMicros: (median(results.map((r) => r.staticMs)) * 1000) / requests,
    };
  } finally {
    await Promise.all([api.close(), tokenServer.close()]);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, requests: { type: 'string' }, rounds: { type: 'string' } } });
  const requests = Number(values.requests ?? (values.quick ? 500 : 5000));
  const rounds = Number(values.rounds ?? 5);
  const result = await measureOverhead({ requests, rounds });
  console.log(`@tokenkit/got overhead: ${requests} sequential loopback requests per client, ${rounds} interleaved rounds`);
  result.rounds.forEach((r, i) => {
    const us = (ms: number) => ((ms * 1000) / requests).toFixed(1);
    console.log(
      `round ${i + 1}: adapter ${r.adapterMs.toFixed(1)} ms (${us(r.adapterMs)} µs/req, p50 ${r.adapterP50Micros.toFixed(1)})  static ${r.staticMs.toFixed(1)} ms (${us(r.staticMs)} µs/req, p50 ${r.staticP50Micros.toFixed(1)})  ratio p50 ${r.ratio.toFixed(3)}, total ${r.totalRatio.toFixed(3)}`,
    );
  });
  console.log(`median ratio static/adapter: ${result.medianRatio.toFixed(3)} by per-request p50 (target >= 0.97), ${result.medianTotalRatio.toFixed(3)} by total time`);
  console.log(`mean µs/req: adapter ${result.adapterMicros.toFixed(1)}, static ${result.staticMicros.toFixed(1)}`);
}
