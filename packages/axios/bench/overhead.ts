// What installTokenInterceptor costs per request, against the same axios
// client sending a static Authorization header. Build first, then:
//   pnpm -F @tokenkit/axios bench [--quick] [--requests N] [--rounds N]
// Import `measureOverhead` to run it from elsewhere (apps/bench).
// The two clients alternate request by request (the shared harness,
// @tokenkit/bench-kit, packages/bench-kit/src/paired.ts). The headline ratio compares per-request
// medians: on a shared machine a few long preemptions by other processes
// decide the totals (also printed), not the adapter.
import { createTokenProvider, installTokenInterceptor } from '@tokenkit/axios';
import { benchArgs, measureAdapterOverhead, printPaired, type PairedResult } from '@tokenkit/bench-kit';
import axios, { type AxiosInstance } from 'axios';

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
export function measureOverhead({ requests = 5000, rounds = 5 } = {}): Promise<PairedResult> {
  return measureAdapterOverhead(
    createTokenProvider,
    ({ tokens, authorization, api }) => {
      const adapter = axios.create({ baseURL: api.origin });
      installTokenInterceptor(adapter, tokens);
      const plain = axios.create({ baseURL: api.origin, headers: { Authorization: authorization } });
      return { adapter: () => get(adapter), baseline: () => get(plain) };
    },
    { requests, rounds },
  );
}

if (import.meta.main) {
  const options = benchArgs({ full: { requests: 5000, rounds: 5 }, quick: { requests: 500, rounds: 5 } });
  printPaired('@tokenkit/axios overhead', await measureOverhead(options), { adapter: 'installTokenInterceptor' });
}
