// What tokenHooks costs per request, against the same got
// client sending a static Authorization header. Build first, then:
//   pnpm -F @tokenkit/got bench [--quick] [--floor] [--markdown] [--requests N] [--rounds N]
// Import `measureOverhead` to run it from elsewhere (apps/bench).
// The two clients alternate request by request (the shared harness,
// @tokenkit/bench-kit, packages/bench-kit/src/paired.ts). The headline ratio compares per-request
// medians: on a shared machine a few long preemptions by other processes
// decide the totals (also printed), not the adapter.
//
// `--floor` measures got's own cost of the hooks the adapter needs, with nothing of ours
// in them: a beforeRequest hook that puts the same static header on the request (the way
// tokenHooks does) and an afterResponse hook that returns the response. No adapter on got
// can be cheaper than that and still re-send a request after a 401.
import { createTokenProvider, tokenHooks } from '@tokenkit/got';
import {
  benchArgs,
  measureAdapterOverhead,
  pairedTable,
  printPaired,
  renderMarkdownBody,
  type PairedResult,
} from '@tokenkit/bench-kit';
import got, { type Got, type Hooks } from 'got';

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
export function measureOverhead({
  requests = 5000,
  rounds = 5,
  floor = false,
}: {
  requests?: number;
  rounds?: number;
  floor?: boolean;
} = {}): Promise<PairedResult> {
  return measureAdapterOverhead(
    createTokenProvider,
    ({ tokens, authorization, api }) => {
      const hooks = floor ? floorHooks(authorization) : tokenHooks(tokens);
      const adapter = got.extend({ prefixUrl: api.origin, hooks });
      const plain = got.extend({ prefixUrl: api.origin, headers: { authorization } });
      return { adapter: () => get(adapter), baseline: () => get(plain) };
    },
    { requests, rounds },
  );
}

if (import.meta.main) {
  const options = benchArgs({ full: { requests: 5000, rounds: 5 }, quick: { requests: 500, rounds: 5 } }, ['floor']);
  const floor = options.flags['floor'] === true;
  const title = floor ? "got's own cost of a beforeRequest and an afterResponse hook" : '@tokenkit/got overhead';
  const adapter = floor ? 'no-op hooks' : 'tokenHooks';
  const result = await measureOverhead({ ...options, floor });
  if (options.markdown) {
    const note = floor
      ? 'The adapter side has a beforeRequest hook that sets the same static header and an afterResponse hook that ' +
        "returns the response, nothing of tokenkit's: what got charges any adapter that can re-send after a 401, " +
        "the floor under @tokenkit/got's overhead ratio. Measured by packages/got/bench/overhead.ts --floor."
      : 'Measured by packages/got/bench/overhead.ts.';
    console.log(renderMarkdownBody(pairedTable(title, result, { adapter, note })));
  } else {
    printPaired(title, result, { adapter });
  }
}
