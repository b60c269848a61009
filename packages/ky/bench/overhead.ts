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
import { benchArgs, measureAdapterOverhead, printPaired, type PairedResult } from '@tokenkit/bench-kit';

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

/** Runs the comparison against local servers it starts and stops itself; `floor`: no-op hooks in place of ours. */
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
      const withHooks = floor
        ? ky.create({ baseUrl: api.origin, hooks: floorHooks(authorization) })
        : withTokens(ky.create({ baseUrl: api.origin }), tokens);
      const withStatic = ky.create({ baseUrl: api.origin, headers: { authorization } });
      return { adapter: () => withHooks.get('payments').json(), baseline: () => withStatic.get('payments').json() };
    },
    { requests, rounds },
  );
}

if (import.meta.main) {
  const options = benchArgs({ full: { requests: 5000, rounds: 7 }, quick: { requests: 500, rounds: 5 } }, ['floor']);
  const floor = options.flags['floor'] === true;
  const title = floor ? "ky's own cost of an init hook wrapping fetch to set the header" : '@tokenkit/ky overhead';
  printPaired(title, await measureOverhead({ ...options, floor }), { adapter: floor ? 'no-op hooks' : 'tokenHooks' });
}
