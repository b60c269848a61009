// Cached getToken() calls per CPU-second: without this package, with it and no OpenTelemetry SDK (the API's no-op
// providers), and with the SDK recording (a MeterProvider with a reader, a tracer provider with a span processor).
// An empty onEvent shows what core's events cost by themselves. Interleaved rounds, medians. Build first, then:
//   node packages/opentelemetry/bench/cached.ts [--quick]
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createTokenProvider, type TokenEvent } from '@tokenkit/core';
import { tokenTelemetry } from '@tokenkit/opentelemetry';
import { startTokenServer } from '@tokenkit/test-utils';

/** Median calls per CPU-second of each set-up. */
export interface CachedTelemetryFigures {
  /** An `async` Map lookup in the same rounds: the floor, as in core's bench. */
  mapLookup: number;
  withoutPackage: number;
  emptyObserver: number;
  noSdk: number;
  withSdk: number;
  rounds: number;
  callsPerRound: number;
}

/** A reader that is never asked to export: the SDK aggregates every measurement, as with any reader. */
class IdleReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export async function measureCachedTelemetry({ calls = 2_000_000, rounds = 7 } = {}): Promise<CachedTelemetryFigures> {
  const server = await startTokenServer();
  const meterProvider = new MeterProvider({ readers: [new IdleReader()] });
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())],
  });
  try {
    const base = { tokenEndpoint: server.url, clientId: 'client-id', clientSecret: 'client-secret' };
    const providers = {
      withoutPackage: createTokenProvider(base),
      emptyObserver: createTokenProvider({ ...base, onEvent: (_event: TokenEvent) => {} }),
      noSdk: createTokenProvider({ ...base, onEvent: tokenTelemetry() }),
      withSdk: createTokenProvider({ ...base, onEvent: tokenTelemetry({ meterProvider, tracerProvider }) }),
    };
    for (const tokens of Object.values(providers)) await tokens.getToken();
    const map = new Map([['token', await providers.withoutPackage.getToken()]]);
    const lookup = async (key: string) => map.get(key);
    const contenders: Record<string, () => Promise<unknown>> = { mapLookup: () => lookup('token') };
    for (const [name, tokens] of Object.entries(providers)) contenders[name] = () => tokens.getToken();
    const samples: Record<string, number[]> = {};
    // Per CPU-second of this process: on a shared machine, wall-clock time also counts whatever else ran meanwhile.
    const run = async (fn: () => Promise<unknown>, n: number) => {
      const cpu = process.cpuUsage();
      for (let i = 0; i < n; i++) await fn();
      const used = process.cpuUsage(cpu);
      return n / ((used.user + used.system) / 1e6);
    };
    for (const fn of Object.values(contenders)) await run(fn, calls / 10); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const [name, fn] of Object.entries(contenders)) (samples[name] ??= []).push(await run(fn, calls));
    }
    if (server.count !== 4) throw new Error(`expected 4 token requests, saw ${server.count}`);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    return {
      mapLookup: median(samples['mapLookup']!),
      withoutPackage: median(samples['withoutPackage']!),
      emptyObserver: median(samples['emptyObserver']!),
      noSdk: median(samples['noSdk']!),
      withSdk: median(samples['withSdk']!),
      rounds,
      callsPerRound: calls,
    };
  } finally {
    await Promise.all([server.close(), meterProvider.shutdown(), tracerProvider.shutdown()]);
  }
}

if (import.meta.main) {
  const quick = process.argv.includes('--quick');
  const f = await measureCachedTelemetry(quick ? { calls: 200_000, rounds: 3 } : {});
  const share = (n: number) => `${((n / f.withoutPackage) * 100).toFixed(0)} %`;
  if (process.argv.includes('--markdown')) {
    const rows: [string, number][] = [
      ['async Map lookup (reference)', f.mapLookup],
      ['getToken() without @tokenkit/opentelemetry', f.withoutPackage],
      ["an empty onEvent (core's events)", f.emptyObserver],
      ['tokenTelemetry(), no SDK registered', f.noSdk],
      ['tokenTelemetry() with the SDK recording', f.withSdk],
    ];
    console.log(
      `Cached getToken() calls per CPU-second, median of ${f.rounds} interleaved rounds of ${f.callsPerRound} awaited calls (Node ${process.version}); share = of getToken() without the package.\n`,
    );
    console.log('| set-up | calls/s | share |\n| --- | ---: | ---: |');
    for (const [label, rate] of rows) console.log(`| ${label} | ${(rate / 1e6).toFixed(2)} M | ${share(rate)} |`);
    process.exit(0);
  }
  const fmt = (n: number) => `${(n / 1e6).toFixed(2)} M/s  (${share(n)})`;
  console.log(
    `Node ${process.version}, ${f.rounds} interleaved rounds of ${f.callsPerRound} awaited cached getToken() calls, median per CPU-second:`,
  );
  console.log(`  async Map lookup (reference)        ${(f.mapLookup / 1e6).toFixed(2)} M/s`);
  console.log(`  without @tokenkit/opentelemetry     ${fmt(f.withoutPackage)}`);
  console.log(`  an empty onEvent (core's events)    ${fmt(f.emptyObserver)}`);
  console.log(`  tokenTelemetry(), no SDK registered ${fmt(f.noSdk)}`);
  console.log(`  tokenTelemetry() with the SDK       ${fmt(f.withSdk)}`);
}
