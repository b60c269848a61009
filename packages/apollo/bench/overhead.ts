// What the adapter costs per request: sequential loopback requests through an OAuthRESTDataSource
// versus a plain RESTDataSource that sets a static Authorization header.
//
//   pnpm -F @tokenkit/apollo build && pnpm -F @tokenkit/apollo bench [--quick] [--control] [--requests N] [--rounds N]
//
// Fairness: both data sources use the default transport (node-fetch 2, as users get it) against the
// same real API. Nothing is cached or de-duplicated in either: the API answers `cache-control: no-store`
// (so HTTPCache stores nothing), every request passes `skipCache: true` (no cache lookup), and both
// classes return `do-not-deduplicate`. The bench checks that every request reached the API.
// Requests are interleaved in blocks of 50 (the order alternating) after a warm-up round (the shared
// harness, @tokenkit/bench-kit, packages/bench-kit/src/paired.ts). Each round's ratio is the median of its paired blocks'
// static time / adapter time (adjacent blocks see the same machine load); the figure is the median
// over rounds (1.0 = no overhead; target >= 0.97). The ratio of the rounds' total times is printed too.
import { RESTDataSource, type AugmentedRequest, type RequestDeduplicationPolicy } from '@apollo/datasource-rest';
import { createTokenProvider, OAuthRESTDataSource } from '@tokenkit/apollo';
import { benchArgs, measureAdapterOverhead, printPaired, type PairedResult } from '@tokenkit/bench-kit';

const NO_DEDUP: RequestDeduplicationPolicy = { policy: 'do-not-deduplicate' };

/**
 * Measures the adapter's cost per request. `control: true` runs the same bench with a second static data
 * source in place of the adapter (an A/A run): its ratio shows the bench's own noise and bias.
 */
export function measureOverhead({
  requests = 5000,
  rounds = 7,
  control = false,
}: {
  requests?: number;
  rounds?: number;
  control?: boolean;
} = {}): Promise<PairedResult> {
  return measureAdapterOverhead(
    createTokenProvider,
    ({ tokens, authorization, api }) => {
      class StaticAPI extends RESTDataSource {
        override baseURL = api.origin + '/';
        protected override willSendRequest(_path: string, request: AugmentedRequest) {
          request.headers['authorization'] = authorization;
        }
        protected override requestDeduplicationPolicyFor() {
          return NO_DEDUP;
        }
        item(i: number) {
          return this.get(`items/${i}`, { skipCache: true });
        }
      }
      class AdapterAPI extends OAuthRESTDataSource {
        override baseURL = api.origin + '/';
        protected override requestDeduplicationPolicyFor() {
          return NO_DEDUP;
        }
        item(i: number) {
          return this.get(`items/${i}`, { skipCache: true });
        }
      }

      const plain = new StaticAPI();
      const adapter = control ? new StaticAPI() : new AdapterAPI({ tokens });
      return {
        adapter: (i) => adapter.item(i),
        baseline: (i) => plain.item(i),
        block: 50,
        ratio: 'blocks',
        afterRound(n) {
          // Both send a valid token (the adapter's is cached too): every request must have reached the API with it.
          const ok = api.requests.filter((r) => r.authorization === authorization).length;
          if (api.requests.length !== 2 * n || ok !== 2 * n)
            throw new Error(`expected ${2 * n} authorized API requests, got ${ok}/${api.requests.length}`);
          api.requests.length = 0;
        },
      };
    },
    { requests, rounds, apiHeaders: { 'cache-control': 'no-store' } },
  );
}

if (import.meta.main) {
  const { flags, ...options } = benchArgs(
    { full: { requests: 5000, rounds: 7 }, quick: { requests: 500, rounds: 5 } },
    ['control'],
  );
  const control = flags['control'] === true;
  printPaired(
    control ? 'A/A control (static vs static)' : '@tokenkit/apollo overhead',
    await measureOverhead({ ...options, control }),
    {
      adapter: control ? 'second static data source' : 'OAuthRESTDataSource',
      baseline: 'static header',
      ratio: 'by paired blocks of 50',
    },
  );
}
