// What tokenHooks costs per request, against the same got
// client sending a static Authorization header. Build first, then:
//   node bench/overhead.ts [--quick] [--floor] [--requests N] [--rounds N]
// Import `measureOverhead` to run it from elsewhere (apps/bench).
// The two clients alternate request by request (the shared harness,
// packages/test-utils/src/bench.ts). The headline ratio compares per-request
// medians: on a shared machine a few long preemptions by other processes
// decide the totals (also printed), not the adapter.
//
// `--floor` measures got's own cost of the hooks the adapter needs, with nothing of ours
// in them: a beforeRequest hook that puts the same static header on the request (the way
// tokenHooks does) and an afterResponse hook that returns the response. No adapter on got
// can be cheaper than that and still re-send a request after a 401.
import { createTokenProvider, tokenHooks } from '@tokenkit/got';
import { benchArgs, measurePaired, printPaired, withBenchServers, type PairedResult } from '@tokenkit/test-utils';
import got, { type Got, type Hooks } from 'got';

export type { PairedRound as OverheadRound } from '@tokenkit/test-utils';

export interface OverheadResult extends PairedResult {
  client: 'got';
}

/** One request; anything but 200 stops the bench. */
async function get(http: Got): Promise<void> {
  const res = await http.get('payments');
  if (res.statusCode !== 200) throw new Error(`unexpected status ${res.statusCode}`);
}

/** Hooks that do what got makes every token hook pay for, and nothing else. */
function floorHooks(header: string): Partial<Hooks> {
  return {
    beforeRequest: [(options) => options.setInternalHeader('authorization', header)],
    afterResponse: [(response) => response],
  };
}

/**
 * Sequential loopback requests to a real API, with the hooks and with a
 * static header: a warm-up, then `rounds` rounds of `requests` requests per
 * client, the two clients interleaved request by request. `floor: true` puts
 * no-op hooks (see the file's header) in place of tokenHooks.
 */
export async function measureOverhead({
  requests = 5000,
  rounds = 5,
  floor = false,
}: {
  requests?: number;
  rounds?: number;
  floor?: boolean;
} = {}): Promise<OverheadResult> {
  return withBenchServers(async ({ tokenServer, api }) => {
    const tokens = createTokenProvider({
      tokenEndpoint: tokenServer.url,
      clientId: 'client-id',
      clientSecret: 'client-secret',
    });
    const header = await tokens.authorizationHeader();
    const adapter = got.extend({ prefixUrl: api.origin, hooks: floor ? floorHooks(header) : tokenHooks(tokens) });
    const plain = got.extend({ prefixUrl: api.origin, headers: { authorization: header } });
    const result = await measurePaired({ adapter: () => get(adapter), baseline: () => get(plain), requests, rounds });
    if (tokenServer.count !== 1) throw new Error(`expected one token request, saw ${tokenServer.count}`);
    return { client: 'got', ...result };
  });
}

if (import.meta.main) {
  const options = benchArgs({ full: { requests: 5000, rounds: 5 }, quick: { requests: 500, rounds: 5 } }, ['floor']);
  const floor = options.flags['floor'] === true;
  const title = floor ? "got's own cost of a beforeRequest and an afterResponse hook" : '@tokenkit/got overhead';
  printPaired(title, await measureOverhead({ ...options, floor }), { adapter: floor ? 'no-op hooks' : 'tokenHooks' });
}
