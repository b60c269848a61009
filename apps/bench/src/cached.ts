// 1. Cached token: calls per second of each library's cached-token getter, next to a
// plain `async` Map lookup (the physical floor of "return a cached value from an async function").
// Every getter and the lookup run in the same interleaved rounds of this one process
// (@tokenkit/bench-kit's interleavedRates), so every percentage compares like with like.
import { interleavedRates, type RateContender } from '@tokenkit/bench-kit';
import { createTokenProvider } from '@tokenkit/core';
import { startTokenServer } from '@tokenkit/test-utils';
import { CLIENT_ID, CLIENT_SECRET, type Library } from './libraries.ts';
import { sleep } from './stats.ts';

export interface CachedRow {
  id: string;
  label: string;
  kind: 'reference' | 'tokenkit' | 'peer';
  /** Median calls per second (CPU-second for cached getters, wall-clock second for uncached ones). */
  rate: number;
  /** rate / the Map lookup's rate in the same rounds. */
  ratio: number;
  /** Every round's rate (empty for an uncached getter). */
  samples: number[];
  note?: string;
}

export interface CachedResult {
  rows: CachedRow[];
  rounds: number;
  calls: number;
}

/** Calls per wall-clock second: for calls that wait on the network. */
async function wallRate(fn: () => Promise<unknown>, calls: number): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < calls; i++) await fn();
  return calls / ((performance.now() - started) / 1000);
}

export async function measureCached(
  peers: Library[],
  { calls = 2_000_000, rounds = 7, uncachedCalls = 2_000 } = {},
): Promise<CachedResult> {
  const tokenServer = await startTokenServer();
  try {
    const tokens = createTokenProvider({
      tokenEndpoint: tokenServer.url,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
    });
    const map = new Map([['token', await tokens.getToken()]]);
    const lookup = async (key: string) => map.get(key);
    const contenders: (RateContender & Omit<CachedRow, 'rate' | 'ratio' | 'samples'>)[] = [
      { id: 'map', label: 'async Map lookup (reference)', kind: 'reference', call: () => lookup('token') },
      { id: 'tokenkit-getToken', label: '@tokenkit/core getToken()', kind: 'tokenkit', call: () => tokens.getToken() },
      {
        id: 'tokenkit-authorizationHeader',
        label: '@tokenkit/core authorizationHeader()',
        kind: 'tokenkit',
        call: () => tokens.authorizationHeader(),
        note: 'what the adapters call',
      },
    ];
    const uncached: { library: Library; getToken: () => Promise<unknown> }[] = [];
    const endpoints = { tokenUrl: tokenServer.url, apiOrigin: 'http://127.0.0.1:9' };
    for (const library of peers) {
      const contender = await library.setup(endpoints);
      if (contender.getToken === undefined) continue;
      await contender.getToken(); // fills the cache
      const before = tokenServer.count;
      await contender.getToken();
      if (tokenServer.count === before) {
        contenders.push({ id: library.id, label: library.label, kind: 'peer', call: contender.getToken });
      } else {
        uncached.push({ library, getToken: contender.getToken });
      }
    }
    const before = tokenServer.count;
    const { rates, samples } = await interleavedRates(contenders, { calls, rounds });
    if (tokenServer.count !== before) throw new Error('a cached getter made token requests during the rounds');
    const mapRate = rates.get('map')!;
    const rows: CachedRow[] = contenders.map(({ call: _call, ...c }) => ({
      ...c,
      rate: rates.get(c.id)!,
      ratio: rates.get(c.id)! / mapRate,
      samples: samples.get(c.id)!,
    }));
    // The rounds above never left the microtask queue, so no timer ran: let the
    // keep-alive timers of both ends fire before reusing a pooled connection.
    await sleep(1000);
    for (const c of uncached) {
      // No cache: every call is a token request over loopback, so far fewer calls.
      const before = tokenServer.count;
      const r = await wallRate(c.getToken, uncachedCalls);
      const tokenRequests = tokenServer.count - before;
      rows.push({
        id: c.library.id,
        label: c.library.label,
        kind: 'peer',
        rate: r,
        ratio: r / mapRate,
        samples: [],
        note: `no cache of its own: ${tokenRequests} token requests for ${uncachedCalls} calls, per wall-clock second`,
      });
    }
    return { rows, rounds, calls };
  } finally {
    await tokenServer.close();
  }
}
