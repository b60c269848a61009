// Cached getToken() calls per second next to a plain async Map lookup, measured
// in the same run with interleaved rounds. Run after `pnpm build`:
//   node packages/core/bench/get-token.ts [--quick]
import { startTokenServer } from '@tokenkit/test-utils';
import { createTokenProvider } from '@tokenkit/core';

export interface GetTokenFigures {
  /** Median calls per second of each contender. */
  mapLookup: number;
  getToken: number;
  authorizationHeader: number;
  /** getToken() rate as a share of the Map lookup's. */
  ratio: number;
  rounds: number;
  callsPerRound: number;
}

export async function measureGetToken({ calls = 2_000_000, rounds = 7 } = {}): Promise<GetTokenFigures> {
  const server = await startTokenServer();
  try {
    const tokens = createTokenProvider({
      tokenEndpoint: server.url,
      clientId: 'client-id',
      clientSecret: 'client-secret',
    });
    const map = new Map([['token', await tokens.getToken()]]);
    const lookup = async (key: string) => map.get(key);
    const contenders: Record<'mapLookup' | 'getToken' | 'authorizationHeader', () => Promise<unknown>> = {
      mapLookup: () => lookup('token'),
      getToken: () => tokens.getToken(),
      authorizationHeader: () => tokens.authorizationHeader(),
    };
    const samples: Record<string, number[]> = { mapLookup: [], getToken: [], authorizationHeader: [] };
    // Rates per CPU-second of this process: on a shared machine, wall-clock time also counts
    // whatever else ran meanwhile; the loop is single-threaded, so its CPU time is its work.
    const run = async (fn: () => Promise<unknown>, n: number) => {
      const cpu = process.cpuUsage();
      for (let i = 0; i < n; i++) await fn();
      const used = process.cpuUsage(cpu);
      return n / ((used.user + used.system) / 1e6);
    };
    for (const fn of Object.values(contenders)) await run(fn, calls / 10); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const [name, fn] of Object.entries(contenders)) samples[name]!.push(await run(fn, calls));
    }
    if (server.count !== 1) throw new Error(`expected 1 token request, saw ${server.count}`);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const figures = {
      mapLookup: median(samples['mapLookup']!),
      getToken: median(samples['getToken']!),
      authorizationHeader: median(samples['authorizationHeader']!),
      rounds,
      callsPerRound: calls,
    };
    return { ...figures, ratio: figures.getToken / figures.mapLookup };
  } finally {
    await server.close();
  }
}

if (import.meta.main) {
  const quick = process.argv.includes('--quick');
  const f = await measureGetToken(quick ? { calls: 200_000, rounds: 3 } : {});
  const fmt = (n: number) => `${(n / 1e6).toFixed(2)} M/s`;
  console.log(
    `Node ${process.version}, ${f.rounds} interleaved rounds of ${f.callsPerRound} awaited calls, median calls per CPU-second:`,
  );
  console.log(`  async Map lookup          ${fmt(f.mapLookup)}`);
  console.log(
    `  tokens.getToken()         ${fmt(f.getToken)}  (${(f.ratio * 100).toFixed(0)}% of the Map lookup; target >= 80%)`,
  );
  console.log(`  tokens.authorizationHeader() ${fmt(f.authorizationHeader)}`);
}
