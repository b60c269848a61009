// What DPoP costs on the hot path, per CPU-second of this process, in interleaved rounds: a proof alone (ES256,
// EdDSA), and one request's decision through the adapter seam (createTokenClient → start → headerSync) for a Bearer
// provider and for a DPoP one (which signs a proof there). Run after `pnpm build`:
//   node packages/core/bench/dpop.ts [--quick]
// The adapter overhead with DPoP against a static pair of headers: node packages/fetch/bench/overhead.ts --dpop
import { generateKeyPairSync } from 'node:crypto';
import { startTokenServer } from '@tokenkit/test-utils';
import { createTokenProvider } from '@tokenkit/core';
import { createTokenClient } from '@tokenkit/core/adapter';

export interface DPoPFigures {
  /** Median operations per CPU-second of each contender. */
  rates: Record<string, number>;
  rounds: number;
  callsPerRound: number;
}

export async function measureDPoP({ calls = 20_000, rounds = 7 } = {}): Promise<DPoPFigures> {
  const server = await startTokenServer();
  try {
    const options = { tokenEndpoint: server.url, clientId: 'client-id', clientSecret: 'client-secret' };
    const bearer = createTokenProvider(options);
    const es256 = createTokenProvider({ ...options, dpop: true });
    const eddsa = createTokenProvider({ ...options, dpop: { key: generateKeyPairSync('ed25519').privateKey } });
    await bearer.getToken();
    // The test token server answers Bearer; a DPoP provider needs token_type DPoP.
    server.misbehave((_request, n) => ({
      status: 200,
      body: { access_token: `at-dpop-${n}-${'x'.repeat(40)}`, token_type: 'DPoP', expires_in: 3600 },
    }));
    await Promise.all([es256.getToken(), eddsa.getToken()]);
    const url = 'https://api.example.com/payments/123?page=2';
    const origins = ['https://api.example.com'];
    const bearerClient = createTokenClient(bearer, { origins });
    const dpopClient = createTokenClient(es256, { origins });
    const token = (await es256.getToken()).accessToken;
    let sink = 0;
    const contenders: Record<string, () => void> = {
      'ES256 proof (with ath)': () => void (sink += es256.dpop!.proof('GET', url, token).length),
      'EdDSA proof (with ath)': () => void (sink += eddsa.dpop!.proof('GET', url, token).length),
      'seam, Bearer: start + headerSync': () => void (sink += bearerClient.start().headerSync(url)!.length),
      'seam, DPoP: start + headerSync + proof': () => {
        const request = dpopClient.start({ method: 'GET' });
        sink += request.headerSync(url)!.length + request.dpop!.length;
      },
    };
    const samples: Record<string, number[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
    // Rates per CPU-second of this process: the loop is single-threaded, so its CPU time is its work.
    const run = (fn: () => void, n: number) => {
      const cpu = process.cpuUsage();
      for (let i = 0; i < n; i++) fn();
      const used = process.cpuUsage(cpu);
      return n / ((used.user + used.system) / 1e6);
    };
    // The Bearer seam is ~100x cheaper than a signature: give it more calls per round for a measurable time.
    const scale = (name: string) => (name.startsWith('seam, Bearer') ? 50 : 1);
    for (const [name, fn] of Object.entries(contenders)) run(fn, (calls / 10) * scale(name)); // warm-up
    for (let round = 0; round < rounds; round++)
      for (const [name, fn] of Object.entries(contenders)) samples[name]!.push(run(fn, calls * scale(name)));
    if (sink === 0) throw new Error('nothing measured');
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return {
      rates: Object.fromEntries(Object.entries(samples).map(([name, xs]) => [name, median(xs)])),
      rounds,
      callsPerRound: calls,
    };
  } finally {
    await server.close();
  }
}

if (import.meta.main) {
  const quick = process.argv.includes('--quick');
  const f = await measureDPoP(quick ? { calls: 5_000, rounds: 3 } : {});
  if (process.argv.includes('--markdown')) {
    console.log(
      `Operations per CPU-second, median of ${f.rounds} interleaved rounds (Node ${process.version}). Per request through an adapter a proof costs more than in this tight loop (see packages/fetch/bench/overhead.ts --dpop).\n`,
    );
    console.log('| operation | per second | µs each |\n| --- | ---: | ---: |');
    for (const [name, rate] of Object.entries(f.rates))
      console.log(`| ${name} | ${rate.toFixed(0)} | ${(1e6 / rate).toFixed(2)} |`);
    process.exit(0);
  }
  console.log(`Node ${process.version}, ${f.rounds} interleaved rounds, median operations per CPU-second:`);
  for (const [name, rate] of Object.entries(f.rates))
    console.log(`  ${name.padEnd(42)} ${rate.toFixed(0).padStart(10)} /s  (${(1e6 / rate).toFixed(2)} µs each)`);
}
