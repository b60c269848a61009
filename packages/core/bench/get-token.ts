// Cached getToken() and authorizationHeader() calls per second next to a plain async Map lookup, all three
// measured in the same interleaved rounds of one process (@tokenkit/bench-kit's interleavedRates). Build first:
//   pnpm -F @tokenkit/core build && pnpm -F @tokenkit/core bench [--quick]
// `pnpm bench` (apps/bench) measures the same getters next to the peers' in one table: docs/benchmarks.md.
import { interleavedRates } from '@tokenkit/bench-kit';
import { createTokenProvider } from '@tokenkit/core';
import { startTokenServer } from '@tokenkit/test-utils';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const { calls, rounds } = values.quick ? { calls: 200_000, rounds: 3 } : { calls: 2_000_000, rounds: 7 };

const server = await startTokenServer();
try {
  const tokens = createTokenProvider({
    tokenEndpoint: server.url,
    clientId: 'client-id',
    clientSecret: 'client-secret',
  });
  const map = new Map([['token', await tokens.getToken()]]);
  const lookup = async (key: string) => map.get(key);
  const { rates } = await interleavedRates(
    [
      { id: 'async Map lookup', call: () => lookup('token') },
      { id: 'tokens.getToken()', call: () => tokens.getToken() },
      { id: 'tokens.authorizationHeader()', call: () => tokens.authorizationHeader() },
    ],
    { calls, rounds },
  );
  if (server.count !== 1) throw new Error(`expected 1 token request, saw ${server.count}`);
  const map0 = rates.get('async Map lookup')!;
  console.log(
    `Node ${process.version}, ${rounds} interleaved rounds of ${calls} awaited calls, median calls per CPU-second:`,
  );
  for (const [id, rate] of rates) {
    const share = id === 'async Map lookup' ? '' : `  (${((rate / map0) * 100).toFixed(0)} % of the Map lookup)`;
    console.log(`  ${id.padEnd(30)} ${(rate / 1e6).toFixed(2)} M/s${share}`);
  }
  console.log('target: getToken() >= 80 % of the Map lookup');
} finally {
  await server.close();
}
