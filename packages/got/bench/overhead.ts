// What tokenHooks costs per request, against the same got client sending a
// static Authorization header. Build first, then:
//   node bench/overhead.ts [--quick] [--requests N] [--rounds N]
// Import `measureOverhead` to run it from elsewhere (apps/bench).
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
  /** staticMs / adapterMs: 1 means no overhead. */
  ratio: number;
}

export interface OverheadResult {
  client: 'got';
  requests: number;
  rounds: OverheadRound[];
  /** Median of the rounds' ratios (static time / adapter time); the target is >= 0.97. */
  medianRatio: number;
  /** Median per-request time, µs. */
  adapterMicros: number;
  staticMicros: number;
}

const BLOCK = 100;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function run(http: Got, requests: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < requests; i++) {
    const res = await http.get('payments');
    if (res.statusCode !== 200) throw new Error(`unexpected status ${res.statusCode}`);
  }
  return performance.now() - started;
}

/**
 * Sequential loopback requests to a real API, with the hooks and with a
 * static header: `rounds` rounds of `requests` requests per client, the two
 * clients interleaved in blocks of 100.
 */
export async function measureOverhead({ requests = 5000, rounds = 5 }: { requests?: number; rounds?: number } = {}): Promise<OverheadResult> {
  const tokenServer = await startTokenServer();
  const api = await startApi({ isValid: (token) => tokenServer.isValid(token) });
  try {
    const tokens = createTokenProvider({ tokenEndpoint: tokenServer.url, clientId: 'client-id', clientSecret: 'client-secret' });
    const adapter = got.extend({ prefixUrl: api.origin, hooks: tokenHooks(tokens) });
    const plain = got.extend({ prefixUrl: api.origin, headers: { authorization: await tokens.authorizationHeader() } });
    const warmup = Math.min(500, requests);
    await run(adapter, warmup);
    await run(plain, warmup);

    // Each round interleaves the two clients in blocks (ABBA order), so load from
    // other processes on the machine falls on both alike.
    const results: OverheadRound[] = [];
    for (let round = 0; round < rounds; round++) {
      let adapterMs = 0;
      let staticMs = 0;
      for (let done = 0, block = 0; done < requests; done += BLOCK, block++) {
        const n = Math.min(BLOCK, requests - done);
        if (block % 2 === round % 2) {
          adapterMs += await run(adapter, n);
          staticMs += await run(plain, n);
        } else {
          staticMs += await run(plain, n);
          adapterMs += await run(adapter, n);
        }
      }
      results.push({ adapterMs, staticMs, ratio: staticMs / adapterMs });
    }
    if (tokenServer.count !== 1) throw new Error(`expected one token request, saw ${tokenServer.count}`);
    return {
      client: 'got',
      requests,
      rounds: results,
      medianRatio: median(results.map((r) => r.ratio)),
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
      `round ${i + 1}: adapter ${r.adapterMs.toFixed(1)} ms (${us(r.adapterMs)} µs/req)  static ${r.staticMs.toFixed(1)} ms (${us(r.staticMs)} µs/req)  ratio ${r.ratio.toFixed(3)}`,
    );
  });
  console.log(`median ratio static/adapter: ${result.medianRatio.toFixed(3)} (target >= 0.97); median µs/req adapter ${result.adapterMicros.toFixed(1)}, static ${result.staticMicros.toFixed(1)}`);
}
