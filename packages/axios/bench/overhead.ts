// What installTokenInterceptor costs per request, against the same axios
// client sending a static Authorization header. Build first, then:
//   pnpm -F @tokenkit/axios bench [--quick] [--requests N] [--rounds N]
// Import `measureOverhead` to run it from elsewhere (apps/bench).
// The two clients alternate request by request (the shared harness,
// @tokenkit/bench-kit, packages/bench-kit/src/paired.ts). The headline ratio compares per-request
// medians: on a shared machine a few long preemptions by other processes
// decide the totals (also printed), not the adapter.
import { createTokenProvider, installTokenInterceptor } from '@tokenkit/axios';
import { benchArgs, measurePaired, printPaired, withBenchServers, type PairedResult } from '@tokenkit/bench-kit';
import axios, { type AxiosInstance } from 'axios';

export type { PairedRound as OverheadRound } from '@tokenkit/bench-kit';

export interface OverheadResult extends PairedResult {
  client: 'axios';
}

/** One request; anything but 200 stops the bench. */
async function get(http: AxiosInstance): Promise<void> {
  const res = await http.get('/payments');
  if (res.status !== 200) throw new Error(`unexpected status ${res.status}`);
}

/**
 * Sequential loopback requests to a real API, with the interceptor and with a
 * static header: a warm-up, then `rounds` rounds of `requests` requests per
 * client, the two clients interleaved request by request.
 */
export async function measureOverhead({
  requests = 5000,
  rounds = 5,
}: {
  requests?: number;
  rounds?: number;
} = {}): Promise<OverheadResult> {
  return withBenchServers(async ({ tokenServer, api }) => {
    const tokens = createTokenProvider({
      tokenEndpoint: tokenServer.url,
      clientId: 'client-id',
      clientSecret: 'client-secret',
    });
    const adapter = axios.create({ baseURL: api.origin });
    installTokenInterceptor(adapter, tokens);
    const plain = axios.create({ baseURL: api.origin, headers: { Authorization: await tokens.authorizationHeader() } });
    const result = await measurePaired({ adapter: () => get(adapter), baseline: () => get(plain), requests, rounds });
    if (tokenServer.count !== 1) throw new Error(`expected one token request, saw ${tokenServer.count}`);
    return { client: 'axios', ...result };
  });
}

if (import.meta.main) {
  const options = benchArgs({ full: { requests: 5000, rounds: 5 }, quick: { requests: 500, rounds: 5 } });
  printPaired('@tokenkit/axios overhead', await measureOverhead(options), { adapter: 'installTokenInterceptor' });
}
